"""Metric values computed by hand (see comments) for small partitions."""

import numpy as np
import pytest

from hilander import InputError
from hilander.metrics import avg_f, bcubed_scores, evaluate, pairwise_scores, recall_at_1

TRUTH = [0, 0, 0, 1, 1, 2]
PRED = [0, 0, 1, 1, 1, 1]


def test_pairwise_hand_computed():
    # n_ij: (0,0)=2 (0,1)=1 (1,1)=2 (2,1)=1 -> tk = 4+1+4+1-6 = 4
    # cluster sizes 2,4 -> pk = 4+16-6 = 14; class sizes 3,2,1 -> qk = 9+4+1-6 = 8
    p, r, f = pairwise_scores(TRUTH, PRED)
    assert p == pytest.approx(4 / 14)
    assert r == pytest.approx(4 / 8)
    assert f == pytest.approx(2 * (4 / 14) * 0.5 / (4 / 14 + 0.5))


def test_bcubed_hand_computed():
    # P = (2²/2 + 1²/4 + 2²/4 + 1²/4) / 6 = 3.5/6 ; R = (2²/3 + 1²/3 + 2²/2 + 1²/1) / 6 = 4.6667/6
    p, r, f = bcubed_scores(TRUTH, PRED)
    assert p == pytest.approx(3.5 / 6)
    assert r == pytest.approx((4 / 3 + 1 / 3 + 2 + 1) / 6)
    assert f == pytest.approx(2 / 3)


def test_all_singletons():
    s = evaluate([0, 0, 1], [0, 1, 2])
    assert s["pairwise_precision"] == 1.0  # no predicted pair, so no false merge
    assert s["pairwise_recall"] == 0.0
    assert s["pairwise_f"] == 0.0
    assert s["bcubed_precision"] == 1.0
    assert s["bcubed_recall"] == pytest.approx(2 / 3)
    assert s["bcubed_f"] == pytest.approx(0.8)
    assert s["n_clusters"] == 3 and s["n_classes"] == 2


def test_one_cluster():
    s = evaluate([0, 0, 1], [7, 7, 7])
    assert s["pairwise_precision"] == pytest.approx(2 / 6)
    assert s["pairwise_recall"] == 1.0
    assert s["pairwise_f"] == pytest.approx(0.5)
    assert s["bcubed_precision"] == pytest.approx(5 / 9)
    assert s["bcubed_f"] == pytest.approx(10 / 14)
    assert s["nmi"] == pytest.approx(0.0)
    assert s["ari"] == pytest.approx(0.0)
    assert s["n_clusters"] == 1


def test_perfect_and_relabeled():
    s = evaluate(["a", "a", "b", "c"], [5, 5, 9, 1])
    for key in ("pairwise_f", "bcubed_f", "nmi", "ami", "ari"):
        assert s[key] == pytest.approx(1.0)
    assert avg_f(s) == pytest.approx(1.0)


def test_noise_counts_as_singletons():
    assert evaluate([0, 0, 1], [-1, -1, 3]) == evaluate([0, 0, 1], [0, 1, 2])


def test_nmi_matches_arithmetic_definition():
    # H(T) = H(P) for this symmetric case: NMI = I / H
    t, p = [0, 0, 1, 1], [0, 1, 1, 1]
    from math import log

    ht = log(2)
    hp = -(0.25 * log(0.25) + 0.75 * log(0.75))
    # joint: (0,0)=1/4, (0,1)=1/4, (1,1)=1/2
    mi = 0.25 * log(0.25 / (0.5 * 0.25)) + 0.25 * log(0.25 / (0.5 * 0.75)) \
        + 0.5 * log(0.5 / (0.5 * 0.75))
    assert evaluate(t, p)["nmi"] == pytest.approx(mi / ((ht + hp) / 2))


def test_length_mismatch_is_clear():
    with pytest.raises(InputError, match="3 labels"):
        evaluate([0, 1], [0, 1, 2])


def test_recall_at_1():
    X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7]], dtype=np.float32)
    y = [0, 0, 1, 1, 1]
    # nearest neighbours by cosine: 0<->1, 2<->3, 4 -> 1 or 3 (tie broken to row 1 or 3)
    assert recall_at_1(X[:4], y[:4]) == 1.0
    X2 = np.array([[0, 0], [10, 0], [0, 1], [10, 1]], dtype=np.float32)
    # Euclidean: 0<->2 and 1<->3 ; cosine after normalising: 1<->3 ... 0 is a zero row
    assert recall_at_1(X2, [0, 1, 0, 1], normalize=False) == 1.0


def test_hungarian_accuracy_hand_computed():
    from hilander.metrics import hungarian_accuracy

    # classes 0,0,0,1,1,2 ; clusters a,a,b,b,b,b: best one-to-one map a->0 (2), b->1 (2);
    # class 2 gets no cluster: 4 of 6 right
    assert hungarian_accuracy([0, 0, 0, 1, 1, 2], [5, 5, 7, 7, 7, 7]) == pytest.approx(4 / 6)
    # a relabelling is perfect; more clusters than classes leave some unmatched (wrong)
    assert hungarian_accuracy([0, 0, 1, 1], [3, 3, 9, 9]) == 1.0
    assert hungarian_accuracy([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx(2 / 4)
    # noise (-1) is singletons: it can match at most one class
    assert hungarian_accuracy([0, 0, 0], [-1, -1, -1]) == pytest.approx(1 / 3)


def test_f_scores_are_evaluate_without_the_information_scores():
    # what a selection trial is scored with: evaluate's pairwise, BCubed and counts, the same
    # floats, without NMI/AMI/ARI (hand-computed values in the two tests above)
    from hilander.metrics import F_KEYS, f_scores

    full, f = evaluate(TRUTH, PRED), f_scores(TRUTH, PRED)
    assert tuple(f) == F_KEYS
    assert f == {key: full[key] for key in F_KEYS}
    assert f["pairwise_precision"] == pytest.approx(4 / 14)
    assert f["bcubed_f"] == pytest.approx(2 / 3)
    assert avg_f(f) == avg_f(full)
    with pytest.raises(InputError):
        f_scores([], [])
