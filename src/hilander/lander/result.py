"""The result of a Hi-LANDER run: every level mapped back to the input points, save/load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._validation import InputError


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
