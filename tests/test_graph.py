import numpy as np
import pytest

from hilander import InputError
from hilander.graph import KNNGraph, build_knn_graph


def _data(n=600, d=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_exact_graph_matches_brute_force():
    X = _data()
    g = build_knn_graph(X, 5)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    np.fill_diagonal(S, -np.inf)
    expect = np.argsort(-S, axis=1)[:, :5]
    assert (g.indices == expect).mean() > 0.999
    np.testing.assert_allclose(g.similarities, np.take_along_axis(S, expect, 1), atol=1e-5)
    assert not (g.indices == np.arange(len(X))[:, None]).any()


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_recall(method):
    X = _data(3000, 16)
    exact = build_knn_graph(X, 10, method="exact")
    approx = build_knn_graph(X, 10, method=method)
    hits = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx.indices, exact.indices)])
    assert hits > 0.85
    assert approx.method == method


def test_auto_switches_to_ivf_above_limit():
    X = _data(500)
    assert build_knn_graph(X, 5, exact_limit=100).method == "ivf"
    assert build_knn_graph(X, 5).method == "exact"


def test_duplicates_never_list_self():
    X = _data(50)
    X[10:20] = X[0]  # 11 identical rows
    g = build_knn_graph(X, 5)
    assert not (g.indices == np.arange(50)[:, None]).any()
    # each copy lists the next copy (a ring: the 11 hang together), then distinct points
    copies = [0, *range(10, 20)]
    assert [g.indices[c, 0] for c in copies] == [*range(10, 20), 0]
    np.testing.assert_allclose(g.similarities[copies, 0], 1.0)
    assert not set(g.indices[0, 1:]) & set(copies)


def test_chunking_gives_the_same_graph():
    X = _data(700)
    a, b = build_knn_graph(X, 7), build_knn_graph(X, 7, chunk_size=64)
    np.testing.assert_array_equal(a.indices, b.indices)


def test_restrict_sparse_and_roundtrip(tmp_path):
    X = _data(100)
    g = build_knn_graph(X, 6)
    g3 = g.restrict(3)
    np.testing.assert_array_equal(g3.indices, g.indices[:, :3])
    A = g.to_sparse(symmetric=True)
    assert (A != A.T).nnz == 0 and A.shape == (100, 100)
    g.save(tmp_path / "g.npz")
    g2 = KNNGraph.load(tmp_path / "g.npz")
    np.testing.assert_array_equal(g2.indices, g.indices)


def test_zero_and_identical_vectors_do_not_crash():
    g = build_knn_graph(np.zeros((20, 4), np.float32), 3)
    # identical rows, zero ones included, are as similar as rows get: one tight group
    assert g.indices.shape == (20, 3) and np.all(g.similarities == 1)
    g = build_knn_graph(np.ones((20, 4), np.float32), 3)
    assert np.allclose(g.similarities, 1.0, atol=1e-5)


def test_bad_inputs():
    with pytest.raises(InputError, match="at least 6"):
        build_knn_graph(_data(5), 5)
    X = _data(30)
    X[3, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        build_knn_graph(X, 5)
    with pytest.raises(InputError, match="method"):
        build_knn_graph(_data(30), 5, method="magic")


def _clustered(n_ids=60, per=40, d=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, d))
    X = np.repeat(centres, per, axis=0) + 0.35 * rng.standard_normal((n_ids * per, d))
    return X.astype(np.float32)


def test_ivf_self_join_recall_on_clustered_points():
    from hilander.graph.ivf import ivf_self_knn

    X = _clustered()
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    exact = build_knn_graph(X, 10, method="exact")
    ivf = build_knn_graph(X, 10, method="ivf")
    hits = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ivf.indices, exact.indices)])
    assert hits > 0.95, hits
    # every similarity is the true cosine of the listed pair, sorted best first
    true = np.einsum("ij,ij->i", np.repeat(Xn, 10, axis=0), Xn[ivf.indices.ravel()])
    np.testing.assert_allclose(ivf.similarities.ravel(), true, atol=1e-5)
    assert (np.diff(ivf.similarities, axis=1) <= 1e-7).all()
    assert not (ivf.indices == np.arange(len(X))[:, None]).any()
    # one list probed by every point is an exact search
    ids, sims = ivf_self_knn(Xn, 10, nlist=1, nprobe=1)
    np.testing.assert_array_equal(np.sort(ids[:, 1:], axis=1), np.sort(exact.indices, axis=1))


def test_ivf_self_join_is_deterministic_and_reads_memory_maps(tmp_path):
    from hilander.graph.ivf import ivf_self_knn

    X = _clustered(seed=1)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    a = ivf_self_knn(X, 8, seed=3)
    b = ivf_self_knn(mm, 8, seed=3, chunk=100)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # float16 storage: the same neighbours up to near-ties, cosines within 1e-3
    h = ivf_self_knn(X, 8, seed=3, fp16=True)
    assert (h[0] == a[0]).mean() > 0.97
    assert np.abs(h[1] - a[1]).max() < 1e-3


def test_ivf_two_level_lists_keep_recall(monkeypatch):
    # many lists are trained by two-level k-means; the graph must stay as good
    from hilander.graph import ivf

    X = _clustered(seed=2)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    exact = build_knn_graph(X, 10, method="exact")
    monkeypatch.setattr(ivf, "TWO_LEVEL_ABOVE", 4)
    ids, _ = ivf.ivf_self_knn(X, 10, nlist=144, nprobe=8)
    hits = np.mean([len(set(a[1:]) & set(b)) / 10 for a, b in zip(ids, exact.indices)])
    assert hits > 0.9, hits


def test_default_lists_stay_short_at_ten_million():
    from hilander.graph.ivf import default_nlist, default_nprobe

    assert default_nlist(1_000_000) == 2000          # 2 sqrt(n) up to a million
    nlist = default_nlist(10_000_000)
    assert 19_000 < nlist < 20_000                   # about 512 points per list above
    assert default_nprobe(10_000_000, nlist) * 10_000_000 / nlist < 4200
