"""LANDER: one GNN that jointly predicts edge linkage and node density (paper sec. 3.3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import EdgeHead, GraphEncoder


def knn_edge_index(nbr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Message-passing ``edge_index`` (neighbour -> node) and the validity mask of ``nbr``."""
    n, k = nbr.shape
    valid = nbr >= 0
    rows = torch.arange(n, device=nbr.device).unsqueeze(1).expand(n, k)
    return torch.stack([nbr[valid], rows[valid]]), valid


class LanderNet(nn.Module):
    """Graph encoder + edge MLP; densities come from the edge probabilities, no extra head.

    For node ``i`` and its neighbours ``j``: p_ij = softmax(MLP([h_i, h_j]))[same],
    ê_ij = p_ij − (1 − p_ij) (eq. 3) and d̂_i = (1/k) Σ_j ê_ij · a_ij (eq. 4), where a_ij is
    the inner product of the (l2-normalised) input features.
    """

    def __init__(self, in_dim: int, hidden: int = 128, num_layers: int = 1,
                 encoder: str = "gat", heads: int = 1, dropout: float = 0.0,
                 edge_input: str = "concat") -> None:
        super().__init__()
        self.encoder = GraphEncoder(in_dim, hidden, num_layers, encoder, heads, dropout)
        self.head = EdgeHead(self.encoder.out_dim, hidden, edge_input)

    def forward(self, x: torch.Tensor, nbr: torch.Tensor, sim: torch.Tensor):
        """Return (edge logits (E, 2) over valid edges, valid mask (n, k), d̂ (n,))."""
        edge_index, valid = knn_edge_index(nbr)
        h = self.encoder(x, edge_index)
        rows = edge_index[1]
        logits = self.head(h[rows], h[edge_index[0]], sim[valid])
        p = torch.zeros(valid.shape, dtype=logits.dtype, device=x.device).masked_scatter(
            valid, F.softmax(logits, dim=1)[:, 1])
        return logits, valid, _density(p, valid, sim)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, nbr: torch.Tensor, sim: torch.Tensor,
                chunk: int = 65536):
        """Memory-bounded inference: (p (n, k) with 0 on padding, d̂ (n,))."""
        n, k = nbr.shape
        h = self.encoder.forward_chunked(x, nbr, chunk)
        p = torch.zeros(n, k, device=x.device)
        rows_per = max(1, chunk // max(k, 1))
        for s in range(0, n, rows_per):
            e = min(s + rows_per, n)
            blk = nbr[s:e]
            valid = blk >= 0
            hi = h[s:e].unsqueeze(1).expand(-1, k, -1)[valid]
            hj = h[blk[valid]]
            p[s:e][valid] = F.softmax(self.head(hi, hj, sim[s:e][valid]), dim=1)[:, 1]
        return p, _density(p, nbr >= 0, sim)


def _density(p: torch.Tensor, valid: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """d̂_i of eq. 4 from the (n, k) edge probabilities; padding contributes nothing."""
    e_hat = torch.where(valid, 2.0 * p - 1.0, torch.zeros_like(p))
    # 1/k of eq. 4, with k the number of neighbours actually found
    count = valid.sum(dim=1).clamp(min=1).to(p.dtype)
    return (e_hat * sim).sum(dim=1) / count


def lander_loss(logits: torch.Tensor, valid: torch.Tensor, d_hat: torch.Tensor,
                nbr: torch.Tensor, same: torch.Tensor, density: torch.Tensor):
    """L = L_conn + L_den (eqs. 8–11).

    ``same`` is q_ij for the valid edges (row-major), ``density`` the ground-truth d_i. Edges
    with d_i > d_j contribute zero but still count in the 1/|E| average, as eq. 9 states.
    """
    n, k = nbr.shape
    rows = torch.arange(n, device=nbr.device).unsqueeze(1).expand(n, k)[valid]
    cols = nbr[valid]
    mask = (density[rows] <= density[cols]).to(logits.dtype)
    logp = F.log_softmax(logits, dim=1)
    per_edge = same * logp[:, 1] + (1.0 - same) * logp[:, 0]
    l_conn = -(per_edge * mask).sum() / max(per_edge.numel(), 1)
    l_den = F.mse_loss(d_hat, density)
    return l_conn + l_den, l_conn.detach(), l_den.detach()
