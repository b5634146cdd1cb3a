"""Linear in-context baselines: least squares, ridge, gradient descent, averaging, k-NN.

Two shapes of function live here (REFERENCE.md section 1):

* single fits, batched over leading axes: ``X (..., k, d)``, ``y (..., k)`` -> ``w (..., d)``
  (``knn_predict`` returns predictions at query points instead);
* all-prefix predictors, the DESIGN.md seam: ``xs (..., n, d)``, ``ys (..., n)`` -> ``preds (..., n)``
  where ``preds[..., k]`` is the prediction for ``xs[..., k, :]`` from the first k pairs and
  ``preds[..., 0] = 0``.

No Python loop runs over prompts or prefixes. Least squares and ridge are sequential Bayes
predictions (ridge is the posterior mean of a Gaussian prior), so three batched Cholesky factors
give every prefix (``_least_squares_prefixes``); gradient descent loops over its steps only.
Lasso lives in :mod:`estimators.sparse`.

Notation map: the papers' ``lambda`` is ``lam``; Garg et al.'s "averaging" is Akyurek et al.'s
"constant Sigma" estimator.
"""

from __future__ import annotations

from typing import Any

from .validation import (
    check_fit_data,
    check_int,
    check_nonnegative,
    check_prompt,
    check_queries,
    solve,
    solve_triangular,
)

__all__ = [
    "ols",
    "ridge",
    "gd",
    "averaging",
    "knn_predict",
    "ols_prefixes",
    "ridge_prefixes",
    "gd_prefixes",
    "averaging_prefixes",
    "knn_prefixes",
]


def _eye(xp, d, like):
    return xp.eye(d, dtype=like.dtype, device=getattr(like, "device", None))


def _mT(a):
    """Swap the last two axes (batched transpose)."""
    return a.mT if hasattr(a, "mT") else a.swapaxes(-1, -2)


# ----------------------------------------------------------------------------- single fits


def ols(X: Any, y: Any) -> Any:
    r"""Minimum-norm least squares, batched over leading axes.

    .. math:: \hat w = X^{+} y, \quad\text{and for } k < d:\ \hat w = X^\top (X X^\top)^{-1} y .

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)

    Returns
    -------
    w : array of shape (..., d)
        The least-squares solution of smallest Euclidean norm (via the pseudo-inverse).

    Raises
    ------
    ValueError, TypeError
        On malformed input (see :mod:`estimators.validation`).

    References
    ----------
    Garg et al. 2022, "What Can Transformers Learn In-Context?", section 3 (least squares baseline).

    Examples
    --------
    >>> import numpy as np
    >>> ols(np.array([[1.0, 1.0]]), np.array([2.0]))
    array([1., 1.])
    """
    xp = check_fit_data(X, y, fn="ols")
    return (xp.linalg.pinv(X) @ y[..., None])[..., 0]


def ridge(X: Any, y: Any, lam: float) -> Any:
    r"""Ridge regression, batched over leading axes.

    .. math:: \hat w = (X^\top X + \lambda I)^{-1} X^\top y = X^\top (X X^\top + \lambda I)^{-1} y

    The primal form is solved when k >= d, the dual (push-through) form when k < d, so the
    system solved is never larger than min(k, d). ``lam = 0`` gives :func:`ols`.
    With ``lam = sigma^2 / tau^2`` this is the Bayes posterior mean for ``w ~ N(0, tau^2 I)``
    and noise variance ``sigma^2``.

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)
    lam : float, >= 0

    Returns
    -------
    w : array of shape (..., d)

    References
    ----------
    Akyurek et al. 2023, "What learning algorithm is in-context learning?", section 2 (ridge).

    Examples
    --------
    >>> import numpy as np
    >>> ridge(np.eye(2), np.array([2.0, 4.0]), lam=1.0)
    array([1., 2.])
    """
    xp = check_fit_data(X, y, fn="ridge")
    lam = check_nonnegative(lam, "lam", fn="ridge")
    if lam == 0.0:
        return ols(X, y)
    k, d = X.shape[-2], X.shape[-1]
    Xt = _mT(X)
    if k >= d:
        return solve(xp, Xt @ X + lam * _eye(xp, d, X), (Xt @ y[..., None])[..., 0])
    alpha = solve(xp, X @ Xt + lam * _eye(xp, k, X), y)
    return (Xt @ alpha[..., None])[..., 0]


def gd(X: Any, y: Any, lr: float, steps: int) -> Any:
    r"""Gradient descent on the least-squares loss from ``w = 0``.

    .. math:: w_{t+1} = w_t - \frac{\eta}{k} X^\top (X w_t - y), \qquad w_0 = 0,

    i.e. descent on :math:`\frac{1}{2k}\|Xw - y\|^2`. One step gives
    :math:`w_1 = \frac{\eta}{k} X^\top y`.

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)
    lr : float, >= 0
        The step size eta.
    steps : int, >= 0

    Returns
    -------
    w : array of shape (..., d)

    References
    ----------
    von Oswald et al. 2023, "Transformers learn in-context by gradient descent", section 2;
    Akyurek et al. 2023, section 2.

    Examples
    --------
    >>> import numpy as np
    >>> gd(np.eye(2), np.array([1.0, 2.0]), lr=1.0, steps=1)
    array([0.5, 1. ])
    """
    xp = check_fit_data(X, y, fn="gd")
    lr = check_nonnegative(lr, "lr", fn="gd")
    steps = check_int(steps, "steps", fn="gd", minimum=0)
    k = X.shape[-2]
    Xt = _mT(X)
    G = Xt @ X / k  # (..., d, d)
    c = (Xt @ y[..., None])[..., 0] / k  # (..., d)
    w = xp.zeros_like(c)
    for _ in range(steps):
        w = w - lr * ((G @ w[..., None])[..., 0] - c)
    return w


def averaging(X: Any, y: Any) -> Any:
    r"""The averaging estimator :math:`\hat w = X^\top y / k`.

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)

    Returns
    -------
    w : array of shape (..., d)

    References
    ----------
    Garg et al. 2022, section 3 ("averaging"); Akyurek et al. 2023 ("constant Sigma").

    Examples
    --------
    >>> import numpy as np
    >>> averaging(np.eye(2), np.array([2.0, 4.0]))
    array([1., 2.])
    """
    check_fit_data(X, y, fn="averaging")
    return (_mT(X) @ y[..., None])[..., 0] / X.shape[-2]


def knn_predict(X: Any, y: Any, Xq: Any, k: int = 3) -> Any:
    r"""k-nearest-neighbour regression: the mean of y over the k nearest training points.

    Distances are Euclidean; ties are broken by the lower index. If fewer than ``k``
    training points exist, all of them are averaged.

    Parameters
    ----------
    X : array of shape (..., n, d)
    y : array of shape (..., n)
    Xq : array of shape (..., m, d)
        Query points.
    k : int, >= 1

    Returns
    -------
    preds : array of shape (..., m)

    References
    ----------
    Garg et al. 2022, section 3 (3-nearest-neighbours baseline).

    Examples
    --------
    >>> import numpy as np
    >>> knn_predict(np.array([[0.0], [1.0], [5.0]]), np.array([0.0, 1.0, 5.0]), np.array([[0.2]]), k=2)
    array([0.5])
    """
    xp = check_fit_data(X, y, fn="knn_predict")
    check_queries(Xq, X, fn="knn_predict")
    k = check_int(k, "k", fn="knn_predict", minimum=1)
    dist = _sq_dist(xp, Xq, X)  # (..., m, n)
    kk = min(k, X.shape[-2])
    idx = xp.argsort(dist, axis=-1, stable=True)[..., :kk]
    yb = xp.broadcast_to(y[..., None, :], dist.shape)
    return xp.mean(xp.take_along_axis(yb, idx, axis=-1), axis=-1)


def _sq_dist(xp, A, B):
    """Squared Euclidean distances (..., m, n) between rows of A (..., m, d) and B (..., n, d)."""
    diff = A[..., :, None, :] - B[..., None, :, :]
    return xp.sum(diff * diff, axis=-1)


# ----------------------------------------------------------------------------- all prefixes


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


def _least_squares_prefixes(xp, xs, ys, lam, fn):
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
        If a prefix has linearly dependent points (the dual Gram matrix is singular).
        Random continuous inputs never trigger this; duplicated points do.

    Notes
    -----
    Cost O(n d^2 + d^3 + (n - d)^3) per prompt: three Cholesky factors and one LU (see
    ``_least_squares_prefixes``); about 100x faster than a per-prefix ``lstsq`` loop at
    B = 1280, n = 41, d = 20 (``python -m benchmarks.prefix_baselines``).

    References
    ----------
    Garg et al. 2022, section 3; REFERENCE.md section 1.

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
    Akyurek et al. 2023, section 2 and 4.1; REFERENCE.md section 1 (all-prefix computation).

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
