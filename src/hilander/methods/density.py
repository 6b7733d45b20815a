"""Density-based baselines (scikit-learn): DBSCAN, HDBSCAN and MeanShift.

Noise points get label -1; the metrics count each of them as a singleton cluster.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import DBSCAN as _SkDBSCAN
from sklearn.cluster import HDBSCAN as _SkHDBSCAN
from sklearn.cluster import get_bin_seeds
from sklearn.utils._param_validation import Interval

from .._validation import InputError
from ._baseline import (
    NONNEG_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    BaseClusterer,
    Param,
    StrOptions,
    check_pairwise_memory,
    edge_distances,
    max_points_for_pairwise,
    relabel,
)


class DBSCAN(BaseClusterer):
    """DBSCAN (Ester et al. 1996) through scikit-learn.

    ``n_neighbors=None`` runs the exact radius search, whose neighbourhoods can hold O(n^2)
    indices for a wide ``eps``; it is refused above the memory budget. An integer uses the
    shared k-NN graph as a sparse precomputed distance matrix (the study's "sparse matrix"
    option): only the ``n_neighbors`` nearest points can be neighbours, so memory is O(n k).

    {parameters}

    {attributes}

    {example}
    """

    marks_noise = True
    _example = "DBSCAN(eps=0.5)"
    _params = {
        "eps": Param(0.5, [POSITIVE_REAL], "float",
                     "Radius of a point's neighbourhood, in ``metric`` distance."),
        "min_samples": Param(5, [POSITIVE_INT], "int",
                             "Points (the point itself included) within ``eps`` that make a core "
                             "point."),
        "metric": Param(
            "euclidean", [StrOptions({"cosine", "euclidean"})], '{"euclidean", "cosine"}',
            "Distance between points."),
        "n_neighbors": Param(None, [POSITIVE_INT, None], "int or None",
                             "Search neighbourhoods within the k-NN graph of this many neighbours; "
                             "None runs the exact radius search."),
    }
    _n_positional = 1

    uses_graph = True

    def _fit(self, X, graph):
        if self.n_neighbors is None:
            # the exact radius search stores every neighbourhood: n^2 indices when eps is wide
            check_pairwise_memory(X.shape[0], "DBSCAN (exact radius search)", bytes_per_pair=16,
                                  hint="set n_neighbors to search within the sparse k-NN graph")
            model = _SkDBSCAN(eps=self.eps, min_samples=self.min_samples, metric=self.metric)
            return relabel(model.fit_predict(X))
        g = self._neighbors(X, graph, min(self.n_neighbors, X.shape[0] - 1))
        D = sparse_distance_graph(X, g, self.metric)
        model = _SkDBSCAN(eps=self.eps, min_samples=self.min_samples, metric="precomputed")
        return relabel(model.fit_predict(D))


def sparse_distance_graph(X: np.ndarray, graph, metric: str) -> sp.csr_matrix:
    """Symmetric sparse distance matrix on the k-NN edges, with explicit zero diagonal."""
    src, dst, _ = graph.edges()
    d = edge_distances(X, src, dst, metric)
    n = X.shape[0]
    # stored zeros would be dropped; a tiny floor keeps coincident points adjacent
    D = sp.csr_matrix((np.maximum(d, 1e-12), (src, dst)), shape=(n, n))
    D = D.maximum(D.T).tocsr()
    D.setdiag(0.0)
    return D


#: HDBSCAN's dimension above which the dense (brute) spanning tree replaces the trees.
BRUTE_MIN_DIM = 16


class HDBSCAN(BaseClusterer):
    """HDBSCAN (Campello et al. 2013) through scikit-learn's implementation.

    Euclidean distance (on l2-normalised rows this ranks pairs exactly as cosine does) builds
    the exact spanning tree from the dense distance matrix where it fits the memory budget and
    the rows have more than 16 dimensions (trees prune nothing there), and from tree-based
    neighbour queries otherwise; ``metric="cosine"`` always needs the full distance matrix and
    is refused above the memory budget.

    {parameters}

    {attributes}

    {example}
    """

    marks_noise = True
    _example = "HDBSCAN(min_cluster_size=5)"
    _params = {
        "min_cluster_size": Param(5, [Interval(Integral, 2, None, closed="left")], "int",
                                  "Smallest group of points that counts as a cluster (at least "
                                  "2)."),
        "min_samples": Param(None, [POSITIVE_INT, None], "int or None",
                             "Neighbours that define a point's core distance (None: "
                             "``min_cluster_size``)."),
        "cluster_selection_epsilon": Param(0.0, [NONNEG_REAL], "float",
                                           "Clusters closer than this distance are merged."),
        "cluster_selection_method": Param("eom", [StrOptions({"eom", "leaf"})], '{"eom", "leaf"}',
                                          "Excess of mass, or the leaves of the condensed tree "
                                          "(finer clusters)."),
        "metric": Param(
            "euclidean", [StrOptions({"cosine", "euclidean"})], '{"euclidean", "cosine"}',
            "Distance between points."),
    }
    _n_positional = 1

    def _fit(self, X, graph):
        n = X.shape[0]
        if self.metric == "cosine":
            check_pairwise_memory(n, "HDBSCAN with metric='cosine'", bytes_per_pair=16,
                                  hint="use metric='euclidean' on l2-normalised features")
        if self.min_cluster_size > n:
            raise InputError(f"min_cluster_size={self.min_cluster_size} exceeds the {n} points")
        # Above a few dimensions the trees prune nothing: the exact dense minimum spanning tree
        # (same edge weights; equal reachabilities may merge in another order) was 11x faster
        # on 4,000 MiniLM rows (384-d), so it is used wherever its n^2 matrix fits the budget.
        dense = self.metric == "cosine" or (X.shape[1] > BRUTE_MIN_DIM
                                            and n <= max_points_for_pairwise(bytes_per_pair=16))
        model = _SkHDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                           cluster_selection_epsilon=float(self.cluster_selection_epsilon),
                           cluster_selection_method=self.cluster_selection_method,
                           metric=self.metric, algorithm="brute" if dense else "auto",
                           copy=True)
        return relabel(model.fit_predict(X.astype(np.float64)))


class MeanShift(BaseClusterer):
    """MeanShift (Cheng 1995) with a flat kernel of radius ``bandwidth``.

    The algorithm is scikit-learn's (binned seeds via ``sklearn.cluster.get_bin_seeds``, modes
    closer than ``bandwidth`` to a denser mode are dropped, points join the nearest mode), but
    all seeds move together in chunked matrix products: scikit-learn shifts one seed at a time
    with a neighbour query each, which is slow even on small inputs. The study tunes
    ``min_bin_freq``, which only acts on binned seeds; ``bin_seeding=False`` seeds from every
    point. ``cluster_all=False`` leaves points farther than ``bandwidth`` from every mode as
    noise (-1).

    {parameters}

    {attributes}
    cluster_centers_ : ndarray of shape (n_modes, n_features)
        The modes kept, densest first.
    n_iter_ : int
        Shifts of the slowest seed.

    {example}
    """

    marks_noise = True
    _example = "MeanShift(bandwidth=0.5)"
    _params = {
        "bandwidth": Param(0.5, [POSITIVE_REAL], "float", "Radius of the flat kernel (Euclidean)."),
        "min_bin_freq": Param(1, [POSITIVE_INT], "int",
                              "Points a bin needs to seed a mode (with ``bin_seeding``)."),
        "cluster_all": Param(True, ["boolean"], "bool",
                             "Give every point its nearest mode; False leaves points farther than "
                             "``bandwidth`` from every mode as noise."),
        "bin_seeding": Param(True, ["boolean"], "bool",
                             "Seed from the centres of a grid of ``bandwidth``-sized bins instead "
                             "of from every point."),
        "max_iter": Param(300, [POSITIVE_INT], "int", "Shifts of each seed at most."),
    }
    _n_positional = 1

    def _fit(self, X, graph):
        X = X.astype(np.float64)
        bw = float(self.bandwidth)
        if self.bin_seeding:
            seeds = get_bin_seeds(X, bw, self.min_bin_freq)
            if len(seeds) == 0:
                raise InputError(
                    f"MeanShift: no bin holds min_bin_freq={self.min_bin_freq} points at "
                    f"bandwidth={bw}; lower min_bin_freq or raise bandwidth"
                )
        else:
            seeds = X.copy()
        modes, counts, self.n_iter_ = _shift_seeds(X, np.asarray(seeds, dtype=np.float64), bw,
                                                   self.max_iter)
        if modes.shape[0] == 0:
            raise InputError(f"MeanShift: no seed has a point within bandwidth={bw}; "
                             "raise bandwidth")
        # densest modes first; a mode within bw of a kept denser one is a duplicate
        order = np.argsort(-counts, kind="stable")
        modes = modes[order]
        keep = np.ones(len(modes), bool)
        for i in range(len(modes)):
            if keep[i]:
                close = ((modes[i + 1:] - modes[i]) ** 2).sum(1) < bw * bw
                keep[i + 1:] &= ~close
        modes = modes[keep]
        d2 = _sq_dists(X, modes)
        labels = d2.argmin(1)
        if not self.cluster_all:
            labels[d2[np.arange(len(labels)), labels] > bw * bw] = -1
        self.cluster_centers_ = modes
        return relabel(labels)


def _sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d2 = (A**2).sum(1)[:, None] - 2 * A @ B.T + (B**2).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def _shift_seeds(X, seeds, bw, max_iter, chunk=2048):
    """Move every seed to the mean of the points within ``bw`` until it stops moving."""
    # all seeds of a chunk move together: scikit-learn's one seed at a time, with a neighbour
    # query each, made a 200-point fit take seconds
    stop = 1e-3 * bw
    out, counts = [], []
    n_iter = 1
    for s in range(0, len(seeds), chunk):
        S = seeds[s:s + chunk].copy()
        alive = np.ones(len(S), bool)
        moving = np.ones(len(S), bool)
        cnt = np.zeros(len(S))
        for it in range(1, max_iter + 1):
            idx = np.flatnonzero(alive & moving)
            if idx.size == 0:
                break
            n_iter = max(n_iter, it)
            within = _sq_dists(S[idx], X) <= bw * bw
            c = within.sum(1).astype(np.float64)
            alive[idx[c == 0]] = False  # an empty kernel has no mean: drop the seed
            ok = c > 0
            new = (within[ok] @ X) / c[ok, None]
            moved = np.sqrt(((new - S[idx[ok]]) ** 2).sum(1))
            S[idx[ok]] = new
            cnt[idx[ok]] = c[ok]
            moving[idx[ok]] = moved >= stop
        out.append(S[alive])
        counts.append(cnt[alive])
    return np.concatenate(out), np.concatenate(counts), n_iter
