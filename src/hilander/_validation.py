"""Input checks shared by every estimator, loader and command.

Every check raises :class:`InputError` (a ``ValueError``) whose message names the problem,
so users never see a traceback from deep inside numpy, faiss or torch.
"""

from __future__ import annotations

import mmap
import numbers
from collections.abc import Sequence

import numpy as np


class InputError(ValueError):
    """Bad user input: the message says what is wrong and with which argument."""


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong kind (e.g. a dict inside X): also a ``TypeError``, as numpy and
    scikit-learn raise for it, while still printing as one line on the command line."""


def validate_constraints(estimator) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    scikit-learn's rules (``Interval``, ``StrOptions``...) do the checking; its
    ``InvalidParameterError`` is re-raised as :class:`InputError` so the CLI prints one line.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        raise InputError(str(exc).splitlines()[0]) from None


class DataWarning(UserWarning):
    """Training data that will teach little: ``fit`` runs, but the model is likely poor."""


def warn_degenerate(X: np.ndarray, codes: np.ndarray) -> None:
    """Warn (:class:`DataWarning`) about labeled data a model cannot learn identities from:
    all-zero rows (no direction: after l2-normalisation they are alike and like nothing) and
    identities too small to hold a pair of points."""
    import warnings

    step = _row_block(X)
    zero = sum(int((~X[s:s + step].any(axis=1)).sum()) for s in range(0, X.shape[0], step))
    if zero:
        warnings.warn(f"{zero} of {X.shape[0]} training rows are all zero: they have no "
                      "direction, so they neither join nor teach any identity", DataWarning,
                      stacklevel=3)
    sizes = np.bincount(codes)
    paired = int((sizes >= 2).sum())
    if paired < 2:
        warnings.warn(f"only {paired} of {sizes.size} identities have two or more points: "
                      "there are (almost) no same-identity pairs to learn what joins an "
                      "identity", DataWarning, stacklevel=3)


def check_features(X, *, name: str = "X", min_rows: int = 1, dtype=np.float32) -> np.ndarray:
    """Return ``X`` as a C-contiguous 2-D float array, or raise :class:`InputError`."""
    import scipy.sparse as sp  # here, not at import: `hilander --help` stays quick

    if sp.issparse(X):
        raise InputError(f"{name} is a sparse matrix; dense embeddings are required "
                         "(convert with X.toarray())")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"{name} could not be read as a numeric array: {exc}") from None
    if arr.dtype == object:
        # object arrays of numbers are accepted, as scikit-learn does; anything else is refused
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:
            raise InputTypeError(f"{name} must be numeric: {exc}") from None
        except ValueError as exc:
            raise InputError(f"{name} must be numeric: {exc}") from None
    if np.iscomplexobj(arr):
        raise InputError(f"{name} holds complex numbers: Complex data not supported")
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty: 0 rows")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
                         "is required.")
    if arr.shape[0] < min_rows:
        raise InputError(f"{name} has {arr.shape[0]} sample(s) (rows); at least {min_rows} "
                         "are needed")
    # a float32 C-ordered memory map stays one: no copy of a file larger than memory
    source = arr
    with np.errstate(over="ignore"):  # 1e300 -> inf in float32: reported below, by name
        arr = np.ascontiguousarray(arr, dtype=dtype)
    # checked in row blocks: a whole-array mask of ten million rows would be gigabytes
    step = _row_block(arr)
    # squared distances sum d squares of differences up to twice the largest magnitude:
    # beyond this they overflow (k-means on 1e30 gave one cluster and overflow warnings)
    limit = float(np.sqrt(np.finfo(arr.dtype).max / (4 * arr.shape[1])))
    for s in range(0, arr.shape[0], step):
        block = arr[s:s + step]
        # max and min propagate NaN and inf: finiteness and magnitude with no temporary
        high, low = float(block.max()), float(block.min())
        release_pages(arr)
        if not (np.isfinite(high) and np.isfinite(low)):
            bad_rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            kind = "NaN" if np.isnan(arr).any() else "infinite values"
            if source is not arr and np.isfinite(source[bad_rows[0]]).all():
                kind = f"values beyond the range of {np.dtype(dtype)}"
            raise InputError(
                f"{name} contains {kind} in {bad_rows.size} row(s) (first: row {bad_rows[0]})"
            )
        largest = max(high, -low)
        if largest > limit:
            raise InputError(
                f"{name} has values up to {largest:.3g} in magnitude; distances between "
                f"{arr.shape[1]}-D rows overflow {arr.dtype} above {limit:.3g}: rescale them"
            )
    return arr


def check_labels(y, n_samples: int | None = None, *, name: str = "y") -> np.ndarray:
    """Return labels as a 1-D array (ints or strings kept as given), or raise."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D (one label per row), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise InputError(
            f"{name} has {arr.shape[0]} labels but the features have {n_samples} rows"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite labels")
    return arr


def encode_labels(y: np.ndarray) -> np.ndarray:
    """Map arbitrary hashable labels to 0..C-1 (int64)."""
    _, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int64).ravel()


def relabel(labels: np.ndarray) -> np.ndarray:
    """Cluster ids as consecutive 0..C-1 in order of first appearance; negatives (noise) -1.

    The one renumbering of cluster outputs (user labels are coded by :func:`encode_labels`).
    """
    labels = np.asarray(labels)
    out = np.full(labels.shape, -1, dtype=np.int64)
    keep = labels >= 0
    if keep.any():
        _, first, inv = np.unique(labels[keep], return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        out[keep] = order[inv]
    return out


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise InputError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise InputError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(
    value, name: str, *, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InputError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def l2_normalize(X: np.ndarray, eps: float = 1e-12, *, copy: bool = True) -> np.ndarray:
    """Row-wise l2 normalisation; zero rows stay zero instead of becoming NaN.

    With ``copy=False`` rows that are already unit (or zero) come back as the same array, for
    read-only callers: at a million points every avoided copy is a gigabyte. Works in row
    blocks into an array of ``X``'s dtype: no n x d temporary, no float64 copy.
    """
    step = _row_block(X)  # row blocks: no n x d temporary
    norms = np.empty(X.shape[0], dtype=np.float64)
    for s in range(0, X.shape[0], step):
        block = X[s:s + step]
        norms[s:s + step] = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        release_pages(X)
    if not copy and np.all((np.abs(norms - 1.0) < 1e-5) | (norms == 0)):
        return X
    out = np.empty(X.shape, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
    for s in range(0, X.shape[0], step):
        np.divide(X[s:s + step], np.maximum(norms[s:s + step, None], eps), out=out[s:s + step],
                  casting="unsafe")
        release_pages(X)
    return out


def release_pages(X: np.ndarray) -> None:
    """Drop this process's resident pages of a read-only memory-mapped ``X``.

    A pass over a file larger than memory would otherwise keep every page it touched mapped
    (and counted in the process's RSS) until the map is closed; dropped pages stay in the
    page cache and come back on the next read. Writable or copy-on-write maps are left alone
    (dropping their pages would lose changes).
    """
    if X.flags.writeable:
        return
    base = X
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None and hasattr(base, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            base.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # closed maps and the like: nothing to release
            pass


def _row_block(X: np.ndarray) -> int:
    """Rows per block of a block-wise pass over ``X``: about 64M values."""
    return max(1, (1 << 26) // max(X.shape[1], 1))
