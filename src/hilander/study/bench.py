"""Benchmark orchestration: fit every method on the labeled identities, run it once on test.

Its command-line layer is :mod:`hilander.cli.bench` (``hilander bench``), which shares
its file name: one concept at two layers.

The protocol is the empirical study's (sec. 1) at the test set's scale: every unsupervised
baseline is grid-searched on the validation split (selection score: avg F), its
size-dependent settings carried to each test setting (:func:`hilander.tune.carry_params`);
Hi-LANDER, LANDER and ``auto`` are fitted, as a user fits them, on every labeled identity
(clustering-train and validation), choosing their settings inside ``fit`` by cross-fitting.
Each row reports its selection score and the gap to its test score. Test labels are used
for scoring only.

:func:`run_benchmark` works on arrays (any embeddings, e.g. synthetic ones in tests);
:func:`bench_dataset` embeds a real dataset first and writes the report folder.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .._validation import (
    InputError,
    check_features,
    check_int,
    check_labels,
    l2_normalize,
)
from ..metrics import avg_f, evaluate
from .report import (
    FAILED,
    SKIPPED,
    BenchRecord,
    MethodResult,
    SettingResult,
    environment_versions,
    hierarchy_snapshot,
    level_curve,
)

SETTINGS = ("natural", "longtail")

#: Methods run when none are named: the two meta-trained models and baselines that finish
#: in minutes on ~10k points. Spectral, GMM, vMF-MM and MeanShift are left out (cubic or
#: quadratic cost, as the study found on SOP); name them with ``methods=`` to run them anyway.
DEFAULT_METHODS = (
    "hilander", "lander", "hac", "kmeans", "dbscan", "aro", "cdp", "finch", "dp_means",
    "infomap", "leiden", "chinese_whispers", "auto",
)

#: Display names in the study's spelling; unknown names are shown as given.
DISPLAY_NAMES = {
    "hilander": "Hi-LANDER", "lander": "LANDER", "hac": "HAC", "kmeans": "k-Means",
    "spherical_kmeans": "Spherical k-Means", "minibatch_kmeans": "Mini-batch k-Means",
    "dp_means": "DP k-Means", "dp_vmf_means": "DP vMF k-Means", "gmm": "GMM",
    "vmf_mixture": "vMF-MM", "dbscan": "DBSCAN", "hdbscan": "HDBSCAN", "meanshift": "MeanShift",
    "mean_shift": "MeanShift", "spectral": "Spectral", "aro": "ARO", "cdp": "CDP",
    "finch": "FINCH", "graclus": "Graclus", "tree_deduction": "Tree deduction",
    "tree_deduction_l2": "Tree deduction (l2)", "kmeans_random": "k-Means (random init)",
    "spherical_kmeans_random": "Spherical k-Means (random init)",
    "infomap": "Infomap", "leiden": "Leiden", "chinese_whispers": "Chinese whispers",
    "auto": "auto",
}

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass
class BenchData:
    """Class-disjoint embeddings of the three splits the benchmark uses."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    dataset: str = "custom"
    split: dict = field(default_factory=dict)
    embedding: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # l2-normalised once here: the study shows it helps every method, and it makes the
        # cosine graphs of all methods agree
        for part in ("train", "val", "test"):
            X = check_features(getattr(self, f"X_{part}"), name=f"X_{part}", min_rows=2)
            y = check_labels(getattr(self, f"y_{part}"), X.shape[0], name=f"y_{part}")
            setattr(self, f"X_{part}", l2_normalize(X))
            setattr(self, f"y_{part}", y)
        if X.shape[1] != self.X_train.shape[1] or self.X_val.shape[1] != X.shape[1]:
            raise InputError(
                "train, validation and test embeddings must have the same width, got "
                f"{self.X_train.shape[1]}, {self.X_val.shape[1]} and {X.shape[1]}"
            )


# -- test settings ---------------------------------------------------------------------------


def make_setting(name: str, X: np.ndarray, y: np.ndarray, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """The test points of setting ``name`` and a one-line description of how they were drawn."""
    if name == "natural":
        return X, y, "The test split as it is."
    if name == "longtail":
        from ..datasets import long_tail_subsample

        idx = long_tail_subsample(y, seed)
        _, sizes = np.unique(y[idx], return_counts=True)
        desc = (
            f"Deterministic long-tailed resampling of the test split (seed {seed}): class sizes "
            f"{sizes.min()}-{sizes.max()}, median {np.median(sizes):g}; it stands for the "
            "Hi-LANDER paper's unseen-test-distribution setting (Table 3)."
        )
        return X[idx], y[idx], desc
    raise InputError(f"setting must be one of {list(SETTINGS)}, got {name!r}")


def parse_settings(setting: str | Sequence[str]) -> tuple[str, ...]:
    """"natural", "longtail", "both" or a list of them -> tuple of setting names."""
    items = [setting] if isinstance(setting, str) else list(setting)
    out: list[str] = []
    for item in items:
        for name in (SETTINGS if item == "both" else (item,)):
            if name not in SETTINGS:
                raise InputError(f"setting must be natural, longtail or both, got {name!r}")
            if name not in out:
                out.append(name)
    if not out:
        raise InputError("no test setting given")
    return tuple(out)


# -- method runners --------------------------------------------------------------------------


@dataclass
class Prepared:
    """What a runner learnt before seeing test data: parameters and how it got them."""

    params: dict
    tuning: dict | None = None
    tune_seconds: float | None = None
    train_seconds: float | None = None


@dataclass
class Clustering:
    """A runner's output on one test set; ``hierarchy`` is set by hierarchical methods."""

    labels: np.ndarray
    seconds: float
    hierarchy: dict | None = None
    params: dict | None = None  # set when the test set changed a parameter (see BaselineRunner)


class MethodRunner:
    """One benchmarked method: ``prepare`` on train/validation, then ``cluster`` test sets.

    Raising :class:`InputError` from either step means the method refuses these inputs (for
    example a quadratic method above its memory limit); the benchmark records it as skipped.
    """

    name: str = "method"
    kind: str = "unsupervised"

    @property
    def display_name(self) -> str:
        return DISPLAY_NAMES.get(self.name, self.name)

    def prepare(self, data: BenchData, seed: int, log: Log) -> Prepared:
        raise NotImplementedError

    def cluster(self, X: np.ndarray) -> Clustering:
        raise NotImplementedError

    def diagnose(self, X: np.ndarray, y: np.ndarray) -> dict | None:
        """Figures that explain the method's result on labeled test points (None: none)."""
        return None


def summarize_trials(result) -> dict:
    """Compact, JSON-ready summary of a :class:`~hilander.tune.TuneResult`."""
    trials = []
    n_failed = 0
    for params, scores in result.trials:
        if "error" in scores:
            n_failed += 1
            trials.append({"params": params, "error": scores["error"]})
        else:
            trials.append({
                "params": params, "avg_f": scores["avg_f"], "pairwise_f": scores["pairwise_f"],
                "bcubed_f": scores["bcubed_f"], "n_clusters": scores["n_clusters"],
                "seconds": scores.get("seconds"),
            })
    best = result.best_scores
    return {
        "mode": result.mode,
        "n_trials": len(result.trials),
        "n_failed": n_failed,
        "best_avg_f": float(best["avg_f"]),
        "best_val_scores": {k: v for k, v in best.items() if k != "seconds"},
        "trials": trials,
    }


def labeled_set(data: BenchData) -> tuple[np.ndarray, np.ndarray]:
    """Every labeled identity of a benchmark (clustering-train and validation), coded so the
    two splits' identities stay distinct."""
    from .._validation import encode_labels

    y_tr, y_va = encode_labels(data.y_train), encode_labels(data.y_val)
    return (np.concatenate([data.X_train, data.X_val]),
            np.concatenate([y_tr, y_va + y_tr.max() + 1]))


class HiLanderRunner(MethodRunner):
    """Hi-LANDER (``max_levels=None``) or one-level LANDER (``max_levels=1``).

    Fitted with its defaults on every labeled identity (clustering-train and validation):
    inside ``fit`` it cross-fits over folds of those identities and chooses its decoding
    where all of them are clustered at once, which is how it is used on new data. Its
    selection score is that choice's avg F. A given ``tau`` is used as is.
    """

    kind = "supervised"
    SHOWN_PARAMS = ("n_neighbors", "tau", "tau_upper", "max_levels", "decoding", "resolution",
                    "aggregation", "recipe", "epochs", "cv")

    def __init__(self, name: str = "hilander", max_levels: int | None = None,
                 params: dict | None = None, tau_grid: Sequence[float] | None = None,
                 progress: bool = False) -> None:
        from .. import HiLander
        from ..lander import DecodingSettings, flat_params

        self.name = name
        self.max_levels = max_levels
        # flat names (epochs=, tau=, cv=...): the command line's --hilander-param vocabulary
        self.params = dict(params or {})
        valid = (set(flat_params(HiLander())) | set(DecodingSettings(0.5).as_dict())) \
            - {"max_levels", "verbose"}
        unknown = sorted(set(self.params) - valid)
        if unknown:
            raise InputError(f"unknown Hi-LANDER parameter(s) {unknown}; valid: {sorted(valid)}")
        if tau_grid is not None:
            self.params["tau_grid"] = tuple(tau_grid)
        self.progress = progress

    def prepare(self, data: BenchData, seed: int, log: Log) -> Prepared:
        from .. import HiLander
        from ..lander import flat_params, group_params
        from ..tune import TuneResult

        params = {"random_state": seed, **self.params, "max_levels": self.max_levels,
                  "verbose": self.progress}
        model = HiLander(**group_params(params))
        X, y = labeled_set(data)
        t0 = time.perf_counter()
        model.fit(X, y)
        train_seconds = time.perf_counter() - t0
        log(f"{self.display_name}: trained and selected in {train_seconds:.1f} s "
            f"({', '.join(f'{k} {v:.0f} s' for k, v in model.timings_.items())})")
        self.model_ = model
        config = {k: v for k, v in flat_params(model).items() if k != "verbose"}
        # the fitted decoding in place of the parameters that asked for it
        config.update(model.settings_.as_dict())
        # the table shows what defines the model; the record keeps the whole configuration
        shown = {k: config[k] for k in self.SHOWN_PARAMS if config.get(k) is not None}
        sel = model.selection_
        if sel is None:  # a fixed tau: one "trial", the model as given, on validation
            scores = evaluate(data.y_val, model.predict(data.X_val))
            sel = {"chosen": model.settings_.as_dict(), "trials": [
                {**model.settings_.as_dict(), **scores, "avg_f": avg_f(scores)}]}
        decoding_keys = model.settings_.as_dict().keys()
        trials = [({k: t[k] for k in decoding_keys if k in t}, t) for t in sel["trials"]]
        chosen = sel["chosen"]
        best = next((tr for tr in trials if all(tr[0].get(k) == chosen.get(k)
                                                for k in decoding_keys)),
                    max(trials, key=lambda tr: tr[1]["avg_f"]))
        result = TuneResult(best[0], best[1], trials, method=self.name)
        tuning = summarize_trials(result)
        # the selection's own (smoothed) score of its choice
        tuning["best_avg_f"] = float(chosen.get("held_out_avg_f", best[1]["avg_f"]))
        tuning["mode"] = sel.get("mode", "fixed")
        tuning["selection"] = {k: sel[k] for k in ("held_out_classes", "held_out_points",
                                                    "one_fold", "folds") if k in sel}
        tuning["model_params"] = config
        tuning["timings"] = dict(model.timings_)
        return Prepared(shown, tuning, 0.0, train_seconds)

    def diagnose(self, X: np.ndarray, y: np.ndarray) -> dict | None:
        """Per level: link AUC of p_ij vs the raw cosine, density correlation, positive share,
        nodes and edges added; and the p_tau curve, every row labelled ORACLE."""
        from ..lander.diagnose import diagnose

        return diagnose(self.model_, X, y).to_dict()

    def cluster(self, X: np.ndarray) -> Clustering:
        t0 = time.perf_counter()
        res = self.model_.cluster(X)
        seconds = time.perf_counter() - t0
        hierarchy = {
            "level_labels": res.level_labels, "level_peaks": res.level_peaks,
            "stopped_by": getattr(res, "stopped_by", None), "n_levels": res.n_levels,
            "timings": dict(res.timings),
        }
        fitted = self.model_.settings_
        if self.max_levels != 1 and fitted.early_stopping:
            # the level plot shows where early stopping ends and where merging converges
            # (Hi-LANDER Fig. 2), so run once more without early stopping, untimed
            self.model_.settings_ = fitted.replace(early_stopping=False)
            try:
                full = self.model_.cluster(X)
            finally:
                self.model_.settings_ = fitted
            if full.n_levels > res.n_levels:
                hierarchy["full_level_labels"] = full.level_labels
                hierarchy["full_level_peaks"] = full.level_peaks
                hierarchy["converged_level"] = full.n_levels
            else:
                hierarchy["converged_level"] = res.n_levels
            if hierarchy["stopped_by"] == "early stopping":
                hierarchy["early_stop_level"] = res.n_levels
        return Clustering(res.labels, seconds, hierarchy)


class BaselineRunner(MethodRunner):
    """An unsupervised baseline of :mod:`hilander.methods`, tuned on validation.

    With ``scale_with_n`` on, a tuned ``n_clusters`` is carried to a test set as the
    validation's mean cluster size and a modularity resolution as a per-point one, i.e. both
    scaled by the test set's size (:func:`hilander.tune.carry_params`). The study's splits
    have similar sizes so it applies them as they are; ours do not (Omniglot: 3,220 validation
    vs 13,180 test points), and a raw value would then measure the size mismatch rather than
    the method. Only the test set's size is used, never its labels.
    """

    def __init__(self, name: str, grid: dict | None = None, *,
                 scale_with_n: bool = True) -> None:
        self.name = name
        self.grid = grid
        self.scale_with_n = scale_with_n

    def prepare(self, data: BenchData, seed: int, log: Log) -> Prepared:
        from ..methods import get_spec
        from ..tune import tune_method

        takes_seed = "random_state" in get_spec(self.name).param_names()
        fixed = {"random_state": seed} if takes_seed else None
        t0 = time.perf_counter()
        result = tune_method(self.name, data.X_val, data.y_val, self.grid, fixed=fixed)
        tune_seconds = time.perf_counter() - t0
        self.params_ = dict(result.best_params)
        self.n_val_ = int(data.X_val.shape[0])
        tuning = summarize_trials(result)
        if self.scale_with_n and "n_clusters" in self.params_:
            tuning["mean_cluster_size"] = self.n_val_ / self.params_["n_clusters"]
        if self.scale_with_n:
            tuning["val_params"] = dict(self.params_)
        return Prepared(dict(self.params_), tuning, tune_seconds)

    def params_for(self, n_samples: int) -> dict:
        """The parameters used on a test set of ``n_samples`` points."""
        from ..tune import carry_params

        if not self.scale_with_n:
            return dict(self.params_)
        return carry_params(self.name, self.params_, self.n_val_, n_samples)

    def cluster(self, X: np.ndarray) -> Clustering:
        from ..methods import make

        params = self.params_for(X.shape[0])
        est = make(self.name, **params)
        # timed from raw embeddings, k-NN graph included: the study's "time to cluster"
        t0 = time.perf_counter()
        labels = est.fit_predict(X)
        return Clustering(np.asarray(labels), time.perf_counter() - t0, params=params)


class AutoRunner(MethodRunner):
    """``hilander auto`` (:class:`hilander.AutoCluster`) as one benchmark row.

    Fitted with its defaults on every labeled identity (clustering-train and validation), as
    a user fits it: unsupervised candidates tuned on all of them at once, Hi-LANDER by its
    cross-fitted selection, supervised GNNs cross-fitted over folds of the identities. Test
    labels are used for scoring only. Hi-LANDER as a candidate gets the same settings as the
    Hi-LANDER row.
    """

    kind = "auto"

    def __init__(self, methods: Sequence[str] | None = None, hilander_params: dict | None = None,
                 time_budget: float | None = None, progress: bool = False) -> None:
        self.name = "auto"
        self.methods = methods
        self.hilander_params = dict(hilander_params or {})
        self.time_budget = time_budget
        self.progress = progress

    def prepare(self, data: BenchData, seed: int, log: Log) -> Prepared:
        from .. import HiLander
        from ..auto import AutoCluster, format_row
        from ..lander import SelectionSettings, TrainingSettings, flat_params, group_params

        # the Hi-LANDER row's settings (HiLander's defaults, not auto's shorter training)
        valid = set(flat_params(HiLander())) - {"tau", "decoding", "max_levels", "verbose",
                                                "random_state"}
        hl = group_params({"epochs": TrainingSettings().epochs,
                           **{k: v for k, v in self.hilander_params.items() if k in valid}})
        # plain values: AutoCluster saves the winner's parameters in its model file
        hl = {k: v.as_dict() if isinstance(v, TrainingSettings | SelectionSettings) else v
              for k, v in hl.items()}
        model = AutoCluster(self.methods, time_budget=self.time_budget,
                            learnt_params={"hilander": hl}, random_state=seed,
                            verbose=self.progress)
        X, y = labeled_set(data)
        t0 = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t0
        for row in model.table_:
            log("auto: " + format_row(row))
        log(f"auto: chose {model.winner_} (selection avg F {model.val_avg_f_:.3f})")
        self.model_ = model
        params = {"winner": model.winner_, **model.params_}
        tuning = {"mode": "all labeled identities", "best_avg_f": model.val_avg_f_,
                  "candidates": model.table_}
        return Prepared(params, tuning, tune_seconds=seconds)

    def cluster(self, X: np.ndarray) -> Clustering:
        t0 = time.perf_counter()
        labels = self.model_.predict(X)
        params = None
        if self.model_.winner_kind_ == "unsupervised":
            params = {"winner": self.model_.winner_, **self.model_.params_for(X.shape[0])}
        return Clustering(np.asarray(labels), time.perf_counter() - t0, params=params)


def available_methods() -> list[str]:
    """Every method name :func:`resolve_methods` accepts."""
    names = ["hilander", "lander", "auto"]
    try:
        from ..methods import available

        names += [n for n in available("unsupervised") if n not in names]
    except ImportError:
        pass
    return names


def resolve_methods(methods: str | Sequence[str | MethodRunner] | None = None, *,
                    hilander_params: dict | None = None, progress: bool = False,
                    ) -> tuple[list[MethodRunner], list[str]]:
    """Runners for ``methods`` (comma-separated names, a list, or runner objects).

    Returns the runners and notes about default methods that are not installed. An unknown
    name given explicitly is an :class:`InputError` that lists the valid names.
    """
    explicit = methods is not None
    if methods is None:
        methods = DEFAULT_METHODS
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not methods:
        raise InputError("no method given; use e.g. --methods hilander,lander,hac")
    known = available_methods()
    runners: list[MethodRunner] = []
    notes: list[str] = []
    seen: set[str] = set()
    for m in methods:
        if isinstance(m, MethodRunner):
            runner = m
        elif m in ("hilander", "lander"):
            runner = HiLanderRunner(m, None if m == "hilander" else 1, hilander_params,
                                    progress=progress)
        elif m == "auto":
            runner = AutoRunner(hilander_params=hilander_params, progress=progress)
        elif m in known:
            runner = BaselineRunner(m)
        elif explicit:
            raise InputError(f"unknown method {m!r}; choose from {', '.join(known)}")
        else:
            notes.append(f"default method {m!r} is not available in this installation")
            continue
        if runner.name in seen:
            raise InputError(f"method {runner.name!r} is listed twice")
        seen.add(runner.name)
        runners.append(runner)
    return runners, notes


# -- the benchmark ---------------------------------------------------------------------------


def _failure(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, InputError):
        return SKIPPED, str(exc)
    # a crash in one method must not lose the others' results; the reason is recorded
    return FAILED, f"{type(exc).__name__}: {exc}"


def run_benchmark(
    data: BenchData,
    methods: str | Sequence[str | MethodRunner] | None = None,
    *,
    settings: str | Sequence[str] = SETTINGS,
    seed: int = 0,
    hilander_params: dict | None = None,
    snapshot: bool = True,
    progress: bool = False,
    log: Log | None = None,
) -> BenchRecord:
    """Tune every method on validation, cluster each test setting once, score and time it.

    Methods that refuse the inputs (:class:`InputError`, e.g. a quadratic method above its
    memory limit) are recorded as skipped with the reason, and crashes as failed: one method
    never stops the others.
    """
    log = log or _quiet
    seed = check_int(seed, "seed", low=0)
    setting_names = parse_settings(settings)
    runners, notes = resolve_methods(methods, hilander_params=hilander_params,
                                     progress=progress)
    start = time.perf_counter()
    tests = {s: make_setting(s, data.X_test, data.y_test, seed) for s in setting_names}
    results = {
        s: SettingResult(s, int(X.shape[0]), int(np.unique(y).size), desc)
        for s, (X, y, desc) in tests.items()
    }
    for runner in runners:
        labeled = data.X_val.shape[0] + (data.X_train.shape[0] if runner.kind != "unsupervised"
                                         else 0)
        where = "validation" if runner.kind == "unsupervised" else "all labeled identities"
        log(f"{runner.display_name}: choosing its settings on {where} ({labeled} points)")
        try:
            prep = runner.prepare(data, seed, log)
        except Exception as exc:  # noqa: BLE001 - recorded per method, see _failure
            status, reason = _failure(exc)
            if status == FAILED:
                traceback.print_exc(file=sys.stderr)
            log(f"{runner.display_name}: {status} ({reason})")
            for s in setting_names:
                results[s].methods.append(MethodResult(
                    runner.name, runner.display_name, runner.kind, status, reason))
            continue
        for s, (X, y, _) in tests.items():
            res = MethodResult(runner.name, runner.display_name, runner.kind,
                               params=prep.params, tuning=prep.tuning,
                               tune_seconds=prep.tune_seconds, train_seconds=prep.train_seconds)
            try:
                out = runner.cluster(X)
                res.metrics = evaluate(y, out.labels)
                res.seconds = out.seconds
                if out.params is not None:
                    res.params = dict(out.params)
                if out.hierarchy:
                    res.details = {k: out.hierarchy.get(k) for k in (
                        "n_levels", "stopped_by", "early_stop_level", "converged_level",
                        "timings")}
                diagnosis = runner.diagnose(X, y)  # measured with test labels, never chosen
                if diagnosis is not None:
                    res.details = {**(res.details or {}), "diagnosis": diagnosis}
                    lv1 = diagnosis["levels"][0]
                    log(f"{runner.display_name} on {s} test: level-1 link AUC "
                        f"{lv1['auc_p']:.3f} (cosine {lv1['auc_cosine']:.3f})")
                log(f"{runner.display_name} on {s} test: avg F {res.avg_f:.3f}, "
                    f"{res.metrics['n_clusters']} clusters, {out.seconds:.1f} s")
            except Exception as exc:  # noqa: BLE001 - recorded per method, see _failure
                res.status, res.reason = _failure(exc)
                if res.status == FAILED:
                    traceback.print_exc(file=sys.stderr)
                log(f"{runner.display_name} on {s} test: {res.status} ({res.reason})")
                out = None
            results[s].methods.append(res)
            if out is not None and out.hierarchy and results[s].level_curve is None:
                _add_hierarchy(results[s], runner, X, y, out.hierarchy, snapshot, seed)
    record = BenchRecord(
        dataset=data.dataset, seed=seed, settings=[results[s] for s in setting_names],
        split=data.split, embedding=data.embedding, versions=environment_versions(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), notes=notes,
    )
    record.total_seconds = time.perf_counter() - start
    return record


def _add_hierarchy(result: SettingResult, runner: MethodRunner, X, y, h: dict,
                   snapshot: bool, seed: int) -> None:
    """Per-level curve and 2-D picture of the first multi-level method on this setting."""
    levels = h.get("full_level_labels") or h["level_labels"]
    if len(h["level_labels"]) < 1:
        return
    result.level_curve = level_curve(
        y, levels, method=runner.display_name, early_stop_level=h.get("early_stop_level"),
        converged_level=h.get("converged_level"),
    )
    peaks = h.get("full_level_peaks") or h.get("level_peaks")
    if snapshot and peaks:
        result.hierarchy = hierarchy_snapshot(X, y, peaks, method=runner.display_name,
                                              seed=seed)


# -- real datasets ---------------------------------------------------------------------------


def load_bench_data(name: str, data_dir: str | Path, *, cache_dir: str | Path | None = None,
                    seed: int = 0, progress: bool = True) -> BenchData:
    """Embed dataset ``name`` (cached, see :func:`hilander.study.embeddings.embed_dataset`)
    into the clustering-train, validation and test arrays the benchmark uses."""
    from .embeddings import embed_dataset

    emb = embed_dataset(name, data_dir, cache_dir=cache_dir, seed=seed, progress=progress)
    info = {k: v for k, v in (getattr(emb, "info", None) or {}).items() if k != "history"}
    embedding = {
        "recall_at_1": getattr(emb, "recall_at_1", {}),
        "config": getattr(emb, "config", {}),
        "info": info,
        "from_cache": bool(getattr(emb, "from_cache", False)),
    }
    return BenchData(*emb["clustering_train"], *emb["validation"], *emb["test"],
                     dataset=name, split=dict(getattr(emb, "split", {}) or {}),
                     embedding=embedding)


def bench_dataset(name: str, data_dir: str | Path, out_dir: str | Path, *,
                  settings: str | Sequence[str] = SETTINGS,
                  methods: str | Sequence[str] | None = None, seed: int = 0,
                  cache_dir: str | Path | None = None, hilander_params: dict | None = None,
                  command: str = "", progress: bool = True, log: Log | None = None,
                  ) -> tuple[BenchRecord, dict[str, Path]]:
    """Embed ``name``, run the benchmark and write the report folder ``out_dir``."""
    from .report import write_report

    log = log or _quiet
    t0 = time.perf_counter()
    log(f"{name}: embedding (cached after the first run)")
    data = load_bench_data(name, data_dir, cache_dir=cache_dir, seed=seed, progress=progress)
    log(f"{name}: train {data.X_train.shape[0]}, validation {data.X_val.shape[0]}, "
        f"test {data.X_test.shape[0]} points")
    record = run_benchmark(data, methods, settings=settings, seed=seed,
                           hilander_params=hilander_params, progress=progress, log=log)
    record.command = command
    record.total_seconds = time.perf_counter() - t0
    paths = write_report(record, out_dir)
    return record, paths
