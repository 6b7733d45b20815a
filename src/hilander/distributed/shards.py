"""The k-NN side of the Ray backend: shard layout, the shard actor and the merge of its hits.

Kept apart from :mod:`.ray_backend` so that a shard actor imports numpy and faiss only, not
torch: actors are fresh processes, and their start-up is part of every sharded search.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..graph import make_index


def shard_bounds(n: int, n_shards: int, align: int = 1) -> list[tuple[int, int]]:
    """``n_shards`` contiguous row ranges of about equal size, each starting at a multiple of
    ``align`` (fewer when ``n`` is too small for that many)."""
    align = max(1, int(align))
    cuts = [0]
    for i in range(1, n_shards):
        cut = int(round(i * n / n_shards / align)) * align
        if cuts[-1] < cut < n:
            cuts.append(cut)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def database_block() -> int:
    # faiss's exact search walks the database in blocks of this many rows; shards that start on
    # a block boundary hand BLAS the same blocks as one index of all rows, hence the same sums
    import faiss

    return int(faiss.cvar.distance_compute_blas_database_bs)


def merge_shard_hits(parts: list[tuple[np.ndarray, np.ndarray]],
                     K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``K`` of the shards' hits per query row, in faiss's output order.

    ``parts`` holds per shard ``(sims, global ids)`` of shape (m, K + 1). Returns (sims (m, K),
    ids (m, K), ambiguous (m,)): rows sort by descending similarity, equal similarities by
    descending id, as faiss's inner-product heap emits them. A row is ambiguous when the
    (K+1)-th best ties with the K-th: which of the tied ids faiss keeps then depends on the
    order it met them (see :func:`faiss_tie_selection`).
    """
    sims = np.concatenate([p[0] for p in parts], axis=1)
    ids = np.concatenate([p[1] for p in parts], axis=1)
    # padding (-1) comes back with faiss's lowest float, so it sorts last by itself
    order = np.lexsort((-ids, -sims), axis=1)
    sims = np.take_along_axis(sims, order, axis=1)
    ids = np.take_along_axis(ids, order, axis=1)
    if sims.shape[1] > K:
        ambiguous = (sims[:, K] == sims[:, K - 1]) & (ids[:, K] >= 0)
    else:
        ambiguous = np.zeros(len(sims), dtype=bool)
    return sims[:, :K], ids[:, :K], ambiguous


def faiss_tie_selection(ids: np.ndarray, sims: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``K`` hits faiss's exact inner-product search returns for one query, given every
    database row whose similarity is at least the K-th largest ``t``.

    faiss scans the database in id order with a min-heap of size K keyed by (similarity, id)
    and admits a row only if it beats the heap's minimum strictly. So a row tied at ``t`` is
    admitted only while fewer than K rows >= t came before it (the first K of them by id), and
    each later better row evicts the smallest admitted tied id. What remains: every row above
    ``t`` plus the largest ids among the admitted tied ones. Output order as in
    :func:`merge_shard_hits`.
    """
    order = np.argsort(ids, kind="stable")
    ids, sims = ids[order], sims[order]
    t = np.sort(sims)[::-1][K - 1]
    above = sims > t
    admitted = np.flatnonzero(~above & (np.arange(len(ids)) < K))
    keep = np.concatenate([np.flatnonzero(above), admitted[len(admitted) - (K - above.sum()):]])
    ids, sims = ids[keep], sims[keep]
    out = np.lexsort((-ids, -sims))
    return ids[out], sims[out]


class KnnShard:
    """A Ray actor: the faiss index of rows ``start:stop`` of ``X``, searched for any rows.

    ``X`` comes from the object store (shared memory on the actor's node); the index holds its
    own copy of the shard's rows, as faiss indexes do. faiss searches with ``threads`` OpenMP
    threads: its BLAS splits the inner products by thread count, so the last bit of a
    similarity depends on it, and matching the driver's count gives the driver's numbers.
    """

    def __init__(self, X: np.ndarray, start: int, stop: int, method: str, seed: int,
                 threads: int) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        t0 = time.perf_counter()
        self.X, self.start, self.stop = X, start, stop
        self.index = make_index(X[start:stop], method, nprobe=16, hnsw_m=32, seed=seed)
        self.build_seconds = time.perf_counter() - t0
        self.search_seconds = 0.0
        self.query_rows = 0
        self.bytes_out = 0

    def search(self, start: int, stop: int, kk: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``kk`` of this shard for query rows ``start:stop``, as global ids (-1: none)."""
        t0 = time.perf_counter()
        sims, ids = self.index.search(self.X[start:stop], kk)
        ids = np.where(ids >= 0, ids + self.start, -1)
        self.search_seconds += time.perf_counter() - t0
        self.query_rows += stop - start
        self.bytes_out += sims.nbytes + ids.nbytes
        return sims, ids

    def at_least(self, start: int, stop: int, rows: np.ndarray, thresholds: np.ndarray,
                 kk: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For the query ``rows`` (global, inside ``start:stop``), every shard row with
        similarity >= the row's threshold, as (global ids, sims).

        The whole chunk ``start:stop`` is searched again, with ``kk`` doubled until the last
        hit of every asked row falls below its threshold, so the similarities are the very
        numbers of the first search (same query blocks).
        """
        t0 = time.perf_counter()
        size = self.stop - self.start
        local = np.asarray(rows) - start
        while True:
            kk = min(kk, size)
            sims, ids = self.index.search(self.X[start:stop], kk)
            if kk >= size or (sims[local, -1] < thresholds).all():
                break
            kk *= 2
        self.search_seconds += time.perf_counter() - t0
        out = []
        for r, t in zip(local, thresholds):
            hit = (sims[r] >= t) & (ids[r] >= 0)
            out.append((ids[r][hit] + self.start, sims[r][hit]))
        return out

    def stats(self) -> dict[str, Any]:
        import faiss

        rows = self.stop - self.start
        d = self.X.shape[1]
        return {
            "rows": int(rows), "start": int(self.start),
            "index_bytes": int(faiss.serialize_index(self.index).nbytes),
            "build_seconds": self.build_seconds, "search_seconds": self.search_seconds,
            # its rows for the index plus every query row (shared memory on one node)
            "bytes_in": int((rows + self.query_rows) * d * self.X.itemsize),
            "bytes_out": int(self.bytes_out),
        }
