"""Hi-LANDER on a local Ray cluster versus one process (a RayBackend vs none).

For each N, clusters N synthetic 256-D points (``make_points`` of benchmarks/scale.py, with a
model trained as there) twice, each in a fresh process: single-process, then with level 1 on
a local Ray cluster of ``--workers`` CPUs. Prints seconds per stage for both, the Ray run's
overhead, whether the labels are identical (else their ARI), the driver's peak RSS, and per
k-NN shard its rows, index bytes, search seconds and the bytes moved to and from it; then the
GNN tasks' figures. ``--json`` writes every figure for the plan in results/ray_plan.md.

    python benchmarks/ray_scale.py                         # 1M points, 2 workers
    python benchmarks/ray_scale.py --sizes 100000 --skip-train
    python benchmarks/ray_scale.py --sizes 30000 --knn-method exact   # identical labels

Note: with the default knn_method "auto", N above 30,000 uses IVF, and each shard trains its
own IVF on its rows; the graph is then a different approximation (every shard is probed), so
the labels are compared by ARI. Exact search gives identical labels.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import _peak_rss_kb, make_points, train  # noqa: E402  (benchmarks/ is not a package)


def child(mode: str, model_path: str, data_path: str, labels_path: str, workers: int,
          shards: int | None, knn_method: str | None) -> None:
    import numpy as np

    from hilander import HiLander

    with np.load(data_path) as z:
        X = z["X"]
    model = HiLander.load(model_path)
    if knn_method:
        model.set_params(knn_method=knn_method)
    ray_start = ray_stop = 0.0
    if mode == "ray":
        import ray

        t0 = time.perf_counter()
        # no worker warm-up: while the k-NN shards live, Ray retires idle workers beyond one
        # per CPU, so the GNN tasks start theirs afresh (importing torch) in any case
        ray.init(num_cpus=workers, include_dashboard=False, logging_level="error")
        ray_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    if mode == "ray":
        from hilander.distributed import RayBackend

        with RayBackend(n_shards=shards) as backend:
            result = model.cluster(X, backend=backend)
    else:
        result = model.cluster(X)
    total = time.perf_counter() - t0
    if mode == "ray":
        t1 = time.perf_counter()
        ray.shutdown()
        ray_stop = time.perf_counter() - t1
    np.save(labels_path, result.labels)
    print(json.dumps({
        "mode": mode, "n": len(X), "total": total, "timings": result.timings,
        "levels": result.n_levels, "level_nodes": result.level_nodes,
        "clusters": result.n_clusters,
        "ray_start": ray_start, "ray_stop": ray_stop, "backend": result.backend_stats,
        "peak_rss_gb": _peak_rss_kb() / 1024**2,
    }, default=float))


def _run(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-3:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(b: float) -> str:
    return f"{b / 1e6:,.1f}"


def report(n: int, local: dict, dist: dict, same: bool, ari: float) -> None:
    lt, rt = local["timings"], dist["timings"]
    print(f"\nN = {n:,}  ({local['levels']} levels, {local['clusters']:,} clusters locally)")
    print(f"{'stage':<18} {'local s':>9} {'ray s':>9} {'overhead':>9}")
    rows = [("level-1 k-NN", lt["level1_knn"], rt["level1_knn"]),
            ("level-1 GNN", lt["level1_gnn"], rt["level1_gnn"]),
            ("upper k-NN", lt["knn"] - lt["level1_knn"], rt["knn"] - rt["level1_knn"]),
            ("upper GNN", lt["gnn"] - lt["level1_gnn"], rt["gnn"] - rt["level1_gnn"]),
            ("decode", lt["decode"], rt["decode"]),
            ("total", local["total"], dist["total"])]
    for name, a, b in rows:
        over = f"{100 * (b / a - 1):+.0f}%" if a > 0 else "-"
        print(f"{name:<18} {a:>9.2f} {b:>9.2f} {over:>9}")
    print(f"Ray start {dist['ray_start']:.1f} s, shutdown {dist['ray_stop']:.1f} s (neither in "
          "total; the Ray stages include starting their worker processes)")
    print(f"labels identical: {same}" + ("" if same else f" (ARI {ari:.4f})"))
    print(f"driver peak RSS: local {local['peak_rss_gb']:.2f} GB, ray {dist['peak_rss_gb']:.2f} GB"
          " (the Ray driver's includes the object-store pages it wrote)")
    knn, gnn = dist["backend"]["knn"], dist["backend"]["gnn"]
    if knn["method"] == "ivf":
        print(f"k-NN (ivf self-join): plan on the driver {knn['plan_seconds']:.2f} s, "
              f"{_mb(knn['bytes_to_shards'])} MB plan to the shards (once), "
              f"{_mb(knn['bytes_to_driver'])} MB of hits back, merge "
              f"{knn['merge_seconds']:.2f} s")
        print(f"{'shard':>6} {'lists':>14} {'probing points':>15} {'search s':>9}")
        for i, s in enumerate(knn["shards"]):
            print(f"{i:>6} {s['lists'][0]:>6}-{s['lists'][1]:<7} {s['points_probing']:>15,} "
                  f"{s['search_seconds']:>9.2f}")
        _print_gnn(gnn)
        return
    print(f"k-NN ({knn['method']}, {knn['threads_per_shard']} faiss threads per shard): "
          f"put {knn['put_seconds']:.2f} s, merge {knn['merge_seconds']:.2f} s, "
          f"{_mb(knn['bytes_to_driver'])} MB to the driver, {knn['ambiguous_rows']} tied rows")
    print(f"{'shard':>6} {'rows':>10} {'index MB':>9} {'build s':>8} {'search s':>9} "
          f"{'MB in':>9} {'MB out':>9}")
    for i, s in enumerate(knn["shards"]):
        print(f"{i:>6} {s['rows']:>10,} {_mb(s['index_bytes']):>9} {s['build_seconds']:>8.2f} "
              f"{s['search_seconds']:>9.2f} {_mb(s['bytes_in']):>9} {_mb(s['bytes_out']):>9}")
    _print_gnn(gnn)


def _print_gnn(gnn: dict) -> None:
    print(f"GNN: put {gnn['put_seconds']:.2f} s, encoder {sum(gnn['layer_seconds']):.2f} s "
          f"({gnn['encoder_tasks']} tasks), featurizer {gnn['featurizer_seconds']:.2f} s, "
          f"edges {gnn['edge_seconds']:.2f} s ({gnn['edge_tasks']} tasks); "
          f"{_mb(gnn['bytes_to_store'])} MB into the object store, "
          f"{_mb(gnn['bytes_to_driver'])} MB back to the driver")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster")
    ap.add_argument("--shards", type=int, default=None, help="k-NN shards (None: workers)")
    ap.add_argument("--knn-method", choices=["auto", "exact", "ivf", "hnsw"], default=None,
                    help="override the model's knn_method for both runs")
    ap.add_argument("--train-size", type=int, default=50_000)
    ap.add_argument("--skip-train", action="store_true", help="train on 5k points only")
    ap.add_argument("--model", help="use this saved model instead of training one")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--child", nargs=7, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, model, data, labels, workers, shards, method = args.child
        child(mode, model, data, labels, int(workers),
              None if shards == "-" else int(shards), None if method == "-" else method)
        return
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else Path(tmp) / "model.hlm"
        if not args.model:
            train(5_000 if args.skip_train else args.train_size, model)
        for n in args.sizes:
            data = Path(tmp) / f"points_{n}.npz"
            X, _ = make_points(n, seed=1)
            np.savez(data, X=X)
            del X
            common = [str(model), str(data)]
            tail = [str(args.workers), str(args.shards or "-"), args.knn_method or "-"]
            local = _run(["local", *common, str(Path(tmp) / "local.npy"), *tail])
            dist = _run(["ray", *common, str(Path(tmp) / "ray.npy"), *tail])
            a, b = np.load(Path(tmp) / "local.npy"), np.load(Path(tmp) / "ray.npy")
            same = bool(np.array_equal(a, b))
            ari = 1.0 if same else float(adjusted_rand_score(a, b))
            report(n, local, dist, same, ari)
            records.append({"n": n, "local": local, "ray": dist, "identical": same, "ari": ari})
            data.unlink()
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1, default=float))


if __name__ == "__main__":
    main()
