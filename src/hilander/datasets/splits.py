"""Seeded, class-disjoint divisions of labeled identities: one held-out share, or folds.

The one place the package divides identities: Hi-LANDER's cross-fitted selection
(:func:`identity_folds`), the supervised baselines' validation split, the encoders' held-out
identities and :class:`hilander.AutoCluster` all draw here. (The empirical study's fixed
four-way split of Omniglot and CLINC150 is :mod:`hilander.study.class_disjoint`.)
"""

from __future__ import annotations

import numpy as np

from .._validation import InputError

__all__ = ["holdout_identities", "identity_folds"]


def holdout_identities(codes: np.ndarray, share: float, seed: int, *, by: str = "points",
                       min_held: int = 1, min_rest: int = 2) -> np.ndarray:
    """Mask of a seeded, class-disjoint held-out share of the identities in ``codes``.

    ``codes`` are identity codes 0..C-1. The identities are shuffled with ``seed`` and taken
    whole, in that order, until ``share`` of them (``by="classes"``) or of the points
    (``by="points"``) is held out, then the count is clamped so that at least ``min_held``
    identities are held out and ``min_rest`` remain (pass ``min_rest=0`` for no clamp). The
    one hold-out of the package: Hi-LANDER's selection, the supervised baselines' validation
    split and :class:`hilander.AutoCluster` all draw here.
    """
    n_classes = int(codes.max()) + 1
    order = np.random.default_rng(seed).permutation(n_classes)
    if by == "classes":
        n_held = max(1, int(round(share * n_classes)))
    else:
        sizes = np.bincount(codes, minlength=n_classes)[order]
        n_held = int(np.searchsorted(np.cumsum(sizes), share * codes.size) + 1)
    if min_rest:
        n_held = min(max(n_held, min_held), n_classes - min_rest)
    return np.isin(codes, order[:n_held])


def identity_folds(codes: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold (0..n_folds-1) of every point: whole identities, about equal points per fold.

    The identities are shuffled with ``seed``, ordered largest first (the shuffle breaks
    ties) and each goes to the fold that holds the fewest points so far, so no identity is
    split and the folds stay balanced even when identity sizes are long-tailed.
    """
    n_classes = int(codes.max()) + 1
    if n_classes < n_folds:
        raise InputError(f"{n_classes} identities cannot make {n_folds} folds")
    sizes = np.bincount(codes, minlength=n_classes)
    order = np.random.default_rng(seed).permutation(n_classes)
    order = order[np.argsort(-sizes[order], kind="stable")]
    load = np.zeros(n_folds, dtype=np.int64)
    fold_of = np.empty(n_classes, dtype=np.int64)
    for c in order:
        f = int(np.argmin(load))
        fold_of[c] = f
        load[f] += sizes[c]
    return fold_of[codes]
