"""``AutoCluster``: pick the best clustering method for a domain on its labeled identities.

Its command-line layer is :mod:`hilander.cli.auto` (``hilander auto``), which shares its
file name: one concept at two layers.

``fit(X, y)`` holds out a share of the identities (class-disjoint, seeded). Every candidate is
then scored on those held-out identities by avg F (harmonic mean of pairwise and BCubed F):
unsupervised methods after a grid search over their validation grid on the held-out points
(:func:`hilander.tune.tune_method`), Hi-LANDER and the supervised GNNs after training on the
other identities, with their edge threshold chosen on the held-out ones. The winner is re-fitted
on all identities when it learns, and :meth:`AutoCluster.predict` clusters new data with it.
The validation table (method, chosen parameters, avg F, seconds, status) is kept in
``table_`` and printed as it fills.
"""

from __future__ import annotations

import sys
import time
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval
from tqdm.auto import tqdm

from ._validation import (
    InputError,
    check_features,
    check_labels,
    encode_labels,
    l2_normalize,
)
from .base import MetaTrainedClusterer, Param
from .datasets.splits import identity_folds
from .persistence import payload_of

#: Learnt candidates with settings kept modest so ``auto`` on ~10k points takes minutes.
LEARNT_DEFAULTS: dict[str, dict[str, Any]] = {
    # a dict for HiLander's training settings: the winner's parameters are saved as plain values
    "hilander": {"n_neighbors": 10, "training": {"epochs": 20}},
    "gcn_v": {"epochs": 30},
    "gcn_e": {"epochs": 4},
    "gcn_ve": {"epochs_v": 30, "epochs": 4},
    "lgcn": {"epochs": 3},
    "star_fc": {"epochs": 5},
}

#: Unsupervised methods left out by default above this many held-out points: their cost grows
#: quadratically or worse (dense eigenproblems, pairwise kernels, EM over many components).
SIZE_LIMITS = {"spectral": 4000, "meanshift": 3000, "gmm": 5000, "vmf_mixture": 5000,
               "graclus": 20000}

#: Cost exponent in n used to extrapolate a pilot run to the full size (1 = about linear).
COST_EXPONENT = {"spectral": 2.0, "meanshift": 2.0, "gmm": 1.5, "vmf_mixture": 1.5,
                 "hac": 1.5, "dbscan": 1.5, "hdbscan": 1.5, "graclus": 1.5,
                 "dp_means": 1.5, "dp_vmf_means": 1.5}

PILOT_POINTS = 300

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


def learnt_methods() -> list[str]:
    return list(LEARNT_DEFAULTS)


def candidate_methods() -> list[str]:
    """Every method ``AutoCluster`` can try: the unsupervised registry, then the learnt ones."""
    from .methods import names

    return names("unsupervised") + learnt_methods()


class AutoCluster(MetaTrainedClusterer):
    """Choose, tune and fit the best clustering method on labeled identities of a domain.

    ``fit(X, y)`` scores every candidate by avg F on all the labeled identities clustered at
    once: an unsupervised method after a grid search over them (it learns nothing, so
    nothing is held out), Hi-LANDER by its cross-fitted selection score (each point scored
    by a network that never saw its identity), a supervised GNN by cross-fitting over ``cv``
    folds of identities (each fold clustered by the network trained on the others). The best
    is kept, a learnt winner fitted on all identities. ``predict(X)`` clusters new data with
    the winner, carrying a tuned cluster count or modularity resolution to the new data's
    size.

    {parameters}

    Attributes
    ----------
    winner_ : str
        Name of the chosen method.
    winner_kind_ : str
        "unsupervised" or "learnt".
    params_ : dict
        The winner's chosen parameters.
    val_avg_f_ : float
        The winner's avg F on the held-out identities.
    n_val_ : int
        Held-out points scored.
    table_ : list of dict
        One row per candidate: method, status, parameters, avg F, seconds, note.
    model_ : estimator or None
        The re-fitted learnt winner (None for an unsupervised one).
    refit_seconds_ : float
        Wall time of the learnt winner's re-fit on all identities (set only when the winner
        learns).
    n_features_in_ : int
        Dimension of the training embeddings.

    Examples
    --------
    >>> from hilander import AutoCluster
    >>> from hilander.datasets import make_open_set
    >>> data = make_open_set(n_train_classes=30, n_test_classes=10, seed=0)
    >>> auto = AutoCluster(methods="kmeans,infomap", verbose=False)
    >>> auto = auto.fit(data.X_train, data.y_train)
    >>> auto.winner_ in ("kmeans", "infomap")
    True
    >>> auto.predict(data.X_test).shape == data.y_test.shape
    True
    """

    _params = {
        "methods": Param(None, [str, "array-like", None], "str, list of str or None",
                         "Candidate names (None: every unsupervised method that suits the "
                         "data's size, Hi-LANDER and the supervised GNNs; see "
                         ":func:`candidate_methods`); a string may list several, "
                         "comma-separated."),
        "cv": Param(3, [Interval(Integral, 2, None, closed="left")], "int",
                    "Folds of identities the supervised GNN candidates are cross-fitted "
                    "over (Hi-LANDER cross-fits with its own ``cv``). Methods that learn "
                    "nothing are tuned on every labeled identity at once: nothing needs "
                    "holding out, and the choice is made at the scale of the labeled set."),
        "time_budget": Param(None, [Interval(Real, 0, None, closed="neither"), None],
                             "float or None", "Seconds allowed per candidate; one whose "
                             "predicted cost (a pilot run on a subsample, extrapolated with "
                             "the method's cost exponent) exceeds it is skipped and marked so "
                             "in the table (None: run everything)."),
        "learnt_params": Param(None, [dict, None], "dict or None",
                               "Per learnt method, settings overriding "
                               ":data:`LEARNT_DEFAULTS`."),
    }
    _defaults = {"verbose": True}
    _n_positional = 1

    def __repr__(self) -> str:
        return f"AutoCluster(winner={getattr(self, 'winner_', None)!r})"

    # -- checks --------------------------------------------------------------------------------
    def _candidates(self, n_val: int) -> tuple[list[str], list[dict]]:
        """Candidate names and table rows for the default ones left out by size."""
        known = candidate_methods()
        explicit = self.methods is not None
        names = self.methods
        if isinstance(names, str):
            names = [m.strip() for m in names.split(",") if m.strip()]
        names = list(known if names is None else names)
        if not names:
            raise InputError("methods lists no method")
        out, rows = [], []
        for name in names:
            if name not in known:
                raise InputError(f"unknown method {name!r}; choose from {', '.join(known)}")
            if name in out:
                raise InputError(f"method {name!r} is listed twice")
            limit = SIZE_LIMITS.get(name)
            if not explicit and limit is not None and n_val > limit:
                rows.append(_row(name, SKIPPED, note=f"left out by default above {limit} "
                                 f"held-out points ({n_val}); name it to run it"))
                continue
            out.append(name)
        return out, rows

    def _check_rules(self) -> None:
        if self.learnt_params is not None:
            unknown = sorted(set(self.learnt_params) - set(LEARNT_DEFAULTS))
            if unknown:
                raise InputError(f"learnt_params names unknown learnt method(s) {unknown}; "
                                 f"choose from {learnt_methods()}")

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None) -> AutoCluster:
        """Score every candidate on the labeled identities, keep the best; returns self.

        With ``X_val, y_val`` (identities not in ``y``), learnt methods train on ``(X, y)``
        and every method is scored on the given validation identities, as in the benchmark;
        a learnt winner is then re-fitted on both.
        """
        self._check_params()
        X = check_features(X, name="X", min_rows=4)
        y = check_labels(y, X.shape[0], name="y")
        codes = encode_labels(y)
        if X_val is None:
            if y_val is not None:
                raise InputError("y_val needs X_val")
            if int(codes.max()) + 1 < max(4, self.cv):
                raise InputError(f"y has {int(codes.max()) + 1} identities; auto needs at "
                                 f"least {max(4, self.cv)} to score methods on identities "
                                 "their networks never saw")
            X_fit = Xv = X_all = l2_normalize(X)
            y_fit = yv = y_all = codes
        else:
            Xv = check_features(X_val, name="X_val", min_rows=2)
            yv = encode_labels(check_labels(y_val, Xv.shape[0], name="y_val"))
            if Xv.shape[1] != X.shape[1]:
                raise InputError(f"X_val has {Xv.shape[1]} features but X has {X.shape[1]}")
            X_fit, y_fit = l2_normalize(X), codes
            # identities of the two parts stay distinct when both are coded from 0
            X_all = np.concatenate([X_fit, l2_normalize(Xv)])
            y_all = np.concatenate([y_fit, yv + y_fit.max() + 1])
            Xv = l2_normalize(Xv)
        self._validation = X_val is not None
        self.n_features_in_ = int(X.shape[1])
        self.n_val_ = int(Xv.shape[0])
        names, table = self._candidates(self.n_val_)
        self.table_ = table
        for row in table:
            self._log_row(row)
        best: tuple[float, dict] | None = None
        fitted: dict[str, object] = {}
        for name in names:
            row, model = self._try(name, X_fit, y_fit, Xv, yv)
            table.append(row)
            self._log_row(row)
            if model is not None:
                fitted[name] = model
            if row["status"] == OK and (best is None or row["avg_f"] > best[0]):
                best = (row["avg_f"], row)
        if best is None:
            raise InputError("no candidate method could be scored; see the table: "
                             + "; ".join(f"{r['method']}: {r['note']}" for r in table))
        win = best[1]
        self.winner_ = win["method"]
        self.winner_kind_ = win["kind"]
        self.params_ = dict(win["params"])
        self.val_avg_f_ = float(win["avg_f"])
        self.model_ = fitted.get(self.winner_)  # Hi-LANDER fitted on every identity already
        # the other learnt candidates fitted on every identity, for the benchmarks' per-method
        # tables (not saved with the model)
        self._candidate_models = fitted
        self.refit_seconds_ = 0.0
        if self.winner_kind_ == "learnt" and self.model_ is None:
            t0 = time.perf_counter()
            self.model_ = _make_learnt(self.winner_, self.params_, self.random_state,
                                       self.device)
            self.model_.fit(X_all, y_all)
            self.refit_seconds_ = time.perf_counter() - t0
        del self._validation
        return self

    def _log_row(self, row: dict) -> None:
        if self.verbose:
            print(format_row(row), file=sys.stderr)

    def _try(self, name: str, X_fit, y_fit, Xv, yv) -> tuple[dict, object | None]:
        """The candidate's table row, and its model when that is already the final one."""
        kind = "learnt" if name in LEARNT_DEFAULTS else "unsupervised"
        model = None
        try:
            if self.time_budget is not None:
                cost = self._predicted_cost(name, kind, X_fit, y_fit, Xv, yv)
                if cost > self.time_budget:
                    return _row(name, SKIPPED, kind=kind, note=(
                        f"predicted {cost:.2g} s > time budget {self.time_budget:g} s")), None
            t0 = time.perf_counter()
            if kind == "learnt":
                params, score, model = self._score_learnt(name, X_fit, y_fit, Xv, yv)
            else:
                params, score = self._score_unsupervised(name, Xv, yv)
            return _row(name, OK, kind=kind, params=params, avg_f=score,
                        seconds=time.perf_counter() - t0), model
        except InputError as exc:
            return _row(name, SKIPPED, kind=kind, note=str(exc)), None
        except Exception as exc:  # noqa: BLE001 - one method's crash must not stop the others
            return _row(name, FAILED, kind=kind, note=f"{type(exc).__name__}: {exc}"), None

    def _bar(self, name: str, total: int):
        return tqdm(total=total, desc=f"auto: {name}", leave=False, disable=not self.verbose)

    def _grid(self, name: str, yv) -> dict:
        """The search grid of an unsupervised candidate on the labeled points ``yv``."""
        from .tune import default_grid, identity_count_grid

        grid = default_grid(name, yv.size)
        if "n_clusters" in grid:
            # the labels give the identity count: search around it, not over sizes 2-50
            grid["n_clusters"] = identity_count_grid(int(np.unique(yv).size), yv.size)
        return grid

    def _score_unsupervised(self, name: str, Xv, yv) -> tuple[dict, float]:
        from .methods import get_spec
        from .tune import expand_grid, tune_method

        fixed = ({"random_state": self.random_state}
                 if "random_state" in get_spec(name).param_names() else None)
        grid = self._grid(name, yv)
        total = len(expand_grid({k: v for k, v in grid.items()
                                 if not fixed or k not in fixed}))
        with self._bar(name, total) as bar:
            result = tune_method(name, Xv, yv, grid=grid, fixed=fixed,
                                 on_trial=lambda p, s: bar.update(1))
        return dict(result.best_params), float(result.best_score)

    def _score_learnt(self, name: str, X_fit, y_fit, Xv, yv):
        """(parameters, score, final model or None) of a learnt candidate."""
        from .methods import get_spec
        from .tune import grid_search

        params = self._learnt_settings(name)
        if name == "hilander":
            # Hi-LANDER chooses its decoding itself, cross-fitted over all identities inside
            # fit: that choice's score is its score here, and the fitted model is final
            with self._bar(name, 1) as bar:
                model = _make_learnt(name, params, self.random_state, self.device)
                model.fit(X_fit, y_fit)
                bar.update(1)
            if self._validation:
                model.tune_decoding(Xv, yv)
                return params, float(model.selection_["validation"]["chosen"][
                    "held_out_avg_f"]), None
            return params, float(model.selection_["chosen"]["held_out_avg_f"]), model
        [(key, values)] = get_spec(name).grid.items()
        if self._validation:
            with self._bar(name, 1 + len(values)) as bar:
                model = _make_learnt(name, params, self.random_state, self.device)
                model.fit(X_fit, y_fit)
                bar.update(1)
                result = grid_search(lambda p: model.set_params(**p).predict(Xv),
                                     {key: values}, yv, method=name,
                                     on_trial=lambda p, s: bar.update(1))
            return {**params, **result.best_params}, float(result.best_score), None
        # cross-fitted: each fold clustered by the network trained on the other folds
        folds = identity_folds(y_fit, self.cv, self.random_state)
        models = []
        with self._bar(name, self.cv + len(values)) as bar:
            for f in range(self.cv):
                train = folds != f
                models.append(_make_learnt(name, params, self.random_state, self.device)
                              .fit(X_fit[train], y_fit[train]))
                bar.update(1)

            def run(p: dict) -> np.ndarray:
                labels = np.empty(y_fit.size, dtype=np.int64)
                offset = 0
                for f, model in enumerate(models):
                    held = folds == f
                    part = model.set_params(**p).predict(X_fit[held])
                    labels[held] = part + offset
                    offset += int(part.max()) + 1
                return labels

            result = grid_search(run, {key: values}, y_fit, method=name,
                                 on_trial=lambda p, s: bar.update(1))
        return {**params, **result.best_params}, float(result.best_score), None

    def _learnt_settings(self, name: str) -> dict:
        return {**LEARNT_DEFAULTS[name], **(self.learnt_params or {}).get(name, {})}

    def _predicted_cost(self, name: str, kind: str, X_fit, y_fit, Xv, yv) -> float:
        """Seconds for the whole candidate, from one pilot run on a subsample."""
        rng = np.random.default_rng(self.random_state)
        if kind == "learnt":
            # a pilot on a few whole identities, scaled linearly: training cost is per point
            order = rng.permutation(np.unique(y_fit))
            take = np.isin(y_fit, order[: max(2, int(order.size * PILOT_POINTS / y_fit.size))])
            Xp, yp = X_fit[take], y_fit[take]
            # two epochs stand for all of them: per-epoch cost is what grows with the data
            settings, scale = dict(self._learnt_settings(name)), 1.0
            if name == "hilander":  # its epochs are a field of its training settings
                from .lander import group_params

                settings = group_params(settings)  # an earlier flat epochs= joins the group
                training = _training_of(settings.get("training", {}))
                settings["training"] = training.replace(epochs=min(2, training.epochs))
                scale = training.epochs / settings["training"].epochs
            for key in ("epochs", "epochs_v") if name != "hilander" else ():
                full = settings.get(key, _default_of(name, key))
                if full is not None:
                    settings[key] = min(2, full)
                    scale = max(scale, full / settings[key])
            t0 = time.perf_counter()
            _make_learnt(name, settings, self.random_state, self.device).fit(Xp, yp)
            return (time.perf_counter() - t0) * scale * y_fit.size / max(yp.size, 1)
        from .methods import make
        from .tune import expand_grid

        m = min(PILOT_POINTS, Xv.shape[0])
        Xp = Xv[rng.choice(Xv.shape[0], size=m, replace=False)]
        combos = expand_grid(self._grid(name, yv))
        params = dict(combos[0])
        if "n_clusters" in params:
            params["n_clusters"] = max(1, min(m - 1, round(params["n_clusters"] * m
                                                           / Xv.shape[0])))
        if "n_neighbors" in params and params["n_neighbors"] is not None:
            params["n_neighbors"] = min(params["n_neighbors"], m - 1)
        t0 = time.perf_counter()
        make(name, **params).fit(Xp)
        pilot = time.perf_counter() - t0
        return pilot * (Xv.shape[0] / m) ** COST_EXPONENT.get(name, 1.0) * len(combos)

    # -- prediction ----------------------------------------------------------------------------
    def _fitted_marker(self) -> str:
        return "winner_"

    def params_for(self, n_samples: int) -> dict:
        """The winner's parameters for ``n_samples`` points: a tuned ``n_clusters`` or
        modularity resolution carried in the form that keeps its meaning at that size
        (:func:`hilander.tune.carry_params`), as the benchmark does."""
        from .tune import carry_params

        if self.winner_kind_ != "unsupervised":
            return dict(self.params_)
        return carry_params(self.winner_, self.params_, self.n_val_, n_samples)

    def predict(self, X) -> np.ndarray:
        """Cluster new embeddings with the winning method; one label per row."""
        self._check_fitted()
        X = check_features(X, name="X", min_rows=2)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features but AutoCluster was fitted on "
                             f"{self.n_features_in_}")
        if self.model_ is not None:
            return np.asarray(self.model_.predict(X))
        from .methods import make

        return np.asarray(make(self.winner_, **self.params_for(X.shape[0])).fit_predict(X))

    def predict_with(self, name: str, X) -> np.ndarray:
        """Cluster ``X`` with candidate ``name`` as it was scored in ``fit`` (its chosen
        parameters, carried to ``X``'s size; a learnt one only when ``fit`` kept it): what the
        choice would have given had that candidate won. Measurement only."""
        self._check_fitted()
        row = next((r for r in self.table_ if r["method"] == name and r["status"] == OK), None)
        if row is None:
            raise InputError(f"{name!r} was not scored in this fit")
        X = check_features(X, name="X", min_rows=2)
        if row["kind"] == "learnt":
            model = getattr(self, "_candidate_models", {}).get(name)
            if model is None:
                raise InputError(f"{name!r} was not kept after fit (a loaded model keeps only "
                                 "the winner)")
            return np.asarray(model.predict(X))
        from .methods import make
        from .tune import carry_params

        params = carry_params(name, row["params"], self.n_val_, X.shape[0])
        return np.asarray(make(name, **params).fit_predict(X))

    def fit_predict(self, X, y) -> np.ndarray:
        return self.fit(X, y).predict(X)

    def table(self) -> str:
        """The validation table as aligned text."""
        self._check_fitted()
        lines = [f"{'method':<26}{'status':<9}{'avg F':>7}{'seconds':>9}  parameters / note"]
        lines += [format_row(r) for r in self.table_]
        lines.append(f"winner: {self.winner_} (avg F {self.val_avg_f_:.4f} on "
                     f"{self.n_val_} held-out points)")
        return "\n".join(lines)

    # -- persistence (save/load come from PersistentModel) -------------------------------------
    def _state(self) -> dict:
        # the winner writes its own payload; it is stored whole inside this one
        nested = None if self.model_ is None else payload_of(self.model_)
        return {"winner_": self.winner_, "winner_kind_": self.winner_kind_,
                "params_": self.params_, "val_avg_f_": self.val_avg_f_, "n_val_": self.n_val_,
                "table_": self.table_, "model": nested}

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep)
        if isinstance(params["methods"], tuple):
            params["methods"] = list(params["methods"])  # a model file holds plain lists
        return params

    def _set_state(self, state: dict) -> None:
        from .persistence import model_from_payload

        for key in ("winner_", "winner_kind_", "params_", "val_avg_f_", "n_val_", "table_"):
            setattr(self, key, state[key])
        self.model_ = None
        if state["model"] is not None:
            self.model_ = model_from_payload(state["model"])


# -- helpers -------------------------------------------------------------------------------------


def _make_learnt(name: str, params: dict, seed: int, device: str = "auto"):
    from .methods import make

    return make(name, **{"random_state": seed, "device": device, **params})


def _training_of(given):
    """HiLander's training settings from a dict of fields (or themselves)."""
    from .lander import TrainingSettings

    return given if isinstance(given, TrainingSettings) else TrainingSettings(**given)


def _default_of(name: str, key: str):
    """Default of a learnt method's setting ``key`` (None when it has no such setting)."""
    from .methods import get_spec

    return get_spec(name).default_params().get(key)


def _row(method: str, status: str, *, kind: str = "unsupervised", params: dict | None = None,
         avg_f: float | None = None, seconds: float | None = None, note: str = "") -> dict:
    return {"method": method, "kind": kind, "status": status, "params": dict(params or {}),
            "avg_f": avg_f, "seconds": seconds, "note": note}


def format_row(row: dict) -> str:
    score = "" if row["avg_f"] is None else f"{row['avg_f']:.4f}"
    sec = "" if row["seconds"] is None else f"{row['seconds']:.1f}"
    what = (" ".join(f"{k}={v}" for k, v in row["params"].items()) if row["status"] == OK
            else row["note"])
    return f"{row['method']:<26}{row['status']:<9}{score:>7}{sec:>9}  {what}"
