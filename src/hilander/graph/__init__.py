"""Neighbour graphs shared by every clustering method."""

from .components import components
from .knn import EXACT_LIMIT, KNNGraph, build_knn_graph, drop_self, knn_method_for, make_index
from .linkage import sparse_linkage
from .partition import (
    chinese_whispers_partition,
    infomap_partition,
    leiden_partition,
    undirected_edges,
)

__all__ = ["EXACT_LIMIT", "KNNGraph", "build_knn_graph", "chinese_whispers_partition",
           "components", "drop_self", "infomap_partition", "knn_method_for",
           "leiden_partition", "make_index", "sparse_linkage", "undirected_edges"]
