"""The one optimisation loop of every torch model in hilander.

Hi-LANDER's meta-training runs on it in :mod:`hilander.lander.training`, which shares its
file name: one concept (training a network) at two layers, the loop and one model's use of it.

A model supplies ``step(optimizer, rng) -> loss`` (one mini-batch, or one epoch) and, to select
on held-out identities, ``evaluate() -> score``. The loop owns the optimiser, the learning-rate
schedule, checkpoint selection (the weights of the best evaluation are the ones kept), early
stopping and the progress bar.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ._memory import reuse_freed_memory

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "plateau")


@dataclass
class TrainingLog:
    """Loss of every step, score of every evaluation and the step whose weights were kept."""

    losses: list[float] = field(default_factory=list)
    scores: list[tuple[int, float]] = field(default_factory=list)
    best_step: int = 0
    best_score: float = float("nan")


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic torch kernels inside the block, the caller's setting restored after.

    Multi-threaded CPU scatter kernels (GAT's softmax aggregation) add in a varying order; the
    drift is in the 6th decimal after one step but grows over a run, so two fits with the same
    seed gave different labels. With deterministic kernels they are identical.
    """
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def make_optimizer(params, name: str, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    # the multi-tensor kernels: on Hi-LANDER's 84k parameters an Adam step took 50 ms one
    # tensor at a time and 5-6 ms fused, an SGD step 8.6 ms and 5.1 ms with foreach
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                           foreach=True)


# every step allocates the same large blocks: kept instead of mapped and faulted again
# (figure: benchmarks/results/speed.md)
@reuse_freed_memory()
def run_training(
    model: torch.nn.Module,
    step: Callable[[torch.optim.Optimizer, np.random.Generator], float],
    *,
    steps: int,
    optimizer: str = "adam",
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str = "cosine",
    evaluate: Callable[[], float] | None = None,
    eval_every: int = 1,
    higher_is_better: bool = True,
    evaluate_initial: bool = False,
    patience: int | None = None,
    lr_patience: int | None = None,
    seed: int = 0,
    progress: bool = False,
    desc: str = "training",
    keep_best: bool = True,
) -> TrainingLog:
    """Run ``steps`` calls of ``step``; keep the weights of the best ``evaluate`` score.

    ``schedule="cosine"`` anneals the rate to 0 over the run; ``"plateau"`` halves it after
    ``lr_patience`` evaluations without a gain. ``patience`` evaluations without a gain stop
    the run. With ``evaluate_initial`` the untrained weights compete too, so selection can
    never return a model that scores worse than its starting point. Without ``evaluate`` the
    loss itself is the (lower-is-better) score, as in the studies' recipes; ``keep_best=False``
    keeps the last weights instead (a re-fit for a number of steps chosen elsewhere).
    """
    opt = make_optimizer(model.parameters(), optimizer, lr, momentum, weight_decay)
    sched = None
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, steps) / max(steps, 1))))
    rng = np.random.default_rng(seed)
    log = TrainingLog()
    sign = 1.0 if (higher_is_better and evaluate is not None) else -1.0
    best, best_state, since_best, since_cut = -np.inf, None, 0, 0

    def consider(at: int, score: float) -> None:
        nonlocal best, best_state, since_best, since_cut
        log.scores.append((at, score))
        if sign * score > best + 1e-9:
            best, since_best, since_cut = sign * score, 0, 0
            best_state = copy.deepcopy(model.state_dict())
            log.best_step, log.best_score = at, score
        else:
            since_best += 1
            since_cut += 1

    if evaluate is not None and evaluate_initial:
        model.eval()
        with torch.no_grad():
            consider(0, float(evaluate()))
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for i in bar:
        model.train()
        loss = float(step(opt, rng))
        log.losses.append(loss)
        if sched is not None:
            sched.step()
        if i % eval_every and i != steps:
            continue
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                score = float(evaluate())
        else:
            score = loss
        consider(i, score)
        bar.set_postfix(loss=f"{loss:.4f}", score=f"{score:.4f}")
        if patience is not None and since_best >= patience:
            break
        if schedule == "plateau" and lr_patience is not None and since_cut >= lr_patience:
            for group in opt.param_groups:
                group["lr"] *= 0.5
            since_cut = 0
    if keep_best and best_state is not None:
        model.load_state_dict(best_state)
    elif not keep_best:
        log.best_step = len(log.losses)
    model.eval()
    return log
