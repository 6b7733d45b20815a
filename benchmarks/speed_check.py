"""Issue 28: ``HiLander.fit`` at its defaults, today's code against the new, in CPU seconds.

Each fit runs in its own process on one thread (``benchmarks/_compare.py``) and every clock
the fit reads (``timings_``: fold training, selection, one-fold record, re-fit) is switched to
``time.process_time``, so the figures are CPU seconds of that thread: the 2-core machine is
shared, and wall seconds there measure the other jobs. The fitted model's labels of the test
split are saved and compared with ``np.array_equal`` (same seed, same labels).

``--ablate`` also runs the new code with one change undone at a time (``memory``: no
:func:`hilander._memory.reuse_freed_memory`; ``metrics``: every trial scored with
:func:`hilander.metrics.evaluate`), which attributes the ratio. ``--classes N`` keeps the
first N identities of the labeled set (a quicker look; omit for all of it)::

    python benchmarks/speed_check.py --emb EMB --dataset omniglot \
        --base-src ../wt-speed-base/src --labels /tmp/speed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _compare import NEW_SRC, load, one_thread, run_child, run_pair  # noqa: E402

ABLATIONS = ("memory", "metrics")


def _undo(change: str) -> None:
    """Inside a child of the new code: put ``change`` back as it was today."""
    import hilander.lander.selection as selection
    import hilander.tune as tune
    from hilander.metrics import evaluate

    if change == "memory":
        import hilander._memory as memory

        memory._libc = lambda: None  # the block then does nothing
    elif change == "metrics":
        selection.f_scores = tune.f_scores = evaluate
    else:
        raise ValueError(change)


def labeled(emb: Path, dataset: str, classes: int | None):
    """Clustering-train + validation, as ``hilander bench`` fits Hi-LANDER; and test."""
    def split(name):
        with np.load(emb / dataset / f"{name}.npz") as z:
            return z["features"], z["labels"]

    (X_tr, y_tr), (X_va, y_va) = split("clustering_train"), split("validation")
    _, y_tr = np.unique(y_tr, return_inverse=True)
    _, y_va = np.unique(y_va, return_inverse=True)
    X = np.concatenate([X_tr, X_va])
    y = np.concatenate([y_tr, y_va + y_tr.max() + 1])
    if classes is not None:
        keep = y < classes
        X, y = X[keep], y[keep]
    return X, y, split("test")[0]


def child(emb: Path, dataset: str, classes: int | None, undo: str | None, out: Path) -> dict:
    one_thread()
    if undo:
        _undo(undo)
    from hilander import HiLander
    from hilander.lander import estimator, hierarchy, selection

    class _Clock:  # timings_ in CPU seconds of this one thread
        perf_counter = staticmethod(time.process_time)

    for module in (estimator, hierarchy, selection):
        module.time = _Clock
    X, y, X_te = labeled(emb, dataset, classes)
    c0, w0 = time.process_time(), time.perf_counter()
    model = HiLander(random_state=0).fit(X, y)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    labels = model.predict(X_te)
    np.save(out, labels)
    return {"points": int(X.shape[0]), "identities": int(y.max() + 1), "cpu": cpu,
            "wall": wall, "timings": {k: round(v, 2) for k, v in model.timings_.items()},
            "chosen": model.selection_["chosen"] if model.selection_ else None,
            "load": load()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emb", type=Path, required=True)
    ap.add_argument("--dataset", default="omniglot")
    ap.add_argument("--classes", type=int)
    ap.add_argument("--base-src", type=Path)
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--only-ablate", action="store_true", help="skip today and new")
    ap.add_argument("--labels", type=Path, required=True, help="folder for the label arrays")
    ap.add_argument("--child", nargs=2, metavar=("NAME", "UNDO"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    common = ["--emb", str(args.emb), "--dataset", args.dataset, "--labels", str(args.labels)]
    common += [] if args.classes is None else ["--classes", str(args.classes)]
    if args.child:
        name, undo = args.child
        r = child(args.emb, args.dataset, args.classes, None if undo == "-" else undo,
                  args.labels / f"{name}.npy")
        print(json.dumps(r))
        return 0
    args.labels.mkdir(parents=True, exist_ok=True)
    print(f"load at the start: {load()}", flush=True)
    runs: dict[str, dict] = {}
    if not args.only_ablate:
        for name in ("today", "new"):  # one after the other: never two heavy jobs at once
            pair = run_pair(Path(__file__), common + ["--child", name, "-"],
                            args.base_src if name == "today" else None)
            runs[name] = pair[name]
            print(name, json.dumps(runs[name]), flush=True)
    if args.ablate or args.only_ablate:
        for change in ABLATIONS:
            name = f"new_without_{change}"
            runs[name] = run_child(Path(__file__), common + ["--child", name, change], NEW_SRC)
            print(name, json.dumps(runs[name]), flush=True)
    ref = runs.get("today") or runs.get("new")
    ref_name = "today" if "today" in runs else "new"
    for name, r in runs.items():
        if "cpu" not in r or name == ref_name:
            continue
        same = np.array_equal(np.load(args.labels / f"{ref_name}.npy"),
                              np.load(args.labels / f"{name}.npy")) \
            if (args.labels / f"{ref_name}.npy").is_file() else None
        print(f"{name}: {r['cpu']:.1f} CPU s, {r['cpu'] / ref['cpu']:.3f} x {ref_name}; "
              f"test labels same as {ref_name}: {same}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
