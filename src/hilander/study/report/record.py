"""The JSON record of a benchmark run: versions, data, settings, parameters, timings, metrics."""

from __future__ import annotations

import dataclasses
import json
import math
import platform
from pathlib import Path

import numpy as np

from ...io import atomic_path
from .results import BenchRecord

RECORD_FORMAT = "hilander-bench-record"
RECORD_VERSION = 1


def environment_versions() -> dict[str, str]:
    """Versions of Python and of every library whose behaviour can change the numbers."""
    from ... import __version__

    versions = {"hilander": __version__, "python": platform.python_version()}
    for module in ("torch", "numpy", "sklearn", "faiss", "scipy", "torch_geometric"):
        try:
            mod = __import__(module)
            versions[module] = str(getattr(mod, "__version__", "unknown"))
        except ImportError:
            versions[module] = "not installed"
    versions["platform"] = platform.platform()
    return versions


def to_jsonable(value):
    """Plain JSON values from dataclasses, numpy scalars/arrays, tuples and paths.

    Non-finite floats become None: JSON has no NaN, and a record must load anywhere.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    return str(value)


def record_dict(record: BenchRecord) -> dict:
    """The record as plain JSON values; the 2-D hierarchy coordinates are left out (bulky)."""
    out = {"format": RECORD_FORMAT, "format_version": RECORD_VERSION}
    body = to_jsonable(record)
    for s in body["settings"]:
        h = s.pop("hierarchy", None)
        if h is not None:
            s["hierarchy_classes"] = h["class_sizes"]
            s["hierarchy_peaks_per_level"] = [len(p) for p in h["level_peaks"]]
        for m in s["methods"]:
            m["avg_f"] = _avg_f(m.get("metrics"))
    out.update(body)
    return out


def _avg_f(metrics: dict | None) -> float | None:
    if not metrics:
        return None
    fp, fb = metrics["pairwise_f"], metrics["bcubed_f"]
    return 0.0 if fp + fb == 0 else 2 * fp * fb / (fp + fb)


def write_record(record: BenchRecord, path: str | Path) -> Path:
    path = Path(path)
    text = json.dumps(record_dict(record), indent=2, sort_keys=False, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path
