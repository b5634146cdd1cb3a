"""All-prefix linear predictors on the seam of ``docs/design.md``.

``xs (..., n, d)``, ``ys (..., n)`` -> ``preds (..., n)``, where ``preds[..., k]`` is the prediction
for ``xs[..., k, :]`` from the first k pairs only and ``preds[..., 0] = 0``. No Python loop runs
over prompts or prefixes: least squares and ridge are sequential Bayes predictions (ridge is the
posterior mean of a Gaussian prior; Rasmussen & Williams 2006, section 2.2), so three batched
Cholesky factors give every prefix (:func:`_least_squares_prefixes`); gradient descent loops over
its steps only. float32 (and lower) prompts are computed in float64 and the answers returned in
the input's dtype (:func:`_in_float64`). The single fits live in :mod:`estimators.linear._closed_form`.
"""

from __future__ import annotations

from typing import Any

from ..validation import _is_traced, check_int, check_nonnegative, check_prompt, matrix_transpose as _mT, solve, solve_triangular
from ._closed_form import _eye, _sq_dist

__all__ = ["ols_prefixes", "ridge_prefixes", "gd_prefixes", "averaging_prefixes", "knn_prefixes"]


def _prefix_gram(xp, xs, ys):
    """Exclusive prefix sums G_k = sum_{i<k} x_i x_i^T (..., n, d, d) and c_k = sum_{i<k} y_i x_i (..., n, d)."""
    outer = xs[..., :, None] * xs[..., None, :]  # (..., n, d, d)
    G = xp.cumulative_sum(outer, axis=-3)
    c = xp.cumulative_sum(ys[..., None] * xs, axis=-2)
    G = xp.concat([xp.zeros_like(G[..., :1, :, :]), G[..., :-1, :, :]], axis=-3)
    c = xp.concat([xp.zeros_like(c[..., :1, :]), c[..., :-1, :]], axis=-2)
    return G, c


def _strictly_lower_times(xp, L, z):
    r"""``sum_{i<k} L[k, i] z[i]`` for every k: (L z)_k minus the diagonal term, batched."""
    return (L @ z[..., None])[..., 0] - xp.linalg.diagonal(L) * z


def _sequential_predictions(xp, C, r, fn, what):
    r"""Sequential Gaussian predictions: posterior means of r_k given r_{<k} when r ~ N(0, C).

    With :math:`C = L L^	op` and :math:`z = L^{-1} r`, :math:`r_k = \sum_{i \le k} L_{ki} z_i` and the
    conditional mean of :math:`r_k` given the earlier entries is :math:`\sum_{i<k} L_{ki} z_i`, so one
    Cholesky factor gives every prefix (Rasmussen & Williams 2006, section 2.2 and appendix A.2).
    """
    try:
        L = xp.linalg.cholesky(C)
    except Exception as err:  # numpy LinAlgError, torch _LinAlgError, ...
        raise ValueError(f"{fn}: {what}; use lam > 0 (ridge_prefixes) or points in general position") from err
    z = solve_triangular(xp, L, r[..., None], lower=True)[..., 0]
    return _strictly_lower_times(xp, L, z)


def _in_float64(xp, compute, xs, ys, fn, overflow=""):
    """``compute(xs, ys)`` run on float64 copies of low-precision prompts, returned in the input's dtype.

    Every all-prefix function of this module computes in float64: for Gaussian prompts with n = 41,
    d = 20 the dual Gram matrix of the first d points reaches condition numbers ~1e9, past float32's
    1e7, so a float32 Cholesky refuses ordinary prompts and loses accuracy near k = d; the prefix sums
    of gradient descent and averaging add up to n d float32 terms, and nearly tied k-NN distances
    can swap neighbours. The cost is a float64 copy of the prompt; the answer is rounded once to
    the input's dtype; an answer beyond that dtype's range is a ``ValueError``, not an infinity, and so
is a sum or iteration that overflows float64 itself (``overflow`` says why).
    (jax without x64 keeps float32: its ``astype`` cannot widen.)
    """
    wide = xp.astype(xs, xp.float64)
    out = compute(xs, ys) if wide.dtype == xs.dtype else compute(wide, xp.astype(ys, xp.float64))
    if _is_traced(out):  # under jax.jit: no concrete values to check
        return out if wide.dtype == xs.dtype else xp.astype(out, xs.dtype)
    if overflow and not bool(xp.all(xp.isfinite(out))):
        raise ValueError(f"{fn}: some prediction is not finite in float64: {overflow}")
    if wide.dtype == xs.dtype:
        return out
    narrow = xp.astype(out, xs.dtype)
    if not bool(xp.all(xp.isfinite(narrow))):  # finite in float64 (checked by compute), too large for xs.dtype
        raise ValueError(
            f"{fn}: some prediction (largest |value| {float(xp.max(xp.abs(out))):.3g}) overflows {xs.dtype}; "
            "pass float64 prompts"
        )
    return narrow


def _least_squares_prefixes(xp, xs, ys, lam, fn):
    """:func:`_least_squares_float64` through :func:`_in_float64`."""
    return _in_float64(xp, lambda a, b: _least_squares_float64(xp, a, b, lam, fn), xs, ys, fn)


def _least_squares_float64(xp, xs, ys, lam, fn):
    r"""Shared engine of :func:`ols_prefixes` and :func:`ridge_prefixes`: ridge as sequential Bayes.

    Ridge with penalty :math:`\lambda` is the posterior mean of :math:`w \sim N(0, I/\lambda)` under
    unit-variance Gaussian noise, so the prediction of ``x_k`` from the first k pairs is the
    conditional mean of ``y_k`` given ``y_{<k}`` and all prefixes come from Cholesky factors
    (:func:`_sequential_predictions`). Two blocks keep every factor well conditioned:

    * the first m = min(n, d + [lam > 0]) points, in the dual (kernel) form
      :math:`C = X_m X_m^	op + \lambda I` (m x m);
    * without a penalty, the point with index d is predicted by interpolating the square ``X_d``
      (an LU solve has error ~ cond(X_d) where the Gram form has ~ cond(X_d)^2: the error spike);
    * the remaining points, after the first d + 1: the posterior after those points is
      :math:`N(w_0, G_0^{-1})` with :math:`G_0 = X_0^	op X_0 + \lambda I` and :math:`w_0 = G_0^{-1} X_0^	op y_0`,
      so the later responses are Gaussian with mean :math:`V w_0` and covariance :math:`I + S^	op S`,
      :math:`S = L_0^{-1} V^	op` for the rows V and :math:`G_0 = L_0 L_0^	op`.

    Cost per prompt: three Cholesky factorizations of size <= max(d + 1, n - d - 1), one LU of d x d.
    """
    n, d = xs.shape[-2], xs.shape[-1]
    m = min(n, d + 1 if lam > 0 else d)
    Xm = xs[..., :m, :]
    gram = Xm @ _mT(Xm) + lam * _eye(xp, m, xs)
    parts = [_sequential_predictions(xp, gram, ys[..., :m], fn, f"the first {m} points of some prompt are linearly dependent, so the prefix fits are not unique")]
    if m == d < n:  # lam == 0: the prediction at index d interpolates the square X_d
        try:
            w_d = solve(xp, Xm, ys[..., :d])
        except Exception as err:
            raise ValueError(f"{fn}: the first {d} points of some prompt are linearly dependent") from err
        parts.append(xp.sum(w_d * xs[..., d, :], axis=-1)[..., None])
    if n > d + 1:
        X0, V = xs[..., : d + 1, :], xs[..., d + 1 :, :]
        G0 = _mT(X0) @ X0 + lam * _eye(xp, d, xs)
        try:
            L0 = xp.linalg.cholesky(G0)
        except Exception as err:
            raise ValueError(
                f"{fn}: some prompt's first {d + 1} points span fewer than {d} dimensions, so X^T X is singular; "
                "use lam > 0 or points in general position"
            ) from err
        rhs = xp.concat([_mT(V), (_mT(X0) @ ys[..., : d + 1, None])], axis=-1)  # (..., d, r + 1)
        St = solve_triangular(xp, L0, rhs, lower=True)
        S, t = St[..., :-1], St[..., -1:]
        mean = (_mT(S) @ t)[..., 0]  # V w_0
        cov = _mT(S) @ S + _eye(xp, n - d - 1, xs)
        parts.append(mean + _sequential_predictions(xp, cov, ys[..., d + 1 :] - mean, fn, "the later points' covariance I + S^T S is not positive definite"))
    preds = xp.concat(parts, axis=-1)
    if not bool(xp.all(xp.isfinite(preds))):  # jax's factorizations return NaN instead of raising
        raise ValueError(
            f"{fn}: some prompt's points are linearly dependent, so the prefix fits are not unique; "
            "use lam > 0 (ridge_prefixes) or points in general position"
        )
    return preds


def ols_prefixes(xs: Any, ys: Any) -> Any:
    r"""Minimum-norm least squares on every prefix of every prompt.

    ``preds[..., k] = xs[..., k, :] @ ols(xs[..., :k, :], ys[..., :k])`` and ``preds[..., 0] = 0``.
    For k < d this is the interpolating min-norm solution; for k >= d ordinary least squares.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)

    Returns
    -------
    preds : array of shape (..., n)

    Raises
    ------
    ValueError
        If a prefix has linearly dependent points (the dual Gram matrix is singular), e.g.
        duplicated points. float32 prompts are factored in float64, so ordinary float32 prompts
        (Gaussian, n = 41, d = 20) never trigger this.

    Notes
    -----
    Cost O(n d^2 + d^3 + (n - d)^3) per prompt: three Cholesky factors and one LU (see
    ``_least_squares_prefixes``); about 100x faster than a per-prefix ``lstsq`` loop at
    B = 1280, n = 41, d = 20 (``python -m benchmarks.prefix_baselines``).

    References
    ----------
    Garg et al. 2022, section 3.

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); ys = np.array([1.0, 2.0, 3.0])
    >>> ols_prefixes(xs, ys)
    array([0., 0., 3.])
    """
    xp = check_prompt(xs, ys, fn="ols_prefixes")
    return _least_squares_prefixes(xp, xs, ys, 0.0, "ols_prefixes")


def ridge_prefixes(xs: Any, ys: Any, lam: float) -> Any:
    r"""Ridge regression on every prefix of every prompt.

    ``preds[..., k] = xs[..., k, :] @ ridge(xs[..., :k, :], ys[..., :k], lam)``, ``preds[..., 0] = 0``.
    ``lam = 0`` is :func:`ols_prefixes`.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    lam : float, >= 0

    Returns
    -------
    preds : array of shape (..., n)

    References
    ----------
    Akyurek et al. 2023, section 2 and 4.1; Rasmussen & Williams 2006, section 2.2 (all prefixes).

    Examples
    --------
    >>> import numpy as np
    >>> ridge_prefixes(np.ones((3, 1)), np.array([2.0, 2.0, 2.0]), lam=1.0)
    array([0.        , 1.        , 1.33333333])
    """
    xp = check_prompt(xs, ys, fn="ridge_prefixes")
    lam = check_nonnegative(lam, "lam", fn="ridge_prefixes")
    return _least_squares_prefixes(xp, xs, ys, lam, "ridge_prefixes")


def gd_prefixes(xs: Any, ys: Any, lr: float, steps: int) -> Any:
    r"""Gradient descent (:func:`gd`) on every prefix: ``steps`` steps from 0 with rate ``lr``.

    All prefixes advance together: :math:`w^{(k)}_{t+1} = w^{(k)}_t - \frac{\eta}{k}(G_k w^{(k)}_t - c_k)`
    with cumulative :math:`G_k = \sum_{i<k} x_i x_i^\top`, :math:`c_k = \sum_{i<k} y_i x_i`.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    lr : float, >= 0
    steps : int, >= 0

    Returns
    -------
    preds : array of shape (..., n)

    References
    ----------
    von Oswald et al. 2023, section 2; Akyurek et al. 2023, section 2.

    Examples
    --------
    >>> import numpy as np
    >>> gd_prefixes(np.ones((3, 1)), np.array([2.0, 2.0, 2.0]), lr=0.5, steps=1)
    array([0., 1., 1.])
    """
    xp = check_prompt(xs, ys, fn="gd_prefixes")
    lr = check_nonnegative(lr, "lr", fn="gd_prefixes")
    steps = check_int(steps, "steps", fn="gd_prefixes", minimum=0)
    return _in_float64(xp, lambda a, b: _gd_float64(xp, a, b, lr, steps), xs, ys, "gd_prefixes",
                       "gradient descent diverged or its sums overflowed; lower lr (below 2 / the largest "
                       "eigenvalue of X^T X / k) or rescale xs and ys")


def _gd_float64(xp, xs, ys, lr, steps):
    G, c = _prefix_gram(xp, xs, ys)
    n = xs.shape[-2]
    counts = xp.arange(n, dtype=xs.dtype, device=getattr(xs, "device", None))
    scale = (lr / xp.maximum(counts, xp.ones_like(counts)))[:, None]  # eta / k, (n, 1)
    w = xp.zeros_like(c)
    for _ in range(steps):
        w = w - scale * ((G @ w[..., None])[..., 0] - c)
    return xp.sum(w * xs, axis=-1)


def averaging_prefixes(xs: Any, ys: Any) -> Any:
    r"""The averaging estimator on every prefix: :math:`\hat y_k = x_k^\top \frac{1}{k}\sum_{i<k} y_i x_i`.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)

    Returns
    -------
    preds : array of shape (..., n)

    References
    ----------
    Garg et al. 2022, section 3.

    Examples
    --------
    >>> import numpy as np
    >>> averaging_prefixes(np.ones((3, 1)), np.array([2.0, 4.0, 6.0]))
    array([0., 2., 3.])
    """
    xp = check_prompt(xs, ys, fn="averaging_prefixes")
    return _in_float64(xp, lambda a, b: _averaging_float64(xp, a, b), xs, ys, "averaging_prefixes",
                       "the prefix sums of y_i x_i overflowed; rescale xs and ys")


def _averaging_float64(xp, xs, ys):
    c = xp.cumulative_sum(ys[..., None] * xs, axis=-2)
    c = xp.concat([xp.zeros_like(c[..., :1, :]), c[..., :-1, :]], axis=-2)
    n = xs.shape[-2]
    counts = xp.arange(n, dtype=xs.dtype, device=getattr(xs, "device", None))
    return xp.sum(c * xs, axis=-1) / xp.maximum(counts, xp.ones_like(counts))


def knn_prefixes(xs: Any, ys: Any, k: int = 3) -> Any:
    r"""k-nearest-neighbour regression on every prefix (:func:`knn_predict` with the first j pairs).

    ``preds[..., j]`` averages ``ys`` over the ``min(k, j)`` points among the first j that are
    nearest to ``xs[..., j, :]``; ``preds[..., 0] = 0``.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    k : int, >= 1

    Returns
    -------
    preds : array of shape (..., n)

    References
    ----------
    Garg et al. 2022, section 3 (3-NN).

    Examples
    --------
    >>> import numpy as np
    >>> knn_prefixes(np.array([[0.0], [1.0], [0.9]]), np.array([0.0, 1.0, 5.0]), k=1)
    array([0., 0., 1.])
    """
    xp = check_prompt(xs, ys, fn="knn_prefixes")
    k = check_int(k, "k", fn="knn_prefixes", minimum=1)
    return _in_float64(xp, lambda a, b: _knn_float64(xp, a, b, k), xs, ys, "knn_prefixes")


def _knn_float64(xp, xs, ys, k):
    n = xs.shape[-2]
    dist = _sq_dist(xp, xs, xs)  # (..., n, n): row j = query j, column i = candidate i
    dev = getattr(xs, "device", None)
    earlier = xp.arange(n, device=dev)[None, :] < xp.arange(n, device=dev)[:, None]  # i < j
    dist = xp.where(earlier, dist, xp.full_like(dist, float("inf")))
    kk = min(k, n)
    idx = xp.argsort(dist, axis=-1, stable=True)[..., :kk]  # (..., n, kk)
    yb = xp.broadcast_to(ys[..., None, :], dist.shape)
    chosen = xp.take_along_axis(yb, idx, axis=-1)
    valid = xp.take_along_axis(xp.broadcast_to(earlier, dist.shape), idx, axis=-1)
    total = xp.sum(xp.where(valid, chosen, xp.zeros_like(chosen)), axis=-1)
    count = xp.sum(xp.astype(valid, xs.dtype), axis=-1)
    return total / xp.maximum(count, xp.ones_like(count))
