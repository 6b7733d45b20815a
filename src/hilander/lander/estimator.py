"""The user-facing Hi-LANDER estimator."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import replace
from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions

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
from ..base import POSITIVE_INT, MetaTrainedClusterer, Param, validate_settings
from ..datasets.longtail import long_tail_subsample
from ..datasets.splits import identity_folds
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
from .selection import check_folds, select_decoding
from .settings import DECODING_CONSTRAINTS, SelectionSettings, TrainingSettings
from .training import steps_for, train_lander

HILANDER_PARAMS: dict[str, Param] = {
    "n_neighbors": Param(10, [POSITIVE_INT], "int",
                         "Neighbours per node of every level's k-NN graph, in training and in "
                         "decoding."),
    "decoding": Param("auto", [StrOptions({"auto"}), DecodingSettings, dict],
                      'DecodingSettings, dict or "auto"',
                      "How a level's scored edges become clusters: a :class:`DecodingSettings` "
                      "used as given (a dict gives some of its fields, the others being this "
                      "model's ``n_neighbors``, ``aggregation`` and ``max_levels`` or the "
                      'defaults), or "auto": chosen inside ``fit`` by cross-fitting over '
                      "folds of the training identities (each fold's network trained on the "
                      "other folds), clustering all training points at once with each scored "
                      "by the network that never saw its identity, and choosing p_τ, the upper "
                      "levels' p_τ, LANDER vs Hi-LANDER and the decoding by avg F there "
                      "(see ``selection``)."),
    "aggregation": Param("peak", [StrOptions(set(AGGREGATIONS))], "str",
                         'Super-node feature of levels ≥ 2 (eq. 7): "peak" (the peak\'s own '
                         'feature), "mean" (size-weighted mean of the members) or "concat" '
                         "(both, sec. 3.4)."),
    "max_levels": Param(None, [POSITIVE_INT, None], "int or None",
                        "Cap on the training hierarchy's and the inference's levels; 1 gives "
                        "one-level LANDER, None runs until no edge is added."),
    "recipe": Param("lander", [StrOptions(set(RECIPES))], "str",
                    'How the network is built and meta-trained: "lander" (hilander\'s own: '
                    "an edge head scoring a calibrated cosine plus a learnt correction from "
                    "class-agnostic relations, Adam, feature noise and long-tailed re-draws "
                    'of the training identities) or "paper" (the paper\'s edge MLP on '
                    "[h_i, h_j], SGD at 0.1 with momentum 0.9, no noise, no re-draws). See "
                    ":mod:`hilander.lander.recipe`."),
    "training": Param(TrainingSettings(), [TrainingSettings, dict], "TrainingSettings or dict",
                      "Network width and depth, epochs, batch size and the recipe values to "
                      "override (:class:`~hilander.lander.settings.TrainingSettings`; a dict "
                      "gives the fields that differ from its defaults)."),
    "selection": Param(SelectionSettings(), [SelectionSettings, dict],
                       "SelectionSettings or dict",
                       'How ``decoding="auto"`` cross-fits and searches: folds, threshold '
                       "grid, re-fit, patience (:class:`~hilander.lander.settings."
                       "SelectionSettings`; a dict gives the fields that differ from its "
                       "defaults). Not used with a given decoding."),
    "knn_method": Param("auto", [StrOptions({"auto", "exact", "ivf", "hnsw"})], "str",
                        "k-NN search (see :func:`hilander.graph.build_knn_graph`)."),
}

#: Keywords of earlier versions (flat parameters) and the settings group each now lives in;
#: they still work, with a FutureWarning, for one release.
LEGACY_KEYWORDS: dict[str, str] = {
    **{k: "training" for k in ("epochs", "batch_size", "hidden", "num_layers", "lr",
                               "feature_noise", "identity_subsets")},
    **{k: "selection" for k in ("cv", "tau_grid", "refit", "patience")},
    **{k: "decoding" for k in ("tau", "tau_upper", "early_stopping")},
}
#: Removed keywords and the value every earlier model had (none was ever set otherwise).
DROPPED_KEYWORDS = {"dropout": 0.0, "weight_decay": 1e-5}
#: DecodingSettings fields that shape the trained network too: a given decoding must agree
#: with the model's own values.
SHARED_FIELDS = ("n_neighbors", "aggregation", "max_levels")


class HiLander(MetaTrainedClusterer):
    """Hierarchical GNN clustering learnt from labeled identities (Xing et al., ICCV 2021).

    ``fit(X_train, y_train)`` meta-trains one LANDER network, shared by every level, on the
    ground-truth hierarchy of labeled identities; ``predict(X)`` clusters embeddings of new,
    unseen identities without labels. Each level links every node to its best denser
    neighbour whose linkage probability reaches p_τ; connected components become the next
    level's super-nodes, until no edge is added.

    The options come in groups: ``training=`` (:class:`~hilander.lander.settings.
    TrainingSettings`), ``selection=`` (:class:`~hilander.lander.settings.SelectionSettings`,
    used by ``decoding="auto"``) and ``decoding=`` (``"auto"`` or a
    :class:`~hilander.lander.decoding.DecodingSettings`). The flat keywords of earlier
    versions (``tau=``, ``epochs=``, ``tau_grid=``...) still work, with a FutureWarning.

    {parameters}

    Attributes
    ----------
    settings_ : DecodingSettings
        How the fitted network's edges become clusters (p_τ of level 1 and of the upper
        levels, level cap, decoding, k, aggregation): chosen on held-out identities with
        ``decoding="auto"``, the given decoding otherwise.
    model_ : LanderNet
        The meta-trained network.
    selection_ : dict or None
        With ``decoding="auto"``: each fold's size and link-AUC curve, the chosen settings
        and every trial's scores (and, with ``selection.record_one_fold``, what one fold
        alone would have chosen).
    crossfit_ : CrossFittedNet
        With ``decoding="auto"``: the fold networks and each training point's fold, which
        scored the selection (not saved with the model).
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
    >>> from hilander.lander import SelectionSettings, TrainingSettings
    >>> from hilander.metrics import evaluate
    >>> data = make_open_set(n_train_classes=30, n_test_classes=10, seed=0)
    >>> model = HiLander(training=TrainingSettings(epochs=3),       # a short run
    ...                  selection=SelectionSettings(tau_grid=(0.3, 0.5, 0.7)), random_state=0)
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
    _n_positional = 2  # HiLander(10, settings): n_neighbors, decoding
    _legacy_keywords = (*LEGACY_KEYWORDS, *DROPPED_KEYWORDS)

    # -- configuration -------------------------------------------------------------------------
    @classmethod
    def _translate_legacy(cls, params: dict, *, warn: bool = True, current=None) -> dict:
        """``params`` with the flat keywords of earlier versions moved into their settings
        group (:data:`LEGACY_KEYWORDS`); ``current`` is the estimator ``set_params`` changes.

        An old decoding keyword (``tau`` and friends) becomes a dict of the given fields, so
        the model's ``n_neighbors``, ``aggregation`` and ``max_levels`` still fill the rest.
        """
        params = dict(params)
        old: dict = {}
        decoding = params.get("decoding")
        if isinstance(decoding, str) and decoding in DECODINGS:
            old["decoding"] = params.pop("decoding")  # a decoding rule's name, as before
        elif isinstance(decoding, Real) and not isinstance(decoding, bool):
            old["tau"] = params.pop("decoding")  # HiLander(10, 0.7): the old positional tau
        old.update({k: params.pop(k) for k in [*LEGACY_KEYWORDS, *DROPPED_KEYWORDS]
                    if k in params})
        if not old:
            return params
        if warn:
            names = ", ".join(f"{k}=" for k in old)
            warnings.warn(f"{cls.__name__}({names}...) is deprecated: these options now live "
                          "in training=TrainingSettings(...), selection=SelectionSettings(...) "
                          "and decoding=DecodingSettings(...) or 'auto'; "
                          f"{', '.join(sorted({_new_home(k) for k in old}))}",
                          FutureWarning, stacklevel=4)
        for name, value in DROPPED_KEYWORDS.items():
            if name in old and old.pop(name) != value:
                raise InputError(f"{cls.__name__}: {name} is no longer an option (only "
                                 f"{value} was ever used)")

        def group(name: str, default) -> dict:
            given = params.get(name, getattr(current, name, default) if current else default)
            return dict(given) if isinstance(given, dict) else given.as_dict()

        for name, settings in (("training", TrainingSettings),
                               ("selection", SelectionSettings)):
            moved = {k: old.pop(k) for k in list(old) if LEGACY_KEYWORDS.get(k) == name}
            if moved:
                params[name] = settings(**{**group(name, settings()), **moved})
        if old:  # tau, tau_upper, early_stopping, the decoding rule
            tau = old.pop("tau", None)
            start = params.get("decoding", getattr(current, "decoding", "auto"))
            if tau == "auto" or (tau is None and start == "auto"):
                if "early_stopping" in old:
                    params["selection"] = SelectionSettings(**{
                        **group("selection", SelectionSettings()),
                        "early_stopping": old.pop("early_stopping")})
                params["decoding"] = "auto"  # tau_upper and the rule had no effect then
            else:
                given = ({} if start == "auto" else
                         dict(start) if isinstance(start, dict) else start.as_dict())
                if tau is not None:
                    given["tau"] = tau
                params["decoding"] = {**given, **old}
        return params

    def _check_rules(self) -> None:
        self._training().validate("HiLander.training")
        self._selection().validate("HiLander.selection")
        if self.decoding != "auto":
            settings = self._decoding()
            validate_settings(settings.as_dict(), DECODING_CONSTRAINTS, "HiLander.decoding")
            differ = [f for f in SHARED_FIELDS if getattr(settings, f) != getattr(self, f)]
            if differ:
                raise InputError(
                    "decoding " + ", ".join(f"{f}={getattr(settings, f)!r}" for f in differ)
                    + " differs from the model's " + ", ".join(
                        f"{f}={getattr(self, f)!r}" for f in differ)
                    + ": the network is trained with the model's; give them once, as "
                    "HiLander parameters (a dict decoding= takes them from the model)")

    def _training(self) -> TrainingSettings:
        return _coerce(TrainingSettings, self.training, "training")

    def _selection(self) -> SelectionSettings:
        return _coerce(SelectionSettings, self.selection, "selection")

    def _decoding(self) -> DecodingSettings:
        """The given decoding (``decoding`` is not "auto"), a dict filled from the model."""
        if isinstance(self.decoding, DecodingSettings):
            return self.decoding
        return _coerce(DecodingSettings, {f: getattr(self, f) for f in SHARED_FIELDS}
                       | dict(self.decoding), "decoding")

    def _recipe(self) -> Recipe:
        """The named recipe with the training settings the user set in place of its values."""
        training = self._training()
        given = {"lr": training.lr, "feature_noise": training.feature_noise,
                 "identity_subsets": training.identity_subsets}
        return replace(RECIPES[self.recipe], **{k: v for k, v in given.items()
                                                if v is not None})

    def _given_settings(self) -> DecodingSettings:
        """The decoding to use as given, or where ``decoding="auto"`` starts from."""
        if self.decoding != "auto":
            settings = self._decoding()
            return settings.replace(tau=float(settings.tau))
        return DecodingSettings(tau=self._selection().tau_grid[0], max_levels=self.max_levels,
                                n_neighbors=self.n_neighbors, aggregation=self.aggregation,
                                early_stopping=self._selection().early_stopping)

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
        auto = self.decoding == "auto"
        with deterministic():
            if auto:
                steps = self._select(X, y, recipe)
                self.timings_.update(self.selection_.pop("seconds", {}))
            if not auto or self._selection().refit:
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
        settings = self._training()
        training: MetaTrainingSet = build_meta_training_set(
            X, y, n_neighbors=self.n_neighbors, aggregation=self.aggregation,
            max_levels=self.max_levels, knn_method=self.knn_method, recipe=recipe,
            random_state=self.random_state)
        model = self._new_model(recipe).to(self._device())
        if steps is None:
            steps = steps_for(training.full_levels, settings.epochs, settings.batch_size)
        log = train_lander(model, training, recipe, steps=steps,
                           batch_size=settings.batch_size, weight_decay=recipe.weight_decay,
                           patience=self._selection().patience,
                           random_state=self.random_state, held_out=held_out,
                           progress=self.verbose)
        return model, log, training

    def _new_model(self, recipe: Recipe) -> LanderNet:
        settings = self._training()
        in_dim = self.n_features_in_ * (2 if self.aggregation == "concat" else 1)
        return LanderNet(in_dim, settings.hidden, settings.num_layers, recipe.heads,
                         edge_input=recipe.edge_input, calibration=recipe.calibration,
                         comembership=recipe.comembership)

    def _select(self, X: np.ndarray, y: np.ndarray, recipe: Recipe) -> int:
        """Cross-fit over ``selection.cv`` folds of identities and choose the decoding.

        Every fold's network trains on the other folds; all training points are then
        clustered at once, each scored by the network that never saw its identity, and the
        settings are chosen there: at the scale of the labeled set, not of one held-out share
        of it. Returns the number of steps the re-fit trains for.
        """
        t0 = time.perf_counter()
        cv = self._selection().cv
        folds = identity_folds(y, cv, self.random_state)
        check_folds(y, folds, self.n_neighbors)
        nets, fold_rows = [], []
        for f in range(cv):
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
        self.model_, self.history_ = nets[0], []
        self.n_train_levels_ = fold_rows[0]["levels"]
        self.selection_ = {
            "mode": "cross-fitted", "folds": fold_rows, "held_out_classes": int(y.max() + 1),
            "held_out_points": int(y.size), "chosen": selection.chosen(),
            "trials": selection.trials,
            "seconds": {"fold_training": t1 - t0, "selection": time.perf_counter() - t1},
        }
        if self._selection().record_one_fold:
            # what one held-out fold alone would have chosen (the earlier way), for the record
            t2 = time.perf_counter()
            held = folds == 0
            alone = select_decoding(nets[0], X[held], encode_labels(y[held]),
                                    self._given_settings(),
                                    tau_grid=self._selection().tau_grid,
                                    knn_method=self.knn_method,
                                    random_state=self.random_state,
                                    decodings=recipe.decodings)
            changed = [k for k, v in selection.settings.as_dict().items()
                       if alone.settings.as_dict()[k] != v]
            self.selection_["one_fold"] = {"classes": fold_rows[0]["classes"],
                                           "chosen": alone.chosen(), "changed": changed}
            self.selection_["seconds"]["one_fold_selection"] = time.perf_counter() - t2
        return int(np.median([row["best_step"] for row in fold_rows]))

    def _choose(self, model, X: np.ndarray, y: np.ndarray, recipe: Recipe):
        """Search the decoding settings on labeled identities and adopt the best."""
        also = []
        if recipe.longtail_selection:
            rows = long_tail_subsample(y, seed=self.random_state)
            sub = model.subset(rows) if isinstance(model, CrossFittedNet) else model
            also.append((sub, X[rows], encode_labels(y[rows])))
        selection = select_decoding(
            model, X, y, self._given_settings(),
            tau_grid=self._selection().tau_grid, knn_method=self.knn_method,
            random_state=self.random_state, k_grid=recipe.k_grid,
            aggregations=recipe.aggregation_grid, progress=self.verbose,
            decodings=recipe.decodings, also=also,
            attach_leftovers=recipe.attach_leftovers)
        self.settings_ = selection.settings
        return selection

    def tune_decoding(self, X, y) -> HiLander:
        """Re-choose the decoding settings on a labeled validation set of identities disjoint
        from the ones to cluster (the weights stay as trained); returns self.

        The same search as ``decoding="auto"`` runs inside ``fit``; use this when a separate
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
    #: what today's HiLander does (a file with any other value needs the study's
    #: :class:`hilander.study.ablation.ExperimentalHiLander`)
    _REMOVED = {"encoder": "gat", "edge_input": "relational", "calibration": "cosine",
                "subset_mode": "longtail", "levels_mode": "label_pure", "train_ks": None,
                "train_levels": None, "k_grid": None, "aggregation_grid": None, "heads": 1,
                "optimizer": "adam", "momentum": 0.9, "balanced": False, "backend": "local",
                "ray_address": None, "n_shards": None}

    @classmethod
    def _upgrade_config(cls, config: dict) -> dict:
        classes = {c.__name__: c for c in (DecodingSettings, TrainingSettings,
                                           SelectionSettings)}
        config = {k: classes[v["settings"]](**v["fields"]) if _saved_settings(v, classes)
                  else v for k, v in config.items()}
        for name, value in cls._REMOVED.items():
            if name in config and name not in cls._all_params:
                given = config.pop(name)
                if name not in ("backend", "ray_address", "n_shards") and given != value:
                    raise InputError(f"this model was trained with {name}={given!r}, an option "
                                     "HiLander no longer has; load it with "
                                     "hilander.study.ablation.ExperimentalHiLander")
        # files of earlier versions hold the flat keywords: translated without a warning
        return super()._upgrade_config(config)

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
                early_stopping=self._given_settings().early_stopping)
        self.selection_ = state["selection_"]
        self.n_train_levels_ = int(state["n_train_levels_"])
        self.history_ = list(state["history_"])
        model = self._new_model(self._recipe())
        model.load_state_dict(state["weights"])
        self.model_ = model.eval().to(self._device())


def group_params(flat: dict) -> dict:
    """HiLander parameters from flat keywords, each moved into its settings group without a
    warning: the command line's vocabulary (``--epochs 5``, ``--param tau_grid=...``)."""
    return HiLander._translate_legacy(flat, warn=False)


def flat_params(model: HiLander) -> dict:
    """``model``'s parameters with its settings groups spread out (``epochs``, ``cv``...,
    and ``tau`` etc. of a given decoding): what a report or the command line shows."""
    params = model.get_params(deep=False)
    flat = {k: v for k, v in params.items() if k not in ("training", "selection", "decoding")}
    flat.update(model._training().as_dict())
    flat.update(model._selection().as_dict())
    flat["tau_grid"] = list(flat["tau_grid"])
    flat["tau"] = flat["decoding"] = "auto"
    if model.decoding != "auto":
        flat.update(model._decoding().as_dict())
    return flat


def _coerce(cls: type, value, name: str):
    """A settings object of ``cls`` from itself or a dict of its fields."""
    if isinstance(value, cls):
        return value
    try:
        return cls(**value)
    except TypeError as exc:
        raise InputError(f"HiLander {name}=: {exc}") from None


def _saved_settings(value, classes: dict) -> bool:
    """Whether ``value`` is a settings object as a model file stores it."""
    return (isinstance(value, dict) and set(value) == {"settings", "fields"}
            and value["settings"] in classes)


def _new_home(name: str) -> str:
    """Where an earlier flat keyword lives now (for the deprecation message)."""
    if name in DROPPED_KEYWORDS:
        return f"{name} is removed"
    if name == "decoding":
        return "decoding='RULE' -> decoding=DecodingSettings(decoding='RULE', tau=...)"
    return f"{name} -> {LEGACY_KEYWORDS[name]}.{name}"
