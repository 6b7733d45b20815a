"""Fine-tuning the MiniLM sentence encoder on labeled (or pseudo-labeled) identities.

The recipe is the study's (App. E.1) moved to text: a cosine-softmax head over one proxy per
class with a learnt inverse temperature ``beta = exp(tau)``, the held-out identities' Recall@1
choosing the kept weights and stopping the run. The optimisation loop is hilander's shared one
(:func:`hilander.training.run_training`), with Adam as usual for transformers.

Two departures from training an image backbone from scratch, both because the encoder starts
pretrained and the learning rate is small (2e-5):

* the proxies start at the class means of the pretrained embeddings ("imprinting"), so the
  first steps do not pull sentences towards random directions;
* the head learns ``head_lr_scale`` times faster than the encoder: with Adam a parameter
  moves about ``lr`` per step whatever its gradient, so the head is stored divided by the
  scale and multiplied back in ``forward``, which gives it that learning rate in one optimiser
  group.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._device import resolve_device
from .._threads import ThreadGovernor
from .._validation import InputError, check_labels
from ..base import POSITIVE_INT, Encoder, Param
from ..persistence import save_payload
from . import _frozen
from .proxies import drop_noise, holdout_identities, imprint_proxies


class ScaledProxyHead(nn.Module):
    """Cosine-softmax logits ``exp(tau) * cos(z, w_c)`` whose parameters learn ``scale`` x faster.

    Parameters
    ----------
    weight : numpy.ndarray of shape (n_classes, dim)
        Initial proxies.
    tau : float
        Initial log inverse temperature.
    scale : float, default=1.0
        Learning-rate multiplier of the head (see the module docstring).
    """

    def __init__(self, weight: np.ndarray, tau: float, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = float(scale)
        self.raw_weight = nn.Parameter(torch.from_numpy(np.asarray(weight, np.float32)) / scale)
        self.raw_tau = nn.Parameter(torch.tensor(float(tau) / scale))

    @property
    def weight(self) -> torch.Tensor:
        return self.raw_weight * self.scale

    @property
    def tau(self) -> torch.Tensor:
        return self.raw_tau * self.scale

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cos = F.normalize(z, dim=1) @ F.normalize(self.weight, dim=1).T
        return self.tau.exp() * cos


def _features(model, texts: list[str], device: torch.device) -> dict:
    # `preprocess` replaced `tokenize` in sentence-transformers 5.x; either works
    prep = getattr(model, "preprocess", None) or model.tokenize
    feats = prep(texts)
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in feats.items()}


def _check_texts(texts, name: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
        raise InputError(f"{name} must be a sequence of strings")
    texts = list(texts)
    if not texts:
        raise InputError(f"{name} is empty")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"{name}[{bad}] is a {type(texts[bad]).__name__}, not a string")
    return texts


class TextEncoder(Encoder):
    """The all-MiniLM-L6-v2 sentence encoder, fine-tuned with a cosine-softmax head.

    {parameters}

    Attributes
    ----------
    classes_ : numpy.ndarray
        Training classes (noise ``-1`` excluded), in the head's order.
    head_weight_ : numpy.ndarray of shape (n_classes, 384)
        The kept head's proxies (a later round on the same ids starts from them).
    beta_ : float
        The kept head's inverse temperature.
    history_ : list of dict
        One record per evaluation: step, epoch, loss, held-out Recall@1, elapsed seconds.
    best_step_ : int
        Step whose weights were kept (0: the starting weights).
    best_score_ : float
        Held-out score (``monitor``) of the kept weights.
    epoch_seconds_ : float
        Measured seconds per epoch of training (evaluations excluded).
    threads_ : int
        Torch CPU threads the training ran with (0 on a GPU): the cores other processes
        left free when it started. Sums split differently over other counts, so give this
        count (``HILANDER_THREADS`` / ``--threads``) to repeat a run exactly.

    Examples
    --------
    >>> enc = TextEncoder(epochs=1).fit(texts, labels)  # doctest: +SKIP
    >>> X = enc.transform(["where is my card", "tell me a joke"])  # doctest: +SKIP
    >>> enc.save("minilm_finetuned.hlm")  # doctest: +SKIP
    """

    _params = {
        "epochs": Param(2, [POSITIVE_INT], "int", "Passes over the training sentences."),
        "batch_size": Param(32, [Interval(Integral, 2, None, closed="left")], "int",
                            "Sentences per step."),
        "lr": Param(2e-5, [Interval(Real, 0, None, closed="neither")], "float",
                    "Adam learning rate of the encoder (cosine-annealed to 0 over ``epochs``)."),
        "head_lr_scale": Param(100.0, [Interval(Real, 0, None, closed="neither")], "float",
                               "The head's learning rate is ``lr * head_lr_scale``."),
        "weight_decay": Param(0.0, [Interval(Real, 0, None, closed="left")], "float",
                              "L2 penalty."),
        "logit_scale_init": Param(3.0, [Interval(Real, -10, 10, closed="both")], "float",
                                  "Natural log of the head's initial logit scale, beta = "
                                  "exp(logit_scale_init) (about 20; CLIP's convention; formerly "
                                  "``tau_init``), when not starting from ``init``."),
        "evals_per_epoch": Param(2, [POSITIVE_INT], "int",
                                 "Held-out evaluations per epoch (each encodes the held-out "
                                 "sentences once)."),
        "patience": Param(2, [POSITIVE_INT], "int",
                          "Evaluations without a better held-out score before stopping."),
        "monitor": Param("map_at_r", [StrOptions({"map_at_r", "recall_at_1"})],
                         '{"map_at_r", "recall_at_1"}',
                         "Held-out score that picks the kept weights: MAP@R counts every "
                         "same-identity neighbour (CLINC150's held-out Recall@1 is 0.97 before "
                         "any training, too close to 1 to rank checkpoints); Recall@1 is the "
                         "study's."),
        "val_fraction": Param(0.2, [Interval(Real, 0, 1, closed="neither")], "float",
                              "Share of the identities held out for early stopping when ``fit`` "
                              "gets no validation set."),
        "max_seq_length": Param(64, [Interval(Integral, 4, 512, closed="both")], "int",
                                "Tokens kept per sentence."),
        "frozen_layers": Param(3, [Interval(Integral, 0, 6, closed="both")], "int",
                               "Lower transformer layers (of 6) kept frozen with the token "
                               "embeddings. Their output for each sentence is computed once and "
                               "cached, and each step runs only the layers above, forward and "
                               "backward (see :mod:`hilander.embed._frozen`); 0 trains every "
                               "layer."),
        "random_state": Param(0, [Interval(Integral, 0, None, closed="left")], "int",
                              "Seed of batch order, dropout and the held-out draw."),
        "verbose": Param(False, ["boolean"], "bool",
                         "Print one line per evaluation (loss, held-out Recall@1, seconds per "
                         "epoch) to stderr."),
        "device": Param("cpu", [str], "str", '"cpu", "cuda" or "auto" (a GPU when present).'),
    }
    _renamed = {"tau_init": "logit_scale_init"}

    @classmethod
    def pretrained(cls, **params) -> TextEncoder:
        """The packaged all-MiniLM-L6-v2 as a fitted encoder, not fine-tuned.

        Parameters
        ----------
        **params
            Constructor parameters (they apply when it is fine-tuned later).

        Returns
        -------
        TextEncoder
            ``transform`` gives the same embeddings as ``hilander embed text``; it has no head
            (``classes_`` is None), so a fine-tuning from it imprints every proxy.

        Examples
        --------
        >>> X = TextEncoder.pretrained().transform(["hello there"])  # doctest: +SKIP
        """
        from .text import load_sentence_model

        enc = cls(**params)
        enc._check_params()
        model = load_sentence_model(device="cpu", progress=False)
        model.max_seq_length = int(enc.max_seq_length)
        enc._model = model.to(resolve_device(enc.device)).eval()
        enc.classes_, enc.head_weight_ = None, None
        enc.beta_ = float(math.exp(enc.logit_scale_init))
        enc.history_, enc.best_step_, enc.best_score_ = [], 0, float("nan")
        enc.epoch_seconds_, enc.n_train_, enc.threads_ = float("nan"), 0, 0
        return enc

    # -- training ------------------------------------------------------------------------------

    def fit(self, texts, labels, val_texts=None, val_labels=None, *,
            init: TextEncoder | None = None) -> TextEncoder:
        """Fine-tune on ``(texts, labels)``; ``-1`` labels (noise) are left out.

        Parameters
        ----------
        texts : sequence of str
            Training sentences.
        labels : array-like of shape (n_texts,)
            Their identities (true or pseudo); ``-1`` items are skipped.
        val_texts, val_labels : sequence of str and array-like, default=None
            Held-out identities (disjoint from ``labels``') for early stopping; without
            them ``val_fraction`` of the training identities are held out.
        init : TextEncoder or None, default=None
            A fitted encoder to start from instead of the pretrained MiniLM; classes it was
            trained on keep their proxies (see :func:`~hilander.embed.proxies.align_labels`).

        Returns
        -------
        TextEncoder
            ``self``, fitted.
        """
        from ..metrics import map_at_r, recall_at_1
        from ..training import run_training
        from .text import load_sentence_model

        self._check_params()
        texts = _check_texts(texts, "texts")
        y_raw = check_labels(labels, len(texts), name="labels")
        texts, y_raw = drop_noise(texts, y_raw)
        if val_texts is None:
            tr, va = holdout_identities(y_raw, self.val_fraction, self.random_state)
            val_texts, val_labels = [texts[i] for i in va], y_raw[va]
            texts, y_raw = [texts[i] for i in tr], y_raw[tr]
        else:
            val_texts = _check_texts(val_texts, "val_texts")
            val_labels = check_labels(val_labels, len(val_texts), name="val_labels")
        if len(val_texts) < 2:
            raise InputError("the held-out set needs at least 2 sentences")
        classes, y = np.unique(y_raw, return_inverse=True)
        if classes.size < 2:
            raise InputError("labels must hold at least 2 classes to fine-tune the encoder")
        if init is not None and not isinstance(init, TextEncoder):
            raise InputError(f"init must be a fitted TextEncoder, got {type(init).__name__}")
        if init is not None:
            init._check_fitted()

        device = resolve_device(self.device)
        # as many threads as the cores other processes leave free (see hilander._threads)
        governor = ThreadGovernor() if device.type == "cpu" else None
        with torch.random.fork_rng(devices=[]), governor or contextlib.nullcontext():
            self.threads_ = torch.get_num_threads() if governor is not None else 0
            torch.manual_seed(self.random_state)
            if init is None:
                model = load_sentence_model(device="cpu", progress=False)
            else:
                model = copy.deepcopy(init._model).cpu()
            model.max_seq_length = int(self.max_seq_length)
            model.to(device)
            self._model = model
            for p in model.parameters():  # a copied encoder may carry an earlier freeze
                p.requires_grad_(True)
            frozen = min(int(self.frozen_layers), _frozen.n_layers(model))
            t0 = time.perf_counter()
            if frozen:
                _frozen.freeze_lower(model, frozen)
                states = _frozen.lower_states(model, texts, frozen, device)
                val_states = _frozen.lower_states(model, val_texts, frozen, device)
                lengths = np.array([s.shape[0] for s in states])

                def embed_batch(idx: np.ndarray) -> torch.Tensor:
                    return _frozen.upper_embed(model, [states[i] for i in idx], frozen, device)

                def encode_val() -> np.ndarray:
                    return _frozen.embed_cached(model, val_states, frozen, device)

                z0 = _frozen.embed_cached(model, states, frozen, device)
            else:
                lengths = np.array([t.shape[0] for t in _frozen.tokenize(model, texts)[0]])

                def embed_batch(idx: np.ndarray) -> torch.Tensor:
                    feats = _features(model, [texts[i] for i in idx], device)
                    return model(feats)["sentence_embedding"]

                def encode_val() -> np.ndarray:
                    return self._encode(val_texts)

                z0 = self._encode(texts)
            weight = imprint_proxies(z0, y, classes, getattr(init, "classes_", None),
                                     getattr(init, "head_weight_", None))
            tau0 = math.log(init.beta_) if init is not None else float(self.logit_scale_init)
            head = ScaledProxyHead(weight, tau0, self.head_lr_scale).to(device)
            both = nn.ModuleDict({"encoder": model, "head": head})
            self._note(f"  imprinted {classes.size} proxies from {len(texts)} sentences in "
                       f"{time.perf_counter() - t0:.0f} s"
                       + (f" (layers 1-{frozen} frozen, their output cached)" if frozen else ""))

            rng = np.random.default_rng(self.random_state)
            n = len(texts)
            n_batches = max(1, n // self.batch_size)  # the ragged last batch is dropped
            order: list[np.ndarray] = []
            yt = torch.from_numpy(y.astype(np.int64))
            self.history_ = []
            clock = {"train": 0.0, "losses": []}

            def step(opt, _rng) -> float:
                if not order:
                    # sentences of similar length share a batch: little time spent on padding
                    order.extend(_frozen.length_batches(lengths, self.batch_size, rng))
                idx = order.pop(0)
                t = time.perf_counter()
                emb = embed_batch(idx)
                loss = F.cross_entropy(head(emb), yt[idx].to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                clock["train"] += time.perf_counter() - t
                clock["losses"].append(float(loss.detach()))
                return clock["losses"][-1]

            def evaluate() -> float:
                steps_done = len(clock["losses"])
                z = encode_val()
                r1 = recall_at_1(z, val_labels)
                score = map_at_r(z, val_labels) if self.monitor == "map_at_r" else r1
                epoch_s = clock["train"] / max(steps_done, 1) * n_batches
                recent = clock["losses"][-max(1, n_batches // self.evals_per_epoch):]
                record = {"step": steps_done, "epoch": steps_done / n_batches,
                          "loss": float(np.mean(recent)) if steps_done else None,
                          "val_recall_at_1": r1, "val_score": score,
                          "beta": float(head.tau.detach().exp()),
                          "train_seconds": clock["train"], "seconds_per_epoch": epoch_s}
                self.history_.append(record)
                loss_s = "  -  " if record["loss"] is None else f"{record['loss']:.3f}"
                self._note(f"  epoch {record['epoch']:5.2f}  loss {loss_s}  beta "
                           f"{record['beta']:6.2f}  held-out R@1 {r1:.4f}  {self.monitor} "
                           f"{score:.4f}  " + (f"{epoch_s:.0f} s/epoch ({n} sentences)"
                                               if steps_done else "(start)"))
                return score

            log = run_training(
                both, step, steps=self.epochs * n_batches, optimizer="adam", lr=self.lr,
                weight_decay=self.weight_decay, schedule="cosine", evaluate=evaluate,
                eval_every=max(1, n_batches // self.evals_per_epoch), evaluate_initial=True,
                patience=self.patience,
            )
            for p in model.parameters():
                p.requires_grad_(True)
        model.eval()
        self.classes_ = classes
        self.head_weight_ = head.weight.detach().cpu().numpy().astype(np.float32)
        self.beta_ = float(head.tau.detach().exp())
        self.best_step_ = int(log.best_step)
        self.best_score_ = float(log.best_score)
        self.epoch_seconds_ = clock["train"] / max(len(clock["losses"]), 1) * n_batches
        self.n_train_ = n
        return self

    def _note(self, msg: str) -> None:
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def _encode(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        from .text import encode_texts

        was_training = self._model.training
        self._model.eval()  # encode() does not switch dropout off by itself
        try:
            return encode_texts(texts, batch_size=batch_size, model=self._model)
        finally:
            self._model.train(was_training)

    # -- use -----------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "_model"):
            raise InputError("this TextEncoder is not fitted yet; call fit or load first")

    def transform(self, texts, batch_size: int = 128) -> np.ndarray:
        """Unnormalised (n, 384) float32 embeddings of ``texts``.

        Parameters
        ----------
        texts : sequence of str
            Sentences.
        batch_size : int, default=128
            Sentences per forward pass.

        Returns
        -------
        numpy.ndarray of shape (n_texts, 384)
        """
        self._check_fitted()
        return self._encode(_check_texts(texts, "texts"), batch_size)

    def save(self, path: str | Path) -> None:
        """Write configuration, fine-tuned weights and head to one file (about 90 MB)."""
        self._check_fitted()
        kind = "i" if self.classes_ is None else np.asarray(self.classes_).dtype.kind
        state = {
            "encoder": {k: v.detach().cpu().clone() for k, v in self._model.state_dict().items()},
            "classes": torch.from_numpy(np.asarray(self.classes_))
            if kind in "iu" and self.classes_ is not None else None,
            "class_names": [str(c) for c in self.classes_] if kind not in "iu" else None,
            "head_weight": None if self.head_weight_ is None
            else torch.from_numpy(self.head_weight_),
            "beta": self.beta_, "history": self.history_, "best_step": self.best_step_,
            "best_score": self.best_score_, "epoch_seconds": self.epoch_seconds_,
            "n_train": self.n_train_, "threads": self.threads_,
        }
        save_payload(path, type(self).__name__, self.get_params(), state)

    @classmethod
    def load(cls, path: str | Path) -> TextEncoder:
        """Read an encoder written by :meth:`save`."""
        from ..persistence import load_as

        return load_as(cls, path)

    @classmethod
    def _from_payload(cls, payload: dict, path: str | Path = "model") -> TextEncoder:
        from .text import load_sentence_model

        try:
            enc = cls(**cls._upgrade_config(dict(payload["config"])))
            state = payload["state"]
            model = load_sentence_model(device="cpu", progress=False)
            model.load_state_dict(state["encoder"])
            model.max_seq_length = int(enc.max_seq_length)
            model.to(resolve_device(enc.device)).eval()
            enc._model = model
            enc.classes_ = (state["classes"].numpy() if state.get("classes") is not None
                            else None if state.get("class_names") is None
                            else np.array(state["class_names"]))
            enc.head_weight_ = (None if state.get("head_weight") is None
                                else state["head_weight"].numpy())
            enc.beta_ = float(state["beta"])
            enc.history_ = state["history"]
            enc.best_step_ = int(state["best_step"])
            enc.best_score_ = float(state["best_score"])
            enc.epoch_seconds_ = float(state["epoch_seconds"])
            enc.n_train_ = int(state["n_train"])
            enc.threads_ = int(state.get("threads", 0))  # files from before it was kept: 0
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path} is a damaged TextEncoder file: {first}") from None
        return enc
