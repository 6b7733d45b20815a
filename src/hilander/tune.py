"""Honest hyperparameter tuning: grid search on a labeled validation split.

Its command-line layer is :mod:`hilander.cli.tune` (``hilander tune``), which shares its
file name: one concept at two layers.

The empirical study (Appendix E.2.3) tunes every method by grid search on a *validation* split
and applies the chosen values unchanged to the test split. The selection score is the harmonic
mean of pairwise F and BCubed F (:func:`hilander.metrics.avg_f`). Tuning on the test labels
("oracle" mode, as done by some earlier papers) is available only through an explicit flag, and
every result produced that way carries the flag so it cannot be mistaken for a fair number.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import InputError, check_features, check_labels
from .metrics import avg_f, evaluate, f_scores

ORACLE_NOTE = "ORACLE: tuned on the evaluation labels themselves; not a fair result"
VALIDATION_NOTE = "tuned on a labeled validation split; apply the parameters unchanged to test"


@dataclass
class TuneResult:
    """Outcome of a grid search.

    ``trials`` lists ``(params, scores)`` in grid order; a trial whose parameters were rejected
    or failed has ``scores == {"error": message}``. ``best_scores`` is the metrics dict of the
    winning trial plus ``avg_f`` (the selection score) and ``seconds``.
    """

    best_params: dict[str, Any]
    best_scores: dict[str, float]
    trials: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    oracle: bool = False
    method: str | None = None

    @property
    def best_score(self) -> float:
        return float(self.best_scores["avg_f"])

    @property
    def mode(self) -> str:
        return "oracle" if self.oracle else "validation"

    @property
    def note(self) -> str:
        return ORACLE_NOTE if self.oracle else VALIDATION_NOTE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; the oracle flag and note are always present."""
        return {
            "method": self.method,
            "mode": self.mode,
            "oracle": self.oracle,
            "note": self.note,
            "best_params": _jsonable(self.best_params),
            "best_scores": _jsonable(self.best_scores),
            "trials": [
                {"params": _jsonable(p), "scores": _jsonable(s)} for p, s in self.trials
            ],
        }


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def expand_grid(grid: Mapping[str, Sequence]) -> list[dict[str, Any]]:
    """All combinations of ``grid`` values, the last key varying fastest."""
    if not isinstance(grid, Mapping):
        raise InputError(f"grid must be a dict of parameter -> list of values, got {grid!r}")
    keys = list(grid)
    values = []
    for key in keys:
        vals = grid[key]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
            vals = [vals]  # a single value means "fixed"
        vals = list(vals)
        if not vals:
            raise InputError(f"grid entry {key!r} has no values")
        values.append(vals)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def grid_search(
    run: Callable[[dict], np.ndarray],
    grid: Mapping[str, Sequence],
    y_val,
    *,
    oracle: bool = False,
    method: str | None = None,
    on_trial: Callable[[dict, dict], None] | None = None,
) -> TuneResult:
    """Evaluate ``run(params)`` for every combination of ``grid``; keep the best by avg F.

    ``run`` must return predicted labels for the points labeled by ``y_val``; ``on_trial``, when
    given, is called with each trial's parameters and scores (e.g. to advance a progress bar).
    Trials that raise
    :class:`InputError` (an invalid combination such as Ward linkage with cosine distance) are
    recorded as failed and skipped; other exceptions propagate. Ties keep the earliest trial, so
    the result is deterministic for a deterministic ``run``.
    """
    y_val = check_labels(y_val, name="y_val")
    combos = expand_grid(grid)
    trials: list[tuple[dict, dict]] = []
    best: tuple[float, dict, dict] | None = None
    best_pred = None
    for params in combos:
        start = time.perf_counter()
        try:
            pred = run(dict(params))
            pred = check_labels(pred, y_val.shape[0], name="predicted labels")
        except InputError as exc:
            trials.append((params, {"error": str(exc)}))
            if on_trial is not None:
                on_trial(params, trials[-1][1])
            continue
        # what avg F reads; every metric of the winning trial only (AMI is the slow one)
        scores: dict[str, Any] = dict(f_scores(y_val, pred))
        scores["avg_f"] = avg_f(scores)
        scores["seconds"] = time.perf_counter() - start
        trials.append((params, scores))
        if on_trial is not None:
            on_trial(params, scores)
        if best is None or scores["avg_f"] > best[0]:
            best, best_pred = (scores["avg_f"], params, scores), pred
    if best is None:
        first = trials[0][1]["error"] if trials else "empty grid"
        raise InputError(f"every grid combination failed; first error: {first}")
    full = evaluate(y_val, best_pred)
    best[2].update({key: full[key] for key in ("nmi", "ami", "ari")})
    return TuneResult(
        best_params=dict(best[1]), best_scores=dict(best[2]), trials=trials,
        oracle=bool(oracle), method=method,
    )


def default_grid(name: str, n_samples: int | None = None) -> dict[str, list]:
    """The default search grid of method ``name`` (study Appendix E.2.3 where it gives one).

    Grids over a number of clusters depend on the data size; pass ``n_samples`` to centre them
    on plausible values (average cluster sizes from 2 to 50 points), otherwise a fixed range is
    used.
    """
    from .methods.registry import get_spec

    spec = get_spec(name)
    grid = {key: list(vals) for key, vals in spec.grid.items()}
    if "n_clusters" in grid and n_samples is not None:
        grid["n_clusters"] = cluster_count_grid(n_samples)
    return grid


def carry_params(name: str, params: Mapping[str, Any], n_tuned: int,
                 n_samples: int) -> dict:
    """Parameters tuned on ``n_tuned`` points, in the form that carries to ``n_samples``.

    Two settings mean different things at another size, and are carried by what they mean:
    ``n_clusters`` as the mean cluster size it gave (scaled by n), and a modularity
    ``resolution`` as a per-point resolution (also scaled by n). Modularity merges two
    communities of sizes a and b when the weight between them exceeds ``resolution`` times the
    configuration model's expectation, about ``a * b * mean_degree / n``: the same resolution
    on four times the points merges what it kept apart before (Leiden tuned on Omniglot's
    validation split under-split its four-times-larger test split). Everything else is kept.
    The test set's size is all that is used, never its labels.
    """
    out = dict(params)
    if n_tuned <= 0 or n_samples == n_tuned:
        return out
    ratio = n_samples / n_tuned
    if "n_clusters" in out and out["n_clusters"] is not None:
        out["n_clusters"] = int(min(max(round(out["n_clusters"] * ratio), 1), n_samples))
    if name == "leiden" and out.get("objective", "modularity") == "modularity" \
            and "resolution" in out:
        out["resolution"] = float(out["resolution"]) * ratio
    return out


#: Multiples of the labeled identity count that AutoCluster tries as ``n_clusters``.
COUNT_FACTORS = (0.5, 0.7, 0.85, 1.0, 1.2, 1.4, 2.0)


def identity_count_grid(n_identities: int, n_samples: int) -> list[int]:
    """Cluster counts around a known number of identities (``COUNT_FACTORS`` times it).

    Where the labels are at hand (``AutoCluster`` tunes on labeled identities) the best count
    lies near the true one; a grid of average sizes from 50 to 2 missed it on CLINC150 (150
    utterances per intent) and spent most of k-means' time on counts of 2-3 points per
    cluster.
    """
    counts = {max(2, min(n_samples - 1, round(f * n_identities))) for f in COUNT_FACTORS}
    return sorted(counts)


def cluster_count_grid(n_samples: int) -> list[int]:
    """Candidate cluster counts for ``n_samples`` points: average sizes 50 down to 2."""
    sizes = (50, 30, 20, 12, 8, 5, 3, 2)
    counts = sorted({max(2, min(n_samples - 1, round(n_samples / s))) for s in sizes})
    return [c for c in counts if c < n_samples] or [1]


def tune_method(
    name: str,
    X_val,
    y_val,
    grid: Mapping[str, Sequence] | None = None,
    *,
    oracle: bool = False,
    graph=None,
    fixed: Mapping[str, Any] | None = None,
    on_trial: Callable[[dict, dict], None] | None = None,
) -> TuneResult:
    """Grid-search method ``name`` on ``(X_val, y_val)``.

    ``grid`` overrides the default grid key by key (keys absent from ``grid`` keep their
    defaults); ``fixed`` holds parameters applied to every trial. A k-NN graph large enough for
    the largest ``n_neighbors`` in the grid is built once and shared by all trials unless
    ``graph`` is given; ``on_trial`` is passed to :func:`grid_search`. Set ``oracle=True``
    only when ``y_val`` are the test labels: the result is then labeled as oracle everywhere.
    """
    from .graph import build_knn_graph
    from .methods.registry import get_spec, make

    spec = get_spec(name)
    X_val = check_features(X_val, name="X_val", min_rows=2)
    y_val = check_labels(y_val, X_val.shape[0], name="y_val")
    full_grid = default_grid(name, n_samples=X_val.shape[0])
    if grid:
        unknown = set(grid) - set(spec.param_names())
        if unknown:
            raise InputError(
                f"grid has unknown parameter(s) {sorted(unknown)} for method {name!r}; "
                f"valid: {sorted(spec.param_names())}"
            )
        full_grid.update({k: v for k, v in grid.items()})
    fixed = dict(fixed or {})
    for key in fixed:
        full_grid.pop(key, None)

    if spec.uses_graph and graph is None:
        # one graph for every trial, as large as the largest n_neighbors any trial uses
        if "n_neighbors" in full_grid:
            ks = _as_list(full_grid["n_neighbors"])
        elif "n_neighbors" in fixed:
            ks = [fixed["n_neighbors"]]
        else:
            ks = [make(name).get_params().get("n_neighbors", 1)]
        ks = [int(v) for v in ks if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
        k = max(ks + [1])
        k = min(k, X_val.shape[0] - 1)
        if k >= 1:
            graph = build_knn_graph(X_val, k)

    def run(params: dict) -> np.ndarray:
        est = make(name, **{**fixed, **params})
        if spec.uses_graph:
            return est.fit_predict(X_val, graph=graph)
        return est.fit_predict(X_val)

    result = grid_search(run, full_grid, y_val, oracle=oracle, method=name, on_trial=on_trial)
    result.best_params = {**fixed, **result.best_params}
    return result


def _as_list(vals) -> list:
    if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
        return [vals]
    return list(vals)
