"""Example pages of ``hilander report``: the CLINC150 and Omniglot test clusterings.

Each dataset's test split is clustered as ``hilander bench`` clusters it with a baseline:
Leiden and Infomap are grid-searched on the validation split (the study's protocol), the one
with the higher validation avg F is kept and its parameters carried to the test split's size
(:class:`hilander.bench.BaselineRunner`); the test labels only score the result and fill the
page's purity column. Then:

* CLINC150: the page is written by the command line, ``hilander report TEXTS LABELS
  --embeddings test.npz --true-labels INTENTS``, from the test utterances;
* Omniglot: by :func:`hilander.viewer.cluster_page` from the 28 x 28 test drawings (an image
  array, black ink on white).

Inputs are the embeddings ``hilander embed clinc150|omniglot DATA_DIR --out DIR`` writes, and
the datasets themselves (for the texts and the drawings)::

    python benchmarks/report_examples.py --emb-dir /work/emb --data-dir ../shared/data \\
        --out benchmarks/results/report_examples

writes ``{dataset}_test.html`` and ``{dataset}_test_labels.txt`` (the clustering, one label
per test item in the split's order) for each dataset. The pages are kept small: a map of
3,000 sampled points and four items per card.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATASETS = ("clinc150", "omniglot")
CANDIDATES = ("leiden", "infomap")
MAP_POINTS = 3000
PER_CARD = 4


def load_split(emb_dir: Path, name: str, split: str):
    with np.load(emb_dir / name / f"{split}.npz") as z:
        return z["features"], z["labels"], z["indices"]


def cluster_test(emb_dir: Path, name: str, seed: int) -> tuple[np.ndarray, str, float]:
    """Test labels of the candidate with the best validation avg F, its name and that score."""
    from hilander.bench import BaselineRunner, BenchData

    splits = [load_split(emb_dir, name, s)[:2]
              for s in ("clustering_train", "validation", "test")]
    data = BenchData(*splits[0], *splits[1], *splits[2], dataset=name)
    best = None
    for method in CANDIDATES:
        runner = BaselineRunner(method)
        prepared = runner.prepare(data, seed, lambda _: None)
        val = prepared.tuning["best_avg_f"]
        print(f"{name}: {method} on validation: avg F {val:.3f} with {prepared.params}",
              flush=True)
        if best is None or val > best[2]:
            best = (runner, method, val)
    runner, method, val = best
    result = runner.cluster(data.X_test)
    params = runner.params_for(data.X_test.shape[0])
    print(f"{name}: {method} (chosen on validation) on test with {params}", flush=True)
    return np.asarray(result.labels), method, val


def write_clinc150(args, labels: np.ndarray, title: str) -> Path:
    from hilander.cli import main
    from hilander.study.clinc150 import load_clinc150

    data = load_clinc150(args.data_dir)
    _, y, idx = load_split(args.emb_dir, "clinc150", "test")
    texts = [data.texts[i] for i in idx]
    intents = [data.intent_names[v] for v in y]
    out = args.out / "clinc150_test.html"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # one utterance per line: none of CLINC150's holds a line break
        assert not any("\n" in t or "\r" in t for t in texts)
        (tmp / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        (tmp / "intents.txt").write_text("\n".join(intents) + "\n", encoding="utf-8")
        np.save(tmp / "labels.npy", labels)
        status = main(["report", str(tmp / "texts.txt"), str(tmp / "labels.npy"),
                       "--embeddings", str(args.emb_dir / "clinc150" / "test.npz"),
                       "--true-labels", str(tmp / "intents.txt"), "--out", str(out),
                       "--title", title, "--per-card", str(PER_CARD),
                       "--map-points", str(MAP_POINTS), "--seed", str(args.seed)])
    if status:
        sys.exit(status)
    return out


def write_omniglot(args, labels: np.ndarray, title: str) -> Path:
    from hilander.study.omniglot import load_omniglot
    from hilander.viewer import cluster_page

    data = load_omniglot(args.data_dir, image_size=28)
    X, y, idx = load_split(args.emb_dir, "omniglot", "test")
    # a character's name: its alphabet and its number there (Omniglot numbers them so)
    first = {}
    for a, c in zip(data.alphabets[idx], y):
        first[a] = min(first.get(a, c), c)
    names = [f"{data.alphabet_names[a]} {c - first[a] + 1}" for a, c in
             zip(data.alphabets[idx], y)]
    out = args.out / "omniglot_test.html"
    cluster_page(1.0 - data.images[idx], labels, embeddings=X, true_labels=names, out=out,
                 title=title, items_per_card=PER_CARD, map_points=MAP_POINTS,
                 random_state=args.seed)
    print(f"wrote {out}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emb-dir", type=Path, required=True,
                        help="folder holding clinc150/ and omniglot/ from `hilander embed`")
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder holding the datasets (e.g. ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/report_examples"))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from hilander.metrics import avg_f, evaluate

    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {DATASETS}")
        t0 = time.perf_counter()
        labels, method, val = cluster_test(args.emb_dir, name, args.seed)
        y_test = load_split(args.emb_dir, name, "test")[1]
        test = avg_f(evaluate(y_test, labels))
        print(f"{name}: test avg F {test:.3f}", flush=True)
        np.savetxt(args.out / f"{name}_test_labels.txt", labels, fmt="%d")
        title = (f"{'CLINC150' if name == 'clinc150' else 'Omniglot'} test split: "
                 f"{method.capitalize()} tuned on validation (avg F {val:.3f} there, "
                 f"{test:.3f} on test)")
        write = write_clinc150 if name == "clinc150" else write_omniglot
        out = write(args, labels, title)
        print(f"{name}: {out} ({out.stat().st_size / 1e6:.2f} MB) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
