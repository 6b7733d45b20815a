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
from .aggregation import AGGREGATIONS
from .hierarchy import HierarchyResult, run_hierarchy
from .layers import EDGE_INPUTS, ENCODERS
from .levels import build_training_levels
from .network import LanderNet
from .training import train_lander

#: Thresholds tried by ``tau="auto"``.
DEFAULT_TAU_GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@register_model
class HiLander:
    """Hierarchical GNN clustering learnt from a labeled meta-training set (Xing et al. 2021).

    ``fit(X_train, y_train)`` meta-trains one LANDER model shared by every level;
    ``predict(X)`` clusters new embeddings of unseen identities (no labels needed).

    Parameters
    ----------
    k : neighbours per node of every level's k-NN graph.
    tau : edge threshold p_τ, or "auto" to hold out 20% of the training classes, pick p_τ on
        them among ``tau_grid`` by the harmonic mean of Fp and Fb, then re-train on all classes.
    encoder : "gat" (paper default) or "gcn".
    aggregation : super-node feature: "peak" (identity), "mean" or "concat" (sec. 3.4).
    max_levels : cap on inference levels; 1 gives one-level LANDER. None runs to convergence.
    early_stopping : stop once a level adds more than 1/k of the previous level's edges (4.3).
    epochs, optimizer, lr, momentum, weight_decay : cosine-annealed full-graph training; "adam"
        (default, lr 0.01) or the supplementary's "sgd" (lr 0.1, momentum 0.9, decay 1e-5).
    hidden, num_layers, heads : encoder width, depth and GAT heads.
    edge_input : what the edge MLP sees: "concat" is the paper's [h_i, h_j]; "symmetric"
        (default) adds h_i ⊙ h_j and |h_i − h_j|, which generalises to unseen identities far
        better (see :class:`hilander.lander.EdgeHead`); "similarity" adds the cosine a_ij.
    knn_method : "auto", "exact", "ivf" or "hnsw" (see :func:`hilander.graph.build_knn_graph`).
    seed : makes training and the "auto" hold-out reproducible.
    progress : show progress bars.
    """

    def __init__(
        self, k: int = 10, tau: float | str = 0.7, *, encoder: str = "gat",
        aggregation: str = "peak", max_levels: int | None = None, early_stopping: bool = True,
        epochs: int = 60, optimizer: str = "adam", lr: float = 0.01, momentum: float = 0.9,
        weight_decay: float = 1e-5,
        hidden: int = 128, num_layers: int = 1, heads: int = 1, edge_input: str = "symmetric",
        knn_method: str = "auto",
        tau_grid: tuple[float, ...] = DEFAULT_TAU_GRID, seed: int = 0, progress: bool = False,
    ) -> None:
        self.k = k
        self.tau = tau
        self.encoder = encoder
        self.aggregation = aggregation
        self.max_levels = max_levels
        self.early_stopping = early_stopping
        self.epochs = epochs
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.hidden = hidden
        self.num_layers = num_layers
        self.heads = heads
        self.edge_input = edge_input
        self.knn_method = knn_method
        self.tau_grid = tau_grid
        self.seed = seed
        self.progress = progress

    # -- scikit-learn plumbing -------------------------------------------------------------
    _PARAMS = ("k", "tau", "encoder", "aggregation", "max_levels", "early_stopping", "epochs",
               "optimizer", "lr", "momentum", "weight_decay", "hidden", "num_layers", "heads",
               "edge_input", "knn_method", "tau_grid", "seed", "progress")

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> HiLander:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise InputError(f"HiLander has no parameter {name!r}; valid: {self._PARAMS}")
            setattr(self, name, value)
            if name == "tau" and value != "auto" and hasattr(self, "model_"):
                self.tau_ = check_float(value, "tau", low=0.0, high=1.0)
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
        check_int(self.epochs, "epochs", low=1)
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
        self.tau_search_ = None
        if self.tau == "auto":
            self.tau_ = self._choose_tau(X, y)
        else:
            self.tau_ = float(self.tau)
        self.model_, self.history_, self.n_train_levels_ = self._train(X, y)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _train(self, X: np.ndarray, y: np.ndarray):
        torch.manual_seed(self.seed)
        # one-level LANDER learns from level-1 graphs only, like the paper's ablation
        levels = build_training_levels(X, y, self.k, aggregation=self.aggregation,
                                       max_levels=self.max_levels, knn_method=self.knn_method)
        model = self._new_model()
        history = train_lander(model, levels, epochs=self.epochs, lr=self.lr,
                               optimizer=self.optimizer, momentum=self.momentum,
                               weight_decay=self.weight_decay, progress=self.progress)
        return model, history, len(levels)

    def _new_model(self) -> LanderNet:
        in_dim = self.n_features_in_ * (2 if self.aggregation == "concat" else 1)
        return LanderNet(in_dim, self.hidden, self.num_layers, self.encoder, self.heads,
                         edge_input=self.edge_input)

    def _choose_tau(self, X: np.ndarray, y: np.ndarray) -> float:
        """Hold out 20% of the classes, train on the rest, pick p_τ on the held-out ones."""
        from ..tune import grid_search

        rng = np.random.default_rng(self.seed)
        classes = rng.permutation(y.max() + 1)
        n_val = max(1, int(round(0.2 * classes.size)))
        val_mask = np.isin(y, classes[:n_val])
        if (~val_mask).sum() <= self.k or val_mask.sum() <= self.k or n_val == classes.size:
            raise InputError(
                f'tau="auto" needs more data: the 20% held-out classes and the rest must each '
                f"have more than k={self.k} points"
            )
        if np.unique(y[~val_mask]).size < 2:
            raise InputError('tau="auto" needs at least 3 classes in y')
        model, _, _ = self._train(X[~val_mask], y[~val_mask])
        X_val = X[val_mask]

        def run(params: dict) -> np.ndarray:
            return self._cluster_with(model, X_val, params["tau"]).labels

        result = grid_search(run, {"tau": list(self.tau_grid)}, y[val_mask])
        self.tau_search_ = result.to_dict()
        return float(result.best_params["tau"])

    # -- inference ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("this HiLander is not fitted yet: call fit(X, y) or load a model")

    def _cluster_with(self, model: LanderNet, X: np.ndarray, tau: float) -> HierarchyResult:
        return run_hierarchy(
            model, X, k=self.k, tau=tau, aggregation=self.aggregation,
            max_levels=self.max_levels, early_stopping=self.early_stopping,
            knn_method=self.knn_method, progress=self.progress,
        )

    def cluster(self, X) -> HierarchyResult:
        """Cluster new embeddings and return every level of the hierarchy."""
        self._check_fitted()
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
        torch.manual_seed(self.seed)
        t0 = time.perf_counter()
        result = self._cluster_with(self.model_, l2_normalize(X), self.tau_)
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
        state = {
            "weights": self.model_.state_dict(),
            "tau_": self.tau_,
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
            est = cls(**config)
            state = payload["state"]
            est.n_features_in_ = int(state["n_features_in_"])
            est.tau_ = float(state["tau_"])
            est.n_train_levels_ = int(state["n_train_levels_"])
            est.history_ = list(state["history_"])
            model = est._new_model()
            model.load_state_dict(state["weights"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise InputError(f"{path} is a damaged hilander model file: {exc}") from None
        model.eval()
        est.model_ = model
        return est

