"""``hilander methods``: list every clustering method, unsupervised and meta-trained."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list every clustering method (unsupervised and supervised) and its parameters",
        description="List the unsupervised methods usable with `hilander cluster --method NAME` "
                    "and `hilander tune --method NAME`, and the meta-trained ones usable with "
                    "`hilander train --method NAME`, with parameter defaults.",
    )
    p.add_argument("name", nargs="?", help="show only this method")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def _trained() -> dict[str, dict]:
    """The meta-trained methods: Hi-LANDER, one-level LANDER and the supervised baselines."""
    from .. import HiLander, supervised

    info = {
        "hilander": {"description": "Hi-LANDER: hierarchical GNN linkage, meta-trained "
                                    "(Xing et al. 2021)", "params": HiLander().get_params()},
        "lander": {"description": "one-level LANDER (Hi-LANDER with max_levels=1)",
                   "params": HiLander(max_levels=1).get_params()},
    }
    for name, cls in supervised.METHODS.items():
        info[name] = {"description": supervised.DESCRIPTIONS[name],
                      "params": cls().get_params()}
    for entry in info.values():
        entry["kind"] = "supervised"
        entry["uses_graph"] = True
        entry["grid"] = {}
    return info


def run(args: argparse.Namespace) -> int:
    from .._validation import InputError
    from ..methods import available

    info = {name: {**entry, "kind": "unsupervised"} for name, entry in available().items()}
    info.update(_trained())
    if args.name is not None:
        if args.name not in info:
            raise InputError(f"unknown method {args.name!r}; choose one of {sorted(info)}")
        info = {args.name: info[args.name]}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for kind, how in (("unsupervised", "hilander cluster --method NAME FEATURES"),
                      ("supervised", "hilander train --method NAME FEATURES LABELS")):
        names = [n for n, e in info.items() if e["kind"] == kind]
        if not names:
            continue
        if args.name is None:
            print(f"# {kind} ({how})")
        for name in names:
            entry = info[name]
            graph = "  [k-NN graph]" if entry["uses_graph"] else ""
            print(f"{name}: {entry['description']}{graph}")
            params = ", ".join(f"{k}={v!r}" for k, v in entry["params"].items())
            print(f"    params: {params}")
            if args.name is not None:
                for key, vals in entry["grid"].items():
                    print(f"    grid {key}: {vals}")
    return 0
