"""``hilander encoder text|images``: train an encoder on labeled identities, true or pseudo,
and optionally refine it on an unlabeled set (cluster, fine-tune on the clusters, repeat)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ._common import add_seed, parse_params
from .embed import add_encoding


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "encoder",
        help="train / fine-tune the text or image encoder on labels, optionally refine it on "
             "unlabeled data",
        description=(
            "hilander encoder text FILE --label-column L --out ENC.hlm\n"
            "hilander encoder images DIR --labels folders --out BACKBONE.hlm\n"
            "  ... --unlabeled NEW [--rounds 2 --clusters-out Y.npy]   (refinement)\n\n"
            "Trains with a cosine-softmax head over the identities (learnt temperature), "
            "early-stopped on held-out identities. Items labeled -1 (noise in "
            "pseudo-labels) are skipped. Run `hilander encoder FORM --help` for details."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    forms = p.add_subparsers(dest="form", required=True, metavar="FORM")
    text = forms.add_parser(
        "text", help="fine-tune the MiniLM sentence encoder",
        description=(
            "Fine-tune all-MiniLM-L6-v2 (or --init, an encoder trained before) on the labeled "
            "sentences of FILE, a .csv/.tsv/.parquet table with a text and a label column. "
            "Writes one file (configuration + weights, about 90 MB) for `hilander embed text "
            "--model`."
        ),
    )
    text.add_argument("file", help="table of labeled sentences (.csv, .tsv, .parquet)")
    text.add_argument("--column", help="text column (optional if the table has two columns "
                                       "and --label-column names the other)")
    text.add_argument("--label-column", required=True,
                      help="label column (integers with -1 for noise, or strings)")
    text.add_argument("--val", metavar="FILE",
                      help="held-out identities for early stopping (same columns); default: "
                           "--val-fraction of FILE's identities")
    text.add_argument("--unlabeled", metavar="FILE",
                      help="sentences to refine on: .txt (one per line) or a table (--column)")
    add_encoding(text)
    images = forms.add_parser(
        "images", help="train or fine-tune the image backbone",
        description=(
            "Train the image backbone (a small conv net on grey images) on the labeled images "
            "under DIR, from scratch or from --init (fine-tuning). Labels come from sub-folder "
            "names or a CSV of path,label rows (-1 or an unlisted image: unlabeled, skipped). "
            "Writes one file for `hilander embed images --model`."
        ),
    )
    images.add_argument("dir", help="folder of labeled images")
    images.add_argument("--labels", required=True, metavar="folders|CSV",
                        help="'folders' (label = first sub-folder) or a CSV of path,label rows")
    images.add_argument("--val", metavar="DIR",
                        help="folder of held-out identities (labeled like DIR); default: "
                             "--val-fraction of DIR's identities")
    images.add_argument("--image-size", type=int, default=None,
                        help="input side in pixels (default: --init's, else 28)")
    images.add_argument("--unlabeled", metavar="DIR", help="folder of images to refine on")
    for q in (text, images):
        q.add_argument("--out", required=True, help="the trained encoder file (.hlm)")
        q.add_argument("--init", metavar="MODEL",
                       help="start from this encoder file (default: pretrained MiniLM for "
                            "text, a new network for images)")
        q.add_argument("--val-fraction", type=float, default=0.2,
                       help="share of the identities held out without --val (default 0.2)")
        q.add_argument("--epochs", type=int, help="training epochs (default: the encoder's)")
        q.add_argument("--param", action="append", metavar="KEY=VALUE",
                       help="another encoder option, e.g. --param lr=1e-5 (repeatable)")
        q.add_argument("--device", default="cpu",
                       help="cpu (default), auto (a GPU when present) or cuda")
        q.add_argument("--rounds", type=int, default=2,
                       help="refinement rounds with --unlabeled (default 2)")
        q.add_argument("--methods", default="infomap,leiden",
                       help="clustering candidates of the refinement, chosen on the held-out "
                            "identities (default infomap,leiden)")
        q.add_argument("--clusters-out", metavar="FILE",
                       help="with --unlabeled: the last round's clusters (.npy or .csv)")
        q.add_argument("--embeddings-out", metavar="FILE",
                       help="with --unlabeled: the unlabeled items' final embeddings (.npy)")
        q.add_argument("--threads", type=int, default=None,
                       help="torch CPU threads (default: torch's choice)")
        q.add_argument("--quiet", action="store_true", help="no progress lines")
        add_seed(q)
        q.set_defaults(func=run)


def _say(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def _read_text_set(path: str, args, *, labeled: bool):
    from ..embed.user import read_texts

    table = Path(path).suffix.lower() in (".csv", ".tsv", ".parquet")
    column = args.column if table else None  # --column names a table's column; a .txt has none
    if labeled and column is None and table:
        column = _other_column(path, args.label_column, args.encoding)
    texts, labels = read_texts(path, column=column,
                               label_column=args.label_column if labeled else None,
                               encoding=args.encoding)
    return texts, labels


def _other_column(path: str, label_column: str, encoding: str = "utf-8") -> str | None:
    """The one column besides the label column, so a two-column table needs no --column."""
    from .._validation import InputError
    from ..embed.user import _read_table

    cols = list(_read_table(Path(path), encoding))
    if label_column not in cols:
        raise InputError(f"{path} has no column {label_column!r}; its columns are {cols}")
    rest = [c for c in cols if c != label_column]
    return rest[0] if len(rest) == 1 else None


def _check_args(args) -> None:
    from .._validation import InputError
    from ..io import check_writable
    from .embed import check_npy_out

    check_writable(args.out)
    if args.unlabeled is None:
        for flag, value in (("--clusters-out", args.clusters_out),
                            ("--embeddings-out", args.embeddings_out)):
            if value:
                raise InputError(f"{flag} needs --unlabeled (the set to cluster)")
    if args.clusters_out:
        check_writable(args.clusters_out)
    if args.embeddings_out:
        check_npy_out(args.embeddings_out, "--embeddings-out")
    if args.rounds < 0:
        raise InputError(f"--rounds must be >= 0, got {args.rounds}")
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {args.epochs}")
    if not 0.0 < args.val_fraction < 1.0:
        raise InputError(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if args.init and not Path(args.init).is_file():
        raise InputError(f"--init model file not found: {args.init}")
    if args.form == "text":
        from ..io import check_encoding

        check_encoding(args.encoding)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._device import resolve_device
    from .._validation import InputError
    from ..embed.proxies import holdout_identities, noise_mask
    from ..embed.refinement import concat_items, refine
    from ..embed.user import load_encoder, read_image_folder
    from ..io import write_array, write_labels
    from .embed import set_threads

    t0 = time.perf_counter()
    _check_args(args)
    set_threads(args.threads)
    resolve_device(args.device)  # a bad --device fails before any data is read
    params = {**parse_params(args.param), "device": args.device, "random_state": args.seed,
              "verbose": not args.quiet}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    init = load_encoder(args.init) if args.init else None
    kind = "TextEncoder" if args.form == "text" else "ImageBackbone"
    if init is not None and type(init).__name__ != kind:
        raise InputError(f"--init {args.init} is a {type(init).__name__}; `encoder "
                         f"{args.form}` needs a {kind}")

    # -- data ------------------------------------------------------------------------------
    if args.form == "text":
        X, y = _read_text_set(args.file, args, labeled=True)
        Xv = yv = None
        if args.val:
            Xv, yv = _read_text_set(args.val, args, labeled=True)
        Xu = _read_text_set(args.unlabeled, args, labeled=False)[0] if args.unlabeled else None
    else:
        size = args.image_size or (init.image_shape_[0] if init is not None else 28)
        data = read_image_folder(args.dir, labels=args.labels, image_size=size,
                                 progress=not args.quiet)
        X, y = data.images, data.labels
        if data.label_names and np.asarray(y).dtype.kind in "iu":
            _say(args.quiet, f"{len(data.label_names)} identities in {args.dir}")
        Xv = yv = None
        if args.val:
            vd = read_image_folder(args.val, labels=args.labels if args.labels == "folders"
                                   else None, image_size=size)
            if vd.labels is None:
                raise InputError("--val images need labels: use --labels folders")
            Xv, yv = vd.images, vd.labels + int(np.max(y)) + 1  # never confused with train ids
        Xu = (read_image_folder(args.unlabeled, image_size=size).images
              if args.unlabeled else None)
    if Xv is None:
        tr, va = holdout_identities(y, args.val_fraction, args.seed)
        Xv = X[va] if isinstance(X, np.ndarray) else [X[i] for i in va]
        yv = np.asarray(y)[va]
        X = X[tr] if isinstance(X, np.ndarray) else [X[i] for i in tr]
        y = np.asarray(y)[tr]
        _say(args.quiet, f"held out {np.unique(yv).size} identities ({len(yv)} items) for early "
                         "stopping")
    n_noise = int(noise_mask(y).sum())
    _say(args.quiet, f"training on {len(y) - n_noise:,} labeled items"
                     + (f" ({n_noise:,} labeled -1 skipped)" if n_noise else ""))

    # -- training: without --unlabeled the trained encoder is the result; with it, the
    # encoder refinement starts from (--init, else the pretrained MiniLM, else a backbone
    # trained here on the labeled images)
    if args.form == "text":
        from ..embed.text_encoder import TextEncoder

        if Xu is not None:
            start = init if init is not None else TextEncoder.pretrained(**params)
        else:
            enc = TextEncoder(**{**(init.get_params() if init else {}), **params}).fit(
                X, y, Xv, yv, init=init)
    else:
        from ..embed.backbone import ImageBackbone

        if init is None:
            enc = start = ImageBackbone(**params).fit(X, y, Xv, yv)
        elif Xu is None:
            enc = ImageBackbone(**{**init.get_params(), "warmup_epochs": 0, **params}).fit(
                X, y, Xv, yv, init=init)
        else:
            start = init
    if Xu is not None:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        res = refine(start, X, y, Xu, Xv, yv, rounds=args.rounds, methods=methods,
                     fine_tune_params={k: v for k, v in params.items() if k != "device"},
                     seed=args.seed, log=lambda m: _say(args.quiet, m))
        enc = res.encoder
        print(res.table())
        if args.clusters_out:
            write_labels(args.clusters_out, res.labels)
        if args.embeddings_out:
            write_array(args.embeddings_out, res.embeddings)
        first, last = res.rounds[0].val_avg_f, res.rounds[-1].val_avg_f
        print(f"held-out avg F {first:.3f} -> {last:.3f} ({last - first:+.3f}) after "
              f"{args.rounds} round(s); the last round's clusters are "
              + (f"in {args.clusters_out}" if args.clusters_out else "not written "
                 "(--clusters-out)"))
    enc.save(args.out)
    n_train = len(concat_items(X, Xu)) if Xu is not None else len(y)
    print(f"trained on {n_train:,} items in {time.perf_counter() - t0:.0f} s; held-out "
          f"Recall@1 {enc.best_score_:.4f}; wrote {args.out}")
    return 0
