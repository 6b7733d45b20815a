"""Property-based checks of the readers, the validation layer and the file loaders.

Whatever the shape, dtype, NaN/inf placement, label encoding or file format, a reader either
returns the data correctly or raises InputError (one line on the command line), never
anything else; model and result files mutated at random load or raise InputError, and no
code inside them runs.
"""

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hilander import HiLander
from hilander._validation import InputError, check_features, check_labels
from hilander.io import LABEL_HEADERS, read_features, read_labels
from hilander.lander import HierarchyResult, TrainingSettings
from hilander.persistence import load_model

FAST = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8,
          np.uint64, np.bool_, np.complex64]


def _finite_values(dtype) -> st.SearchStrategy:
    return hnp.from_dtype(np.dtype(dtype), allow_nan=True, allow_infinity=True)


@st.composite
def arrays(draw, dims=(0, 3), dtypes=DTYPES):
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=dims[0], max_dims=dims[1], min_side=0, max_side=6))
    arr = draw(hnp.arrays(dtype, shape, elements=_finite_values(dtype)))
    return arr


def expected_features(arr: np.ndarray) -> np.ndarray | None:
    """What check_features must return for ``arr``, or None where it must refuse it."""
    if np.iscomplexobj(arr) or arr.ndim != 2 or 0 in arr.shape:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        return None
    # the documented limit: squared distances must not overflow float32
    limit = np.sqrt(np.finfo(np.float32).max / (4 * out.shape[1]))
    if np.abs(out.astype(np.float64)).max() > limit:
        return None
    return out


@FAST
@given(arrays())
def test_check_features_returns_the_data_or_refuses_it(arr):
    want = expected_features(arr)
    try:
        got = check_features(arr)
    except InputError:
        assert want is None, f"refused a valid array {arr.dtype} {arr.shape}"
        return
    assert want is not None, f"accepted {arr!r}"
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@FAST
@given(arrays(dims=(0, 3), dtypes=[np.int64, np.float64, np.bool_]),
       st.integers(0, 8))
def test_check_labels_returns_one_label_per_row_or_refuses(arr, n):
    try:
        got = check_labels(arr, n)
    except InputError:
        flat = arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr
        assert (flat.ndim != 1 or flat.size == 0 or flat.shape[0] != n
                or (flat.dtype.kind == "f" and not np.isfinite(flat).all()))
        return
    assert got.ndim == 1 and got.shape[0] == n
    np.testing.assert_array_equal(got, arr.reshape(n))


def _write_features(path: Path, arr: np.ndarray, fmt: str, variant: int) -> None:
    if fmt == ".npy":
        np.save(path, arr)
    elif fmt == ".npz":
        if variant == 0:
            np.savez(path, features=arr)
        elif variant == 1:
            np.savez(path, emb=arr)  # its only array
        else:
            np.savez(path, emb=arr, other=arr)  # ambiguous: refused
    elif fmt == ".csv":
        header = [f"f{i}" for i in range(arr.shape[1])] if variant == 0 else False
        pd.DataFrame(arr).to_csv(path, index=False, header=header)
    else:
        if variant == 0:
            pd.DataFrame(arr, columns=[f"f{i}" for i in range(arr.shape[1])]).to_parquet(path)
        else:
            pd.DataFrame({"id": np.arange(len(arr)), "emb": list(arr)}).to_parquet(path)


@FAST
@given(arrays(dims=(2, 2), dtypes=[np.float32, np.float64, np.int32, np.int64]),
       st.sampled_from([".npy", ".npz", ".csv", ".parquet"]), st.integers(0, 2))
def test_read_features_loads_every_format_or_refuses(arr, fmt, variant):
    want = expected_features(arr)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"X{fmt}"
        try:
            _write_features(path, arr, fmt, variant)
        except Exception:  # a frame pandas or pyarrow cannot write (e.g. 0 columns)
            assume(False)
        try:
            got = read_features(path)
        except InputError:
            if want is None or (fmt == ".npz" and variant == 2):
                return
            if fmt == ".csv" and arr.shape[0] <= 1 and variant:
                return  # one header-less row that reads as column numbers: no data left
            if fmt == ".parquet" and variant:
                return  # an empty list column
            raise
        assert want is not None and not (fmt == ".npz" and variant == 2)
        if fmt == ".csv":
            # text keeps float32 values; a header-less first row 0..d-1 reads as a header
            first = want[0]
            if variant and got.shape[0] == want.shape[0] - 1 and (
                    np.array_equal(first, np.arange(first.size))
                    or np.array_equal(first, np.arange(1, first.size + 1))):
                want = want[1:]
            np.testing.assert_allclose(got, want, rtol=1e-6)
        else:
            np.testing.assert_array_equal(got, want)


LABEL_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFXYZ_-.é", min_size=1,
                     max_size=6).filter(lambda s: s.lower() not in LABEL_HEADERS)


@FAST
@given(st.one_of(st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=12),
                 st.lists(LABEL_WORD, min_size=1, max_size=12)),
       st.sampled_from(["plain", "header", "csv", "blank_tail", "npy"]),
       st.sampled_from(sorted(LABEL_HEADERS)), st.integers(-1, 1))
def test_read_labels_round_trips_every_encoding(labels, encoding, header, off):
    n = len(labels)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("y.npy" if encoding == "npy" else "y.txt")
        text = [str(v) for v in labels]
        if encoding == "npy":
            np.save(path, np.array(labels))
        else:
            if encoding == "header":
                text = [header, *text]
            elif encoding == "csv":
                text = [f"id,{header}", *(f"{i},{v}" for i, v in enumerate(text))]
            path.write_text("\n".join(text) + ("\n\n\n" if encoding == "blank_tail" else "\n"),
                            encoding="utf-8")
        try:
            got = read_labels(path, n + off)
        except InputError:
            assert off != 0, f"refused {text}"
            return
        assert off == 0
        np.testing.assert_array_equal(got, np.array(labels))


@FAST
@given(st.binary(max_size=200), st.sampled_from(["y.txt", "y.csv", "y.npy"]))
def test_read_labels_and_features_never_raise_anything_but_input_error(raw, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(raw)
        for read in (read_labels, read_features):
            try:
                read(path)
            except InputError:
                pass


# -- loaders fuzzed with mutated files ----------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory, open_set):
    d = tmp_path_factory.mktemp("fuzz")
    model = HiLander(training=TrainingSettings(epochs=1, identity_subsets=0, hidden=16),
                     decoding={"tau": 0.7}, random_state=0).fit(
        open_set.X_train[:300], open_set.y_train[:300])
    model.save(d / "model.hlm")
    model.cluster(open_set.X_test[:120]).save(d / "run.npz")
    return d, model


def _mutate(raw: bytes, cuts: list[tuple[int, int]], truncate: int | None) -> bytes:
    data = bytearray(raw)
    for pos, value in cuts:
        data[pos % len(data)] = value
    return bytes(data[:truncate] if truncate is not None else data)


MUTATIONS = st.tuples(st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)),
                               max_size=8),
                      st.one_of(st.none(), st.integers(0, 4000)))


def _code_runs(marker: Path) -> bytes:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Payload(), protocol=2)


@settings(FAST, max_examples=80)
@given(MUTATIONS, st.booleans())
def test_model_loader_takes_only_input_errors(saved, mutation, in_pickle):
    d, _ = saved
    raw = (d / "model.hlm").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        path, marker = Path(tmp) / "m.hlm", Path(tmp) / "ran"
        if in_pickle:
            # mutate the pickle inside a well-formed archive: the bytes torch unpickles
            src = zipfile.ZipFile(io.BytesIO(raw))
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
                for info in src.infolist():
                    body = src.read(info)
                    if info.filename.endswith("data.pkl"):
                        body = _mutate(body, *mutation)
                    dst.writestr(info, body)
            path.write_bytes(out.getvalue())
        else:
            path.write_bytes(_mutate(raw, *mutation))
        try:
            load_model(path)
        except InputError:
            pass
        assert not marker.exists()


def test_model_loader_runs_no_code_from_a_pickle_in_the_archive(saved, tmp_path):
    d, _ = saved
    raw = (d / "model.hlm").read_bytes()
    marker = tmp_path / "ran"
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = tmp_path / "evil.hlm"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, _code_runs(marker) if info.filename.endswith("data.pkl")
                         else body)
    for path in (out, tmp_path / "plain.hlm"):
        if path.name == "plain.hlm":
            path.write_bytes(_code_runs(marker))
        with pytest.raises(InputError, match="not a hilander model file"):
            load_model(path)
    assert not marker.exists()


CONFIG_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                          st.floats(allow_nan=True), st.text(max_size=5),
                          st.lists(st.integers(-3, 3), max_size=3))


@settings(FAST, max_examples=60)
@given(st.data())
def test_model_loader_refuses_damaged_configurations(saved, data):
    d, _ = saved
    payload = torch.load(d / "model.hlm", weights_only=True)
    names = sorted(payload["config"])
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)):
        payload["config"][name] = data.draw(CONFIG_VALUES)
    state_names = sorted(k for k in payload["state"] if k != "weights")
    if data.draw(st.booleans()):
        victim = data.draw(st.sampled_from(state_names))
        payload["state"][victim] = data.draw(CONFIG_VALUES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.hlm"
        torch.save(payload, path)
        try:
            load_model(path)
        except InputError:
            pass


RESULT_KEYS = ["X", "labels", "level_labels", "level_peaks", "level_peak_sizes",
               "level_density", "level_density_sizes", "level_edges", "level_nodes", "tau",
               "tau_upper", "stopped_by", "model_fingerprint", "format"]


@settings(FAST, max_examples=80)
@given(st.data())
def test_result_loader_takes_only_input_errors(saved, open_set, data):
    d, model = saved
    with np.load(d / "run.npz") as z:
        arrays_ = {k: z[k] for k in z.files}
    for key in data.draw(st.lists(st.sampled_from(RESULT_KEYS), max_size=3)):
        how = data.draw(st.sampled_from(["drop", "replace", "shorten", "shift"]))
        if how == "drop":
            arrays_.pop(key, None)
        elif how == "replace":
            arrays_[key] = data.draw(arrays(dims=(0, 2), dtypes=[np.int64, np.float32,
                                                                 np.float64, np.bool_]))
        elif key in arrays_ and arrays_[key].ndim:
            arrays_[key] = (arrays_[key][:-1] if how == "shorten"
                            else arrays_[key] + data.draw(st.integers(-3, 3)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.npz"
        np.savez(path, **arrays_)
        if data.draw(st.booleans()):
            path.write_bytes(_mutate(path.read_bytes(), *data.draw(MUTATIONS)))
        try:
            result = HierarchyResult.load(path)
        except InputError:
            return
        # what loads must be usable: assign takes it or refuses it in one line
        try:
            model.assign(open_set.X_test[120:140], result)
        except InputError:
            pass
