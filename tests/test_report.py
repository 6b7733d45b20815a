"""Report writer: tables, figures and the JSON record, on hand-made results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from hilander import InputError
from hilander.datasets import make_open_set
from hilander.metrics import evaluate
from hilander.study.report import (
    SKIPPED,
    BenchRecord,
    LevelCurve,
    MethodResult,
    SettingResult,
    hierarchy_snapshot,
    level_curve,
    level_table,
    params_table,
    pick_classes,
    plot_avg_f,
    plot_hierarchy,
    plot_levels,
    record_dict,
    results_table,
    write_report,
)

Y = np.array([0, 0, 0, 0, 1, 1, 2, 2])


def method(name, pred, kind="unsupervised", **kw) -> MethodResult:
    return MethodResult(name, name.upper(), kind, metrics=evaluate(Y, pred), **kw)


@pytest.fixture
def setting() -> SettingResult:
    perfect = method("hilander", Y, "supervised", seconds=0.5, train_seconds=12.0,
                     params={"k": 10, "tau": 0.9}, tuning={"best_avg_f": 0.75, "n_trials": 8})
    # every point alone: no predicted pair, so pairwise precision 1 and recall 0 -> F_P = 0
    singletons = method("solo", np.arange(8), seconds=0.01)
    one = method("one", np.zeros(8, int), seconds=123.4, params={"n_clusters": 1})
    skipped = MethodResult("spectral", "Spectral", "unsupervised", SKIPPED,
                           "needs O(n^2) memory")
    curve = level_curve(Y, [np.arange(8), np.array([0, 0, 1, 1, 2, 2, 3, 3]), Y],
                        early_stop_level=2, converged_level=3)
    return SettingResult("natural", 8, 3, "toy", [perfect, singletons, one, skipped], curve)


def test_results_table_bolds_best_and_explains_skips(setting):
    table = results_table(setting)
    lines = table.splitlines()
    assert lines[0].startswith(
        "| Method | ARI | NMI | AMI | F_P | F_B | Avg F | Sel. avg F | Gap | Time (s)")
    hil = next(line for line in lines if line.startswith("| HILANDER"))
    # the perfect partition wins every score column, and the time shows "train, test"
    assert hil.count("**1.000**") == 6
    # its selection saw 0.75: test avg F 1.0 is 0.25 above it; no selection, no gap
    assert "| 0.750 | +0.250 |" in hil
    assert "| 12.0, 0.50 |" in hil
    assert hil.endswith("| 3 |")
    solo = next(line for line in lines if line.startswith("| SOLO"))
    assert solo.split("|")[5].strip() == "0.000"  # F_P of all-singletons
    assert solo.endswith("| – | – | 0.01 | 8 |")
    one = next(line for line in lines if line.startswith("| ONE"))
    # one cluster: 28 predicted pairs, 6 + 1 + 1 = 8 true ones -> F_P = 2*(8/28)/(8/28 + 1)
    assert one.split("|")[5].strip() == f"{2 * (8 / 28) / (8 / 28 + 1):.3f}" == "0.444"
    assert "| 123 |" in one
    assert "| Spectral [1] | – |" in table
    assert "[1] Spectral skipped: needs O(n^2) memory" in table


def test_params_and_level_tables(setting):
    params = params_table(setting)
    assert "| HILANDER | k=10, tau=0.9 | 0.750 | 8 |" in params
    assert "| SOLO | defaults | – | – |" in params
    levels = level_table(setting).splitlines()
    assert levels[2] == "| 1 | 0.000 | 0.545 | 0.667 | 8 |"  # singletons, see below
    assert levels[3].startswith("| 2 (early stop) |")
    assert levels[4] == "| 3 (converged) | 1.000 | 1.000 | 1.000 | 3 |"


def test_level_curve_scores_each_level():
    # level 1 singletons: B-cubed precision 1, recall = mean(1/size of own class) = 3/8
    curve = level_curve(Y, [np.arange(8), Y])
    assert [lv["n_clusters"] for lv in curve.levels] == [8, 3]
    assert curve.levels[0]["bcubed_f"] == pytest.approx(2 * 0.375 / 1.375)
    assert curve.levels[1]["pairwise_f"] == 1.0 and curve.levels[1]["nmi"] == 1.0
    assert curve.levels[1]["level"] == 2


def test_pick_classes_spans_sizes():
    # class sizes: a=50, b=2 (too small), c=10, d=30, e=5
    y = np.repeat(["a", "b", "c", "d", "e"], [50, 2, 10, 30, 5])
    assert pick_classes(y, 3) == ["a", "d", "e"]
    assert pick_classes(y, 10) == ["a", "d", "c", "e"]
    assert pick_classes(np.array([1, 1, 2]), 3) == [1]  # nothing reaches min_size: the largest


def test_hierarchy_snapshot_keeps_peaks_of_chosen_classes():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [40, 12, 4, 1])
    X = rng.normal(size=(y.size, 8)) + 3 * np.eye(8)[y]
    level_peaks = [np.array([0, 10, 40, 45, 52, 56]), np.array([0, 40, 52, 56])]
    snap = hierarchy_snapshot(X, y, level_peaks, projection="pca", max_points=30)
    assert list(snap.class_sizes) == [0, 1, 2]  # class 3 (1 point) is too small
    assert snap.coords.shape == (30, 2) and snap.classes.shape == (30,)
    # every peak of a drawn class survives the thinning, with its class; point 56 is class 3
    assert [sorted(snap.classes[p].tolist()) for p in snap.level_peaks] == [
        [0, 0, 1, 1, 2], [0, 1, 2]]
    with pytest.raises(InputError, match="projection"):
        hierarchy_snapshot(X, y, level_peaks, projection="umap")


def _png_shape(path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path).shape


def test_plots_write_pngs(tmp_path, setting):
    other = SettingResult("longtail", 8, 3, "", setting.methods[:2])
    p = plot_avg_f([setting, other], tmp_path / "bars.png", "toy")
    h, w, _ = _png_shape(p)
    assert w > h > 200
    p = plot_levels(setting.level_curve, tmp_path / "levels.png", n_classes=3)
    assert _png_shape(p)[0] > 200
    d = make_open_set(10, 6, dim=16, max_test_size=40, seed=0)
    peaks = [np.arange(0, d.y_test.size, k) for k in (2, 6, 18)]
    snap = hierarchy_snapshot(d.X_test, d.y_test, peaks, projection="pca")
    w3 = _png_shape(plot_hierarchy(snap, tmp_path / "h3.png"))[1]
    snap.level_peaks = snap.level_peaks[:1]
    w1 = _png_shape(plot_hierarchy(snap, tmp_path / "h1.png"))[1]
    assert w3 > 1.5 * w1  # one panel per level
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "bars.png", "h1.png", "h3.png", "levels.png"]  # no temporary files left behind


def test_record_is_plain_json(setting):
    setting.methods[0].metrics["ari"] = float("nan")  # JSON has no NaN: must become null
    rec = BenchRecord("toy", 3, [setting], split={"test": {"n_samples": 8}},
                      versions={"hilander": "0.1.0"})
    d = json.loads(json.dumps(record_dict(rec), allow_nan=False))
    assert d["format"] == "hilander-bench-record" and d["seed"] == 3
    m = d["settings"][0]["methods"]
    assert m[0]["metrics"]["ari"] is None
    assert m[0]["avg_f"] == 1.0 and m[3]["avg_f"] is None
    assert m[3]["status"] == "skipped" and m[3]["reason"] == "needs O(n^2) memory"
    assert d["settings"][0]["level_curve"]["early_stop_level"] == 2


def test_write_report_folder(tmp_path, setting):
    d = make_open_set(10, 6, dim=16, max_test_size=40, seed=0)
    setting.hierarchy = hierarchy_snapshot(
        d.X_test, d.y_test, [np.arange(0, d.y_test.size, 3)], projection="pca")
    rec = BenchRecord("toy", 0, [setting], command="hilander bench toy --out x",
                      versions={"hilander": "0.1.0", "torch": "2"}, notes=["hello note"])
    paths = write_report(rec, tmp_path / "rep")
    names = sorted(p.name for p in (tmp_path / "rep").iterdir())
    assert names == ["avg_f.png", "hierarchy_natural.png", "levels_natural.png", "record.json",
                     "report.md"]
    text = paths["report"].read_text()
    assert "hilander bench toy --out x" in text
    assert "![avg F per method](avg_f.png)" in text
    assert "![scores per level](levels_natural.png)" in text
    assert "![hierarchy](hierarchy_natural.png)" in text
    assert results_table(setting) in text and "- hello note" in text
    rec_json = json.loads(paths["record"].read_text())
    assert rec_json["settings"][0]["hierarchy_peaks_per_level"] == [len(
        setting.hierarchy.level_peaks[0])]


def test_write_report_rejects_bad_targets(tmp_path, setting):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        write_report(BenchRecord("toy", 0, [setting]), tmp_path / "file")
    with pytest.raises(InputError, match="no settings"):
        write_report(BenchRecord("toy", 0, []), tmp_path / "empty")


def test_curve_without_levels_is_left_out(tmp_path):
    s = SettingResult("natural", 8, 3, methods=[method("a", Y)],
                      level_curve=LevelCurve("Hi-LANDER", []))
    paths = write_report(BenchRecord("toy", 0, [s]), tmp_path)
    assert "levels_natural" not in paths and level_table(s) == ""


def test_params_table_shows_validation_choice_and_test_value():
    r = method("km", Y, params={"n_clusters": 40, "seed": 0},
               tuning={"val_params": {"n_clusters": 10, "seed": 0}, "best_avg_f": 0.5,
                       "n_trials": 3})
    table = params_table(SettingResult("natural", 8, 3, methods=[r]))
    assert "| KM | n_clusters=10, seed=0 (on this test set: n_clusters=40) | 0.500 | 3 |" in table
