"""The command line end to end, and every bad input of the core issue."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hilander.cli import main

SMALL_TRAIN = ["--epochs", "15", "--quiet"]


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilander.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def files(tmp_path_factory, open_set):
    d = tmp_path_factory.mktemp("cli")
    np.save(d / "train.npy", open_set.X_train)
    np.savetxt(d / "train_labels.txt", open_set.y_train.astype(str), fmt="%s")
    np.save(d / "test.npy", open_set.X_test)
    np.save(d / "test_labels.npy", open_set.y_test)
    assert main(["train", str(d / "train.npy"), str(d / "train_labels.txt"),
                 "--out", str(d / "model.hlm"), "--epochs", "40", "--tau", "0.7",
                 "--quiet"]) == 0
    return d


def test_round_trip_train_cluster_evaluate(files, capsys):
    d = files
    assert main(["cluster", str(d / "model.hlm"), str(d / "test.npy"), "--out",
                 str(d / "pred.npy"), "--hierarchy-out", str(d / "levels.npy"), "--quiet"]) == 0
    pred = np.load(d / "pred.npy")
    levels = np.load(d / "levels.npy")
    assert pred.shape == (len(np.load(d / "test.npy")),)
    assert levels.ndim == 2 and np.array_equal(levels[-1], pred)
    # one summary line: clusters, seconds and this process's peak memory
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    peak = float(summary.split("peak memory ")[1].split(" GB")[0])
    assert " clusters in " in summary and 0.05 < peak < 64
    assert main(["evaluate", str(d / "pred.npy"), str(d / "test_labels.npy"), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) == {"pairwise_f", "pairwise_precision", "pairwise_recall", "bcubed_f",
                           "bcubed_precision", "bcubed_recall", "nmi", "ami", "ari",
                           "n_clusters", "n_classes"}
    assert scores["n_classes"] == 25
    assert scores["nmi"] > 0.5


@pytest.mark.parametrize("fmt", ["npz", "csv", "parquet"])
def test_feature_formats_agree(files, fmt, tmp_path):
    X = np.load(files / "test.npy")
    path = tmp_path / f"test.{fmt}"
    if fmt == "npz":
        np.savez(path, features=X)
    elif fmt == "csv":
        pd.DataFrame(X).to_csv(path, index=False)
    else:
        pd.DataFrame({"id": np.arange(len(X)), "embedding": list(X)}).to_parquet(path)
    assert main(["cluster", str(files / "model.hlm"), str(path), "--out",
                 str(tmp_path / "p.csv"), "--quiet"]) == 0
    ref = tmp_path / "ref.npy"
    main(["cluster", str(files / "model.hlm"), str(files / "test.npy"), "--out", str(ref),
          "--quiet"])
    got = np.loadtxt(tmp_path / "p.csv", dtype=np.int64)
    # csv round-trips floats through text; the partition must be the same
    from hilander.metrics import evaluate

    assert evaluate(np.load(ref), got)["ari"] > 0.99


def test_help_on_every_command():
    for cmd in ["train", "cluster", "evaluate", "demo"]:
        out = run_cli(cmd, "--help")
        assert out.returncode == 0 and "usage: hilander " + cmd in out.stdout


def _assert_clean_error(result, match, out_path=None):
    assert result.returncode == 2, result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("hilander: error:"), result.stderr
    assert match in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    if out_path is not None:
        assert not out_path.exists()
        assert not list(out_path.parent.glob(f".{out_path.name}.*"))


def test_bad_inputs_give_one_line_errors(files, tmp_path):
    d = files
    X = np.load(d / "test.npy")
    out = tmp_path / "pred.npy"
    cases = []
    nan = X.copy()
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cases.append((["cluster", d / "model.hlm", tmp_path / "nan.npy"], "NaN"))
    inf = X.copy()
    inf[0, 0] = np.inf
    np.save(tmp_path / "inf.npy", inf)
    cases.append((["cluster", d / "model.hlm", tmp_path / "inf.npy"], "infinite"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 64), np.float32))
    cases.append((["cluster", d / "model.hlm", tmp_path / "empty.npy"], "empty"))
    np.save(tmp_path / "one.npy", X[:1])
    cases.append((["cluster", d / "model.hlm", tmp_path / "one.npy"], "1 rows"))
    np.save(tmp_path / "few.npy", X[:7])
    cases.append((["cluster", d / "model.hlm", tmp_path / "few.npy"],
                  "n_neighbors=10 needs at least 11"))
    np.save(tmp_path / "dim.npy", X[:, :20])
    cases.append((["cluster", d / "model.hlm", tmp_path / "dim.npy"],
                  "20 features but the model was trained on 64"))
    (tmp_path / "corrupt.hlm").write_bytes(b"\x00garbage" * 100)
    cases.append((["cluster", tmp_path / "corrupt.hlm", d / "test.npy"], "not a hilander model"))
    import torch

    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    cases.append((["cluster", tmp_path / "foreign.pt", d / "test.npy"], "no hilander header"))
    (tmp_path / "bad.txt").write_text("not,a,matrix\n")
    cases.append((["cluster", d / "model.hlm", tmp_path / "bad.txt"], "unsupported features"))
    cases.append((["cluster", d / "model.hlm", tmp_path / "missing.npy"], "not found"))
    for argv, match in cases:
        _assert_clean_error(run_cli(*argv, "--out", out, "--quiet"), match, out)
    unwritable = tmp_path / "no_such_dir" / "pred.npy"
    _assert_clean_error(run_cli("cluster", d / "model.hlm", d / "test.npy", "--out",
                                unwritable, "--quiet"), "does not exist")


def test_bad_training_inputs(files, tmp_path):
    d = files
    X = np.load(d / "train.npy")
    model = tmp_path / "m.hlm"
    np.save(tmp_path / "y_short.npy", np.arange(len(X) - 1))
    _assert_clean_error(run_cli("train", d / "train.npy", tmp_path / "y_short.npy", "--out",
                                model, *SMALL_TRAIN), "labels but the features have", model)
    np.save(tmp_path / "y_one.npy", np.zeros(len(X), dtype=int))
    _assert_clean_error(run_cli("train", d / "train.npy", tmp_path / "y_one.npy", "--out",
                                model, *SMALL_TRAIN), "single class", model)
    _assert_clean_error(run_cli("train", d / "train.npy", d / "train_labels.txt", "--out",
                                model, "--tau", "high", *SMALL_TRAIN), "--tau", model)
    _assert_clean_error(run_cli("evaluate", d / "test_labels.npy", tmp_path / "y_one.npy"),
                        "labels but")


def test_string_labels_and_csv_predictions(files, tmp_path, capsys):
    truth = tmp_path / "truth.csv"
    truth.write_text("label\n" + "\n".join(["cat", "cat", "dog", "dog"]) + "\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("1\n1\n2\n3\n")
    assert main(["evaluate", str(pred), str(truth), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_classes"] == 2 and s["n_clusters"] == 3
    assert s["pairwise_precision"] == 1.0 and s["pairwise_recall"] == 0.5


def test_train_passes_options_on_or_rejects_them(files, tmp_path):
    from hilander.persistence import load_model

    d = files
    X, y = np.load(d / "train.npy")[:600], np.loadtxt(d / "train_labels.txt", dtype=str)[:600]
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "y.txt", y, fmt="%s")
    out = tmp_path / "gcnv.hlm"
    assert main(["train", str(tmp_path / "x.npy"), str(tmp_path / "y.txt"), "--out", str(out),
                 "--method", "gcn_v", "--k", "20", "--epochs", "5", "--tau", ".5",
                 "--quiet"]) == 0
    params = load_model(out).get_params()
    assert (params["n_neighbors"], params["epochs"], params["tau"]) == (20, 5, 0.5)
    bad = tmp_path / "bad.hlm"
    _assert_clean_error(run_cli("train", tmp_path / "x.npy", tmp_path / "y.txt", "--out", bad,
                                "--method", "lgcn", "--k", "5", "--quiet"),
                        "--k does not apply to lgcn", bad)


def test_methods_lists_supervised_ones_too():
    out = run_cli("methods")
    assert out.returncode == 0
    names = {line.split(":")[0] for line in out.stdout.splitlines()
             if line and not line.startswith((" ", "#"))}
    assert {"hilander", "lander", "auto", "gcn_v", "gcn_e", "gcn_ve", "lgcn", "star_fc",
            "kmeans", "hac"} <= names
    info = json.loads(run_cli("methods", "gcn_v", "--json").stdout)
    assert info["gcn_v"]["kind"] == "supervised" and info["gcn_v"]["params"]["n_neighbors"] == 10
    info = json.loads(run_cli("methods", "auto", "--json").stdout)
    assert info["auto"]["kind"] == "auto"


def test_cluster_tau_overrides_the_saved_threshold(files, tmp_path, capsys):
    d = files
    counts = {}
    for tau in ("0.3", None):
        out, levels = tmp_path / f"p{tau}.npy", tmp_path / f"levels{tau}.npy"
        extra = ["--tau", tau] if tau else []
        assert main(["cluster", str(d / "model.hlm"), str(d / "test.npy"), "--out", str(out),
                     "--hierarchy-out", str(levels), "--quiet", *extra]) == 0
        counts[tau] = len(np.unique(np.load(levels)[0]))
    assert "p_tau=0.7" in capsys.readouterr().err
    # a lower threshold links more at level 1 (upper levels may then converge alike)
    assert counts["0.3"] < counts[None]
    _assert_clean_error(run_cli("cluster", "--method", "hac", d / "test.npy", "--out",
                                tmp_path / "x.npy", "--tau", "0.5"), "--tau needs a Hi-LANDER")


def test_outputs_are_checked_before_the_work(files, tmp_path):
    import time

    d = files
    missing = tmp_path / "nope" / "out.npy"
    t0 = time.perf_counter()
    _assert_clean_error(run_cli("train", d / "train.npy", d / "train_labels.txt", "--out",
                                missing.with_suffix(".hlm"), "--epochs", "200", "--quiet"),
                        "does not exist")
    # refused up front: 200 epochs of training would take minutes
    assert time.perf_counter() - t0 < 30
    _assert_clean_error(run_cli("cluster", d / "model.hlm", d / "test.npy", "--out",
                                tmp_path / "ok.npy", "--hierarchy-out", missing),
                        "does not exist", tmp_path / "ok.npy")


def test_usage_errors_are_one_line(tmp_path):
    _assert_clean_error(run_cli("cluster"), "required")
    _assert_clean_error(run_cli("train", "a.npy"), "required")
    _assert_clean_error(run_cli("nosuchcommand"), "invalid choice")


def test_assign_across_processes(files, tmp_path, open_set):
    d = files
    perm = np.random.default_rng(0).permutation(len(open_set.y_test))
    old, new = perm[100:], perm[:100]
    np.save(tmp_path / "old.npy", open_set.X_test[old])
    np.save(tmp_path / "new.npy", open_set.X_test[new])
    run = tmp_path / "run.npz"
    assert main(["cluster", str(d / "model.hlm"), str(tmp_path / "old.npy"), "--out",
                 str(tmp_path / "old_pred.npy"), "--result-out", str(run), "--quiet"]) == 0
    result = run_cli("assign", d / "model.hlm", run, tmp_path / "new.npy", "--out",
                     tmp_path / "new_pred.npy")
    assert result.returncode == 0, result.stderr
    old_pred, new_pred = np.load(tmp_path / "old_pred.npy"), np.load(tmp_path / "new_pred.npy")
    y_old, y_new = open_set.y_test[old], open_set.y_test[new]
    majority = {c: np.bincount(y_old[old_pred == c]).argmax() for c in np.unique(old_pred)}
    joined = new_pred < old_pred.max() + 1
    assert joined.mean() > 0.9
    assert np.mean([majority[c] == t for c, t in zip(new_pred[joined], y_new[joined])]) > 0.9
    _assert_clean_error(run_cli("assign", d / "model.hlm", d / "test.npy", tmp_path / "new.npy",
                                "--out", tmp_path / "x.npy"), "not a hilander result file",
                        tmp_path / "x.npy")
