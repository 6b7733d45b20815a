"""``hilander bench``: validation-tuned benchmark of every method on a real dataset.

The command-line layer of :mod:`hilander.study.bench` (one concept, two layers: the
command parses options, the study module runs the benchmark).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .._validation import InputError
from ._common import add_seed, parse_params

HELP = "benchmark Hi-LANDER, LANDER and baselines on a dataset; write a report folder"

DESCRIPTION = """\
Embed DATASET (train/validation/test splits are class-disjoint); fit Hi-LANDER, LANDER and
auto on every labeled identity (clustering-train and validation; they choose their settings
inside fit by cross-fitting), tune every baseline on the validation split only, run each
once on the test split ("natural") and/or a long-tailed resampling of it ("longtail"),
and write a report folder: report.md (tables like the study's Table 4), avg_f.png,
levels_<setting>.png, hierarchy_<setting>.png and record.json (versions, split, parameters,
tuning trials, timings, metrics).

With several datasets, each report goes to OUT/<dataset>.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="+", metavar="DATASET",
                   help="omniglot or clinc150 (several may be given)")
    p.add_argument("--data-dir", required=True, type=Path,
                   help="folder holding the raw datasets (e.g. ../shared/data)")
    p.add_argument("--out", required=True, type=Path,
                   help="report folder (created if missing; existing report files are replaced)")
    p.add_argument("--setting", default="both", choices=["natural", "longtail", "both"],
                   help="test setting(s) to run (default both)")
    p.add_argument("--methods", default=None,
                   help="comma-separated methods (default: hilander,lander and fast baselines; "
                        "see `hilander methods`)")
    p.add_argument("--hilander-param", action="append", metavar="KEY=VALUE", default=None,
                   help="Hi-LANDER/LANDER constructor parameter, e.g. epochs=50 (repeatable)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where embeddings are cached between runs (default: hilander's cache)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    add_seed(p)
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    """The command that regenerates this run, as recorded in the report."""
    parts = ["hilander", "bench", *args.datasets, "--data-dir", str(args.data_dir),
             "--out", str(args.out), "--setting", args.setting, "--seed", str(args.seed)]
    if args.methods:
        parts += ["--methods", args.methods]
    for item in args.hilander_param or []:
        parts += ["--hilander-param", item]
    if args.cache_dir is not None:
        parts += ["--cache-dir", str(args.cache_dir)]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from .._extras import require_extra

    require_extra("study", "hilander bench")  # its report plots: one line, before any work
    from ..study.bench import bench_dataset, resolve_methods

    if not args.data_dir.is_dir():
        raise InputError(f"--data-dir {args.data_dir} is not a directory")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if len(set(args.datasets)) != len(args.datasets):
        raise InputError("a dataset is listed twice")
    hilander_params = parse_params(args.hilander_param)
    # fail on a bad method list now, not after minutes of embedding
    resolve_methods(args.methods, hilander_params=hilander_params)

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    command = command_line(args)
    for name in args.datasets:
        out = args.out / name if len(args.datasets) > 1 else args.out
        record, paths = bench_dataset(
            name, args.data_dir, out, settings=args.setting, methods=args.methods,
            seed=args.seed, cache_dir=args.cache_dir, hilander_params=hilander_params,
            command=command, progress=not args.quiet, log=log,
        )
        print(f"{name}: report written to {paths['report']}")
        for s in record.settings:
            ok = [m for m in s.methods if m.ok]
            if ok:
                best = max(ok, key=lambda m: m.avg_f)
                print(f"  {s.setting}: best avg F {best.avg_f:.3f} ({best.display_name}) "
                      f"over {len(ok)} method(s)")
    return 0
