"""The user-facing Hi-LANDER estimator."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._device import resolve_device
from .._validation import (
    InputError,
    check_features,
    check_float,
    check_int,
    check_labels,
    encode_labels,
    l2_normalize,
    warn_degenerate,
)
from ..base import TRAINING_PARAMS, MetaTrainedClusterer, Param
from ..datasets.longtail import long_tail_subsample
from ..datasets.splits import identity_folds
from ..persistence import register_model
from ..training import deterministic
from .aggregation import AGGREGATIONS
from .assign import assign_points
from .decoding import DECODINGS, DecodingSettings
from .hierarchy import InferenceBackend, run_hierarchy
from .levels import level_graph
from .meta_training import MetaTrainingSet, build_meta_training_set
from .network import CrossFittedNet, LanderNet
from .recipe import RECIPES, Recipe
from .result import HierarchyResult, check_fingerprint, model_fingerprint
from .selection import check_folds, select_decoding, split_identities
from .training import steps_for, train_lander

#: Thresholds tried by ``tau="auto"`` (the paper uses 0.1 for species, 0.9 for faces).
DEFAULT_TAU_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

_UNIT = Interval(Real, 0, 1, closed="both")
_POSITIVE_INT = Interval(Integral, 1, None, closed="left")

HILANDER_PARAMS: dict[str, Param] = {
    "n_neighbors": Param(10, [_POSITIVE_INT], "int",
                         "Neighbours per node of every level's k-NN graph."),
    "tau": Param("auto", [_UNIT, StrOptions({"auto"})], 'float or "auto"',
                 'Edge threshold p_τ of the peak rule (eqs. 5-6), or "auto": cross-fit over '
                 "``cv`` folds of the training identities (each fold's network is trained on "
                 "the other folds, keeping the checkpoint of best link AUC on its own fold), "
                 "cluster all training points at once with each scored by the network that "
                 "never saw its identity, choose p_τ, the upper levels' p_τ, LANDER vs "
                 "Hi-LANDER and the decoding by avg F there, then re-fit on all identities "
                 "(``refit``)."),
    "tau_upper": Param(None, [_UNIT, None], "float or None",
                       "p_τ of levels ≥ 2 when ``tau`` is a number (None: ``tau``)."),
    "decoding": Param("peak", [StrOptions(set(DECODINGS))], "str",
                      'How a level\'s edges become clusters when ``tau`` is a number: "peak" '
                      '(eqs. 5-6), "similarity" (the authors\' code: threshold on the cosine) '
                      'or "infomap" (map equation on the edges with p_ij ≥ τ).'),
    "aggregation": Param("peak", [StrOptions(set(AGGREGATIONS))], "str",
                         'Super-node feature of levels ≥ 2 (eq. 7): "peak" (the peak\'s own '
                         'feature), "mean" (size-weighted mean of the members) or "concat" '
                         "(both, sec. 3.4)."),
    "max_levels": Param(None, [_POSITIVE_INT, None], "int or None",
                        "Cap on inference levels; 1 gives one-level LANDER, None runs until "
                        "no edge is added."),
    "early_stopping": Param(True, ["boolean"], "bool",
                            "Stop once a level adds more than 1/k of the previous level's "
                            "edges (paper sec. 4.3)."),
    "recipe": Param("lander", [StrOptions(set(RECIPES))], "str",
                    'How the network is built and meta-trained: "lander" (hilander\'s own: '
                    "an edge head scoring a calibrated cosine plus a learnt correction from "
                    "class-agnostic relations, Adam, feature noise and long-tailed re-draws "
                    'of the training identities) or "paper" (the paper\'s edge MLP on '
                    "[h_i, h_j], SGD at 0.1 with momentum 0.9, no noise, no re-draws). See "
                    ":mod:`hilander.lander.recipe`."),
    "num_layers": Param(1, [_POSITIVE_INT], "int", "GAT layers of the encoder."),
    **TRAINING_PARAMS,
    # lr and patience mean something more here than in TRAINING_PARAMS
    "lr": Param(None, [Interval(Real, 0, None, closed="neither"), None], "float or None",
                'Learning rate (None: the recipe\'s, 0.01 with Adam for "lander" and 0.1 with '
                'SGD for "paper"); cosine-annealed.'),
    "patience": Param(16, [_POSITIVE_INT, None], "int or None",
                      'With ``tau="auto"``, stop the hold-out training after this many '
                      "evaluations (one per 25 steps) without a gain in held-out link AUC "
                      "(None: train every epoch); the re-fit then runs as many steps as the "
                      "kept checkpoint had."),
    "batch_size": Param(1024, [Interval(Integral, 2, None, closed="left")], "int",
                        "Seed nodes per training step (each with its full neighbourhood); an "
                        "epoch draws as many seeds as the training levels hold nodes."),
    "feature_noise": Param(None, [Interval(Real, 0, None, closed="left"), None],
                           "float or None", "Norm of the Gaussian noise added to the unit "
                           "node features during training (None: the recipe's, 0.5 for "
                           '"lander" and 0 for "paper").'),
    "identity_subsets": Param(None, [Interval(Integral, 0, None, closed="left"), None],
                              "int or None", "Extra training hierarchies, each built on a "
                              "seeded long-tailed re-draw of the training identities; the "
                              "step budget stays the full graph's (None: the recipe's, 4 for "
                              '"lander" and 0 for "paper").'),
    "cv": Param(3, [Interval(Integral, 2, None, closed="left")], "int",
                'Folds of identities ``tau="auto"`` cross-fits over: the selection sees every '
                "training identity at once, as new data will come, rather than a small "
                "held-out share of them."),
    "refit": Param(True, ["boolean"], "bool", 'After ``tau="auto"`` chose the decoding, '
                   "re-train on all identities for the median number of steps whose weights "
                   "the folds kept (False: keep the first fold's network)."),
    "tau_grid": Param(DEFAULT_TAU_GRID, ["array-like"], "tuple of float",
                      'Thresholds ``tau="auto"`` tries.'),
    "knn_method": Param("auto", [StrOptions({"auto", "exact", "ivf", "hnsw"})], "str",
                        "k-NN search (see :func:`hilander.graph.build_knn_graph`)."),
}
@register_model
class HiLander(MetaTrainedClusterer):
    """Hierarchical GNN clustering learnt from labeled identities (Xing et al., ICCV 2021).

    ``fit(X_train, y_train)`` meta-trains one LANDER network, shared by every level, on the
    ground-truth hierarchy of labeled identities; ``predict(X)`` clusters embeddings of new,
    unseen identities without labels. Each level links every node to its best denser
    neighbour whose linkage probability reaches p_τ; connected components become the next
    level's super-nodes, until no edge is added.

    {parameters}

    Attributes
    ----------
    settings_ : DecodingSettings
        How the fitted network's edges become clusters (p_τ of level 1 and of the upper
        levels, level cap, decoding, k, aggregation): chosen on held-out identities with
        ``tau="auto"``, the given parameters otherwise.
    model_ : LanderNet
        The meta-trained network.
    selection_ : dict or None
        With ``tau="auto"``: each fold's size and link-AUC curve, the chosen settings and
        every trial's scores, and what one fold alone would have chosen.
    crossfit_ : CrossFittedNet
        With ``tau="auto"``: the fold networks and each training point's fold, which scored
        the selection (not saved with the model).
    history_ : list of float
        Training loss of every step of the last training run.
    n_train_levels_ : int
        Ground-truth level graphs of the last training run.
    n_features_in_ : int
        Dimension of the training embeddings.
    fit_seconds_ : float
        Wall time of :meth:`fit`.
    timings_ : dict
        Seconds of each stage of :meth:`fit` (the folds' training, the selection, the
        re-fit, the total); printed when ``verbose``.
    labels_ : ndarray of shape (n_samples,)
        Set by :meth:`fit_predict` only.

    Examples
    --------
    >>> from hilander import HiLander
    >>> from hilander.datasets import make_open_set
    >>> from hilander.metrics import evaluate
    >>> data = make_open_set(n_train_classes=30, n_test_classes=10, seed=0)
    >>> model = HiLander(epochs=3, tau_grid=(0.3, 0.5, 0.7), random_state=0)  # a short run
    >>> model = model.fit(data.X_train, data.y_train)
    >>> labels = model.predict(data.X_test)          # identities never seen in training
    >>> labels.shape == data.y_test.shape
    True
    >>> model.settings_.decoding in ("peak", "similarity", "infomap")
    True
    >>> evaluate(data.y_test, labels)["pairwise_f"] > 0.9
    True
    """

    _params = HILANDER_PARAMS
    _n_positional = 2  # HiLander(10, 0.7): n_neighbors, tau

    # -- configuration -------------------------------------------------------------------------
    def _check_rules(self) -> None:
        if not len(self.tau_grid):
            raise InputError("tau_grid must list at least one threshold")
        for t in self.tau_grid:
            check_float(t, "tau_grid value", low=0.0, high=1.0)

    def _recipe(self) -> Recipe:
        """The named recipe with the parameters the user set in place of its values."""
        base = RECIPES[self.recipe]
        given = {"lr": self.lr, "feature_noise": self.feature_noise,
                 "identity_subsets": self.identity_subsets}
        return replace(base, **{k: v for k, v in given.items() if v is not None})

    def _given_settings(self) -> DecodingSettings:
        """The decoding the parameters describe (what ``tau="auto"`` starts from)."""
        tau = self.tau_grid[0] if self.tau == "auto" else float(self.tau)
        return DecodingSettings(tau=tau, tau_upper=self.tau_upper, max_levels=self.max_levels,
                                decoding=self.decoding, n_neighbors=self.n_neighbors,
                                aggregation=self.aggregation,
                                early_stopping=self.early_stopping)

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    # -- training ------------------------------------------------------------------------------
    def fit(self, X, y) -> HiLander:
        """Meta-train on labeled embeddings ``X`` (n, d) with identities ``y``; returns self."""
        self._check_params()
        X = check_features(X, name="X", min_rows=self.n_neighbors + 1)
        y = encode_labels(check_labels(y, X.shape[0], name="y"))
        if y.max() < 1:
            raise InputError("y has a single class; meta-training needs at least 2 identities")
        warn_degenerate(X, y)
        X = l2_normalize(X)
        t0 = time.perf_counter()
        recipe = self._recipe()
        self.n_features_in_ = X.shape[1]
        self.selection_ = None
        self.settings_ = self._given_settings()
        steps = None
        self.timings_ = {}
        with deterministic():
            if self.tau == "auto":
                steps = self._select(X, y, recipe)
                self.timings_.update(self.selection_.pop("seconds", {}))
            if self.tau != "auto" or self.refit:
                t1 = time.perf_counter()
                self.model_, log, training = self._train(X, y, recipe, steps=steps)
                self.history_, self.n_train_levels_ = log.losses, len(training.levels)
                self.timings_["training" if steps is None else "refit"] = \
                    time.perf_counter() - t1
        self.fit_seconds_ = self.timings_["total"] = time.perf_counter() - t0
        if self.verbose:
            print("HiLander.fit: " + ", ".join(f"{stage} {sec:.1f} s"
                                               for stage, sec in self.timings_.items()),
                  file=sys.stderr)
        return self

    def _train(self, X: np.ndarray, y: np.ndarray, recipe: Recipe, *, steps: int | None = None,
               held_out=None):
        torch.manual_seed(self.random_state)
        training: MetaTrainingSet = build_meta_training_set(
            X, y, n_neighbors=self.n_neighbors, aggregation=self.aggregation,
            max_levels=self.max_levels, knn_method=self.knn_method, recipe=recipe,
            random_state=self.random_state)
        model = self._new_model(recipe).to(self._device())
        if steps is None:
            steps = steps_for(training.full_levels, self.epochs, self.batch_size)
        log = train_lander(model, training, recipe, steps=steps, batch_size=self.batch_size,
                           weight_decay=self.weight_decay, patience=self.patience,
                           random_state=self.random_state, held_out=held_out,
                           progress=self.verbose)
        return model, log, training

    def _new_model(self, recipe: Recipe) -> LanderNet:
        in_dim = self.n_features_in_ * (2 if self.aggregation == "concat" else 1)
        return LanderNet(in_dim, self.hidden, self.num_layers, recipe.heads,
                         dropout=self.dropout, edge_input=recipe.edge_input,
                         calibration=recipe.calibration, comembership=recipe.comembership)

    def _select(self, X: np.ndarray, y: np.ndarray, recipe: Recipe) -> int:
        """Cross-fit over ``cv`` folds of identities and choose the decoding settings.

        Every fold's network trains on the other folds; all training points are then
        clustered at once, each scored by the network that never saw its identity, and the
        settings are chosen there: at the scale of the labeled set, not of one held-out share
        of it. Returns the number of steps the re-fit trains for.
        """
        if recipe.holdout is not None:
            return self._select_on_holdout(X, y, recipe)
        t0 = time.perf_counter()
        folds = identity_folds(y, self.cv, self.random_state)
        check_folds(y, folds, self.n_neighbors)
        nets, fold_rows = [], []
        for f in range(self.cv):
            held = folds == f
            X_f, y_f = X[held], encode_labels(y[held])
            net, log, training = self._train(
                X[~held], encode_labels(y[~held]), recipe,
                held_out=level_graph(X_f, y_f, self.n_neighbors, self.knn_method,
                                     recipe.comembership))
            nets.append(net)
            fold_rows.append({"classes": int(y_f.max() + 1), "points": int(held.sum()),
                              "best_step": log.best_step, "steps": len(log.losses),
                              "link_auc_curve": log.scores, "levels": len(training.levels)})
        t1 = time.perf_counter()
        self.crossfit_ = CrossFittedNet(nets, folds)
        selection = self._choose(self.crossfit_, X, y, recipe)
        t2 = time.perf_counter()
        # what one held-out fold alone would have chosen (the earlier way), for the record
        held = folds == 0
        alone = select_decoding(nets[0], X[held], encode_labels(y[held]),
                                self._given_settings(), tau_grid=self.tau_grid,
                                knn_method=self.knn_method, random_state=self.random_state,
                                decodings=recipe.decodings)
        changed = [k for k, v in selection.settings.as_dict().items()
                   if alone.settings.as_dict()[k] != v]
        self.model_, self.history_ = nets[0], []
        self.n_train_levels_ = fold_rows[0]["levels"]
        self.selection_ = {
            "mode": "cross-fitted", "folds": fold_rows, "held_out_classes": int(y.max() + 1),
            "held_out_points": int(y.size), "chosen": selection.chosen(),
            "trials": selection.trials,
            "one_fold": {"classes": fold_rows[0]["classes"], "chosen": alone.chosen(),
                         "changed": changed},
            "seconds": {"fold_training": t1 - t0, "selection": t2 - t1,
                        "one_fold_selection": time.perf_counter() - t2},
        }
        return int(np.median([row["best_step"] for row in fold_rows]))

    def _select_on_holdout(self, X: np.ndarray, y: np.ndarray, recipe: Recipe) -> int:
        """The earlier selection: one held-out share of the identities (ablation only)."""
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

    def _choose(self, model, X: np.ndarray, y: np.ndarray, recipe: Recipe):
        """Search the decoding settings on labeled identities and adopt the best."""
        also = []
        if recipe.longtail_selection:
            rows = long_tail_subsample(y, seed=self.random_state)
            sub = model.subset(rows) if isinstance(model, CrossFittedNet) else model
            also.append((sub, X[rows], encode_labels(y[rows])))
        selection = select_decoding(
            model, X, y, self._given_settings(),
            tau_grid=self.tau_grid, knn_method=self.knn_method,
            random_state=self.random_state, k_grid=recipe.k_grid,
            aggregations=recipe.aggregation_grid, progress=self.verbose,
            decodings=recipe.decodings, also=also,
            attach_leftovers=recipe.attach_leftovers)
        self.settings_ = selection.settings
        return selection

    def tune_decoding(self, X, y) -> HiLander:
        """Re-choose the decoding settings on a labeled validation set of identities disjoint
        from the ones to cluster (the weights stay as trained); returns self.

        The same search as ``tau="auto"`` runs inside ``fit``; use this when a separate
        validation split exists, as in the empirical study's protocol.
        """
        self._check_fitted()
        X = l2_normalize(self._check_X(X))
        y = encode_labels(check_labels(y, X.shape[0], name="y"))
        with deterministic():
            selection = self._choose(self.model_.to(self._device()), X, y, self._recipe())
        self.selection_ = {**(self.selection_ or {}), "validation": {
            "classes": int(y.max() + 1), "points": int(X.shape[0]),
            "chosen": selection.chosen(), "trials": selection.trials}}
        return self

    # -- inference -----------------------------------------------------------------------------
    def _fitted_marker(self) -> str:
        return "model_"

    def _check_X(self, X) -> np.ndarray:
        X = check_features(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features but the model was trained on "
                f"{self.n_features_in_}"
            )
        k = self.settings_.n_neighbors
        if X.shape[0] <= k:
            raise InputError(
                f"X has {X.shape[0]} rows; clustering with n_neighbors={k} needs at least "
                f"{k + 1}"
            )
        return X

    def cluster(self, X, *, tau: float | None = None, max_levels: int | str | None = "fitted",
                backend: InferenceBackend | None = None) -> HierarchyResult:
        """Cluster new embeddings and return every level of the hierarchy.

        ``tau`` overrides the fitted thresholds (of every level) and ``max_levels`` the
        fitted cap (``1``: one-level LANDER, None: to convergence), for this run only.
        ``backend`` computes level 1's k-NN graph and GNN scores elsewhere, e.g. an entered
        :class:`hilander.distributed.RayBackend` (None: this process); the labels are the
        same.
        """
        self._check_fitted()
        X = self._check_X(X)
        settings = self.settings_
        if tau is not None:
            settings = settings.replace(tau=check_float(tau, "tau", low=0.0, high=1.0),
                                        tau_upper=None)
        if max_levels != "fitted":
            if max_levels is not None:
                check_int(max_levels, "max_levels", low=1)
            settings = settings.replace(max_levels=max_levels)
        torch.manual_seed(self.random_state)
        with deterministic():
            result = run_hierarchy(self.model_.to(self._device()), l2_normalize(X, copy=False),
                                   settings, knn_method=self.knn_method,
                                   seed=self.random_state, progress=self.verbose,
                                   backend=backend)
        # a saved run remembers the model that made it: assign refuses another model's run
        result.model_fingerprint = model_fingerprint(self)
        return result

    def predict(self, X) -> np.ndarray:
        """One cluster label (0..C-1) per row of ``X``."""
        return self.cluster(X).labels

    def fit_predict(self, X, y, **kwargs) -> np.ndarray:
        """Meta-train on labeled ``X`` and cluster the same points (``y`` is not used to
        cluster); the labels are also stored as ``labels_``."""
        self.labels_ = self.fit(X, y, **kwargs).predict(X)
        return self.labels_

    def predict_hierarchy(self, X) -> list[np.ndarray]:
        """Labels of every level for each row of ``X``, finest level first."""
        return self.cluster(X).level_labels

    def assign(self, X_new, result: HierarchyResult, *, tau: float | None = None) -> np.ndarray:
        """Labels for new points in the clusters of an earlier :meth:`cluster` run.

        Each new point is linked through the learnt linkage to its nearest points of that run
        (see :func:`hilander.lander.assign.assign_points`); the earlier points keep their
        labels, and points that link to none of them open new clusters (ids from
        ``result.n_clusters`` up); a run made by another model is refused. The thresholds
        default to those of that run (``tau`` overrides every level's). Links follow the
        fitted decoding's rule for "peak" and "similarity"; any other decoding (a partition
        cannot be extended point by point) links by the peak rule on p_ij.
        """
        self._check_fitted()
        check_fingerprint(result, self)
        X_new = check_features(X_new, name="X_new")
        if X_new.shape[1] != self.n_features_in_:
            raise InputError(f"X_new has {X_new.shape[1]} features but the model was trained "
                             f"on {self.n_features_in_}")
        if tau is not None:
            settings = self.settings_.replace(tau=check_float(tau, "tau", low=0.0, high=1.0),
                                              tau_upper=None)
        elif result.tau is not None:
            settings = self.settings_.replace(tau=result.tau, tau_upper=result.tau_upper)
        else:
            settings = self.settings_
        torch.manual_seed(self.random_state)
        with deterministic():
            return assign_points(self.model_.to(self._device()), result, l2_normalize(X_new),
                                 settings, knn_method=self.knn_method)

    # -- persistence (save/load come from PersistentModel) -------------------------------------
    #: parameters of earlier versions that left the constructor, with the value that means
    #: what today's HiLander does (a file with any other value needs benchmarks/experimental.py)
    _REMOVED = {"encoder": "gat", "edge_input": "relational", "calibration": "cosine",
                "subset_mode": "longtail", "levels_mode": "label_pure", "train_ks": None,
                "train_levels": None, "k_grid": None, "aggregation_grid": None, "heads": 1,
                "optimizer": "adam", "momentum": 0.9, "balanced": False, "backend": "local",
                "ray_address": None, "n_shards": None}

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        config = super()._upgrade_config(config)
        for name, value in cls._REMOVED.items():
            if name in config and name not in cls._all_params:
                given = config.pop(name)
                if name not in ("backend", "ray_address", "n_shards") and given != value:
                    raise InputError(f"this model was trained with {name}={given!r}, an option "
                                     "HiLander no longer has; load it with "
                                     "benchmarks/experimental.py's ExperimentalHiLander")
        return config

    def _state(self) -> dict:
        return {
            "weights": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            "settings_": self.settings_.as_dict(),
            "selection_": self.selection_,
            "n_train_levels_": self.n_train_levels_,
            "history_": list(self.history_),
        }

    def _set_state(self, state: dict) -> None:
        if "settings_" in state:
            self.settings_ = DecodingSettings(**state["settings_"])
        else:  # files of earlier versions kept the six settings apart
            self.settings_ = DecodingSettings(
                tau=float(state["tau_"]), tau_upper=state["tau_upper_"],
                max_levels=state["max_levels_"], decoding=str(state["decoding_"]),
                n_neighbors=int(state.get("k_", self.n_neighbors)),
                aggregation=str(state.get("aggregation_", self.aggregation)),
                early_stopping=self.early_stopping)
        self.selection_ = state["selection_"]
        self.n_train_levels_ = int(state["n_train_levels_"])
        self.history_ = list(state["history_"])
        model = self._new_model(self._recipe())
        model.load_state_dict(state["weights"])
        self.model_ = model.eval().to(self._device())
