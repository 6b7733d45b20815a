"""Verification (FNMR@FMR) and open-set identification (FNIR@FPIR) against hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hilander import InputError
from hilander.study.metrics_openset import (
    fnir_at_fpir_scores,
    fnmr_at_fmr,
    open_set_identification,
    open_set_split,
    openset_report,
    threshold_at_rate,
    verification_fnmr,
    verification_scores,
)


def test_threshold_is_the_m_plus_first_highest_negative():
    neg = [0.1, 0.9, 0.3, 0.5, 0.7]  # sorted high to low: 0.9 0.7 0.5 0.3 0.1
    assert threshold_at_rate(neg, 0.2) == 0.7  # m = 1: only 0.9 is above
    assert threshold_at_rate(neg, 0.4) == 0.5  # m = 2
    assert threshold_at_rate(neg, 0.1) == 0.9  # m = 0: nothing may pass
    assert threshold_at_rate(neg, 1.0) == -np.inf  # every negative may pass
    # 0.29 * 100 is 28.999... in floats; the rate still allows 29 negatives
    assert threshold_at_rate(np.arange(100, dtype=float), 0.29) == 70.0


def test_threshold_with_ties_never_exceeds_the_rate():
    neg = [0.8, 0.8, 0.8, 0.2]
    t = threshold_at_rate(neg, 0.5)  # m = 2, but three negatives tie at 0.8
    assert t == 0.8
    assert np.mean(np.array(neg) > t) <= 0.5  # strict acceptance: none of the ties pass


def test_fnmr_by_hand():
    genuine = [0.95, 0.85, 0.6, 0.5, 0.2]
    impostor = [0.9, 0.55, 0.5, 0.3, 0.1, 0.05, 0.0, -0.1, -0.2, -0.3]
    # FMR 0.1: m = 1, t = 0.55 -> genuine at or below: 0.5, 0.2 -> 2/5
    # FMR 0.3: m = 3, t = 0.3  -> genuine at or below: 0.2 -> 1/5
    # FMR 0.05: m = 0, t = 0.9 -> 0.85, 0.6, 0.5, 0.2 -> 4/5
    out = fnmr_at_fmr(genuine, impostor, fmr=[0.1, 0.3, 0.05])
    assert out == {0.1: pytest.approx(0.4), 0.3: pytest.approx(0.2), 0.05: pytest.approx(0.8)}


def test_fnmr_from_top_impostors_matches_all_impostors():
    rng = np.random.default_rng(0)
    gen, imp = rng.normal(1, 1, 300), rng.normal(-1, 1, 5000)
    top = np.sort(imp)[-60:]  # enough for FMR up to 0.01 (m = 50)
    for f in (0.01, 0.002, 0.0002):
        assert fnmr_at_fmr(gen, top, f, n_impostor=5000) == fnmr_at_fmr(gen, imp, f)
    with pytest.raises(InputError, match="only 60 were kept"):
        fnmr_at_fmr(gen, top, 0.1, n_impostor=5000)


def _all_pairs(X, y):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    gen, imp = [], []
    for i, j in itertools.combinations(range(len(y)), 2):
        (gen if y[i] == y[j] else imp).append(float(Xn[i] @ Xn[j]))
    return np.array(gen), np.array(imp)


def test_blockwise_pairs_equal_the_brute_force_pairs():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 61)
    X = rng.normal(size=(61, 5)) + 2 * np.eye(7, 5)[y]
    s = verification_scores(X, y, max_fmr=0.2, block=8)  # many blocks
    gen, imp = _all_pairs(X, y)
    assert s.n_genuine == gen.size and s.n_impostor == imp.size
    assert np.allclose(np.sort(s.genuine), np.sort(gen), atol=1e-6)
    assert s.impostor_top.size == int(0.2 * imp.size) + 1
    assert np.allclose(np.sort(s.impostor_top), np.sort(imp)[-s.impostor_top.size:], atol=1e-6)
    for f in (0.2, 0.05, 0.01):
        want = fnmr_at_fmr(gen, imp, f)[f]
        assert s.fnmr_at(f)[f] == pytest.approx(want)
        assert verification_fnmr(X, y, f)[f] == pytest.approx(want)
    fmr, fnmr = s.curve(n_points=10)
    assert fmr[-1] == pytest.approx(0.2) and np.all(np.diff(fnmr) <= 1e-12)  # FNMR falls
    with pytest.raises(InputError, match="above max_fmr"):
        s.fnmr_at(0.5)


def test_verification_of_separable_and_of_tiny_sets():
    X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    assert verification_fnmr(X, [0, 0, 1, 1], fmr=0.25) == {0.25: 0.0}
    # the worst genuine pair is below every impostor once the identities are swapped
    assert verification_fnmr(X, [0, 1, 0, 1], fmr=0.25)[0.25] == 1.0
    with pytest.raises(InputError, match="no genuine pairs"):
        verification_scores(X, [0, 1, 2, 3])
    with pytest.raises(InputError, match="no impostor pairs"):
        verification_scores(X, [5, 5, 5, 5])
    with pytest.raises(InputError, match=r"in \(0, 1\]"):
        verification_fnmr(X, [0, 0, 1, 1], fmr=0)


def test_fnir_by_hand():
    mated = [0.9, 0.8, 0.6, 0.4]
    rank1 = [True, False, True, True]
    nonmated = [0.7, 0.5, 0.3, 0.2, 0.1]
    # FPIR 0.2: m = 1, t = 0.5: successes 0.9 and 0.6 (0.8 is not rank 1) -> FNIR 2/4
    # FPIR 0.4: m = 2, t = 0.3: 0.9, 0.6, 0.4 -> 1/4
    out = fnir_at_fpir_scores(mated, rank1, nonmated, [0.2, 0.4])
    assert out == {0.2: 0.5, 0.4: 0.25}
    with pytest.raises(InputError, match="no mated"):
        fnir_at_fpir_scores([], [], nonmated, 0.1)


def test_open_set_split_is_seeded_and_class_disjoint():
    y = np.repeat(np.arange(10), 4)
    s = open_set_split(y, seed=3)
    again = open_set_split(y, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(
        (s.gallery, s.mated, s.nonmated), (again.gallery, again.mated, again.nonmated)))
    enrolled = set(y[s.gallery])
    assert len(enrolled) == 5 and set(y[s.mated]) == enrolled
    assert not enrolled & set(y[s.nonmated])
    assert len(s.gallery) == len(s.mated) == 10 and len(s.nonmated) == 20
    everything = np.concatenate([s.gallery, s.mated, s.nonmated])
    assert np.array_equal(np.sort(everything), np.arange(40))
    with pytest.raises(InputError, match="cannot split"):
        open_set_split([0, 1, 2])  # no identity has two items


def test_open_set_identification_by_hand():
    # identities 0 and 1 enrolled by hand; identity 2 is never enrolled
    X = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8], [0.96, 0.28]])
    y = np.array([0, 0, 1, 1, 2])
    from hilander.study.metrics_openset import OpenSetSplit

    split = OpenSetSplit(gallery=np.array([0, 2]), mated=np.array([1, 3]),
                         nonmated=np.array([4]))
    # templates e0 = (1, 0), e1 = (0, 1); probe 1 scores 0.8 vs 0.6 (mate rank 1), probe 3
    # scores 0.6 vs 0.8 (mate rank 1); the non-mated probe's best score is 0.96
    out = open_set_identification(X, y, [1.0, 0.5], split=split)
    assert out[1.0] == 0.0  # t = -inf: both mates found
    # m = floor(0.5 * 1) = 0: t = 0.96, above both mates -> both missed
    assert out[0.5] == 1.0


def test_openset_report_keys_and_perfect_embedding():
    y = np.repeat(np.arange(6), 5)
    X = np.eye(6)[y] + 0.01 * np.random.default_rng(0).normal(size=(30, 6))
    rep = openset_report(X, y, fmr=[0.01], fpir=[0.1])
    assert set(rep) == {"fnmr@fmr=0.01", "fnir@fpir=0.1", "recall_at_1"}
    assert rep == {"fnmr@fmr=0.01": 0.0, "fnir@fpir=0.1": 0.0, "recall_at_1": 1.0}


def test_map_at_r_by_hand():
    from hilander.metrics import map_at_r

    X = np.array([[1, 0], [0.9, 0.1], [0.8, 0.3], [0, 1], [0.1, 0.9], [0.7, 0.4]])
    # R = 2 for everyone; the two nearest other items of each (cosine):
    # a: b c -> AP 1; b: a c -> 1; c: f (wrong) b -> (0 + 1/2) / 2 = 0.25;
    # d: e f -> 1; e: d f -> 1; f: c b (both wrong) -> 0
    assert map_at_r(X, [0, 0, 0, 1, 1, 1]) == pytest.approx(4.25 / 6)
    # a one-item identity is skipped, not scored as 0
    y = np.array([0, 0, 1, 1, 2])
    Z = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [0.7, 0.7]])
    assert map_at_r(Z, y) == 1.0
    with pytest.raises(InputError, match="undefined"):
        map_at_r(Z, [0, 1, 2, 3, 4])
