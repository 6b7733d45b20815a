"""Level 1 of Hi-LANDER on a Ray cluster: a sharded k-NN search and chunked GNN inference.

The driver (the process calling :meth:`HiLander.cluster`) keeps the features and does what
needs the whole graph at once: merging the shards' neighbour lists, building the edge
features, the decoding and the smaller upper levels. The workers do the two costly passes:

* k-NN: the l2-normalised rows are cut into ``n_shards`` contiguous shards; each shard is an
  actor holding a faiss index of its rows (built as :func:`hilander.graph.build_knn_graph`
  would, by :func:`hilander.graph.knn.make_index`). Every chunk of query rows is searched on
  every shard; the driver maps the hits to global ids, keeps the top k+1 and drops each row's
  own id as ``build_knn_graph`` does. With exact search the graph is the local one, bit for bit.
* GNN: the chunks of :meth:`LanderNet.predict` (encoder rows, then edge rows) become tasks
  that run :meth:`GraphEncoder.layer_rows` and :meth:`LanderNet.edge_rows` on the same
  boundaries. The model, the features, the neighbour table and the edge featurizer go into
  the object store once; every task reads them from there.

``ray`` is imported only here, and only when a :class:`RayBackend` is entered.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import InputError, check_int
from ..graph import KNNGraph, drop_self, knn_method_for
from ..lander.layers import row_chunks
from ..lander.network import LanderNet, edge_density
from ..training import deterministic
from .shards import KnnShard, database_block, faiss_tie_selection, merge_shard_hits, shard_bounds

#: Query rows per search call: ``build_knn_graph``'s default ``chunk_size``. faiss computes
#: inner products in BLAS blocks of queries; the same blocks give the same similarities.
QUERY_CHUNK = 8192
#: Query chunks in flight at once (each on every shard), bounding the results held.
SEARCH_WINDOW = 4


def require_ray() -> ModuleType:
    """The ``ray`` module, or an InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("backend='ray' needs the ray package: pip install 'hilander[ray]'") \
            from None
    return ray


@contextmanager
def _task_torch() -> Iterator[None]:
    """Inside a task: the driver's deterministic kernels, no autograd, and no warning about
    the object store's read-only arrays (the tasks never write to their inputs)."""
    with deterministic(), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        yield


def _encode_task(model: LanderNet, x: np.ndarray, nbr: np.ndarray, layer: int, start: int,
                 stop: int) -> np.ndarray:
    with _task_torch():
        h = model.encoder.layer_rows(layer, torch.from_numpy(x), torch.from_numpy(nbr),
                                     start, stop)
    return h.numpy()


def _edge_task(model: LanderNet, h: np.ndarray, nbr: np.ndarray, sim: np.ndarray,
               featurizer, start: int, stop: int) -> np.ndarray:
    with _task_torch():
        return model.edge_rows(torch.from_numpy(h), nbr, sim, featurizer, start, stop)


def _lists_task(plan, k: int, first: int, last: int) -> tuple[np.ndarray, np.ndarray, float]:
    from ..graph.ivf import search_lists

    t0 = time.perf_counter()
    dist, ids = search_lists(plan, k, first, last)
    return dist, ids, time.perf_counter() - t0


def _nbytes(obj) -> int:
    """Bytes of the numpy arrays in ``obj`` (an array or an object holding arrays)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    return sum(int(v.nbytes) for v in vars(obj).values() if isinstance(v, np.ndarray))


class RayBackend:
    """Level 1's k-NN search and GNN inference on Ray (see the module docstring).

    Use as a context manager. ``address``: None or "local" starts a local Ray instance (all
    CPUs of this machine), anything else is passed to ``ray.init(address=...)`` ("auto", a
    head node's "host:6379", or "ray://host:10001"). When this process is already connected
    (``ray.is_initialized()``), that connection is used as it is and left open; an instance
    this backend started is shut down on exit. ``n_shards`` (None: the cluster's CPUs) is the
    number of k-NN shards. ``knn_threads`` (None: this process's faiss thread count) is the
    number of threads each shard searches with: faiss's exact similarities differ in the last
    bit between thread counts, and the driver's count reproduces the local graph exactly. Ray
    tasks run on CPU; workers of a remote cluster need hilander installed.

    After a run, ``stats`` holds per-stage seconds and per-shard figures.
    """

    def __init__(self, address: str | None = None, n_shards: int | None = None,
                 progress: bool = False, knn_threads: int | None = None) -> None:
        if n_shards is not None:
            check_int(n_shards, "n_shards", low=1)
        if knn_threads is not None:
            check_int(knn_threads, "knn_threads", low=1)
        self.address = address
        self.n_shards = n_shards
        self.knn_threads = knn_threads
        self.progress = progress
        self.stats: dict[str, Any] = {}
        self._ray = None
        self._started = False
        self._cpus = 1.0

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> RayBackend:
        ray = require_ray()
        if not ray.is_initialized():
            address = "local" if self.address in (None, "local") else self.address
            try:
                ray.init(address=address, include_dashboard=False, logging_level="warning")
            except Exception as exc:  # connection refused, bad address, version mismatch...
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise InputError(f"could not start or reach Ray at {address!r}: {first}") \
                    from None
            self._started = True
        self._ray = ray
        self._cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.stats = {"cpus": self._cpus, "started_ray": self._started}
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

    def ready(self) -> None:
        """Raise InputError unless the backend was entered (``with RayBackend(...)``)."""
        self._need_ray()

    def _need_ray(self):
        if self._ray is None:
            raise InputError("a RayBackend works inside its `with` block: `with "
                             "RayBackend(...) as backend: model.cluster(X, backend=backend)`")
        return self._ray

    def _gather(self, refs: list, desc: str) -> list:
        """Results of ``refs`` in order, with a bar advancing as tasks finish."""
        ray = self._need_ray()
        with tqdm(total=len(refs), desc=desc, disable=not self.progress, leave=False) as bar:
            waiting = list(refs)
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                bar.update(len(done))
        return ray.get(refs)

    # -- k-NN ------------------------------------------------------------------------------
    def knn(self, feats: np.ndarray, k: int, method: str, progress: bool = False) -> KNNGraph:
        """The graph ``build_knn_graph(feats, k, normalize=False, method=method)`` gives, from
        shards (``progress`` is ignored: this backend's own ``progress`` rules its bars)."""
        import faiss

        ray = self._need_ray()
        t_start = time.perf_counter()
        n, d = feats.shape
        method = knn_method_for(n, method)
        if method == "ivf":
            return self._ivf_knn(feats, k, t_start)
        threads = self.knn_threads or faiss.omp_get_max_threads()
        K = k + 1
        want = self.n_shards or max(1, int(self._cpus))
        bounds = shard_bounds(n, want, database_block())
        x_ref = ray.put(feats)
        t_put = time.perf_counter() - t_start
        actor = ray.remote(KnnShard)
        # an actor holds its CPU while alive: never ask for more than the cluster has
        cpus = min(1.0, self._cpus / len(bounds))
        shards = [actor.options(num_cpus=cpus, scheduling_strategy="SPREAD")
                  .remote(x_ref, a, b, method, 0, threads) for a, b in bounds]
        ids = np.empty((n, k), dtype=np.int64)
        sims = np.empty((n, k), dtype=np.float32)
        chunks = row_chunks(n, QUERY_CHUNK)
        tail = None
        if method == "exact" and chunks[-1][1] - chunks[-1][0] < threads:
            # with fewer queries than threads faiss splits the database across threads (a
            # split shards cannot reproduce): a few rows, searched here against all rows by
            # the very call IndexFlatIP.search makes
            tail = chunks.pop()
        bars = [tqdm(total=len(chunks), desc=f"k-NN shard {i} (rows {a:,}-{b:,})", position=i,
                     unit="chunk", disable=not self.progress, leave=False)
                for i, (a, b) in enumerate(bounds)]
        pending: dict = {}
        parts: dict[int, list] = {}
        merge_seconds, n_ambiguous, n_researched = 0.0, 0, 0

        def submit(c: int) -> None:
            s, e = chunks[c]
            parts[c] = [None] * len(shards)
            for i, shard in enumerate(shards):
                pending[shard.search.remote(s, e, K + 1)] = (c, i)

        try:
            next_chunk = 0
            while next_chunk < min(SEARCH_WINDOW, len(chunks)):
                submit(next_chunk)
                next_chunk += 1
            if tail is not None:
                s, e = tail
                top_s, top_i = faiss.knn(feats[s:e], feats, K, metric=faiss.METRIC_INNER_PRODUCT)
                ids[s:e], sims[s:e] = drop_self(top_i, top_s, np.arange(s, e), k)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                ref = done[0]
                c, i = pending.pop(ref)
                parts[c][i] = ray.get(ref)
                bars[i].update(1)
                if any(part is None for part in parts[c]):
                    continue
                t0 = time.perf_counter()
                s, e = chunks[c]
                hits = parts.pop(c)
                top_s, top_i, ambiguous = merge_shard_hits(hits, K)
                if method == "exact" and ambiguous.any():
                    n_ambiguous += int(ambiguous.sum())
                    n_researched += self._resolve_ties(shards, hits, s, e, top_s, top_i,
                                                       ambiguous, K)
                ids[s:e], sims[s:e] = drop_self(top_i, top_s, np.arange(s, e), k)
                merge_seconds += time.perf_counter() - t0
                if next_chunk < len(chunks):
                    submit(next_chunk)
                    next_chunk += 1
            shard_stats = ray.get([shard.stats.remote() for shard in shards])
        finally:
            for bar in bars:
                bar.close()
            for shard in shards:
                ray.kill(shard)
            del x_ref
        sims[ids < 0] = 0.0
        self.stats["knn"] = {
            "method": method, "n": n, "k": k, "threads_per_shard": threads,
            "shards": shard_stats, "put_seconds": t_put,
            "merge_seconds": merge_seconds, "ambiguous_rows": n_ambiguous,
            "researched_chunks": n_researched,
            "driver_rows": 0 if tail is None else tail[1] - tail[0],
            "bytes_to_driver": int(sum(s["bytes_out"] for s in shard_stats)),
            "seconds": time.perf_counter() - t_start,
        }
        return KNNGraph(ids, sims, method)

    def _ivf_knn(self, feats: np.ndarray, k: int, t_start: float) -> KNNGraph:
        """The IVF self-join of :mod:`hilander.graph.ivf`: the driver trains the lists and
        sorts the points into them; each shard searches a range of lists (about the same
        number of probing points each) and the driver merges the shards' best hits. The
        same plan gives the local graph up to the order of exact ties."""
        from ..graph.ivf import merge_hits, plan_ivf

        ray = self._need_ray()
        plan = plan_ivf(feats)
        t_plan = time.perf_counter() - t_start
        plan_ref = ray.put(plan)
        want = self.n_shards or max(1, int(self._cpus))
        # cut the lists where the probing points split evenly
        cuts = np.searchsorted(plan.q_lims, np.linspace(0, plan.q_lims[-1], want + 1)[1:-1])
        bounds = list(zip([0, *cuts.tolist()], [*cuts.tolist(), plan.nlist]))
        bounds = [(a, b) for a, b in bounds if b > a]
        task = ray.remote(num_cpus=1)(_lists_task)
        refs = [task.remote(plan_ref, k + 1, a, b) for a, b in bounds]
        results = self._gather(refs, "k-NN list shards")
        parts = [(dist, ids) for dist, ids, _ in results]
        t0 = time.perf_counter()
        top_s, top_i = merge_hits(parts, k + 1)
        ids, sims = drop_self(top_i, top_s, np.arange(feats.shape[0]), k)
        sims = sims.astype(np.float32)
        sims[ids < 0] = 0.0
        self.stats["knn"] = {
            "method": "ivf", "n": feats.shape[0], "k": k, "plan_seconds": t_plan,
            "shards": [{"lists": [a, b], "points_probing": int(plan.q_lims[b] - plan.q_lims[a]),
                        "search_seconds": r[2]} for (a, b), r in zip(bounds, results)],
            "bytes_to_shards": _nbytes(plan),
            "bytes_to_driver": int(sum(p[0].nbytes + p[1].nbytes for p in parts)),
            "merge_seconds": time.perf_counter() - t0,
            "seconds": time.perf_counter() - t_start,
        }
        del plan_ref
        return KNNGraph(ids, sims, "ivf")

    def _resolve_ties(self, shards, hits: list, s: int, e: int, top_s: np.ndarray,
                      top_i: np.ndarray, ambiguous: np.ndarray, K: int) -> int:
        """Redo the rows whose K-th place is tied with faiss's own rule, from every row tied
        with it; returns how many shards searched the chunk again.

        A shard whose (K+1)-th hit lies below the tie already sent all its rows at or above it
        (the usual case: two rows of different shards happen to tie). Only a shard whose own
        (K+1)-th hit is tied may hold more (many exact duplicates), and searches again.
        """
        ray = self._need_ray()
        local = np.flatnonzero(ambiguous)
        thresholds = top_s[local, K - 1]
        found = []
        for shard, (sh_s, sh_i) in zip(shards, hits):
            more = (sh_s[local, -1] >= thresholds) & (sh_i[local, -1] >= 0)
            if more.any():
                found.append(shard.at_least.remote(s, e, local + s, thresholds, 2 * (K + 1)))
            else:
                found.append([(sh_i[r][sh_s[r] >= t], sh_s[r][sh_s[r] >= t])
                              for r, t in zip(local, thresholds)])
        researched = sum(not isinstance(f, list) for f in found)
        found = [f if isinstance(f, list) else ray.get(f) for f in found]
        for j, r in enumerate(local):
            cand_i = np.concatenate([f[j][0] for f in found])
            cand_s = np.concatenate([f[j][1] for f in found])
            top_i[r], top_s[r] = faiss_tie_selection(cand_i, cand_s, K)
        return researched

    # -- GNN -------------------------------------------------------------------------------
    def predict(self, model: LanderNet, feats: np.ndarray, nbr: np.ndarray, sim: np.ndarray,
                chunk: int) -> tuple[np.ndarray, np.ndarray]:
        """``model.predict(feats, nbr, sim, chunk)`` with its chunks as Ray tasks."""
        ray = self._need_ray()
        t_start = time.perf_counter()
        n, k = nbr.shape
        if next(model.parameters()).device.type != "cpu":
            model = copy.deepcopy(model).cpu()  # the tasks run on CPU
        model_ref = ray.put(model.eval())
        nbr_ref, sim_ref, h_ref = ray.put(nbr), ray.put(sim), ray.put(feats)
        moved_in = feats.nbytes + nbr.nbytes + sim.nbytes
        t_put = time.perf_counter() - t_start
        encode = ray.remote(_encode_task).options(num_cpus=1)
        layer_seconds = []
        for layer in range(len(model.encoder.convs)):
            t0 = time.perf_counter()
            refs = [encode.remote(model_ref, h_ref, nbr_ref, layer, s, e)
                    for s, e in row_chunks(n, chunk)]
            h = np.concatenate(self._gather(refs, f"GNN layer {layer + 1} (ray)"))
            h_ref = ray.put(h)
            moved_in += h.nbytes
            layer_seconds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        featurizer = model.featurizer(nbr, sim)  # once, here; every edge task reads it
        feat_ref = ray.put(featurizer)
        t_feat = time.perf_counter() - t0
        t0 = time.perf_counter()
        edge = ray.remote(_edge_task).options(num_cpus=1)
        blocks = model.edge_chunks(n, k, chunk)
        refs = [edge.remote(model_ref, h_ref, nbr_ref, sim_ref, feat_ref, s, e)
                for s, e in blocks]
        p = np.concatenate(self._gather(refs, "GNN edges (ray)"))
        t_edges = time.perf_counter() - t0
        del model_ref, nbr_ref, sim_ref, h_ref, feat_ref
        dens = edge_density(p, nbr, sim)
        self.stats["gnn"] = {
            "put_seconds": t_put, "layer_seconds": layer_seconds,
            "featurizer_seconds": t_feat, "edge_seconds": t_edges,
            "encoder_tasks": len(row_chunks(n, chunk)) * len(layer_seconds),
            "edge_tasks": len(blocks),
            "featurizer_bytes": _nbytes(featurizer) if featurizer is not None else 0,
            # one copy of each input in the object store; outputs come back to the driver
            "bytes_to_store": int(moved_in + (_nbytes(featurizer) if featurizer else 0)),
            "bytes_to_driver": int(h.nbytes * len(layer_seconds) + p.nbytes),
            "seconds": time.perf_counter() - t_start,
        }
        return p, dens
