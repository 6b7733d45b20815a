"""Datasets of the library: a synthetic open-set generator, long-tailed resampling, and the
seeded divisions of labeled identities every learnt method draws (the study's real datasets
are :mod:`hilander.study`)."""

from .longtail import long_tail_subsample
from .splits import holdout_identities, identity_folds
from .synthetic import OpenSetData, long_tail_sizes, make_open_set

__all__ = [
    "OpenSetData",
    "holdout_identities",
    "identity_folds",
    "long_tail_sizes",
    "long_tail_subsample",
    "make_open_set",
]
