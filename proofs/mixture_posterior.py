"""Lemma 7: the posterior of a Gaussian-mixture prior is a mixture with weights prior weight x evidence (BMA).

Statement. With prior ``w ~ sum_c pi_c N(mu_c, S_c)`` and ``y | X, w ~ N(X w, sigma^2 I)``,

    p(w | X, y) = sum_c beta_c N(w; m_c, V_c),   beta_c = pi_c Z_c / sum_j pi_j Z_j,
    Z_c = N(y; X mu_c, C_c),  C_c = X S_c X^T + sigma^2 I,
    m_c = mu_c + S_c X^T C_c^{-1} (y - X mu_c),   V_c = S_c - S_c X^T C_c^{-1} X S_c,

so the posterior mean is ``sum_c beta_c m_c``: Bayesian model averaging over the components.

Proof. (a) Per component, the Gaussian product identity
``N(w; mu, S) N(y; X w, sigma^2 I) = N(y; X mu, C) N(w; m, V)`` for all w and y: both sides
carry ``(2 pi)^{-(d+k)/2}``; the quadratic forms in the exponents agree
(``(w-mu)^T S^{-1} (w-mu) + ||y - X w||^2 / sigma^2 = (y - X mu)^T C^{-1} (y - X mu) + (w-m)^T V^{-1} (w-m)``)
and so do the determinants (``det S sigma^{2k} = det C det V``). Checked with ``cancel`` for
explicit dimensions (d, k) = (1, 2) and (2, 1) with a general symmetric S, general mu, X, y, w
(the (2, 2) case also passes but takes about half a minute of sympy time).
(b) Mixture step: writing ``f_c(w) L(w) = Z_c g_c(w)`` (prior density x likelihood = evidence
x posterior density, from (a)) for three components with positive symbols, the posterior
``sum_c pi_c f_c L / sum_c pi_c Z_c`` (its normaliser is ``sum_c pi_c Z_c`` because each g_c
integrates to 1) equals ``sum_c beta_c g_c``. The check is a function of the claimed weights,
so weights proportional to the prior alone fail.

Source. Panwar et al. 2024, section 4 (Gaussian-mixture tasks);
Zhang et al. 2023 (in-context learning as BMA).

Numeric cross-check: ``estimators.bayes.MixturePrior.posterior`` weights and mean against
(i) the closed form above in numpy/scipy (d = 3, three components) and (ii) the posterior
mean by numerical integration (``scipy.integrate.quad``) in d = 1.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix, symmetric_matrix

__all__ = ["LEMMA", "check", "gaussian_product_holds", "mixture_weights_are", "numeric"]

sigma = sp.Symbol("sigma", positive=True)
DIMENSIONS = ((1, 2), (2, 1))  # (d, k)


def gaussian_product_holds(dimensions=DIMENSIONS) -> bool:
    """N(w; mu, S) N(y; Xw, sigma^2 I) = N(y; X mu, C) N(w; m, V): quadratic forms and determinants.

    Examples
    --------
    >>> gaussian_product_holds(((1, 1),))
    True
    """
    for d, k in dimensions:
        S, mu = symmetric_matrix("s", d), symbol_matrix("mu", d, 1)
        X, y, w = symbol_matrix("x", k, d), symbol_matrix("y", k, 1), symbol_matrix("w", d, 1)
        C = X * S * X.T + sigma**2 * sp.eye(k)
        C_inv = C.adjugate() / C.det()
        m = mu + S * X.T * C_inv * (y - X * mu)
        V = S - S * X.T * C_inv * X * S
        r = y - X * w
        lhs = ((w - mu).T * (S.adjugate() / S.det()) * (w - mu))[0, 0] + (r.T * r)[0, 0] / sigma**2
        rhs = ((y - X * mu).T * C_inv * (y - X * mu))[0, 0] + ((w - m).T * V.inv() * (w - m))[0, 0]
        if not (is_zero(lhs - rhs) and is_zero(S.det() * sigma ** (2 * k) - C.det() * V.det())):
            return False
    return True


def mixture_weights_are(weights=lambda pi, Z: [p * z for p, z in zip(pi, Z)], n_components: int = 3) -> bool:
    """True iff the mixture posterior equals ``sum_c beta_c g_c`` with ``beta ∝ weights(pi, Z)``.

    Examples
    --------
    >>> mixture_weights_are()
    True
    >>> mixture_weights_are(lambda pi, Z: list(pi))
    False
    """
    pi = sp.symbols(f"pi0:{n_components}", positive=True)
    Z = sp.symbols(f"Z0:{n_components}", positive=True)  # evidences N(y; X mu_c, C_c)
    g = sp.symbols(f"g0:{n_components}", positive=True)  # component posterior densities at w
    # prior density x likelihood of component c at w is Z_c g_c (lemma part a)
    posterior = sum(p * z * gc for p, z, gc in zip(pi, Z, g)) / sum(p * z for p, z in zip(pi, Z))
    unnormalised = weights(pi, Z)
    claimed = sum(b * gc for b, gc in zip(unnormalised, g)) / sum(unnormalised)
    return is_zero(posterior - claimed)


def _closed_form(X, y, noise, pis, means, covs):
    from scipy.stats import multivariate_normal

    log_z, comp_means = [], []
    for mu, S in zip(means, covs):
        C = X @ S @ X.T + noise * np.eye(len(y))
        log_z.append(multivariate_normal(X @ mu, C).logpdf(y))
        comp_means.append(mu + S @ X.T @ np.linalg.solve(C, y - X @ mu))
    log_beta = np.log(pis) + np.array(log_z)
    beta = np.exp(log_beta - np.max(log_beta))
    beta /= beta.sum()
    return beta, beta @ np.array(comp_means)


def _quadrature_mean(x, y, noise, pis, means, variances):
    """Posterior mean of scalar w by numerical integration of prior x likelihood (d = 1)."""
    from scipy.integrate import quad
    from scipy.stats import norm

    def density(w):
        prior = sum(p * norm.pdf(w, m, np.sqrt(v)) for p, m, v in zip(pis, means, variances))
        return prior * np.prod(norm.pdf(y, x * w, np.sqrt(noise)))

    points = list(means) + [float(x @ y / (x @ x))]
    lo, hi = min(points) - 10, max(points) + 10
    mass = quad(density, lo, hi, points=points, epsabs=0, epsrel=1e-12, limit=200)[0]
    first = quad(lambda w: w * density(w), lo, hi, points=points, epsabs=0, epsrel=1e-12, limit=200)[0]
    return first / mass


def numeric(seed: int = 7) -> float:
    """Max error of MixturePrior.posterior (weights, mean) against the closed form and quadrature."""
    from estimators.bayes import GaussianPrior, MixturePrior

    rng = np.random.default_rng(seed)
    d, k, noise = 3, 4, 0.5
    pis = np.array([0.2, 0.5, 0.3])
    means = rng.standard_normal((3, d)) * 2
    covs = []
    for _ in range(3):
        A = rng.standard_normal((d, d))
        covs.append(A @ A.T / d + 0.1 * np.eye(d))
    prior = MixturePrior([GaussianPrior(m, S) for m, S in zip(means, covs)], pis)
    X = rng.standard_normal((k, d))
    y = X @ means[1] + np.sqrt(noise) * rng.standard_normal(k)
    post = prior.posterior(X, y, noise=noise)
    beta, mean = _closed_form(X, y, noise, pis, means, covs)
    worst = max(float(np.max(np.abs(np.asarray(post.weights) - beta))), float(np.max(np.abs(np.asarray(post.mean) - mean))))

    # d = 1: two components, compare with numerical integration
    pis1, means1, vars1 = np.array([0.6, 0.4]), np.array([-1.5, 2.0]), np.array([0.5, 1.2])
    x1 = rng.standard_normal(3)
    y1 = 2.0 * x1 + 0.3 * rng.standard_normal(3)
    prior1 = MixturePrior([GaussianPrior(np.array([m]), np.array([[v]])) for m, v in zip(means1, vars1)], pis1)
    post1 = prior1.posterior(x1[:, None], y1, noise=0.3)
    quad_mean = _quadrature_mean(x1, y1, 0.3, pis1, means1, vars1)
    return max(worst, abs(float(np.asarray(post1.mean)[0]) - quad_mean))


def _symbolic() -> bool:
    return gaussian_product_holds() and mixture_weights_are()


LEMMA = Lemma(
    name="mixture posterior = BMA",
    statement="w ~ sum_c pi_c N(mu_c, S_c)  =>  p(w | X, y) = sum_c beta_c N(m_c, V_c), beta_c ∝ pi_c N(y; X mu_c, X S_c X^T + sigma^2 I)",
    source="Panwar et al. 2024, sec. 4; Zhang et al. 2023",
    symbolic=_symbolic,
    numeric=numeric,
    tolerance=1e-8,
    backed_by="estimators.bayes.MixturePrior.posterior vs numpy closed form and scipy quadrature",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
