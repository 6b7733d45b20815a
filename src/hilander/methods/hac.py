"""Hierarchical agglomerative clustering (scikit-learn), optionally on the k-NN graph."""

from __future__ import annotations

import warnings

import faiss
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import minimum_spanning_tree
from sklearn.cluster import AgglomerativeClustering

from .._validation import InputError, l2_normalize
from ..graph import components
from ..graph.linkage import sparse_linkage
from ._baseline import (
    NONNEG_REAL,
    POSITIVE_INT,
    BaseClusterer,
    Param,
    StrOptions,
    check_pairwise_memory,
    edge_distances,
    relabel,
)
from .kmeans import _check_n_clusters


class HAC(BaseClusterer):
    """Agglomerative clustering with Ward, complete, average or single linkage.

    Stops at ``n_clusters`` or, when ``distance_threshold`` is set (it then replaces
    ``n_clusters``), at the first merge above that linkage distance. ``n_neighbors`` restricts
    merges to pairs linked in the symmetric k-NN graph (the study's "number of neighbors",
    Table 15); ``None`` uses all pairs, which needs O(n^2) memory (except single linkage) and is
    refused above the memory budget. With the graph, single linkage cuts its minimum spanning
    tree and average / complete linkage run :func:`sparse_linkage` (the same merges as
    scikit-learn's connectivity-constrained tree, minutes faster); Ward stays scikit-learn's.
    A graph with several components is first joined by a few edges between nearby components
    (:func:`connect_components`).

    {parameters}

    {attributes}

    {example}
    """

    _example = "HAC(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT, None], "int or None",
                            "Clusters to stop at; ignored when ``distance_threshold`` is set (one "
                            "of the two is needed)."),
        "distance_threshold": Param(None, [NONNEG_REAL, None], "float or None",
                                    "Linkage distance at or above which no merge is made; replaces "
                                    "``n_clusters``."),
        "linkage": Param(
            "ward", [StrOptions({"average", "complete", "single", "ward"})],
            '{"ward", "complete", "average", "single"}',
            'Distance between clusters. Ward needs ``metric="euclidean"``.'),
        "metric": Param(
            "euclidean", [StrOptions({"cosine", "euclidean"})], '{"euclidean", "cosine"}',
            "Distance between points."),
        "n_neighbors": Param(10, [POSITIVE_INT, None], "int or None",
                             "Neighbours of the k-NN graph that restricts merges; None merges over "
                             "all pairs."),
    }
    _n_positional = 1

    uses_graph = True

    def _check_rules(self) -> None:
        if self.linkage == "ward" and self.metric != "euclidean":
            raise InputError("linkage='ward' needs metric='euclidean' (Ward is a variance "
                             "criterion); use complete, average or single for cosine")
        if self.distance_threshold is None and self.n_clusters is None:
            raise InputError("set n_clusters or distance_threshold")

    def _fit(self, X, graph):
        n = X.shape[0]
        connectivity = None
        if self.n_neighbors is not None:
            g = self._neighbors(X, graph, min(self.n_neighbors, n - 1))
            connectivity = connect_components(g.to_sparse("binary", symmetric=True), X)
        elif self.linkage != "single":
            check_pairwise_memory(n, f"HAC ({self.linkage} linkage, all pairs)",
                                  hint="set n_neighbors to use the sparse k-NN graph")
        if connectivity is not None and self.linkage == "single":
            return self._single_linkage_mst(X, connectivity)
        if connectivity is not None and self.linkage in ("average", "complete"):
            C = sp.triu(connectivity, k=1).tocoo()
            d = edge_distances(X, C.row, C.col, self.metric)
            n_clusters = (None if self.distance_threshold is not None
                          else _check_n_clusters(self.n_clusters, n))
            return relabel(sparse_linkage(n, C.row, C.col, d, self.linkage,
                                          n_clusters=n_clusters,
                                          distance_threshold=self.distance_threshold))
        if self.distance_threshold is None:
            kwargs = {"n_clusters": _check_n_clusters(self.n_clusters, n)}
        else:
            kwargs = {"n_clusters": None, "distance_threshold": float(self.distance_threshold),
                      "compute_full_tree": True}
        model = AgglomerativeClustering(linkage=self.linkage, metric=self.metric,
                                        connectivity=connectivity, **kwargs)
        with warnings.catch_warnings():
            # we connected the graph ourselves; scikit-learn still warns on some versions
            warnings.simplefilter("ignore", UserWarning)
            labels = model.fit_predict(X)
        return relabel(labels)


    def _single_linkage_mst(self, X: np.ndarray, connectivity: sp.csr_matrix) -> np.ndarray:
        """Single linkage restricted to graph edges = cutting the graph's minimum spanning tree.

        Kruskal's order of MST edges is exactly the merge order of connectivity-constrained
        single linkage, so this equals scikit-learn's result without its slow generic heap.
        """
        n = X.shape[0]
        C = sp.triu(connectivity, k=1).tocoo()
        d = edge_distances(X, C.row, C.col, self.metric)
        # stored zeros vanish from sparse matrices; the floor keeps duplicate points linked
        W = sp.csr_matrix((np.maximum(d, 1e-12), (C.row, C.col)), shape=(n, n))
        T = minimum_spanning_tree(W).tocoo()
        if self.distance_threshold is None:
            k = _check_n_clusters(self.n_clusters, n)
            # drop the k-1 longest tree edges (the graph is connected, so k components remain)
            keep = np.argsort(T.data, kind="stable")[: max(T.nnz - (k - 1), 0)]
        else:
            keep = np.flatnonzero(T.data < self.distance_threshold)
        return relabel(components(n, T.row[keep], T.col[keep])[1])


def connect_components(A: sp.csr_matrix, X: np.ndarray) -> sp.csr_matrix:
    """Add a few edges so the graph ``A`` is connected, each between nearby components.

    Restricted HAC can never merge across components; scikit-learn would repair that with a
    pairwise-distance pass per pair of components (quadratic in their number). Here every round
    links each component to its nearest other component (by centroid), through the member of
    each that lies closest to the other's centroid; the number of components at least halves
    per round.
    """
    A = sp.csr_matrix(A)
    Xn = l2_normalize(np.ascontiguousarray(X, dtype=np.float32))
    while True:
        coo = A.tocoo()
        n_comp, comp = components(A.shape[0], coo.row, coo.col)
        if n_comp <= 1:
            return A
        counts = np.bincount(comp, minlength=n_comp).astype(np.float32)
        cent = np.zeros((n_comp, X.shape[1]), dtype=np.float32)
        np.add.at(cent, comp, Xn)
        cent = l2_normalize(cent / counts[:, None])
        index = faiss.IndexFlatIP(cent.shape[1])
        index.add(cent)
        _, nb = index.search(cent, 2)
        other = np.where(nb[:, 0] == np.arange(n_comp), nb[:, 1], nb[:, 0])
        # for each component c, the member most similar to the partner's centroid, and v.v.
        sim_to_partner = (Xn * cent[other[comp]]).sum(1)
        rep_c = _argmax_per_group(sim_to_partner, comp, n_comp)
        # the partner's member most similar to that representative closes the edge
        order = np.argsort(comp, kind="stable")
        bounds = np.searchsorted(comp[order], np.arange(n_comp + 1))
        rep_o = np.empty(n_comp, dtype=np.int64)
        for c, o in enumerate(other):
            members = order[bounds[o]:bounds[o + 1]]
            rep_o[c] = members[np.argmax(Xn[members] @ Xn[rep_c[c]])]
        rows = np.concatenate([rep_c, rep_o])
        cols = np.concatenate([rep_o, rep_c])
        A = (A + sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=A.shape)).tocsr()
        A.data[:] = 1.0


def _argmax_per_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    order = np.lexsort((-values, groups))
    first = np.ones(order.size, bool)
    first[1:] = groups[order][1:] != groups[order][:-1]
    out = np.empty(n_groups, dtype=np.int64)
    out[groups[order][first]] = order[first]
    return out
