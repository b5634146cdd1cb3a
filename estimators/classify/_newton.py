"""Batched Newton / IRLS solver behind :func:`estimators.logistic_fit` and its all-prefix version.

Minimises, for every independent problem in the leading axes at once, the mean-scaled objective

.. math::
    f(\\theta) = \\frac{1}{S}\\Big(\\sum_i s_i\\,\\ell\\big(y_i, \\theta [x_i; 1]\\big)
    + \\frac{1}{2}\\theta^\\top \\Lambda \\theta\\Big), \\qquad S = \\sum_i s_i,

with :math:`\\ell` the binomial (one row) or multinomial log-loss and :math:`\\Lambda` the L2
penalty 1/C on the weights (and on the intercepts when asked). Per iteration:

* the gradient (one pass over X) at logits z that are updated with each step, never recomputed
  (with a low-precision Hessian, the passes of the first iterations use its float32 copy of
  [X, 1] until every step is below 1e-2; then z is recomputed and everything stays in X's
  precision: only steps from there count for the stopping test);
* a chord step with the last Cholesky factorisation when it contracts at least 20x relative to
  the previous step, else a fresh Hessian :math:`[X,1]^\\top W [X,1]` (float32 by default for
  float64 data, an inexact Newton method: the gradient stays in the data's precision) and its
  factorisation; at theta = 0 with unit weights the binary Hessian is :math:`[X,1]^\\top [X,1]/4`;
* the logits' change X step (the second pass) and a line search on the logits alone: two
  1-D Newton updates of the step length (early Newton steps on logistic losses are too short)
  checked by Armijo's test, with backtracking where it fails.

On 1000 binary problems (m = 200, d = 50) that is 6 iterations, 4 Hessians, 2 chord steps, and
the Hessians are the floor: one batched float32 :math:`X^\\top W X` costs about as much as
four passes over X. References: Nocedal & Wright, *Numerical Optimization* (2006), 3.1 and 7.1
(inexact Newton); Shamanskii's chord variant (Kelley, *Iterative Methods for Linear and
Nonlinear Equations*, 1995, 5.4); Hastie, Tibshirani & Friedman, *Elements of Statistical
Learning*, 4.4.1 (IRLS).

At about 450 lines this module is above the package's ~400-line guide on purpose: it is one
solver, and every helper here (Hessian, factorisation, line search, acceptance) is called only
by the iteration in :func:`_newton`, whose precision switches read their state directly.

Examples
--------
>>> import numpy as np
>>> import array_api_compat.numpy as xp
>>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); Yk = np.array([[0.0], [1.0], [0.0], [1.0]])
>>> theta = _newton(xp, X, Yk, np.ones(4), 1.0, binary=True, penalize_intercept=False,
...                 tol=1e-8, max_iter=50, fn="demo")
>>> theta.round(4)  # [coef, intercept], as logistic_fit's example
array([[0.2905, 0.    ]])
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..validation import library_name, matrix_transpose as _mT, solve
from ._base import jax_jit, logsumexp, softplus


def _scores(xp, X, theta):
    """Logits (..., m, K) of inputs X (..., m, d) under theta (..., K, d+1) (last column: intercepts)."""
    return X @ _mT(theta[..., :-1]) + theta[..., None, :, -1]


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


@jax_jit("binary")
def _gradient(xp, X, z, Yk, s, theta, lam, binary):
    """Mean-scaled gradient (..., K, d+1) and the class probabilities (..., m, K) at the logits ``z``.

    One pass over ``X``: :math:`g = [X, 1]^\\top \\operatorname{diag}(s) (P - Y) + \\Lambda \\theta`.
    """
    if binary:
        P = xp.exp(-softplus(xp, -z))  # sigmoid, (..., m, 1)
    else:
        P = xp.exp(z - logsumexp(xp, z, axis=-1, keepdims=True))  # softmax, (..., m, C)
    r = s[..., None] * (P - Yk)  # (..., m, K)
    g = xp.concat([_mT(r) @ X, xp.sum(r, axis=-2)[..., None]], axis=-1) + lam * theta
    return g / _norm(xp, s)[..., None, None], P


@jax_jit("binary")
def _gradient_low(xp, Xh, z, Yk, s, theta, lam, binary):
    """:func:`_gradient` with the pass over the low-precision [X, 1] copy ``Xh`` (early iterations)."""
    if binary:
        P = xp.exp(-softplus(xp, -z))
    else:
        P = xp.exp(z - logsumexp(xp, z, axis=-1, keepdims=True))
    r = xp.astype(s[..., None] * (P - Yk), Xh.dtype)
    g = xp.astype(_mT(r) @ Xh, theta.dtype) + lam * theta
    return g / _norm(xp, s)[..., None, None], P


def _weighted_gram(xp, Xh, w, work):
    """:math:`X_h^\\top \\operatorname{diag}(w) X_h` (..., d+1, d+1) for weights w (..., m, 1).

    ``work``: a dict that keeps numpy's and torch's weighted copy of X between calls (a fresh
    10-100 MB array each time costs page faults: a third of numpy's time here, most of torch's).
    """
    name = library_name(Xh)
    if work is not None and (name == "numpy" or (name == "torch" and not Xh.requires_grad)):
        shape = np.broadcast_shapes(tuple(Xh.shape), tuple(w.shape))
        if work.get("XW") is None or tuple(work["XW"].shape) != shape:
            work["XW"] = xp.empty(shape, dtype=Xh.dtype, device=getattr(Xh, "device", None))
        XW = np.multiply(Xh, w, out=work["XW"]) if name == "numpy" else _torch_mul(Xh, w, work["XW"])
    else:
        XW = Xh * w
    return _mT(Xh) @ XW


def _hessian(xp, Xh, P, s, lam, *, binary, fix_intercept, at_zero, work=None):
    """Mean-scaled Hessian (..., K(d+1), K(d+1)), formed in ``Xh``'s precision.

    Block (c, c') is :math:`X_a^\\top \\operatorname{diag}(s\\,p_c(\\delta_{cc'} - p_{c'})) X_a`
    (binary: one block, weights s p (1 - p)); the C(C+1)/2 distinct blocks are formed once each.
    ``at_zero``: unit weights at theta = 0, where every p is 1/C and every block is a multiple
    of :math:`X_a^\\top X_a` (one product, no weighting pass over X).
    """
    dtype, device = Xh.dtype, getattr(Xh, "device", None)
    S = xp.astype(_norm(xp, s), dtype)[..., None, None]
    lam = xp.astype(lam, dtype)
    if binary:
        if at_zero:
            return _add_diagonal(xp, (_mT(Xh) @ Xh) * (0.25 / S), lam / S[..., 0])
        G = _weighted_gram(xp, Xh, xp.astype(s[..., None] * P * (1.0 - P), dtype), work)
        return _add_diagonal(xp, G * (1.0 / S), lam / S[..., 0])  # (..., d+1, d+1)
    P, s = xp.astype(P, dtype), xp.astype(s, dtype)
    C, d1 = P.shape[-1], Xh.shape[-1]
    G = (_mT(Xh) @ Xh) * (1.0 / S) if at_zero else None
    blocks = {}
    for c in range(C):
        for c2 in range(c, C):
            if at_zero:
                blocks[c, c2] = G * ((1.0 if c == c2 else 0.0) / C - 1.0 / C**2)
            else:
                w = s * P[..., c] * ((1.0 if c == c2 else 0.0) - P[..., c2])  # (..., m)
                blocks[c, c2] = _weighted_gram(xp, Xh, w[..., None], work) * (1.0 / S)
    rows = [xp.concat([blocks[min(c, c2), max(c, c2)] for c2 in range(C)], axis=-1) for c in range(C)]
    H = xp.concat(rows, axis=-2)  # (..., C(d+1), C(d+1))
    lam_flat = xp.reshape(xp.broadcast_to(lam, (C, d1)), (C * d1,))
    H = _add_diagonal(xp, H, lam_flat / S[..., 0])
    if fix_intercept:  # the all-intercepts direction is flat: add u u^T (u = 1 on intercepts) to pin it
        u = xp.asarray([0.0] * (d1 - 1) + [1.0], dtype=dtype, device=device)
        u = xp.reshape(xp.broadcast_to(u, (C, d1)), (C * d1,))
        H = H + u[:, None] * u[None, :]
    return H


def _torch_mul(a, b, out):
    import torch

    return torch.mul(a, b, out=out)


def _add_diagonal(xp, A, v):
    """A + diag(v) for A (..., n, n) and v (..., n); numpy and torch add in place (A is a temporary)."""
    name = library_name(A)
    if name == "numpy":
        i = np.arange(A.shape[-1])
        A[..., i, i] += v
        return A
    if name == "torch":
        A.diagonal(dim1=-2, dim2=-1).add_(v)
        return A
    return A + v[..., None, :] * xp.eye(A.shape[-1], dtype=A.dtype)


# Matrix size from which numpy batches are factorised by a Python loop over LAPACK's potrf
# (2-3x faster than numpy's stacked Cholesky at 51 x 51; slower than stacked LU for tiny ones).
_LAPACK_LOOP_MIN = 16


def _factor(xp, H):
    """Factor a batch of symmetric positive-definite matrices once for several solves.

    Returns ``("chol", L)`` (lower Cholesky factors), ``("dense", H)`` (small numpy matrices,
    positive definite, each solve a stacked LU solve) or, where some matrix is not numerically
    positive definite, ``("lu", H)``. numpy batches run
    one LAPACK ``potrf`` per matrix: 2-3x faster than numpy's stacked Cholesky for the small
    matrices of many-problem fits.
    """
    name = library_name(H)
    n = H.shape[-1]
    if name == "numpy" and n < _LAPACK_LOOP_MIN:
        # many tiny matrices (all-prefix fits): numpy's stacked LU beats a Python loop per matrix
        try:
            np.linalg.cholesky(H)  # positive definiteness only
        except np.linalg.LinAlgError:
            return "lu", H
        return "dense", H
    if name == "numpy":
        from scipy.linalg import lapack

        L = np.array(np.reshape(H, (-1, n, n)), order="C", copy=True)
        (potrf,) = lapack.get_lapack_funcs(("potrf",), (L,))
        for i in range(L.shape[0]):
            # L[i].T is a column-major view of the symmetric H[i]: factorised in place, no copies
            if potrf(L[i].T, lower=1, clean=0, overwrite_a=1)[1] != 0:
                return "lu", H
        return "chol", L
    if name == "torch":
        import torch

        L, info = torch.linalg.cholesky_ex(H)
        return ("lu", H) if bool(torch.any(info != 0)) else ("chol", L)
    L = xp.linalg.cholesky(H)
    return ("chol", L) if bool(xp.all(xp.isfinite(L))) else ("lu", H)


def _solve_factored(xp, F, g):
    """:math:`H^{-1} g` for g (..., n) from :func:`_factor`'s ``F``, in g's dtype."""
    kind, M = F
    gm = xp.astype(g, M.dtype)
    if kind in ("lu", "dense"):
        return xp.astype(solve(xp, M, gm), g.dtype)
    name = library_name(M)
    if name == "numpy":
        from scipy.linalg import lapack

        (potrs,) = lapack.get_lapack_funcs(("potrs",), (M,))
        out = np.array(np.reshape(gm, (-1, M.shape[-1])), order="C", copy=True)
        for i in range(out.shape[0]):
            potrs(M[i].T, out[i], lower=1, overwrite_b=1)
        return np.reshape(out, g.shape).astype(g.dtype, copy=False)
    if name == "torch":
        import torch

        return torch.cholesky_solve(gm[..., None], M)[..., 0].to(g.dtype)
    import jax.scipy.linalg as jsl

    return xp.astype(jsl.cho_solve((M, True), gm[..., None])[..., 0], g.dtype)


@jax_jit("binary")
def _line_newton(xp, z, dz, Yk, s, theta, step, lam, t, binary):
    """One Newton update of the step length t on the convex phi(t) = objective(theta + t step).

    phi' and phi'' need only the logits z + t dz (no pass over X); the result is clipped to
    [1/16, 16] and left unchanged where phi'' = 0 (a zero step).
    """
    zt = z + t[..., None, None] * dz
    if binary:
        p = xp.exp(-softplus(xp, -zt[..., 0]))
        d1 = xp.sum(s * (p - Yk[..., 0]) * dz[..., 0], axis=-1)
        d2 = xp.sum(s * p * (1.0 - p) * dz[..., 0] ** 2, axis=-1)
    else:
        P = xp.exp(zt - logsumexp(xp, zt, axis=-1, keepdims=True))
        sP = s[..., None] * P
        d1 = xp.sum(sP * dz - s[..., None] * Yk * dz, axis=(-2, -1))
        d2 = xp.sum(sP * dz**2, axis=(-2, -1)) - xp.sum(s * xp.sum(P * dz, axis=-1) ** 2, axis=-1)
    lstep = lam * step
    quad = xp.sum(lstep * step, axis=(-2, -1))
    d1 = d1 + xp.sum(lstep * theta, axis=(-2, -1)) + t * quad
    d2 = d2 + quad
    safe = d2 > 0
    t_new = t - d1 / xp.where(safe, d2, xp.ones_like(d2))
    return xp.where(safe, xp.clip(t_new, 1.0 / 16, 16.0), t)


@jax_jit("binary")
def _armijo(xp, z, dz, Yk, s, theta, lam, step, t, f0, slope, active, *, binary):
    """Objective at theta + t step and whether it decreases enough (Armijo, with a rounding allowance)."""
    f1 = _objective(xp, z + t[..., None, None] * dz, Yk, s, theta + t[..., None, None] * step, lam, binary)
    eps = xp.finfo(theta.dtype).eps
    return f1, (f1 <= f0 + 1e-4 * t * slope + 16 * eps * xp.abs(f0)) | ~active


@jax_jit()
def _accept(xp, theta, z, step, dz, t, f0, f1, active):
    """Move the active problems; return theta, logits, objective, relative size of the move."""
    t_active = xp.where(active, t, xp.zeros_like(t))[..., None, None]
    theta, z = theta + t_active * step, z + t_active * dz
    return theta, z, xp.where(active, f1, f0), _relative(xp, xp.maximum(t, xp.ones_like(t)), step, theta)


def _relative(xp, t, step, theta):
    """max|t step| / max(1, max|theta|) per problem: the stopping test's step size."""
    scale = xp.maximum(xp.max(xp.abs(theta), axis=(-2, -1)), xp.ones_like(t))
    return t * xp.max(xp.abs(step), axis=(-2, -1)) / scale


# A chord step (the last factorised Hessian reused) is taken when it is at most this fraction of
# the previous step for every active problem: the iteration then contracts at least 20x per pass
# and a fresh Hessian (a batched X^T W X and a factorisation, ~4 passes' worth) is not needed.
_CHORD_RATIO = 0.05
# Steps (relative, as the stopping test) below which the passes over X leave low precision.
_EARLY_STEP = 1e-2
# Largest feature size (absolute) whose Hessian and early passes may run in a lower precision.
_LOW_MAX = 2.0**26


def _newton(
    xp, X, Yk, s, C, *, binary, penalize_intercept, tol, max_iter, fn,
    hessian_dtype=None, fallback=False, unit_weights=False,
):  # fmt: skip
    """Minimise the objective for every problem; returns theta (..., K, d+1).

    Each iteration costs two passes over X (the gradient, and the logits' change X step^T; the
    logits are updated, never recomputed) plus, when the chord test fails, a Hessian and its
    factorisation. The step length comes from two 1-D Newton updates on the logits (early
    Newton steps on logistic losses are too short: t ~ 1.5-2) checked by an Armijo test, with
    backtracking from t = 1 where it fails; the line search keeps every step a descent step.

    ``hessian_dtype``: the precision of the Hessian and its factorisation (``None``: X's). With
    ``fallback``, a lower precision is given up for X's when its Hessian is not numerically
    positive definite, when a fresh Newton step fails to halve the previous small step (the
    inexact Hessian no longer drives convergence), or after 8 fresh Hessians.

    Converged problems are frozen; where no array broadcasts over the problems, they are also
    dropped from the working set once at most half of it is still active, so the last
    iterations touch only the problems that need them.
    """
    out_shape = None
    if X.ndim > 2 and tuple(X.shape[:-2]) == tuple(Yk.shape[:-2]) == tuple(s.shape[:-1]):
        out_shape = tuple(X.shape[:-2])  # one flat axis of independent problems: compactable
        X, Yk, s = (xp.reshape(a, (-1, *a.shape[len(out_shape) :])) for a in (X, Yk, s))
    d1 = X.shape[-1] + 1
    K = 1 if binary else Yk.shape[-1]
    lam_vals = [1.0 / C] * (d1 - 1) + [1.0 / C if penalize_intercept else 0.0]
    device = getattr(X, "device", None)
    lam = xp.asarray(lam_vals, dtype=X.dtype, device=device)
    batch = tuple(xp.broadcast_arrays(X[..., 0, 0], s[..., 0])[0].shape)
    theta = xp.zeros((*batch, K, d1), dtype=X.dtype, device=device)
    active = xp.ones(batch, dtype=xp.bool, device=device)
    fix_intercept = (not binary) and (not penalize_intercept)
    tol = max(tol, math.sqrt(float(xp.finfo(X.dtype).eps)))  # float32 steps cannot shrink much below this
    z = xp.zeros((*batch, X.shape[-2], K), dtype=X.dtype, device=device)  # logits at theta = 0
    f0 = _objective(xp, z, Yk, s, theta, lam, binary)
    low = hessian_dtype is not None and hessian_dtype != X.dtype
    F, last, work, n_fresh = None, None, {}, 0
    # far from the minimiser the passes over X need no more precision than the Hessian: until
    # every step is below _EARLY_STEP they use the low-precision [X, 1] (half the memory traffic);
    # then the logits are recomputed in X's precision, and the gradient stays there
    early, switched = low, 0
    Xh = _augment(xp, X, hessian_dtype) if low else None
    if low and not bool(xp.all(xp.abs(Xh) <= _LOW_MAX)):
        # features beyond 2**26 in size: their products overflow (or their small entries vanish)
        # in float32, a silent NaN; such data runs in X's precision throughout
        low, early, Xh = False, False, None
    if out_shape is not None:
        idx = xp.arange(batch[0], device=device)  # the working set's positions among all problems
        done_idx, done_theta = [], []

    def result(theta):
        if out_shape is None:
            return theta
        order = xp.argsort(xp.concat([*done_idx, idx]))
        full = xp.take(xp.concat([*done_theta, theta], axis=0), order, axis=0)
        return xp.reshape(full, (*out_shape, K, d1))

    t_far = True  # whether the last step length was far from 1 (the first one always is)
    for it in range(max_iter):
        n_active = int(xp.sum(xp.astype(active, xp.int64)))
        if out_shape is not None and not early and batch[0] >= 16 and 2 * n_active <= batch[0]:
            keep, drop = xp.nonzero(active)[0], xp.nonzero(~active)[0]
            done_idx.append(xp.take(idx, drop, axis=0))
            done_theta.append(xp.take(theta, drop, axis=0))
            X, Yk, s, theta, z, f0, last, active, idx = (
                xp.take(a, keep, axis=0) for a in (X, Yk, s, theta, z, f0, last, active, idx)
            )
            Xh = None if Xh is None else xp.take(Xh, keep, axis=0)
            F = None if F is None else (F[0], xp.take(F[1], keep, axis=0))
            batch, work = (n_active,), {}
        if early:
            g, P = _gradient_low(xp, Xh, z, Yk, s, theta, lam, binary=binary)
        else:
            g, P = _gradient(xp, X, z, Yk, s, theta, lam, binary=binary)
        g_flat = xp.reshape(g, (*batch, K * d1))
        step = None
        if F is not None and bool(xp.all(~active | (last <= _CHORD_RATIO))):
            # chord step: reuse the last factorisation where it contracts fast enough (tried only
            # after a small step: the Hessian then changed little since it was formed)
            step = -_solve_factored(xp, F, g_flat)
            chord = _relative(xp, xp.ones_like(f0), xp.reshape(step, theta.shape), theta)
            if bool(xp.any(active & (chord > _CHORD_RATIO * last))):
                step = None
        fresh = step is None
        if fresh:
            at_zero = it == 0 and unit_weights
            for _precision in range(3):
                if Xh is None:
                    Xh = _augment(xp, X, hessian_dtype if low else X.dtype)
                H = _hessian(xp, Xh, P, s, lam, binary=binary, fix_intercept=fix_intercept, at_zero=at_zero, work=work)
                F = _factor(xp, H)
                if F[0] != "lu":
                    break
                if fallback and low:
                    low, Xh, work = False, None, {}  # not positive definite in low precision: use X's
                elif Xh.dtype == xp.float32 and not early:
                    # float32 data whose Hessian is not positive definite in float32 (the penalty rounded
                    # away beside entries of size 1e8): this and later Hessians are formed in float64
                    Xh, work = _augment(xp, X, xp.float64), {}
                else:
                    break
            step = -_solve_factored(xp, F, g_flat)
            n_fresh += 1
        step = xp.reshape(step, theta.shape)  # (..., K, d+1)
        if fix_intercept:  # keep sum_c b_c = 0 exactly
            step_b = step[..., -1] - xp.mean(step[..., -1], axis=-1, keepdims=True)
            step = xp.concat([step[..., :-1], step_b[..., None]], axis=-1)
        if early:  # the logits' change per unit step: the iteration's second pass
            dz = xp.astype(Xh @ _mT(xp.astype(step, Xh.dtype)), X.dtype)
        else:
            dz = _scores(xp, X, step)
        slope = xp.sum(g * step, axis=(-2, -1))
        t = xp.ones_like(f0)
        if t_far:
            # 1-D Newton on the step length while the last steps were far from full ones (the first
            # Newton steps on a logistic loss are too short: t ~ 1.5-2); near the minimiser t = 1
            t = _line_newton(xp, z, dz, Yk, s, theta, step, lam, t, binary=binary)
            if bool(xp.any(active & (xp.abs(t - 1.0) > 1e-2))):  # far from a full step: refine once more
                t = _line_newton(xp, z, dz, Yk, s, theta, step, lam, t, binary=binary)
        f1, ok = _armijo(xp, z, dz, Yk, s, theta, lam, step, t, f0, slope, active, binary=binary)
        if not bool(xp.all(ok)):  # backtracking from t = 1 where the 1-D Newton length fails
            t = xp.where(ok, t, xp.ones_like(t))
            for _ls in range(40):
                f1, ok = _armijo(xp, z, dz, Yk, s, theta, lam, step, t, f0, slope, active, binary=binary)
                if bool(xp.all(ok)):
                    break
                t = xp.where(ok, t, 0.5 * t)
        prev, t_far = last, bool(xp.any(active & (xp.abs(t - 1.0) > 0.05)))
        theta, z, f0, last = _accept(xp, theta, z, step, dz, t, f0, f1, active)
        if fallback and low and fresh and it - switched >= 2:  # prev from a step in X's precision
            stalled = active & (prev < 1e-2) & (last > 0.5 * prev)
            if n_fresh >= 8 or bool(xp.any(stalled)):
                low, Xh, work, F = False, None, {}, None  # the next Hessians in X's precision
        if early:  # a step from a low-precision gradient: no problem converges on it
            if not low or not bool(xp.any(active & (last > _EARLY_STEP))):
                early, switched = False, it  # from here on every pass in X's precision, from exact logits
                z = _scores(xp, X, theta)
                f0 = _objective(xp, z, Yk, s, theta, lam, binary)
            continue
        active = active & (last > tol)
        if not bool(xp.any(active)):
            return result(theta)
    last_step = last
    n_bad = int(xp.sum(xp.astype(active, xp.int64)))
    worst = float(xp.max(xp.where(active, last_step, xp.zeros_like(last_step))))
    total = (math.prod(out_shape) if out_shape is not None else math.prod(batch)) if batch else 1
    warnings.warn(
        f"{fn}: Newton did not converge in max_iter={max_iter} iterations for {n_bad} of {total} problem(s) "
        f"(largest relative last step {worst:.2e} > tol={tol:g}); increase max_iter, decrease C "
        "(a stronger penalty), or standardise the features",
        RuntimeWarning,
        stacklevel=3,
    )
    return result(theta)


def _augment(xp, X, dtype=None):
    """[X, 1] (..., m, d+1) in ``dtype`` (default X's): the inputs with the intercept's column."""
    dtype = X.dtype if dtype is None else dtype
    if library_name(X) in ("numpy", "torch"):  # one pass: fill a preallocated array
        Xa = xp.empty((*X.shape[:-1], X.shape[-1] + 1), dtype=dtype, device=getattr(X, "device", None))
        Xa[..., :-1] = X
        Xa[..., -1] = 1
        return Xa
    ones = xp.ones((*X.shape[:-1], 1), dtype=dtype, device=getattr(X, "device", None))
    return xp.concat([xp.astype(X, dtype), ones], axis=-1)
