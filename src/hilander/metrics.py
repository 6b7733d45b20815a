"""Clustering metrics as defined in the face-clustering literature.

Pairwise and BCubed scores follow the definitions used by learn-to-cluster, GCN-V/E, STAR-FC
and Hi-LANDER, so numbers are comparable with those papers. Points labeled ``-1`` (noise) count
as singletons, in predictions and in ground truth. :func:`recall_at_1` and :func:`map_at_r`
score an embedding's neighbours (the encoders stop early on them); the study's open-set
verification and identification metrics are :mod:`hilander.study.metrics_openset`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn import metrics as skm

from ._validation import InputError, check_labels, encode_labels

METRIC_KEYS = (
    "pairwise_f", "pairwise_precision", "pairwise_recall",
    "bcubed_f", "bcubed_precision", "bcubed_recall",
    "nmi", "ami", "ari", "n_clusters", "n_classes",
)


def noise_to_singletons(labels) -> np.ndarray:
    """Codes 0..C-1 where every ``-1`` becomes a cluster of its own."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        noise = labels == -1
    else:
        noise = np.zeros(labels.shape, bool)
    codes = encode_labels(labels)
    if noise.any():
        base = codes[~noise].max() + 1 if (~noise).any() else 0
        codes = codes.copy()
        codes[noise] = base + np.arange(int(noise.sum()))
        codes = encode_labels(codes)
    return codes


def _prepare(labels_true, labels_pred):
    t = check_labels(labels_true, name="labels_true")
    p = check_labels(labels_pred, t.shape[0], name="labels_pred")
    return noise_to_singletons(t), noise_to_singletons(p)


def contingency(labels_true, labels_pred) -> sp.csr_matrix:
    """Sparse class × cluster count matrix ``n_ij``."""
    t, p = _prepare(labels_true, labels_pred)
    n = t.shape[0]
    return sp.csr_matrix(
        (np.ones(n, dtype=np.int64), (t, p)), shape=(t.max() + 1, p.max() + 1)
    )


def _f(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pairwise_scores(labels_true, labels_pred) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F) over same-cluster pairs.

    tk = Σ n_ij² − N, pk = Σ b_j² − N (predicted sizes), qk = Σ a_i² − N (class sizes).
    With no predicted pairs precision is 1 (no false merge); with no true pairs recall is 1.
    """
    return _pairwise(contingency(labels_true, labels_pred))


def _pairwise(C: sp.csr_matrix) -> tuple[float, float, float]:
    n = int(C.sum())
    tk = float((C.data.astype(np.float64) ** 2).sum() - n)
    pk = float((np.asarray(C.sum(axis=0), dtype=np.float64) ** 2).sum() - n)
    qk = float((np.asarray(C.sum(axis=1), dtype=np.float64) ** 2).sum() - n)
    precision = tk / pk if pk > 0 else 1.0
    recall = tk / qk if qk > 0 else 1.0
    return precision, recall, _f(precision, recall)


def bcubed_scores(labels_true, labels_pred) -> tuple[float, float, float]:
    """BCubed (precision, recall, F); F is the harmonic mean of the averaged P and R."""
    return _bcubed(contingency(labels_true, labels_pred))


def _bcubed(csr: sp.csr_matrix) -> tuple[float, float, float]:
    a = np.asarray(csr.sum(axis=1)).ravel().astype(np.float64)  # class sizes
    b = np.asarray(csr.sum(axis=0)).ravel().astype(np.float64)  # cluster sizes
    C = csr.tocoo()
    n = float(C.sum())
    nij2 = C.data.astype(np.float64) ** 2
    precision = float((nij2 / b[C.col]).sum() / n)
    recall = float((nij2 / a[C.row]).sum() / n)
    return precision, recall, _f(precision, recall)


#: What :func:`f_scores` gives: the keys :func:`avg_f` reads, and the counts.
F_KEYS = ("pairwise_f", "pairwise_precision", "pairwise_recall",
          "bcubed_f", "bcubed_precision", "bcubed_recall", "n_clusters", "n_classes")


def f_scores(labels_true, labels_pred) -> dict[str, float]:
    """The pairwise and BCubed scores and the counts (:data:`F_KEYS`): what a selection by
    :func:`avg_f` needs. A search scores every trial with these and its choice with
    :func:`evaluate`; AMI alone took a fifth of Hi-LANDER's selection on Omniglot."""
    t, p = _prepare(labels_true, labels_pred)
    if t.shape[0] < 1:
        raise InputError("cannot evaluate an empty labelling")
    return _f_scores(t, p)


def _f_scores(t: np.ndarray, p: np.ndarray) -> dict[str, float]:
    C = sp.csr_matrix((np.ones(t.shape[0], dtype=np.int64), (t, p)),
                      shape=(t.max() + 1, p.max() + 1))
    pp, pr, pf = _pairwise(C)
    bp, br, bf = _bcubed(C)
    return {"pairwise_f": pf, "pairwise_precision": pp, "pairwise_recall": pr,
            "bcubed_f": bf, "bcubed_precision": bp, "bcubed_recall": br,
            "n_clusters": int(p.max() + 1), "n_classes": int(t.max() + 1)}


def evaluate(labels_true, labels_pred) -> dict[str, float]:
    """Every metric of the papers, keyed as in :data:`METRIC_KEYS`."""
    t, p = _prepare(labels_true, labels_pred)
    if t.shape[0] < 1:
        raise InputError("cannot evaluate an empty labelling")
    f = _f_scores(t, p)
    return {
        **{key: f[key] for key in METRIC_KEYS[:6]},
        "nmi": float(skm.normalized_mutual_info_score(t, p, average_method="arithmetic")),
        "ami": float(skm.adjusted_mutual_info_score(t, p, average_method="arithmetic")),
        "ari": float(skm.adjusted_rand_score(t, p)),
        "n_clusters": f["n_clusters"],
        "n_classes": f["n_classes"],
    }


def hungarian_accuracy(labels_true, labels_pred) -> float:
    """Clustering accuracy (ACC) of the intent-discovery papers (DeepAligned, MTP-CLNN,
    USNID): the share of points whose cluster maps to their class under the one-to-one
    matching of clusters to classes that maximises it (Hungarian algorithm). Clusters left
    unmatched, when there are more clusters than classes, count as wrong; noise counts as
    singletons."""
    from scipy.optimize import linear_sum_assignment

    counts = contingency(labels_true, labels_pred).toarray()
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / counts.sum())


def avg_f(scores: dict[str, float]) -> float:
    """Harmonic mean of Fp and Fb: the selection score of the tuning protocol."""
    return _f(scores["pairwise_f"], scores["bcubed_f"])


def recall_at_1(X, labels, *, normalize: bool = True) -> float:
    """Fraction of points whose nearest other point shares their label (study Table 2)."""
    import faiss

    from ._validation import check_features, l2_normalize

    X = check_features(X, min_rows=2)
    y = check_labels(labels, X.shape[0], name="labels")
    # cosine neighbours after normalisation, Euclidean ones on the raw embeddings
    index = faiss.IndexFlatIP(X.shape[1]) if normalize else faiss.IndexFlatL2(X.shape[1])
    Xs = l2_normalize(X) if normalize else X
    index.add(Xs)
    _, ids = index.search(Xs, 2)
    rows = np.arange(X.shape[0])
    # exact duplicates may outrank the point itself, so take the first id that is not self
    nearest = np.where(ids[:, 0] == rows, ids[:, 1], ids[:, 0])
    return float(np.mean(y[nearest] == y))


def map_at_r(X, labels, *, normalize: bool = True, max_r: int = 1000) -> float:
    """Mean average precision at R (Musgrave et al., *A Metric Learning Reality Check*, 2020).

    For each item, ``R`` is the number of other items of its identity; its score is the
    average precision over its ``R`` nearest neighbours (cosine): ``(1/R) * sum_i P(i)`` over
    the ranks ``i <= R`` holding a same-identity item. Unlike Recall@1, which looks at one
    neighbour, every same-identity item counts, so the number moves smoothly as an embedding
    trains: a steadier early-stopping signal on a few thousand held-out items.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings.
    labels : array-like of shape (n_samples,)
        Identities; items alone in theirs are skipped.
    normalize : bool, default=True
        Cosine neighbours (l2-normalised) rather than Euclidean ones.
    max_r : int, default=1000
        ``R`` is capped here, so huge identities do not make the search quadratic.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.9, 0.1], [0.8, 0.3], [0, 1], [0.1, 0.9], [0.7, 0.4]])
    >>> round(map_at_r(X, [0, 0, 0, 1, 1, 1]), 4)
    0.7083
    """
    import faiss

    from ._validation import check_features, l2_normalize

    X = check_features(X, min_rows=2)
    y = check_labels(labels, X.shape[0], name="labels")
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    r = np.minimum(counts[codes] - 1, int(max_r))
    if r.max() < 1:
        raise InputError("no identity has two items: MAP@R is undefined")
    Xs = l2_normalize(X) if normalize else X
    index = faiss.IndexFlatIP(Xs.shape[1]) if normalize else faiss.IndexFlatL2(Xs.shape[1])
    index.add(Xs)
    k = int(r.max()) + 1
    _, ids = index.search(Xs, k)
    rows = np.arange(X.shape[0])
    # drop the item itself (duplicates may outrank it; then the last neighbour goes)
    is_self = ids == rows[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    nbr = ids[~is_self].reshape(X.shape[0], k - 1)
    rel = codes[nbr] == codes[:, None]
    ranks = np.arange(1, k)
    within = ranks[None, :] <= r[:, None]
    rel &= within
    precision = np.cumsum(rel, axis=1) / ranks[None, :]
    ap = (precision * rel).sum(axis=1) / np.maximum(r, 1)
    return float(ap[r >= 1].mean())


__all__ = ["METRIC_KEYS", "avg_f", "bcubed_scores", "contingency", "evaluate", "map_at_r",
           "noise_to_singletons", "pairwise_scores", "recall_at_1"]
