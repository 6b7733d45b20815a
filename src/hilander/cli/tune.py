"""``hilander tune``: grid-search a method's parameters on a labeled validation split."""

from __future__ import annotations

import argparse
import json

from .._validation import InputError
from ._common import parse_params, parse_value, split_assignment


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tune",
        help="tune a method's parameters on labeled validation data (grid search, avg F)",
        description="Grid-search a clustering method on labeled VALIDATION features, "
                    "selecting by the harmonic mean of pairwise and BCubed F, and print the "
                    "chosen parameters to apply unchanged to test data. --oracle marks the "
                    "run as tuned on test labels (not a fair result).",
    )
    p.add_argument("--method", required=True, help="method name (see `hilander methods`)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="override the default grid for KEY; repeatable, e.g. "
                        "--grid n_clusters=10,20 --grid linkage=ward,average")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="fixed parameter applied to every trial; repeatable")
    p.add_argument("--oracle", action="store_true",
                   help="the labels are TEST labels (oracle tuning); every output says so")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    p.add_argument("--trials", action="store_true", help="also print every trial's scores")
    p.add_argument("val_features", metavar="VAL_FEATURES", help="validation features file")
    p.add_argument("val_labels", metavar="VAL_LABELS", help="validation labels file")
    p.set_defaults(func=run)


def parse_grid(items: list[str] | None) -> dict[str, list]:
    """``["k=10,20", "linkage=ward"]`` -> ``{"k": [10, 20], "linkage": ["ward"]}``."""
    grid: dict[str, list] = {}
    for item in items or []:
        key, raw = split_assignment(item, "--grid", "key=v1,v2,...")
        values = [parse_value(v.strip()) for v in raw.split(",") if v.strip()]
        if not values:
            raise InputError(f"--grid {key} has no values")
        grid[key] = values
    return grid


def run(args: argparse.Namespace) -> int:
    from ..io import read_features, read_labels
    from ..methods import get_spec
    from ..tune import tune_method

    get_spec(args.method)
    grid = parse_grid(args.grid)
    fixed = parse_params(args.param)
    X = read_features(args.val_features)
    y = read_labels(args.val_labels, X.shape[0])
    result = tune_method(args.method, X, y, grid or None, oracle=args.oracle, fixed=fixed)
    if args.json:
        out = result.to_dict()
        if not args.trials:
            out["n_trials"] = len(out.pop("trials"))
        print(json.dumps(out, indent=2))
        return 0
    s = result.best_scores
    if result.oracle:
        print(f"*** {result.note} ***")
    print(f"method: {args.method}  (mode: {result.mode}; {len(result.trials)} trials)")
    print("best params: " + " ".join(f"{k}={v}" for k, v in result.best_params.items()))
    print(f"avg F: {s['avg_f']:.4f}  Fp: {s['pairwise_f']:.4f}  Fb: {s['bcubed_f']:.4f}  "
          f"NMI: {s['nmi']:.4f}  clusters: {s['n_clusters']} (classes: {s['n_classes']})")
    if args.trials:
        for params, scores in result.trials:
            ptxt = " ".join(f"{k}={v}" for k, v in params.items())
            if "error" in scores:
                print(f"  {ptxt}: error: {scores['error']}")
            else:
                print(f"  {ptxt}: avg F {scores['avg_f']:.4f}")
    if result.oracle:
        print(f"*** {result.note} ***")
    return 0
