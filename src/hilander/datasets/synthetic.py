"""Synthetic open-set embeddings with long-tailed class sizes.

Each class has a centre on the unit sphere and several sub-modes (think of one person seen in
different videos): large classes spread over many sub-modes, which is what makes a single level
of linkage fragment them and a hierarchy worth having. ``separation`` scales how discriminative
the embeddings are; :meth:`OpenSetData.recall_at_1` measures it as the empirical study does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import InputError, check_float, check_int


@dataclass
class OpenSetData:
    """Class-disjoint meta-training and test embeddings."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    params: dict = field(default_factory=dict)

    def recall_at_1(self) -> dict[str, float]:
        from ..metrics import recall_at_1

        return {
            "train": recall_at_1(self.X_train, self.y_train),
            "test": recall_at_1(self.X_test, self.y_test),
        }


def long_tail_sizes(
    n_classes: int, *, min_size: int = 1, max_size: int = 2000, shape: float = 0.6,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Class sizes from a truncated Pareto law: many tiny classes, a few huge ones.

    ``shape`` is the Pareto tail index; smaller means heavier tail. The largest class is
    pinned to ``max_size`` so every draw spans the full range, like the Hannah test set.
    """
    rng = np.random.default_rng(rng)
    check_int(n_classes, "n_classes", low=1)
    u = rng.random(n_classes)
    lo, hi = float(min_size), float(max_size) + 1
    # inverse CDF of a Pareto truncated to [lo, hi)
    a = shape
    sizes = (lo**-a - u * (lo**-a - hi**-a)) ** (-1 / a)
    sizes = np.clip(np.floor(sizes), min_size, max_size).astype(np.int64)
    sizes[np.argmax(sizes)] = max_size
    return sizes


def moderate_sizes(
    n_classes: int, *, mean: float = 30.0, min_size: int = 5, max_size: int = 120,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Log-normal class sizes around ``mean``, like the face training sets (mean ~37)."""
    rng = np.random.default_rng(rng)
    sizes = rng.lognormal(np.log(mean) - 0.125, 0.5, size=n_classes)
    return np.clip(np.round(sizes), min_size, max_size).astype(np.int64)


def sample_classes(
    sizes: np.ndarray, basis: np.ndarray, *, separation: float, points_per_mode: int,
    rng: np.random.Generator, label_offset: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw points for classes of the given sizes; returns (X float32, y int64).

    Classes live in the low-dimensional span of ``basis`` (dim × r): isotropic noise in a
    high-dimensional space never confuses nearest neighbours, real embeddings do.
    """
    dim, r = basis.shape
    n = int(sizes.sum())
    X = np.empty((n, dim), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    mode_spread = 0.45 / separation  # expected norm of a sub-mode offset
    point_spread = 0.36 / separation  # expected norm of a point's own noise
    start = 0
    for c, size in enumerate(sizes):
        centre = rng.standard_normal(r)
        centre /= np.linalg.norm(centre)
        n_modes = max(1, int(np.ceil(size / points_per_mode)))
        modes = centre + rng.standard_normal((n_modes, r)) * (mode_spread / np.sqrt(r))
        which = rng.integers(0, n_modes, size=size)
        latent = modes[which] + rng.standard_normal((size, r)) * (point_spread / np.sqrt(r))
        X[start:start + size] = latent @ basis.T + 0.02 * rng.standard_normal((size, dim))
        y[start:start + size] = label_offset + c
        start += size
    return X, y


def make_open_set(
    n_train_classes: int = 300,
    n_test_classes: int = 60,
    *,
    dim: int = 64,
    separation: float = 1.0,
    train_sizes: str = "moderate",
    test_sizes: str = "longtail",
    max_test_size: int = 2000,
    points_per_mode: int = 25,
    intrinsic_dim: int = 8,
    seed: int = 0,
    space_seed: int | None = None,
) -> OpenSetData:
    """Class-disjoint train/test embeddings.

    ``train_sizes`` / ``test_sizes`` pick the class-size law of each split: "moderate"
    (log-normal, mean 30, 5..120) or "longtail" (truncated Pareto, 1..``max_test_size``).
    ``separation`` > 1 makes classes tighter (higher Recall@1), < 1 more confusable.
    ``space_seed`` (default: ``seed``) fixes the embedding space alone, so calls with other
    seeds draw new identities in the same space, as one backbone would embed them.
    """
    check_int(n_train_classes, "n_train_classes", low=2)
    check_int(n_test_classes, "n_test_classes", low=1)
    check_int(dim, "dim", low=2)
    check_float(separation, "separation", low=0, low_open=True)
    check_int(points_per_mode, "points_per_mode", low=1)
    check_int(intrinsic_dim, "intrinsic_dim", low=2, high=dim)
    # one embedding space shared by train and test classes
    space_rng = np.random.default_rng(seed if space_seed is None else space_seed)
    basis, _ = np.linalg.qr(space_rng.standard_normal((dim, intrinsic_dim)))
    rng = np.random.default_rng([seed, 1])

    def sizes_for(law: str, n_classes: int) -> np.ndarray:
        if law == "moderate":
            return moderate_sizes(n_classes, rng=rng)
        if law == "longtail":
            return long_tail_sizes(n_classes, max_size=max_test_size, rng=rng)
        raise InputError(f"class-size law must be 'moderate' or 'longtail', got {law!r}")

    s_train = sizes_for(train_sizes, n_train_classes)
    s_test = sizes_for(test_sizes, n_test_classes)
    X_tr, y_tr = sample_classes(s_train, basis, separation=separation,
                                points_per_mode=points_per_mode, rng=rng)
    X_te, y_te = sample_classes(s_test, basis, separation=separation,
                                points_per_mode=points_per_mode, rng=rng,
                                label_offset=n_train_classes)
    # shuffle rows so that no method can exploit the generation order
    p_tr, p_te = rng.permutation(len(y_tr)), rng.permutation(len(y_te))
    params = dict(n_train_classes=n_train_classes, n_test_classes=n_test_classes, dim=dim,
                  separation=separation, train_sizes=train_sizes, test_sizes=test_sizes,
                  max_test_size=max_test_size, points_per_mode=points_per_mode,
                  intrinsic_dim=intrinsic_dim, seed=seed, space_seed=space_seed)
    return OpenSetData(X_tr[p_tr], y_tr[p_tr], X_te[p_te], y_te[p_te], params)
