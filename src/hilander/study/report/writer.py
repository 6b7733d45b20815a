"""Write a benchmark report folder: Markdown, PNG figures and the JSON record."""

from __future__ import annotations

from pathlib import Path

from ..._validation import InputError
from ...io import atomic_path
from .plots import plot_avg_f, plot_hierarchy, plot_levels
from .record import write_record
from .results import BenchRecord
from .tables import level_table, params_table, results_table

REPORT_NAME = "report.md"
RECORD_NAME = "record.json"


def write_report(record: BenchRecord, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``record.json`` and the figures into ``out_dir``.

    Returns the written paths keyed by role (``report``, ``record``, ``avg_f``,
    ``levels_<setting>``, ``hierarchy_<setting>``). Every file is written atomically.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    if not record.settings:
        raise InputError("the benchmark record has no settings to report")
    paths: dict[str, Path] = {}
    title = f"{record.dataset}: avg F per method (l2-normalised embeddings)"
    paths["avg_f"] = plot_avg_f(record.settings, out / "avg_f.png", title)
    for s in record.settings:
        if s.level_curve is not None and s.level_curve.levels:
            paths[f"levels_{s.setting}"] = plot_levels(
                s.level_curve, out / f"levels_{s.setting}.png",
                f"{record.dataset} ({s.setting} test): {s.level_curve.method} per level",
                n_classes=s.n_classes,
            )
        if s.hierarchy is not None and s.hierarchy.level_peaks:
            paths[f"hierarchy_{s.setting}"] = plot_hierarchy(
                s.hierarchy, out / f"hierarchy_{s.setting}.png",
                f"{record.dataset} ({s.setting} test): {s.hierarchy.method} peaks per level "
                f"({s.hierarchy.projection.upper()})",
            )
    paths["record"] = write_record(record, out / RECORD_NAME)
    text = render_markdown(record, {k: p.name for k, p in paths.items()})
    with atomic_path(out / REPORT_NAME) as tmp:
        tmp.write_text(text, encoding="utf-8")
    paths["report"] = out / REPORT_NAME
    return paths


def render_markdown(record: BenchRecord, figures: dict[str, str]) -> str:
    """The report text; ``figures`` maps figure roles to file names relative to the report."""
    parts = [f"# Clustering benchmark: {record.dataset}\n"]
    if record.command:
        parts.append(f"Regenerate with:\n\n```\n{record.command}\n```\n")
    parts.append(_setup_section(record))
    if "avg_f" in figures:
        parts.append(f"![avg F per method]({figures['avg_f']})\n")
    # tuning uses the validation split only, so one table serves every test setting
    parts.append("## Parameters chosen on the validation split\n")
    parts.append(params_table(record.settings[0]))
    for s in record.settings:
        parts.append(f"## Setting: {s.setting}\n")
        parts.append(
            f"{s.description + ' ' if s.description else ''}"
            f"Test set: {s.n_samples:,} points in {s.n_classes:,} classes. Time is seconds to "
            "cluster the test set (\"train, test\" for the meta-trained methods); best values "
            "in bold.\n"
        )
        parts.append(results_table(s))
        if s.level_curve is not None and s.level_curve.levels:
            parts.append(f"### {s.level_curve.method} per hierarchy level\n")
            parts.append(level_table(s))
            key = f"levels_{s.setting}"
            if key in figures:
                parts.append(f"![scores per level]({figures[key]})\n")
        key = f"hierarchy_{s.setting}"
        if key in figures:
            parts.append("### Hierarchy on three test classes of different sizes\n")
            parts.append(f"![hierarchy]({figures[key]})\n")
    if record.notes:
        parts.append("## Notes\n")
        parts.append("\n".join(f"- {n}" for n in record.notes) + "\n")
    parts.append(f"Full record (versions, trials, timings): [{RECORD_NAME}]({RECORD_NAME})\n")
    return "\n".join(parts)


def _setup_section(record: BenchRecord) -> str:
    lines = ["## Setup\n"]
    v = record.versions
    if v:
        lines.append("- Versions: " + ", ".join(
            f"{k} {v[k]}" for k in ("hilander", "python", "torch", "numpy", "sklearn", "faiss")
            if k in v))
    lines.append(f"- Seed: {record.seed}")
    if record.total_seconds is not None:
        lines.append(f"- Total wall time: {record.total_seconds:,.0f} s")
    split = record.split or {}
    if "n_items" in split:  # a ClassDisjointSplit.describe() dict
        lines.append(f"- Splits (class-disjoint, by {split.get('group_kind', 'group')}): "
                     f"{split.get('rule', '')}")
        for name, n in split["n_items"].items():
            lines.append(f"  - {name}: {n:,} items, "
                         f"{split.get('n_classes', {}).get(name, '?'):,} classes")
    elif split:
        lines.append("- Splits: " + _fmt(split))
    recall = (record.embedding or {}).get("recall_at_1") or {}
    if recall:
        lines.append("- Recall@1 of the embeddings (l2-normalised / raw): " + ", ".join(
            f"{k} {_r(v, 'l2_normalized')} / {_r(v, 'unnormalized')}"
            if isinstance(v, dict) else f"{k} {_fmt(v)}" for k, v in recall.items()))
    lines.append("- Protocol: every baseline is tuned on validation (selection score: avg F) "
                 "and then run once, unchanged, on test, except that a tuned n_clusters is "
                 "carried over as the validation's mean cluster size and a modularity "
                 "resolution as a per-point one (both scaled by the test set's size, never its "
                 "labels). Hi-LANDER, LANDER and auto are fitted with their defaults on every "
                 "labeled identity (clustering-train and validation): Hi-LANDER cross-fits "
                 "over folds of them and chooses its decoding where all of them are clustered "
                 "at once; auto tunes each unsupervised candidate on all of them and scores "
                 "the learnt ones cross-fitted. 'Sel. avg F' is the score each method's "
                 "selection saw, 'Gap' its test avg F minus that. Embeddings are "
                 "l2-normalised.")
    return "\n".join(lines) + "\n"


def _r(d: dict, key: str) -> str:
    v = d.get(key)
    return f"{v:.3f}" if isinstance(v, (int, float)) else "?"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)
