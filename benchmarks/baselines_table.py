"""Every unsupervised baseline, tuned on a validation split, on long-tailed synthetic data.

Protocol (empirical study, Appendix E.2.3): each method's default grid is searched on a labeled
validation split (classes disjoint from test), selecting by the harmonic mean of pairwise and
BCubed F; the chosen parameters are applied unchanged to the test split, where Fp, Fb, NMI,
the number of clusters and the clustering time are measured. ``--oracle`` additionally tunes
on the test labels and reports that (unfair) number in a clearly labeled column.

    python benchmarks/baselines_table.py                 # all methods
    python benchmarks/baselines_table.py --methods hac cdp --test-classes 80 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from hilander import methods
from hilander.datasets import make_open_set
from hilander.metrics import avg_f, evaluate
from hilander.tune import default_grid, tune_method

# smaller grids for the slowest methods so the whole table runs in minutes on 2 cores
LIGHT_GRIDS = {
    "dp_means": {"online": [False]},
    "dp_vmf_means": {"online": [False]},
    "hac": {"linkage": ["ward", "average"], "n_neighbors": [10, 40]},
    "meanshift": {"min_bin_freq": [1], "bin_seeding": [False]},
    "spectral": {"n_neighbors": [20]},
    "vmf_mixture": {"posterior": ["soft"], "init": ["k-means++"]},
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=None, help="subset of method names")
    p.add_argument("--val-classes", type=int, default=40)
    p.add_argument("--test-classes", type=int, default=40)
    p.add_argument("--max-size", type=int, default=300, help="largest class size")
    p.add_argument("--separation", type=float, default=1.0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full-grids", action="store_true",
                   help="use every default grid unchanged (slow for a few methods)")
    p.add_argument("--oracle", action="store_true",
                   help="also tune on the test labels (ORACLE column; not a fair result)")
    p.add_argument("--json", help="write all results to this JSON file")
    args = p.parse_args(argv)

    data = make_open_set(args.val_classes, args.test_classes, dim=args.dim,
                         separation=args.separation, train_sizes="longtail",
                         test_sizes="longtail", max_test_size=args.max_size, seed=args.seed)
    X_val, y_val, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    r1 = data.recall_at_1()
    print(f"validation: {len(y_val)} points, {np.unique(y_val).size} classes; "
          f"test: {len(y_test)} points, {np.unique(y_test).size} classes; "
          f"Recall@1 val {r1['train']:.3f} test {r1['test']:.3f}")
    names = args.methods or methods.names()
    rows = []
    head = (f"{'method':24s} {'Fp':>6s} {'Fb':>6s} {'avgF':>6s} {'NMI':>6s} {'clusters':>8s} "
            f"{'seconds':>8s} {'tune s':>7s}" + (f" {'ORACLE avgF':>12s}" if args.oracle else "")
            + "  chosen parameters")
    print(head)
    print("-" * len(head))
    for name in names:
        # one explicit grid for validation and oracle runs alike, so the oracle searches a
        # superset of what validation could choose (the default n_clusters grid follows n)
        grid = default_grid(name, n_samples=len(y_val))
        if not args.full_grids:
            grid.update(LIGHT_GRIDS.get(name, {}))
        t0 = time.perf_counter()
        try:
            res = tune_method(name, X_val, y_val, grid)
        except Exception as exc:  # one broken method must not hide the others' numbers
            print(f"{name:24s} tuning failed: {exc}", file=sys.stderr)
            continue
        tune_s = time.perf_counter() - t0
        est = methods.make(name, **res.best_params)
        t0 = time.perf_counter()
        pred = est.fit_predict(X_test)
        secs = time.perf_counter() - t0
        s = evaluate(y_test, pred)
        row = {"method": name, "params": res.best_params, "val_avg_f": res.best_score,
               "test": s, "test_avg_f": avg_f(s), "seconds": secs, "tune_seconds": tune_s,
               "n_trials": len(res.trials)}
        oracle_txt = ""
        if args.oracle:
            orc = tune_method(name, X_test, y_test, grid, oracle=True)
            row["oracle"] = orc.to_dict() | {"trials": None}
            oracle_txt = f" {orc.best_score:12.3f}"
        rows.append(row)
        ptxt = " ".join(f"{k}={v}" for k, v in res.best_params.items())
        print(f"{name:24s} {s['pairwise_f']:6.3f} {s['bcubed_f']:6.3f} {avg_f(s):6.3f} "
              f"{s['nmi']:6.3f} {s['n_clusters']:8d} {secs:8.2f} {tune_s:7.1f}{oracle_txt}"
              f"  {ptxt}", flush=True)
    if args.oracle:
        print("ORACLE column: parameters tuned on the test labels themselves; not a fair result")
    if args.json:
        from hilander.io import atomic_path

        with atomic_path(args.json) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"data": data.params, "recall_at_1": r1, "rows": rows}, fh,
                          indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
