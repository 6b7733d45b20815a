"""Graph plumbing of the supervised baselines: adjacencies, sub-graphs and tree deduction.

Everything here works on a :class:`~hilander.graph.KNNGraph` (``-1`` pads missing neighbours)
and is vectorised with numpy, so building thousands of per-node sub-graphs stays cheap.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graph import KNNGraph, components


def subset_graph(graph: KNNGraph, mask: np.ndarray) -> KNNGraph:
    """The k-NN graph of the rows in ``mask``, keeping only neighbours inside the subset.

    Used to split one graph into class-disjoint train and validation graphs without a new
    search; a row that loses neighbours is padded with ``-1``, nearest-first order kept.
    """
    rows = np.flatnonzero(mask)
    new_id = np.full(graph.n_nodes, -1, dtype=np.int64)
    new_id[rows] = np.arange(rows.size)
    ids = graph.indices[rows]
    sims = graph.similarities[rows]
    mapped = np.where(ids >= 0, new_id[np.maximum(ids, 0)], -1)
    keep = mapped >= 0
    # stable sort puts kept neighbours first, still nearest first
    order = np.argsort(~keep, axis=1, kind="stable")
    mapped = np.take_along_axis(mapped, order, axis=1)
    sims = np.take_along_axis(np.where(keep, sims, 0.0), order, axis=1).astype(np.float32)
    return KNNGraph(mapped, sims, graph.method)


def adjacency(graph: KNNGraph, threshold: float = 0.0, self_loops: bool = True) -> sp.csr_matrix:
    """Row-normalised symmetric affinity ``A`` of the k-NN graph, edges below ``threshold`` cut.

    As in GCN-V/E and STAR-FC: weights are cosine similarities, the matrix is symmetrised,
    a self-loop is added and each row divided by its sum, so ``A @ H`` is a weighted mean.
    """
    n = graph.n_nodes
    src, dst, sim = graph.edges()
    keep = (sim >= threshold) & (sim > 0)
    W = sp.csr_matrix((sim[keep].astype(np.float64), (src[keep], dst[keep])), shape=(n, n))
    W = W.maximum(W.T)
    if self_loops:
        W = W + sp.identity(n, format="csr")
    return row_normalize(W)


def row_normalize(W: sp.spmatrix) -> sp.csr_matrix:
    W = sp.csr_matrix(W)
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    out = sp.diags(inv) @ W
    out = sp.csr_matrix(out)
    out.sort_indices()
    return out


def edge_tensors(A: sp.csr_matrix, device: torch.device | str = "cpu",
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """PyG ``edge_index``/``edge_weight`` such that node ``i`` aggregates ``Σ_j A[i, j] h_j``.

    Both are placed on ``device``, the device of the network they feed.
    """
    coo = A.tocoo()
    # PyG sends messages from edge_index[0] to edge_index[1]
    edge_index = torch.from_numpy(np.vstack([coo.col, coo.row]).astype(np.int64))
    return edge_index.to(device), torch.from_numpy(coo.data.astype(np.float32)).to(device)


def device_of(net: torch.nn.Module) -> torch.device:
    """The device a network's weights live on: where its inputs must be made."""
    return next(net.parameters()).device


def lookup(A: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``A[rows, cols]`` element-wise for arrays of any shape (0 where there is no entry)."""
    A = sp.csr_matrix(A)
    A.sort_indices()
    n = np.int64(A.shape[1])
    keys = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr)) * n + A.indices
    q = rows.astype(np.int64) * n + cols.astype(np.int64)
    pos = np.minimum(np.searchsorted(keys, q), max(keys.size - 1, 0))
    if keys.size == 0:
        return np.zeros(q.shape, dtype=np.float32)
    found = (keys[pos] == q) & (rows >= 0) & (cols >= 0)
    return np.where(found, A.data[pos], 0.0).astype(np.float32)


def label_confidence(graph: KNNGraph, y: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """GCN-V's supervised density target (Yang et al. 2020, eq. 1).

    ``c_i = 1/|N_i| Σ_j (1[y_j = y_i] - 1[y_j != y_i]) a_ij`` over the neighbours kept by the
    adjacency. The authors' code divides by the largest ``|c|`` instead of ``|N_i|``; we
    follow the paper.
    """
    ids, sims = graph.indices, graph.similarities
    valid = (ids >= 0) & (sims >= threshold) & (sims > 0)
    same = y[np.maximum(ids, 0)] == y[:, None]
    signed = np.where(same, sims, -sims) * valid
    count = np.maximum(valid.sum(axis=1), 1)
    return (signed.sum(axis=1) / count).astype(np.float32)


def confidence_rank(conf: np.ndarray) -> np.ndarray:
    """Strict order of the points by confidence; ties go to the lower index.

    Without it, equal confidences (e.g. l2-norms of unit vectors) would leave every tied
    point without a "higher" neighbour; the order also guarantees the links form no cycle.
    """
    n = conf.shape[0]
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((-np.arange(n), conf))] = np.arange(n)
    return rank


def higher_candidates(graph: KNNGraph, conf: np.ndarray) -> np.ndarray:
    """(n, k) mask of neighbours ranked above the node by :func:`confidence_rank`."""
    ids = graph.indices
    rank = confidence_rank(conf)
    return (ids >= 0) & (rank[np.maximum(ids, 0)] > rank[:, None])


def nearest_higher(graph: KNNGraph, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's most similar neighbour of higher confidence: ``(parent, similarity)``.

    ``parent`` is ``-1`` for a local peak (no neighbour above it); those become tree roots.
    """
    cand = higher_candidates(graph, conf)
    has = cand.any(axis=1)
    first = cand.argmax(axis=1)
    rows = np.arange(graph.n_nodes)
    parent = np.where(has, graph.indices[rows, first], -1)
    sim = np.where(has, graph.similarities[rows, first], -np.inf)
    return parent.astype(np.int64), sim.astype(np.float32)


def tree_labels(parent: np.ndarray, sim: np.ndarray, tau: float) -> np.ndarray:
    """Tree deduction: keep each node's edge to its parent when similarity >= ``tau``.

    Every node has at most one outgoing edge towards higher confidence, so the kept edges
    form a forest; each tree is one cluster (Yang et al. 2020, Sec. 3.3).
    """
    n = parent.shape[0]
    keep = (parent >= 0) & (sim >= tau)
    return components(n, np.flatnonzero(keep), parent[keep])[1]


def ragged_rows(table: np.ndarray, pad: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Per row: sorted unique values other than ``pad``, left-aligned and padded.

    Returns ``(values, mask)`` with shape ``(n, width)``; used to dedupe 2-hop node lists.
    """
    n = table.shape[0]
    s = np.sort(table, axis=1)
    dup = np.zeros_like(s, dtype=bool)
    dup[:, 1:] = s[:, 1:] == s[:, :-1]
    good = (~dup) & (s != pad)
    order = np.argsort(~good, axis=1, kind="stable")
    vals = np.take_along_axis(s, order, axis=1)
    mask = np.take_along_axis(good, order, axis=1)
    width = max(int(mask.sum(axis=1).max()) if n else 0, 1)
    vals, mask = vals[:, :width], mask[:, :width]
    return np.where(mask, vals, pad), mask
