"""Look at a clustering: one self-contained HTML page of its clusters.

:func:`cluster_page` writes (or returns) a page that lists the clusters largest first, each
with its most central items (:mod:`.central`), its distinctive words for texts (class-based
TF-IDF, :mod:`.keywords`), and with true labels its purity and majority class; it draws a 2-D
map of the embeddings (:mod:`.layout`), counts noise and singletons apart, and filters and
pages the cards. The page loads nothing: its script, style and images are inside it, so it
opens offline and can be mailed around. ``hilander report`` is its command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .central import central_items, centrality, tfidf_features
from .keywords import class_tfidf, cluster_keywords
from .layout import map_2d

__all__ = ["cluster_page", "central_items", "centrality", "class_tfidf", "cluster_keywords",
           "map_2d", "tfidf_features"]


def cluster_page(items, labels, *, embeddings=None, true_labels=None,
                 out: str | Path | None = None, title: str | None = None,
                 names: Sequence[str] | None = None, column: str | None = None,
                 encoding: str = "utf-8", items_per_card: int = 5, words_per_card: int = 8,
                 max_clusters: int = 2000, map_points: int = 5000,
                 map_method: str | None = "tsne", random_state: int = 0) -> str:
    """An HTML page of a clustering; written to ``out`` when given, and returned.

    Parameters
    ----------
    items : sequence of str, numpy.ndarray, ImageSet, str or Path
        What was clustered: texts; an ``(n, h, w)`` grey or ``(n, h, w, 3)`` colour image
        array (floats in [0, 1] or 0-255, or uint8); an
        :class:`~hilander.embed.user.ImageSet`; an image folder (its files in
        :func:`~hilander.embed.user.list_images` order); or a text file or table
        (:func:`~hilander.embed.user.read_texts`).
    labels : array-like of shape (n_items,) or str or Path
        Cluster of each item (integers with ``-1`` for noise, or strings), or a labels file
        (:func:`hilander.io.read_labels`).
    embeddings : array-like of shape (n_items, d) or None, default=None
        The items' embeddings: central items are those nearest their cluster's mean
        direction, and the map is drawn from them. Without them central items come from
        TF-IDF vectors (texts) or small grey images, and there is no map.
    true_labels : array-like of shape (n_items,) or None, default=None
        True classes: the page adds the metrics of :func:`hilander.metrics.evaluate` and each
        cluster's purity and majority class.
    out : str or Path or None, default=None
        Write the page there (atomically: a failed run leaves no partial file).
    title : str or None, default=None
        Page title (default: "Clusters of N items").
    names : sequence of str or None, default=None
        A name per item (e.g. an id), shown with it and searchable.
    column : str or None, default=None
        Text column when ``items`` is a table.
    encoding : str, default="utf-8"
        Encoding of a text file or CSV/TSV table given as ``items``.
    items_per_card : int, default=5
        Central items shown per cluster.
    words_per_card : int, default=8
        Distinctive words shown per cluster (texts only).
    max_clusters : int, default=2000
        Clusters listed as cards at most (the largest); the page says when it lists fewer.
    map_points : int, default=5000
        Points on the map at most; above it a uniform random sample, which the page states.
    map_method : {"tsne", "pca"} or None, default="tsne"
        Layout of the map; None draws no map.
    random_state : int, default=0
        Seed of the map's sample and layout.

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> texts = ["reset my password", "forgot my password", "weather tomorrow",
    ...          "will it rain tomorrow"]
    >>> page = cluster_page(texts, [0, 0, 1, 1], true_labels=["pw", "pw", "wx", "wx"])
    >>> page.startswith("<!DOCTYPE html>"), "password" in page
    (True, True)
    """
    from ..io import atomic_path, check_writable, read_labels
    from .items import as_items
    from .page import render
    from .summary import page_data

    if out is not None:
        check_writable(out)  # before any work
    parsed = as_items(items, names=names, column=column, encoding=encoding)
    if isinstance(labels, (str, Path)):
        labels = read_labels(labels, parsed.n)
    if isinstance(true_labels, (str, Path)):
        true_labels = read_labels(true_labels, parsed.n)
    data = page_data(parsed, labels, embeddings=embeddings, true_labels=true_labels,
                     title=title if title is not None else f"Clusters of {parsed.n:,} items",
                     items_per_card=items_per_card, words_per_card=words_per_card,
                     max_clusters=max_clusters, map_points=map_points, map_method=map_method,
                     random_state=random_state)
    page = render(data)
    if out is not None:
        with atomic_path(out) as tmp:
            tmp.write_text(page, encoding="utf-8")
    return page
