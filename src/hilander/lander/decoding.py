"""Graph decoding: how one level's scored edges become the next level's super-nodes.

Every decoding rule lives here (:func:`link_level`: the peak rule of eqs. 5-6, the similarity
threshold of the authors' code, Infomap on the learnt edges), and :func:`merge_level` turns
a level's links into components and their peaks. Inference (:mod:`.hierarchy`), the
ground-truth training levels (:mod:`.levels`) and incremental assignment (:mod:`.assign`)
all take their level step from these functions. :class:`DecodingSettings` is what the
selection chooses and :func:`hilander.lander.run_hierarchy` applies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..graph import components
from ..graph.linkage import sparse_linkage
from ..graph.partition import infomap_partition, leiden_partition, undirected_edges

#: Decodings of a level. The first two build the paper's tree: "peak" (eqs. 5-6: each node
#: links to its best denser neighbour with p_ij ≥ τ) and "similarity" (the authors' code's
#: alternative: the same tree, but the threshold is on the cosine a_ij and the best neighbour
#: is the most similar one). The others partition the graph of learnt edges as a tuned
#: baseline partitions the cosine graph: "infomap" (the map equation on the edges with
#: p_ij ≥ τ, weighted by p_ij, as FaceMap does on cosines), "leiden" (modularity on the same
#: edges; its resolution is ``resolution`` per node, so the same value carries to graphs of
#: other sizes), "cpm" (Leiden's constant Potts model on every edge weighted by p_ij: a
#: community must hold a mean weight above τ) and "average" (average-linkage agglomeration on
#: the edges, merging while the mean p_ij between two clusters is at least τ).
DECODINGS = ("peak", "similarity", "infomap", "leiden", "cpm", "average")

#: Decodings that partition level 1 only; the levels above use the peak rule at
#: ``tau_upper``. The map equation and modularity judge a community against the whole graph,
#: so on the small, dense graph of super-nodes (k neighbours among a few dozen nodes) they
#: merge everything: 460 synthetic points of 25 identities, Infomap at level 2 put 33
#: super-nodes into 1 cluster (avg F 0.68), where the peak rule gave 22 (0.99). CPM and
#: average linkage compare a group's mean p_ij with τ, which does not depend on the graph's
#: size, and decode every level.
LEVEL_ONE_DECODINGS = ("infomap", "leiden")

#: What becomes of a point still alone when the hierarchy stops (it linked to nothing at any
#: level): "keep" it as its own cluster (the paper), "attach" it to the cluster of its
#: level-1 neighbour with the highest p_ij, or mark it "noise" (-1). On new identities less
#: tight than the training ones, Hi-LANDER leaves many such points and over-splits (314
#: clusters for 39 intents on a held-out intent set).
LEFTOVERS = ("keep", "attach", "noise")


@dataclass(frozen=True)
class DecodingSettings:
    """How a trained network's scores become clusters, level after level.

    Attributes
    ----------
    tau : float
        Edge threshold p_τ of level 1 (a cosine threshold with ``decoding="similarity"``).
    tau_upper : float or None
        Threshold of levels ≥ 2 (None: ``tau``).
    max_levels : int or None
        Cap on levels; 1 is one-level LANDER, None runs until no edge is added.
    decoding : str
        One of :data:`DECODINGS`.
    n_neighbors : int
        Neighbours per node of every level's k-NN graph.
    aggregation : str
        Super-node feature of levels ≥ 2 ("peak", "mean" or "concat", eq. 7).
    early_stopping : bool
        Stop once a level adds more than 1/k of the previous level's edges (sec. 4.3).
    resolution : float or None
        ``decoding="leiden"`` only: modularity resolution per node; a graph of n nodes is
        partitioned at resolution ``resolution * n``. Modularity merges two communities of
        sizes a and b when the weight between them exceeds ``resolution * n`` times what
        the configuration model expects, about ``a * b * mean_degree / n``: the n cancels, so
        one value means the same on 3,000 points and on 30,000. None: plain modularity
        (resolution 1).
    leftovers : str
        One of :data:`LEFTOVERS`: what becomes of points that end alone.
    """

    tau: float
    tau_upper: float | None = None
    max_levels: int | None = None
    decoding: str = "peak"
    n_neighbors: int = 10
    aggregation: str = "peak"
    early_stopping: bool = True
    resolution: float | None = None
    leftovers: str = "keep"

    def threshold(self, level: int) -> float:
        """The threshold of ``level`` (1 for the input points)."""
        return self.tau if level == 1 or self.tau_upper is None else self.tau_upper

    def decoding_at(self, level: int) -> str:
        """The decoding of ``level`` (see :data:`LEVEL_ONE_DECODINGS`)."""
        return "peak" if level > 1 and self.decoding in LEVEL_ONE_DECODINGS else self.decoding

    def replace(self, **changes) -> DecodingSettings:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def select_edges(nbr: np.ndarray, p: np.ndarray, density: np.ndarray, tau: float,
                 score: np.ndarray | None = None,
                 rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each node links to its best denser neighbour with p_ij ≥ τ (eqs. 5-6).

    E(i) = {j : d_i ≤ d_j and p_ij ≥ τ}; pick argmax_j ê_ij (``score`` defaults to p, since
    ê = 2p − 1 is monotone in p). Nodes with empty E(i) are peaks. ``nbr`` and ``p`` hold the
    lists of the nodes ``rows`` (None: every node, in order); ``density`` covers every node
    ``nbr`` points to. Returns (src, dst): src indexes the rows of ``nbr``.
    """
    valid = nbr >= 0
    safe = np.where(valid, nbr, 0)
    own = density if rows is None else density[rows]
    cand = valid & (p >= tau) & (own[:, None] <= density[safe])
    score = p if score is None else score
    masked = np.where(cand, score, -np.inf)
    best = masked.argmax(axis=1)
    has = cand.any(axis=1)
    src = np.flatnonzero(has)
    return src, safe[src, best[has]]


@dataclass
class Links:
    """A level's decoded links; ``comp`` is set when the rule partitions by itself."""

    src: np.ndarray
    dst: np.ndarray
    comp: np.ndarray | None = None


def link_level(decoding: str, nbr: np.ndarray, sim: np.ndarray, p: np.ndarray,
               density: np.ndarray, tau: float, seed: int = 0,
               resolution: float | None = None) -> Links:
    """The links one level adds under ``decoding`` (see :data:`DECODINGS`)."""
    if decoding == "similarity":
        return Links(*select_edges(nbr, sim, density, tau))
    if decoding == "peak":
        return Links(*select_edges(nbr, p, density, tau))
    n = nbr.shape[0]
    keep = (nbr >= 0) & ((p >= tau) if decoding in ("infomap", "leiden") else (p > 0))
    rows = np.broadcast_to(np.arange(n)[:, None], nbr.shape)
    src, dst, w = rows[keep], nbr[keep], p[keep].astype(np.float64)
    if decoding == "infomap":
        comp = infomap_partition(n, src, dst, w, seed=seed)
    elif decoding == "leiden":
        per_node = 1.0 / n if resolution is None else resolution
        comp = leiden_partition(n, src, dst, w, resolution=per_node * n, seed=seed)
    elif decoding == "cpm":
        comp = leiden_partition(n, src, dst, w, resolution=max(tau, 1e-6), objective="cpm",
                                seed=seed)
    else:  # "average"
        a, b, wu = undirected_edges(n, src, dst, w)
        # merge while the mean p_ij between two clusters is at least tau
        comp = sparse_linkage(n, a, b, 1.0 - wu, "average",
                              distance_threshold=1.0 - tau + 1e-12)
    if decoding != "infomap":
        # the edges this level adds are those its communities keep inside (Infomap's count
        # every kept edge, as they always did)
        inside = comp[src] == comp[dst]
        src, dst = src[inside], dst[inside]
    return Links(src, dst, comp)


def count_edges(src: np.ndarray, dst: np.ndarray) -> int:
    """Distinct undirected edges (i→j and j→i count once)."""
    if len(src) == 0:
        return 0
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    return int(np.unique(a.astype(np.int64) * (max(a.max(), b.max()) + 1) + b).size)


def component_peaks(labels: np.ndarray, n_comp: int, density: np.ndarray) -> np.ndarray:
    """Index of the densest node of each component (ties: lowest index)."""
    order = np.lexsort((np.arange(len(labels)), -density, labels))
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    peaks = np.empty(n_comp, dtype=np.int64)
    peaks[labels[order[first]]] = order[first]
    return peaks


@dataclass
class LevelMerge:
    """One level step: ``comp`` maps each of ``n`` nodes to one of ``n_comp`` super-nodes,
    ``peaks`` each super-node to its densest node; ``n_edges`` distinct links were added."""

    n_comp: int
    comp: np.ndarray
    peaks: np.ndarray
    n_edges: int

    @property
    def merged(self) -> bool:
        """Whether any two nodes became one."""
        return self.n_comp < self.comp.size


def merge_level(n: int, links: Links, density: np.ndarray) -> LevelMerge:
    """Components of ``links`` over ``n`` nodes and the peak (densest node) of each."""
    if links.comp is None:
        n_comp, comp = components(n, links.src, links.dst)
    else:
        comp, n_comp = links.comp, int(links.comp.max()) + 1 if n else 0
    return LevelMerge(n_comp, comp, component_peaks(comp, n_comp, density),
                      count_edges(links.src, links.dst))


def place_leftovers(labels: np.ndarray, nbr: np.ndarray, p: np.ndarray,
                    how: str) -> np.ndarray:
    """Final labels with the points left alone handled as ``how`` says (:data:`LEFTOVERS`).

    ``nbr`` and ``p`` are level 1's neighbour lists and link probabilities. "attach" moves
    each lone point into the cluster of its neighbour with the highest p_ij among those in a
    cluster of two or more (a point whose neighbours are all alone stays alone); "noise"
    labels lone points -1; "keep" returns ``labels`` as they are.
    """
    if how == "keep":
        return labels
    sizes = np.bincount(labels)
    alone = sizes[labels] == 1
    if how == "noise":
        return np.where(alone, -1, labels)
    rows = np.flatnonzero(alone)
    if rows.size == 0:
        return labels
    cand = nbr[rows]
    valid = cand >= 0
    safe = np.where(valid, cand, 0)
    ok = valid & ~alone[safe]
    score = np.where(ok, p[rows], -np.inf)
    best = score.argmax(axis=1)
    has = ok.any(axis=1)
    out = labels.copy()
    out[rows[has]] = labels[safe[has, best[has]]]
    return out
