"""Face-recognition style metrics of an embedding: 1:1 verification and 1:N open-set search.

The Hi-LANDER paper (sec. 4.6, Table 4) measures a representation trained on pseudo-labels on
IJB-C with two numbers each:

* **verification** (1:1): every pair of test items is compared by cosine similarity and
  accepted when the score is above a threshold. FMR (false match rate) is the share of
  impostor pairs (different identities) accepted, FNMR (false non-match rate) the share of
  genuine pairs (same identity) rejected. FNMR@FMR=f is the FNMR at the lowest threshold
  whose FMR is at most ``f``.
* **open-set identification** (1:N): identities are split into a gallery (enrolled with some
  of their items, averaged into one template) and the rest. Every other item searches the
  gallery. FPIR (false positive identification rate) is the share of *non-mated* searches
  (identity not enrolled) whose best score is above the threshold; FNIR (false negative
  identification rate) the share of *mated* searches whose mate is not the rank-1 candidate
  with a score above it. FNIR@FPIR=f uses the lowest threshold with FPIR at most ``f``.

Thresholds are exact order statistics, not interpolations: with ``N`` impostor scores sorted
from high to low and ``m = floor(f * N)``, the threshold is the ``(m+1)``-th score and a pair
is accepted only when its score is strictly greater, so at most ``m`` impostors pass even
with ties (FMR <= f always holds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import InputError, check_features, check_labels, l2_normalize

#: operating points of the paper's Table 4
FMR_TARGETS = (1e-3, 1e-4)
FPIR_TARGETS = (1e-1, 1e-2)


def _check_rates(rates, name: str) -> list[float]:
    values = [rates] if np.isscalar(rates) else list(rates)
    if not values:
        raise InputError(f"{name} is empty")
    out = []
    for r in values:
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)):
            raise InputError(f"{name} values must be numbers in (0, 1], got {r!r}")
        r = float(r)
        if not 0.0 < r <= 1.0:
            raise InputError(f"{name} values must be in (0, 1], got {r}")
        out.append(r)
    return out


def threshold_at_rate(negative_scores, rate: float, n_negative: int | None = None) -> float:
    """The threshold ``t`` at which at most ``rate`` of the negatives score strictly above ``t``.

    Parameters
    ----------
    negative_scores : array-like of float
        Scores of the negatives (impostor pairs, non-mated searches). May hold only the
        highest ones when ``n_negative`` gives how many there were in all.
    rate : float
        Target false-accept rate in (0, 1].
    n_negative : int or None, default=None
        Number of negatives in all; ``None`` means ``len(negative_scores)``.

    Returns
    -------
    float
        The ``(m+1)``-th highest negative score with ``m = floor(rate * n_negative)``, or
        ``-inf`` when ``m`` reaches ``n_negative`` (every negative may be accepted).

    Examples
    --------
    >>> threshold_at_rate([0.9, 0.5, 0.3, 0.1], 0.25)
    0.5
    """
    (rate,) = _check_rates(rate, "rate")
    s = np.asarray(negative_scores, dtype=np.float64).ravel()
    n = s.size if n_negative is None else int(n_negative)
    if n < 1:
        raise InputError("there are no negative scores to set a threshold on")
    if s.size > n:
        raise InputError(f"{s.size} negative scores but n_negative={n}")
    # the small epsilon keeps float products such as 0.29 * 100 from flooring one too low
    m = int(math.floor(rate * n + 1e-9))
    if m >= n:
        return -math.inf
    if m >= s.size:
        raise InputError(
            f"rate {rate:g} needs the {m + 1} highest negatives, only {s.size} were kept"
        )
    # the (m+1)-th largest without sorting everything
    return float(np.partition(s, s.size - 1 - m)[s.size - 1 - m])


def fnmr_at_fmr(genuine_scores, impostor_scores, fmr=FMR_TARGETS,
                n_impostor: int | None = None) -> dict[float, float]:
    """FNMR at each target FMR from raw verification scores.

    Parameters
    ----------
    genuine_scores : array-like of float
        Similarity of every same-identity pair.
    impostor_scores : array-like of float
        Similarity of the different-identity pairs (all of them, or only the highest ones
        when ``n_impostor`` says how many there were).
    fmr : float or sequence of float, default=(1e-3, 1e-4)
        Target false match rates.
    n_impostor : int or None, default=None
        Total number of impostor pairs when ``impostor_scores`` holds only the top ones.

    Returns
    -------
    dict
        ``{fmr: fnmr}``; FNMR is the share of genuine scores at or below the threshold.

    Examples
    --------
    >>> fnmr_at_fmr([0.95, 0.6, 0.5, 0.2], [0.9, 0.5, 0.3, 0.1], fmr=0.25)
    {0.25: 0.5}
    """
    g = np.asarray(genuine_scores, dtype=np.float64).ravel()
    if g.size == 0:
        raise InputError("there are no genuine pairs (no identity has two items)")
    out = {}
    for f in _check_rates(fmr, "fmr"):
        t = threshold_at_rate(impostor_scores, f, n_impostor)
        out[f] = float(np.mean(g <= t))
    return out


@dataclass
class VerificationScores:
    """All genuine scores and the highest impostor scores of an embedding's item pairs.

    Attributes
    ----------
    genuine : numpy.ndarray
        Cosine similarity of every same-identity pair, float32.
    impostor_top : numpy.ndarray
        The highest impostor similarities (enough for FMR down to ``max_fmr``), float32.
    n_genuine, n_impostor : int
        Pair counts.
    max_fmr : float
        The largest FMR the kept impostor scores can answer.
    """

    genuine: np.ndarray
    impostor_top: np.ndarray
    n_genuine: int
    n_impostor: int
    max_fmr: float

    def fnmr_at(self, fmr=FMR_TARGETS) -> dict[float, float]:
        """``{fmr: FNMR}`` for each target (each must be <= ``max_fmr``)."""
        rates = _check_rates(fmr, "fmr")
        too_high = [f for f in rates if f > self.max_fmr + 1e-12]
        if too_high:
            raise InputError(f"FMR {too_high[0]:g} is above max_fmr={self.max_fmr:g} "
                             "given when the scores were collected")
        return fnmr_at_fmr(self.genuine, self.impostor_top, rates, self.n_impostor)

    def curve(self, n_points: int = 60, min_fmr: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """``(fmr, fnmr)`` on a log grid from ``min_fmr`` (default ``1/n_impostor``) to
        ``max_fmr``: the FNMR-FMR (DET-style) curve."""
        lo = min_fmr if min_fmr is not None else max(1.0 / self.n_impostor, 1e-9)
        lo = min(lo, self.max_fmr)
        fmrs = np.geomspace(lo, self.max_fmr, n_points)
        fnmr = self.fnmr_at(list(fmrs))
        return fmrs, np.array([fnmr[f] for f in fmrs])


def verification_scores(X, labels, *, max_fmr: float = 1e-2, normalize: bool = True,
                        block: int = 1024) -> VerificationScores:
    """Scores of every pair of items of ``X`` (cosine similarity), collected blockwise.

    The n(n-1)/2 pairs are never held at once: each block of rows is compared with the rows
    after it, genuine scores are kept, and of the impostor scores only the
    ``floor(max_fmr * n_impostor) + 1`` highest (enough for any FMR up to ``max_fmr``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings.
    labels : array-like of shape (n_samples,)
        Identities; ``-1`` is an ordinary identity here (test labels have no noise).
    max_fmr : float, default=1e-2
        Largest FMR that will be asked for.
    normalize : bool, default=True
        l2-normalise first, so scores are cosines.
    block : int, default=1024
        Rows per block (memory: ``block * n_samples`` floats).

    Returns
    -------
    VerificationScores

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> s = verification_scores(X, [0, 0, 1, 1], max_fmr=1.0)
    >>> s.n_genuine, s.n_impostor, s.fnmr_at(0.25)
    (2, 4, {0.25: 0.0})
    """
    X = check_features(X, min_rows=2)
    y = check_labels(labels, X.shape[0], name="labels")
    (max_fmr,) = _check_rates(max_fmr, "max_fmr")
    Xn = l2_normalize(X) if normalize else X
    n = Xn.shape[0]
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    n_genuine = int((counts * (counts - 1) // 2).sum())
    n_impostor = n * (n - 1) // 2 - n_genuine
    if n_genuine == 0:
        raise InputError("no identity has two items: there are no genuine pairs")
    if n_impostor == 0:
        raise InputError("all items share one identity: there are no impostor pairs")
    keep = min(n_impostor, int(math.floor(max_fmr * n_impostor + 1e-9)) + 1)
    genuine: list[np.ndarray] = []
    top = np.empty(0, np.float32)
    for a in range(0, n, block):
        b = min(a + block, n)
        S = Xn[a:b] @ Xn[a:].T  # rows a..b against a..n: each pair once (j > i)
        rows = np.arange(b - a)[:, None]
        upper = np.arange(n - a)[None, :] > rows
        same = codes[a:b, None] == codes[None, a:]
        genuine.append(S[upper & same].astype(np.float32))
        imp = S[upper & ~same].astype(np.float32)
        top = np.concatenate([top, imp])
        if top.size > keep:
            top = np.partition(top, top.size - keep)[top.size - keep:]
    return VerificationScores(np.concatenate(genuine), top, n_genuine, n_impostor, max_fmr)


def verification_fnmr(X, labels, fmr=FMR_TARGETS, *, normalize: bool = True
                      ) -> dict[float, float]:
    """FNMR at each target FMR over all pairs of ``X`` (see :func:`verification_scores`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings of labeled test items.
    labels : array-like of shape (n_samples,)
        Their identities.
    fmr : float or sequence of float, default=(1e-3, 1e-4)
        Target false match rates.
    normalize : bool, default=True
        Cosine similarity (l2-normalised) rather than raw dot products.

    Returns
    -------
    dict
        ``{fmr: fnmr}``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> verification_fnmr(X, [0, 0, 1, 1], fmr=0.25)
    {0.25: 0.0}
    """
    rates = _check_rates(fmr, "fmr")
    return verification_scores(X, labels, max_fmr=max(rates), normalize=normalize).fnmr_at(
        rates)


@dataclass
class OpenSetSplit:
    """A gallery / probe split of labeled items for 1:N open-set search.

    Attributes
    ----------
    gallery : numpy.ndarray
        Item indices enrolled in the gallery (averaged into one template per identity).
    mated : numpy.ndarray
        Probe indices whose identity is enrolled.
    nonmated : numpy.ndarray
        Probe indices whose identity is not enrolled.
    """

    gallery: np.ndarray
    mated: np.ndarray
    nonmated: np.ndarray


def open_set_split(labels, *, gallery_fraction: float = 0.5, enroll_fraction: float = 0.5,
                   seed: int = 0) -> OpenSetSplit:
    """Seeded gallery / probe split: a share of the identities is enrolled, the rest is not.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Identities of the test items.
    gallery_fraction : float, default=0.5
        Share of the identities (with at least two items) put in the gallery.
    enroll_fraction : float, default=0.5
        Share of an enrolled identity's items that build its template (at least one, and at
        least one item is left as a mated probe).
    seed : int, default=0
        Seed of the draws.

    Returns
    -------
    OpenSetSplit

    Examples
    --------
    >>> s = open_set_split([0, 0, 1, 1, 2, 2, 3, 3], seed=0)
    >>> len(s.gallery), len(s.mated), len(s.nonmated)
    (2, 2, 4)
    """
    y = check_labels(labels, name="labels")
    for value, name in ((gallery_fraction, "gallery_fraction"),
                        (enroll_fraction, "enroll_fraction")):
        if not 0.0 < float(value) < 1.0:
            raise InputError(f"{name} must be in (0, 1), got {value}")
    rng = np.random.default_rng(seed)
    ids, counts = np.unique(y, return_counts=True)
    eligible = ids[counts >= 2]  # a one-item identity cannot be both enrolled and searched
    n_gallery = int(round(gallery_fraction * eligible.size))
    if n_gallery < 1 or n_gallery >= ids.size:
        raise InputError(
            f"cannot split {ids.size} identities ({eligible.size} with two or more items) into "
            f"a gallery and non-enrolled ones with gallery_fraction={gallery_fraction}"
        )
    enrolled = rng.permutation(eligible)[:n_gallery]
    gallery, mated = [], []
    for c in np.sort(enrolled):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(max(1, int(round(enroll_fraction * idx.size))), idx.size - 1)
        gallery.append(np.sort(idx[:k]))
        mated.append(np.sort(idx[k:]))
    nonmated = np.flatnonzero(~np.isin(y, enrolled))
    return OpenSetSplit(np.concatenate(gallery), np.concatenate(mated), nonmated)


def fnir_at_fpir_scores(mated_scores, mated_rank1, nonmated_scores, fpir=FPIR_TARGETS
                        ) -> dict[float, float]:
    """FNIR at each target FPIR from the scores of 1:N searches.

    Parameters
    ----------
    mated_scores : array-like of float
        For each mated search, the score of its mate's template.
    mated_rank1 : array-like of bool
        For each mated search, whether the mate is the single best candidate.
    nonmated_scores : array-like of float
        For each non-mated search, its best candidate's score.
    fpir : float or sequence of float, default=(1e-1, 1e-2)
        Target false positive identification rates.

    Returns
    -------
    dict
        ``{fpir: fnir}``; a mated search succeeds when its mate is rank 1 and scores strictly
        above the threshold.

    Examples
    --------
    >>> fnir_at_fpir_scores([0.9, 0.8, 0.4], [True, False, True], [0.7, 0.5, 0.2, 0.1], 0.25)
    {0.25: 0.6666666666666666}
    """
    s = np.asarray(mated_scores, dtype=np.float64).ravel()
    r1 = np.asarray(mated_rank1, dtype=bool).ravel()
    if s.size == 0:
        raise InputError("there are no mated searches")
    if r1.shape != s.shape:
        raise InputError(f"mated_rank1 has {r1.size} entries for {s.size} mated scores")
    out = {}
    for f in _check_rates(fpir, "fpir"):
        t = threshold_at_rate(nonmated_scores, f)
        out[f] = float(np.mean(~(r1 & (s > t))))
    return out


def open_set_identification(X, labels, fpir=FPIR_TARGETS, *, split: OpenSetSplit | None = None,
                            seed: int = 0, normalize: bool = True) -> dict[float, float]:
    """FNIR at each target FPIR of 1:N search against a gallery of identity templates.

    Each enrolled identity's template is the mean of its l2-normalised gallery items,
    normalised again; every probe is scored against every template by cosine similarity.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings of labeled test items.
    labels : array-like of shape (n_samples,)
        Their identities.
    fpir : float or sequence of float, default=(1e-1, 1e-2)
        Target false positive identification rates.
    split : OpenSetSplit or None, default=None
        Gallery and probes; ``None`` draws :func:`open_set_split` with ``seed`` (the same
        labels and seed give the same split, so two embeddings are compared on one protocol).
    seed : int, default=0
        Seed of the default split.
    normalize : bool, default=True
        l2-normalise the items first.

    Returns
    -------
    dict
        ``{fpir: fnir}``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> open_set_identification(X, [0, 0, 1, 1], fpir=0.5)
    {0.5: 0.0}
    """
    X = check_features(X, min_rows=2)
    y = check_labels(labels, X.shape[0], name="labels")
    if split is None:
        split = open_set_split(y, seed=seed)
    Xn = l2_normalize(X) if normalize else X
    enrolled, inv = np.unique(y[split.gallery], return_inverse=True)
    templates = np.zeros((enrolled.size, Xn.shape[1]), np.float64)
    np.add.at(templates, inv, Xn[split.gallery])
    templates = l2_normalize(templates.astype(np.float32))
    S_m = Xn[split.mated] @ templates.T
    mate = np.searchsorted(enrolled, y[split.mated])
    rows = np.arange(mate.size)
    mated_scores = S_m[rows, mate]
    others = S_m.copy()
    others[rows, mate] = -np.inf
    rank1 = mated_scores > others.max(axis=1) if enrolled.size > 1 else np.ones(mate.size, bool)
    nonmated = (Xn[split.nonmated] @ templates.T).max(axis=1)
    return fnir_at_fpir_scores(mated_scores, rank1, nonmated, fpir)


def openset_report(X, labels, *, fmr: Sequence[float] = FMR_TARGETS,
                   fpir: Sequence[float] = FPIR_TARGETS, seed: int = 0) -> dict[str, float]:
    """The paper's Table 4 numbers plus Recall@1 for one embedding of a labeled test set.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings of labeled test items.
    labels : array-like of shape (n_samples,)
        Their identities.
    fmr : sequence of float, default=(1e-3, 1e-4)
        Verification operating points.
    fpir : sequence of float, default=(1e-1, 1e-2)
        Open-set identification operating points.
    seed : int, default=0
        Seed of the gallery / probe split.

    Returns
    -------
    dict
        ``fnmr@fmr=<f>`` and ``fnir@fpir=<f>`` for each target, and ``recall_at_1``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [0.9, 0.1], [0.8, 0.3], [0, 1], [0.1, 0.9], [0.3, 0.8]])
    >>> openset_report(X, [0, 0, 0, 1, 1, 1], fmr=[0.5], fpir=[0.5])["recall_at_1"]
    1.0
    """
    from ..metrics import recall_at_1

    out: dict[str, float] = {}
    for f, v in verification_fnmr(X, labels, fmr).items():
        out[f"fnmr@fmr={f:g}"] = v
    for f, v in open_set_identification(X, labels, fpir, seed=seed).items():
        out[f"fnir@fpir={f:g}"] = v
    out["recall_at_1"] = recall_at_1(X, labels)
    return out


__all__ = [
    "FMR_TARGETS", "FPIR_TARGETS", "OpenSetSplit", "VerificationScores", "fnir_at_fpir_scores",
    "fnmr_at_fmr", "open_set_identification", "open_set_split", "openset_report",
    "threshold_at_rate", "verification_fnmr", "verification_scores",
]
