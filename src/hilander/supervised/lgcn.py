"""L-GCN (Wang et al., CVPR 2019): linkage prediction on instance-pivot sub-graphs.

Every point is a pivot. Its instance-pivot sub-graph (IPS) holds its ``k1`` nearest
neighbours and their ``k2`` nearest neighbours; node features are offsets from the pivot and
each node is joined to its ``active`` nearest neighbours inside the IPS. A four-layer GCN
scores how likely each 1-hop node is linked to the pivot. At test time the scores of all
pivots form a weighted graph that pseudo-label propagation cuts into clusters no larger than
``max_size``: components over the size limit are re-split with a threshold raised by
``step`` until they fit.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_float, check_int
from ..graph import KNNGraph, components
from ..persistence import register_model
from ._base import SupervisedClusterer, cpu_state, split_classes
from ._dense import (
    PivotSubgraphs,
    fit_link_net,
    link_probabilities,
    normalize_rows,
    scored_pairs,
)
from ._subgraphs import ragged_rows, subset_graph
from .layers import DenseLinkNet


def instance_pivot_subgraphs(graph: KNNGraph, k1: int, k2: int, active: int,
                             y: np.ndarray | None = None) -> PivotSubgraphs:
    """The IPS of every point of ``graph`` (needs ``graph.k >= max(k1, k2, active)``)."""
    n = graph.n_nodes
    hop1 = graph.indices[:, :k1]
    hop2 = np.where(hop1[:, :, None] >= 0, graph.indices[np.maximum(hop1, 0), :k2], -1)
    table = np.concatenate([hop1, hop2.reshape(n, -1)], axis=1)
    table[table == np.arange(n)[:, None]] = -1  # the pivot is not its own IPS node
    nodes, mask = ragged_rows(table)
    m = nodes.shape[1]
    stride = np.int64(n + 1)

    def row_keys(rows_local: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        # rows are sorted ascending with pads last, so these keys are globally sorted
        return rows_local[:, None] * stride + np.where(valid, values, n)

    # a node is scored (and trained) when it is one of the pivot's 1-hop neighbours
    keys1 = np.sort(row_keys(np.arange(n), hop1, hop1 >= 0), axis=1).ravel()
    qk = row_keys(np.arange(n), nodes, mask)
    pos = np.minimum(np.searchsorted(keys1, qk), keys1.size - 1)
    score = mask & (keys1[pos] == qk)

    def ips_adjacency(nb: np.ndarray, mk: np.ndarray) -> np.ndarray:
        b = nb.shape[0]
        local = np.arange(b, dtype=np.int64)
        flat = row_keys(local, nb, mk).ravel()
        near = graph.indices[np.maximum(nb, 0), :active]  # (b, m, active)
        q = local[:, None, None] * stride + np.where(near >= 0, near, n)
        at = np.minimum(np.searchsorted(flat, q), flat.size - 1)
        hit = (flat[at] == q) & (near >= 0) & mk[:, :, None]
        adj = np.zeros((b, m, m), dtype=np.float32)
        p_idx, a_idx, _ = np.nonzero(hit)
        adj[p_idx, a_idx, at[hit] - p_idx * m] = 1.0
        adj = np.maximum(adj, adj.transpose(0, 2, 1))
        return normalize_rows(adj)

    labels = None
    if y is not None:
        labels = (y[np.maximum(nodes, 0)] == y[:, None]) & mask
    return PivotSubgraphs(np.arange(n), nodes, mask, score, ips_adjacency, labels)


def propagate(n: int, src: np.ndarray, dst: np.ndarray, score: np.ndarray, max_size: int,
              threshold: float, step: float, max_rounds: int = 100) -> np.ndarray:
    """Pseudo-label propagation (Zhan et al. 2018, used by L-GCN).

    Components of the edges scored >= ``threshold``; every component above ``max_size`` is
    re-split with its threshold moved ``step`` of the way to 1 (``th += (1 - th) * step``),
    until all fit or the rounds run out.
    """
    keep = score >= threshold
    labels = components(n, src[keep], dst[keep])[1]
    th = threshold
    for _ in range(max_rounds):
        sizes = np.bincount(labels)
        big = sizes[labels] > max_size
        if not big.any():
            break
        th += (1.0 - th) * step
        inside = big[src] & big[dst] & (labels[src] == labels[dst]) & (score >= th)
        sub = components(n, src[inside], dst[inside])[1]
        labels = np.where(big, labels.max() + 1 + sub, labels)
        _, labels = np.unique(labels, return_inverse=True)
    return labels


@register_model
class LGCN(SupervisedClusterer):
    """L-GCN link prediction + pseudo-label propagation.

    Parameters
    ----------
    k1, k2 : 1-hop and 2-hop neighbours of the instance-pivot sub-graph.
    active : nearest neighbours each IPS node is joined to inside the IPS (u).
    max_size : largest cluster propagation may output (the Hi-LANDER paper's "max cluster
        size in L-GCN").
    threshold, step : first link-probability cut, and the fraction of the way to 1 it moves
        each time over-sized clusters are re-split.
    hidden, epochs, lr, momentum, weight_decay, dropout, batch_size : training.
    device : "auto" (CUDA when present, else CPU), "cpu" or "cuda".
    """

    def __init__(self, k1: int = 10, k2: int = 5, active: int = 5, max_size: int = 300,
                 threshold: float = 0.5, step: float = 0.5, hidden: int = 64,
                 epochs: int = 8, lr: float = 0.1, momentum: float = 0.9,
                 weight_decay: float = 1e-4, optimizer: str = "sgd", dropout: float = 0.0,
                 batch_size: int = 16, val_fraction: float = 0.2, patience: int = 4,
                 lr_patience: int = 2, normalize: bool = True, seed: int = 0,
                 progress: bool = False, device: str = "auto") -> None:
        self.k1 = k1
        self.k2 = k2
        self.active = active
        self.max_size = max_size
        self.threshold = threshold
        self.step = step
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.dropout = dropout
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.lr_patience = lr_patience
        self.normalize = normalize
        self.seed = seed
        self.progress = progress
        self.device = device

    @property
    def graph_k(self) -> int:
        return max(self.k1, self.k2, self.active)

    def _check_params(self) -> None:
        self._check_common()
        for name in ("k1", "k2", "active", "batch_size"):
            check_int(getattr(self, name), name, low=1)
        check_int(self.max_size, "max_size", low=1)
        check_float(self.threshold, "threshold", low=0, high=1)
        check_float(self.step, "step", low=0, low_open=True, high=1, high_open=True)
        check_float(self.dropout, "dropout", low=0, high=1, high_open=True)

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        self.net_ = DenseLinkNet(Xn.shape[1], self.hidden, self.dropout).to(self._device())
        val = split_classes(y, self.val_fraction, self.seed)

        def part(mask: np.ndarray):
            g = subset_graph(graph, mask)
            return instance_pivot_subgraphs(g, self.k1, self.k2, self.active, y[mask]), Xn[mask]

        train = part(~val)
        held = part(val) if val.any() else None
        fit_link_net(self, self.net_, train, held, "L-GCN")

    def _links(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph):
        data = instance_pivot_subgraphs(graph, self.k1, self.k2, self.active)
        return scored_pairs(data, link_probabilities(self.net_, data, Xn, self.batch_size))

    def _predict(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph) -> np.ndarray:
        n = Xn.shape[0]
        src, dst, w = self._links(Xn, X_raw, graph)
        # a pair scored from both ends gets the mean of its two scores
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        key = lo.astype(np.int64) * n + hi
        uniq, inv = np.unique(key, return_inverse=True)
        mean = np.bincount(inv, weights=w) / np.bincount(inv)
        return propagate(n, uniq // n, uniq % n, mean, self.max_size, self.threshold, self.step)

    def _state(self) -> dict:
        return {"net": cpu_state(self.net_)}

    def _set_state(self, state: dict) -> None:
        self.net_ = DenseLinkNet(self.n_features_in_, self.hidden, self.dropout)
        self.net_.load_state_dict(state["net"])
        self.net_.eval().to(self._device())
