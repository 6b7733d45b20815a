"""``hilander demo``: the value-of-hierarchy experiment on synthetic open-set data, in a minute."""

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
                    "meta-training, long-tailed ones for test), meta-trains Hi-LANDER once, "
                    "clusters the unseen test identities with the full hierarchy and with one "
                    "level of the same model (LANDER), and prints a comparison table. About "
                    "a minute on 2 CPU cores.",
    )
    p.add_argument("--train-classes", type=int, default=100)
    p.add_argument("--test-classes", type=int, default=30)
    p.add_argument("--max-test-size", type=int, default=1000,
                   help="largest test identity (long tail from 1 point up; default 1000)")
    p.add_argument("--separation", type=float, default=1.0,
                   help="how discriminative the embeddings are (default 1.0)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, default=64, help="GNN width (default 64)")
    p.add_argument("--refit", action="store_true",
                   help="after choosing p_tau and the decoding on held-out training "
                        "identities, re-train on all of them (the library default; about "
                        "twice the time)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import HiLander
    from ..datasets import make_open_set
    from ..lander import SelectionSettings, TrainingSettings
    from ..metrics import evaluate

    t_start = time.perf_counter()
    data = make_open_set(args.train_classes, args.test_classes, separation=args.separation,
                         max_test_size=args.max_test_size, seed=args.seed)
    r1 = data.recall_at_1()
    sizes = np.bincount(data.y_test - data.y_test.min())
    sizes = sizes[sizes > 0]
    print(f"meta-train: {len(data.y_train)} points, {len(np.unique(data.y_train))} identities "
          f"(Recall@1 {r1['train']:.3f})")
    print(f"test:       {len(data.y_test)} points, {len(sizes)} unseen identities, sizes "
          f"{sizes.min()}..{sizes.max()} (Recall@1 {r1['test']:.3f})")
    print("meta-training Hi-LANDER ...", file=sys.stderr)
    # selection on held-out training identities as in fit's default, without the re-fit so
    # that a first run answers in about a minute
    model = HiLander(training=TrainingSettings(epochs=args.epochs, hidden=args.hidden),
                     selection=SelectionSettings(refit=args.refit), random_state=args.seed,
                     verbose=not args.quiet)
    t0 = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    t_fit = time.perf_counter() - t0
    rows = []
    # one trained model serves both rows: LANDER is the same network stopped after one level
    for name, max_levels in (("LANDER (1 level)", 1), ("Hi-LANDER", None)):
        result = model.cluster(data.X_test, max_levels=max_levels)
        s = evaluate(data.y_test, result.labels)
        rows.append((name, s, model.settings_.tau, result.n_levels, result.timings["total"]))
    print()
    head = (f"{'method':<18}{'Fp':>7}{'Fb':>7}{'NMI':>7}{'clusters':>10}{'p_tau':>7}"
            f"{'levels':>8}{'cluster s':>11}")
    print(head)
    print("-" * len(head))
    for name, s, tau, levels, t_pred in rows:
        print(f"{name:<18}{s['pairwise_f']:>7.3f}{s['bcubed_f']:>7.3f}{s['nmi']:>7.3f}"
              f"{s['n_clusters']:>10d}{tau:>7.2f}{levels:>8d}{t_pred:>11.2f}")
    print(f"{'(true identities)':<18}{'':>21}{rows[0][1]['n_classes']:>10d}")
    decoding = model.settings_.decoding
    print(f"decoding chosen on held-out training identities: {decoding} "
          f"(threshold on {'the cosine' if decoding == 'similarity' else 'p_ij'})")
    print(f"\nmeta-training took {t_fit:.1f}s, the whole demo "
          f"{time.perf_counter() - t_start:.1f}s.")
    print("Next, on your own embeddings: hilander train TRAIN.npy TRAIN_LABELS.txt --out "
          "model.hlm && hilander cluster model.hlm YOURS.npy --out labels.npy")
    return 0
