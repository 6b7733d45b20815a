"""Average and complete linkage on the edges of a sparse graph (no n x n matrix).

The HAC baseline (:class:`hilander.methods.HAC`) and Hi-LANDER's "average" decoding
(:mod:`hilander.lander.decoding`) both merge along a graph's edges; the rule lives here, in
the graph layer both build on, so that Hi-LANDER does not depend on the baselines.
"""

from __future__ import annotations

import heapq

import numpy as np

from .._validation import check_choice
from .components import components


def sparse_linkage(n: int, row, col, dist, linkage: str, *, n_clusters: int | None = None,
                   distance_threshold: float | None = None) -> np.ndarray:
    """Average or complete linkage restricted to the edges of a sparse graph; labels.

    Follows scikit-learn's connectivity-constrained rule: when clusters a and b merge, a
    neighbour c linked to both gets the size-weighted mean (average) or the max (complete) of
    d(a, c) and d(b, c), and a neighbour linked to one keeps that distance. scikit-learn copies
    both neighbour maps on every merge (quadratic once a big cluster forms); here the merged
    cluster keeps the larger map and only the smaller one's entries are touched, with a lazy
    heap of candidate pairs. Merging stops at ``n_clusters`` clusters, or before the first merge
    at distance >= ``distance_threshold``, or when no linked pair is left.
    """
    check_choice(linkage, "linkage", ["average", "complete"])
    average = linkage == "average"
    target = 1 if n_clusters is None else int(n_clusters)
    adj: list[dict | None] = [{} for _ in range(n)]
    heap = []
    for a, b, d in zip(np.asarray(row).tolist(), np.asarray(col).tolist(),
                       np.asarray(dist, dtype=np.float64).tolist()):
        if a != b:
            adj[a][b] = adj[b][a] = d
            heap.append((d, a, b))
    heapq.heapify(heap)
    size = [1] * n
    merged_a, merged_b = [], []
    n_comp = n
    while n_comp > target and heap:
        d, a, b = heapq.heappop(heap)
        A, B = adj[a], adj[b]
        if A is None or B is None or A.get(b) != d:
            continue  # stale: an endpoint was absorbed or the distance changed since
        if distance_threshold is not None and d >= distance_threshold:
            break
        if len(A) < len(B):
            a, b, A, B = b, a, B, A
        del A[b], B[a]
        na, nb = size[a], size[b]
        for c, dbc in B.items():
            Cmap = adj[c]
            del Cmap[b]
            dac = A.get(c)
            if dac is None:
                new = dbc
            elif average:
                new = (na * dac + nb * dbc) / (na + nb)
            else:
                new = max(dac, dbc)
            A[c] = Cmap[a] = new
            heapq.heappush(heap, (new, a, c))
        adj[b] = None
        size[a] = na + nb
        merged_a.append(a)
        merged_b.append(b)
        n_comp -= 1
    return components(n, np.asarray(merged_a, dtype=np.int64),
                      np.asarray(merged_b, dtype=np.int64))[1]
