"""L2-penalised logistic regression (binary and multinomial) by batched Newton / IRLS with a line search.

The objective is scikit-learn's, for every independent problem in the leading axes at once:

.. math::
    \\min_{W, b}\\ \\sum_i s_i\\,\\ell\\big(y_i, W x_i + b\\big) + \\frac{1}{2C}\\lVert W\\rVert_F^2,

with :math:`\\ell` the binomial log-loss on one row (two classes, as scikit-learn's ``coef_`` of
shape (1, d)) or the multinomial log-loss on all C rows (three classes or more). The intercept
is not penalised unless ``penalize_intercept=True``. In the multinomial case the softmax is
invariant to adding one constant to every intercept; the iterates are kept at
:math:`\\sum_c b_c = 0`, the solution scikit-learn's solvers reach from a zero start.

Each Newton iteration builds the batched Hessian (..., K(d+1), K(d+1)) and solves it; a
backtracking (Armijo) line search per problem guarantees descent, and converged problems are
frozen so a problem's result does not depend on the others in its batch. Public names are
re-exported by :mod:`estimators.classify`; naive Bayes lives there.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

from ._array import _is_traced, check_array, check_int, check_positive, namespace, solve
from ._classify_base import (
    jax_jit,
    check_labelled_data,
    check_predict_X,
    log_normalize,
    logsumexp,
    one_hot,
    resolve_n_classes,
    softplus,
)

__all__ = ["LogisticParams", "logistic_fit", "logistic_predict_proba", "logistic_predict", "logistic_prefixes"]


class LogisticParams(NamedTuple):
    """A fitted logistic regression: coef (..., K, d) and intercept (..., K).

    K = 1 for two classes (the row gives the log-odds of class 1, as scikit-learn's ``coef_``)
    and K = C for three classes or more.
    """

    coef: Any
    intercept: Any


def _mT(a):
    return a.mT if hasattr(a, "mT") else a.swapaxes(-1, -2)


def _scores(xp, Xa, theta):
    """Logits (..., m, K) of augmented inputs Xa (..., m, d+1) under theta (..., K, d+1)."""
    return Xa @ _mT(theta)


@jax_jit("binary")
def _objective(xp, z, Yk, s, theta, lam, binary):
    """Mean-scaled penalised log-loss per problem (...,), from the logits z = Xa theta^T (..., m, K)."""
    if binary:
        loss = softplus(xp, z[..., 0]) - Yk[..., 0] * z[..., 0]
    else:
        loss = logsumexp(xp, z, axis=-1) - xp.sum(Yk * z, axis=-1)
    total = xp.sum(s * loss, axis=-1) + 0.5 * xp.sum(lam * theta**2, axis=(-2, -1))
    return total / _norm(xp, s)


def _norm(xp, s):
    """Per-problem normaliser: the total weight, or 1 where a problem has no weight (prefix 0)."""
    S = xp.sum(s, axis=-1)
    return xp.where(S > 0, S, xp.ones_like(S))


def _derivatives(xp, Xa, z, Yk, s, theta, lam, binary, fix_intercept, hessian=True, Xh=None):
    """Mean-scaled gradient (..., K*(d+1)) and Hessian (..., K*(d+1), K*(d+1)) (``None`` unless ``hessian``).

    ``z`` are the current logits ``Xa theta^T``. ``Xh``: a lower-precision copy of ``Xa`` in which
    the Hessian's X^T W X products are formed (then cast back); the gradient always uses ``Xa``.
    """
    S = _norm(xp, s)[..., None]
    if binary:
        p = xp.exp(-softplus(xp, -z))  # sigmoid, (..., m, 1)
        r = s[..., None] * (p - Yk)  # (..., m, 1)
        g = _mT(r) @ Xa + lam * theta  # (..., 1, d+1)
        if not hessian:
            return g[..., 0, :] / S, None
        w = s[..., None] * p * (1.0 - p)  # (..., m, 1)
        if Xh is None:
            H = _mT(Xa) @ (Xa * w)  # (..., d+1, d+1)
        else:
            H = xp.astype(_mT(Xh) @ (Xh * xp.astype(w, Xh.dtype)), Xa.dtype)
        H = H + xp.eye(H.shape[-1], dtype=H.dtype, device=getattr(H, "device", None)) * lam
        return g[..., 0, :] / S, H / S[..., None]
    P = xp.exp(z - logsumexp(xp, z, axis=-1, keepdims=True))  # softmax, (..., m, C)
    g = _mT(s[..., None] * (P - Yk)) @ Xa + lam * theta  # (..., C, d+1)
    C, d1 = theta.shape[-2], theta.shape[-1]
    g = xp.reshape(g, (*g.shape[:-2], C * d1)) / S
    if not hessian:
        return g, None
    if Xh is not None:
        Xa, P, s = Xh, xp.astype(P, Xh.dtype), xp.astype(s, Xh.dtype)
    sP = s[..., None] * P
    V = sP[..., :, :, None] * Xa[..., :, None, :]  # (..., m, C, d+1)
    nv = V.ndim - 3
    D = xp.permute_dims(V, (*range(nv), nv + 1, nv + 2, nv)) @ Xa[..., None, :, :]  # (..., C, d+1, d+1)
    eye_c = xp.eye(C, dtype=D.dtype, device=getattr(D, "device", None))
    blocks = D[..., :, None, :, :] * eye_c[:, :, None, None]  # (..., C, C, d+1, d+1)
    nb = blocks.ndim - 4
    blocks = xp.permute_dims(blocks, (*range(nb), nb, nb + 2, nb + 1, nb + 3))
    batch = tuple(blocks.shape[:nb])
    V = xp.reshape(V, (*batch, -1, C * d1))  # (..., m, C(d+1))
    U = xp.reshape(P[..., :, :, None] * Xa[..., :, None, :], (*batch, -1, C * d1))
    H = xp.astype(xp.reshape(blocks, (*batch, C * d1, C * d1)) - _mT(V) @ U, g.dtype)
    lam_flat = xp.reshape(xp.broadcast_to(lam, (C, d1)), (C * d1,))
    H = (H + xp.eye(C * d1, dtype=H.dtype, device=getattr(H, "device", None)) * lam_flat) / S[..., None]
    if fix_intercept:  # the all-intercepts direction is flat: add u u^T (u = 1 on intercepts) to pin it
        u = xp.asarray([0.0] * (d1 - 1) + [1.0] * 1, dtype=H.dtype, device=getattr(H, "device", None))
        u = xp.reshape(xp.broadcast_to(u, (C, d1)), (C * d1,))
        H = H + u[:, None] * u[None, :]
    return g, H


@jax_jit("binary", "fix_intercept", "fresh")
def _direction(xp, Xa, z, Yk, s, theta, lam, H, Xh, *, binary, fix_intercept, fresh):
    """Newton (``fresh``) or chord (reuses ``H``) step (..., K, d+1), its slope g^T step, the Hessian
    used, and the change of the logits per unit step (..., m, K)."""
    g, H_new = _derivatives(xp, Xa, z, Yk, s, theta, lam, binary, fix_intercept, hessian=fresh, Xh=Xh)
    H = H_new if fresh else H
    step = xp.reshape(-solve(xp, H, g), theta.shape)  # (..., K, d+1)
    if fix_intercept:  # keep sum_c b_c = 0 exactly
        step_b = step[..., -1] - xp.mean(step[..., -1], axis=-1, keepdims=True)
        step = xp.concat([step[..., :-1], step_b[..., None]], axis=-1)
    return step, xp.sum(xp.reshape(g, theta.shape) * step, axis=(-2, -1)), H, _scores(xp, Xa, step)


@jax_jit("binary")
def _armijo(xp, z, dz, Yk, s, theta, lam, step, t, f0, slope, active, *, binary):
    """Objective at theta + t step and whether it decreases enough (Armijo, with a rounding allowance)."""
    f1 = _objective(xp, z + t[..., None, None] * dz, Yk, s, theta + t[..., None, None] * step, lam, binary)
    eps = xp.finfo(theta.dtype).eps
    return f1, (f1 <= f0 + 1e-4 * t * slope + 16 * eps * xp.abs(f0)) | ~active


@jax_jit()
def _accept(xp, theta, z, step, dz, t, f0, f1, active):
    """Move the active problems; return theta, logits, objective, relative step size."""
    t_active = xp.where(active, t, xp.zeros_like(t))[..., None, None]
    theta, z = theta + t_active * step, z + t_active * dz
    scale = xp.maximum(xp.max(xp.abs(theta), axis=(-2, -1)), xp.ones_like(f0))
    return theta, z, xp.where(active, f1, f0), xp.max(xp.abs(step), axis=(-2, -1)) / scale


def _newton(xp, Xa, Yk, s, C, *, binary, penalize_intercept, tol, max_iter, fn, hessian_dtype=None):
    """Minimise the objective for every problem; returns theta (..., K, d+1)."""
    d1 = Xa.shape[-1]
    K = 1 if binary else Yk.shape[-1]
    lam_vals = [1.0 / C] * (d1 - 1) + [1.0 / C if penalize_intercept else 0.0]
    device = getattr(Xa, "device", None)
    lam = xp.asarray(lam_vals, dtype=Xa.dtype, device=device)
    batch = tuple(xp.broadcast_arrays(Xa[..., 0, 0], s[..., 0])[0].shape)
    theta = xp.zeros((*batch, K, d1), dtype=Xa.dtype, device=device)
    active = xp.ones(batch, dtype=xp.bool, device=device)
    fix_intercept = (not binary) and (not penalize_intercept)
    tol = max(tol, math.sqrt(float(xp.finfo(Xa.dtype).eps)))  # float32 steps cannot shrink much below this
    H = xp.zeros((*batch, K * d1, K * d1), dtype=Xa.dtype, device=device)
    Xh = None if hessian_dtype is None or hessian_dtype == Xa.dtype else xp.astype(Xa, hessian_dtype)
    z = xp.zeros((*batch, Xa.shape[-2], K), dtype=Xa.dtype, device=device)  # logits at theta = 0
    f0 = _objective(xp, z, Yk, s, theta, lam, binary)
    for it in range(max_iter):
        # Shamanskii's variant of Newton: every other step reuses the last Hessian (a chord step,
        # one solve instead of a batched X^T W X); the line search keeps each step a descent step.
        # The logits are updated with the step (z + t X step^T), not recomputed: one pass over X less.
        step, slope, H, dz = _direction(
            xp, Xa, z, Yk, s, theta, lam, H, Xh, binary=binary, fix_intercept=fix_intercept, fresh=it % 2 == 0
        )
        t = xp.ones_like(f0)
        for _ls in range(40):  # backtracking: halve t where the Armijo condition fails
            f1, ok = _armijo(xp, z, dz, Yk, s, theta, lam, step, t, f0, slope, active, binary=binary)
            if bool(xp.all(ok)):
                break
            t = xp.where(ok, t, 0.5 * t)
        theta, z, f0, last_step = _accept(xp, theta, z, step, dz, t, f0, f1, active)
        active = active & (last_step > tol)
        if not bool(xp.any(active)):
            return theta
    n_bad = int(xp.sum(xp.astype(active, xp.int64)))
    worst = float(xp.max(xp.where(active, last_step, xp.zeros_like(last_step))))
    total = math.prod(batch) if batch else 1
    warnings.warn(
        f"{fn}: Newton did not converge in max_iter={max_iter} iterations for {n_bad} of {total} problem(s) "
        f"(largest relative last step {worst:.2e} > tol={tol:g}); increase max_iter, decrease C "
        "(a stronger penalty), or standardise the features",
        RuntimeWarning,
        stacklevel=3,
    )
    return theta


def _augment(xp, X):
    ones = xp.ones((*X.shape[:-1], 1), dtype=X.dtype, device=getattr(X, "device", None))
    return xp.concat([X, ones], axis=-1)


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
    hessian_dtype: str | None = None,
) -> LogisticParams:
    r"""L2-penalised logistic regression by Newton / IRLS, batched over independent problems.

    Minimises :math:`\sum_i s_i \ell(y_i, W x_i + b) + \frac{1}{2C}\lVert W\rVert^2` (scikit-learn's
    scaling of C) with Newton steps :math:`\theta \leftarrow \theta - t H^{-1} g` and a
    backtracking line search on t. Binary problems use one row (binomial loss); three or
    more classes use all C rows (multinomial loss, intercepts summing to zero).

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
        Stop a problem when its Newton step is below ``tol`` (relative to max(1, max|theta|));
        the error after that step is of order tol^2 (quadratic convergence). Never below the
        square root of the dtype's machine epsilon (float32: 3.5e-4, float64: 1.5e-8).
    max_iter : int
        Newton iterations; a ``RuntimeWarning`` with advice names unconverged problems.
    hessian_dtype : {None, "float32"}
        ``"float32"`` forms the Hessian's :math:`X^\top W X` products in single precision (about
        twice as fast on CPUs for float64 data). The gradient, objective and line search stay in
        the data's precision, so the iterates converge to the same minimiser (an inexact Newton
        method); only badly conditioned problems (condition number near 1e7) need the default.

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
    if hessian_dtype not in (None, "float32"):
        raise ValueError(f"{fn}: hessian_dtype must be None or 'float32', got {hessian_dtype!r}")
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
    theta = _newton(
        xp, _augment(xp, X), _targets(xp, yi, ncls, X.dtype), s, C,
        binary=ncls == 2, penalize_intercept=penalize_intercept, tol=tol, max_iter=max_iter, fn=fn,
        hessian_dtype=None if hessian_dtype is None else xp.float32,
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
    DESIGN.md (the all-prefix seam); Garg et al. (2022) (linear classification in context).

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
            xp, Xa[:, None, :, :], _targets(xp, cy, ncls, xs.dtype)[:, None, :, :], s, C,
            binary=ncls == 2, penalize_intercept=True, tol=tol, max_iter=max_iter, fn=fn,
        )  # fmt: skip
        parts.append(xp.sum(theta * Xa[:, :, None, :], axis=-1))  # (b, n, K): prefix k's logits at x_k
    z = xp.reshape(xp.concat(parts, axis=0), (*yi.shape, -1))
    logp = _log_proba(xp, z)
    return logp if log else xp.exp(logp)
