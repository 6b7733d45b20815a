"""The hierarchy: ground-truth training levels, aggregation ψ and the inference loop."""

from .aggregation import AGGREGATIONS, aggregate, node_features
from .inference import HierarchyResult, run_hierarchy
from .training import LevelGraph, build_training_levels

__all__ = [
    "AGGREGATIONS", "HierarchyResult", "LevelGraph", "aggregate", "build_training_levels",
    "node_features", "run_hierarchy",
]
