"""The most central items of each cluster: those nearest its mean direction.

On l2-normalised rows, an item's cosine to the normalised mean of its cluster says how typical
it is: the items with the highest cosine stand for the cluster better than its first items in
file order. Without embeddings, texts are compared by their TF-IDF vectors
(:func:`tfidf_features`) and images by their grey pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import InputError, check_features
from ._labels import cluster_codes


def tfidf_features(texts: Sequence[str]):
    """TF-IDF rows of ``texts`` (sparse, l2-normalised): the fallback when no embeddings exist.

    Parameters
    ----------
    texts : sequence of str
        One text per item.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_items, n_terms)

    Examples
    --------
    >>> tfidf_features(["a red apple", "a green apple"]).shape
    (2, 3)
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        return TfidfVectorizer(sublinear_tf=True).fit_transform(list(texts))
    except ValueError:  # no word in any text: all items are alike
        return sp.csr_matrix(np.ones((len(texts), 1)))


def centrality(X, labels) -> np.ndarray:
    """Cosine of each item to its cluster's mean direction (NaN for noise).

    Parameters
    ----------
    X : array-like or scipy sparse matrix of shape (n_items, n_features)
        Embeddings (or any features); rows are l2-normalised here.
    labels : array-like of shape (n_items,)
        Cluster of each item; integer ``-1`` is noise.

    Returns
    -------
    numpy.ndarray of shape (n_items,)

    Examples
    --------
    >>> X = [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]]
    >>> centrality(X, [0, 0, 0, -1]).round(3).tolist()
    [0.864, 0.993, 0.921, nan]
    """
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize

    if sp.issparse(X):
        Xn = normalize(sp.csr_matrix(X, dtype=np.float64))
    else:
        Xn = normalize(check_features(X, name="embeddings", dtype=np.float64))
    _, codes = cluster_codes(labels, Xn.shape[0])
    keep = np.flatnonzero(codes >= 0)
    out = np.full(Xn.shape[0], np.nan)
    if keep.size == 0:
        return out
    n_clusters = int(codes.max()) + 1
    member = sp.csr_matrix((np.ones(keep.size), (codes[keep], keep)),
                           shape=(n_clusters, Xn.shape[0]))
    # the normalised mean direction of each cluster (the sum has the same direction)
    means = normalize(member @ Xn)
    if sp.issparse(Xn):
        out[keep] = np.asarray(Xn[keep].multiply(sp.csr_matrix(means)[codes[keep]]).sum(axis=1)
                               ).ravel()
    else:
        out[keep] = np.einsum("ij,ij->i", Xn[keep], np.asarray(means)[codes[keep]])
    return out


def central_items(X, labels, *, top_n: int = 5) -> dict:
    """The ``top_n`` items of every cluster nearest its mean direction.

    Parameters
    ----------
    X : array-like or scipy sparse matrix of shape (n_items, n_features)
        Embeddings, or the fallback features (:func:`tfidf_features`, pixels).
    labels : array-like of shape (n_items,)
        Cluster of each item; integer ``-1`` (noise) gets no entry.
    top_n : int, default=5
        Items per cluster (all of a smaller cluster).

    Returns
    -------
    dict
        Cluster label -> item indices, most central first (ties: lower index first).

    Examples
    --------
    >>> X = [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [5, 5]]
    >>> {k: v.tolist() for k, v in central_items(X, [7, 7, 7, 7, -1], top_n=2).items()}
    {7: [1, 2]}
    """
    if top_n < 1:
        raise InputError(f"top_n must be >= 1, got {top_n}")
    names, codes = cluster_codes(labels, X.shape[0] if hasattr(X, "shape") else len(X))
    score = centrality(X, labels)
    keep = np.flatnonzero(codes >= 0)
    # one sort for all clusters: by cluster, then by falling cosine, then by index
    order = keep[np.lexsort((keep, -score[keep], codes[keep]))]
    starts = np.searchsorted(codes[order], np.arange(names.size + 1))
    return {name: order[starts[c]:min(starts[c] + top_n, starts[c + 1])]
            for c, name in enumerate(names.tolist())}
