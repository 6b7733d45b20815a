"""Choosing Hi-LANDER's decoding on held-out meta-training identities (inside ``fit``).

Nothing here sees the identities to be clustered: the held-out identities are a class-disjoint
share of the meta-training set, exactly the situation of new data. The search runs the
trained network through :func:`run_hierarchy` itself; it needs the network, the held-out
points and the settings to start from, never the estimator.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .._memory import reuse_freed_memory
from .._validation import InputError
from ..metrics import avg_f, evaluate, f_scores
from .decoding import LEVEL_ONE_DECODINGS, DecodingSettings
from .hierarchy import run_hierarchy
from .network import LanderNet

#: Cosine thresholds of the "similarity" decoding (a_ij, not p_ij).
SIMILARITY_GRID = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
#: Per-node modularity resolutions of the "leiden" decoding (see DecodingSettings).
RESOLUTION_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
#: Mean within-community weights the "cpm" decoding demands.
CPM_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
#: The decodings the selection tries after the peak rule, in order.
SEARCHED_DECODINGS = ("similarity", "infomap", "leiden", "cpm", "average")

#: What a later stage (another decoding, LANDER, another k...) must add to the held-out avg F
#: to replace the current choice. The held-out identities are few; on the synthetic test set
#: Infomap decoding won by 0.0003 and then merged an 80% subsample of the test identities
#: into one cluster at level 2 (avg F 0.68, against 0.99 with the peak decoding it displaced).
MIN_GAIN = 0.005


def check_folds(y: np.ndarray, folds: np.ndarray, k: int) -> None:
    """Every fold, and the identities outside it, must leave a k-NN graph to learn or score."""
    for f in range(int(folds.max()) + 1):
        held = folds == f
        if held.sum() <= k or (~held).sum() <= k or np.unique(y[~held]).size < 2:
            raise InputError(
                f"selection (decoding='auto') needs more data: each of the {int(folds.max()) + 1} "
                f"folds of identities, and the identities outside it, must have more than "
                f"n_neighbors={k} points (fold {f} has {int(held.sum())}); lower "
                "selection.cv, or give a decoding to skip selection"
            )


@dataclass
class Selection:
    """The chosen settings, their smoothed held-out avg F and every trial run."""

    settings: DecodingSettings
    score: float
    trials: list[dict] = field(default_factory=list)

    def chosen(self) -> dict:
        return {**self.settings.as_dict(), "held_out_avg_f": self.score}


# every trial scores and decodes the same levels: their blocks kept between trials
# (figure: benchmarks/results/speed.md)
@reuse_freed_memory()
def select_decoding(
    model: LanderNet, X: np.ndarray, y: np.ndarray, start: DecodingSettings, *,
    tau_grid: Sequence[float], knn_method: str = "auto", random_state: int = 0,
    k_grid: Sequence[int] = (), aggregations: Sequence[str] = (), progress: bool = False,
    decodings: Sequence[str] = SEARCHED_DECODINGS,
    also: Sequence[tuple[LanderNet, np.ndarray, np.ndarray]] = (),
    attach_leftovers: bool = True,
) -> Selection:
    """Coordinate search over p_τ, the upper levels' p_τ, LANDER vs Hi-LANDER and the
    decoding (then each other k of ``k_grid`` and aggregation of ``aggregations``).

    ``X`` (unit rows) and ``y`` are the held-out identities; ``start`` gives what is not
    searched (``max_levels`` when the user fixed it, n_neighbors, aggregation, early
    stopping). The score is avg F (harmonic mean of pairwise and BCubed F), smoothed along
    each stage's threshold grid (see :func:`smoothed`). Stages: one p_τ for all levels; then
    the upper levels' p_τ; then level 1's again; then one-level LANDER; then each of
    ``decodings`` with its own grid (the similarity threshold; Infomap's p_τ; Leiden's
    resolution, then its p_τ; CPM's density; average linkage's p_τ; Infomap and Leiden keep
    the peak stages' upper p_τ for the levels above 1); then the extra k and
    aggregations; last, points left alone kept or attached to their best-linked neighbour's
    cluster (``attach_leftovers``). A later stage replaces the choice only if it wins by
    :data:`MIN_GAIN`.
    ``also`` lists further ``(model, X, y)`` sets, each clustered on its own: a setting's
    score is then the mean avg F over ``X`` and them.
    """
    table: list[dict] = []
    cache: dict = {}   # level 1 does not depend on the thresholds
    bar = tqdm(desc="selecting on held-out identities", unit="run", disable=not progress,
               leave=False)

    sets = [(model, X, y, cache), *((m, Xa, ya, {}) for m, Xa, ya in also)]

    labels_of: dict[int, np.ndarray] = {}  # trial -> its labels of X, for the full metrics

    def trial(settings: DecodingSettings) -> float:
        t0 = time.perf_counter()
        scores = []
        for i, (net, X_s, y_s, cache_s) in enumerate(sets):
            labels = run_hierarchy(net, X_s, settings, knn_method=knn_method,
                                   seed=random_state, cache=cache_s).labels
            # what avg F reads; NMI, AMI and ARI only for the choice (see below)
            scores.append(f_scores(y_s, labels))
            if i == 0:
                labels_of[len(table)] = labels.astype(np.int32)
        s = scores[0]
        row = {**settings.as_dict(), **s, "avg_f": float(np.mean([avg_f(v) for v in scores])),
               "seconds": time.perf_counter() - t0}
        if also:
            row["avg_f_each"] = [avg_f(v) for v in scores]
        table.append(row)
        bar.update(1)
        return table[-1]["avg_f"]

    def best_of(candidates: list[DecodingSettings]) -> tuple[DecodingSettings, float]:
        scores = [trial(c) for c in candidates]
        smooth = smoothed(scores)
        i = int(np.argmax(smooth))
        table[-len(candidates) + i]["smoothed_avg_f"] = smooth[i]
        return candidates[i], smooth[i]

    fixed_levels = start.max_levels
    base = start.replace(decoding="peak")
    grid = list(tau_grid)
    best, score = best_of([base.replace(tau=t, tau_upper=t) for t in grid])
    if fixed_levels != 1:
        # the whole grid, current value included: smoothing a grid with a hole in it would
        # average thresholds that are not neighbours
        best, score = _better(best, score, *best_of([best.replace(tau_upper=t) for t in grid]))
        best, score = _better(best, score, *best_of([best.replace(tau=t) for t in grid]))
    # the peak rule's upper threshold, for the decodings that partition level 1 only
    upper = best.tau_upper
    if fixed_levels is None:
        best, score = _better(best, score, *best_of(
            [base.replace(max_levels=1, tau=t, tau_upper=None) for t in grid]))
    for decoding in decodings:
        if decoding == "leiden":
            # the resolution on every edge first, then pruning at that resolution
            cand, sc = best_of([base.replace(decoding="leiden", tau=0.0, tau_upper=upper,
                                             resolution=r) for r in RESOLUTION_GRID])
            cand, sc = _better(cand, sc, *best_of([cand.replace(tau=t) for t in grid]))
        else:
            thresholds = {"similarity": SIMILARITY_GRID, "cpm": CPM_GRID}.get(decoding, grid)
            cand, sc = best_of([base.replace(
                decoding=decoding, tau=t,
                tau_upper=upper if decoding in LEVEL_ONE_DECODINGS else t)
                for t in thresholds])
        best, score = _better(best, score, cand, sc)
    thresholds = {"similarity": SIMILARITY_GRID, "cpm": CPM_GRID}.get(best.decoding, grid)
    for kk in k_grid:
        if kk != best.n_neighbors and kk < X.shape[0]:
            best, score = _better(best, score, *best_of(
                [best.replace(n_neighbors=kk, tau=t,
                              tau_upper=None if best.tau_upper is None else t)
                 for t in thresholds]))
    if best.max_levels != 1:
        for agg in aggregations:
            if agg != best.aggregation:
                best, score = _better(best, score, *best_of(
                    [best.replace(aggregation=agg, tau_upper=t) for t in thresholds]))
    if attach_leftovers and best.leftovers == "keep":
        # one setting against one: compared unsmoothed, and the gain carried to the score
        kept = trial(best)
        attached = trial(best.replace(leftovers="attach"))
        if attached > kept + MIN_GAIN:
            best, score = best.replace(leftovers="attach"), score + attached - kept
    bar.close()
    # every metric of the chosen setting's rows (a setting may have been tried twice)
    full = None
    for i, row in enumerate(table):
        if all(row.get(key) == value for key, value in best.as_dict().items()):
            full = full or evaluate(y, labels_of[i])
            row.update({key: full[key] for key in ("nmi", "ami", "ari")})
    return Selection(best, score, table)


def smoothed(scores: Sequence[float]) -> list[float]:
    """Each grid point's score averaged with its neighbours' (weights 1-2-1).

    The held-out identities are few, and a threshold at the edge of a cliff on them (one
    step further and everything splits) often falls off it on new identities; a point on a
    plateau does not. An end of the grid is mirrored: its one neighbour weighs as two, so a
    last point just past a cliff is not lifted by counting itself three times.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size < 3:
        return s.tolist()
    padded = np.concatenate([[s[1]], s, [s[-2]]])
    return ((padded[:-2] + 2 * padded[1:-1] + padded[2:]) / 4).tolist()


def _better(a: DecodingSettings, sa: float, b: DecodingSettings,
            sb: float) -> tuple[DecodingSettings, float]:
    return (b, sb) if sb > sa + MIN_GAIN else (a, sa)
