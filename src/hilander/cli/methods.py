"""``hilander methods``: list the clustering methods and their parameters."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list the unsupervised clustering methods and their parameters",
        description="List every method usable with `hilander cluster --method NAME` and "
                    "`hilander tune --method NAME`, with parameter defaults and tuning grids.",
    )
    p.add_argument("name", nargs="?", help="show only this method")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..methods import available, get_spec

    info = available()
    if args.name is not None:
        get_spec(args.name)  # InputError listing the valid names
        info = {args.name: info[args.name]}
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for name, entry in info.items():
        graph = "  [k-NN graph]" if entry["uses_graph"] else ""
        print(f"{name}: {entry['description']}{graph}")
        params = ", ".join(f"{k}={v!r}" for k, v in entry["params"].items())
        print(f"    params: {params}")
        if args.name is not None:
            for key, vals in entry["grid"].items():
                print(f"    grid {key}: {vals}")
    return 0
