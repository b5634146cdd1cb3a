"""Single linear fits, batched over leading axes: least squares, ridge, gradient descent, averaging, k-NN.

``X (..., k, d)``, ``y (..., k)`` -> ``w (..., d)`` (``knn_predict`` returns predictions at query
points instead). The all-prefix versions live in :mod:`estimators.linear._prefixes`; lasso in
:mod:`estimators.sparse`.

Notation map: the papers' ``lambda`` is ``lam``; Garg et al.'s "averaging" is Akyurek et al.'s
"constant Sigma" estimator.
"""

from __future__ import annotations

from typing import Any

from ..validation import _is_traced, check_fit_data, check_int, check_nonnegative, check_queries, matrix_transpose as _mT

__all__ = ["ols", "ridge", "gd", "averaging", "knn_predict"]




def _eye(xp, d, like):
    return xp.eye(d, dtype=like.dtype, device=getattr(like, "device", None))


def _max_abs(xp, X):
    """max |X| over each problem's matrix, (..., 1, 1); 1 where X is all zeros."""
    t = xp.max(xp.abs(X), axis=(-2, -1), keepdims=True)
    return xp.where(t > 0, t, xp.ones_like(t))


def _finite_or_raise(xp, w, fn: str):
    """``w``, or a ValueError when the solution itself is not representable (it overflowed)."""
    if not _is_traced(w) and not bool(xp.all(xp.isfinite(w))):
        raise ValueError(
            f"{fn}: the solution overflows {w.dtype}: X is too small (or y too large) for its weights to be "
            "representable; rescale X and y"
        )
    return w


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
    # X^+ = (X / t)^+ / t with t = max |X| per problem: the SVD inside pinv then never sees subnormal
    # singular values, whose reciprocals overflow (pinv's relative cutoff is scale-invariant)
    t = _max_abs(xp, X)  # (..., 1, 1)
    w = (xp.linalg.pinv(X / t) @ y[..., None])[..., 0] / t[..., 0]
    return _finite_or_raise(xp, w, "ols")


def ridge(X: Any, y: Any, lam: float) -> Any:
    r"""Ridge regression, batched over leading axes.

    .. math:: \hat w = (X^\top X + \lambda I)^{-1} X^\top y = X^\top (X X^\top + \lambda I)^{-1} y

    Computed from the thin SVD of X (any k, d), so a badly scaled feature (a timestamp of 1e9 next to
    features of 1) or data of scale 1e-150..1e150 needs no rescaling by the caller; ``lam = 0`` gives
    :func:`ols`. Like scikit-learn's ``Ridge(solver="svd")``.
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
    # Through the thin SVD X = U diag(s) V^T, w = V diag(s / (s^2 + lam)) U^T y, with the filter
    # written 1 / (s + lam / s): the normal equations square the condition number (a feature of
    # scale 1e9 next to one of scale 1 leaves X^T X + lam I numerically singular at lam = 1) and s^2
    # overflows or underflows at extreme scales; the SVD and this filter do neither.
    t = _max_abs(xp, X)  # (..., 1, 1)
    U, sv, Vt = xp.linalg.svd(X / t, full_matrices=False)
    sv = sv * t[..., 0]  # singular values of X itself, (..., min(k, d))
    top = float(xp.finfo(X.dtype).max)
    safe = sv > lam / top  # below this, lam / s overflows and the filter is s / lam to working precision
    s_safe = xp.where(safe, sv, xp.ones_like(sv))
    f = xp.where(safe, 1.0 / (s_safe + lam / s_safe), sv / lam)
    w = (_mT(Vt) @ (f * (_mT(U) @ y[..., None])[..., 0])[..., None])[..., 0]
    return _finite_or_raise(xp, w, "ridge")


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
    if not _is_traced(w) and not bool(xp.all(xp.isfinite(w))):
        raise ValueError(
            f"gd: the iterates diverged to NaN/inf after {steps} steps: lr = {lr} is too large for X's scale "
            "(descent converges for lr < 2 / lambda_max(X^T X / k)); lower lr or rescale X"
        )
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
