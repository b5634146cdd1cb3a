"""Lemma 3: the Sherman-Morrison step, and recursive least squares from P = I/lam gives ridge on every prefix.

Statement. (a) For invertible A and a vector x with ``1 + x^T A^{-1} x != 0``,

    (A + x x^T)^{-1} = A^{-1} - A^{-1} x x^T A^{-1} / (1 + x^T A^{-1} x).

(b) Recursive least squares, ``P_0 = I / lam``, ``w_0 = 0`` and for each pair (x_i, y_i)

    g = P x_i / (1 + x_i^T P x_i),   w <- w + g (y_i - x_i^T w),   P <- P - g x_i^T P,

keeps the invariant ``P_k = (lam I + X_k^T X_k)^{-1}``, ``w_k = P_k X_k^T y_k``: after k pairs
``w_k`` is the ridge solution on the first k pairs, for every k.

Proof. (a) For **general d** with sympy ``MatrixSymbol`` A and x: the scalar
``c = 1 + x^T A^{-1} x`` is named by a symbol, ``(A + x x^T) M - I`` is expanded and each 1 x 1
factor ``x^T A^{-1} x`` is replaced by ``c - 1`` (:func:`proofs._lemma.replace_scalar_form`); the
result is ``ZeroMatrix``. Also checked entrywise for a general (non-symmetric) 3 x 3 matrix via
``B = A^{-1}``: ``B (A + x x^T) M = (I + B x x^T) M = B``.
(b) Induction on k. Base: ``P_0 = I/lam = (lam I + 0)^{-1}`` and ``w_0 = 0 = P_0 0``. Step: with P
standing for P_k, c for ``X_k^T y_k`` and ``w = P c``, the update gives ``P' = (P^{-1} + x x^T)^{-1}``
by (a), and ``w' - P' (c + y x) = 0``: shown for general d with matrix symbols (the 1 x 1
factor ``x^T P x`` replaced by ``s - 1``, ``s = 1 + x^T P x``) and entrywise for a symmetric P in
explicit dimension d = 3. As a direct confirmation, the recursion
is also unrolled from ``P_0 = I/lam`` for d = 2 and three points and compared with ridge on
each prefix (k = 1, 2, 3). The unrolled check is a function of the initial P, so starting
from ``P_0 = lam I`` is shown to fail.

Source. Sherman & Morrison 1950; Akyurek et al. 2023, section 3 (a transformer can
implement ridge one example at a time via Sherman-Morrison).

Numeric cross-check: ``estimators.linear.ridge_prefixes`` against the RLS recursion run in
numpy (prediction at position i uses w before the i-th update).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero, replace_scalar_form, symbol_matrix, symmetric_matrix

__all__ = [
    "LEMMA",
    "check",
    "sherman_morrison_general_d",
    "rls_step_general_d",
    "sherman_morrison_holds",
    "rls_step_keeps_ridge",
    "rls_unrolled_is_ridge",
    "numeric",
]

lam = sp.Symbol("lam", positive=True)


def sherman_morrison_general_d(claimed_denominator_offset=1) -> bool:
    """(A + x x^T) (A^{-1} - A^{-1} x x^T A^{-1} / c) = I with ``c = offset + x^T A^{-1} x``, any d.

    Examples
    --------
    >>> sherman_morrison_general_d()
    True
    >>> sherman_morrison_general_d(claimed_denominator_offset=0)
    False
    """
    d = sp.Symbol("d", integer=True, positive=True)
    A, x = sp.MatrixSymbol("A", d, d), sp.MatrixSymbol("x", d, 1)
    c = sp.Symbol("c", positive=True)  # stands for offset + x^T A^{-1} x
    claimed_inverse = A.I - A.I * x * x.T * A.I / c
    product = replace_scalar_form((A + x * x.T) * claimed_inverse - sp.Identity(d), (x.T, A.I, x),
                                  c - claimed_denominator_offset)
    return is_zero(product)


def rls_step_general_d() -> bool:
    """Induction step for any d: if w = P c, one RLS update gives w' = P' (c + y x).

    Examples
    --------
    >>> rls_step_general_d()
    True
    """
    d = sp.Symbol("d", integer=True, positive=True)
    P, c, x = sp.MatrixSymbol("P", d, d), sp.MatrixSymbol("c", d, 1), sp.MatrixSymbol("x", d, 1)
    y = sp.Symbol("y", real=True)
    s = sp.Symbol("s", positive=True)  # stands for 1 + x^T P x
    w = P * c
    g = P * x / s
    w_next = w + g * (y * sp.Identity(1) - x.T * w)
    P_next = P - g * x.T * P
    return is_zero(replace_scalar_form(w_next - P_next * (c + y * x), (x.T, P, x), s - 1))


def sherman_morrison_holds(d: int = 3) -> bool:
    """(I + B x x^T) (B - B x x^T B / (1 + x^T B x)) = B for a general d x d matrix B.

    Examples
    --------
    >>> sherman_morrison_holds(2)
    True
    """
    B = symbol_matrix("b", d, d)
    x = symbol_matrix("x", d, 1)
    s = 1 + (x.T * B * x)[0, 0]
    claimed_inverse = B - B * x * x.T * B / s
    return is_zero((sp.eye(d) + B * x * x.T) * claimed_inverse - B)


def rls_step_keeps_ridge(d: int = 3) -> bool:
    """Induction step: if w = P c, one RLS update gives w' = P' (c + y x)."""
    P = symmetric_matrix("p", d)
    c = symbol_matrix("c", d, 1)
    x = symbol_matrix("x", d, 1)
    y = sp.Symbol("y", real=True)
    w = P * c
    g = P * x / (1 + (x.T * P * x)[0, 0])
    w_next = w + g * (y - (x.T * w)[0, 0])
    P_next = P - g * x.T * P
    return is_zero(w_next - P_next * (c + y * x))


def rls_unrolled_is_ridge(P0=None, d: int = 2, n: int = 3) -> bool:
    """Run RLS symbolically from ``P0`` (default ``I/lam``) and compare with ridge on every prefix.

    Examples
    --------
    >>> rls_unrolled_is_ridge(d=1, n=2)
    True
    >>> rls_unrolled_is_ridge(P0=lam * sp.eye(1), d=1, n=2)
    False
    """
    X = symbol_matrix("x", n, d)
    Y = symbol_matrix("y", n, 1)
    P = sp.eye(d) / lam if P0 is None else P0
    w = sp.zeros(d, 1)
    for i in range(n):
        xi, yi = X[i, :].T, Y[i, 0]
        g = P * xi / (1 + (xi.T * P * xi)[0, 0])
        w = (w + g * (yi - (xi.T * w)[0, 0])).applyfunc(sp.cancel)
        P = (P - g * xi.T * P).applyfunc(sp.cancel)
        Xk, Yk = X[: i + 1, :], Y[: i + 1, :]
        M = Xk.T * Xk + lam * sp.eye(d)
        if not is_zero(w - M.adjugate() * Xk.T * Yk / M.det()):
            return False
    return True


def _rls_predictions(xs: np.ndarray, ys: np.ndarray, penalty: float) -> np.ndarray:
    """Reference RLS in numpy for one prompt: prediction at i uses w before the i-th update."""
    d = xs.shape[-1]
    P = np.eye(d) / penalty
    w = np.zeros(d)
    preds = np.empty(len(ys))
    for i, (x, y) in enumerate(zip(xs, ys)):
        preds[i] = x @ w
        g = P @ x / (1.0 + x @ P @ x)
        w = w + g * (y - x @ w)
        P = P - np.outer(g, x @ P)
    return preds


def numeric(seed: int = 2) -> float:
    """Max |ridge_prefixes - RLS predictions| over a batch of prompts."""
    from estimators import ridge_prefixes

    rng = np.random.default_rng(seed)
    worst = 0.0
    for d, n, penalty in [(3, 10, 0.5), (6, 12, 0.05), (2, 5, 3.0)]:
        xs = rng.standard_normal((4, n, d))
        ys = rng.standard_normal((4, n))
        got = np.asarray(ridge_prefixes(xs, ys, lam=penalty))
        want = np.stack([_rls_predictions(xs[b], ys[b], penalty) for b in range(4)])
        worst = max(worst, float(np.max(np.abs(got - want))))
    return worst


def _symbolic() -> bool:
    return (
        sherman_morrison_general_d()
        and rls_step_general_d()
        and sherman_morrison_holds()
        and rls_step_keeps_ridge()
        and rls_unrolled_is_ridge()
    )


LEMMA = Lemma(
    name="Sherman-Morrison / RLS = ridge",
    statement="(A + x x^T)^{-1} = A^{-1} - A^{-1} x x^T A^{-1} / (1 + x^T A^{-1} x); RLS from P = I/lam gives ridge on every prefix",
    source="Sherman & Morrison 1950; Akyurek et al. 2023, sec. 3",
    symbolic=_symbolic,
    numeric=numeric,
    tolerance=1e-9,
    backed_by="estimators.linear.ridge_prefixes vs numpy RLS",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
