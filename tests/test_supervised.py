"""Supervised GNN baselines: graph helpers on hand-made graphs, learning, persistence, checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hilander import supervised
from hilander._validation import InputError
from hilander.datasets import make_open_set
from hilander.graph import KNNGraph, build_knn_graph
from hilander.methods import registry
from hilander.metrics import evaluate
from hilander.persistence import load_model
from hilander.supervised._clusterer import split_classes
from hilander.supervised._subgraphs import (
    adjacency,
    label_confidence,
    nearest_higher,
    subset_graph,
    tree_labels,
)
from hilander.supervised.lgcn import instance_pivot_subgraphs, propagate
from hilander.supervised.star_fc import intimacy_filter

torch.set_num_threads(1)

# small, fast settings per method; the data below is easy enough for them to learn quickly
FAST = {
    "gcn_v": dict(epochs=60, hidden=64),
    "gcn_e": dict(epochs=12, hidden=32, confidence="density"),
    "gcn_ve": dict(epochs_v=60, hidden_v=64, epochs=12, hidden=32),
    "lgcn": dict(epochs=12, hidden=32),
    "star_fc": dict(epochs=10, hidden=64),
}


def _graph(ids, sims) -> KNNGraph:
    return KNNGraph(np.asarray(ids, dtype=np.int64), np.asarray(sims, dtype=np.float32))


# -- graph helpers with hand-computed answers -------------------------------------------------


def test_label_confidence_matches_hand_computation():
    # node 0: neighbours 1 (same class, sim .8) and 2 (other class, sim .5)
    g = _graph([[1, 2], [0, 2], [1, 0]], [[0.8, 0.5], [0.8, 0.4], [0.4, 0.5]])
    y = np.array([0, 0, 1])
    conf = label_confidence(g, y)
    np.testing.assert_allclose(conf, [(0.8 - 0.5) / 2, (0.8 - 0.4) / 2, (-0.4 - 0.5) / 2],
                               atol=1e-6)


def test_adjacency_is_symmetric_row_normalised_with_self_loops():
    g = _graph([[1], [2], [1]], [[0.5], [0.25], [0.25]])
    A = adjacency(g).toarray()
    # row 0: self 1 + edge to 1 (0.5) -> [1/1.5, .5/1.5, 0]
    np.testing.assert_allclose(A[0], [1 / 1.5, 0.5 / 1.5, 0.0], atol=1e-6)
    # row 1 gains the reverse edge of 0->1: [0.5, 1, 0.25] / 1.75
    np.testing.assert_allclose(A[1], np.array([0.5, 1.0, 0.25]) / 1.75, atol=1e-6)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, atol=1e-6)
    # an edge below the threshold is cut
    assert adjacency(g, threshold=0.3).toarray()[1, 2] == 0.0


def test_tree_deduction_on_known_forest():
    # chain 0 -> 1 -> 2 (peak) and 3 -> 4 (peak); the 1 -> 2 link is too weak
    parent = np.array([1, 2, -1, 4, -1])
    sim = np.array([0.9, 0.3, -np.inf, 0.8, -np.inf], dtype=np.float32)
    labels = tree_labels(parent, sim, tau=0.5)
    assert labels[0] == labels[1] and labels[3] == labels[4]
    assert len({labels[0], labels[2], labels[3]}) == 3


def test_nearest_higher_picks_first_more_confident_neighbour():
    g = _graph([[1, 2], [2, 0], [1, 0]], [[0.9, 0.8], [0.7, 0.9], [0.7, 0.8]])
    parent, sim = nearest_higher(g, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_array_equal(parent, [1, 2, -1])
    np.testing.assert_allclose(sim[:2], [0.9, 0.7])


def test_equal_confidences_are_ordered_by_index():
    g = _graph([[1, 2], [0, 2], [1, 0]], [[0.9, 0.8], [0.9, 0.7], [0.7, 0.8]])
    parent, _ = nearest_higher(g, np.ones(3))
    # ties: lower index ranks higher, so 2 -> 1, 1 -> 0 and 0 is the root
    np.testing.assert_array_equal(parent, [-1, 0, 1])


def test_subset_graph_drops_outside_neighbours_and_reindexes():
    g = _graph([[1, 2], [2, 0], [0, 1]], [[0.9, 0.8], [0.7, 0.6], [0.5, 0.4]])
    sub = subset_graph(g, np.array([True, False, True]))
    np.testing.assert_array_equal(sub.indices, [[1, -1], [0, -1]])
    np.testing.assert_allclose(sub.similarities, [[0.8, 0.0], [0.5, 0.0]])


def test_propagation_splits_oversized_component_at_weakest_edges():
    # path 0-1-2-3 with a weak middle edge; max size 2 forces one split
    src, dst = np.array([0, 1, 2]), np.array([1, 2, 3])
    score = np.array([0.9, 0.6, 0.95])
    labels = propagate(4, src, dst, score, max_size=2, threshold=0.5, step=0.5)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]
    whole = propagate(4, src, dst, score, max_size=4, threshold=0.5, step=0.5)
    assert len(set(whole)) == 1


def test_intimacy_keeps_clique_edges_and_cuts_a_bridge():
    # two triangles {0,1,2} and {3,4,5} joined by the bridge 2-3
    src = np.array([0, 0, 1, 3, 3, 4, 2])
    dst = np.array([1, 2, 2, 4, 5, 5, 3])
    keep = intimacy_filter(6, src, dst, threshold=0.75)
    # triangle edge 0-1: closed nbhds {0,1,2} and {0,1,2}: 3/3 = 1; bridge 2-3: 2/4 = 0.5
    np.testing.assert_array_equal(keep, [True, True, True, True, True, True, False])


def test_instance_pivot_subgraph_lists_one_and_two_hop_nodes():
    # 5 points on a line: neighbours are the nearest by index
    ids = [[1, 2], [0, 2], [1, 3], [2, 4], [3, 2]]
    g = _graph(ids, np.full((5, 2), 0.9))
    data = instance_pivot_subgraphs(g, k1=1, k2=2, active=1, y=np.array([0, 0, 0, 1, 1]))
    # pivot 0: 1-hop {1}, 2-hop = nbrs of 1 = {0, 2} minus the pivot -> nodes {1, 2}
    assert set(data.nodes[0][data.mask[0]]) == {1, 2}
    assert set(data.nodes[0][data.score[0]]) == {1}
    # pivot 3 -> 1-hop {2}, 2-hop {1, 3} -> {1, 2}; node 2 is labelled "other class"
    row = data.nodes[3]
    assert set(row[data.mask[3]]) == {1, 2}
    assert not data.labels[3][row == 2][0]
    adj = data.adjacency(data.nodes[:1], data.mask[:1])[0]
    # node 1's nearest neighbour (0, the pivot) is outside the IPS; node 2's is 1 -> one
    # symmetric edge 1-2, rows normalised
    np.testing.assert_allclose(adj[:2, :2], [[0.0, 1.0], [1.0, 0.0]])


def test_split_classes_is_class_disjoint():
    y = np.repeat(np.arange(10), 10)
    val = split_classes(y, 0.2, seed=0)
    assert 0 < val.sum() < y.size
    assert not set(y[val]) & set(y[~val])


# -- registry and parameter checks ------------------------------------------------------------


def test_registry_names_and_errors():
    assert supervised.available() == ["gcn_e", "gcn_v", "gcn_ve", "lgcn", "star_fc"]
    assert isinstance(supervised.make("GCN_V"), supervised.GCNV)
    with pytest.raises(InputError, match="not a supervised baseline"):
        supervised.make("dbscan")
    with pytest.raises(InputError, match="unknown method"):
        supervised.make("gcn_x")
    with pytest.raises(InputError, match="unknown parameter"):
        supervised.make("star_fc", tau=0.5)
    with pytest.raises(InputError, match="prune"):
        supervised.make("star_fc", prune=1.5)


@pytest.mark.parametrize("name,params,match", [
    ("gcn_v", dict(n_neighbors=0), "'n_neighbors' parameter of GCNV must be an int"),
    ("gcn_e", dict(confidence="magic"), "confidence"),
    ("lgcn", dict(max_size=0), "max_size"),
    ("gcn_ve", dict(ignore_ratio=2.0), "ignore_ratio"),
    ("star_fc", dict(optimizer="rmsprop"), "optimizer"),
])
def test_bad_parameters_rejected_at_fit(name, params, match):
    model = registry.get_spec(name).cls(**params)  # constructor only stores
    X = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(InputError, match=match):
        model.fit(X, np.arange(20) % 4)


def test_fit_rejects_bad_data():
    with pytest.raises(InputError, match="single class"):
        supervised.GCNV().fit(np.eye(6), np.zeros(6))
    with pytest.raises(InputError, match="labels"):
        supervised.GCNV().fit(np.eye(6), np.arange(5))
    with pytest.raises(InputError, match="not fitted"):
        supervised.STARFC().predict(np.eye(6))


# -- learning on synthetic open-set data ------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return make_open_set(40, 20, separation=0.7, test_sizes="moderate", seed=5)


@pytest.fixture(scope="module")
def trained(data):
    return {name: supervised.make(name, **FAST[name]).fit(data.X_train, data.y_train)
            for name in supervised.available()}


def _untrained(name, data):
    """Same architecture, seed and graph, weights never moved (learning rate ~0)."""
    return supervised.make(name, **{**FAST[name], "lr": 1e-12}).fit(data.X_train, data.y_train)


def test_gcnv_confidence_generalises_to_unseen_classes(data, trained):
    # the regression target on the test classes, computed from their (hidden) labels
    model = trained["gcn_v"]
    graph = build_knn_graph(data.X_test, model.n_neighbors)
    target = label_confidence(graph, data.y_test)
    mse = float(np.mean((model.predict_confidence(data.X_test, graph=graph) - target) ** 2))
    base = float(np.mean((_untrained("gcn_v", data).predict_confidence(data.X_test) - target)
                         ** 2))
    # better than the untrained net and than always answering 0
    assert mse < 0.5 * base, (mse, base)
    assert mse < float(np.mean(target**2)), mse


def _link_auc(model, X, y) -> float:
    src, dst, prob = model.link_probabilities(X)
    return float(roc_auc_score(y[src] == y[dst], prob))


@pytest.mark.parametrize("name", ["gcn_e", "gcn_ve", "lgcn"])
def test_link_predictions_generalise_to_unseen_classes(name, data, trained):
    auc = _link_auc(trained[name], data.X_test, data.y_test)
    base = _link_auc(_untrained(name, data), data.X_test, data.y_test)
    # chance ranks true and false links alike: AUC 0.5
    assert auc > 0.65, (name, auc)
    assert auc > base + 0.05, (name, auc, base)


@pytest.mark.parametrize("name", ["star_fc"])
def test_method_learns_beyond_untrained_and_chance(name, data, trained):
    model = trained[name]
    before = getattr(model, "labels_", None)
    pred = model.predict(data.X_test)  # no labels given
    # predict leaves the fitted state alone (scikit-learn contract)
    assert pred.shape == data.y_test.shape and getattr(model, "labels_", None) is before
    scores = evaluate(data.y_test, pred)
    base = evaluate(data.y_test, _untrained(name, data).predict(data.X_test))
    rng = np.random.default_rng(0)
    chance = evaluate(data.y_test, rng.integers(0, scores["n_classes"], data.y_test.size))
    assert scores["bcubed_f"] > chance["bcubed_f"] + 0.2, (scores, chance)
    assert scores["bcubed_f"] > base["bcubed_f"] + 0.02, (name, scores, base)


@pytest.mark.parametrize("name", supervised.available())
def test_save_load_round_trip(name, data, trained, tmp_path):
    model = trained[name]
    path = tmp_path / f"{name}.pt"
    model.save(path)
    again = type(model).load(path)
    np.testing.assert_array_equal(again.predict(data.X_test), model.predict(data.X_test))
    assert type(load_model(path)) is type(model)
    assert again.get_params() == model.get_params()
    other = supervised.GCNV if not isinstance(model, supervised.GCNV) else supervised.LGCN
    with pytest.raises(InputError, match="not a"):
        other.load(path)


def test_predict_checks_dimension_and_accepts_prebuilt_graph(data, trained):
    model = trained["star_fc"]
    with pytest.raises(InputError, match="5 features .* trained on 64"):
        model.predict(data.X_test[:, :5])
    g = build_knn_graph(data.X_test, 30)
    np.testing.assert_array_equal(model.predict(data.X_test, graph=g),
                                  model.predict(data.X_test))
    with pytest.raises(InputError, match="needs k=10"):
        model.predict(data.X_test, graph=g.restrict(5))


def test_fit_with_prebuilt_graph_matches_own_graph(data):
    X, y = data.X_train[:400], data.y_train[:400]
    params = dict(epochs=5, hidden=16)
    own = supervised.GCNV(**params).fit(X, y).predict_confidence(X)
    given = supervised.GCNV(**params).fit(X, y, graph=build_knn_graph(X, 20))
    np.testing.assert_allclose(given.predict_confidence(X), own, rtol=1e-4, atol=1e-5)


def test_cli_train_passes_device_to_a_supervised_method(data, tmp_path):
    from hilander.cli import main

    np.save(tmp_path / "X.npy", data.X_train[:200])
    np.save(tmp_path / "y.npy", data.y_train[:200])
    out = tmp_path / "m.hlm"
    argv = ["train", str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), "--out", str(out),
            "--method", "gcn_v", "--device", "cpu", "--param", "epochs=1", "--quiet"]
    assert main(argv) == 0
    model = load_model(out)
    assert model.device == "cpu" and next(model.net_.parameters()).device.type == "cpu"
