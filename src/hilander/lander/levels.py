"""Ground-truth level graphs for meta-training Hi-LANDER (paper sec. 3.5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import build_knn_graph
from .aggregation import Aggregator
from .decoding import Links, merge_level, select_edges
from .features import EdgeFeaturizer

#: How the ground-truth levels merge: "label_pure" (paper sec. 3.5: a node links to its most
#: similar same-label denser neighbour) or "density_tree" (the authors' code: a node links to
#: its most similar denser neighbour whatever its label, by the true density).
LEVEL_MODES = ("label_pure", "density_tree")


@dataclass
class LevelGraph:
    """One level's k-NN graph with its supervision: node features, q_ij and d_i."""

    x: np.ndarray          # (n, d) node features fed to the GNN
    nbr: np.ndarray        # (n, k) neighbour ids, -1 padding
    sim: np.ndarray        # (n, k) a_ij, cosine similarity of node features
    same: np.ndarray       # (n, k) q_ij = 1(y_i == y_j), 0 on padding
    density: np.ndarray    # (n,) d_i = (1/k) Σ_j e_ij a_ij with e_ij = ±1
    edge_attr: np.ndarray  # (n, k, F) relational edge features, a_ij first
    labels: np.ndarray     # (n,) identity of each node

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])


def true_density(nbr: np.ndarray, sim: np.ndarray, same: np.ndarray) -> np.ndarray:
    valid = nbr >= 0
    e = np.where(valid, 2.0 * same - 1.0, 0.0)
    return ((e * sim).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)).astype(np.float32)


def same_identity(nbr: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """q_ij: 1 where node i and its neighbour j share an identity, 0 elsewhere and on padding."""
    safe = np.where(nbr >= 0, nbr, 0)
    return ((labels[safe] == labels[:, None]) & (nbr >= 0)).astype(np.float32)


def level_graph(feats: np.ndarray, labels: np.ndarray, k: int, knn_method: str = "auto",
                comembership: bool = False) -> LevelGraph:
    """The supervised k-NN graph of one level's node features and identities
    (``comembership``: the edge features include the co-membership columns)."""
    n = feats.shape[0]
    g = build_knn_graph(feats, min(k, n - 1), normalize=False, method=knn_method)
    nbr, sim = g.indices, g.similarities
    same = same_identity(nbr, labels)
    return LevelGraph(feats, nbr, sim, same, true_density(nbr, sim, same),
                      EdgeFeaturizer(nbr, sim, comembership).rows(), labels)


def build_training_levels(
    X: np.ndarray, y: np.ndarray, k: int, *, aggregation: str = "peak",
    max_levels: int | None = None, knn_method: str = "auto", mode: str = "label_pure",
    comembership: bool = False,
) -> list[LevelGraph]:
    """Run Algorithm 1 with ground-truth edges to get every level's graph.

    Super-nodes inherit their peak's label. Stops when no edge is added.
    """
    agg = Aggregator(X.astype(np.float32), aggregation)
    labels = np.asarray(y)
    levels: list[LevelGraph] = []
    while max_levels is None or len(levels) < max_levels:
        n = agg.identity.shape[0]
        if n < 2:
            break
        level = level_graph(agg.features(), labels, k, knn_method, comembership)
        nbr, sim, same = level.nbr, level.sim, level.same
        if mode == "label_pure":
            # ê_ij is 1 on every same-label edge: break ties by similarity, as the GNN would
            src, dst = select_edges(nbr, same, level.density, 0.5,
                                    score=np.where(same > 0, sim, -np.inf))
        else:
            src, dst = select_edges(nbr, np.ones_like(sim), level.density, 0.5, score=sim)
        if len(src) == 0:
            if not levels:
                levels.append(level)  # still teaches the model to add no edge
            break
        levels.append(level)
        step = merge_level(n, Links(src, dst), level.density)
        agg.merge(step.comp, step.n_comp, step.peaks)
        labels = labels[step.peaks]
    return levels
