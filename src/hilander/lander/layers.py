"""Small graph layers: the encoder stack and the edge head of LANDER."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv, GCNConv

ENCODERS = ("gat", "gcn")


class GraphEncoder(nn.Module):
    """A stack of GAT (or GCN) layers with PReLU between them.

    ``forward_chunked`` evaluates the stack layer by layer over chunks of target nodes, which
    gives exactly the full-graph result with memory bounded by the chunk's edges.
    """

    def __init__(self, in_dim: int, hidden: int, num_layers: int = 1, kind: str = "gat",
                 heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.kind = kind
        self.convs = nn.ModuleList()
        self.acts = nn.ModuleList()
        dim = in_dim
        for _ in range(num_layers):
            if kind == "gat":
                # averaged heads keep the width at `hidden` whatever the head count
                # self loops are added by hand so full-graph and chunked passes agree
                conv = GATConv(dim, hidden, heads=heads, concat=False, dropout=dropout,
                               add_self_loops=False)
            else:
                conv = GCNConv(dim, hidden)
            self.convs.append(conv)
            self.acts.append(nn.PReLU(hidden))
            dim = hidden
        self.out_dim = dim

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        if self.kind == "gat":
            loops = torch.arange(x.shape[0], device=x.device).repeat(2, 1)
            edge_index = torch.cat([edge_index, loops], dim=1)
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x, edge_index))
        return x

    @torch.no_grad()
    def forward_chunked(self, x: torch.Tensor, nbr: torch.Tensor, chunk: int) -> torch.Tensor:
        """``nbr`` is the (n, k) neighbour table; messages flow from neighbours to each node."""
        n, k = nbr.shape
        for conv, act in zip(self.convs, self.acts, strict=True):
            out = []
            for s in range(0, n, chunk):
                e = min(s + chunk, n)
                rows = nbr[s:e]
                valid = rows >= 0
                dst_local = torch.arange(e - s, device=x.device).unsqueeze(1).expand(-1, k)[valid]
                src = rows[valid]
                if self.kind == "gat":
                    ei = torch.stack([src, dst_local])
                    # bipartite call: sources are all nodes, targets the chunk, plus self loops
                    loops = torch.stack([torch.arange(s, e, device=x.device),
                                         torch.arange(e - s, device=x.device)])
                    ei = torch.cat([ei, loops], dim=1)
                    h = conv((x, x[s:e]), ei, size=(n, e - s))
                else:
                    # GCN normalisation needs global degrees: evaluate on the chunk's full
                    # 1-hop neighbourhood instead
                    h = _gcn_chunk(conv, x, nbr, s, e)
                out.append(act(h))
            x = torch.cat(out)
        return x


def _gcn_chunk(conv: GCNConv, x: torch.Tensor, nbr: torch.Tensor, s: int, e: int):
    n, k = nbr.shape
    rows = nbr[s:e]
    valid = rows >= 0
    src = rows[valid]
    dst = torch.arange(s, e, device=x.device).unsqueeze(1).expand(-1, k)[valid]
    # messages flow into each node from its own k-NN row, so in-degree = valid row entries + loop
    deg = (nbr >= 0).sum(dim=1).to(x.dtype) + 1.0
    xw = conv.lin(x)
    norm = (deg[src] * deg[dst]).rsqrt()
    agg = torch.zeros(e - s, xw.shape[1], device=x.device)
    agg.index_add_(0, dst - s, xw[src] * norm.unsqueeze(1))
    agg += xw[s:e] / deg[s:e].unsqueeze(1)
    if conv.bias is not None:
        agg += conv.bias
    return agg


EDGE_INPUTS = ("concat", "symmetric", "similarity")


class EdgeHead(nn.Module):
    """Two-layer MLP on a pair of node embeddings giving two logits (different / same label).

    ``"concat"`` is the paper's ``[h_i, h_j]``. On unseen identities an MLP on the bare
    concatenation tends to learn *where* training identities lie rather than whether two
    nodes are alike, so ``"symmetric"`` adds ``h_i ⊙ h_j`` and ``|h_i − h_j|`` and
    ``"similarity"`` adds the input cosine similarity a_ij; both keep the paper's MLP.
    """

    def __init__(self, dim: int, hidden: int, edge_input: str = "concat") -> None:
        super().__init__()
        self.edge_input = edge_input
        width = {"concat": 2 * dim, "symmetric": 4 * dim, "similarity": 2 * dim + 1}[edge_input]
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.PReLU(hidden), nn.Linear(hidden, 2))

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor,
                sim: torch.Tensor | None = None) -> torch.Tensor:
        parts = [h_src, h_dst]
        if self.edge_input == "symmetric":
            parts += [h_src * h_dst, (h_src - h_dst).abs()]
        elif self.edge_input == "similarity":
            parts.append(sim.unsqueeze(-1))
        return self.mlp(torch.cat(parts, dim=-1))
