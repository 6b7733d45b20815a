"""``hilander train``: meta-train a model on labeled embeddings."""

from __future__ import annotations

import argparse
import sys
import time

from ..io import read_features, read_labels
from ._common import add_seed, parse_params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="meta-train Hi-LANDER (or a supervised baseline) on labeled embeddings",
        description="Meta-train on labeled embeddings whose identities are disjoint from the "
                    "ones to cluster later; writes one model file with its configuration.",
    )
    p.add_argument("features", help="embeddings: .npy, .npz, .csv or .parquet (N×D)")
    p.add_argument("labels", help="one identity per row: .npy or text/CSV")
    p.add_argument("--out", required=True, help="model file to write")
    p.add_argument("--method", default="hilander",
                   help="hilander (default), lander (one level), or a supervised baseline "
                        "(see `hilander methods`)")
    p.add_argument("--k", type=int, default=10, help="neighbours per node (default 10)")
    p.add_argument("--tau", default="auto",
                   help='edge threshold p_tau in [0, 1], or "auto" (default) to choose it, the '
                        "upper levels' p_tau, LANDER vs Hi-LANDER and the decoding on held-out "
                        "training identities")
    p.add_argument("--encoder", choices=["gat", "gcn"], default="gat")
    p.add_argument("--aggregation", choices=["peak", "mean", "concat"], default="peak")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="extra estimator parameter (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_seed(p)
    p.set_defaults(func=run)


def _tau(value: str):
    if value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        from .._validation import InputError

        raise InputError(f'--tau must be a number in [0, 1] or "auto", got {value!r}') from None


def make_trainable(method: str, args: argparse.Namespace, extra: dict):
    from .. import HiLander

    if method in ("hilander", "lander"):
        params = dict(k=args.k, tau=_tau(args.tau), encoder=args.encoder,
                      aggregation=args.aggregation, epochs=args.epochs, seed=args.seed,
                      progress=not args.quiet)
        if method == "lander":
            params["max_levels"] = 1
        params.update(extra)
        return HiLander(**params)
    from ..supervised import make

    extra.setdefault("seed", args.seed)
    return make(method, **extra)


def run(args: argparse.Namespace) -> int:
    X = read_features(args.features)
    y = read_labels(args.labels, X.shape[0])
    model = make_trainable(args.method, args, parse_params(args.param))
    t0 = time.perf_counter()
    model.fit(X, y)
    model.save(args.out)
    tau = getattr(model, "tau_", None)
    extra = f", tau={tau:g}" if tau is not None else ""
    print(f"trained {args.method} on {X.shape[0]} points, {len(set(y.tolist()))} identities"
          f"{extra} in {time.perf_counter() - t0:.1f}s -> {args.out}", file=sys.stderr)
    return 0
