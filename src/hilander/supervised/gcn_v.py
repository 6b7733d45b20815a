"""GCN-V (Yang et al., CVPR 2020): a GCN that estimates each point's confidence.

Training regresses (MSE) the supervised density of the point's neighbourhood, the fraction of
affinity pointing to its own class minus the affinity to other classes. At test time every
point links to its most similar neighbour of higher predicted confidence, and tree deduction
with threshold ``tau`` turns those links into clusters.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..base import COSINE, POSITIVE_INT, Param
from ..graph import KNNGraph
from ._clusterer import SupervisedClusterer, cpu_state, split_classes
from ._gcn_layers import GCNStack, MLPHead
from ._subgraphs import (
    adjacency,
    device_of,
    edge_tensors,
    label_confidence,
    nearest_higher,
    subset_graph,
    tree_labels,
)


class GCNVNet(nn.Module):
    """One mean-aggregation GCN layer, then FC -> PReLU -> FC to one confidence per node."""

    def __init__(self, in_dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = GCNStack(in_dim, [hidden], dropout)
        self.head = MLPHead(hidden, hidden)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor) -> torch.Tensor:
        return self.head(self.gcn(x, edge_index, edge_weight))


class GCNV(SupervisedClusterer):
    """GCN-V confidence estimator + tree deduction (Yang et al. 2020).

    Hyper-parameters follow the study's Appendix E.2.3 (Table 24); ``hidden`` defaults to 256
    rather than the study's 512 to keep CPU training short, and one full-graph step is made
    per epoch.

    {parameters}

    {attributes}
    net_ : torch.nn.Module
        The trained confidence network.

    {example}
    """

    _example = "GCNV(epochs=5)"

    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int",
                             "Neighbours of the k-NN adjacency (the study's N)."),
        "adj_threshold": Param(0.0, [COSINE], "float", "Cosine similarity below which "
                               "adjacency edges are cut (tau)."),
        "tau": Param(0.7, [COSINE], "float", "Similarity threshold of tree deduction: a link "
                     "to a more confident neighbour below it is cut."),
    }
    _defaults = {"hidden": 256, "epochs": 100, "patience": 20, "lr_patience": 8}

    @property
    def graph_k(self) -> int:
        return self.n_neighbors

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        self.net_ = GCNVNet(Xn.shape[1], self.hidden, self.dropout).to(self._device())
        fit_gcnv(self, self.net_, Xn, y, graph)

    def predict_confidence(self, X, *, graph: KNNGraph | None = None) -> np.ndarray:
        """Predicted confidence of each point (higher: deeper inside its cluster)."""
        self._check_fitted()
        Xn = self._prepare(self._check_X(X))
        return self._confidence(Xn, self._neighbors(Xn, graph))

    @torch.no_grad()
    def _confidence(self, Xn: np.ndarray, graph: KNNGraph) -> np.ndarray:
        return confidence_of(self.net_, Xn, graph, self.adj_threshold)

    def _predict(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph) -> np.ndarray:
        conf = self._confidence(Xn, graph)
        parent, sim = nearest_higher(graph, conf)
        return tree_labels(parent, sim, self.tau)

    def _state(self) -> dict:
        return {"net": cpu_state(self.net_)}

    def _set_state(self, state: dict) -> None:
        self.net_ = GCNVNet(self.n_features_in_, self.hidden, self.dropout)
        self.net_.load_state_dict(state["net"])
        self.net_.eval().to(self._device())


def confidence_of(net: GCNVNet, Xn: np.ndarray, graph: KNNGraph, threshold: float) -> np.ndarray:
    """Run a trained GCN-V network on a whole graph."""
    net.eval()
    device = device_of(net)
    ei, ew = edge_tensors(adjacency(graph, threshold), device)
    with torch.no_grad():
        return net(torch.from_numpy(Xn).to(device), ei, ew).cpu().numpy().astype(np.float32)


def fit_gcnv(est: SupervisedClusterer, net: GCNVNet, Xn: np.ndarray, y: np.ndarray,
             graph: KNNGraph) -> list[float]:
    """Full-batch MSE training of ``net`` on the supervised density target.

    ``est`` supplies the training hyper-parameters (lr, epochs, ...) and the training loop.
    """
    val = split_classes(y, est.val_fraction, est.random_state)
    device = device_of(net)

    def batch(mask: np.ndarray):
        # full-batch training: the whole (sub-)graph goes to the device once, before the loop
        g = subset_graph(graph, mask) if mask is not None else graph
        yy = y if mask is None else y[mask]
        x = torch.from_numpy(Xn if mask is None else Xn[mask]).to(device)
        ei, ew = edge_tensors(adjacency(g, est.adj_threshold), device)
        target = torch.from_numpy(label_confidence(g, yy, est.adj_threshold)).to(device)
        return x, ei, ew, target

    train = batch(~val if val.any() else None)
    held = batch(val) if val.any() else None
    loss_fn = nn.MSELoss()

    def train_epoch(opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
        x, ei, ew, target = train
        opt.zero_grad()
        loss = loss_fn(net(x, ei, ew), target)
        loss.backward()
        opt.step()
        return loss.item()

    def val_loss() -> float:
        x, ei, ew, target = held
        return float(loss_fn(net(x, ei, ew), target))

    return est._train(net, train_epoch, val_loss if held is not None else None, "GCN-V")
