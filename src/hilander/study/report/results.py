"""Plain data records of a benchmark run: what the report writers read.

They hold only numbers, strings and small arrays, so a report can be written from a real run,
from a saved JSON record, or from hand-made results in tests, without re-running any method.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Status of one method on one setting.
OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass
class MethodResult:
    """One method's outcome on one test set.

    ``seconds`` is the time to cluster the test set (for the meta-trained methods: inference
    only, with the one-off training time in ``train_seconds``, as the study's Table 4 reports
    "train, test"). ``tuning`` summarises the validation search that chose ``params``.
    """

    name: str
    display_name: str
    kind: str  # "unsupervised" | "supervised" | "auto"
    status: str = OK
    reason: str | None = None
    params: dict = field(default_factory=dict)
    metrics: dict | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    tune_seconds: float | None = None
    tuning: dict | None = None
    #: what the test run reports about itself, e.g. Hi-LANDER's stage timings and levels
    details: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK and self.metrics is not None

    @property
    def avg_f(self) -> float | None:
        if not self.ok:
            return None
        fp, fb = self.metrics["pairwise_f"], self.metrics["bcubed_f"]
        return 0.0 if fp + fb == 0 else 2 * fp * fb / (fp + fb)


@dataclass
class LevelCurve:
    """Per-level test scores of one hierarchical model (Hi-LANDER paper, Figure 2).

    ``levels`` lists dicts with ``level`` (1-based), ``pairwise_f``, ``bcubed_f``, ``nmi`` and
    ``n_clusters``. ``early_stop_level`` is where early stopping ends the hierarchy and
    ``converged_level`` where merging stops on its own (either may be None if unknown).
    """

    method: str
    levels: list[dict]
    early_stop_level: int | None = None
    converged_level: int | None = None


@dataclass
class HierarchySnapshot:
    """A few ground-truth classes drawn in 2-D with each level's peaks (supplementary Fig. 1).

    ``coords`` (m, 2) and ``classes`` (m,) describe the m drawn points; ``level_peaks[l]`` holds
    positions (0..m-1) of the drawn points that are peaks at level l+1, finest level first.
    """

    method: str
    coords: np.ndarray
    classes: np.ndarray
    class_sizes: dict
    level_peaks: list[np.ndarray]
    projection: str = "tsne"


@dataclass
class SettingResult:
    """Every method's results on one test setting ("natural" or "longtail")."""

    setting: str
    n_samples: int
    n_classes: int
    description: str = ""
    methods: list[MethodResult] = field(default_factory=list)
    level_curve: LevelCurve | None = None
    hierarchy: HierarchySnapshot | None = None


@dataclass
class BenchRecord:
    """A whole benchmark run: dataset, splits, settings and the environment it ran in."""

    dataset: str
    seed: int
    settings: list[SettingResult]
    split: dict = field(default_factory=dict)
    embedding: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""
    notes: list[str] = field(default_factory=list)
    total_seconds: float | None = None
