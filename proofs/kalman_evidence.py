"""Lemma 11: the Kalman (recursive) log evidence equals the batch Gaussian log evidence.

Statement. With prior ``w ~ N(mu, S)`` and ``y_i = x_i^T w + noise``, noise variance sigma^2, run
the Kalman filter ``m_0 = mu, S_0 = S`` and for i = 1..n

    s_i = x_i^T S_{i-1} x_i + sigma^2,  yhat_i = x_i^T m_{i-1},  g = S_{i-1} x_i / s_i,
    m_i = m_{i-1} + g (y_i - yhat_i),   S_i = S_{i-1} - g x_i^T S_{i-1}.

Then ``sum_i log N(y_i; yhat_i, s_i) = log N(y; X mu, X S X^T + sigma^2 I)``: the product of the
one-step predictive densities is the joint (batch) evidence, for every prefix.

Proof. Both sides are Gaussian log densities in y, so it suffices that the quadratic forms
agree, ``sum_i (y_i - yhat_i)^2 / s_i = (y - X mu)^T C^{-1} (y - X mu)`` with ``C = X S X^T + sigma^2 I``,
and that the normalisers agree, ``prod_i s_i = det C`` (the (2 pi)^{-n/2} factors are equal).
The symbolic check unrolls the filter with a general symmetric S, general mu, X and y for
explicit sizes (d, n) = (1, 3) and (2, 2) and cancels both differences to 0 (every prefix of
a passing run is itself a smaller passing case). (d, n) = (2, 3) also passes but takes
minutes of sympy time. The check is a function of the predictive variance, so a filter
that forgets the noise (``s_i = x_i^T S_{i-1} x_i``) fails.

Source. Kalman 1960 (all prefixes by a Kalman filter, here with a static state); Rasmussen &
Williams 2006, eq. 2.30 (batch evidence); Panwar et al. 2024 and Zhang et al. 2023 use the prefix evidences
as BMA weights.

Numeric cross-check: ``estimators.bayes.GaussianPrior.posterior(...).log_evidence`` (the
Kalman recursion of the Bayes engine) on every prefix against
``scipy.stats.multivariate_normal.logpdf`` (batch), and for ``N(0, tau^2 I)`` against
``estimators.gp_log_marginal_likelihood`` with the linear kernel on ``tau X`` (a batch Cholesky).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix, symmetric_matrix

__all__ = ["LEMMA", "check", "kalman_matches_batch", "numeric"]

sigma = sp.Symbol("sigma", positive=True)
DIMENSIONS = ((1, 3), (2, 2))  # (d, n)


def kalman_matches_batch(predictive_variance=lambda xSx: xSx + sigma**2, dimensions=DIMENSIONS) -> bool:
    """True iff the filter's summed log predictive densities equal the batch log evidence.

    ``predictive_variance(x^T S x)`` is the filter's ``s_i`` (correct: ``x^T S x + sigma^2``).

    Examples
    --------
    >>> kalman_matches_batch(dimensions=((1, 2),))
    True
    >>> kalman_matches_batch(lambda xSx: xSx, dimensions=((1, 2),))
    False
    """
    for d, n in dimensions:
        S0, mu = symmetric_matrix("s", d), symbol_matrix("mu", d, 1)
        X, y = symbol_matrix("x", n, d), symbol_matrix("y", n, 1)
        m, S = mu, S0
        quadratic, det_product = sp.Integer(0), sp.Integer(1)
        for i in range(n):
            xi = X[i, :].T
            s = sp.cancel(predictive_variance((xi.T * S * xi)[0, 0]))
            yhat = (xi.T * m)[0, 0]
            quadratic += (y[i, 0] - yhat) ** 2 / s
            det_product *= s
            g = S * xi / s
            m = (m + g * (y[i, 0] - yhat)).applyfunc(sp.cancel)
            S = (S - g * xi.T * S).applyfunc(sp.cancel)
        C = X * S0 * X.T + sigma**2 * sp.eye(n)
        r = y - X * mu
        batch_quadratic = (r.T * C.adjugate() * r)[0, 0] / C.det()
        if not (is_zero(quadratic - batch_quadratic) and is_zero(det_product - C.det())):
            return False
    return True


def numeric(seed: int = 11) -> float:
    """Max |Kalman log evidence - batch log evidence| over every prefix of random prompts."""
    from scipy.stats import multivariate_normal

    from estimators import LinearKernel, gp_log_marginal_likelihood
    from estimators.bayes import GaussianPrior

    rng = np.random.default_rng(seed)
    d, n, noise = 3, 7, 0.4
    A = rng.standard_normal((d, d))
    mean, cov = rng.standard_normal(d), A @ A.T / d + 0.2 * np.eye(d)
    X = rng.standard_normal((n, d))
    y = X @ rng.multivariate_normal(mean, cov) + np.sqrt(noise) * rng.standard_normal(n)
    prior, iso, tau = GaussianPrior(mean, cov), GaussianPrior.isotropic(d, 1.5**2), 1.5
    worst = 0.0
    for k in range(1, n + 1):
        Xk, yk = X[:k], y[:k]
        kalman = float(np.asarray(prior.posterior(Xk, yk, noise=noise).log_evidence))
        batch = multivariate_normal(Xk @ mean, Xk @ cov @ Xk.T + noise * np.eye(k)).logpdf(yk)
        kalman_iso = float(np.asarray(iso.posterior(Xk, yk, noise=noise).log_evidence))
        gp = float(np.asarray(gp_log_marginal_likelihood(tau * Xk, yk, LinearKernel(), noise)))
        worst = max(worst, abs(kalman - batch), abs(kalman_iso - gp))
    return worst


LEMMA = Lemma(
    name="Kalman evidence = batch evidence",
    statement="sum_i log N(y_i; x_i^T m_{i-1}, x_i^T S_{i-1} x_i + sigma^2) = log N(y; X mu, X S X^T + sigma^2 I)",
    source="Kalman 1960; Rasmussen & Williams 2006, eq. 2.30",
    symbolic=kalman_matches_batch,
    numeric=numeric,
    tolerance=1e-10,
    backed_by="estimators.bayes.GaussianPrior.posterior().log_evidence vs scipy and estimators.gp_log_marginal_likelihood",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
