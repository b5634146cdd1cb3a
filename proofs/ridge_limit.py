"""Lemma 4: ridge tends to the min-norm least-squares solution as lam -> 0 (and to 0 as lam -> infinity).

Statement. For X (k x d) of full rank and ``w(lam) = (X^T X + lam I)^{-1} X^T y``,

    lim_{lam -> 0+} w(lam) = X^+ y,    X^+ y = X^T (X X^T)^{-1} y  (k < d),  (X^T X)^{-1} X^T y  (k >= d),

and ``lim_{lam -> infinity} w(lam) = 0``. For k < d the matrix X^T X is singular, so the
limit is not a substitution; X^+ y is the minimum-norm interpolant (``X w = y`` and w lies in
the row space of X).

Proof (explicit dimensions (d, k) = (3, 2), the singular case, and (2, 3)). Each entry of
``w(lam) - X^+ y`` is put over one denominator with ``cancel``: its numerator vanishes at
lam = 0 and its denominator at lam = 0 equals a nonzero constant times ``det(G)^2`` with
``G = X X^T`` (k < d) or ``X^T X`` (k >= d), which is nonzero for full-rank X; so the limit is
0. For k < d the check also verifies ``X X^+ y = y`` (interpolation), and for both cases
``lim_{lam -> oo} w(lam) = 0`` with ``sympy.limit``. The check is a function of the claimed
limit, so a wrong one (averaging, ``X^T y / k``) fails.

Source. Garg et al. 2022, section 3 (least squares baseline) and Akyurek et al. 2023,
section 2 (ridge, lam -> 0 is OLS).

Numeric cross-check: ``estimators.linear.ridge`` with lam = 1e-10 against
``estimators.linear.ols`` (min-norm) for k < d, k = d and k > d.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix

__all__ = ["LEMMA", "check", "ridge_limit_is", "min_norm", "numeric"]

lam = sp.Symbol("lam", positive=True)
DIMENSIONS = ((3, 2), (2, 3))  # (d, k)


def min_norm(X: sp.Matrix, y: sp.Matrix) -> sp.Matrix:
    """X^+ y for full-rank X, written with adjugates (exact)."""
    k, d = X.shape
    if k < d:
        G = X * X.T
        return X.T * G.adjugate() * y / G.det()
    G = X.T * X
    return G.adjugate() * X.T * y / G.det()


def _gram_det(X: sp.Matrix) -> sp.Expr:
    k, d = X.shape
    return (X * X.T).det() if k < d else (X.T * X).det()


def ridge_limit_is(candidate=min_norm, dimensions=DIMENSIONS) -> bool:
    """True iff ``lim_{lam->0} ridge = candidate(X, y)`` and ``lim_{lam->oo} ridge = 0``.

    Examples
    --------
    >>> ridge_limit_is(dimensions=((2, 1),))
    True
    >>> ridge_limit_is(lambda X, y: X.T * y / X.shape[0], dimensions=((2, 1),))
    False
    """
    for d, k in dimensions:
        X = symbol_matrix("x", k, d)
        y = symbol_matrix("y", k, 1)
        M = X.T * X + lam * sp.eye(d)
        ridge = M.adjugate() * X.T * y / M.det()
        target = candidate(X, y)
        gram_det = _gram_det(X)
        for entry in ridge - target:
            numerator, denominator = sp.fraction(sp.cancel(sp.together(entry)))
            if sp.expand(numerator.subs(lam, 0)) != 0:
                return False
            ratio = sp.cancel(denominator.subs(lam, 0) / gram_det**2)
            if ratio.free_symbols or ratio == 0:  # the denominator must vanish only where det(G) does
                return False
        if k < d and not is_zero(X * target - y):
            return False
        if any(sp.limit(sp.cancel(entry), lam, sp.oo) != 0 for entry in ridge):
            return False
    return True


def numeric(seed: int = 3) -> float:
    """Max |ridge(lam = 1e-10) - ols| (min-norm) over under-, exactly- and over-determined problems."""
    from estimators import ols, ridge

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, k in [(6, 3), (5, 5), (3, 8)]:
        X = rng.standard_normal((k, d))
        y = rng.standard_normal(k)
        w_ridge = np.asarray(ridge(X, y, lam=1e-10))
        w_ols = np.asarray(ols(X, y))
        worst = max(worst, float(np.max(np.abs(w_ridge - w_ols))))
    return worst


LEMMA = Lemma(
    name="ridge -> min-norm OLS as lam -> 0",
    statement="lim_{lam->0} (X^T X + lam I)^{-1} X^T y = X^+ y (= X^T (X X^T)^{-1} y for k < d); lim_{lam->oo} = 0",
    source="Garg et al. 2022, sec. 3; Akyurek et al. 2023, sec. 2",
    symbolic=ridge_limit_is,
    numeric=numeric,
    tolerance=1e-7,
    backed_by="estimators.linear.ridge vs estimators.linear.ols",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
