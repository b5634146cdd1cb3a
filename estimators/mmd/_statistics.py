"""MMD statistics and their variances under H1, on numpy, torch (with autograd) or jax.

:func:`mmd2` has three forms: the unbiased U-statistic, the biased V-statistic and the one-sample
form of Liu et al. 2020, eq. (2); :func:`mpp` is the MMD-MP statistic of Zhang et al. 2024,
which drops the within-Y term. The H1 variances are the estimators of Liu et al. 2020, eq. (5),
used by the test-power proxy of :mod:`._learned`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..validation import check_array, check_point_sets

__all__ = ["mmd2", "mpp", "mmd2_h1_variance", "mpp_h1_variance"]


# ----------------------------------------------------------------------------------------
# validation and kernel blocks


def _check_samples(X: Any, Y: Any, kernel: Any, fn: str, *, equal: bool = False):
    """Validate two samples (..., n, d), (..., m, d) and a kernel; return (xp, n, m)."""
    xp = check_point_sets(X, Y, fn)
    n, m = int(X.shape[-2]), int(Y.shape[-2])
    for name, size in (("X", n), ("Y", m)):
        if size < 2:
            raise ValueError(f"{fn}: {name} must hold at least 2 points, got {size}")
    if equal and n != m:
        raise ValueError(f"{fn}: X and Y must have the same number of points for this form, got {n} and {m}")
    if not callable(kernel):
        raise TypeError(f"{fn}: kernel must be callable k(X, Y) -> (..., n, m), got {type(kernel).__name__}")
    return xp, n, m


def _pooled(xp, X: Any, Y: Any) -> Any:
    """Z = [X; Y] along the point axis, leading axes broadcast: (..., n + m, d)."""
    batch = tuple(np.broadcast_shapes(tuple(X.shape[:-2]), tuple(Y.shape[:-2])))
    X = xp.broadcast_to(X, batch + tuple(X.shape[-2:]))
    Y = xp.broadcast_to(Y, batch + tuple(Y.shape[-2:]))
    return xp.concat([X, Y], axis=-2)


def _gram(xp, kernel: Any, X: Any, Y: Any, fn: str) -> Any:
    """The pooled kernel matrix k(Z, Z), Z = [X; Y], checked for shape and finiteness."""
    Z = _pooled(xp, X, Y)
    K = kernel(Z, Z)
    N = Z.shape[-2]
    if tuple(K.shape[-2:]) != (N, N):
        raise ValueError(f"{fn}: kernel(Z, Z) must have shape (..., {N}, {N}), got {tuple(K.shape)}")
    check_array(K, "the kernel matrix", fn, min_ndim=2)
    return K


def _blocks(K: Any, n: int):
    return K[..., :n, :n], K[..., n:, n:], K[..., :n, n:]


def _sum2(xp, A: Any) -> Any:
    return xp.sum(xp.sum(A, axis=-1), axis=-1)


def _offdiag_sum(xp, A: Any) -> Any:
    """Sum of the entries off the main diagonal of a square (..., n, n) block."""
    return _sum2(xp, A) - xp.sum(xp.linalg.diagonal(A), axis=-1)


def _terms(xp, K: Any, n: int, m: int, unbiased: bool, one_sample: bool):
    """(xx, yy, xy): the three kernel means of MMD^2 = xx + yy - 2 xy in the chosen form."""
    Kxx, Kyy, Kxy = _blocks(K, n)
    if not unbiased:
        return _sum2(xp, Kxx) / n**2, _sum2(xp, Kyy) / m**2, _sum2(xp, Kxy) / (n * m)
    xx = _offdiag_sum(xp, Kxx) / (n * (n - 1))
    yy = _offdiag_sum(xp, Kyy) / (m * (m - 1))
    xy = _offdiag_sum(xp, Kxy) / (n * (n - 1)) if one_sample else _sum2(xp, Kxy) / (n * m)
    return xx, yy, xy


def _forms(unbiased: Any, one_sample: Any, fn: str):
    for name, value in (("unbiased", unbiased), ("one_sample", one_sample)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{fn}: {name} must be True or False, got {value!r}")
    if one_sample and not unbiased:
        raise ValueError(f"{fn}: one_sample=True is an unbiased form; use unbiased=True with it")
    return bool(unbiased), bool(one_sample)


# ----------------------------------------------------------------------------------------
# statistics


def mmd2(X: Any, Y: Any, kernel: Any, unbiased: bool = True, *, one_sample: bool = False) -> Any:
    """Squared maximum mean discrepancy between samples X and Y.

    With ``K`` the kernel matrix, the unbiased two-sample form (any sizes n, m >= 2) is::

        MMD^2_u = sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
                  - 2 sum_{i, j} k(x_i, y_j) / (n m)

    ``unbiased=False`` gives the biased V-statistic (all sums over all pairs, divided by
    n^2, m^2, n m). ``one_sample=True`` (n = m) is Liu et al.'s form that also drops
    i = j from the cross term: ``sum_{i != j} H_ij / (n (n - 1))`` with
    ``H_ij = k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(y_i, x_j)``.

    Parameters
    ----------
    X : array of shape (..., n, d)
    Y : array of shape (..., m, d)
        Leading axes broadcast against those of X.
    kernel : callable
        ``kernel(A, B) -> (..., a, b)``, e.g. ``GaussianKernel(1.0)`` or a :class:`DeepKernel`.
    unbiased : bool
    one_sample : bool
        Liu et al.'s equal-size U-statistic (requires n = m and ``unbiased=True``).

    Returns
    -------
    array of shape (...)
        In the input's library and dtype (differentiable through torch kernels).

    Raises
    ------
    ValueError
        Different feature dimensions, fewer than 2 points, NaN/inf, n != m with one_sample.

    References
    ----------
    Gretton et al. (2012), "A kernel two-sample test", JMLR, eqs. 3 and 5; Liu et al. (2020),
    "Learning deep kernels for non-parametric two-sample tests", ICML, eq. 2.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianKernel
    >>> X = np.array([[0.0], [1.0]]); Y = np.array([[2.0], [3.0]])
    >>> round(float(mmd2(X, Y, GaussianKernel(1.0))), 4)
    0.7689
    """
    fn = "mmd2"
    unbiased, one_sample = _forms(unbiased, one_sample, fn)
    xp, n, m = _check_samples(X, Y, kernel, fn, equal=one_sample)
    xx, yy, xy = _terms(xp, _gram(xp, kernel, X, Y, fn), n, m, unbiased, one_sample)
    return xx + yy - 2 * xy


def mpp(X: Any, Y: Any, kernel: Any, unbiased: bool = True, *, one_sample: bool = False) -> Any:
    """The MMD-MP statistic: MMD^2 without the k(y, y') term (Zhang et al. 2024).

    ``MPP = xx - 2 xy`` with the same means as :func:`mmd2` in the same form, so that
    exactly ``mmd2(X, Y, k, u, one_sample=o) = mpp(X, Y, k, u, one_sample=o) + yy`` with
    ``yy = sum_{i != j} k(y_i, y_j) / (m (m - 1))`` (``sum_{ij} k(y_i, y_j) / m^2`` when
    biased). In expectation, ``MMD^2 = MPP + E k(y, y')``.

    Parameters
    ----------
    X : array of shape (..., n, d)
        The single population (e.g. human-written text).
    Y : array of shape (..., m, d)
        The sample that may mix several populations.
    kernel : callable
    unbiased, one_sample : bool
        As in :func:`mmd2`.

    Returns
    -------
    array of shape (...)

    References
    ----------
    Zhang, Song, Liu et al. (2024), "Detecting machine-generated texts by multi-population
    aware optimization for maximum mean discrepancy", ICLR, section 4 (MMD-MP).

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianKernel
    >>> X = np.array([[0.0], [1.0]]); Y = np.array([[2.0], [3.0]])
    >>> round(float(mpp(X, Y, GaussianKernel(1.0))), 4)
    0.1624
    """
    fn = "mpp"
    unbiased, one_sample = _forms(unbiased, one_sample, fn)
    xp, n, m = _check_samples(X, Y, kernel, fn, equal=one_sample)
    xx, _, xy = _terms(xp, _gram(xp, kernel, X, Y, fn), n, m, unbiased, one_sample)
    return xx - 2 * xy


def _h1_variance(xp, K: Any, n: int, drop_yy: bool) -> Any:
    """sigma^2_H1 = (4/n^3) sum_i (sum_j H_ij)^2 - (4/n^4) (sum_ij H_ij)^2 from the pooled K."""
    Kxx, Kyy, Kxy = _blocks(K, n)
    H = Kxx - Kxy - xp.matrix_transpose(Kxy)
    if not drop_yy:
        H = H + Kyy
    rows = xp.sum(H, axis=-1)
    total = xp.sum(rows, axis=-1)
    return 4 * xp.sum(rows * rows, axis=-1) / n**3 - 4 * total * total / n**4


def mmd2_h1_variance(X: Any, Y: Any, kernel: Any) -> Any:
    """Plug-in variance of the MMD^2 U-statistic under the alternative (n = m).

    ``sigma^2_H1 = (4 / n^3) sum_i (sum_j H_ij)^2 - (4 / n^4) (sum_ij H_ij)^2`` with
    ``H_ij = k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(y_i, x_j)`` over all i, j
    (diagonal included). It can be slightly negative on small samples; the training
    objective uses ``sqrt(sigma^2_H1 + eps)``.

    Parameters
    ----------
    X, Y : arrays of shape (..., n, d)
    kernel : callable

    Returns
    -------
    array of shape (...)

    References
    ----------
    Liu et al. (2020), ICML, eq. 5 (and Sutherland et al. 2017, ICLR).

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianKernel
    >>> X = np.array([[0.0], [1.0], [2.0]]); Y = np.array([[1.5], [3.0], [5.0]])
    >>> round(float(mmd2_h1_variance(X, Y, GaussianKernel(1.0))), 4)
    0.1182
    """
    fn = "mmd2_h1_variance"
    xp, n, _ = _check_samples(X, Y, kernel, fn, equal=True)
    return _h1_variance(xp, _gram(xp, kernel, X, Y, fn), n, drop_yy=False)


def mpp_h1_variance(X: Any, Y: Any, kernel: Any) -> Any:
    """The H1 variance of :func:`mpp`: :func:`mmd2_h1_variance` with ``H*_ij = k(x_i,x_j) - k(x_i,y_j) - k(y_i,x_j)``.

    Parameters
    ----------
    X, Y : arrays of shape (..., n, d)
    kernel : callable

    Returns
    -------
    array of shape (...)

    References
    ----------
    Zhang et al. (2024), ICLR, section 4 (the MMD-MP variance drops k(y, y') too).

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianKernel
    >>> X = np.array([[0.0], [1.0], [2.0]]); Y = np.array([[1.5], [3.0], [5.0]])
    >>> round(float(mpp_h1_variance(X, Y, GaussianKernel(1.0))), 4)
    0.106
    """
    fn = "mpp_h1_variance"
    xp, n, _ = _check_samples(X, Y, kernel, fn, equal=True)
    return _h1_variance(xp, _gram(xp, kernel, X, Y, fn), n, drop_yy=True)
