"""Hi-LANDER inference: Algorithm 1 with ID propagation (paper sec. 3.2)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import InputError
from ..graph import KNNGraph, build_knn_graph, components
from ..graph.partition import infomap_partition
from .aggregation import Aggregator
from .decoding import component_peaks, count_edges, select_edges
from .network import LanderNet


@dataclass
class HierarchyResult:
    """Every level of a Hi-LANDER run, mapped back to the input points.

    ``level_labels[l][i]`` is the cluster of input point ``i`` after level ``l`` (finest first);
    ``labels`` is the last of them. ``level_peaks[l]`` holds, per cluster of level ``l``, the
    input point whose embedding represents it (its peak's identity feature).
    ``level_density[l]`` holds the predicted density of every node the GNN scored at level
    ``l + 1`` (one more entry than levels when the run converged). ``X`` (the clustered
    features) and ``tau`` let :meth:`HiLander.assign` add points later; :meth:`save` and
    :meth:`load` carry all of it across processes in one ``.npz``.
    """

    labels: np.ndarray
    level_labels: list[np.ndarray] = field(default_factory=list)
    level_peaks: list[np.ndarray] = field(default_factory=list)
    level_edges: list[int] = field(default_factory=list)
    level_nodes: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    stopped_by: str = "converged"
    level_density: list[np.ndarray] = field(default_factory=list)
    X: np.ndarray | None = None
    tau: float | None = None
    tau_upper: float | None = None   # threshold of levels >= 2 (None: tau)
    # where level 1 ran and what it cost (the Ray backend's per-stage and per-shard figures);
    # runtime information only, not saved
    backend_stats: dict = field(default_factory=dict)

    @property
    def n_levels(self) -> int:
        return len(self.level_labels)

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max() + 1) if self.labels.size else 0

    def save(self, path: str | Path) -> None:
        """Write the run (labels, peaks, densities, features, p_τ) to one ``.npz`` file."""
        from ..io import atomic_path

        def ragged(parts: list[np.ndarray], dtype) -> tuple[np.ndarray, np.ndarray]:
            sizes = np.array([len(a) for a in parts], dtype=np.int64)
            flat = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
            return flat, sizes

        if self.X is None:
            raise InputError("this result has no features (X); only results of "
                             "HiLander.cluster can be saved")
        peaks, peak_sizes = ragged(self.level_peaks, np.int64)
        dens, dens_sizes = ragged(self.level_density, np.float32)
        arrays = {
            "format": np.array("hilander-result-1"),
            "X": self.X, "labels": self.labels,
            "level_labels": (np.stack(self.level_labels) if self.level_labels
                             else np.zeros((0, len(self.labels)), np.int64)),
            "level_peaks": peaks, "level_peak_sizes": peak_sizes,
            "level_density": dens, "level_density_sizes": dens_sizes,
            "level_edges": np.asarray(self.level_edges, np.int64),
            "level_nodes": np.asarray(self.level_nodes, np.int64),
            "tau": np.float64(np.nan if self.tau is None else self.tau),
            "tau_upper": np.float64(np.nan if self.tau_upper is None else self.tau_upper),
            "stopped_by": np.array(self.stopped_by),
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> HierarchyResult:
        """Read a result written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"result file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != "hilander-result-1":
                    raise InputError(f"{path} is not a hilander result file")
                data = {name: z[name] for name in z.files}
        except InputError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path} is not a hilander result file: {first}") from None

        def split(flat: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
            return list(np.split(flat, np.cumsum(sizes)[:-1])) if sizes.size else []

        tau = float(data["tau"])
        tau_upper = float(data["tau_upper"]) if "tau_upper" in data else float("nan")
        return cls(
            labels=data["labels"].astype(np.int64),
            level_labels=[row.astype(np.int64) for row in data["level_labels"]],
            level_peaks=split(data["level_peaks"], data["level_peak_sizes"]),
            level_edges=[int(v) for v in data["level_edges"]],
            level_nodes=[int(v) for v in data["level_nodes"]],
            stopped_by=str(data["stopped_by"]),
            level_density=split(data["level_density"], data["level_density_sizes"]),
            X=data["X"], tau=None if np.isnan(tau) else tau,
            tau_upper=None if np.isnan(tau_upper) else tau_upper,
        )


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
