"""The items a page shows: texts, an array of images or a folder of image files.

Texts are shown as text; images as small thumbnails, embedded in the page as ``data:`` URIs
(the page loads nothing). A folder's images are opened only when a card shows them, so a page
of a large folder reads a few thousand files, not all of them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .._validation import InputError

#: longest side of a thumbnail, in pixels; smaller images keep their size
THUMB_SIDE = 64
#: side of the grey images compared when no embeddings are given
FALLBACK_SIDE = 16


@dataclass
class Items:
    """What a page shows for each row of the labels.

    Attributes
    ----------
    kind : {"text", "image"}
        Texts or images.
    n : int
        Number of items.
    texts : list of str or None
        The texts (``kind == "text"``).
    images : numpy.ndarray or None
        ``(n, h, w)`` grey or ``(n, h, w, 3|4)`` colour images, for an image array.
    root : Path or None
        The folder of an image folder; ``names`` are its files, relative to it.
    names : list of str or None
        A name per item (file names of images), shown and searchable.
    """

    kind: str
    n: int
    texts: list[str] | None = None
    images: np.ndarray | None = None
    root: Path | None = None
    names: list[str] | None = None

    def thumbnail(self, i: int) -> str:
        """Item ``i`` as a ``data:`` URI (PNG for grey images, JPEG for colour ones)."""
        from PIL import Image

        if self.root is not None:
            path = self.root / self.names[i]
            try:
                with Image.open(path) as im:
                    im.load()
                    picture = im.convert("L" if im.mode in ("1", "L", "I", "I;16", "F")
                                         else "RGB")
            except (OSError, ValueError) as exc:
                raise InputError(f"could not read image {path}: {exc}") from None
        else:
            picture = Image.fromarray(_to_uint8(self.images[i], self._scale))
        if max(picture.size) > THUMB_SIDE:
            picture.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if picture.mode == "L":
            picture.save(buf, format="PNG", optimize=True)
            mime = "image/png"
        else:
            picture.save(buf, format="JPEG", quality=85)
            mime = "image/jpeg"
        return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"

    @cached_property
    def _scale(self) -> float:
        # one scale for the whole array, so a faint image stays faint beside a dark one
        imgs = self.images
        if imgs.dtype.kind == "b":
            return 255.0
        return 255.0 if imgs.dtype.kind == "f" and float(imgs.max()) <= 1.0 + 1e-6 else 1.0

    def fallback_features(self):
        """Features to find central items by when no embeddings are given: TF-IDF rows of
        texts, or the grey pixels of images shrunk to 16 x 16."""
        from .central import tfidf_features

        if self.kind == "text":
            return tfidf_features(self.texts)
        if self.root is not None:
            from ..embed.user import read_image_folder

            return read_image_folder(self.root, image_size=FALLBACK_SIDE,
                                     invert=False).images.reshape(self.n, -1)
        from PIL import Image

        small = np.empty((self.n, FALLBACK_SIDE * FALLBACK_SIDE), np.float32)
        for i in range(self.n):
            im = Image.fromarray(_to_uint8(self.images[i], self._scale)).convert("L")
            small[i] = np.asarray(im.resize((FALLBACK_SIDE, FALLBACK_SIDE),
                                            Image.Resampling.BOX), np.float32).ravel() / 255
        return small


def _to_uint8(img: np.ndarray, scale: float) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    return np.clip(np.asarray(img, dtype=np.float64) * scale, 0, 255).round().astype(np.uint8)


def as_items(items, *, names: Sequence[str] | None = None, column: str | None = None,
             encoding: str = "utf-8") -> Items:
    """Texts or images from what the user has.

    Parameters
    ----------
    items : sequence of str, numpy.ndarray, ImageSet, str or Path
        Texts; an ``(n, h, w)`` grey or ``(n, h, w, 3|4)`` colour image array (floats in
        [0, 1] or 0-255, or uint8); an :class:`~hilander.embed.user.ImageSet`; a folder of
        images; or a text file / table read with :func:`~hilander.embed.user.read_texts`.
    names : sequence of str or None, default=None
        A name per item (e.g. an id), shown with it and searchable.
    column : str or None, default=None
        Text column of a table.
    encoding : str, default="utf-8"
        Encoding of a text file or CSV/TSV table.

    Returns
    -------
    Items
    """
    from ..embed.user import ImageSet, list_images, read_texts

    if isinstance(items, Items):
        return items
    if isinstance(items, (str, Path)):
        path = Path(items)
        if path.is_dir():
            if names is not None:
                raise InputError("names are not taken with an image folder: its file names "
                                 "are the names")
            rel = [p.as_posix() for p in list_images(path)]
            return Items("image", len(rel), root=path, names=rel)
        if not path.exists():
            raise InputError(f"items not found: {path} (a text file, a table or an image "
                             "folder)")
        texts, _ = read_texts(path, column=column, encoding=encoding)
        out = Items("text", len(texts), texts=texts)
    elif isinstance(items, ImageSet):
        out = Items("image", len(items.paths), images=np.asarray(items.images),
                    names=list(items.paths))
    elif isinstance(items, np.ndarray) and items.dtype.kind in "biuf":
        imgs = items[..., 0] if items.ndim == 4 and items.shape[-1] == 1 else items
        if not (imgs.ndim == 3 or (imgs.ndim == 4 and imgs.shape[-1] in (3, 4))):
            raise InputError(f"an image array must be (n, h, w) or (n, h, w, 3|4), got shape "
                             f"{items.shape}")
        if imgs.shape[0] == 0:
            raise InputError("the image array is empty")
        out = Items("image", imgs.shape[0], images=imgs)
    else:
        if isinstance(items, np.ndarray):
            items = items.tolist()
        if not isinstance(items, Sequence) or not all(isinstance(t, str) for t in items):
            raise InputError("items must be texts (a list of str), an image array, an "
                             "ImageSet, an image folder or a text file")
        if len(items) == 0:
            raise InputError("items is empty")
        out = Items("text", len(items), texts=list(items))
    if names is not None:
        names = [str(v) for v in names]
        if len(names) != out.n:
            raise InputError(f"names has {len(names)} entries for {out.n} items")
        out.names = names
    return out
