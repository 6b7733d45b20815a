"""Markdown tables in the layout of the empirical study's Table 4."""

from __future__ import annotations

from .results import MethodResult, SettingResult

#: (header, metric key) of the score columns; higher is better for all of them.
SCORE_COLUMNS = (
    ("ARI", "ari"),
    ("NMI", "nmi"),
    ("AMI", "ami"),
    ("F_P", "pairwise_f"),
    ("F_B", "bcubed_f"),
    ("Avg F", "avg_f"),
)


def _score(result: MethodResult, key: str) -> float | None:
    if not result.ok:
        return None
    return result.avg_f if key == "avg_f" else float(result.metrics[key])


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.2f}"
    return f"{seconds:,.0f}" if seconds >= 100 else f"{seconds:.1f}"


def _time_cell(result: MethodResult) -> str:
    # the study writes "train, test" for the meta-trained methods
    if result.train_seconds is not None:
        return f"{format_seconds(result.train_seconds)}, {format_seconds(result.seconds)}"
    return format_seconds(result.seconds)


def selection_gap(result: MethodResult) -> float | None:
    """Test avg F minus the score the method's selection saw when it chose its settings
    (negative: the choice looked better than it carried); None without a selection."""
    sel = (result.tuning or {}).get("best_avg_f")
    return None if sel is None or not result.ok else result.avg_f - float(sel)


def results_table(setting: SettingResult, digits: int = 3) -> str:
    """One row per method: ARI, NMI, AMI, F_P, F_B, avg F, the selection's avg F and the gap
    to it, seconds, clusters.

    The best value of each score column is bold, as in the study. Skipped or failed methods
    keep their row (with dashes) and a numbered note giving the reason.
    """
    headers = [h for h, _ in SCORE_COLUMNS] + ["Sel. avg F", "Gap", "Time (s)", "Clusters"]
    best = {}
    for _, key in SCORE_COLUMNS:
        vals = [v for r in setting.methods if (v := _score(r, key)) is not None]
        best[key] = round(max(vals), digits) if vals else None

    lines = [
        "| Method | " + " | ".join(headers) + " |",
        "|---|" + "---:|" * len(headers),
    ]
    notes: list[str] = []
    for r in setting.methods:
        cells = [r.display_name]
        if r.ok:
            for _, key in SCORE_COLUMNS:
                v = round(_score(r, key), digits)
                text = f"{v:.{digits}f}"
                cells.append(f"**{text}**" if best[key] is not None and v == best[key] else text)
            gap = selection_gap(r)
            sel = (r.tuning or {}).get("best_avg_f")
            cells.append("–" if sel is None else f"{float(sel):.{digits}f}")
            cells.append("–" if gap is None else f"{gap:+.{digits}f}")
            cells.append(_time_cell(r))
            cells.append(f"{int(r.metrics['n_clusters']):,}")
        else:
            notes.append(f"{r.display_name} {r.status}: {r.reason or 'no reason given'}")
            cells[0] = f"{r.display_name} [{len(notes)}]"
            cells.extend(["–"] * len(headers))
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines) + "\n"
    if notes:
        out += "\n" + "\n".join(f"[{i}] {n}" for i, n in enumerate(notes, 1)) + "\n"
    return out


def params_table(setting: SettingResult) -> str:
    """The parameters each method ran with and its best validation avg F."""
    lines = [
        "| Method | Parameters (chosen before test) | Selection avg F | Trials |",
        "|---|---|---:|---:|",
    ]
    for r in setting.methods:
        tuning = r.tuning or {}
        # val_params: what validation chose, when a test set runs with adjusted values
        chosen = tuning.get("val_params") or r.params
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(chosen.items())) or "defaults"
        changed = {k: v for k, v in r.params.items() if chosen.get(k) != v}
        if changed:
            params += " (on this test set: " + ", ".join(
                f"{k}={_short(v)}" for k, v in sorted(changed.items())) + ")"
        val = tuning.get("best_avg_f")
        n = tuning.get("n_trials")
        lines.append(
            f"| {r.display_name} | {params} | {'–' if val is None else f'{val:.3f}'} "
            f"| {'–' if n is None else n} |"
        )
    return "\n".join(lines) + "\n"


def level_table(setting: SettingResult, digits: int = 3) -> str:
    """Per-level test scores of the hierarchical model, finest level first."""
    curve = setting.level_curve
    if curve is None or not curve.levels:
        return ""
    lines = ["| Level | F_P | F_B | NMI | Clusters |", "|---:|---:|---:|---:|---:|"]
    for lv in curve.levels:
        mark = ""
        if curve.early_stop_level == lv["level"]:
            mark += " (early stop)"
        if curve.converged_level == lv["level"]:
            mark += " (converged)"
        lines.append(
            f"| {lv['level']}{mark} | {lv['pairwise_f']:.{digits}f} | {lv['bcubed_f']:.{digits}f}"
            f" | {lv['nmi']:.{digits}f} | {int(lv['n_clusters']):,} |"
        )
    return "\n".join(lines) + "\n"


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
