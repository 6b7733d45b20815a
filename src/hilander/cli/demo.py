"""``hilander demo``: the value-of-hierarchy experiment on synthetic open-set data."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ._common import add_seed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="meta-train on synthetic identities, cluster unseen long-tailed ones",
        description="Generates class-disjoint synthetic embeddings (moderate class sizes for "
                    "meta-training, long-tailed ones from 1 to 2000 for test), meta-trains "
                    "Hi-LANDER and one-level LANDER with p_tau picked on held-out training "
                    "classes, clusters the test set and prints a comparison table.",
    )
    p.add_argument("--train-classes", type=int, default=300)
    p.add_argument("--test-classes", type=int, default=60)
    p.add_argument("--separation", type=float, default=1.0,
                   help="how discriminative the embeddings are (default 1.0)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import HiLander
    from ..datasets import make_open_set
    from ..metrics import evaluate

    data = make_open_set(args.train_classes, args.test_classes, separation=args.separation,
                         seed=args.seed)
    r1 = data.recall_at_1()
    sizes = np.bincount(data.y_test - data.y_test.min())
    sizes = sizes[sizes > 0]
    print(f"meta-train: {len(data.y_train)} points, {len(np.unique(data.y_train))} identities "
          f"(Recall@1 {r1['train']:.3f})")
    print(f"test:       {len(data.y_test)} points, {len(sizes)} unseen identities, sizes "
          f"{sizes.min()}..{sizes.max()} (Recall@1 {r1['test']:.3f})")
    rows = []
    for name, max_levels in (("LANDER (1 level)", 1), ("Hi-LANDER", None)):
        print(f"meta-training {name} ...", file=sys.stderr)
        model = HiLander(tau="auto", max_levels=max_levels, epochs=args.epochs,
                         seed=args.seed, progress=not args.quiet)
        t0 = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        t_fit = time.perf_counter() - t0
        result = model.cluster(data.X_test)
        s = evaluate(data.y_test, result.labels)
        rows.append((name, s, model.tau_, result.n_levels, t_fit, result.timings["total"]))
    print()
    head = (f"{'method':<18}{'Fp':>7}{'Fb':>7}{'NMI':>7}{'clusters':>10}{'p_tau':>7}"
            f"{'levels':>8}{'train s':>9}{'cluster s':>11}")
    print(head)
    print("-" * len(head))
    for name, s, tau, levels, t_fit, t_pred in rows:
        print(f"{name:<18}{s['pairwise_f']:>7.3f}{s['bcubed_f']:>7.3f}{s['nmi']:>7.3f}"
              f"{s['n_clusters']:>10d}{tau:>7.2f}{levels:>8d}{t_fit:>9.1f}{t_pred:>11.2f}")
    print(f"{'(true identities)':<18}{'':>21}{rows[0][1]['n_classes']:>10d}")
    return 0
