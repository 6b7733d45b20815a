"""Benchmark orchestration and the ``hilander bench`` command, on small synthetic data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hilander import InputError
from hilander.cli import main
from hilander.study import bench as bench_mod
from hilander.study.bench import (
    BaselineRunner,
    BenchData,
    Clustering,
    MethodRunner,
    Prepared,
    make_setting,
    parse_settings,
    resolve_methods,
    run_benchmark,
)


def blobs(n_classes: int, size: int, offset: int, seed: int, dim: int = 32):
    """Tight, well-separated classes: any sensible method finds them exactly."""
    rng = np.random.default_rng(seed)
    centers = np.linalg.qr(rng.normal(size=(dim, dim)))[0][:n_classes]
    y = np.repeat(np.arange(n_classes), size) + offset
    X = centers[y - offset] + 0.02 * rng.normal(size=(y.size, dim))
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def data() -> BenchData:
    Xtr, ytr = blobs(8, 15, 0, 1)
    Xva, yva = blobs(10, 20, 100, 2)
    Xte, yte = blobs(10, 20, 200, 3)
    return BenchData(Xtr, ytr, Xva, yva, 5 * Xte, yte, dataset="blobs")


class Perfect(MethodRunner):
    """Looks the true label up by point: scores 1 everywhere (a stand-in for a real model)."""

    name, kind = "perfect", "supervised"

    def prepare(self, data, seed, log):
        self.lookup = {row.tobytes(): lab for row, lab in zip(data.X_test, data.y_test,
                                                              strict=True)}
        return Prepared({"k": 3}, {"best_avg_f": 1.0, "n_trials": 1}, 0.0, 2.5)

    def cluster(self, X):
        return Clustering(np.array([self.lookup[r.tobytes()] for r in X]), 0.25)


class Refuses(MethodRunner):
    name = "refuses"

    def prepare(self, data, seed, log):
        raise InputError("needs O(n^2) memory: limit 10 points")


class Crashes(MethodRunner):
    name = "crashes"

    def prepare(self, data, seed, log):
        return Prepared({})

    def cluster(self, X):
        raise RuntimeError("boom")


def test_bench_data_normalises_and_checks(data):
    assert np.allclose(np.linalg.norm(data.X_test, axis=1), 1, atol=1e-5)
    Xtr, ytr = blobs(3, 4, 0, 0)
    with pytest.raises(InputError, match="same width"):
        BenchData(Xtr, ytr, Xtr, ytr, Xtr[:, :5], ytr)
    with pytest.raises(InputError, match="y_val has 11 labels"):
        BenchData(Xtr, ytr, Xtr, ytr[:11], Xtr, ytr)


def test_settings():
    assert parse_settings("both") == ("natural", "longtail")
    assert parse_settings(["longtail", "natural", "longtail"]) == ("longtail", "natural")
    with pytest.raises(InputError, match="natural, longtail or both"):
        parse_settings("shifted")
    X, y = blobs(20, 10, 0, 0)
    Xn, yn, _ = make_setting("natural", X, y)
    assert Xn is X and yn is y
    Xl, yl, desc = make_setting("longtail", X, y, seed=4)
    Xl2, yl2, _ = make_setting("longtail", X, y, seed=4)
    assert np.array_equal(yl, yl2) and np.array_equal(Xl, Xl2)  # deterministic
    sizes = np.bincount(yl, minlength=20)
    # a subsample with every class kept, sizes spread from 1 up to the full 10
    assert (sizes >= 1).all() and sizes.max() == 10 and sizes.min() < 5 and yl.size < y.size
    assert f"class sizes {sizes.min()}-10" in desc


def test_resolve_methods():
    runners, notes = resolve_methods("kmeans, hac")
    assert [r.name for r in runners] == ["kmeans", "hac"] and notes == []
    assert [r.display_name for r in runners] == ["k-Means", "HAC"]
    with pytest.raises(InputError, match="unknown method 'nope'.*kmeans"):
        resolve_methods("kmeans,nope")
    with pytest.raises(InputError, match="listed twice"):
        resolve_methods(["hac", "hac"])
    with pytest.raises(InputError, match="no method"):
        resolve_methods(" , ")
    with pytest.raises(InputError, match="unknown Hi-LANDER parameter"):
        resolve_methods("hilander", hilander_params={"epoch": 3})


def test_run_benchmark_records_scores_skips_and_failures(data, capsys):
    rec = run_benchmark(data, [Perfect(), Refuses(), Crashes()], seed=0)
    assert [s.setting for s in rec.settings] == ["natural", "longtail"]
    nat, lt = rec.settings
    assert nat.n_samples == 200 and nat.n_classes == 10 and lt.n_samples < 200
    perfect, refused, crashed = nat.methods
    assert perfect.ok and perfect.avg_f == 1.0 and perfect.metrics["n_clusters"] == 10
    assert (perfect.seconds, perfect.train_seconds, perfect.params) == (0.25, 2.5, {"k": 3})
    assert lt.methods[0].metrics["n_clusters"] == lt.n_classes
    assert (refused.status, refused.reason) == ("skipped", "needs O(n^2) memory: limit 10 points")
    assert (crashed.status, crashed.reason) == ("failed", "RuntimeError: boom")
    assert "RuntimeError: boom" in capsys.readouterr().err  # the traceback is not swallowed
    assert rec.versions["numpy"] == np.__version__ and rec.total_seconds > 0


def test_baseline_is_tuned_on_validation_only(data):
    # validation has 10 classes of 20: the k-means grid's 10 wins there and is then applied
    # unchanged to test, whose 10 classes it recovers exactly
    rec = run_benchmark(data, [BaselineRunner("kmeans", grid={"n_clusters": [2, 10, 40]})],
                        settings="natural")
    (km,) = rec.settings[0].methods
    assert km.params == {"n_clusters": 10, "random_state": 0}
    assert km.tuning["n_trials"] == 3 and km.tuning["best_avg_f"] == pytest.approx(1.0)
    assert [t["params"]["n_clusters"] for t in km.tuning["trials"]] == [2, 10, 40]
    assert km.metrics["ari"] == pytest.approx(1.0) and km.tune_seconds > 0


def test_hilander_runner_reports_levels(data):
    rec = run_benchmark(data, "hilander", settings="natural",
                        hilander_params={"epochs": 2, "n_neighbors": 5,
                                         "tau_grid": (0.5, 0.9)})
    s = rec.settings[0]
    (hl,) = s.methods
    assert hl.ok, hl.reason
    from hilander.lander.selection import CPM_GRID, SIMILARITY_GRID

    grid = {"similarity": SIMILARITY_GRID, "cpm": CPM_GRID,
            "leiden": (0.0, 0.5, 0.9)}.get(hl.params["decoding"], (0.5, 0.9))
    assert hl.params["tau"] in grid and hl.params["n_neighbors"] == 5 and hl.train_seconds > 0
    # chosen by the cross-fitted selection over the labeled identities: p_tau for all levels
    # (2), upper levels (2), level 1 again (2), LANDER (2), the similarity decoding (11),
    # Infomap (2), Leiden's resolution (7) then its p_tau (2), CPM (8), average linkage (2),
    # lone points kept or attached (2)
    assert hl.tuning["n_trials"] == 42 and hl.tuning["model_params"]["epochs"] == 2
    assert hl.tuning["mode"] == "cross-fitted"
    # the selection saw train and validation together: 8 + 10 identities
    assert hl.tuning["selection"]["held_out_classes"] == 18
    assert s.level_curve is not None and len(s.level_curve.levels) >= 1
    assert s.level_curve.converged_level == len(s.level_curve.levels)
    assert hl.details["converged_level"] == s.level_curve.converged_level
    assert hl.details["n_levels"] >= 1 and hl.details["timings"]["total"] > 0
    # the record explains the result: link AUC vs cosine per level, and an ORACLE p_tau curve
    diag = hl.details["diagnosis"]
    lv1 = diag["levels"][0]
    assert lv1["nodes"] == len(data.y_test) and diag["tau_curve"]
    if 0 < lv1["positive_share"] < 1:  # AUC needs both kinds of edge
        assert 0 <= lv1["auc_p"] <= 1 and 0 <= lv1["auc_cosine"] <= 1
    else:
        assert np.isnan(lv1["auc_p"])
    assert all(row["oracle"] for row in diag["tau_curve"])
    assert s.hierarchy is not None and len(s.hierarchy.class_sizes) == 3


def test_cli_writes_report(tmp_path, data, monkeypatch):
    monkeypatch.setattr(bench_mod, "load_bench_data", lambda name, *a, **k: data)
    out = tmp_path / "rep"
    rc = main(["bench", "blobs", "--data-dir", str(tmp_path), "--out", str(out),
               "--methods", "finch", "--setting", "natural", "--quiet"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"avg_f.png", "record.json", "report.md"}
    rec = json.loads((out / "record.json").read_text())
    assert rec["command"].startswith(f"hilander bench blobs --data-dir {tmp_path} --out {out}")
    assert rec["settings"][0]["methods"][0]["name"] == "finch"
    assert rec["settings"][0]["methods"][0]["avg_f"] == pytest.approx(1.0)


def test_cli_rejects_bad_input(tmp_path, capsys):
    assert main(["bench", "blobs", "--data-dir", str(tmp_path / "no"), "--out", "x"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["bench", "blobs", "--data-dir", str(tmp_path), "--out", "x",
                 "--methods", "kmeans,bogus"]) == 2
    assert "unknown method 'bogus'" in capsys.readouterr().err


def test_n_clusters_carries_over_as_mean_cluster_size():
    # validation: 10 classes of 20 -> 10 clusters (mean size 20); test: 20 classes of 20,
    # so the count is scaled to 20 by the test size alone and the test classes are recovered
    Xva, yva = blobs(10, 20, 100, 2)
    Xte, yte = blobs(20, 20, 200, 3)
    data = BenchData(Xva, yva, Xva, yva, Xte, yte)
    runner = BaselineRunner("kmeans", grid={"n_clusters": [5, 10, 40]})
    rec = run_benchmark(data, [runner], settings="natural")
    (km,) = rec.settings[0].methods
    assert km.tuning["val_params"]["n_clusters"] == 10 and km.tuning["mean_cluster_size"] == 20
    assert km.params["n_clusters"] == 20 and km.metrics["ari"] == pytest.approx(1.0)
    assert runner.params_for(30)["n_clusters"] == 2 and runner.params_for(3)["n_clusters"] == 1
    fixed = BaselineRunner("kmeans", grid={"n_clusters": [5, 10, 40]}, scale_with_n=False)
    (km,) = run_benchmark(data, [fixed], settings="natural").settings[0].methods
    assert km.params["n_clusters"] == 10 and km.metrics["n_clusters"] == 10


def test_load_bench_data_reads_embedded_splits(monkeypatch):
    import hilander.study.embeddings as embed_mod

    class Embedded(dict):
        split = {"n_items": {"test": 200}, "rule": "by alphabet"}
        recall_at_1 = {"test": {"l2_normalized": 0.9, "unnormalized": 0.8}}
        info = {"train_seconds": 3.0, "history": [1, 2, 3]}
        config = {"epochs": 15}

    parts = {n: blobs(4, 5, 10 * i, i) for i, n in enumerate(
        ["backbone_train", "clustering_train", "validation", "test"])}
    seen = {}

    def fake(name, data_dir, **kw):
        seen.update(kw, name=name)
        return Embedded(parts)

    monkeypatch.setattr(embed_mod, "embed_dataset", fake)
    d = bench_mod.load_bench_data("omniglot", "dir", cache_dir="c", seed=3, progress=False)
    assert seen == {"name": "omniglot", "cache_dir": "c", "seed": 3, "progress": False}
    assert np.array_equal(d.y_train, parts["clustering_train"][1])
    assert np.array_equal(d.y_val, parts["validation"][1])
    assert np.array_equal(d.y_test, parts["test"][1]) and d.dataset == "omniglot"
    assert d.split["rule"] == "by alphabet"
    assert d.embedding["info"] == {"train_seconds": 3.0}  # the per-epoch history is left out
    assert d.embedding["recall_at_1"]["test"]["l2_normalized"] == 0.9
