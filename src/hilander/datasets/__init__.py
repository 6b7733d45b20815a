"""Datasets: a synthetic open-set generator and loaders for real embeddings' sources."""

from .clinc150 import ClincData, load_clinc150
from .longtail import long_tail_subsample
from .omniglot import OmniglotData, load_omniglot
from .splits import (
    SPLIT_NAMES,
    ClassDisjointSplit,
    clinc150_splits,
    make_splits,
    omniglot_splits,
)
from .synthetic import OpenSetData, long_tail_sizes, make_open_set

__all__ = [
    "SPLIT_NAMES",
    "ClassDisjointSplit",
    "ClincData",
    "OmniglotData",
    "OpenSetData",
    "clinc150_splits",
    "load_clinc150",
    "load_omniglot",
    "long_tail_sizes",
    "long_tail_subsample",
    "make_open_set",
    "make_splits",
    "omniglot_splits",
]
