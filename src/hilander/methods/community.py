"""Community detection on the k-NN graph: Infomap, Leiden and Chinese whispers.

All three cut the similarity-weighted k-NN graph (FaceMap-style pruning first: edges under
``min_similarity`` are dropped) with the shared partitioners of
:mod:`hilander.graph.partition`, optionally after shared-neighbour re-weighting
(``jaccard``, see :meth:`hilander.graph.KNNGraph.jaccard`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._validation import InputError
from ..graph import (
    KNNGraph,
    chinese_whispers_partition,
    infomap_partition,
    leiden_partition,
)
from ._baseline import (
    COSINE,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_REAL,
    UNIT,
    BaseClusterer,
    Param,
    relabel,
)


class _PrunedGraphClusterer(BaseClusterer):
    """Shared steps: neighbours, pruning of weak edges, outlier handling after partitioning.

    ``min_cluster_size`` > 1 turns members of smaller clusters into outliers; ``outliers``
    then says what becomes of them: "noise" (label -1, scored as singletons) or "attach" (join
    the cluster of their most similar neighbour that is in a kept cluster, if any).
    """

    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int", "Neighbours per point of the k-NN graph."),
        "min_similarity": Param(0.0, [COSINE], "float",
                                "Cosine similarity below which k-NN edges are dropped before "
                                "partitioning."),
        "jaccard": Param(0.0, [UNIT], "float",
                         "Blend in [0, 1] of the shared-neighbour (Jaccard) weight into each "
                         "edge's weight, and what ``min_similarity`` then thresholds (0: the plain "
                         "cosine; see :meth:`hilander.graph.KNNGraph.jaccard`)."),
        "min_cluster_size": Param(1, [POSITIVE_INT], "int",
                                  "Members of clusters smaller than this become outliers (1: none "
                                  "do)."),
        "outliers": Param("noise", [StrOptions({"attach", "noise"})], '{"noise", "attach"}',
                          "What outliers become: noise (label -1), or members of the cluster of "
                          "their most similar neighbour that is in a kept cluster (noise when they "
                          "have none)."),
    }

    uses_graph = True

    def _partition(self, n: int, src: np.ndarray, dst: np.ndarray,
                   weight: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _fit(self, X, graph):
        n = X.shape[0]
        g = self._neighbors(X, graph, min(self.n_neighbors, n - 1))
        src, dst, sim = g.edges()
        keep = sim >= self.min_similarity
        labels = self._partition(n, src[keep], dst[keep], sim[keep])
        return relabel(self._handle_outliers(labels, g))

    def _handle_outliers(self, labels: np.ndarray, g: KNNGraph) -> np.ndarray:
        if self.min_cluster_size <= 1:
            return labels
        small = np.bincount(labels)[labels] < self.min_cluster_size
        if not small.any():
            return labels
        out = labels.copy()
        out[small] = -1
        if self.outliers == "attach":
            # most similar neighbour (rows are sorted) that belongs to a kept cluster
            nb = g.indices[small]
            ok = nb >= 0
            host = np.where(ok, out[np.where(ok, nb, 0)], -1)
            has = (host >= 0).any(1)
            first = (host >= 0).argmax(1)
            rows = np.flatnonzero(small)
            out[rows[has]] = host[has, first[has]]
        return out


class Infomap(_PrunedGraphClusterer):
    """Infomap (the map equation) on the pruned k-NN graph, as FaceMap does for faces.

    Each point keeps its ``n_neighbors`` nearest neighbours whose cosine similarity is at least
    ``min_similarity``, weighted by that similarity (or by the ``jaccard`` blend); two-level
    Infomap partitions the result. ``markov_time`` scales the module granularity (above 1
    coarser). ``num_trials`` > 1 keeps the best of several seeded runs.

    {parameters}

    {attributes}

    {example}
    """

    marks_noise = True
    _example = "Infomap(n_neighbors=10)"
    _params = {
        "markov_time": Param(1.0, [POSITIVE_REAL], "float",
                             "Scale of the module granularity: above 1 fewer, larger modules."),
        "num_trials": Param(1, [POSITIVE_INT], "int",
                            "Seeded Infomap runs; the partition with the shortest description "
                            "length is kept."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the partitioner: the same seed gives the same labels."),
    }
    _n_positional = 0  # keyword-only: the shared n_neighbors no longer comes first

    def _partition(self, n, src, dst, weight):
        return infomap_partition(n, src, dst, weight, seed=self.random_state,
                                 num_trials=self.num_trials, markov_time=self.markov_time)


class Leiden(_PrunedGraphClusterer):
    """Leiden community detection (leidenalg) on the pruned, similarity-weighted k-NN graph.

    ``objective="modularity"`` with ``resolution`` > 1 favours more, smaller communities (the
    k-NN graphs of identities hold many small ones); ``"cpm"`` asks each community for an edge
    density of at least ``resolution`` in similarity units. Pruning, ``jaccard`` and outliers
    work as in :class:`Infomap`.

    {parameters}

    {attributes}

    {example}
    """

    marks_noise = True
    _example = "Leiden(n_neighbors=10)"
    _params = {
        "resolution": Param(1.0, [POSITIVE_REAL], "float",
                            "Resolution of the objective: above 1 favours more, smaller "
                            "communities (modularity); the least edge density of a community "
                            "(CPM)."),
        "objective": Param(
            "modularity", [StrOptions({"cpm", "modularity"})], '{"modularity", "cpm"}',
            "Quality function Leiden optimises: modularity or the constant Potts model."),
        "n_iterations": Param(2, [Interval(Integral, -1, None, closed="left")], "int",
                              "Leiden iterations; -1 iterates until the partition stops changing."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the partitioner: the same seed gives the same labels."),
    }
    _n_positional = 0  # keyword-only: the shared n_neighbors no longer comes first

    def _check_rules(self) -> None:
        if self.n_iterations == 0:
            raise InputError("n_iterations must be positive, or -1 to run until stable")

    def _partition(self, n, src, dst, weight):
        return leiden_partition(n, src, dst, weight, resolution=self.resolution,
                                objective=self.objective, seed=self.random_state,
                                n_iterations=self.n_iterations)


class ChineseWhispers(_PrunedGraphClusterer):
    """Chinese whispers (Biemann 2006), the label-propagation baseline of learn-to-cluster.

    Asynchronous weighted label propagation on the pruned k-NN graph; the visiting order is
    drawn from ``random_state``, so results are reproducible. Pruning, ``jaccard`` and outliers
    work as in :class:`Infomap`.

    {parameters}

    {attributes}

    {example}
    """

    marks_noise = True
    _example = "ChineseWhispers(n_neighbors=10)"
    _params = {
        "n_iterations": Param(20, [POSITIVE_INT], "int",
                              "Propagation rounds at most, each visiting every point once; fitting "
                              "stops earlier when a round changes no label."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the visiting order: the same seed gives the same labels."),
    }
    _n_positional = 0  # keyword-only: the shared n_neighbors no longer comes first

    def _partition(self, n, src, dst, weight):
        return chinese_whispers_partition(n, src, dst, weight, n_iterations=self.n_iterations,
                                          seed=self.random_state)
