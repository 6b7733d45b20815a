"""``hilander diagnose``: why a trained Hi-LANDER model clusters labeled data as it does.

The command-line layer of :mod:`hilander.lander.diagnose` (one concept, two layers: the
command parses files and options, the library module measures).
"""

from __future__ import annotations

import argparse
import json
import sys

from .._validation import InputError
from ..io import atomic_path, check_outputs, output_batch, read_features, read_labels
from ._common import set_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagnose", help="per-level link AUC, density correlation and p_tau curve of a model",
        description="For a trained Hi-LANDER model and labeled embeddings: per level, ROC AUC "
                    "of the learnt p_ij and of the raw cosine for same-identity edges, the "
                    "rank correlation of predicted and true density, the positive share, "
                    "nodes and edges added; then avg F and cluster count of the model's own "
                    "labels and a p_tau curve. The curve is picked with the given labels: "
                    "it is printed as ORACLE, never as a result.")
    p.add_argument("model", help="a Hi-LANDER model file")
    p.add_argument("features", help="FEATURES (.npy, .npz, .csv, .parquet)")
    p.add_argument("labels", help="identities of the rows (.npy or text/CSV)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument("--no-curve", action="store_true", help="skip the ORACLE p_tau curve")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..lander import HiLander
    from ..lander.diagnose import diagnose
    from ..persistence import load_model

    check_outputs({"--json": (args.json, (".json",))},
                  inputs=[args.model, args.features, args.labels])
    model = load_model(args.model)
    if not isinstance(model, HiLander):
        raise InputError(f"{args.model} holds a {type(model).__name__}; diagnose needs a "
                         "Hi-LANDER model")
    set_progress(model, not args.quiet)
    X = read_features(args.features)
    y = read_labels(args.labels, X.shape[0])
    result = diagnose(model, X, y, tau_curve=not args.no_curve)
    if args.json:
        with output_batch(), atomic_path(args.json) as tmp:
            with open(tmp, "w") as fh:
                json.dump(result.to_dict(), fh, indent=1)
    # bars go to stderr while the work runs; the table comes after them, whole
    sys.stderr.flush()
    print(result.format())
    return 0
