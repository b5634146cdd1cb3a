"""Lemma 1: ridge regression is the posterior mean of a Gaussian prior, with lam = sigma^2 / tau^2.

Statement. With prior ``w ~ N(0, tau^2 I_d)`` and likelihood ``y | X, w ~ N(X w, sigma^2 I_k)``,
the posterior is ``N(m, A^{-1})`` with ``A = X^T X / sigma^2 + I / tau^2`` and

    m = (X^T X + lam I)^{-1} X^T y,   lam = sigma^2 / tau^2,

i.e. the ridge solution. Proof: the log posterior is, up to a w-free constant,
``L(w) = -||y - X w||^2 / (2 sigma^2) - ||w||^2 / (2 tau^2)``; it equals
``-(w - m)^T A (w - m) / 2`` up to a w-free constant iff the gradient of their difference,
``X^T y / sigma^2 - A m``, vanishes identically. The symbolic check differentiates that
difference (a) for **general d and k** with sympy ``MatrixSymbol`` X, y, w: with ``M`` standing for
``X^T X + lam I`` (so ``m = M^{-1} X^T y``), ``X^T X`` is rewritten as ``M - lam I``, each ``M M^{-1}``
is replaced by I, and the gradient must expand to ``ZeroMatrix`` (for a wrong lam it leaves
``(lam - sigma^2/tau^2) / sigma^2 M^{-1} X^T y``); and (b) entrywise for explicit dimensions
(d, k) = (2, 3) and (3, 2) (all entries of X, y free real symbols; sigma, tau positive),
reducing every gradient entry to zero with ``cancel``.
It is a function of the claimed penalty, so ``lam = sigma / tau`` is shown *not* to hold.

Source. Akyurek et al. 2023, "What learning algorithm is in-context learning?", section 2
(ridge as the Bayes predictor).

Numeric cross-check: ``estimators.linear.ridge`` with ``lam = sigma^2 / tau^2`` against the
Gaussian posterior mean of ``estimators.bayes.GaussianPrior`` (covariance form
``S X^T (X S X^T + sigma^2 I)^{-1} y``), on random data.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, replace_scalar_form, symbol_matrix

__all__ = ["LEMMA", "check", "posterior_mean_is_ridge_general_d", "posterior_mean_is_ridge", "numeric"]

sigma, tau = sp.symbols("sigma tau", positive=True)
CORRECT_LAM = sigma**2 / tau**2
DIMENSIONS = ((2, 3), (3, 2))  # (d, k): more points than dimensions, and fewer


def posterior_mean_is_ridge_general_d(lam) -> bool:
    """For any k and d: the log posterior minus ``-(w - m)^T A (w - m) / 2`` has zero gradient in w.

    Examples
    --------
    >>> posterior_mean_is_ridge_general_d(sigma**2 / tau**2)
    True
    >>> posterior_mean_is_ridge_general_d(sigma / tau)
    False
    """
    k, d = sp.symbols("k d", integer=True, positive=True)
    X, y, w = sp.MatrixSymbol("X", k, d), sp.MatrixSymbol("y", k, 1), sp.MatrixSymbol("w", d, 1)
    M, M_inv = sp.MatrixSymbol("M", d, d), sp.MatrixSymbol("M^{-1}", d, d)  # M = X^T X + lam I
    m = M_inv * X.T * y  # ridge with the claimed penalty
    A = X.T * X / sigma**2 + sp.Identity(d) / tau**2  # posterior precision
    r = y - X * w
    difference = -(r.T * r) / (2 * sigma**2) - (w.T * w) / (2 * tau**2) + (w - m).T * A * (w - m) / 2
    gradient = sp.expand(difference.diff(w)).subs(X.T * X, M - lam * sp.Identity(d))
    return is_zero(replace_scalar_form(gradient, (M, M_inv), 1))


def posterior_mean_is_ridge(lam, dimensions=DIMENSIONS) -> bool:
    """True iff the Gaussian posterior is centred at ridge with penalty ``lam`` (a sympy expression).

    Examples
    --------
    >>> posterior_mean_is_ridge(sigma**2 / tau**2, dimensions=((1, 2),))
    True
    >>> posterior_mean_is_ridge(sigma / tau, dimensions=((1, 2),))
    False
    """
    for d, k in dimensions:
        X = symbol_matrix("x", k, d)
        y = symbol_matrix("y", k, 1)
        w = symbol_matrix("w", d, 1)
        M = X.T * X + lam * sp.eye(d)
        m = M.adjugate() * (X.T * y) / M.det()  # ridge with the claimed penalty (M^{-1} = adj M / det M)
        A = X.T * X / sigma**2 + sp.eye(d) / tau**2  # posterior precision
        r = y - X * w
        log_post = -(r.T * r)[0, 0] / (2 * sigma**2) - (w.T * w)[0, 0] / (2 * tau**2)
        completed = -((w - m).T * A * (w - m))[0, 0] / 2
        gradient = sp.Matrix([sp.diff(log_post - completed, wi) for wi in w])
        if not is_zero(gradient):
            return False
    return True


def numeric(seed: int = 0, penalty=lambda s, t: s**2 / t**2) -> float:
    """Max |ridge(lam = penalty(sigma, tau)) - Gaussian posterior mean| over a few random problems.

    ``penalty`` is the claimed relation (correct: ``sigma^2 / tau^2``); a wrong one gives a large error.
    """
    from estimators.bayes import GaussianPrior
    from estimators import ridge

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, k, s, t in [(3, 5, 0.5, 1.0), (6, 4, 0.3, 2.0), (4, 12, 1.5, 0.7)]:
        X = rng.standard_normal((k, d))
        y = rng.standard_normal(k)
        w_ridge = ridge(X, y, lam=penalty(s, t))
        prior = GaussianPrior(np.zeros(d), t**2 * np.eye(d))
        m = prior.posterior(X, y, noise=s**2).mean  # noise is the variance sigma^2
        worst = max(worst, float(np.max(np.abs(np.asarray(w_ridge) - np.asarray(m)))))
    return worst


LEMMA = Lemma(
    name="ridge = Gaussian posterior mean",
    statement="w ~ N(0, tau^2 I), y ~ N(Xw, sigma^2 I)  =>  E[w | X, y] = (X^T X + lam I)^{-1} X^T y, lam = sigma^2/tau^2",
    source="Akyurek et al. 2023, sec. 2",
    symbolic=lambda: posterior_mean_is_ridge_general_d(CORRECT_LAM) and posterior_mean_is_ridge(CORRECT_LAM),
    numeric=numeric,
    tolerance=1e-10,
    backed_by="estimators.linear.ridge vs estimators.bayes.GaussianPrior.posterior",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
