"""Plumbing shared by the supervised GNN baselines: checks, splits, training loop, persistence."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._device import DEVICE_CONSTRAINT, resolve_device
from .._validation import (
    InputError,
    check_features,
    check_labels,
    encode_labels,
    l2_normalize,
    validate_constraints,
)
from ..graph import KNNGraph, build_knn_graph
from ..persistence import PersistentModel
from ..training import run_training

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")


class SupervisedClusterer(PersistentModel, ClusterMixin, BaseEstimator):
    """Base of the supervised baselines: ``fit(X_train, y_train)`` then ``predict(X)``.

    Subclasses implement ``_check_params()``, ``_fit(Xn, X_raw, y, graph)`` (``Xn`` is the
    row-normalised copy when ``normalize`` is on, ``y`` codes 0..C-1), ``_predict(Xn, X_raw,
    graph)`` returning labels, ``_state()`` (tensors and plain values to save) and
    ``_set_state(state)``. ``graph_k`` names the number of neighbours the method needs.

    ``device`` ("auto", "cpu" or "cuda") is where the networks train and run; they are made on
    it in ``_fit`` and ``_set_state`` (through :meth:`_device`), saved as CPU tensors, and the
    helpers create their tensors on the device of the network they feed.
    """

    min_train_rows = 4
    # the training settings every baseline shares; subclasses check their own in
    # ``_check_params`` after ``_check_common``
    _parameter_constraints: dict = {
        "epochs": [_POSITIVE_INT], "patience": [_POSITIVE_INT], "lr_patience": [_POSITIVE_INT],
        "hidden": [Interval(Integral, 2, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "val_fraction": [Interval(Real, 0, 0.5, closed="both")],
        "optimizer": [StrOptions({"sgd", "adam"})],
        "normalize": ["boolean"], "progress": ["boolean"],
        "device": DEVICE_CONSTRAINT,
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # meta-trained: fit learns from identities, fit(X) without y cannot apply
        tags.target_tags.required = True
        return tags

    # -- public API -------------------------------------------------------------------------

    def fit(self, X, y, *, graph: KNNGraph | None = None):
        """Learn from labeled embeddings; ``graph`` is an optional prebuilt k-NN graph of X."""
        self._check_params()
        X_raw = check_features(X, name="X", min_rows=self.min_train_rows)
        y = check_labels(y, X_raw.shape[0], name="y")
        codes = encode_labels(y)
        if codes.max() < 1:
            raise InputError("y has a single class; supervised training needs at least two")
        Xn = self._prepare(X_raw)
        graph = self._neighbors(Xn, graph)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._fit(Xn, X_raw, codes, graph)
        self.n_features_in_ = int(X_raw.shape[1])
        return self

    def predict(self, X, *, graph: KNNGraph | None = None) -> np.ndarray:
        """Cluster ``X`` (no labels needed). Leaves the fitted state, ``labels_`` included,
        untouched: a scikit-learn estimator changes only in ``fit``."""
        self._check_fitted()
        X_raw = self._check_X(X)
        Xn = self._prepare(X_raw)
        graph = self._neighbors(Xn, graph)
        with torch.no_grad():
            labels = self._predict(Xn, X_raw, graph)
        return _consecutive(labels)

    def link_probabilities(self, X, *, graph: KNNGraph | None = None):
        """``(src, dst, p)``: the model's probability that ``src`` and ``dst`` share a cluster,
        for every pair it scores (no labels needed). Not defined for GCN-V, which scores
        points rather than links."""
        self._check_fitted()
        X_raw = self._check_X(X)
        Xn = self._prepare(X_raw)
        graph = self._neighbors(Xn, graph)
        with torch.no_grad():
            return self._links(Xn, X_raw, graph)

    def _links(self, Xn, X_raw, graph):
        raise InputError(f"{type(self).__name__} does not score links")

    def fit_predict(self, X, y, *, graph: KNNGraph | None = None) -> np.ndarray:
        """Fit on labeled ``X`` and cluster the same points (labels are not used to predict);
        the result is stored as ``labels_``."""
        self.labels_ = self.fit(X, y, graph=graph).predict(X, graph=graph)
        self.n_clusters_ = int(self.labels_.max()) + 1
        return self.labels_

    # -- helpers for subclasses -------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_features_in_"):
            raise InputError(f"this {type(self).__name__} is not trained yet: call fit first")

    def _check_X(self, X) -> np.ndarray:
        """Validate prediction input, including the feature dimension seen in training."""
        X_raw = check_features(X, name="X", min_rows=2)
        if X_raw.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X_raw.shape[1]} features but {type(self).__name__} was trained on "
                f"{self.n_features_in_}"
            )
        return X_raw

    def _prepare(self, X_raw: np.ndarray) -> np.ndarray:
        return l2_normalize(X_raw) if self.normalize else X_raw

    def _neighbors(self, Xn: np.ndarray, graph: KNNGraph | None) -> KNNGraph:
        """The method's k-NN graph: the given one restricted to ``graph_k``, or a new one."""
        k = self.graph_k
        n = Xn.shape[0]
        if graph is None:
            # tiny inputs cannot have k neighbours; use all other points instead
            return build_knn_graph(Xn, min(k, n - 1), normalize=self.normalize)
        if not isinstance(graph, KNNGraph):
            raise InputError(f"graph must be a KNNGraph, got {type(graph).__name__}")
        graph.check_matches(Xn)
        if graph.k < min(k, n - 1):
            raise InputError(
                f"the given k-NN graph has k={graph.k} but {type(self).__name__} needs k={k}; "
                "build it with at least that many neighbours"
            )
        return graph.restrict(min(k, graph.k)) if graph.k > k else graph

    def _check_common(self) -> None:
        validate_constraints(self)
        resolve_device(self.device)  # an explicit "cuda" without a GPU fails here, before data

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _train(
        self,
        model: torch.nn.Module,
        train_epoch: Callable[[torch.optim.Optimizer, np.random.Generator], float],
        val_loss: Callable[[], float] | None,
        desc: str,
    ) -> list[float]:
        """SGD with momentum, lr halved on plateau, early stop, best-validation weights kept.

        Study Appendix E.2.1/E.2.2: the validation loss drives both the learning-rate cut and
        the stop, and the weights of the best validation epoch are the ones kept. Without a
        validation split the training loss plays that role. Returns the monitored losses.
        """
        # "adam" is not in the papers: offered because plain SGD can stall on small sets
        log = run_training(
            model, train_epoch, steps=self.epochs,
            optimizer=getattr(self, "optimizer", "sgd"), lr=self.lr, momentum=self.momentum,
            weight_decay=self.weight_decay, schedule="plateau", evaluate=val_loss,
            higher_is_better=False, patience=self.patience, lr_patience=self.lr_patience,
            seed=self.seed, progress=self.progress, desc=desc,
        )
        return [score for _, score in log.scores]


def split_classes(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a class-disjoint validation split holding about ``fraction`` of points.

    Meta-training for open-set clustering validates on classes never seen in training, as the
    papers do; an empty mask when the fraction is 0 or there are too few classes.
    """
    val = np.zeros(y.shape[0], dtype=bool)
    classes = np.unique(y)
    if fraction <= 0 or classes.size < 4:
        return val
    rng = np.random.default_rng(seed)
    order = rng.permutation(classes)
    sizes = np.bincount(y)[order]
    # take whole classes until the requested share of points is reached
    n_val = int(np.searchsorted(np.cumsum(sizes), fraction * y.shape[0]) + 1)
    n_val = min(max(n_val, 1), classes.size - 2)
    val[np.isin(y, order[:n_val])] = True
    return val


def cpu_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A network's weights as CPU tensors: a model file written on a GPU loads anywhere."""
    return {k: v.cpu() for k, v in net.state_dict().items()}


def _consecutive(labels: np.ndarray) -> np.ndarray:
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    return codes.astype(np.int64).ravel()
