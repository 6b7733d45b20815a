"""Hi-LANDER in one package: network, training, decoding, hierarchy and the estimator.

The modules follow the pipeline: ``layers``/``network`` (the GNN, eqs. 3-4 and the loss),
``levels`` and ``meta_training`` (ground-truth training levels, sec. 3.5), ``recipe`` (how it
is meta-trained), ``training`` (the meta-training loop), ``decoding`` (every level step:
eqs. 5-6 and the other decodings, components and peaks), ``aggregation`` (ψ, eq. 7),
``hierarchy`` (Algorithm 1), ``result``, ``selection`` (the decoding chosen on held-out
identities), ``assign`` (new points into an earlier run) and ``estimator``
(:class:`HiLander`).
"""

from .aggregation import AGGREGATIONS, Aggregator, node_features
from .decoding import (
    DECODINGS,
    DecodingSettings,
    LevelMerge,
    Links,
    component_peaks,
    count_edges,
    link_level,
    merge_level,
    select_edges,
)
from .estimator import HiLander, flat_params, group_params
from .features import EDGE_FEATURE_NAMES, EdgeFeaturizer
from .hierarchy import InferenceBackend, LevelTrace, LocalBackend, run_hierarchy
from .layers import EDGE_INPUTS, EdgeHead, GraphEncoder
from .levels import LEVEL_MODES, LevelGraph, build_training_levels, level_graph, true_density
from .meta_training import MetaTrainingSet, build_meta_training_set
from .network import LanderNet, lander_loss
from .recipe import RECIPES, Recipe
from .result import HierarchyResult
from .settings import SelectionSettings, TrainingSettings

__all__ = [
    "AGGREGATIONS", "DECODINGS", "EDGE_FEATURE_NAMES", "EDGE_INPUTS", "LEVEL_MODES", "RECIPES",
    "Aggregator", "DecodingSettings", "EdgeFeaturizer", "EdgeHead", "GraphEncoder", "HiLander",
    "HierarchyResult", "InferenceBackend", "LanderNet", "LevelGraph", "LevelMerge",
    "LevelTrace", "Links", "LocalBackend", "MetaTrainingSet", "Recipe", "SelectionSettings",
    "TrainingSettings", "build_meta_training_set", "build_training_levels", "component_peaks",
    "count_edges", "flat_params", "group_params", "lander_loss", "level_graph", "link_level",
    "merge_level", "node_features", "run_hierarchy", "select_edges", "true_density",
]
