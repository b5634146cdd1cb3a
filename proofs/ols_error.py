"""Lemma 5: noiseless min-norm OLS has expected squared error d - k after k < d examples.

Statement. Let ``w ~ N(0, I_d)``, ``y = X w`` (no noise) with X (k x d) of full rank, and a query
``x ~ N(0, I_d)`` independent of (X, w). Min-norm OLS gives ``w_hat = X^+ X w = P w`` with
``P = X^T (X X^T)^{-1} X`` (k < d) and ``P = I`` (k >= d), and

    E[(x^T w - x^T w_hat)^2 | X] = tr((I - P)^T (I - P)) = tr(I - P) = d - min(k, d),

the trace of the projection onto the orthogonal complement of the row space of X.

Proof. ``E_x[x x^T] = I`` and ``E_w[w^T M w] = tr(M)`` (second moments of standard Gaussians)
give the first equality. For **general k < d** (``d = k + j``, j >= 1) with sympy ``MatrixSymbol``
X, G (standing for ``X X^T``, symmetric) and G^{-1}: ``(I - P)^T (I - P)`` expands to ``I - P``
after ``X X^T -> G`` and ``G^{-1} G -> I``; its trace is ``d - tr(X^T G^{-1} X)``, and one cyclic
rotation of the trace, ``tr(X^T G^{-1} X) = tr(G^{-1} X X^T) = tr(I_k) = k``, gives ``d - k``.
The symbolic check also verifies, for explicit dimensions
(k, d) in {(1, 3), (2, 3), (2, 4), (3, 2)} with all entries of X free symbols, that
``P^2 = P``, ``P^T = P``, ``tr P = min(k, d)`` and ``tr((I - P)^T (I - P)) - (d - min(k, d))``
reduces to 0 (written as ``P = N / det(X X^T)`` with the adjugate, each identity times a power
of the determinant is a polynomial identity that ``expand`` reduces to 0). The check is a function of the claimed error formula, so ``d - k + 1`` fails.

Source. Garg et al. 2022, section 3 (least squares reaches zero error at k = d; with
x, w ~ N(0, I) and no noise its error is d - k for k < d).

Numeric cross-check: ``estimators.ols`` applied to the d targets ``y = X e_j`` recovers the
columns of P, so the exact conditional expectation ``||I - P||_F^2`` is computed from the
estimator itself and compared with d - min(k, d) for every k from 1 to d + 2.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, replace_scalar_form, symbol_matrix

__all__ = ["LEMMA", "check", "ols_error_general", "ols_error_is", "numeric"]

DIMENSIONS = ((1, 3), (2, 3), (2, 4), (3, 2))  # (k, d)


def _projection(X: sp.Matrix) -> tuple:
    """``P = N / D`` as a polynomial matrix N and polynomial D (exact, no fractions to cancel)."""
    k, d = X.shape
    if k >= d:  # X^+ X = I for full column rank
        return sp.eye(d), sp.Integer(1)
    G = X * X.T
    return X.T * G.adjugate() * X, G.det()


def _vanishes(expr) -> bool:
    """A polynomial (scalar or matrix) that expands to 0."""
    entries = expr if isinstance(expr, sp.MatrixBase) else [expr]
    return all(sp.expand(e) == 0 for e in entries)


def _rotate_trace(expr):
    """tr(A_1 A_2 ... A_n) -> tr(A_2 ... A_n A_1) for every trace of a product in ``expr`` (cyclicity)."""
    return expr.replace(
        lambda e: isinstance(e, sp.Trace) and isinstance(e.arg, sp.MatMul),
        lambda e: sp.Trace(sp.MatMul(*e.arg.args[1:], e.arg.args[0])),
    )


def ols_error_general(formula=lambda d, k: d - min(k, d)) -> bool:
    """For any k < d: tr((I - P)^T (I - P)) = formula(d, k) with P = X^T (X X^T)^{-1} X.

    Examples
    --------
    >>> ols_error_general()
    True
    >>> ols_error_general(lambda d, k: d - k + 1)
    False
    """
    k, j = sp.symbols("k j", integer=True, positive=True)
    d = k + j  # k < d
    X = sp.MatrixSymbol("X", k, d)
    G, G_inv = sp.MatrixSymbol("G", k, k), sp.MatrixSymbol("G^{-1}", k, k)  # G = X X^T (symmetric)
    P = X.T * G_inv * X
    residual = sp.Identity(d) - P
    gram = sp.expand(sp.expand(residual.T * residual).subs(G_inv.T, G_inv)).subs(X * X.T, G)
    gram = replace_scalar_form(gram, (G_inv, G), 1)
    if not is_zero(gram - residual):  # (I - P)^T (I - P) = I - P
        return False
    trace = _rotate_trace(sp.Trace(gram).doit()).subs(X * X.T, G)
    trace = trace.replace(lambda e: isinstance(e, sp.Trace), lambda e: sp.Trace(replace_scalar_form(e.arg, (G_inv, G), 1)))
    return sp.simplify(trace.doit() - formula(d, k)) == 0


def ols_error_is(formula=lambda d, k: d - min(k, d), dimensions=DIMENSIONS) -> bool:
    """True iff ``tr((I - P)^T (I - P)) = formula(d, k)`` and P is an orthogonal projection of rank min(k, d).

    With ``P = N / D`` every condition is multiplied through by a power of D (nonzero for
    full-rank X), so each becomes a polynomial identity checked by ``expand``.

    Examples
    --------
    >>> ols_error_is(dimensions=((1, 2),))
    True
    >>> ols_error_is(lambda d, k: d - k + 1, dimensions=((1, 2),))
    False
    """
    for k, d in dimensions:
        X = symbol_matrix("x", k, d)
        N, D = _projection(X)
        idempotent = N * N - D * N  # D^2 (P^2 - P)
        symmetric = N.T - N  # D (P^T - P)
        rank = N.trace() - min(k, d) * D  # D (tr P - min(k, d))
        if not (_vanishes(idempotent) and _vanishes(symmetric) and _vanishes(rank)):
            return False
        residual = D * sp.eye(d) - N  # D (I - P)
        if not _vanishes((residual.T * residual).trace() - formula(d, k) * D**2):
            return False
    return True


def numeric(seed: int = 4) -> float:
    """Max |E[error | X] - (d - min(k, d))| with the expectation computed through ``estimators.ols``."""
    from estimators import ols

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d in (3, 5, 8):
        for k in range(1, d + 3):
            X = rng.standard_normal((k, d))
            targets = X.T  # column j of X e_j stacked: y_j = X e_j, shape (d, k)
            P = np.asarray(ols(np.broadcast_to(X, (d, k, d)).copy(), targets)).T  # column j = ols(X, X e_j)
            expected_error = float(np.sum((np.eye(d) - P) ** 2))
            worst = max(worst, abs(expected_error - (d - min(k, d))))
    return worst


LEMMA = Lemma(
    name="noiseless OLS error = d - k",
    statement="w, x ~ N(0, I_d), y = X w, k < d: E[(x^T w - x^T X^+ y)^2] = tr(I - X^+ X) = d - k (0 for k >= d)",
    source="Garg et al. 2022, sec. 3",
    symbolic=lambda: ols_error_general() and ols_error_is(),
    numeric=numeric,
    tolerance=1e-9,
    backed_by="estimators.linear.ols",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
