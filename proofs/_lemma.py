"""The ``Lemma`` record, its ``Result``, and the sympy helpers every proof module uses.

A lemma is proved in two independent ways:

1. **symbolically**: a function that builds ``lhs - rhs`` with sympy (symbols carry their
   assumptions, constants are exact ``Rational``) and reduces it to zero. Where sympy's
   matrix symbols allow general dimensions the proof is for general ``d``; otherwise the
   module states the explicit small dimensions it uses;
2. **numerically**: the same identity evaluated in floating point through the
   ``estimators`` function the lemma backs, returning the largest absolute error, which
   must stay below the lemma's tolerance.

What does not live here: any lemma. The registry of lemmas and the table printer are in
:mod:`proofs` (``proofs/__init__.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import sympy as sp

__all__ = ["Lemma", "Result", "is_zero", "replace_scalar_form", "symbol_matrix", "symmetric_matrix"]


@dataclass(frozen=True)
class Result:
    """Outcome of checking one lemma.

    ``proved`` is true only if the symbolic reduction gave exactly zero *and* the
    numeric cross-check stayed within tolerance.
    """

    name: str
    source: str
    statement: str
    symbolic: bool
    numeric_error: float
    tolerance: float
    backed_by: str
    seconds: float
    error: str = ""

    @property
    def numeric_ok(self) -> bool:
        return self.numeric_error == self.numeric_error and self.numeric_error <= self.tolerance

    @property
    def proved(self) -> bool:
        return self.symbolic and self.numeric_ok and not self.error


@dataclass(frozen=True)
class Lemma:
    """One lemma: its statement, its source, a symbolic proof and a numeric cross-check.

    Parameters
    ----------
    name : str
        Short name used in the table (``"ridge = Gaussian posterior mean"``).
    statement : str
        The identity in words and symbols.
    source : str
        Paper and section it comes from.
    symbolic : callable () -> bool
        Returns True iff ``lhs - rhs`` reduced to exactly zero.
    numeric : callable () -> float
        Largest absolute error of the identity evaluated through ``estimators``.
    tolerance : float
        Bound on ``numeric()``.
    backed_by : str
        The ``estimators`` function(s) the numeric check calls.
    """

    name: str
    statement: str
    source: str
    symbolic: Callable[[], bool]
    numeric: Callable[[], float]
    tolerance: float
    backed_by: str

    def check(self) -> Result:
        """Run both checks; an exception inside either is recorded as a failure, not raised."""
        start = time.perf_counter()
        symbolic, error, numeric_error = False, "", float("nan")
        try:
            symbolic = bool(self.symbolic())
            numeric_error = float(self.numeric())
        except Exception as exc:  # reported in the table; run_all must go on with the other lemmas
            error = f"{type(exc).__name__}: {exc}"
        return Result(
            name=self.name,
            source=self.source,
            statement=self.statement,
            symbolic=symbolic,
            numeric_error=numeric_error,
            tolerance=self.tolerance,
            backed_by=self.backed_by,
            seconds=time.perf_counter() - start,
            error=error,
        )


def is_zero(expr) -> bool:
    """True iff ``expr`` (a sympy scalar or matrix) is identically zero.

    Rational functions are put over one denominator with ``cancel`` (a decision procedure
    for them); anything that does not vanish that way (logs, exponentials) goes through
    ``expand_log`` and ``simplify``. A matrix expression of general dimension
    (``MatrixSymbol`` products) is expanded and must collapse to ``ZeroMatrix``.
    Structural ``==`` is never used on the unreduced expression.

    Examples
    --------
    >>> a, b = sp.symbols("a b", positive=True)
    >>> is_zero((a**2 - b**2) / (a - b) - (a + b))
    True
    >>> is_zero(a / b - b / a)
    False
    """
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(entry) for entry in expr)
    if isinstance(expr, sp.MatrixExpr):  # general-dimension matrix symbols: expand the products
        return isinstance(sp.expand(expr).doit(), sp.ZeroMatrix)
    expr = sp.sympify(expr)
    if sp.cancel(sp.together(expr)) == 0:
        return True
    expanded = sp.expand_log(expr, force=False)
    if sp.cancel(sp.together(expanded)) == 0:
        return True
    return sp.simplify(expanded) == 0


def replace_scalar_form(expr, pattern, value):
    """Expand a matrix expression and replace every run of factors ``pattern`` by the scalar ``value``.

    For a run of factors whose product is ``value`` times an identity: a 1 x 1 product such as
    ``x^T A^{-1} x``, or ``M M^{-1}``. Matrix-symbol algebra cannot divide by a 1 x 1 product, so
    a proof names it with a scalar symbol (``c = 1 + x^T A^{-1} x``) and, after expanding, this
    replaces each occurrence of the factors ``(x^T, A^{-1}, x)`` inside a product by ``c - 1``.
    Valid because such a product acts as a scalar and commutes with everything.

    Examples
    --------
    >>> d = sp.Symbol("d", integer=True, positive=True)
    >>> A, x = sp.MatrixSymbol("A", d, d), sp.MatrixSymbol("x", d, 1)
    >>> c = sp.Symbol("c", positive=True)
    >>> replace_scalar_form((A + x * x.T) * (A.I - A.I * x * x.T * A.I / c), (x.T, A.I, x), c - 1)
    I
    """
    expr = sp.expand(expr)
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    rebuilt = []
    for term in terms:
        factors = term.args if isinstance(term, sp.MatMul) else (term,)
        coeff = sp.Mul(*[f for f in factors if not isinstance(f, sp.MatrixExpr)])
        matrices = [f for f in factors if isinstance(f, sp.MatrixExpr)]
        kept, i = [], 0
        while i < len(matrices):
            if tuple(matrices[i : i + len(pattern)]) == tuple(pattern):
                coeff, i = coeff * value, i + len(pattern)
            else:
                kept, i = kept + [matrices[i]], i + 1
        rebuilt.append(sp.MatMul(coeff, *kept) if kept else coeff * sp.Identity(pattern[0].shape[0]))
    return sp.expand(sp.MatAdd(*rebuilt)).doit()


def symbol_matrix(name: str, rows: int, cols: int, **assumptions) -> sp.Matrix:
    """An explicit ``rows x cols`` matrix of fresh real symbols ``name_i_j``."""
    assumptions.setdefault("real", True)
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", **assumptions))


def symmetric_matrix(name: str, size: int) -> sp.Matrix:
    """An explicit symmetric ``size x size`` matrix of real symbols (``name_i_j`` with i <= j)."""
    entries = {}
    for i in range(size):
        for j in range(i, size):
            entries[i, j] = entries[j, i] = sp.Symbol(f"{name}_{min(i, j)}_{max(i, j)}", real=True)
    return sp.Matrix(size, size, lambda i, j: entries[i, j])
