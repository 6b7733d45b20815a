"""Cluster labels as codes: the one place that decides what is noise."""

from __future__ import annotations

import numpy as np

from .._validation import check_labels


def cluster_codes(labels, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(names, codes)``: the distinct cluster labels and each item's index into them.

    Integer ``-1`` is noise (code ``-1``), as everywhere in hilander; any other label, integer
    or string, is a cluster. ``names`` are sorted (numbers numerically).
    """
    labels = check_labels(labels, n_samples, name="labels")
    noise = labels == -1 if labels.dtype.kind in "iu" else np.zeros(labels.shape, bool)
    codes = np.full(labels.shape[0], -1, dtype=np.int64)
    names, inverse = np.unique(labels[~noise], return_inverse=True)
    codes[~noise] = inverse.ravel()
    return names, codes
