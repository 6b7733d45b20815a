"""``Discoverer``: learn a representation and a clustering from labeled identities, then find
the identities of an unlabeled set.

Three things are learnt from the user's labeled identities: the encoder (MiniLM fine-tuned
for texts, the image backbone for images), the clustering method and its settings (chosen as
:class:`~hilander.AutoCluster` chooses: the partitions tuned on every identity, Hi-LANDER,
when asked for, by its cross-fitted selection), and, for Hi-LANDER, the network. An encoder
makes the identities it trained on tighter than identities it never saw; a clusterer that learns its
thresholds on those tight identities over-merges or under-splits new ones. So by default
(``protocol="complementary"``) the labeled identities are split in two: the encoder trains on
one share, and the clusterer is fitted on the encoder's embeddings of the other share, which
it never trained on, exactly the situation of the unlabeled set. ``"refit"`` then re-trains
the encoder on every labeled identity and keeps the clusterer; ``"leaky"`` fits both on all
of them. ``benchmarks/discover.py`` measures the three on held-out identities.
"""

from __future__ import annotations

import sys
import time
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._validation import InputError, check_labels, encode_labels
from ..base import MetaTrainedClusterer, NotFittedError, Param
from ..persistence import payload_of
from . import _items

#: clustering candidates by default: the two partitions that led the benchmarks'
#: validation-tuned baselines. Hi-LANDER is a candidate on request (``methods=``): on the
#: fine-tuned embeddings its selection score carries worst (benchmarks/results/discover, CLINC150
#: dev, 3 splits x 3 seeds: 0.718 ± 0.108 on the unlabeled intents as chosen, 0.7-7.3x the true
#: count, against Leiden's 0.815 ± 0.066); with it the choice scored the same mean (it won once,
#: by 0.005) at up to twice the clusterer's time, and an earlier version that it won collapsed
DEFAULT_METHODS = ("infomap", "leiden")

PROTOCOLS = ("complementary", "refit", "leaky")


def check_identity_count(n_identities: int, protocol: str) -> None:
    """Raise unless the labeled identities can teach both the encoder and the clusterer: the
    clusterer scores its candidates on at least 4 identities (AutoCluster's minimum), and
    the disjoint protocols give the encoder as many again."""
    need = 4 if protocol == "leaky" else 8
    if n_identities < need:
        raise InputError(f"the labels hold {n_identities} identit"
                         f"{'y' if n_identities == 1 else 'ies'}; protocol={protocol!r} needs at "
                         f"least {need} (the encoder and the clusterer each need several to "
                         "learn from and to choose on)")


class Discoverer(MetaTrainedClusterer):
    """Learn an encoder and a clusterer from labeled identities; cluster new items.

    ``fit(X, y, X_unlabeled=None)`` takes raw items (a list of texts or an ``(n, side, side)``
    grey image array) with their identities, trains the encoder, chooses and fits the
    clusterer, and clusters ``X_unlabeled`` when given (``labels_``). ``predict(X)`` embeds and
    clusters any new set of items; ``transform(X)`` gives the embeddings.

    {parameters}

    Attributes
    ----------
    encoder_ : TextEncoder or ImageBackbone
        The encoder that embeds new items.
    clusterer_ : AutoCluster
        The chosen clustering (its ``winner_``, ``params_`` and ``table()``).
    labels_ : numpy.ndarray or None
        Cluster of each ``X_unlabeled`` item (``-1``: noise), None without one.
    embeddings_ : numpy.ndarray or None
        ``X_unlabeled``'s embeddings under ``encoder_``.
    kind_ : str
        "text" or "image".
    encoder_identities_, clusterer_identities_ : numpy.ndarray
        The labeled identities each part was fitted on (the same with ``"leaky"``).
    rounds_ : list of dict
        One record per transductive round (round 0 included when ``X_unlabeled`` is given):
        the clusterer's winner, its held-out avg F, clusters, share of items that kept their
        cluster, seconds.
    timings_ : dict
        Seconds per stage.
    n_features_in_ : int
        Embedding dimension.

    Examples
    --------
    >>> from hilander import Discoverer
    >>> words = {"weather": ["rain", "snow", "sun", "wind", "fog"],
    ...          "music": ["jazz", "rock", "opera", "piano", "drums"],
    ...          "food": ["pizza", "pasta", "salad", "soup", "bread"],
    ...          "sport": ["tennis", "soccer", "golf", "rugby", "boxing"],
    ...          "travel": ["flight", "hotel", "train", "cruise", "visa"],
    ...          "money": ["loan", "salary", "budget", "taxes", "savings"],
    ...          "health": ["fever", "cough", "flu", "doctor", "vaccine"],
    ...          "pets": ["dog", "cat", "hamster", "parrot", "puppy"]}
    >>> texts = [f"tell me about the {w}" for ws in words.values() for w in ws]
    >>> intents = [topic for topic, ws in words.items() for w in ws]
    >>> disc = Discoverer(methods="infomap", encoder_params={"epochs": 1, "batch_size": 8})
    >>> disc = disc.fit(texts, intents, X_unlabeled=["a song on the guitar", "heavy snowfall"])
    >>> disc.labels_.shape, disc.kind_, disc.clusterer_.winner_
    ((2,), 'text', 'infomap')
    >>> disc.predict(["my cat is hungry", "my dog is hungry"]).shape
    (2,)
    """

    _params = {
        "encoder": Param("auto", [StrOptions({"auto"}), object], '"auto" or encoder',
                         '"auto": the packaged MiniLM for texts, a new image backbone for '
                         "images; or a fitted TextEncoder / ImageBackbone to start from."),
        "methods": Param(DEFAULT_METHODS, [str, "array-like"], "str or list of str",
                         "Clustering candidates, chosen as AutoCluster chooses (a string may "
                         "list several, comma-separated)."),
        "protocol": Param("complementary", [StrOptions(set(PROTOCOLS))], "str",
                          '"complementary": the encoder trains on ``encoder_share`` of the '
                          "labeled identities and the clusterer is fitted on the rest, "
                          'embedded by that encoder; "refit": the same, then the encoder '
                          're-trains on every identity; "leaky": both on every identity.'),
        "encoder_share": Param(0.5, [Interval(Real, 0, 1, closed="neither")], "float",
                               "Share of the labeled points (whole identities) the encoder "
                               'trains on with "complementary" and "refit".'),
        "rounds": Param(0, [Interval(Integral, 0, None, closed="left")], "int",
                        "Transductive rounds: cluster ``X_unlabeled``, fine-tune the encoder "
                        "on its labeled share plus those clusters, re-fit the clusterer, "
                        "cluster again."),
        "encoder_params": Param(None, [dict, None], "dict or None",
                                "Settings of the encoder's training (e.g. ``epochs``)."),
        "clusterer_params": Param(None, [dict, None], "dict or None",
                                  "Settings of the AutoCluster that chooses the clusterer "
                                  "(e.g. ``learnt_params``, ``time_budget``)."),
    }
    _n_positional = 0

    def __repr__(self) -> str:
        return f"Discoverer(protocol={self.protocol!r}, methods={self.methods!r})"

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X, y, X_unlabeled=None) -> Discoverer:
        """Train the encoder, choose and fit the clusterer, cluster ``X_unlabeled``.

        Parameters
        ----------
        X : list of str or numpy.ndarray of shape (n, side, side)
            Labeled items.
        y : array-like of shape (n,)
            Their identities (``-1``: unlabeled, left out).
        X_unlabeled : same kind as ``X``, optional
            Items to cluster (``labels_``); also what ``rounds`` refine on.

        Returns
        -------
        Discoverer
            ``self``.
        """
        self._check_params()
        t_start = time.perf_counter()
        X = _items.as_items(X, "X")
        self.kind_ = _items.kind_of(X, "X")
        y = check_labels(y, _items.size(X), name="y")
        if y.dtype.kind in "iu" and (y == -1).any():  # -1: unlabeled, left out
            keep = y != -1
            X, y = _items.take(X, keep), y[keep]
        codes = encode_labels(y)
        n_ids = int(codes.max()) + 1
        U = None
        if X_unlabeled is not None:
            U = _items.as_items(X_unlabeled, "X_unlabeled")
            if _items.kind_of(U, "X_unlabeled") != self.kind_:
                raise InputError(f"X holds {self.kind_}s but X_unlabeled does not")
            if self.kind_ == _items.IMAGE and U.shape[1:] != X.shape[1:]:
                raise InputError(f"X_unlabeled images are {U.shape[1:]} but X's are "
                                 f"{X.shape[1:]}")
        elif self.rounds:
            raise InputError("rounds > 0 refine on X_unlabeled; pass X_unlabeled")
        check_identity_count(n_ids, self.protocol)
        self._encoder_params_checked()
        self.timings_: dict[str, float] = {}
        self.rounds_: list[dict] = []

        # which identities teach the encoder, which the clusterer
        if self.protocol == "leaky":
            enc_mask = clu_mask = np.ones(codes.size, dtype=bool)
        else:
            from ..datasets.splits import holdout_identities

            clu_mask = holdout_identities(codes, 1.0 - self.encoder_share, self.random_state,
                                          min_held=4, min_rest=4)
            enc_mask = ~clu_mask
        self.encoder_identities_ = np.unique(y[enc_mask])
        self.clusterer_identities_ = np.unique(y[clu_mask])
        X_enc, y_enc = _items.take(X, enc_mask), codes[enc_mask]
        X_clu, y_clu = _items.take(X, clu_mask), codes[clu_mask]

        # the encoder: early-stopped on the clusterer's identities (it never trains on them)
        start = None if isinstance(self.encoder, str) else self.encoder
        t0 = time.perf_counter()
        val = (X_clu, y_clu) if self.protocol != "leaky" else (None, None)
        encoder = self._train_encoder(start, X_enc, y_enc, *val)
        self.timings_["encoder"] = time.perf_counter() - t0
        self._say(f"discover: encoder trained on {np.unique(y_enc).size} identities "
                  f"({y_enc.size} items) in {self.timings_['encoder']:.0f} s")

        t0 = time.perf_counter()
        clusterer = self._fit_clusterer(encoder.transform(X_clu), y_clu)
        self.timings_["clusterer"] = time.perf_counter() - t0
        self._say(f"discover: clusterer {clusterer.winner_} chosen on "
                  f"{np.unique(y_clu).size} identities (held-out avg F "
                  f"{clusterer.val_avg_f_:.3f}) in {self.timings_['clusterer']:.0f} s")

        if self.protocol == "refit":
            t0 = time.perf_counter()
            encoder = self._train_encoder(start, X, codes, None, None)
            self.timings_["refit"] = time.perf_counter() - t0
            self._say(f"discover: encoder re-trained on all {n_ids} identities in "
                      f"{self.timings_['refit']:.0f} s")

        self.encoder_, self.clusterer_ = encoder, clusterer
        self.labels_ = self.embeddings_ = None
        self.n_features_in_ = int(clusterer.n_features_in_)
        if U is not None:
            self._cluster_unlabeled(U, X_enc, y_enc, X_clu, y_clu)
        self.timings_["total"] = time.perf_counter() - t_start
        return self

    def _cluster_unlabeled(self, U, X_enc, y_enc, X_clu, y_clu) -> None:
        """Round 0 clusters ``U``; each later round fine-tunes on the encoder's identities
        plus those clusters, re-fits the clusterer on its identities and clusters again."""
        from ..embed.proxies import align_labels, singletons_to_noise
        from ..embed.refinement import concat_items

        prev = None
        self._round_labels: list[np.ndarray] = []  # each round's clusters (not saved)
        for r in range(self.rounds + 1):
            t0 = time.perf_counter()
            if r > 0:
                pseudo = singletons_to_noise(prev)
                pseudo = np.where(pseudo == -1, -1, pseudo + int(y_enc.max()) + 1)
                val = (X_clu, y_clu) if self.protocol != "leaky" else (None, None)
                self.encoder_ = self._train_encoder(
                    self.encoder_, concat_items(X_enc, U), np.concatenate([y_enc, pseudo]),
                    *val)
                self.clusterer_ = self._fit_clusterer(self.encoder_.transform(X_clu), y_clu)
            Z = self.encoder_.transform(U)
            labels = np.asarray(self.clusterer_.predict(Z), dtype=np.int64)
            kept = None
            if prev is not None:
                labels = align_labels(prev, labels)
                kept = float(np.mean(labels == prev))
            record = {"round": r, "method": self.clusterer_.winner_,
                      "held_out_avg_f": float(self.clusterer_.val_avg_f_),
                      "n_clusters": int(np.unique(labels[labels >= 0]).size),
                      "kept": kept, "seconds": time.perf_counter() - t0}
            self.rounds_.append(record)
            self._round_labels.append(labels)
            self._say(f"discover: round {r}: {record['method']} held-out avg F "
                      f"{record['held_out_avg_f']:.3f}, {record['n_clusters']} clusters"
                      + ("" if kept is None else f", {kept:.1%} kept their cluster"))
            prev = labels
        self.labels_, self.embeddings_ = prev, Z
        self.timings_["unlabeled"] = sum(r["seconds"] for r in self.rounds_)

    def _encoder_params_checked(self) -> dict:
        params = dict(self.encoder_params or {})
        for own in ("random_state", "seed", "verbose", "progress", "device"):
            if own in params:
                raise InputError(f"encoder_params sets {own!r}; it follows the Discoverer's "
                                 "own random_state / verbose / device")
        if not isinstance(self.encoder, str):
            from ..embed.backbone import ImageBackbone
            from ..embed.text_encoder import TextEncoder

            want = TextEncoder if self.kind_ == _items.TEXT else ImageBackbone
            if not isinstance(self.encoder, want):
                raise InputError(f"encoder must be 'auto' or a fitted {want.__name__} for "
                                 f"{self.kind_} items, got {type(self.encoder).__name__}")
        return params

    def _train_encoder(self, start, X, y, X_val, y_val):
        """A new encoder trained on ``(X, y)`` from ``start`` (None: the default start)."""
        from ..embed.refinement import FINE_TUNE_DEFAULTS

        params = self._encoder_params_checked()
        own = {"random_state": self.random_state, "verbose": self.verbose, "device": self.device}
        if self.kind_ == _items.TEXT:
            from ..embed.text_encoder import TextEncoder

            base = start.get_params() if start is not None else {}
            return TextEncoder(**{**base, **params, **own}).fit(X, y, X_val, y_val, init=start)
        from ..embed.backbone import ImageBackbone

        if start is None:
            return ImageBackbone(**{**params, **own}).fit(X, y, X_val, y_val)
        config = {**start.get_params(), **FINE_TUNE_DEFAULTS["ImageBackbone"], **params, **own}
        return ImageBackbone(**config).fit(X, y, X_val, y_val, init=start)

    def _fit_clusterer(self, Z: np.ndarray, y: np.ndarray):
        from ..auto import AutoCluster

        params = {"methods": self.methods, **(self.clusterer_params or {}),
                  "random_state": self.random_state, "verbose": self.verbose,
                  "device": self.device}
        return AutoCluster(**params).fit(Z, y)

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    # -- use -----------------------------------------------------------------------------------
    def _fitted_marker(self) -> str:
        return "encoder_"

    def transform(self, X) -> np.ndarray:
        """Embeddings of new items under the learnt encoder, ``(n, n_features_in_)`` float32."""
        self._check_fitted()
        X = _items.as_items(X, "X")
        if _items.kind_of(X, "X") != self.kind_:
            raise InputError(f"this Discoverer embeds {self.kind_}s")
        return np.asarray(self.encoder_.transform(X), dtype=np.float32)

    def predict(self, X) -> np.ndarray:
        """Clusters of a new set of items (its identities may all be new); one id per item."""
        Z = self.transform(X)
        return np.asarray(self.clusterer_.predict(Z), dtype=np.int64)

    def fit_predict(self, X, y, X_unlabeled=None) -> np.ndarray:
        """``fit(X, y, X_unlabeled).labels_``."""
        if X_unlabeled is None:
            raise InputError("fit_predict clusters X_unlabeled; pass it")
        return self.fit(X, y, X_unlabeled).labels_

    # -- persistence ---------------------------------------------------------------------------
    def get_params(self, deep: bool = False) -> dict:
        # the starting encoder is an object: a model file keeps only "auto" or its class name
        return super().get_params(deep=False)

    def save(self, path: str | Path) -> None:
        """Write the encoder, the clusterer and the configuration to one file."""
        self._check_fitted()
        from ..persistence import save_payload

        config = self.get_params()
        if not isinstance(config["encoder"], str):
            config["encoder"] = "auto"  # the learnt encoder is in the state
        if isinstance(config["methods"], tuple):
            config["methods"] = list(config["methods"])
        config["verbose"] = False
        save_payload(path, type(self).__name__, config, self._state())

    def _state(self) -> dict[str, Any]:
        parts = {"encoder": payload_of(self.encoder_), "clusterer": payload_of(self.clusterer_)}
        return {**parts, "kind_": self.kind_, "n_features_in_": self.n_features_in_,
                "rounds_": self.rounds_, "timings_": self.timings_,
                "encoder_identities_": _plain(self.encoder_identities_),
                "clusterer_identities_": _plain(self.clusterer_identities_)}

    def _set_state(self, state: dict) -> None:
        from ..persistence import model_from_payload

        for key in ("encoder", "clusterer"):
            setattr(self, f"{key}_", model_from_payload(state[key], f"the model file's {key}"))
        self.kind_ = state["kind_"]
        self.rounds_, self.timings_ = state["rounds_"], state["timings_"]
        self.encoder_identities_ = np.asarray(state["encoder_identities_"])
        self.clusterer_identities_ = np.asarray(state["clusterer_identities_"])
        self.labels_ = self.embeddings_ = None

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise NotFittedError("this Discoverer is not fitted yet: call fit(X, y) first, "
                                 "or load a saved model")


def _plain(values: np.ndarray) -> list:
    return [v.item() if hasattr(v, "item") else v for v in np.asarray(values).tolist()]
