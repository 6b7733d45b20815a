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
    # model_fingerprint(model) of the model that made the run: assign refuses another model's
    model_fingerprint: str | None = None
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
            "model_fingerprint": np.array(self.model_fingerprint or ""),
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

        try:
            return cls._from_arrays(data, path)
        except InputError:
            raise
        except (ValueError, TypeError, IndexError) as exc:  # strings where numbers belong...
            raise InputError(f"{path} is a damaged hilander result file: {exc}") from None

    @classmethod
    def _from_arrays(cls, data: dict[str, np.ndarray], path: Path) -> HierarchyResult:
        """Rebuild a result from its arrays, checking every key, shape and length first: a
        damaged or hand-edited file gives InputError, never a KeyError or IndexError later."""

        def bad(why: str) -> InputError:
            return InputError(f"{path} is a damaged hilander result file: {why}")

        missing = sorted(_REQUIRED_KEYS - set(data))
        if missing:
            raise bad(f"missing {', '.join(missing)}")
        X, labels, level_labels = data["X"], data["labels"], data["level_labels"]
        if X.ndim != 2 or X.shape[0] == 0 or X.dtype.kind != "f" or not np.isfinite(X).all():
            raise bad(f"X must be a finite 2-D float array with rows, got shape {X.shape}")
        n = X.shape[0]
        for name in ("labels", "level_labels", "level_peaks", "level_peak_sizes",
                     "level_density_sizes", "level_edges", "level_nodes"):
            if data[name].dtype.kind not in "iu":
                raise bad(f"{name} must hold integers, got {data[name].dtype}")
        if labels.shape != (n,):
            raise bad(f"labels has shape {labels.shape}, X has {n} rows")
        if labels.size and (labels.min() < 0 or labels.max() >= n):
            raise bad(f"labels must lie in [0, {n}), got {labels.min()}..{labels.max()}")
        if level_labels.ndim != 2 or level_labels.shape[1] != n:
            raise bad(f"level_labels has shape {level_labels.shape}, X has {n} rows")
        n_levels = level_labels.shape[0]
        if n_levels and not np.array_equal(level_labels[-1], labels):
            raise bad("labels differ from the last level's")
        if level_labels.size and (level_labels.min() < 0 or level_labels.max() >= n):
            raise bad(f"level_labels must lie in [0, {n})")
        peaks = _split(data["level_peaks"], data["level_peak_sizes"], n_levels, bad, "peaks")
        for level, (row, p) in enumerate(zip(level_labels, peaks)):
            if p.size != int(row.max()) + 1 or (p.size and (p.min() < 0 or p.max() >= n)):
                raise bad(f"level {level} has {int(row.max()) + 1} clusters but {p.size} "
                          "valid peaks")
        density = _split(data["level_density"], data["level_density_sizes"], None, bad,
                         "density")
        if data["level_density"].dtype.kind != "f":
            raise bad("level_density must hold floats")
        if len(density) not in (n_levels, n_levels + 1):
            raise bad(f"{len(density)} density levels for {n_levels} levels")
        # level l's densities score its nodes: the points, then the clusters of level l - 1
        nodes = [n] + [p.size for p in peaks]
        for level, d in enumerate(density):
            if d.size != nodes[level] or not np.isfinite(d).all():
                raise bad(f"level {level} has {d.size} densities for {nodes[level]} nodes")
        taus = {}
        for name in ("tau", "tau_upper"):
            value = data.get(name, np.float64(np.nan))  # tau_upper: absent in older files
            if value.shape != () or value.dtype.kind not in "fiu":
                raise bad(f"{name} must be one number")
            taus[name] = float(value)
            if not np.isnan(taus[name]) and not 0.0 <= taus[name] <= 1.0:
                raise bad(f"{name} must lie in [0, 1], got {taus[name]}")
        tau, tau_upper = taus["tau"], taus["tau_upper"]
        fingerprint = str(data["model_fingerprint"]) if "model_fingerprint" in data else ""
        return cls(
            labels=labels.astype(np.int64),
            level_labels=[row.astype(np.int64) for row in level_labels],
            level_peaks=[p.astype(np.int64) for p in peaks],
            level_edges=[int(v) for v in data["level_edges"]],
            level_nodes=[int(v) for v in data["level_nodes"]],
            stopped_by=str(data["stopped_by"]),
            level_density=density,
            X=X, tau=None if np.isnan(tau) else tau,
            tau_upper=None if np.isnan(tau_upper) else tau_upper,
            model_fingerprint=fingerprint or None,
        )


_REQUIRED_KEYS = {"format", "X", "labels", "level_labels", "level_peaks", "level_peak_sizes",
                  "level_density", "level_density_sizes", "level_edges", "level_nodes", "tau",
                  "stopped_by"}


def _split(flat: np.ndarray, sizes: np.ndarray, expected: int | None, bad,
           what: str) -> list[np.ndarray]:
    """Cut ``flat`` into parts of ``sizes``; the sizes must add up and count ``expected``."""
    if flat.ndim != 1 or sizes.ndim != 1:
        raise bad(f"{what} arrays must be 1-D")
    if expected is not None and sizes.size != expected:
        raise bad(f"{sizes.size} {what} levels for {expected} levels")
    if sizes.size and (sizes.min() < 0 or int(sizes.sum()) != flat.size):
        raise bad(f"{what} sizes add up to {int(sizes.sum())}, not {flat.size}")
    return list(np.split(flat, np.cumsum(sizes)[:-1])) if sizes.size else []


def model_fingerprint(model) -> str:
    """A short hash of what ``model`` learnt (its weights and input width).

    Stored in a saved run, it lets :meth:`HiLander.assign` refuse a run made by another model
    of the same dimension, which would otherwise put every new point in a new cluster.
    """
    import hashlib

    digest = hashlib.sha256(f"d={int(model.n_features_in_)};".encode())
    # the network's weights only: selection records and logs do not change what it computes
    weights = model.model_.state_dict()
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def check_fingerprint(result: HierarchyResult, model, *, result_name: str = "the result",
                      model_name: str = "this model") -> None:
    """Raise InputError when ``result`` was made by a model other than ``model``.

    Runs saved before fingerprints existed carry none and pass.
    """
    if result.model_fingerprint is None:
        return
    if result.model_fingerprint != model_fingerprint(model):
        raise InputError(f"{result_name} was made by another model than {model_name}; "
                         "cluster with this model first (--result-out), then assign")
