"""Per-pivot sub-graphs as padded dense batches, and the link-prediction loop over them.

GCN-E and L-GCN both build, for every pivot node, a small sub-graph of nearby nodes and
predict which of them belong with the pivot. Sub-graphs are stored as index tables
(``nodes`` padded with ``-1``) and materialised batch by batch, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._gcn_layers import DenseLinkNet
from ._subgraphs import device_of


@dataclass
class PivotSubgraphs:
    """Sub-graphs around ``pivots``; row ``p`` lists its nodes in ``nodes[p]`` (``-1`` pads).

    ``score`` marks the nodes whose link to the pivot is predicted (and trained), ``labels``
    whether each node shares the pivot's class (training only), ``adjacency(nodes, mask)``
    returns the row-normalised (B, m, m) adjacency of a batch.
    """

    pivots: np.ndarray
    nodes: np.ndarray
    mask: np.ndarray
    score: np.ndarray
    adjacency: Callable[[np.ndarray, np.ndarray], np.ndarray]
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.pivots.shape[0])

    def batch(self, Xn: np.ndarray, rows: np.ndarray, device: torch.device | str = "cpu"):
        """Tensors of the sub-graphs ``rows`` on ``device``: features are offsets from the
        pivot. Built in numpy per batch, then moved: only one batch is ever on the device."""
        nodes, mask = self.nodes[rows], self.mask[rows]
        # the pivot-relative offset encodes direction, as in GCN-E and L-GCN
        x = Xn[np.maximum(nodes, 0)] - Xn[self.pivots[rows]][:, None, :]
        x[~mask] = 0.0
        adj = self.adjacency(nodes, mask)
        return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device),
                torch.from_numpy(adj.astype(np.float32)).to(device),
                torch.from_numpy(mask).to(device))


def normalize_rows(adj: np.ndarray) -> np.ndarray:
    deg = adj.sum(axis=-1, keepdims=True)
    return np.divide(adj, deg, out=np.zeros_like(adj), where=deg > 0)


def fit_link_net(est, net: DenseLinkNet, train: tuple[PivotSubgraphs, np.ndarray],
                 val: tuple[PivotSubgraphs, np.ndarray] | None, desc: str) -> list[float]:
    """Train ``net`` with binary cross-entropy on the scored nodes of each sub-graph.

    ``train``/``val`` pair the sub-graphs with the feature matrix they index. Hyper-
    parameters (``batch_size``, lr, ...) and the loop come from the estimator ``est``.
    """
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    device = device_of(net)

    def run(data: PivotSubgraphs, Xn: np.ndarray, rows: np.ndarray):
        x, adj, mask = data.batch(Xn, rows, device)
        logits = net(x, adj, mask)
        score = torch.from_numpy(data.score[rows]).to(device)
        target = torch.from_numpy(data.labels[rows].astype(np.float32)).to(device)
        return loss_fn(logits[score], target[score]), int(score.sum())

    def train_epoch(opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
        data, Xn = train
        order = rng.permutation(len(data))
        total, count = 0.0, 0
        for s in range(0, order.size, est.batch_size):
            loss, m = run(data, Xn, order[s:s + est.batch_size])
            if m == 0:
                continue
            opt.zero_grad()
            (loss / m).backward()
            opt.step()
            total, count = total + float(loss.detach()), count + m
        return total / max(count, 1)

    def val_loss() -> float:
        data, Xn = val
        total, count = 0.0, 0
        for s in range(0, len(data), est.batch_size):
            loss, m = run(data, Xn, np.arange(s, min(s + est.batch_size, len(data))))
            total, count = total + float(loss), count + m
        return total / max(count, 1)

    use_val = val is not None and len(val[0]) > 0
    return est._train(net, train_epoch, val_loss if use_val else None, desc)


@torch.no_grad()
def link_probabilities(net: DenseLinkNet, data: PivotSubgraphs, Xn: np.ndarray,
                       batch_size: int) -> np.ndarray:
    """(P, m) probability that each node links to its pivot; NaN where not scored."""
    net.eval()
    out = np.full(data.nodes.shape, np.nan, dtype=np.float32)
    device = device_of(net)
    for s in range(0, len(data), batch_size):
        rows = np.arange(s, min(s + batch_size, len(data)))
        x, adj, mask = data.batch(Xn, rows, device)
        prob = torch.sigmoid(net(x, adj, mask)).cpu().numpy()
        out[rows] = np.where(data.score[rows], prob, np.nan)
    return out


def scored_pairs(data: PivotSubgraphs, prob: np.ndarray):
    """Flatten per-pivot probabilities to ``(pivot, node, probability)`` arrays."""
    rows, cols = np.nonzero(data.score)
    return data.pivots[rows], data.nodes[rows, cols], prob[rows, cols]
