"""Representation learning with pseudo-labels (Hi-LANDER paper sec. 4.6, Table 4), and
transductive refinement, on Omniglot and CLINC150.

Protocol (issue 21), per dataset; test labels only ever measure:

1. Initial encoder, trained on backbone-train and early-stopped on validation: Omniglot's conv
   backbone (``hilander embed omniglot``, run until the validation MAP@R stops rising,
   cached), CLINC150's MiniLM fine-tuned on backbone-train (:class:`hilander.embed.TextEncoder`,
   cached in ``--cache-dir``).
2. Each method clusters clustering-train's initial embeddings without its labels: the
   unsupervised ones grid-searched on validation, the learnt ones (GCN-V, GCN-V+E, Hi-LANDER,
   auto's learnt candidates) meta-trained on backbone-train and their thresholds / decoding
   chosen on validation.
3. The initial encoder is fine-tuned (:func:`hilander.embed.fine_tune`) on backbone-train +
   the pseudo-labeled clustering-train (noise and one-item clusters left out), the kept
   weights those of the best validation MAP@R (Omniglot: 10 epochs, SGD lr 0.1; CLINC150: up
   to 2 epochs, Adam lr 2e-5, two evaluations an epoch).
4. On the test split: verification FNMR at FMR 1e-3 / 1e-4 over all pairs, open-set FNIR at
   FPIR 1e-1 / 1e-2 (half the test identities enrolled with half their items, seed 0),
   Recall@1, and the test avg F of the clustering (Infomap or Leiden) chosen on validation.

Rows: the initial encoder; a control fine-tuned again on backbone-train only (what the extra
training alone gives); each method's pseudo-labels; clustering-train's true labels (fully
supervised, the lower bound of the error).

Refinement (``--refine-rounds``): :func:`hilander.embed.refine` from the initial encoder with
backbone-train as the labeled identities and the *test* split as the unlabeled set; the test
labels only score each round.

    python benchmarks/pseudo_labels.py --data-dir ../shared/data \
        --out benchmarks/results/pseudo_labels --datasets omniglot,clinc150

Each dataset writes ``{dataset}.json``; the report (``report.md``, ``fnmr_fmr_*.png``,
``refinement.png``) is rebuilt from every JSON present, so datasets can run separately.
Finished rows are kept in ``--cache-dir`` and reused by a rerun with the same inputs
(``--no-resume`` recomputes everything).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("omniglot", "clinc150")
METHODS = ("graclus", "finch", "hdbscan", "gcn_v", "gcn_ve", "hilander", "infomap", "leiden",
           "auto")
DISPLAY = {"graclus": "Graclus", "finch": "FINCH", "hdbscan": "HDBSCAN", "gcn_v": "GCN-V",
           "gcn_ve": "GCN-V+E", "hilander": "Hi-LANDER", "infomap": "Infomap",
           "leiden": "Leiden", "auto": "auto", "initial": "No pseudo-labels (initial encoder)",
           "control": "Control: backbone-train only, fine-tuned again",
           "supervised": "Fully supervised (true labels)",
           "pretrained": "Pretrained MiniLM (reference)"}
#: inference thresholds of the supervised GNNs, chosen on validation
GNN_TAU_GRID = {"tau": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]}
#: the Omniglot initial encoder: `hilander embed omniglot` with these overrides
OMNIGLOT_INITIAL = {"epochs": 60, "monitor": "map_at_r", "stop_patience": 8, "device": "cpu"}
#: the paper's Table 4 (IJB-C), for the report
PAPER = {"graclus": (0.290, 0.461, 0.467, 0.620), "finch": (0.133, 0.230, 0.240, 0.375),
         "hdbscan": (0.111, 0.200, 0.196, 0.312), "gcn_v": (0.107, 0.181, 0.181, 0.270),
         "gcn_ve": (0.110, 0.187, 0.191, 0.291), "hilander": (0.091, 0.159, 0.162, 0.250),
         "supervised": (0.072, 0.136, 0.136, 0.235)}
KEYS = ("fnmr@fmr=0.001", "fnmr@fmr=0.0001", "fnir@fpir=0.1", "fnir@fpir=0.01")
CACHE_VERSION = 1


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.tobytes() if hasattr(p, "tobytes") else
                 json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# -- data and encoders -------------------------------------------------------------------------


def load_raw(name: str, data_dir: Path, quick: bool) -> dict:
    """``{split: (items, labels)}``: images (n, 28, 28) or lists of texts."""
    import numpy as np

    if name == "omniglot":
        from hilander.study.omniglot import load_omniglot

        d = load_omniglot(data_dir, image_size=28)
        items = d.images
    else:
        from hilander.study.clinc150 import load_clinc150

        d = load_clinc150(data_dir)
        items = np.array(d.texts, dtype=object)
    raw = {}
    for split in ("backbone_train", "clustering_train", "validation", "test"):
        idx = d.split[split]
        if quick:  # a smoke run of the script: a few identities per split
            keep = np.unique(d.labels[idx])[:{"omniglot": 25, "clinc150": 5}[name]]
            idx = idx[np.isin(d.labels[idx], keep)]
            if name == "clinc150":
                idx = np.concatenate([idx[d.labels[idx] == c][:40] for c in keep])
        X = items[idx]
        raw[split] = (X if name == "omniglot" else [str(t) for t in X],
                      d.labels[idx].astype(np.int64))
    return raw


def initial_encoder(name: str, raw: dict, args) -> tuple[object, dict]:
    """The encoder trained on backbone-train (cached), and how it was obtained."""
    t0 = time.perf_counter()
    if name == "omniglot":
        from hilander.embed.backbone import ImageBackbone
        from hilander.study.embeddings import embed_dataset

        if args.quick:
            enc = ImageBackbone(channels=8, embed_dim=16, epochs=2, device="cpu").fit(
                *raw["backbone_train"], *raw["validation"])
            return enc, {"how": "quick", "val_score": enc.best_score_, "monitor": enc.monitor,
                         "seconds": time.perf_counter() - t0}
        # the dataset embedder's network, trained until the validation MAP@R stops rising:
        # its default 15 epochs (Recall@1-monitored) leave it short of convergence, and a
        # "no pseudo-labels" row that gains from more training alone would credit the
        # pseudo-labels with what the extra epochs do
        emb = embed_dataset("omniglot", args.data_dir, cache_dir=args.cache_dir, seed=args.seed,
                            config=OMNIGLOT_INITIAL, progress=False)
        enc = ImageBackbone.load(emb.backbone_path) if emb.backbone_path else emb.backbone
        return enc, {"how": "hilander embed omniglot with "
                            + ", ".join(f"{k}={v}" for k, v in OMNIGLOT_INITIAL.items())
                            + " (cached)",
                     "from_cache": emb.from_cache, "config": emb.config,
                     "best_epoch": enc.best_epoch_, "epochs_run": len(enc.history_),
                     "val_score": enc.best_score_, "monitor": enc.monitor,
                     "seconds": time.perf_counter() - t0}
    from hilander.embed.text import model_version
    from hilander.embed.text_encoder import TextEncoder

    params = {"random_state": args.seed, "verbose": True}
    if args.quick:
        params.update(epochs=1, evals_per_epoch=1)
    spec = {"v": CACHE_VERSION, "params": TextEncoder(**params).get_params(),
            "n": len(raw["backbone_train"][0]),
            "model": model_version(), "torch": _torch_version(), "threads": args.threads}
    path = Path(args.cache_dir) / "pseudo_labels" / f"clinc150-initial-{digest(spec)}.hlm"
    if path.is_file() and args.resume:
        enc = TextEncoder.load(path)
        info = {"from_cache": True}
    else:
        log("clinc150: fine-tuning MiniLM on backbone-train (the initial encoder)")
        enc = TextEncoder(**params).fit(*raw["backbone_train"], *raw["validation"])
        path.parent.mkdir(parents=True, exist_ok=True)
        enc.save(path)
        info = {"from_cache": False}
    info.update(how="MiniLM fine-tuned on backbone-train (TextEncoder defaults, cached)",
                config=enc.get_params(), best_step=enc.best_step_,
                val_score=enc.best_score_, monitor=enc.monitor, epoch_seconds=enc.epoch_seconds_,
                history=enc.history_, seconds=time.perf_counter() - t0)
    return enc, info


def _torch_version() -> str:
    import torch

    return torch.__version__


# -- clustering runners ------------------------------------------------------------------------


def make_runner(name: str):
    from hilander.study.bench import AutoRunner, BaselineRunner, HiLanderRunner, MethodRunner

    if name == "hilander":
        return HiLanderRunner("hilander")
    if name == "auto":
        # AutoCluster choosing among this table's other methods on validation: its default
        # candidate list (every registry method) took 414 s here, a third of the time budget
        return AutoRunner(methods=[m for m in METHODS if m != "auto"])
    if name not in ("gcn_v", "gcn_ve"):
        return BaselineRunner(name)

    class GNNRunner(MethodRunner):
        """GCN-V / GCN-V+E meta-trained on backbone-train, tau chosen on validation."""

        kind = "supervised"

        def __init__(self, method: str) -> None:
            self.name = method

        def prepare(self, data, seed, log_):
            from hilander import supervised
            from hilander.study.bench import Prepared, summarize_trials
            from hilander.tune import grid_search

            t0 = time.perf_counter()
            self.model_ = supervised.make(self.name).fit(data.X_train, data.y_train)
            train_s = time.perf_counter() - t0
            res = grid_search(lambda p: self.model_.set_params(**p).predict(data.X_val),
                              GNN_TAU_GRID, data.y_val, method=self.name)
            self.model_.set_params(**res.best_params)
            return Prepared(dict(res.best_params), summarize_trials(res),
                            time.perf_counter() - t0 - train_s, train_s)

        def cluster(self, X):
            from hilander.study.bench import Clustering

            t0 = time.perf_counter()
            return Clustering(self.model_.predict(X), time.perf_counter() - t0)

    return GNNRunner(name)


def pseudo_labels(method: str, Z: dict, raw: dict, seed: int) -> dict:
    """Cluster clustering-train's embeddings with ``method`` (tuned as in the module doc)."""
    import numpy as np

    from hilander.metrics import avg_f, evaluate
    from hilander.study.bench import BenchData

    data = BenchData(Z["backbone_train"], raw["backbone_train"][1], Z["validation"],
                     raw["validation"][1], Z["clustering_train"], raw["clustering_train"][1])
    runner = make_runner(method)
    t0 = time.perf_counter()
    prep = runner.prepare(data, seed, lambda m: log(f"  {m}"))
    out = runner.cluster(data.X_test)
    seconds = time.perf_counter() - t0
    labels = np.asarray(out.labels, dtype=np.int64)
    # measured, never chosen on: how good the pseudo-labels are
    scores = evaluate(data.y_test, labels)
    tuning = prep.tuning or {}
    return {
        "labels": labels, "params": out.params or prep.params,
        "val_avg_f": tuning.get("best_avg_f"), "seconds": seconds,
        "train_seconds": prep.train_seconds, "n_clusters": int(np.unique(labels).size),
        "noise_share": float(np.mean(labels == -1)),
        "clustering_train_avg_f": avg_f(scores),
        "clustering_train_scores": {k: scores[k] for k in ("pairwise_f", "bcubed_f", "nmi",
                                                            "n_clusters", "n_classes")},
    }


# -- one row -----------------------------------------------------------------------------------


def measure(enc, raw: dict, seed: int) -> dict:
    """Test metrics of an encoder (test labels measure only)."""
    from hilander.embed import cluster_tuned
    from hilander.metrics import avg_f, evaluate, recall_at_1
    from hilander.study.metrics_openset import (
        FMR_TARGETS,
        FPIR_TARGETS,
        open_set_identification,
        verification_scores,
    )

    t0 = time.perf_counter()
    Xte, yte = raw["test"]
    Zte = enc.transform(Xte)
    Zva = enc.transform(raw["validation"][0])
    # the pairs once, for the operating points and the curve (openset_report's numbers)
    pairs = verification_scores(Zte, yte, max_fmr=1e-2)
    metrics = {f"fnmr@fmr={f:g}": v for f, v in pairs.fnmr_at(FMR_TARGETS).items()}
    metrics.update({f"fnir@fpir={f:g}": v for f, v in open_set_identification(
        Zte, yte, FPIR_TARGETS, seed=seed).items()})
    metrics["recall_at_1"] = recall_at_1(Zte, yte)
    fmr, fnmr = pairs.curve(n_points=40, min_fmr=1e-5)
    best = cluster_tuned(Zte, Zva, raw["validation"][1], seed=seed, run_all=True)
    s = evaluate(yte, best.labels)
    return {"metrics": metrics, "curve": {"fmr": fmr.tolist(), "fnmr": fnmr.tolist()},
            "clustering": {"method": best.method, "params": best.params,
                           "val_avg_f": best.val_avg_f, "candidates_val_avg_f": best.candidates,
                           "test_avg_f": avg_f(s), "test_pairwise_f": s["pairwise_f"],
                           "test_bcubed_f": s["bcubed_f"], "test_n_clusters": s["n_clusters"],
                           # every candidate with its validation-tuned parameters, measured
                           "test_avg_f_by_method": {m: avg_f(evaluate(yte, lab))
                                                    for m, lab in best.all_labels.items()}},
            "measure_seconds": time.perf_counter() - t0}


def train_row(init, raw: dict, y_ct, args, seed: int | None = None) -> tuple[object, dict]:
    """Fine-tune ``init`` on backbone-train (+ clustering-train labeled ``y_ct``); ``seed``
    overrides the fine-tuning seed (batch order, augmentation)."""
    import numpy as np

    from hilander.embed import concat_items, fine_tune, singletons_to_noise

    X, y = raw["backbone_train"]
    if y_ct is not None:
        pseudo = singletons_to_noise(y_ct)
        # pseudo-label ids above every backbone-train id: the two sets never share a class
        pseudo = np.where(pseudo == -1, -1, pseudo + int(y.max()) + 1)
        X, y = concat_items(X, raw["clustering_train"][0]), np.concatenate([y, pseudo])
    params = {"verbose": args.progress}
    if seed is not None:
        params["random_state"] = seed
    if args.quick:
        params["epochs"] = 1
    t0 = time.perf_counter()
    enc = fine_tune(init, X, y, *raw["validation"], **params)
    info = {"train_seconds": time.perf_counter() - t0, "n_train": int((y != -1).sum()),
            "n_classes": int(np.unique(y[y != -1]).size), "val_score": enc.best_score_,
            "monitor": enc.monitor}
    if hasattr(enc, "best_epoch_"):
        info.update(best_epoch=enc.best_epoch_, epochs_run=len(enc.history_))
    else:
        info.update(best_step=enc.best_step_, epoch_seconds=enc.epoch_seconds_,
                    history=enc.history_)
    return enc, info


# -- the experiment ----------------------------------------------------------------------------


def run_dataset(name: str, args) -> dict:
    import numpy as np

    from hilander.study.report import environment_versions

    t_start, cpu_start = time.perf_counter(), time.process_time()
    raw = load_raw(name, args.data_dir, args.quick)
    sizes = {s: [len(v[1]), int(np.unique(v[1]).size)] for s, v in raw.items()}
    log(f"{name}: splits (items, identities) {sizes}")
    init, init_info = initial_encoder(name, raw, args)
    log(f"{name}: initial encoder ready in {init_info['seconds']:.0f} s "
        f"(validation {init_info['monitor']} {init_info['val_score']:.4f})")
    init_id = digest(init.transform(raw["validation"][0][:64]))
    Z = {s: init.transform(raw[s][0]) for s in ("backbone_train", "clustering_train",
                                                 "validation")}
    row_cache = Path(args.cache_dir) / "pseudo_labels" / name
    row_cache.mkdir(parents=True, exist_ok=True)
    fine_tune_spec = {"v": CACHE_VERSION, "init": init_id, "seed": args.seed,
                      "quick": args.quick, "threads": args.threads}

    rows: list[dict] = []
    t0 = time.perf_counter()
    rows.append({"name": "initial", **measure(init, raw, args.seed), "train_seconds": 0.0})
    log(f"{name}: initial encoder measured: {_fmt(rows[-1])}")
    if name == "clinc150" and not args.quick:
        from hilander.embed.text_encoder import TextEncoder

        rows.append({"name": "pretrained", **measure(TextEncoder.pretrained(), raw, args.seed),
                     "train_seconds": 0.0})
        log(f"{name}: pretrained MiniLM measured: {_fmt(rows[-1])}")

    plan: list[tuple[str, object]] = [("control", None)]
    pseudo_info: dict[str, dict] = {}
    for method in args.methods:
        log(f"{name}: pseudo-labels from {DISPLAY[method]}")
        try:
            p = pseudo_labels(method, Z, raw, args.seed)
        except Exception as exc:  # noqa: BLE001 - one method's failure is reported, not fatal
            log(f"{name}: {method} failed: {type(exc).__name__}: {exc}")
            pseudo_info[method] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        log(f"{name}: {DISPLAY[method]}: {p['n_clusters']} clusters, noise "
            f"{p['noise_share']:.1%}, clustering-train avg F {p['clustering_train_avg_f']:.3f} "
            f"(measured only), validation avg F {p['val_avg_f']}, {p['seconds']:.0f} s")
        pseudo_info[method] = p
        plan.append((method, p["labels"]))
    plan.append(("supervised", raw["clustering_train"][1]))
    cluster_seconds = time.perf_counter() - t0

    done: dict[str, dict] = {}  # labels digest -> row, for methods giving the same labels
    trained: dict[str, dict] = {}
    # the two reference rows first (they frame every other one), then the methods
    for row_name, y_ct in [plan[0], plan[-1], *plan[1:-1]]:
        key = digest(fine_tune_spec, "none" if y_ct is None else np.asarray(y_ct, np.int64))
        path = row_cache / f"{key}.json"
        if key in done:
            row = {**done[key], "name": row_name, "same_labels_as": done[key]["name"]}
            log(f"{name}: {row_name} gives the same pseudo-labels as {done[key]['name']}")
        elif path.is_file() and args.resume:
            row = {**json.loads(path.read_text()), "name": row_name, "from_cache": True}
            log(f"{name}: {row_name} read from {path}")
        else:
            log(f"{name}: fine-tuning for row {row_name}")
            enc, info = train_row(init, raw, y_ct, args)
            row = {"name": row_name, **measure(enc, raw, args.seed), **info}
            path.write_text(json.dumps(_jsonable(row)))
        done.setdefault(key, row)
        if row_name in pseudo_info:
            row["pseudo"] = {k: v for k, v in pseudo_info[row_name].items() if k != "labels"}
        trained[row_name] = row
        log(f"{name}: {row_name}: {_fmt(row)} (trained {row.get('train_seconds', 0):.0f} s)")
    rows += [trained[row_name] for row_name, _ in plan]
    failed = {m: p["error"] for m, p in pseudo_info.items() if "error" in p}

    table4_seconds = time.perf_counter() - t_start
    table4_cpu = time.process_time() - cpu_start
    # the same rows fine-tuned with other seeds (same pseudo-labels): how much of a
    # difference between rows the training's own randomness makes
    spread: dict[str, list] = {}
    labels_of = dict(plan)
    for row_name in [r for r in args.spread_rows if r in trained] if args.spread_seeds else []:
        spread[row_name] = [{"seed": args.seed, **trained[row_name]["metrics"],
                             "test_avg_f": trained[row_name]["clustering"]["test_avg_f"]}]
        for seed in args.spread_seeds:
            y_ct = labels_of[row_name]
            key = digest(fine_tune_spec, {"seed": seed},
                         "none" if y_ct is None else np.asarray(y_ct, np.int64))
            path = row_cache / f"{key}.json"
            if path.is_file() and args.resume:
                row = json.loads(path.read_text())
            else:
                log(f"{name}: {row_name} again with fine-tuning seed {seed}")
                enc, info = train_row(init, raw, y_ct, args, seed=seed)
                row = {"name": row_name, **measure(enc, raw, args.seed), **info}
                path.write_text(json.dumps(_jsonable(row)))
            spread[row_name].append({"seed": seed, **row["metrics"],
                                     "test_avg_f": row["clustering"]["test_avg_f"]})
            log(f"{name}: {row_name} seed {seed}: {_fmt(row)}")

    spread_seconds = time.perf_counter() - t_start - table4_seconds
    refinement = None
    if args.refine_rounds > 0:
        refinement = run_refinement(name, init, raw, args)
    record = {
        "dataset": name, "seed": args.seed, "threads": args.threads, "quick": args.quick,
        "splits": sizes, "initial_encoder": _jsonable(init_info),
        "rows": _jsonable(rows), "failed": failed, "spread": _jsonable(spread),
        "timings": {"total_seconds": time.perf_counter() - t_start,
                    "table4_seconds": table4_seconds, "clustering_seconds": cluster_seconds,
                    # CPU seconds of this process: the wall time on a machine nobody shares
                    "table4_cpu_seconds": table4_cpu, "spread_seconds": spread_seconds,
                    "load_average": os.getloadavg()},
        "versions": environment_versions(), "command": " ".join(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "refinement": _jsonable(refinement),
    }
    if refinement is not None:
        record["timings"]["refinement_seconds"] = refinement["seconds"]
    return record


def run_refinement(name: str, init, raw: dict, args) -> dict:
    """Rounds of transductive refinement on the test split (labels measure only)."""
    from hilander.embed import refine

    start = time.perf_counter()
    log(f"{name}: refinement, {args.refine_rounds} rounds, unlabeled = the test split")
    params = {"verbose": args.progress}
    if args.quick:
        params["epochs"] = 1
    res = refine(init, *raw["backbone_train"], raw["test"][0], *raw["validation"],
                 rounds=args.refine_rounds, fine_tune_params=params,
                 y_unlabeled=raw["test"][1], seed=args.seed, log=lambda m: log(f"  {m}"))
    return {"seconds": time.perf_counter() - start,
            "rounds": [r.to_dict() for r in res.rounds]}


def _fmt(row: dict) -> str:
    m = row["metrics"]
    return (f"FNMR@1e-3 {m['fnmr@fmr=0.001']:.4f}  FNMR@1e-4 {m['fnmr@fmr=0.0001']:.4f}  "
            f"FNIR@1e-1 {m['fnir@fpir=0.1']:.4f}  FNIR@1e-2 {m['fnir@fpir=0.01']:.4f}  "
            f"R@1 {m['recall_at_1']:.4f}  test avg F {row['clustering']['test_avg_f']:.3f} "
            f"({row['clustering']['method']})")


def _jsonable(obj):
    from hilander.study.report.record import to_jsonable

    return to_jsonable(obj)


# -- report ------------------------------------------------------------------------------------


def plot_curves(record: dict, path: Path) -> None:
    """FNMR against FMR for every row, and each row's difference to the initial encoder."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax, dax = fig.subplots(1, 2)
    styles = {"initial": ("k", "--"), "control": ("0.5", ":"), "supervised": ("k", "-"),
              "pretrained": ("0.7", "--")}
    base = next(r for r in record["rows"] if r["name"] == "initial")["curve"]
    for row in record["rows"]:
        if row.get("same_labels_as"):
            continue
        color, ls = styles.get(row["name"], (None, "-"))
        lw = 2.2 if row["name"] in ("hilander", "supervised") else 1.2
        fmr, fnmr = row["curve"]["fmr"], np.array(row["curve"]["fnmr"])
        label = DISPLAY.get(row["name"], row["name"])
        ax.plot(fmr, fnmr, color=color, ls=ls, lw=lw, label=label)
        dax.plot(fmr, fnmr - np.array(base["fnmr"]), color=color, ls=ls, lw=lw, label=label)
    for a in (ax, dax):
        for f in (1e-4, 1e-3):
            a.axvline(f, color="0.85", lw=0.8, zorder=0)
        a.set_xscale("log")
        a.set_xlabel("FMR (false match rate)")
        a.grid(alpha=0.3, which="both")
    ax.set_ylabel("FNMR (false non-match rate)")
    dax.set_ylabel("FNMR minus the initial encoder's (below 0: better)")
    dax.axhline(0, color="k", lw=0.8)
    ax.set_title(f"{record['dataset']}: verification on the test split, all pairs")
    dax.set_title("difference to the initial encoder")
    ax.legend(fontsize=7.5, loc="lower left")
    fig.savefig(path, dpi=100)


def plot_refinement(records: list[dict], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recs = [r for r in records if r.get("refinement")]
    if not recs:
        return
    fig = Figure(figsize=(4 * len(recs), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(recs), squeeze=False)[0]
    for ax, rec in zip(axes, recs):
        rounds = rec["refinement"]["rounds"]
        x = [r["round"] for r in rounds]
        ax.plot(x, [r["scores"]["avg_f"] for r in rounds], "o-", label="test avg F")
        ax.plot(x, [r["val_avg_f"] for r in rounds], "s--", label="validation avg F")
        ax.set_xticks(x)
        ax.set_xlabel("round (0 = initial encoder)")
        ax.set_title(rec["dataset"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


#: (key, label, higher is better) of the measures the claim check compares
MEASURES = (("fnmr@fmr=0.001", "FNMR@FMR 1e-3", False), ("fnmr@fmr=0.0001", "FNMR@FMR 1e-4", False),
            ("fnir@fpir=0.1", "FNIR@FPIR 1e-1", False), ("fnir@fpir=0.01", "FNIR@FPIR 1e-2", False),
            ("recall_at_1", "Recall@1", True), ("test_avg_f", "Best clustering avg F", True))


def _value(row: dict, key: str) -> float:
    return row["clustering"]["test_avg_f"] if key == "test_avg_f" else row["metrics"][key]


def claim_check(rows: dict, methods: list[str]) -> list[str]:
    """The paper's claim on FNMR@FMR1e-4, and the share of the initial-to-supervised gap each
    row closes on every measure (only where fully supervised training beats the initial)."""
    key = "fnmr@fmr=0.0001"
    best = min(methods, key=lambda n: rows[n]["metrics"][key])
    ini, sup = rows["initial"]["metrics"][key], rows["supervised"]["metrics"][key]
    L = ["", "**Claim check** (FNMR@FMR1e-4, lower is better):", ""]
    if "hilander" in rows:
        hl = rows["hilander"]["metrics"][key]
        rank = 1 + sum(rows[n]["metrics"][key] < hl for n in methods)
        L.append(f"- Hi-LANDER's pseudo-labels: {hl:.4f}, rank {rank} of {len(methods)} "
                 f"clustering methods (lowest: {DISPLAY[best]} {rows[best]['metrics'][key]:.4f})"
                 f"; fully supervised {sup:.4f}; initial encoder {ini:.4f}.")
    if sup < ini:
        L.append(f"- The best pseudo-label row closes "
                 f"{(ini - rows[best]['metrics'][key]) / (ini - sup):.0%} of the "
                 f"initial-to-supervised gap ({ini - sup:.4f}).")
    else:
        L.append(f"- Fully supervised training does not lower it ({sup:.4f} vs {ini:.4f} for "
                 "the initial encoder): there is no gap for pseudo-labels to close.")
    L.append("- In the paper (IJB-C): Hi-LANDER 0.159, best baseline GCN-V 0.181, fully "
             "supervised 0.136, initial model not reported.")
    L += ["", "Share of the initial-to-supervised gap closed (100% = as good as the true "
          "labels; negative = worse than the initial encoder; best = the best pseudo-label "
          "row on that measure):", "",
          "| Measure | Initial | Fully supervised | Best pseudo-label row | Hi-LANDER | Control |",
          "|---|---:|---:|---|---:|---:|"]
    for k, label, higher in MEASURES:
        a, b = _value(rows["initial"], k), _value(rows["supervised"], k)
        sign = 1 if higher else -1
        pick = max(methods, key=lambda n: sign * _value(rows[n], k))

        if sign * (b - a) <= 1e-12:
            L.append(f"| {label} | {a:.4f} | {b:.4f} | no gap: supervised is not better | – | "
                     "– |")
            continue
        sh = {n: f"{(_value(rows[n], k) - a) / (b - a):.0%}" if n in rows else "–"
              for n in (pick, "hilander", "control")}
        L.append(f"| {label} | {a:.4f} | {b:.4f} | {DISPLAY[pick]} {sh[pick]} | "
                 f"{sh['hilander']} | {sh['control']} |")
    return L


def spread_table(spread: dict) -> list[str]:
    """Mean and standard deviation of rows fine-tuned with several seeds."""
    import numpy as np

    seeds = sorted({r["seed"] for runs in spread.values() for r in runs})
    L = ["", f"Seed spread: the rows below fine-tuned again with seeds {seeds} (same "
         "pseudo-labels; mean ± standard deviation over the seeds). A difference between two "
         "rows smaller than about twice this spread is not a finding.", "",
         "| Row | " + " | ".join(label for _, label, _ in MEASURES) + " |",
         "|---|" + "---:|" * len(MEASURES)]
    for name, runs in spread.items():
        cells = []
        for k, _, _ in MEASURES:
            v = np.array([r[k] for r in runs])
            cells.append(f"{v.mean():.4f} ± {v.std(ddof=1) if v.size > 1 else 0:.4f}")
        L.append(f"| {DISPLAY.get(name, name)} | " + " | ".join(cells) + " |")
    key = "fnmr@fmr=0.0001"
    mean = {n: float(np.mean([r[key] for r in runs])) for n, runs in spread.items()}
    if "supervised" in mean and "control" in mean:
        base, sup = mean["control"], mean["supervised"]
        parts = [f"{DISPLAY.get(n, n)} {mean[n]:.4f}" for n in mean]
        line = "Seed means of FNMR@FMR1e-4: " + ", ".join(parts) + "."
        if sup < base:
            line += (" Against the control (the same extra training without clustering-train), "
                     "the share of the control-to-supervised gap "
                     f"({base - sup:.4f}) each row closes: " + ", ".join(
                         f"{DISPLAY.get(n, n)} {(base - mean[n]) / (base - sup):.0%}"
                         for n in mean if n not in ("control", "supervised")) + ".")
        L += ["", line]
    return L


def write_report(out: Path) -> Path:
    records = [json.loads((out / f"{d}.json").read_text()) for d in DATASETS
               if (out / f"{d}.json").is_file()]
    L = ["# Representation learning with pseudo-labels (Hi-LANDER sec. 4.6, Table 4)", "",
         "Regenerate (from the repository root, data in `../shared/data`):", "", "```",
         "python benchmarks/pseudo_labels.py --data-dir ../shared/data "
         "--out benchmarks/results/pseudo_labels --datasets omniglot,clinc150", "```", "",
         __doc__.split("\n\n", 1)[1].split("    python benchmarks")[0].strip(), ""]
    for rec in records:
        rows = {r["name"]: r for r in rec["rows"]}
        name = rec["dataset"]
        L += [f"## {name}", ""]
        sz = rec["splits"]
        L.append("Splits (items / identities): " + ", ".join(
            f"{s} {v[0]:,} / {v[1]}" for s, v in sz.items()) + ". " +
            f"Seed {rec['seed']}, {rec['threads']} torch thread(s); "
            f"Table 4 part {rec['timings']['table4_seconds'] / 60:.1f} min"
            + (f" ({rec['timings']['table4_cpu_seconds'] / 60:.1f} min of CPU time; the "
               f"machine's load average was {rec['timings']['load_average'][2]:.1f} over "
               f"the last 15 min)" if "table4_cpu_seconds" in rec["timings"] else "")
            + (f", refinement {rec['timings']['refinement_seconds'] / 60:.1f} min"
               if "refinement_seconds" in rec["timings"] else "")
            + f", total {rec['timings']['total_seconds'] / 60:.1f} min wall time.")
        ie = rec["initial_encoder"]
        score = ie.get("val_score", ie.get("val_recall_at_1"))
        L += ["", f"Initial encoder: {ie['how']}; validation {ie.get('monitor', 'score')} "
              f"{score:.4f}" + (f", {ie['epoch_seconds']:.0f} s per epoch"
                               if ie.get("epoch_seconds") else "") + ".", ""]
        L += ["Test split. Error rates: lower is better. *Pseudo avg F*: the pseudo-labels "
              "scored against clustering-train's true labels (measured, never used). *Best "
              "clustering*: test avg F of the method chosen on validation on the new "
              "embeddings.", "",
              "| Pseudo-labels from | FNMR@FMR 1e-3 | FNMR@FMR 1e-4 | FNIR@FPIR 1e-1 | "
              "FNIR@FPIR 1e-2 | Recall@1 | Best clustering (test avg F) | Pseudo avg F | "
              "Clusters | Train s |",
              "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
        for r in rec["rows"]:
            m, c = r["metrics"], r["clustering"]
            p = r.get("pseudo") or {}
            pav = f"{p['clustering_train_avg_f']:.3f}" if p else "–"
            ncl = f"{p['n_clusters']:,}" if p else "–"
            note = f" (= {DISPLAY[r['same_labels_as']]})" if r.get("same_labels_as") else ""
            if r["name"] == "auto" and p.get("params", {}).get("winner"):
                note += f" (chose {p['params']['winner']})"
            L.append(f"| {DISPLAY.get(r['name'], r['name'])}{note} | "
                     + " | ".join(f"{m[k]:.4f}" for k in KEYS)
                     + f" | {m['recall_at_1']:.4f} | {c['test_avg_f']:.3f} ({c['method']}) | "
                     f"{pav} | {ncl} | {r.get('train_seconds', 0):.0f} |")
        if rec.get("failed"):
            L += ["", "Failed: " + "; ".join(f"{k}: {v}" for k, v in rec["failed"].items())]
        methods = [n for n in METHODS if n in rows]
        if methods and "supervised" in rows:
            L += claim_check(rows, methods)
        if rec.get("spread"):
            L += spread_table(rec["spread"])
        L += ["", f"![FNMR-FMR curves](fnmr_fmr_{name}.png)", ""]
        if rec.get("refinement"):
            rr = rec["refinement"]["rounds"]
            L += ["### Transductive refinement (unlabeled set = the test split)", "",
                  "Round 0 clusters the test split with the initial encoder; each later round "
                  "fine-tunes the previous encoder on backbone-train + the previous round's "
                  "test clusters and clusters again (method and parameters re-chosen on "
                  "validation every round). Test labels only score.", "",
                  "| Round | Method (chosen on validation) | Validation avg F | Test avg F | "
                  "Test F_P | Test F_B | Clusters | Kept cluster | Test avg F per method | "
                  "Train s |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
            for r in rr:
                s = r["scores"]
                kept = "–" if r["kept"] is None else f"{r['kept']:.1%}"
                per = ", ".join(f"{m} {v:.3f}" for m, v in (r.get("method_scores") or {}).items())
                L.append(f"| {r['round']} | {r['method']} | {r['val_avg_f']:.3f} | "
                         f"{s['avg_f']:.3f} | {s['pairwise_f']:.3f} | {s['bcubed_f']:.3f} | "
                         f"{r['n_clusters']:,} | {kept} | {per} | {r['train_seconds']:.0f} |")
            d = rr[-1]["scores"]["avg_f"] - rr[0]["scores"]["avg_f"]
            L += ["", f"Test avg F of the validation-chosen clustering after {len(rr) - 1} "
                  f"round(s): {d:+.3f} against round 0."]
            for m in rr[0].get("method_scores") or {}:
                dm = [r["method_scores"][m] - rr[0]["method_scores"][m] for r in rr[1:]]
                L.append(f"- {m}: " + ", ".join(f"round {i + 1} {v:+.3f}"
                                                for i, v in enumerate(dm))
                         + " against round 0 (target +0.05: "
                         + ("met" if max(dm, default=0) >= 0.05 else "missed") + ")")
            L.append("")
    plot_refinement(records, out / "refinement.png")
    if any(r.get("refinement") for r in records):
        L += ["![refinement](refinement.png)", ""]
    for rec in records:
        plot_curves(rec, out / f"fnmr_fmr_{rec['dataset']}.png")
    path = out / "report.md"
    path.write_text("\n".join(L) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "pseudo_labels")
    ap.add_argument("--datasets", default="omniglot,clinc150")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    ap.add_argument("--refine-rounds", type=int, default=2)
    ap.add_argument("--spread-seeds", default="",
                    help="fine-tune --spread-rows again with these seeds, e.g. 1,2 (default: "
                         "none); outside the Table 4 time")
    ap.add_argument("--spread-rows", default="control,hilander,leiden,supervised")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(os.environ.get("HILANDER_CACHE", "~/.cache/hilander"))
                    .expanduser())
    ap.add_argument("--no-resume", dest="resume", action="store_false",
                    help="recompute rows and the initial encoder even when cached")
    ap.add_argument("--progress", action="store_true", help="per-epoch training lines")
    ap.add_argument("--quick", action="store_true",
                    help="a few identities and one epoch: a smoke run, not a measurement")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild report.md and the plots from the JSON files")
    args = ap.parse_args(argv)
    # set before numpy / faiss / torch start their thread pools
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        args.spread_seeds = [int(v) for v in args.spread_seeds.split(",") if v.strip()]
        args.spread_rows = [r.strip() for r in args.spread_rows.split(",") if r.strip()]
        args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(args.methods) - set(METHODS))
        if unknown:
            ap.error(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            if name not in DATASETS:
                ap.error(f"unknown dataset {name!r}; choose from {list(DATASETS)}")
            record = run_dataset(name, args)
            (args.out / f"{name}.json").write_text(json.dumps(record, indent=1))
            log(f"{name}: wrote {args.out / f'{name}.json'} "
                f"({record['timings']['total_seconds'] / 60:.1f} min)")
    log(f"report: {write_report(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
