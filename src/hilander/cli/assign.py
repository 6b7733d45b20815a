"""``hilander assign``: add new points to the clusters of an earlier Hi-LANDER run.

The command-line layer of :mod:`hilander.lander.assign` (one concept, two layers: the
command parses files and options, the library module assigns).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .._validation import InputError
from ..io import LABEL_SUFFIXES, check_outputs, read_features, write_labels


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "assign", help="add new embeddings to the clusters of an earlier Hi-LANDER run",
        description="hilander assign MODEL RESULT X_NEW --out LABELS\n\n"
                    "RESULT is the .npz written by `hilander cluster MODEL X --result-out "
                    "RESULT`. Each new point links, through the model's learnt linkage, to its "
                    "nearest points of that run; the old points keep their labels, and points "
                    "that link to none of them get new cluster ids (from the old count up).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="Hi-LANDER model file (from `hilander train`)")
    p.add_argument("result", help="earlier run (.npz from `hilander cluster --result-out`)")
    p.add_argument("features", help="new embeddings: .npy, .npz, .csv or .parquet")
    p.add_argument("--out", required=True, help="labels of the new points: .npy or .csv")
    p.add_argument("--tau", type=float, metavar="P",
                   help="edge threshold p_tau (default: the earlier run's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..lander import HierarchyResult
    from ..persistence import load_model

    check_outputs({"--out": (args.out, LABEL_SUFFIXES)},
                  inputs=[args.model, args.result, args.features])
    t0 = time.perf_counter()
    model = load_model(args.model)
    if not hasattr(model, "assign"):
        raise InputError(f"{args.model} holds a {type(model).__name__}; assign needs a "
                         "Hi-LANDER model")
    result = HierarchyResult.load(args.result)
    X_new = read_features(args.features)
    labels = model.assign(X_new, result, tau=args.tau)
    write_labels(args.out, labels)
    opened = int(np.unique(labels[labels >= result.n_clusters]).size)
    print(f"{X_new.shape[0]} new points -> {int((labels < result.n_clusters).sum())} joined "
          f"earlier clusters, {opened} new cluster(s) in {time.perf_counter() - t0:.1f}s "
          f"-> {args.out}", file=sys.stderr)
    return 0
