"""Datasets: a synthetic open-set generator and loaders for real embeddings' sources."""

from .synthetic import OpenSetData, long_tail_sizes, make_open_set

__all__ = ["OpenSetData", "long_tail_sizes", "make_open_set"]
