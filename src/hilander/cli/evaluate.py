"""``hilander evaluate``: compare predicted labels with the truth."""

from __future__ import annotations

import argparse
import json

from .._validation import InputError
from ..io import read_labels
from ..metrics import METRIC_KEYS, evaluate


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score predicted labels against ground truth",
                       description="Pairwise and BCubed precision/recall/F, NMI, AMI, ARI and "
                                   "cluster counts; -1 labels count as singletons.")
    p.add_argument("pred", help="predicted labels (.npy or text/CSV)")
    p.add_argument("truth", help="true labels (.npy or text/CSV)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    truth = read_labels(args.truth)
    pred = read_labels(args.pred)
    if pred.shape[0] != truth.shape[0]:
        raise InputError(f"{args.pred} has {pred.shape[0]} labels but {args.truth} has "
                         f"{truth.shape[0]}")
    scores = evaluate(truth, pred)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        for key in METRIC_KEYS:
            value = scores[key]
            print(f"{key:<20} {value:>10}" if isinstance(value, int)
                  else f"{key:<20} {value:>10.4f}")
    return 0
