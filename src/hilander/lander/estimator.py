"""The user-facing Hi-LANDER estimator."""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._device import DEVICE_CONSTRAINT, resolve_device
from .._validation import (
    InputError,
    check_features,
    check_float,
    check_labels,
    encode_labels,
    l2_normalize,
    validate_constraints,
)
from ..persistence import PersistentModel, register_model
from .aggregation import AGGREGATIONS
from .hierarchy import HierarchyResult, run_hierarchy
from .layers import EDGE_INPUTS, ENCODERS
from .levels import build_training_levels
from .network import LanderNet
from .training import train_lander

#: Thresholds tried by ``tau="auto"``.
DEFAULT_TAU_GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@register_model
class HiLander(PersistentModel, ClusterMixin, BaseEstimator):
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
    device : "auto" (CUDA when present, else CPU), "cpu" or "cuda"; an explicit "cuda" without
        a GPU is an InputError, never a silent fallback.

    A scikit-learn clusterer: ``get_params``/``set_params``/``clone`` work as usual (setting
    ``tau`` changes the next ``fit``, not the fitted ``tau_``; pass ``tau=`` to
    :meth:`cluster` to try another threshold on a fitted model), and ``fit_predict(X, y)``
    meta-trains and clusters the same points, storing ``labels_``.
    """

    _parameter_constraints: dict = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "tau": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "encoder": [StrOptions(set(ENCODERS))],
        "aggregation": [StrOptions(set(AGGREGATIONS))],
        "max_levels": [Interval(Integral, 1, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "heads": [Interval(Integral, 1, None, closed="left")],
        "edge_input": [StrOptions(set(EDGE_INPUTS))],
        "knn_method": [StrOptions({"auto", "exact", "ivf", "hnsw"})],
        "tau_grid": ["array-like"],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "progress": ["boolean"],
        "device": DEVICE_CONSTRAINT,
    }

    def __init__(
        self, k: int = 10, tau: float | str = 0.7, *, encoder: str = "gat",
        aggregation: str = "peak", max_levels: int | None = None, early_stopping: bool = True,
        epochs: int = 60, optimizer: str = "adam", lr: float = 0.01, momentum: float = 0.9,
        weight_decay: float = 1e-5,
        hidden: int = 128, num_layers: int = 1, heads: int = 1, edge_input: str = "symmetric",
        knn_method: str = "auto",
        tau_grid: tuple[float, ...] = DEFAULT_TAU_GRID, seed: int = 0, progress: bool = False,
        device: str = "auto",
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
        self.device = device

    # -- scikit-learn plumbing -------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # meta-training learns from identities: fit(X) without y cannot apply
        tags.target_tags.required = True
        return tags

    def _check_params(self) -> None:
        validate_constraints(self)
        resolve_device(self.device)
        if not self.tau_grid:
            raise InputError("tau_grid must list at least one threshold")
        for t in self.tau_grid:
            check_float(t, "tau_grid value", low=0.0, high=1.0)

    # -- training ----------------------------------------------------------------------------
    def fit(self, X, y) -> HiLander:
        """Meta-train on labeled embeddings ``X`` (n, d) with identities ``y``."""
        self._check_params()
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
        self.model_.eval()
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _train(self, X: np.ndarray, y: np.ndarray):
        torch.manual_seed(self.seed)
        # one-level LANDER learns from level-1 graphs only, like the paper's ablation
        levels = build_training_levels(X, y, self.k, aggregation=self.aggregation,
                                       max_levels=self.max_levels, knn_method=self.knn_method)
        model = self._new_model().to(resolve_device(self.device))
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
            model.to(resolve_device(self.device)), X, k=self.k, tau=tau,
            aggregation=self.aggregation,
            max_levels=self.max_levels, early_stopping=self.early_stopping,
            knn_method=self.knn_method, progress=self.progress,
        )

    def _check_X(self, X) -> np.ndarray:
        """Validated inference input with the training dimension and more than k rows."""
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
        return X

    def cluster(self, X, *, tau: float | None = None) -> HierarchyResult:
        """Cluster new embeddings and return every level of the hierarchy.

        ``tau`` overrides the fitted threshold ``tau_`` for this run only.
        """
        X = self._check_X(X)
        tau = self.tau_ if tau is None else check_float(tau, "tau", low=0.0, high=1.0)
        torch.manual_seed(self.seed)
        t0 = time.perf_counter()
        result = self._cluster_with(self.model_, l2_normalize(X), tau)
        result.timings["total"] = time.perf_counter() - t0
        result.X = X
        result.tau = float(tau)
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
        ``result.n_clusters`` up). ``tau`` defaults to the threshold of that run.
        """
        from .assign import assign_points

        X_new = check_features(X_new, name="X_new")
        if X_new.shape[1] != self.n_features_in_:
            raise InputError(f"X_new has {X_new.shape[1]} features but the model was trained "
                             f"on {self.n_features_in_}")
        self._check_fitted()
        if tau is None:
            tau = result.tau if result.tau is not None else self.tau_
        tau = check_float(tau, "tau", low=0.0, high=1.0)
        torch.manual_seed(self.seed)
        return assign_points(self.model_.to(resolve_device(self.device)), result,
                             l2_normalize(X_new), k=self.k, tau=tau,
                             aggregation=self.aggregation, knn_method=self.knn_method)

    # -- persistence (save/load come from PersistentModel) -------------------------------
    def _state(self) -> dict:
        return {
            "weights": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            "tau_": self.tau_,
            "n_train_levels_": self.n_train_levels_,
            "history_": list(self.history_),
        }

    def _set_state(self, state: dict) -> None:
        self.tau_ = float(state["tau_"])
        self.n_train_levels_ = int(state["n_train_levels_"])
        self.history_ = list(state["history_"])
        model = self._new_model()
        model.load_state_dict(state["weights"])
        self.model_ = model.eval().to(resolve_device(self.device))
