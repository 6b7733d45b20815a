"""Class-agnostic relational features of every k-NN edge.

What makes two points one identity must transfer to identities never seen in meta-training, so
the edge head sees, besides the node embeddings, only relations that mean the same for any
identity: the cosine a_ij, how i and j rank each other, how much their neighbourhoods overlap
and how dense each end is; optionally also whether a few cheap unsupervised partitions of the
same graph put i and j together, and how large those communities are. Rows are computed in
chunks, so a million points stay bounded.
"""

from __future__ import annotations

import numpy as np

#: Names of the columns of :meth:`EdgeFeaturizer.rows`, in order; column 0 is a_ij.
EDGE_FEATURE_NAMES = (
    "cosine",            # a_ij
    "cosine_minus_di",   # a_ij − mean similarity of i to its neighbours (local density)
    "cosine_minus_dj",   # a_ij − mean similarity of j to its neighbours
    "rank_ij",           # position of j in i's list, 0 (nearest) .. 1 (k-th)
    "rank_ji",           # position of i in j's list; 1 when i is not in it
    "mutual",            # 1 when i is in j's list too
    "jaccard",           # |N+(i) ∩ N+(j)| / |N+(i) ∪ N+(j)|, N+ = neighbours and self
)
N_EDGE_FEATURES = len(EDGE_FEATURE_NAMES)

#: The unsupervised partitions of a level's own cosine graph whose co-membership the head
#: may read (``comembership=True``): Infomap, and Leiden modularity at two per-node
#: resolutions (a coarse and a fine one; the same value means the same at any graph size).
PARTITIONS = (("infomap", None), ("leiden", 3e-3), ("leiden", 3e-2))
#: For each partition: same community, and the log size of i's and of j's community (as a
#: share of log n).
COMEMBERSHIP_NAMES = tuple(f"{kind}{'' if r is None else f'_{r:g}'}_{what}"
                           for kind, r in PARTITIONS for what in ("same", "size_i", "size_j"))


def n_edge_features(comembership: bool = False) -> int:
    """Columns of :meth:`EdgeFeaturizer.rows`."""
    return N_EDGE_FEATURES + (len(COMEMBERSHIP_NAMES) if comembership else 0)


def graph_partitions(nbr: np.ndarray, sim: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, len(PARTITIONS)) community of every node in each of :data:`PARTITIONS`."""
    from ..graph.partition import infomap_partition, leiden_partition

    n = nbr.shape[0]
    keep = nbr >= 0
    src = np.broadcast_to(np.arange(n)[:, None], nbr.shape)[keep]
    dst, w = nbr[keep], np.clip(sim[keep].astype(np.float64), 1e-6, None)
    out = np.empty((n, len(PARTITIONS)), dtype=np.int64)
    for c, (kind, per_node) in enumerate(PARTITIONS):
        if kind == "infomap":
            out[:, c] = infomap_partition(n, src, dst, w, seed=seed)
        else:
            out[:, c] = leiden_partition(n, src, dst, w, resolution=per_node * n, seed=seed)
    return out


class EdgeFeaturizer:
    """Relational edge features of a k-NN table ``nbr`` (n, k; -1 padding) with cosines ``sim``.

    Built once per graph (a sorted key table for reverse look-ups, sorted neighbour sets for
    the Jaccard overlap, and with ``comembership`` the partitions of :func:`graph_partitions`);
    :meth:`rows` then gives the (rows, k, F) block of any row range.
    """

    def __init__(self, nbr: np.ndarray, sim: np.ndarray, comembership: bool = False) -> None:
        self.nbr = nbr
        self.sim = sim
        self.n_features = n_edge_features(comembership)
        self.partitions = None
        if comembership:
            self.partitions = graph_partitions(nbr, sim)
            sizes = [np.bincount(col) for col in self.partitions.T]
            scale = np.log1p(max(nbr.shape[0], 1))
            self.log_size = np.stack([np.log1p(s[col]) / scale
                                      for s, col in zip(sizes, self.partitions.T)], axis=1)
        n, k = nbr.shape
        self.n, self.k = n, k
        valid = nbr >= 0
        self.count = valid.sum(axis=1)
        self.local = np.where(valid, sim, 0.0).sum(axis=1) / np.maximum(self.count, 1)
        # N+(i) sorted; padding gets distinct negative values so it never matches; int32
        # where it fits (at ten million points every table here is a gigabyte per 8 bytes)
        ids = np.int32 if n + k + 2 < np.iinfo(np.int32).max else np.int64
        sets = np.concatenate([np.arange(n, dtype=ids)[:, None], nbr.astype(ids)], axis=1)
        pad = sets < 0
        sets[pad] = -1 - np.broadcast_to(np.arange(k + 1, dtype=ids), sets.shape)[pad]
        sets.sort(axis=1)
        self._sets = sets

    def rows(self, start: int = 0, stop: int | None = None, *,
             at: np.ndarray | None = None) -> np.ndarray:
        """Features (m, k, F) of the edges of rows ``start:stop`` (or of the rows ``at``, in
        that order); 0 on padding."""
        idx = np.arange(start, self.n if stop is None else stop) if at is None else at
        nbr = self.nbr[idx]
        sim = self.sim[idx]
        m, k = nbr.shape
        valid = nbr >= 0
        safe = np.where(valid, nbr, 0)
        out = np.zeros((m, k, self.n_features), dtype=np.float32)
        out[..., 0] = sim
        out[..., 1] = sim - self.local[idx, None]
        out[..., 2] = sim - self.local[safe]
        out[..., 3] = np.arange(k) / max(k - 1, 1)
        # reverse rank: is i in j's list, and where
        found, pos = self._reverse(idx, safe)
        found &= valid
        out[..., 4] = np.where(found, pos / max(k - 1, 1), 1.0)
        out[..., 5] = found
        out[..., 6] = self._jaccard(idx, safe)
        if self.partitions is not None:
            part_i = self.partitions[idx]
            for c in range(self.partitions.shape[1]):
                col = N_EDGE_FEATURES + 3 * c
                out[..., col] = part_i[:, c, None] == self.partitions[safe, c]
                out[..., col + 1] = self.log_size[idx, c, None]
                out[..., col + 2] = self.log_size[safe, c]
        out[~valid] = 0.0
        return out

    def _reverse(self, rows: np.ndarray, cols: np.ndarray,
                 budget: int = 2**24) -> tuple[np.ndarray, np.ndarray]:
        """For each edge (i, j): is i in j's list, and at which position (0 when not)."""
        m, k = cols.shape
        found = np.empty((m, k), dtype=bool)
        pos = np.empty((m, k), dtype=np.int64)
        step = max(1, budget // (k * k))
        for s in range(0, m, step):
            e = min(s + step, m)
            hit = self.nbr[cols[s:e]] == rows[s:e, None, None]      # (b, k, k)
            found[s:e] = hit.any(axis=2)
            pos[s:e] = hit.argmax(axis=2)
        return found, pos

    def _jaccard(self, rows: np.ndarray, cols: np.ndarray, budget: int = 2**24) -> np.ndarray:
        m, k = cols.shape
        width = k + 1
        out = np.empty((m, k), dtype=np.float32)
        step = max(1, budget // (k * width * width))
        for s in range(0, m, step):
            e = min(s + step, m)
            a = self._sets[rows[s:e]][:, None, :, None]           # (b, 1, w, 1)
            b = self._sets[cols[s:e]][:, :, None, :]              # (b, k, 1, w)
            inter = (a == b).sum(axis=(2, 3))
            size_i = (self.count[rows[s:e]] + 1)[:, None]
            size_j = self.count[cols[s:e]] + 1
            out[s:e] = inter / (size_i + size_j - inter)
        return out
