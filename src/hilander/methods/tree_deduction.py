"""Tree deduction without networks (study Appendix D ablations of GCN-VE)."""

from __future__ import annotations

import numpy as np

from .._validation import relabel
from ..graph import components
from ._baseline import COSINE, POSITIVE_INT, BaseClusterer, Param, StrOptions


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

    {parameters}

    {attributes}
    confidence_ : ndarray of shape (n_samples,)
        Confidence of each point.

    {example}
    """

    _example = "TreeDeduction(n_neighbors=25, threshold=0.6)"
    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int",
                             "Neighbours per point of the k-NN graph (candidates for a link, and "
                             "the density's neighbourhood)."),
        "threshold": Param(0.6, [COSINE], "float", "Least cosine similarity of a link."),
        "confidence": Param(
            "density", [StrOptions({"density", "l2_norm"})], '{"density", "l2_norm"}',
            "Mean k-NN similarity, or the norm of the raw embedding."),
    }
    _n_positional = 1

    uses_graph = True

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

    {parameters}

    {attributes}
    confidence_ : ndarray of shape (n_samples,)
        Confidence of each point.

    {example}
    """

    _example = "TreeDeductionL2(n_neighbors=25, threshold=0.6)"
    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int",
                             "Neighbours per point of the k-NN graph (candidates for a link)."),
    }
    _defaults = {"confidence": 'l2_norm'}
    _n_positional = 1
