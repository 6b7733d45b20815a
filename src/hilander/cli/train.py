"""``hilander train``: meta-train a model on labeled embeddings."""

from __future__ import annotations

import argparse
import sys
import time

from .._validation import InputError
from ..io import check_writable, read_features, read_labels
from ._common import add_seed, parse_params

#: Hi-LANDER's defaults for the options below; other methods get only what the user typed
LANDER_DEFAULTS = {"k": 10, "tau": "0.7", "aggregation": "peak", "epochs": 60,
                   "device": "auto"}
#: option name -> estimator parameter
OPTION_PARAMS = {"k": "n_neighbors"}


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
    p.add_argument("--k", type=int, help="neighbours per node (Hi-LANDER default 10)")
    p.add_argument("--tau",
                   help='edge threshold p_tau in [0, 1], or "auto" (Hi-LANDER default) to choose '
                        "it, the upper levels' p_tau, LANDER vs Hi-LANDER and the decoding on "
                        "held-out training identities")
    p.add_argument("--aggregation", choices=["peak", "mean", "concat"],
                   help="Hi-LANDER only (default peak)")
    p.add_argument("--epochs", type=int, help="training epochs (Hi-LANDER default 30)")
    p.add_argument("--device", help='"auto" (CUDA when present, default), "cpu" or "cuda"')
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
    from ..methods import get_spec, make

    spec = get_spec(method)
    if not spec.learns or spec.kind == "auto":
        raise InputError(f"{method!r} is not trained with `hilander train` (see "
                         "`hilander methods`)")
    given = {name: getattr(args, name) for name in LANDER_DEFAULTS
             if getattr(args, name) is not None}
    if "tau" in given:
        given["tau"] = _tau(given["tau"])
    if spec.kind == "hilander":
        params = {**LANDER_DEFAULTS, "tau": 0.7, **given}
    else:
        # an option the method does not take is an error: silently ignoring it misleads
        accepted = set(spec.param_names())
        for name in given:
            if OPTION_PARAMS.get(name, name) not in accepted:
                raise InputError(f"--{name} does not apply to {method}; its parameters go in "
                                 f"--param KEY=VALUE (see `hilander methods {method}`)")
        params = dict(given)
    params = {OPTION_PARAMS.get(k, k): v for k, v in params.items()}
    params.update(random_state=args.seed, verbose=not args.quiet)
    params.update(extra)
    return make(spec.name, **params)


def run(args: argparse.Namespace) -> int:
    check_writable(args.out)
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
