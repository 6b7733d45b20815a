"""Tree deduction without networks (study Appendix D ablations of GCN-VE)."""

from __future__ import annotations

import numpy as np

from .._validation import relabel
from ..graph import components
from ._base import COSINE, POSITIVE_INT, BaseClusterer, StrOptions, constraints


def tree_deduction(indices: np.ndarray, similarities: np.ndarray, confidence: np.ndarray,
                   threshold: float) -> np.ndarray:
    """GCN-VE's tree deduction on a k-NN graph.

    Every point links to its most similar neighbour among those with *higher* confidence, if
    that similarity is at least ``threshold``; the links form a forest whose trees are the
    clusters. Confidence ties are broken by index so the "higher" order is strict and no
    cycle can form.
    """
    n = indices.shape[0]
    rank = np.empty(n, dtype=np.int64)
    # strict total order: by confidence, then by lower index
    rank[np.lexsort((-np.arange(n), confidence))] = np.arange(n)
    safe = np.where(indices >= 0, indices, 0)
    ok = (indices >= 0) & (rank[safe] > rank[:, None]) & (similarities >= threshold)
    # columns are nearest-first, so the first allowed column is the most similar one
    has = ok.any(axis=1)
    parent = safe[np.arange(n), ok.argmax(axis=1)]
    src = np.flatnonzero(has)
    return relabel(components(n, src, parent[has])[1])


class TreeDeduction(BaseClusterer):
    """Tree deduction on the cosine k-NN graph with an unsupervised confidence.

    ``confidence="density"`` (the plain ablation, "Tree Deduction" in the study's Table 5) uses
    the mean cosine similarity of a point to its ``n_neighbors`` neighbours, our label-free
    stand-in for GCN-V's density confidence (the study does not name the confidence it used).
    ``confidence="l2_norm"`` uses the l2-norm of the raw embedding (Scott et al. 2021), taken
    before any normalisation: "Tree Deduction + l2-norm". Each point then links to its most
    similar neighbour of higher confidence if their cosine reaches ``threshold``
    (:func:`tree_deduction`); the trees of links are the clusters.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours per point of the k-NN graph (candidates for a link, and the density's
        neighbourhood).
    threshold : float, default=0.6
        Least cosine similarity of a link.
    confidence : {"density", "l2_norm"}, default="density"
        Mean k-NN similarity, or the norm of the raw embedding.
    l2_normalize : bool, default=True
        Scale every row to unit length before clustering (the study's protocol for pretrained
        embeddings); ``False`` clusters the rows as given.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each row of ``X``, numbered from 0.
    n_features_in_ : int
        Number of features of ``X``.
    n_clusters_ : int
        Number of clusters in ``labels_``.
    confidence_ : ndarray of shape (n_samples,)
        Confidence of each point.

    Examples
    --------
    >>> import numpy as np
    >>> from hilander.methods import TreeDeduction
    >>> from hilander.metrics import pairwise_scores
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)                 # three identities of 20 points each
    >>> X = np.eye(3, 16)[y] + 0.05 * rng.standard_normal((60, 16))
    >>> model = TreeDeduction(n_neighbors=25, threshold=0.6).fit(X)
    >>> model.n_clusters_
    3
    >>> pairwise_scores(y, model.labels_)            # pairwise precision, recall, F
    (1.0, 1.0, 1.0)
    """

    uses_graph = True

    def __init__(self, n_neighbors: int = 10, threshold: float = 0.6,
                 confidence: str = "density", l2_normalize: bool = True):
        self.n_neighbors = n_neighbors
        self.threshold = threshold
        self.confidence = confidence
        self.l2_normalize = l2_normalize

    _parameter_constraints = constraints(
        n_neighbors=[POSITIVE_INT], threshold=[COSINE],
        confidence=[StrOptions({"density", "l2_norm"})])

    def _fit(self, X, graph):
        g = self._neighbors(X, graph, min(self.n_neighbors, X.shape[0] - 1))
        if self.confidence == "l2_norm":
            conf = np.linalg.norm(self._X_raw.astype(np.float64), axis=1)
        else:
            conf = np.where(g.indices >= 0, g.similarities, 0.0).mean(axis=1)
        self.confidence_ = conf
        return tree_deduction(g.indices, g.similarities, conf, self.threshold)


class TreeDeductionL2(TreeDeduction):
    """Tree deduction with embedding l2-norm confidence (study Appendix D, Table 22).

    :class:`TreeDeduction` with ``confidence="l2_norm"`` by default: a point's confidence is the
    norm of its raw embedding, taken before any normalisation.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours per point of the k-NN graph (candidates for a link).
    threshold : float, default=0.6
        Least cosine similarity of a link.
    confidence : {"density", "l2_norm"}, default="l2_norm"
        Mean k-NN similarity, or the norm of the raw embedding.
    l2_normalize : bool, default=True
        Scale every row to unit length before clustering (the study's protocol for pretrained
        embeddings); ``False`` clusters the rows as given.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each row of ``X``, numbered from 0.
    n_features_in_ : int
        Number of features of ``X``.
    n_clusters_ : int
        Number of clusters in ``labels_``.
    confidence_ : ndarray of shape (n_samples,)
        Confidence of each point.

    Examples
    --------
    >>> import numpy as np
    >>> from hilander.methods import TreeDeductionL2
    >>> from hilander.metrics import pairwise_scores
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)                 # three identities of 20 points each
    >>> X = np.eye(3, 16)[y] + 0.05 * rng.standard_normal((60, 16))
    >>> model = TreeDeductionL2(n_neighbors=25, threshold=0.6).fit(X)
    >>> model.n_clusters_
    3
    >>> pairwise_scores(y, model.labels_)            # pairwise precision, recall, F
    (1.0, 1.0, 1.0)
    """

    def __init__(self, n_neighbors: int = 10, threshold: float = 0.6,
                 confidence: str = "l2_norm", l2_normalize: bool = True):
        super().__init__(n_neighbors=n_neighbors, threshold=threshold, confidence=confidence,
                         l2_normalize=l2_normalize)
