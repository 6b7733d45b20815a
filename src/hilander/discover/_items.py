"""Raw items of :class:`~hilander.discover.Discoverer`: texts or grey images, one kind at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import InputError

TEXT, IMAGE = "text", "image"


def kind_of(items, name: str) -> str:
    """"text" for a sequence of strings, "image" for an (n, side, side) array or an ImageSet."""
    if hasattr(items, "images") and hasattr(items, "paths"):  # an ImageSet
        items = items.images
    if isinstance(items, np.ndarray) and items.dtype.kind in "fiub":
        if items.ndim != 3:
            raise InputError(f"{name}: images must be an (n, side, side) array, got shape "
                             f"{items.shape}")
        return IMAGE
    if isinstance(items, str) or not isinstance(items, Sequence | np.ndarray):
        raise InputError(f"{name} must be a list of texts or an (n, side, side) image array, "
                         f"got {type(items).__name__}")
    return TEXT


def as_items(items, name: str) -> list[str] | np.ndarray:
    """Texts as a list of non-empty strings, images as a float32 array (ImageSet unpacked)."""
    kind = kind_of(items, name)
    if kind == IMAGE:
        x = np.asarray(getattr(items, "images", items), dtype=np.float32)
        if x.shape[0] == 0:
            raise InputError(f"{name} is empty")
        if not np.isfinite(x).all():
            raise InputError(f"{name} holds NaN or infinite pixel values")
        return x
    texts = list(items)
    if not texts:
        raise InputError(f"{name} is empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputError(f"{name}[{i}] is a {type(t).__name__}, not a string")
        if not t.strip():
            raise InputError(f"{name}[{i}] is an empty text")
    return texts


def take(items, index: np.ndarray):
    """The items at ``index`` (an integer array or a boolean mask)."""
    index = np.asarray(index)
    if index.dtype == bool:
        index = np.flatnonzero(index)
    if isinstance(items, np.ndarray):
        return items[index]
    return [items[i] for i in index]


def size(items) -> int:
    return int(items.shape[0]) if isinstance(items, np.ndarray) else len(items)
