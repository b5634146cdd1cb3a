"""Lemma 12: the posterior predictive of a Gaussian-mixture prior is the evidence-weighted mixture of component predictives.

Statement. With prior ``w ~ sum_c pi_c N(mu_c, S_c)``, ``y_i | x_i, w ~ N(x_i^T w, sigma^2)``
independently, data ``D = (X, y)`` and a new input x,

    p(y* | x, D) = p(D, y*) / p(D) = sum_c pi_c(D) N(y*; m_c, s_c^2),
    pi_c(D) = pi_c Z_c(D) / sum_j pi_j Z_j(D),   Z_c(D) = N(y; X mu_c, X S_c X^T + sigma^2 I),
    m_c = x^T mu_c(D),   s_c^2 = x^T S_c(D) x + sigma^2,

with ``mu_c(D) = mu_c + S_c X^T C_c^{-1} (y - X mu_c)``, ``S_c(D) = S_c - S_c X^T C_c^{-1} X S_c``,
``C_c = X S_c X^T + sigma^2 I``; its mean is ``sum_c pi_c(D) m_c`` and its variance
``sum_c pi_c(D) (s_c^2 + m_c^2) - mean^2``.

Proof. (a) Per component, the evidence of the data extended by (x, y*) factorises as
``Z_c(D, y*) = Z_c(D) N(y*; m_c, s_c^2)``: both are Gaussian densities in (y, y*), so the
quadratic forms agree, ``r'^T C'^{-1} r' = r^T C^{-1} r + (y* - m)^2 / s^2`` (``r = y - X mu``,
``r'`` and ``C'`` the extended residual and covariance), and the determinants agree,
``det C' = det C s^2`` (a Schur complement). Checked with ``cancel`` for (d, k) = (1, 2) and
(2, 1), k the number of earlier points, with a general symmetric S and general mu, X, x, y, y*.
(b) Mixture step: the joint is ``p(D, y*) = sum_c pi_c Z_c(D, y*) = sum_c pi_c Z_c(D) g_c`` with
``g_c = N(y*; m_c, s_c^2)`` by (a), and ``p(D) = sum_c pi_c Z_c(D)``; for three components with
positive symbols ``p(D, y*) / p(D) - sum_c pi_c(D) g_c`` reduces to 0. The check is a function
of the claimed weights, so the prior weights alone (``pi_c(D) = pi_c``) fail.
(c) Moments: ``int y^k N(y; m, s^2) dy`` is 1, m and ``s^2 + m^2`` for k = 0, 1, 2 (sympy
integrates with s positive), so the mixture integrates to one with the stated mean and variance.

Source. Rasmussen & Williams 2006, section 2.2 (the Gaussian predictive); Panwar et al. 2024,
section 4 (Gaussian-mixture tasks, Bayesian model averaging); Müller et al. 2022 (the posterior
predictive as the target of a prior-fitted network).

Numeric cross-check: ``estimators.bayes.MixturePrior.log_predictive_prefixes`` (the chunked
Kalman engine, one component per chunk) on every prefix against ``log p(D, y*) - log p(D)``
from batch evidences (``scipy.stats.multivariate_normal``, logsumexp over components), and
``predictive_moments_prefixes`` against ``sum_c pi_c(D) (s_c^2 + m_c^2) - mean^2`` in closed form.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix, symmetric_matrix

__all__ = ["LEMMA", "check", "evidence_factorises", "predictive_weights_are", "moments_hold", "numeric"]

sigma = sp.Symbol("sigma", positive=True)
DIMENSIONS = ((1, 2), (2, 1))  # (d, k): dimension of w, number of earlier points


def evidence_factorises(dimensions=DIMENSIONS, extra_variance=sp.Integer(0)) -> bool:
    """Z(D, y*) = Z(D) N(y*; x^T mu(D), x^T S(D) x + sigma^2): quadratic forms and determinants.

    ``extra_variance`` is added to the claimed predictive variance (0 for the lemma).

    Examples
    --------
    >>> evidence_factorises(((1, 1),))
    True
    >>> evidence_factorises(((1, 1),), extra_variance=sigma**2)
    False
    """
    for d, k in dimensions:
        S, mu = symmetric_matrix("s", d), symbol_matrix("mu", d, 1)
        X, y = symbol_matrix("x", k, d), symbol_matrix("y", k, 1)
        x, y_new = symbol_matrix("xn", d, 1), sp.Symbol("ystar", real=True)
        C = X * S * X.T + sigma**2 * sp.eye(k)
        C_inv = C.adjugate() / C.det()
        m = (x.T * (mu + S * X.T * C_inv * (y - X * mu)))[0, 0]
        s2 = (x.T * (S - S * X.T * C_inv * X * S) * x)[0, 0] + sigma**2 + extra_variance
        X_ext, y_ext = X.col_join(x.T), y.col_join(sp.Matrix([[y_new]]))
        C_ext = X_ext * S * X_ext.T + sigma**2 * sp.eye(k + 1)
        r, r_ext = y - X * mu, y_ext - X_ext * mu
        lhs = (r_ext.T * (C_ext.adjugate() / C_ext.det()) * r_ext)[0, 0]
        rhs = (r.T * C_inv * r)[0, 0] + (y_new - m) ** 2 / s2
        if not (is_zero(lhs - rhs) and is_zero(C_ext.det() - C.det() * s2)):
            return False
    return True


def predictive_weights_are(weights=lambda pi, Z: [p * z for p, z in zip(pi, Z)], n_components: int = 3) -> bool:
    """True iff ``p(D, y*) / p(D) = sum_c beta_c g_c`` with ``beta ∝ weights(pi, Z)``.

    Examples
    --------
    >>> predictive_weights_are()
    True
    >>> predictive_weights_are(lambda pi, Z: list(pi))
    False
    """
    pi = sp.symbols(f"pi0:{n_components}", positive=True)
    Z = sp.symbols(f"Z0:{n_components}", positive=True)  # evidences Z_c(D)
    g = sp.symbols(f"g0:{n_components}", positive=True)  # component predictive densities N(y*; m_c, s_c^2)
    joint = sum(p * z * gc for p, z, gc in zip(pi, Z, g))  # p(D, y*), by part (a)
    marginal = sum(p * z for p, z in zip(pi, Z))  # p(D)
    unnormalised = weights(pi, Z)
    claimed = sum(b * gc for b, gc in zip(unnormalised, g)) / sum(unnormalised)
    return is_zero(joint / marginal - claimed)


def moments_hold(n_components: int = 2) -> bool:
    """The mixture ``sum_c beta_c N(m_c, s_c^2)`` integrates to 1, with mean ``sum_c beta_c m_c`` and
    variance ``sum_c beta_c (s_c^2 + m_c^2) - mean^2`` (sympy integration over y).

    Examples
    --------
    >>> moments_hold(1)
    True
    """
    y = sp.Symbol("y", real=True)
    m = sp.symbols(f"m0:{n_components}", real=True)
    s = sp.symbols(f"s0:{n_components}", positive=True)
    beta = [sp.Rational(1, n_components + 1)] * (n_components - 1)
    beta.append(1 - sum(beta))  # exact weights summing to one
    raw = [sp.integrate(y**j * sp.exp(-(y - m[0]) ** 2 / (2 * s[0] ** 2)) / sp.sqrt(2 * sp.pi * s[0] ** 2),
                        (y, -sp.oo, sp.oo)) for j in range(3)]
    one_component = [sp.Integer(1), m[0], s[0] ** 2 + m[0] ** 2]
    if not all(is_zero(a - b) for a, b in zip(raw, one_component)):
        return False
    moment = [sum(b * c.subs({m[0]: m[i], s[0]: s[i]}) for i, b in enumerate(beta)) for c in raw]
    mean = sum(b * mc for b, mc in zip(beta, m))
    variance = sum(b * (sc**2 + mc**2) for b, sc, mc in zip(beta, s, m)) - mean**2
    return is_zero(moment[0] - 1) and is_zero(moment[1] - mean) and is_zero(moment[2] - moment[1] ** 2 - variance)


def _batch_log_predictive(X, y, noise, pis, means, covs):
    """log p(y_k | D_k) = log p(D_{k+1}) - log p(D_k) and the closed-form moments, for every k."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    def log_joint(k):
        if k == 0:
            return 0.0
        return logsumexp([np.log(p) + multivariate_normal(X[:k] @ mu, X[:k] @ S @ X[:k].T + noise * np.eye(k)).logpdf(y[:k])
                          for p, mu, S in zip(pis, means, covs)])

    n = len(y)
    log_pred = np.array([log_joint(k + 1) - log_joint(k) for k in range(n)])
    mean, var = np.zeros(n), np.zeros(n)
    for k in range(n):
        logw, m, s2 = [], [], []
        for p, mu, S in zip(pis, means, covs):
            Xk, x = X[:k], X[k]
            C = Xk @ S @ Xk.T + noise * np.eye(k)
            A = np.linalg.solve(C, Xk @ S).T if k else np.zeros((len(mu), 0))
            ev = multivariate_normal(Xk @ mu, C).logpdf(y[:k]) if k else 0.0
            logw.append(np.log(p) + ev)
            m.append(x @ (mu + A @ (y[:k] - Xk @ mu)))
            s2.append(x @ (S - A @ Xk @ S) @ x + noise)
        beta = np.exp(np.array(logw) - logsumexp(logw))
        mean[k] = beta @ np.array(m)
        var[k] = beta @ (np.array(s2) + np.array(m) ** 2) - mean[k] ** 2
    return log_pred, mean, var


def numeric(seed: int = 12) -> float:
    """Max error of MixturePrior.log_predictive_prefixes / predictive_moments_prefixes against batch evidences."""
    from estimators.bayes import GaussianPrior, MixturePrior

    rng = np.random.default_rng(seed)
    d, n, noise = 2, 6, 0.4
    pis = np.array([0.25, 0.45, 0.3])
    means = 1.5 * rng.standard_normal((3, d))
    covs = []
    for _ in range(3):
        A = rng.standard_normal((d, d))
        covs.append(A @ A.T / d + 0.2 * np.eye(d))
    prior = MixturePrior([GaussianPrior(m, S) for m, S in zip(means, covs)], pis, chunk_size=1)
    X = rng.standard_normal((n, d))
    y = X @ means[2] + np.sqrt(noise) * rng.standard_normal(n)
    got_lp = np.asarray(prior.log_predictive_prefixes(X, y, noise))
    got_mean, got_var = (np.asarray(a) for a in prior.predictive_moments_prefixes(X, y, noise))
    want_lp, want_mean, want_var = _batch_log_predictive(X, y, noise, pis, means, covs)
    return float(max(np.max(np.abs(got_lp - want_lp)), np.max(np.abs(got_mean - want_mean)),
                     np.max(np.abs(got_var - want_var))))


def _symbolic() -> bool:
    return evidence_factorises() and predictive_weights_are() and moments_hold()


LEMMA = Lemma(
    name="mixture predictive = evidence-weighted mixture",
    statement="p(y* | x, D) = p(D, y*) / p(D) = sum_c pi_c(D) N(y*; x^T mu_c(D), x^T S_c(D) x + sigma^2), pi_c(D) ∝ pi_c Z_c(D)",
    source="Rasmussen & Williams 2006, sec. 2.2; Panwar et al. 2024, sec. 4",
    symbolic=_symbolic,
    numeric=numeric,
    tolerance=1e-9,
    backed_by="estimators.bayes.MixturePrior.log_predictive_prefixes / predictive_moments_prefixes vs scipy batch evidences",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
