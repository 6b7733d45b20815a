"""Infomap and Leiden speed on a prebuilt k-NN graph (issue 9 target: < 30 s at 100k, 2 cores).

Draws N synthetic 256-D embeddings of long-tailed identities (``make_open_set``), builds the
cosine k-NN graph once, then times each community method on that graph alone (pruning and
partitioning, no search) and prints seconds, the ratio to the graph's build time and the
test avg F, so speed is not bought with a useless partition.

    python benchmarks/community_speed.py                # 100k points, k = 10
    python benchmarks/community_speed.py --n 20000 --k 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DIM = 256
INTRINSIC = 32


def make_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from hilander.datasets import make_open_set

    X, y = np.empty((0, DIM), np.float32), np.empty(0, np.int64)
    while len(X) < n:  # long-tail draws vary in total size: top up with more identities
        more = make_open_set(2, max(2, (n - len(X)) // 30), dim=DIM, space_seed=0,
                             intrinsic_dim=INTRINSIC, separation=2.0,
                             max_test_size=max(10, min(2000, n // 50)), seed=seed + len(X))
        X = np.concatenate([X, more.X_test])
        y = np.concatenate([y, more.y_test + (y.max() + 1 if len(y) else 0)])
    return X[:n], y[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--min-similarity", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from hilander import methods
    from hilander.graph import build_knn_graph
    from hilander.metrics import avg_f, evaluate

    X, y = make_points(args.n, args.seed)
    print(f"{X.shape[0]} points, {X.shape[1]}-D, {np.unique(y).size} identities")
    t0 = time.perf_counter()
    graph = build_knn_graph(X, args.k)
    build = time.perf_counter() - t0
    print(f"k-NN graph (k={args.k}, {graph.method}): {build:.1f} s")
    print(f"{'method':<18}{'seconds':>9}{'x build':>9}{'clusters':>10}{'avg F':>8}")
    for name, params in [
        ("infomap", {"min_similarity": args.min_similarity}),
        ("leiden", {"min_similarity": args.min_similarity, "resolution": 10.0}),
    ]:
        est = methods.make(name, n_neighbors=args.k, **params)
        t0 = time.perf_counter()
        labels = est.fit_predict(X, graph=graph)
        sec = time.perf_counter() - t0
        score = avg_f(evaluate(y, labels))
        print(f"{name:<18}{sec:>9.1f}{sec / build:>9.2f}{np.unique(labels).size:>10}"
              f"{score:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
