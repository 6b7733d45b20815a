"""Issue 9's graph methods: Infomap, Leiden, Chinese whispers, Jaccard re-weighting, FINCH's
exact cluster count and the sparse average / complete linkage."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score

from hilander import methods
from hilander._validation import InputError, l2_normalize
from hilander.graph import (
    KNNGraph,
    build_knn_graph,
    chinese_whispers_partition,
    infomap_partition,
    leiden_partition,
    undirected_edges,
)
from hilander.graph.linkage import sparse_linkage
from hilander.methods.graph_based import merge_closest_means
from hilander.methods.hac import connect_components
from hilander.metrics import avg_f, evaluate

NEW = ["infomap", "leiden", "chinese_whispers"]

# two triangles (0-1-2, 3-4-5) joined by one weak edge 2-3
TRI_SRC = [0, 1, 0, 3, 4, 3, 2]
TRI_DST = [1, 2, 2, 4, 5, 5, 3]
TRI_W = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1]


def blobs(n_classes=8, per=25, d=16, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    c = l2_normalize(rng.standard_normal((n_classes, d)))
    y = np.repeat(np.arange(n_classes), per)
    X = c[y] + noise * rng.standard_normal((len(y), d))
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.mark.parametrize("partition", [infomap_partition, leiden_partition,
                                       chinese_whispers_partition])
def test_partitions_split_two_triangles(partition):
    labels = partition(6, TRI_SRC, TRI_DST, TRI_W)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    # an isolated node is a cluster of its own, and a fixed seed repeats itself
    labels = partition(7, TRI_SRC, TRI_DST, TRI_W, seed=3)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert np.array_equal(labels, partition(7, TRI_SRC, TRI_DST, TRI_W, seed=3))


def test_undirected_edges_keep_the_larger_reading_and_drop_loops():
    a, b, w = undirected_edges(4, [0, 1, 2, 3, 3], [1, 0, 2, 0, 1], [0.2, 0.7, 1.0, 0.5, -0.3])
    got = sorted(zip(a.tolist(), b.tolist(), w.tolist()))
    assert got == [(0, 1, 0.7), (0, 3, 0.5)]  # self-loop 2-2 and negative 3-1 dropped
    with pytest.raises(InputError, match="0..3"):
        undirected_edges(4, [0], [4])


def test_chinese_whispers_follows_weight_not_count():
    # node 5 has three weak links (0.2 each) into clique {0,1,2} and one strong link (0.9)
    # into pair {3,4}: weighted propagation puts it with the pair, a vote count would not
    src = [0, 1, 0, 3, 5, 5, 5, 5]
    dst = [1, 2, 2, 4, 0, 1, 2, 3]
    w = [1, 1, 1, 1, 0.2, 0.2, 0.2, 0.9]
    for seed in range(5):
        assert chinese_whispers_partition(6, src, dst, w, seed=seed).tolist() == [
            0, 0, 0, 1, 1, 1]
    # a path 0 =1.0= 1 -0.1- 2 =1.0= 3 splits at the weak edge whatever the visiting order
    for seed in range(5):
        got = chinese_whispers_partition(4, [0, 1, 2], [1, 2, 3], [1, 0.1, 1], seed=seed)
        assert got.tolist() == [0, 0, 1, 1]


def test_leiden_resolution_and_cpm():
    # modularity at a tiny resolution merges the triangles, a large one keeps them apart
    assert np.unique(leiden_partition(6, TRI_SRC, TRI_DST, TRI_W, resolution=0.01)).size == 1
    assert np.unique(leiden_partition(6, TRI_SRC, TRI_DST, TRI_W, resolution=1.0)).size == 2
    # CPM demands an internal density of 0.5: the 0.1 edge cannot join the triangles
    cpm = leiden_partition(6, TRI_SRC, TRI_DST, TRI_W, objective="cpm", resolution=0.5)
    assert cpm.tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("name", NEW)
def test_new_methods_recover_blobs_and_are_deterministic(name, data):
    X, y = data
    labels = methods.make(name, min_similarity=0.5, random_state=1).fit_predict(X)
    assert avg_f(evaluate(y, labels)) >= 0.99
    again = methods.make(name, min_similarity=0.5, random_state=1).fit_predict(X)
    assert np.array_equal(labels, again)


@pytest.mark.parametrize("name", NEW)
def test_pruning_threshold_isolates_every_point(name, data):
    X, y = data
    # within-class cosine is about 0.99; demanding 0.9999 leaves no edge, so all singletons
    labels = methods.make(name, min_similarity=0.9999).fit_predict(X)
    assert np.unique(labels).size == len(y)


def test_outliers_become_noise_or_attach(data):
    X, y = data
    X = np.concatenate([X, X[:1] * 0.9 + 0.2])  # a stray point near class 0
    kw = dict(n_neighbors=10, min_similarity=0.95)
    plain = methods.make("infomap", **kw).fit_predict(X)
    assert np.bincount(plain)[plain[-1]] == 1  # its own module: no edge survives pruning
    noise = methods.make("infomap", min_cluster_size=2, **kw).fit_predict(X)
    assert noise[-1] == -1 and (noise[:-1] >= 0).all()
    attach = methods.make("infomap", min_cluster_size=2, outliers="attach", **kw).fit_predict(X)
    assert attach[-1] == attach[0]  # joined its most similar neighbour's cluster


def test_jaccard_weights_by_hand():
    # N(0)={0,1,2} N(1)={1,0,2} N(2)={2,0,3} N(3)={3,2} (3 has one neighbour, padded)
    idx = np.array([[1, 2], [0, 2], [0, 3], [2, -1]])
    sim = np.array([[0.9, 0.5], [0.9, 0.4], [0.8, 0.5], [0.8, 0.0]], dtype=np.float32)
    g = KNNGraph(idx, sim).jaccard()
    # 0->1: 3/3; 0->2: |{0,2}|/|{0,1,2,3}| = 1/2; 2->3: |{2,3}|/|{0,2,3}| = 2/3
    np.testing.assert_allclose(g.similarities, [[1, 0.5], [1, 0.5], [2 / 3, 0.5], [2 / 3, 0]],
                               rtol=1e-6)
    # node 2's row is re-sorted: neighbour 3 (2/3) now precedes neighbour 0 (1/2)
    assert g.indices.tolist() == [[1, 2], [0, 2], [3, 0], [2, -1]]
    # an even blend: 0 gets (0.8 + 1/2) / 2 = 0.65, 3 gets (0.5 + 2/3) / 2: cosine order holds
    half = KNNGraph(idx, sim).jaccard(0.5)
    assert half.indices[2].tolist() == [0, 3]
    assert half.similarities[2].tolist() == pytest.approx([0.65, (0.5 + 2 / 3) / 2], rel=1e-6)
    with pytest.raises(InputError, match="blend"):
        KNNGraph(idx, sim).jaccard(1.5)


def test_jaccard_parameter_reaches_any_graph_method(data):
    X, y = data
    g = build_knn_graph(l2_normalize(X), 10)
    est = methods.make("cdp", threshold=0.3, jaccard=1.0)
    labels = est.fit_predict(X, graph=g)
    assert avg_f(evaluate(y, labels)) >= 0.99
    # with Jaccard weights the class-internal edges score ~0.5-1, a threshold of 0.99 cuts most
    many = methods.make("cdp", threshold=0.99, jaccard=1.0).fit_predict(X, graph=g)
    few = methods.make("cdp", threshold=0.99, jaccard=0.0).fit_predict(X, graph=g)
    assert np.unique(many).size > np.unique(few).size


@pytest.mark.parametrize("k", [1, 3, 8, 20, 150, 200])
def test_finch_gives_exactly_n_clusters(k, data):
    X, y = data
    est = methods.make("finch", n_clusters=k).fit(X)
    assert np.unique(est.labels_).size == k
    if k == 8:
        assert avg_f(evaluate(y, est.labels_)) == pytest.approx(1.0)


def test_merge_closest_means_matches_brute_force():
    rng = np.random.default_rng(0)
    Z = l2_normalize(rng.standard_normal((40, 5)))

    def brute(labels, k):
        labels = labels.copy()
        while np.unique(labels).size > k:
            ids = np.unique(labels)
            M = l2_normalize(np.stack([Z[labels == i].sum(0) for i in ids]))
            S = M @ M.T
            np.fill_diagonal(S, -np.inf)
            i, j = np.unravel_index(S.argmax(), S.shape)
            labels[labels == ids[j]] = ids[i]
        return labels

    start = np.arange(40) // 2  # pairs as the starting partition
    for k in (1, 4, 13, 19):
        got = merge_closest_means(Z, start, k)
        assert np.unique(got).size == k
        assert adjusted_rand_score(brute(start, k), got) == pytest.approx(1.0)


@pytest.mark.parametrize("linkage", ["average", "complete"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_sparse_linkage_equals_scikit_learn(linkage, metric):
    X, _ = blobs(n_classes=12, per=20, d=8, noise=0.3, seed=4)
    X = l2_normalize(X)
    conn = connect_components(build_knn_graph(X, 8).to_sparse("binary", symmetric=True), X)
    for kw in ({"n_clusters": 15}, {"n_clusters": None, "distance_threshold": 0.4}):
        ours = methods.make("hac", linkage=linkage, metric=metric, n_neighbors=8,
                            **kw).fit_predict(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = AgglomerativeClustering(linkage=linkage, metric=metric, connectivity=conn,
                                         compute_full_tree=True, **kw).fit_predict(X)
        assert adjusted_rand_score(ours, sk) == pytest.approx(1.0)


def test_sparse_linkage_by_hand():
    # path 0-1-2-3 with distances 1, 5, 2: average merges {0,1}, {2,3}, then d({0,1},{2,3})
    # is the only known link, 5 (a neighbour linked to one side keeps its distance)
    args = (4, [0, 1, 2], [1, 2, 3], [1.0, 5.0, 2.0])
    assert sparse_linkage(*args, "average", n_clusters=2).tolist() == [0, 0, 1, 1]
    assert sparse_linkage(*args, "average", n_clusters=3).tolist() == [0, 0, 1, 2]
    assert sparse_linkage(*args, "complete", distance_threshold=5.0).tolist() == [0, 0, 1, 1]
    assert np.unique(sparse_linkage(*args, "complete", n_clusters=1)).size == 1
    # triangle: d(0,2)=4 and d(1,2)=2; after 0+1 merge average gives (4+2)/2, complete 4
    tri = (3, [0, 0, 1], [1, 2, 2], [1.0, 4.0, 2.0])
    assert np.unique(sparse_linkage(*tri, "average", distance_threshold=3.01)).size == 1
    assert np.unique(sparse_linkage(*tri, "complete", distance_threshold=3.01)).size == 2


@pytest.mark.parametrize("name", NEW)
def test_new_methods_bad_input(name):
    with pytest.raises(InputError, match="NaN"):
        methods.make(name).fit(np.array([[0.0, np.nan], [1.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(InputError, match="at least 2"):
        methods.make(name).fit(np.ones((1, 3)))
    with pytest.raises(InputError, match="min_similarity"):
        methods.make(name, min_similarity=1.5)
    with pytest.raises(InputError, match="jaccard"):
        methods.make(name, jaccard=-0.1)
    with pytest.raises(InputError, match="n_neighbors"):
        methods.make(name, n_neighbors=0)
    with pytest.raises(InputError, match="outliers"):
        methods.make(name, outliers="drop")


def test_method_specific_bad_parameters():
    with pytest.raises(InputError, match="markov_time"):
        methods.make("infomap", markov_time=0)
    with pytest.raises(InputError, match="resolution"):
        methods.make("leiden", resolution=-1.0)
    with pytest.raises(InputError, match="objective"):
        methods.make("leiden", objective="surprise")
    with pytest.raises(InputError, match="n_iterations"):
        methods.make("leiden", n_iterations=0)
    with pytest.raises(InputError, match="n_iterations"):
        methods.make("chinese_whispers", n_iterations=0)
    with pytest.raises(InputError, match="exceeds|n_clusters"):
        methods.make("finch", n_clusters=500).fit(blobs()[0])
    with pytest.raises(InputError, match="linkage"):
        sparse_linkage(2, [0], [1], [1.0], "ward")


def test_new_methods_have_grids():
    info = methods.available()
    for name in NEW:
        assert info[name]["uses_graph"] and info[name]["grid"]
        assert "min_similarity" in info[name]["grid"]
