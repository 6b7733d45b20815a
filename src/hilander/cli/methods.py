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


def run(args: argparse.Namespace) -> int:
    from ..methods import available, canonical_name

    info = available()
    if args.name is not None:
        name = canonical_name(args.name)
        info = {name: info[name]}
    if args.json:
        # HiLander's settings groups as their fields; anything else as text
        print(json.dumps(info, indent=2,
                         default=lambda v: v.as_dict() if hasattr(v, "as_dict") else str(v)))
        return 0
    for kind, how in (("unsupervised", "hilander cluster --method NAME FEATURES"),
                      ("hilander", "hilander train --method NAME FEATURES LABELS"),
                      ("supervised", "hilander train --method NAME FEATURES LABELS"),
                      ("auto", "hilander auto FEATURES LABELS")):
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
