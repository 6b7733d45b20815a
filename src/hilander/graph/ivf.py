"""All-points k-NN through an inverted file searched list by list (an IVF self-join).

A k-NN *graph* asks every point for its neighbours among the same points. faiss's IVF search
scans the probed lists query by query with vector-at-a-time kernels; turning the loop around
(every list against the queries that probe it, one BLAS product per list, as faiss's
``contrib.big_batch_search`` does) does the same arithmetic several times faster. Here the
points themselves are stored once, sorted by list, so the same copy serves as base and queries;
above :data:`FP16_ABOVE_BYTES` it is stored in float16 (cosines off by < 1e-4, half the memory).

Seconds and recall@10 at 100k, 1M and 10M points, against faiss's own IVF search and an exact
one, are in ``benchmarks/results/knn_index.md`` (``python benchmarks/knn_index.py``) and the
README's "Large data" section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np
from tqdm.auto import tqdm

from .._validation import release_pages

#: Stored points above this size (float32 bytes) are kept in float16.
FP16_ABOVE_BYTES = 4 << 30
#: More lists than this are trained and assigned in two levels (:class:`TwoLevelQuantizer`):
#: flat k-means costs 32 L^2 d per iteration (13 minutes at 19,531 lists) and a flat
#: assignment n L d (27 minutes at ten million points); an HNSW graph over the centroids
#: still took over 10 minutes to assign ten million points.
TWO_LEVEL_ABOVE = 4096
#: Coarse cells whose fine lists each point is compared with (two-level lists).
CELL_PROBES = 16


# Why these defaults (benchmarks/results/knn_index.md, synthetic 256-D points, 2 cores): at 1M,
# 2,000 lists and 8 probes gave recall@10 0.969 (9 probes: 0.972 in 60 s, where faiss's
# IndexIVFFlat.search with 4,000 lists and 16 probes took 323 s and an exact search is estimated
# at 14,790 s); at 10M, 19,531 two-level lists and 8 probes took 664 s (347 s planning, 317 s
# searching) for recall@10 0.908. Recall follows the number of points scanned: at 50k points
# 8 probes of 112-point lists gave recall@10 0.917; at 100k 13 probes of 632 lists gave 0.987
# in 17 s (26 probes: 0.994 in 25 s); at 1M 4 probes of 2,000 lists gave 0.933.
def default_nlist(n: int) -> int:
    """About 2 sqrt(n) lists (2,000 at 1M: 500 points per list keeps each product BLAS-sized
    and lets the floor of 8 probes keep a high recall), and lists of at most about 512 points
    above that (19,531 at 10M), so that the floor of 8 probes does not scan ever longer
    lists: 2 sqrt(n) would scan 12,650 candidates per point at 10M instead of 4,096."""
    return int(max(1, min(max(2 * math.sqrt(n), n / 512), n // 64)))


#: Candidates scanned per point when nprobe is not given.
CANDIDATES = 2048


def default_nprobe(n: int, nlist: int) -> int:
    """Enough lists for about :data:`CANDIDATES` candidates per point, and at least 8.

    Recall follows the number of points scanned (the measurements are in the comment above
    :func:`default_nlist` and in ``benchmarks/results/knn_index.md``); at 1M the floor of 8
    probes of 2,000 lists scans 4,000 points."""
    return int(max(8, math.ceil(CANDIDATES * nlist / n)))


@dataclass
class IVFPlan:
    """Points sorted into lists, and which points probe each list: everything a search of a
    range of lists needs (the Ray backend sends ranges of lists to workers)."""

    store: np.ndarray       # (n, d) unit rows, sorted by list (float16 or float32)
    order: np.ndarray       # store row -> input row
    where: np.ndarray       # input row -> store row
    lims: np.ndarray        # list l holds store rows lims[l]:lims[l+1]
    queries: np.ndarray     # input rows probing each list, grouped by list
    q_lims: np.ndarray      # list l is probed by queries[q_lims[l]:q_lims[l+1]]
    nprobe: int

    @property
    def nlist(self) -> int:
        return len(self.lims) - 1


def plan_ivf(
    X: np.ndarray, *, nlist: int | None = None, nprobe: int | None = None, seed: int = 0,
    chunk: int = 65536, fp16: bool | None = None, bar: tqdm | None = None,
) -> IVFPlan:
    """Train the lists on a sample of unit-norm ``X`` and sort every point into them.

    ``X`` may be a read-only memory map: it is read in row chunks.
    """
    n, d = X.shape
    nlist = default_nlist(n) if nlist is None else int(min(nlist, n))
    nprobe = int(min(default_nprobe(n, nlist) if nprobe is None else nprobe, nlist))
    rng = np.random.default_rng(seed)
    # k-means on a sample: 32 points per list and 10 iterations settle the lists well enough
    sample = np.sort(rng.choice(n, size=min(n, 32 * nlist), replace=False))
    quantizer = _quantizer(np.ascontiguousarray(X[sample], dtype=np.float32), nlist, seed)
    nlist = quantizer.ntotal  # two-level lists round each cell's share
    nprobe = min(nprobe, nlist)

    assign = np.empty((n, nprobe), dtype=np.int64)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        _, assign[s:e] = quantizer.search(np.ascontiguousarray(X[s:e], dtype=np.float32),
                                          nprobe)
        release_pages(X)
        if bar is not None:
            bar.update(e - s)
    home = assign[:, 0]
    order = np.argsort(home, kind="stable")
    lims = np.concatenate([[0], np.cumsum(np.bincount(home, minlength=nlist))])
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    if fp16 is None:
        fp16 = n * d * 4 > FP16_ABOVE_BYTES
    store = np.empty((n, d), dtype=np.float16 if fp16 else np.float32)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        store[where[s:e]] = X[s:e]
        release_pages(X)
    queries, q_lims = _group_by_list(assign, nlist)
    return IVFPlan(store, order, where, lims, queries, q_lims, nprobe)


def _group_by_list(assign: np.ndarray, nlist: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of an (n, probes) list assignment grouped by list: list ``l`` is probed by
    rows ``rows[lims[l]:lims[l+1]]``, in row order."""
    flat = assign.ravel()
    rows = np.argsort(flat, kind="stable") // assign.shape[1]  # (row, probe) position -> row
    lims = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=nlist))])
    return rows, lims


def search_lists(plan: IVFPlan, k: int, first: int = 0, last: int | None = None,
                 bar: tqdm | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` hits of every point among the lists ``first:last`` it probes, as
    (similarities, input ids) of shape (n, k), most similar first, -1 where none."""
    last = plan.nlist if last is None else last
    n = plan.store.shape[0]
    heap = faiss.ResultHeap(n, k, keep_max=True)
    for lst in range(first, last):
        qs = plan.queries[plan.q_lims[lst]:plan.q_lims[lst + 1]]
        b0, b1 = plan.lims[lst], plan.lims[lst + 1]
        if qs.size and b1 > b0:
            base = np.ascontiguousarray(plan.store[b0:b1], dtype=np.float32)
            xq = np.ascontiguousarray(plan.store[plan.where[qs]], dtype=np.float32)
            dist, pos = faiss.knn(xq, base, int(min(k, b1 - b0)),
                                  metric=faiss.METRIC_INNER_PRODUCT)
            # ids in ``store`` order -> input rows; the heap keeps the best k over all lists
            heap.add_result_subset(qs, np.ascontiguousarray(dist),
                                   np.ascontiguousarray(plan.order[b0 + pos]))
        if bar is not None:
            bar.update(qs.size // plan.nprobe)
    heap.finalize()
    return heap.D, heap.I


def merge_hits(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Merge the (similarities, ids) of several :func:`search_lists` calls into the best k."""
    n = parts[0][0].shape[0]
    heap = faiss.ResultHeap(n, k, keep_max=True)
    rows = np.arange(n, dtype=np.int64)
    for dist, ids in parts:
        heap.add_result_subset(rows, np.ascontiguousarray(dist), np.ascontiguousarray(ids))
    heap.finalize()
    return heap.D, heap.I


def ivf_self_knn(
    X: np.ndarray, k: int, *, nlist: int | None = None, nprobe: int | None = None, seed: int = 0,
    chunk: int = 65536, fp16: bool | None = None, progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate (k+1)-NN of every row of unit-norm ``X`` among all rows (self included).

    Returns (ids (n, k+1) int64, similarities (n, k+1) float32), most similar first, ``-1``
    where fewer were found. ``X`` may be a read-only memory map: it is read in row chunks.
    """
    n = X.shape[0]
    with tqdm(total=2 * n, desc="k-NN (ivf)", unit="pt", disable=not progress,
              leave=False) as bar:
        plan = plan_ivf(X, nlist=nlist, nprobe=nprobe, seed=seed, chunk=chunk, fp16=fp16,
                        bar=bar)
        sims, ids = search_lists(plan, k + 1, bar=bar)
    sims[ids < 0] = 0.0
    return ids, sims.astype(np.float32, copy=False)


def _quantizer(xt: np.ndarray, nlist: int, seed: int):
    """An index over ``nlist`` spherical k-means centroids of the training sample ``xt``,
    whose ``search(x, nprobe)`` gives each row's nearest lists."""
    if nlist > TWO_LEVEL_ABOVE:
        return TwoLevelQuantizer(xt, nlist, seed)
    km = faiss.Kmeans(xt.shape[1], nlist, niter=10, seed=seed, spherical=True, verbose=False,
                      max_points_per_centroid=10**9)
    km.train(xt)
    index = faiss.IndexFlatIP(xt.shape[1])
    index.add(km.centroids)
    return index


class TwoLevelQuantizer:
    """Lists trained and searched in two levels, for many lists.

    About sqrt(L) coarse cells are trained first; each is split into fine lists in proportion
    to its share of the sample. A point is compared with the coarse centroids, then with the
    fine lists of its ``cell_probes`` nearest cells, one BLAS product per cell against the
    points that probe it: about ``cell_probes`` sqrt(L) products per point instead of L.
    """

    def __init__(self, xt: np.ndarray, nlist: int, seed: int,
                 cell_probes: int | None = None) -> None:
        d = xt.shape[1]
        n_cells = int(max(1, round(math.sqrt(nlist))))
        km = faiss.Kmeans(d, n_cells, niter=10, seed=seed, spherical=True, verbose=False,
                          max_points_per_centroid=2000)
        km.train(xt)
        self.coarse = km.centroids
        self.cell_probes = int(min(CELL_PROBES if cell_probes is None else cell_probes, n_cells))
        _, cell = faiss.knn(xt, self.coarse, 1, metric=faiss.METRIC_INNER_PRODUCT)
        cell = cell[:, 0]
        counts = np.bincount(cell, minlength=n_cells)
        # fine lists per cell in proportion to its share, one at least, never more than points
        per_cell = np.minimum(counts, np.maximum(counts > 0,
                                                 np.round(counts * nlist / counts.sum())))
        fine = []
        for c in range(n_cells):
            pts = xt[cell == c]
            if per_cell[c] == 1:
                centre = pts.mean(axis=0, keepdims=True)
                fine.append(centre / max(float(np.linalg.norm(centre)), 1e-12))
            elif per_cell[c] > 1:
                sub = faiss.Kmeans(d, int(per_cell[c]), niter=10, seed=seed, spherical=True,
                                   verbose=False, min_points_per_centroid=1)
                sub.train(np.ascontiguousarray(pts))
                fine.append(sub.centroids)
        self.centroids = np.ascontiguousarray(np.concatenate(fine), dtype=np.float32)
        # cell c owns the fine lists bounds[c]:bounds[c+1]
        self.bounds = np.concatenate([[0], np.cumsum(per_cell)]).astype(np.int64)

    @property
    def ntotal(self) -> int:
        return len(self.centroids)

    def search(self, x: np.ndarray, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, list ids) of the ``nprobe`` nearest fine lists of each row."""
        _, cells = faiss.knn(x, self.coarse, self.cell_probes, metric=faiss.METRIC_INNER_PRODUCT)
        heap = faiss.ResultHeap(len(x), nprobe, keep_max=True)
        by_cell, lims = _group_by_list(cells, len(self.coarse))
        for c in range(len(self.coarse)):
            rows = by_cell[lims[c]:lims[c + 1]]
            b0, b1 = self.bounds[c], self.bounds[c + 1]
            if rows.size and b1 > b0:
                dist, pos = faiss.knn(x[rows], self.centroids[b0:b1], int(min(nprobe, b1 - b0)),
                                      metric=faiss.METRIC_INNER_PRODUCT)
                heap.add_result_subset(rows, np.ascontiguousarray(dist),
                                       np.ascontiguousarray(pos + b0))
        heap.finalize()
        short = np.flatnonzero((heap.I < 0).any(axis=1))
        if short.size:  # fewer lists than nprobe in reach (tiny cells): compare with all
            heap.D[short], heap.I[short] = faiss.knn(x[short], self.centroids, nprobe,
                                                     metric=faiss.METRIC_INNER_PRODUCT)
        return heap.D, heap.I
