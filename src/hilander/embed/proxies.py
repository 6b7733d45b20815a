"""Label handling shared by the encoders' training on true or pseudo labels.

Pseudo-labels come from a clustering: ``-1`` marks noise (HDBSCAN, DBSCAN), and the ids of one
clustering round mean nothing to the next. These helpers drop noise, hold out whole identities
for early stopping, start a cosine-softmax head from class means (so fine-tuning a trained
encoder does not begin from random proxies), and align one round's cluster ids to the last's.
"""

from __future__ import annotations

import numpy as np

from .._validation import InputError, check_labels

#: above this many (new x previous) overlapping cluster pairs the alignment is greedy
MAX_DENSE_ASSIGNMENT = 4_000_000


def noise_mask(labels) -> np.ndarray:
    """``True`` where a label is the integer ``-1`` (noise / unlabeled).

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Integer or string labels; only integer ``-1`` counts as noise.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> noise_mask([3, -1, 0]).tolist()
    [False, True, False]
    """
    y = np.asarray(labels)
    if y.dtype.kind in "iu":
        return y == -1
    return np.zeros(y.shape, bool)


def drop_noise(items, labels) -> tuple:
    """``(items, labels)`` without the ``-1`` entries; an error when nothing is left.

    Parameters
    ----------
    items : numpy.ndarray or list
        One item (image, text, row) per label.
    labels : array-like of shape (n_samples,)
        Labels, ``-1`` for noise.

    Returns
    -------
    tuple
        The kept items (same container kind) and their labels.

    Examples
    --------
    >>> drop_noise(["a", "b", "c"], [0, -1, 1])
    (['a', 'c'], array([0, 1]))
    """
    y = np.asarray(labels)
    noise = noise_mask(y)
    if noise.all():
        raise InputError("every label is -1 (noise): nothing to train on")
    if not noise.any():
        return items, y
    keep = np.flatnonzero(~noise)
    if isinstance(items, np.ndarray):
        return items[keep], y[keep]
    return [items[i] for i in keep], y[keep]


def singletons_to_noise(labels) -> np.ndarray:
    """Pseudo-labels with clusters of one item set to ``-1``.

    A one-item cluster has no positive pair: as a class of a cosine-softmax head it only
    pushes its item away from everything else, so it is treated as noise.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Integer cluster ids, ``-1`` for noise.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> singletons_to_noise([0, 0, 1, 2, 2, -1]).tolist()
    [0, 0, -1, 2, 2, -1]
    """
    y = np.asarray(labels).astype(np.int64)
    out = y.copy()
    ids, counts = np.unique(y[y != -1], return_counts=True)
    out[np.isin(y, ids[counts < 2])] = -1
    return out


def holdout_identities(labels, fraction: float = 0.2, seed: int = 0,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Class-disjoint train / held-out item indices: whole identities go to the held-out part.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Identities; ``-1`` items always stay in the training part (they are dropped there).
    fraction : float, default=0.2
        Share of the identities held out (at least two, and at least two remain).
    seed : int, default=0
        Seed of the draw.

    Returns
    -------
    tuple of numpy.ndarray
        ``(train_indices, heldout_indices)``.

    Examples
    --------
    >>> tr, va = holdout_identities([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 0.4)
    >>> len(tr), len(va)
    (6, 4)
    """
    from .._validation import encode_labels
    from ..datasets.splits import holdout_identities as draw

    y = check_labels(labels, name="labels")
    if not 0.0 < float(fraction) < 1.0:
        raise InputError(f"the held-out fraction must be in (0, 1), got {fraction}")
    noise = noise_mask(y)
    n_ids = np.unique(y[~noise]).size
    n_out = max(2, int(round(fraction * n_ids)))
    if n_ids - n_out < 2:
        raise InputError(
            f"{n_ids} identities are too few to hold out {n_out} for early stopping and "
            "train on at least 2; give more identities or a validation set"
        )
    # the package's one hold-out, on the identities that are not noise
    held = np.zeros(y.size, dtype=bool)
    held[~noise] = draw(encode_labels(y[~noise]), fraction, seed, by="classes", min_held=2)
    return np.flatnonzero(~held), np.flatnonzero(held)


def imprint_proxies(z: np.ndarray, codes: np.ndarray, classes: np.ndarray,
                    prev_classes=None, prev_weight=None) -> np.ndarray:
    """Unit-norm class proxies: the mean direction of each class's embeddings.

    Parameters
    ----------
    z : numpy.ndarray of shape (n_samples, dim)
        Embeddings of the training items under the encoder being fine-tuned.
    codes : numpy.ndarray of shape (n_samples,)
        Class index of each item into ``classes``.
    classes : numpy.ndarray of shape (n_classes,)
        Class labels.
    prev_classes : array-like or None, default=None
        Classes of a previously trained head; a class found there keeps its learnt proxy
        (``prev_weight``'s row) instead of the mean.
    prev_weight : array-like of shape (len(prev_classes), dim) or None, default=None
        That head's proxies.

    Returns
    -------
    numpy.ndarray of shape (n_classes, dim), float32

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1., 0.], [1., 0.2], [0., 2.]])
    >>> imprint_proxies(z, np.array([0, 0, 1]), np.array([5, 7])).astype(float).round(2).tolist()
    [[1.0, 0.1], [0.0, 1.0]]
    """
    z = np.asarray(z, dtype=np.float64)
    zn = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    weight = np.zeros((len(classes), z.shape[1]))
    np.add.at(weight, codes, zn)
    if prev_classes is not None and prev_weight is not None:
        prev_classes = np.asarray(prev_classes)
        prev_weight = np.asarray(prev_weight, dtype=np.float64)
        if prev_weight.shape[1] == z.shape[1] and prev_classes.dtype.kind == np.asarray(
                classes).dtype.kind:
            order = np.argsort(prev_classes)
            pos = np.searchsorted(prev_classes[order], classes)
            pos = np.minimum(pos, prev_classes.size - 1)
            found = prev_classes[order][pos] == classes
            weight[found] = prev_weight[order][pos[found]]
    norms = np.linalg.norm(weight, axis=1, keepdims=True)
    return (weight / np.maximum(norms, 1e-12)).astype(np.float32)


def align_labels(previous, new) -> np.ndarray:
    """``new`` cluster ids renamed to the ``previous`` ids they overlap most (one to one).

    The matching maximises the number of items that keep their id (Hungarian assignment on
    the overlap counts); new clusters left unmatched get fresh ids above every previous one.
    ``-1`` stays ``-1``. A fine-tuning round then finds a cluster's learnt proxy under the
    same id.

    Parameters
    ----------
    previous : array-like of int, shape (n_samples,)
        Last round's cluster ids (``-1`` noise).
    new : array-like of int, shape (n_samples,)
        This round's cluster ids of the same items.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> align_labels([0, 0, 1, 1, 2], [5, 5, 3, 3, 3]).tolist()
    [0, 0, 1, 1, 1]
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix

    prev = np.asarray(previous).astype(np.int64)
    cur = np.asarray(new).astype(np.int64)
    if prev.shape != cur.shape:
        raise InputError(f"previous has {prev.size} labels, new has {cur.size}")
    out = np.full(cur.shape, -1, np.int64)
    both = (prev != -1) & (cur != -1)
    new_ids, new_codes = np.unique(cur[cur != -1], return_inverse=True)
    if new_ids.size == 0:
        return out
    prev_ids = np.unique(prev[prev != -1])
    mapping = np.full(new_ids.size, -1, np.int64)
    if prev_ids.size and both.any():
        r = np.searchsorted(new_ids, cur[both])
        c = np.searchsorted(prev_ids, prev[both])
        overlap = coo_matrix((np.ones(r.size), (r, c)),
                             shape=(new_ids.size, prev_ids.size)).tocsr()
        rows = np.unique(r)
        cols = np.unique(c)
        if rows.size * cols.size <= MAX_DENSE_ASSIGNMENT:
            # dense only over clusters that overlap at all; assignment maximises kept items
            dense = overlap[rows][:, cols].toarray()
            ri, ci = linear_sum_assignment(-dense)
            ok = dense[ri, ci] > 0
            mapping[rows[ri[ok]]] = prev_ids[cols[ci[ok]]]
        else:
            # too many clusters for a dense assignment: greedy by decreasing overlap
            coo = overlap.tocoo()
            taken = np.zeros(prev_ids.size, bool)
            for k in np.argsort(-coo.data, kind="stable"):
                i, j = coo.row[k], coo.col[k]
                if mapping[i] == -1 and not taken[j]:
                    mapping[i], taken[j] = prev_ids[j], True
    fresh = np.flatnonzero(mapping == -1)
    start = int(prev_ids.max()) + 1 if prev_ids.size else 0
    mapping[fresh] = start + np.arange(fresh.size)
    out[cur != -1] = mapping[new_codes]
    return out
