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

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ..base import POSITIVE_INT, UNIT, Param
from ..graph import KNNGraph, components
from ._clusterer import SupervisedClusterer, cpu_state, split_classes
from ._dense import (
    PivotSubgraphs,
    fit_link_net,
    link_probabilities,
    normalize_rows,
    scored_pairs,
)
from ._gcn_layers import DenseLinkNet
from ._subgraphs import ragged_rows, subset_graph


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


class LGCN(SupervisedClusterer):
    """L-GCN link prediction on instance-pivot sub-graphs + pseudo-label propagation.

    {parameters}

    {attributes}
    net_ : torch.nn.Module
        The trained link network.

    {example}
    """

    _example = "LGCN(epochs=1)"

    _params = {
        "k1": Param(10, [POSITIVE_INT], "int", "1-hop neighbours of the instance-pivot "
                    "sub-graph."),
        "k2": Param(5, [POSITIVE_INT], "int", "2-hop neighbours of the sub-graph."),
        "active": Param(5, [POSITIVE_INT], "int", "Nearest neighbours each sub-graph node is "
                        "joined to inside the sub-graph (u)."),
        "max_size": Param(300, [POSITIVE_INT], "int", "Largest cluster propagation may output "
                          '(the Hi-LANDER paper\'s "max cluster size in L-GCN").'),
        "threshold": Param(0.5, [UNIT], "float", "First link-probability cut."),
        "step": Param(0.5, [Interval(Real, 0, 1, closed="neither")], "float",
                      "Fraction of the way to 1 the cut moves each time over-sized clusters "
                      "are re-split."),
        "batch_size": Param(16, [POSITIVE_INT], "int", "Sub-graphs per SGD step."),
    }
    _defaults = {"hidden": 64, "epochs": 8, "weight_decay": 1e-4, "patience": 4,
                 "lr_patience": 2}

    @property
    def graph_k(self) -> int:
        return max(self.k1, self.k2, self.active)

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        self.net_ = DenseLinkNet(Xn.shape[1], self.hidden, self.dropout).to(self._device())
        val = split_classes(y, self.val_fraction, self.random_state)

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
