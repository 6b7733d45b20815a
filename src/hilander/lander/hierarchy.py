"""Hi-LANDER inference: Algorithm 1 with ID propagation (paper sec. 3.2)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from ..graph import KNNGraph, build_knn_graph
from ..graph.knn import duplicate_groups
from .aggregation import Aggregator
from .decoding import DecodingSettings, link_level, merge_level, place_leftovers
from .network import CrossFittedNet, LanderNet
from .result import HierarchyResult

#: Levels a ``cache`` of :func:`run_hierarchy` keeps (graph and scores of each).
CACHE_LEVELS = 64


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
    model: LanderNet | CrossFittedNet, X: np.ndarray, settings: DecodingSettings, *,
    knn_method: str = "auto", seed: int = 0, chunk: int = 65536, progress: bool = False,
    observer: Callable[[LevelTrace], None] | None = None,
    backend: InferenceBackend | None = None, cache: dict | None = None,
) -> HierarchyResult:
    """Cluster ``X`` (validated, l2-normalised) level by level until no edge is added.

    ``settings`` says how each level is decoded and when to stop; ``model`` is one network, or
    a :class:`CrossFittedNet` scoring each node with the network of its fold. Early stopping
    (sec. 4.3):
    once a level adds more than 1/k of the previous level's edges, the agglomeration is near
    convergence; that level is kept and the loop stops.

    ``backend`` computes level 1's k-NN graph and GNN scores (None: this process, e.g. an
    entered :class:`hilander.distributed.RayBackend` to shard them); the smaller upper levels
    and every decoding step run here. ``cache`` (a dict the caller keeps for runs on the same
    ``X`` and model) holds each level's graph and scores, keyed by the grouping of the points
    it starts from: the selection tries a hundred settings, and level 1, or a level reached
    by the same merges, does not depend on them. Returns the finished result: labels of every
    level, timings (``total`` included), ``X`` and the thresholds used.

    Identical rows are one node from level 1 on, so they share every level's label whatever
    the decoding (a partition decoding could otherwise split a chain of copies).
    """
    if backend is not None and hasattr(backend, "ready"):
        backend.ready()  # say a backend is unusable even when the run would not reach it
    groups = duplicate_groups(X)
    if groups is not None:
        first, inverse = groups
        if isinstance(model, CrossFittedNet):
            model = CrossFittedNet(model.nets, model.groups[first])
        seen = None if observer is None else (
            lambda trace: observer(replace(trace, rep=first[trace.rep])))
        result = run_hierarchy(model, np.ascontiguousarray(X[first]), settings,
                               knn_method=knn_method, seed=seed, chunk=chunk,
                               progress=progress, observer=seen, backend=backend, cache=cache)
        return _spread(result, X, first, inverse)
    t_start = time.perf_counter()
    local = LocalBackend()
    k = settings.n_neighbors
    n_points = X.shape[0]
    agg = Aggregator(X, settings.aggregation)
    assign = np.arange(n_points)        # input point -> current node
    rep = np.arange(n_points)           # current node -> input point holding its identity
    result = HierarchyResult(labels=np.arange(n_points))
    times = {"knn": 0.0, "gnn": 0.0, "decode": 0.0}
    bar = tqdm(desc="Hi-LANDER levels", unit="level", disable=not progress, leave=False)
    prev_edges = None
    model.eval()
    max_levels = settings.max_levels
    while max_levels is None or result.n_levels < max_levels:
        n = agg.identity.shape[0]
        if n < 2:
            result.stopped_by = "single node"
            break
        t0 = time.perf_counter()
        level = result.n_levels + 1
        # a level's graph and scores depend only on how the points are grouped so far
        key = None if cache is None else (
            k, settings.aggregation, hashlib.blake2b(assign.tobytes(), digest_size=16).digest())
        if key is not None and key in cache:
            g, p, dens = cache[key]
            t1 = time.perf_counter()
        else:
            feats = agg.features()
            where = backend if backend is not None and level == 1 else local
            g = where.knn(feats, min(k, n - 1), knn_method, progress and n > 100_000)
            t1 = time.perf_counter()
            scorer = model.routed(rep) if isinstance(model, CrossFittedNet) else model
            p, dens = where.predict(scorer, feats, g.indices, g.similarities, chunk)
            if key is not None:
                if len(cache) >= CACHE_LEVELS:
                    cache.pop(next(iter(cache)))  # the oldest: trials move along a grid
                cache[key] = (g, p, dens)
        result.level_density.append(dens)
        if level == 1:
            first_level = (g.indices, p)
        t2 = time.perf_counter()
        links = link_level(settings.decoding_at(level), g.indices, g.similarities, p, dens,
                           settings.threshold(level), seed, settings.resolution)
        step = merge_level(n, links, dens)
        if observer is not None:
            observer(LevelTrace(level, g.indices, g.similarities, p, dens, rep, step.n_edges))
        times[f"level{level}_knn"] = t1 - t0
        times[f"level{level}_gnn"] = t2 - t1
        times["knn"] += t1 - t0
        times["gnn"] += t2 - t1
        if step.n_edges == 0 or not step.merged:
            times["decode"] += time.perf_counter() - t2
            result.stopped_by = "converged"
            break
        agg.merge(step.comp, step.n_comp, step.peaks)
        assign = step.comp[assign]
        rep = rep[step.peaks]
        result.level_labels.append(assign.copy())
        result.level_peaks.append(rep.copy())
        result.level_edges.append(step.n_edges)
        result.level_nodes.append(n)
        t3 = time.perf_counter()
        times[f"level{level}_decode"] = t3 - t2
        times["decode"] += t3 - t2
        bar.update(1)
        bar.set_postfix(nodes=n, clusters=step.n_comp)
        if settings.early_stopping and prev_edges is not None and step.n_edges > prev_edges / k:
            result.stopped_by = "early stopping"
            break
        prev_edges = step.n_edges
    else:
        result.stopped_by = "max_levels"
    bar.close()
    if result.level_labels:
        result.labels = result.level_labels[-1]
    if settings.leftovers != "keep" and result.level_density:
        result.labels = place_leftovers(result.labels, *first_level, settings.leftovers)
    if backend is not None:
        result.backend_stats = dict(getattr(backend, "stats", {}))
    result.X, result.tau, result.tau_upper = X, float(settings.tau), settings.tau_upper
    times["total"] = time.perf_counter() - t_start
    result.timings = times
    return result


def _spread(result: HierarchyResult, X: np.ndarray, first: np.ndarray,
            inverse: np.ndarray) -> HierarchyResult:
    """A run over the distinct rows ``X[first]`` as a run over every row of ``X``."""
    result.level_labels = [lab[inverse] for lab in result.level_labels]
    result.labels = result.labels[inverse]
    result.level_peaks = [first[peaks] for peaks in result.level_peaks]
    if result.level_density:  # level 1 scored one node per distinct row
        result.level_density[0] = result.level_density[0][inverse]
    result.X = X
    return result
