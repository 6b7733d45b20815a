"""Hi-LANDER and LANDER against the supervised GNN baselines on synthetic open-set data.

All methods meta-train on the same labeled classes. 20% of those classes (whole classes) are
held out as a validation split on which each method's inference-time thresholds are chosen
with :func:`hilander.tune.grid_search` (Hi-LANDER/LANDER choose p_tau the same way through
``tau="auto"``). The chosen model is then applied unchanged to two class-disjoint test sets,
as in the Hi-LANDER paper's Tables 2 and 3:

* same-distribution: classes drawn from the meta-training size law (log-normal, mean 30);
* different-distribution: long-tailed class sizes (truncated Pareto, 1..``--max-test-size``).

Prints one table per test set with Fp, Fb, NMI, cluster count, train and inference seconds.
Run: ``python benchmarks/supervised_comparison.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from hilander import HiLander, supervised
from hilander.datasets import make_open_set
from hilander.io import atomic_path
from hilander.lander import TrainingSettings
from hilander.metrics import evaluate
from hilander.tune import grid_search

# inference-time parameters tuned on the validation classes (no retraining needed)
GRIDS = {
    "gcn_v": {"tau": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    "gcn_e": {"tau": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    "gcn_ve": {"tau": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
    "lgcn": {"threshold": [0.5, 0.7, 0.9], "max_size": [50, 150, 500]},
    "star_fc": {"prune": [0.3, 0.5, 0.7, 0.9], "intimacy": [0.4, 0.6, 0.8]},
}


def make_splits(args) -> dict:
    """Meta-train, validation, same-distribution and different-distribution test sets."""
    n_same = args.test_classes
    data = make_open_set(args.train_classes + n_same, args.test_classes, dim=args.dim,
                         separation=args.separation, train_sizes="moderate",
                         test_sizes="longtail", max_test_size=args.max_test_size,
                         seed=args.seed)
    rng = np.random.default_rng(args.seed)
    classes = rng.permutation(np.unique(data.y_train))
    same = np.isin(data.y_train, classes[:n_same])
    n_val = max(2, int(round(0.2 * args.train_classes)))
    val = np.isin(data.y_train, classes[n_same:n_same + n_val])
    fit = ~same & ~val
    return {
        "fit": (data.X_train[fit], data.y_train[fit]),
        "val": (data.X_train[val], data.y_train[val]),
        "same-distribution": (data.X_train[same], data.y_train[same]),
        "different-distribution": (data.X_test, data.y_test),
    }


def run_method(name: str, splits: dict, args) -> dict:
    X_fit, y_fit = splits["fit"]
    X_val, y_val = splits["val"]
    t0 = time.perf_counter()
    tuned: dict = {}
    if name in ("hi-lander", "lander"):
        # p_tau is picked on held-out training classes inside fit; give it fit+val data
        X_all = np.vstack([X_fit, X_val])
        y_all = np.concatenate([y_fit, y_val])
        model = HiLander(max_levels=1 if name == "lander" else None,
                         training=TrainingSettings(epochs=args.hilander_epochs),
                         random_state=args.seed).fit(X_all, y_all)
        tuned = {"tau": model.settings_.tau}
        # includes the extra meta-training run that tau="auto" makes on 80% of the classes
        train_s = time.perf_counter() - t0
    else:
        quick = EPOCHS.get(name, {}) if args.quick else {}
        model = supervised.make(name, random_state=args.seed, verbose=args.progress, **quick)
        model.fit(X_fit, y_fit)
        train_s = time.perf_counter() - t0

        def run(params: dict) -> np.ndarray:
            return model.set_params(**params).predict(X_val)

        result = grid_search(run, GRIDS[name], y_val, method=name)
        tuned = result.best_params
        model.set_params(**tuned)
    tune_s = time.perf_counter() - t0 - train_s
    out = {"method": name, "train_s": train_s, "tune_s": tune_s, "params": tuned, "tests": {}}
    for setting in ("same-distribution", "different-distribution"):
        X, y = splits[setting]
        t1 = time.perf_counter()
        pred = model.predict(X)
        infer_s = time.perf_counter() - t1
        s = evaluate(y, pred)
        out["tests"][setting] = {"fp": s["pairwise_f"], "fb": s["bcubed_f"], "nmi": s["nmi"],
                                 "clusters": s["n_clusters"], "classes": s["n_classes"],
                                 "infer_s": infer_s}
    return out


EPOCHS = {  # --quick: a smoke run of the script, not a measurement
    "gcn_v": {"epochs": 20}, "gcn_e": {"epochs": 3}, "gcn_ve": {"epochs_v": 20, "epochs": 3},
    "lgcn": {"epochs": 2}, "star_fc": {"epochs": 3},
}


def print_tables(results: list[dict], splits: dict) -> None:
    for setting in ("same-distribution", "different-distribution"):
        X, y = splits[setting]
        print(f"\n### {setting} test: {X.shape[0]} points, {np.unique(y).size} classes, "
              f"largest class {np.bincount(np.unique(y, return_inverse=True)[1]).max()}")
        print("| method | Fp | Fb | NMI | clusters | train s | infer s | tuned |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            t = r["tests"][setting]
            params = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in r["params"].items())
            print(f"| {r['method']} | {t['fp']:.3f} | {t['fb']:.3f} | {t['nmi']:.3f} | "
                  f"{t['clusters']} | {r['train_s']:.1f} | {t['infer_s']:.2f} | {params} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-classes", type=int, default=150)
    parser.add_argument("--test-classes", type=int, default=50)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--separation", type=float, default=1.0)
    parser.add_argument("--max-test-size", type=int, default=600)
    parser.add_argument("--hilander-epochs", type=int, default=60)
    parser.add_argument("--methods", default="hi-lander,lander," + ",".join(supervised.available()))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--quick", action="store_true", help="few epochs: smoke-test the script")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    splits = make_splits(args)
    print(f"meta-train {splits['fit'][0].shape}, validation {splits['val'][0].shape}, "
          f"separation {args.separation}, seed {args.seed}")
    results = []
    for name in args.methods.split(","):
        r = run_method(name.strip(), splits, args)
        print(f"{r['method']}: trained in {r['train_s']:.1f}s, tuned in {r['tune_s']:.1f}s: "
              f"{r['params']}",
              flush=True)
        results.append(r)
    print_tables(results, splits)
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                       "results": results}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
