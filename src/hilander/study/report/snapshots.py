"""Turn a hierarchical clustering of a test set into the report's level curve and 2-D picture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..._validation import InputError, check_features, check_int, check_labels, l2_normalize
from ...metrics import evaluate
from .results import HierarchySnapshot, LevelCurve


def level_curve(y_true, level_labels: Sequence[np.ndarray], *, method: str = "Hi-LANDER",
                early_stop_level: int | None = None,
                converged_level: int | None = None) -> LevelCurve:
    """Score every level's partition of the test points (finest level first)."""
    y_true = check_labels(y_true, name="y_true")
    levels = []
    for i, labels in enumerate(level_labels, start=1):
        s = evaluate(y_true, labels)
        levels.append({
            "level": i,
            "pairwise_f": s["pairwise_f"],
            "bcubed_f": s["bcubed_f"],
            "nmi": s["nmi"],
            "n_clusters": s["n_clusters"],
        })
    return LevelCurve(method, levels, early_stop_level, converged_level)


def pick_classes(y, n_classes: int = 3, min_size: int = 3) -> list:
    """Classes of clearly different sizes: the largest, the smallest and evenly between.

    Classes smaller than ``min_size`` are ignored (they have nothing to merge).
    """
    y = check_labels(y, name="y")
    check_int(n_classes, "n_classes", low=1)
    values, counts = np.unique(y, return_counts=True)
    keep = counts >= min_size
    if not keep.any():
        keep = counts == counts.max()
    values, counts = values[keep], counts[keep]
    # stable sort by size, ties broken by label, so the choice is deterministic
    order = np.lexsort((values, counts))
    if values.size <= n_classes:
        chosen = order
    else:
        pos = np.unique(np.round(np.linspace(0, values.size - 1, n_classes)).astype(int))
        chosen = order[pos]
    return [v.item() if hasattr(v, "item") else v for v in values[chosen[::-1]]]


def hierarchy_snapshot(X, y, level_peaks: Sequence[np.ndarray], *, method: str = "Hi-LANDER",
                       n_classes: int = 3, projection: str = "tsne", max_points: int = 600,
                       seed: int = 0) -> HierarchySnapshot:
    """Project a few classes of ``X`` to 2-D and keep each level's peaks among them.

    ``level_peaks[l]`` are row indices of ``X`` that act as peaks at level ``l + 1``. With
    ``projection="tsne"`` (scikit-learn's t-SNE, as in the Hi-LANDER supplementary) the drawn
    points are capped at ``max_points`` by dropping the largest chosen class's non-peak points.
    """
    X = check_features(X)
    y = check_labels(y, X.shape[0], name="y")
    if projection not in ("tsne", "pca"):
        raise InputError(f"projection must be 'tsne' or 'pca', got {projection!r}")
    classes = pick_classes(y, n_classes)
    rows = np.flatnonzero(np.isin(y, classes))
    all_peaks = set()
    for p in level_peaks:
        all_peaks.update(np.asarray(p, dtype=np.int64).tolist())
    if rows.size > max_points:
        # keep every peak so the panels stay faithful, thin out ordinary points at random
        rng = np.random.default_rng(seed)
        is_peak = np.isin(rows, list(all_peaks))
        others = rows[~is_peak]
        room = max(0, max_points - int(is_peak.sum()))
        rows = np.sort(np.concatenate([rows[is_peak], rng.choice(others, room, replace=False)]))
    pos_of = {int(r): i for i, r in enumerate(rows)}
    coords = _project(l2_normalize(X[rows]), projection, seed)
    peaks_local = [
        np.array([pos_of[int(r)] for r in np.asarray(p) if int(r) in pos_of], dtype=np.int64)
        for p in level_peaks
    ]
    sizes = {c: int(np.sum(y == c)) for c in classes}
    return HierarchySnapshot(method, coords, y[rows], sizes, peaks_local, projection)


def _project(X: np.ndarray, projection: str, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n = X.shape[0]
    if n < 3:
        return np.column_stack([np.arange(n, dtype=float), np.zeros(n)])
    if projection == "pca" or n < 10:
        return PCA(n_components=2, random_state=seed).fit_transform(X)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (n - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                metric="cosine").fit_transform(X)
