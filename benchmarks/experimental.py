"""Hi-LANDER with the options that were measured and left out of the library (one door).

:class:`ExperimentalHiLander` is :class:`hilander.HiLander` plus one parameter per option that
the ablations measured worse than the default, or that only an ablation needs; each changes
the :class:`hilander.lander.Recipe` the fit uses and nothing else. ``None`` keeps the named
recipe's value. ``lander_ablation.py`` builds its variants here; the numbers behind each
choice are in ``benchmarks/results/ablation/``.

    import sys; sys.path.insert(0, "benchmarks")
    from experimental import ExperimentalHiLander
    ExperimentalHiLander(edge_input="symmetric").fit(X, y)
"""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from hilander import HiLander, InputError
from hilander.base import Param
from hilander.lander.layers import EDGE_INPUTS
from hilander.lander.levels import LEVEL_MODES
from hilander.lander.recipe import Recipe
from hilander.persistence import register_model

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")


def _option(constraints: list, kind: str, doc: str) -> Param:
    return Param(None, [*constraints, None], f"{kind} or None", doc + " (None: the recipe's).")


@register_model
class ExperimentalHiLander(HiLander):
    """HiLander with the recipe's experimental options as parameters (ablations only).

    {parameters}
    """

    _params = {
        "edge_input": _option([StrOptions(set(EDGE_INPUTS))], "str",
                              "Edge head input: relational, concat, symmetric or similarity"),
        "calibration": _option([StrOptions({"cosine", "relational"})], "str",
                               "Base logit of the relational head"),
        "heads": _option([_POSITIVE_INT], "int", "GAT attention heads"),
        "optimizer": _option([StrOptions({"adam", "sgd"})], "str", "Optimiser"),
        "momentum": _option([Interval(Real, 0, 1, closed="both")], "float", "SGD momentum"),
        "balanced": _option(["boolean"], "bool", "Class-balanced linkage loss"),
        "subset_mode": _option([StrOptions({"longtail", "half"})], "str",
                               "How identity draws are made"),
        "levels_mode": _option([StrOptions(set(LEVEL_MODES))], "str", "Ground-truth levels"),
        "train_ks": _option(["array-like"], "tuple of int",
                            "Neighbour counts of the training graphs"),
        "train_levels": _option([_POSITIVE_INT], "int", "Cap on ground-truth levels"),
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

    def _recipe(self) -> Recipe:
        recipe = super()._recipe()
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
