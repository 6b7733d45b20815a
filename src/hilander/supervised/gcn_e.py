"""GCN-E and GCN-VE (Yang et al., CVPR 2020), and the study's l2-norm + GCN-E variant.

GCN-E looks, for every point, at the neighbours whose confidence is higher than its own (the
candidate set), builds the sub-graph they form, and predicts with a four-layer GCN which
candidate the point should link to. Each point keeps one link (its most probable candidate)
and tree deduction with threshold ``tau`` cuts weak links; trees are clusters.

* :class:`GCNE` takes its confidences from an unsupervised score: the embedding's l2-norm
  (study Appendix D, "Tree Deduction + l2-norm + GCN-E") or the k-NN density.
* :class:`GCNVE` takes them from a trained GCN-V network, as in the original method.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import COSINE, POSITIVE_INT, UNIT, Param
from ..graph import KNNGraph
from ._clusterer import SupervisedClusterer, cpu_state, split_classes
from ._dense import (
    PivotSubgraphs,
    fit_link_net,
    link_probabilities,
    normalize_rows,
    scored_pairs,
)
from ._gcn_layers import DenseLinkNet
from ._subgraphs import (
    adjacency,
    confidence_rank,
    higher_candidates,
    lookup,
    nearest_higher,
    subset_graph,
    tree_labels,
)
from .gcn_v import GCNV, GCNVNet, confidence_of, fit_gcnv

CONFIDENCES = ("l2norm", "density")

#: GCN-E's own settings (study Table 25), shared by GCN-E and GCN-VE.
GCNE_PARAMS: dict[str, Param] = {
    "n_neighbors": Param(20, [Interval(Integral, 2, None, closed="left")], "int",
                         "Neighbours of the k-NN graph the candidate sets come from (N)."),
    "adj_threshold": Param(0.0, [COSINE], "float",
                           "Cosine similarity below which adjacency edges are cut (tau_1)."),
    "ignore_ratio": Param(0.0, [UNIT], "float", "Share of least-confident points that link "
                          "to their nearest more confident neighbour without the network "
                          "(IR)."),
    "tau": Param(0.7, [COSINE], "float", "Similarity threshold of tree deduction (tau_2)."),
    "batch_size": Param(16, [POSITIVE_INT], "int", "Sub-graphs per SGD step."),
}


def unsupervised_confidence(kind: str, X_raw: np.ndarray, graph: KNNGraph) -> np.ndarray:
    """"l2norm": norm of the raw embedding (Scott et al.; study App. D); "density": mean
    cosine similarity to the k nearest neighbours."""
    if kind == "l2norm":
        return np.linalg.norm(X_raw.astype(np.float64), axis=1).astype(np.float32)
    valid = graph.indices >= 0
    total = np.where(valid, graph.similarities, 0.0).sum(axis=1)
    return (total / np.maximum(valid.sum(axis=1), 1)).astype(np.float32)


def candidate_subgraphs(graph: KNNGraph, conf: np.ndarray, A: sp.csr_matrix,
                        ignore_ratio: float, y: np.ndarray | None = None):
    """GCN-E's sub-graphs and the links decided without the network.

    Returns ``(subgraphs, sims, parent, parent_sim)``: ``parent`` already holds the link of
    every point that needs no prediction (a single candidate, or among the ``ignore_ratio``
    least confident points, which simply take their nearest higher-confidence neighbour) and
    ``-1`` for peaks; points with a sub-graph get their link from the network.
    """
    n = graph.n_nodes
    cand = higher_candidates(graph, conf)
    count = cand.sum(axis=1)
    parent, parent_sim = nearest_higher(graph, conf)
    ignored = np.zeros(n, dtype=bool)
    n_ignore = int(n * ignore_ratio)
    if n_ignore >= n:
        ignored[:] = True
    elif n_ignore > 0:
        ignored[np.argsort(confidence_rank(conf))[:n_ignore]] = True
    pivots = np.flatnonzero((count >= 2) & ~ignored)
    order = np.argsort(~cand[pivots], axis=1, kind="stable")
    width = max(int(count[pivots].max()) if pivots.size else 1, 1)
    order = order[:, :width]
    nodes = np.take_along_axis(graph.indices[pivots], order, axis=1)
    mask = np.take_along_axis(cand[pivots], order, axis=1)
    sims = np.take_along_axis(graph.similarities[pivots], order, axis=1)
    nodes = np.where(mask, nodes, -1)

    def sub_adjacency(nb: np.ndarray, mk: np.ndarray) -> np.ndarray:
        # the global adjacency restricted to the candidates, re-normalised per row
        pair = mk[:, :, None] & mk[:, None, :]
        vals = lookup(A, nb[:, :, None].repeat(nb.shape[1], 2), nb[:, None, :].repeat(
            nb.shape[1], 1))
        return normalize_rows(np.where(pair, vals, 0.0).astype(np.float32))

    labels = None
    if y is not None:
        labels = (y[np.maximum(nodes, 0)] == y[pivots][:, None]) & mask
    data = PivotSubgraphs(pivots, nodes, mask, mask.copy(), sub_adjacency, labels)
    return data, sims, parent, parent_sim


class _GCNEMixin:
    """GCN-E training and inference given confidences; shared by GCNE and GCNVE."""

    def _fit_gcne(self, Xn: np.ndarray, y: np.ndarray, graph: KNNGraph,
                  conf: np.ndarray) -> None:
        self.edge_net_ = DenseLinkNet(Xn.shape[1], self.hidden, self.dropout).to(self._device())
        val = split_classes(y, self.val_fraction, self.random_state)

        def part(mask: np.ndarray):
            g = subset_graph(graph, mask)
            A = adjacency(g, self.adj_threshold)
            data = candidate_subgraphs(g, conf[mask], A, self.ignore_ratio, y[mask])[0]
            return data, Xn[mask]

        train = part(~val)
        held = part(val) if val.any() else None
        fit_link_net(self, self.edge_net_, train, held, f"{type(self).__name__} (GCN-E)")

    def _links(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph):
        g_e, conf = self._edge_graph_and_confidence(Xn, X_raw, graph)
        data = candidate_subgraphs(g_e, conf, adjacency(g_e, self.adj_threshold),
                                   self.ignore_ratio)[0]
        return scored_pairs(data, link_probabilities(self.edge_net_, data, Xn,
                                                     self.batch_size))

    def _predict(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph) -> np.ndarray:
        g_e, conf = self._edge_graph_and_confidence(Xn, X_raw, graph)
        return self._deduce(Xn, g_e, conf)

    def _deduce(self, Xn: np.ndarray, graph: KNNGraph, conf: np.ndarray) -> np.ndarray:
        A = adjacency(graph, self.adj_threshold)
        data, sims, parent, parent_sim = candidate_subgraphs(graph, conf, A, self.ignore_ratio)
        if len(data):
            prob = link_probabilities(self.edge_net_, data, Xn, self.batch_size)
            best = np.nanargmax(prob, axis=1)
            rows = np.arange(len(data))
            parent[data.pivots] = data.nodes[rows, best]
            parent_sim[data.pivots] = sims[rows, best]
        return tree_labels(parent, parent_sim, self.tau)


class GCNE(_GCNEMixin, SupervisedClusterer):
    """GCN-E with an unsupervised confidence (study Appendix D variant) + tree deduction.

    Hyper-parameters follow the study's Table 23. Defaults differ from it (H=512, LR=0.01)
    for CPU budgets: with tens rather than thousands of epochs, small batches and LR=0.1 are
    what lets SGD get past the link prior.

    {parameters}

    {attributes}
    edge_net_ : torch.nn.Module
        The trained link network.

    {example}
    """

    _example = 'GCNE(epochs=1, confidence="density")'

    _params = {
        **GCNE_PARAMS,
        "confidence": Param("l2norm", [StrOptions(set(CONFIDENCES))], "str",
                            '"l2norm" (norm of the raw, un-normalised embedding; meaningless '
                            'if the inputs are already unit-length) or "density" (mean k-NN '
                            "similarity)."),
    }

    @property
    def graph_k(self) -> int:
        return self.n_neighbors

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        conf = unsupervised_confidence(self.confidence, X_raw, graph)
        self._fit_gcne(Xn, y, graph, conf)

    def _edge_graph_and_confidence(self, Xn, X_raw, graph):
        return graph, unsupervised_confidence(self.confidence, X_raw, graph)

    def _state(self) -> dict:
        return {"edge_net": cpu_state(self.edge_net_)}

    def _set_state(self, state: dict) -> None:
        self.edge_net_ = DenseLinkNet(self.n_features_in_, self.hidden, self.dropout)
        self.edge_net_.load_state_dict(state["edge_net"])
        self.edge_net_.eval().to(self._device())


class GCNVE(_GCNEMixin, SupervisedClusterer):
    """GCN-V confidences + GCN-E links + tree deduction (Yang et al. 2020).

    GCN-V is trained first; its confidences on the training points then build GCN-E's
    training sub-graphs, as in the authors' pipeline. The ``*_v`` parameters configure GCN-V
    (study Table 24), the others GCN-E (Table 25); the training settings are shared.

    {parameters}

    {attributes}
    vertex_net_, edge_net_ : torch.nn.Module
        The trained confidence (GCN-V) and link (GCN-E) networks.

    {example}
    """

    _example = "GCNVE(epochs_v=5, epochs=1)"

    _params = {
        "n_neighbors_v": Param(10, [POSITIVE_INT], "int", "GCN-V's k-NN neighbours."),
        "adj_threshold_v": Param(0.0, [COSINE], "float", "GCN-V's adjacency cut."),
        "hidden_v": Param(256, [Interval(Integral, 2, None, closed="left")], "int",
                          "GCN-V's width."),
        "epochs_v": Param(100, [POSITIVE_INT], "int", "GCN-V's training epochs."),
        "lr_v": Param(0.1, [Interval(Real, 0, None, closed="neither")], "float",
                      "GCN-V's learning rate."),
        "patience_v": Param(20, [POSITIVE_INT], "int", "GCN-V's early-stopping patience "
                            "(its learning-rate patience is a third of it)."),
        **GCNE_PARAMS,
    }
    _renamed = {"k_v": "n_neighbors_v"}

    @property
    def graph_k(self) -> int:
        return max(self.n_neighbors, self.n_neighbors_v)

    def _gcnv(self) -> GCNV:
        """A GCN-V estimator carrying this model's GCN-V hyper-parameters."""
        return GCNV(n_neighbors=self.n_neighbors_v, adj_threshold=self.adj_threshold_v,
                    tau=self.tau,
                    hidden=self.hidden_v, epochs=self.epochs_v, lr=self.lr_v,
                    momentum=self.momentum, weight_decay=self.weight_decay,
                    optimizer=self.optimizer, dropout=self.dropout, val_fraction=self.val_fraction,
                    patience=self.patience_v, lr_patience=max(self.patience_v // 3, 1),
                    normalize=self.normalize, random_state=self.random_state,
                    verbose=self.verbose,
                    device=self.device)

    def _check_rules(self) -> None:
        self._gcnv()._check_params()

    def _graphs(self, graph: KNNGraph) -> tuple[KNNGraph, KNNGraph]:
        return (graph.restrict(min(self.n_neighbors_v, graph.k)),
                graph.restrict(min(self.n_neighbors, graph.k)))

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        g_v, g_e = self._graphs(graph)
        self.vertex_net_ = GCNVNet(Xn.shape[1], self.hidden_v, self.dropout).to(self._device())
        fit_gcnv(self._gcnv(), self.vertex_net_, Xn, y, g_v)
        conf = confidence_of(self.vertex_net_, Xn, g_v, self.adj_threshold_v)
        self._fit_gcne(Xn, y, g_e, conf)

    def _edge_graph_and_confidence(self, Xn, X_raw, graph):
        g_v, g_e = self._graphs(graph)
        return g_e, confidence_of(self.vertex_net_, Xn, g_v, self.adj_threshold_v)

    def _state(self) -> dict:
        return {"vertex_net": cpu_state(self.vertex_net_),
                "edge_net": cpu_state(self.edge_net_)}

    def _set_state(self, state: dict) -> None:
        device = self._device()
        self.vertex_net_ = GCNVNet(self.n_features_in_, self.hidden_v, self.dropout)
        self.vertex_net_.load_state_dict(state["vertex_net"])
        self.vertex_net_.eval().to(device)
        self.edge_net_ = DenseLinkNet(self.n_features_in_, self.hidden, self.dropout)
        self.edge_net_.load_state_dict(state["edge_net"])
        self.edge_net_.eval().to(device)
