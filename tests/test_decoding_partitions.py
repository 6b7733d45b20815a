"""The partition decodings of a level (Leiden, CPM, average linkage) on graphs with a known
answer: two dense groups joined by one weak edge."""

import numpy as np
import pytest

from hilander.lander.decoding import link_level, merge_level


def _two_groups():
    # 0-1-2 and 3-4-5 fully linked at p 0.9, one link 2 -> 3 at p 0.2; k = 3 (with padding)
    nbr = np.array([[1, 2, -1], [0, 2, -1], [0, 1, 3], [4, 5, 2], [3, 5, -1], [3, 4, -1]])
    p = np.where(nbr >= 0, 0.9, 0.0).astype(np.float32)
    p[2, 2] = p[3, 2] = 0.2
    sim = p.copy()
    return nbr, sim, p, np.ones(6, np.float32)


@pytest.mark.parametrize("decoding,tau,resolution", [
    ("leiden", 0.0, None), ("leiden", 0.5, 0.05), ("cpm", 0.5, None), ("average", 0.5, None),
    ("infomap", 0.5, None)])
def test_two_groups_are_found(decoding, tau, resolution):
    nbr, sim, p, dens = _two_groups()
    links = link_level(decoding, nbr, sim, p, dens, tau, seed=0, resolution=resolution)
    step = merge_level(6, links, dens)
    assert step.n_comp == 2
    assert len(set(step.comp[:3])) == 1 and len(set(step.comp[3:])) == 1
    assert step.comp[0] != step.comp[3]
    # the links a partition adds are the edges it keeps inside its communities
    if decoding != "infomap":
        assert step.n_edges == 6


def test_thresholds_move_the_partitions():
    nbr, sim, p, dens = _two_groups()
    # average linkage at 0.1 also takes the 0.2 link (the mean across is 0.2 over one edge)
    assert merge_level(6, link_level("average", nbr, sim, p, dens, 0.1), dens).n_comp == 1
    # past 0.9 nothing is linked: every node stays alone
    assert merge_level(6, link_level("average", nbr, sim, p, dens, 0.95), dens).n_comp == 6
    # CPM demanding more weight than any pair holds keeps every node apart
    assert merge_level(6, link_level("cpm", nbr, sim, p, dens, 0.95), dens).n_comp == 6


def test_leiden_resolution_is_per_node():
    # the same per-node resolution on a graph twice as large gives the same groups
    nbr, sim, p, dens = _two_groups()
    big = np.concatenate([nbr, np.where(nbr >= 0, nbr + 6, -1)])
    pp, ss, dd = np.concatenate([p, p]), np.concatenate([sim, sim]), np.concatenate([dens] * 2)
    small = merge_level(6, link_level("leiden", nbr, sim, p, dens, 0.0, resolution=0.05), dens)
    large = merge_level(12, link_level("leiden", big, ss, pp, dd, 0.0, resolution=0.05), dd)
    assert small.n_comp == 2 and large.n_comp == 4


def test_comembership_features_mark_the_communities():
    # two far-apart groups of 30 on a 10-NN graph that links across them too: every partition
    # keeps the groups apart, so "same" is 1 inside a group and 0 across, and a node's
    # community size is its group's (log share of log n)
    from hilander.graph import build_knn_graph
    from hilander.lander.features import (
        COMEMBERSHIP_NAMES,
        N_EDGE_FEATURES,
        EdgeFeaturizer,
        n_edge_features,
    )

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    X = np.eye(2, 8)[y] + 0.05 * rng.standard_normal((60, 8))
    g = build_knn_graph(X, 35)  # 35 > 29: every list reaches into the other group
    feats = EdgeFeaturizer(g.indices, g.similarities, comembership=True).rows()
    assert feats.shape == (60, 35, n_edge_features(True)) == (60, 35, N_EDGE_FEATURES + 9)
    same_group = (y[:, None] == y[g.indices]).astype(np.float32)
    for c in range(len(COMEMBERSHIP_NAMES) // 3):
        col = N_EDGE_FEATURES + 3 * c
        np.testing.assert_array_equal(feats[..., col], same_group)
        np.testing.assert_allclose(feats[..., col + 1], np.log1p(30) / np.log1p(60), rtol=1e-6)
    # without the option the head reads the 7 relational columns only
    plain = EdgeFeaturizer(g.indices, g.similarities).rows()
    np.testing.assert_array_equal(plain, feats[..., :N_EDGE_FEATURES])
