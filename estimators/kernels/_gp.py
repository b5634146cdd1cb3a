"""Gaussian-process regression: the posterior of the latent function, the log marginal likelihood,
and the posterior predictive of every prefix of a prompt.

With kernel ``k`` and noise variance ``noise_var`` (Rasmussen & Williams 2006, algorithm 2.1):
``L = chol(K + noise_var I)``, ``mean = K_q^T (K + noise_var I)^{-1} y`` and
``var = k(x_q, x_q) - ||L^{-1} k_q||^2``; kernel ridge with ``lam = noise_var`` has the same mean.
The all-prefix predictive (``gp_log_predictive_prefixes``, ``gp_predictive_moments_prefixes``)
follows the seam of ``docs/design.md`` with one Cholesky factor for all prefixes, taken in float64
and rounded once to the input's dtype.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..validation import _is_traced, check_fit_data, check_nonnegative, check_prompt, check_queries
from ..validation import solve_triangular, to_numpy
from ._ridge import _add_diag, _cholesky, _eps, _gram, _try_cholesky

__all__ = ["GPPosterior", "gp_posterior", "gp_log_marginal_likelihood", "gp_log_predictive_prefixes",
           "gp_predictive_moments_prefixes"]


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


# All prefixes: the sequential conditionals of y ~ N(0, K + s^2 I) from its Cholesky factor.


def _in_input_dtype(xp, out, like):
    """``out`` (computed in float64) rounded once to the dtype of ``like``.

    The all-prefix predictive factors ``K + s^2 I`` in float64 whatever the input's dtype: with a
    linear kernel on Gaussian prompts (n = 41, d = 20) and ``s^2 = 1e-4`` its condition number is
    ~1e6, where a float32 factor warns and loses every digit of the smallest predictive variances.
    (jax without x64 stays in float32: its ``astype`` cannot widen.)
    """
    return xp.astype(out, like.dtype)


def _prefix_factor(xs, ys, kernel, noise_var, fn, *, density):
    """``L = chol(K + s^2 I)`` and ``z = L^{-1} y`` (..., n) for a prompt, both in float64.

    With ``density`` and ``noise_var = 0`` a point-mass predictive (a pivot ``L_kk^2`` at the
    rounding level of the factorisation, or a factorisation that fails) raises ``ValueError``.
    """
    xp = check_prompt(xs, ys, fn)
    noise_var = check_nonnegative(noise_var, "noise_var", fn)
    xs, ys = xp.astype(xs, xp.float64), xp.astype(ys, xp.float64)  # see _in_input_dtype
    A = _add_diag(xp, _gram(xp, kernel, xs, fn), noise_var)
    if density and noise_var == 0 and not _is_traced(A):
        L, ok = _try_cholesky(xp, A)
        n = A.shape[-1]
        top = to_numpy(xp.max(xp.linalg.diagonal(A), axis=-1)) if ok else None
        tol = None if top is None else 100 * n * _eps(A.dtype) * top[..., None]
        if not ok or bool((to_numpy(xp.linalg.diagonal(L)) ** 2 <= tol).any()):
            raise ValueError(
                f"{fn}: with noise_var = 0 the kernel matrix K = kernel(xs, xs) is singular (or indefinite) for "
                "some prompt: an earlier prefix determines some y_k exactly (a repeated input, or more points than "
                "the kernel's rank), so its predictive is a point mass with no log density; pass noise_var > 0"
            )
    else:
        L = _cholesky(xp, A, fn, what="K + noise_var I")
    return xp, L, solve_triangular(xp, L, ys[..., None], lower=True)[..., 0]


def gp_log_predictive_prefixes(xs: Any, ys: Any, kernel: Any, noise_var: float) -> Any:
    """GP posterior predictive log density of y_k given x_k and the first k points, for every k.

    ``out[..., k] = log N(y_k; mean_k, var_k + s^2)`` with ``mean_k``, ``var_k`` the posterior of
    ``f(x_k)`` given ``(x_i, y_i)_{i<k}`` under ``f ~ GP(0, k)`` and noise variance ``s^2 =
    noise_var`` (Rasmussen & Williams 2006, eqs. 2.23-2.24). One Cholesky factor serves every
    prefix: with ``K + s^2 I = L L^T`` and ``z = L^{-1} y``, ``y = L z`` gives
    ``y_k | y_{<k} ~ N(sum_{i<k} L_ki z_i, L_kk^2)``, so::

        out[..., k] = -log(2 pi) / 2 - log L_kk - z_k^2 / 2

    and ``sum_k out[..., k]`` is the log marginal likelihood (:func:`gp_log_marginal_likelihood`).
    Cost: one O(n^3) factorisation for all n prefixes.

    Parameters
    ----------
    xs : array of shape (..., n, p)
    ys : array of shape (..., n)
    kernel : callable
        ``kernel(X, Y) -> (..., n, m)``, e.g. :class:`GaussianKernel`.
    noise_var : float, >= 0

    Returns
    -------
    array of shape (..., n), in the input's library, dtype and device.

    Raises
    ------
    ValueError
        If ``noise_var < 0`` or the shapes disagree; if ``noise_var = 0`` and the predictive of
        some y_k is a point mass: K singular (a repeated input, or more points than the kernel's
        rank, e.g. a linear kernel on p features after p points), detected as a failed
        factorisation or a pivot ``L_kk^2 <= 100 n eps max_i K_ii`` (the rounding level).

    References
    ----------
    Rasmussen & Williams 2006, section 2.2 (predictive distribution) and Algorithm 2.1;
    Müller et al. 2022, "Transformers Can Do Bayesian Inference", section 5 (the GP posterior
    predictive as the reference a prior-fitted network is compared with, in nats).

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> xs = np.array([[1.0], [1.0]]); ys = np.array([0.0, 0.0])
    >>> lp = gp_log_predictive_prefixes(xs, ys, LinearKernel(), noise_var=1.0)  # N(0, 2), then N(0, 1.5)
    >>> bool(np.allclose(lp, -0.5 * np.log(2 * np.pi * np.array([2.0, 1.5]))))
    True
    """
    fn = "gp_log_predictive_prefixes"
    xp, L, z = _prefix_factor(xs, ys, kernel, noise_var, fn, density=True)
    return _in_input_dtype(xp, -0.5 * math.log(2 * math.pi) - xp.log(xp.linalg.diagonal(L)) - 0.5 * z * z, xs)


def gp_predictive_moments_prefixes(xs: Any, ys: Any, kernel: Any, noise_var: float) -> tuple:
    """Mean and variance of the GP posterior predictive of y_k given the first k points, for every k.

    ``mean[..., k] = sum_{i<k} L_ki z_i`` (kernel ridge with ``lam = noise_var``,
    :func:`kernel_ridge_prefixes`) and ``var[..., k] = L_kk^2 = k(x_k, x_k) + s^2 -
    k_k^T (K_{<k} + s^2 I)^{-1} k_k``, from ``K + s^2 I = L L^T`` and ``z = L^{-1} y``
    (notation of :func:`gp_log_predictive_prefixes`). With ``noise_var = 0`` and a singular K
    the factorisation warns and adds a small diagonal jitter, as kernel ridge does.

    Parameters
    ----------
    xs : array of shape (..., n, p)
    ys : array of shape (..., n)
    kernel : callable
    noise_var : float, >= 0

    Returns
    -------
    mean, var : arrays of shape (..., n)

    References
    ----------
    Rasmussen & Williams 2006, section 2.2.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> mean, var = gp_predictive_moments_prefixes(np.ones((2, 1)), np.array([2.0, 0.0]), LinearKernel(), 1.0)
    >>> mean, var
    (array([0., 1.]), array([2. , 1.5]))
    """
    xp, L, z = _prefix_factor(xs, ys, kernel, noise_var, "gp_predictive_moments_prefixes", density=False)
    d = xp.linalg.diagonal(L)
    mean = xp.matmul(xp.tril(L, k=-1), z[..., None])[..., 0]
    return _in_input_dtype(xp, mean, xs), _in_input_dtype(xp, d * d, xs)
