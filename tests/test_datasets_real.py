"""Real-data loaders, the study's class-disjoint splits and the long-tail resampling.

Counts come from the data folders' READMEs (Omniglot: 1,623 characters x 20 drawings, 964
background / 659 evaluation; CLINC150: 150 intents x 150 utterances in 10 domains of 15).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hilander import InputError
from hilander.datasets import long_tail_subsample
from hilander.study import (
    SPLIT_NAMES,
    load_clinc150,
    load_omniglot,
    make_splits,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_omniglot = pytest.mark.skipif(
    not (DATA / "omniglot" / "images_background.npz").is_file(),
    reason=f"Omniglot data folder {DATA / 'omniglot'} is absent",
)
needs_clinc = pytest.mark.skipif(
    not (DATA / "clinc150" / "data_full.json").is_file(),
    reason=f"CLINC150 data folder {DATA / 'clinc150'} is absent",
)


@pytest.fixture(scope="module")
def omniglot():
    return load_omniglot(DATA)


@pytest.fixture(scope="module")
def clinc():
    return load_clinc150(DATA / "clinc150")


def _assert_partition(split, n_items: int, labels: np.ndarray, groups: np.ndarray) -> None:
    all_idx = np.concatenate([split[s] for s in SPLIT_NAMES])
    assert np.array_equal(np.sort(all_idx), np.arange(n_items))  # each item in exactly one
    for i, a in enumerate(SPLIT_NAMES):
        for b in SPLIT_NAMES[i + 1:]:
            assert not set(labels[split[a]]) & set(labels[split[b]]), (a, b)
            assert not set(groups[split[a]]) & set(groups[split[b]]), (a, b)


# ---------------------------------------------------------------- Omniglot


@needs_omniglot
def test_omniglot_counts_and_layout(omniglot):
    d = omniglot
    assert d.images.shape == (32460, 105, 105) and d.images.dtype == np.bool_
    assert d.n_classes == 1623
    assert np.array_equal(np.bincount(d.labels), np.full(1623, 20))
    assert np.array_equal(d.labels[:40], np.repeat([0, 1], 20))
    assert np.array_equal(d.drawers[:21], np.r_[np.arange(20), 0])
    assert len(d.alphabet_names) == 50 and len(d.background_alphabets) == 30
    chars_per_alphabet = np.bincount(d.alphabets) // 20
    by_name = dict(zip(d.alphabet_names, chars_per_alphabet, strict=True))
    # README ID ranges: Latin 683-708, Korean 643-682, Tifinagh 910-964, ULOG 1598-1623
    assert by_name["Latin"] == 26 and by_name["Korean"] == 40
    assert by_name["Tifinagh"] == 55 and by_name["ULOG"] == 26
    assert chars_per_alphabet.sum() == 1623
    # every character lives in exactly one alphabet
    assert np.unique(np.stack([d.labels, d.alphabets], 1), axis=0).shape[0] == 1623
    # True = ink after loading: strokes cover a small part of each drawing
    ink = d.images[:2000].mean()
    assert 0.03 < ink < 0.15


@needs_omniglot
def test_omniglot_downsampled_keeps_ink_mass(omniglot):
    small = load_omniglot(DATA / "omniglot", image_size=28)
    assert small.images.shape == (32460, 28, 28) and small.images.dtype == np.float32
    assert small.images.min() >= 0.0 and small.images.max() <= 1.0
    assert np.array_equal(small.labels, omniglot.labels)
    # area averaging preserves each image's mean ink up to edge effects
    full = omniglot.images[::500].reshape(-1, 105 * 105).mean(1)
    down = small.images[::500].reshape(-1, 28 * 28).mean(1)
    assert np.abs(full - down).max() < 0.01


@needs_omniglot
def test_omniglot_split_is_class_and_alphabet_disjoint(omniglot):
    d = omniglot
    split = d.split
    _assert_partition(split, 32460, d.labels, d.alphabets)
    desc = split.describe()
    assert desc["n_classes"] == {
        "backbone_train": 465, "clustering_train": 338, "validation": 161, "test": 659,
    }
    assert desc["n_items"] == {
        "backbone_train": 9300, "clustering_train": 6760, "validation": 3220, "test": 13180,
    }
    # test = the 20 evaluation alphabets = global IDs 965..1623 (labels 964..1622)
    assert np.array_equal(np.unique(d.labels[split["test"]]), np.arange(964, 1623))
    assert desc["groups"]["validation"] == [
        "N_Ko", "Ojibwe_(Canadian_Aboriginal_Syllabics)", "Sanskrit", "Tagalog", "Tifinagh",
    ]
    assert set(desc["groups"]["test"]) == set(d.alphabet_names) - set(d.background_alphabets)
    # plain JSON, and rebuilt identically
    assert json.loads(json.dumps(desc)) == desc
    assert make_splits(d).describe() == desc


@needs_omniglot
def test_omniglot_missing_or_damaged_files(tmp_path):
    with pytest.raises(InputError, match="download=True"):
        load_omniglot(tmp_path)
    for name in ("images_background.npz", "images_evaluation.npz"):
        (tmp_path / name).symlink_to(DATA / "omniglot" / name)
    (tmp_path / "images_background.npz.sha256").write_text("0" * 64 + "  images_background.npz\n")
    with pytest.raises(InputError, match="checksum"):
        load_omniglot(tmp_path)
    with pytest.raises(InputError, match="image_size"):
        load_omniglot(DATA, image_size=2)


def test_omniglot_zip_packing_rejects_incomplete_archive():
    import io
    import zipfile

    from PIL import Image

    from hilander.study.omniglot import pack_omniglot_zip

    buf = io.BytesIO()
    png = io.BytesIO()
    Image.fromarray(np.ones((105, 105), dtype=bool)).save(png, format="PNG")
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("images_evaluation/Angelic/character01/0965_01.png", png.getvalue())
    with pytest.raises(InputError, match="lacks 13179 of 13180"):
        pack_omniglot_zip(buf.getvalue(), "evaluation")


# ---------------------------------------------------------------- CLINC150


@needs_clinc
def test_clinc_counts_and_layout(clinc):
    c = clinc
    assert len(c.texts) == 22500 and c.n_classes == 150
    assert np.array_equal(np.bincount(c.labels), np.full(150, 150))
    assert len(c.domain_names) == 10
    assert np.array_equal(np.bincount(c.domains), np.full(10, 15 * 150))
    assert np.array_equal(np.bincount(c.original_split), [15000, 3000, 4500])
    assert c.intent_names[0] == "freeze_account" and c.domain_names[0] == "banking"
    assert c.texts[0] == "can you block my chase account right away please"
    assert np.array_equal(c.domains, c.labels // 15)  # domains.json lists 15 intents each
    assert "oos" not in c.intent_names


@needs_clinc
def test_clinc_split_is_class_and_domain_disjoint(clinc):
    c = clinc
    split = c.split
    _assert_partition(split, 22500, c.labels, c.domains)
    desc = split.describe()
    assert desc["groups"]["test"] == ["work", "small_talk", "meta"]
    assert desc["groups"]["validation"] == ["utility"]
    assert desc["n_classes"] == {
        "backbone_train": 30, "clustering_train": 60, "validation": 15, "test": 45,
    }
    assert desc["n_items"]["test"] == 6750 and sum(desc["n_items"].values()) == 22500
    texts, labels = c.subset(split["test"][:3])
    assert labels.tolist() == [105, 105, 105] and c.intent_names[105] == "pto_request_status"
    assert len(texts) == 3
    assert json.loads(json.dumps(desc)) == desc


@needs_clinc
def test_clinc_missing_and_parent_dir(tmp_path, clinc):
    with pytest.raises(InputError, match="download=True"):
        load_clinc150(tmp_path)
    shutil.copy(DATA / "clinc150" / "data_full.json", tmp_path / "data_full.json")
    with pytest.raises(InputError, match="domains.json"):
        load_clinc150(tmp_path)
    # the parent of the dataset folder is accepted too
    assert load_clinc150(DATA).labels.shape == clinc.labels.shape


# ---------------------------------------------------------------- long tail


def test_long_tail_deterministic_and_valid():
    y = np.repeat(np.arange(659), 20)
    a = long_tail_subsample(y, seed=3)
    assert np.array_equal(a, long_tail_subsample(y, seed=3))
    assert not np.array_equal(a, long_tail_subsample(y, seed=4))
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < y.size
    # shuffling the item order changes nothing about which labels are kept per class sizes
    sizes = np.bincount(y[a], minlength=659)
    assert sizes.min() >= 1  # no class disappears
    assert sizes.max() == 20
    assert (sizes == 20).sum() >= 33  # ceil(0.05 * 659) kept whole
    # expected share of classes with 1-5 items: 0.95 * 0.757 ~ 0.72 (power law, shape 0.5)
    assert 0.65 < np.mean(sizes <= 5) < 0.80
    assert 0.30 < np.mean(sizes == 1) < 0.45


def test_long_tail_on_clinc_sized_classes():
    y = np.repeat(np.arange(100, 145), 150)  # 45 intents x 150, labels need not start at 0
    idx = long_tail_subsample(y, seed=0)
    sizes = np.bincount(y[idx])[100:]
    assert sizes.size == 45 and sizes.min() >= 1
    assert (sizes == 150).sum() >= 3  # ceil(0.05 * 45)
    assert np.mean(sizes <= 5) > 0.4


def test_long_tail_limits_by_hand():
    y = np.array([7, 7, 7, 2, 2, 9])
    # every class kept whole
    assert long_tail_subsample(y, seed=0, full_fraction=1.0).tolist() == [0, 1, 2, 3, 4, 5]
    # a very steep law keeps one item per class, except the one class kept whole
    idx = long_tail_subsample(y, seed=1, shape=60.0, full_fraction=0.0)
    assert np.array_equal(np.unique(y[idx], return_counts=True)[1], [1, 1, 1])
    idx = long_tail_subsample(np.repeat([0, 1, 2, 3], 10), seed=0, shape=60.0)
    assert sorted(np.bincount(np.repeat([0, 1, 2, 3], 10)[idx])) == [1, 1, 1, 10]


def test_long_tail_rejects_bad_input():
    with pytest.raises(InputError, match="empty"):
        long_tail_subsample([], seed=0)
    with pytest.raises(InputError, match="seed"):
        long_tail_subsample([0, 1], seed=-1)
    with pytest.raises(InputError, match="shape"):
        long_tail_subsample([0, 1], seed=0, shape=0.0)
