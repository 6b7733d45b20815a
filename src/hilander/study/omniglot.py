"""Omniglot (Lake et al., Science 2015): 1,623 handwritten characters of 50 alphabets, 20 each.

The loader reads the two compressed arrays ``images_background.npz`` / ``images_evaluation.npz``
(see the data folder's README): ``images`` (n_chars, 20, 105, 105) bool with True = white
background, ``labels`` (n_chars, 20) = global character ID minus the subset offset. Alphabet
names are not stored in the files; the global ID ranges below recover them.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from .._validation import InputError, check_int
from ..io import atomic_path
from .class_disjoint import ClassDisjointSplit, omniglot_splits

N_DRAWERS = 20
IMAGE_SIDE = 105
FILES = {"background": "images_background.npz", "evaluation": "images_evaluation.npz"}
SOURCE_URL = "https://github.com/brendenlake/omniglot/raw/master/python/{subset}.zip"

# (alphabet, first global character ID, last ID); IDs are 1-based and contiguous per alphabet.
BACKGROUND_ALPHABETS: tuple[tuple[str, int, int], ...] = (
    ("Arcadian", 1, 26), ("Armenian", 27, 67), ("Asomtavruli_(Georgian)", 68, 107),
    ("Balinese", 108, 131), ("Bengali", 132, 177),
    ("Blackfoot_(Canadian_Aboriginal_Syllabics)", 178, 191), ("Braille", 192, 217),
    ("Cyrillic", 218, 250), ("Early_Aramaic", 251, 272), ("Syriac_(Estrangelo)", 273, 295),
    ("Anglo-Saxon_Futhorc", 296, 324), ("Futurama", 325, 350), ("Grantha", 351, 393),
    ("Greek", 394, 417), ("Gujarati", 418, 465), ("Hebrew", 466, 487),
    ("Japanese_(hiragana)", 488, 539), ("Inuktitut_(Canadian_Aboriginal_Syllabics)", 540, 555),
    ("Malay_(Jawi_-_Arabic)", 556, 595), ("Japanese_(katakana)", 596, 642),
    ("Korean", 643, 682), ("Latin", 683, 708), ("Alphabet_of_the_Magi", 709, 728),
    ("Mkhedruli_(Georgian)", 729, 769), ("Burmese_(Myanmar)", 770, 803), ("N_Ko", 804, 836),
    ("Ojibwe_(Canadian_Aboriginal_Syllabics)", 837, 850), ("Sanskrit", 851, 892),
    ("Tagalog", 893, 909), ("Tifinagh", 910, 964),
)
EVALUATION_ALPHABETS: tuple[tuple[str, int, int], ...] = (
    ("Angelic", 965, 984), ("Atemayar_Qelisayer", 985, 1010), ("Atlantean", 1011, 1036),
    ("Aurek-Besh", 1037, 1062), ("Avesta", 1063, 1088), ("Ge_ez", 1089, 1114),
    ("Glagolitic", 1115, 1159), ("Gurmukhi", 1160, 1204), ("Kannada", 1205, 1245),
    ("Keble", 1246, 1271), ("Malayalam", 1272, 1318), ("Manipuri", 1319, 1358),
    ("Mongolian", 1359, 1388), ("Old_Church_Slavonic_(Cyrillic)", 1389, 1433),
    ("Oriya", 1434, 1479), ("Syriac_(Serto)", 1480, 1502), ("Sylheti", 1503, 1530),
    ("Tengwar", 1531, 1555), ("Tibetan", 1556, 1597), ("ULOG", 1598, 1623),
)
SUBSETS = {
    "background": (BACKGROUND_ALPHABETS, 1),
    "evaluation": (EVALUATION_ALPHABETS, 965),
}
N_CLASSES = {"background": 964, "evaluation": 659}


@dataclass
class OmniglotData:
    """All 32,460 Omniglot drawings, in global character-ID order (20 drawings per character).

    ``images`` is (n, 105, 105) bool with **True = ink** (the files store the reverse), or
    (n, s, s) float32 ink coverage in [0, 1] when loaded with ``image_size=s``.
    ``labels`` = global character ID - 1 (0..1622); ``alphabets`` indexes ``alphabet_names``
    (background alphabets first); ``drawers`` = drawing number 0..19 (one per person).
    ``split`` holds the study's four class-disjoint splits (see :mod:`.class_disjoint`).
    """

    name: ClassVar[str] = "omniglot"
    images: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    alphabets: np.ndarray = field(repr=False)
    drawers: np.ndarray = field(repr=False)
    alphabet_names: tuple[str, ...]
    background_alphabets: tuple[str, ...]
    path: str
    split: ClassDisjointSplit | None = field(default=None, repr=False)

    @property
    def n_classes(self) -> int:
        return int(np.unique(self.labels).size)

    def subset(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the given items, e.g. ``data.subset(data.split["test"])``."""
        return self.images[indices], self.labels[indices]


def resolve_dir(path: str | Path, marker: str, name: str) -> Path:
    """Accept the dataset folder itself or its parent (e.g. ``/work/shared/data``)."""
    path = Path(path).expanduser()
    if (path / marker).is_file():
        return path
    if (path / name / marker).is_file():
        return path / name
    return path


def load_omniglot(
    path: str | Path, download: bool = False, *, image_size: int | None = None,
    verify: bool = True,
) -> OmniglotData:
    """Load Omniglot from ``path`` (the ``omniglot`` folder or its parent).

    ``image_size`` downsamples every image by area averaging to ``image_size`` squared pixels
    (float32 ink coverage) while loading, which keeps memory small; ``None`` keeps the 105x105
    bits. ``verify`` checks the ``.sha256`` files when present. With ``download=True`` missing
    files are fetched from the original repository (brendenlake/omniglot) and packed into the
    same ``.npz`` layout; nothing is downloaded otherwise.
    """
    if image_size is not None:
        image_size = check_int(image_size, "image_size", low=4, high=IMAGE_SIDE)
    root = resolve_dir(path, FILES["background"], "omniglot")
    for subset, fname in FILES.items():
        if not (root / fname).is_file():
            if not download:
                raise InputError(
                    f"Omniglot file {fname} not found in {root}; pass download=True "
                    "(or --download) to fetch it from github.com/brendenlake/omniglot"
                )
            download_omniglot(root, subsets=(subset,))

    images, labels, alphabets, drawers = [], [], [], []
    names: list[str] = []
    for subset, fname in FILES.items():
        table, first_id = SUBSETS[subset]
        file = root / fname
        if verify:
            _verify_sha256(file)
        imgs, labs = _read_subset_npz(file, subset)
        n_chars = imgs.shape[0]
        offset = first_id - 1  # global label = stored label + offset
        glob = labs.reshape(-1).astype(np.int64) + offset
        alpha = np.empty(n_chars, dtype=np.int64)
        for a, (_, lo, hi) in enumerate(table):
            alpha[lo - first_id:hi - first_id + 1] = len(names) + a
        names.extend(a for a, _, _ in table)
        images.append(_prepare_images(imgs, image_size))
        labels.append(glob)
        alphabets.append(np.repeat(alpha, N_DRAWERS))
        drawers.append(np.tile(np.arange(N_DRAWERS, dtype=np.int64), n_chars))
    data = OmniglotData(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        alphabets=np.concatenate(alphabets),
        drawers=np.concatenate(drawers),
        alphabet_names=tuple(names),
        background_alphabets=tuple(a for a, _, _ in BACKGROUND_ALPHABETS),
        path=str(root),
    )
    data.split = omniglot_splits(data)
    return data


def _read_subset_npz(file: Path, subset: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as z:
            imgs, labs = z["images"], z["labels"]
    except Exception as exc:
        raise InputError(f"could not read Omniglot file {file}: {exc}") from None
    n = N_CLASSES[subset]
    if imgs.shape != (n, N_DRAWERS, IMAGE_SIDE, IMAGE_SIDE) or imgs.dtype != np.bool_:
        raise InputError(
            f"{file}: expected images of shape {(n, N_DRAWERS, IMAGE_SIDE, IMAGE_SIDE)} bool, "
            f"got {imgs.shape} {imgs.dtype}"
        )
    expected = np.repeat(np.arange(n), N_DRAWERS).reshape(n, N_DRAWERS)
    if labs.shape != (n, N_DRAWERS) or not np.array_equal(labs, expected):
        raise InputError(f"{file}: labels are not character indices 0..{n - 1} in order")
    return imgs, labs


def _prepare_images(imgs: np.ndarray, image_size: int | None) -> np.ndarray:
    ink = ~imgs.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    if image_size is None or image_size == IMAGE_SIDE:
        return ink if image_size is None else ink.astype(np.float32)
    return downsample(ink, image_size)


def downsample(ink: np.ndarray, image_size: int, chunk: int = 4096) -> np.ndarray:
    """Area-average (n, H, W) images to (n, s, s) float32, chunk by chunk to bound memory."""
    import torch
    import torch.nn.functional as F

    out = np.empty((ink.shape[0], image_size, image_size), dtype=np.float32)
    for start in range(0, ink.shape[0], chunk):
        x = torch.from_numpy(np.ascontiguousarray(ink[start:start + chunk], dtype=np.float32))
        y = F.interpolate(x.unsqueeze(1), size=(image_size, image_size), mode="area")
        out[start:start + chunk] = y.squeeze(1).numpy()
    return out


def _verify_sha256(file: Path) -> None:
    sums = file.with_name(file.name + ".sha256")
    if not sums.is_file():
        return
    expected = sums.read_text().split()[0].lower()
    actual = hashlib.sha256(file.read_bytes()).hexdigest()
    if actual != expected:
        raise InputError(f"{file} does not match its checksum in {sums.name}: file is damaged")


def download_omniglot(root: str | Path, subsets: tuple[str, ...] = tuple(FILES)) -> None:
    """Fetch the official zips and pack them as the ``.npz`` files :func:`load_omniglot` reads.

    Drawing file names are ``{global ID:04d}_{drawing:02d}.png``, so the global ID order does
    not depend on how the zip lists its folders.
    """
    import urllib.request

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for subset in subsets:
        url = SOURCE_URL.format(subset=f"images_{subset}")
        try:
            with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 (fixed https URL)
                blob = resp.read()
        except OSError as exc:
            raise InputError(f"could not download {url}: {exc}") from None
        imgs, labs = pack_omniglot_zip(blob, subset)
        with atomic_path(root / FILES[subset]) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, images=imgs, labels=labs)


_PNG_NAME = re.compile(r"(\d{4})_(\d{2})\.png$")


def pack_omniglot_zip(blob: bytes, subset: str) -> tuple[np.ndarray, np.ndarray]:
    """Official ``images_{subset}.zip`` bytes -> (images bool True=background, labels)."""
    from .._extras import require

    require("PIL", "study", "unpacking the Omniglot PNGs")
    from PIL import Image

    _, first_id = SUBSETS[subset]
    n = N_CLASSES[subset]
    imgs = np.zeros((n, N_DRAWERS, IMAGE_SIDE, IMAGE_SIDE), dtype=bool)
    filled = np.zeros((n, N_DRAWERS), dtype=bool)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for info in zf.infolist():
            m = _PNG_NAME.search(info.filename)
            if m is None:
                continue
            c, k = int(m.group(1)) - first_id, int(m.group(2)) - 1
            if not (0 <= c < n and 0 <= k < N_DRAWERS):
                raise InputError(f"unexpected Omniglot file {info.filename} in the {subset} zip")
            with Image.open(io.BytesIO(zf.read(info))) as im:
                # threshold rather than convert("1"), which would dither a grey image
                arr = np.asarray(im.convert("L")) >= 128
            if arr.shape != (IMAGE_SIDE, IMAGE_SIDE):
                raise InputError(f"{info.filename} is {arr.shape}, expected 105x105")
            imgs[c, k] = arr
            filled[c, k] = True
    if not filled.all():
        raise InputError(f"the {subset} zip lacks {(~filled).sum()} of {filled.size} drawings")
    labs = np.repeat(np.arange(n, dtype=np.int64), N_DRAWERS).reshape(n, N_DRAWERS)
    return imgs, labs
