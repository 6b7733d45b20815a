"""``hilander auto``: choose the best clustering method for a domain on its labeled identities.

The command-line layer of :mod:`hilander.auto` (one concept, two layers: the command
parses files and options, the library module chooses).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from ._common import add_seed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "auto", help="pick, tune and fit the best method on labeled identities of a domain",
        description="Hold out a share of the labeled identities, tune every candidate method "
                    "(unsupervised grids, Hi-LANDER, supervised GNNs) and score it there by avg "
                    "F, re-fit the winner on all identities and write one model file for "
                    "`hilander cluster MODEL FEATURES`.",
    )
    p.add_argument("features", help="labeled embeddings: .npy, .npz, .csv or .parquet (N×D)")
    p.add_argument("labels", help="one identity per row: .npy or text/CSV")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--methods", help="comma-separated candidates (default: all that suit the "
                                     "data's size; see `hilander methods`)")
    p.add_argument("--cv", type=int, default=3,
                   help="folds of identities the supervised GNN candidates are cross-fitted "
                        "over (3); unsupervised ones are tuned on every labeled identity")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="skip a candidate whose predicted cost exceeds this many seconds")
    p.add_argument("--table-out", metavar="FILE.json",
                   help="also write the validation table as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..auto import AutoCluster
    from ..io import (
        MODEL_SUFFIXES,
        atomic_path,
        check_outputs,
        output_batch,
        read_features,
        read_labels,
    )
    from ..tune import _jsonable

    # before the search, which can take many minutes
    check_outputs({"--out": (args.out, MODEL_SUFFIXES), "--table-out": (args.table_out,
                                                                        (".json",))},
                  inputs=[args.features, args.labels])
    X = read_features(args.features)
    y = read_labels(args.labels, X.shape[0])
    t0 = time.perf_counter()
    model = AutoCluster(methods=args.methods, cv=args.cv,
                        time_budget=args.time_budget, random_state=args.seed,
                        verbose=not args.quiet)
    model.fit(X, y)
    with output_batch():  # the model and the table, or neither
        model.save(args.out)
        if args.table_out:
            with atomic_path(args.table_out) as tmp:
                with open(tmp, "w") as fh:
                    json.dump(_jsonable({"winner": model.winner_,
                                         "val_avg_f": model.val_avg_f_,
                                         "n_val": model.n_val_, "table": model.table_}),
                              fh, indent=2)
    print(model.table())
    print(f"auto chose {model.winner_} on {X.shape[0]} points in "
          f"{time.perf_counter() - t0:.1f}s -> {args.out}", file=sys.stderr)
    return 0
