"""The user-facing Hi-LANDER estimator."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import numpy as np
import torch

from .._validation import (
    InputError,
    check_choice,
    check_features,
    check_float,
    check_int,
    check_labels,
    encode_labels,
    l2_normalize,
)
from ..persistence import load_payload, register_model, save_payload
from ..training import deterministic
from .aggregation import AGGREGATIONS
from .hierarchy import DECODINGS, HierarchyResult, run_hierarchy
from .layers import EDGE_INPUTS, ENCODERS
from .levels import LEVEL_MODES, LevelGraph, build_training_levels, level_graph
from .network import LanderNet
from .training import steps_for, train_lander

#: Thresholds tried by ``tau="auto"`` (the paper uses 0.1 for species, 0.9 for faces).
DEFAULT_TAU_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@register_model
class HiLander:
    """Hierarchical GNN clustering learnt from a labeled meta-training set (Xing et al. 2021).

    ``fit(X_train, y_train)`` meta-trains one LANDER model shared by every level;
    ``predict(X)`` clusters new embeddings of unseen identities (no labels needed).

    Parameters
    ----------
    k : neighbours per node of every level's k-NN graph.
    tau : edge threshold p_τ, or "auto" (default): hold out ``holdout`` of the training
        identities, train on the rest keeping the checkpoint of best held-out link AUC, then
        choose p_τ, the upper levels' p_τ, LANDER vs Hi-LANDER and the decoding by avg F on
        the held-out identities, and re-fit on all identities (``refit``).
    tau_upper : p_τ of levels ≥ 2 when ``tau`` is a number (None: the same as ``tau``).
    decoding : "peak" (eqs. 5-6), "similarity" (the authors' code: threshold on a_ij) or
        "infomap" (map equation on the edges with p_ij ≥ τ, weighted by p_ij).
    encoder : "gat" (paper default) or "gcn".
    aggregation : super-node feature: "peak" (identity), "mean" (size-weighted mean of the
        members' input features) or "concat" (sec. 3.4).
    max_levels : cap on inference levels; 1 gives one-level LANDER. None runs to convergence.
    early_stopping : stop once a level adds more than 1/k of the previous level's edges (4.3).
    epochs, batch_size : an epoch draws as many seed nodes (in mini-batches of
        ``batch_size``, with full neighbourhoods) as the training levels hold.
    optimizer, lr, momentum, weight_decay : cosine-annealed; "adam" (default, lr 0.01) or the
        supplementary's "sgd" (lr 0.1, momentum 0.9, decay 1e-5).
    balanced : class-balanced linkage loss (positives and negatives weigh half each).
    feature_noise : std of Gaussian noise on node features during training (augmentation).
    dropout : dropout before the edge head's hidden layer.
    hidden, num_layers, heads : encoder width, depth and GAT heads.
    edge_input : what the edge head sees: "relational" (default: calibrated cosine plus a
        learnt correction from class-agnostic relations, see :class:`hilander.lander.EdgeHead`),
        "symmetric", "similarity" or the paper's "concat".
    levels_mode : ground-truth training levels "label_pure" (paper) or "density_tree"
        (authors' code).
    train_ks : neighbour counts of the training graphs (None: ``(k,)``); several give
        multi-k training as in the authors' code.
    train_levels : cap on ground-truth levels per training graph (None: to convergence).
    holdout : share of the training identities held out for selection when tau="auto".
    refit : after selection, re-train on all identities for the selected number of steps.
    knn_method : "auto", "exact", "ivf" or "hnsw" (see :func:`hilander.graph.build_knn_graph`).
    tau_grid : thresholds tried by the selection.
    seed : makes training, the hold-out and so the labels reproducible.
    progress : show progress bars.
    """

    def __init__(
        self, k: int = 10, tau: float | str = "auto", *, tau_upper: float | None = None,
        decoding: str = "peak", encoder: str = "gat", aggregation: str = "peak",
        max_levels: int | None = None, early_stopping: bool = True, epochs: int = 30,
        batch_size: int = 1024, optimizer: str = "adam", lr: float = 0.01,
        momentum: float = 0.9, weight_decay: float = 1e-5, balanced: bool = True,
        feature_noise: float = 0.0, dropout: float = 0.0, hidden: int = 128,
        num_layers: int = 1, heads: int = 1, edge_input: str = "relational",
        levels_mode: str = "label_pure", train_ks: tuple[int, ...] | None = None,
        train_levels: int | None = None, holdout: float = 0.2, refit: bool = True,
        knn_method: str = "auto", tau_grid: tuple[float, ...] = DEFAULT_TAU_GRID,
        seed: int = 0, progress: bool = False,
    ) -> None:
        self.k = k
        self.tau = tau
        self.tau_upper = tau_upper
        self.decoding = decoding
        self.encoder = encoder
        self.aggregation = aggregation
        self.max_levels = max_levels
        self.early_stopping = early_stopping
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.balanced = balanced
        self.feature_noise = feature_noise
        self.dropout = dropout
        self.hidden = hidden
        self.num_layers = num_layers
        self.heads = heads
        self.edge_input = edge_input
        self.levels_mode = levels_mode
        self.train_ks = train_ks
        self.train_levels = train_levels
        self.holdout = holdout
        self.refit = refit
        self.knn_method = knn_method
        self.tau_grid = tau_grid
        self.seed = seed
        self.progress = progress

    # -- scikit-learn plumbing -------------------------------------------------------------
    _PARAMS = ("k", "tau", "tau_upper", "decoding", "encoder", "aggregation", "max_levels",
               "early_stopping", "epochs", "batch_size", "optimizer", "lr", "momentum",
               "weight_decay", "balanced", "feature_noise", "dropout", "hidden", "num_layers",
               "heads", "edge_input", "levels_mode", "train_ks", "train_levels", "holdout",
               "refit", "knn_method", "tau_grid", "seed", "progress")

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> HiLander:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise InputError(f"HiLander has no parameter {name!r}; valid: {self._PARAMS}")
            setattr(self, name, value)  # fitted state (tau_, ...) is left as fitted
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__).parameters
        changed = {k: v for k, v in self.get_params().items() if v != sig[k].default}
        return "HiLander(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def _validate_params(self) -> None:
        check_int(self.k, "k", low=1)
        if self.tau != "auto":
            check_float(self.tau, "tau", low=0.0, high=1.0)
        check_choice(self.encoder, "encoder", ENCODERS)
        check_choice(self.aggregation, "aggregation", AGGREGATIONS)
        if self.max_levels is not None:
            check_int(self.max_levels, "max_levels", low=1)
        if self.tau_upper is not None:
            check_float(self.tau_upper, "tau_upper", low=0.0, high=1.0)
        check_choice(self.decoding, "decoding", DECODINGS)
        check_int(self.epochs, "epochs", low=1)
        check_int(self.batch_size, "batch_size", low=2)
        check_float(self.feature_noise, "feature_noise", low=0.0)
        check_float(self.dropout, "dropout", low=0.0, high=1.0, high_open=True)
        check_choice(self.levels_mode, "levels_mode", LEVEL_MODES)
        if self.train_ks is not None:
            if not len(self.train_ks):
                raise InputError("train_ks must list at least one neighbour count")
            for kk in self.train_ks:
                check_int(kk, "train_ks value", low=1)
        if self.train_levels is not None:
            check_int(self.train_levels, "train_levels", low=1)
        check_float(self.holdout, "holdout", low=0.0, high=0.5, low_open=True)
        check_choice(self.optimizer, "optimizer", ("adam", "sgd"))
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.momentum, "momentum", low=0.0, high=1.0)
        check_float(self.weight_decay, "weight_decay", low=0.0)
        check_int(self.hidden, "hidden", low=1)
        check_int(self.num_layers, "num_layers", low=1)
        check_int(self.heads, "heads", low=1)
        check_choice(self.edge_input, "edge_input", EDGE_INPUTS)
        check_choice(self.knn_method, "knn_method", ("auto", "exact", "ivf", "hnsw"))
        if not self.tau_grid:
            raise InputError("tau_grid must list at least one threshold")
        for t in self.tau_grid:
            check_float(t, "tau_grid value", low=0.0, high=1.0)
        check_int(self.seed, "seed", low=0)

    # -- training ----------------------------------------------------------------------------
    def fit(self, X, y) -> HiLander:
        """Meta-train on labeled embeddings ``X`` (n, d) with identities ``y``."""
        self._validate_params()
        X = check_features(X, name="X", min_rows=self.k + 1)
        y = encode_labels(check_labels(y, X.shape[0], name="y"))
        if y.max() < 1:
            raise InputError("y has a single class; meta-training needs at least 2 identities")
        X = l2_normalize(X)
        t0 = time.perf_counter()
        self.n_features_in_ = X.shape[1]
        self.selection_ = None
        self.tau_, self.tau_upper_ = self.tau, self.tau_upper
        self.max_levels_, self.decoding_ = self.max_levels, self.decoding
        steps = None
        with deterministic():
            if self.tau == "auto":
                steps = self._select(X, y)
            if self.tau != "auto" or self.refit:
                self.model_, log, self.n_train_levels_ = self._train(X, y, steps=steps)
                self.history_ = log.losses
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _levels(self, X: np.ndarray, y: np.ndarray) -> list[LevelGraph]:
        """Ground-truth levels of every training graph (one per neighbour count)."""
        cap = self.train_levels if self.train_levels is not None else self.max_levels
        levels: list[LevelGraph] = []
        for kk in self.train_ks or (self.k,):
            levels += build_training_levels(X, y, kk, aggregation=self.aggregation,
                                            max_levels=cap, knn_method=self.knn_method,
                                            mode=self.levels_mode)
        return levels

    def _train(self, X: np.ndarray, y: np.ndarray, *, steps: int | None = None,
               held_out: LevelGraph | None = None):
        torch.manual_seed(self.seed)
        levels = self._levels(X, y)
        model = self._new_model()
        if steps is None:
            steps = steps_for(levels, self.epochs, self.batch_size)
        log = train_lander(
            model, levels, steps=steps, batch_size=self.batch_size, lr=self.lr,
            optimizer=self.optimizer, momentum=self.momentum,
            weight_decay=self.weight_decay, balanced=self.balanced,
            feature_noise=self.feature_noise, held_out=held_out, seed=self.seed,
            progress=self.progress,
        )
        return model, log, len(levels)

    def _new_model(self) -> LanderNet:
        in_dim = self.n_features_in_ * (2 if self.aggregation == "concat" else 1)
        return LanderNet(in_dim, self.hidden, self.num_layers, self.encoder, self.heads,
                         dropout=self.dropout, edge_input=self.edge_input)

    def _select(self, X: np.ndarray, y: np.ndarray) -> int:
        """Hold out identities, train on the rest, choose the decoding settings on them.

        Returns the number of training steps whose weights were kept, for the re-fit.
        """
        from .selection import select_decoding, split_identities

        val_mask = split_identities(y, self.holdout, self.k, self.seed)
        X_val, y_val = X[val_mask], encode_labels(y[val_mask])
        held_out = level_graph(X_val, y_val, self.k, self.knn_method)
        model, log, _ = self._train(X[~val_mask], encode_labels(y[~val_mask]),
                                    held_out=held_out)
        self.model_, self.history_ = model, log.losses
        self.n_train_levels_ = 0
        choice, table = select_decoding(
            lambda params: self._cluster_with(model, X_val, **params).labels, y_val,
            tau_grid=self.tau_grid, levels_fixed=self.max_levels, progress=self.progress)
        self._set_decoding(choice)
        self.selection_ = {
            "held_out_classes": int(y_val.max() + 1), "held_out_points": int(val_mask.sum()),
            "best_step": log.best_step, "steps": len(log.losses),
            "link_auc_curve": log.scores, "chosen": choice, "trials": table,
        }
        return log.best_step

    def _set_decoding(self, choice: dict) -> None:
        self.tau_, self.tau_upper_ = choice["tau"], choice["tau_upper"]
        self.max_levels_, self.decoding_ = choice["max_levels"], choice["decoding"]

    def tune_decoding(self, X, y) -> HiLander:
        """Re-choose p_τ, upper p_τ, LANDER vs Hi-LANDER and decoding on a labeled validation
        set of identities disjoint from the ones to cluster (the weights stay as trained).

        The same search as ``tau="auto"`` runs inside ``fit``; use this when a separate
        validation split exists, as in the empirical study's protocol.
        """
        from .selection import select_decoding

        self._check_fitted()
        X = l2_normalize(self._check_X(X))
        y = encode_labels(check_labels(y, X.shape[0], name="y"))
        with deterministic():
            choice, table = select_decoding(
                lambda params: self._cluster_with(self.model_, X, **params).labels, y,
                tau_grid=self.tau_grid, levels_fixed=self.max_levels, progress=self.progress)
        self._set_decoding(choice)
        self.selection_ = {**(self.selection_ or {}), "validation": {
            "classes": int(y.max() + 1), "points": int(X.shape[0]), "chosen": choice,
            "trials": table}}
        return self

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("this HiLander is not fitted yet: call fit(X, y) or load a model")

    def _cluster_with(self, model: LanderNet, X: np.ndarray, *, tau: float,
                      tau_upper: float | None, max_levels: int | None, decoding: str,
                      observer=None) -> HierarchyResult:
        return run_hierarchy(
            model, X, k=self.k, tau=tau, tau_upper=tau_upper, aggregation=self.aggregation,
            max_levels=max_levels, early_stopping=self.early_stopping,
            knn_method=self.knn_method, progress=self.progress, decoding=decoding,
            observer=observer, seed=self.seed,
        )

    def _decoding_params(self) -> dict:
        return {"tau": self.tau_, "tau_upper": self.tau_upper_,
                "max_levels": self.max_levels_, "decoding": self.decoding_}

    def _check_X(self, X) -> np.ndarray:
        X = check_features(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features but the model was trained on "
                f"{self.n_features_in_}"
            )
        if X.shape[0] <= self.k:
            raise InputError(
                f"X has {X.shape[0]} rows; clustering with k={self.k} needs at least {self.k + 1}"
            )
        return X

    def cluster(self, X) -> HierarchyResult:
        """Cluster new embeddings and return every level of the hierarchy."""
        self._check_fitted()
        X = self._check_X(X)
        torch.manual_seed(self.seed)
        t0 = time.perf_counter()
        with deterministic():
            result = self._cluster_with(self.model_, l2_normalize(X), **self._decoding_params())
        result.timings["total"] = time.perf_counter() - t0
        return result

    def predict(self, X) -> np.ndarray:
        """One cluster label (0..C-1) per row of ``X``."""
        return self.cluster(X).labels

    def predict_hierarchy(self, X) -> list[np.ndarray]:
        """Labels of every level for each row of ``X``, finest level first."""
        return self.cluster(X).level_labels

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write configuration, weights and package version to one file."""
        self._check_fitted()
        config = self.get_params()
        config["tau_grid"] = list(config["tau_grid"])
        if config["train_ks"] is not None:
            config["train_ks"] = list(config["train_ks"])
        state = {
            "weights": self.model_.state_dict(),
            "tau_": self.tau_,
            "tau_upper_": self.tau_upper_,
            "max_levels_": self.max_levels_,
            "decoding_": self.decoding_,
            "selection_": self.selection_,
            "n_features_in_": self.n_features_in_,
            "n_train_levels_": self.n_train_levels_,
            "history_": list(self.history_),
        }
        save_payload(path, type(self).__name__, config, state)

    @classmethod
    def load(cls, path: str | Path) -> HiLander:
        payload = load_payload(path)
        if payload.get("class") != cls.__name__:
            raise InputError(f"{path} holds a {payload.get('class')} model, not a {cls.__name__}")
        return cls._from_payload(payload, path)

    @classmethod
    def _from_payload(cls, payload: dict, path: str | Path = "model") -> HiLander:
        try:
            config = dict(payload["config"])
            config["tau_grid"] = tuple(config["tau_grid"])
            if config.get("train_ks") is not None:
                config["train_ks"] = tuple(config["train_ks"])
            est = cls(**config)
            state = payload["state"]
            est.n_features_in_ = int(state["n_features_in_"])
            est.tau_ = float(state["tau_"])
            est.tau_upper_ = state["tau_upper_"]
            est.max_levels_ = state["max_levels_"]
            est.decoding_ = str(state["decoding_"])
            est.selection_ = state["selection_"]
            est.n_train_levels_ = int(state["n_train_levels_"])
            est.history_ = list(state["history_"])
            model = est._new_model()
            model.load_state_dict(state["weights"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise InputError(f"{path} is a damaged hilander model file: {exc}") from None
        model.eval()
        est.model_ = model
        return est

