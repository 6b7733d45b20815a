"""The ablations' door: hilander.study.ablation's ExperimentalHiLander."""

from dataclasses import fields

import numpy as np
import pytest

from hilander import HiLander, InputError
from hilander.lander import TrainingSettings, run_hierarchy
from hilander.lander.selection import MIN_GAIN
from hilander.study.ablation import ExperimentalHiLander
from hilander.training import deterministic


def test_options_change_only_the_recipe():
    base = HiLander()._recipe()
    same = ExperimentalHiLander()._recipe()
    # every field of the library's recipe as it is; the fixed options as the library fixes them
    assert {f.name: getattr(same, f.name) for f in fields(same)} == \
        {f.name: getattr(base, f.name) for f in fields(same)}
    r = ExperimentalHiLander(edge_input="symmetric", balanced=True, train_ks=[10, 5],
                             k_grid="auto", n_neighbors=8)._recipe()
    assert (r.edge_input, r.balanced, r.train_ks, r.k_grid) == \
        ("symmetric", True, (10, 5), (4, 8, 16))
    assert r.optimizer == base.optimizer and r.feature_noise == base.feature_noise
    # HiLander's own 11 parameters plus the experimental ones, nothing in between
    extra = set(ExperimentalHiLander().get_params()) - set(HiLander().get_params())
    assert extra == set(ExperimentalHiLander._params)


def test_selection_chooses_k_and_aggregation_on_held_out_identities(open_set, tmp_path):
    m = ExperimentalHiLander(training=TrainingSettings(epochs=3), k_grid=(5, 10, 20),
                             aggregation_grid=("peak", "mean"))
    m.fit(open_set.X_train[:1200], open_set.y_train[:1200])
    trials = m.selection_["trials"]
    assert {t["n_neighbors"] for t in trials} == {5, 10, 20}
    chosen = m.selection_["chosen"]
    settings = m.settings_
    assert (settings.n_neighbors, settings.aggregation) == \
        (chosen["n_neighbors"], chosen["aggregation"])
    # the chosen settings are a stage's best smoothed held-out trial, within MIN_GAIN of the
    # best of all, and are used to cluster
    stage_bests = [t["smoothed_avg_f"] for t in trials if "smoothed_avg_f" in t]
    assert chosen["held_out_avg_f"] in stage_bests
    assert chosen["held_out_avg_f"] >= max(stage_bests) - MIN_GAIN
    if settings.max_levels != 1:
        assert {t["aggregation"] for t in trials} == {"peak", "mean"}
    X = open_set.X_test / np.linalg.norm(open_set.X_test, axis=1, keepdims=True)
    # (under the peak rule, where k shapes the tree; a partition decoding may not care)
    m.settings_ = settings = settings.replace(decoding="peak", tau=0.5, tau_upper=0.5)
    labels = m.predict(open_set.X_test)
    same = {}
    for k in (5, 10, 20):  # the fitted k is the one clustering uses
        with deterministic():
            direct = run_hierarchy(m.model_, X, settings.replace(n_neighbors=k)).labels
        same[k] = np.array_equal(labels, direct)
    assert same[settings.n_neighbors]
    assert not all(same.values())
    m.save(tmp_path / "m.hlm")
    loaded = ExperimentalHiLander.load(tmp_path / "m.hlm")
    assert loaded.settings_ == settings


def test_experimental_rules_at_fit(open_set):
    X, y = open_set.X_train[:300], open_set.y_train[:300]
    with pytest.raises(InputError, match="aggregation_grid"):
        ExperimentalHiLander(aggregation_grid=("concat",)).fit(X, y)
    with pytest.raises(InputError, match="aggregation_grid"):
        ExperimentalHiLander(aggregation="concat", aggregation_grid=("peak",)).fit(X, y)
    with pytest.raises(InputError, match="'edge_input' parameter"):
        ExperimentalHiLander(edge_input="mlp").fit(X, y)
    with pytest.raises(InputError, match="train_ks"):
        ExperimentalHiLander(train_ks=(0,)).fit(X, y)


def test_the_single_hold_out_selection_stays_for_ablations(open_set):
    # the earlier default: one network, its decoding chosen on 20% of the identities
    m = ExperimentalHiLander(training=TrainingSettings(epochs=3), holdout=0.2, random_state=0)
    m.fit(open_set.X_train, open_set.y_train)
    sel = m.selection_
    assert sel["mode"] == "hold-out" and sel["held_out_classes"] == 16  # 20% of 80
    curve = dict(sel["link_auc_curve"])
    assert curve[sel["best_step"]] == max(curve.values())
    assert m.settings_.as_dict() == {k: sel["chosen"][k] for k in m.settings_.as_dict()}


def test_long_tail_aware_selection_scores_the_mean_of_both_sets(open_set):
    from hilander._validation import encode_labels, l2_normalize
    from hilander.datasets import long_tail_subsample
    from hilander.lander.decoding import DecodingSettings
    from hilander.metrics import avg_f, evaluate

    X, y = open_set.X_train[:900], open_set.y_train[:900]
    m = ExperimentalHiLander(training=TrainingSettings(epochs=2), longtail_selection=True,
                             random_state=0).fit(X, y)
    trials = m.selection_["trials"]
    assert all(len(t["avg_f_each"]) == 2 for t in trials)
    assert all(abs(t["avg_f"] - np.mean(t["avg_f_each"])) < 1e-12 for t in trials)
    # the second score is the long-tailed resample clustered on its own, each point still
    # scored by the network of its fold
    codes = encode_labels(y)
    rows = long_tail_subsample(codes, seed=0)
    assert 0 < rows.size < 0.6 * y.size
    t = trials[0]
    settings = DecodingSettings(**{k: t[k] for k in DecodingSettings(tau=0.5).as_dict()})
    with deterministic():
        labels = run_hierarchy(m.crossfit_.subset(rows), l2_normalize(X)[rows], settings,
                               seed=0).labels
    assert avg_f(evaluate(encode_labels(codes[rows]), labels)) == pytest.approx(
        t["avg_f_each"][1], abs=1e-9)
