"""Cosine k-nearest-neighbour graphs through faiss.

A :class:`KNNGraph` is built once and can be handed to Hi-LANDER and to every baseline
(like pynndescent's reusable neighbour graph), so the costly search is never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .._validation import (
    InputError,
    check_features,
    check_float,
    check_int,
    l2_normalize,
    release_pages,
)

#: Above this many points ``method="auto"`` switches from exact search to an IVF index.
EXACT_LIMIT = 30_000


@dataclass(frozen=True)
class KNNGraph:
    """Directed k-NN graph: row ``i`` lists the ``k`` most similar other points of point ``i``.

    ``indices[i, j]`` is the j-th neighbour (most similar first) and ``similarities[i, j]`` its
    cosine similarity. A point never lists itself; ``-1`` pads rows of an approximate search that
    found fewer than ``k`` neighbours. Exact copies of a row list one another at similarity 1
    (zero rows too) and otherwise the nearest distinct values, once each (see
    :func:`spread_duplicates`).
    """

    indices: np.ndarray
    similarities: np.ndarray
    method: str = "exact"

    @property
    def n_nodes(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def distances(self) -> np.ndarray:
        """Cosine distances ``1 - similarity``."""
        return 1.0 - self.similarities

    def restrict(self, k: int) -> KNNGraph:
        """The same graph with only each point's ``k`` nearest neighbours (no new search)."""
        check_int(k, "k", low=1, high=self.k)
        return KNNGraph(self.indices[:, :k].copy(), self.similarities[:, :k].copy(), self.method)

    def jaccard(self, blend: float = 1.0, chunk: int = 8192) -> KNNGraph:
        """Shared-neighbour re-weighting: the same edges, scored by neighbourhood overlap.

        With ``N(i)`` = ``{i}`` plus i's neighbour list, edge i -> j gets
        ``J = |N(i) & N(j)| / |N(i) | N(j)|`` (1 when both lists agree, near 0 when an edge is
        a chance hit between unrelated neighbourhoods, the noise Ada-NETS and NSR-FC remove).
        The new similarity is ``(1 - blend) * cosine + blend * J``; rows are re-sorted so the
        most similar neighbour still comes first (``-1`` padding stays last, at similarity 0).
        """
        blend = check_float(blend, "blend", low=0.0, high=1.0)
        n, k = self.indices.shape
        L = np.concatenate([np.arange(n, dtype=np.int64)[:, None], self.indices], axis=1)
        valid = L >= 0
        sizes = valid.sum(1)
        keys = np.sort((np.arange(n, dtype=np.int64)[:, None] * n + L)[valid])
        jac = np.zeros((n, k), dtype=np.float64)
        for s in range(0, n, chunk):
            e = min(s + chunk, n)
            nb = self.indices[s:e]  # (b, k)
            ok = nb >= 0
            rows, cols = np.nonzero(ok)
            j = nb[rows, cols]
            members = L[s + rows]  # N(i) of each edge, (m, k+1)
            q = j[:, None] * n + members
            pos = np.minimum(np.searchsorted(keys, q), keys.size - 1)
            inter = ((keys[pos] == q) & (members >= 0)).sum(1)
            union = sizes[s + rows] + sizes[j] - inter
            jac[s + rows, cols] = inter / union
        sims = (1.0 - blend) * self.similarities.astype(np.float64) + blend * jac
        sims = np.where(self.indices >= 0, sims, -np.inf)
        order = np.argsort(-sims, axis=1, kind="stable")
        ids = np.take_along_axis(self.indices, order, axis=1)
        sims = np.take_along_axis(sims, order, axis=1)
        sims[ids < 0] = 0.0
        return KNNGraph(ids, sims.astype(np.float32), self.method)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(src, dst, similarity)`` of every valid edge, src-major, nearest first."""
        valid = self.indices >= 0
        src = np.broadcast_to(np.arange(self.n_nodes)[:, None], self.indices.shape)[valid]
        return src.astype(np.int64), self.indices[valid].astype(np.int64), self.similarities[valid]

    def to_sparse(self, weight: str = "similarity", symmetric: bool = False) -> sp.csr_matrix:
        """Adjacency as CSR with ``weight`` in {"similarity", "distance", "binary"}."""
        src, dst, sim = self.edges()
        if weight == "similarity":
            w = sim.astype(np.float64)
        elif weight == "distance":
            # keep explicit zeros distinguishable from missing edges in sparse form
            w = np.maximum(1.0 - sim.astype(np.float64), 1e-12)
        elif weight == "binary":
            w = np.ones_like(sim, dtype=np.float64)
        else:
            raise InputError(f"weight must be similarity, distance or binary, got {weight!r}")
        n = self.n_nodes
        A = sp.csr_matrix((w, (src, dst)), shape=(n, n))
        if symmetric:
            A = A.maximum(A.T).tocsr()
        return A

    def check_matches(self, X: np.ndarray, name: str = "X") -> None:
        if X.shape[0] != self.n_nodes:
            raise InputError(
                f"the k-NN graph has {self.n_nodes} nodes but {name} has {X.shape[0]} rows"
            )

    def save(self, path: str | Path) -> None:
        from ..io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, indices=self.indices, similarities=self.similarities,
                         method=np.array(self.method))

    @classmethod
    def load(cls, path: str | Path) -> KNNGraph:
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["indices"], z["similarities"], str(z["method"]))
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"{path} is not a hilander k-NN graph file: {exc}") from None


def drop_self(ids: np.ndarray, sims: np.ndarray, rows: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row's own id from a (n, k+1) self-search result, keeping k columns.

    ``rows`` are the global ids of the queried rows. Every index of :func:`make_index`
    returns the query itself among its hits; searching k+1 and dropping it gives k
    neighbours.
    """
    is_self = ids == rows[:, None]
    # rows where self was not returned (exact duplicates can outrank it): drop the last column
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    # a row can list itself only once, so exactly one True per row remains
    first = is_self.argmax(axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(len(rows)), first] = False
    return ids[keep].reshape(len(rows), k), sims[keep].reshape(len(rows), k)


def build_knn_graph(
    X,
    k: int = 10,
    *,
    normalize: bool = True,
    method: str = "auto",
    exact_limit: int = EXACT_LIMIT,
    chunk_size: int = 8192,
    nlist: int | None = None,
    nprobe: int | None = None,
    hnsw_m: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> KNNGraph:
    """Build the cosine k-NN graph of ``X``.

    Parameters
    ----------
    X : (n, d) array of embeddings.
    k : neighbours per point, excluding the point itself; needs ``n > k``.
    normalize : l2-normalise rows first so inner product equals cosine similarity.
    method : "exact" (flat index), "ivf" (inverted file searched list by list, see
        :mod:`hilander.graph.ivf`), "hnsw", or "auto": exact up to ``exact_limit`` points, ivf
        above (an exact search of 1M points takes hours on 2 cores; ivf about a minute at
        recall@10 0.97, benchmarks/knn_index.py).
    chunk_size : queries per search call, bounding the temporary result memory.
    nlist, nprobe : IVF lists (None: about 2 sqrt(n)) and lists visited per point (None: enough
        for about 2,048 candidates; 16 for the hnsw/ivf indexes of new points).
    """
    X = check_features(X, name="X")
    k = check_int(k, "k", low=1)
    n, d = X.shape
    if n <= k:
        raise InputError(f"X has {n} rows; a k-NN graph with k={k} needs at least {k + 1}")
    if method not in ("auto", "exact", "ivf", "hnsw"):
        raise InputError(f"method must be auto, exact, ivf or hnsw, got {method!r}")
    Xn = l2_normalize(X, copy=False) if normalize else X  # faiss copies what it indexes
    search = dict(method=method, exact_limit=exact_limit, chunk_size=chunk_size, nlist=nlist,
                  nprobe=nprobe, hnsw_m=hnsw_m, seed=seed, progress=progress)
    return search_distinct(Xn, k, lambda rows, kk: _search(rows, kk, **search))


def search_distinct(Xn: np.ndarray, k: int,
                    search: Callable[[np.ndarray, int], KNNGraph]) -> KNNGraph:
    """The k-NN graph of ``Xn`` with ``search(rows, k)`` run on its distinct rows only.

    A row repeated more than k times would fill its own list with its copies and cut the
    copies off from every other point (15 copies of a test set: Infomap's F 0.19 -> 0.007).
    Here ``search`` sees each value once; each copy then links to the next copy and to its
    value's neighbours (:func:`spread_duplicates`), so every method sees one tight group.
    Any backend that builds level-1 graphs (the Ray shards) must go through this too, or its
    graph differs from :func:`build_knn_graph`'s on data with copies.
    """
    groups = duplicate_groups(Xn)
    if groups is None:  # every row distinct: the common case, one hashing pass
        return search(Xn, k)
    first, inverse = groups
    m = first.size
    if m > 1:
        distinct = search(np.ascontiguousarray(Xn[first]), min(k, m - 1))
        ids_u, sims_u, used = distinct.indices, distinct.similarities, distinct.method
    else:
        ids_u, sims_u, used = np.zeros((1, 0), np.int64), np.zeros((1, 0), np.float32), "exact"
    return KNNGraph(*spread_duplicates(Xn, ids_u, sims_u, first, inverse, k), used)


def _search(Xn: np.ndarray, k: int, *, method: str, exact_limit: int, chunk_size: int,
            nlist: int | None, nprobe: int | None, hnsw_m: int, seed: int,
            progress: bool) -> KNNGraph:
    """The k-NN graph of the l2-normalised rows ``Xn`` as faiss finds it."""
    n = Xn.shape[0]
    method = knn_method_for(n, method, exact_limit)
    if method == "ivf":
        from .ivf import ivf_self_knn

        found_ids, found_sims = ivf_self_knn(Xn, k, nlist=nlist, nprobe=nprobe, seed=seed,
                                             progress=progress)
        # padding already has similarity 0 (ivf_self_knn), and dropping self keeps it so
        return KNNGraph(*drop_self(found_ids, found_sims, np.arange(n), k), method)
    index = make_index(Xn, method, nprobe=16 if nprobe is None else nprobe, hnsw_m=hnsw_m,
                        seed=seed)

    ids = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    starts = range(0, n, chunk_size)
    for s in tqdm(starts, desc=f"k-NN ({method})", disable=not progress, leave=False):
        e = min(s + chunk_size, n)
        found_sims, found_ids = index.search(Xn[s:e], k + 1)
        ids[s:e], sims[s:e] = drop_self(found_ids, found_sims, np.arange(s, e), k)
    sims[ids < 0] = 0.0
    return KNNGraph(ids, sims, method)


def duplicate_groups(Xn: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact duplicate rows of ``Xn``: ``(first, inverse)``, or None when all rows differ.

    ``first[u]`` is the lowest index of the u-th distinct row (ascending), ``inverse[i]`` the
    distinct row of row ``i``. One hashing pass in row blocks (no n x d temporary, so a
    memory-mapped file is fine); only rows whose hashes collide are compared exactly.
    """
    n, d = Xn.shape
    if n < 2:
        return None
    mult = np.random.default_rng(0).integers(1, 2**63, size=d, dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(n, dtype=np.uint64)
    step = max(1, (1 << 22) // d)
    for s in range(0, n, step):
        words = _canonical_bits(Xn[s:s + step])
        # a wrapping multiply-add hash of the row's bits
        hashes[s:s + step] = (words.astype(np.uint64) * mult).sum(axis=1, dtype=np.uint64)
        release_pages(Xn)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same_next = ordered[1:] == ordered[:-1]
    if not same_next.any():
        return None
    collide = np.zeros(n, dtype=bool)
    collide[1:] |= same_next
    collide[:-1] |= same_next
    cand = np.sort(order[collide])
    # exact comparison of the candidates' bits; np.unique keeps each value's first index
    rows = np.ascontiguousarray(_canonical_bits(Xn[cand]))
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * d))).ravel()
    _, first_c, inv_c = np.unique(keys, return_index=True, return_inverse=True)
    rep = np.arange(n)
    rep[cand] = cand[first_c[inv_c.ravel()]]
    first = np.flatnonzero(rep == np.arange(n))
    if first.size == n:
        return None  # hash collisions of distinct rows only
    return first, np.searchsorted(first, rep)


def _canonical_bits(block: np.ndarray) -> np.ndarray:
    """The rows' bits as unsigned integers, with -0.0 read as 0.0 (equal values, equal bits)."""
    block = np.ascontiguousarray(block) + block.dtype.type(0)
    return block.view(np.dtype(f"u{block.dtype.itemsize}"))


def spread_duplicates(Xn: np.ndarray, ids_u: np.ndarray, sims_u: np.ndarray,
                      first: np.ndarray, inverse: np.ndarray,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists of all rows from those of the distinct rows (see duplicate_groups).

    A row whose value occurs s > 1 times lists the next of its copies (in a ring, so the s
    copies hang together) and then its distinct row's nearest other values, each once, by
    its first copy; a row that occurs once lists those alone. Only when there are fewer
    distinct values than k do further copies fill the lists. Rows stay sorted, most similar
    first.
    """
    n, m = inverse.size, first.size
    counts = np.bincount(inverse, minlength=m)
    order = np.argsort(inverse, kind="stable")  # rows grouped by value, in index order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n) - starts[inverse[order]]
    size = counts[inverse]
    ring_next = order[starts[inverse] + (pos + 1) % size]
    valid_u = ids_u >= 0
    mapped = np.where(valid_u, first[np.where(valid_u, ids_u, 0)], -1)
    rows_ids, rows_sims = mapped[inverse], sims_u[inverse]
    dup = np.flatnonzero(size > 1)
    # identical rows are as similar as rows get, zero rows (no direction) included
    self_sims = np.ones(dup.size, dtype=np.float32)
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.zeros((n, k), dtype=np.float32)
    width = min(k, rows_ids.shape[1])
    ids[:, :width], sims[:, :width] = rows_ids[:, :width], rows_sims[:, :width]
    # copies: the next copy first, then the distinct neighbours (one column fewer)
    ids[dup, 0], sims[dup, 0] = ring_next[dup], self_sims
    ids[dup, 1:width + 1] = rows_ids[dup, :min(width, k - 1)]
    sims[dup, 1:width + 1] = rows_sims[dup, :min(width, k - 1)]
    if m - 1 < k:
        _fill_short_rows(ids, sims, Xn, mapped, sims_u, first, inverse, order, starts, pos)
    # keep rows most-similar-first (a computed self-similarity may sit a hair below 1)
    rows = dup if m - 1 >= k else np.arange(n)
    if rows.size:
        key = np.where(ids[rows] >= 0, -sims[rows].astype(np.float64), np.inf)
        o = np.argsort(key, axis=1, kind="stable")
        ids[rows] = np.take_along_axis(ids[rows], o, axis=1)
        sims[rows] = np.take_along_axis(sims[rows], o, axis=1)
    return ids, sims


def _fill_short_rows(ids, sims, Xn, mapped, sims_u, first, inverse, order, starts, pos):
    """Fewer distinct values than k: fill each list's empty places with further copies, its
    own first (in ring order), then those of its nearest values. There are at most k values,
    so the loop is short."""
    n, k = ids.shape
    counts = np.bincount(inverse, minlength=first.size)
    for u in range(first.size):
        rows = order[starts[u]:starts[u] + counts[u]]
        s = rows.size
        used = int(s > 1) + int((mapped[u] >= 0).sum())
        free = k - used
        if free <= 0:
            continue
        own = rows[(pos[rows][:, None] + 2 + np.arange(max(0, min(s - 2, free)))) % s]
        self_sim = 1.0
        others, other_sims = [], []
        for v_first, sim in zip(mapped[u], sims_u[u]):
            if v_first < 0:
                continue
            v = inverse[v_first]
            copies = order[starts[v] + 1:starts[v] + counts[v]]  # all but its first
            others.append(copies[:free])
            other_sims.append(np.full(min(copies.size, free), sim, dtype=np.float32))
        extra = np.concatenate(others) if others else np.zeros(0, np.int64)
        extra_sims = np.concatenate(other_sims) if other_sims else np.zeros(0, np.float32)
        fill = np.concatenate([own, np.broadcast_to(extra, (s, extra.size))], axis=1)[:, :free]
        fill_sims = np.concatenate([np.full(own.shape, self_sim, np.float32),
                                    np.broadcast_to(extra_sims, (s, extra.size))],
                                   axis=1)[:, :free]
        ids[rows, used:used + fill.shape[1]] = fill
        sims[rows, used:used + fill.shape[1]] = fill_sims


def make_index(Xn: np.ndarray, method: str = "exact", *, nprobe: int = 16, hnsw_m: int = 32,
               seed: int = 0):
    """A faiss inner-product index over the l2-normalised rows ``Xn``.

    ``method`` is "exact" (flat), "hnsw" or "ivf" (faiss IVF-flat, ``nprobe`` lists per
    query); resolve "auto" with :func:`knn_method_for` first. Incremental assignment and the
    Ray shards build their indexes here, so they search as :func:`build_knn_graph` does.
    """
    n, d = Xn.shape
    if method == "exact":
        index = faiss.IndexFlatIP(d)
    elif method == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = 64
    else:
        nlist = int(max(1, min(4 * np.sqrt(n), n // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = Xn[rng.choice(n, size=min(n, 64 * nlist), replace=False)]
        index.cp.seed = seed
        index.train(sample)
        index.nprobe = min(nprobe, nlist)
    index.add(Xn)
    return index


def knn_method_for(n: int, method: str = "auto", exact_limit: int = EXACT_LIMIT) -> str:
    """The index :func:`build_knn_graph` uses for ``n`` points (resolves ``"auto"``); also for
    code that builds its own indexes with :func:`make_index` (assign, the Ray shards)."""
    if method == "auto":
        return "exact" if n <= exact_limit else "ivf"
    return method
