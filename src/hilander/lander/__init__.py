"""Hi-LANDER in one package: network, training, decoding, hierarchy and the estimator.

The modules follow the pipeline: ``layers``/``network`` (the GNN, eqs. 3-4 and the loss),
``levels`` (ground-truth training levels, sec. 3.5), ``training`` (meta-training loop),
``decoding`` (eqs. 5-6), ``aggregation`` (ψ, eq. 7), ``hierarchy`` (Algorithm 1) and
``estimator`` (:class:`HiLander`).
"""

from .aggregation import AGGREGATIONS, Aggregator, node_features
from .decoding import component_peaks, count_edges, select_edges
from .estimator import HiLander
from .features import EDGE_FEATURE_NAMES, EdgeFeaturizer
from .hierarchy import DECODINGS, LevelTrace, run_hierarchy
from .layers import EDGE_INPUTS, ENCODERS, EdgeHead, GraphEncoder
from .levels import LEVEL_MODES, LevelGraph, build_training_levels, level_graph, true_density
from .network import LanderNet, lander_loss
from .result import HierarchyResult

__all__ = [
    "AGGREGATIONS", "DECODINGS", "EDGE_FEATURE_NAMES", "EDGE_INPUTS", "ENCODERS", "LEVEL_MODES",
    "Aggregator", "EdgeFeaturizer", "EdgeHead", "GraphEncoder", "HiLander", "HierarchyResult",
    "LanderNet", "LevelGraph", "LevelTrace", "build_training_levels", "component_peaks",
    "count_edges", "lander_loss", "level_graph", "node_features", "run_hierarchy",
    "select_edges", "true_density",
]
