"""Optional dependencies: each named with the extra that installs it.

The core install (``pip install hilander``) clusters .npy/.npz/.csv embeddings. Reading
.parquet tables needs ``hilander[io]`` (pandas, pyarrow); reading image files needs
``hilander[images]`` (pillow); the study beside the library (``hilander bench``, the
Omniglot loader, report plots) needs ``hilander[study]`` (matplotlib, pillow). A missing one
is an :class:`~hilander.InputError` in one line that says which extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ._validation import InputError

#: extra -> the top-level modules it provides
EXTRAS = {"io": ("pandas", "pyarrow"), "images": ("PIL",), "study": ("matplotlib", "PIL")}


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or an InputError: ``what`` needs ``pip install 'hilander[extra]'``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise  # a missing module inside the package itself: not ours to explain
        raise InputError(f"{what} needs pip install 'hilander[{extra}]' ({top} is not "
                         "installed)") from None


def require_extra(extra: str, what: str) -> None:
    """Every module of ``extra``, or the one-line InputError naming it."""
    for module in EXTRAS[extra]:
        require(module, extra, what)
