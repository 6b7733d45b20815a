"""Deterministic long-tailed resampling of a labelled set (no class is merged or invented).

Real test sets such as Omniglot (20 drawings per character) and CLINC150 (150 utterances per
intent) are balanced, while the face benchmarks Hi-LANDER targets are long-tailed. This module
subsamples each class to a size drawn from a power law, so most classes keep 1-5 items while
a few keep everything they have.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_float, check_int, check_labels


def long_tail_subsample(
    y, seed: int = 0, *, shape: float = 0.5, full_fraction: float = 0.05,
) -> np.ndarray:
    """Sorted indices of a long-tailed subsample of the items labelled ``y``.

    Each class ``c`` with ``n_c`` items keeps ``s_c`` of them, with ``s_c`` drawn from a
    power law truncated to ``[1, n_c]``: density proportional to ``s^-(1 + shape)``, floored
    to an integer. With the default ``shape = 0.5``, 76% of 20-item classes keep 1-5 items
    (38% a single one), and of 150-item classes 64% keep 1-5 and 15% keep 20 or more.
    On top of that, ``ceil(full_fraction * n_classes)`` classes (at least one) keep all their
    items, so the largest classes are as large as the input allows (20 on Omniglot, 150 on
    CLINC150). Classes, sizes and items depend only on ``seed`` and the labels, so the same
    call always returns the same indices.
    """
    y = check_labels(y)
    seed = check_int(seed, "seed", low=0)
    shape = check_float(shape, "shape", low=0.0, low_open=True)
    full_fraction = check_float(full_fraction, "full_fraction", low=0.0, high=1.0)

    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    rng = np.random.default_rng(seed)
    n_classes = classes.size

    # inverse CDF of the Pareto law truncated to [1, n_c + 1), then floored
    u = rng.random(n_classes)
    hi = counts.astype(np.float64) + 1.0
    sizes = (1.0 - u * (1.0 - hi ** -shape)) ** (-1.0 / shape)
    sizes = np.clip(np.floor(sizes), 1, counts).astype(np.int64)
    n_full = max(1, int(np.ceil(full_fraction * n_classes))) if full_fraction > 0 else 0
    full = rng.permutation(n_classes)[:n_full]
    sizes[full] = counts[full]

    keep = []
    order = np.argsort(inverse, kind="stable")  # items grouped by class, original order within
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for c in range(n_classes):
        members = order[starts[c]:starts[c] + counts[c]]
        keep.append(rng.choice(members, size=sizes[c], replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)
