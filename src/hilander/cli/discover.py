"""``hilander discover``: learn an encoder and a clusterer from labeled identities, then find the
identities of an unlabeled set of texts or images."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._common import add_seed, parse_params
from .embed import add_encoding


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "discover",
        help="learn the encoder and the clusterer from labeled identities, cluster new items",
        description=(
            "hilander discover LABELED UNLABELED --out CLUSTERS\n\n"
            "LABELED: a .csv/.tsv/.parquet table of texts (--column, --label-column) or a "
            "folder of images (labels: the sub-folder names, or --labels CSV).\n"
            "UNLABELED: a .txt file (one text per line), a table column (--column) or a "
            "folder of images.\n\n"
            "The encoder (MiniLM for texts, the image backbone for images) trains on a share "
            "of the labeled identities; the clustering method (Hi-LANDER, Infomap, Leiden, "
            "chosen as `hilander auto` chooses) is fitted on the encoder's embeddings of the "
            "other identities, which the encoder never trained on, like the unlabeled ones "
            "(--protocol). CLUSTERS gets one cluster id per unlabeled item (-1: noise)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("labeled", help="labeled texts (table) or image folder")
    p.add_argument("unlabeled", help="texts to cluster (.txt or table) or image folder")
    p.add_argument("--out", required=True, help="cluster id per unlabeled item: .npy or .csv")
    p.add_argument("--column", help="text column of whichever input is a table (optional for "
                                    "a labeled table of two columns, or a one-column table)")
    p.add_argument("--label-column", help="label column of a labeled table")
    p.add_argument("--labels", default="folders", metavar="folders|CSV",
                   help="labels of a labeled image folder: 'folders' (default: the first "
                        "sub-folder's name) or a CSV of path,label rows")
    p.add_argument("--model", metavar="FILE",
                   help="also save the learnt encoder and clusterer (.hlm; "
                        "hilander.Discoverer.load reads it)")
    p.add_argument("--embeddings-out", metavar="FILE",
                   help="the unlabeled items' embeddings under the learnt encoder (.npy)")
    p.add_argument("--protocol", default="complementary",
                   choices=("complementary", "refit", "leaky"),
                   help="which labeled identities teach the encoder and which the clusterer "
                        "(default complementary: disjoint shares)")
    p.add_argument("--encoder-share", type=float, default=0.5,
                   help="share of the labeled items (whole identities) the encoder trains on "
                        "(default 0.5)")
    p.add_argument("--methods", default="infomap,leiden",
                   help="clustering candidates (default infomap,leiden; hilander on request; see "
                        "`hilander methods`)")
    p.add_argument("--rounds", type=int, default=0,
                   help="transductive rounds: fine-tune on the unlabeled set's clusters and "
                        "cluster again (default 0)")
    p.add_argument("--init", metavar="MODEL",
                   help="encoder file to start from (default: the packaged MiniLM for texts, "
                        "a new backbone for images)")
    p.add_argument("--epochs", type=int, help="encoder training epochs (default: the "
                                              "encoder's)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="another encoder training option, e.g. --param lr=1e-5 (repeatable)")
    p.add_argument("--image-size", type=int, default=None,
                   help="images: input side in pixels (default: --init's, else 28)")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), auto (a GPU when present) or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: the cores this process may use, fewer "
                        "when other processes keep them busy)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_encoding(p)
    add_seed(p)
    p.set_defaults(func=run)


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _check_args(args) -> None:
    from .._validation import InputError
    from ..io import LABEL_SUFFIXES, MODEL_SUFFIXES, check_outputs

    check_outputs({"--out": (args.out, LABEL_SUFFIXES),
                   "--model": (args.model, MODEL_SUFFIXES),
                   "--embeddings-out": (args.embeddings_out, (".npy",))},
                  inputs=[p for p in (args.labeled, args.unlabeled, args.init)
                          if p and not Path(p).is_dir()])
    for flag, value, low in (("--rounds", args.rounds, 0), ("--epochs", args.epochs, 1),
                             ("--seed", args.seed, 0)):
        if value is not None and value < low:
            raise InputError(f"{flag} must be >= {low}, got {value}")
    if not 0.0 < args.encoder_share < 1.0:
        raise InputError(f"--encoder-share must be in (0, 1), got {args.encoder_share}")
    for flag, path in (("LABELED", args.labeled), ("UNLABELED", args.unlabeled),
                       ("--init", args.init)):
        if path and not Path(path).exists():
            raise InputError(f"{flag} not found: {path}")
    from ..io import check_encoding

    check_encoding(args.encoding)
    if Path(args.labeled).is_dir() != Path(args.unlabeled).is_dir():
        raise InputError("LABELED and UNLABELED must both be image folders or both be text "
                         f"files ({args.labeled}, {args.unlabeled})")


def _read(args):
    """(X, y, X_unlabeled, image_size or None) from the command's inputs."""
    import numpy as np

    from .._validation import InputError
    from ..discover.discoverer import check_identity_count
    from ..embed.user import TABLE_SUFFIXES, read_image_folder
    from .encoder import _read_text_set

    if Path(args.labeled).is_dir():
        size = args.image_size or 28
        lab = read_image_folder(args.labeled, labels=args.labels, image_size=size,
                                progress=not args.quiet)
        check_identity_count(int(np.unique(lab.labels[lab.labels >= 0]).size), args.protocol)
        new = read_image_folder(args.unlabeled, image_size=size, progress=not args.quiet)
        _say(args.quiet, f"{len(lab.label_names or [])} identities, {len(lab.paths):,} "
                         f"labeled images; {len(new.paths):,} images to cluster")
        return lab.images, lab.labels, new.images, size
    if Path(args.labeled).suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"LABELED {args.labeled} must be a .csv, .tsv or .parquet table "
                         "(a text and a label column) or a folder of images")
    if not args.label_column:
        raise InputError("a labeled table needs --label-column")
    X, y = _read_text_set(args.labeled, args, labeled=True)
    check_identity_count(int(np.unique(y).size), args.protocol)
    U, _ = _read_text_set(args.unlabeled, args, labeled=False)
    _say(args.quiet, f"{np.unique(y).size} identities, {len(X):,} labeled texts; "
                     f"{len(U):,} texts to cluster")
    return X, y, U, None


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._device import resolve_device
    from .._validation import InputError
    from ..discover import Discoverer
    from ..embed.user import load_encoder
    from ..io import output_batch, write_array, write_labels
    from .embed import set_threads

    t0 = time.perf_counter()
    _check_args(args)
    set_threads(args.threads)
    resolve_device(args.device)
    X, y, U, size = _read(args)
    init = load_encoder(args.init) if args.init else None
    if init is not None:
        want = "ImageBackbone" if size is not None else "TextEncoder"
        if type(init).__name__ != want:
            raise InputError(f"--init {args.init} is a {type(init).__name__}; these items "
                             f"need a {want}")
        if size is not None and args.image_size is None and init.image_shape_[0] != size:
            X, _, U, size = _read(argparse.Namespace(**{**vars(args),
                                                        "image_size": init.image_shape_[0]}))
    encoder_params = parse_params(args.param)
    if args.epochs is not None:
        encoder_params["epochs"] = args.epochs
    disc = Discoverer(encoder=init if init is not None else "auto",
                      methods=args.methods, protocol=args.protocol,
                      encoder_share=args.encoder_share, rounds=args.rounds,
                      encoder_params=encoder_params or None, random_state=args.seed,
                      verbose=not args.quiet, device=args.device)
    disc.fit(X, y, X_unlabeled=U)
    labels = disc.labels_
    with output_batch():
        write_labels(args.out, labels)
        if args.embeddings_out:
            write_array(args.embeddings_out, disc.embeddings_)
        if args.model:
            disc.save(args.model)
    if not args.quiet:
        print(disc.clusterer_.table(), file=sys.stderr)
    n_clusters = int(np.unique(labels[labels >= 0]).size)
    n_noise = int((labels < 0).sum())
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in disc.timings_.items() if k != "total")
    print(f"{n_clusters} clusters" + (f" and {n_noise} noise items" if n_noise else "")
          + f" among {len(labels):,} items ({disc.clusterer_.winner_}, held-out avg F "
          f"{disc.clusterer_.val_avg_f_:.3f}); {time.perf_counter() - t0:.0f} s ({parts}); "
          f"wrote {args.out}")
    return 0
