"""The Ray backend (``cluster(X, backend=RayBackend(...))``, `hilander cluster --ray`): level 1
sharded over a local
2-CPU Ray cluster gives the single-process k-NN graph, GNN scores and labels, bit for bit."""

import sys

import faiss
import numpy as np
import pytest
import ray
import torch

from hilander import HiLander, InputError
from hilander._validation import l2_normalize
from hilander.cli import main
from hilander.distributed import RayBackend, require_ray, shard_bounds
from hilander.distributed.shards import faiss_tie_selection
from hilander.graph import build_knn_graph
from hilander.graph.knn import _search, knn_method_for, search_distinct
from hilander.lander import LanderNet
from hilander.training import deterministic


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with 2 worker CPUs, shared by the module's tests."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="error")
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def points(open_set):
    """About 3,000 points: enough for two k-NN shards (shards start on 1,024-row blocks)."""
    return l2_normalize(np.concatenate([open_set.X_test, open_set.X_train]))


def _ray_cluster(model: HiLander, X: np.ndarray, **backend_args):
    with RayBackend(**backend_args) as backend:
        return model.cluster(X, backend=backend)


def test_a_run_starts_and_stops_its_own_ray(trained, open_set):
    # first in the module, before the shared instance exists
    if ray.is_initialized():
        pytest.skip("a Ray session is already open in this process")
    X = open_set.X_test
    result = _ray_cluster(trained, X, address="local")
    assert not ray.is_initialized()  # the instance it started is shut down
    assert result.backend_stats["started_ray"]
    np.testing.assert_array_equal(result.labels, trained.predict(X))


def test_shard_bounds_cover_the_rows_on_block_boundaries():
    assert shard_bounds(5000, 3, 1024) == [(0, 2048), (2048, 3072), (3072, 5000)]
    assert shard_bounds(5000, 1, 1024) == [(0, 5000)]
    assert shard_bounds(900, 4, 1024) == [(0, 900)]  # too few rows for a second shard
    for n, s in [(10_000, 7), (3000, 2), (1025, 2)]:
        bounds = shard_bounds(n, s, 1024)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a % 1024 == 0 and a < b for a, b in bounds)
        assert all(b == a2 for (_, b), (a2, _) in zip(bounds, bounds[1:]))


def test_tie_rule_is_faiss_own():
    """Which of several equally similar rows faiss keeps depends on the order it scans them;
    faiss_tie_selection reproduces it from all rows at least as similar as the K-th."""
    rng = np.random.default_rng(0)
    for trial in range(20):
        base = l2_normalize(rng.normal(size=(6, 8)).astype(np.float32))
        X = base[rng.integers(0, 6, 200)]  # heavy exact duplicates: ties everywhere
        index = faiss.IndexFlatIP(8)
        index.add(X)
        K = int(rng.integers(2, 12))
        q = X[:10]
        top_s, top_i = index.search(q, K)
        all_s, all_i = index.search(q, len(X))  # same sums: single queries, same path
        for r in range(len(q)):
            keep = all_s[r] >= top_s[r, K - 1]
            ids, sims = faiss_tie_selection(all_i[r][keep], all_s[r][keep], K)
            np.testing.assert_array_equal(ids, top_i[r], err_msg=f"trial {trial} row {r}")
            np.testing.assert_array_equal(sims, top_s[r])


def test_method_rule_matches_build_knn_graph():
    # the shards choose their index by the helper; it must agree with build_knn_graph's own
    X = l2_normalize(np.random.default_rng(1).normal(size=(300, 8)).astype(np.float32))
    for limit in (100, 300, 1000):
        g = build_knn_graph(X, 5, normalize=False, method="auto", exact_limit=limit)
        assert g.method == knn_method_for(len(X), "auto", limit)


def test_sharded_exact_knn_is_the_local_graph(ray_cluster):
    rng = np.random.default_rng(0)
    random = rng.normal(size=(5000, 32))
    dups = rng.normal(size=(100, 16))[rng.integers(0, 100, 3000)]  # 30 copies per row > k + 1
    tail = rng.normal(size=(16_385, 16))  # one query row past the last full search chunk
    researched = []
    with RayBackend(n_shards=3) as backend:
        for X in (random, dups, tail):
            X = l2_normalize(X.astype(np.float32))
            # the raw search: build_knn_graph itself searches copies once (next test)
            local = _search(X, 10, **RAW_EXACT)
            sharded = backend.knn(X, 10, "exact")
            stats = backend.stats["knn"]
            assert len(stats["shards"]) == 3 and sum(s["rows"] for s in stats["shards"]) == len(X)
            np.testing.assert_array_equal(sharded.indices, local.indices)
            np.testing.assert_array_equal(sharded.similarities, local.similarities)
            assert sharded.method == local.method == "exact"
            researched.append(stats["researched_chunks"])
    assert researched[0] == 0 and researched[1] > 0  # only hidden duplicates cost a search
    # shards search with this process's faiss thread count (another test module may have
    # lowered it); with several threads, the tail query is searched here, as faiss splits it
    threads = faiss.omp_get_max_threads()
    assert stats["threads_per_shard"] == threads
    assert stats["driver_rows"] == (1 if threads > 1 else 0)
    assert ray.is_initialized()  # the shared instance is reused, not shut down


RAW_EXACT = dict(method="exact", exact_limit=30_000, chunk_size=8192, nlist=None, nprobe=None,
                 hnsw_m=32, seed=0, progress=False)


def _copies():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(100, 16))[rng.integers(0, 100, 3000)]  # 30 copies per row
    return l2_normalize(rows.astype(np.float32))


def test_sharded_search_of_distinct_rows_is_the_local_graph(ray_cluster):
    X = _copies()
    local = build_knn_graph(X, 10, normalize=False, method="exact")
    with RayBackend(n_shards=3) as backend:
        sharded = search_distinct(X, 10, lambda rows, k: backend.knn(rows, k, "exact"))
    np.testing.assert_array_equal(sharded.indices, local.indices)
    np.testing.assert_array_equal(sharded.similarities, local.similarities)


@pytest.mark.xfail(strict=True, reason="RayBackend.knn must search through "
                   "hilander.graph.knn.search_distinct (issue 19, owner of distributed/)")
def test_ray_backend_knn_searches_copies_once(ray_cluster):
    X = _copies()
    local = build_knn_graph(X, 10, normalize=False, method="exact")
    with RayBackend(n_shards=3) as backend:
        np.testing.assert_array_equal(backend.knn(X, 10, "exact").indices, local.indices)


def test_sharded_ivf_self_join_is_the_local_graph(ray_cluster, points):
    # each shard searches a range of the IVF lists; merged, they give the local graph (the
    # same lists and probes) up to the order of exact ties
    X = np.concatenate([points, points[:, ::-1]])   # ~6k distinct unit rows
    local = build_knn_graph(X, 10, normalize=False, method="ivf")
    with RayBackend(n_shards=2) as backend:
        sharded = backend.knn(X, 10, "ivf")
        stats = backend.stats["knn"]
    assert len(stats["shards"]) == 2
    assert sum(s["points_probing"] for s in stats["shards"]) > len(X)  # every probe counted
    assert (sharded.indices == local.indices).mean() > 0.999
    np.testing.assert_allclose(sharded.similarities, local.similarities, atol=1e-6)


def test_sharded_gnn_chunks_give_the_local_scores(ray_cluster, trained, points):
    g = build_knn_graph(points, 10, normalize=False, method="exact")
    torch.manual_seed(0)
    untrained = LanderNet(points.shape[1], 32, num_layers=2).eval()
    with RayBackend(n_shards=2) as backend:
        for model in (trained.model_, untrained):
            with deterministic():
                p, dens = model.predict(torch.from_numpy(points), g.indices, g.similarities,
                                        chunk=700)
            p_ray, dens_ray = backend.predict(model, points, g.indices, g.similarities, 700)
            np.testing.assert_array_equal(p_ray, p)
            np.testing.assert_array_equal(dens_ray, dens)
            assert backend.stats["gnn"]["edge_tasks"] == len(model.edge_chunks(len(points), 10,
                                                                               700))


def test_labels_are_the_local_ones(ray_cluster, trained, points):
    local = trained.cluster(points)
    sharded = _ray_cluster(trained, points, n_shards=2)
    assert local.n_levels >= 2  # upper levels ran too (locally)
    for a, b in zip(local.level_labels, sharded.level_labels, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(local.level_density, sharded.level_density, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(sharded.backend_stats["knn"]["shards"]) == 2
    assert not local.backend_stats


def test_cli_ray_local_writes_the_same_labels(ray_cluster, trained, points, tmp_path, capsys):
    trained.save(tmp_path / "model.hlm")
    np.save(tmp_path / "x.npy", points)
    assert main(["cluster", str(tmp_path / "model.hlm"), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "ray.npy"), "--ray", "local", "--quiet"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "ray.npy"), trained.predict(points))
    capsys.readouterr()
    assert main(["cluster", "--method", "hac", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "m.npy"), "--ray", "local"]) != 0
    assert "--ray needs a Hi-LANDER model" in capsys.readouterr().err
    assert not (tmp_path / "m.npy").exists()


def test_missing_ray_is_one_clear_error(trained, open_set, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(InputError, match=r"needs the ray package: pip install 'hilander\[ray\]'"):
        require_ray()
    with pytest.raises(InputError, match="needs the ray package"):
        _ray_cluster(trained, open_set.X_test)


def test_placement_is_a_runtime_setting(trained, tmp_path):
    # where level 1 runs is passed to cluster, never stored with what was learnt
    assert not {"backend", "ray_address", "n_shards"} & set(trained.get_params())
    with pytest.raises(InputError, match="n_shards"):
        RayBackend(n_shards=0)
    X = np.zeros((20, trained.n_features_in_), np.float32) + 1
    with pytest.raises(InputError, match="inside its `with` block"):
        trained.cluster(X, backend=RayBackend())  # never entered
