"""Issue 19: the command line keeps the user's data and does what its help says.

Each test is one case of the issue; the promises of the CLI reference (docs/cli.rst: "checked
before any work", "never a partial file", "one line") are backed by the tests named there.
"""

import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from hilander import HiLander, methods
from hilander._validation import InputError
from hilander.cli import main
from hilander.lander import TrainingSettings, flat_params
from hilander.metrics import evaluate


def run_cli(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilander.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600, **kwargs)


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def one_error_line(err: str, match: str) -> str:
    """The only stderr line: ``hilander: error: ...`` containing ``match``."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("hilander: error:") and match in lines[0], lines[0]
    return lines[0]


def no_leftovers(folder) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def files(tmp_path_factory, open_set, trained):
    d = tmp_path_factory.mktemp("robust")
    np.save(d / "X.npy", open_set.X_test)
    np.save(d / "y.npy", open_set.y_test)
    np.save(d / "Xtr.npy", open_set.X_train[:400])
    np.savetxt(d / "ytr.txt", open_set.y_train[:400], fmt="%d")
    trained.save(d / "model.hlm")
    return d


# -- 1. no input is ever overwritten ------------------------------------------------------

def _inputs_overwritten_cases(d):
    (d / "X_hard.npy").unlink(missing_ok=True)
    os.link(d / "X.npy", d / "X_hard.npy")
    for name, target in (("X_sym.npy", "X.npy"), ("ytr_sym.hlm", "ytr.txt"),
                         ("X_sym.hlm", "X.npy")):
        (d / name).unlink(missing_ok=True)
        (d / name).symlink_to(d / target)
    return [
        (["cluster", "model.hlm", "X.npy", "--out", "X.npy"], "X.npy"),
        (["cluster", "model.hlm", "X.npy", "--out", "X_hard.npy"], "X.npy"),
        (["cluster", "model.hlm", "X.npy", "--out", "X_sym.npy"], "X.npy"),
        (["cluster", "model.hlm", "X.npy", "--out", "p.npy", "--hierarchy-out", "X_hard.npy"],
         "X.npy"),
        (["cluster", "--method", "kmeans", "X.npy", "--out", "X.npy"], "X.npy"),
        (["train", "Xtr.npy", "ytr.txt", "--out", "ytr_sym.hlm"], "ytr.txt"),
        (["auto", "X.npy", "y.npy", "--out", "X_sym.hlm"], "X.npy"),
        (["assign", "model.hlm", "r.npz", "X.npy", "--out", "X.npy"], "X.npy"),
    ]


def test_an_input_is_never_overwritten(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    for argv, victim in _inputs_overwritten_cases(files):
        before = digest(victim)
        assert main(argv) == 2, argv
        one_error_line(capsys.readouterr().err, "destroy the input")
        assert digest(victim) == before, argv  # byte for byte
    no_leftovers(files)


@pytest.mark.parametrize("argv, message", [
    (["train", "Xtr.npy", "ytr.txt", "--out", "ytr.txt"], "--out must end in .hlm"),
    (["train", "Xtr.npy", "ytr.txt", "--out", "model.npy"], "--out must end in .hlm"),
    (["auto", "X.npy", "y.npy", "--out", "X.npy"], "--out must end in .hlm"),
    (["auto", "X.npy", "y.npy", "--out", "a.hlm", "--table-out", "t.csv"],
     "--table-out must end in .json"),
    (["cluster", "model.hlm", "X.npy", "--out", "p.hlm"], "--out must end in .npy"),
    (["diagnose", "model.hlm", "X.npy", "y.npy", "--json", "d.txt"], "--json must end in"),
])
def test_output_suffixes_are_checked(files, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(files)
    before = {p.name: digest(p) for p in files.iterdir() if p.is_file()}
    assert main(argv) == 2
    one_error_line(capsys.readouterr().err, message)
    assert {p.name: digest(p) for p in files.iterdir() if p.is_file()} == before


# -- 2. train does what its help says ---------------------------------------------------------

def _help_default(text: str, option: str) -> str:
    """What ``--help`` says the default of ``--option`` is."""
    flat = re.sub(r"\s+", " ", text.split("options:")[1])  # not the usage line
    found = re.search(rf"--{option} \S+ (.*?)\(default: ([^)]+)\)", flat)
    assert found and "--" not in found.group(1), option
    return found.group(2)


def test_train_help_shows_the_estimators_defaults(capsys):
    from hilander.cli.train import PARAM_OF

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    defaults = flat_params(HiLander())  # the settings groups' fields spread out
    for option, name in PARAM_OF.items():
        assert _help_default(text, option) == str(defaults[name]), option
    assert (_help_default(text, "tau"), _help_default(text, "epochs")) == ("auto", "30")


def test_train_trains_with_the_estimators_defaults():
    from hilander.cli import build_parser
    from hilander.cli.train import make_trainable

    args = build_parser().parse_args(["train", "x.npy", "y.txt", "--out", "m.hlm", "--quiet"])
    model = make_trainable("hilander", args, {})
    expected = HiLander().get_params()
    got = model.get_params()
    progress = [name for name in ("verbose", "progress") if name in expected]
    for name in progress:
        expected.pop(name), got.pop(name)
    assert got == expected
    assert (got["decoding"], got["training"].epochs) == ("auto", 30)
    # the command line's flat options go into the settings groups, without a warning
    args = build_parser().parse_args(["train", "x.npy", "y.txt", "--out", "m.hlm", "--tau",
                                      "0.7", "--epochs", "3", "--k", "5"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model = make_trainable("hilander", args, {"cv": 2, "hidden": 16})
    assert (model.decoding, model.training.epochs, model.training.hidden) == \
        ({"tau": 0.7}, 3, 16)
    assert (model.n_neighbors, model.selection.cv) == (5, 2)


def test_top_level_help_does_not_import_torch():
    code = ("import sys; from hilander.cli import build_parser; build_parser().format_help(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# -- 3. checked before the work, and no partial file --------------------------------------------

def test_cluster_checks_every_output_before_the_work(files, capsys, monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise AssertionError("clustered before checking the outputs")

    monkeypatch.setattr(HiLander, "cluster", boom)
    model = str(files / "model.hlm")
    X = str(files / "X.npy")
    r, h = tmp_path / "r.npz", tmp_path / "h.npy"
    assert main(["cluster", model, X, "--out", str(tmp_path / "p.hlm"), "--result-out", str(r),
                 "--hierarchy-out", str(h), "--quiet"]) == 2
    one_error_line(capsys.readouterr().err, "--out must end in .npy")
    assert main(["cluster", model, X, "--out", str(tmp_path / "p.npy"), "--hierarchy-out",
                 str(tmp_path / "p.npy"), "--quiet"]) == 2
    one_error_line(capsys.readouterr().err, "--out and --hierarchy-out are the same file")
    assert main(["cluster", model, X, "--out", str(tmp_path / "p.npy"), "--result-out",
                 str(tmp_path / "r.npy"), "--quiet"]) == 2
    one_error_line(capsys.readouterr().err, "--result-out must end in .npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_auto_checks_its_outputs_before_the_search(files, capsys, monkeypatch, tmp_path):
    from hilander.auto import AutoCluster

    def boom(*args, **kwargs):
        raise AssertionError("searched before checking the outputs")

    monkeypatch.setattr(AutoCluster, "fit", boom)
    X, y = str(files / "X.npy"), str(files / "y.npy")
    assert main(["auto", X, y, "--out", str(tmp_path / "missing_dir" / "a.hlm")]) == 2
    one_error_line(capsys.readouterr().err, "does not exist")
    assert main(["auto", X, y, "--out", str(tmp_path / "a.hlm"), "--table-out",
                 str(tmp_path / "missing_dir" / "t.json")]) == 2
    one_error_line(capsys.readouterr().err, "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_diagnose_checks_json_before_printing(files, capsys, tmp_path):
    assert main(["diagnose", str(files / "model.hlm"), str(files / "X.npy"),
                 str(files / "y.npy"), "--json", str(tmp_path / "no" / "d.json")]) == 2
    captured = capsys.readouterr()
    one_error_line(captured.err, "does not exist")
    assert captured.out == ""


def test_outputs_are_all_or_none(files, capsys, monkeypatch, tmp_path):
    """A write that fails after others succeeded leaves none of them, and no temporary."""
    import hilander.cli.cluster as cluster_cli

    def disk_full(path, labels):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cluster_cli, "write_labels", disk_full)
    outs = [tmp_path / "p.npy", tmp_path / "r.npz", tmp_path / "h.npy"]
    assert main(["cluster", str(files / "model.hlm"), str(files / "X.npy"), "--out",
                 str(outs[0]), "--result-out", str(outs[1]), "--hierarchy-out", str(outs[2]),
                 "--quiet"]) == 2
    one_error_line(capsys.readouterr().err, "No space left on device")
    assert list(tmp_path.iterdir()) == []


# -- 4. one line, never a traceback --------------------------------------------------------------

def test_unknown_train_param_is_one_line(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    assert main(["train", "Xtr.npy", "ytr.txt", "--out", "m.hlm", "--param", "foo=1"]) == 2
    one_error_line(capsys.readouterr().err, "foo")
    assert not (files / "m.hlm").exists()


def _fsize_limit(limit: int):
    def apply():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_failed_write_is_one_line(files, tmp_path):
    """A file-size limit makes the writes fail for real (as a full disk does): numpy's and
    torch's write errors both end as one line, with no temporary left."""
    out = run_cli("cluster", "--method", "kmeans", "--param", "n_clusters=3", files / "X.npy",
                  "--out", tmp_path / "p.csv", preexec_fn=_fsize_limit(100))
    assert out.returncode == 2, out.stderr
    one_error_line(out.stderr, "could not write")
    out = run_cli("train", files / "Xtr.npy", files / "ytr.txt", "--out", tmp_path / "m.hlm",
                  "--tau", "0.7", "--epochs", "1", "--param", "identity_subsets=0", "--quiet",
                  preexec_fn=_fsize_limit(10_000))
    assert out.returncode == 2, out.stderr
    line = one_error_line(out.stderr, f"could not write {tmp_path / 'm.hlm'}")
    assert len(line) < 200
    assert list(tmp_path.iterdir()) == []


def test_a_permission_error_is_one_line(files, capsys, monkeypatch, tmp_path):
    import hilander.io

    def denied(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(hilander.io.os, "replace", denied)
    assert main(["cluster", "--method", "kmeans", "--param", "n_clusters=3",
                 str(files / "X.npy"), "--out", str(tmp_path / "p.npy")]) == 2
    one_error_line(capsys.readouterr().err, "Permission denied")
    assert list(tmp_path.iterdir()) == []


def test_an_internal_error_says_report_it(files, capsys, monkeypatch, tmp_path):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(methods.make("kmeans").__class__, "fit", bug)
    monkeypatch.delenv("HILANDER_DEBUG", raising=False)
    assert main(["cluster", "--method", "kmeans", str(files / "X.npy"), "--out",
                 str(tmp_path / "p.npy")]) == 1
    line = one_error_line(capsys.readouterr().err, "internal error ZeroDivisionError")
    assert "report" in line


def _result_file(files, tmp_path) -> dict:
    run = tmp_path / "run.npz"
    assert main(["cluster", str(files / "model.hlm"), str(files / "X.npy"), "--out",
                 str(tmp_path / "p.npy"), "--result-out", str(run), "--quiet"]) == 0
    with np.load(run) as z:
        return {name: z[name] for name in z.files}


def test_assign_with_a_damaged_result_is_one_line(files, capsys, tmp_path):
    arrays = _result_file(files, tmp_path)
    capsys.readouterr()
    X_new = str(files / "X.npy")
    damaged = {
        "missing key": ({k: v for k, v in arrays.items() if k != "level_peaks"}, "missing"),
        "short labels": ({**arrays, "labels": arrays["labels"][:-5]}, "labels"),
        "short densities": ({**arrays, "level_density": arrays["level_density"][:-3]},
                            "density sizes"),
        "peaks out of range": ({**arrays, "level_peaks": arrays["level_peaks"] + 10**6},
                               "peaks"),
        "text tau": ({**arrays, "tau": np.array("high")}, "tau"),
    }
    for name, (content, match) in damaged.items():
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        np.savez(path, **content)
        assert main(["assign", str(files / "model.hlm"), str(path), X_new, "--out",
                     str(tmp_path / "new.npy")]) == 2, name
        one_error_line(capsys.readouterr().err, match)
    assert not (tmp_path / "new.npy").exists()


def test_assign_refuses_a_result_of_another_model(files, open_set, capsys, tmp_path):
    _result_file(files, tmp_path)
    other = HiLander(training=TrainingSettings(epochs=1, identity_subsets=0),
                     decoding={"tau": 0.7}, random_state=1).fit(
        open_set.X_train[:300], open_set.y_train[:300])
    other.save(tmp_path / "other.hlm")
    capsys.readouterr()
    assert main(["assign", str(tmp_path / "other.hlm"), str(tmp_path / "run.npz"),
                 str(files / "X.npy"), "--out", str(tmp_path / "new.npy")]) == 2
    one_error_line(capsys.readouterr().err, "made by another model")


def test_ctrl_c_during_the_imports_is_one_line(files, tmp_path):
    """SIGINT while the command modules and torch are still being imported."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import hilander.cli"], check=True, timeout=120)
    startup = time.perf_counter() - t0  # the part no handler of ours can cover
    for delay in (1.5 * startup + 0.1, startup + 0.6, startup + 1.2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "hilander.cli", "train", str(files / "Xtr.npy"),
             str(files / "ytr.txt"), "--out", str(tmp_path / "m.hlm"), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (delay, err)
        assert err.strip() == "hilander: interrupted", (delay, err)
    assert list(tmp_path.iterdir()) == []


def test_a_closed_pipe_is_one_line(files, tmp_path):
    """`hilander evaluate ... | head -1`: the reader is gone before the scores are printed."""
    proc = subprocess.Popen([sys.executable, "-m", "hilander.cli", "evaluate",
                             str(files / "y.npy"), str(files / "y.npy")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 2, err
    one_error_line(err, "broken pipe")


# -- 5. silently wrong results -----------------------------------------------------------------

def test_fifteen_copies_cluster_as_one(open_set, trained):
    X, y = open_set.X_test, open_set.y_test
    X15, y15 = np.repeat(X, 15, axis=0), np.repeat(y, 15)
    labels = trained.predict(X15)
    assert (labels.reshape(-1, 15) == labels.reshape(-1, 15)[:, :1]).all()
    base = evaluate(y, trained.predict(X))["pairwise_f"]
    assert evaluate(y15, labels)["pairwise_f"] > base - 0.02
    for name in ("infomap", "leiden"):
        base = evaluate(y, methods.make(name).fit_predict(X))["pairwise_f"]
        f15 = evaluate(y15, methods.make(name).fit_predict(X15))["pairwise_f"]
        # before: every point's copies filled its neighbour list and it was cut off (0.007)
        assert f15 > 0.6 * base, (name, f15, base)


def test_identical_rows_are_one_cluster(trained):
    rng = np.random.default_rng(0)
    row = rng.normal(size=(1, trained.n_features_in_)).astype(np.float32)
    assert np.unique(trained.predict(np.repeat(row, 200, axis=0))).size == 1
    zeros = np.zeros((50, trained.n_features_in_), np.float32)
    assert np.unique(trained.predict(zeros)).size == 1


@pytest.mark.parametrize("name", ["kmeans", "gmm"])
def test_magnitudes_that_overflow_are_refused(open_set, name):
    X = open_set.X_test[:200].astype(np.float64) * 1e30
    with pytest.raises(InputError, match="overflow float32"):
        methods.make(name, n_clusters=5, l2_normalize=False).fit(X)


def test_overflowing_features_are_one_line_on_the_command_line(files, capsys, tmp_path):
    np.save(tmp_path / "big.npy", np.load(files / "X.npy") * np.float32(1e30))
    assert main(["cluster", "--method", "kmeans", "--param", "l2_normalize=false",
                 str(tmp_path / "big.npy"), "--out", str(tmp_path / "p.npy")]) == 2
    one_error_line(capsys.readouterr().err, "rescale them")


# -- 6. conflicting options are refused, not resolved silently --------------------------------

def test_options_set_twice_are_refused(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    assert main(["train", "Xtr.npy", "ytr.txt", "--out", "m.hlm", "--tau", "0.6", "--param",
                 "tau=0.5"]) == 2
    one_error_line(capsys.readouterr().err, "--tau 0.6 and --param tau=0.5 both set tau")
    assert main(["train", "Xtr.npy", "ytr.txt", "--out", "m.hlm", "--quiet", "--param",
                 "progress=true"]) == 2
    one_error_line(capsys.readouterr().err, "--quiet and --param progress=True both set verbose")
    assert main(["tune", "--method", "kmeans", "--grid", "n_clusters=3,5", "--param",
                 "n_clusters=4", "X.npy", "y.npy"]) == 2
    one_error_line(capsys.readouterr().err, "both set n_clusters")
    assert not (files / "m.hlm").exists()


def test_tune_refuses_a_grid_value_it_would_drop(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    assert main(["tune", "--method", "kmeans", "--grid", "n_clusters=0,5", "X.npy",
                 "y.npy"]) == 2
    one_error_line(capsys.readouterr().err, "--grid n_clusters=0 is not a valid value")


# -- 7. SIGTERM -------------------------------------------------------------------------------

def test_sigterm_during_a_write_leaves_no_partial_file(files, tmp_path):
    """The write is held open (a slow disk) until SIGTERM arrives, as a scheduler sends it."""
    marker, out = tmp_path / "writing", tmp_path / "p.npy"
    script = textwrap.dedent(f"""
        import pathlib, sys, time
        import numpy as np

        def slow_save(fh, arr, *args, **kwargs):
            fh.write(b"\\x93NUMPY half a file")
            fh.flush()
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(60)

        np.save = slow_save
        from hilander.cli import main
        sys.exit(main(["cluster", "--method", "kmeans", "--param", "n_clusters=3",
                       {str(files / "X.npy")!r}, "--out", {str(out)!r}]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not marker.exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # mid-write
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    one_error_line(err, "terminated (SIGTERM)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writing"]


# -- 8. messages ------------------------------------------------------------------------------

def test_corrupt_or_foreign_model_files_are_short(files, tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    raw = open(files / "model.hlm", "rb").read()
    (tmp_path / "truncated.hlm").write_bytes(raw[: len(raw) // 3])
    (tmp_path / "pickle.hlm").write_bytes(pickle.dumps(Payload(), protocol=4))
    (tmp_path / "garbage.hlm").write_bytes(b"\x00garbage" * 100)
    for name in ("truncated.hlm", "pickle.hlm", "garbage.hlm", "X.npy"):
        model = tmp_path / name if name != "X.npy" else files / name
        out = run_cli("cluster", model, files / "X.npy", "--out", tmp_path / "p.npy")
        assert out.returncode == 2, out.stderr
        line = one_error_line(out.stderr, "is not a hilander model file")
        assert "weights_only" not in line and len(line) < 250, line
    assert not (tmp_path / "PWNED").exists()


def test_zero_rows_print_no_torch_warning(files, tmp_path):
    np.save(tmp_path / "zeros.npy", np.zeros((40, 64), np.float32))
    out = run_cli("cluster", files / "model.hlm", tmp_path / "zeros.npy", "--out",
                  tmp_path / "p.npy", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "not writable" not in out.stderr and "Warning" not in out.stderr, out.stderr
    assert np.unique(np.load(tmp_path / "p.npy")).size == 1


def test_diagnose_quiet_prints_only_the_table(files, capsys, tmp_path):
    assert main(["diagnose", str(files / "model.hlm"), str(files / "X.npy"),
                 str(files / "y.npy"), "--no-curve", "--quiet", "--json",
                 str(tmp_path / "d.json")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "level" in captured.out.lower()
    assert json.loads((tmp_path / "d.json").read_text())["levels"]


def test_tune_shows_progress(files, capsys):
    assert main(["tune", "--method", "kmeans", "--grid", "n_clusters=5,10,20",
                 str(files / "X.npy"), str(files / "y.npy")]) == 0
    err = capsys.readouterr().err
    assert "tune kmeans" in err and "/3" in err
    assert main(["tune", "--method", "kmeans", "--grid", "n_clusters=5,10", "--quiet",
                 str(files / "X.npy"), str(files / "y.npy")]) == 0
    assert capsys.readouterr().err == ""


# -- degenerate training data: a warning naming what is wrong ---------------------------------


def test_degenerate_training_data_gives_a_warning_naming_it(tmp_path, capsys):
    from hilander import supervised
    from hilander._validation import DataWarning

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 8)).astype(np.float32)
    y = np.repeat(np.arange(3), 4)
    X_zero = X.copy()
    X_zero[:5] = 0
    with pytest.warns(DataWarning, match="5 of 12 training rows are all zero"):
        HiLander(n_neighbors=3, decoding={"tau": 0.5},
                 training=TrainingSettings(epochs=1)).fit(X_zero, y)
    with pytest.warns(DataWarning, match="only 0 of 12 identities have two or more points"):
        supervised.make("gcn_v", n_neighbors=3, epochs=1).fit(X, np.arange(12))
    # healthy data: no warning at all
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        HiLander(n_neighbors=3, decoding={"tau": 0.5},
                 training=TrainingSettings(epochs=1)).fit(X, y)
    # the command line says it in one line
    np.save(tmp_path / "x.npy", X_zero)
    np.save(tmp_path / "y.npy", y)
    assert main(["train", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--out",
                 str(tmp_path / "m.hlm"), "--k", "3", "--tau", "0.5", "--epochs", "1",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert lines == ["hilander: warning: 5 of 12 training rows are all zero: they have no "
                     "direction, so they neither join nor teach any identity"]


def test_a_model_nested_in_another_saves_inside_an_output_batch(tmp_path):
    # AutoCluster with a learnt winner and Discoverer store whole models inside their file;
    # under the command line's all-or-none batch the inner write must still be readable
    from hilander.datasets import make_open_set
    from hilander.io import output_batch
    from hilander.persistence import load_payload, payload_of

    data = make_open_set(n_train_classes=6, n_test_classes=2, seed=0)
    model = HiLander(decoding={"tau": 0.5}, training=TrainingSettings(epochs=1),
                     n_neighbors=5).fit(data.X_train, data.y_train)
    out = tmp_path / "outer.pt"
    with output_batch():
        inner = payload_of(model)
        assert inner["class"] == "HiLander"
        model.save(out)
        assert not out.exists()  # the batch's own outputs still wait for its end
    assert load_payload(out)["class"] == "HiLander"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outer.pt"]
