"""Mixture-model baselines: Gaussian mixture (scikit-learn) and von Mises-Fisher mixture."""

from __future__ import annotations

import numpy as np
from scipy.special import ive, logsumexp
from sklearn.cluster import kmeans_plusplus
from sklearn.mixture import GaussianMixture as _SkGMM

from .._validation import InputError, l2_normalize
from ._baseline import (
    MEMORY_BUDGET_BYTES,
    NONNEG_INT,
    NONNEG_REAL,
    POSITIVE_INT,
    POSITIVE_REAL,
    BaseClusterer,
    Param,
    StrOptions,
    relabel,
)
from .kmeans import _check_n_clusters


def _check_dense_memory(n_floats: float, method: str, what: str) -> None:
    need = n_floats * 8
    if need > MEMORY_BUDGET_BYTES:
        raise InputError(
            f"{method} would hold {what} of about {need / 2**30:.1f} GiB, over the "
            f"{MEMORY_BUDGET_BYTES / 2**30:.0f} GiB budget; use fewer clusters or points"
        )


class GaussianMixture(BaseClusterer):
    """Gaussian mixture fitted by EM (scikit-learn), full or diagonal covariances.

    ``init`` is "kmeans" or "random" as in the study's Table 13 (scikit-learn's "k-means++"
    and "random_from_data" are accepted too). Each point takes its most probable component.

    {parameters}

    {attributes}
    means_ : ndarray of shape (n_clusters, n_features)
        Component means.
    n_iter_ : int
        EM iterations run.

    {example}
    """

    _example = "GaussianMixture(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Mixture components (at most the number of points)."),
        "covariance": Param(
            "diagonal", [StrOptions({"diag", "diagonal", "full"})], '{"diagonal", "diag", "full"}',
            'Covariance of each component ("diag" is a synonym of "diagonal"); "full" holds a '
            "d x d matrix per component."),
        "init": Param(
            "kmeans", [StrOptions({"k-means++", "kmeans", "random", "random_from_data"})],
            '{"kmeans", "random", "k-means++", "random_from_data"}',
            "How the responsibilities are initialised (scikit-learn's ``init_params``)."),
        "max_iter": Param(100, [POSITIVE_INT], "int", "EM iterations at most."),
        "reg_covar": Param(1e-6, [NONNEG_REAL], "float",
                           "Added to the covariances' diagonal, so they stay positive definite."),
        "random_state": Param(0, [NONNEG_INT], "int", "Seed of the initialisation."),
    }
    _n_positional = 1

    def _fit(self, X, graph):
        n, d = X.shape
        k = _check_n_clusters(self.n_clusters, n)
        cov = "diag" if self.covariance in ("diagonal", "diag") else "full"
        _check_dense_memory(3.0 * n * k, "GMM", "responsibilities")
        if cov == "full":
            _check_dense_memory(3.0 * k * d * d, "GMM (full covariance)", "covariances")
        model = _SkGMM(k, covariance_type=cov, init_params=self.init, max_iter=self.max_iter,
                       reg_covar=self.reg_covar, random_state=self.random_state)
        labels = model.fit_predict(X)
        self.means_ = model.means_
        self.n_iter_ = int(model.n_iter_)
        return relabel(labels)


def log_bessel_iv(v: float, x: np.ndarray) -> np.ndarray:
    """log I_v(x), stable for the large orders of high-dimensional vMF normalisers.

    ``scipy.special.ive`` underflows to 0 when v >> x; there the uniform asymptotic (Debye)
    expansion of Olver is used instead, which is accurate to O(1/v).
    """
    x = np.maximum(np.asarray(x, dtype=np.float64), 1e-300)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        direct = np.log(ive(v, x)) + x
    bad = ~np.isfinite(direct)
    if bad.any() and v > 0:
        z = x[bad] / v
        root = np.sqrt(1.0 + z * z)
        eta = root + np.log(z / (1.0 + root))
        direct[bad] = -0.5 * np.log(2 * np.pi * v) + v * eta - 0.5 * np.log(root)
    return direct


def vmf_log_normalizer(d: int, kappa: np.ndarray) -> np.ndarray:
    """log C_d(kappa) of the d-dimensional von Mises-Fisher density."""
    kappa = np.maximum(np.asarray(kappa, dtype=np.float64), 1e-10)
    v = d / 2.0 - 1.0
    return v * np.log(kappa) - (d / 2.0) * np.log(2 * np.pi) - log_bessel_iv(v, kappa)


class VMFMixture(BaseClusterer):
    """Mixture of von Mises-Fisher distributions fitted by EM (Banerjee et al. 2005).

    ``posterior="soft"`` is the soft-assignment EM, ``"hard"`` assigns each point to its most
    probable component in the E-step (hard-moVMF). Concentrations use Banerjee's approximation
    kappa = r(d - r^2) / (1 - r^2). ``init`` follows the study's Table 14: "k-means++",
    "random" (random points as mean directions), "random_class" (mean directions of a random
    partition) and "random_orthonormal" (random orthonormal directions, or random unit vectors
    when there are more components than dimensions). Each point takes its most probable
    component. The rows are projected on the sphere whatever ``l2_normalize`` says.

    {parameters}

    {attributes}
    means_ : ndarray of shape (n_clusters, n_features)
        Unit mean directions.
    kappa_ : ndarray of shape (n_clusters,)
        Concentrations.
    weights_ : ndarray of shape (n_clusters,)
        Mixing weights.
    n_iter_ : int
        EM iterations run.

    {example}
    """

    _example = "VMFMixture(n_clusters=3)"
    _params = {
        "n_clusters": Param(8, [POSITIVE_INT], "int",
                            "Mixture components (at most the number of points)."),
        "posterior": Param("soft", [StrOptions({"hard", "soft"})], '{"soft", "hard"}',
                           "Soft EM, or hard assignments in the E-step (hard-moVMF)."),
        "init": Param(
            "k-means++",
            [StrOptions({"k-means++", "random", "random_class", "random_orthonormal"})],
            '{"k-means++", "random", "random_class", "random_orthonormal"}',
            "Initial mean directions, as listed above."),
        "max_iter": Param(100, [POSITIVE_INT], "int", "EM iterations at most."),
        "tol": Param(1e-6, [NONNEG_REAL], "float",
                     "EM stops when the log-likelihood changes by less than ``tol`` times its "
                     "magnitude."),
        "max_kappa": Param(1e5, [POSITIVE_REAL], "float",
                           "Cap on every concentration (a component of identical points would "
                           "otherwise diverge)."),
        "random_state": Param(0, [NONNEG_INT], "int", "Seed of the initialisation."),
    }
    _n_positional = 1

    def _init_means(self, X, k, rng):
        n, d = X.shape
        if self.init == "k-means++":
            mu, _ = kmeans_plusplus(X, k, random_state=int(rng.integers(2**31 - 1)))
        elif self.init == "random":
            mu = X[rng.choice(n, size=k, replace=False)]
        elif self.init == "random_class":
            z = rng.integers(k, size=n)
            mu = np.zeros((k, d))
            np.add.at(mu, z, X)
            mu += 1e-6 * rng.standard_normal((k, d))  # an empty random class still gets a mean
        else:
            G = rng.standard_normal((d, k))
            mu = np.linalg.qr(G)[0].T if k <= d else G.T
        return l2_normalize(np.asarray(mu, dtype=np.float64))

    def _fit(self, X, graph):
        X = l2_normalize(X).astype(np.float64)
        n, d = X.shape
        k = _check_n_clusters(self.n_clusters, n)
        _check_dense_memory(3.0 * n * k, "vMF mixture", "responsibilities")
        rng = np.random.default_rng(self.random_state)
        mu = self._init_means(X, k, rng)
        kappa = np.full(k, float(d))  # moderate start; the first M-step replaces it
        log_alpha = np.full(k, -np.log(k))
        prev = -np.inf
        for it in range(self.max_iter):
            log_p = log_alpha + vmf_log_normalizer(d, kappa) + kappa * (X @ mu.T)
            norm = logsumexp(log_p, axis=1, keepdims=True)
            ll = float(norm.sum())
            if self.posterior == "soft":
                resp = np.exp(log_p - norm)
            else:
                resp = np.zeros_like(log_p)
                resp[np.arange(n), log_p.argmax(1)] = 1.0
            weight = resp.sum(0)
            r = resp.T @ X
            r_norm = np.linalg.norm(r, axis=1)
            alive = weight > 1e-10
            mu[alive] = r[alive] / np.maximum(r_norm[alive, None], 1e-300)
            rbar = np.clip(r_norm / np.maximum(weight, 1e-300), 1e-10, 1 - 1e-10)
            kappa = np.where(alive, rbar * (d - rbar**2) / (1 - rbar**2), kappa)
            kappa = np.minimum(kappa, self.max_kappa)
            log_alpha = np.log(np.maximum(weight, 1e-300) / n)
            self.n_iter_ = it + 1
            if abs(ll - prev) <= self.tol * max(1.0, abs(ll)):
                break
            prev = ll
        log_p = log_alpha + vmf_log_normalizer(d, kappa) + kappa * (X @ mu.T)
        self.means_, self.kappa_, self.weights_ = mu, kappa, np.exp(log_alpha)
        return relabel(log_p.argmax(1))
