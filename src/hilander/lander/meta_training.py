"""The meta-training set of Hi-LANDER: every ground-truth level a fit learns from.

Besides the labeled identities' own hierarchy (sec. 3.5, :func:`build_training_levels`), a
:class:`~hilander.lander.recipe.Recipe` may add hierarchies built on seeded re-draws of those
identities (long-tailed or halved): a step on one of them sees neighbourhoods with other
confusers and other identity sizes than the full graph's. The relational calibration
(ablation only) also fits its base on extra graphs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._validation import encode_labels
from ..datasets.longtail import long_tail_subsample
from .levels import LevelGraph, build_training_levels, level_graph
from .recipe import Recipe

#: Seeds of the identity draws are ``random_state * stride + draw``. The strides are primes,
#: so the draws of different seeds (and of the two draw families) do not repeat each other
#: beyond their first few; at seed 0 both families start at seeds 0, 1, 2.
SUBSET_SEED_STRIDE = 104729
CALIBRATION_SEED_STRIDE = 7919


@dataclass
class MetaTrainingSet:
    """The graphs one meta-training run learns from.

    ``levels`` are the labeled identities' own levels followed by those of the identity
    draws; ``n_full`` counts the former (the step budget is theirs, so draws add variety, not
    steps). ``calibration_graphs`` are the graphs the head's base logit is fitted on (None:
    the largest level).
    """

    levels: list[LevelGraph]
    n_full: int
    calibration_graphs: list[LevelGraph] | None = None

    @property
    def full_levels(self) -> list[LevelGraph]:
        return self.levels[: self.n_full]


def build_meta_training_set(
    X: np.ndarray, y: np.ndarray, *, n_neighbors: int, aggregation: str,
    max_levels: int | None, knn_method: str, recipe: Recipe, random_state: int,
) -> MetaTrainingSet:
    """Ground-truth levels of ``(X, y)`` (unit rows, codes 0..C-1) as ``recipe`` says."""

    def levels_of(Xs: np.ndarray, ys: np.ndarray) -> list[LevelGraph]:
        cap = recipe.train_levels if recipe.train_levels is not None else max_levels
        out: list[LevelGraph] = []
        for kk in recipe.train_ks or (n_neighbors,):
            out += build_training_levels(Xs, ys, kk, aggregation=aggregation, max_levels=cap,
                                         knn_method=knn_method, mode=recipe.levels_mode,
                                         comembership=recipe.comembership)
        return out

    full = levels_of(X, y)
    calibration = None
    if recipe.calibration == "relational":
        calibration = _calibration_graphs(X, y, full, n_neighbors, knn_method, random_state,
                                          recipe.comembership)
    drawn: list[LevelGraph] = []
    for keep in identity_draws(y, recipe.identity_subsets, random_state, SUBSET_SEED_STRIDE,
                               recipe.subset_mode, n_neighbors):
        drawn += levels_of(X[keep], encode_labels(y[keep]))
    return MetaTrainingSet(full + drawn, len(full), calibration)


def identity_draws(y: np.ndarray, count: int, random_state: int, stride: int,
                   mode: str = "longtail", min_points: int = 1) -> Iterator[np.ndarray]:
    """Indices of ``count`` draws seeded ``random_state * stride + draw``; draws of no more
    than ``min_points`` points are skipped.

    "longtail": every identity, long-tail resampled
    (:func:`hilander.datasets.longtail.long_tail_subsample`); "half": a random half of the
    identities with all their points.
    """
    n_ids = int(y.max()) + 1
    for draw in range(count):
        seed = random_state * stride + draw
        if mode == "half":
            ids = np.random.default_rng(seed).permutation(n_ids)[: max(2, n_ids // 2)]
            keep = np.flatnonzero(np.isin(y, ids))
        else:
            keep = long_tail_subsample(y, seed=seed)
        if keep.size > min_points:
            yield keep


def _calibration_graphs(X: np.ndarray, y: np.ndarray, levels: list[LevelGraph], k: int,
                        knn_method: str, random_state: int,
                        comembership: bool) -> list[LevelGraph]:
    """Graphs the relational base is fitted on.

    Overlap and rank mean different things when identities are much larger or smaller than
    k, and on super-nodes; so besides level 1 the base sees every upper training level, fewer
    neighbours (identities look larger relative to k) and long-tailed draws of the training
    identities (fitted on level 1 alone it split large synthetic test identities).
    """
    graphs = list(levels)
    for kk in sorted({k // 2, k // 3} - {0, 1, k}, reverse=True):
        graphs.append(level_graph(X, y, kk, knn_method, comembership))
    for keep in identity_draws(y, 3, random_state, CALIBRATION_SEED_STRIDE, min_points=k):
        graphs.append(level_graph(X[keep], encode_labels(y[keep]), k, knn_method,
                                  comembership))
    return graphs
