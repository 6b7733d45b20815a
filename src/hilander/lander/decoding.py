"""Graph decoding (paper eqs. 5–6): edge selection and component peaks."""

from __future__ import annotations

import numpy as np


def select_edges(nbr: np.ndarray, p: np.ndarray, density: np.ndarray, tau: float,
                 score: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each node links to its best denser neighbour with p_ij ≥ τ.

    E(i) = {j : d_i ≤ d_j and p_ij ≥ τ}; pick argmax_j ê_ij (``score`` defaults to p, since
    ê = 2p − 1 is monotone in p). Nodes with empty E(i) are peaks. Returns (src, dst).
    """
    valid = nbr >= 0
    safe = np.where(valid, nbr, 0)
    cand = valid & (p >= tau) & (density[:, None] <= density[safe])
    score = p if score is None else score
    masked = np.where(cand, score, -np.inf)
    best = masked.argmax(axis=1)
    has = cand.any(axis=1)
    src = np.flatnonzero(has)
    return src, safe[src, best[has]]


def count_edges(src: np.ndarray, dst: np.ndarray) -> int:
    """Distinct undirected edges (i→j and j→i count once)."""
    if len(src) == 0:
        return 0
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    return int(np.unique(a.astype(np.int64) * (max(a.max(), b.max()) + 1) + b).size)


def component_peaks(labels: np.ndarray, n_comp: int, density: np.ndarray) -> np.ndarray:
    """Index of the densest node of each component (ties: lowest index)."""
    order = np.lexsort((np.arange(len(labels)), -density, labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    peaks = np.empty(n_comp, dtype=np.int64)
    peaks[labels[order[first]]] = order[first]
    return peaks
