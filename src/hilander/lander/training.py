"""Meta-training loop: one shared LANDER model over every ground-truth level (sec. 3.5)."""

from __future__ import annotations

import math

import numpy as np
import torch
from tqdm.auto import tqdm

from .levels import LevelGraph
from .network import LanderNet, lander_loss


def _to_tensors(level: LevelGraph, device: torch.device) -> dict[str, torch.Tensor]:
    valid = level.nbr >= 0
    arrays = {"x": level.x, "nbr": level.nbr, "sim": level.sim, "same": level.same[valid],
              "density": level.density}
    return {name: torch.from_numpy(a).to(device) for name, a in arrays.items()}


def train_lander(
    model: LanderNet, levels: list[LevelGraph], *, epochs: int, lr: float,
    optimizer: str = "adam", momentum: float = 0.9, weight_decay: float = 1e-5,
    progress: bool = False,
) -> list[float]:
    """Cosine-annealed training over ``epochs`` passes; each pass visits every level once.

    The supplementary trains with SGD (lr 0.1, momentum 0.9) on mini-batches of 4096 for 250
    epochs, i.e. thousands of steps. Full-graph steps here are one per level per epoch, and SGD
    is far from converged after so few; Adam reaches a lower loss in the same number of steps
    on every set we tried, so it is the default and ``optimizer="sgd"`` keeps the paper's.
    Returns the mean loss of each epoch.
    """
    # the model's own device: tensors follow it, so CUDA is used when the model is there
    device = next(model.parameters()).device
    data = [_to_tensors(lv, device) for lv in levels]
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = max(1, epochs * len(data))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    )
    history: list[float] = []
    model.train()
    bar = tqdm(range(epochs), desc="meta-training", unit="epoch", disable=not progress,
               leave=False)
    for _ in bar:
        losses = []
        for d in data:
            logits, valid, d_hat = model(d["x"], d["nbr"], d["sim"])
            loss, _, _ = lander_loss(logits, valid, d_hat, d["nbr"], d["same"], d["density"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    model.eval()
    return history
