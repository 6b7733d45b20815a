"""Embeddings of the study's datasets: every split of Omniglot and CLINC150, cached.

:func:`embed_dataset` loads a dataset, computes the embeddings of its four class-disjoint
splits and reports their Recall@1 (study Table 2). Omniglot images go through a small conv net
trained here on the backbone-train split (:class:`hilander.embed.backbone.ImageBackbone`);
CLINC150 texts through the pretrained all-MiniLM-L6-v2 sentence encoder
(:mod:`hilander.embed.text`). Results are cached on disk (:mod:`._embedding_cache`), keyed by
everything they depend on. ``hilander embed omniglot|clinc150`` runs it.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._validation import InputError, check_choice, check_int
from . import _embedding_cache as _cache
from .class_disjoint import SPLIT_NAMES

DATASETS = ("omniglot", "clinc150")
CACHE_FORMAT = 1
BACKBONE_FILE = "backbone.hlm"
#: config keys that do not change the embeddings, so do not enter the cache key
NOT_IN_CACHE_KEY = ("device",)
#: config keys renamed since caches were first written: the key keeps the earlier spelling, so
#: the embeddings cached before the rename stay valid (and the old spelling is still accepted,
#: with a FutureWarning)
RENAMED_CONFIG_KEYS = {"tau_init": "logit_scale_init"}

# Defaults of each dataset's embedder; ``config=`` overrides any of them. Omniglot's keys are
# the ImageBackbone parameters plus image_size (side of the downsampled images) and
# train_classes (keep only the first N backbone-train classes: quick smoke runs); its
# ``device`` ("auto", "cpu", "cuda") is where the backbone trains.
DEFAULT_CONFIGS: dict[str, dict] = {
    "omniglot": {
        "image_size": 28, "train_classes": None, "embed_dim": 64, "channels": 16, "epochs": 15,
        "batch_size": 128, "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-5,
        "logit_scale_init": 2.0, "warmup_epochs": 1, "lr_patience": 3, "stop_patience": 6,
        "augment": 1.0, "monitor": "l2_normalized", "device": "auto",
    },
    "clinc150": {"batch_size": 128},
}


@dataclass
class EmbedOutput:
    """What an embedder returns: features of every item of ``data`` (its order), and extras."""

    features: np.ndarray
    backbone: object | None = None
    info: dict = field(default_factory=dict)


def _embed_omniglot(data, config: dict, seed: int, progress: bool) -> EmbedOutput:
    from ..embed.backbone import ImageBackbone

    params = {k: v for k, v in config.items() if k not in ("image_size", "train_classes")}
    train = data.split["backbone_train"]
    if config["train_classes"] is not None:
        n = check_int(config["train_classes"], "train_classes", low=2)
        keep = np.unique(data.labels[train])[:n]
        train = train[np.isin(data.labels[train], keep)]
    val = data.split["validation"]
    t0 = time.perf_counter()
    model = ImageBackbone(**params, random_state=seed, verbose=progress).fit(
        data.images[train], data.labels[train], data.images[val], data.labels[val]
    )
    t1 = time.perf_counter()
    features = model.transform(data.images)
    info = {
        "train_seconds": t1 - t0, "embed_seconds": time.perf_counter() - t1,
        "best_epoch": model.best_epoch_, "epochs_run": len(model.history_),
        "beta": model.beta_, "history": model.history_,
    }
    return EmbedOutput(features, model, info)


def _embed_clinc150(data, config: dict, seed: int, progress: bool) -> EmbedOutput:
    from ..embed.text import encode_texts

    t0 = time.perf_counter()
    features = encode_texts(data.texts, batch_size=config["batch_size"], progress=progress)
    return EmbedOutput(features, None, {"embed_seconds": time.perf_counter() - t0})


# name -> embedder(data, config, seed, progress); a registry so tests and users can swap one
EMBEDDERS: dict[str, Callable[..., EmbedOutput]] = {
    "omniglot": _embed_omniglot,
    "clinc150": _embed_clinc150,
}


class EmbeddedDataset(dict):
    """``{split: (features float32, labels int64)}`` plus what describes them.

    Attributes: ``dataset``; ``split`` (the description from ``ClassDisjointSplit.describe``);
    ``recall_at_1`` (``{split: {"unnormalized": r, "l2_normalized": r}}``, study Table 2);
    ``indices`` (each split's item positions in the loaded dataset); ``config`` and ``seed``;
    ``info`` (timings, training history); ``from_cache``; ``cache_path`` (entry folder or None);
    ``backbone_path`` (saved image backbone or None).
    """

    def __init__(self, arrays: dict, **attrs) -> None:
        super().__init__(arrays)
        self.dataset: str = attrs["dataset"]
        self.split: dict = attrs["split"]
        self.recall_at_1: dict = attrs["recall_at_1"]
        self.indices: dict = attrs["indices"]
        self.config: dict = attrs["config"]
        self.seed: int = attrs["seed"]
        self.info: dict = attrs.get("info", {})
        self.from_cache: bool = attrs.get("from_cache", False)
        self.cache_path: Path | None = attrs.get("cache_path")
        self.backbone_path: Path | None = attrs.get("backbone_path")
        self.backbone = attrs.get("backbone")  # fitted model when it was not cached

    def meta(self) -> dict:
        """JSON-able description: dataset, split, config, seed, Recall@1, timings."""
        from .. import __version__

        return {
            "dataset": self.dataset, "split": self.split, "config": self.config,
            "seed": self.seed, "recall_at_1": self.recall_at_1, "info": self.info,
            "splits": list(self), "hilander_version": __version__,
        }

    def recall_table(self) -> str:
        """Recall@1 per split, unnormalised and l2-normalised, as a plain-text table."""
        lines = [
            f"Recall@1 ({self.dataset})",
            f"{'split':<18}{'unnormalized':>14}{'l2-normalized':>15}",
        ]
        for name in self:
            r = self.recall_at_1[name]
            lines.append(f"{name:<18}{r['unnormalized']:>14.4f}{r['l2_normalized']:>15.4f}")
        return "\n".join(lines)

    def save(self, out_dir: str | Path, *, long_tail_seed: int | None = 0) -> list[Path]:
        """Write ``{split}.npz`` (+ ``test_longtail.npz``), ``meta.json`` and the backbone."""
        out = _cache.prepare_dir(Path(out_dir))
        written = []
        for name, (X, y) in self.items():
            path = out / f"{name}.npz"
            _cache.save_split_arrays(path, X, y, indices=self.indices[name])
            written.append(path)
        meta = self.meta()
        if long_tail_seed is not None:
            from ..datasets.longtail import long_tail_subsample

            X, y = self["test"]
            idx = long_tail_subsample(y, long_tail_seed)
            path = out / "test_longtail.npz"
            _cache.save_split_arrays(path, X[idx], y[idx], indices=self.indices["test"][idx])
            written.append(path)
            from ..metrics import recall_at_1

            meta["test_longtail"] = {
                "seed": long_tail_seed, "n_items": int(idx.size),
                "n_classes": int(np.unique(y[idx]).size), "source": "test",
                "recall_at_1": {
                    "unnormalized": recall_at_1(X[idx], y[idx], normalize=False),
                    "l2_normalized": recall_at_1(X[idx], y[idx], normalize=True),
                },
            }
        if self.backbone_path is not None:
            path = out / BACKBONE_FILE
            with _atomic(path) as tmp:
                shutil.copyfile(self.backbone_path, tmp)
            written.append(path)
        elif self.backbone is not None:
            self.backbone.save(out / BACKBONE_FILE)
            written.append(out / BACKBONE_FILE)
        _cache.write_meta(out / "meta.json", meta)
        written.append(out / "meta.json")
        return written


def _atomic(path: Path):
    from ..io import atomic_path

    return atomic_path(path)


def resolve_config(name: str, config: dict | None) -> dict:
    """Defaults of ``name`` updated by ``config``; unknown keys are an error."""
    resolved = dict(DEFAULT_CONFIGS[name])
    for key, value in (config or {}).items():
        if key in RENAMED_CONFIG_KEYS:
            import warnings

            warnings.warn(f"the {name} embedding option {key!r} is now "
                          f"{RENAMED_CONFIG_KEYS[key]!r}", FutureWarning, stacklevel=3)
            key = RENAMED_CONFIG_KEYS[key]
        if key not in resolved:
            raise InputError(
                f"unknown {name} embedding option {key!r}; known: {sorted(resolved)}"
            )
        resolved[key] = value
    return resolved


def _load(name: str, data_dir, config: dict, download: bool):
    from .clinc150 import load_clinc150
    from .omniglot import load_omniglot

    if name == "omniglot":
        size = check_int(config["image_size"], "image_size", low=8, high=105)
        return load_omniglot(data_dir, download=download, image_size=size)
    return load_clinc150(data_dir, download=download)


def _data_files(name: str, data_dir) -> list[Path]:
    from . import clinc150, omniglot

    if name == "omniglot":
        root = omniglot.resolve_dir(data_dir, omniglot.FILES["background"], "omniglot")
        return [root / f for f in omniglot.FILES.values()]
    root = omniglot.resolve_dir(data_dir, clinc150.FILES[0], "clinc150")
    return [root / f for f in clinc150.FILES]


def _cache_spec(name: str, files: list[Path], config: dict, seed: int) -> dict:
    from importlib.metadata import version

    from .. import __version__
    from . import class_disjoint as splits

    # where the backbone ran is not part of the key: a seeded run on CPU or GPU differs only
    # through float rounding, and "auto" vs "cpu" must not split the cache (nor invalidate
    # the entries written before the option existed)
    config = {k: v for k, v in config.items() if k not in NOT_IN_CACHE_KEY}
    old_spelling = {new: old for old, new in RENAMED_CONFIG_KEYS.items()}
    config = {old_spelling.get(k, k): v for k, v in config.items()}
    spec = {
        "format": CACHE_FORMAT, "dataset": name, "data_sha256": _cache.file_digest(files),
        "split_version": splits.SPLIT_VERSION,
        "split_rule": splits.OMNIGLOT_SPLIT_RULE if name == "omniglot"
        else splits.CLINC150_SPLIT_RULE,
        "config": config, "seed": seed, "hilander": __version__,
        # float results of a given network can change with the torch build
        "torch": version("torch"),  # from metadata: a cache hit need not import torch
    }
    if name == "clinc150":
        from ..embed.text import MODEL_NAME, model_version

        spec["model"] = {"name": MODEL_NAME, "package_version": model_version()}
    return spec


def _note(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def embed_dataset(
    name: str, data_dir: str | Path, *, cache_dir: str | Path | None = None, seed: int = 0,
    progress: bool = True, config: dict | None = None, cache: bool = True,
    download: bool = False,
) -> EmbeddedDataset:
    """Embeddings of every split of ``name`` ("omniglot" or "clinc150"), cached.

    ``data_dir`` is the dataset folder or its parent. ``cache_dir`` defaults to
    ``$HILANDER_CACHE`` or ``~/.cache/hilander``; a second call with the same data, split,
    config, seed and package versions reads the arrays back instead of recomputing them.
    ``cache=False`` neither reads nor writes the cache. ``config`` overrides the embedder's
    :data:`DEFAULT_CONFIGS`. Returns an :class:`EmbeddedDataset`: a dict ``{split: (features,
    labels)}`` with the split description and per-split Recall@1 as attributes.
    """
    check_choice(name, "dataset", DATASETS)
    seed = check_int(seed, "seed", low=0)
    config = resolve_config(name, config)

    data_files = _data_files(name, data_dir)
    entry = None
    if cache and all(p.is_file() for p in data_files):
        root = _cache.cache_root(cache_dir)
        entry = _cache.entry_dir(root, name, _cache.cache_key(
            _cache_spec(name, data_files, config, seed)
        ))
        hit = _cache.load_entry(entry)
        if hit is not None:
            meta, arrays = hit
            _note(progress, f"{name}: embeddings read from cache {entry}")
            backbone = entry / BACKBONE_FILE
            return EmbeddedDataset(
                {k: (X, y) for k, (X, y, _) in arrays.items()},
                dataset=name, split=meta["split"], recall_at_1=meta["recall_at_1"],
                indices={k: i for k, (_, _, i) in arrays.items()}, config=meta["config"],
                seed=meta["seed"], info=meta.get("info", {}), from_cache=True,
                cache_path=entry, backbone_path=backbone if backbone.is_file() else None,
            )

    from ..metrics import recall_at_1  # imported here: a cache hit needs no faiss/sklearn

    if "device" in config:
        # a bad or absent device fails now, not after the data has loaded (or downloaded)
        from .._device import resolve_device

        resolve_device(config["device"])
    t0 = time.perf_counter()
    _note(progress, f"{name}: loading data from {data_dir}")
    data = _load(name, data_dir, config, download)
    if entry is None and cache:  # the files exist only now (downloaded)
        root = _cache.cache_root(cache_dir)
        entry = _cache.entry_dir(root, name, _cache.cache_key(
            _cache_spec(name, _data_files(name, data_dir), config, seed)
        ))
    load_seconds = time.perf_counter() - t0
    _note(progress, f"{name}: computing embeddings")
    output = EMBEDDERS[name](data, config, seed, progress)
    features = np.ascontiguousarray(output.features, dtype=np.float32)
    if features.ndim != 2 or features.shape[0] != data.labels.shape[0]:
        raise InputError(
            f"the {name} embedder returned {features.shape} for {data.labels.shape[0]} items"
        )

    arrays, indices, recalls = {}, {}, {}
    for split in SPLIT_NAMES:
        idx = data.split[split]
        X, y = features[idx], data.labels[idx].astype(np.int64)
        arrays[split], indices[split] = (X, y), idx
        recalls[split] = {
            "unnormalized": recall_at_1(X, y, normalize=False),
            "l2_normalized": recall_at_1(X, y, normalize=True),
        }
    info = {"load_seconds": load_seconds, **output.info,
            "total_seconds": time.perf_counter() - t0}
    result = EmbeddedDataset(
        arrays, dataset=name, split=data.split.describe(), recall_at_1=recalls, indices=indices,
        config=config, seed=seed, info=info, from_cache=False, cache_path=None,
    )
    if cache and entry is not None:
        _cache.prepare_dir(entry)
        if output.backbone is not None:
            output.backbone.save(entry / BACKBONE_FILE)
            result.backbone_path = entry / BACKBONE_FILE
        for split, (X, y) in arrays.items():
            _cache.save_split_arrays(entry / f"{split}.npz", X, y, indices=indices[split])
        _cache.write_meta(entry / _cache.META, result.meta())
        result.cache_path = entry
        _note(progress, f"{name}: cached in {entry}")
    elif output.backbone is not None:
        result.backbone = output.backbone  # not cached: keep the object for save()
    return result


__all__ = ["BACKBONE_FILE", "DATASETS", "DEFAULT_CONFIGS", "EMBEDDERS", "EmbedOutput",
           "EmbeddedDataset", "embed_dataset", "resolve_config"]
