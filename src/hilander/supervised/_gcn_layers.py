"""Small network pieces shared by the supervised GNN baselines.

Every baseline uses the same mean-aggregation graph convolution (Yang et al. 2020, Shen et al.
2021): ``h_i' = ReLU(W_root h_i + W_rel Σ_j a_ij h_j + b)`` where ``a`` is a row-normalised
adjacency. With pre-normalised edge weights this is exactly PyG's :class:`GraphConv` with
``aggr="add"``, so we build on it instead of writing a message-passing layer.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import DenseGraphConv, GraphConv


class MeanGCNLayer(nn.Module):
    """One mean-aggregation graph convolution followed by ReLU and optional dropout."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = GraphConv(in_dim, out_dim, aggr="add")
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # study Appendix E.2.1: Xavier-uniform weights and zero biases for the GCN layers
        for lin in (self.conv.lin_rel, self.conv.lin_root):
            nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(self.conv(x, edge_index, edge_weight)))


class GCNStack(nn.Module):
    """A sequence of :class:`MeanGCNLayer` with the given output widths."""

    def __init__(self, in_dim: int, widths: list[int], dropout: float = 0.0) -> None:
        super().__init__()
        dims = [in_dim, *widths]
        self.layers = nn.ModuleList(
            MeanGCNLayer(a, b, dropout) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.out_dim = dims[-1]

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, edge_index, edge_weight)
        return x


class MLPHead(nn.Module):
    """FC -> PReLU -> FC to one output (study Appendix E.2.1/E.2.2).

    The study trains the link heads with 2-way softmax cross-entropy; a single logit with
    binary cross-entropy is the same model with half the output weights, so we use that.
    PyTorch's default Linear initialisation is the Kaiming-uniform the study asks for.
    """

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.PReLU(hidden),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # PReLU reads channels from dim 1, so batched sub-graphs go through flattened
        return self.net(x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1])


class DenseMeanGCNLayer(nn.Module):
    """:class:`MeanGCNLayer` on a batch of small padded graphs (PyG ``DenseGraphConv``).

    ``adj`` must be row-normalised so the ``add`` aggregation is a weighted mean.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = DenseGraphConv(in_dim, out_dim, aggr="add")
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        for lin in (self.conv.lin_rel, self.conv.lin_root):
            nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.dropout(torch.relu(self.conv(x, adj, mask)))


class DenseLinkNet(nn.Module):
    """Four-layer GCN + head scoring each sub-graph node's link to the sub-graph's pivot.

    The GCN-E architecture (study Appendix E.2.1): widths ``hidden, hidden, hidden/2,
    hidden/2`` and an FC(hidden/2) -> PReLU -> FC head; L-GCN (Wang et al. 2019) uses the
    same four-layer design on its instance-pivot sub-graphs.
    """

    def __init__(self, in_dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        half = max(hidden // 2, 1)
        dims = [in_dim, hidden, hidden, half, half]
        self.layers = nn.ModuleList(
            DenseMeanGCNLayer(a, b, dropout) for a, b in zip(dims[:-1], dims[1:], strict=True)
        )
        self.head = MLPHead(half, half)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, adj, mask)
        return self.head(x)
