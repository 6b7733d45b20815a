"""AutoCluster / ``hilander auto``: choice on all labeled identities (cross-fitted where a method
learns), persistence, CLI, bench row."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hilander import AutoCluster
from hilander._validation import InputError
from hilander.cli import main
from hilander.datasets import make_open_set
from hilander.datasets.splits import identity_folds
from hilander.metrics import avg_f, evaluate
from hilander.persistence import load_model
from hilander.study.bench import AutoRunner, BenchData, run_benchmark

CANDIDATES = ["kmeans", "infomap", "cdp"]


@pytest.fixture(scope="module")
def domain():
    # moderate class sizes on both sides: what is learnt on held-out identities should carry
    return make_open_set(40, 15, test_sizes="moderate", separation=1.5, seed=5)


@pytest.fixture(scope="module")
def fitted(domain):
    return AutoCluster(CANDIDATES, random_state=0, verbose=False).fit(domain.X_train,
                                                                      domain.y_train)


def test_folds_take_whole_identities_and_balance_points():
    sizes = np.array([40, 3, 3, 3, 20, 10, 10, 5, 5, 1])
    y = np.repeat(np.arange(10), sizes)
    folds = identity_folds(y, 3, seed=0)
    for c in range(10):  # no identity is split
        assert np.unique(folds[y == c]).size == 1
    load = np.bincount(folds, minlength=3)
    assert load.sum() == sizes.sum() and load.max() <= 40
    assert np.array_equal(folds, identity_folds(y, 3, seed=0))
    assert not np.array_equal(folds, identity_folds(y, 3, seed=1))
    with pytest.raises(InputError, match="at least 4"):
        AutoCluster(CANDIDATES).fit(np.eye(15, 6), np.repeat(np.arange(3), 5))


def test_auto_picks_the_best_validation_row_and_clusters_new_identities(fitted, domain):
    rows = {r["method"]: r for r in fitted.table_}
    assert set(rows) == set(CANDIDATES)
    assert all(r["status"] == "ok" and r["seconds"] > 0 for r in rows.values())
    best = max(rows.values(), key=lambda r: r["avg_f"])
    assert fitted.winner_ == best["method"] and fitted.val_avg_f_ == best["avg_f"]
    assert fitted.params_ == best["params"]
    # every labeled identity is scored at once: the scale new data comes at
    assert fitted.n_val_ == domain.y_train.size
    labels = fitted.predict(domain.X_test)
    score = avg_f(evaluate(domain.y_test, labels))
    assert fitted.val_avg_f_ >= 0.8 and score >= 0.75, (fitted.table(), score)
    assert "winner: " + fitted.winner_ in fitted.table()


def test_save_load_round_trip(fitted, domain, tmp_path):
    path = tmp_path / "auto.pt"
    fitted.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, AutoCluster) and loaded.winner_ == fitted.winner_
    assert loaded.table_ == fitted.table_
    assert np.array_equal(loaded.predict(domain.X_test), fitted.predict(domain.X_test))
    assert AutoCluster.load(path).params_ == fitted.params_


def test_learnt_winner_is_refit_and_saved(domain, tmp_path):
    # Hi-LANDER alone: it wins by default, is re-fitted on all identities and travels nested
    auto = AutoCluster(["hilander"],
                       learnt_params={"hilander": {"training": {"epochs": 3},
                                                   "n_neighbors": 5}},
                       verbose=False).fit(domain.X_train, domain.y_train)
    (row,) = auto.table_
    assert auto.winner_ == "hilander" and row["kind"] == "learnt"
    assert row["params"]["training"] == {"epochs": 3} and auto.model_._training().epochs == 3
    # the re-fit chose its own decoding on held-out identities
    assert 0 <= auto.model_.settings_.tau <= 1
    assert auto.model_.selection_["chosen"]["tau"] == auto.model_.settings_.tau
    auto.save(tmp_path / "hl.pt")
    again = load_model(tmp_path / "hl.pt")
    assert np.array_equal(again.predict(domain.X_test), auto.predict(domain.X_test))


def test_time_budget_skips_and_says_so(domain):
    auto = AutoCluster(["kmeans", "hilander"], time_budget=1e-4, verbose=False,
                       learnt_params={"hilander": {"training": {"epochs": 2},
                                                   "n_neighbors": 5}})
    with pytest.raises(InputError, match="no candidate") as err:
        auto.fit(domain.X_train, domain.y_train)
    assert "time budget" in str(err.value)
    # a generous budget keeps the cheap method
    auto = AutoCluster(["cdp"], time_budget=600, verbose=False).fit(domain.X_train,
                                                                     domain.y_train)
    assert auto.winner_ == "cdp"


def test_bad_input(domain):
    X, y = domain.X_train, domain.y_train
    with pytest.raises(InputError, match="unknown method 'nope'"):
        AutoCluster(["nope"], verbose=False).fit(X, y)
    with pytest.raises(InputError, match="'cv' parameter"):
        AutoCluster(CANDIDATES, cv=1).fit(X, y)
    with pytest.raises(InputError, match="time_budget"):
        AutoCluster(CANDIDATES, time_budget=-1).fit(X, y)
    with pytest.raises(InputError, match="NaN"):
        AutoCluster(CANDIDATES).fit(np.where(np.eye(len(y), X.shape[1]) > 0, np.nan, X), y)
    with pytest.raises(InputError, match="labels"):
        AutoCluster(CANDIDATES).fit(X, y[:-1])
    with pytest.raises(InputError, match="not fitted"):
        AutoCluster().predict(X)
    with pytest.raises(InputError, match="learnt"):
        AutoCluster(learnt_params={"kmeans": {}}).fit(X, y)


def test_cli_auto_then_cluster(domain, tmp_path, capsys):
    np.save(tmp_path / "X.npy", domain.X_train)
    np.save(tmp_path / "y.npy", domain.y_train)
    np.save(tmp_path / "T.npy", domain.X_test)
    rc = main(["auto", str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), "--out",
               str(tmp_path / "m.pt"), "--methods", "kmeans,cdp", "--quiet",
               "--table-out", str(tmp_path / "table.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "winner:" in out and "kmeans" in out and "cdp" in out
    table = json.loads((tmp_path / "table.json").read_text())
    assert {r["method"] for r in table["table"]} == {"kmeans", "cdp"}
    assert main(["cluster", str(tmp_path / "m.pt"), str(tmp_path / "T.npy"), "--out",
                 str(tmp_path / "pred.npy"), "--quiet"]) == 0
    pred = np.load(tmp_path / "pred.npy")
    model = load_model(tmp_path / "m.pt")
    assert np.array_equal(pred, model.predict(domain.X_test))
    assert main(["auto", str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), "--out",
                 str(tmp_path / "m2.pt"), "--methods", "nope", "--quiet"]) == 2
    assert "hilander: error: unknown method 'nope'" in capsys.readouterr().err


def test_bench_auto_row_matches_the_best_single_row():
    rng = np.random.default_rng(0)

    def blobs(n, size, offset):
        centers = np.linalg.qr(rng.normal(size=(32, 32)))[0][:n]
        y = np.repeat(np.arange(n), size) + offset
        return (centers[y - offset] + 0.02 * rng.normal(size=(y.size, 32))).astype(
            np.float32), y

    # identities of one size everywhere: a count tuned on the labeled identities carries to
    # test as their mean size (with 15-point training blobs it gave 11 clusters for 10)
    data = BenchData(*blobs(8, 20, 0), *blobs(10, 20, 100), *blobs(10, 20, 200),
                     dataset="blobs")
    rec = run_benchmark(data, ["kmeans", "cdp", AutoRunner(methods=["kmeans", "cdp"])],
                        settings="natural")
    rows = {m.name: m for m in rec.settings[0].methods}
    auto = rows["auto"]
    assert auto.ok and auto.kind == "auto", auto.reason
    winner = auto.params["winner"]
    assert winner in ("kmeans", "cdp")
    # auto tunes its candidates on every labeled identity (train and validation: 18 blobs),
    # the rows on validation alone (10): both recover these blobs on test
    assert auto.tuning["mode"] == "all labeled identities"
    assert auto.avg_f >= max(rows["kmeans"].avg_f, rows["cdp"].avg_f) - 0.01
    assert [c["method"] for c in auto.tuning["candidates"]] == ["kmeans", "cdp"]
    # the report gives each row's selection score and the gap to its test score
    assert rows["kmeans"].tuning["best_avg_f"] > 0.9 and auto.tuning["best_avg_f"] > 0.9


def test_supervised_candidates_are_cross_fitted_over_identity_folds(domain):
    from hilander.methods import make

    X, y = domain.X_train, domain.y_train
    quick = {"epochs": 2, "hidden": 16}
    auto = AutoCluster(["gcn_v"], learnt_params={"gcn_v": quick}, verbose=False).fit(X, y)
    (row,) = auto.table_
    assert row["status"] == "ok" and auto.n_val_ == y.size  # every identity was scored
    # the score is that of the union of the folds, each clustered by the network trained on
    # the other folds (identity-disjoint), at the chosen threshold
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    codes = np.unique(y, return_inverse=True)[1]
    folds = identity_folds(codes, 3, 0)
    labels = np.empty(y.size, dtype=np.int64)
    offset = 0
    for f in range(3):
        held = folds == f
        assert not np.isin(codes[held], codes[~held]).any()
        model = make("gcn_v", random_state=0, **quick).fit(Xn[~held], codes[~held])
        part = model.set_params(tau=auto.params_["tau"]).predict(Xn[held])
        labels[held] = part + offset
        offset += int(part.max()) + 1
    assert row["avg_f"] == pytest.approx(avg_f(evaluate(codes, labels)))
    # the winner is then fitted on every identity
    assert auto.model_.n_features_in_ == X.shape[1] and auto.refit_seconds_ > 0


def test_cluster_counts_are_searched_around_the_labeled_identity_count(domain):
    from hilander.tune import identity_count_grid

    assert identity_count_grid(75, 11250) == [38, 52, 64, 75, 90, 105, 150]
    assert identity_count_grid(3, 10) == [2, 3, 4, 6]  # clipped to at least 2, duplicates once
    auto = AutoCluster("kmeans", random_state=0, verbose=False).fit(domain.X_train,
                                                                    domain.y_train)
    n_ids = np.unique(domain.y_train).size
    assert auto.params_["n_clusters"] in identity_count_grid(n_ids, domain.y_train.size)
    # the 40 blob identities are recovered at (or next to) their own count
    assert 0.7 * n_ids <= auto.params_["n_clusters"] <= 1.4 * n_ids
