"""Shared plumbing of the unsupervised baselines: input handling, neighbour graphs, limits."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

# StrOptions is re-exported for the method modules' constraint tables
from sklearn.utils._param_validation import StrOptions as StrOptions

from .._validation import (
    InputError,
    check_features,
    l2_normalize,
    validate_constraints,
)
from .._validation import relabel as relabel  # re-exported for the method modules

# the constraint shorthands are re-exported for the method modules' tables
from ..base import COSINE as COSINE
from ..base import NONNEG_INT as NONNEG_INT
from ..base import NONNEG_REAL as NONNEG_REAL
from ..base import POSITIVE_INT as POSITIVE_INT
from ..base import POSITIVE_REAL as POSITIVE_REAL
from ..base import UNIT as UNIT
from ..base import DeclaredParams
from ..base import Param as Param  # re-exported for the method modules' parameter tables
from ..graph import KNNGraph, build_knn_graph

#: Memory a single method may plan to use for an n x n structure: half the 24 GB machine, so
#: the rest of the process (and other users) still fit and nothing swaps.
MEMORY_BUDGET_BYTES = 12 * 2**30


def max_points_for_pairwise(bytes_per_pair: float) -> int:
    """Largest n whose n^2 / 2 pairs at ``bytes_per_pair`` fit in :data:`MEMORY_BUDGET_BYTES`."""
    return int(np.sqrt(2 * MEMORY_BUDGET_BYTES / bytes_per_pair))


def check_pairwise_memory(n: int, method: str, bytes_per_pair: float = 8.0, hint: str = "") -> None:
    """Refuse (InputError) when a quadratic-memory step on ``n`` points would exhaust memory."""
    limit = max_points_for_pairwise(bytes_per_pair)
    if n > limit:
        need = n * (n - 1) / 2 * bytes_per_pair / 2**30
        raise InputError(
            f"{method} needs O(n^2) memory: {n} points would take about {need:.0f} GiB, over the "
            f"{MEMORY_BUDGET_BYTES / 2**30:.0f} GiB budget (limit {limit} points)"
            + (f"; {hint}" if hint else "")
        )


class BaseClusterer(DeclaredParams, ClusterMixin, BaseEstimator):
    """scikit-learn-shaped base: constructor stores parameters, ``fit`` validates and runs.

    Subclasses declare their parameters once, in a ``_params`` table of
    :class:`~hilander.base.Param` (default, constraint, type, doc: the constructor, the
    constraint table and the docstring's "Parameters" section come from it, as for every
    hilander estimator), may add ``_check_rules()`` (rules tying parameters together) and
    implement ``_fit(X, graph)`` returning labels; ``X`` arrives validated and, when
    ``l2_normalize`` is on, row-normalised. Subclasses that use neighbours set
    ``uses_graph = True`` and expose ``n_neighbors``.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each row of ``X``; -1 marks noise where a method has any.
    n_features_in_ : int
        Number of features of ``X``.
    n_clusters_ : int
        Number of clusters in ``labels_``, each noise point counted as a cluster of its own.
    """

    uses_graph = False
    min_rows = 2
    #: whether ``labels_`` may hold -1 (noise); said in the rendered "Attributes" section
    marks_noise: ClassVar[bool] = False
    #: the constructor call of the class's "Examples" section (``{example}`` in its docstring)
    _example: ClassVar[str | None] = None
    _params = {
        "l2_normalize": Param(True, ["boolean"], "bool",
                              "Scale every row to unit length before clustering (the study's "
                              "protocol for pretrained embeddings); ``False`` clusters the rows "
                              "as given."),
    }

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)  # renders "{parameters}"
        doc = cls.__dict__.get("__doc__") or ""
        if "{attributes}" in doc:
            noise = cls.marks_noise
            cls.__doc__ = doc = doc.replace("{attributes}", _COMMON_ATTRIBUTES.format(
                noise="; -1 marks noise" if noise else "",
                count=" (each noise point counted as a cluster of its own)" if noise else ""))
        if "{example}" in doc:
            cls.__doc__ = doc.replace("{example}", _EXAMPLE.format(name=cls.__name__,
                                                                   call=cls._example))

    def fit(self, X, y=None, *, graph: KNNGraph | None = None):
        """Cluster ``X``; sets ``labels_``, ``n_features_in_`` and ``n_clusters_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The embeddings (finite values).
        y : None
            Ignored; present for scikit-learn's API.
        graph : KNNGraph or None, default=None
            A prebuilt k-NN graph of ``X`` (:func:`hilander.graph.build_knn_graph`), reused by
            the methods that work on neighbours; it needs at least as many neighbours as the
            method asks for. None builds the graph when one is needed.

        Returns
        -------
        self
            The fitted estimator.
        """
        self._check_params()
        X_raw = check_features(X, name="X", min_rows=self.min_rows)
        self._X_raw = X_raw  # kept only during fit: some methods need raw norms
        try:
            Xp = l2_normalize(X_raw) if self.l2_normalize else X_raw
            if graph is not None:
                if not isinstance(graph, KNNGraph):
                    raise InputError(f"graph must be a KNNGraph, got {type(graph).__name__}")
                graph.check_matches(Xp)
            labels = self._fit(Xp, graph)
        finally:
            del self._X_raw
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.n_features_in_ = int(X_raw.shape[1])
        self.n_clusters_ = int(np.unique(self.labels_[self.labels_ >= 0]).size) + int(
            (self.labels_ < 0).sum()
        )
        return self

    def fit_predict(self, X, y=None, *, graph: KNNGraph | None = None) -> np.ndarray:
        """Cluster ``X`` and return ``labels_`` (see :meth:`fit`)."""
        return self.fit(X, y, graph=graph).labels_

    # -- helpers for subclasses -------------------------------------------------------------

    def _check_params(self) -> None:
        """Each parameter against its declared constraints, then the cross-parameter rules."""
        validate_constraints(self)
        self._check_rules()

    def _check_rules(self) -> None:
        """Rules that tie parameters together; subclasses override when they have some."""

    def _neighbors(self, X: np.ndarray, graph: KNNGraph | None, k: int) -> KNNGraph:
        """The k-NN graph with ``k`` neighbours: the given one (restricted) or a new one.

        A method with a ``jaccard`` parameter (blend in [0, 1]) gets the graph re-weighted by
        shared neighbours (:meth:`KNNGraph.jaccard`); adding that parameter is all any graph
        method needs to offer the cleaning step.
        """
        g = self._knn(X, graph, k)
        blend = getattr(self, "jaccard", 0.0)
        return g.jaccard(blend) if blend else g

    def _knn(self, X: np.ndarray, graph: KNNGraph | None, k: int) -> KNNGraph:
        n = X.shape[0]
        if n <= k:
            raise InputError(
                f"{type(self).__name__}: n_neighbors={k} needs more than {k} points, got {n}"
            )
        if graph is None:
            return build_knn_graph(X, k)
        if graph.k < k:
            raise InputError(
                f"the given k-NN graph has k={graph.k} but n_neighbors={k} is needed; "
                "build it with at least that many neighbours"
            )
        return graph if graph.k == k else graph.restrict(k)


# the attributes every baseline sets, and the example every one runs (a doctest), rendered
# into each class's docstring in place of "{attributes}" and "{example}"
_COMMON_ATTRIBUTES = """Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each row of ``X``, numbered from 0{noise}.
    n_features_in_ : int
        Number of features of ``X``.
    n_clusters_ : int
        Number of clusters in ``labels_``{count}."""

_EXAMPLE = """Examples
    --------
    >>> import numpy as np
    >>> from hilander.methods import {name}
    >>> from hilander.metrics import pairwise_scores
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)                 # three identities of 20 points each
    >>> X = np.eye(3, 16)[y] + 0.05 * rng.standard_normal((60, 16))
    >>> model = {call}.fit(X)
    >>> model.n_clusters_
    3
    >>> pairwise_scores(y, model.labels_)            # pairwise precision, recall, F
    (1.0, 1.0, 1.0)"""


def edge_distances(X: np.ndarray, src: np.ndarray, dst: np.ndarray, metric: str) -> np.ndarray:
    """Distances of the given point pairs, computed from ``X`` itself (not the cosine graph)."""
    if metric == "euclidean":
        return np.linalg.norm(X[src] - X[dst], axis=1)
    norms = np.linalg.norm(X, axis=1)
    dots = (X[src] * X[dst]).sum(1)
    return 1.0 - dots / np.maximum(norms[src] * norms[dst], 1e-12)



