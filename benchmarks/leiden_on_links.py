"""Leiden on Hi-LANDER's learnt level-1 edges against Leiden on the cosine (validation only).

Meta-trains the default ``HiLander(random_state=SEED)`` on clustering_train, traces level 1 of the
validation split (as it is and long-tail resampled) and partitions that k-NN graph with Leiden
(modularity and CPM) over a resolution grid, weighted by the cosine or by p_ij. The best
resolution is read off the validation labels, so every figure is printed as ORACLE: it says
what a held-out selection could reach at most, not a result. Findings:
benchmarks/results/ablation/leiden_decoding.md.

    python benchmarks/leiden_on_links.py --emb EMB --dataset clinc150
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

GRIDS = {"modularity": (0.1, 0.3, 1, 2, 5, 10, 20, 50),
         "cpm": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}


def main() -> None:
    from hilander import HiLander
    from hilander._validation import l2_normalize
    from hilander.datasets import long_tail_subsample
    from hilander.graph.partition import leiden_partition
    from hilander.lander import run_hierarchy
    from hilander.metrics import avg_f, evaluate

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--emb", type=Path, required=True)
    ap.add_argument("--dataset", default="clinc150")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    train = np.load(args.emb / args.dataset / "clustering_train.npz")
    val = np.load(args.emb / args.dataset / "validation.npz")
    m = HiLander(random_state=args.seed).fit(train["features"], train["labels"])
    for setting in ("natural", "longtail"):
        X, y = val["features"], val["labels"]
        if setting == "longtail":
            keep = long_tail_subsample(y, seed=args.seed)
            X, y = X[keep], y[keep]
        traces = []
        # the hook diagnose() uses: level 1's graph and p_ij
        run_hierarchy(m.model_, l2_normalize(np.asarray(X, np.float32)),
                      m.settings_.replace(max_levels=1, decoding="peak"),
                      observer=traces.append)
        t = traces[0]
        ok = t.nbr >= 0
        src = np.broadcast_to(np.arange(t.nbr.shape[0])[:, None], t.nbr.shape)[ok]
        s = evaluate(y, m.predict(X))
        print(f"{args.dataset} {setting}: Hi-LANDER avg F {avg_f(s):.3f} "
              f"({s['n_clusters']} clusters / {s['n_classes']})")
        for objective, grid in GRIDS.items():
            for name, w in (("cosine", t.sim), ("p_ij", t.p)):
                rows = []
                for r in grid:
                    lab = leiden_partition(t.nbr.shape[0], src, t.nbr[ok],
                                           np.clip(w[ok], 1e-6, None), resolution=r,
                                           objective=objective, seed=args.seed)
                    rows.append((avg_f(evaluate(y, lab)), r))
                best, at = max(rows)
                curve = " ".join(f"{r}:{f:.3f}" for f, r in rows)
                print(f"  Leiden {objective} on {name}: ORACLE best {best:.3f} at {at}  "
                      f"[{curve}]")


if __name__ == "__main__":
    main()
