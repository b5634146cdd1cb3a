"""Batched trust-region Newton-CG for binary logistic regression: no Hessian is ever formed.

Minimises the same mean-scaled objective as :mod:`estimators.classify._newton`,

.. math::
    f(\\theta) = \\frac{1}{S}\\Big(\\sum_i s_i\\,\\ell\\big(y_i, [x_i; 1]^\\top\\theta\\big)
    + \\frac{1}{2}\\theta^\\top \\Lambda \\theta\\Big),

for many independent binary problems at once, by the trust-region Newton method of Lin, Weng &
Keerthi (2008), "Trust region Newton method for large-scale logistic regression", JMLR 9,
section 2 (the solver of LIBLINEAR). Each outer iteration solves
:math:`\\min_s g^\\top s + \\tfrac12 s^\\top H s` subject to :math:`\\lVert s\\rVert_M \\le \\Delta` by
preconditioned conjugate gradients (Steihaug's truncation at the boundary; Nocedal & Wright,
*Numerical Optimization*, 2006, algorithm 7.2), where every Hessian-vector product

.. math::
    H p = \\frac{1}{S}\\big([X,1]^\\top \\operatorname{diag}(s\\,\\sigma(z)(1-\\sigma(z)))\\,[X,1]\\,p
    + \\Lambda p\\big)

is two passes over X, and the preconditioner is the Hessian at :math:`\\theta = 0`,
:math:`M = ([X,1]^\\top \\operatorname{diag}(s/4) [X,1] + \\Lambda)/S`, formed and inverted once.
Since :math:`\\sigma(1-\\sigma) \\le 1/4`, :math:`H \\preceq M`: the eigenvalues of :math:`M^{-1}H`
lie in (0, 1], the first step from zero (unit weights) is the exact Newton step, and CG then
needs a few products per step. The preconditioner is applied as a product with its explicit
inverse (a batched matrix product; any symmetric positive-definite M keeps CG exact, so its
rounding does not reach the solution). The trust radius, its update (with LIBLINEAR's
interpolation) and the convergence masks are per problem.

Costs and precision. The passes over X dominate (a Hessian :math:`[X,1]^\\top W [X,1]` costs
about d passes' worth). Problems are solved in chunks whose float32 copy of [X, 1] stays in the
last-level cache (about 3x faster passes than streaming from memory), and, for float64 data,
the passes use that float32 copy while steps are large; then the logits are recomputed in
float64 and the gradient stays in float64 (the Hessian-vector products stay float32: an
inexact Newton method, Nocedal & Wright, 7.1). Features beyond 2**26 in size (whose Gram
overflows or loses its small entries in float32) and preconditioners that are not positive
definite in float32 use float64 throughout. Stopping: a problem stops when an accepted step
moves the logits by at most ``tol`` (root mean square, relative to max(1, the logits' root
mean square)), i.e. :math:`\\lVert s\\rVert_M \\le tol \\max(1, \\lVert\\theta\\rVert_M)` up to the
factor 2 of M's 1/4, a test that does not depend on the features' scale.

Multinomial problems, all-prefix fits and jax arrays use :mod:`estimators.classify._newton`
(see :func:`estimators.logistic_fit` for the automatic choice).

Examples
--------
>>> import numpy as np
>>> X = np.array([[[-2.0], [-1.0], [1.0], [2.0]]]); y = np.array([[0.0, 1.0, 0.0, 1.0]])
>>> theta = _newton_cg(np, X, y, np.ones((1, 4)), 1.0, penalize_intercept=False, tol=1e-10,
...                    max_iter=50, fn="demo", low_dtype=np.float32, unit_weights=True)
>>> theta.round(4)  # [coef, intercept], as logistic_fit's example
array([[[0.2905, 0.    ]]])
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..validation import library_name, matrix_transpose as _mT, solve_triangular
from ._base import softplus
from ._newton import _LOW_MAX, _add_diagonal, _augment, _norm, _weighted_gram

__all__: list[str] = []

# Bytes of the float32 [X, 1] of one chunk of problems: small enough to stay in a shared
# 32 MB last-level cache across the conjugate-gradient passes.
_CHUNK_BYTES = 6 * 2**20
# Relative steps below which the passes over X leave float32 (as in _newton).
_EARLY_STEP = 1e-2
# LIBLINEAR's trust-region constants (Lin, Weng & Keerthi 2008, section 2.1).
_ETA0, _ETA1, _ETA2 = 1e-4, 0.25, 0.75
_SIGMA1, _SIGMA2, _SIGMA3 = 0.25, 0.5, 4.0


def _sigmoid(xp, z):
    """1 / (1 + exp(-z)) as (1 + tanh(z / 2)) / 2: one transcendental, no overflow."""
    return 0.5 + 0.5 * xp.tanh(0.5 * z)


def _matvec(xp, A, v):
    """A v for A (b, m, n) and v (b, n): (b, m)."""
    if library_name(A) == "torch":  # torch's bmm with one column is slow; one row is not
        return (v[:, None, :] @ _mT(A))[:, 0, :]
    return (A @ v[..., None])[..., 0]


def _rmatvec(xp, A, r):
    """A^T r for A (b, m, n) and r (b, m): (b, n)."""
    return (r[:, None, :] @ A)[:, 0, :]


def _dot(xp, a, b):
    return xp.sum(a * b, axis=-1)


def _preconditioner_inverse(xp, Xh, s, lam, S, unit_weights):
    """:math:`M^{-1}` (b, d+1, d+1) in Xh's dtype, or None where M is not numerically positive definite.

    M is scaled to unit diagonal before its Cholesky factorisation (Jacobi scaling), so badly
    scaled features do not make it look singular.
    """
    dtype = Xh.dtype
    if unit_weights:
        G = _mT(Xh) @ Xh
    else:
        G = _weighted_gram(xp, Xh, xp.astype(s[..., None], dtype), None)
    M = _add_diagonal(xp, G * 0.25, xp.astype(lam, dtype))  # (b, d1, d1); the 1/S is applied outside
    diag = xp.linalg.diagonal(M)
    if not bool(xp.all(xp.isfinite(diag) & (diag > 0))):
        return None
    r = 1.0 / xp.sqrt(diag)
    Ms = M * r[..., :, None] * r[..., None, :]
    name = library_name(M)
    if name == "torch":
        import torch

        L, info = torch.linalg.cholesky_ex(Ms)
        if bool(torch.any(info != 0)):
            return None
        Minv = torch.cholesky_inverse(L)
    else:
        try:
            L = np.linalg.cholesky(Ms)
        except np.linalg.LinAlgError:
            return None
        eye = np.broadcast_to(np.eye(M.shape[-1], dtype=dtype), M.shape)
        Linv = solve_triangular(xp, L, eye, lower=True)
        Minv = _mT(Linv) @ Linv
    Minv = Minv * r[..., :, None] * r[..., None, :]
    if not bool(xp.all(xp.isfinite(Minv))):
        return None
    return Minv * xp.astype(S, dtype)[:, None, None]  # the inverse of M / S


def _low_ok(xp, Xh):
    """Whether a float32 copy of the features can carry the passes and the preconditioner."""
    return bool(xp.all(xp.abs(Xh) <= _LOW_MAX))  # also False on NaN and inf


def _newton_cg(xp, X, y, s, C, *, penalize_intercept, tol, max_iter, fn, low_dtype=None, unit_weights=False):
    """Minimise the binary objective for problems X (B, m, d), targets y (B, m) in {0, 1}, weights s (B, m).

    Returns theta (B, 1, d+1) (last column: the intercept). ``low_dtype``: the precision of the
    passes over X while steps are large and of the conjugate-gradient products (None: X's).
    """
    if library_name(X) == "numpy" and hasattr(np, "astype") and hasattr(np, "concat"):
        xp = np  # numpy >= 2.1 has every function used here; its own namespace skips the compat wrappers
    B, m, d = X.shape
    d1 = d + 1
    lam_vals = [1.0 / C] * d + [1.0 / C if penalize_intercept else 0.0]
    device = getattr(X, "device", None)
    lam = xp.asarray(lam_vals, dtype=X.dtype, device=device)
    itemsize = 4 if low_dtype is not None else X.dtype.itemsize if hasattr(X.dtype, "itemsize") else 8
    chunk = max(1, _CHUNK_BYTES // (m * d1 * itemsize))
    if library_name(X) == "torch" and X.device.type != "cpu":
        chunk = B  # the cache argument is a CPU one: an accelerator takes every problem at once
    tol = max(tol, math.sqrt(float(xp.finfo(X.dtype).eps)))
    parts, n_bad, worst = [], 0, 0.0
    for start in range(0, B, chunk):
        sl = slice(start, min(B, start + chunk))
        theta, bad, last = _solve_chunk(
            xp, X[sl], y[sl], s[sl], lam, tol, max_iter, low_dtype, unit_weights
        )
        parts.append(theta)
        n_bad += bad
        worst = max(worst, last)
    if n_bad:
        warnings.warn(
            f"{fn}: trust-region Newton-CG did not converge in max_iter={max_iter} iterations for {n_bad} of {B} "
            f"problem(s) (largest relative last step {worst:.2e} > tol={tol:g}); increase max_iter, decrease C "
            "(a stronger penalty), or standardise the features",
            RuntimeWarning,
            stacklevel=3,
        )
    return xp.concat(parts, axis=0)[:, None, :]


def _objective(xp, z, y, s, theta, lam, S):
    """Mean-scaled penalised log-loss (b,) from the logits z (b, m)."""
    return (xp.sum(s * (softplus(xp, z) - y * z), axis=-1) + 0.5 * xp.sum(lam * theta**2, axis=-1)) / S


def _line_length(xp, z, dz, y, s, theta, step, lam, t):
    """One Newton update of t >= 1 on the convex phi(t) = S f(theta + t step), from the logits z + t dz."""
    zt = z + t[:, None] * dz
    p = _sigmoid(xp, zt)
    lstep = lam * step
    quad = xp.sum(lstep * step, axis=-1)
    d1 = xp.sum(s * (p - y) * dz, axis=-1) + xp.sum(lstep * theta, axis=-1) + t * quad
    d2 = xp.sum(s * p * (1.0 - p) * dz**2, axis=-1) + quad
    safe = d2 > 0
    t_new = t - d1 / xp.where(safe, d2, xp.ones_like(d2))
    return xp.where(safe, xp.clip(t_new, 1.0, 16.0), t)


def _solve_chunk(xp, X, y, s, lam, tol, max_iter, low_dtype, unit_weights):
    """One chunk of problems; returns theta (b, d+1), the number unconverged and their largest step."""
    b, m, d = X.shape
    dtype, device = X.dtype, getattr(X, "device", None)
    S = _norm(xp, s)  # (b,)
    Xh, Minv = None, None
    if low_dtype is not None:
        Xh = _augment(xp, X, low_dtype)
        if _low_ok(xp, Xh):
            Minv = _preconditioner_inverse(xp, Xh, s, lam, S, unit_weights)
    if Minv is None:  # float64 throughout: the features' scale, or an indefinite float32 preconditioner
        Xh = _augment(xp, X)
        Minv = _preconditioner_inverse(xp, Xh, s, lam, S, unit_weights)
        if Minv is None:
            raise ValueError(
                "logistic_fit: the features have non-finite or degenerate second moments; standardise the features"
            )
    wd = Xh.dtype
    low = wd != dtype
    lam_w = xp.astype(lam, wd)
    S_w = xp.astype(S, wd)
    s_w = xp.astype(s, wd)

    theta = xp.zeros((b, d + 1), dtype=dtype, device=device)
    z = xp.zeros((b, m), dtype=dtype, device=device)
    f = _objective(xp, z, y, s, theta, lam, S)
    active = xp.ones((b,), dtype=xp.bool, device=device)
    delta = None
    early, switched = low, 0
    last = xp.full((b,), float("inf"), dtype=dtype, device=device)

    def precondition(r):
        return xp.astype(_matvec(xp, Minv, xp.astype(r, wd)), dtype)

    scale = xp.ones((b,), dtype=dtype, device=device)  # max(1, ||theta||_M)
    ray = xp.ones((b,), dtype=dtype, device=device)  # estimate of lambda_min(M^-1 H) (<= 1 for M0)
    refreshed = False
    for it in range(max_iter):
        p_prob = _sigmoid(xp, z)  # (b, m)
        res = s * (p_prob - y)
        if low and not early and it > switched:
            # float64 logits again: X s came from float32 products, whose rounding would otherwise
            # build up in z and move the minimiser (by about cond(H) * 6e-8 * |X s|)
            z = _matvec(xp, X, theta[:, :-1]) + theta[:, -1:]
            f = _objective(xp, z, y, s, theta, lam, S)
            p_prob = _sigmoid(xp, z)
            res = s * (p_prob - y)
        if early or not low:
            gX = _rmatvec(xp, Xh, xp.astype(res, wd))
            g = xp.astype(gX, dtype)
        else:  # float64 gradient from the data itself, the intercept's column added
            g = xp.concat([_rmatvec(xp, X, res), xp.sum(res, axis=-1)[:, None]], axis=-1)
        g = (g + lam * theta) / S[:, None]
        w = xp.astype(s * p_prob * (1.0 - p_prob), wd)  # (b, m) Hessian weights

        # Steihaug-Toint preconditioned CG on the model g^T s + s^T H s / 2, ||s||_M <= delta
        r = -g
        v = precondition(r)
        rv = _dot(xp, r, v)  # ||g||^2 in M^{-1}
        gnorm = xp.sqrt(xp.maximum(rv, xp.zeros_like(rv)))
        if delta is None:  # no radius until a step fails the ratio test (see the module docstring)
            delta = xp.full_like(gnorm, float("inf"))
        # forcing term: superlinear (Eisenstat & Walker), with a floor where the step's error is
        # already far below the stopping test's tol: ||s_exact - s||_M <= ||r||_{M^-1} / lambda_min,
        # lambda_min of M^-1 H estimated by the smallest Rayleigh quotient p^T H p / p^T M p seen
        eta_abs = xp.maximum(xp.minimum(xp.full_like(gnorm, 0.1), xp.sqrt(gnorm)) * gnorm, 1e-2 * tol * scale * ray)
        step = xp.zeros_like(theta)
        Xs = xp.zeros_like(z)
        pvec = v
        sMs, sMp, pMp = xp.zeros_like(rv), xp.zeros_like(rv), rv
        cg = active & (rv > 0)
        for _cg in range(max(d + 1, 10)):
            if not bool(xp.any(cg)):
                break
            u = _matvec(xp, Xh, xp.astype(pvec, wd))  # (b, m): X p, first pass
            q = xp.astype(_rmatvec(xp, Xh, w * u) + lam_w * xp.astype(pvec, wd), dtype) / S[:, None]
            kappa = _dot(xp, pvec, q)
            ray = xp.where(cg & (pMp > 0), xp.minimum(ray, kappa / xp.where(pMp > 0, pMp, xp.ones_like(pMp))), ray)
            pos = kappa > 0
            alpha = xp.where(pos & cg, rv / xp.where(pos, kappa, xp.ones_like(kappa)), xp.zeros_like(rv))
            sMs_new = sMs + 2 * alpha * sMp + alpha**2 * pMp
            hit = cg & (~pos | (sMs_new >= delta**2))
            disc = xp.maximum(sMp**2 + pMp * (delta**2 - sMs), xp.zeros_like(sMs))
            tau = (-sMp + xp.sqrt(disc)) / xp.where(pMp > 0, pMp, xp.ones_like(pMp))
            coef = xp.where(hit, tau, alpha)  # 0 for the problems CG is done with
            step = step + coef[:, None] * pvec
            Xs = Xs + coef[:, None] * xp.astype(u, dtype)
            r = r - coef[:, None] * q
            sMs = xp.where(hit, delta**2, sMs_new)
            v_new = precondition(r)
            rv_new = _dot(xp, r, v_new)
            converged = rv_new <= eta_abs**2
            cg = cg & ~hit & ~converged
            beta = xp.where(cg, rv_new / xp.where(rv > 0, rv, xp.ones_like(rv)), xp.zeros_like(rv))
            sMp = beta * (sMp + alpha * pMp)
            pMp = rv_new + beta**2 * pMp
            pvec = v_new + beta[:, None] * pvec
            rv = rv_new

        # the trust-region test: actual against predicted decrease (no pass: the logits move by X s)
        gs = _dot(xp, g, step)
        sHs = -_dot(xp, step, r) - gs  # H s = -r - g
        f_new = _objective(xp, z + Xs, y, s, theta + step, lam, S)
        # early Newton steps on a logistic loss are too short: two 1-D Newton updates of a length
        # t >= 1 along s on the logits alone (no pass), kept where they lower the objective
        t = xp.ones_like(f)
        if early or not low:  # near the minimiser (float64 phase) full steps are right: t = 1
            t = _line_length(xp, z, Xs, y, s, theta, step, lam, t)
            t = _line_length(xp, z, Xs, y, s, theta, step, lam, t)
            f_t = _objective(xp, z + t[:, None] * Xs, y, s, theta + t[:, None] * step, lam, S)
            t = xp.where(f_t < f_new, t, xp.ones_like(t))
            f_new = xp.minimum(f_t, f_new)
        step, Xs, sMs = t[:, None] * step, t[:, None] * Xs, t**2 * sMs
        gs, pred = t * gs, -(t * gs + 0.5 * t**2 * sHs)
        theta_new, z_new = theta + step, z + Xs
        actual = f - f_new
        eps = float(xp.finfo(dtype).eps)
        accept = active & ((actual > _ETA0 * pred) | (xp.abs(actual) <= 16 * eps * xp.abs(f)))
        snorm = xp.sqrt(xp.maximum(sMs, xp.zeros_like(sMs)))
        # LIBLINEAR's update of the radius, with the interpolated alpha
        curv = f_new - f - gs
        a = xp.where(curv <= 0, xp.full_like(f, _SIGMA3),
                     xp.maximum(xp.full_like(f, _SIGMA1), -0.5 * gs / xp.where(curv > 0, curv, xp.ones_like(curv))))  # fmt: skip
        ratio = actual / xp.where(pred > 0, pred, xp.ones_like(pred))
        d_low = xp.minimum(xp.maximum(a, xp.full_like(a, _SIGMA1)) * snorm, _SIGMA2 * delta)
        d_mid = xp.maximum(_SIGMA1 * delta, xp.minimum(a * snorm, _SIGMA2 * delta))
        d_hi = xp.maximum(_SIGMA1 * delta, xp.minimum(a * snorm, _SIGMA3 * delta))
        d_top = xp.maximum(delta, xp.minimum(a * snorm, _SIGMA3 * delta))
        new_delta = xp.where(ratio < _ETA0, d_low, xp.where(ratio < _ETA1, d_mid, xp.where(ratio < _ETA2, d_hi, d_top)))
        delta = xp.where(active, new_delta, delta)
        acc = accept[:, None]
        theta = xp.where(acc, theta_new, theta)
        z = xp.where(acc, z_new, z)
        f = xp.where(accept, f_new, f)
        # the stopping test: the logits' move ||s||_M0 relative to max(1, ||theta||_M0), in the norm
        # of the Hessian at zero M0: ||v||_M0^2 = (sum_i s_i (X v)_i^2 / 4 + v^T Lambda v) / S
        tMt = (xp.sum(s * z**2, axis=-1) * 0.25 + xp.sum(lam * theta**2, axis=-1)) / S
        sMs0 = (xp.sum(s * Xs**2, axis=-1) * 0.25 + xp.sum(lam * step**2, axis=-1)) / S
        scale = xp.maximum(xp.sqrt(tMt), xp.ones_like(f))
        last = xp.where(accept, xp.sqrt(sMs0) / scale, last)
        near = not bool(xp.any(active & (last > _EARLY_STEP)))
        if near and not refreshed:
            # close to the minimiser the Hessian changes little: the preconditioner becomes the
            # Hessian here (one weighted Gram, inverted once), so the last CG solves take few steps
            if early:
                early, switched = False, it + 1  # from here the gradient and the logits are float64
                z = _matvec(xp, X, theta[:, :-1]) + theta[:, -1:]
                f = _objective(xp, z, y, s, theta, lam, S)
            p_now = _sigmoid(xp, z)
            M_new = _preconditioner_inverse(xp, Xh, 4.0 * s * p_now * (1.0 - p_now), lam, S, False)
            if M_new is not None:
                Minv, ray = M_new, xp.ones_like(ray)
            refreshed = True
            if low:
                continue
        if early:
            continue
        active = active & ~(accept & (last <= tol))
        if not bool(xp.any(active)):
            return theta, 0, 0.0
    n_bad = int(xp.sum(xp.astype(active, xp.int64)))
    worst = float(xp.max(xp.where(active, last, xp.zeros_like(last))))
    return theta, n_bad, worst

