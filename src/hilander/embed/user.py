"""The user's own data: sentences from a file, images from a folder, and their embeddings.

:func:`read_texts` reads one text per line (``.txt``) or a column of a CSV/TSV/parquet table;
:func:`read_image_folder` reads every image under a folder, optionally labeled by sub-folder
name or by a CSV of ``path,label`` rows. :func:`embed_texts` and :func:`embed_images` turn them
into the ``(n, d)`` float32 embeddings every hilander method takes; the encoders are the
pretrained MiniLM (or a :class:`~hilander.embed.text_encoder.TextEncoder` fine-tuned with
``hilander encoder``) and an :class:`~hilander.embed.backbone.ImageBackbone`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._validation import InputError
from ..io import NOT_TEXT

if TYPE_CHECKING:
    from .backbone import ImageBackbone
    from .text_encoder import TextEncoder

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm")


# -- texts -------------------------------------------------------------------------------------


def _read_table(path: Path, encoding: str = "utf-8") -> dict[str, list]:
    """``{column name: values}`` of a table, in column order; .csv and .tsv cells are text
    (read with the standard library), .parquet ones as stored (``hilander[io]``)."""
    import io

    from ..io import read_text

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from .._extras import require

        pd = require("pandas", "io", "reading .parquet tables")
        require("pyarrow", "io", "reading .parquet tables")
    # a CSV is decoded here, not by the csv module, so binary bytes are refused naming their
    # line, and another encoding is read only when asked for
    text = read_text(path, encoding) if suffix != ".parquet" else None
    try:
        if text is None:
            df = pd.read_parquet(path)
            return {str(c): df[c].tolist() for c in df.columns}
        rows = list(csv.reader(io.StringIO(text, newline=""),
                               delimiter="\t" if suffix == ".tsv" else ","))
    except Exception as exc:  # csv, pandas and pyarrow raise many kinds; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"could not read {path} as a {suffix[1:]} table: {first}") from None
    if not rows:
        raise InputError(f"could not read {path} as a {suffix[1:]} table: it is empty")
    header, body = rows[0], [row for row in rows[1:] if row]
    bad = next((i for i, row in enumerate(body) if len(row) != len(header)), None)
    if bad is not None:
        raise InputError(f"could not read {path} as a {suffix[1:]} table: row {bad + 1} has "
                         f"{len(body[bad])} fields, the header {len(header)}")
    return {name: [row[j] for row in body] for j, name in enumerate(header)}


def _column(table: dict[str, list], name: str | None, path: Path, what: str) -> list:
    columns = list(table)
    if name is None:
        if len(columns) != 1:
            raise InputError(f"{path} has {len(columns)} columns {columns}; name the {what} "
                             f"column (--column / column=)")
        name = columns[0]
    if name not in columns:
        raise InputError(f"{path} has no column {name!r}; its columns are {columns}")
    return table[name]


def _label_array(values: list, where: str) -> np.ndarray:
    """Integers when every label is one (so ``-1`` can mark noise), else strings."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except (TypeError, ValueError):
        pass
    out = np.array([str(v) for v in values])
    empty = np.flatnonzero(out == "")
    if empty.size:
        raise InputError(f"{where}: label of row {empty[0] + 1} is empty")
    return out


def read_texts(path: str | Path, *, column: str | None = None,
               label_column: str | None = None,
               encoding: str = "utf-8") -> tuple[list[str], np.ndarray | None]:
    """Texts (and optional labels) from a file.

    Binary input is refused: a NUL or other control character, or bytes that are not valid in
    ``encoding``, raise one InputError naming the file and the line.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv`` or ``.parquet``: a table, texts in ``column``; any other suffix:
        text, one text per line (lines end at ``\\n``; a final newline is fine, an empty line
        is an error, since it would shift every later row).
    column : str or None, default=None
        Text column of a table; may be omitted when the table has one column.
    label_column : str or None, default=None
        Label column of a table (integers, ``-1`` for noise/unlabeled, or strings).
    encoding : str, default="utf-8"
        Encoding of a text, CSV or TSV file (e.g. ``"latin-1"``); a file in another encoding
        is refused rather than guessed.

    Returns
    -------
    tuple
        ``(texts, labels)``; ``labels`` is None without ``label_column``.

    Examples
    --------
    >>> texts, _ = read_texts("utterances.txt")  # doctest: +SKIP
    >>> texts, y = read_texts("intents.csv", column="text", label_column="intent")  # doctest: +SKIP
    """
    from ..io import read_text

    path = Path(path)
    if not path.is_file():
        raise InputError(f"text file not found: {path}")
    if path.suffix.lower() in TABLE_SUFFIXES:
        table = _read_table(path, encoding)
        if not table or not len(next(iter(table.values()))):
            raise InputError(f"{path} has no rows")
        texts = _column(table, column, path, "text")
        name = column if column is not None else next(iter(table))
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InputError(f"{path}: row {i + 1} of column {name!r} is "
                                 f"{type(t).__name__}, not text")
            if not t.strip():
                raise InputError(f"{path}: row {i + 1} of column {name!r} is empty")
            if NOT_TEXT.search(t):  # a parquet string is never decoded by read_text
                raise InputError(f"{path}: row {i + 1} of column {name!r} holds a NUL or "
                                 "control character; it looks like binary data, not text")
        labels = None
        if label_column is not None:
            labels = _label_array(list(_column(table, label_column, path, "label")), str(path))
        return texts, labels
    if column is not None or label_column is not None:
        raise InputError(f"{path} is read as plain text (one text per line); columns need a "
                         f".csv, .tsv or .parquet file")
    # split at \n only, as read_text counts lines: str.splitlines would also split at U+2028
    # or \x85 inside a text and shift every later row
    lines = [ln.removesuffix("\r") for ln in read_text(path, encoding).split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(f"{path} holds no text")
    empty = next((i for i, t in enumerate(lines) if not t.strip()), None)
    if empty is not None:
        raise InputError(f"{path}: line {empty + 1} is empty; give one text per line")
    return lines, None


# -- images ------------------------------------------------------------------------------------


@dataclass
class ImageSet:
    """Images read from a folder.

    Attributes
    ----------
    images : numpy.ndarray of shape (n, side, side), float32
        Grey levels in [0, 1], foreground (ink) high.
    paths : list of str
        Each image's path relative to the folder, sorted: the row order of ``images``.
    labels : numpy.ndarray of int64 or None
        Integer label per image (``-1``: unlabeled); None when no labels were asked for.
    label_names : list of str or None
        ``label_names[c]`` is the folder name or CSV value of label ``c``.
    inverted : bool
        Whether grey levels were inverted (light backgrounds; see :func:`read_image_folder`).
    """

    images: np.ndarray
    paths: list[str]
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    inverted: bool = False


def list_images(root: str | Path) -> list[Path]:
    """Image files under ``root`` (recursively, hidden entries skipped), sorted by path.

    Parameters
    ----------
    root : str or Path
        Folder to search.

    Returns
    -------
    list of Path
        Paths relative to ``root``.

    Examples
    --------
    >>> list_images("photos/")  # doctest: +SKIP
    [PosixPath('alice/1.png'), PosixPath('bob/1.png')]
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"image folder not found: {root}")
    files = sorted(
        p.relative_to(root) for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return files


def _labels_from_csv(csv_path: Path, rel: list[Path], root: Path) -> tuple[np.ndarray, list]:
    if not csv_path.is_file():
        raise InputError(f"labels file not found: {csv_path}")
    import io

    from ..io import read_text

    text = read_text(csv_path)
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""))
                if r and any(c.strip() for c in r)]
    except csv.Error as exc:
        raise InputError(f"could not read {csv_path} as CSV: {exc}") from None
    if not rows:
        raise InputError(f"{csv_path} has no rows")
    known = {p.as_posix(): i for i, p in enumerate(rel)}
    by_name: dict[str, list[int]] = {}
    for i, p in enumerate(rel):
        by_name.setdefault(p.name, []).append(i)

    def find(key: str) -> int | None:
        key = key.strip().replace("\\", "/")
        if key in known:
            return known[key]
        hits = by_name.get(Path(key).name, [])
        return hits[0] if len(hits) == 1 and "/" not in key else None

    if len(rows[0]) >= 2 and find(rows[0][0]) is None and not (root / rows[0][0]).is_file():
        rows = rows[1:]  # a header row such as "path,label"
    raw: list[str | None] = [None] * len(rel)
    for n, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise InputError(f"{csv_path}: row {n} needs two columns, path and label")
        i = find(row[0])
        if i is None:
            raise InputError(f"{csv_path}: row {n} names {row[0]!r}, which is not an image "
                             f"under {root}")
        raw[i] = row[1].strip()
    names = sorted({v for v in raw if v is not None and v != "-1"})
    if not names:
        raise InputError(f"{csv_path} labels no image")
    code = {v: c for c, v in enumerate(names)}
    labels = np.array([-1 if v is None or v == "-1" else code[v] for v in raw], np.int64)
    return labels, names


def read_image_folder(root: str | Path, *, labels: str | Path | None = None,
                      image_size: int = 28, invert: str | bool = "auto",
                      progress: bool = False) -> ImageSet:
    """Every image under ``root`` as a grey ``(n, image_size, image_size)`` array.

    Parameters
    ----------
    root : str or Path
        Folder of images (searched recursively).
    labels : {"folders"} or path or None, default=None
        ``"folders"``: an image's label is the first sub-folder of its path (every image must
        be in one); a CSV path: rows ``path,label`` (path relative to ``root``, or a file name
        that is unique), images it does not list get ``-1``, as does a ``-1`` label; None: no
        labels.
    image_size : int, default=28
        Side the images are resized to (area averaging); an image backbone takes one size.
    invert : {"auto", True, False}, default="auto"
        Invert grey levels so the foreground is high, as in the Omniglot drawings the bundled
        backbone learns from; "auto" inverts when the images' border is mostly light.
    progress : bool, default=False
        A progress bar while reading.

    Returns
    -------
    ImageSet

    Examples
    --------
    >>> data = read_image_folder("characters/", labels="folders")  # doctest: +SKIP
    >>> data.images.shape, data.label_names[:2]  # doctest: +SKIP
    ((400, 28, 28), ['alpha', 'beta'])
    """
    from tqdm.auto import tqdm

    from .._extras import require

    require("PIL", "images", "reading image files")
    from PIL import Image, UnidentifiedImageError

    from .._validation import check_int

    root = Path(root)
    rel = list_images(root)
    image_size = check_int(image_size, "image_size", low=4, high=1024)
    if invert not in ("auto", True, False):
        raise InputError(f"invert must be 'auto', True or False, got {invert!r}")
    label_codes, names = None, None
    if labels is not None:
        if isinstance(labels, str) and labels == "folders":
            flat = [p for p in rel if len(p.parts) < 2]
            if flat:
                raise InputError(f"{root / flat[0]} is not in a sub-folder; with labels from "
                                 "folders every image must be in one (folder name = label)")
            names = sorted({p.parts[0] for p in rel})
            code = {v: c for c, v in enumerate(names)}
            label_codes = np.array([code[p.parts[0]] for p in rel], np.int64)
        else:
            label_codes, names = _labels_from_csv(Path(labels), rel, root)
    images = np.empty((len(rel), image_size, image_size), np.float32)
    for i, p in enumerate(tqdm(rel, desc="reading images", disable=not progress,
                               leave=False, file=sys.stderr)):
        try:
            with Image.open(root / p) as im:
                im = im.convert("L").resize((image_size, image_size), Image.Resampling.BOX)
                images[i] = np.asarray(im, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputError(f"could not read image {root / p}: {exc}") from None
    if invert == "auto":
        border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]],
                                axis=1)
        invert = bool(np.median(border.mean(axis=1)) > 0.5)
    if invert:
        images = 1.0 - images
    return ImageSet(images, [p.as_posix() for p in rel], label_codes, names, bool(invert))


# -- embeddings --------------------------------------------------------------------------------


def load_encoder(path: str | Path) -> ImageBackbone | TextEncoder:
    """An encoder file written by hilander: an ImageBackbone or a TextEncoder.

    Parameters
    ----------
    path : str or Path
        File written by ``save`` (or ``hilander encoder`` / ``hilander embed omniglot``).

    Returns
    -------
    ImageBackbone or TextEncoder

    Examples
    --------
    >>> enc = load_encoder("backbone.hlm")  # doctest: +SKIP
    """
    from ..persistence import load_payload
    from .backbone import ImageBackbone
    from .text_encoder import TextEncoder

    payload = load_payload(path)
    classes = {"ImageBackbone": ImageBackbone, "TextEncoder": TextEncoder}
    cls = classes.get(payload.get("class"))
    if cls is None:
        raise InputError(f"{path} holds a {payload.get('class')} model, not an encoder "
                         f"(ImageBackbone or TextEncoder)")
    return cls._from_payload(payload, path)


def embed_texts(texts: Sequence[str], *, encoder: TextEncoder | str | Path | None = None,
                batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """Sentence embeddings, (n, 384) float32, unnormalised.

    Parameters
    ----------
    texts : sequence of str
        Sentences.
    encoder : TextEncoder or str or Path or None, default=None
        A fine-tuned encoder (object or file); None: the pretrained all-MiniLM-L6-v2.
    batch_size : int, default=128
        Sentences per forward pass.
    progress : bool, default=False
        A progress bar.

    Returns
    -------
    numpy.ndarray of shape (n_texts, 384)

    Examples
    --------
    >>> X = embed_texts(["where is my card", "tell me a joke"])  # doctest: +SKIP
    """
    from .text import encode_texts
    from .text_encoder import TextEncoder

    if encoder is None:
        return encode_texts(texts, batch_size=batch_size, progress=progress)
    if not isinstance(encoder, TextEncoder):
        encoder = load_encoder(encoder)
        if not isinstance(encoder, TextEncoder):
            raise InputError("texts need a TextEncoder file, got an image backbone")
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("texts must be a sequence of strings")
    return encode_texts(list(texts), batch_size=batch_size, progress=progress,
                        model=encoder._model)


def embed_images(images: np.ndarray | ImageSet, backbone: ImageBackbone | str | Path
                 ) -> np.ndarray:
    """Image embeddings from a trained backbone, (n, embed_dim) float32, unnormalised.

    Parameters
    ----------
    images : numpy.ndarray of shape (n, side, side) or ImageSet
        Grey images in [0, 1] at the backbone's input size.
    backbone : ImageBackbone or str or Path
        The backbone object or its file.

    Returns
    -------
    numpy.ndarray of shape (n, embed_dim)

    Examples
    --------
    >>> X = embed_images(read_image_folder("photos/"), "backbone.hlm")  # doctest: +SKIP
    """
    from .backbone import ImageBackbone

    if not isinstance(backbone, ImageBackbone):
        backbone = load_encoder(backbone)
        if not isinstance(backbone, ImageBackbone):
            raise InputError("images need an ImageBackbone file, got a text encoder")
    if isinstance(images, ImageSet):
        images = images.images
    return backbone.transform(images)
