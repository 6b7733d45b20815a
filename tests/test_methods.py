"""Every unsupervised baseline, through the registry, on data with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from hilander import methods
from hilander._validation import InputError, l2_normalize
from hilander.graph import build_knn_graph
from hilander.methods._baseline import max_points_for_pairwise
from hilander.methods.graph_based import (
    heavy_edge_matching,
    kernel_kmeans_refine,
    normalized_cut,
    rank_order_distances,
)
from hilander.methods.hac import connect_components
from hilander.methods.mixtures import log_bessel_iv
from hilander.methods.tree_deduction import tree_deduction
from hilander.metrics import avg_f, evaluate


def blobs(n_classes=8, per=25, d=16, noise=0.05, seed=0):
    """Well-separated directions with random norms (0.5-2x): cosine structure is the answer."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_classes, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_classes), per)
    X = c[y] + noise * rng.standard_normal((len(y), d))
    X *= rng.uniform(0.5, 2.0, size=(len(y), 1))
    return X.astype(np.float32), y


# parameters suited to the blobs above (8 classes of 25); every registered method is listed
BLOB_PARAMS = {
    "kmeans": dict(n_clusters=8),
    "kmeans_random": dict(n_clusters=8, n_init=5),
    "minibatch_kmeans": dict(n_clusters=8, batch_size=64, n_init=3),
    "spherical_kmeans": dict(n_clusters=8),
    "spherical_kmeans_random": dict(n_clusters=8, n_init=5),
    "dp_means": dict(lam=0.4),
    "dp_vmf_means": dict(lam=-0.2),
    "gmm": dict(n_clusters=8),
    "vmf_mixture": dict(n_clusters=8),
    "hac": dict(n_clusters=8),
    "dbscan": dict(eps=0.4, min_samples=3),
    "hdbscan": dict(min_cluster_size=5),
    "meanshift": dict(bandwidth=0.5, bin_seeding=False),
    "spectral": dict(n_clusters=8, n_neighbors=10),
    "aro": dict(n_neighbors=10, threshold=1.5),
    "cdp": dict(threshold=0.7),
    "finch": dict(n_clusters=8),
    "graclus": dict(n_clusters=8),
    "tree_deduction": dict(threshold=0.7),
    "tree_deduction_l2": dict(n_neighbors=20, threshold=0.7),
    "infomap": dict(n_neighbors=10, min_similarity=0.5),
    "leiden": dict(n_neighbors=10, resolution=2.0),
    "chinese_whispers": dict(n_neighbors=10, min_similarity=0.5),
}


@pytest.fixture(scope="module")
def data():
    return blobs()


def test_every_registered_method_has_blob_params():
    assert sorted(BLOB_PARAMS) == methods.names("unsupervised")


@pytest.mark.parametrize("name", sorted(BLOB_PARAMS))
def test_method_recovers_blobs(name, data):
    X, y = data
    est = methods.make(name, **BLOB_PARAMS[name])
    assert est.fit(X) is est
    assert est.labels_.shape == (len(y),)
    scores = evaluate(y, est.labels_)
    assert avg_f(scores) >= 0.9, (name, scores)


@pytest.mark.parametrize("name", ["dp_means", "dp_vmf_means"])
@pytest.mark.parametrize("init", ["global_centroid", "random"])
@pytest.mark.parametrize("online", [False, True])
def test_dp_variants_recover_blobs(name, init, online, data):
    X, y = data
    params = {**BLOB_PARAMS[name], "init": init, "online": online}
    assert avg_f(evaluate(y, methods.make(name, **params).fit_predict(X))) >= 0.9


@pytest.mark.parametrize("linkage", ["ward", "complete", "average", "single"])
@pytest.mark.parametrize("n_neighbors", [None, 10])
def test_hac_linkages(linkage, n_neighbors, data):
    X, y = data
    est = methods.make("hac", n_clusters=8, linkage=linkage, n_neighbors=n_neighbors)
    assert avg_f(evaluate(y, est.fit_predict(X))) >= 0.9


def test_hac_distance_threshold_and_cosine(data):
    X, y = data
    # within-class cosine distances are ~0.01, between classes > 0.2
    est = methods.make("hac", n_clusters=None, distance_threshold=0.1, linkage="average",
                       metric="cosine")
    assert evaluate(y, est.fit_predict(X))["n_clusters"] == 8
    with pytest.raises(InputError, match="ward"):
        methods.make("hac", linkage="ward", metric="cosine")


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_gmm_covariances(covariance, data):
    X, y = data
    est = methods.make("gmm", n_clusters=8, covariance=covariance)
    assert avg_f(evaluate(y, est.fit_predict(X))) >= 0.9


@pytest.mark.parametrize("posterior", ["soft", "hard"])
@pytest.mark.parametrize("init", ["k-means++", "random", "random_class", "random_orthonormal"])
def test_vmf_mixture_variants(posterior, init, data):
    X, y = data
    est = methods.make("vmf_mixture", n_clusters=8, posterior=posterior, init=init)
    labels = est.fit_predict(X)
    # random seedings may land two means in one class; most of the structure must be found
    assert avg_f(evaluate(y, labels)) >= (0.9 if init == "k-means++" else 0.6)
    assert np.all(est.kappa_ > 0)


def test_l2_normalize_option_matters():
    # two directions, each with a short and a long group: only the direction is the class
    rng = np.random.default_rng(1)
    dirs = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.repeat([0, 0, 1, 1], 30)
    scale = np.repeat([1.0, 10.0, 1.0, 10.0], 30)[:, None]
    X = (dirs[y] + 0.05 * rng.standard_normal((120, 2))) * scale
    on = methods.make("kmeans", n_clusters=2).fit_predict(X)
    off = methods.make("kmeans", n_clusters=2, l2_normalize=False).fit_predict(X)
    assert evaluate(y, on)["ari"] == pytest.approx(1.0)
    assert evaluate(y, off)["ari"] < 0.5


def test_graph_is_reused_and_checked(data):
    X, y = data
    g = build_knn_graph(l2_normalize(X), 20)
    for name in ["hac", "aro", "cdp", "spectral", "graclus", "tree_deduction", "finch"]:
        est = methods.make(name, **BLOB_PARAMS[name])
        assert est.fit(X, graph=g).labels_.tolist() == est.fit(X).labels_.tolist(), name
    with pytest.raises(InputError, match="k=5"):
        methods.make("aro", n_neighbors=10).fit(X, graph=g.restrict(5))
    with pytest.raises(InputError, match="nodes"):
        methods.make("cdp").fit(X[:50], graph=g)
    with pytest.raises(InputError, match="KNNGraph"):
        methods.make("cdp").fit(X, graph="not a graph")


def test_registry_errors_list_choices():
    with pytest.raises(InputError, match="hac"):
        methods.make("no_such_method")
    with pytest.raises(InputError, match="linkage"):
        methods.make("hac", linkage_type="ward")
    with pytest.raises(InputError, match="linkage") as err:
        methods.make("hac", linkage="centroid")
    assert all(f"'{c}'" in str(err.value) for c in ("ward", "complete", "average", "single"))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="n_clusters"):
        methods.make("kmeans", n_clusters=0)
    with pytest.raises(InputError, match="lam"):
        methods.make("dp_vmf_means", lam=0.5)  # must lie in (-2, 0)
    with pytest.raises(InputError, match="exceeds"):
        methods.make("kmeans", n_clusters=50).fit(np.eye(10, dtype=np.float32))


def test_available_lists_every_method_with_defaults():
    info = methods.available()
    assert sorted(info) == methods.names()
    # one registry: every method the guide lists (docs/choosing.rst) can be made by name
    assert {"hilander", "lander", "auto", "gcn_v", "gcn_e", "gcn_ve", "lgcn", "star_fc"} <= \
        set(info)
    assert {e["kind"] for e in info.values()} == {"unsupervised", "supervised", "hilander",
                                                   "auto"}
    for name, entry in info.items():
        assert entry["description"]
        assert set(entry["grid"]) <= set(entry["params"]), name
        if entry["kind"] != "unsupervised":
            continue
        assert entry["params"]["l2_normalize"] is True, name
        assert set(entry["grid"]) <= set(entry["params"]), name
    assert info["kmeans_random"]["params"]["init"] == "random"
    assert info["hac"]["params"]["linkage"] == "ward"
    assert info["lander"]["params"]["max_levels"] == 1
    for name in info:
        assert type(methods.make(name)) is methods.get_spec(name).cls


def test_bad_input_is_input_error():
    with pytest.raises(InputError, match="NaN"):
        methods.make("kmeans").fit(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(InputError, match="2-D"):
        methods.make("kmeans").fit(np.ones(5))


def test_quadratic_memory_methods_refuse_large_inputs():
    n = max_points_for_pairwise(8) + 1
    X = np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32)
    with pytest.raises(InputError, match=r"O\(n\^2\).*limit \d+ points"):
        methods.make("hac", linkage="average", n_neighbors=None).fit(X)
    with pytest.raises(InputError, match="limit"):
        methods.make("hdbscan", metric="cosine").fit(X)
    with pytest.raises(InputError, match="n_neighbors"):
        methods.make("dbscan", eps=0.1).fit(X)
    with pytest.raises(InputError, match="GiB"):
        methods.make("vmf_mixture", n_clusters=n // 2).fit(X)


def test_noise_points_are_minus_one():
    X, y = blobs(n_classes=3, per=20)
    far = np.eye(16, dtype=np.float32)[10:13] * 5  # three isolated directions
    labels = methods.make("dbscan", eps=0.4, min_samples=3).fit_predict(np.vstack([X, far]))
    assert (labels[-3:] == -1).all()
    assert (labels[:-3] >= 0).all()


def test_meanshift_matches_scikit_learn():
    from sklearn.cluster import MeanShift

    X, _ = blobs(n_classes=4, per=10, d=4)  # scikit-learn's per-seed loop is slow: small
    Xn = l2_normalize(X)
    ours = methods.make("meanshift", bandwidth=0.5, min_bin_freq=1).fit_predict(X)
    ref = MeanShift(bandwidth=0.5, bin_seeding=True).fit_predict(Xn)
    assert np.unique(ours).size >= 2  # a non-trivial partition to agree on
    assert evaluate(ref, ours)["ari"] == pytest.approx(1.0)


# ---- hand-computed pieces --------------------------------------------------------------


def test_rank_order_distance_by_hand():
    # lists (self first): 0:[0,1,2]  1:[1,0,3]  2:[2,3,0]  3:[3,2,1]
    indices = np.array([[1, 2], [0, 3], [3, 0], [2, 1]])
    D = rank_order_distances(indices)
    # pair (0,1): O_0(1)=1, d(0,1)=#{0,1} not in list(1)=0; O_1(0)=1, d(1,0)=#{1,0} not in
    # list(0)=0 -> D=0
    assert D[0, 0] == 0
    # pair (0,2): O_0(2)=2, d(0,2)=#{0,1,2} not in [2,3,0] = 1 (point 1);
    # O_2(0)=2, d(2,0)=#{2,3,0} not in [0,1,2] = 1 (point 3) -> D=(1+1)/2=1
    assert D[0, 1] == pytest.approx(1.0)
    # pair (1,3): O_1(3)=2, d(1,3)=#{1,0,3} not in [3,2,1] = 1; O_3(1)=2,
    # d(3,1)=#{3,2,1} not in [1,0,3] = 1 -> 1
    assert D[1, 1] == pytest.approx(1.0)


def test_aro_threshold_controls_merging():
    X, y = blobs(n_classes=4, per=15)
    strict = methods.make("aro", n_neighbors=10, threshold=0.0).fit_predict(X)
    assert np.unique(strict).size == len(y)  # nothing has D < 0
    # 20 neighbours reach beyond each class of 15: a huge threshold merges across classes
    loose = methods.make("aro", n_neighbors=20, threshold=100.0).fit_predict(X)
    assert np.unique(loose).size == 1


def test_tree_deduction_by_hand():
    # chain 0-1-2 and 3-4; confidence peaks at 1 and 4
    indices = np.array([[1, 2], [0, 2], [1, 0], [4, 2], [3, 2]])
    sims = np.array([[0.9, 0.5], [0.9, 0.8], [0.8, 0.5], [0.9, 0.1], [0.9, 0.1]])
    conf = np.array([0.1, 0.9, 0.2, 0.3, 0.8])
    labels = tree_deduction(indices, sims, conf, threshold=0.6)
    assert labels.tolist() == [0, 0, 0, 1, 1]
    # raising the threshold above 0.85 cuts the 2->1 link (0.8)
    labels = tree_deduction(indices, sims, conf, threshold=0.85)
    assert labels.tolist() == [0, 0, 1, 2, 2]


def test_tree_deduction_l2_uses_raw_norms():
    # two points per class; the larger-norm one is the root, raw norms survive l2_normalize
    X = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]], dtype=np.float32)
    est = methods.make("tree_deduction_l2", n_neighbors=1, threshold=0.9).fit(X)
    assert est.labels_.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(est.confidence_, np.linalg.norm(X, axis=1), rtol=1e-6)


def test_cdp_splits_oversized_components():
    X, y = blobs(n_classes=2, per=30, noise=0.2)
    labels = methods.make("cdp", n_neighbors=5, threshold=-1.0, max_size=10).fit_predict(X)
    assert np.bincount(labels).max() <= 10
    whole = methods.make("cdp", n_neighbors=5, threshold=-1.0, max_size=1000).fit_predict(X)
    assert np.unique(whole).size <= 2


def test_finch_hierarchy_is_nested(data):
    X, y = data
    est = methods.make("finch", level=0).fit(X)
    counts = est.level_n_clusters_
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == len(counts)
    for fine, coarse in zip(est.levels_[:-1], est.levels_[1:], strict=True):
        # every fine cluster lies inside one coarse cluster
        pairs = np.unique(np.stack([fine, coarse]), axis=1)
        assert np.unique(pairs[0]).size == pairs.shape[1]
    top = methods.make("finch", level=-1).fit(X)
    assert top.labels_.tolist() == est.levels_[-1].tolist()


@pytest.mark.parametrize("online", [False, True])
def test_dp_means_penalty_extremes(data, online):
    X, _ = data
    assert np.unique(methods.make("dp_means", lam=100.0, online=online).fit_predict(X)).size == 1
    # every point opens its own cluster: the passes' preallocated centroid buffers fill up
    assert np.unique(methods.make("dp_means", lam=1e-9, online=online)
                     .fit_predict(X)).size == len(X)
    assert np.unique(methods.make("dp_vmf_means", lam=-1.99).fit_predict(X)).size == 1


def test_log_bessel_matches_scipy_and_asymptotics():
    from scipy.special import iv

    x = np.array([0.5, 2.0, 10.0, 50.0])
    np.testing.assert_allclose(log_bessel_iv(3.0, x), np.log(iv(3.0, x)), rtol=1e-10)
    # where ive underflows the Debye expansion takes over; it must be finite and increasing
    small = log_bessel_iv(500.0, np.array([1.0, 2.0, 4.0]))
    assert np.all(np.isfinite(small)) and np.all(np.diff(small) > 0)
    # I_v(x) ~ (x/2)^v / Gamma(v+1) for x << sqrt(v): compare at v=500, x=1
    from scipy.special import gammaln

    assert small[0] == pytest.approx(500 * np.log(0.5) - gammaln(501), rel=1e-3)


def test_normalized_cut_by_hand():
    # two triangles joined by one edge of weight 1
    A = np.zeros((6, 6))
    for a, b in [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]:
        A[a, b] = A[b, a] = 1.0
    A = sp.csr_matrix(A)
    # each side: degree 7, internal 6 -> cut 1/7 per side
    assert normalized_cut(A, np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(2 / 7)
    # a bad split is repaired by the kernel k-means refinement
    fixed = kernel_kmeans_refine(A, np.array([0, 0, 1, 1, 1, 1]), 10)
    assert normalized_cut(A, fixed) == pytest.approx(2 / 7)
    match = heavy_edge_matching(A, np.random.default_rng(0))
    assert np.bincount(match).max() == 2  # a matching: pairs at most


def test_connect_components_links_everything():
    X, _ = blobs(n_classes=5, per=6)
    g = build_knn_graph(X, 2)
    A = g.to_sparse("binary", symmetric=True)
    assert connected_components(A, directed=False)[0] > 1
    B = connect_components(A, X)
    assert connected_components(B, directed=False)[0] == 1
    assert B.nnz - A.nnz <= 2 * 2 * 5  # only a few edges per component were added


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_single_linkage_mst_equals_scikit_learn(metric):
    from sklearn.cluster import AgglomerativeClustering

    rng = np.random.default_rng(0)
    X = l2_normalize(rng.standard_normal((300, 6)).astype(np.float32))
    g = build_knn_graph(X, 8)
    connectivity = connect_components(g.to_sparse("binary", symmetric=True), X)
    for kw in [dict(n_clusters=20), dict(n_clusters=None, distance_threshold=0.2)]:
        ours = methods.make("hac", linkage="single", metric=metric, n_neighbors=8,
                            **kw).fit(X, graph=g)
        ref = AgglomerativeClustering(linkage="single", metric=metric,
                                      connectivity=connectivity, **kw).fit_predict(X)
        assert evaluate(ref, ours.labels_)["ari"] == pytest.approx(1.0)


def test_hdbscan_dense_path_matches_the_trees():
    """Above 16 dimensions HDBSCAN builds its spanning tree from the dense distance matrix;
    with min_samples=1 (no tied reachabilities) its labels equal the tree-based ones."""
    from sklearn.cluster import HDBSCAN as SkHDBSCAN

    from hilander.methods._baseline import relabel

    X, y = blobs(n_classes=6, per=30, d=40, noise=0.08, seed=3)
    rng = np.random.default_rng(3)
    X = np.concatenate([X, rng.standard_normal((20, 40))])  # scattered points become noise
    est = methods.make("hdbscan", min_cluster_size=5, min_samples=1).fit(X)
    ref = SkHDBSCAN(min_cluster_size=5, min_samples=1, algorithm="kd_tree",
                    copy=True).fit_predict(l2_normalize(X).astype(np.float64))
    assert est.labels_.tolist() == relabel(ref).tolist()
    assert avg_f(evaluate(y, est.labels_[: y.size])) > 0.95
