"""Meta-training LANDER: one shared model over every ground-truth level (sec. 3.5).

It runs on the shared loop of :mod:`hilander.training`, which shares its file name: one
concept (training a network) at two layers, the loop and one model's use of it.

Each step takes a mini-batch of seed nodes of one level graph with their full k-NN
neighbourhoods (the encoder runs on the seeds' receptive field only), so a run has hundreds
of steps instead of one full-graph step per level per epoch. Levels are drawn in proportion to
the square root of their size, so the small upper levels are learnt too. With held-out levels
the weights of the best held-out link AUC are kept, the untrained (calibrated-base) weights
included.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ..training import TrainingLog, run_training
from .levels import LevelGraph
from .meta_training import MetaTrainingSet
from .network import LanderNet, lander_loss
from .recipe import Recipe


def _tensors(level: LevelGraph, device: torch.device) -> dict[str, torch.Tensor]:
    arrays = {"x": level.x, "nbr": level.nbr, "attr": level.edge_attr, "same": level.same,
              "density": level.density}
    return {name: torch.from_numpy(a).to(device) for name, a in arrays.items()}


def link_auc(p: np.ndarray, nbr: np.ndarray, same: np.ndarray) -> float:
    """ROC AUC of edge scores ``p`` (n, k) for same-identity edges; NaN with one class."""
    valid = nbr >= 0
    q = same[valid] > 0.5
    if q.all() or not q.any():
        return float("nan")
    return float(roc_auc_score(q, p[valid]))


def steps_for(levels: list[LevelGraph], epochs: int, batch_size: int) -> int:
    """Steps of ``epochs`` passes, one pass drawing as many seeds as the levels hold nodes."""
    nodes = sum(lv.n_nodes for lv in levels)
    return max(1, epochs * math.ceil(nodes / batch_size))


def train_lander(
    model: LanderNet, training: MetaTrainingSet, recipe: Recipe, *, steps: int,
    batch_size: int, weight_decay: float, patience: int | None, random_state: int,
    held_out: LevelGraph | None = None, eval_every: int = 25, progress: bool = False,
) -> TrainingLog:
    """Train ``model`` in place on every level of ``training``; returns the loss/score log
    (``best_step`` = the step whose weights were kept).

    ``recipe`` gives the optimiser, its rate, the loss weighting and the feature noise. The
    head's base is first fitted on the edges of ``training.calibration_graphs`` (None: the
    largest level). With ``held_out`` (a labeled graph of identities not trained on) the
    weights of the best held-out link AUC are kept and ``patience`` evaluations without a
    gain stop the run.
    """
    levels = training.levels
    calibration_graphs = training.calibration_graphs
    balanced, feature_noise, seed = recipe.balanced, recipe.feature_noise, random_state
    device = next(model.parameters()).device
    data = [_tensors(lv, device) for lv in levels]
    sizes = np.array([lv.n_nodes for lv in levels], dtype=np.float64)
    probs = np.sqrt(sizes) / np.sqrt(sizes).sum()
    if calibration_graphs is None:
        calibration_graphs = [lv for lv in levels if lv.n_nodes == max(sizes)][:1]
    attr = np.concatenate([g.edge_attr[g.nbr >= 0] for g in calibration_graphs])
    same = np.concatenate([g.same[g.nbr >= 0] for g in calibration_graphs])
    model.head.calibrate(torch.from_numpy(attr), torch.from_numpy(same), balanced)

    def step(opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
        d = data[rng.choice(len(data), p=probs)]
        n = d["x"].shape[0]
        if n > batch_size:
            rows = torch.from_numpy(np.sort(rng.choice(n, batch_size, replace=False))).to(device)
        else:
            rows = torch.arange(n, device=device)
        # only the batch's receptive field: at 50k nodes noising and transforming every node
        # took most of a step
        field = model.receptive_field(d["nbr"], rows)  # once: forward reuses it
        x = d["x"][field[0]]
        if feature_noise > 0:
            x = x + feature_noise * torch.randn(x.shape, device=device) / math.sqrt(x.shape[1])
        logits, valid, d_hat = model(x, d["nbr"], d["attr"][rows], rows, field=field)
        blk = d["nbr"][rows]
        row_ids = rows.unsqueeze(1).expand_as(blk)[valid]
        mask = d["density"][row_ids] <= d["density"][blk[valid]]
        loss, _, _ = lander_loss(logits, d["same"][rows][valid], mask, d_hat,
                                 d["density"][rows], balanced=balanced)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    evaluate = None
    if held_out is not None:
        x_ho = torch.from_numpy(held_out.x)

        def evaluate() -> float:
            p, _ = model.predict(x_ho, held_out.nbr, held_out.sim)
            auc = link_auc(p, held_out.nbr, held_out.same)
            return 0.5 if math.isnan(auc) else auc

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return run_training(
            model, step, steps=steps, optimizer=recipe.optimizer, lr=recipe.lr,
            momentum=recipe.momentum,
            weight_decay=weight_decay, schedule="cosine", evaluate=evaluate,
            eval_every=eval_every, evaluate_initial=True, seed=seed, progress=progress,
            desc="meta-training", keep_best=held_out is not None,
            patience=patience if held_out is not None else None,
        )
