"""``hilander embed``: embeddings of a bundled dataset's splits, or of the user's own data.

* ``hilander embed omniglot|clinc150 DATA_DIR --out DIR``: every split, with Recall@1;
* ``hilander embed text FILE --out X.npy``: one text per line, or a CSV/TSV/parquet column;
* ``hilander embed images DIR --out X.npy --model BACKBONE``: every image under a folder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._common import add_seed, parse_params


def register(subparsers) -> None:
    from ..study.embeddings import DATASETS

    p = subparsers.add_parser(
        "embed",
        help="embed a bundled dataset's splits, a text file or a folder of images",
        description=(
            "hilander embed omniglot|clinc150 DATA_DIR --out DIR   (the four splits)\n"
            "hilander embed text FILE --out X.npy [--column C]   (your sentences)\n"
            "hilander embed images DIR --out X.npy --model BACKBONE.hlm   (your images)\n\n"
            "Run `hilander embed FORM --help` for each form's options."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    forms = p.add_subparsers(dest="form", required=True, metavar="FORM")
    for name in DATASETS:
        _register_dataset(forms, name)
    _register_text(forms)
    _register_images(forms)


def _register_dataset(forms, name: str) -> None:
    how = ("a small conv net trained here on the backbone-train split with cosine-softmax "
           "cross-entropy" if name == "omniglot"
           else "the pretrained all-MiniLM-L6-v2 sentence encoder")
    p = forms.add_parser(
        name, help=f"the {name} dataset's four class-disjoint splits (cached), with Recall@1",
        description=(
            f"Embed {name} ({how}), write DIR/{{split}}.npz with 'features' and 'labels' for "
            "backbone_train, clustering_train, validation, test (plus test_longtail.npz), "
            "meta.json" + (" and backbone.hlm" if name == "omniglot" else "") + "; then print "
            "Recall@1 of each split, unnormalised and l2-normalised. Embeddings are cached, "
            "so a second run is quick."
        ),
    )
    p.add_argument("data_dir", help="the dataset folder, or its parent (e.g. /work/shared/data)")
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument(
        "--cache-dir", default=None,
        help="cache folder (default: $HILANDER_CACHE or ~/.cache/hilander)",
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument(
        "--param", action="append", metavar="KEY=VALUE",
        help="override an embedder option, e.g. --param epochs=5 (repeatable)",
    )
    p.add_argument(
        "--long-tail-seed", type=int, default=0,
        help="seed of the long-tailed resampling written to test_longtail.npz (default 0)",
    )
    _add_threads(p)
    p.add_argument(
        "--download", action="store_true",
        help="fetch missing data files from the original public source",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    add_seed(p)
    p.set_defaults(func=run, dataset=name)


def _register_text(forms) -> None:
    p = forms.add_parser(
        "text", help="embed your own sentences (one per line, or a table column)",
        description=(
            "Embed the texts of FILE with the bundled all-MiniLM-L6-v2 encoder (or a "
            "fine-tuned one from `hilander encoder text`, --model) and write an (n, 384) "
            "float32 .npy, one row per text in file order, unnormalised. FILE is plain text "
            "(UTF-8 unless --encoding says otherwise) with one text per line, or a "
            ".csv/.tsv/.parquet table with the texts in --column. A binary file (NUL or "
            "control bytes, or bytes invalid in the encoding) is refused."
        ),
    )
    p.add_argument("file", help="a .txt file (one text per line) or a .csv/.tsv/.parquet table")
    p.add_argument("--out", required=True, help="embeddings, a .npy file")
    p.add_argument("--column", help="text column of a table (optional if it has one column)")
    p.add_argument("--label-column", help="label column of a table, written to --labels-out")
    add_encoding(p)
    p.add_argument("--labels-out", help="labels (.npy or .csv), one per row of --out")
    p.add_argument("--model", help="a fine-tuned TextEncoder file (default: pretrained MiniLM)")
    p.add_argument("--batch-size", type=int, default=128, help="texts per batch (default 128)")
    _add_threads(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_text)


def _register_images(forms) -> None:
    p = forms.add_parser(
        "images", help="embed your own images (every image under a folder)",
        description=(
            "Embed every image under DIR (searched recursively, sorted by path: that is the "
            "row order) with an image backbone, and write an (n, d) float32 .npy. Images are "
            "read as grey, resized to the backbone's input size and inverted when their "
            "border is light (the backbone learns from dark-background drawings). Labels, "
            "optional, come from the first sub-folder of each path or from a CSV of "
            "path,label rows."
        ),
    )
    p.add_argument("dir", help="folder of images (.png, .jpg, .bmp, .gif, .tif, .webp, ...)")
    p.add_argument("--out", required=True, help="embeddings, a .npy file")
    p.add_argument(
        "--model", required=True,
        help="an image backbone file: DIR/backbone.hlm from `hilander embed omniglot`, or "
             "one trained on your labeled images with `hilander encoder images`",
    )
    p.add_argument("--labels", metavar="folders|CSV",
                   help="'folders' (label = first sub-folder) or a CSV of path,label rows")
    p.add_argument("--index-out", metavar="CSV",
                   help="write path,label for every row of --out (label empty without labels, "
                        "-1 for an image the CSV does not label)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert grey levels: auto (when borders are light), yes or no")
    _add_threads(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_images)


def _add_threads(p) -> None:
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )


def add_encoding(p) -> None:
    """``--encoding`` of the commands that read text files (shared by embed, encoder, report)."""
    p.add_argument("--encoding", default="utf-8",
                   help="encoding of a text/CSV/TSV file (default utf-8; e.g. latin-1, cp1252): "
                        "a file in another encoding is refused, never guessed")


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` (shared by the commands that run torch)."""
    from .._validation import InputError

    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads must be >= 1, got {threads}")
        import os

        import torch

        from .._threads import ENV_VAR

        torch.set_num_threads(threads)
        os.environ[ENV_VAR] = str(threads)  # training loops keep it instead of following load


def check_npy_out(path: str, option: str = "--out") -> Path:
    """``path`` ends in .npy and can be written (checked before any work)."""
    from .._validation import InputError
    from ..io import check_writable

    if not path.lower().endswith(".npy"):
        raise InputError(f"{option} must be a .npy file, got {path}")
    return check_writable(path)


def run(args: argparse.Namespace) -> int:
    from .._validation import InputError
    from ..study.embeddings import embed_dataset

    set_threads(args.threads)
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    result = embed_dataset(
        args.dataset, args.data_dir, cache_dir=args.cache_dir, seed=args.seed,
        progress=not args.quiet, config=parse_params(args.param), cache=not args.no_cache,
        download=args.download,
    )
    written = result.save(Path(args.out), long_tail_seed=args.long_tail_seed)
    print(result.recall_table())
    info = result.info
    source = "read from cache" if result.from_cache else "computed"
    seconds = info.get("total_seconds")
    timing = f" in {seconds:.1f} s" if seconds is not None and not result.from_cache else ""
    print(f"embeddings {source}{timing}; wrote {len(written)} files to {args.out}")
    return 0


def run_text(args: argparse.Namespace) -> int:
    from .._validation import InputError
    from ..embed.user import embed_texts, read_texts
    from ..io import check_encoding, check_writable, write_array, write_labels

    t0 = time.perf_counter()
    check_npy_out(args.out)
    if args.labels_out and not args.label_column:
        raise InputError("--labels-out needs --label-column (the labels to write)")
    if args.labels_out:
        check_writable(args.labels_out)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.model and not Path(args.model).is_file():
        raise InputError(f"model file not found: {args.model}")
    check_encoding(args.encoding)
    set_threads(args.threads)
    texts, labels = read_texts(args.file, column=args.column, label_column=args.label_column,
                               encoding=args.encoding)
    X = embed_texts(texts, encoder=args.model, batch_size=args.batch_size,
                    progress=not args.quiet)
    write_array(args.out, X)
    if args.labels_out:
        write_labels(args.labels_out, labels)
    print(f"embedded {X.shape[0]:,} texts with "
          f"{'the pretrained MiniLM' if not args.model else args.model} in "
          f"{time.perf_counter() - t0:.1f} s; wrote {args.out} ({X.shape[0]} x {X.shape[1]})"
          + (f" and {args.labels_out}" if args.labels_out else ""))
    return 0


def run_images(args: argparse.Namespace) -> int:
    import csv

    from .._validation import InputError
    from ..embed.backbone import ImageBackbone
    from ..embed.user import embed_images, load_encoder, read_image_folder
    from ..io import atomic_path, check_writable, write_array

    t0 = time.perf_counter()
    check_npy_out(args.out)
    if args.index_out:
        check_writable(args.index_out)
    set_threads(args.threads)
    backbone = load_encoder(args.model)
    if not isinstance(backbone, ImageBackbone):
        raise InputError(f"{args.model} is a text encoder; images need an image backbone")
    side = backbone.image_shape_
    if side[0] != side[1]:
        raise InputError(f"{args.model} takes {side} images; only square inputs are supported")
    invert = {"auto": "auto", "yes": True, "no": False}[args.invert]
    data = read_image_folder(args.dir, labels=args.labels, image_size=side[0], invert=invert,
                             progress=not args.quiet)
    X = embed_images(data.images, backbone)
    write_array(args.out, X)
    if args.index_out:
        with atomic_path(args.index_out) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["path", "label"])
                for i, path in enumerate(data.paths):
                    if data.labels is None:
                        label = ""
                    elif data.labels[i] < 0:
                        label = "-1"
                    else:
                        label = data.label_names[data.labels[i]]
                    w.writerow([path, label])
    extra = f", {len(data.label_names)} labels" if data.label_names else ""
    print(f"embedded {X.shape[0]:,} images ({side[0]}x{side[1]} grey"
          f"{', inverted' if data.inverted else ''}{extra}) in {time.perf_counter() - t0:.1f} s; "
          f"wrote {args.out} ({X.shape[0]} x {X.shape[1]})"
          + (f" and {args.index_out}" if args.index_out else ""))
    return 0
