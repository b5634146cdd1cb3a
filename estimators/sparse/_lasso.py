"""Lasso in Gram form: single fits, all prefixes, the objective and the duality-gap certificate.

The sweep over prefixes and the certificates live here; the active-set solver is
:mod:`._feature_sign` and the iterative fallback :mod:`._iterative`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import array_api_compat
import array_api_compat.numpy as np_xp
import numpy as np

from ..validation import check_array, check_fit_data, check_int, check_nonnegative, check_positive, check_prompt, namespace
from ..validation import to_numpy
from ._feature_sign import feature_sign_fits, feature_sign_prefixes
from ._iterative import _gap, gap_from_gradient, iterative_lasso

__all__ = ["lasso", "lasso_prefixes", "lasso_objective", "lasso_weights_prefixes"]


def _matvec(A, v):
    return (A @ v[..., None])[..., 0]


def _to_float64(a):
    """A float64 numpy copy (the solvers run in numpy float64: a float32 duality gap cancels too
    badly to certify, and the active-set events update a few rows in place)."""
    return np.array(to_numpy(a), dtype=np.float64)


def _like(xp, a, like):
    """``a`` (numpy) as an array of ``like``'s library, dtype and device."""
    return xp.asarray(a, dtype=like.dtype, device=array_api_compat.device(like))


def _gap_threshold(tol, yy):
    """Per-problem duality-gap threshold ``tol * ||y||^2`` (scikit-learn's rule)."""
    return tol * np.maximum(yy, 1e-30)


def _finish(G, c, yy, k, a, w, solved, tol, max_iter, fn):
    """Certify feature-sign answers by their duality gap; finish the others iteratively (numpy)."""
    thresh = _gap_threshold(tol, yy)
    certified = solved & ((_gap(np_xp, G, c, yy, k, a, w) <= thresh) | (k == 0))
    if certified.all():
        return w
    rest = np.flatnonzero(~certified)
    w = w.copy()
    w[rest], unconverged = iterative_lasso(np_xp, G[rest], c[rest], yy[rest], k[rest], a[rest], thresh[rest], max_iter)
    if unconverged:
        warnings.warn(
            f"{fn}: {unconverged} problem(s) did not reach the duality-gap tolerance {tol} in "
            f"max_iter={max_iter} iterations; increase max_iter or tol",
            RuntimeWarning,
            stacklevel=4,
        )
    return w


def _exponent(a: np.ndarray) -> int:
    """e with max |a| in [2^(e-1), 2^e) (0 for an all-zero array): dividing by 2^e is exact."""
    top = float(np.max(np.abs(a))) if a.size else 0.0
    return math.frexp(top)[1] if top > 0 else 0


def _rescaled(X: np.ndarray, y: np.ndarray, alpha: float, fn: str):
    """Data of unit scale and the matching penalty: ``(X / t, y / s, alpha / (s t), log2 t, log2 s)``.

    The lasso is scale-equivariant: with ``w = (s / t) v``,
    ``(1/2k)||y - Xw||^2 + alpha ||w||_1 = s^2 [(1/2k)||y/s - (X/t) v||^2 + alpha / (s t) ||v||_1]``,
    so ``lasso(X, y, alpha) = (s / t) lasso(X / t, y / s, alpha / (s t))``. ``t`` and ``s`` are the
    powers of two nearest above max |X| and max |y| over the whole call, so the rescaling is exact
    (bit-identical answers at ordinary scales) and data of scale 1e-300..1e300 is solved at scale 1
    (at 1e300 the Gram matrix would overflow and the solver stall).
    """
    eX, ey = _exponent(X), _exponent(y)
    # at unit scale |X^T y| / k <= 1, so any alpha >= 1 gives w = 0: capping at 2 avoids overflow
    a = 2.0 if math.frexp(alpha)[1] - (eX + ey) > 2 else min(math.ldexp(alpha, -(eX + ey)), 2.0)
    return np.ldexp(X, -eX), np.ldexp(y, -ey), float(a), eX, ey


def _scaled_back(w: np.ndarray, e: int, fn: str) -> np.ndarray:
    """``w * 2^e``, refused when the true weights exceed the float64 range."""
    w = np.ldexp(w, e)
    if not np.all(np.isfinite(w)):
        raise ValueError(
            f"{fn}: the lasso weights overflow float64: X is too small relative to y for this alpha; rescale X and y"
        )
    return w


def _lasso_gram(G, c, yy, k, alpha, tol, max_iter, fn):
    """Solve flat float64 problems G (P, d, d), c (P, d), yy (P,), k (P,); k == 0 gives w = 0."""
    if alpha == 0.0:  # least squares: the duality-gap certificate degenerates; G^+ c is the min-norm solution
        return np.einsum("pij,pj->pi", np.linalg.pinv(G), c)
    a = alpha * k  # objective ½||y - Xw||² + a||w||₁ (scaled by k)
    w, solved = feature_sign_fits(G, c, a, k, max_steps=4 * G.shape[-1] + 20)
    return _finish(G, c, yy, k, a, w, solved, tol, max_iter, fn)


def lasso_objective(X: Any, y: Any, w: Any, alpha: float) -> Any:
    r"""The lasso objective :math:`\frac{1}{2k}\|y - Xw\|^2 + \alpha\|w\|_1`, batched: (...,).

    Examples
    --------
    >>> import numpy as np
    >>> float(lasso_objective(np.eye(2), np.array([1.0, 0.0]), np.zeros(2), alpha=0.1))
    0.25
    """
    xp = check_fit_data(X, y, fn="lasso_objective")
    namespace(fn="lasso_objective", X=X, w=w)
    check_array(w, "w", "lasso_objective", min_ndim=1)
    if w.shape[-1] != X.shape[-1]:
        raise ValueError(
            f"lasso_objective: w and X disagree on the number of features: w has {w.shape[-1]}, X has {X.shape[-1]}"
        )
    if w.dtype != X.dtype:
        raise TypeError(f"lasso_objective: w and X must share a dtype, got {w.dtype} and {X.dtype}")
    alpha = check_nonnegative(alpha, "alpha", fn="lasso_objective")
    r = y - _matvec(X, w)
    return xp.sum(r * r, axis=-1) / (2 * X.shape[-2]) + alpha * xp.sum(xp.abs(w), axis=-1)


def lasso(X: Any, y: Any, alpha: float, tol: float = 1e-10, max_iter: int = 20000) -> Any:
    r"""Lasso without intercept, batched over leading axes (scikit-learn's objective scaling).

    .. math:: \hat w = \arg\min_w \frac{1}{2k}\|y - Xw\|_2^2 + \alpha \|w\|_1

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)
    alpha : float, >= 0
        ``alpha = 0`` is the minimum-norm least-squares solution (as :func:`estimators.ols`).
    tol : float, > 0
        Every answer is certified by its duality gap being below ``tol * ||y||^2`` (scikit-learn's rule).
    max_iter : int, >= 1
        Iterations of the fallback solver (proximal gradient, then coordinate descent) for the rare
        problem the exact active-set search hands back; a ``RuntimeWarning`` counts the problems
        still above the tolerance.

    Returns
    -------
    w : array of shape (..., d), in the input's library, dtype and device. The solver runs on the
    CPU in float64 numpy (:mod:`estimators.sparse._feature_sign`); torch and jax inputs are converted.

    References
    ----------
    Tibshirani 1996; Lee, Battle, Raina & Ng 2007 (feature-sign search); Beck & Teboulle 2009 (FISTA);
    Garg et al. 2022, section 4 (lasso baseline for sparse linear functions).

    Examples
    --------
    >>> import numpy as np
    >>> lasso(np.eye(2) * np.sqrt(2), np.array([2.0, 0.1]), alpha=0.5)
    array([0.91421356, 0.        ])
    """
    xp = check_fit_data(X, y, fn="lasso", bounded=False)  # rescaled below, so any finite scale is solved
    alpha = check_nonnegative(alpha, "alpha", fn="lasso")
    tol = check_positive(tol, "tol", fn="lasso")
    max_iter = check_int(max_iter, "max_iter", fn="lasso", minimum=1)
    k_points, d = X.shape[-2], X.shape[-1]
    Xn, yn, a, eX, ey = _rescaled(_to_float64(X).reshape(-1, k_points, d), _to_float64(y).reshape(-1, k_points),
                                  alpha, "lasso")
    G, c = np.swapaxes(Xn, -1, -2) @ Xn, np.einsum("pkd,pk->pd", Xn, yn)
    k = np.full(Xn.shape[0], float(k_points))
    w = _scaled_back(_lasso_gram(G, c, np.einsum("pk,pk->p", yn, yn), k, a, tol, max_iter, "lasso"), ey - eX, "lasso")
    return _like(xp, w.reshape(tuple(X.shape[:-2]) + (d,)), X)


def lasso_prefixes(xs: Any, ys: Any, alpha: float, tol: float = 1e-10, max_iter: int = 20000) -> Any:
    r"""Lasso on every prefix of every prompt: ``preds[..., k] = xs[..., k, :] @ lasso(first k pairs)``.

    One sweep over the prefix length solves all B x n problems: each prompt's feature-sign search
    starts from its previous prefix's solution (:mod:`estimators.sparse._feature_sign`); ``preds[..., 0] = 0``.
    About 60x faster than a scikit-learn loop at B = 1280, n = 41, d = 20
    (``python -m benchmarks.prefix_baselines``).

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    alpha, tol, max_iter
        As in :func:`lasso`.

    Returns
    -------
    preds : array of shape (..., n)

    References
    ----------
    Garg et al. 2022, section 4 (sparse linear functions, lasso baseline).

    Examples
    --------
    >>> import numpy as np
    >>> lasso_prefixes(np.ones((3, 1)), np.array([1.0, 1.0, 1.0]), alpha=0.5)
    array([0. , 0.5, 0.5])
    """
    xp = check_prompt(xs, ys, fn="lasso_prefixes", bounded=False)
    # w . x = (s / t) v . t x' = s (v . x'), formed at unit scale (float64, rounded once)
    V, Xs, ey = _weights_prefixes(xs, ys, alpha, tol, max_iter, "lasso_prefixes", cast=False)
    preds = _scaled_back(np.einsum("bnd,bnd->bn", V, Xs), ey, "lasso_prefixes")
    return _like(xp, preds.reshape(tuple(xs.shape[:-1])), xs)


def lasso_weights_prefixes(xs: Any, ys: Any, alpha: float, tol: float = 1e-10, max_iter: int = 20000) -> Any:
    """The lasso weights of every prefix: row k minimises the objective on the first k pairs.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    alpha, tol, max_iter
        As in :func:`lasso`.

    Returns
    -------
    array of shape (..., n, d)
        ``w[..., k, :]`` fitted on the first k pairs (row 0 is zero); ``lasso_prefixes`` is
        ``sum(w[..., k, :] * xs[..., k, :])``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> xs, ys = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 6))
    >>> W = lasso_weights_prefixes(xs, ys, alpha=0.1)
    >>> W.shape, bool(np.allclose(W[..., 5, :], lasso(xs[:, :5], ys[:, :5], alpha=0.1), atol=1e-8))
    ((2, 6, 3), True)
    """
    return _weights_prefixes(xs, ys, alpha, tol, max_iter, "lasso_weights_prefixes")


def _weights_prefixes(xs, ys, alpha, tol, max_iter, fn, cast=True):
    """Lasso weights of every prefix, as an array like ``xs`` (..., n, d); with ``cast=False`` the float64
    unit-scale weights V (B, n, d), inputs X / t (B, n, d) and log2 s of :func:`_rescaled`."""
    xp = check_prompt(xs, ys, fn=fn, bounded=False)  # rescaled below (see _rescaled)
    alpha = check_nonnegative(alpha, "alpha", fn=fn)
    tol = check_positive(tol, "tol", fn=fn)
    max_iter = check_int(max_iter, "max_iter", fn=fn, minimum=1)
    batch, (n, d) = tuple(xs.shape[:-2]), tuple(xs.shape[-2:])
    X, Y, alpha, eX, ey = _rescaled(_to_float64(xs).reshape(-1, n, d), _to_float64(ys).reshape(-1, n), alpha, fn)
    V = _scaled_weights_prefixes(X, Y, alpha, tol, max_iter, n, d)
    if not cast:
        return V, X, ey  # unit-scale weights and inputs: lasso_prefixes forms w . x from them
    return _like(xp, _scaled_back(V, ey - eX, fn).reshape(batch + (n, d)), xs)


def _scaled_weights_prefixes(X, Y, alpha, tol, max_iter, n, d):
    """Float64 lasso weights (B, n, d) of every prefix of unit-scale prompts X (B, n, d), Y (B, n)."""
    if alpha == 0.0:  # min-norm least squares on every prefix, G_k^+ c_k
        G = np.cumsum(X[:, :, :, None] * X[:, :, None, :], axis=1) - X[:, :, :, None] * X[:, :, None, :]
        c = np.cumsum(Y[:, :, None] * X, axis=1) - Y[:, :, None] * X
        return np.einsum("bnij,bnj->bni", np.linalg.pinv(G), c)

    def gap_ok(g, c, yy, a, w):
        return gap_from_gradient(np_xp, g, c, yy, a, w) <= _gap_threshold(tol, yy)

    W, solved = feature_sign_prefixes(X, Y, alpha, gap_ok, max_steps_per_prefix=2 * d + 10)
    b_rest, k_rest = np.nonzero(~solved)
    if b_rest.size:  # finish the prefixes feature-sign search handed back, from their Gram statistics
        upto = (np.arange(n)[None, :] < k_rest[:, None]).astype(np.float64)
        Xr, Yr = X[b_rest] * upto[..., None], Y[b_rest] * upto
        Gr, cr = np.swapaxes(Xr, -1, -2) @ Xr, np.einsum("pkd,pk->pd", Xr, Yr)
        kr = k_rest.astype(np.float64)
        W[b_rest, k_rest] = _finish(Gr, cr, np.einsum("pk,pk->p", Yr, Yr), kr, alpha * kr, W[b_rest, k_rest],
                                    np.zeros(b_rest.size, dtype=bool), tol, max_iter, "lasso_prefixes")  # fmt: skip
    return W
