"""Hi-LANDER with the options that were measured and left out of the library (one door).

:class:`AblationRecipe` is :class:`hilander.lander.recipe.Recipe` with every option the
library fixes made a field; :class:`ExperimentalHiLander` is :class:`hilander.HiLander` plus
one parameter per such option, each changing the recipe its fit uses and nothing else
(``None`` keeps the named recipe's value), and the earlier selection on one held-out share of
the identities (``holdout``). ``benchmarks/lander_ablation.py`` builds its variants here; the
numbers behind each choice are in ``benchmarks/results/ablation/``.

    from hilander.study.ablation import ExperimentalHiLander
    ExperimentalHiLander(edge_input="symmetric").fit(X, y)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .. import HiLander, InputError
from .._validation import encode_labels
from ..base import POSITIVE_INT, Param
from ..datasets.splits import holdout_identities
from ..lander.layers import EDGE_INPUTS
from ..lander.levels import LEVEL_MODES, level_graph
from ..lander.recipe import Recipe

__all__ = ["AblationRecipe", "ExperimentalHiLander", "split_identities"]



@dataclass(frozen=True)
class AblationRecipe(Recipe):
    """A :class:`~hilander.lander.recipe.Recipe` whose fixed options are fields.

    Attributes
    ----------
    calibration : str
        Base logit of the relational head: "cosine" or "relational".
    heads : int
        GAT attention heads (averaged).
    momentum, weight_decay : float
        SGD momentum and the optimiser's L2 weight decay.
    balanced : bool
        Class-balanced linkage loss.
    subset_mode : str
        How the identity draws are made: "longtail" or "half".
    levels_mode : str
        Ground-truth levels: "label_pure" (paper sec. 3.5) or "density_tree" (authors' code).
    train_ks : tuple of int or None
        Neighbour counts of the training graphs (None: the model's ``n_neighbors``).
    train_levels : int or None
        Cap on ground-truth levels per training graph (None: the model's ``max_levels``).
    k_grid, aggregation_grid : tuple
        Extra neighbour counts and upper-level aggregations the decoding selection tries.
    holdout : float or None
        Select on one held-out share of the identities instead of cross-fitting over all of
        them (the previous default).
    decodings : tuple of str
        The decodings the selection tries after the peak rule.
    comembership : bool
        The edge head also reads whether cheap unsupervised partitions of the same graph put
        i and j together, and their communities' sizes.
    longtail_selection : bool
        The selection also clusters a long-tailed resample of the labeled points and scores
        each setting by the mean avg F of the two sets.
    attach_leftovers : bool
        The selection's last stage tries attaching lone points to their best-linked
        neighbour's cluster.
    """

    calibration: str = Recipe.calibration
    heads: int = Recipe.heads
    momentum: float = Recipe.momentum
    weight_decay: float = Recipe.weight_decay
    balanced: bool = Recipe.balanced
    subset_mode: str = Recipe.subset_mode
    levels_mode: str = Recipe.levels_mode
    train_ks: tuple[int, ...] | None = Recipe.train_ks
    train_levels: int | None = Recipe.train_levels
    k_grid: tuple[int, ...] = Recipe.k_grid
    aggregation_grid: tuple[str, ...] = Recipe.aggregation_grid
    holdout: float | None = Recipe.holdout
    decodings: tuple[str, ...] = Recipe.decodings
    comembership: bool = Recipe.comembership
    longtail_selection: bool = Recipe.longtail_selection
    attach_leftovers: bool = Recipe.attach_leftovers


def _option(constraints: list, kind: str, doc: str) -> Param:
    return Param(None, [*constraints, None], f"{kind} or None", doc + " (None: the recipe's).")


def split_identities(y: np.ndarray, share: float, k: int, seed: int) -> np.ndarray:
    """Mask of a seeded, class-disjoint held-out share of the identities in ``y`` (codes)."""
    val = holdout_identities(y, share, seed, by="classes", min_rest=0)
    n_val, n_classes = int(np.unique(y[val]).size), int(y.max()) + 1
    if n_val >= n_classes - 1 or val.sum() <= k or (~val).sum() <= k:
        raise InputError(
            f"selection needs more data: the held-out {share:.0%} of the identities and the "
            f"rest must each have more than n_neighbors={k} points and the rest at least 2 "
            "identities; give a decoding to skip selection"
        )
    return val


class ExperimentalHiLander(HiLander):
    """HiLander with the recipe's experimental options as parameters (ablations only).

    {parameters}
    """

    _params = {
        "edge_input": _option([StrOptions(set(EDGE_INPUTS))], "str",
                              "Edge head input: relational, concat, symmetric or similarity"),
        "calibration": _option([StrOptions({"cosine", "relational"})], "str",
                               "Base logit of the relational head"),
        "heads": _option([POSITIVE_INT], "int", "GAT attention heads"),
        "optimizer": _option([StrOptions({"adam", "sgd"})], "str", "Optimiser"),
        "momentum": _option([Interval(Real, 0, 1, closed="both")], "float", "SGD momentum"),
        "balanced": _option(["boolean"], "bool", "Class-balanced linkage loss"),
        "subset_mode": _option([StrOptions({"longtail", "half"})], "str",
                               "How identity draws are made"),
        "levels_mode": _option([StrOptions(set(LEVEL_MODES))], "str", "Ground-truth levels"),
        "train_ks": _option(["array-like"], "tuple of int",
                            "Neighbour counts of the training graphs"),
        "train_levels": _option([POSITIVE_INT], "int", "Cap on ground-truth levels"),
        "k_grid": _option(["array-like", StrOptions({"auto"})], 'tuple of int or "auto"',
                          "Extra neighbour counts the selection tries (\"auto\": k/2, k, 2k)"),
        "aggregation_grid": _option(["array-like"], "tuple of str",
                                    "Upper-level aggregations the selection tries"),
        "holdout": _option([Interval(Real, 0, 0.5, closed="right")], "float",
                           "Select on one held-out share of the identities instead of "
                           "cross-fitting (the previous default)"),
        "decodings": _option(["array-like"], "tuple of str",
                             "Decodings the selection tries after the peak rule"),
        "comembership": _option(["boolean"], "bool",
                                "The edge head also reads co-membership in unsupervised "
                                "partitions of the same graph"),
        "longtail_selection": _option(["boolean"], "bool",
                                      "The selection also scores a long-tailed resample of "
                                      "the labeled points (mean avg F of the two)"),
        "attach_leftovers": _option(["boolean"], "bool",
                                    "The selection's last stage tries attaching lone points "
                                    "to their best-linked neighbour's cluster"),
    }

    def _recipe(self) -> AblationRecipe:
        recipe = AblationRecipe(**asdict(super()._recipe()))
        given = {name: getattr(self, name) for name in self._params
                 if getattr(self, name) is not None}
        if isinstance(given.get("k_grid"), str):  # "auto"
            k = self.n_neighbors
            given["k_grid"] = (max(1, k // 2), k, 2 * k)
        for name in ("train_ks", "k_grid", "aggregation_grid", "decodings"):
            if name in given:
                given[name] = tuple(given[name])
        return replace(recipe, **given)

    def _check_rules(self) -> None:
        super()._check_rules()
        recipe = self._recipe()
        for kk in (*recipe.k_grid, *(recipe.train_ks or ())):
            if not isinstance(kk, Integral) or kk < 1:
                raise InputError(f"k_grid and train_ks values must be integers >= 1, got {kk!r}")
        if recipe.train_ks is not None and not recipe.train_ks:
            raise InputError("train_ks must list at least one neighbour count")
        # "concat" doubles the network's input width: it cannot trade places with the others
        same_width = ("concat",) if self.aggregation == "concat" else ("peak", "mean")
        for agg in recipe.aggregation_grid:
            if agg not in same_width:
                raise InputError(f"aggregation_grid values must be {' or '.join(same_width)} "
                                 f"with aggregation={self.aggregation!r} (the network's input "
                                 f"width is fixed), got {agg!r}")

    def _select(self, X: np.ndarray, y: np.ndarray, recipe: AblationRecipe) -> int:
        if recipe.holdout is None:
            return super()._select(X, y, recipe)
        return self._select_on_holdout(X, y, recipe)

    def _select_on_holdout(self, X: np.ndarray, y: np.ndarray, recipe: AblationRecipe) -> int:
        """The earlier selection: one held-out share of the identities."""
        val_mask = split_identities(y, recipe.holdout, self.n_neighbors, self.random_state)
        X_val, y_val = X[val_mask], encode_labels(y[val_mask])
        held_out = level_graph(X_val, y_val, self.n_neighbors, self.knn_method,
                               recipe.comembership)
        model, log, training = self._train(X[~val_mask], encode_labels(y[~val_mask]), recipe,
                                           held_out=held_out)
        self.model_, self.history_ = model, log.losses
        self.n_train_levels_ = len(training.levels)
        selection = self._choose(model, X_val, y_val, recipe)
        self.selection_ = {
            "mode": "hold-out", "held_out_classes": int(y_val.max() + 1),
            "held_out_points": int(val_mask.sum()), "best_step": log.best_step,
            "steps": len(log.losses), "link_auc_curve": log.scores,
            "chosen": selection.chosen(), "trials": selection.trials,
        }
        return log.best_step
