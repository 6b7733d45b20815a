"""Which faiss index builds the level-1 k-NN graph: seconds beside recall@10, per size.

For each N (synthetic 256-D points of the scale benchmark) every candidate builds the whole
k=10 graph; recall@10 is measured against an exact search of a 2,000-point sample. Candidates:
hilander's list-by-list IVF self-join at a few (lists, probes) settings, in float32 and float16
storage, faiss's own IndexIVFFlat searched point by point, and HNSW. `knn_method="auto"` uses
exact search up to 30k points and the self-join with its default settings above.

    python benchmarks/knn_index.py                      # 100k and 1M
    python benchmarks/knn_index.py --sizes 100000 --skip-slow
    python benchmarks/knn_index.py --data X10M.npy --auto-only   # points written earlier
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_points  # noqa: E402

from hilander._validation import l2_normalize  # noqa: E402
from hilander.graph import drop_self, make_index  # noqa: E402
from hilander.graph.ivf import default_nlist, default_nprobe, ivf_self_knn  # noqa: E402

K = 10


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, truth)]))


def faiss_search(X: np.ndarray, method: str, nprobe: int) -> np.ndarray:
    index = make_index(X, method, nprobe=nprobe, hnsw_m=32, seed=0)
    ids = np.empty((len(X), K), dtype=np.int64)
    for s in range(0, len(X), 16384):
        e = min(s + 16384, len(X))
        sims, found = index.search(X[s:e], K + 1)
        ids[s:e] = drop_self(found, sims, np.arange(s, e), K)[0]
    return ids


def build(X: np.ndarray, spec: tuple) -> np.ndarray:
    if spec[0] == "self-join":
        _, nlist, nprobe, fp16 = spec
        found = ivf_self_knn(X, K, nlist=nlist, nprobe=nprobe, fp16=fp16)
        return drop_self(*found, np.arange(len(X)), K)[0]
    return faiss_search(X, spec[0], spec[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--skip-slow", action="store_true",
                    help="leave out faiss's point-by-point IVF and HNSW (minutes at 1M)")
    ap.add_argument("--data", nargs="+", help="existing .npy files of points (memory-mapped) "
                    "instead of generating --sizes")
    ap.add_argument("--auto-only", action="store_true",
                    help="only the default self-join (what knn_method='auto' runs)")
    args = ap.parse_args()
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")
    for source in args.data or args.sizes:
        if args.data:
            X = l2_normalize(np.load(source, mmap_mode="r"), copy=False)
        else:
            X, _ = make_points(source, seed=1)
            X /= np.linalg.norm(X, axis=1, keepdims=True)
        n = len(X)
        sample = np.random.default_rng(0).choice(n, 2000, replace=False)
        t0 = time.perf_counter()
        # brute force straight off the (possibly memory-mapped) rows: no index copy
        sims, found = faiss.knn(np.ascontiguousarray(X[sample]), X, K + 1,
                                metric=faiss.METRIC_INNER_PRODUCT)
        truth = drop_self(found, sims, sample, K)[0]
        exact_est = (time.perf_counter() - t0) * n / len(sample)
        nl = default_nlist(n)
        auto = (nl, default_nprobe(n, nl), False)
        runs: list[tuple[str, tuple]] = []
        for nlist, nprobe, fp16 in (auto, (nl, auto[1], True), (nl, max(4, auto[1] // 2), False),
                                    (nl, 2 * auto[1], False),
                                    (2 * nl, default_nprobe(n, 2 * nl), False)):
            tag = (", fp16" if fp16 else "") + ("  (auto)" if (nlist, nprobe, fp16) == auto else "")
            runs.append((f"ivf self-join {nlist} lists, {nprobe} probes{tag}",
                         ("self-join", nlist, nprobe, fp16)))
        if args.auto_only:
            runs = runs[:1]
        elif not args.skip_slow:
            runs.append(("faiss IndexIVFFlat.search, 16 probes", ("ivf", 16)))
            runs.append(("faiss HNSW32 (efSearch 64)", ("hnsw", 64)))
        print(f"\nN = {n:,} (exact search, estimated from the sample: {exact_est:,.0f} s)")
        print(f"{'index':56} {'seconds':>8} {'recall@10':>10}")
        for name, spec in runs:
            t0 = time.perf_counter()
            ids = build(X, spec)
            seconds = time.perf_counter() - t0
            print(f"{name:56} {seconds:>8.1f} {recall(ids[sample], truth):>10.3f}", flush=True)


if __name__ == "__main__":
    main()
