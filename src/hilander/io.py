"""Reading features and labels from files, and writing results without partial files."""

from __future__ import annotations

import codecs
import contextlib
import csv
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ._validation import InputError, check_features, check_labels

FEATURE_FORMATS = (".npy", ".npz", ".csv", ".parquet")
#: A first line equal to one of these is a header, not a label.
LABEL_HEADERS = {"label", "labels", "y", "class", "identity", "id", "target", "cluster"}


#: what each kind of output may be called; a model written as ``.txt`` is a mistake
MODEL_SUFFIXES = (".hlm", ".pt", ".pth")
LABEL_SUFFIXES = (".npy", ".csv", ".txt")


def check_writable(path: str | Path) -> Path:
    """Raise InputError unless ``path`` can be written; commands call it before any work."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: directory {parent} does not exist")
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    if path.exists() and not path.is_file():
        # replacing /dev/null or a pipe by a regular file would break the system, not write
        raise InputError(f"cannot write {path}: it is not a regular file")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {path}: directory {parent} is not writable")
    # os.access says yes to root on a read-only file system: try what the write will do
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def check_outputs(outputs: dict[str, tuple[str | Path | None, tuple[str, ...]]],
                  inputs: Iterable[str | Path | None] = ()) -> None:
    """Check every output of a command before any work; raise InputError naming the flag.

    ``outputs`` maps a flag (``"--out"``) to its path (None: not given) and the suffixes it
    may end in (empty: any). Each must be writable, end in an allowed suffix, differ from
    every other output and never be one of ``inputs``: not the same path, nor a hard or
    symbolic link to it (writing it would destroy the user's data).
    """
    given = [(flag, Path(p), suffixes) for flag, (p, suffixes) in outputs.items()
             if p is not None]
    sources = [Path(p) for p in inputs if p is not None]
    seen: list[tuple[str, Path]] = []
    for flag, path, suffixes in given:
        if suffixes and path.suffix.lower() not in suffixes:
            raise InputError(f"{flag} must end in {' or '.join(suffixes)}, got {path.name!r}")
        for src in sources:
            if _same_file(path, src):
                raise InputError(f"{flag} {path} is the input file {src}: writing it would "
                                 "destroy the input; choose another path")
        for other_flag, other in seen:
            if _same_file(path, other):
                raise InputError(f"{other_flag} and {flag} are the same file {path}; give "
                                 "each output its own path")
        seen.append((flag, path))
        check_writable(path)


def _same_file(a: Path, b: Path) -> bool:
    """The same file: one path, or links (hard or symbolic) to one file."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


# Stack of open output batches: each holds (temporary, final) pairs renamed at its end
# (None: writes go through at once, see immediate_writes).
_BATCHES: list[list[tuple[Path, Path]] | None] = []


@contextlib.contextmanager
def output_batch() -> Iterator[None]:
    """Defer every :func:`atomic_path` rename inside the block to its end: a command's
    outputs all appear, or (on any error, Ctrl-C or SIGTERM) none of them and no temporary."""
    pending: list[tuple[Path, Path]] = []
    _BATCHES.append(pending)
    try:
        yield
        _BATCHES.pop()
        while pending:
            tmp, path = pending[0]
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OSError(exc.errno, f"could not write {path}: {exc.strerror or exc}") from None
            pending.pop(0)
    finally:
        if _BATCHES and _BATCHES[-1] is pending:
            _BATCHES.pop()
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def immediate_writes() -> Iterator[None]:
    """Inside an :func:`output_batch`, let :func:`atomic_path` rename at once: for scratch
    files that are read back before the batch ends (a model nested in another's file)."""
    _BATCHES.append(None)
    try:
        yield
    finally:
        _BATCHES.pop()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A failed write (disk full, permissions) raises OSError naming ``path``, not the temporary;
    the temporary is removed on any exception, KeyboardInterrupt and SystemExit included.
    """
    path = check_writable(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            # mkstemp creates 0600 files; give outputs the permissions a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
            if _BATCHES and _BATCHES[-1] is not None:
                _BATCHES[-1].append((tmp_path, path))
            else:
                os.replace(tmp_path, path)
        except OSError as exc:
            raise OSError(exc.errno, f"could not write {path}: {exc.strerror or exc}") from None
        except RuntimeError as exc:
            # torch.save reports a full disk as a RuntimeError of its zip writer, whose text
            # ("unexpected pos 4736 vs 4624") says nothing to a user
            text = str(exc)
            if not any(mark in text for mark in ("inline_container", "PytorchStreamWriter",
                                                 "file write failed")):
                raise
            raise OSError(None, f"could not write {path}: the write failed part-way (disk "
                                "full, or a file size limit?)") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


#: control characters that plain text never holds (tab, newline, carriage return and form feed
#: are fine): one of them, NUL above all, means a binary file read as text
NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows it as a text encoding, else InputError."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise InputError(f"unknown text encoding {encoding!r} (e.g. utf-8, latin-1, "
                         "cp1252, utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):  # rot13, base64: not a file's encoding
        raise InputError(f"{encoding!r} is not a text encoding")
    return info.name


def decode_text(raw: bytes, path: str | Path, encoding: str = "utf-8") -> str:
    """``raw`` (the bytes of ``path``) decoded, refusing binary input.

    Bytes that are not valid in ``encoding`` or a NUL or other control character raise one
    InputError naming the file and the line; a text in another encoding is read only when its
    encoding is given. A UTF-8 byte-order mark is dropped.
    """
    name = check_encoding(encoding)
    try:
        text = raw.decode(name)
    except UnicodeDecodeError as exc:
        head = raw[:exc.start].decode(name, errors="replace")
        _refuse_control(head, path)  # the first problem in the file is the one named
        raise InputError(
            f"{path}: line {head.count(chr(10)) + 1} is not valid {encoding} text (byte "
            f"0x{raw[exc.start]:02x} at offset {exc.start}); if the file is in another "
            "encoding, name it (--encoding / encoding=, e.g. latin-1)") from None
    if name == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    _refuse_control(text, path)
    return text


def _refuse_control(text: str, path: str | Path) -> None:
    bad = NOT_TEXT.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        char = bad.group()
        what = "a NUL byte" if char == "\x00" else f"control character 0x{ord(char):02x}"
        raise InputError(f"{path}: line {line} holds {what}; this looks like a binary file, "
                         "not text")


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole text of ``path``, refusing binary input (see :func:`decode_text`)."""
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    return decode_text(raw, path, encoding)


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def read_features(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read an (n, d) float32 matrix from .npy, .npz, .csv or .parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"features file not found: {path}")
    ext = _suffix(path)
    try:
        if ext == ".npy":
            # memory-mapped: a float32 file is used in place, never loaded whole
            arr = np.load(path, allow_pickle=False, mmap_mode="r")
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.keys())
                if key is None:
                    if "features" in names:
                        key = "features"
                    elif len(names) == 1:
                        key = names[0]
                    else:
                        raise InputError(
                            f"{path} holds arrays {names}; name one 'features' or pass a key"
                        )
                if key not in names:
                    raise InputError(f"{path} has no array {key!r} (it has {names})")
                arr = z[key]
        elif ext == ".csv":
            arr = _read_csv_matrix(path)
        elif ext == ".parquet":
            arr = _read_parquet_matrix(path)
        else:
            raise InputError(
                f"unsupported features format {ext or '(none)'} for {path}; "
                f"use one of {', '.join(FEATURE_FORMATS)}"
            )
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"could not read features from {path}: {exc}") from None
    return check_features(arr, name=f"features in {path.name}")


def _read_csv_matrix(path: Path) -> np.ndarray:
    # the standard library's reader: a table of numbers needs no table package
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh) if row]  # blank lines are skipped
    # a header row shows up as a non-numeric first row, or as the column numbers 0..d-1 / 1..d
    # that pandas' to_csv writes for an unnamed frame
    if rows and (not _row_numeric(rows[0]) or _is_column_numbers(rows[0])):
        rows = rows[1:]
    if not rows:
        raise InputError(f"{path} holds no rows of numbers")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise InputError(f"{path}: rows differ in length ({widths[0]} to {widths[-1]} values)")
    try:
        # float64 here: check_features casts, naming overflow; an empty field is NaN
        return np.array([[_number(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{path} has non-numeric values: {exc}") from None


def _number(value: str) -> float:
    return float(value) if value.strip() else float("nan")


def _is_column_numbers(row) -> bool:
    values = np.asarray([_number(v) for v in row], dtype=np.float64)
    return bool(values.size > 1 and (np.array_equal(values, np.arange(values.size))
                                     or np.array_equal(values, np.arange(1, values.size + 1))))


def _row_numeric(row) -> bool:
    try:
        [_number(v) for v in row]
        return True
    except ValueError:
        return False


def _read_parquet_matrix(path: Path) -> np.ndarray:
    from ._extras import require

    pd = require("pandas", "io", "reading .parquet files")
    require("pyarrow", "io", "reading .parquet files")
    df = pd.read_parquet(path)
    if df.shape[1] == 0:
        raise InputError(f"{path} has no columns")
    list_cols = [c for c in df.columns if df[c].dtype == object]
    if len(list_cols) == 1 and df.shape[0]:
        try:
            # float64 here: check_features names values beyond float32's range
            return np.stack([np.asarray(v, dtype=np.float64) for v in df[list_cols[0]]])
        except ValueError as exc:
            raise InputError(
                f"{path}: column {list_cols[0]!r} rows differ in length: {exc}"
            ) from None
    if list_cols:
        raise InputError(
            f"{path} has several list columns {list_cols}; keep one embedding column"
        )
    return df.to_numpy(dtype=np.float64)  # check_features casts, naming overflow


def read_labels(path: str | Path, n_samples: int | None = None) -> np.ndarray:
    """Read one label per row from .npy or a text/CSV file (strings or integers)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"labels file not found: {path}")
    try:
        if _suffix(path) == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            lines = [ln.strip() for ln in read_text(path).splitlines()]
            while lines and not lines[-1]:
                lines.pop()
            if lines and "," in lines[0]:
                lines = [ln.split(",")[-1].strip() for ln in lines]
            if lines and (lines[0].lower() in LABEL_HEADERS
                          or (len(lines) > 1 and not _is_int(lines[0])
                              and all(_is_int(v) for v in lines[1:]))):
                lines = lines[1:]  # header
            arr = np.array(lines)
            if arr.size and all(_is_int(v) for v in arr):
                arr = arr.astype(np.int64)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"could not read labels from {path}: {exc}") from None
    return check_labels(arr, n_samples, name=f"labels in {path.name}")


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write labels to .npy or .csv (one per line) atomically."""
    path = Path(path)
    ext = _suffix(path)
    if ext not in (".npy", ".csv", ".txt"):
        raise InputError(f"prediction output must end in .npy or .csv, got {path.name}")
    if ext == ".npy":
        write_array(path, labels)
        return
    with atomic_path(path) as tmp:
        np.savetxt(tmp, np.asarray(labels), fmt="%s")


def write_array(path: str | Path, arr: np.ndarray) -> None:
    """Write an array to .npy atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(arr))
