"""The tuning protocol: select on validation labels only, apply unchanged to test."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hilander import methods
from hilander._validation import InputError
from hilander.cli import main
from hilander.graph import build_knn_graph
from hilander.metrics import avg_f, evaluate
from hilander.tune import TuneResult, cluster_count_grid, default_grid, grid_search, tune_method


def blobs(n_classes, per=20, d=12, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((n_classes, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_classes), per)
    X = c[y] + noise * rng.standard_normal((len(y), d))
    return X.astype(np.float32), y


def test_grid_search_picks_best_by_avg_f_and_records_trials():
    y = np.array([0, 0, 0, 1, 1, 2])
    outputs = {
        "a": np.array([0, 0, 0, 1, 1, 2]),  # perfect
        "b": np.array([0, 0, 1, 1, 2, 2]),
        "c": np.zeros(6, dtype=int),
    }
    seen = []

    def run(params):
        seen.append(params["out"])
        return outputs[params["out"]]

    res = grid_search(run, {"out": ["c", "b", "a"]}, y)
    assert seen == ["c", "b", "a"]  # every combination ran, in order
    assert res.best_params == {"out": "a"}
    assert res.best_score == pytest.approx(1.0)
    assert [p["out"] for p, _ in res.trials] == ["c", "b", "a"]
    # hand-computed: all-in-one on sizes (3,2,1): Fp = 2*(4/15)/(1+4/15) = 8/19
    c_scores = res.trials[0][1]
    assert c_scores["pairwise_f"] == pytest.approx(8 / 19)
    assert c_scores["avg_f"] == pytest.approx(avg_f(evaluate(y, outputs["c"])))
    assert not res.oracle and res.mode == "validation"
    # every metric for the winner; the trials carry what avg F reads (AMI is the slow one)
    full = evaluate(y, outputs["a"])
    assert {k: res.best_scores[k] for k in full} == full
    assert all("ami" not in s for _, s in res.trials[:2])


def test_grid_search_product_ties_and_failures():
    y = np.array([0, 0, 1, 1])

    def run(p):
        if p["x"] == 3:
            raise InputError("x=3 is not allowed")
        return np.array([0, 0, 1, 1]) if p["y"] == "good" else np.array([0, 1, 2, 3])

    res = grid_search(run, {"x": [1, 2, 3], "y": ["bad", "good"]}, y)
    assert len(res.trials) == 6
    assert res.best_params == {"x": 1, "y": "good"}  # tie with x=2 keeps the first
    errors = [s for _, s in res.trials if "error" in s]
    assert len(errors) == 2 and "x=3" in errors[0]["error"]
    with pytest.raises(InputError, match="every grid combination failed"):
        grid_search(run, {"x": [3], "y": ["good"]}, y)
    with pytest.raises(InputError, match="no values"):
        grid_search(run, {"x": []}, y)


def test_validation_choice_is_what_gets_applied_to_test():
    # validation has 4 classes, test has 7: the honest protocol must carry n_clusters=4 over
    X_val, y_val = blobs(4, seed=1)
    X_test, y_test = blobs(7, seed=2)
    grid = {"n_clusters": [4, 7]}
    res = tune_method("kmeans", X_val, y_val, grid)
    assert res.best_params["n_clusters"] == 4 and not res.oracle
    applied = methods.make("kmeans", **res.best_params).fit_predict(X_test)
    assert np.unique(applied).size == 4
    fair = avg_f(evaluate(y_test, applied))
    # oracle tuning on the test labels picks 7 and scores higher: and says it is an oracle
    oracle = tune_method("kmeans", X_test, y_test, grid, oracle=True)
    assert oracle.best_params["n_clusters"] == 7 and oracle.oracle
    assert oracle.best_score > fair
    d = oracle.to_dict()
    assert d["oracle"] is True and d["mode"] == "oracle" and "ORACLE" in d["note"]
    assert json.loads(json.dumps(res.to_dict()))["mode"] == "validation"


def test_tune_method_graph_methods_share_one_graph(monkeypatch):
    import hilander.graph
    import hilander.methods._baseline as base

    calls = []
    real = hilander.graph.build_knn_graph

    def counting(X, k, **kw):
        calls.append(k)
        return real(X, k, **kw)

    monkeypatch.setattr(hilander.graph, "build_knn_graph", counting)
    monkeypatch.setattr(base, "build_knn_graph", counting)
    X, y = blobs(5)
    res = tune_method("cdp", X, y, {"n_neighbors": [3, 8], "threshold": [0.5, 0.9]},
                      fixed={"max_size": 1000})
    assert calls == [8]  # once, for the largest n_neighbors of the grid
    assert res.best_score >= 0.95
    assert res.best_params["max_size"] == 1000
    # fixed parameters are not searched; default grid keys not overridden still are
    assert all(p.keys() == {"n_neighbors", "threshold", "step"} for p, _ in res.trials)
    g = build_knn_graph(X, 8)
    again = tune_method("cdp", X, y, {"n_neighbors": [3, 8], "threshold": [0.5, 0.9]},
                        fixed={"max_size": 1000}, graph=g)
    assert again.best_params == res.best_params


def test_default_grids():
    for name in methods.names("unsupervised") + methods.names("supervised"):
        grid = default_grid(name)
        assert grid, name
        assert set(grid) <= set(methods.available()[name]["params"]), name
    g = default_grid("hac", n_samples=1000)
    assert g["n_clusters"] == cluster_count_grid(1000)
    assert min(g["n_clusters"]) == 20 and max(g["n_clusters"]) == 500
    with pytest.raises(InputError, match="unknown method"):
        default_grid("nope")
    X, y = blobs(3)
    with pytest.raises(InputError, match="unknown parameter"):
        tune_method("hac", X, y, {"k": [3]})


def test_tune_result_defaults_are_safe():
    r = TuneResult(best_params={"a": 1}, best_scores={"avg_f": 0.5})
    assert r.oracle is False and r.trials == []


def test_cli_tune(tmp_path, capsys):
    X, y = blobs(4)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    args = ["tune", "--method", "kmeans", "--grid", "n_clusters=2,4,6",
            str(tmp_path / "x.npy"), str(tmp_path / "y.npy")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "n_clusters=4" in out and "validation" in out and "ORACLE" not in out
    assert main(args + ["--json", "--oracle"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["best_params"] == {"n_clusters": 4} and d["oracle"] is True
    assert d["n_trials"] == 3
    assert main(args + ["--oracle"]) == 0
    assert capsys.readouterr().out.count("ORACLE") == 2
    assert main(["tune", "--method", "kmeans", "--grid", "bogus", str(tmp_path / "x.npy"),
                 str(tmp_path / "y.npy")]) == 2
    assert "key=v1,v2" in capsys.readouterr().err
