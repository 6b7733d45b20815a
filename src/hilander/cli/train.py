"""``hilander train``: meta-train a model on labeled embeddings."""

from __future__ import annotations

import argparse
import functools
import sys
import time

from .._validation import InputError
from ..io import MODEL_SUFFIXES, check_outputs, output_batch, read_features, read_labels
from ._common import parse_params

#: command-line option -> estimator parameter: the one place that names them, so a renamed
#: estimator parameter is a one-line change here (the estimators keep accepting old names)
PARAM_OF = {"k": "n_neighbors", "tau": "tau", "aggregation": "aggregation",
            "epochs": "epochs", "device": "device", "seed": "random_state"}
#: the estimator parameter that --quiet turns off
PROGRESS_PARAM = "verbose"


@functools.lru_cache(maxsize=1)
def lander_defaults() -> dict:
    """HiLander's own defaults, its settings groups spread out (``epochs``, ``tau``...): the
    command's defaults, read from the estimator (not restated) so that help text and
    behaviour cannot drift from the Python API. Imports torch: called only when ``train
    --help`` is rendered or a model is trained."""
    from ..lander import HiLander, flat_params

    defaults = flat_params(HiLander())
    defaults["tau"] = defaults["decoding"]  # "auto": the decoding is chosen in fit
    return defaults


class _Default:
    """The estimator's default for one option, looked up only when help is formatted."""

    def __init__(self, option: str) -> None:
        self.option = option

    def __str__(self) -> str:
        return str(lander_defaults()[PARAM_OF[self.option]])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="meta-train Hi-LANDER (or a supervised baseline) on labeled embeddings",
        description="Meta-train on labeled embeddings whose identities are disjoint from the "
                    "ones to cluster later; writes one model file with its configuration. "
                    "Unset options take the estimator's own defaults, as in Python; the "
                    "defaults shown are Hi-LANDER's (a supervised --method has its own).",
    )
    p.add_argument("features", help="embeddings: .npy, .npz, .csv or .parquet (N×D)")
    p.add_argument("labels", help="one identity per row: .npy or text/CSV")
    p.add_argument("--out", required=True,
                   help=f"model file to write ({', '.join(MODEL_SUFFIXES)})")
    p.add_argument("--method", default="hilander",
                   help="hilander (default), lander (one level), or a supervised baseline "
                        "(see `hilander methods`)")
    options = {
        "k": dict(type=int, help="neighbours per node (default: %(lander_default)s)"),
        "tau": dict(help='edge threshold p_tau in [0, 1], or "auto" to choose it, the upper '
                         "levels' p_tau, LANDER vs Hi-LANDER and the decoding on held-out "
                         "training identities (default: %(lander_default)s)"),
        "aggregation": dict(choices=["peak", "mean", "concat"],
                            help="Hi-LANDER only (default: %(lander_default)s)"),
        "epochs": dict(type=int, help="training epochs (default: %(lander_default)s)"),
        "device": dict(help='"auto" (CUDA when present), "cpu" or "cuda" '
                            "(default: %(lander_default)s)"),
        "seed": dict(type=int, help="random seed (default: %(lander_default)s)"),
    }
    for option, kwargs in options.items():
        action = p.add_argument(f"--{option}", **kwargs)
        action.lander_default = _Default(option)
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="extra estimator parameter (repeatable); for Hi-LANDER also any field "
                        "of its training, selection or decoding settings by name, e.g. "
                        "--param cv=5 or --param hidden=64")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _tau(value: str):
    if value == "auto":
        return "auto"
    try:
        return float(value)
    except ValueError:
        raise InputError(f'--tau must be a number in [0, 1] or "auto", got {value!r}') from None


def _given(args: argparse.Namespace, extra: dict) -> dict:
    """Estimator parameters the user set with the dedicated options; one set twice (``--tau
    0.6 --param tau=0.5``, or under its deprecated name) is an error, not a silent choice."""
    from ..base import ALIASES

    def spellings(name: str) -> set[str]:
        return {name} | {old for old, new in ALIASES.items() if new == name}

    given = {}
    for option, name in PARAM_OF.items():
        value = getattr(args, option)
        if value is None:
            continue
        for key in ({option} | spellings(name)) & set(extra):
            raise InputError(f"--{option} {value} and --param {key}={extra[key]} both set "
                             f"{name}; give it once")
        given[name] = _tau(value) if option == "tau" else value
    if args.quiet:
        for key in spellings(PROGRESS_PARAM) & set(extra):
            raise InputError(f"--quiet and --param {key}={extra[key]} both set "
                             f"{PROGRESS_PARAM}; give it once")
    return given


def make_trainable(method: str, args: argparse.Namespace, extra: dict):
    """The untrained estimator the command line asks for, its parameters checked."""
    from ..methods import get_spec, make

    spec = get_spec(method)
    if not spec.learns or spec.kind == "auto":
        raise InputError(f"{method!r} is not trained with `hilander train`: "
                         + ("use `hilander auto`" if spec.kind == "auto"
                            else f"cluster with `hilander cluster --method {method}`"))
    given = _given(args, extra)
    if spec.kind == "hilander":
        from ..lander import group_params

        # the command line's flat options (--epochs, --param tau_grid=...) go into HiLander's
        # settings groups; there they are today's vocabulary, not deprecated keywords
        return make(spec.name, **group_params({PROGRESS_PARAM: not args.quiet, **given,
                                               **extra}))
    if spec.kind == "supervised":
        # an option the method does not take is an error: silently ignoring it misleads
        accepted = set(spec.param_names())
        for option, name in PARAM_OF.items():
            if name in given and name not in accepted:
                raise InputError(f"--{option} does not apply to {spec.name}; its parameters "
                                 f"go in --param KEY=VALUE (see `hilander methods "
                                 f"{spec.name}`)")
    # only what the user set: everything else is the estimator's own default
    return make(spec.name, **{PROGRESS_PARAM: not args.quiet, **given, **extra})


def run(args: argparse.Namespace) -> int:
    check_outputs({"--out": (args.out, MODEL_SUFFIXES)}, inputs=[args.features, args.labels])
    model = make_trainable(args.method, args, parse_params(args.param))
    X = read_features(args.features)
    y = read_labels(args.labels, X.shape[0])
    t0 = time.perf_counter()
    model.fit(X, y)
    with output_batch():
        model.save(args.out)
    settings = getattr(model, "settings_", None)
    extra = (f", {settings.decoding} decoding at p_tau={settings.tau:g}"
             if settings is not None else "")
    print(f"trained {args.method} on {X.shape[0]} points, {len(set(y.tolist()))} identities"
          f"{extra} in {time.perf_counter() - t0:.1f}s -> {args.out}", file=sys.stderr)
    return 0
