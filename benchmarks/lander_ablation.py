"""Hi-LANDER ablations on held-out identities: every default backed by a number.

Meta-trains on the clustering-train split of each embedded dataset and measures on the
*validation* split (class-disjoint, never test) as it is and long-tail resampled: link ROC AUC
of p_ij and of the raw cosine at level 1, density correlation, clusters vs true count and
avg F. Same seed for every variant, so differences are the change, not the draw.

    python benchmarks/lander_ablation.py --emb /path/emb --out benchmarks/results/ablation
    (emb/<dataset>/ holds what `hilander embed <dataset> ../shared/data --out emb/<dataset>`
    writes)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hilander.datasets.longtail import long_tail_subsample
from hilander.lander import SelectionSettings, TrainingSettings
from hilander.lander.diagnose import diagnose
from hilander.study.ablation import ExperimentalHiLander

#: every variant also records what one held-out fold alone would have chosen
SELECTION = SelectionSettings(record_one_fold=True)


def _selection(**changes) -> dict:
    return {"selection": SELECTION.replace(**changes)}


def _training(**changes) -> dict:
    return {"training": TrainingSettings(**changes)}


#: name -> parameters changed from HiLander's defaults (the "default" row is the default);
#: the options HiLander left out are ExperimentalHiLander's (hilander.study.ablation)
VARIANTS: dict[str, dict] = {
    "default": {},
    "single 20% hold-out (previous default)": {"holdout": 0.2},
    "fixed p_tau 0.7 peak (the CLI earlier default)": {"decoding": {"tau": 0.7}},
    "cross-fit 5 folds": _selection(cv=5),
    "cross-fit 2 folds": _selection(cv=2),
    "patience 4": _selection(patience=4),
    "co-membership edge features": {"comembership": True},
    "long-tail-aware selection": {"longtail_selection": True},
    "lone points kept (no leftover stage)": {"attach_leftovers": False},
    "paper recipe": {"recipe": "paper"},
    "paper edge input (concat)": {"edge_input": "concat"},
    "symmetric edge input (previous default)": {"edge_input": "symmetric"},
    "class-balanced loss": {"balanced": True},
    "no refit after selection": _selection(refit=False),
    "density-tree GT levels (authors)": {"levels_mode": "density_tree", "train_levels": 3},
    "multi-k training (k 10+5+3)": {"train_ks": (10, 5, 3)},
    "mean aggregation": {"aggregation": "mean"},
    "no feature noise (previous default)": _training(feature_noise=0.0),
    "60 epochs": _training(epochs=60),
    "hold-out patience 8": _selection(patience=8),
    "hold-out patience 16": _selection(patience=16),
    "select k 5/10/20": {"k_grid": (5, 10, 20)},
    "relational calibration": {"calibration": "relational"},
    "select k and aggregation": {"k_grid": (5, 10, 20), "aggregation_grid": ("peak", "mean")},
    "no identity subsets (previous default)": _training(identity_subsets=0),
    "identity subsets (4 halves)": {"subset_mode": "half"},
    "identity subsets (2 long-tailed)": _training(identity_subsets=2),
    "identity subsets (8 long-tailed)": _training(identity_subsets=8),
}


def run(emb: Path, datasets: list[str], variants: list[str], seed: int,
        out: Path | None = None) -> list[dict]:
    rows = []
    for name in datasets:
        tr = np.load(emb / name / "clustering_train.npz")
        va = np.load(emb / name / "validation.npz")
        lt = long_tail_subsample(va["labels"], seed=seed)
        settings = {"natural": (va["features"], va["labels"]),
                    "longtail": (va["features"][lt], va["labels"][lt])}
        for variant in variants:
            t0 = time.perf_counter()
            model = ExperimentalHiLander(random_state=seed,
                                         **{"selection": SELECTION, **VARIANTS[variant]})
            model.fit(tr["features"], tr["labels"])
            fit_s = time.perf_counter() - t0
            views: dict = {}
            for setting, (X, y) in settings.items():
                d = diagnose(model, X, y, tau_curve=False)
                lv1 = d.levels[0]
                row = {
                    "dataset": name, "setting": setting, "variant": variant, "seed": seed,
                    "avg_f": d.scores["avg_f"], "pairwise_f": d.scores["pairwise_f"],
                    "bcubed_f": d.scores["bcubed_f"], "n_clusters": d.scores["n_clusters"],
                    "n_classes": d.scores["n_classes"], "auc_p": lv1.auc_p,
                    "auc_cosine": lv1.auc_cosine, "density_corr": lv1.density_corr,
                    "levels": len(d.levels), "fit_seconds": fit_s,
                    "timings": dict(getattr(model, "timings_", {})),
                    "chosen": (model.selection_ or {}).get("chosen"),
                    "selection_avg_f": ((model.selection_ or {}).get("chosen") or {}).get(
                        "held_out_avg_f"),
                    "one_fold": (model.selection_ or {}).get("one_fold"),
                }
                if row["one_fold"]:
                    # the same network decoded as one held-out fold alone would have chosen
                    row["one_fold_avg_f"] = _score_settings(model, row["one_fold"]["chosen"],
                                                            X, y)
                if variant == "default":
                    # the same networks, the selection restricted to the earlier decodings
                    if "previous" not in views:
                        views["previous"] = _reselect(model, tr, ("similarity", "infomap"))
                    row["previous_decodings"] = views["previous"].chosen()
                    row["previous_decodings_avg_f"] = _score_settings(
                        model, views["previous"].chosen(), X, y)
                rows.append(row)
                sel = row["selection_avg_f"]
                print(f"{name:9} {setting:8} {variant:40} avgF {row['avg_f']:.3f}  "
                      f"AUC p {lv1.auc_p:.3f} vs cos {lv1.auc_cosine:.3f}  "
                      f"rho {lv1.density_corr:.2f}  clusters {row['n_clusters']}/"
                      f"{row['n_classes']}  fit {fit_s:.0f}s  "
                      f"sel {'-' if sel is None else f'{sel:.3f}'}  "
                      f"{model.settings_.decoding}"
                      + (f"  one-fold {row['one_fold_avg_f']:.3f} "
                         f"{row['one_fold']['chosen']['decoding']}" if row["one_fold"]
                         else "")
                      + (f"  previous decodings {row['previous_decodings_avg_f']:.3f} "
                         f"{row['previous_decodings']['decoding']}"
                         if "previous_decodings" in row else ""), flush=True)
            if out is not None:
                write(out, rows, seed)
    return rows


def _reselect(model, tr, decodings: tuple[str, ...]):
    """The cross-fitted selection of ``model``'s own fold networks, over ``decodings``."""
    from hilander._validation import encode_labels, l2_normalize
    from hilander.lander.selection import select_decoding
    from hilander.training import deterministic

    with deterministic():
        return select_decoding(model.crossfit_, l2_normalize(tr["features"]),
                               encode_labels(tr["labels"]), model._given_settings(),
                               tau_grid=model._selection().tau_grid, knn_method=model.knn_method,
                               random_state=model.random_state, decodings=decodings)


def _score_settings(model, chosen: dict, X, y) -> float:
    """avg F of the fitted network on (X, y) decoded with the settings ``chosen``."""
    from hilander._validation import l2_normalize
    from hilander.lander import DecodingSettings, run_hierarchy
    from hilander.metrics import avg_f, evaluate
    from hilander.training import deterministic

    settings = DecodingSettings(**{k: v for k, v in chosen.items() if k != "held_out_avg_f"})
    with deterministic():
        labels = run_hierarchy(model.model_, l2_normalize(X), settings,
                               knn_method=model.knn_method, seed=model.random_state).labels
    return avg_f(evaluate(y, labels))


def write(out: Path, rows: list[dict], seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(rows, indent=1, default=str))
    (out / "ablation.md").write_text(
        "# Hi-LANDER ablations on validation identities (never test)\n\n"
        f"Seed {seed}; meta-trained on clustering_train, measured on the validation split as "
        "it is and long-tail resampled. AUC: level-1 ROC AUC of p_ij and of the raw cosine for "
        "same-identity edges. Regenerate: `python benchmarks/lander_ablation.py --emb EMB "
        "--out benchmarks/results/ablation`.\n\n## Summary\n\n" + summary(rows)
        + "\n## Every row\n\n" + to_markdown(rows))


def summary(rows: list[dict]) -> str:
    """One line per variant: avg F per setting, their sum, and where p_ij beats the cosine."""
    cols = sorted({(r["dataset"], r["setting"]) for r in rows})
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    out = ["| variant | " + " | ".join(f"{d} {s}" for d, s in cols)
           + " | sum | level-1 AUC p_ij > cosine |",
           "|---|" + "---:|" * (len(cols) + 2)]
    for v in variants:
        got = {(r["dataset"], r["setting"]): r for r in rows if r["variant"] == v}
        vals = [got[c]["avg_f"] if c in got else float("nan") for c in cols]
        wins = sum(r["auc_p"] > r["auc_cosine"] for r in got.values())
        out.append(f"| {v} | " + " | ".join(f"{x:.3f}" for x in vals)
                   + f" | {sum(vals):.3f} | {wins} of {len(got)} |")
    return "\n".join(out) + "\n"


def to_markdown(rows: list[dict]) -> str:
    out = ["| dataset | setting | variant | avg F | selection avg F | gap | AUC p_ij | "
           "AUC cosine | density ρ | clusters / true | decoding | fit s |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        sel = r.get("selection_avg_f")
        gap = "–" if sel is None else f"{r['avg_f'] - sel:+.3f}"
        chosen = r.get("chosen") or {}
        out.append(f"| {r['dataset']} | {r['setting']} | {r['variant']} | {r['avg_f']:.3f} | "
                   f"{'–' if sel is None else f'{sel:.3f}'} | {gap} | "
                   f"{r['auc_p']:.3f} | {r['auc_cosine']:.3f} | {r['density_corr']:.2f} | "
                   f"{r['n_clusters']} / {r['n_classes']} | {chosen.get('decoding', '–')} | "
                   f"{r['fit_seconds']:.0f} |")
    return "\n".join(out) + "\n"


def seeds_markdown(runs: dict[int, list[dict]]) -> str:
    """Each variant over several seeds: avg F per setting and the sum, mean ± standard
    deviation, and the mean gap between the selection's score and the held-out avg F."""
    rows = [dict(r, seed=seed) for seed, rs in runs.items() for r in rs]
    cols = sorted({(r["dataset"], r["setting"]) for r in rows})
    out = ["| variant | seeds | " + " | ".join(f"{d} {s}" for d, s in cols)
           + " | sum | mean gap (held-out − selection) | clusters / true |",
           "|---|---:|" + "---:|" * (len(cols) + 3)]
    for v in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == v]
        seeds = sorted({r["seed"] for r in mine})

        def stat(vals: list[float]) -> str:
            a = np.asarray(vals, dtype=float)
            return f"{a.mean():.3f} ± {a.std(ddof=1) if a.size > 1 else 0.0:.3f}"

        cells = [stat([r["avg_f"] for r in mine if (r["dataset"], r["setting"]) == c])
                 for c in cols]
        sums = [sum(r["avg_f"] for r in mine if r["seed"] == s) for s in seeds]
        gaps = [r["avg_f"] - r["selection_avg_f"] for r in mine
                if r.get("selection_avg_f") is not None]
        ratio = [r["n_clusters"] / r["n_classes"] for r in mine]
        out.append(f"| {v} | {len(seeds)} | " + " | ".join(cells) + f" | {stat(sums)} | "
                   + (f"{np.mean(gaps):+.3f}" if gaps else "–")
                   + f" | {min(ratio):.1f}x-{max(ratio):.1f}x |")
    out += ["", "## Per seed", "",
            "| seed | variant | " + " | ".join(f"{d} {s}" for d, s in cols)
            + " | sum | chosen decoding | fit s per dataset |",
            "|---:|---|" + "---:|" * (len(cols) + 1) + "---|---|"]
    for seed, rs in runs.items():
        for v in dict.fromkeys(r["variant"] for r in rs):
            got = {(r["dataset"], r["setting"]): r for r in rs if r["variant"] == v}
            vals = [got[c]["avg_f"] if c in got else float("nan") for c in cols]
            natural = [r for r in got.values() if r["setting"] == "natural"]
            decoding = "/".join(dict.fromkeys((r["chosen"] or {}).get("decoding", "peak (fixed)")
                                              for r in natural))
            fits = " / ".join(f"{r['dataset']} {r['fit_seconds']:.0f}" for r in natural)
            out.append(f"| {seed} | {v} | " + " | ".join(f"{x:.3f}" for x in vals)
                       + f" | {sum(vals):.3f} | {decoding} | {fits} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emb", type=Path, required=True)
    ap.add_argument("--datasets", default="clinc150,omniglot")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seeds-from", default="",
                    help="comma-separated ablation.json files of several seeds (files of one "
                         "seed join): print (and with --out write seeds_crossfit.md) their mean "
                         "± spread instead of running")
    ap.add_argument("--note", default="", help="with --seeds-from: a paragraph appended to "
                    "the table (what was not run, how the timings were taken)")
    args = ap.parse_args()
    if args.seeds_from:
        runs = {}
        for path in args.seeds_from.split(","):
            rows = json.loads(Path(path).read_text())
            # several files may hold one seed (variants run separately): their rows join
            runs.setdefault(int(rows[0].get("seed", len(runs))), []).extend(rows)
        text = ("# Hi-LANDER ablations over seeds, validation identities (never test)\n\n"
                "Mean ± standard deviation over the seeds of `python "
                "benchmarks/lander_ablation.py --seed S`; regenerate with `--seeds-from` "
                "over their ablation.json files.\n\n" + seeds_markdown(runs)
                + (f"\n{args.note}\n" if args.note else ""))
        print(text)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "seeds_crossfit.md").write_text(text)
        return
    run(args.emb, args.datasets.split(","), args.variants.split(","), args.seed, args.out)


if __name__ == "__main__":
    main()
