"""What ``AutoCluster.fit`` costs with its default candidates (issue 20 target: <= 10 min on
about 10k labeled points, 2 cores).

Fits ``AutoCluster()`` on every labeled identity of a dataset (clustering-train plus
validation, as ``hilander bench`` does) and prints each candidate's seconds, its share of the
total, its avg F, and the winner. Run it alone on the machine: two heavy jobs on 2 cores make
every figure here a measure of the contention.

    python benchmarks/auto_cost.py --emb EMB --datasets omniglot,clinc150 \
        --out benchmarks/results/auto_cost.md
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 600.0
SPLITS = ("clustering_train", "validation", "test")


def run(emb: Path, dataset: str, seed: int) -> dict:
    from hilander import AutoCluster
    from hilander.study.bench import BenchData, labeled_set

    parts = [np.load(emb / dataset / f"{split}.npz") for split in SPLITS]
    data = BenchData(*(a for p in parts for a in (p["features"], p["labels"])), dataset=dataset)
    X, y = labeled_set(data)  # what `hilander bench` fits auto on; test is not used
    t0 = time.perf_counter()
    auto = AutoCluster(random_state=seed).fit(X, y)
    total = time.perf_counter() - t0
    return {"dataset": dataset, "points": int(X.shape[0]), "dim": int(X.shape[1]),
            "identities": int(np.unique(y).size), "seconds": total, "winner": auto.winner_,
            "avg_f": auto.val_avg_f_, "refit": auto.refit_seconds_, "table": auto.table_}


def to_markdown(results: list[dict]) -> str:
    out = ["# `AutoCluster.fit` cost with its default candidates\n",
           f"Every labeled identity of each dataset (clustering-train + validation), "
           f"`AutoCluster()` defaults, {os.cpu_count()} cores, nothing else running. Target: "
           f"<= {TARGET_SECONDS:.0f} s on about 10k points. Regenerate: `python "
           "benchmarks/auto_cost.py --emb EMB --out benchmarks/results/auto_cost.md`.\n",
           "| dataset | points (dim) | identities | total s | target met | winner | "
           "selection avg F | slowest three candidates (s) |",
           "|---|---:|---:|---:|---|---|---:|---|"]
    for r in results:
        ran = sorted((row for row in r["table"] if row["seconds"] is not None),
                     key=lambda row: -row["seconds"])
        slow = ", ".join(f"{row['method']} {row['seconds']:.0f}" for row in ran[:3])
        out.append(f"| {r['dataset']} | {r['points']:,} ({r['dim']}) | {r['identities']} | "
                   f"{r['seconds']:.0f} | {'yes' if r['seconds'] <= TARGET_SECONDS else 'no'} | "
                   f"{r['winner']} | {r['avg_f']:.3f} | {slow} |")
    for r in results:
        out += [f"\n## {r['dataset']}\n", "| method | status | avg F | seconds | share |",
                "|---|---|---:|---:|---:|"]
        for row in r["table"]:
            sec, score = row["seconds"], row["avg_f"]
            cells = ("" if score is None else f"{score:.3f}",
                     "" if sec is None else f"{sec:.1f}",
                     "" if sec is None else f"{sec / r['seconds']:.0%}")
            out.append(f"| {row['method']} | {row['status']} | {' | '.join(cells)} |")
        if r["refit"]:
            out.append(f"| (re-fit of the learnt winner) | | | {r['refit']:.1f} | |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emb", type=Path, required=True,
                    help="folder of `hilander embed` outputs, one sub-folder per dataset")
    ap.add_argument("--datasets", default="omniglot,clinc150")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    results = []
    for dataset in args.datasets.split(","):
        r = run(args.emb, dataset, args.seed)
        print(f"{dataset}: {r['seconds']:.0f} s on {r['points']} points, winner {r['winner']} "
              f"({r['avg_f']:.3f})", flush=True)
        results.append(r)
    text = to_markdown(results)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
