"""Lemma 2: the push-through identity -- primal ridge equals dual (kernel) ridge.

Statement. For any X (k x d) and lam > 0,

    (X^T X + lam I_d)^{-1} X^T y = X^T (X X^T + lam I_k)^{-1} y,

so the ridge prediction at a query x is ``x^T w = k(x, X) (K + lam I)^{-1} y`` with the
linear kernel ``k(x, x') = x^T x'`` and ``K = X X^T``: ridge *is* kernel ridge with the linear
kernel, with the same lam.

Proof. ``X^T (X X^T + lam I_k) = X^T X X^T + lam X^T = (X^T X + lam I_d) X^T``; both brackets are
positive definite for lam > 0, so multiplying by their inverses on the left and on the right
gives the identity. The symbolic check proves the first equation for **general k and d** with
sympy ``MatrixSymbol`` (it expands to ``ZeroMatrix``), and additionally verifies the inverted
form and the kernel-ridge prediction entrywise for explicit dimensions (d, k) = (3, 2) and
(2, 3). The check is a function of the dual penalty, so a wrong dual penalty (``2 lam``) fails.

Source. Saunders, Gammerman & Vovk 1998 (ridge in dual variables); Akyurek et al. 2023 use both
forms of ridge; Rasmussen & Williams 2006, sections 2.1-2.2 (weight-space and function-space views).

Numeric cross-check: ``estimators.linear.ridge`` predictions against
``estimators.kernel_ridge_fit`` / ``kernel_ridge_predict`` with ``LinearKernel``.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, symbol_matrix

__all__ = ["LEMMA", "check", "primal_equals_dual", "numeric"]

lam = sp.Symbol("lam", positive=True)
DIMENSIONS = ((3, 2), (2, 3))  # (d, k) for the entrywise check of the inverted form


def _inverse_times(M: sp.Matrix, B: sp.Matrix) -> sp.Matrix:
    """``M^{-1} B`` as ``adj(M) B / det(M)`` (exact; fast to cancel for small M)."""
    return M.adjugate() * B / M.det()


def primal_equals_dual(dual_lam=lam, dimensions=DIMENSIONS) -> bool:
    """True iff primal ridge with penalty ``lam`` equals the dual form with penalty ``dual_lam``.

    Examples
    --------
    >>> primal_equals_dual(lam, dimensions=((2, 1),))
    True
    >>> primal_equals_dual(2 * lam, dimensions=((2, 1),))
    False
    """
    k, d = sp.symbols("k d", integer=True, positive=True)
    X = sp.MatrixSymbol("X", k, d)
    general = X.T * (X * X.T + dual_lam * sp.Identity(k)) - (X.T * X + lam * sp.Identity(d)) * X.T
    if not is_zero(general):
        return False
    for d_, k_ in dimensions:
        Xe = symbol_matrix("x", k_, d_)
        y = symbol_matrix("y", k_, 1)
        q = symbol_matrix("q", d_, 1)  # a query point
        primal = _inverse_times(Xe.T * Xe + lam * sp.eye(d_), Xe.T * y)
        alpha = _inverse_times(Xe * Xe.T + dual_lam * sp.eye(k_), y)  # kernel ridge dual weights
        if not is_zero(primal - Xe.T * alpha):
            return False
        kernel_row = q.T * Xe.T  # k(q, X) for the linear kernel
        if not is_zero(q.T * primal - kernel_row * alpha):
            return False
    return True


def numeric(seed: int = 1) -> float:
    """Max |x_q^T ridge(X, y, lam) - kernel ridge (linear kernel) prediction| on random problems.

    ``ridge`` solves the primal system when k >= d, so these problems (k >= d) compare the
    primal solve with the dual (kernel) solve, which is what the lemma equates.
    """
    from estimators import LinearKernel, kernel_ridge_fit, kernel_ridge_predict, ridge

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, k, penalty in [(4, 7, 0.1), (3, 9, 1.0), (8, 8, 2.5)]:
        X = rng.standard_normal((k, d))
        y = rng.standard_normal(k)
        Xq = rng.standard_normal((4, d))
        primal = Xq @ np.asarray(ridge(X, y, lam=penalty))
        dual = kernel_ridge_predict(kernel_ridge_fit(X, y, LinearKernel(), lam=penalty), Xq)
        worst = max(worst, float(np.max(np.abs(primal - np.asarray(dual)))))
    return worst


LEMMA = Lemma(
    name="push-through: primal = dual ridge",
    statement="(X^T X + lam I)^{-1} X^T y = X^T (X X^T + lam I)^{-1} y  (ridge = linear-kernel ridge)",
    source="Saunders et al. 1998",
    symbolic=primal_equals_dual,
    numeric=numeric,
    tolerance=1e-10,
    backed_by="estimators.linear.ridge vs estimators.kernels.kernel_ridge_fit/predict(LinearKernel)",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
