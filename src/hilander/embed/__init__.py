"""Embeddings of the user's own data, and encoder training.

:mod:`.user` reads a text file or an image folder and embeds it (:func:`read_texts`,
:func:`read_image_folder`, :func:`embed_texts`, :func:`embed_images`); :class:`TextEncoder`
fine-tunes MiniLM and :class:`ImageBackbone` trains or fine-tunes the image backbone on labeled
identities, true or pseudo (:func:`fine_tune`); :func:`refine` is the transductive refinement
of an encoder on an unlabeled set (:mod:`.refinement`). The study's datasets and their cached
embeddings are :mod:`hilander.study.embeddings`.
"""

from __future__ import annotations

# the user-data, training and refinement API, imported on first use: ``import hilander.embed``
# stays free of torch and sentence-transformers until one of them is needed
_LAZY = {
    "ImageBackbone": "backbone", "TextEncoder": "text_encoder",
    "ImageSet": "user", "read_texts": "user", "read_image_folder": "user",
    "embed_texts": "user", "embed_images": "user", "load_encoder": "user",
    "fine_tune": "refinement", "refine": "refinement", "cluster_tuned": "refinement",
    "concat_items": "refinement", "RefineResult": "refinement", "RefineRound": "refinement",
    "TunedClustering": "refinement",
    "align_labels": "proxies", "holdout_identities": "proxies",
    "singletons_to_noise": "proxies", "drop_noise": "proxies",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*_LAZY]
