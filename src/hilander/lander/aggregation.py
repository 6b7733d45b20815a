"""The aggregation function ψ (paper sec. 3.4, eq. 7) and the node features it yields."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import l2_normalize

AGGREGATIONS = ("peak", "mean", "concat")


def node_features(identity: np.ndarray, average: np.ndarray | None,
                  aggregation: str) -> np.ndarray:
    """The feature a level's k-NN search and GNN see, l2-normalised as in the supplementary.

    "peak" is the paper's identity feature h̃, "mean" the average feature h̄ and "concat" is
    [h̃, h̄]; each half is normalised first so both weigh equally in the cosine similarity.
    """
    # the features are only read downstream, so unit rows need no copy
    if aggregation == "peak":
        return l2_normalize(identity, copy=False)
    if aggregation == "mean":
        return l2_normalize(average, copy=False)
    both = np.concatenate([l2_normalize(identity), l2_normalize(average)], axis=1)
    return l2_normalize(both)


class Aggregator:
    """Super-node features across levels: h̃ (the peak's identity feature) and h̄.

    h̄ is the size-weighted mean of the members' *input* features (eq. 7, and what the
    authors' code computes), so a super-node of 100 points is not pulled toward the lone
    points it absorbed. Sums are kept only when an aggregation reads h̄: at a million points
    "peak" needs no second copy of the features.
    """

    def __init__(self, X: np.ndarray, aggregation: str) -> None:
        self.aggregation = aggregation
        self.identity = X
        self.total = None if aggregation == "peak" else X.astype(np.float32, copy=True)
        self.size = np.ones(X.shape[0], dtype=np.float64)

    @property
    def average(self) -> np.ndarray | None:
        if self.total is None:
            return None
        return (self.total / self.size[:, None]).astype(np.float32)

    def features(self) -> np.ndarray:
        return node_features(self.identity, self.average, self.aggregation)

    def merge(self, comp: np.ndarray, n_comp: int, peaks: np.ndarray) -> None:
        """Collapse the current nodes into ``n_comp`` super-nodes with the given peaks."""
        self.identity = self.identity[peaks]
        self.size = np.bincount(comp, weights=self.size, minlength=n_comp)
        if self.total is not None:
            member = sp.csr_matrix((np.ones(comp.size, dtype=np.float32),
                                    (comp, np.arange(comp.size))), shape=(n_comp, comp.size))
            self.total = np.asarray(member @ self.total, dtype=np.float32)


def aggregate(identity: np.ndarray, comp: np.ndarray, n_comp: int,
              peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One merge of unit-size nodes: (peak identity, mean of the members' identities).

    For callers that hold no running sums (incremental assignment replays one level at a
    time); a whole run uses :class:`Aggregator`, which weighs members by their sizes.
    """
    agg = Aggregator(identity, "mean")
    agg.merge(comp, n_comp, peaks)
    return agg.identity, agg.average
