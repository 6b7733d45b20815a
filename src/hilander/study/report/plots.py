"""PNG figures of a benchmark run.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas directly,
not through pyplot, so no global backend or figure registry is touched (safe in servers and
threads) and nothing ever opens a window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from ...io import atomic_path
from .results import HierarchySnapshot, LevelCurve, SettingResult

SETTING_COLORS = {"natural": "#1f77b4", "longtail": "#ff7f0e"}
CLASS_COLORS = ("#d62728", "#2ca02c", "#e6b800", "#9467bd", "#8c564b", "#17becf")
DPI = 120


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        # the temporary name ends in .part, so the format must be given
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return path


def plot_avg_f(settings: list[SettingResult], path: str | Path, title: str = "") -> Path:
    """Bars of avg F (harmonic mean of F_P and F_B) per method, like the study's Figure 1.

    Unsupervised and supervised methods get separate panes; each setting is one bar colour.
    A method that was skipped or failed gets a grey hatched stub instead of a bar.
    """
    order: list[tuple[str, str, str]] = []  # (name, display name, kind) in first-seen order
    for s in settings:
        for r in s.methods:
            if r.name not in [o[0] for o in order]:
                order.append((r.name, r.display_name, r.kind))
    groups = [("unsupervised", "Unsupervised"), ("supervised", "Supervised (meta-trained)"),
              ("auto", "auto (chosen on the labeled identities)")]
    groups = [(k, t) for k, t in groups if any(o[2] == k for o in order)]
    if not groups:
        groups = [("unsupervised", "Methods")]
    widths = [max(1, sum(o[2] == k for o in order)) for k, _ in groups]
    fig = Figure(figsize=(1.6 + 0.8 * sum(widths) * max(1, len(settings)) ** 0.5, 4.6),
                 layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, gridspec_kw={"width_ratios": widths},
                        squeeze=False)[0]
    n_set = max(1, len(settings))
    bar_w = 0.8 / n_set
    stub_drawn = False
    for ax, (kind, pane_title) in zip(axes, groups, strict=True):
        names = [o for o in order if o[2] == kind]
        x = np.arange(len(names))
        for j, s in enumerate(settings):
            by_name = {r.name: r for r in s.methods}
            offs = x - 0.4 + bar_w * (j + 0.5)
            for xi, (name, _, _) in zip(offs, names, strict=True):
                r = by_name.get(name)
                if r is None:
                    continue
                if r.ok:
                    v = r.avg_f
                    ax.bar(xi, v, bar_w * 0.95, color=SETTING_COLORS.get(s.setting, f"C{j}"))
                    ax.text(xi, v + 0.01, f"{v:.2f}", ha="center", va="bottom",
                            fontsize=7 if n_set > 1 else 8)
                else:
                    ax.bar(xi, 0.05, bar_w * 0.95, color="#d9d9d9", hatch="///",
                           edgecolor="#7f7f7f")
                    stub_drawn = True
        ax.set_xticks(x)
        ax.set_xticklabels([o[1] for o in names], rotation=35, ha="right")
        ax.set_title(pane_title, fontsize=10)
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("avg F  (harmonic mean of F_P and F_B)")
    # one legend entry per setting, plus the stub if any method could not run
    from matplotlib.patches import Patch

    handles = [Patch(color=SETTING_COLORS.get(s.setting, f"C{j}"), label=f"{s.setting} test")
               for j, s in enumerate(settings)]
    if stub_drawn:
        handles.append(Patch(facecolor="#d9d9d9", hatch="///", edgecolor="#7f7f7f",
                             label="not run (see table)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title or "Clustering accuracy per method (l2-normalised embeddings)")
    return _save(fig, path)


def plot_levels(curve: LevelCurve, path: str | Path, title: str = "",
                n_classes: int | None = None) -> Path:
    """F_P, F_B and NMI per hierarchy level with the cluster count on a log right axis.

    Mirrors the Hi-LANDER paper's Figure 2: dotted vertical lines mark where early stopping
    ends the hierarchy and where merging converges.
    """
    levels = [lv["level"] for lv in curve.levels]
    fig = Figure(figsize=(6.8, 4.2), layout="constrained")
    ax = fig.subplots()
    for key, label, color, marker in (
        ("pairwise_f", "F_P", "#e6b800", "o"),
        ("bcubed_f", "F_B", "#d62728", "s"),
        ("nmi", "NMI", "#1f77b4", "^"),
    ):
        ax.plot(levels, [lv[key] for lv in curve.levels], marker=marker, color=color, label=label)
    ax.set_xlabel("hierarchy level (1 = finest)")
    ax.set_ylabel("test score")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(levels)
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(levels, [lv["n_clusters"] for lv in curve.levels], color="#555555", ls="--",
             marker="x", label="predicted clusters")
    if n_classes:
        ax2.axhline(n_classes, color="#555555", ls=":", lw=1, label=f"true classes ({n_classes})")
    ax2.set_yscale("log")
    # 1-2-5 ticks so a range within one decade still gets labels
    ax2.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax2.yaxis.set_major_formatter(ScalarFormatter())
    ax2.yaxis.set_minor_formatter(NullFormatter())
    ax2.set_ylabel("number of clusters (log scale)")
    marks: dict[int, list[str]] = {}
    for lvl, text in ((curve.early_stop_level, "early stop"), (curve.converged_level, "converged")):
        if lvl is not None:
            marks.setdefault(lvl, []).append(text)
    for lvl, texts in marks.items():
        ax.axvline(lvl, color="#e6b800", ls=":", lw=1.5)
        # above the axes, so the label never hides a data point
        ax.text(lvl, 1.01, " & ".join(texts), transform=ax.get_xaxis_transform(), fontsize=8,
                color="#8a6d00", ha="center", va="bottom")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="outside lower center", ncol=5, fontsize=8)
    ax.set_title(title or f"{curve.method}: accuracy and cluster count per level", pad=14)
    return _save(fig, path)


def plot_hierarchy(snapshot: HierarchySnapshot, path: str | Path, title: str = "") -> Path:
    """One panel per level: that level's input nodes and its peaks coloured by class.

    Like the Hi-LANDER supplementary Figure 1: the blue squares are a level's input nodes (all
    points at level 1, the previous level's peaks above) and the coloured dots its peaks.
    """
    n_levels = len(snapshot.level_peaks)
    ncols = min(n_levels, 4) or 1
    nrows = int(np.ceil(max(n_levels, 1) / ncols))
    fig = Figure(figsize=(3.4 * ncols, 3.4 * nrows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    coords, classes = snapshot.coords, snapshot.classes
    class_ids = list(snapshot.class_sizes.keys())
    color_of = {c: CLASS_COLORS[i % len(CLASS_COLORS)] for i, c in enumerate(class_ids)}
    inputs = np.arange(coords.shape[0])
    for lvl, ax in enumerate(axes):
        if lvl >= n_levels:
            ax.axis("off")
            continue
        peaks = np.asarray(snapshot.level_peaks[lvl], dtype=int)
        ax.scatter(coords[inputs, 0], coords[inputs, 1], marker="s", s=14, c="#9ecae1",
                   edgecolors="#3182bd", linewidths=0.4, label="input nodes")
        for c in class_ids:
            sel = peaks[classes[peaks] == c]
            ax.scatter(coords[sel, 0], coords[sel, 1], s=40, c=color_of[c],
                       edgecolors="black", linewidths=0.5)
        counts = ", ".join(str(int(np.sum(classes[peaks] == c))) for c in class_ids)
        ax.set_title(f"level {lvl + 1}: {inputs.size} inputs → {peaks.size} peaks\n"
                     f"(peaks per class: {counts})", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        inputs = peaks  # a level's peaks are the next level's input nodes
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="s", ls="", color="#9ecae1", markeredgecolor="#3182bd",
                      label="input nodes")]
    handles += [Line2D([], [], marker="o", ls="", color=color_of[c], markeredgecolor="black",
                       label=f"peaks of class {c} ({snapshot.class_sizes[c]} points)")
                for c in class_ids]
    # at most two legend columns per panel, so a one-level picture stays narrow
    fig.legend(handles=handles, loc="outside lower center",
               ncol=min(len(handles), 2 * ncols), fontsize=8)
    fig.suptitle(title or f"{snapshot.method} hierarchy on {len(class_ids)} test classes "
                 f"({snapshot.projection.upper()} of the embeddings)")
    return _save(fig, path)
