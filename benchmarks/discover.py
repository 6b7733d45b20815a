"""``Discoverer`` on held-out identities: protocols, per-method gains and the reference.

Run it with ``OMP_NUM_THREADS=1`` for rows that repeat exactly: torch's sums split differently
over 1 and 2 threads, and the encoder otherwise takes the cores other processes leave free.

    python benchmarks/discover.py --dataset clinc150 --mode dev --protocols complementary,leaky
    python benchmarks/discover.py --dataset omniglot --mode test --protocols complementary

``--mode dev`` measures on identities that are never test (choices are made here):
CLINC150: the 7 non-test domains are shuffled with the split's seed; 3 domains are labeled (45
intents, 6,750 utterances, like the 32-39 labeled intents of the issue's held-out sets) and 2
are the unlabeled set (30 intents); Omniglot: backbone-train + clustering-train alphabets are
labeled and the validation alphabets unlabeled (one split; the seeds vary). ``--mode test``
is the report: every labeled split (backbone-train, clustering-train, validation) against the
test split, natural and long-tail resampled. Nothing is chosen on the unlabeled set's labels;
they only score.

For each split and seed, the script prints and records:

* the **reference**: the best of DBSCAN, HDBSCAN, HAC, Infomap and Leiden, each tuned on the
  labeled identities' *initial* embeddings (MiniLM / the cached Omniglot backbone), and Leiden
  at fixed defaults (k 10, resolution 1), scored on the unlabeled set (each method's own score
  is recorded, the max is an ORACLE over methods and is printed as such);
* ``auto`` on the initial embeddings (AutoCluster over ``--methods``, fitted on all labeled
  identities): what hilander did before ``discover``;
* each protocol's ``Discoverer``: avg F on the unlabeled set (natural; long-tail resample with
  ``--mode test``), clusters vs the true count, the selection score its clusterer saw and the
  gap, encoder / clusterer seconds;
* with ``--per-method``, each candidate alone under the discover encoder and on the initial
  embeddings, so a method's gain from the representation can be read (Hi-LANDER's next to
  Infomap's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hilander.metrics import avg_f, evaluate

REFERENCE_METHODS = ("dbscan", "hdbscan", "hac", "infomap", "leiden")


def clinc_dev_split(data, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Labeled and unlabeled item indices of dev split ``split`` (non-test domains only)."""
    test_domains = set(np.unique(data.domains[data.split["test"]]).tolist())
    domains = [d for d in range(len(data.domain_names)) if d not in test_domains]
    order = np.random.default_rng(1000 + split).permutation(domains)
    lab = np.flatnonzero(np.isin(data.domains, order[:3]))
    new = np.flatnonzero(np.isin(data.domains, order[3:5]))
    return lab, new


def load(dataset: str, data_dir: str, emb_dir: Path, mode: str, split: int):
    """(items, labels, initial embeddings) of the labeled and unlabeled sets, plus the
    long-tail resample of the unlabeled set (indices into it) in test mode."""
    from hilander.datasets.longtail import long_tail_subsample

    if dataset == "clinc150":
        from hilander.study.clinc150 import load_clinc150

        data = load_clinc150(data_dir)
        items = data.texts
        labels = data.labels
    else:
        from hilander.study.omniglot import load_omniglot

        data = load_omniglot(data_dir, image_size=28)  # what the cached backbone reads
        items = data.images
        labels = data.labels
    # the cached initial embeddings (`hilander embed`), one file per split
    Z = None
    for name in ("backbone_train", "clustering_train", "validation", "test"):
        f = np.load(emb_dir / dataset / f"{name}.npz")
        if Z is None:
            Z = np.zeros((len(labels), f["features"].shape[1]), np.float32)
        Z[f["indices"]] = f["features"]
    if mode == "test":
        lab = np.concatenate([data.split[s] for s in ("backbone_train", "clustering_train",
                                                      "validation")])
        new = data.split["test"]
    elif dataset == "clinc150":
        lab, new = clinc_dev_split(data, split)
    else:
        lab = np.concatenate([data.split[s] for s in ("backbone_train", "clustering_train")])
        new = data.split["validation"]
    take = (lambda idx: [items[i] for i in idx]) if isinstance(items, list) else (
        lambda idx: items[idx])
    longtail = long_tail_subsample(labels[new], seed=0) if mode == "test" else None
    return {"X": take(lab), "y": labels[lab], "Z": Z[lab], "U": take(new),
            "yu": labels[new], "Zu": Z[new], "longtail": longtail}


def score(y, labels) -> dict:
    s = evaluate(y, labels)
    return {"avg_f": avg_f(s), "n_clusters": int(s["n_clusters"]),
            "true": int(np.unique(y).size), "fp": s["pairwise_f"], "fb": s["bcubed_f"]}


def reference(Z, y, Zu, yu, seed: int, longtail=None) -> dict:
    """Each baseline tuned on the labeled identities' embeddings, scored on the unlabeled
    (and, given its indices, on the long-tail resample, the parameters carried to its size)."""
    from hilander.methods import make
    from hilander.tune import carry_params, tune_method

    out = {}
    for name in REFERENCE_METHODS:
        t0 = time.perf_counter()
        fixed = {"random_state": seed} if "random_state" in make(name).get_params() else None
        res = tune_method(name, Z, y, fixed=fixed)
        params = carry_params(name, res.best_params, Z.shape[0], Zu.shape[0])
        labels = make(name, **params).fit_predict(Zu)
        out[name] = {**score(yu, labels), "selection": res.best_score, "params": params,
                     "seconds": time.perf_counter() - t0}
        if longtail is not None:
            lt_params = carry_params(name, res.best_params, Z.shape[0], longtail.size)
            out[name]["longtail"] = score(yu[longtail],
                                          make(name, **lt_params).fit_predict(Zu[longtail]))
    labels = make("leiden", n_neighbors=10, random_state=seed).fit_predict(Zu)
    out["leiden (defaults)"] = {**score(yu, labels), "selection": None, "params": {}}
    if longtail is not None:
        out["leiden (defaults)"]["longtail"] = score(
            yu[longtail], make("leiden", n_neighbors=10, random_state=seed).fit_predict(
                Zu[longtail]))
    return out


def per_method(Z_train, y_train, Zu, yu, methods, seed: int) -> dict:
    """Each candidate alone (AutoCluster over one method), fitted on the given embeddings."""
    from hilander import AutoCluster

    out = {}
    for m in methods:
        t0 = time.perf_counter()
        auto = AutoCluster(methods=m, random_state=seed, verbose=False).fit(Z_train, y_train)
        out[m] = {**score(yu, auto.predict(Zu)), "selection": auto.val_avg_f_,
                  "params": auto.params_, "seconds": time.perf_counter() - t0}
    return out


def run_one(args, split: int, seed: int, with_reference: bool = True) -> dict:
    from hilander import AutoCluster, Discoverer

    d = load(args.dataset, args.data_dir, Path(args.emb), args.mode, split)
    methods = [m for m in args.methods.split(",") if m]
    row: dict = {"dataset": args.dataset, "mode": args.mode, "split": split, "seed": seed,
                 "n_labeled": len(d["y"]), "labeled_ids": int(np.unique(d["y"]).size),
                 "n_unlabeled": len(d["yu"]), "unlabeled_ids": int(np.unique(d["yu"]).size)}

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    say(f"== {args.dataset} {args.mode} split {split} seed {seed}: {row['labeled_ids']} "
        f"labeled identities ({row['n_labeled']}), {row['unlabeled_ids']} unlabeled "
        f"({row['n_unlabeled']})")
    if with_reference and not args.skip_reference:
        row["reference"] = reference(d["Z"], d["y"], d["Zu"], d["yu"], seed, d["longtail"])
        best = max(row["reference"].items(), key=lambda kv: kv[1]["avg_f"])
        say(f"reference (ORACLE over methods, each tuned on the labeled identities): {best[0]} "
            f"{best[1]['avg_f']:.3f}; " + ", ".join(f"{k} {v['avg_f']:.3f}"
                                                  for k, v in row["reference"].items()))
        t0 = time.perf_counter()
        auto = AutoCluster(methods=methods, random_state=seed, verbose=False).fit(d["Z"],
                                                                                  d["y"])
        row["auto_initial"] = {**score(d["yu"], auto.predict(d["Zu"])),
                               "winner": auto.winner_, "selection": auto.val_avg_f_,
                               "table": auto.table_,
                               "seconds": time.perf_counter() - t0}
        row["auto_initial"]["candidates"] = {
            t["method"]: {**score(d["yu"], auto.predict_with(t["method"], d["Zu"])),
                          "selection": t["avg_f"]}
            for t in auto.table_ if t["status"] == "ok"}
        if d["longtail"] is not None:
            lt = d["longtail"]
            for m, c in row["auto_initial"]["candidates"].items():
                c["longtail"] = score(d["yu"][lt], auto.predict_with(m, d["Zu"][lt]))
        say(f"auto on the initial embeddings: {auto.winner_} "
            f"{row['auto_initial']['avg_f']:.3f} (selection {auto.val_avg_f_:.3f})")
    if args.per_method and with_reference:
        row["per_method_initial"] = per_method(d["Z"], d["y"], d["Zu"], d["yu"], methods, seed)
    row["discover"] = {}
    for protocol in [p for p in args.protocols.split(",") if p]:
        t0 = time.perf_counter()
        enc_params = json.loads(args.encoder_params) if args.encoder_params else None
        if enc_params is None and args.dataset == "omniglot":
            # the recipe `hilander embed omniglot` trains the cached backbone with
            from hilander.study.embeddings import DEFAULT_CONFIGS

            enc_params = {k: v for k, v in DEFAULT_CONFIGS["omniglot"].items()
                          if k not in ("image_size", "train_classes", "device")}
        init = None
        if args.init:
            from hilander.embed.user import load_encoder

            init = load_encoder(args.init)
        disc = Discoverer(encoder="auto" if init is None else init, methods=methods,
                          protocol=protocol,
                          rounds=args.rounds,
                          encoder_params=enc_params, random_state=seed,
                          verbose=args.verbose, device=args.device)
        disc.fit(d["X"], d["y"], X_unlabeled=d["U"])
        rec = {**score(d["yu"], disc.labels_), "winner": disc.clusterer_.winner_,
               "params": disc.clusterer_.params_, "selection": disc.clusterer_.val_avg_f_,
               "table": disc.clusterer_.table_, "threads": getattr(disc.encoder_, "threads_", None),
               "timings": disc.timings_, "rounds": disc.rounds_,
               "seconds": time.perf_counter() - t0}
        rec["gap"] = rec["avg_f"] - rec["selection"]
        # every candidate as the clusterer's choice would have run it (measured only)
        rec["candidates"] = {}
        for t in disc.clusterer_.table_:
            if t["status"] == "ok":
                try:
                    labels = disc.clusterer_.predict_with(t["method"], disc.embeddings_)
                except Exception as exc:  # noqa: BLE001 - a table cell, not the run
                    rec["candidates"][t["method"]] = {"error": str(exc)}
                    continue
                rec["candidates"][t["method"]] = {**score(d["yu"], labels),
                                                  "selection": t["avg_f"]}
                if d["longtail"] is not None:
                    lt = d["longtail"]
                    rec["candidates"][t["method"]]["longtail"] = score(
                        d["yu"][lt], disc.clusterer_.predict_with(t["method"],
                                                                  disc.embeddings_[lt]))
        say("  each candidate on the unlabeled set: " + ", ".join(
            f"{m} {c.get('avg_f', float('nan')):.3f} (sel {c.get('selection', 0):.3f}, "
            f"{c.get('n_clusters', 0)} clusters)" for m, c in rec["candidates"].items()))
        for record, labels in zip(rec["rounds"], disc._round_labels):
            record["unlabeled_avg_f"] = score(d["yu"], labels)["avg_f"]  # measured only
        if d["longtail"] is not None:
            lt = d["longtail"]
            U_lt = [d["U"][i] for i in lt] if isinstance(d["U"], list) else d["U"][lt]
            rec["longtail"] = score(d["yu"][lt], disc.predict(U_lt))
        if args.per_method:
            Zc = disc.encoder_.transform(_take(d["X"], np.isin(d["y"],
                                                               disc.clusterer_identities_)))
            yc = d["y"][np.isin(d["y"], disc.clusterer_identities_)]
            rec["per_method"] = per_method(Zc, yc, disc.embeddings_, d["yu"], methods, seed)
        row["discover"][protocol] = rec
        say(f"discover {protocol}: {rec['winner']} avg F {rec['avg_f']:.3f} "
            f"({rec['n_clusters']} clusters for {rec['true']}), selection "
            f"{rec['selection']:.3f} (gap {rec['gap']:+.3f})"
            + (f", long-tail {rec['longtail']['avg_f']:.3f}" if "longtail" in rec else "")
            + f"; {rec['seconds']:.0f} s ("
            + ", ".join(f"{k} {v:.0f}" for k, v in disc.timings_.items()) + ")")
    return row


def _ms(values) -> str:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return "–"
    return f"{v.mean():.3f}" + (f" ± {v.std(ddof=1):.3f}" if v.size > 1 else "")


#: what Discoverer chooses among by default (the rest of a run's candidates are measured)
DEFAULT_CHOICE = ("infomap", "leiden")


def default_choice(rec: dict) -> dict | None:
    """The candidate ``Discoverer``'s default would have kept: AutoCluster keeps the best
    selection score, and neither the encoder nor a partition's tuning depends on which other
    candidates run, so dropping candidates from a run changes nothing else."""
    cands = {m: c for m, c in rec.get("candidates", {}).items()
             if m in DEFAULT_CHOICE and "avg_f" in c}
    if not cands:
        return None
    m = max(cands, key=lambda k: (cands[k]["selection"], -DEFAULT_CHOICE.index(k)))
    return {"method": m, **cands[m]}


def report(rows: list[dict]) -> str:
    """Markdown tables of a JSON-lines file: per dataset, mode and split, each protocol's
    unlabeled avg F (mean ± s.d. over seeds), against the reference and auto on the initial
    embeddings, with every candidate's score as the choice would have run it."""
    out = []
    keys = sorted({(r["dataset"], r["mode"], r["split"]) for r in rows})
    for dataset, mode, split in keys:
        rs = [r for r in rows if (r["dataset"], r["mode"], r["split"]) == (dataset, mode, split)]
        ref = next((r["reference"] for r in rs if "reference" in r), None)
        auto0 = next((r["auto_initial"] for r in rs if "auto_initial" in r), None)
        head = rs[0]
        out.append(f"### {dataset}, {mode}, split {split}: {head['labeled_ids']} labeled "
                   f"identities ({head['n_labeled']:,} items), {head['unlabeled_ids']} "
                   f"unlabeled ({head['n_unlabeled']:,})\n")
        if ref:
            best = max(ref.items(), key=lambda kv: kv[1]["avg_f"])
            out.append("Reference on the initial embeddings, each method tuned on the labeled "
                       "identities: " + ", ".join(f"{k} {v['avg_f']:.3f}" for k, v in
                                                  ref.items())
                       + f" (best, an ORACLE over methods: {best[0]} {best[1]['avg_f']:.3f}).")
            if all("longtail" in v for v in ref.values()):
                lt = max(ref.items(), key=lambda kv: kv[1]["longtail"]["avg_f"])
                out.append("Long-tail: " + ", ".join(f"{k} {v['longtail']['avg_f']:.3f}"
                                                     for k, v in ref.items())
                           + f" (ORACLE best: {lt[0]} {lt[1]['longtail']['avg_f']:.3f}).")
        if ref and not auto0:
            out.append("")
        if auto0:
            cands = auto0.get("candidates", {})
            out.append(f"`auto` on the initial embeddings: {auto0['winner']} "
                       f"{auto0['avg_f']:.3f} (selection {auto0['selection']:.3f}); each "
                       "candidate: " + ", ".join(f"{m} {c['avg_f']:.3f}"
                                                 for m, c in cands.items()) + "\n")
        protocols = sorted({p for r in rs for p in r["discover"]})
        methods = sorted({m for r in rs for p in r["discover"].values()
                          for m in p.get("candidates", {})})
        out.append("| protocol | seeds | default (Infomap / Leiden) | clusters / true | its gap "
                   "| all candidates (as run) | winner(s) "
                   + "".join(f"| {m} (as chosen) " for m in methods) + "|")
        out.append("|---" * (7 + len(methods)) + "|")
        for p in protocols:
            recs = [r["discover"][p] for r in rs if p in r["discover"]]
            defs = [default_choice(x) or x for x in recs]
            winners = ", ".join(sorted({x["winner"] for x in recs}))
            ratio = _ms([x["n_clusters"] / x["true"] for x in defs])
            cells = [_ms([x.get("candidates", {}).get(m, {}).get("avg_f") for x in recs])
                     for m in methods]
            out.append(f"| {p} | {len(recs)} | {_ms([x['avg_f'] for x in defs])} | "
                       f"{ratio}x | {_ms([x['avg_f'] - x['selection'] for x in defs])} | "
                       f"{_ms([x['avg_f'] for x in recs])} | {winners} | "
                       + " | ".join(cells) + " |")
            if any("longtail" in x for x in defs):
                lt_cells = [_ms([x.get("candidates", {}).get(m, {}).get("longtail", {})
                                 .get("avg_f") for x in recs]) for m in methods]
                dl = [x["longtail"] for x in defs if "longtail" in x]
                rl = [x["longtail"] for x in recs if "longtail" in x]
                out.append(f"| {p}, long-tail | {len(recs)} | {_ms([x['avg_f'] for x in dl])} | "
                           f"{_ms([x['n_clusters'] / x['true'] for x in dl])}x | – | "
                           f"{_ms([x['avg_f'] for x in rl])} | | " + " | ".join(lt_cells) + " |")
        out.append("")
    return "\n".join(out)


def _take(items, mask):
    idx = np.flatnonzero(mask)
    return [items[i] for i in idx] if isinstance(items, list) else items[idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("clinc150", "omniglot"))
    ap.add_argument("--mode", choices=("dev", "test"), default="dev")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--emb", default="emb", help="folder of `hilander embed` outputs")
    ap.add_argument("--splits", default="0")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--protocols", default="complementary,refit,leaky")
    ap.add_argument("--methods", default="hilander,infomap,leiden")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--encoder-params", default=None, help="JSON dict")
    ap.add_argument("--init", default=None,
                    help="encoder file to start from (e.g. the cached Omniglot backbone)")
    ap.add_argument("--per-method", action="store_true")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--out", required=True, help="JSON lines file (appended)")
    ap.add_argument("--report", action="store_true",
                    help="print the markdown tables of --out (and of --also files) and exit")
    ap.add_argument("--also", default="", help="more JSON lines files for --report")
    args = ap.parse_args()
    if args.report:
        rows = []
        for f in [args.out, *[x for x in args.also.split(",") if x]]:
            rows += [json.loads(line) for line in Path(f).read_text().splitlines() if line]
        print(report(rows))
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for split in [int(s) for s in args.splits.split(",")]:
        for i, seed in enumerate([int(s) for s in args.seeds.split(",")]):
            # the reference and auto learn no representation: once per split is enough
            row = run_one(args, split, seed, with_reference=i == 0)
            row["args"] = vars(args)
            with open(out, "a") as fh:
                fh.write(json.dumps(row, default=_jsonable) + "\n")


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


if __name__ == "__main__":
    main()
