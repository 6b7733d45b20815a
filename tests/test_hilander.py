import numpy as np
import pytest
import torch

from hilander import HiLander, InputError
from hilander.lander import (
    DecodingSettings,
    HierarchyResult,
    SelectionSettings,
    TrainingSettings,
)
from hilander.lander.selection import MIN_GAIN
from hilander.metrics import avg_f, evaluate
from hilander.persistence import load_model


def _variant(trained, **settings):
    """The trained network under other decoding settings, without re-training."""
    est = HiLander(**trained.get_params())
    est.model_, est.n_features_in_ = trained.model_, trained.n_features_in_
    est.settings_ = trained.settings_.replace(**settings)
    return est


def test_hilander_learns_and_beats_one_level(open_set, trained):
    result = trained.cluster(open_set.X_test)
    s = evaluate(open_set.y_test, result.labels)
    assert avg_f(s) > 0.85, s
    one = evaluate(open_set.y_test, _variant(trained, max_levels=1).predict(open_set.X_test))
    assert avg_f(s) > avg_f(one) + 0.2
    assert result.n_levels >= 2


def test_untrained_model_is_worse(open_set, trained):
    # the relational head starts as a (roughly calibrated) cosine, so an untrained model is
    # already a fair clusterer on easy data; training must still add to it
    # (compared under the paper's peak decoding: a partition decoding such as Infomap hides
    # part of what the linkage learnt)
    peak = {"decoding": "peak", "tau": 0.5, "tau_upper": 0.5}
    fresh = _variant(trained, **peak)
    torch.manual_seed(0)
    fresh.model_ = fresh._new_model(fresh._recipe()).eval()
    s_fresh = avg_f(evaluate(open_set.y_test, fresh.predict(open_set.X_test)))
    s_trained = avg_f(evaluate(open_set.y_test, _variant(trained, **peak).predict(open_set.X_test)))
    assert s_trained > s_fresh + 0.05


def test_hierarchy_levels_are_nested(open_set, trained):
    levels = trained.predict_hierarchy(open_set.X_test)
    assert len(levels) >= 2
    for fine, coarse in zip(levels, levels[1:]):
        # every fine cluster lies inside exactly one coarse cluster
        pairs = np.unique(np.stack([fine, coarse]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]
        assert len(np.unique(coarse)) < len(np.unique(fine))
    res = trained.cluster(open_set.X_test)
    for lab, peaks in zip(res.level_labels, res.level_peaks):
        assert len(peaks) == lab.max() + 1
        assert np.array_equal(lab[peaks], np.arange(len(peaks)))  # a peak lies in its cluster


def test_predict_is_deterministic_and_save_load_roundtrip(tmp_path, open_set, trained):
    a = trained.predict(open_set.X_test)
    path = tmp_path / "model.hlm"
    trained.save(path)
    loaded = HiLander.load(path)
    assert loaded.get_params() == trained.get_params()
    assert np.array_equal(loaded.predict(open_set.X_test), a)
    assert isinstance(load_model(path), HiLander)


def test_a_model_file_of_the_flat_keyword_era_loads(tmp_path, open_set, trained):
    # files written before the settings groups hold flat keywords (tau, epochs, cv, seed...),
    # and dropout / weight_decay: they load as today's model, without a warning
    import warnings

    import torch

    trained.save(tmp_path / "new.hlm")
    payload = torch.load(tmp_path / "new.hlm", weights_only=True)
    config = {k: v for k, v in payload["config"].items()
              if k not in ("training", "selection", "decoding", "random_state")}
    config.update(tau="auto", tau_upper=None, decoding="peak", early_stopping=True, seed=0,
                  dropout=0.0, weight_decay=1e-5, **payload["config"]["training"]["fields"],
                  **{k: v for k, v in payload["config"]["selection"]["fields"].items()
                     if k not in ("early_stopping", "record_one_fold")})
    payload["config"] = config
    torch.save(payload, tmp_path / "old.hlm")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        old = load_model(tmp_path / "old.hlm")
    assert old.get_params() == trained.get_params()
    assert np.array_equal(old.predict(open_set.X_test), trained.predict(open_set.X_test))


def test_max_levels_and_early_stopping_flags(open_set, trained):
    r_full = _variant(trained, early_stopping=False).cluster(open_set.X_test)
    r_es = trained.cluster(open_set.X_test)
    assert r_full.stopped_by in ("converged", "single node")
    assert r_es.n_levels <= r_full.n_levels
    # every level but the first added at most 1/k of the previous level's edges, except the
    # last one, where early stopping fired
    edges = r_es.level_edges
    for prev, cur in zip(edges[:-2], edges[1:-1]):
        assert cur <= prev / trained.n_neighbors


def test_selection_picks_from_the_grids_on_held_out_identities(open_set, trained):
    from hilander.lander.selection import CPM_GRID, RESOLUTION_GRID, SIMILARITY_GRID

    sel = trained.selection_
    chosen = sel["chosen"]
    settings = trained.settings_
    grid = {"similarity": SIMILARITY_GRID, "cpm": CPM_GRID}.get(settings.decoding,
                                                                trained.selection.tau_grid)
    assert settings.tau == chosen["tau"] and settings.tau in grid
    if settings.decoding == "leiden":
        assert settings.resolution in RESOLUTION_GRID
    assert settings.max_levels in (None, 1)
    assert settings.as_dict() == {k: chosen[k] for k in settings.as_dict()}
    # the choice is a stage's best smoothed trial, within MIN_GAIN of the best of all (a
    # later stage must beat it by more); cross-fitted, every one of the 80 labeled identities
    # is scored, each by the network of the two folds it was not in
    stage_bests = [t["smoothed_avg_f"] for t in sel["trials"] if "smoothed_avg_f" in t]
    assert chosen["held_out_avg_f"] in stage_bests
    assert chosen["held_out_avg_f"] >= max(stage_bests) - MIN_GAIN
    assert sel["mode"] == "cross-fitted" and sel["held_out_classes"] == 80
    assert len(sel["folds"]) == trained.selection.cv == 3
    assert sum(fold["classes"] for fold in sel["folds"]) == 80
    for fold in sel["folds"]:
        # checkpoint selection kept the best held-out link AUC, the calibrated cosine included
        curve = dict(fold["link_auc_curve"])
        assert curve[fold["best_step"]] == max(curve.values())
        assert fold["link_auc_curve"][0][0] == 0
    # what one fold alone would have chosen is recorded only on request
    assert "one_fold" not in sel and "one_fold_selection" not in trained.timings_


def test_one_fold_choice_is_recorded_on_request(open_set):
    X, y = open_set.X_train[:800], open_set.y_train[:800]
    training = TrainingSettings(epochs=3)
    plain = HiLander(training=training, random_state=0).fit(X, y)
    asked = HiLander(training=training, selection=SelectionSettings(record_one_fold=True),
                     random_state=0).fit(X, y)
    sel = asked.selection_
    # the record says what a single held-out fold would have chosen, and changes nothing else
    assert sel["one_fold"]["classes"] == sel["folds"][0]["classes"]
    assert sel["one_fold"]["changed"] == [
        k for k, v in sel["one_fold"]["chosen"].items()
        if k != "held_out_avg_f" and sel["chosen"][k] != v]
    assert asked.timings_["one_fold_selection"] > 0
    assert "one_fold" not in plain.selection_ and plain.settings_ == asked.settings_
    assert np.array_equal(plain.predict(open_set.X_test), asked.predict(open_set.X_test))


@pytest.mark.parametrize("aggregation,recipe", [("mean", "lander"), ("concat", "paper")])
def test_other_aggregations_and_the_paper_recipe_run(open_set, aggregation, recipe):
    m = HiLander(aggregation=aggregation, recipe=recipe, training=TrainingSettings(epochs=5),
                 decoding={"tau": 0.5})
    m.fit(open_set.X_train[:800], open_set.y_train[:800])
    labels = m.predict(open_set.X_test)
    assert labels.shape == open_set.y_test.shape and labels.min() == 0
    head = m.model_.head
    # the paper's edge MLP reads [h_i, h_j]; hilander's adds the relational features
    assert head.edge_input == ("concat" if recipe == "paper" else "relational")
    assert head.mlp[1].in_features == (256 if recipe == "paper" else 256 + 7)  # hidden 128


def test_recipe_values_and_overrides():
    from hilander.lander import RECIPES

    assert HiLander()._recipe() == RECIPES["lander"]
    paper = HiLander(recipe="paper")._recipe()
    assert (paper.optimizer, paper.lr, paper.momentum, paper.edge_input) == \
        ("sgd", 0.1, 0.9, "concat")
    assert (paper.feature_noise, paper.identity_subsets) == (0.0, 0)
    mine = HiLander(recipe="paper", training=TrainingSettings(
        lr=0.05, feature_noise=0.2, identity_subsets=1))._recipe()
    assert (mine.lr, mine.feature_noise, mine.identity_subsets, mine.optimizer) == \
        (0.05, 0.2, 1, "sgd")


def test_chunked_inference_matches_full_graph(open_set):
    from hilander.graph import build_knn_graph
    from hilander.lander import LanderNet
    def edge_index(nbr):  # neighbour -> node, for a pass over the whole graph at once
        rows = torch.arange(nbr.shape[0]).unsqueeze(1).expand_as(nbr)
        valid = nbr >= 0
        return torch.stack([nbr[valid], rows[valid]])

    torch.manual_seed(0)
    for layers in (1, 2):
        net = LanderNet(64, 32, num_layers=layers).eval()
        X = open_set.X_test[:300]
        g = build_knn_graph(X, 5)
        x = torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))
        nbr = torch.from_numpy(g.indices)
        with torch.no_grad():
            full = net.encoder(x, edge_index(nbr))
        chunked = net.encoder.forward_chunked(x, nbr, chunk=37)
        torch.testing.assert_close(full, chunked, atol=1e-5, rtol=1e-4)


def test_a_batch_reads_only_its_receptive_field(open_set):
    # training feeds the model the input features of its receptive field only; the scores
    # and their gradients equal those of a pass over every node
    from hilander.graph import build_knn_graph
    from hilander.lander import LanderNet
    from hilander.lander.features import EdgeFeaturizer

    torch.manual_seed(0)
    X = open_set.X_train[:600]
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    g = build_knn_graph(X, 6)
    attr = torch.from_numpy(EdgeFeaturizer(g.indices, g.similarities).rows())
    nbr = torch.from_numpy(g.indices)
    rows = torch.tensor([3, 50, 51, 400])
    for layers in (1, 2):
        net = LanderNet(X.shape[1], 16, num_layers=layers)
        x = torch.from_numpy(X)
        field = net.receptive_field(nbr, rows)
        ids = field[0]
        assert 4 < len(ids) < 600 and torch.all(ids[1:] > ids[:-1])
        full = net(x, nbr, attr[rows], rows)
        part = net(x[ids], nbr, attr[rows], rows, field=field)
        torch.testing.assert_close(full[0], part[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(full[2], part[2], atol=1e-6, rtol=1e-5)
        g_full = torch.autograd.grad(full[0].sum(), list(net.parameters()), allow_unused=True)
        g_part = torch.autograd.grad(part[0].sum(), list(net.parameters()), allow_unused=True)
        for a, b in zip(g_full, g_part):
            if a is not None:
                torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_patience_stops_the_hold_out_training(open_set):
    X, y = open_set.X_train[:800], open_set.y_train[:800]
    training = TrainingSettings(epochs=200)
    full = HiLander(training=training, random_state=0).fit(X, y)
    short = HiLander(training=training, selection=SelectionSettings(patience=2),
                     random_state=0).fit(X, y)
    # 2 evaluations (50 steps) without a gain in held-out link AUC end the hold-out pass
    # (each cross-fitting fold trains with the same patience; fold 0 shown)
    f_full, f_short = full.selection_["folds"][0], short.selection_["folds"][0]
    assert f_short["steps"] < f_full["steps"]
    assert f_short["steps"] <= f_short["best_step"] + 2 * 25
    assert f_short["best_step"] <= f_full["best_step"]


def test_parameter_validation_at_fit(open_set):
    X, y = open_set.X_train[:200], open_set.y_train[:200]
    for bad, match in [({"n_neighbors": 0}, "'n_neighbors' parameter"),
                       ({"decoding": {"tau": 1.5}}, "'tau' parameter of HiLander.decoding"),
                       ({"decoding": "peek"}, "'decoding' parameter of HiLander"),
                       ({"decoding": {"tau": 0.5, "rule": "x"}}, "unexpected keyword"),
                       ({"recipe": "mlp"}, "'recipe' parameter"),
                       ({"aggregation": "max"}, "'aggregation' parameter"),
                       ({"training": TrainingSettings(epochs=0)},
                        "'epochs' parameter of HiLander.training"),
                       ({"training": {"epochs": 0}}, "'epochs' parameter of HiLander.training"),
                       ({"selection": SelectionSettings(tau_grid=())},
                        "'tau_grid' parameter of HiLander.selection must be a non-empty"),
                       ({"selection": 3}, "'selection' parameter"),
                       ({"n_neighbors": 5, "decoding": DecodingSettings(0.5)},
                        "decoding n_neighbors=10 differs from the model's n_neighbors=5"),
                       ({"device": "tpu"}, "device must be")]:
        with pytest.raises(InputError, match=match) as err:
            HiLander(**bad).fit(X, y)
        assert "\n" not in str(err.value)


def test_bad_fit_and_predict_inputs(open_set, trained):
    X, y = open_set.X_train[:200], open_set.y_train[:200]
    with pytest.raises(InputError, match="single class"):
        HiLander().fit(X, np.zeros(200))
    with pytest.raises(InputError, match="199 labels"):
        HiLander().fit(X, y[:199])
    with pytest.raises(InputError, match="NaN"):
        Xn = X.copy()
        Xn[5, 1] = np.nan
        HiLander().fit(Xn, y)
    with pytest.raises(InputError, match="not fitted"):
        HiLander().predict(X)
    with pytest.raises(InputError, match="32 features but the model was trained on 64"):
        trained.predict(X[:, :32])
    with pytest.raises(InputError, match="needs at least 11"):  # k=10
        trained.predict(X[:5])
    with pytest.raises(InputError, match="empty"):
        trained.predict(np.zeros((0, 64)))


def test_identical_and_zero_vectors_do_not_crash(trained):
    for X in (np.zeros((40, 64), np.float32), np.ones((40, 64), np.float32)):
        labels = trained.predict(X)
        assert labels.shape == (40,)


def _split_old_new(open_set, frac=0.2, seed=0):
    perm = np.random.default_rng(seed).permutation(len(open_set.y_test))
    cut = int(len(perm) * frac)
    return perm[cut:], perm[:cut]


def test_assign_puts_new_points_of_known_identities_in_their_clusters(open_set, trained):
    old, new = _split_old_new(open_set)
    res = trained.cluster(open_set.X_test[old])
    labels_new = trained.assign(open_set.X_test[new], res)
    y_old, y_new = open_set.y_test[old], open_set.y_test[new]
    # ground truth via the old points: the cluster most old points of each identity went to
    # (not the majority identity of a cluster, which misses points of identities the earlier
    # run merged into a larger one)
    home = {t: np.bincount(res.labels[y_old == t]).argmax() for t in np.unique(y_old)}
    joined = labels_new < res.n_clusters
    assert joined.mean() > 0.9
    hit = np.array([home.get(t) == c for c, t in zip(labels_new[joined], y_new[joined])])
    assert hit.mean() > 0.95, hit.mean()
    # the earlier run is untouched, and its clusters are reused rather than renumbered
    assert np.array_equal(res.labels, trained.cluster(open_set.X_test[old]).labels)
    # a random assignment would hit far less often
    rand = np.random.default_rng(1).integers(0, res.n_clusters, joined.sum())
    assert np.mean([home.get(t) == c for c, t in zip(rand, y_new[joined])]) < 0.5


def test_assign_opens_new_clusters_for_unseen_identities(open_set, trained):
    trained = _variant(trained, decoding="peak")  # the rule assign replays exactly
    y = open_set.y_test
    big = np.bincount(y).argsort()[::-1]
    unseen = np.isin(y, big[:2])            # two whole identities held out of the first run
    # where the re-run's merges are all links from the new points (the rule assign replays),
    # the two agree; between these thresholds the re-run also merges old super-nodes into new
    # ones at upper levels, which assign does not replay (it opens new clusters instead)
    for tau in (0.3, 0.95):
        res = trained.cluster(open_set.X_test[~unseen], tau=tau)
        labels_new = trained.assign(open_set.X_test[unseen], res)
        opened = labels_new >= res.n_clusters
        # as many unseen points stay apart from the old clusters as in a full re-run
        full = trained.cluster(open_set.X_test, tau=tau).labels
        apart = ~np.isin(full[unseen], full[~unseen])
        assert abs(opened.mean() - apart.mean()) < 0.1, (tau, opened.mean(), apart.mean())
    assert opened.mean() > 0.8, opened.mean()  # at 0.95 the unseen identities stay apart
    # the held-out identities do not collapse into one new cluster
    assert len(np.unique(labels_new[opened])) >= 2
    assert np.array_equal(np.unique(labels_new[opened]),
                          res.n_clusters + np.arange(len(np.unique(labels_new[opened]))))


def test_result_save_load_roundtrip_feeds_assign(tmp_path, open_set, trained):
    old, new = _split_old_new(open_set, seed=2)
    res = trained.cluster(open_set.X_test[old])
    path = tmp_path / "run.npz"
    res.save(path)
    back = HierarchyResult.load(path)
    assert np.array_equal(back.labels, res.labels) and back.tau == res.tau
    assert all(np.array_equal(a, b) for a, b in zip(back.level_peaks, res.level_peaks))
    assert all(np.allclose(a, b) for a, b in zip(back.level_density, res.level_density))
    a = trained.assign(open_set.X_test[new], res)
    b = trained.assign(open_set.X_test[new], back)
    assert np.array_equal(a, b)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a hilander result file"):
        HierarchyResult.load(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="32 features"):
        trained.assign(open_set.X_test[new][:, :32], res)


def test_l2_normalize_reads_a_memory_map_in_blocks(tmp_path, monkeypatch):
    from hilander import _validation

    rng = np.random.default_rng(0)
    X = (3.0 * rng.standard_normal((500, 8))).astype(np.float32)
    X[7] = 0.0
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(_validation, "_row_block", lambda X: 64)  # several blocks
    out = _validation.l2_normalize(mm, copy=False)
    assert out.dtype == np.float32 and out.flags.writeable
    expected = (X / np.maximum(np.linalg.norm(X.astype(np.float64), axis=1,
                                              keepdims=True), 1e-12)).astype(np.float32)
    np.testing.assert_array_equal(out, expected)
    assert (out[7] == 0).all()
    # pages dropped from a read-only map come back unchanged on the next read
    _validation.release_pages(mm)
    np.testing.assert_array_equal(np.asarray(mm), X)
    # already unit rows: the map itself, not a copy
    np.save(tmp_path / "u.npy", expected)
    unit = np.load(tmp_path / "u.npy", mmap_mode="r")
    assert _validation.l2_normalize(unit, copy=False) is unit


def test_cross_fitted_selection_scores_every_identity_at_once(open_set, trained):
    sel = trained.selection_
    assert sel["mode"] == "cross-fitted" and len(sel["folds"]) == trained.selection.cv == 3
    # the folds partition the 80 training identities; every one is scored, all at once
    assert sum(f["classes"] for f in sel["folds"]) == sel["held_out_classes"] == 80
    assert sum(f["points"] for f in sel["folds"]) == sel["held_out_points"] == \
        open_set.y_train.size
    # each fold kept the checkpoint of best link AUC on its own identities
    for f in sel["folds"]:
        assert dict(f["link_auc_curve"])[f["best_step"]] == max(
            score for _, score in f["link_auc_curve"])
    # the choice one fold alone would have made is recorded only on request (see
    # test_one_fold_choice_is_recorded_on_request)
    assert "one_fold" not in sel


def test_cross_fitted_scores_come_from_the_network_that_never_saw_the_identity(open_set):
    from hilander.datasets.splits import identity_folds
    from hilander.graph import build_knn_graph
    from hilander.lander import LanderNet
    from hilander.lander.network import CrossFittedNet

    X = open_set.X_train[:600]
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    folds = identity_folds(open_set.y_train[:600], 3, seed=0)
    assert all(np.unique(folds[open_set.y_train[:600] == c]).size == 1
               for c in np.unique(open_set.y_train[:600]))
    torch.manual_seed(0)
    nets = [LanderNet(64, 16).eval() for _ in range(3)]
    for net in nets:
        torch.nn.init.normal_(net.head.mlp[-1].weight)  # three different scorers
    g = build_knn_graph(X, 8)
    x = torch.from_numpy(X.astype(np.float32))
    rep = np.arange(600)[::-1].copy()  # node i holds point 599 - i's identity
    p, dens = CrossFittedNet(nets, folds).routed(rep).predict(x, g.indices, g.similarities)
    for f, net in enumerate(nets):
        rows = folds[rep] == f
        pf, df = net.predict(x, g.indices, g.similarities)
        np.testing.assert_array_equal(p[rows], pf[rows])
        np.testing.assert_allclose(dens[rows], df[rows], rtol=1e-6)


@pytest.mark.parametrize("decoding,tau,upper,resolution", [
    ("leiden", 0.0, 0.5, 3e-3), ("infomap", 0.7, 0.5, None), ("cpm", 0.05, 0.05, None),
    ("average", 0.5, 0.5, None)])
def test_partition_decodings_recover_the_identities(open_set, trained, decoding, tau, upper,
                                                     resolution):
    model = _variant(trained, decoding=decoding, tau=tau, tau_upper=upper,
                     resolution=resolution)
    result = model.cluster(open_set.X_test)
    s = evaluate(open_set.y_test, result.labels)
    assert avg_f(s) > 0.9, (decoding, s)
    # the hierarchy stays on top: levels are nested, each a partition of the one below
    for fine, coarse in zip(result.level_labels, result.level_labels[1:]):
        pairs = np.unique(np.stack([fine, coarse]), axis=1)
        assert len(np.unique(pairs[0])) == pairs.shape[1]


def test_the_level_cache_changes_no_label(open_set, trained):
    from hilander.lander import run_hierarchy

    X = open_set.X_test / np.linalg.norm(open_set.X_test, axis=1, keepdims=True)
    cache: dict = {}
    base = trained.settings_.replace(decoding="peak")
    runs = [base.replace(tau=t, tau_upper=u) for t in (0.3, 0.6) for u in (0.2, 0.5, 0.9)]
    runs += [base.replace(decoding="average", tau=0.5, tau_upper=0.5), runs[0]]
    for settings in runs:
        cached = run_hierarchy(trained.model_, X, settings, cache=cache)
        fresh = run_hierarchy(trained.model_, X, settings)
        for a, b in zip(cached.level_labels, fresh.level_labels, strict=True):
            np.testing.assert_array_equal(a, b)
    # level 1 once, and level 2 once per level-1 grouping: far fewer than the runs' levels
    assert len(cache) < sum(run_hierarchy(trained.model_, X, s).n_levels for s in runs)


def test_infomap_and_leiden_partition_level_one_only(open_set, trained):
    # on the small dense graph of super-nodes the map equation merged every identity into one
    # cluster (80% of the test points: 33 super-nodes -> 1); the peak rule decodes those levels
    from hilander.lander import DecodingSettings

    s = DecodingSettings(tau=0.7, tau_upper=0.5, decoding="infomap")
    assert [s.decoding_at(level) for level in (1, 2, 3)] == ["infomap", "peak", "peak"]
    assert s.replace(decoding="cpm").decoding_at(2) == "cpm"
    old, _ = _split_old_new(open_set)
    model = _variant(trained, decoding="infomap", tau=0.7, tau_upper=0.7)
    result = model.cluster(open_set.X_test[old])
    assert result.n_clusters >= 15
    assert avg_f(evaluate(open_set.y_test[old], result.labels)) > 0.9


def test_refit_trains_one_network_on_every_identity(open_set):
    X, y = open_set.X_train[:800], open_set.y_train[:800]
    training = TrainingSettings(epochs=3)
    kept = HiLander(training=training, selection=SelectionSettings(cv=2, refit=False),
                    random_state=0).fit(X, y)
    refit = HiLander(training=training, selection=SelectionSettings(cv=2),
                     random_state=0).fit(X, y)
    # without the re-fit the model is fold 0's network, trained without that fold's identities
    assert kept.model_ is kept.crossfit_.nets[0] and "refit" not in kept.timings_
    # with it, a new network trained on all identities for the folds' median best step;
    # the choice of decoding is the same (it was made before the re-fit)
    assert refit.model_ is not refit.crossfit_.nets[0] and refit.timings_["refit"] > 0
    assert refit.settings_ == kept.settings_
    steps = int(np.median([f["best_step"] for f in refit.selection_["folds"]]))
    assert len(refit.history_) == steps
