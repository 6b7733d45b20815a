"""Hi-LANDER speed and memory at scale (issue targets on a 2-core machine).

Prints, for each N, seconds per stage (k-NN, GNN, decode; per level), total and the peak RSS
of a fresh process that only generates the data and clusters it, plus the time to meta-train on
50k points. Targets: 100k clustered in <= 60 s, 1M in <= 600 s with peak RSS <= 6 GB,
training on 50k in <= 5 min.

    python benchmarks/scale.py                 # 10k, 100k, 1M and training on 50k
    python benchmarks/scale.py --sizes 10000 100000 --skip-train
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


def make_points(n: int, seed: int):
    """n points of long-tailed unseen identities in the training data's 256-D space."""
    import numpy as np

    from hilander.datasets import make_open_set

    X, y = np.empty((0, DIM), np.float32), np.empty(0, np.int64)
    while len(X) < n:  # long-tail draws vary in total size: top up with more identities
        more = make_open_set(2, max(2, (n - len(X)) // 30), dim=DIM, space_seed=0,
                             max_test_size=max(10, min(20_000, n // 10)), seed=seed + len(X))
        X = np.concatenate([X, more.X_test])
        y = np.concatenate([y, more.y_test + (y.max() + 1 if len(y) else 0)])
    return X[:n], y[:n]


def child_cluster(model_path: str, n: int) -> None:
    import numpy as np

    from hilander import HiLander
    from hilander.metrics import evaluate

    X, y = make_points(n, seed=1)
    model = HiLander.load(model_path)
    t0 = time.perf_counter()
    result = model.cluster(X)
    total = time.perf_counter() - t0
    scores = evaluate(y, result.labels)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "n": n, "total": total, "timings": result.timings, "levels": result.n_levels,
        "level_nodes": result.level_nodes, "clusters": result.n_clusters,
        "classes": int(np.unique(y).size), "pairwise_f": scores["pairwise_f"],
        "bcubed_f": scores["bcubed_f"], "peak_rss_gb": peak_kb / 1024**2,
    }))


def train(n_train: int, out: Path) -> float:
    from hilander import HiLander
    from hilander.datasets import make_open_set

    data = make_open_set(max(2, n_train // 30), 2, dim=DIM, seed=0, space_seed=0)
    X, y = data.X_train[:n_train], data.y_train[:n_train]
    t0 = time.perf_counter()
    model = HiLander(progress=True).fit(X, y)
    seconds = time.perf_counter() - t0
    model.save(out)
    print(f"meta-training on {len(X):,} points ({len(set(y.tolist())):,} identities, "
          f"{model.n_train_levels_} levels, {model.epochs} epochs): {seconds:.1f} s "
          f"(target <= 300 s)")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--train-size", type=int, default=50_000)
    ap.add_argument("--skip-train", action="store_true",
                    help="train on 5k points only (for a quick look at inference)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_cluster(args.child[0], int(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.hlm"
        train(5_000 if args.skip_train else args.train_size, model)
        targets = {100_000: "<= 60 s", 1_000_000: "<= 600 s, RSS <= 6 GB"}
        print(f"\n{'N':>10} {'k-NN s':>8} {'GNN s':>8} {'decode s':>9} {'total s':>8} "
              f"{'levels':>7} {'clusters':>9} {'Fp':>6} {'Fb':>6} {'peak GB':>8}  target")
        for n in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--child", str(model), str(n)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{n:>10} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            t = r["timings"]
            print(f"{n:>10,} {t['knn']:>8.1f} {t['gnn']:>8.1f} {t['decode']:>9.1f} "
                  f"{r['total']:>8.1f} {r['levels']:>7} {r['clusters']:>9,} "
                  f"{r['pairwise_f']:>6.3f} {r['bcubed_f']:>6.3f} {r['peak_rss_gb']:>8.2f}  "
                  f"{targets.get(n, '')}")
            per_level = {k: round(v, 2) for k, v in t.items() if k.startswith("level")}
            print(f"{'':>10} per level: {per_level}; nodes per level: {r['level_nodes']}")


if __name__ == "__main__":
    main()
