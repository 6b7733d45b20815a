"""On-disk cache of computed embeddings, so each dataset is embedded once.

An entry is a folder ``{root}/embeddings/{dataset}-{key}`` holding one ``{split}.npz`` per split
(``features``, ``labels``), an optional ``backbone.hlm`` and ``meta.json``. ``key`` hashes
everything the embeddings depend on (dataset files, split description, backbone configuration
and seed, package versions), so a change to any of them misses the cache instead of returning
stale arrays. ``meta.json`` is written last: an entry without it is incomplete and ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .._validation import InputError
from ..io import atomic_path

ENV_VAR = "HILANDER_CACHE"
META = "meta.json"


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$HILANDER_CACHE``, else ``~/.cache/hilander``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hilander"


def cache_key(spec: dict) -> str:
    """Stable short hash of a JSON-able description of what was computed."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def entry_dir(root: Path, dataset: str, key: str) -> Path:
    return root / "embeddings" / f"{dataset}-{key}"


def load_entry(path: Path) -> tuple[dict, dict[str, tuple]] | None:
    """``(meta, {split: (features, labels, indices)})`` of a complete entry, or ``None``."""
    meta_file = path / META
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        arrays = {}
        for split in meta["splits"]:
            with np.load(path / f"{split}.npz", allow_pickle=False) as z:
                arrays[split] = (
                    np.ascontiguousarray(z["features"], dtype=np.float32),
                    z["labels"].astype(np.int64),
                    z["indices"].astype(np.int64),
                )
    except (OSError, ValueError, KeyError):
        return None  # damaged entry: recompute and overwrite
    return meta, arrays


def save_split_arrays(path: Path, features: np.ndarray, labels: np.ndarray, **extra) -> None:
    """One split as ``.npz`` (``features`` float32, ``labels`` int64, any extra arrays)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, features=features.astype(np.float32), labels=labels.astype(np.int64),
                     **extra)


def write_meta(path: Path, meta: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str), encoding="utf-8")


def prepare_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create directory {path}: {exc}") from None
    return path


def file_digest(paths: list[Path]) -> str:
    """sha256 over the bytes of the given files: the data's identity in the cache key."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
