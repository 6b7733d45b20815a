"""``hilander report``: one self-contained HTML page to look at a clustering."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .embed import add_encoding


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="an HTML page of a clustering: its clusters, central items, words, map",
        description=(
            "Write one self-contained HTML page (no network needed to open it) of the "
            "clustering LABELS of ITEMS: the clusters largest first with their sizes, each "
            "with its most central items (texts or image thumbnails) and, for texts, its most "
            "distinctive words (class-based TF-IDF); noise (-1) and singletons counted apart; "
            "a filter box and pages of 50 cards. With --embeddings, central means nearest the "
            "cluster's mean direction and the page draws a 2-D map of the embeddings (t-SNE "
            "of at most --map-points, about a minute for 5,000). With true labels, the "
            "metrics of `hilander evaluate` and each cluster's purity and majority class."
        ),
    )
    p.add_argument("items", help="what was clustered: a .txt file (one text per line), a "
                                 ".csv/.tsv/.parquet table (--column) or a folder of images")
    p.add_argument("labels", help="cluster labels, one per item in the items' order (.npy, "
                                  ".csv or .txt; -1 = noise)")
    p.add_argument("--out", required=True, help="the page to write (.html)")
    p.add_argument("--embeddings", metavar="FILE",
                   help="the items' embeddings (.npy, .npz, .csv, .parquet), one row per item")
    p.add_argument("--true-labels", metavar="FILE|folders",
                   help="true classes, one per item (.npy, .csv, .txt); 'folders' for an "
                        "image folder (class = first sub-folder)")
    p.add_argument("--true-label-column", metavar="COLUMN",
                   help="true classes from this column of the items table")
    p.add_argument("--column", help="text column of a table (optional if it has one column)")
    add_encoding(p)
    p.add_argument("--title", help="page title (default: 'Clusters of N items')")
    p.add_argument("--per-card", type=int, default=5,
                   help="central items shown per cluster (default 5)")
    p.add_argument("--words", type=int, default=8,
                   help="distinctive words shown per cluster of texts (default 8; 0: none)")
    p.add_argument("--max-clusters", type=int, default=2000,
                   help="clusters listed at most, the largest (default 2000)")
    p.add_argument("--map", choices=("tsne", "pca", "none"), default="tsne",
                   help="layout of the 2-D map with --embeddings (default tsne)")
    p.add_argument("--map-points", type=int, default=5000,
                   help="points on the map at most; a random sample beyond (default 5000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the map (default 0)")
    p.set_defaults(func=run)


def _check_args(args) -> None:
    from .._validation import InputError
    from ..io import check_encoding, check_outputs

    for flag, value, low in (("--per-card", args.per_card, 1), ("--words", args.words, 0),
                             ("--max-clusters", args.max_clusters, 1),
                             ("--map-points", args.map_points, 3), ("--seed", args.seed, 0)):
        if value < low:
            raise InputError(f"{flag} must be >= {low}, got {value}")
    if args.per_card > 1000:
        raise InputError(f"--per-card must be <= 1000, got {args.per_card}")
    if args.words > 100:
        raise InputError(f"--words must be <= 100, got {args.words}")
    if args.true_labels and args.true_label_column:
        raise InputError("give --true-labels or --true-label-column, not both")
    check_encoding(args.encoding)
    true_file = args.true_labels if args.true_labels != "folders" else None
    # the page is checked before any work, and may never replace an input
    check_outputs({"--out": (args.out, (".html", ".htm"))},
                  inputs=[args.items, args.labels, args.embeddings, true_file])


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._validation import InputError
    from ..embed.user import read_texts
    from ..io import read_features, read_labels
    from ..viewer import cluster_page
    from ..viewer._labels import cluster_codes
    from ..viewer.items import as_items

    t0 = time.perf_counter()
    _check_args(args)
    source = Path(args.items)
    folder = source.is_dir()
    if folder and (args.column or args.true_label_column):
        raise InputError(f"{source} is an image folder; --column and --true-label-column "
                         "name columns of a table")
    if args.true_labels == "folders" and not folder:
        raise InputError("--true-labels folders needs an image folder as ITEMS")
    true = None
    if not folder and args.true_label_column:
        texts, true = read_texts(source, column=args.column,
                                 label_column=args.true_label_column, encoding=args.encoding)
        items = as_items(texts)
    else:
        items = as_items(source, column=args.column, encoding=args.encoding)
    n = items.n

    def per_item(values: np.ndarray, path: str, what: str) -> np.ndarray:
        if values.shape[0] != n:
            raise InputError(f"{path} has {values.shape[0]} {what} for the {n:,} items of "
                             f"{source}")
        return values

    labels = per_item(read_labels(args.labels), args.labels, "labels")
    if args.true_labels == "folders":
        parts = [Path(name).parts for name in items.names]
        flat = next((name for name, p in zip(items.names, parts) if len(p) < 2), None)
        if flat is not None:
            raise InputError(f"{source / flat} is not in a sub-folder; with --true-labels "
                             "folders every image must be in one (folder name = class)")
        true = np.array([p[0] for p in parts])
    elif args.true_labels:
        true = per_item(read_labels(args.true_labels), args.true_labels, "true labels")
    X = None
    if args.embeddings:
        X = read_features(args.embeddings)
        per_item(X, args.embeddings, "embedding rows")
    page = cluster_page(items, labels,
                        embeddings=X, true_labels=true, out=args.out, title=args.title,
                        items_per_card=args.per_card, words_per_card=args.words,
                        max_clusters=args.max_clusters, map_points=args.map_points,
                        map_method=None if args.map == "none" else args.map,
                        random_state=args.seed)
    names, codes = cluster_codes(labels)
    size = len(page.encode("utf-8"))
    shown = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"
    print(f"wrote {args.out} ({shown}): {n:,} {items.kind}s, {names.size:,} clusters "
          f"(singletons included), {int((codes < 0).sum()):,} noise, in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0
