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
