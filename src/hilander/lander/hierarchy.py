"""Hi-LANDER inference: Algorithm 1 with ID propagation (paper sec. 3.2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from ..graph import KNNGraph, build_knn_graph, components
from ..graph.partition import infomap_partition
from .aggregation import Aggregator
from .decoding import component_peaks, count_edges, select_edges
from .network import LanderNet
from .result import HierarchyResult

#: Decodings of a level: "peak" (eqs. 5-6: each node links to its best denser neighbour with
#: p_ij ≥ τ), "similarity" (the authors' code's alternative: the same tree, but the threshold
#: is on the cosine a_ij and the best neighbour is the most similar one) or "infomap" (the map
#: equation on every edge with p_ij ≥ τ, weighted by p_ij, as FaceMap does on cosines).
DECODINGS = ("peak", "similarity", "infomap")


@dataclass
class LevelTrace:
    """What one level saw, for diagnostics: its graph, the model's outputs and its nodes."""

    level: int
    nbr: np.ndarray
    sim: np.ndarray
    p: np.ndarray
    density: np.ndarray
    rep: np.ndarray       # node -> input point holding its identity
    n_edges: int


class InferenceBackend(Protocol):
    """Where a level's k-NN graph and GNN scores are computed (see :func:`run_hierarchy`)."""

    def knn(self, feats: np.ndarray, k: int, method: str, progress: bool) -> KNNGraph:
        """k-NN graph of the l2-normalised rows of ``feats``, as ``build_knn_graph`` gives it."""
        ...

    def predict(self, model: LanderNet, feats: np.ndarray, nbr: np.ndarray, sim: np.ndarray,
                chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """``(p, density)`` as ``model.predict`` gives them."""
        ...


class LocalBackend:
    """This process: faiss and torch here (the default of every level)."""

    def knn(self, feats: np.ndarray, k: int, method: str, progress: bool) -> KNNGraph:
        return build_knn_graph(feats, k, normalize=False, method=method, progress=progress)

    def predict(self, model: LanderNet, feats: np.ndarray, nbr: np.ndarray, sim: np.ndarray,
                chunk: int) -> tuple[np.ndarray, np.ndarray]:
        return model.predict(torch.from_numpy(feats), nbr, sim, chunk=chunk)


def run_hierarchy(
    model: LanderNet, X: np.ndarray, *, k: int, tau: float, aggregation: str,
    max_levels: int | None = None, early_stopping: bool = True, knn_method: str = "auto",
    chunk: int = 65536, progress: bool = False, tau_upper: float | None = None,
    decoding: str = "peak", observer: Callable[[LevelTrace], None] | None = None,
    seed: int = 0, backend: InferenceBackend | None = None,
) -> HierarchyResult:
    """Cluster ``X`` (already validated, l2-normalised) level by level until no edge is added.

    ``tau_upper`` is the threshold of levels ≥ 2 (None: ``tau``). Early stopping (sec. 4.3):
    once a level adds more than 1/k of the previous level's edges, the agglomeration is near
    convergence; that level is kept and the loop stops.

    ``backend`` computes level 1's k-NN graph and GNN scores (None: this process, e.g. a
    :class:`hilander.distributed.RayBackend` to shard them); the smaller upper levels and
    every decoding step run here.
    """
    local = LocalBackend()
    n_points = X.shape[0]
    agg = Aggregator(X, aggregation)
    assign = np.arange(n_points)        # input point -> current node
    rep = np.arange(n_points)           # current node -> input point holding its identity
    result = HierarchyResult(labels=np.arange(n_points))
    times = {"knn": 0.0, "gnn": 0.0, "decode": 0.0}
    bar = tqdm(desc="Hi-LANDER levels", unit="level", disable=not progress, leave=False)
    prev_edges = None
    model.eval()
    while max_levels is None or result.n_levels < max_levels:
        n = agg.identity.shape[0]
        if n < 2:
            result.stopped_by = "single node"
            break
        t0 = time.perf_counter()
        feats = agg.features()
        level = result.n_levels + 1
        where = backend if backend is not None and level == 1 else local
        g = where.knn(feats, min(k, n - 1), knn_method, progress and n > 100_000)
        t1 = time.perf_counter()
        p, dens = where.predict(model, feats, g.indices, g.similarities, chunk)
        result.level_density.append(dens)
        t2 = time.perf_counter()
        t = tau if level == 1 or tau_upper is None else tau_upper
        comp = None
        if decoding == "similarity":
            src, dst = select_edges(g.indices, g.similarities, dens, t)
        elif decoding == "infomap":
            src, dst, comp = _infomap_level(g.indices, p, t, seed)
        else:
            src, dst = select_edges(g.indices, p, dens, t)
        n_edges = count_edges(src, dst)
        if observer is not None:
            observer(LevelTrace(level, g.indices, g.similarities, p, dens, rep, n_edges))
        times[f"level{level}_knn"] = t1 - t0
        times[f"level{level}_gnn"] = t2 - t1
        times["knn"] += t1 - t0
        times["gnn"] += t2 - t1
        if n_edges == 0:
            times["decode"] += time.perf_counter() - t2
            result.stopped_by = "converged"
            break
        if comp is None:
            n_comp, comp = components(n, src, dst)
        else:
            n_comp = int(comp.max()) + 1
        if n_comp == n:
            times["decode"] += time.perf_counter() - t2
            result.stopped_by = "converged"
            break
        peaks = component_peaks(comp, n_comp, dens)
        agg.merge(comp, n_comp, peaks)
        assign = comp[assign]
        rep = rep[peaks]
        result.level_labels.append(assign.copy())
        result.level_peaks.append(rep.copy())
        result.level_edges.append(n_edges)
        result.level_nodes.append(n)
        t3 = time.perf_counter()
        times[f"level{level}_decode"] = t3 - t2
        times["decode"] += t3 - t2
        bar.update(1)
        bar.set_postfix(nodes=n, clusters=n_comp)
        if early_stopping and prev_edges is not None and n_edges > prev_edges / k:
            result.stopped_by = "early stopping"
            break
        prev_edges = n_edges
    else:
        result.stopped_by = "max_levels"
    bar.close()
    if result.level_labels:
        result.labels = result.level_labels[-1]
    result.timings = times
    if backend is not None:
        result.backend_stats = dict(getattr(backend, "stats", {}))
    return result


def _infomap_level(nbr: np.ndarray, p: np.ndarray, tau: float, seed: int):
    """Edges with p_ij ≥ τ and the Infomap partition of the graph they form, weighted by p."""
    keep = (nbr >= 0) & (p >= tau)
    rows = np.broadcast_to(np.arange(nbr.shape[0])[:, None], nbr.shape)
    src, dst = rows[keep], nbr[keep]
    return src, dst, infomap_partition(nbr.shape[0], src, dst, p[keep], seed=seed)
