"""Baselines that work on the k-NN graph: spectral, ARO, CDP, FINCH and Graclus."""

from __future__ import annotations

import warnings
from numbers import Integral

import faiss
import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans as _SkKMeans
from sklearn.cluster import SpectralClustering as _SkSpectral
from sklearn.utils._param_validation import Interval

from .._validation import InputError, l2_normalize
from ..graph import components
from ._baseline import (
    COSINE,
    NONNEG_INT,
    NONNEG_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    UNIT,
    BaseClusterer,
    Param,
    relabel,
)
from .kmeans import _check_n_clusters


class SpectralClustering(BaseClusterer):
    """Spectral clustering (Ng, Jordan & Weiss 2001) on the symmetrised k-NN affinity.

    The affinity is 0.5 (C + C^T) with C the binary k-NN connectivity (scikit-learn's
    "nearest_neighbors" affinity), built from the shared graph (study Table 19: 20 neighbours,
    50 eigenvectors). The ``n_components`` leading eigenvectors of D^-1/2 A D^-1/2 are
    row-normalised and clustered by k-means, as in Ng et al. (scikit-learn instead scales rows
    by D^-1/2 and uses shift-invert ARPACK, which is very slow for hundreds of eigenvectors).
    Up to :attr:`DENSE_LIMIT` points the eigenproblem is solved densely, above it by Lanczos
    (ARPACK, largest algebraic). ``n_components=None`` uses ``n_clusters`` eigenvectors, at
    most :attr:`MAX_AUTO_COMPONENTS` (k-means in a 1000-dimensional spectral space costs far
    more than it adds); pass ``n_components`` to go beyond.

    {parameters}

    {attributes}

    {example}
    """

    _example = "SpectralClustering(n_clusters=3, n_neighbors=10)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Clusters k-means makes in the spectral space (at most the number of "
                            "points)."),
        "n_neighbors": Param(20, [POSITIVE_INT], "int",
                             "Neighbours per point of the k-NN affinity (the study's 20)."),
        "n_components": Param(None, [POSITIVE_INT, None], "int or None",
                              "Eigenvectors of the spectral embedding (None: ``n_clusters``, at "
                              "most :attr:`MAX_AUTO_COMPONENTS`); below the number of points."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the Lanczos start vector and of k-means."),
    }
    _n_positional = 1

    uses_graph = True
    DENSE_LIMIT = 4000
    MAX_AUTO_COMPONENTS = 128

    def _fit(self, X, graph):
        n = X.shape[0]
        k = _check_n_clusters(self.n_clusters, n)
        g = self._neighbors(X, graph, min(self.n_neighbors, n - 1))
        C = g.to_sparse("binary")
        n_comp = self.n_components or min(k, self.MAX_AUTO_COMPONENTS)
        if n_comp >= n:
            raise InputError(f"n_components={n_comp} must be below the number of points ({n})")
        U = spectral_embedding(0.5 * (C + C.T), n_comp, self.random_state, self.DENSE_LIMIT)
        U = l2_normalize(U.astype(np.float32))
        km = _SkKMeans(k, n_init=1, random_state=self.random_state)
        return relabel(km.fit_predict(U))


def spectral_embedding(A: sp.spmatrix, n_components: int, seed: int = 0,
                       dense_limit: int = 4000) -> np.ndarray:
    """The ``n_components`` leading eigenvectors of D^-1/2 A D^-1/2 (n, n_components)."""
    A = sp.csr_matrix(A, dtype=np.float64)
    deg = np.asarray(A.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
    M = sp.diags(inv_sqrt) @ A @ sp.diags(inv_sqrt)
    n = A.shape[0]
    if n <= dense_limit:
        _, vecs = scipy.linalg.eigh(M.toarray(), subset_by_index=[n - n_components, n - 1])
        return vecs
    v0 = np.random.default_rng(seed).uniform(-1, 1, n)
    _, vecs = eigsh(M, k=n_components, which="LA", v0=v0)
    return vecs


class ApproximateRankOrder(BaseClusterer):
    """Approximate rank-order clustering (Otto, Wang & Jain 2018).

    Each point's list is itself followed by its ``n_neighbors`` nearest neighbours (ranks
    0..k). For a point a and a neighbour b at rank O_a(b), d(a, b) counts the points of a's
    list up to that rank that are absent from b's list; O_b(a) is a's rank in b's list, or k
    when absent. The symmetric distance D(a, b) = (d(a, b) + d(b, a)) / min(O_a(b), O_b(a)) is
    computed only for neighbour pairs; pairs with D < ``threshold`` are merged transitively.
    Neighbours come from the shared cosine graph, which on l2-normalised rows ranks exactly
    like the Euclidean distance (the study notes both metrics then coincide).

    {parameters}

    {attributes}
    distances_ : ndarray of shape (n_samples, n_neighbors)
        Rank-order distance of each point to each of its neighbours (inf for a missing one).

    {example}
    """

    _example = "ApproximateRankOrder(n_neighbors=10)"
    _params = {
        "n_neighbors": Param(20, [POSITIVE_INT], "int", "Length k of each point's neighbour list."),
        "threshold": Param(1.0, [NONNEG_REAL], "float",
                           "Neighbour pairs whose rank-order distance is below it are merged."),
    }
    _n_positional = 1

    uses_graph = True

    def _fit(self, X, graph):
        n = X.shape[0]
        k = min(self.n_neighbors, n - 1)
        g = self._neighbors(X, graph, k)
        D = rank_order_distances(g.indices)
        a = np.repeat(np.arange(n), k)
        b = g.indices.ravel()
        keep = (b >= 0) & (D.ravel() < self.threshold)
        self.distances_ = D
        return relabel(components(n, a[keep], b[keep])[1])


def rank_order_distances(indices: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(n, k) approximate rank-order distance of each point to each of its k neighbours."""
    n, k = indices.shape
    L = np.concatenate([np.arange(n, dtype=np.int64)[:, None], indices], axis=1)  # rank 0 = self
    valid = L >= 0
    keys = np.sort((np.arange(n, dtype=np.int64)[:, None] * n + L)[valid])

    def member(rows: np.ndarray, xs: np.ndarray) -> np.ndarray:
        q = rows * n + xs
        pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
        return (keys[pos] == q) & (xs >= 0)

    out = np.full((n, k), np.inf)
    ranks = np.arange(1, k + 1)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        a = np.repeat(np.arange(s, e), k)
        j = np.tile(ranks, e - s)
        b = L[a, j]
        ok = b >= 0
        a, j, b = a[ok], j[ok], b[ok]
        rows = np.arange(a.size)
        # d(a, b): members of a's list up to rank j missing from b's list
        cum_ab = np.cumsum(~member(b[:, None], L[a]) & valid[a], axis=1)
        d_ab = cum_ab[rows, j]
        # rank of a in b's list (k when absent), then d(b, a) up to that rank
        eq = L[b] == a[:, None]
        o_ba = np.where(eq.any(1), eq.argmax(1), k)
        cum_ba = np.cumsum(~member(a[:, None], L[b]) & valid[b], axis=1)
        d_ba = cum_ba[rows, o_ba]
        flat = np.zeros((e - s) * k, dtype=bool)
        flat[ok] = True
        block = np.full((e - s) * k, np.inf)
        block[flat] = (d_ab + d_ba) / np.minimum(j, o_ba)
        out[s:e] = block.reshape(e - s, k)
    return out


class CDP(BaseClusterer):
    """CDP's unsupervised label propagation (Zhan et al. 2018), without the mediator.

    Keep k-NN edges whose cosine similarity is at least ``threshold`` and take connected
    components; any component larger than ``max_size`` is split again using only its own edges
    with the threshold raised by ``step``, repeatedly, until it fits (or the threshold passes 1,
    leaving it whole). ``jaccard`` > 0 thresholds the shared-neighbour blend instead of the
    cosine (see :meth:`hilander.graph.KNNGraph.jaccard`).

    {parameters}

    {attributes}
    final_threshold_ : float
        The threshold of the last split (``threshold`` when nothing was too large).

    {example}
    """

    _example = "CDP(n_neighbors=10, threshold=0.6)"
    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int", "Neighbours per point of the k-NN graph."),
        "threshold": Param(0.6, [COSINE], "float",
                           "Least similarity of a kept edge (cosine, or the ``jaccard`` blend)."),
        "step": Param(0.05, [POSITIVE_REAL], "float",
                      "How much the threshold rises each time an over-sized component is split "
                      "again."),
        "max_size": Param(300, [POSITIVE_INT], "int", "Largest component left whole."),
        "jaccard": Param(0.0, [UNIT], "float",
                         "Blend in [0, 1] of the shared-neighbour (Jaccard) weight into each "
                         "edge's similarity (0: the plain cosine)."),
    }
    _n_positional = 1

    uses_graph = True

    def _fit(self, X, graph):
        n = X.shape[0]
        g = self._neighbors(X, graph, min(self.n_neighbors, n - 1))
        src, dst, sim = g.edges()
        labels = components(n, src[sim >= self.threshold], dst[sim >= self.threshold])[1]
        th = float(self.threshold)
        while True:
            sizes = np.bincount(labels)
            big = sizes[labels] > self.max_size
            if not big.any() or th >= 1.0:
                break
            th += self.step
            e = big[src] & big[dst] & (labels[src] == labels[dst]) & (sim >= th)
            sub = components(n, src[e], dst[e])[1]
            # only nodes of oversized components take new labels, offset past existing ones
            labels = np.where(big, labels.max() + 1 + sub, labels)
            labels = np.unique(labels, return_inverse=True)[1]
        self.final_threshold_ = th
        return relabel(labels)


class FINCH(BaseClusterer):
    """FINCH (Sarfraz, Sharma & Stiefelhagen 2019): first-neighbour hierarchy.

    Level 0 links every point with its first (most similar) neighbour, which connects i and j
    when j is i's first neighbour, i is j's, or they share one; connected components are the
    clusters. Each further level repeats this on the cluster means, until nothing merges. All
    partitions are kept in ``levels_`` (finest first). ``level`` picks one (negative counts
    from the coarsest). ``n_clusters``, when set, gives exactly that many clusters as FINCH's
    ``req_clust`` does: from the coarsest level that still has at least that many (the
    singletons if none has), the two clusters with the most similar means merge, one pair at a
    time, until the count is reached (:func:`merge_closest_means`).

    {parameters}

    {attributes}
    levels_ : list of ndarray of shape (n_samples,)
        Labels of every level, finest first.
    level_n_clusters_ : list of int
        Clusters of every level.
    chosen_level_ : int
        Index in ``levels_`` of the level used (-1: the singletons, when ``n_clusters``
        exceeds every level's count).

    Examples
    --------
    >>> import numpy as np
    >>> from hilander.methods import FINCH
    >>> from hilander.metrics import pairwise_scores
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)                 # three identities of 20 points each
    >>> X = np.eye(3, 16)[y] + 0.05 * rng.standard_normal((60, 16))
    >>> model = FINCH(level=1).fit(X)
    >>> model.level_n_clusters_                      # clusters of each level, finest first
    [7, 3, 1]
    >>> model.n_clusters_
    3
    >>> pairwise_scores(y, model.labels_)            # pairwise precision, recall, F
    (1.0, 1.0, 1.0)
    >>> FINCH(n_clusters=3).fit(X).n_clusters_       # or ask for a number of clusters
    3
    """

    _params = {
        "level": Param(0, [Interval(Integral, None, None, closed="neither")], "int",
                       "The level whose partition becomes ``labels_``: 0 is the finest, -1 the "
                       "coarsest (a level past either end means that end). Ignored when "
                       "``n_clusters`` is set."),
        "n_clusters": Param(None, [POSITIVE_INT, None], "int or None",
                            "Exactly this many clusters, by merging the closest means from the "
                            "coarsest level that still has at least as many (None: the partition "
                            "of ``level``)."),
    }
    _n_positional = 1

    uses_graph = True

    def _fit(self, X, graph):
        n = X.shape[0]
        g = self._neighbors(X, graph, 1)
        first = g.indices[:, 0]
        ok = first >= 0
        labels = relabel(components(n, np.flatnonzero(ok), first[ok])[1])
        levels = [labels]
        Xn = l2_normalize(X)  # FINCH uses cosine similarity between means
        while True:
            C = int(labels.max()) + 1
            if C <= 1:
                break
            sums = np.zeros((C, X.shape[1]), dtype=np.float32)
            np.add.at(sums, labels, Xn)
            means = l2_normalize(sums)
            index = faiss.IndexFlatIP(means.shape[1])
            index.add(means)
            _, nb = index.search(means, 2)
            nn = np.where(nb[:, 0] == np.arange(C), nb[:, 1], nb[:, 0])
            merged = components(C, np.arange(C), nn)[1]
            if merged.max() + 1 == C:
                break
            labels = relabel(merged[labels])
            levels.append(labels)
        self.levels_ = levels
        self.level_n_clusters_ = [int(lv.max()) + 1 for lv in levels]
        if self.n_clusters is not None:
            target = _check_n_clusters(self.n_clusters, n)
            fit = [i for i, c in enumerate(self.level_n_clusters_) if c >= target]
            chosen = fit[-1] if fit else -1  # -1: start from the singletons
            self.chosen_level_ = chosen
            base = levels[chosen] if fit else np.arange(n, dtype=np.int64)
            return relabel(merge_closest_means(Xn, base, target))
        else:
            chosen = self.level if self.level >= 0 else len(levels) + self.level
            chosen = min(max(chosen, 0), len(levels) - 1)  # past the top means the top
        self.chosen_level_ = chosen
        return levels[chosen]


def merge_closest_means(Xn: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Merge the pair of clusters whose means have the highest cosine similarity, recompute
    that mean, and repeat until ``n_clusters`` remain (FINCH's one-merge-per-step refinement).

    Each cluster caches its most similar other cluster; a merge recomputes the similarities of
    the merged cluster and of the clusters whose cached partner was one of the two, so a step
    costs O(C d) rather than O(C^2 d).
    """
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    C = int(labels.max()) + 1
    if C <= n_clusters:
        return labels
    sums = np.zeros((C, Xn.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, Xn)
    means = l2_normalize(sums)
    alive = np.ones(C, dtype=bool)
    owner = np.arange(C)

    def best_of(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = means[rows] @ means.T
        S[:, ~alive] = -np.inf
        S[np.arange(rows.size), rows] = -np.inf
        nb = S.argmax(1)
        return S[np.arange(rows.size), nb], nb

    best_sim = np.empty(C)
    best_nb = np.empty(C, dtype=np.int64)
    for s in range(0, C, 2048):
        rows = np.arange(s, min(s + 2048, C))
        best_sim[rows], best_nb[rows] = best_of(rows)
    for _ in range(C - n_clusters):
        a = int(np.argmax(np.where(alive, best_sim, -np.inf)))
        b = int(best_nb[a])
        sums[a] += sums[b]
        means[a] = sums[a] / max(np.linalg.norm(sums[a]), 1e-12)
        alive[b] = False
        owner[b] = a
        best_sim[b] = -np.inf
        sim_a = means @ means[a]
        # a cached partner that was a or b is stale; a higher similarity to the new a wins
        stale = alive & ((best_nb == a) | (best_nb == b))
        stale[a] = True
        better = alive & ~stale & (sim_a > best_sim)
        better[a] = False
        best_sim[better], best_nb[better] = sim_a[better], a
        rows = np.flatnonzero(stale)
        best_sim[rows], best_nb[rows] = best_of(rows)
    # follow merge chains to the surviving cluster
    while True:
        nxt = owner[owner]
        if np.array_equal(nxt, owner):
            break
        owner = nxt
    return owner[labels]


class Graclus(BaseClusterer):
    """Graclus (Dhillon, Guan & Kulis 2007): multilevel normalised-cut clustering.

    The similarity-weighted k-NN graph is coarsened by normalised heavy-edge matching (each
    unmatched node merges with the unmatched neighbour maximising e(x,y)/w(x) + e(x,y)/w(y))
    until at most ``coarsen_to`` nodes remain; the coarsest graph is split by spectral
    clustering; each finer level is refined by weighted kernel k-means, which monotonically
    improves the normalised cut. The kernel shift sigma of the paper is 0 here: batch moves
    are only accepted when the cut improves.

    Spectral clustering with hundreds of eigenvectors is what Graclus exists to avoid, so for
    ``n_clusters`` above :attr:`SPECTRAL_MAX_K` the graph is coarsened down to ``n_clusters``
    nodes and those become the initial clusters (a region-growing base, also in the paper's
    code). Default ``coarsen_to``: max(20, 5 * n_clusters) in the spectral case. When strict
    matching stalls, unmatched nodes join their best neighbour's pair so coarsening proceeds.

    {parameters}

    {attributes}
    n_levels_ : int
        Graphs of the multilevel hierarchy, the input graph included.
    ncut_ : float
        Normalised cut of the final partition on the k-NN graph.

    {example}
    """

    _example = "Graclus(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Number of clusters (at most the number of points)."),
        "n_neighbors": Param(10, [POSITIVE_INT], "int",
                             "Neighbours per point of the similarity-weighted k-NN graph."),
        "coarsen_to": Param(None, [POSITIVE_INT, None], "int or None",
                            "Coarsening stops at this many nodes or fewer (None: max(20, 5 * "
                            "n_clusters) up to :attr:`SPECTRAL_MAX_K` clusters, ``n_clusters`` "
                            "above); never below ``n_clusters``."),
        "refine_iter": Param(10, [NONNEG_INT], "int",
                             "Kernel k-means refinement passes per level at most (0: no "
                             "refinement)."),
        "random_state": Param(0, [NONNEG_INT], "int",
                              "Seed of the matching order and of the spectral split."),
    }
    _n_positional = 1

    SPECTRAL_MAX_K = 64

    uses_graph = True

    def _fit(self, X, graph):
        n = X.shape[0]
        k = _check_n_clusters(self.n_clusters, n)
        g = self._neighbors(X, graph, min(self.n_neighbors, n - 1))
        A = g.to_sparse("similarity", symmetric=True)
        A.data = np.maximum(A.data, 0.0)  # a cut weight cannot be negative
        A.eliminate_zeros()
        A = (A + sp.identity(n, format="csr") * 1e-8).tocsr()  # isolated nodes keep w > 0
        rng = np.random.default_rng(self.random_state)
        spectral = k <= self.SPECTRAL_MAX_K
        target = self.coarsen_to or (max(20, 5 * k) if spectral else k)
        target = max(target, k)

        graphs, maps = [A], []
        while graphs[-1].shape[0] > target:
            cur = graphs[-1].shape[0]
            match = heavy_edge_matching(graphs[-1], rng)
            if match.max() + 1 > 0.95 * cur:
                match = heavy_edge_matching(graphs[-1], rng, join_unmatched=True)
            m = int(match.max()) + 1
            if m > 0.95 * cur:
                break  # only isolated nodes are left to merge
            P = sp.csr_matrix((np.ones(match.size), (np.arange(match.size), match)),
                              shape=(match.size, m))
            graphs.append((P.T @ graphs[-1] @ P).tocsr())
            maps.append(match)

        coarse = graphs[-1]
        if coarse.shape[0] <= k or not spectral:
            labels = np.arange(coarse.shape[0])
        else:
            model = _SkSpectral(n_clusters=k, affinity="precomputed",
                                random_state=self.random_state, assign_labels="kmeans")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                labels = model.fit_predict(coarse)
        labels = kernel_kmeans_refine(coarse, labels, self.refine_iter)
        for level in range(len(maps) - 1, -1, -1):
            labels = labels[maps[level]]
            labels = kernel_kmeans_refine(graphs[level], labels, self.refine_iter)
        self.n_levels_ = len(graphs)
        self.ncut_ = normalized_cut(A, labels)
        return relabel(labels)


def heavy_edge_matching(A: sp.csr_matrix, rng: np.random.Generator,
                        join_unmatched: bool = False) -> np.ndarray:
    """Graclus' normalised heavy-edge matching: node -> coarse node id.

    With ``join_unmatched`` a node whose neighbours are all taken joins the group of its best
    neighbour instead of staying alone (groups may then exceed two nodes).
    """
    n = A.shape[0]
    w = np.asarray(A.sum(axis=1)).ravel()
    match = np.full(n, -1, dtype=np.int64)
    nxt = 0
    indptr, indices, data = A.indptr, A.indices, A.data
    for x in rng.permutation(n):
        if match[x] >= 0:
            continue
        nb = indices[indptr[x]:indptr[x + 1]]
        ew = data[indptr[x]:indptr[x + 1]]
        free = (match[nb] < 0) & (nb != x)
        if free.any():
            nb, ew = nb[free], ew[free]
            y = nb[np.argmax(ew / w[x] + ew / w[nb])]
            match[x] = match[y] = nxt
            nxt += 1
            continue
        others = nb != x
        if join_unmatched and others.any():
            nb, ew = nb[others], ew[others]
            match[x] = match[nb[np.argmax(ew / w[x] + ew / w[nb])]]
        else:
            match[x] = nxt
            nxt += 1
    return np.unique(match, return_inverse=True)[1]


def normalized_cut(A: sp.csr_matrix, labels: np.ndarray) -> float:
    """Sum over clusters of links(c, V \\ c) / degree(c)."""
    labels = np.unique(labels, return_inverse=True)[1]
    C = int(labels.max()) + 1
    Z = sp.csr_matrix((np.ones(labels.size), (np.arange(labels.size), labels)),
                      shape=(labels.size, C))
    within = np.asarray((Z.T @ A @ Z).diagonal()).ravel()
    deg = np.asarray(Z.T @ np.asarray(A.sum(axis=1)).ravel()).ravel()
    return float(np.sum(1.0 - within / np.maximum(deg, 1e-300)))


def kernel_kmeans_refine(A: sp.csr_matrix, labels: np.ndarray, n_iter: int) -> np.ndarray:
    """Weighted kernel k-means for the normalised cut (weights = degrees, sigma = 0).

    The distance of node i to cluster c, up to terms constant in c, is
    -2 links(i, c) / (w_i W_c) + links(c, c) / W_c^2; moves are taken in batch and kept only
    if the normalised cut decreases.
    """
    labels = np.unique(labels, return_inverse=True)[1]
    n = labels.size
    w = np.asarray(A.sum(axis=1)).ravel()
    best = normalized_cut(A, labels)
    for _ in range(n_iter):
        C = int(labels.max()) + 1
        Z = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, C))
        L = (A @ Z).tocoo()  # links(i, c) for clusters adjacent to i
        Wc = np.asarray(Z.T @ w).ravel()
        self_links = np.asarray((Z.T @ A @ Z).diagonal()).ravel()
        const = self_links / np.maximum(Wc, 1e-300) ** 2
        rows = np.concatenate([L.row, np.arange(n)])
        cols = np.concatenate([L.col, labels])
        links = np.concatenate([L.data, np.zeros(n)])
        score = -2 * links / (w[rows] * np.maximum(Wc[cols], 1e-300)) + const[cols]
        # rows appear several times for the own cluster; a min over duplicates is harmless
        order = np.lexsort((score, rows))
        first = np.ones(order.size, bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        new = np.empty(n, dtype=np.int64)
        new[rows[order][first]] = cols[order][first]
        new = np.unique(new, return_inverse=True)[1]
        cut = normalized_cut(A, new)
        if cut >= best - 1e-12:
            break
        labels, best = new, cut
    return labels
