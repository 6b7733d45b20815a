"""Partition-based baselines: k-means, spherical k-means, DP-means and DP-vMF-means."""

from __future__ import annotations

from numbers import Integral, Real

import faiss
import numpy as np
from sklearn.cluster import KMeans as _SkKMeans
from sklearn.cluster import MiniBatchKMeans as _SkMiniBatchKMeans
from sklearn.cluster import kmeans_plusplus
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_limits

from .._validation import InputError, l2_normalize
from ._baseline import (
    NONNEG_INT,
    NONNEG_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    BaseClusterer,
    Param,
    StrOptions,
    relabel,
)


def _check_n_clusters(n_clusters, n: int) -> int:
    """``n_clusters`` (its constraint already checked at ``fit``) against the data's size."""
    n_clusters = int(n_clusters)
    if n_clusters > n:
        raise InputError(f"n_clusters={n_clusters} exceeds the number of points ({n})")
    return n_clusters


class KMeans(BaseClusterer):
    """Lloyd's k-means (scikit-learn) with random or k-means++ seeding.

    ``batch_size=-1`` runs full-batch Lloyd iterations; a positive value runs mini-batch k-means
    (Sculley 2010) with that batch size, as in the study's Tables 7-8.

    {parameters}

    {attributes}
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids of the kept run (in the space that was clustered: unit rows by default).
    n_iter_ : int
        Iterations of the kept run.

    {example}
    """

    _example = "KMeans(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Number of clusters (at most the number of points)."),
        "init": Param("k-means++", [StrOptions({"k-means++", "random"})], '{"k-means++", "random"}',
                      "Seeding: k-means++ or random points."),
        "batch_size": Param(-1, [Interval(Integral, -1, None, closed="left")], "int",
                            "-1 runs full-batch Lloyd iterations; a positive value runs mini-batch "
                            "k-means with batches of that size."),
        "n_init": Param(1, [POSITIVE_INT], "int",
                        "Seeded runs; the one with the lowest inertia is kept."),
        "max_iter": Param(100, [POSITIVE_INT], "int", "Iteration cap of each run."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the seeding and of the mini-batches: the same seed gives "
                              "the same labels."),
    }
    _n_positional = 1

    def _check_rules(self) -> None:
        if self.batch_size == 0:
            raise InputError(f"batch_size must be -1 (full batch) or positive, "
                             f"got {self.batch_size}")

    def _fit(self, X, graph):
        k = _check_n_clusters(self.n_clusters, X.shape[0])
        if self.batch_size == -1:
            model = _SkKMeans(k, init=self.init, n_init=self.n_init, max_iter=self.max_iter,
                              random_state=self.random_state)
        else:
            model = _SkMiniBatchKMeans(k, init=self.init, n_init=self.n_init,
                                       max_iter=self.max_iter, batch_size=self.batch_size,
                                       random_state=self.random_state)
        labels = model.fit_predict(X)
        self.cluster_centers_ = model.cluster_centers_
        self.n_iter_ = int(model.n_iter_)
        return labels


class SphericalKMeans(BaseClusterer):
    """Spherical k-means (Hornik et al. 2012): maximise the summed cosine to unit centroids.

    Points and centroids live on the unit sphere whatever ``l2_normalize`` says (the method is
    defined there). Seeding is random points or k-means++ with cosine distance; empty clusters
    are re-seeded with the point least similar to its centroid.

    {parameters}

    {attributes}
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Unit-length centroids of the kept run.
    n_iter_ : int
        Iterations of the kept run.
    objective_ : float
        Summed cosine of every point to its centroid (what the method maximises).

    {example}
    """

    _example = "SphericalKMeans(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Number of clusters (at most the number of points)."),
        "init": Param("k-means++", [StrOptions({"k-means++", "random"})], '{"k-means++", "random"}',
                      "Seeding: k-means++ with cosine distance, or random points."),
        "n_init": Param(1, [POSITIVE_INT], "int",
                        "Seeded runs; the one with the highest summed cosine is kept."),
        "max_iter": Param(100, [POSITIVE_INT], "int", "Iteration cap of each run."),
        "tol": Param(1e-6, [NONNEG_REAL], "float",
                     "A run stops when the summed cosine gains less than ``tol`` times its "
                     "magnitude."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the seeding: the same seed gives the same labels."),
    }
    _n_positional = 1

    def _fit(self, X, graph):
        X = l2_normalize(X)
        k = _check_n_clusters(self.n_clusters, X.shape[0])
        rng = np.random.default_rng(self.random_state)
        best = None
        for _ in range(self.n_init):
            labels, centers, obj, n_iter = self._run(X, k, rng)
            if best is None or obj > best[2]:
                best = (labels, centers, obj, n_iter)
        self.cluster_centers_ = best[1]
        self.n_iter_ = best[3]
        self.objective_ = float(best[2])
        return best[0]

    def _run(self, X, k, rng):
        n = X.shape[0]
        if self.init == "random":
            centers = X[rng.choice(n, size=k, replace=False)].copy()
        else:
            # on the unit sphere squared Euclidean distance is 2(1 - cos), so Euclidean
            # k-means++ samples with probabilities proportional to the cosine distance
            centers, _ = kmeans_plusplus(X, k, random_state=int(rng.integers(2**31 - 1)))
            centers = np.ascontiguousarray(centers, dtype=np.float32)
        prev = -np.inf
        labels = np.zeros(n, dtype=np.int64)
        n_iter = 0
        for _ in range(self.max_iter):
            n_iter += 1
            sims, labels = _nearest_by_ip(X, centers)
            obj = float(sims.sum())
            sums = np.zeros_like(centers)
            np.add.at(sums, labels, X)
            counts = np.bincount(labels, minlength=k)
            empty = np.flatnonzero(counts == 0)
            if empty.size:
                # the worst-fitting points become the new centres of empty clusters
                worst = np.argsort(sims)[: empty.size]
                sums[empty] = X[worst]
            centers = l2_normalize(sums)
            if obj - prev <= self.tol * max(1.0, abs(obj)) and not empty.size:
                break
            prev = obj
        sims, labels = _nearest_by_ip(X, centers)
        return labels, centers, float(sims.sum()), n_iter


def _nearest_by_ip(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest inner product centre of every row (faiss keeps memory at O(n + k))."""
    index = faiss.IndexFlatIP(centers.shape[1])
    index.add(np.ascontiguousarray(centers, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(X, dtype=np.float32), 1)
    return sims[:, 0], ids[:, 0].astype(np.int64)


class DPMeans(BaseClusterer):
    """DP-means (Kulis & Jordan 2012): k-means with a penalty ``lam`` per cluster.

    A point whose squared Euclidean distance to every centroid exceeds ``lam`` opens a new
    cluster, so the number of clusters follows from the data. ``init="global_centroid"`` starts
    from one cluster at the data mean; ``"random"`` from one cluster at a random point. Points
    are visited in a seeded random order. ``online=True`` updates a centroid after every
    assignment (online EM); otherwise centroids are recomputed after each pass (batch EM), where
    every point takes its nearest centroid once the pass's new clusters are open, which has the
    same fixed points as the sequential pass but vectorises.

    {parameters}

    {attributes}
    cluster_centers_ : ndarray of shape (n_centers, n_features)
        Final centroids, one per cluster found.
    n_iter_ : int
        Passes made.

    {example}
    """

    _example = "DPMeans(lam=0.5)"
    _params = {
        "lam": Param(1.0, [POSITIVE_REAL], "float",
                     "Cluster penalty: the squared Euclidean distance beyond which a point opens a "
                     "new cluster (on unit rows, pairs of points are at most 4 apart)."),
        "init": Param(
            "global_centroid", [StrOptions({"global_centroid", "random"})],
            '{"global_centroid", "random"}',
            "The first cluster: at the data mean, or at a random point."),
        "online": Param(False, ["boolean"], "bool",
                        "Update centroids after every assignment (online EM) instead of after each "
                        "pass."),
        "max_iter": Param(30, [POSITIVE_INT], "int",
                          "Passes over the data at most; fitting stops earlier when no label "
                          "changes."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              'Seed of the visiting order (and of ``init="random"``).'),
    }
    _n_positional = 1

    _geometry = "euclidean"

    # geometry-specific pieces, overridden by DPvMFMeans
    def _prepare(self, X):
        return X

    def _centroid(self, sums, counts):
        return sums / np.maximum(counts, 1)[:, None]

    def _nearest(self, x_rows, C, C_sq=None):
        """(nearest centroid, its squared distance) for rows against centroids ``C``
        (``C_sq``: their squared norms, when the caller keeps them)."""
        if C_sq is None:
            C_sq = (C**2).sum(1)
        d = (x_rows**2).sum(1)[:, None] - 2 * x_rows @ C.T + C_sq[None, :]
        j = d.argmin(1)
        return j, d[np.arange(len(j)), j]

    def _is_far(self, d):
        return d > self.lam

    def _best(self, x_rows, C, C_sq=None):
        """(best centroid, is_far) for rows against centroids ``C``."""
        j, d = self._nearest(x_rows, C, C_sq)
        return j, self._is_far(d)

    def _fit(self, X, graph):
        X = self._prepare(X).astype(np.float64)
        n = X.shape[0]
        rng = np.random.default_rng(self.random_state)
        if self.init == "global_centroid":
            sums, counts = X.sum(0, keepdims=True), np.array([n], dtype=np.float64)
        else:
            sums, counts = X[rng.integers(n)][None, :].copy(), np.ones(1)
        C = self._centroid(sums, counts)
        labels = np.full(n, -1, dtype=np.int64)
        for it in range(self.max_iter):
            order = rng.permutation(n)
            old = labels.copy()
            if self.online:
                C, labels = self._online_pass(X, C, labels, order)
            else:
                C, labels = self._batch_pass(X, C, order)
            self.n_iter_ = it + 1
            if np.array_equal(old, labels):
                break
        self.cluster_centers_ = C
        return relabel(labels)

    def _nearest_chunked(self, X, C, chunk: int = 4096):
        """``_nearest`` over row chunks: memory O(chunk * K) even when K approaches n."""
        parts = [self._nearest(X[s:s + chunk], C) for s in range(0, X.shape[0], chunk)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _batch_pass(self, X, C, order):
        # the distances to the old centroids serve twice: to find the far points, then (with
        # those to the new ones, computed alone) to assign; each pass used to compute them twice
        j_old, d_old = self._nearest_chunked(X, C)
        cand = order[self._is_far(d_old[order])]
        new, new_sq = np.empty((cand.size, X.shape[1])), np.empty(cand.size)
        m = 0
        with single_thread_blas():
            for i in cand:  # sequential over the far points only: each may open a cluster
                if m:
                    _, still_far = self._best(X[i][None, :], new[:m], new_sq[:m])
                    if not still_far[0]:
                        continue
                new[m] = X[i]
                new_sq[m] = X[i] @ X[i]
                m += 1
        labels = j_old
        if m:
            j_new, d_new = self._nearest_chunked(X, new[:m])
            # strictly nearer: a tie keeps the old centroid, as argmin over [old, new] did
            labels = np.where(d_new < d_old, C.shape[0] + j_new, j_old)
            C = np.vstack([C, new[:m]])
        sums = np.zeros_like(C)
        np.add.at(sums, labels, X)
        counts = np.bincount(labels, minlength=C.shape[0]).astype(np.float64)
        keep = counts > 0
        remap = np.cumsum(keep) - 1
        return self._centroid(sums[keep], counts[keep]), remap[labels]

    def _online_pass(self, X, C, labels, order):
        K, d = C.shape
        # room for every point to open a cluster: growing the arrays per new cluster copied
        # O(K d) each time, O(n^2 d) over a pass when most points stand alone
        cap = K + X.shape[0]
        Cb, sums, counts = np.zeros((cap, d)), np.zeros((cap, d)), np.zeros(cap)
        Cb[:K] = C
        sq = np.zeros(cap)  # squared norms of the centroids, updated with them
        sq[:K] = (C**2).sum(1)
        assigned = labels >= 0
        if assigned.any():
            np.add.at(sums, labels[assigned], X[assigned])
            counts[:K] = np.bincount(labels[assigned], minlength=K)
        else:
            sums[:K] = C  # initial centroid carries no points yet
        with single_thread_blas():
            for i in order:
                x = X[i]
                j, far = self._best(x[None, :], Cb[:K], sq[:K])
                j = int(j[0])
                if far[0]:
                    Cb[K] = x
                    sq[K] = x @ x
                    j = K
                    K += 1
                old = labels[i]
                if old == j:
                    continue
                if old >= 0:
                    sums[old] -= x
                    counts[old] -= 1
                    if counts[old] > 0:
                        Cb[old] = self._centroid(sums[old][None, :], counts[old][None])[0]
                        sq[old] = Cb[old] @ Cb[old]
                if counts[j] == 0:
                    sums[j] = 0.0
                sums[j] += x
                counts[j] += 1
                Cb[j] = self._centroid(sums[j][None, :], counts[j][None])[0]
                sq[j] = Cb[j] @ Cb[j]
                labels[i] = j
        keep = counts[:K] > 0
        remap = np.cumsum(keep) - 1
        return Cb[:K][keep], remap[labels]


def single_thread_blas() -> threadpool_limits:
    """One BLAS thread: a matrix-vector product per point costs more in waking threads than in
    work (DP-means' passes ran 3x slower with a second core busy)."""
    return threadpool_limits(1, user_api="blas")


class DPvMFMeans(DPMeans):
    """DP-vMF-means (Straub et al. 2015): DP-means on the unit sphere with cosine similarity.

    A point opens a new cluster when its cosine to every centroid is below ``1 + lam``
    (``lam`` in (-2, 0); the study tuned -0.55 and -0.38). Centroids are normalised sums. The
    passes, ``init`` and ``online`` work as in :class:`DPMeans`. The rows are projected on
    the sphere whatever ``l2_normalize`` says.

    {parameters}

    {attributes}
    cluster_centers_ : ndarray of shape (n_centers, n_features)
        Unit-length centroids, one per cluster found.
    n_iter_ : int
        Passes made.

    {example}
    """

    _example = "DPvMFMeans(lam=-0.2)"
    _params = {
        "lam": Param(-0.5, [Interval(Real, -2, 0, closed="neither")], "float",
                     "Cluster penalty in (-2, 0): a point whose cosine to every centroid is below "
                     "``1 + lam`` opens a new cluster."),
        "init": Param(
            "global_centroid", [StrOptions({"global_centroid", "random"})],
            '{"global_centroid", "random"}',
            "The first cluster: at the mean direction of the data, or at a random point."),
    }
    _n_positional = 1

    _geometry = "vmf"

    # cosine-based penalty: lam is a similarity offset in (-2, 0)
    def _prepare(self, X):
        return l2_normalize(X)

    def _centroid(self, sums, counts):
        return l2_normalize(sums)

    def _nearest(self, x_rows, C, C_sq=None):
        # the negated cosine is the "distance": argmin over it is argmax over the cosine
        s = -(x_rows @ C.T)
        j = s.argmin(1)
        return j, s[np.arange(len(j)), j]

    def _is_far(self, d):
        return d > -(1.0 + self.lam)
