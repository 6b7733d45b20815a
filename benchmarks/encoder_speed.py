"""Seconds per epoch of fine-tuning MiniLM on 10k short sentences, quiet and beside another job,
and the time of a whole ``hilander discover`` run on 6k labeled and 6k unlabeled sentences.

    python benchmarks/encoder_speed.py --data-dir ../shared/data [--n 10000] [--variants ...]
    python benchmarks/encoder_speed.py --data-dir ../shared/data --discover

Each variant fine-tunes ``TextEncoder`` for one epoch on ``--n`` CLINC150 utterances of the
non-test intents, in a fresh process, and prints the measured training seconds per epoch
(held-out evaluations excluded, as ``TextEncoder.epoch_seconds_``), first on a quiet machine
and then with one busy neighbour process (a single-threaded matrix-product loop, standing
for "another job"). ``old`` is the earlier recipe (every layer trained, batches drawn at
random); the others freeze the lower layers and batch sentences by length. ``--threads``
sets torch's thread count per variant (default: hilander's choice).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time

VARIANTS = {
    "old": {"frozen_layers": 0, "bucketing": False},
    "bucketing": {"frozen_layers": 0, "bucketing": True},
    "frozen2": {"frozen_layers": 2, "bucketing": True},
    "frozen3": {"frozen_layers": 3, "bucketing": True},
    "frozen4": {"frozen_layers": 4, "bucketing": True},
}


def _busy(stop) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((400, 400))
    with threadpool_limits(1):
        while not stop.is_set():
            a = np.tanh(a @ a.T / 400.0)


def one(args) -> dict:
    """Run in a fresh process: one epoch of one variant."""
    import numpy as np

    from hilander.embed import _frozen
    from hilander.embed.text_encoder import TextEncoder
    from hilander.study.clinc150 import load_clinc150

    spec = VARIANTS[args.variant]
    if args.cpu_clock:
        # seconds of this process's CPU instead of the wall clock: on a machine shared with
        # other jobs, a one-thread run's CPU time stands for its quiet wall time
        time.perf_counter = time.process_time
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not spec["bucketing"]:
        def random_batches(lengths, batch_size, rng, pool=64):
            n_batches = max(1, lengths.size // batch_size)
            perm = rng.permutation(lengths.size)
            return [perm[i * batch_size:(i + 1) * batch_size] for i in range(n_batches)]

        _frozen.length_batches = random_batches
    data = load_clinc150(args.data_dir)
    idx = np.concatenate([data.split[s] for s in ("backbone_train", "clustering_train")])
    idx = np.random.default_rng(0).permutation(idx)[: args.n]
    texts, y = data.subset(np.sort(idx))
    val = data.split["validation"]
    val_texts, val_y = data.subset(val)
    enc = TextEncoder(epochs=1, evals_per_epoch=1, frozen_layers=spec["frozen_layers"])
    t0 = time.perf_counter()
    enc.fit(texts, y, val_texts, val_y)
    import torch

    # the governor restores torch's count after fit: its choice is the encoder's threads_
    threads = getattr(enc, "threads_", None) or torch.get_num_threads()
    return {"variant": args.variant, "threads": threads,
            "epoch_seconds": enc.epoch_seconds_, "fit_seconds": time.perf_counter() - t0,
            "val_map_at_r": enc.best_score_, "n": len(texts)}


def run_variant(variant: str, data_dir: str, n: int, threads: int | None,
                cpu_clock: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--one", variant, "--data-dir", data_dir, "--n", str(n)]
    if threads:
        cmd += ["--threads", str(threads)]
    if cpu_clock:
        cmd += ["--cpu-clock"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def discover_run(data_dir: str, n: int = 6000) -> dict:
    """``hilander discover`` from the command line: ``n`` labeled utterances of 40 non-test
    intents (a table) and ``n`` unlabeled ones of the 40 test intents (one per line)."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from hilander.study.clinc150 import load_clinc150

    data = load_clinc150(data_dir)
    rng = np.random.default_rng(0)
    sets = {}
    for name, splits in (("labeled", ("backbone_train", "clustering_train", "validation")),
                         ("unlabeled", ("test",))):
        idx = np.concatenate([data.split[s] for s in splits])
        keep = rng.choice(np.unique(data.labels[idx]), size=40, replace=False)
        idx = idx[np.isin(data.labels[idx], keep)]
        sets[name] = np.sort(rng.choice(idx, size=min(n, idx.size), replace=False))
    with tempfile.TemporaryDirectory() as tmp:
        lab, new, out = Path(tmp) / "labeled.csv", Path(tmp) / "new.txt", Path(tmp) / "c.npy"
        import csv

        with open(lab, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "intent"])
            for i in sets["labeled"]:
                w.writerow([data.texts[i], data.intent_names[data.labels[i]]])
        new.write_text("\n".join(data.texts[i] for i in sets["unlabeled"]) + "\n")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "hilander.cli", "discover", str(lab),
                               str(new), "--label-column", "intent", "--out", str(out)],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(proc.stderr)
        from hilander.metrics import avg_f, evaluate

        labels = np.load(out)
        score = avg_f(evaluate(data.labels[sets["unlabeled"]], labels))
    return {"seconds": seconds, "labeled": int(sets["labeled"].size),
            "unlabeled": int(sets["unlabeled"].size), "avg_f": score,
            "summary": proc.stdout.strip().splitlines()[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--variants", default="old,frozen3")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-neighbour", action="store_true")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="measure CPU seconds of the process (use with --threads 1 on a busy "
                         "machine)")
    ap.add_argument("--discover", action="store_true",
                    help="time one `hilander discover` run (6k labeled, 6k unlabeled) instead")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.discover:
        r = discover_run(args.data_dir)
        print(f"hilander discover: {r['labeled']:,} labeled + {r['unlabeled']:,} unlabeled "
              f"sentences in {r['seconds']:.0f} s (target 600 s); avg F on the unlabeled "
              f"set {r['avg_f']:.3f}\n  {r['summary']}")
        return
    if args.one:
        args.variant = args.one
        print(json.dumps(one(args)))
        return
    rows = []
    for neighbour in ([False] if args.no_neighbour else [False, True]):
        stop = mp.Event()
        proc = None
        if neighbour:
            proc = mp.Process(target=_busy, args=(stop,), daemon=True)
            proc.start()
        try:
            for v in args.variants.split(","):
                r = run_variant(v, args.data_dir, args.n, args.threads, args.cpu_clock)
                r["neighbour"] = neighbour
                rows.append(r)
                print(f"{v:<10} neighbour={'yes' if neighbour else 'no ':<4} threads "
                      f"{r['threads']}  {r['epoch_seconds']:6.1f} s/epoch  "
                      f"(fit {r['fit_seconds']:.0f} s, held-out MAP@R {r['val_map_at_r']:.4f},"
                      f" {r['n']} sentences)", flush=True)
        finally:
            stop.set()
            if proc is not None:
                proc.join(5)
    base = {r["neighbour"]: r for r in rows if r["variant"] == rows[0]["variant"]}
    for r in rows:
        ref = base[r["neighbour"]]["epoch_seconds"]
        print(f"{r['variant']:<10} neighbour={r['neighbour']!s:<5} "
              f"{r['epoch_seconds']:6.1f} s/epoch = {r['epoch_seconds'] / ref:.2f}x "
              f"{rows[0]['variant']}")


if __name__ == "__main__":
    main()
