"""``hilander cluster``: label new embeddings with a trained model or an unsupervised method."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .._validation import InputError
from ..io import (
    LABEL_SUFFIXES,
    check_outputs,
    output_batch,
    read_features,
    write_array,
    write_labels,
)
from ._common import parse_params, set_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster", help="cluster embeddings with a trained model or an unsupervised method",
        description="hilander cluster MODEL FEATURES --out PRED   (trained model)\n"
                    "hilander cluster MODEL FEATURES --out PRED --ray local   (level 1 on Ray)\n"
                    "hilander cluster --method NAME FEATURES --out PRED   (no model file)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="[MODEL] FEATURES",
                   help="model file then features; only features with --method")
    p.add_argument("--out", required=True, help="predicted labels: .npy or .csv")
    p.add_argument("--method", help="unsupervised method name (see `hilander methods`)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="method parameter (repeatable), e.g. --param linkage=ward")
    p.add_argument("--hierarchy-out", metavar="FILE",
                   help="Hi-LANDER only: write the per-level labels (levels × N, finest first) "
                        "to this .npy")
    p.add_argument("--result-out", metavar="FILE",
                   help="Hi-LANDER only: save the whole run (.npz: labels, peaks, features) so "
                        "`hilander assign` can add points to its clusters later")
    p.add_argument("--tau", type=float, metavar="P",
                   help="Hi-LANDER only: edge threshold p_tau for this run instead of the "
                        "model's own")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="Hi-LANDER only: shard level 1's k-NN search and GNN inference over a "
                        "Ray cluster: 'local' starts one on this machine for the run, else "
                        "the cluster's address (e.g. 'auto', 'head:6379', 'ray://head:10001'); "
                        "needs pip install 'hilander[ray]'")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    # every output checked before minutes of work, not after; inputs are never overwritten
    check_outputs({"--out": (args.out, LABEL_SUFFIXES),
                   "--hierarchy-out": (args.hierarchy_out, (".npy",)),
                   "--result-out": (args.result_out, (".npz",))}, inputs=args.inputs)
    lander_only = [flag for flag, value in (("--hierarchy-out", args.hierarchy_out),
                                            ("--result-out", args.result_out),
                                            ("--tau", args.tau),
                                            ("--ray", args.ray)) if value is not None]
    if args.method:
        if len(args.inputs) != 1:
            raise InputError("with --method give only FEATURES (no model file)")
        if lander_only:
            raise InputError(f"{lander_only[0]} needs a Hi-LANDER model, not --method "
                             "(method parameters go in --param KEY=VALUE)")
        from ..methods import make

        X = read_features(args.inputs[0])
        labels = np.asarray(make(args.method, **parse_params(args.param)).fit_predict(X))
        levels = None
        summary = f"{args.method}"
    else:
        if len(args.inputs) != 2:
            raise InputError("give MODEL FEATURES, or --method NAME FEATURES")
        if args.param:
            raise InputError("--param goes with --method; a model file keeps its own settings")
        from ..persistence import load_model

        model = load_model(args.inputs[0])
        set_progress(model, not args.quiet)
        X = read_features(args.inputs[1])
        if hasattr(model, "cluster"):
            with _backend(args) as backend:
                result = model.cluster(X, tau=args.tau, backend=backend)
            labels, levels = result.labels, result.level_labels
            summary = (f"{type(model).__name__}: {result.n_levels} level(s) "
                       f"({result.stopped_by}), p_tau={result.tau:g}")
        else:
            if lander_only:
                raise InputError(f"{lander_only[0]} needs a Hi-LANDER model, "
                                 f"not {type(model).__name__}")
            labels, levels = np.asarray(model.predict(X)), None
            summary = type(model).__name__
    _warn_duplicates(X)
    with output_batch():  # all of the outputs, or none of them
        if args.result_out:
            result.save(args.result_out)
        if args.hierarchy_out:
            stack = np.stack(levels) if levels else labels[None, :]
            write_array(args.hierarchy_out, stack)
        write_labels(args.out, labels)
    n_clusters = len(np.unique(labels))
    print(f"{summary}, {X.shape[0]} points -> {n_clusters} clusters in "
          f"{time.perf_counter() - t0:.1f}s, peak memory {_peak_gb():.2f} GB -> {args.out}",
          file=sys.stderr)
    return 0


def _backend(args: argparse.Namespace):
    """Level 1's backend for ``--ray`` (entered for the run), or None: this process."""
    import contextlib

    if args.ray is None:
        return contextlib.nullcontext(None)
    from ..distributed import RayBackend

    return RayBackend(None if args.ray == "local" else args.ray, progress=not args.quiet)


def _warn_duplicates(X: np.ndarray) -> None:
    """Name repeated rows: the k-NN graph keeps each set of copies together, but a method
    that counts points (density, cluster sizes) sees every copy."""
    from ..graph.knn import duplicate_groups

    groups = duplicate_groups(X)
    if groups is not None:
        n, m = X.shape[0], groups[0].size
        print(f"hilander: warning: {n - m} of {n} rows repeat another row exactly ({m} "
              "distinct); the k-NN graph links the copies of a row to each other, but methods "
              "that count points (densities, sizes) see every copy", file=sys.stderr)


def _peak_gb() -> float:
    """This process's peak resident memory (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 30) if sys.platform == "darwin" else peak / (1 << 20)
