"""STAR-FC (Shen et al., CVPR 2021): structure-preserving sampling, graph parsing, refinement.

Training draws sub-graphs that keep both local and global structure: ``seed_clusters``
random classes, for each of them its ``nearest_clusters`` most similar classes (by class
centre), plus ``random_clusters`` random classes, each thinned to ``node_ratio`` of its
points. A one-layer GCN embeds the sub-graph's k-NN graph and a head scores every k-NN edge
(same class or not). At test time the whole k-NN graph is scored once; graph parsing drops
edges scored below ``prune`` and graph refinement drops edges whose intimacy (shared
neighbours over neighbourhood size, the larger of the two ends) is below ``intimacy``.
Connected components are the clusters.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from .._validation import l2_normalize
from ..base import COSINE, NONNEG_INT, POSITIVE_INT, UNIT, Param
from ..graph import KNNGraph, build_knn_graph, components
from ._clusterer import SupervisedClusterer, cpu_state, split_classes
from ._gcn_layers import GCNStack, MLPHead
from ._subgraphs import adjacency, device_of, edge_tensors, subset_graph


class STARFCNet(nn.Module):
    """One-layer mean GCN; the head scores an edge from its two ends' embeddings."""

    def __init__(self, in_dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = GCNStack(in_dim, [hidden], dropout)
        self.head = MLPHead(2 * hidden, hidden)

    def embed(self, x: torch.Tensor, edge_index: torch.Tensor,
              edge_weight: torch.Tensor) -> torch.Tensor:
        return self.gcn(x, edge_index, edge_weight)

    def score(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([h[src], h[dst]], dim=1))


def knn_edges(graph: KNNGraph, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    src, dst, sim = graph.edges()
    keep = sim >= threshold
    return src[keep], dst[keep]


def intimacy_filter(n: int, src: np.ndarray, dst: np.ndarray, threshold: float) -> np.ndarray:
    """Mask of edges whose intimacy ``|N_i ∩ N_j| / min(|N_i|, |N_j|)`` reaches ``threshold``.

    ``max(c/|N_i|, c/|N_j|)`` as in the paper; neighbourhoods are taken closed (a node
    belongs to its own), so an isolated linked pair keeps its edge instead of scoring 0.
    """
    if src.size == 0:
        return np.zeros(0, dtype=bool)
    B = sp.csr_matrix((np.ones(src.size, dtype=np.float32), (src, dst)), shape=(n, n))
    B = ((B + B.T + sp.identity(n, format="csr")) > 0).astype(np.float32).tocsr()
    deg = np.asarray(B.sum(axis=1)).ravel()
    common = np.asarray(B[src].multiply(B[dst]).sum(axis=1)).ravel()
    intimacy = np.maximum(common / deg[src], common / deg[dst])
    return intimacy >= threshold


class STARFC(SupervisedClusterer):
    """STAR-FC link predictor with structure-preserving sampling, parsing and refinement.

    Hyper-parameters follow the study's Appendix E.2.3 (Table 26). An epoch draws about as
    many sub-graphs as it takes to visit every class once. The head reads the two ends' GCN
    outputs concatenated (2 x hidden, the study's "1024D" for H=512); ``hidden`` defaults to
    128 instead of 512 for CPU budgets.

    {parameters}

    {attributes}
    net_ : torch.nn.Module
        The trained link network.

    {example}
    """

    _example = "STARFC(epochs=2)"

    _params = {
        "n_neighbors": Param(10, [POSITIVE_INT], "int", "Neighbours of the k-NN graph (N)."),
        "adj_threshold": Param(0.0, [COSINE], "float", "Edges below this cosine are cut "
                               "(tau)."),
        "seed_clusters": Param(4, [POSITIVE_INT], "int", "Seed classes per sampled "
                               "sub-graph (SC)."),
        "nearest_clusters": Param(6, [NONNEG_INT], "int", "Nearest classes added per seed "
                                  "(NC)."),
        "random_clusters": Param(10, [NONNEG_INT], "int", "Random classes added per "
                                 "sub-graph (RC)."),
        "node_ratio": Param(0.9, [Interval(Real, 0, 1, closed="right")], "float",
                            "Share of each sampled class's points kept (RNP)."),
        "prune": Param(0.5, [UNIT], "float", "Link-probability threshold of graph parsing "
                       "(P)."),
        "intimacy": Param(0.6, [UNIT], "float", "Intimacy threshold of graph refinement (I)."),
        "steps_per_subgraph": Param(5, [POSITIVE_INT], "int", "SGD updates made on each "
                                    "sampled sub-graph before drawing the next."),
    }

    @property
    def graph_k(self) -> int:
        return self.n_neighbors

    # -- training -----------------------------------------------------------------------------

    def _sample_nodes(self, y: np.ndarray, members: list[np.ndarray], near: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
        """Structure-preserving sample: seeds, their nearest classes, random classes."""
        n_cls = len(members)
        seeds = rng.choice(n_cls, size=min(self.seed_clusters, n_cls), replace=False)
        chosen = set(seeds.tolist())
        for s in seeds:
            chosen.update(near[s, :self.nearest_clusters].tolist())
        rest = np.setdiff1d(np.arange(n_cls), np.fromiter(chosen, dtype=np.int64))
        if rest.size and self.random_clusters:
            chosen.update(rng.choice(rest, size=min(self.random_clusters, rest.size),
                                     replace=False).tolist())
        parts = []
        for c in sorted(chosen):
            idx = members[c]
            keep = max(1, int(round(idx.size * self.node_ratio)))
            parts.append(rng.choice(idx, size=keep, replace=False))
        return np.concatenate(parts)

    def _fit(self, Xn: np.ndarray, X_raw: np.ndarray, y: np.ndarray, graph: KNNGraph) -> None:
        device = self._device()
        self.net_ = STARFCNet(Xn.shape[1], self.hidden, self.dropout).to(device)
        val = split_classes(y, self.val_fraction, self.random_state)
        train_idx = np.flatnonzero(~val)
        Xt, yt = Xn[train_idx], np.unique(y[train_idx], return_inverse=True)[1]
        members = [np.flatnonzero(yt == c) for c in range(int(yt.max()) + 1)]
        centres = l2_normalize(np.stack([Xt[m].mean(axis=0) for m in members]))
        n_cls = len(members)
        # each class's nearest other classes by centre similarity
        near = (build_knn_graph(centres, min(self.nearest_clusters, n_cls - 1)).indices
                if self.nearest_clusters > 0 and n_cls > 1 else np.zeros((n_cls, 0), int))
        per_sub = self.seed_clusters * (1 + self.nearest_clusters) + self.random_clusters
        n_sub = max(1, int(np.ceil(n_cls / per_sub)))
        loss_fn = nn.BCEWithLogitsLoss()
        net = self.net_

        def edge_loss(x, g: KNNGraph, labels: np.ndarray) -> torch.Tensor:
            ei, ew = edge_tensors(adjacency(g, self.adj_threshold), device)
            src, dst = knn_edges(g, self.adj_threshold)
            h = net.embed(torch.from_numpy(x).to(device), ei, ew)
            target = torch.from_numpy((labels[src] == labels[dst]).astype(np.float32)).to(device)
            return loss_fn(net.score(h, torch.from_numpy(src).to(device),
                                     torch.from_numpy(dst).to(device)), target)

        def train_epoch(opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
            total = 0.0
            for _ in range(n_sub):
                idx = self._sample_nodes(yt, members, near, rng)
                if idx.size < 3:
                    continue
                # the sample gets its own k-NN graph, as in STAR-FC's training
                g = build_knn_graph(Xt[idx], min(self.n_neighbors, idx.size - 1),
                                    normalize=self.normalize)
                # several updates per sampled sub-graph, as STAR-FC's training does
                for _ in range(self.steps_per_subgraph):
                    loss = edge_loss(Xt[idx], g, yt[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                total += loss.item()
            return total / n_sub

        val_loss = None
        if val.any():
            g_val = subset_graph(graph, val)
            X_val, y_val = Xn[val], y[val]

            def val_loss() -> float:
                return edge_loss(X_val, g_val, y_val).item()

        self._train(net, train_epoch, val_loss, "STAR-FC")

    # -- inference ----------------------------------------------------------------------------

    def _links(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph):
        # every k-NN edge kept by ``adj_threshold``
        device = device_of(self.net_)
        ei, ew = edge_tensors(adjacency(graph, self.adj_threshold), device)
        src, dst = knn_edges(graph, self.adj_threshold)
        with torch.no_grad():
            h = self.net_.embed(torch.from_numpy(Xn).to(device), ei, ew)
            prob = torch.sigmoid(self.net_.score(h, torch.from_numpy(src).to(device),
                                                 torch.from_numpy(dst).to(device))).cpu().numpy()
        return src, dst, prob

    def _predict(self, Xn: np.ndarray, X_raw: np.ndarray, graph: KNNGraph) -> np.ndarray:
        n = Xn.shape[0]
        src, dst, prob = self._links(Xn, X_raw, graph)
        keep = prob >= self.prune  # graph parsing
        src, dst = src[keep], dst[keep]
        keep = intimacy_filter(n, src, dst, self.intimacy)  # graph refinement
        return components(n, src[keep], dst[keep])[1]

    def _state(self) -> dict:
        return {"net": cpu_state(self.net_)}

    def _set_state(self, state: dict) -> None:
        self.net_ = STARFCNet(self.n_features_in_, self.hidden, self.dropout)
        self.net_.load_state_dict(state["net"])
        self.net_.eval().to(self._device())
