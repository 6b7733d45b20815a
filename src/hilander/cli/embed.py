"""``hilander embed DATASET DATA_DIR --out DIR``: embeddings of every split, with Recall@1."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_seed, parse_params


def register(subparsers) -> None:
    from ..embed import DATASETS

    p = subparsers.add_parser(
        "embed",
        help="embed a real dataset's four class-disjoint splits (cached) and print Recall@1",
        description=(
            "Embed Omniglot (a small conv net trained here on the backbone-train split with "
            "cosine-softmax cross-entropy) or CLINC150 (the pretrained all-MiniLM-L6-v2 "
            "sentence encoder), write DIR/{split}.npz with 'features' and 'labels' for "
            "backbone_train, clustering_train, validation, test (plus test_longtail.npz), "
            "meta.json and, for Omniglot, backbone.hlm; then print Recall@1 of each split, "
            "unnormalised and l2-normalised. Embeddings are cached, so a second run is quick."
        ),
    )
    p.add_argument("dataset", choices=DATASETS, help="which dataset")
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
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    p.add_argument(
        "--download", action="store_true",
        help="fetch missing data files from the original public source",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    add_seed(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import InputError
    from ..embed import embed_dataset

    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
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
