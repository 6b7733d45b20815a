"""``hilander tune``: grid-search a method's parameters on a labeled validation split.

The command-line layer of :mod:`hilander.tune` (one concept, two layers: the command
parses files and options, the library module searches).
"""

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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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


def check_grid(name: str, full_grid: dict, fixed: dict, user_grid: dict) -> int:
    """Refuse, before the search, a --grid value that no combination can run with (it would
    be dropped silently); return the number of combinations."""
    from ..methods import make
    from ..tune import expand_grid

    combos = expand_grid(full_grid)
    ran: dict[str, set] = {key: set() for key in user_grid}
    why: dict[tuple[str, str], str] = {}
    for combo in combos:
        try:
            make(name, **fixed, **combo)
        except InputError as exc:
            for key in user_grid:
                why.setdefault((key, repr(combo[key])), str(exc))
            continue
        for key in user_grid:
            ran[key].add(repr(combo[key]))
    for key, values in user_grid.items():
        for value in values:
            if repr(value) not in ran[key]:
                raise InputError(f"--grid {key}={value} is not a valid value: "
                                 f"{why.get((key, repr(value)), 'no combination accepts it')}")
    return len(combos)


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm.auto import tqdm

    from ..io import read_features, read_labels
    from ..methods import get_spec
    from ..tune import default_grid, tune_method

    get_spec(args.method)
    grid = parse_grid(args.grid)
    fixed = parse_params(args.param)
    for key in sorted(set(grid) & set(fixed)):
        raise InputError(f"--grid {key} and --param {key}={fixed[key]} both set {key}; "
                         "give it once")
    X = read_features(args.val_features)
    y = read_labels(args.val_labels, X.shape[0])
    full_grid = {**default_grid(args.method, n_samples=X.shape[0]), **grid}
    for key in fixed:
        full_grid.pop(key, None)
    unknown = set(grid) - set(get_spec(args.method).param_names())
    total = check_grid(args.method, full_grid, fixed, grid) if not unknown else None
    with tqdm(total=total, desc=f"tune {args.method}", unit="trial", disable=args.quiet,
              file=sys.stderr, leave=False) as bar:
        result = tune_method(args.method, X, y, grid or None, oracle=args.oracle, fixed=fixed,
                             on_trial=lambda params, scores: bar.update(1))
    failed = [(params, scores["error"]) for params, scores in result.trials
              if "error" in scores]
    if failed:
        print(f"hilander: warning: {len(failed)} of {len(result.trials)} trials failed and were "
              f"skipped (first: {failed[0][1]}); --trials lists them", file=sys.stderr)
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
