"""Incremental assignment: new points join the clusters of an earlier Hi-LANDER run.

Its command-line layer is :mod:`hilander.cli.assign` (``hilander assign``), which shares
its file name: one concept at two layers.

The earlier run is replayed level by level without re-clustering anything. At each level the
new (still unassigned) nodes are searched against the union of that level's old nodes and
the new ones, the GNN scores their edges on that local union graph, and Hi-LANDER's decoding
rule (eqs. 5-6) decides: a new node links to its best denser neighbour with p ≥ τ. A link to
an old node puts it in that node's final cluster; links between new nodes chain them
together; a new node that links to nothing but that an old neighbour would link to (the
reverse edge, which the re-run's undirected components would also follow) joins that
neighbour. What is left becomes super-nodes (peak identity, mean feature) for the next level,
as Algorithm 1 does, and finally new clusters.

Old nodes keep the densities the earlier run gave them, so only rows around the new points
are ever scored: the cost grows with the number of new points, not with the clustered set
(except for one index over the old features per level).
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import InputError, l2_normalize, relabel
from ..graph import drop_self, knn_method_for, make_index
from .aggregation import aggregate, node_features
from .decoding import DecodingSettings, Links, merge_level, select_edges
from .network import LanderNet
from .result import HierarchyResult


def assign_points(model: LanderNet, result: HierarchyResult, X_new: np.ndarray,
                  settings: DecodingSettings, *, knn_method: str = "auto") -> np.ndarray:
    """Cluster id of each row of ``X_new`` (l2-normalised) in the run ``result``.

    ``settings`` are the decoding settings of that run (its thresholds, k and aggregation).
    Ids below ``result.n_clusters`` are clusters of that run; new clusters are numbered from
    ``result.n_clusters`` up. ``decoding="similarity"`` thresholds and ranks links by the
    cosine, as that decoding does; any other decoding (Infomap included, whose partition
    cannot be extended point by point) links by the peak rule on p_ij.
    """
    if result.X is None or not result.level_density:
        raise InputError("this result cannot take new points: it has no features or "
                         "densities (use the result of HiLander.cluster, or a file written "
                         "by HierarchyResult.save)")

    X_old = l2_normalize(np.asarray(result.X, dtype=np.float32), copy=False)
    if X_old.shape[1] != X_new.shape[1]:
        raise InputError(f"X_new has {X_new.shape[1]} features but the earlier run clustered "
                         f"{X_old.shape[1]}")
    hops = len(model.encoder.convs)
    m = X_new.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    # old side of the current level: node features and each node's final cluster
    old_ident, old_avg = X_old, X_old
    old_rep = np.arange(X_old.shape[0])          # old node -> input point representing it
    # new side: super-nodes still unassigned, and which super-node each new point belongs to
    new_ident, new_avg = X_new, X_new
    member = np.arange(m)                          # new point -> current new node (-1: done)
    for level, old_dens in enumerate(result.level_density):
        n_old, n_new = old_ident.shape[0], new_ident.shape[0]
        if n_new == 0:
            break
        feats = np.concatenate([node_features(old_ident, old_avg, settings.aggregation),
                                node_features(new_ident, new_avg, settings.aggregation)])
        target, new_dens = _link_level(model, feats, n_old, old_dens,
                                       k=settings.n_neighbors, tau=settings.threshold(level + 1),
                                       hops=hops, knn_method=knn_method,
                                       by_similarity=settings.decoding == "similarity")
        # new nodes chained by new->new links form groups; a group takes the old cluster its
        # root linked to (at most one member links out of the group unless densities tie)
        src = np.flatnonzero(target >= n_old)
        groups = merge_level(n_new, Links(src, target[src] - n_old), new_dens)
        n_comp, comp = groups.n_comp, groups.comp
        to_old = (target >= 0) & (target < n_old)
        group_label = np.full(n_comp, -1, dtype=np.int64)
        final_of_old = result.labels[old_rep]
        group_label[comp[to_old]] = final_of_old[target[to_old]]
        node_label = group_label[comp]
        live = member >= 0
        out[live] = np.where(node_label[member[live]] >= 0, node_label[member[live]], -1)
        # unassigned groups become the next level's new super-nodes
        open_groups = np.flatnonzero(group_label < 0)
        if open_groups.size == 0 or level + 1 >= len(result.level_density):
            member = np.where(live, _remap(comp, open_groups)[np.maximum(member, 0)], -1)
            new_ident, new_avg = _supernodes(new_ident, groups, open_groups)
            break
        member = np.where(live, _remap(comp, open_groups)[np.maximum(member, 0)], -1)
        new_ident, new_avg = _supernodes(new_ident, groups, open_groups)
        old_ident, old_avg, old_rep = _advance_old(result, level, old_ident, old_rep)
    # what no level placed opens new clusters, one per remaining super-node
    rest = member >= 0
    out[rest & (out < 0)] = result.n_clusters + member[rest & (out < 0)]
    return _compact_new(out, result.n_clusters)


def _link_level(model: LanderNet, feats: np.ndarray, n_old: int, old_dens: np.ndarray, *,
                k: int, tau: float, hops: int, knn_method: str, by_similarity: bool = False):
    """Target (index into ``feats``, or -1) of every new node, and the new nodes' densities."""
    n_all = feats.shape[0]
    n_new = n_all - n_old
    kk = min(k, n_all - 1)
    if kk < 1:
        return np.full(n_new, -1), np.zeros(n_new, np.float32)
    index = make_index(feats, knn_method_for(n_all, knn_method), nprobe=16, hnsw_m=32, seed=0)
    nodes, nbr, sim = _local_graph(index, feats, np.arange(n_old, n_all), kk, hops)
    p, dens = model.predict(torch.from_numpy(feats[nodes]), nbr, sim)
    if by_similarity:
        p = sim  # the link score of the "similarity" decoding; densities stay the GNN's
    # densities: old nodes keep the earlier run's, new nodes get the GNN's on the union graph
    is_new = nodes >= n_old
    local_dens = np.where(is_new, dens, old_dens[np.minimum(nodes, n_old - 1)])
    rows = np.flatnonzero(is_new)                 # the new nodes come first in ``nodes``
    # eqs. 5-6 on the new nodes' rows of the local graph
    src, dst = select_edges(nbr[rows], p[rows], local_dens, tau, rows=rows)
    target = np.full(rows.size, -1, dtype=np.int64)
    target[src] = nodes[dst]
    # reverse edges: an old neighbour whose row lists a peak with p >= tau and no lower density
    peak = target < 0
    if peak.any():
        old_rows = np.flatnonzero(~is_new & (nbr[:, 0] >= 0))
        if old_rows.size:
            cols = nbr[old_rows]
            ok = (cols >= 0) & (p[old_rows] >= tau)
            ok &= is_new[np.maximum(cols, 0)]
            ok &= local_dens[old_rows, None] <= local_dens[np.maximum(cols, 0)]
            r, c = np.nonzero(ok)
            new_local = cols[r, c]
            prob = p[old_rows[r], c]
            order = np.argsort(prob)               # the most likely link is written last
            pick = np.full(rows.size, -1, dtype=np.int64)
            pick[new_local[order]] = nodes[old_rows[r[order]]]
            target = np.where(peak & (pick >= 0), pick, target)
    return target, dens[rows].astype(np.float32)


def _local_graph(index, feats: np.ndarray, seeds: np.ndarray, k: int, hops: int):
    """k-NN rows of every node within ``hops`` links of ``seeds``, re-indexed locally.

    A node's embedding after L message-passing layers depends on the rows of the nodes within
    L - 1 links of it, and a seed's edge scores need the embeddings of both ends (the seed and
    its neighbours): rows are therefore searched up to L links from the seeds; the next ring
    only lends features. Seeds come first in the returned ``nodes``.
    """
    searched: list[np.ndarray] = []
    ids_parts, sim_parts = [], []
    seen = np.zeros(feats.shape[0], dtype=bool)
    frontier = seeds
    for _ in range(hops + 1):
        frontier = frontier[~seen[frontier]]
        if frontier.size == 0:
            break
        seen[frontier] = True
        found_sims, found_ids = index.search(feats[frontier], k + 1)
        ids, sims = drop_self(found_ids, found_sims, frontier, k)
        searched.append(frontier)
        ids_parts.append(ids)
        sim_parts.append(sims)
        frontier = np.unique(ids[ids >= 0])
    rows = np.concatenate(searched)
    ids = np.concatenate(ids_parts)
    sims = np.concatenate(sim_parts).astype(np.float32)
    outer = np.setdiff1d(np.unique(ids[ids >= 0]), rows)
    nodes = np.concatenate([rows, outer])
    local = np.full(feats.shape[0], -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.size)
    nbr = np.full((nodes.size, k), -1, dtype=np.int64)
    sim = np.zeros((nodes.size, k), dtype=np.float32)
    nbr[: rows.size] = np.where(ids >= 0, local[np.maximum(ids, 0)], -1)
    sim[: rows.size] = np.where(ids >= 0, sims, 0.0)
    return nodes, nbr, sim


def _remap(comp: np.ndarray, open_groups: np.ndarray) -> np.ndarray:
    """Node -> index among the open groups (-1 for groups that were assigned)."""
    slot = np.full(comp.max() + 1 if comp.size else 0, -1, dtype=np.int64)
    slot[open_groups] = np.arange(open_groups.size)
    return slot[comp]


def _supernodes(ident: np.ndarray, groups, open_groups: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Peak identity and mean features of the open groups, as Algorithm 1 aggregates."""
    identity, average = aggregate(ident, groups.comp, groups.n_comp, groups.peaks)
    return identity[open_groups], average[open_groups]


def _advance_old(result: HierarchyResult, level: int, ident: np.ndarray, rep: np.ndarray):
    """The earlier run's nodes one level up: the clusters of ``level_labels[level]``."""
    point_to_node = np.full(result.labels.shape[0], -1, dtype=np.int64)
    point_to_node[rep] = np.arange(rep.size)
    comp = result.level_labels[level][rep]
    next_rep = result.level_peaks[level]
    peaks = point_to_node[next_rep]
    identity, average = aggregate(ident, comp, next_rep.size, peaks)
    return identity, average, next_rep


def _compact_new(labels: np.ndarray, n_old: int) -> np.ndarray:
    """Renumber the new clusters n_old, n_old + 1, ... in order of first appearance."""
    new = labels >= n_old
    labels = labels.copy()
    labels[new] = n_old + relabel(labels[new])
    return labels
