"""The aggregation function ψ (paper sec. 3.4, eq. 7) and the node features it yields."""

from __future__ import annotations

import numpy as np

from .._validation import l2_normalize

AGGREGATIONS = ("peak", "mean", "concat")


def node_features(identity: np.ndarray, average: np.ndarray, aggregation: str) -> np.ndarray:
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


def aggregate(identity: np.ndarray, comp: np.ndarray, n_comp: int,
              peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Super-node features: h̃ = identity of the peak node, h̄ = mean identity of the members."""
    sums = np.zeros((n_comp, identity.shape[1]), dtype=np.float64)
    np.add.at(sums, comp, identity)
    counts = np.bincount(comp, minlength=n_comp).astype(np.float64)
    average = (sums / counts[:, None]).astype(identity.dtype)
    return identity[peaks], average
