"""L2-penalised logistic regression (binary and multinomial) by batched Newton / IRLS with a line search.

The objective is scikit-learn's, for every independent problem in the leading axes at once:

.. math::
    \\min_{W, b}\\ \\sum_i s_i\\,\\ell\\big(y_i, W x_i + b\\big) + \\frac{1}{2C}\\lVert W\\rVert_F^2,

with :math:`\\ell` the binomial log-loss on one row (two classes, as scikit-learn's ``coef_`` of
shape (1, d)) or the multinomial log-loss on all C rows (three classes or more). The intercept
is not penalised unless ``penalize_intercept=True``. In the multinomial case the softmax is
invariant to adding one constant to every intercept; the iterates are kept at
:math:`\\sum_c b_c = 0`, the solution scikit-learn's solvers reach from a zero start.

The solver (:mod:`estimators.classify._newton`) takes Newton or chord steps with a line search
per problem, so every step is a descent step, and freezes converged problems: a problem's
result depends on the others in its batch only through which convergent steps are taken, i.e.
within the tolerance. Public names are re-exported by :mod:`estimators.classify`; naive Bayes
lives there.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..validation import _is_traced, check_array, check_int, check_positive, library_name, namespace
from ._base import (
    check_labelled_data,
    check_predict_X,
    log_normalize,
    one_hot,
    resolve_n_classes,
    softplus,
)
from ..validation import matrix_transpose as _mT
from ._newton import _augment, _newton
from ._newton_cg import _newton_cg

# The automatic choice of solver: trust-region Newton-CG for binary (B, m, d) batches of at least
# this many problems with at least this many features. Measured on one loaded CPU core (docs/performance.md):
# Newton-CG 1.25x faster than Newton at d = 150 (m = 400), 0.7-0.9x at d = 20, 50, 100 (m = 200).
_CG_MIN_PROBLEMS = 1
_CG_MIN_FEATURES = 128

__all__ = ["LogisticParams", "logistic_fit", "logistic_predict_proba", "logistic_predict", "logistic_prefixes"]


class LogisticParams(NamedTuple):
    """A fitted logistic regression: coef (..., K, d) and intercept (..., K).

    K = 1 for two classes (the row gives the log-odds of class 1, as scikit-learn's ``coef_``)
    and K = C for three classes or more.
    """

    coef: Any
    intercept: Any


def _targets(xp, yi, n_classes, dtype):
    if n_classes == 2:
        return xp.astype(yi == 1, dtype)[..., None]  # (..., m, 1)
    return one_hot(xp, yi, n_classes, dtype)  # (..., m, C)


def logistic_fit(
    X: Any,
    y: Any,
    C: float = 1.0,
    *,
    n_classes: int | None = None,
    sample_weight: Any = None,
    penalize_intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 100,
    hessian_dtype: str | None = "auto",
    solver: str = "auto",
) -> LogisticParams:
    r"""L2-penalised logistic regression by Newton / IRLS, batched over independent problems.

    Minimises :math:`\sum_i s_i \ell(y_i, W x_i + b) + \frac{1}{2C}\lVert W\rVert^2` (scikit-learn's
    scaling of C) with Newton steps :math:`\theta \leftarrow \theta - t H^{-1} g` (chord steps,
    which reuse the last factorised H, while they contract 20x per iteration) and a line search
    on t. Binary problems use one row (binomial loss); three or more classes use all C rows
    (multinomial loss, intercepts summing to zero). The solver is
    :mod:`estimators.classify._newton`.

    Parameters
    ----------
    X : array of shape (..., m, d)
    y : integer array of shape (..., m), labels in ``0..n_classes-1``
    C : float > 0
        Inverse penalty strength (scikit-learn's ``C``).
    n_classes : int, optional
        Inferred as ``max(y) + 1`` when omitted. Unless ``penalize_intercept``, every class
        must have samples in every problem (else its intercept diverges).
    sample_weight : array of shape (..., m), optional
        Non-negative weights s_i (broadcast against y's batch shape).
    penalize_intercept : bool
        Add :math:`\frac{1}{2C}\lVert b\rVert^2` to the objective (finite solution for any data).
    tol : float > 0
        Stop a problem when its (Newton or chord) step, taken from a gradient in the data's
        precision, is below ``tol`` relative to max(1, max|theta|); the step is taken, so the
        error left is a small fraction of tol (quadratic or 20x-contracting convergence). Never
        below the square root of the dtype's machine epsilon (float32: 3.5e-4, float64: 1.5e-8).
    max_iter : int
        Newton iterations; a ``RuntimeWarning`` with advice names unconverged problems.
    hessian_dtype : {"auto", None, "float32"}
        Precision of the Hessian's :math:`X^\top W X` products and of its Cholesky factorisation.
        ``"float32"`` is about twice as fast on CPUs for float64 data; the gradient, objective and
        line search stay in the data's precision, so the iterates converge to the same minimiser
        (an inexact Newton method: each step is accurate to about cond(H) * 6e-8, the line search
        and the chord test absorb the rest). The passes over X of the first iterations (steps
        above 1e-2) use the float32 copy too; convergence is only tested on float64 gradients.
        ``"auto"`` (default) uses float32 for float64 data and falls back to float64 where the
        float32 Hessian is not positive definite or stops driving convergence (condition
        numbers of about 1e8 and beyond); ``None`` always uses the data's precision. Features
        larger than 2**26 in size run in the data's precision whatever is asked (their float32
        products overflow).
    solver : {"auto", "newton", "newton-cg"}
        ``"newton"``: Newton / IRLS with the Hessian formed and factorised
        (:mod:`estimators.classify._newton`). ``"newton-cg"``: trust-region Newton-CG with
        Hessian-vector products (Lin, Weng & Keerthi 2008; :mod:`estimators.classify._newton_cg`),
        binary problems on numpy or torch only; the Hessian is never formed, each CG step is two
        passes over X, preconditioned by the Hessian at zero. Its stopping test is on the logits
        (an accepted step moves them by at most ``tol``, root mean square, relative to
        max(1, their root mean square)), which does not depend on the features' scale.
        ``"auto"`` (default) picks ``"newton-cg"`` for binary numpy / torch problems with
        d >= 128 features in a (B, m, d) batch of problems, without ``sample_weight``
        broadcast over problems, and ``"newton"`` otherwise: a Hessian costs about d passes over
        X but runs at the matrix-product rate, while the passes are memory-bound, so Newton wins
        for few features (measured: up to d = 100 at m = 200) and for the C-fold larger
        multinomial Hessians
        (``docs/performance.md`` has the measurements).

    Returns
    -------
    LogisticParams
        ``coef`` (..., K, d), ``intercept`` (..., K) with K = 1 for two classes, else C.

    Raises
    ------
    ValueError
        On one class only, labels outside range, NaN, ``C <= 0``, or a class without samples.

    References
    ----------
    Ng & Jordan (2001), section 2; Zheng et al. (2023), section 4 (multiclass logistic
    regression); Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*, 4.4.1 (IRLS).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0, 1, 0, 1])
    >>> p = logistic_fit(X, y, C=1.0)
    >>> p.coef.shape, p.intercept.shape, round(float(p.coef[0, 0]), 4)
    ((1, 1), (1,), 0.2905)
    """
    fn = "logistic_fit"
    xp, yi = check_labelled_data(X, y, fn)
    ncls = resolve_n_classes(xp, yi, n_classes, fn)
    C = check_positive(C, "C", fn)
    tol = check_positive(tol, "tol", fn)
    max_iter = check_int(max_iter, "max_iter", fn, minimum=1)
    if hessian_dtype not in ("auto", None, "float32"):
        raise ValueError(f"{fn}: hessian_dtype must be 'auto', None or 'float32', got {hessian_dtype!r}")
    if solver not in ("auto", "newton", "newton-cg"):
        raise ValueError(f"{fn}: solver must be 'auto', 'newton' or 'newton-cg', got {solver!r}")
    if sample_weight is None:
        s = xp.ones(yi.shape, dtype=X.dtype, device=getattr(X, "device", None))
    else:
        namespace(X, sample_weight, fn=fn)
        check_array(sample_weight, "sample_weight", fn, min_ndim=1)
        if sample_weight.dtype != X.dtype:
            raise TypeError(f"{fn}: sample_weight and X must share a dtype, got {sample_weight.dtype} and {X.dtype}")
        if not _is_traced(sample_weight) and bool(xp.any(sample_weight < 0)):
            raise ValueError(f"{fn}: sample_weight must be >= 0, got a negative weight")
        s = xp.broadcast_to(sample_weight, yi.shape)
    Y = one_hot(xp, yi, ncls, X.dtype)
    if not penalize_intercept and not _is_traced(s):
        present = xp.sum(Y * s[..., None], axis=-2) > 0  # (..., C)
        if not bool(xp.all(present)):
            missing = int(xp.argmin(xp.astype(xp.all(xp.reshape(present, (-1, ncls)), axis=0), xp.int64)))
            raise ValueError(
                f"{fn}: class {missing} has no samples in at least one problem; every problem needs every class "
                f"0..{ncls - 1} (pass n_classes to match, or penalize_intercept=True for a finite solution)"
            )
    cg_backend = library_name(X) in ("numpy", "torch")
    flat = X.ndim == 3 and tuple(s.shape) == tuple(X.shape[:-1]) and cg_backend
    if solver == "newton-cg" and not (flat or (X.ndim == 2 and cg_backend) and ncls == 2):
        raise ValueError(
            f"{fn}: solver='newton-cg' needs two classes and numpy or torch X of shape (m, d) or (B, m, d), "
            f"got {ncls} classes and X of shape {tuple(X.shape)} ({library_name(X)})"
        )
    use_cg = solver == "newton-cg" or (
        solver == "auto" and ncls == 2 and flat and X.shape[0] >= _CG_MIN_PROBLEMS and X.shape[-1] >= _CG_MIN_FEATURES
    )
    if use_cg:
        Xb, yb, sb = (X, yi, s) if X.ndim == 3 else (X[None], yi[None], s[None])
        theta = _newton_cg(
            xp, Xb, xp.astype(yb == 1, X.dtype), sb, C, penalize_intercept=penalize_intercept, tol=tol,
            max_iter=max_iter, fn=fn, low_dtype=None if hessian_dtype is None or X.dtype == xp.float32 else xp.float32,
            unit_weights=sample_weight is None,
        )  # fmt: skip
        theta = theta if X.ndim == 3 else theta[0]
        return LogisticParams(theta[..., :-1], theta[..., -1])
    theta = _newton(
        xp, X, _targets(xp, yi, ncls, X.dtype), s, C,
        binary=ncls == 2, penalize_intercept=penalize_intercept, tol=tol, max_iter=max_iter, fn=fn,
        hessian_dtype=None if hessian_dtype is None else xp.float32, fallback=hessian_dtype == "auto",
        unit_weights=sample_weight is None,
    )  # fmt: skip
    return LogisticParams(theta[..., :-1], theta[..., -1])


def _log_proba(xp, z):
    """Log-probabilities (..., m, C) from logits (..., m, K); one row means binary log-odds."""
    if z.shape[-1] == 1:
        return xp.concat([-softplus(xp, z), -softplus(xp, -z)], axis=-1)
    return log_normalize(xp, z)


def logistic_predict_proba(params: LogisticParams, X: Any, *, log: bool = False) -> Any:
    r"""Class probabilities :math:`\operatorname{softmax}(W x + b)` (sigmoid for one row): (..., m, C).

    Examples
    --------
    >>> import numpy as np
    >>> p = LogisticParams(np.array([[2.0]]), np.array([0.0]))
    >>> logistic_predict_proba(p, np.array([[0.0], [10.0]])).round(4)
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    fn = "logistic_predict_proba"
    X = check_predict_X(X, params.coef.shape[-1], params.coef.dtype, fn)
    xp = namespace(params.coef, X, fn=fn)
    logp = _log_proba(xp, X @ _mT(params.coef) + params.intercept[..., None, :])
    return logp if log else xp.exp(logp)


def logistic_predict(params: LogisticParams, X: Any) -> Any:
    """Most probable class under a fitted logistic regression: (..., m) int64 labels.

    Examples
    --------
    >>> import numpy as np
    >>> p = LogisticParams(np.array([[2.0]]), np.array([0.0]))
    >>> logistic_predict(p, np.array([[-1.0], [1.0]]))
    array([0, 1])
    """
    fn = "logistic_predict"
    X = check_predict_X(X, params.coef.shape[-1], params.coef.dtype, fn)
    xp = namespace(params.coef, X, fn=fn)
    z = X @ _mT(params.coef) + params.intercept[..., None, :]
    if z.shape[-1] == 1:
        return xp.astype(z[..., 0] > 0, xp.int64)
    return xp.argmax(z, axis=-1)


def logistic_prefixes(
    xs: Any,
    ys: Any,
    C: float = 1.0,
    *,
    n_classes: int | None = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    log: bool = False,
    chunk: int = 256,
) -> Any:
    r"""Logistic regression on every prefix of a prompt: ``probs[..., k, :]`` from the first k pairs.

    All n prefix fits of all prompts are one batched Newton solve (prefix k weights the first
    k points by 1 and the rest by 0). Early prefixes miss classes, so the intercept is
    penalised too (``penalize_intercept=True``): prefix k equals :func:`logistic_fit` with that
    option on the first k pairs, and k = 0 gives the uniform distribution.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n), class labels
    C, n_classes, tol, max_iter
        As in :func:`logistic_fit`.
    log : bool
        Return log-probabilities.
    chunk : int
        Prompts solved together (memory grows like chunk * n^2 * d).

    Returns
    -------
    probs : array of shape (..., n, C)

    References
    ----------
    ``docs/design.md`` (the all-prefix seam); Garg et al. (2022) (linear classification in context).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[-1.0], [1.0], [2.0]]); ys = np.array([0, 1, 1])
    >>> logistic_prefixes(xs, ys).round(3)
    array([[0.5  , 0.5  ],
           [0.5  , 0.5  ],
           [0.206, 0.794]])
    """
    fn = "logistic_prefixes"
    xp, yi = check_labelled_data(xs, ys, fn, x_name="xs", y_name="ys")
    ncls = resolve_n_classes(xp, yi, n_classes, fn, name="ys")
    C = check_positive(C, "C", fn)
    tol = check_positive(tol, "tol", fn)
    max_iter = check_int(max_iter, "max_iter", fn, minimum=1)
    chunk = check_int(chunk, "chunk", fn, minimum=1)
    n, d = xs.shape[-2], xs.shape[-1]
    idx = xp.arange(n, device=getattr(xs, "device", None))
    mask = xp.astype(idx[None, :] < idx[:, None], xs.dtype)  # (k, i): point i is in prefix k
    flat_x, flat_y = xp.reshape(xs, (-1, n, d)), xp.reshape(yi, (-1, n))
    parts = []
    for start in range(0, flat_x.shape[0], chunk):  # n fits per prompt: bound the (chunk, n, n, .) arrays
        cx, cy = flat_x[start : start + chunk], flat_y[start : start + chunk]
        Xa = _augment(xp, cx)  # (b, n, d+1)
        s = xp.broadcast_to(mask, (cx.shape[0], n, n))  # prefix 0 has no weight: its solution is theta = 0
        theta = _newton(
            xp, cx[:, None, :, :], _targets(xp, cy, ncls, xs.dtype)[:, None, :, :], s, C,
            binary=ncls == 2, penalize_intercept=True, tol=tol, max_iter=max_iter, fn=fn,
        )  # fmt: skip
        parts.append(xp.sum(theta * Xa[:, :, None, :], axis=-1))  # (b, n, K): prefix k's logits at x_k
    z = xp.reshape(xp.concat(parts, axis=0), (*yi.shape, -1))
    logp = _log_proba(xp, z)
    return logp if log else xp.exp(logp)
