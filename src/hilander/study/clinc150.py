"""CLINC150 (Larson et al., EMNLP 2019): 150 intents of chat utterances in 10 domains.

The loader pools the ``train``, ``val`` and ``test`` lists of ``data_full.json`` (150 utterances
per intent, 22,500 in all) and leaves the out-of-scope utterances out: for open-set clustering
the splits are made by domain, never by utterance (see :mod:`.class_disjoint`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from .._validation import InputError
from ..io import atomic_path
from .class_disjoint import ClassDisjointSplit, clinc150_splits
from .omniglot import resolve_dir

FILES = ("data_full.json", "domains.json")
SOURCE_URL = "https://raw.githubusercontent.com/clinc/oos-eval/master/data/{name}"
ORIGINAL_SPLITS = ("train", "val", "test")
N_INTENTS = 150
N_PER_INTENT = 150


@dataclass
class ClincData:
    """The 22,500 in-scope CLINC150 utterances, grouped by intent in ``domains.json`` order.

    ``labels`` index ``intent_names`` (intent ``i`` belongs to domain ``i // 15``);
    ``domains`` index ``domain_names``; ``original_split`` is 0/1/2 for the file's
    train/val/test list (kept for reference only: the study's splits are by domain).
    """

    name: ClassVar[str] = "clinc150"
    texts: list[str] = field(repr=False)
    labels: np.ndarray = field(repr=False)
    domains: np.ndarray = field(repr=False)
    original_split: np.ndarray = field(repr=False)
    intent_names: tuple[str, ...]
    domain_names: tuple[str, ...]
    path: str
    split: ClassDisjointSplit | None = field(default=None, repr=False)

    @property
    def n_classes(self) -> int:
        return int(np.unique(self.labels).size)

    def subset(self, indices: np.ndarray) -> tuple[list[str], np.ndarray]:
        """``(texts, labels)`` of the given items, e.g. ``data.subset(data.split["test"])``."""
        return [self.texts[i] for i in indices], self.labels[indices]


def load_clinc150(path: str | Path, download: bool = False) -> ClincData:
    """Load CLINC150 from ``path`` (the ``clinc150`` folder or its parent).

    With ``download=True`` missing files are fetched from github.com/clinc/oos-eval; nothing is
    downloaded otherwise.
    """
    root = resolve_dir(path, FILES[0], "clinc150")
    for fname in FILES:
        if not (root / fname).is_file():
            if not download:
                raise InputError(
                    f"CLINC150 file {fname} not found in {root}; pass download=True "
                    "(or --download) to fetch it from github.com/clinc/oos-eval"
                )
            download_clinc150(root, names=(fname,))
    full = _read_json(root / FILES[0])
    domain_map = _read_json(root / FILES[1])
    if not isinstance(domain_map, dict) or not isinstance(full, dict):
        raise InputError(f"{root}: data_full.json and domains.json must hold JSON objects")

    domain_names = tuple(domain_map)
    intent_names = tuple(i for d in domain_names for i in domain_map[d])
    intent_index = {name: i for i, name in enumerate(intent_names)}
    if len(intent_index) != N_INTENTS:
        raise InputError(f"{root}/domains.json lists {len(intent_index)} intents, expected 150")
    domain_of_intent = np.repeat(
        np.arange(len(domain_names)), [len(domain_map[d]) for d in domain_names]
    )

    texts: list[str] = []
    labels: list[int] = []
    origin: list[int] = []
    for s, key in enumerate(ORIGINAL_SPLITS):
        for pair in full.get(key, []):
            text, intent = pair
            if intent not in intent_index:
                raise InputError(f"{root}/data_full.json: intent {intent!r} is in no domain")
            texts.append(text)
            labels.append(intent_index[intent])
            origin.append(s)
    y = np.asarray(labels, dtype=np.int64)
    # group by intent (stable, so the file order survives within an intent)
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y, minlength=N_INTENTS)
    if (counts != N_PER_INTENT).any():
        bad = int(np.flatnonzero(counts != N_PER_INTENT)[0])
        raise InputError(
            f"{root}/data_full.json: intent {intent_names[bad]!r} has {counts[bad]} utterances, "
            f"expected {N_PER_INTENT}"
        )
    y = y[order]
    data = ClincData(
        texts=[texts[i] for i in order],
        labels=y,
        domains=domain_of_intent[y].astype(np.int64),
        original_split=np.asarray(origin, dtype=np.int64)[order],
        intent_names=intent_names,
        domain_names=domain_names,
        path=str(root),
    )
    data.split = clinc150_splits(data)
    return data


def _read_json(file: Path):
    try:
        with open(file, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"could not read {file}: {exc}") from None


def download_clinc150(root: str | Path, names: tuple[str, ...] = FILES) -> None:
    """Fetch ``data_full.json`` / ``domains.json`` from the oos-eval repository."""
    import urllib.request

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        url = SOURCE_URL.format(name=name)
        try:
            with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 (fixed https URL)
                blob = resp.read()
        except OSError as exc:
            raise InputError(f"could not download {url}: {exc}") from None
        with atomic_path(root / name) as tmp:
            tmp.write_bytes(blob)
