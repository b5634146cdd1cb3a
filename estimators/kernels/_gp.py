"""Gaussian-process regression: the posterior of the latent function and the log marginal likelihood.

With kernel ``k`` and noise variance ``noise_var`` (Rasmussen & Williams 2006, algorithm 2.1):
``L = chol(K + noise_var I)``, ``mean = K_q^T (K + noise_var I)^{-1} y`` and
``var = k(x_q, x_q) - ||L^{-1} k_q||^2``; kernel ridge with ``lam = noise_var`` has the same mean.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..validation import check_fit_data, check_nonnegative, check_queries, solve_triangular
from ._ridge import _add_diag, _cholesky, _gram

__all__ = ["GPPosterior", "gp_posterior", "gp_log_marginal_likelihood"]


def _posterior_parts(X, y, kernel, noise_var, fn):
    xp = check_fit_data(X, y, fn)
    noise_var = check_nonnegative(noise_var, "noise_var", fn)
    K = _gram(xp, kernel, X, fn)
    L = _cholesky(xp, _add_diag(xp, K, noise_var), fn, what="K + noise_var I")
    z = solve_triangular(xp, L, y[..., None], lower=True)  # (..., n, 1)
    return xp, L, z


class GPPosterior(NamedTuple):
    """Posterior of the latent function at query points: ``mean`` (..., m) and ``var`` (..., m) or ``cov`` (..., m, m)."""

    mean: Any
    var: Any


def gp_posterior(X: Any, y: Any, kernel: Any, noise_var: float, Xq: Any, *, full_cov: bool = False) -> GPPosterior:
    """Gaussian-process posterior of ``f(Xq)`` given ``y = f(X) + N(0, noise_var I)``, prior ``f ~ GP(0, k)``.

    ``mean = K_q (K + s^2 I)^{-1} y`` (kernel ridge with ``lam = s^2``) and
    ``cov = K_qq - K_q (K + s^2 I)^{-1} K_q^T``, both through ``L = chol(K + s^2 I)``:
    ``V = L^{-1} K_q^T``, ``mean = V^T L^{-1} y``, ``cov = K_qq - V^T V``
    (Rasmussen & Williams 2006, Algorithm 2.1). The variance is of the latent ``f``;
    add ``noise_var`` for a new observation.

    Parameters
    ----------
    X : array of shape (..., n, p)
    y : array of shape (..., n)
    kernel : callable
    noise_var : float, >= 0
    Xq : array of shape (..., m, p)
    full_cov : bool
        Return the (..., m, m) covariance instead of the (..., m) variances.

    Returns
    -------
    GPPosterior(mean, var)

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> post = gp_posterior(np.array([[1.0]]), np.array([1.0]), LinearKernel(), 1.0, np.array([[1.0]]))
    >>> float(post.mean[0]), float(post.var[0])
    (0.5, 0.5)
    """
    fn = "gp_posterior"
    xp, L, z = _posterior_parts(X, y, kernel, noise_var, fn)
    check_queries(Xq, X, fn)
    V = solve_triangular(xp, L, xp.matrix_transpose(kernel(Xq, X)), lower=True)  # (..., n, m)
    mean = xp.matmul(xp.matrix_transpose(V), z)[..., 0]
    if full_cov:
        return GPPosterior(mean, kernel(Xq, Xq) - xp.matmul(xp.matrix_transpose(V), V))
    diag = kernel.diag(Xq) if hasattr(kernel, "diag") else xp.linalg.diagonal(kernel(Xq, Xq))
    return GPPosterior(mean, diag - xp.sum(V * V, axis=-2))


def gp_log_marginal_likelihood(X: Any, y: Any, kernel: Any, noise_var: float) -> Any:
    """Log evidence ``log N(y; 0, K + s^2 I) = -y^T A^{-1} y / 2 - sum_i log L_ii - (n / 2) log(2 pi)``.

    ``A = K + s^2 I = L L^T`` (Rasmussen & Williams 2006, eq. 2.30 and Algorithm 2.1).

    Parameters
    ----------
    X : array of shape (..., n, p)
    y : array of shape (..., n)
    kernel : callable
    noise_var : float, >= 0

    Returns
    -------
    array of shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> lml = gp_log_marginal_likelihood(np.array([[1.0]]), np.array([0.0]), LinearKernel(), 1.0)
    >>> bool(np.isclose(lml, -0.5 * np.log(2 * np.pi * 2.0)))
    True
    """
    fn = "gp_log_marginal_likelihood"
    xp, L, z = _posterior_parts(X, y, kernel, noise_var, fn)
    n = X.shape[-2]
    logdet_half = xp.sum(xp.log(xp.linalg.diagonal(L)), axis=-1)
    return -0.5 * xp.sum(z[..., 0] * z[..., 0], axis=-1) - logdet_half - 0.5 * n * math.log(2 * math.pi)
