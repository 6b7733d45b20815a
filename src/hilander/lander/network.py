"""LANDER: one GNN that jointly predicts edge linkage and node density (paper sec. 3.3)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import EdgeFeaturizer, n_edge_features
from .layers import EdgeHead, GraphEncoder, one_hop, row_chunks


class LanderNet(nn.Module):
    """Graph encoder + edge head; densities come from the edge probabilities, no extra head.

    For node ``i`` and its neighbours ``j``: p_ij = softmax(head(h_i, h_j, relations))[same],
    ê_ij = p_ij − (1 − p_ij) (eq. 3) and d̂_i = (1/k) Σ_j ê_ij · a_ij (eq. 4), where a_ij is
    the inner product of the (l2-normalised) input features.
    """

    def __init__(self, in_dim: int, hidden: int = 128, num_layers: int = 1, heads: int = 1,
                 dropout: float = 0.0, edge_input: str = "relational",
                 calibration: str = "cosine", comembership: bool = False) -> None:
        super().__init__()
        self.comembership = comembership
        self.encoder = GraphEncoder(in_dim, hidden, num_layers, heads)
        self.head = EdgeHead(self.encoder.out_dim, hidden, edge_input, dropout, calibration,
                             n_edge_features(comembership))

    def receptive_field(self, nbr: torch.Tensor, rows: torch.Tensor) -> list[torch.Tensor]:
        """Sorted node sets of ``rows``' edges, widest first: the nodes whose input features
        :meth:`forward` reads, ..., the rows and their neighbours (whose embeddings the edge
        head reads)."""
        return self.encoder.receptive_field(nbr, one_hop(nbr, rows))

    def forward(self, x: torch.Tensor, nbr: torch.Tensor, edge_attr: torch.Tensor,
                rows: torch.Tensor | None = None, field: list[torch.Tensor] | None = None):
        """Scores of the edges of ``rows`` (every row when None).

        ``edge_attr`` is (len(rows), k, F) for those rows, a_ij in column 0. ``x`` holds every
        node's features, or, with ``field`` (:meth:`receptive_field` of ``rows``), those of
        ``field[0]``. Returns (edge logits (E, 2) over the valid edges, valid mask (m, k), d̂
        of the rows (m,)).
        """
        if rows is None:
            rows = torch.arange(nbr.shape[0], device=nbr.device)
        blk = nbr[rows]
        valid = blk >= 0
        targets = field[-1] if field is not None else one_hop(nbr, rows)
        h = self.encoder.forward_targets(x, nbr, targets, field)
        m, k = blk.shape
        hi = h[torch.searchsorted(targets, rows)].unsqueeze(1).expand(-1, k, -1)[valid]
        hj = h[torch.searchsorted(targets, blk[valid])]
        logits = self.head(hi, hj, edge_attr[valid])
        p = torch.zeros(valid.shape, dtype=logits.dtype, device=logits.device).masked_scatter(
            valid, F.softmax(logits, dim=1)[:, 1])
        return logits, valid, _density(p, valid, edge_attr[..., 0])

    @torch.no_grad()
    def predict(self, x: torch.Tensor, nbr: np.ndarray, sim: np.ndarray, chunk: int = 65536):
        """Memory-bounded inference: (p (n, k) with 0 on padding, d̂ (n,)) as numpy arrays.

        Built from the chunk pieces :meth:`GraphEncoder.layer_rows` (via ``forward_chunked``)
        and :meth:`edge_rows` over :meth:`edge_chunks`, which the Ray backend runs as tasks
        with the same boundaries, so both give the same bits.
        """
        n, k = nbr.shape
        dev = next(self.parameters()).device
        # the featurizer first: its build-time temporaries never sit beside the n x hidden h
        featurizer = self.featurizer(nbr, sim)
        h = self.encoder.forward_chunked(x.to(dev), torch.from_numpy(nbr).to(dev), chunk)
        p = np.zeros((n, k), dtype=np.float32)
        for s, e in self.edge_chunks(n, k, chunk):
            p[s:e] = self.edge_rows(h, nbr, sim, featurizer, s, e)
        return p, edge_density(p, nbr, sim)

    def featurizer(self, nbr: np.ndarray, sim: np.ndarray) -> EdgeFeaturizer | None:
        """The relational features of a graph's edges when the head reads them (else None)."""
        if not self.head.needs_features:
            return None
        return EdgeFeaturizer(nbr, sim, self.comembership)

    @staticmethod
    def edge_chunks(n: int, k: int, chunk: int) -> list[tuple[int, int]]:
        """Row blocks of :meth:`predict`'s edge pass: about ``chunk`` edges each."""
        return row_chunks(n, max(1, chunk // max(k, 1)))

    @torch.no_grad()
    def edge_rows(self, h: torch.Tensor, nbr: np.ndarray, sim: np.ndarray,
                  featurizer: EdgeFeaturizer | None, start: int = 0, stop: int | None = None,
                  *, at: np.ndarray | None = None) -> np.ndarray:
        """p_ij of rows ``start:stop`` (or of the rows ``at``): (m, k), 0 on padding. ``h``
        holds the encoder output of every node, ``featurizer`` is :meth:`featurizer` of the
        graph."""
        k = nbr.shape[1]
        dev = h.device
        idx = np.arange(start, nbr.shape[0] if stop is None else stop) if at is None else at
        attr = featurizer.rows(at=idx) if featurizer is not None else sim[idx, :, None]
        valid = nbr[idx] >= 0
        mask = torch.from_numpy(valid).to(dev)
        blk = torch.from_numpy(nbr[idx]).to(dev)
        hi = h[torch.from_numpy(idx).to(dev)].unsqueeze(1).expand(-1, k, -1)[mask]
        logits = self.head(hi, h[blk[mask]], torch.from_numpy(attr[valid]).to(dev))
        p = np.zeros(valid.shape, dtype=np.float32)
        p[valid] = F.softmax(logits, dim=1)[:, 1].cpu().numpy()
        return p


def edge_density(p: np.ndarray, nbr: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """d̂ (n,) of eq. 4 from :meth:`LanderNet.predict`'s edge probabilities."""
    return _density(torch.from_numpy(p), torch.from_numpy(nbr >= 0),
                    torch.from_numpy(sim)).numpy()


def _density(p: torch.Tensor, valid: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """d̂_i of eq. 4 from the (n, k) edge probabilities; padding contributes nothing."""
    e_hat = torch.where(valid, 2.0 * p - 1.0, torch.zeros_like(p))
    # 1/k of eq. 4, with k the number of neighbours actually found
    count = valid.sum(dim=1).clamp(min=1).to(p.dtype)
    return (e_hat * sim).sum(dim=1) / count


def lander_loss(logits: torch.Tensor, same: torch.Tensor, mask: torch.Tensor,
                d_hat: torch.Tensor, density: torch.Tensor, *, balanced: bool = False):
    """L = L_conn + L_den (eqs. 8–11) over E edges and their rows.

    ``same`` is q_ij and ``mask`` 1(d_i ≤ d_j) per edge, ``density`` the true d_i of the rows.
    Masked edges contribute zero but still count in the 1/|E| average, as eq. 9 states. With
    ``balanced`` the positive and negative kept edges weigh half each (unseen identities have
    other positive shares than the training ones, and upper levels are mostly negative).
    """
    mask = mask.to(logits.dtype)
    weight = mask
    if balanced:
        kept = mask.sum()
        pos = (mask * same).sum()
        neg = kept - pos
        w_pos = kept / (2 * pos) if pos > 0 else kept.new_zeros(())
        w_neg = kept / (2 * neg) if neg > 0 else kept.new_zeros(())
        weight = mask * torch.where(same > 0.5, w_pos, w_neg)
    logp = F.log_softmax(logits, dim=1)
    per_edge = same * logp[:, 1] + (1.0 - same) * logp[:, 0]
    l_conn = -(per_edge * weight).sum() / max(per_edge.numel(), 1)
    l_den = F.mse_loss(d_hat, density)
    return l_conn + l_den, l_conn.detach(), l_den.detach()


class CrossFittedNet:
    """K trained networks over one graph, each scoring the nodes it never trained on.

    ``groups[i]`` is the fold of input point i; network f was meta-trained on every fold but
    f. :func:`~hilander.lander.run_hierarchy` asks :meth:`routed` for each level's scorer:
    a node (a super-node at upper levels, whose fold is its peak's) gets its edge
    probabilities and density from its own fold's network, so a whole labeled set is
    clustered at once with out-of-fold scores (cross-fitted selection, inside ``fit``).
    """

    def __init__(self, nets: list[LanderNet], groups: np.ndarray) -> None:
        self.nets = list(nets)
        self.groups = np.asarray(groups)

    def eval(self) -> CrossFittedNet:
        for net in self.nets:
            net.eval()
        return self

    def subset(self, rows: np.ndarray) -> CrossFittedNet:
        """The same networks over the input points ``rows`` only (each keeps its fold)."""
        return CrossFittedNet(self.nets, self.groups[rows])

    def routed(self, rep: np.ndarray) -> _RoutedNet:
        """The scorer of a level whose node i holds the identity of input point ``rep[i]``."""
        return _RoutedNet(self.nets, self.groups[rep])


class _RoutedNet:
    """One level's scorer: each row from the network of its node's fold."""

    def __init__(self, nets: list[LanderNet], node_group: np.ndarray) -> None:
        self.nets, self.node_group = nets, node_group

    @torch.no_grad()
    def predict(self, x: torch.Tensor, nbr: np.ndarray, sim: np.ndarray,
                chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
        n, k = nbr.shape
        p = np.zeros((n, k), dtype=np.float32)
        featurizer = self.nets[0].featurizer(nbr, sim)  # the graph's: every network reads it
        for f, net in enumerate(self.nets):
            rows = np.flatnonzero(self.node_group == f)
            if rows.size == 0:
                continue
            # every node's embedding (a row's neighbours need theirs), this fold's rows' edges
            dev = next(net.parameters()).device
            h = net.encoder.forward_chunked(x.to(dev), torch.from_numpy(nbr).to(dev), chunk)
            step = max(1, chunk // max(k, 1))
            for s in range(0, rows.size, step):
                p[rows[s:s + step]] = net.edge_rows(h, nbr, sim, featurizer,
                                                    at=rows[s:s + step])
        # d̂_i reads only row i's probabilities, so it is the fold network's too
        return p, edge_density(p, nbr, sim)
