"""Hi-LANDER speed and memory at scale (issue targets on a 2-core machine).

Prints, for each N, seconds per stage (k-NN, GNN, decode; per level), total and the peak RSS
of a fresh process that memory-maps the points from a .npy file (as `hilander cluster` does)
and clusters them, plus the time to meta-train on 50k points. Targets on 2 cores: 1M clustered
in <= 150 s, 10M in <= 30 min with peak RSS <= 20 GB, training on 50k in <= 2 min. The k-NN's
recall beside its seconds is in benchmarks/knn_index.py.

    python benchmarks/scale.py                 # 100k, 1M and training on 50k
    python benchmarks/scale.py --sizes 10000000 --skip-train   # needs ~11 GB of disk
    python benchmarks/scale.py --skip-train --data X.npy       # points written earlier
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DIM = 256
# thousands of identities need room: 8 latent dimensions (the demo's) would crowd them
INTRINSIC = 32


def make_points(n: int, seed: int):
    """n points of long-tailed unseen identities in the training data's 256-D space."""
    import numpy as np

    from hilander.datasets import make_open_set

    X, y = np.empty((0, DIM), np.float32), np.empty(0, np.int64)
    while len(X) < n:  # long-tail draws vary in total size: top up with more identities
        more = make_open_set(2, max(2, (n - len(X)) // 30), dim=DIM, space_seed=0,
                             intrinsic_dim=INTRINSIC,
                             max_test_size=max(10, min(20_000, n // 10)), seed=seed + len(X))
        X = np.concatenate([X, more.X_test])
        y = np.concatenate([y, more.y_test + (y.max() + 1 if len(y) else 0)])
    return X[:n], y[:n]


def write_points(path: Path, n: int, seed: int, block: int = 1_000_000) -> None:
    """``make_points`` in blocks straight into ``path`` (.npy) and ``path``.labels.npy, so that
    ten million points never sit in this process's memory."""
    import numpy as np

    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
    y = np.empty(n, dtype=np.int64)
    offset = 0
    for s in range(0, n, block):
        e = min(s + block, n)
        Xb, yb = make_points(e - s, seed=seed + s)
        X[s:e], y[s:e] = Xb, yb + offset
        offset += int(yb.max()) + 1
    X.flush()
    del X
    np.save(path.with_suffix(".labels.npy"), y)


def _peak_rss_kb() -> int:
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak over exec
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_cluster(model_path: str, data_path: str) -> None:
    import numpy as np

    from hilander import HiLander
    from hilander.metrics import bcubed_scores, pairwise_scores

    # memory-mapped, as `hilander cluster` reads a .npy: pages count once touched
    X = np.load(data_path, mmap_mode="r")
    y = np.load(Path(data_path).with_suffix(".labels.npy"))
    n = len(X)
    model = HiLander.load(model_path)
    t0 = time.perf_counter()
    result = model.cluster(X)
    total = time.perf_counter() - t0
    peak_kb = _peak_rss_kb()
    # only the two F scores the table prints: AMI's expected mutual information would take
    # hours with 200k+ identities
    print(json.dumps({
        "n": n, "total": total, "timings": result.timings, "levels": result.n_levels,
        "level_nodes": result.level_nodes, "clusters": result.n_clusters,
        "classes": int(np.unique(y).size), "pairwise_f": pairwise_scores(y, result.labels)[2],
        "bcubed_f": bcubed_scores(y, result.labels)[2], "peak_rss_gb": peak_kb / 1024**2,
    }))


def train(n_train: int, out: Path, fold_free: bool = False) -> float:
    """Meta-train on ``n_train`` synthetic points; seconds. ``fold_free``: a given tau, so
    one network trains on everything with no cross-fitted selection (the 2-min target)."""
    from hilander import HiLander
    from hilander.datasets import make_open_set

    data = make_open_set(max(2, n_train // 30), 2, dim=DIM, seed=0, space_seed=0,
                         intrinsic_dim=INTRINSIC)
    X, y = data.X_train[:n_train], data.y_train[:n_train]
    t0 = time.perf_counter()
    model = HiLander(verbose=True, **({"decoding": {"tau": 0.7}} if fold_free else {})).fit(X, y)
    seconds = time.perf_counter() - t0
    model.save(out)
    stages = ", ".join(f"{k} {v:.0f} s" for k, v in model.timings_.items() if k != "total")
    if fold_free:
        how = f"fold-free, {len(model.history_)} steps"
    else:
        folds = model.selection_["folds"]
        how = (f"cross-fitted over {len(folds)} folds, steps per fold "
               f"{[f['steps'] for f in folds]}, re-fit {len(model.history_)} steps")
    how += f"; {stages}"
    print(f"meta-training on {len(X):,} points ({len(set(y.tolist())):,} identities, "
          f"{model.n_train_levels_} levels; {how}): {seconds:.1f} s"
          + (" (target <= 120 s)" if fold_free else ""))
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--tmp", help="folder for the generated points (default: the system's)")
    ap.add_argument("--train-size", type=int, default=50_000)
    ap.add_argument("--fold-free", action="store_true",
                    help="meta-train with a given tau (no cross-fitted selection): the "
                    "2-min training target")
    ap.add_argument("--skip-train", action="store_true",
                    help="train on 5k points only (for a quick look at inference)")
    ap.add_argument("--data", nargs="+", help="existing .npy files of points (each with its "
                    "X.labels.npy beside it) instead of generating --sizes")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_cluster(args.child[0], args.child[1])
        return

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.hlm"
        train(5_000 if args.skip_train else args.train_size, model, args.fold_free)
        targets = {1_000_000: "<= 150 s", 10_000_000: "<= 1800 s, RSS <= 20 GB"}
        print(f"\n{'N':>10} {'k-NN s':>8} {'GNN s':>8} {'decode s':>9} {'total s':>8} "
              f"{'levels':>7} {'clusters':>9} {'Fp':>6} {'Fb':>6} {'peak GB':>8}  target")
        # (n, path, generated here): generated points are deleted after their run
        runs = ([(None, Path(p), False) for p in args.data] if args.data else
                [(n, Path(args.tmp or tmp) / f"points_{n}.npy", True) for n in args.sizes])
        for n, data, generated in runs:
            if generated:
                write_points(data, n, seed=1)
            out = subprocess.run([sys.executable, __file__, "--child", str(model), str(data)],
                                 capture_output=True, text=True)
            if generated:
                data.unlink()
                data.with_suffix(".labels.npy").unlink()
            if out.returncode != 0:
                # a negative code is a signal: -9 is usually the kernel's out-of-memory killer
                print(f"{n or data.name:>10} failed (exit {out.returncode}): "
                      f"{out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            t, n = r["timings"], r["n"]
            print(f"{n:>10,} {t['knn']:>8.1f} {t['gnn']:>8.1f} {t['decode']:>9.1f} "
                  f"{r['total']:>8.1f} {r['levels']:>7} {r['clusters']:>9,} "
                  f"{r['pairwise_f']:>6.3f} {r['bcubed_f']:>6.3f} {r['peak_rss_gb']:>8.2f}  "
                  f"{targets.get(n, '')}")
            per_level = {k: round(v, 2) for k, v in t.items() if k.startswith("level")}
            print(f"{'':>10} per level: {per_level}; nodes per level: {r['level_nodes']}")


if __name__ == "__main__":
    main()
