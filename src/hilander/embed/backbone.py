"""A small image backbone trained with cosine-softmax cross-entropy (study App. E.1).

The study fine-tunes an ImageNet ResNet50 on 224x224 photos with a 256-D embedding layer. Here
the images are small grey-level drawings and the machine is a 2-core CPU, so the network is a
four-block conv net on 28x28 inputs with a 64-D embedding; everything else follows E.1: a
linear embedding layer with no activation after global pooling, a cosine-softmax head whose
inverse temperature ``beta = exp(tau)`` is a learned parameter trained at the same learning
rate as the rest, SGD, and the validation split's Recall@1 driving learning-rate halving,
early stopping and the choice of the saved epoch. The patience values are scaled down from the
study's 15 / 35 epochs to fit a run of a few minutes.
"""

from __future__ import annotations

import math
import sys
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from .._device import resolve_device
from .._validation import InputError, check_labels
from ..base import POSITIVE_INT, Encoder, Param
from ..persistence import save_payload
from .proxies import drop_noise, imprint_proxies


class ConvEmbedder(nn.Module):
    """Four conv-BN-ReLU-maxpool blocks, global average pooling, a linear embedding layer."""

    def __init__(self, channels: int, embed_dim: int, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out in (channels, channels, 2 * channels, 2 * channels):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.embed = nn.Linear(c_in, embed_dim)  # no activation, as in App. E.1.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.embed(h.mean(dim=(2, 3)))


class CosineSoftmaxHead(nn.Module):
    """Logits ``exp(tau) * cos(z, w_c)``; ``tau`` is learned (App. E.1.3)."""

    def __init__(self, embed_dim: int, n_classes: int, tau_init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, embed_dim) / math.sqrt(embed_dim))
        self.tau = nn.Parameter(torch.tensor(float(tau_init)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        cos = F.normalize(z, dim=1) @ F.normalize(self.weight, dim=1).T
        return self.tau.exp() * cos


def _augment(x: torch.Tensor, gen: torch.Generator, strength: float) -> torch.Tensor:
    """Small random affine warps (rotation, scale, shift): handwriting varies that way."""
    n = x.shape[0]
    # drawn from the CPU generator ``gen`` whatever the device: the same warps everywhere
    angle = (torch.rand(n, generator=gen) * 2 - 1) * (0.26 * strength)  # up to ~15 degrees
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * (0.1 * strength)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (0.12 * strength)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


#: what picks the kept epoch: Recall@1 on l2-normalised or raw embeddings (the study's), or
#: MAP@R (l2-normalised), which counts every same-identity neighbour and so is steadier
MONITORS = ("l2_normalized", "unnormalized", "map_at_r")


class ImageBackbone(Encoder):
    """Conv-net embedder for small grey images, trained with cosine-softmax cross-entropy.

    Parameters are stored as given and checked in :meth:`fit`. ``fit(images, labels,
    val_images, val_labels)`` takes (n, H, W) arrays of ink intensity in [0, 1]; without a
    validation set the last epoch is kept. :meth:`transform` returns the unnormalised
    ``embed_dim`` embeddings (the penultimate layer, as the study clusters). ``device``
    ("auto": CUDA when present, else CPU; "cpu"; "cuda") is where the network trains and
    embeds; the images stay on the CPU and go to the device one batch at a time.

    {parameters}
    """

    _params = {
        "embed_dim": Param(64, [Interval(Integral, 2, None, closed="left")], "int",
                           "Width of the embedding layer (the features :meth:`transform` "
                           "returns)."),
        "channels": Param(32, [POSITIVE_INT], "int",
                          "Channels of the first two conv blocks (twice as many in the last "
                          "two)."),
        "epochs": Param(25, [POSITIVE_INT], "int", "Training epochs at most."),
        "batch_size": Param(128, [Interval(Integral, 2, None, closed="left")], "int",
                            "Images per SGD step."),
        "lr": Param(0.1, [Interval(Real, 0, None, closed="neither")], "float",
                    "SGD learning rate (halved when the validation score stalls)."),
        "momentum": Param(0.9, [Interval(Real, 0, 1, closed="left")], "float",
                          "SGD momentum."),
        "nesterov": Param(True, ["boolean"], "bool", "Nesterov momentum (needs momentum > 0)."),
        "weight_decay": Param(5e-5, [Interval(Real, 0, None, closed="left")], "float",
                              "L2 weight decay."),
        "logit_scale_init": Param(2.0, [Interval(Real, -10, 10, closed="both")], "float",
                                  "Natural log of the head's initial logit scale: the cosine "
                                  "logits are multiplied by beta = exp(logit_scale_init), a "
                                  "learnt inverse temperature (CLIP's convention; formerly "
                                  "``tau_init``)."),
        "warmup_epochs": Param(1, [Interval(Integral, 0, None, closed="left")], "int",
                               "Epochs of linear learning-rate warm-up."),
        "lr_patience": Param(3, [POSITIVE_INT], "int",
                             "Epochs without a better validation score before the learning "
                             "rate is halved."),
        "stop_patience": Param(6, [POSITIVE_INT], "int",
                               "Epochs without a better validation score before training "
                               "stops."),
        "augment": Param(1.0, [Interval(Real, 0, 3, closed="both")], "float",
                         "Strength of the random affine warps (rotation, scale, shift); 0: "
                         "none."),
        "monitor": Param("l2_normalized", [StrOptions(set(MONITORS))], "str",
                         'Validation score that picks the kept epoch: "l2_normalized" or '
                         '"unnormalized" Recall@1 (the study\'s), or "map_at_r".'),
        "random_state": Param(0, [Interval(Integral, 0, None, closed="left")], "int",
                              "Seed of the initial weights, batch order and warps: the same "
                              "seed gives the same embeddings."),
        "verbose": Param(False, ["boolean"], "bool", "Print one line per epoch to stderr."),
        "device": Param("auto", [str], "str",
                        '"auto" (CUDA when present, else the CPU), "cpu" or "cuda".'),
    }
    _renamed = {"tau_init": "logit_scale_init"}

    def _check_rules(self) -> None:
        if self.nesterov and self.momentum == 0:
            raise InputError("nesterov=True needs momentum > 0")

    def fit(self, images, labels, val_images=None, val_labels=None, *,
            init: ImageBackbone | None = None) -> ImageBackbone:
        """Train on ``(images, labels)``; items labeled ``-1`` (noise) are left out.

        ``init``, a fitted backbone of the same architecture, starts the network from its
        weights (fine-tuning on new or pseudo-labeled identities): the head's proxies are then
        the class means of ``init``'s embeddings, except for classes ``init`` was trained on,
        which keep its learnt proxies, and the temperature starts at ``init``'s.
        """
        from ..metrics import map_at_r, recall_at_1

        self._check_params()
        x = _check_images(images, "images")
        y_raw = check_labels(labels, x.shape[0], name="labels")
        x, y_raw = drop_noise(x, y_raw)
        if init is not None:
            _check_init(init, self, x.shape[1:])
        classes, y = np.unique(y_raw, return_inverse=True)
        if classes.size < 2:
            raise InputError("labels must hold at least 2 classes to train a backbone")
        has_val = val_images is not None
        if has_val:
            xv = _check_images(val_images, "val_images")
            if xv.shape[1:] != x.shape[1:]:
                raise InputError(
                    f"val_images are {xv.shape[1:]} but images are {x.shape[1:]}"
                )
            yv = check_labels(val_labels, xv.shape[0], name="val_labels")

        self.image_shape_ = tuple(int(s) for s in x.shape[1:])
        self.n_classes_ = int(classes.size)
        # a private RNG stream: fitting never disturbs the caller's global torch RNG
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            gen = torch.Generator().manual_seed(self.random_state)
            device = resolve_device(self.device)
            # built on the CPU then moved, so the initial weights do not depend on the device
            net = ConvEmbedder(self.channels, self.embed_dim)
            head = CosineSoftmaxHead(self.embed_dim, self.n_classes_, self.logit_scale_init)
            if init is not None:
                net.load_state_dict(init._net.state_dict())
                weight, tau = warm_head(init._embed(x), y, classes, init)
                with torch.no_grad():
                    head.weight.copy_(torch.from_numpy(weight))
                    head.tau.fill_(tau)
            net, head = net.to(device), head.to(device)
            params = list(net.parameters()) + list(head.parameters())
            opt = torch.optim.SGD(
                params, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                weight_decay=self.weight_decay,
            )
            xt = torch.from_numpy(x).unsqueeze(1)
            yt = torch.from_numpy(y.astype(np.int64))
            self.history_: list[dict] = []
            best, best_state, best_epoch, since_best = -math.inf, None, 0, 0
            best_head = None
            lr = self.lr
            n_batches = math.ceil(xt.shape[0] / self.batch_size)
            warmup_steps = self.warmup_epochs * n_batches
            step = 0
            for epoch in range(1, self.epochs + 1):
                net.train()
                head.train()
                perm = torch.randperm(xt.shape[0], generator=gen)
                total, seen = 0.0, 0
                for start in range(0, perm.numel(), self.batch_size):
                    idx = perm[start:start + self.batch_size]
                    if idx.numel() < 2:
                        continue  # BatchNorm needs two samples
                    xb = xt[idx].to(device)
                    if self.augment > 0:
                        xb = _augment(xb, gen, self.augment)
                    if step < warmup_steps:
                        # Not in the study (its ResNet starts pretrained): from scratch, a full
                        # learning rate at once drives tau down before the features carry any
                        # signal, and beta = exp(tau) then stays near 0 (loss stuck at ln C).
                        for group in opt.param_groups:
                            group["lr"] = lr * (step + 1) / warmup_steps
                    step += 1
                    loss = F.cross_entropy(head(net(xb)), yt[idx].to(device))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * idx.numel()
                    seen += idx.numel()
                record = {
                    "epoch": epoch, "loss": total / max(seen, 1), "lr": lr,
                    "beta": float(head.tau.detach().exp()),
                }
                self._net = net
                if has_val:
                    emb = self._embed(xv)
                    record["val_recall_at_1"] = recall_at_1(
                        emb, yv, normalize=self.monitor != "unnormalized"
                    )
                    score = record["val_recall_at_1"]
                    if self.monitor == "map_at_r":
                        score = record["val_map_at_r"] = map_at_r(emb, yv)
                else:
                    score = -record["loss"]
                self.history_.append(record)
                if self.verbose:
                    print(
                        "  epoch {epoch:3d}  loss {loss:.3f}  beta {beta:6.2f}  lr {lr:.4f}".format(
                            **record
                        )
                        + (f"  val R@1 {record['val_recall_at_1']:.4f}" if has_val else "")
                        + (f"  MAP@R {score:.4f}" if self.monitor == "map_at_r" else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                if score > best:
                    best, best_epoch, since_best = score, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    best_head = {k: v.detach().clone() for k, v in head.state_dict().items()}
                else:
                    since_best += 1
                    if since_best >= self.stop_patience:
                        break
                    if since_best % self.lr_patience == 0:
                        lr /= 2  # App. E.1.3: halve the learning rate on a plateau
                        for group in opt.param_groups:
                            group["lr"] = lr
            net.load_state_dict(best_state)
            head.load_state_dict(best_head)
        net.eval()
        self._net = net
        self.best_epoch_ = best_epoch
        self.best_score_ = float(best)
        self.beta_ = float(head.tau.detach().exp())
        # the head of the kept epoch: a later fine-tuning round starts its proxies from it
        self.classes_ = classes
        self.head_weight_ = head.weight.detach().cpu().numpy().astype(np.float32)
        return self

    def _embed(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        net = self._net
        device = next(net.parameters()).device
        was_training = net.training
        net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                xb = torch.from_numpy(x[start:start + batch_size]).unsqueeze(1).to(device)
                out.append(net(xb).cpu().numpy())
        net.train(was_training)
        return np.concatenate(out).astype(np.float32, copy=False)

    def fit_transform(self, images, labels, val_images=None, val_labels=None) -> np.ndarray:
        return self.fit(images, labels, val_images, val_labels).transform(images)

    def transform(self, images) -> np.ndarray:
        """Unnormalised embeddings, (n, embed_dim) float32."""
        if not hasattr(self, "_net"):
            raise InputError("this ImageBackbone is not fitted yet; call fit first")
        x = _check_images(images, "images")
        if tuple(x.shape[1:]) != self.image_shape_:
            raise InputError(
                f"images are {tuple(x.shape[1:])} but the backbone was trained on "
                f"{self.image_shape_}"
            )
        return self._embed(x)

    def save(self, path: str | Path) -> None:
        if not hasattr(self, "_net"):
            raise InputError("cannot save an unfitted ImageBackbone")
        state = {
            # CPU tensors: a backbone trained on a GPU loads on any machine
            "net": {k: v.detach().cpu().clone() for k, v in self._net.state_dict().items()},
            "image_shape": list(self.image_shape_),
            "n_classes": self.n_classes_,
            "best_epoch": self.best_epoch_,
            "best_score": self.best_score_,
            "beta": self.beta_,
            "history": self.history_,
        }
        if getattr(self, "head_weight_", None) is not None:
            state["classes"] = torch.from_numpy(np.asarray(self.classes_, dtype=np.int64))
            state["head_weight"] = torch.from_numpy(self.head_weight_)
        save_payload(path, type(self).__name__, self.get_params(), state)

    @classmethod
    def load(cls, path: str | Path) -> ImageBackbone:
        from ..persistence import load_as

        return load_as(cls, path)

    @classmethod
    def _from_payload(cls, payload: dict, path: str | Path = "model") -> ImageBackbone:
        model = cls(**cls._upgrade_config(dict(payload["config"])))
        state = payload["state"]
        net = ConvEmbedder(model.channels, model.embed_dim)
        net.load_state_dict(state["net"])
        net.eval().to(resolve_device(model.device))
        model._net = net
        model.image_shape_ = tuple(state["image_shape"])
        model.n_classes_ = state["n_classes"]
        model.best_epoch_ = state["best_epoch"]
        model.best_score_ = state["best_score"]
        model.beta_ = state["beta"]
        model.history_ = state["history"]
        # absent from backbones saved before fine-tuning existed
        model.classes_ = state["classes"].numpy() if "classes" in state else None
        model.head_weight_ = state["head_weight"].numpy() if "head_weight" in state else None
        return model



def _check_init(init, model: ImageBackbone, image_shape) -> None:
    """``init`` must be a fitted backbone of ``model``'s architecture and image size."""
    if not isinstance(init, ImageBackbone) or not hasattr(init, "_net"):
        raise InputError(f"init must be a fitted ImageBackbone, got {type(init).__name__}")
    if (init.channels, init.embed_dim) != (model.channels, model.embed_dim):
        raise InputError(
            f"init has channels={init.channels}, embed_dim={init.embed_dim} but this backbone "
            f"has channels={model.channels}, embed_dim={model.embed_dim}"
        )
    if tuple(init.image_shape_) != tuple(image_shape):
        raise InputError(f"init was trained on {tuple(init.image_shape_)} images, these are "
                         f"{tuple(image_shape)}")


def warm_head(z: np.ndarray, codes: np.ndarray, classes: np.ndarray, init) -> tuple[np.ndarray,
                                                                                    float]:
    """Proxies and temperature that start a fine-tuning from ``init`` (see ``fit``)."""
    weight = imprint_proxies(z, codes, classes, getattr(init, "classes_", None),
                             getattr(init, "head_weight_", None))
    return weight, float(np.log(init.beta_))


def _check_images(images, name: str) -> np.ndarray:
    try:
        x = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} could not be read as a numeric array: {exc}") from None
    if x.ndim != 3 or x.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty (n, height, width) array, got {x.shape}")
    if not np.isfinite(x).all():
        raise InputError(f"{name} contains NaN or infinite pixels")
    return np.ascontiguousarray(x)
