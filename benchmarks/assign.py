"""Incremental assignment (``HiLander.assign``) against a full re-run.

1. Agreement: cluster 80% of an open-set test split, assign the held-out 20% (points of known,
   already seen identities), and compare with clustering everything again: avg F (mean of
   pairwise and BCubed F) against the truth on the held-out points and on all points, and the
   avg F of the assigned labels with the re-run's labels as reference.
2. Speed: seconds to assign ``--n-new`` points against ``--n-old`` clustered ones (default 1k
   against 100k), next to the seconds of re-clustering all of them.

    python benchmarks/assign.py
    python benchmarks/assign.py --n-old 20000 --n-new 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from hilander import HiLander
from hilander.datasets import make_open_set
from hilander.lander import TrainingSettings
from hilander.metrics import avg_f, evaluate


def split(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * frac))
    return perm[cut:], perm[:cut]


def agreement(model: HiLander, X: np.ndarray, y: np.ndarray, seed: int) -> dict[str, float]:
    old, new = split(len(y), 0.2, seed)
    res = model.cluster(X[old])
    assigned = model.assign(X[new], res)
    combined = np.empty(len(y), np.int64)
    combined[old], combined[new] = res.labels, assigned
    rerun = model.predict(X)
    return {
        "new_assign": avg_f(evaluate(y[new], assigned)),
        "new_rerun": avg_f(evaluate(y[new], rerun[new])),
        "all_assign": avg_f(evaluate(y, combined)),
        "all_rerun": avg_f(evaluate(y, rerun)),
        "assign_vs_rerun": avg_f(evaluate(rerun[new], assigned)),
        "new_in_old_clusters": float((assigned < res.n_clusters).mean()),
    }


def many_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` long-tailed points of unseen identities in the training data's space."""
    X, y = [], []
    total, offset, call = 0, 0, 0
    while total < n:
        more = make_open_set(2, 200, max_test_size=2000, space_seed=0, seed=seed + call)
        X.append(more.X_test)
        y.append(more.y_test + offset)
        offset += more.y_test.max() + 1
        total += len(more.y_test)
        call += 1
    return np.concatenate(X)[:n], np.concatenate(y)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-old", type=int, default=100_000)
    ap.add_argument("--n-new", type=int, default=1_000)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    torch.set_num_threads(2)

    data = make_open_set(100, 30, max_test_size=1000, space_seed=0, seed=0)
    t0 = time.perf_counter()
    model = HiLander(training=TrainingSettings(epochs=args.epochs, hidden=64),
                     random_state=0).fit(data.X_train, data.y_train)
    print(f"meta-trained on {len(data.y_train)} points in {time.perf_counter() - t0:.1f}s")

    print("\nagreement on held-out points of seen identities (20% of the test split)")
    rows = [agreement(model, data.X_test, data.y_test, seed) for seed in args.seeds]
    for key in rows[0]:
        vals = [r[key] for r in rows]
        print(f"  {key:<22}{np.mean(vals):.3f}  (per split: "
              + ", ".join(f"{v:.3f}" for v in vals) + ")")

    X, y = many_points(args.n_old + args.n_new, seed=100)
    old, new = split(len(y), args.n_new / len(y), 0)
    t0 = time.perf_counter()
    res = model.cluster(X[old])
    t_cluster = time.perf_counter() - t0
    t0 = time.perf_counter()
    assigned = model.assign(X[new], res)
    t_assign = time.perf_counter() - t0
    t0 = time.perf_counter()
    rerun = model.predict(X)
    t_rerun = time.perf_counter() - t0
    print(f"\nspeed: {len(new)} new points against {len(old)} clustered ({res.n_levels} levels)")
    print(f"  cluster the {len(old)}:      {t_cluster:.1f}s")
    print(f"  assign the {len(new)}:        {t_assign:.2f}s")
    print(f"  re-cluster all {len(y)}:  {t_rerun:.1f}s")
    print(f"  avg F on the new points: assign {avg_f(evaluate(y[new], assigned)):.3f}, "
          f"re-run {avg_f(evaluate(y[new], rerun[new])):.3f}")


if __name__ == "__main__":
    main()
