import numpy as np

from hilander.datasets import make_open_set
from hilander.lander import Aggregator, build_training_levels, true_density


def test_true_density_is_eq4_with_labels():
    nbr = np.array([[1, 2], [0, 2], [0, 1]])
    sim = np.array([[0.9, 0.2], [0.9, 0.4], [0.2, 0.4]], dtype=np.float32)
    same = np.array([[1, 0], [1, 0], [0, 0]], dtype=np.float32)
    # d_0 = (0.9 - 0.2)/2, d_1 = (0.9 - 0.4)/2, d_2 = (-0.2 - 0.4)/2
    np.testing.assert_allclose(true_density(nbr, sim, same), [0.35, 0.25, -0.3], atol=1e-6)


def test_aggregate_peak_and_size_weighted_mean():
    X = np.array([[1, 0], [0, 1], [1, 1], [3, 3], [0, 2]], dtype=np.float32)
    agg = Aggregator(X, "concat")
    agg.merge(np.array([0, 0, 1, 1, 2]), 3, np.array([1, 3, 4]))
    np.testing.assert_array_equal(agg.identity, [[0, 1], [3, 3], [0, 2]])
    np.testing.assert_allclose(agg.average, [[0.5, 0.5], [2, 2], [0, 2]])
    # level 2 merges a 2-point and a 1-point super-node: the mean weighs members, not nodes
    agg.merge(np.array([0, 0, 1]), 2, np.array([0, 2]))
    np.testing.assert_allclose(agg.average, [[(1 + 0 + 1 + 3) / 4, (0 + 1 + 1 + 3) / 4], [0, 2]])
    np.testing.assert_array_equal(agg.size, [4, 1])
    f = agg.features()
    assert f.shape == (2, 4) and np.allclose(np.linalg.norm(f, axis=1), 1)
    assert Aggregator(X, "peak").total is None  # no second copy of the features


def test_training_levels_converge_to_one_node_per_identity():
    d = make_open_set(40, 2, separation=2.0, seed=1)
    levels = build_training_levels(d.X_train, d.y_train, 10)
    sizes = [lv.n_nodes for lv in levels]
    assert sizes[0] == len(d.y_train)
    assert all(a > b for a, b in zip(sizes, sizes[1:]))  # strictly coarser each level
    # well-separated identities end as (close to) one super-node each
    assert sizes[-1] <= 1.5 * 40
    for lv in levels:
        assert lv.same.shape == lv.nbr.shape and lv.density.shape == (lv.n_nodes,)
