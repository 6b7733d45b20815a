"""Hi-LANDER meta-trained on few labeled identities, against the cosine-graph partitions.

    python benchmarks/few_identities.py --emb /work/emb --counts 16,45 --seeds 0,1,2

Issue 25 asks that Hi-LANDER, meta-trained on as few as 16 identities, stays near the
baselines that read the raw cosine k-NN graph rather than collapsing. On CLINC150's dev split
0 (``benchmarks/discover.py``: 45 labeled intents of 3 non-test domains, 30 unlabeled intents
of 2 others; initial MiniLM embeddings) each seed draws ``count`` of the labeled intents;
Hi-LANDER (defaults) and Infomap / Leiden (tuned with ``tune_method`` on the same intents,
parameters carried to the unlabeled set's size) are fitted on them and score the unlabeled
intents. Printed per row: avg F, clusters / true count, and for Hi-LANDER the level-1 link
AUC of its p_ij and of the raw cosine on the unlabeled set (labels used to measure only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from discover import load, score  # noqa: E402  (the dev split and scoring of discover.py)


def run(args, count: int, seed: int, d: dict) -> dict:
    from hilander import HiLander
    from hilander.lander.diagnose import diagnose
    from hilander.methods import make
    from hilander.tune import carry_params, tune_method

    ids = np.unique(d["y"])
    pick = np.random.default_rng(seed).choice(ids, size=min(count, ids.size), replace=False)
    m = np.isin(d["y"], pick)
    Z, y, Zu, yu = d["Z"][m], d["y"][m], d["Zu"], d["yu"]
    row: dict = {"count": int(pick.size), "seed": seed, "n_labeled": int(m.sum())}
    t0 = time.perf_counter()
    lander = HiLander(random_state=seed, verbose=False).fit(Z, y)
    labels = lander.predict(Zu)
    diag = diagnose(lander, Zu, yu, tau_curve=False)
    lv = diag.levels[0]
    row["hilander"] = {**score(yu, labels), "auc_p": lv.auc_p, "auc_cos": lv.auc_cosine,
                       "selection": (lander.selection_ or {}).get("chosen", {}).get(
                           "held_out_avg_f"),
                       "seconds": time.perf_counter() - t0}
    for name in ("infomap", "leiden"):
        fixed = {"random_state": seed} if "random_state" in make(name).get_params() else None
        res = tune_method(name, Z, y, fixed=fixed)
        params = carry_params(name, res.best_params, Z.shape[0], Zu.shape[0])
        row[name] = {**score(yu, make(name, **params).fit_predict(Zu)),
                     "selection": res.best_score}
    h = row["hilander"]
    print(f"{count} intents, seed {seed}: Hi-LANDER {h['avg_f']:.3f} ({h['n_clusters']} "
          f"clusters for {h['true']}; level-1 AUC p {h['auc_p']:.3f} vs cosine "
          f"{h['auc_cos']:.3f}); infomap {row['infomap']['avg_f']:.3f} "
          f"({row['infomap']['n_clusters']}); leiden {row['leiden']['avg_f']:.3f} "
          f"({row['leiden']['n_clusters']})", file=sys.stderr, flush=True)
    return row


def table(rows: list[dict]) -> str:
    def ms(v):
        v = np.asarray(v, float)
        return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0:.3f}"

    out = ["| labeled intents | seeds | Hi-LANDER avg F | clusters / true | AUC p / cosine "
           "| Infomap | Leiden |", "|---|---|---|---|---|---|---|"]
    for c in sorted({r["count"] for r in rows}):
        rs = [r for r in rows if r["count"] == c]
        h = [r["hilander"] for r in rs]
        out.append(f"| {c} | {len(rs)} | {ms([x['avg_f'] for x in h])} | "
                   f"{ms([x['n_clusters'] / x['true'] for x in h])}x | "
                   f"{np.mean([x['auc_p'] for x in h]):.3f} / "
                   f"{np.mean([x['auc_cos'] for x in h]):.3f} | "
                   f"{ms([r['infomap']['avg_f'] for r in rs])} | "
                   f"{ms([r['leiden']['avg_f'] for r in rs])} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--emb", default="emb", help="folder of `hilander embed` outputs")
    ap.add_argument("--split", type=int, default=0)
    ap.add_argument("--counts", default="16,45")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", required=True, help="JSON lines (appended)")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if not args.table_only:
        d = load("clinc150", args.data_dir, Path(args.emb), "dev", args.split)
        for count in [int(c) for c in args.counts.split(",")]:
            for seed in [int(s) for s in args.seeds.split(",")]:
                row = run(args, count, seed, d)
                with open(out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    print(table([json.loads(x) for x in out.read_text().splitlines() if x.strip()]))


if __name__ == "__main__":
    main()
