"""Small graph layers: the encoder stack and the edge head of LANDER."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv


class GraphEncoder(nn.Module):
    """A stack of GAT layers (PyTorch Geometric's ``GATConv``) with PReLU after each.

    ``forward_chunked`` evaluates the stack layer by layer over chunks of target nodes, which
    gives exactly the full-graph result with memory bounded by the chunk's edges.
    """

    def __init__(self, in_dim: int, hidden: int, num_layers: int = 1, heads: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.acts = nn.ModuleList()
        dim = in_dim
        for _ in range(num_layers):
            # averaged heads keep the width at `hidden` whatever the head count; self loops
            # are added by hand so full-graph and chunked passes agree
            self.convs.append(GATConv(dim, hidden, heads=heads, concat=False, dropout=dropout,
                                      add_self_loops=False))
            self.acts.append(nn.PReLU(hidden))
            dim = hidden
        self.out_dim = dim

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Full-graph pass; ``edge_index`` flows neighbour -> node (self loops added here)."""
        loops = torch.arange(x.shape[0]).repeat(2, 1)
        edge_index = torch.cat([edge_index, loops], dim=1)
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x, edge_index))
        return x

    @torch.no_grad()
    def forward_chunked(self, x: torch.Tensor, nbr: torch.Tensor, chunk: int) -> torch.Tensor:
        """``nbr`` is the (n, k) neighbour table; messages flow from neighbours to each node."""
        n = nbr.shape[0]
        for layer in range(len(self.convs)):
            out = None  # filled in place: a cat of the chunks would hold the output twice
            for s, e in row_chunks(n, chunk):
                rows = self.layer_rows(layer, x, nbr, s, e)
                if out is None:
                    out = rows.new_empty((n, rows.shape[1]))
                out[s:e] = rows
            x = out
        return x

    @torch.no_grad()
    def layer_rows(self, layer: int, x: torch.Tensor, nbr: torch.Tensor, start: int,
                   stop: int) -> torch.Tensor:
        """Output of layer ``layer`` for nodes ``start:stop``; ``x`` is the previous layer's
        output for every node (the input features for layer 0).

        One chunk of :meth:`forward_chunked`: it reads only ``x`` and ``nbr``, so chunks can be
        evaluated anywhere (a Ray task) and concatenated into the same tensor bit for bit.
        """
        targets = torch.arange(start, stop, device=x.device)
        # only the chunk's sources: the layer's projection of every node per chunk made the
        # pass quadratic in n (and held an n x hidden temporary per chunk)
        ids = one_hop(nbr, targets)
        return self.acts[layer](self._conv(self.convs[layer], x[ids], ids, nbr, targets))

    def receptive_field(self, nbr: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
        """Sorted node sets, widest first: the input nodes the encoder reads for ``targets``,
        then the nodes each layer is evaluated on (the last is ``targets``)."""
        hops = [targets]
        for _ in range(len(self.convs)):
            hops.append(one_hop(nbr, hops[-1]))
        hops.reverse()
        return hops

    def forward_targets(self, x: torch.Tensor, nbr: torch.Tensor, targets: torch.Tensor,
                        field: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Embeddings of the ``targets`` nodes only, computed from their full neighbourhoods.

        Layer ``l`` is evaluated on the targets' (L − l)-hop neighbourhood and no further, so a
        mini-batch of seed nodes costs its own receptive field, not the whole graph. ``x``
        holds every node's input feature, or, with ``field`` (:meth:`receptive_field` of the
        targets, computed once by the caller), only those of ``field[0]``.
        """
        if field is None:
            field, src_ids = self.receptive_field(nbr, targets), None  # x: every node
        else:
            src_ids = field[0]
        for conv, act, t in zip(self.convs, self.acts, field[1:], strict=True):
            x = act(self._conv(conv, x, src_ids, nbr, t))
            src_ids = t
        return x

    def _conv(self, conv, x: torch.Tensor, src_ids: torch.Tensor | None, nbr: torch.Tensor,
              targets: torch.Tensor) -> torch.Tensor:
        """One layer on the ``targets``; ``x`` holds the nodes ``src_ids`` (None: all nodes)."""
        rows = nbr[targets]
        valid = rows >= 0
        m, k = rows.shape
        dst_local = torch.arange(m, device=x.device).unsqueeze(1).expand(-1, k)[valid]
        src = rows[valid]
        self_src = targets
        if src_ids is not None:
            # global ids -> positions in the previous layer's node set (sorted)
            src = torch.searchsorted(src_ids, src)
            self_src = torch.searchsorted(src_ids, targets)
        # bipartite call: sources are the known nodes, targets the given ones, plus self loops
        ei = torch.cat([torch.stack([src, dst_local]),
                        torch.stack([self_src, torch.arange(m, device=x.device)])], dim=1)
        return conv((x, x[self_src]), ei, size=(x.shape[0], m))


def one_hop(nbr: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """Sorted ids of ``nodes`` and their neighbours in the (n, k) table ``nbr`` (-1 padding)."""
    rows = nbr[nodes]
    return torch.unique(torch.cat([nodes, rows[rows >= 0]]))


def row_chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of ``size`` rows covering ``0..n``."""
    size = max(1, int(size))
    return [(s, min(s + size, n)) for s in range(0, n, size)]


EDGE_INPUTS = ("relational", "symmetric", "concat", "similarity")


class EdgeHead(nn.Module):
    """Edge MLP giving two logits (different / same identity) per edge.

    ``"concat"`` is the paper's ``[h_i, h_j]``; ``"symmetric"`` adds ``h_i ⊙ h_j`` and
    ``|h_i − h_j|``; ``"similarity"`` adds a_ij. On unseen identities an MLP on embeddings
    tends to learn *where* the training identities lie rather than whether two nodes are alike,
    so ``"relational"`` (default) scores a calibrated base logit plus a learnt correction from
    the symmetric embedding terms and the class-agnostic relations of
    :mod:`hilander.lander.features`. The base is a logistic fit on the training graph, of the
    cosine alone (``calibration="cosine"``: ``scale · a_ij + bias``) or of every relation
    (``"relational"``: ``relation · f_ij + bias``). The correction's last layer starts at
    zero: before any step the head *is* the calibrated base, and checkpoint selection on
    held-out identities can always fall back to it.
    """

    def __init__(self, dim: int, hidden: int, edge_input: str = "relational",
                 dropout: float = 0.0, calibration: str = "cosine",
                 n_features: int = 7) -> None:
        super().__init__()
        self.edge_input = edge_input
        self.calibration = calibration
        self.n_features = n_features
        width = {"concat": 2 * dim, "symmetric": 4 * dim, "similarity": 2 * dim + 1,
                 "relational": 2 * dim + n_features}[edge_input]
        out = 1 if edge_input == "relational" else 2
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, hidden),
                                 nn.PReLU(hidden), nn.Linear(hidden, out))
        if edge_input == "relational":
            nn.init.zeros_(self.mlp[-1].weight)
            nn.init.zeros_(self.mlp[-1].bias)
            self.scale = nn.Parameter(torch.tensor(10.0))
            self.bias = nn.Parameter(torch.tensor(-5.0))
            if calibration == "relational":
                # the base logit weighs every relation (a_ij's weight among them)
                self.scale.requires_grad_(False)
                self.relation = nn.Parameter(torch.zeros(n_features))

    @property
    def needs_features(self) -> bool:
        return self.edge_input == "relational"

    @torch.no_grad()
    def calibrate(self, attr: torch.Tensor, same: torch.Tensor, balanced: bool = True) -> None:
        """Fit the base logit to q_ij by logistic regression (relational head only).

        ``attr`` is (E, F) with a_ij in column 0 (or (E,), a_ij alone). The "cosine"
        calibration fits ``scale · a_ij + bias``; "relational" fits a weight for every
        class-agnostic relation of :mod:`hilander.lander.features` (and ``scale`` stays 0).
        """
        if self.edge_input != "relational":
            return
        from sklearn.linear_model import LogisticRegression

        q = same.reshape(-1).numpy() > 0.5
        if q.all() or not q.any():
            return
        relational = self.calibration == "relational"
        cols = attr.reshape(q.size, -1)  # a 1-D tensor is the cosine column alone
        cols = cols if relational else cols[:, :1]
        lr = LogisticRegression(C=1e4, class_weight="balanced" if balanced else None,
                                max_iter=1000)
        lr.fit(cols.double().numpy(), q)
        if relational:
            self.scale.zero_()
            self.relation.copy_(torch.from_numpy(lr.coef_[0]))
        else:
            self.scale.fill_(float(lr.coef_[0, 0]))
        self.bias.fill_(float(lr.intercept_[0]))

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor,
                edge_attr: torch.Tensor) -> torch.Tensor:
        """``edge_attr`` is (E, F) with a_ij in column 0 (F = 1 suffices but for "relational")."""
        sim = edge_attr[:, 0]
        if self.edge_input == "relational":
            parts = [h_src * h_dst, (h_src - h_dst).abs(), edge_attr]
            z = self.scale * sim + self.bias + self.mlp(torch.cat(parts, dim=-1))[:, 0]
            if self.calibration == "relational":
                z = z + edge_attr @ self.relation
            return torch.stack([torch.zeros_like(z), z], dim=1)
        parts = [h_src, h_dst]
        if self.edge_input == "symmetric":
            parts += [h_src * h_dst, (h_src - h_dst).abs()]
        elif self.edge_input == "similarity":
            parts.append(sim.unsqueeze(-1))
        return self.mlp(torch.cat(parts, dim=-1))
