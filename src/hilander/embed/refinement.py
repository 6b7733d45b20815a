"""Training an encoder on pseudo-labels, and transductive refinement on the user's raw data.

:func:`fine_tune` continues training an encoder (an :class:`~.backbone.ImageBackbone` or a
:class:`~.text_encoder.TextEncoder`) on labeled identities, true or pseudo, with the recipe
of :data:`FINE_TUNE_DEFAULTS`. :func:`cluster_tuned` clusters embeddings with the method whose
parameters score best on labeled held-out identities. :func:`refine` chains them on an
unlabeled set: cluster it, fine-tune on the labeled identities plus those clusters, cluster
again, for a few rounds, each round's clusters aligned to the last's ids
(:func:`~.proxies.align_labels`) so a cluster keeps its learnt proxy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

from .._validation import InputError, check_int, l2_normalize
from .proxies import align_labels, noise_mask, singletons_to_noise

#: what :func:`fine_tune` changes in an encoder's own configuration when it continues training:
#: the image backbone skips the warm-up it needs only from scratch and runs fewer epochs
FINE_TUNE_DEFAULTS: dict[str, dict] = {
    "ImageBackbone": {"epochs": 10, "warmup_epochs": 0, "lr": 0.1, "monitor": "map_at_r"},
    "TextEncoder": {"epochs": 2},
}

#: methods :func:`cluster_tuned` chooses among by default: fast, and the best two on both
#: datasets' validation splits in the benchmarks (benchmarks/results/{omniglot,clinc150})
DEFAULT_CANDIDATES = ("infomap", "leiden")

Log = Callable[[str], None]

if TYPE_CHECKING:
    from .backbone import ImageBackbone
    from .text_encoder import TextEncoder

#: an encoder :func:`fine_tune` and :func:`refine` work with
Encoder = Union["ImageBackbone", "TextEncoder"]
#: raw items: an (n, side, side) image array or a list of texts
Items = np.ndarray | list


def _quiet(_: str) -> None:
    pass


def concat_items(a: Items, b: Items) -> Items:
    """Raw items of two sets one after the other (image arrays or lists of texts).

    Parameters
    ----------
    a, b : numpy.ndarray or list
        Items of the same kind.

    Returns
    -------
    numpy.ndarray or list

    Examples
    --------
    >>> concat_items(["a"], ["b", "c"])
    ['a', 'b', 'c']
    """
    if isinstance(a, np.ndarray):
        return np.concatenate([a, np.asarray(b, dtype=a.dtype)])
    return list(a) + list(b)


def fine_tune(encoder: Encoder, X: Items, y, X_val: Items, y_val, **params) -> Encoder:
    """A copy of ``encoder`` trained further on ``(X, y)``, early-stopped on ``(X_val, y_val)``.

    Parameters
    ----------
    encoder : ImageBackbone or TextEncoder
        A fitted encoder; it is not modified.
    X : numpy.ndarray (images) or list of str
        Training items.
    y : array-like of int
        Their labels; ``-1`` (noise) items are skipped. Classes ``encoder`` was trained on
        keep their proxies.
    X_val, y_val
        Held-out identities (disjoint from ``y``'s) for early stopping; never the test set.
    **params
        Overrides of :data:`FINE_TUNE_DEFAULTS` and of the encoder's configuration.

    Returns
    -------
    ImageBackbone or TextEncoder
        The new, fitted encoder.

    Examples
    --------
    >>> tuned = fine_tune(backbone, images, labels, val_images, val_labels)  # doctest: +SKIP
    """
    name = type(encoder).__name__
    if name not in FINE_TUNE_DEFAULTS:
        raise InputError(f"cannot fine-tune a {name}; give an ImageBackbone or a TextEncoder")
    from ..base import translate_aliases

    # old names (seed, progress) must replace get_params()'s current ones, not sit beside them
    params = translate_aliases(type(encoder), params)
    config = {**encoder.get_params(), **FINE_TUNE_DEFAULTS[name], **params}
    return type(encoder)(**config).fit(X, y, X_val, y_val, init=encoder)


@dataclass
class TunedClustering:
    """Labels of a clustering chosen on held-out identities.

    Attributes
    ----------
    labels : numpy.ndarray
        Cluster id of every item.
    method : str
        The method with the best held-out avg F.
    params : dict
        Its parameters (as run on these items).
    val_avg_f : float
        Its held-out avg F.
    candidates : dict
        ``{method: held-out avg F}`` of every candidate.
    seconds : float
        Tuning and clustering time.
    all_labels : dict
        ``{method: labels}`` of every candidate with its tuned parameters (only with
        ``run_all=True``), to measure each one on labeled data.
    """

    labels: np.ndarray
    method: str
    params: dict
    val_avg_f: float
    candidates: dict = field(default_factory=dict)
    seconds: float = 0.0
    all_labels: dict = field(default_factory=dict)


def cluster_tuned(X, X_val, y_val, *, methods: Sequence[str] = DEFAULT_CANDIDATES,
                  seed: int = 0, run_all: bool = False) -> TunedClustering:
    """Cluster ``X`` with the candidate whose grid-searched parameters score best on validation.

    Each method is tuned on ``(X_val, y_val)`` with :func:`hilander.tune.tune_method`
    (selection score avg F); the winner runs once on ``X``. A tuned ``n_clusters`` is carried
    over as the validation's mean cluster size, as the benchmarks do. Embeddings are
    l2-normalised first.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings to cluster.
    X_val : array-like of shape (n_val, n_features)
        Embeddings of labeled held-out identities.
    y_val : array-like of shape (n_val,)
        Their labels.
    methods : sequence of str, default=("infomap", "leiden")
        Candidate unsupervised methods (see ``hilander methods``).
    seed : int, default=0
        Seed given to methods that take one.
    run_all : bool, default=False
        Also cluster ``X`` with every other candidate (``all_labels``).

    Returns
    -------
    TunedClustering

    Examples
    --------
    >>> res = cluster_tuned(X_new, X_val, y_val)  # doctest: +SKIP
    >>> res.method, res.val_avg_f  # doctest: +SKIP
    ('infomap', 0.77)
    """
    from ..methods import make
    from ..tune import carry_params, tune_method

    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not methods:
        raise InputError("no clustering method given")
    t0 = time.perf_counter()
    X = l2_normalize(np.asarray(X, dtype=np.float32))
    X_val = l2_normalize(np.asarray(X_val, dtype=np.float32))
    tuned, scores = {}, {}
    for name in methods:
        fixed = {"random_state": seed} if "random_state" in make(name).get_params() else None
        tuned[name] = tune_method(name, X_val, y_val, fixed=fixed)
        scores[name] = tuned[name].best_score
    best = max(methods, key=lambda m: scores[m])  # ties: the first listed

    def params_for(name: str) -> dict:  # a cluster count or resolution carried by its meaning
        return carry_params(name, tuned[name].best_params, X_val.shape[0], X.shape[0])

    runs = list(methods) if run_all else [best]
    all_labels = {m: np.asarray(make(m, **params_for(m)).fit_predict(X)) for m in runs}
    return TunedClustering(all_labels[best], best, params_for(best), scores[best], scores,
                           time.perf_counter() - t0, all_labels if run_all else {})


@dataclass
class RefineRound:
    """One round of :func:`refine`.

    Attributes
    ----------
    round : int
        0 for the starting encoder, then 1, 2, ...
    labels : numpy.ndarray
        Clusters of the unlabeled items (ids aligned to the previous round's).
    method, params, val_avg_f
        The clustering chosen on the held-out identities, and its held-out avg F.
    n_clusters : int
        Number of clusters found.
    kept : float or None
        Share of items whose cluster id is the previous round's (None in round 0).
    train_seconds : float
        Fine-tuning time of this round (0 in round 0).
    seconds : float
        Whole round's time.
    scores : dict or None
        Metrics against ``y_unlabeled`` when it was given (measured only, never chosen on).
    method_scores : dict or None
        With ``y_unlabeled``: ``{method: avg F}`` of every candidate (each with the parameters
        tuned on the held-out identities), so a method can be followed across rounds.
    """

    round: int
    labels: np.ndarray
    method: str
    params: dict
    val_avg_f: float
    n_clusters: int
    kept: float | None = None
    train_seconds: float = 0.0
    seconds: float = 0.0
    scores: dict | None = None
    method_scores: dict | None = None

    def to_dict(self) -> dict:
        """JSON-ready summary (labels left out)."""
        return {k: v for k, v in self.__dict__.items() if k != "labels"}


@dataclass
class RefineResult:
    """Rounds of :func:`refine` and the last encoder.

    Attributes
    ----------
    rounds : list of RefineRound
    encoder : ImageBackbone or TextEncoder
        The last round's encoder.
    embeddings : numpy.ndarray
        The unlabeled items' embeddings under it.
    """

    rounds: list[RefineRound]
    encoder: Encoder
    embeddings: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """The last round's clusters."""
        return self.rounds[-1].labels

    def table(self) -> str:
        """One line per round: method, held-out avg F, clusters, kept share (and avg F on the
        unlabeled items when their labels were given)."""
        lines = []
        for r in self.rounds:
            line = (f"round {r.round}: {r.method} held-out avg F {r.val_avg_f:.3f}, "
                    f"{r.n_clusters} clusters")
            if r.kept is not None:
                line += f", {r.kept:.1%} kept their cluster"
            if r.scores is not None:
                line += f"; avg F on the unlabeled set {r.scores['avg_f']:.3f} (measured only)"
            lines.append(line)
        return "\n".join(lines)


def _relabel(y_labeled, avoid) -> tuple[np.ndarray, int]:
    """Labeled ids as integers (strings coded), and the first id free for pseudo-labels."""
    y = np.asarray(y_labeled)
    top = -1
    if avoid is not None and np.asarray(avoid).dtype.kind in "iu" and len(avoid):
        top = int(np.max(avoid))
    if y.dtype.kind not in "iu":
        _, codes = np.unique(y, return_inverse=True)
        # coded ids start above the starting encoder's classes: no false proxy match
        y = codes.astype(np.int64) + top + 1
    y = y.astype(np.int64)
    return y, max(top, int(y.max()) if y.size else -1) + 1


def refine(encoder: Encoder, X_labeled: Items, y_labeled, X_unlabeled: Items, X_val: Items,
           y_val, *, rounds: int = 2,
           methods: Sequence[str] = DEFAULT_CANDIDATES, fine_tune_params: dict | None = None,
           y_unlabeled=None, seed: int = 0, log: Log | None = None) -> RefineResult:
    """Transductive refinement: cluster the unlabeled items, fine-tune on them, cluster again.

    Round 0 clusters ``X_unlabeled`` with ``encoder`` as given. Each later round fine-tunes
    the previous round's encoder (:func:`fine_tune`) on the labeled identities plus the
    unlabeled items under the previous round's clusters (one-item clusters and ``-1`` are
    left out), re-tunes the clustering on the held-out identities and clusters again; the new
    cluster ids are aligned to the previous ones. The held-out avg F of each round is what a
    user without labels on the unlabeled set can watch to see whether refinement pays.

    Parameters
    ----------
    encoder : ImageBackbone or TextEncoder
        Starting encoder (e.g. trained on the labeled identities).
    X_labeled : numpy.ndarray (images) or list of str
        Labeled items.
    y_labeled : array-like
        Their identities.
    X_unlabeled : numpy.ndarray (images) or list of str
        Items to cluster (their identities may be new).
    X_val, y_val
        Labeled held-out identities: early stopping and the choice of the clustering.
    rounds : int, default=2
        Fine-tuning rounds after round 0.
    methods : sequence of str, default=("infomap", "leiden")
        Clustering candidates (:func:`cluster_tuned`).
    fine_tune_params : dict or None, default=None
        Overrides passed to :func:`fine_tune`.
    y_unlabeled : array-like or None, default=None
        True identities of the unlabeled items, used only to report each round's scores.
    seed : int, default=0
        Seed of the clustering methods.
    log : callable or None, default=None
        Called with one line per step (e.g. ``print``).

    Returns
    -------
    RefineResult

    Examples
    --------
    >>> res = refine(backbone, X_lab, y_lab, X_new, X_val, y_val, rounds=2)  # doctest: +SKIP
    >>> print(res.table())  # doctest: +SKIP
    """
    from ..metrics import avg_f, evaluate

    log = log or _quiet
    rounds = check_int(rounds, "rounds", low=0)
    y_lab, offset = _relabel(y_labeled, getattr(encoder, "classes_", None))
    y_lab = np.where(noise_mask(np.asarray(y_labeled)), -1, y_lab)
    X_train = concat_items(X_labeled, X_unlabeled)
    history: list[RefineRound] = []
    current, prev_labels = encoder, None
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        train_s = 0.0
        if r > 0:
            pseudo = singletons_to_noise(prev_labels)
            pseudo = np.where(pseudo == -1, -1, pseudo + offset)
            log(f"round {r}: fine-tuning on {len(y_lab)} labeled + "
                f"{int((pseudo != -1).sum())} pseudo-labeled items "
                f"({np.unique(pseudo[pseudo != -1]).size} clusters)")
            current = fine_tune(current, X_train, np.concatenate([y_lab, pseudo]), X_val, y_val,
                                **(fine_tune_params or {}))
            train_s = time.perf_counter() - t0
        Z = current.transform(X_unlabeled)
        Z_val = current.transform(X_val)
        res = cluster_tuned(Z, Z_val, y_val, methods=methods, seed=seed,
                            run_all=y_unlabeled is not None)
        labels = res.labels.astype(np.int64)
        kept = None
        if prev_labels is not None:
            labels = align_labels(prev_labels, labels)
            kept = float(np.mean(labels == prev_labels))
        scores = method_scores = None
        if y_unlabeled is not None:
            scores = dict(evaluate(y_unlabeled, labels))
            scores["avg_f"] = avg_f(scores)
            method_scores = {m: avg_f(evaluate(y_unlabeled, lab))
                             for m, lab in res.all_labels.items()}
        history.append(RefineRound(r, labels, res.method, res.params, res.val_avg_f,
                                   int(np.unique(labels).size), kept, train_s,
                                   time.perf_counter() - t0, scores, method_scores))
        log(RefineResult(history[-1:], current, Z).table())
        prev_labels = labels
    return RefineResult(history, current, Z)
