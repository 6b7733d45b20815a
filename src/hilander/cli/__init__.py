"""The ``hilander`` command line.

Each command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` runs the command. Errors in user input (:class:`InputError`) print
one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._validation import InputError

COMMAND_MODULES = [
    "train",
    "cluster",
    "assign",
    "evaluate",
    "demo",
    "methods",
    "tune",
    "embed",
    "encoder",
    "bench",
    "diagnose",
    "auto",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse prints the usage block before its error; hilander's errors are one line."""

    def error(self, message: str):
        self.exit(2, f"hilander: error: {self.prog.removeprefix('hilander ')}: {message} "
                     f"(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = OneLineParser(
        prog="hilander",
        description="Learn how to cluster embeddings (Hi-LANDER and baselines).",
    )
    parser.add_argument("--version", action="version", version=f"hilander {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"hilander: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hilander: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
