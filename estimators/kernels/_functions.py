"""Kernel functions: small frozen callables ``k(X, Y) -> K`` shared by every kernel method.

Points ``X`` of shape (..., n, p) and ``Y`` of shape (..., m, p) give the kernel matrix
(..., n, m) in the input's library, dtype and device (numpy, torch -- also tensors that
require grad, e.g. a learned bandwidth -- or jax); ``k(X)`` means ``k(X, X)`` (with an exactly zero distance on the diagonal) and
``k.diag(X)`` gives ``k(x_i, x_i)``. Squared distances use
``||x||^2 + ||y||^2 - 2 x.y`` clamped at 0. The same objects serve the MMD tests
(:mod:`estimators.mmd`), kernel ridge and the GP posterior
(:mod:`estimators.kernels._ridge`, :mod:`estimators.kernels._gp`) and KRR-ST (:mod:`estimators.distill`).
Gaussian kernel convention (Rasmussen & Williams 2006, eq. 4.9): ``exp(-||x - y||^2 / (2 l^2))``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import array_api_compat
import numpy as np

from ..validation import (
    _is_traced,
    check_array,
    check_int,
    check_nonnegative,
    check_point_sets,
    check_positive,
    namespace,
    to_numpy,
)

__all__ = [
    "GaussianKernel",
    "LaplaceKernel",
    "LinearKernel",
    "PolynomialKernel",
    "PeriodicKernel",
    "FeatureKernel",
    "FourierKernel",
    "median_heuristic",
    "squared_distances",
]


# ----------------------------------------------------------------------------------------
# Pairwise geometry


def _points(X: Any, Y: Any, fn: str):
    """Validate a pair of point sets (..., n, p), (..., m, p) and return (xp, X, Y)."""
    xp = namespace(fn=fn, X=X, Y=Y)
    check_array(X, "X", fn, min_ndim=2)
    if Y is None:
        return xp, X, X
    check_point_sets(X, Y, fn)
    return xp, X, Y


def _sq_dist(xp, X: Any, Y: Any, same: bool) -> Any:
    """||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y, clamped at 0 (exact 0 on the diagonal when X is Y)."""
    xx = xp.sum(X * X, axis=-1)[..., :, None]  # (..., n, 1)
    yy = xp.sum(Y * Y, axis=-1)[..., :, None]  # (..., m, 1)
    # one product of augmented points: [-2x, ||x||^2, 1] . [y, 1, ||y||^2] = ||x - y||^2
    Xa = xp.concat([-2 * X, xx, xp.ones_like(xx)], axis=-1)
    Ya = xp.concat([Y, xp.ones_like(yy), yy], axis=-1)
    d2 = xp.clip(xp.matmul(Xa, xp.matrix_transpose(Ya)), min=0)
    if same:
        n = X.shape[-2]
        d2 = d2 * (1 - xp.eye(n, dtype=d2.dtype, device=array_api_compat.device(X)))
    return d2


def _safe_sqrt(xp, d2: Any) -> Any:
    """sqrt with a zero (not NaN) gradient at 0, for autograd through distances."""
    pos = d2 > 0
    return xp.where(pos, xp.sqrt(xp.where(pos, d2, xp.ones_like(d2))), xp.zeros_like(d2))


def squared_distances(X: Any, Y: Any = None) -> Any:
    """Pairwise squared Euclidean distances ``||x_i - y_j||^2``.

    Computed as ``||x||^2 + ||y||^2 - 2 x.y`` (one matrix product) and clamped at 0.

    Parameters
    ----------
    X : array of shape (..., n, p)
    Y : array of shape (..., m, p), optional
        Defaults to ``X``; when ``Y`` is ``X`` the diagonal is exactly 0.

    Returns
    -------
    array of shape (..., n, m)

    Examples
    --------
    >>> import numpy as np
    >>> squared_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    xp, X, Y_ = _points(X, Y, "squared_distances")
    return _sq_dist(xp, X, Y_, Y is None or Y is X)


def _scale(value: Any, name: str, fn: str):
    """A positive float, or an array (a 0-d or batch-shaped bandwidth, possibly requiring grad)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return check_positive(value, name, fn)
    if not array_api_compat.is_array_api_obj(value):
        raise TypeError(f"{fn}: {name} must be a positive number or an array, got {type(value).__name__}")
    if not _is_traced(value) and not bool(np.all(to_numpy(value) > 0)):
        raise ValueError(f"{fn}: {name} must be > 0, got {to_numpy(value)}")
    return value


def _bcast(xp, value: Any, like: Any) -> Any:
    """A float stays a float; an array bandwidth of shape (...) broadcasts to (..., 1, 1)."""
    if isinstance(value, float):
        return value
    namespace(value, like, fn="kernel")
    return value[..., None, None]


def _inverse_square(xp, h: Any, dtype: Any) -> Any:
    """``0.5 / h^2`` computed as ``0.5 / h / h`` and capped at ``finfo(dtype).max`` (never inf or a
    ZeroDivisionError, however small ``h``)."""
    top = float(xp.finfo(dtype).max)
    if isinstance(h, float):
        return min(0.5 / h / h, top)
    return xp.clip(0.5 / h / h, max=top)


class _Kernel:
    """Shared call protocol: validate, then ``_matrix(xp, X, Y, same)``."""

    def __call__(self, X: Any, Y: Any = None) -> Any:
        fn = type(self).__name__
        xp, X, Y_ = _points(X, Y, fn)
        return self._matrix(xp, X, Y_, Y is None or Y is X)

    def diag(self, X: Any) -> Any:
        """``k(x_i, x_i)`` for each point: X (..., n, p) -> (..., n)."""
        xp, X, _ = _points(X, None, type(self).__name__)
        return self._matrix(xp, X[..., :, None, :], X[..., :, None, :], True)[..., 0, 0]


@dataclass(frozen=True, eq=False)
class GaussianKernel(_Kernel):
    """Gaussian (RBF) kernel ``k(x, y) = exp(-||x - y||^2 / (2 bandwidth^2))``.

    ``bandwidth`` is a positive float or an array (0-d, or one per batch element with
    shape (...)); a torch tensor that requires grad gives a learnable bandwidth.
    Liu et al. (2020) write ``exp(-||x - y||^2 / s)``: ``s = 2 bandwidth^2``.

    Examples
    --------
    >>> import numpy as np
    >>> GaussianKernel(1.0)(np.array([[0.0], [1.0]])).round(4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]])
    """

    bandwidth: Any = 1.0

    def __post_init__(self):
        object.__setattr__(self, "bandwidth", _scale(self.bandwidth, "bandwidth", "GaussianKernel"))

    def _matrix(self, xp, X, Y, same):
        h = _bcast(xp, self.bandwidth, X)
        # 0.5 / h / h, capped at the dtype's largest value: 0.5 / h^2 divides by zero once h^2 underflows
        # (h < 1e-162) and an infinite coefficient makes 0 * inf = NaN on the diagonal; capped, it gives
        # k = 1 at distance 0 and k = 0 elsewhere, the limit as h -> 0
        c = _inverse_square(xp, h, X.dtype)
        # distances beyond 1000 / c give exp(-1000) = 0 in any float dtype; clipping them keeps d2 * c finite
        return xp.exp(-xp.clip(_sq_dist(xp, X, Y, same), max=1000.0 / c) * c)


@dataclass(frozen=True, eq=False)
class LaplaceKernel(_Kernel):
    """Laplace (exponential) kernel ``k(x, y) = exp(-||x - y|| / bandwidth)``, Euclidean norm.

    Examples
    --------
    >>> import numpy as np
    >>> LaplaceKernel(2.0)(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])).round(4)
    array([[0.0821]])
    """

    bandwidth: Any = 1.0

    def __post_init__(self):
        object.__setattr__(self, "bandwidth", _scale(self.bandwidth, "bandwidth", "LaplaceKernel"))

    def _matrix(self, xp, X, Y, same):
        h = _bcast(xp, self.bandwidth, X)
        return xp.exp(-_safe_sqrt(xp, _sq_dist(xp, X, Y, same)) / h)


@dataclass(frozen=True, eq=False)
class LinearKernel(_Kernel):
    """Linear kernel ``k(x, y) = x . y``; kernel ridge with it equals ridge (push-through).

    Examples
    --------
    >>> import numpy as np
    >>> LinearKernel()(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [0.0, 1.0]]))
    array([[11.,  2.]])
    """

    def _matrix(self, xp, X, Y, same):
        return xp.matmul(X, xp.matrix_transpose(Y))


@dataclass(frozen=True, eq=False)
class PolynomialKernel(_Kernel):
    """Polynomial kernel ``k(x, y) = (x . y + c)^degree`` (scikit-learn's with gamma = 1, coef0 = c).

    Examples
    --------
    >>> import numpy as np
    >>> PolynomialKernel(2, c=1.0)(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))
    array([[144.]])
    """

    degree: int = 2
    c: float = 1.0

    def __post_init__(self):
        check_int(self.degree, "degree", "PolynomialKernel", minimum=1)
        object.__setattr__(self, "c", check_nonnegative(self.c, "c", "PolynomialKernel"))

    def _matrix(self, xp, X, Y, same):
        K = (xp.matmul(X, xp.matrix_transpose(Y)) + self.c) ** self.degree
        if not _is_traced(K) and not bool(xp.all(xp.isfinite(K))):
            raise ValueError(
                f"PolynomialKernel: (X Y^T + c)^{self.degree} overflows {K.dtype} for X and Y of this scale; "
                "rescale X and Y (e.g. divide by their largest entry) first"
            )
        return K


@dataclass(frozen=True, eq=False)
class PeriodicKernel(_Kernel):
    """Periodic kernel ``k(x, y) = exp(-2 sum_d sin^2(pi (x_d - y_d) / period) / bandwidth^2)``.

    A product over coordinates of MacKay's exp-sine-squared kernel (Rasmussen & Williams
    2006, eq. 4.31), so it is positive semi-definite in any dimension; for 1-d inputs it
    is scikit-learn's ``ExpSineSquared(length_scale=bandwidth, periodicity=period)``.
    Computed by matrix products: ``sum_d sin^2(a_d - b_d) = (p - cos(2a).cos(2b) - sin(2a).sin(2b)) / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> PeriodicKernel(1.0, period=2.0)(np.array([[0.0]]), np.array([[2.0], [1.0]])).round(4)
    array([[1.    , 0.1353]])
    """

    bandwidth: Any = 1.0
    period: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "bandwidth", _scale(self.bandwidth, "bandwidth", "PeriodicKernel"))
        object.__setattr__(self, "period", check_positive(self.period, "period", "PeriodicKernel"))

    def _matrix(self, xp, X, Y, same):
        h = _bcast(xp, self.bandwidth, X)
        w = 2 * math.pi / self.period
        cross = xp.matmul(xp.cos(w * X), xp.matrix_transpose(xp.cos(w * Y)))
        cross = cross + xp.matmul(xp.sin(w * X), xp.matrix_transpose(xp.sin(w * Y)))
        s2 = (X.shape[-1] - cross) / 2  # sum_d sin^2(pi (x_d - y_d) / period)
        s2 = xp.where(s2 > 0, s2, xp.zeros_like(s2))
        return xp.exp(-2 * s2 / (h * h))


@dataclass(frozen=True, eq=False)
class FeatureKernel(_Kernel):
    """Kernel of a feature map with a diagonal Gaussian prior: ``k(x, y) = sum_j s_j phi_j(x) phi_j(y)``.

    ``feature_map`` maps points (..., n, p) to features (..., n, F) in the same library;
    ``variances`` is a float or a length-F sequence ``s`` (the prior variances of the
    feature weights). The GP with this covariance is the Bayesian linear model on the
    features (Rasmussen & Williams 2006, section 2.1).

    Examples
    --------
    >>> import numpy as np
    >>> k = FeatureKernel(lambda X: np.concatenate([X, X ** 2], axis=-1), variances=[1.0, 0.5])
    >>> k(np.array([[1.0], [2.0]]))
    array([[ 1.5,  4. ],
           [ 4. , 12. ]])
    """

    feature_map: Callable[[Any], Any] = None
    variances: Any = 1.0

    def __post_init__(self):
        if not callable(self.feature_map):
            raise TypeError(f"FeatureKernel: feature_map must be callable, got {type(self.feature_map).__name__}")
        v = np.asarray(self.variances, dtype=float)
        if v.ndim > 1 or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"FeatureKernel: variances must be a float or a 1-d sequence of values >= 0, got {v}")
        object.__setattr__(self, "variances", v)

    def _matrix(self, xp, X, Y, same):
        FX = self.feature_map(X)
        FY = FX if same and Y is X else self.feature_map(Y)
        s = xp.asarray(self.variances, dtype=FX.dtype, device=array_api_compat.device(FX))
        return xp.matmul(FX * s, xp.matrix_transpose(FY))


@dataclass(frozen=True, eq=False)
class FourierKernel(_Kernel):
    """Kernel of a Fourier series with Gaussian coefficients, on 1-d inputs.

    With ``f(x) = a_0 + sum_{j=1}^{N} a_j cos(pi j x / L) + b_j sin(pi j x / L)`` and
    independent ``a_0 ~ N(0, s_0)``, ``a_j, b_j ~ N(0, s_j)``::

        k(x, y) = s_0 + sum_j s_j cos(pi j (x - y) / L)

    the GP whose posterior mean is the Bayes predictor of the Fourier-series prior
    (Panwar et al. 2024, section 5; features as in ``estimators.bayes.FourierFeatures``).
    Computed as ``s_0 + C diag(s) C'^T + S diag(s) S'^T`` with ``C = cos``, ``S = sin``.

    Parameters
    ----------
    max_freq : int
        N, the highest frequency.
    period_length : float
        L, the half period (functions have period 2L).
    variances : float or sequence of N + 1 floats
        ``s_0, ..., s_N`` (one float: the same for all).

    Examples
    --------
    >>> import numpy as np
    >>> FourierKernel(1, 1.0)(np.array([[0.0]]), np.array([[0.0], [1.0]]))
    array([[2., 0.]])
    """

    max_freq: int = 1
    period_length: float = 1.0
    variances: Any = 1.0

    def __post_init__(self):
        fn = "FourierKernel"
        check_int(self.max_freq, "max_freq", fn, minimum=1)
        object.__setattr__(self, "period_length", check_positive(self.period_length, "period_length", fn))
        v = np.broadcast_to(np.asarray(self.variances, dtype=float), (self.max_freq + 1,)) if np.ndim(
            self.variances) == 0 else np.asarray(self.variances, dtype=float)
        if v.shape != (self.max_freq + 1,) or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"{fn}: variances must be a float or {self.max_freq + 1} values >= 0, got {self.variances}")
        object.__setattr__(self, "variances", v.copy())

    def _matrix(self, xp, X, Y, same):
        if X.shape[-1] != 1:
            raise ValueError(f"FourierKernel: inputs must have one feature (shape (..., n, 1)), got {tuple(X.shape)}")
        dev = array_api_compat.device(X)
        j = xp.arange(1, self.max_freq + 1, dtype=X.dtype, device=dev)
        s = xp.asarray(self.variances[1:], dtype=X.dtype, device=dev)
        ax, ay = (math.pi / self.period_length) * X * j, (math.pi / self.period_length) * Y * j  # (..., n, N)
        cos = xp.matmul(xp.cos(ax) * s, xp.matrix_transpose(xp.cos(ay)))
        sin = xp.matmul(xp.sin(ax) * s, xp.matrix_transpose(xp.sin(ay)))
        return float(self.variances[0]) + cos + sin


def median_heuristic(X: Any, Y: Any = None) -> Any:
    """Median heuristic bandwidth: the median Euclidean distance between distinct points.

    The points of ``X`` and ``Y`` are pooled; the median runs over pairs ``i < j`` of the
    pooled sample, per batch element (Gretton et al. 2012, section 8). Use it as
    ``GaussianKernel(median_heuristic(X, Y))``.

    Parameters
    ----------
    X : array of shape (..., n, p)
    Y : array of shape (..., m, p), optional

    Returns
    -------
    array of shape (...)
        In the input's library, dtype and device (not differentiable).

    Examples
    --------
    >>> import numpy as np
    >>> float(median_heuristic(np.array([[0.0], [1.0], [3.0]])))
    2.0
    """
    fn = "median_heuristic"
    xp, X, Y_ = _points(X, Y, fn)
    Z = to_numpy(X)
    if Y is not None:
        Zy = to_numpy(Y_)
        batch = np.broadcast_shapes(Z.shape[:-2], Zy.shape[:-2])
        Z = np.concatenate(
            [np.broadcast_to(Z, batch + Z.shape[-2:]), np.broadcast_to(Zy, batch + Zy.shape[-2:])], axis=-2
        )
    n = Z.shape[-2]
    if n < 2:
        raise ValueError(f"{fn}: needs at least 2 points in X and Y together, got {n}")
    d = np.sqrt(_sq_dist(np, Z.astype(np.float64), Z.astype(np.float64), True))
    iu = np.triu_indices(n, k=1)
    med = np.median(d[..., iu[0], iu[1]], axis=-1)
    return xp.asarray(med, dtype=X.dtype, device=array_api_compat.device(X))
