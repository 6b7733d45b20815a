"""The user-facing Hi-LANDER estimator."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
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
    check_int,
    check_labels,
    encode_labels,
    l2_normalize,
    validate_constraints,
)
from ..datasets.longtail import long_tail_subsample
from ..persistence import PersistentModel, register_model
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
class HiLander(PersistentModel, ClusterMixin, BaseEstimator):
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
    patience : with ``tau="auto"``, stop the hold-out training after this many evaluations
        (one per 25 steps) without a gain in held-out link AUC (None: train every epoch);
        the re-fit then runs as many steps as the kept checkpoint had. 16 never stops the
        Omniglot and CLINC150 runs (same labels as None) but ends a 50k-point synthetic one
        that has long converged; 8 cut CLINC150's short and its long-tail validation avg F
        fell from 0.83 to 0.41 (benchmarks/results/ablation).
    epochs, batch_size : an epoch draws as many seed nodes (in mini-batches of
        ``batch_size``, with full neighbourhoods) as the training levels hold.
    optimizer, lr, momentum, weight_decay : cosine-annealed; "adam" (default, lr 0.01) or the
        supplementary's "sgd" (lr 0.1, momentum 0.9, decay 1e-5).
    balanced : class-balanced linkage loss (positives and negatives weigh half each); off by
        default, as in the paper (validation avg F summed over Omniglot and CLINC150, natural
        and long-tail: 2.950 unbalanced vs 2.911 balanced; benchmarks/results/ablation).
    feature_noise : norm of the Gaussian noise added to the unit-length node features during
        training (augmentation; 0 turns it off). 0.5 by default: validation avg F summed over
        Omniglot and CLINC150, natural and long-tail, is higher on each of three seeds (mean
        2.819 vs 2.711 without; benchmarks/results/ablation/seeds.md).
    dropout : dropout before the edge head's hidden layer.
    hidden, num_layers, heads : encoder width, depth and GAT heads.
    edge_input : what the edge head sees: "relational" (default: calibrated cosine plus a
        learnt correction from class-agnostic relations, see :class:`hilander.lander.EdgeHead`),
        "symmetric", "similarity" or the paper's "concat".
    calibration : the base logit the edge head's learnt correction is added to (relational
        head only), a logistic fit whose result held-out checkpoint selection can fall back
        to: "cosine" (default, ``scale · a_ij + bias`` on the largest training graph) or
        "relational" (a weight for each class-agnostic relation: cosine, both ranks,
        mutuality, Jaccard overlap, local densities; fitted on every training level, on the
        graphs at k/2 and k/3 and on three long-tailed draws of the training identities, see
        :meth:`_calibration_graphs`). "relational" raised validation avg F summed over
        Omniglot and CLINC150, natural and long-tail, on each of three seeds (mean 2.924 vs
        2.671; benchmarks/results/ablation/calibration.md) but is off by default: on the
        test suite's synthetic identities, up to 400 points where the training ones hold
        11-73, the held-out selection chose a p_τ at which it split them (avg F 0.73 against
        0.99 with "cosine").
    identity_subsets : extra training hierarchies, each built on a seeded random draw of
        the training identities: a step on one of them sees neighbourhoods with other
        confusers and other identity sizes than the full graph's. The step budget stays that
        of the full graph; 0 turns it off. 4 by default: validation avg F summed over
        Omniglot and CLINC150, natural and long-tail, is higher on each of three seeds (mean
        2.893 vs 2.693 without; benchmarks/results/ablation/identity_subsets.md).
    subset_mode : how those draws are made: "longtail" (default: every identity, long-tail
        resampled as :func:`hilander.datasets.longtail.long_tail_subsample`) or "half" (a
        random half of the identities with all their points; seed 0 sum 2.811 against 3.010
        for "longtail" and 2.897 without draws).
    levels_mode : ground-truth training levels "label_pure" (paper) or "density_tree"
        (authors' code).
    train_ks : neighbour counts of the training graphs (None: ``(k,)``); several give
        multi-k training as in the authors' code.
    train_levels : cap on ground-truth levels per training graph (None: to convergence).
    holdout : share of the training identities held out for selection when tau="auto".
    refit : after selection, re-train on all identities for the selected number of steps.
    knn_method : "auto", "exact", "ivf" or "hnsw" (see :func:`hilander.graph.build_knn_graph`).
    tau_grid : thresholds tried by the selection.
    k_grid : neighbour counts the selection also tries for clustering: a tuple, "auto"
        (``(k // 2, k, 2 k)``) or None (default: ``k`` only). The network is trained at ``k``
        either way; the chosen one is ``k_``. Off by default: "auto" raised validation avg F
        summed over Omniglot and CLINC150, natural and long-tail, from 2.897 to 2.988 at
        seed 0 (CLINC150 natural 0.612 -> 0.694) and changed nothing on CLINC150 at seed 1,
        but on long-tailed synthetic test identities (sizes up to 400, held-out ones about
        30) it chose a small k that split them (avg F 0.56 against 0.85+ with k only).
    aggregation_grid : super-node features the selection also tries for levels ≥ 2 ("peak"
        and "mean"; None: ``aggregation`` only); the chosen one is ``aggregation_``.
    seed : makes training, the hold-out and so the labels reproducible.
    progress : show progress bars.
    device : "auto" (CUDA when present, else CPU), "cpu" or "cuda"; an explicit "cuda" without
        a GPU is an InputError, never a silent fallback.
    backend : where :meth:`cluster` (and ``predict``) compute level 1, the costly one: "local"
        (this process) or "ray" (needs ``pip install 'hilander[ray]'``): the k-NN search in
        ``n_shards`` index shards and the GNN inference in chunks as Ray tasks, the decoding
        and the upper levels here; the same labels as "local" for the same seed with exact
        search (see :class:`hilander.distributed.RayBackend`). Training, selection and
        :meth:`assign` always run locally.
    ray_address : with backend="ray": None or "local" starts a local Ray instance for the run
        (shut down after it); anything else goes to ``ray.init(address=...)``. A connection
        the process already has (``ray.init`` called before) is used as it is.
    n_shards : k-NN shards with backend="ray" (None: one per CPU of the Ray cluster).
        ``backend``, ``ray_address`` and ``n_shards`` say where to run, not what was learnt:
        :meth:`save` leaves them out, and a loaded model runs locally until told otherwise.

    A scikit-learn clusterer: ``get_params``/``set_params``/``clone`` work as usual (setting
    ``tau`` changes the next ``fit``, not the fitted ``tau_``; pass ``tau=`` to
    :meth:`cluster` to try another threshold on a fitted model), and ``fit_predict(X, y)``
    meta-trains and clusters the same points, storing ``labels_``.
    """

    _parameter_constraints: dict = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "tau": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "tau_upper": [Interval(Real, 0, 1, closed="both"), None],
        "decoding": [StrOptions(set(DECODINGS))],
        "encoder": [StrOptions(set(ENCODERS))],
        "aggregation": [StrOptions(set(AGGREGATIONS))],
        "max_levels": [Interval(Integral, 1, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "balanced": ["boolean"],
        "feature_noise": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "heads": [Interval(Integral, 1, None, closed="left")],
        "edge_input": [StrOptions(set(EDGE_INPUTS))],
        "calibration": [StrOptions({"cosine", "relational"})],
        "identity_subsets": [Interval(Integral, 0, None, closed="left")],
        "subset_mode": [StrOptions({"half", "longtail"})],
        "levels_mode": [StrOptions(set(LEVEL_MODES))],
        "train_ks": ["array-like", None],
        "train_levels": [Interval(Integral, 1, None, closed="left"), None],
        "holdout": [Interval(Real, 0, 0.5, closed="right")],
        "refit": ["boolean"],
        "knn_method": [StrOptions({"auto", "exact", "ivf", "hnsw"})],
        "tau_grid": ["array-like"],
        "k_grid": ["array-like", StrOptions({"auto"}), None],
        "aggregation_grid": ["array-like", None],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "progress": ["boolean"],
        "device": DEVICE_CONSTRAINT,
        "backend": [StrOptions({"local", "ray"})],
        "ray_address": [str, None],
        "n_shards": [Interval(Integral, 1, None, closed="left"), None],
    }
    #: runtime placement, not part of the model: left out of saved files
    _unsaved_params = ("backend", "ray_address", "n_shards")

    def __init__(
        self, k: int = 10, tau: float | str = "auto", *, tau_upper: float | None = None,
        decoding: str = "peak", encoder: str = "gat", aggregation: str = "peak",
        max_levels: int | None = None, early_stopping: bool = True, epochs: int = 30,
        patience: int | None = 16, batch_size: int = 1024, optimizer: str = "adam",
        lr: float = 0.01,
        momentum: float = 0.9, weight_decay: float = 1e-5, balanced: bool = False,
        feature_noise: float = 0.5, dropout: float = 0.0, hidden: int = 128,
        num_layers: int = 1, heads: int = 1, edge_input: str = "relational",
        calibration: str = "cosine", identity_subsets: int = 4,
        subset_mode: str = "longtail",
        levels_mode: str = "label_pure", train_ks: tuple[int, ...] | None = None,
        train_levels: int | None = None, holdout: float = 0.2, refit: bool = True,
        knn_method: str = "auto", tau_grid: tuple[float, ...] = DEFAULT_TAU_GRID,
        k_grid: tuple[int, ...] | str | None = None,
        aggregation_grid: tuple[str, ...] | None = None, seed: int = 0,
        progress: bool = False, device: str = "auto", backend: str = "local",
        ray_address: str | None = None, n_shards: int | None = None,
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
        self.patience = patience
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
        self.calibration = calibration
        self.identity_subsets = identity_subsets
        self.subset_mode = subset_mode
        self.levels_mode = levels_mode
        self.train_ks = train_ks
        self.train_levels = train_levels
        self.holdout = holdout
        self.refit = refit
        self.knn_method = knn_method
        self.tau_grid = tau_grid
        self.k_grid = k_grid
        self.aggregation_grid = aggregation_grid
        self.seed = seed
        self.progress = progress
        self.device = device
        self.backend = backend
        self.ray_address = ray_address
        self.n_shards = n_shards

    # -- scikit-learn plumbing -------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # meta-training learns from identities: fit(X) without y cannot apply
        tags.target_tags.required = True
        return tags

    def _check_params(self) -> None:
        validate_constraints(self)
        resolve_device(self.device)
        if not len(self.tau_grid):
            raise InputError("tau_grid must list at least one threshold")
        for t in self.tau_grid:
            check_float(t, "tau_grid value", low=0.0, high=1.0)
        for kk in self._k_grid():
            check_int(kk, "k_grid value", low=1)
        # "concat" doubles the network's input width: it cannot trade places with the others
        same_width = ("concat",) if self.aggregation == "concat" else ("peak", "mean")
        for agg in self.aggregation_grid or ():
            if agg not in same_width:
                raise InputError(f"aggregation_grid values must be {' or '.join(same_width)} "
                                 f"with aggregation={self.aggregation!r} (the network's input "
                                 f"width is fixed), got {agg!r}")
        if self.train_ks is not None:
            if not len(self.train_ks):
                raise InputError("train_ks must list at least one neighbour count")
            for kk in self.train_ks:
                check_int(kk, "train_ks value", low=1)

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
        self.selection_ = None
        self.tau_, self.tau_upper_ = self.tau, self.tau_upper
        self.max_levels_, self.decoding_ = self.max_levels, self.decoding
        self.k_, self.aggregation_ = self.k, self.aggregation
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
        model = self._new_model().to(resolve_device(self.device))
        if steps is None:
            steps = steps_for(levels, self.epochs, self.batch_size)
        calibration_graphs = self._calibration_graphs(X, y, levels)
        levels = levels + self._subset_levels(X, y)
        log = train_lander(
            model, levels, steps=steps, batch_size=self.batch_size, lr=self.lr,
            calibration_graphs=calibration_graphs,
            optimizer=self.optimizer, momentum=self.momentum,
            weight_decay=self.weight_decay, balanced=self.balanced,
            feature_noise=self.feature_noise, held_out=held_out, seed=self.seed,
            patience=self.patience,
            progress=self.progress,
        )
        return model, log, len(levels)

    def _subset_levels(self, X: np.ndarray, y: np.ndarray) -> list[LevelGraph]:
        """Training levels of ``identity_subsets`` seeded draws of the identities."""
        levels: list[LevelGraph] = []
        # another stride than the calibration draws'; at seed 0 both start at seeds 0, 1, 2,
        # so with calibration="relational" the base also sees the first three of these draws
        for keep in self._identity_draws(y, self.identity_subsets, 104729, self.subset_mode):
            levels += self._levels(X[keep], encode_labels(y[keep]))
        return levels

    def _identity_draws(self, y: np.ndarray, count: int, stride: int,
                        mode: str = "longtail") -> Iterator[np.ndarray]:
        """Indices of ``count`` draws seeded ``seed * stride + draw``, those above k points.

        "longtail": every identity, long-tail resampled; "half": a random half of the
        identities with all their points.
        """
        n_ids = int(y.max()) + 1
        for draw in range(count):
            seed = self.seed * stride + draw
            if mode == "half":
                ids = np.random.default_rng(seed).permutation(n_ids)[: max(2, n_ids // 2)]
                keep = np.flatnonzero(np.isin(y, ids))
            else:
                keep = long_tail_subsample(y, seed=seed)
            if keep.size > self.k:
                yield keep

    def _calibration_graphs(self, X: np.ndarray, y: np.ndarray,
                            levels: list[LevelGraph]) -> list[LevelGraph] | None:
        """Graphs the relational base is fitted on (None: the largest level, for "cosine").

        Overlap and rank mean different things when identities are much larger or smaller
        than k, and on super-nodes; so besides level 1 the base sees every upper training
        level, fewer neighbours (identities look larger relative to k) and long-tailed draws
        of the training identities. Fitted on level 1 alone it split synthetic test identities
        of up to 400 points at every p_τ (ORACLE best avg F 0.76; 0.995 with this mixture).
        """
        if self.calibration != "relational":
            return None  # the largest level, as always
        graphs = list(levels)
        # fewer neighbours make the same identities look larger relative to k
        for kk in sorted({self.k // 2, self.k // 3} - {0, 1, self.k}, reverse=True):
            graphs.append(level_graph(X, y, kk, self.knn_method))
        # a prime stride: the draws of different seeds do not overlap
        for keep in self._identity_draws(y, 3, 7919):
            graphs.append(level_graph(X[keep], encode_labels(y[keep]), self.k, self.knn_method))
        return graphs

    def _new_model(self) -> LanderNet:
        in_dim = self.n_features_in_ * (2 if self.aggregation == "concat" else 1)
        return LanderNet(in_dim, self.hidden, self.num_layers, self.encoder, self.heads,
                         dropout=self.dropout, edge_input=self.edge_input,
                         calibration=self.calibration)

    def _select(self, X: np.ndarray, y: np.ndarray) -> int:
        """Hold out identities, train on the rest, choose the decoding settings on them.

        Returns the number of training steps whose weights were kept, for the re-fit.
        """
        from .selection import split_identities

        val_mask = split_identities(y, self.holdout, self.k, self.seed)
        X_val, y_val = X[val_mask], encode_labels(y[val_mask])
        held_out = level_graph(X_val, y_val, self.k, self.knn_method)
        model, log, _ = self._train(X[~val_mask], encode_labels(y[~val_mask]),
                                    held_out=held_out)
        self.model_, self.history_ = model, log.losses
        self.n_train_levels_ = 0
        choice, table = self._choose_decoding(model, X_val, y_val)
        self.selection_ = {
            "held_out_classes": int(y_val.max() + 1), "held_out_points": int(val_mask.sum()),
            "best_step": log.best_step, "steps": len(log.losses),
            "link_auc_curve": log.scores, "chosen": choice, "trials": table,
        }
        return log.best_step

    def _k_grid(self) -> tuple[int, ...]:
        if isinstance(self.k_grid, str):  # "auto"
            return (max(1, self.k // 2), self.k, 2 * self.k)
        return tuple(self.k_grid or ())

    def _choose_decoding(self, model: LanderNet, X: np.ndarray,
                         y: np.ndarray) -> tuple[dict, list[dict]]:
        """Search the decoding settings on labeled identities and adopt the best."""
        from .selection import select_decoding

        # every k tried must leave a neighbour to find among the held-out points
        k_grid = [kk for kk in self._k_grid() if kk < X.shape[0]]
        choice, table = select_decoding(
            lambda params: self._cluster_with(model, X, **params).labels, y,
            tau_grid=self.tau_grid, levels_fixed=self.max_levels, k=self.k, k_grid=k_grid,
            aggregation=self.aggregation, aggregations=self.aggregation_grid or (),
            progress=self.progress)
        self.tau_, self.tau_upper_ = choice["tau"], choice["tau_upper"]
        self.max_levels_, self.decoding_ = choice["max_levels"], choice["decoding"]
        self.k_, self.aggregation_ = choice["k"], choice["aggregation"]
        return choice, table

    def tune_decoding(self, X, y) -> HiLander:
        """Re-choose p_τ, upper p_τ, LANDER vs Hi-LANDER and decoding on a labeled validation
        set of identities disjoint from the ones to cluster (the weights stay as trained).

        The same search as ``tau="auto"`` runs inside ``fit``; use this when a separate
        validation split exists, as in the empirical study's protocol.
        """
        self._check_fitted()
        X = l2_normalize(self._check_X(X))
        y = encode_labels(check_labels(y, X.shape[0], name="y"))
        with deterministic():
            choice, table = self._choose_decoding(self.model_, X, y)
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
                      k: int, aggregation: str, observer=None,
                      backend=None) -> HierarchyResult:
        return run_hierarchy(
            model.to(resolve_device(self.device)), X, k=k, tau=tau, tau_upper=tau_upper,
            aggregation=aggregation,
            max_levels=max_levels, early_stopping=self.early_stopping,
            knn_method=self.knn_method, progress=self.progress, decoding=decoding,
            observer=observer, seed=self.seed, backend=backend,
        )

    def _inference_backend(self):
        """Context manager giving level 1's backend for :meth:`cluster` (None: local)."""
        if self.backend not in ("local", "ray"):  # set_params after fit is not validated
            raise InputError(f"backend must be 'local' or 'ray', got {self.backend!r}")
        if self.backend == "local":
            return contextlib.nullcontext(None)
        from ..distributed import RayBackend

        return RayBackend(self.ray_address, self.n_shards, progress=self.progress)

    def _decoding_params(self) -> dict:
        return {"tau": self.tau_, "tau_upper": self.tau_upper_,
                "max_levels": self.max_levels_, "decoding": self.decoding_, "k": self.k_,
                "aggregation": self.aggregation_}

    def _check_X(self, X) -> np.ndarray:
        X = check_features(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {X.shape[1]} features but the model was trained on "
                f"{self.n_features_in_}"
            )
        k = getattr(self, "k_", self.k)
        if X.shape[0] <= k:
            raise InputError(
                f"X has {X.shape[0]} rows; clustering with k={k} needs at least {k + 1}"
            )
        return X

    def cluster(self, X, *, tau: float | None = None,
                max_levels: int | str | None = "fitted") -> HierarchyResult:
        """Cluster new embeddings and return every level of the hierarchy.

        ``tau`` overrides the fitted threshold ``tau_`` (of every level) and ``max_levels``
        the fitted cap ``max_levels_`` (``1``: one-level LANDER, None: to convergence), for
        this run only.
        """
        self._check_fitted()
        X = self._check_X(X)
        params = self._decoding_params()
        if tau is not None:
            tau = check_float(tau, "tau", low=0.0, high=1.0)
            params.update(tau=tau, tau_upper=None)
        if max_levels != "fitted":
            if max_levels is not None:
                check_int(max_levels, "max_levels", low=1)
            params["max_levels"] = max_levels
        torch.manual_seed(self.seed)
        t0 = time.perf_counter()
        with self._inference_backend() as backend, deterministic():
            result = self._cluster_with(self.model_, l2_normalize(X, copy=False), **params,
                                        backend=backend)
        result.timings["total"] = time.perf_counter() - t0
        result.X = X
        result.tau = float(params["tau"])
        result.tau_upper = params["tau_upper"]
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
        ``result.n_clusters`` up). The thresholds default to those of that run (``tau``
        overrides every level's). Links follow the fitted decoding's rule for "peak" and
        "similarity"; with "infomap" the peak rule on p_ij stands in for it.
        """
        from .assign import assign_points

        self._check_fitted()
        X_new = check_features(X_new, name="X_new")
        if X_new.shape[1] != self.n_features_in_:
            raise InputError(f"X_new has {X_new.shape[1]} features but the model was trained "
                             f"on {self.n_features_in_}")
        tau_upper = None
        if tau is None:
            tau = result.tau if result.tau is not None else self.tau_
            tau_upper = result.tau_upper if result.tau is not None else self.tau_upper_
        tau = check_float(tau, "tau", low=0.0, high=1.0)
        torch.manual_seed(self.seed)
        with deterministic():
            return assign_points(self.model_.to(resolve_device(self.device)), result,
                                 l2_normalize(X_new), k=self.k_, tau=tau,
                                 tau_upper=tau_upper, aggregation=self.aggregation_,
                                 decoding=self.decoding_,
                                 knn_method=self.knn_method)

    # -- persistence (save/load come from PersistentModel) -------------------------------
    def _state(self) -> dict:
        return {
            "weights": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            "tau_": self.tau_,
            "tau_upper_": self.tau_upper_,
            "max_levels_": self.max_levels_,
            "decoding_": self.decoding_,
            "k_": self.k_,
            "aggregation_": self.aggregation_,
            "selection_": self.selection_,
            "n_train_levels_": self.n_train_levels_,
            "history_": list(self.history_),
        }

    def _set_state(self, state: dict) -> None:
        self.tau_ = float(state["tau_"])
        self.tau_upper_ = state["tau_upper_"]
        self.max_levels_ = state["max_levels_"]
        self.decoding_ = str(state["decoding_"])
        # models saved before k and aggregation were selected cluster as they were trained
        self.k_ = int(state.get("k_", self.k))
        self.aggregation_ = str(state.get("aggregation_", self.aggregation))
        self.selection_ = state["selection_"]
        self.n_train_levels_ = int(state["n_train_levels_"])
        self.history_ = list(state["history_"])
        model = self._new_model()
        model.load_state_dict(state["weights"])
        self.model_ = model.eval().to(resolve_device(self.device))
