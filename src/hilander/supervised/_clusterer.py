"""Plumbing shared by the supervised GNN baselines: checks, splits, training loop, persistence."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from .._device import resolve_device
from .._validation import (
    InputError,
    check_features,
    check_labels,
    encode_labels,
    l2_normalize,
    warn_degenerate,
)
from ..base import TRAINING_PARAMS, MetaTrainedClusterer, Param, with_defaults
from ..datasets.splits import holdout_identities
from ..graph import KNNGraph, build_knn_graph
from ..training import run_training

#: The training settings of the five baselines (study App. E.2): SGD with momentum, the
#: learning rate halved on a validation plateau, early stopping on held-out identities.
SUPERVISED_PARAMS: dict[str, Param] = {
    **with_defaults(TRAINING_PARAMS, lr=0.1, epochs=20, patience=8),
    "optimizer": Param("sgd", [StrOptions({"sgd", "adam"})], "str",
                       '"sgd" (the papers\' optimiser) or "adam" (not in the papers; '
                       "offered because plain SGD can stall on small sets)."),
    "momentum": Param(0.9, [Interval(Real, 0, 1, closed="both")], "float", "SGD momentum."),
    "val_fraction": Param(0.2, [Interval(Real, 0, 0.5, closed="both")], "float",
                          "Share of the training points, taken as whole identities, held out "
                          "to monitor the loss (0: the training loss is monitored)."),
    "lr_patience": Param(3, [Interval(Integral, 1, None, closed="left")], "int",
                         "Epochs without a better validation loss before the learning rate "
                         "is halved."),
    "normalize": Param(True, ["boolean"], "bool", "l2-normalise the embeddings first."),
}


# the attributes every supervised baseline sets, and the example every one runs (a doctest),
# rendered into each class's docstring in place of "{attributes}" and "{example}"
_COMMON_ATTRIBUTES = """Attributes
    ----------
    n_features_in_ : int
        Dimension of the training embeddings.
    labels_ : ndarray of shape (n_samples,)
        Labels of the training points; set by :meth:`fit_predict` only.
    n_clusters_ : int
        Clusters in ``labels_``; set by :meth:`fit_predict` only."""

_EXAMPLE = """Examples
    --------
    >>> from hilander.datasets import make_open_set
    >>> from hilander.supervised import {name}
    >>> data = make_open_set(n_train_classes=20, n_test_classes=10, seed=0)
    >>> model = {call}.fit(data.X_train, data.y_train)
    >>> model.predict(data.X_test).shape == data.y_test.shape
    True"""


class SupervisedClusterer(MetaTrainedClusterer):
    """Base of the supervised baselines: ``fit(X_train, y_train)`` then ``predict(X)``.

    Subclasses declare their own ``_params`` and implement ``_fit(Xn, X_raw, y, graph)``
    (``Xn`` is the row-normalised copy when ``normalize`` is on, ``y`` codes 0..C-1),
    ``_predict(Xn, X_raw, graph)`` returning labels, ``_state()`` (tensors and plain values
    to save) and ``_set_state(state)``. ``graph_k`` names the number of neighbours the method
    needs.

    ``device`` ("auto", "cpu" or "cuda") is where the networks train and run; they are made on
    it in ``_fit`` and ``_set_state`` (through :meth:`_device`), saved as CPU tensors, and the
    helpers create their tensors on the device of the network they feed.
    """

    min_train_rows = 4
    _params = SUPERVISED_PARAMS
    #: the constructor call of the class's "Examples" section (``{example}`` in its docstring)
    _example: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)  # renders "{parameters}"
        doc = cls.__dict__.get("__doc__") or ""
        cls.__doc__ = doc.replace("{attributes}", _COMMON_ATTRIBUTES).replace(
            "{example}", _EXAMPLE.format(name=cls.__name__, call=cls._example))

    # -- public API -------------------------------------------------------------------------

    def fit(self, X, y, *, graph: KNNGraph | None = None):
        """Learn from labeled embeddings; ``graph`` is an optional prebuilt k-NN graph of X."""
        self._check_params()
        X_raw = check_features(X, name="X", min_rows=self.min_train_rows)
        y = check_labels(y, X_raw.shape[0], name="y")
        codes = encode_labels(y)
        if codes.max() < 1:
            raise InputError("y has a single class; supervised training needs at least two")
        warn_degenerate(X_raw, codes)
        Xn = self._prepare(X_raw)
        graph = self._neighbors(Xn, graph)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
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
        return encode_labels(labels)

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
            seed=self.random_state, progress=self.verbose, desc=desc,
        )
        return [score for _, score in log.scores]


def split_classes(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Mask of a class-disjoint validation split holding about ``fraction`` of the points.

    Meta-training for open-set clustering validates on classes never seen in training, as the
    papers do; an empty mask when the fraction is 0 or there are fewer than 4 classes.
    """
    if fraction <= 0 or int(y.max()) + 1 < 4:
        return np.zeros(y.shape[0], dtype=bool)
    return holdout_identities(y, fraction, seed, min_held=1, min_rest=2)


def cpu_state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A network's weights as CPU tensors: a model file written on a GPU loads anywhere."""
    return {k: v.cpu() for k, v in net.state_dict().items()}
