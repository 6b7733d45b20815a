"""A 2-D map of the embeddings: t-SNE (or PCA) of l2-normalised rows, on a sample.

A browser draws a few thousand points without effort, and t-SNE's cost grows with the number
of points, so large sets are mapped on a uniform random sample (the page says so).
"""

from __future__ import annotations

import numpy as np

from .._validation import InputError, check_choice, check_features, check_int, l2_normalize

MAP_METHODS = ("tsne", "pca")


def map_2d(X, *, max_points: int = 5000, method: str = "tsne",
           random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates of (a sample of) the rows of ``X``, scaled into the unit square.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
        Embeddings; rows are l2-normalised first (cosine geometry, as the methods use).
    max_points : int, default=5000
        Rows mapped at most; above it, a uniform random sample of this many.
    method : {"tsne", "pca"}, default="tsne"
        t-SNE (PCA-initialised, perplexity 30 or less on tiny sets, 500 iterations) shows
        clusters as islands, in about a minute for 5,000 points on two cores; PCA is instant
        and keeps global distances.
    random_state : int, default=0
        Seed of the sample and of t-SNE.

    Returns
    -------
    indices : numpy.ndarray of shape (m,)
        The mapped rows, ascending.
    coords : numpy.ndarray of shape (m, 2), float32
        Their positions; the longer side spans [0, 1], the shorter one is centred in it
        (the aspect ratio is kept).

    Examples
    --------
    >>> idx, xy = map_2d([[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1]], method="pca")
    >>> idx.tolist(), float(xy.min()), float(xy.max())
    ([0, 1, 2], 0.0, 1.0)
    """
    X = check_features(X, name="embeddings")
    max_points = check_int(max_points, "max_points", low=1)
    method = check_choice(method, "method", MAP_METHODS)
    n = X.shape[0]
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, size=max_points, replace=False)) if n > max_points \
        else np.arange(n)
    Z = l2_normalize(np.asarray(X[idx], dtype=np.float32))
    if idx.size < 3:  # nothing to lay out: a point, or a line of two
        xy = np.zeros((idx.size, 2), np.float64)
        xy[1:, 0] = 1.0
    elif method == "pca" or Z.shape[1] < 2:
        xy = _pca(Z)
    else:
        from sklearn.manifold import TSNE

        if Z.shape[1] > 50:  # t-SNE's neighbour search on 50 PCA dimensions, as usual
            from sklearn.decomposition import PCA

            Z = PCA(50, random_state=random_state).fit_transform(Z)
        perplexity = float(min(30.0, (idx.size - 1) / 3))
        # 500 iterations (250 of them early exaggeration) settle a map; 1000 take twice as long
        steps = {"max_iter" if "max_iter" in TSNE().get_params() else "n_iter": 500}
        xy = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state,
                  **steps).fit_transform(Z)
    return idx, _unit_square(np.asarray(xy, dtype=np.float64)).astype(np.float32)


def _pca(Z: np.ndarray) -> np.ndarray:
    if Z.shape[1] < 2:
        return np.column_stack([Z[:, 0], np.zeros(Z.shape[0])])
    from sklearn.decomposition import PCA

    return PCA(2, random_state=0).fit_transform(Z)


def _unit_square(xy: np.ndarray) -> np.ndarray:
    if not np.isfinite(xy).all():
        raise InputError("the 2-D map has non-finite coordinates")
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = float((high - low).max())
    if span == 0:
        return np.full_like(xy, 0.5)
    # the longer side spans [0, 1]; the shorter is centred, so the map keeps its shape
    return (xy - low) / span + (1 - (high - low) / span) / 2
