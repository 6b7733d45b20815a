"""Neighbour graphs shared by every clustering method."""

from .components import components
from .knn import EXACT_LIMIT, KNNGraph, build_knn_graph
from .partition import (
    chinese_whispers_partition,
    infomap_partition,
    leiden_partition,
    undirected_edges,
)

__all__ = ["EXACT_LIMIT", "KNNGraph", "build_knn_graph", "chinese_whispers_partition",
           "components", "infomap_partition", "leiden_partition", "undirected_edges"]
