"""Do tuned settings carry to a larger set of identities? Raw versus carried by size.

A setting tuned on a quarter of the identities of a labeled split is applied to the whole
split (four times the identities and points), once as tuned and once carried by
:func:`hilander.tune.carry_params` (``n_clusters`` as the mean cluster size, a modularity
resolution per point). Nothing here is learnt, so any labeled, non-test split serves: the
Omniglot validation split (161 identities) and CLINC150's clustering-train split (60 intents).
The best setting on the whole split is printed for reference as ORACLE (it is chosen with
those labels).

    python benchmarks/scale_transfer.py --emb /path/emb --out benchmarks/results/scale_transfer.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hilander.methods import make
from hilander.metrics import avg_f, evaluate
from hilander.tune import carry_params, tune_method

SETS = {"omniglot": "validation", "clinc150": "clustering_train"}
METHODS = ("kmeans", "hac", "leiden")


def run(emb: Path, seeds: list[int], share: float, datasets: list[str]) -> list[dict]:
    rows = []
    for dataset in datasets:
        split = SETS[dataset]
        z = np.load(emb / dataset / f"{split}.npz")
        X, y = z["features"], z["labels"]
        ids = np.unique(y)
        for method in METHODS:
            oracle = tune_method(method, X, y, oracle=True)
            for seed in seeds:
                pick = np.random.default_rng(seed).permutation(ids)[: max(2, int(share
                                                                                 * ids.size))]
                small = np.isin(y, pick)
                fixed = {"random_state": seed} if method != "hac" else None
                tuned = tune_method(method, X[small], y[small], fixed=fixed)
                raw = dict(tuned.best_params)
                carried = carry_params(method, raw, int(small.sum()), X.shape[0])
                score = {name: avg_f(evaluate(y, make(method, **params).fit_predict(X)))
                         for name, params in (("raw", raw), ("carried", carried))}
                row = {"dataset": dataset, "split": split, "method": method, "seed": seed,
                       "small_ids": int(pick.size), "all_ids": int(ids.size),
                       "small_points": int(small.sum()), "all_points": int(X.shape[0]),
                       "selection": tuned.best_score, "raw": score["raw"],
                       "carried": score["carried"], "raw_params": raw,
                       "carried_params": carried, "oracle": oracle.best_score,
                       "oracle_params": oracle.best_params}
                rows.append(row)
                print(f"{dataset:9} {method:7} seed {seed}: selection {row['selection']:.3f}  "
                      f"raw {row['raw']:.3f}  carried {row['carried']:.3f}  "
                      f"(ORACLE {row['oracle']:.3f})", flush=True)
    return rows


def to_markdown(rows: list[dict], share: float) -> str:
    out = ["# Tuned settings at four times the identities: raw vs carried by size\n",
           f"Tuned on {share:.0%} of the identities of a labeled split (seeds "
           f"{sorted({r['seed'] for r in rows})}), applied to the whole split. avg F on the "
           "whole split, mean ± spread (min-max) over the seeds; \"selection\" is the score "
           "the tuning saw on the small share. ORACLE: the best setting on the whole split, "
           "chosen with its labels (a reference, not a result). Regenerate: `python "
           "benchmarks/scale_transfer.py --emb EMB --out "
           "benchmarks/results/scale_transfer.md`.\n",
           "| dataset (split) | method | identities small → all | selection | raw | carried "
           "| ORACLE |", "|---|---|---|---:|---:|---:|---:|"]
    for key in dict.fromkeys((r["dataset"], r["method"]) for r in rows):
        part = [r for r in rows if (r["dataset"], r["method"]) == key]

        def cell(name: str, part: list[dict] = part) -> str:
            v = np.array([r[name] for r in part])
            return f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f})"

        r0 = part[0]
        out.append(f"| {r0['dataset']} ({r0['split']}) | {r0['method']} | {r0['small_ids']} → "
                   f"{r0['all_ids']} | {cell('selection')} | {cell('raw')} | "
                   f"{cell('carried')} | {r0['oracle']:.3f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emb", type=Path, required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--share", type=float, default=0.25)
    ap.add_argument("--datasets", default=",".join(SETS))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    unknown = sorted(set(args.datasets.split(",")) - set(SETS))
    if unknown:
        ap.error(f"unknown dataset(s) {unknown}; choose from {sorted(SETS)}")
    rows = run(args.emb, [int(s) for s in args.seeds.split(",")], args.share,
               args.datasets.split(","))
    text = to_markdown(rows, args.share)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
