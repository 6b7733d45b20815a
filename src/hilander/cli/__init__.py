"""The ``hilander`` command line.

Each command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` runs the command. Every failure ends as one line on stderr:
bad input (:class:`InputError`), an OS error (disk full, permissions) or a closed output pipe
exit with status 2; Ctrl-C with 130, SIGTERM with 143 (temporary files removed); a bug in
hilander itself with 1 and a hint to report it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# `import hilander` has loaded it already; every heavy import waits inside main(), where a
# Ctrl-C during it ends in one line instead of a traceback
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
    "discover",
    "report",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse prints the usage block before its error; hilander's errors are one line."""

    def error(self, message: str):
        self.exit(2, f"hilander: error: {self.prog.removeprefix('hilander ')}: {message} "
                     f"(see `{self.prog} --help`)\n")


__all__ = ["COMMAND_MODULES", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = OneLineParser(
        prog="hilander",
        description="Learn how to cluster embeddings (Hi-LANDER and baselines).",
    )
    parser.add_argument("--version", action="version", version=f"hilander {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that ``finally`` blocks remove temporaries."""


def _on_sigterm(signum, frame):
    raise Terminated


#: warnings that tell a command-line user nothing they can act on
_QUIET_WARNINGS = (
    # torch wraps read-only memory-mapped features; it never writes to them
    "The given NumPy array is not writable",
)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning on the command line is one line, like an error, without a source location."""
    print(f"hilander: warning: {message}", file=sys.stderr)


class _Interrupts:
    """Ctrl-C that is not lost: Python prints and drops a KeyboardInterrupt raised inside a
    callback (e.g. the import lock's, while torch loads), and the command then ran on and
    wrote its output. An interrupt not handled within 0.3 s is raised again."""

    def __init__(self) -> None:
        self.handled = False
        self.hook = sys.unraisablehook

    def on_sigint(self, signum, frame):
        import threading

        timer = threading.Timer(0.3, self._again)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    def _again(self) -> None:
        if not self.handled:
            import _thread

            _thread.interrupt_main(signal.SIGINT)

    def unraisable(self, info) -> None:
        if not issubclass(info.exc_type, KeyboardInterrupt):  # the dropped one: said later
            self.hook(info)


def main(argv: list[str] | None = None) -> int:
    import warnings

    interrupts = _Interrupts()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.signal(signal.SIGINT, interrupts.on_sigint)
    except ValueError:  # main() called from another thread: only the main thread may
        previous = previous_int = None
    sys.unraisablehook = interrupts.unraisable
    try:
        with warnings.catch_warnings():
            for text in _QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=text)
            warnings.showwarning = _one_line_warning
            return _run(argv, interrupts)
    finally:
        sys.unraisablehook = interrupts.hook
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def _run(argv: list[str] | None, interrupts: _Interrupts | None = None) -> int:
    def fail(message: str, status: int = 2) -> int:
        print(f"hilander: error: {message}", file=sys.stderr)
        return status

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except KeyboardInterrupt:
        if interrupts is not None:
            interrupts.handled = True
        print("hilander: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        return fail("terminated (SIGTERM); no partial output was left", 143)
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more can be written to stdout
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return fail("standard output was closed before everything was written (broken pipe)")
    except InputError as exc:
        return fail(str(exc))
    except OSError as exc:
        message = exc.strerror or str(exc)
        return fail(f"{exc.filename}: {message}" if exc.filename else message)
    except MemoryError:
        return fail("out of memory; try a smaller input or a machine with more memory")
    except Exception as exc:  # a bug in hilander: say so, in one line, and how to report it
        if os.environ.get("HILANDER_DEBUG"):
            raise
        from .. import __version__

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return fail(f"internal error {type(exc).__name__}: {first} -- a bug in hilander "
                    f"{__version__}; please report it with the command line "
                    "(HILANDER_DEBUG=1 shows the traceback)", 1)


if __name__ == "__main__":
    sys.exit(main())
