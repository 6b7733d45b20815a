"""Cosine k-nearest-neighbour graphs through faiss.

A :class:`KNNGraph` is built once and can be handed to Hi-LANDER and to every baseline
(like pynndescent's reusable neighbour graph), so the costly search is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from .._validation import InputError, check_features, check_float, check_int, l2_normalize

#: Above this many points ``method="auto"`` switches from exact search to an IVF index.
EXACT_LIMIT = 30_000


@dataclass(frozen=True)
class KNNGraph:
    """Directed k-NN graph: row ``i`` lists the ``k`` most similar other points of point ``i``.

    ``indices[i, j]`` is the j-th neighbour (most similar first) and ``similarities[i, j]`` its
    cosine similarity. A point never lists itself; ``-1`` pads rows of an approximate search that
    found fewer than ``k`` neighbours.
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

        With N(i) = {i} plus i's neighbour list, edge i -> j gets
        J = |N(i) & N(j)| / |N(i) | N(j)| (1 when both lists agree, near 0 when an edge is a
        chance hit between unrelated neighbourhoods, the noise Ada-NETS and NSR-FC remove).
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
    method = knn_method_for(n, method, exact_limit)
    Xn = l2_normalize(X, copy=False) if normalize else X  # faiss copies what it indexes
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
