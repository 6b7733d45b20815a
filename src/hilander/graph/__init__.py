"""Neighbour graphs shared by every clustering method."""

from .components import components
from .knn import EXACT_LIMIT, KNNGraph, build_knn_graph

__all__ = ["EXACT_LIMIT", "KNNGraph", "build_knn_graph", "components"]
