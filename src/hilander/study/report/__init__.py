"""Benchmark reports: Markdown tables, PNG figures and a JSON record of a run."""

from .plots import plot_avg_f, plot_hierarchy, plot_levels
from .record import environment_versions, record_dict, write_record
from .results import (
    FAILED,
    OK,
    SKIPPED,
    BenchRecord,
    HierarchySnapshot,
    LevelCurve,
    MethodResult,
    SettingResult,
)
from .snapshots import hierarchy_snapshot, level_curve, pick_classes
from .tables import level_table, params_table, results_table
from .writer import render_markdown, write_report

__all__ = [
    "FAILED", "OK", "SKIPPED",
    "BenchRecord", "HierarchySnapshot", "LevelCurve", "MethodResult", "SettingResult",
    "environment_versions", "hierarchy_snapshot", "level_curve", "level_table",
    "params_table", "pick_classes", "plot_avg_f", "plot_hierarchy", "plot_levels",
    "record_dict", "render_markdown", "results_table", "write_record", "write_report",
]
