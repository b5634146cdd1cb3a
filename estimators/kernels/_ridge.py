"""Kernel ridge regression and its all-prefix form, by one batched Cholesky factorisation.

Kernel ridge (Saunders, Gammerman & Vovk 1998): ``alpha = (K + lam I)^{-1} y`` and
``f(x) = k(x, X) alpha``, solved by one batched Cholesky factorisation (numpy, torch or
jax; leading axes are independent problems). The Gaussian-process posterior with
covariance ``k`` and noise variance ``s^2`` has the kernel ridge mean with ``lam = s^2``;
for a feature-map kernel (:class:`estimators.kernels.FeatureKernel`) it is the Bayes
predictor of the Gaussian prior on the feature weights. The all-prefix version follows
the seam of ``docs/design.md``. Kernel objects live in :mod:`estimators.kernels`; this module takes
any callable ``k(X, Y) -> (..., n, m)``. An indefinite kernel matrix is a
``ValueError``; a singular or ill-conditioned one warns and stays finite.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from ..validation import _is_traced, check_array, check_fit_data, check_nonnegative, check_prompt, check_queries
from ..validation import library_name, namespace, solve_triangular, to_numpy
from ._functions import GaussianKernel, _Kernel

__all__ = ["KernelRidgeParams", "kernel_ridge_fit", "kernel_ridge_predict", "kernel_ridge_prefixes"]


# Cholesky with honest errors: indefinite -> ValueError, singular / ill-conditioned -> warn.


def _eps(dtype) -> float:
    return 2.220446049250313e-16 if "64" in str(dtype) else 1.1920928955078125e-07


def _try_cholesky(xp, A):
    """(L, ok): ok is False where the factorisation failed (any batch element)."""
    name = library_name(A)
    if name == "torch":
        import torch

        L, info = torch.linalg.cholesky_ex(A)
        return L, bool((info == 0).all())
    if name == "numpy":
        try:
            return np.linalg.cholesky(A), True
        except np.linalg.LinAlgError:
            return None, False
    L = xp.linalg.cholesky(A)
    return L, _is_traced(L) or bool(xp.all(xp.isfinite(L)))


def _stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first caller outside ``estimators``."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("estimators."):
        frame, level = frame.f_back, level + 1
    return level


def _check_factor_diagonal(d: np.ndarray, eps: float, fn: str, what: str) -> None:
    """Raise on a non-finite Cholesky factor; warn when ``(max L_ii / min L_ii)^2`` (a lower bound
    on the condition number) exceeds ``1 / (1e3 eps)``."""
    d = np.asarray(d, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{fn}: {what} contains NaN or infinite values; check the kernel and its inputs")
    cond = float(np.max((d.max(axis=-1) / d.min(axis=-1)) ** 2)) if d.min() > 0 else math.inf
    if cond > 1.0 / (1e3 * eps):
        warnings.warn(
            f"{fn}: {what} is ill-conditioned (condition number about {cond:.1e}); "
            "the solution may be inaccurate: increase lam",
            RuntimeWarning,
            stacklevel=_stacklevel(),
        )


def _cholesky(xp, A: Any, fn: str, what: str = "K + lam I") -> Any:
    """Lower Cholesky factor of a batch of symmetric matrices, with PSD and conditioning checks.

    Indefinite beyond rounding (smallest eigenvalue < -100 n eps |largest|) raises
    ``ValueError``; a singular or ill-conditioned matrix gets a warning, and a small
    diagonal jitter when the factorisation fails, so the result is always finite.
    """
    L, ok = _try_cholesky(xp, A)
    if _is_traced(A):
        return L
    n = A.shape[-1]
    eps = _eps(A.dtype)
    if ok:
        _check_factor_diagonal(to_numpy(xp.linalg.diagonal(L)), eps, fn, what)
        return L
    A_np = to_numpy(A).astype(np.float64)
    if not np.all(np.isfinite(A_np)):
        raise ValueError(f"{fn}: {what} contains NaN or infinite values; check the kernel and its inputs")
    ev = np.linalg.eigvalsh(A_np)
    top = max(float(np.abs(ev).max()), np.finfo(np.float64).tiny)
    low = float(ev.min())
    tol = 100 * n * eps * top
    if low < -tol:
        raise ValueError(
            f"{fn}: {what} is not positive semi-definite: smallest eigenvalue {low:.3g}, largest {top:.3g}; "
            "the kernel is not a valid (PSD) kernel for these points, or lam is too small"
        )
    jitter = max(-low, 0.0) + tol
    eye = xp.eye(n, dtype=A.dtype, device=array_api_compat.device(A))
    for _ in range(20):
        L, ok = _try_cholesky(xp, A + jitter * eye)
        if ok:
            break
        jitter *= 10
    warnings.warn(
        f"{fn}: {what} is singular or ill-conditioned (smallest eigenvalue {low:.3g}, largest {top:.3g}); "
        f"added {jitter:.3g} to its diagonal to factorise it; increase lam for a stable solution",
        RuntimeWarning,
        stacklevel=_stacklevel(),
    )
    return L


def _gaussian_inplace(X: np.ndarray, Y: np.ndarray, bandwidth: float, same: bool) -> np.ndarray:
    """:class:`GaussianKernel` ``exp(-c ||x - y||^2)``, ``c = 1 / (2 bandwidth^2)``, for numpy in place.

    The exponent ``2c x.y - c||x||^2 - c||y||^2`` is one matrix product of augmented inputs,
    ``[2c x, -c||x||^2, 1] . [y, 1, -c||y||^2]``, clamped at 0 (exact 0 on the diagonal when Y is X)
    and exponentiated in the same (..., n, m) array: no broadcast passes over the n x m matrix
    besides the clamp and the exp. In a many-problem kernel ridge the n x m matrices are most of
    the work (``docs/performance.md``).
    """
    c = min(0.5 / bandwidth / bandwidth, float(np.finfo(X.dtype).max))
    ones_x, ones_y = np.ones(X.shape[:-1] + (1,), X.dtype), np.ones(Y.shape[:-1] + (1,), Y.dtype)
    Xa = np.concatenate([(2.0 * c) * X, -c * np.einsum("...i,...i->...", X, X)[..., None], ones_x], axis=-1)
    Ya = np.concatenate([Y, ones_y, -c * np.einsum("...i,...i->...", Y, Y)[..., None]], axis=-1)
    G = np.matmul(Xa, np.swapaxes(Ya, -1, -2))  # (..., n, m) = -c ||x - y||^2 up to rounding
    np.minimum(G, 0.0, out=G)  # exp in [0, 1], never overflowing
    if same:
        i = np.arange(G.shape[-1])
        G[..., i, i] = 0.0
    return np.exp(G, out=G)


def _inplace_gaussian(kernel, X: Any, Y: Any) -> bool:
    """Whether ``kernel(X, Y)`` is computed by :func:`_gaussian_inplace` (a fresh numpy array this module owns)."""
    return (
        type(kernel) is GaussianKernel
        and isinstance(kernel.bandwidth, float)
        and kernel.bandwidth >= 1e-5  # c <= 5e9: c ||x||^2 stays finite wherever ||x||^2 does (see the kernel)
        and isinstance(X, np.ndarray)
        and isinstance(Y, np.ndarray)
        and X.dtype in (np.float32, np.float64)
        and X.dtype == Y.dtype
        and X.ndim == Y.ndim
        and X.shape[:-2] == Y.shape[:-2]
        and X.shape[-1] == Y.shape[-1]
    )


def _kernel_matrix(kernel, X: Any, Y: Any) -> Any:
    """``kernel(X, Y)`` (``Y is X``: the training Gram), by :func:`_gaussian_inplace` where it applies."""
    if _inplace_gaussian(kernel, X, Y):
        return _gaussian_inplace(X, Y, kernel.bandwidth, Y is X)
    return kernel(X, X) if Y is X else kernel(X, Y)


def _gram(xp, kernel, X: Any, fn: str) -> Any:
    """``kernel(X, X)`` with shape and finiteness checks."""
    if not callable(kernel):
        raise TypeError(f"{fn}: kernel must be callable k(X, Y) -> (..., n, m), got {type(kernel).__name__}")
    K = _kernel_matrix(kernel, X, X)
    n = X.shape[-2]
    if tuple(K.shape[-2:]) != (n, n):
        raise ValueError(f"{fn}: kernel(X, X) must have shape (..., {n}, {n}), got {tuple(K.shape)}")
    namespace(X, K, fn=fn)
    if not isinstance(kernel, _Kernel):  # the kernels of estimators.kernels give finite values on finite inputs
        check_array(K, "kernel(X, X)", fn, min_ndim=2)
    return K


def _add_diag(xp, K: Any, value: float, inplace: bool = False) -> Any:
    """``K + value I``; ``inplace``: into K itself (numpy; only for a matrix this module has just made)."""
    n = K.shape[-1]
    if inplace and isinstance(K, np.ndarray):
        i = np.arange(n)
        K[..., i, i] += value
        return K
    return K + value * xp.eye(n, dtype=K.dtype, device=array_api_compat.device(K))




class KernelRidgeParams(NamedTuple):
    """A fitted kernel ridge model: ``f(x) = kernel(x, X) @ alpha``.

    ``X`` (..., n, p) training inputs, ``alpha`` (..., n) dual weights, ``kernel`` and
    ``lam`` as given; ``y`` (..., n) the training targets where ``alpha`` solves
    ``(K + lam I) alpha = y`` exactly (None after the least-squares fallback): predicting at
    ``X`` itself is then ``K alpha = y - lam alpha``, with no kernel evaluation.
    """

    X: Any
    alpha: Any
    kernel: Any
    lam: float
    y: Any = None


def kernel_ridge_fit(X: Any, y: Any, kernel: Any, lam: float = 1.0) -> KernelRidgeParams:
    """Fit kernel ridge regression: ``alpha = (K + lam I)^{-1} y`` with ``K = kernel(X, X)``.

    Solved by one batched Cholesky factorisation ``K + lam I = L L^T`` and two triangular
    solves (never an inverse). It minimises ``||y - K alpha||^2 + lam alpha^T K alpha``;
    scikit-learn's ``KernelRidge(alpha=lam)`` gives the same dual weights.

    Parameters
    ----------
    X : array of shape (..., n, p)
    y : array of shape (..., n)
    kernel : callable
        ``kernel(X, Y) -> (..., n, m)``, e.g. :class:`GaussianKernel`.
    lam : float, >= 0

    Returns
    -------
    KernelRidgeParams

    Raises
    ------
    ValueError
        If ``lam < 0``, the shapes disagree, or ``K + lam I`` is not positive
        semi-definite. A singular or ill-conditioned ``K + lam I`` warns (and gets a
        diagonal jitter if needed); the solution stays finite.

    References
    ----------
    Saunders, Gammerman & Vovk (1998), "Ridge regression learning algorithm in dual
    variables"; Rasmussen & Williams (2006), eq. 2.25.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> X = np.array([[0.0], [1.0]]); y = np.array([1.0, 3.0])
    >>> fit = kernel_ridge_fit(X, y, LinearKernel(), lam=1.0)
    >>> kernel_ridge_predict(fit, np.array([[2.0]]))
    array([3.])
    """
    fn = "kernel_ridge_fit"
    xp = check_fit_data(X, y, fn)
    lam = check_nonnegative(lam, "lam", fn)
    batch, (n, p) = tuple(X.shape[:-2]), tuple(X.shape[-2:])
    size = math.prod(batch)
    step = max(1, _CHUNK // (n * n)) if _chunkable(kernel) else size
    if step >= size:
        alpha, exact = _fit_block(xp, kernel, X, y, lam, fn)
        return KernelRidgeParams(X, alpha, kernel, lam, y if exact else None)
    # Many problems: solve them in cache-sized blocks (same arithmetic, far less memory traffic).
    Xf, yf = xp.reshape(X, (size, n, p)), xp.reshape(y, (size, n))
    blocks = [_fit_block(xp, kernel, Xf[i : i + step], yf[i : i + step], lam, fn) for i in range(0, size, step)]
    alpha = xp.reshape(xp.concat([a for a, _ in blocks], axis=0), batch + (n,))
    return KernelRidgeParams(X, alpha, kernel, lam, y if all(e for _, e in blocks) else None)


def _fit_block(xp, kernel, X, y, lam, fn):
    """``alpha = (K + lam I)^{-1} y = L^{-T} L^{-1} y`` for a batch of problems, ``L L^T = K + lam I``.

    Returns ``(alpha, exact)``; ``exact`` is False where the least-squares fallback was taken.
    """
    own = _inplace_gaussian(kernel, X, X)  # the Gram is this module's fresh array: lam goes on its diagonal in place
    gram = _gram(xp, kernel, X, fn)
    K = _add_diag(xp, gram, lam, inplace=own)
    if library_name(K) == "numpy" and not _is_traced(K):
        alpha = _posv_loop(K, y, fn)  # factors K in place: K is this module's own array either way
        if alpha is not None:
            return alpha, True
        # a failed factorisation overwrote K: rebuild it for the checks below (a user kernel's Gram is intact)
        K = _add_diag(xp, _gram(xp, kernel, X, fn) if own else gram, lam)
    L, ok = _try_cholesky(xp, K)
    if _is_traced(K):
        ok = True
    elif not ok:
        return _least_squares(xp, K, y, fn), False
    else:
        _check_factor_diagonal(to_numpy(xp.linalg.diagonal(L)), _eps(K.dtype), fn, "K + lam I")
    z = solve_triangular(xp, L, y[..., None], lower=True)
    return solve_triangular(xp, L, z, lower=True, transpose=True)[..., 0], True


def _least_squares(xp, A, y, fn):
    """Minimum-norm least-squares solution of ``A alpha = y`` for symmetric PSD ``A`` singular to working precision.

    scikit-learn's fallback for a failed Cholesky of ``K + lam I`` (``KernelRidge`` warns and
    solves by least squares); here by the eigendecomposition ``A = V diag(w) V^T``, dropping the
    eigenvalues below ``n eps max|w|``: a cut-off relative to the matrix's own scale, so
    unscaled features (a linear kernel's K of size 1e16) are treated like scaled ones, where a
    fixed or absolute jitter would change the problem by a scale-dependent amount. Indefinite
    beyond rounding (smallest eigenvalue < -100 n eps max|w|) is a ``ValueError``.
    """
    n = A.shape[-1]
    eps = _eps(A.dtype)
    w, V = xp.linalg.eigh(A)
    w_np = to_numpy(w).astype(np.float64)
    if not np.all(np.isfinite(w_np)):
        raise ValueError(f"{fn}: K + lam I contains NaN or infinite values; check the kernel and its inputs")
    top = np.maximum(np.abs(w_np).max(axis=-1), np.finfo(np.float64).tiny)
    low = w_np.min(axis=-1)
    if np.any(low < -100 * n * eps * top):
        i = int(np.argmin(low / top))
        raise ValueError(
            f"{fn}: K + lam I is not positive semi-definite: smallest eigenvalue {low.flat[i]:.3g}, largest "
            f"{top.flat[i]:.3g}; the kernel is not a valid (PSD) kernel for these points, or lam is too small"
        )
    cut = xp.max(xp.abs(w), axis=-1, keepdims=True) * (n * eps)
    keep = w > cut
    w_inv = xp.where(keep, 1.0 / xp.where(keep, w, xp.ones_like(w)), xp.zeros_like(w))
    coef = (y[..., None, :] @ V)[..., 0, :] * w_inv  # (V^T y) / w, (..., n)
    dropped = int(np.sum(~to_numpy(keep)))
    warnings.warn(
        f"{fn}: K + lam I is singular to working precision (eigenvalues from {low.min():.3g} to {top.max():.3g}); "
        f"using the minimum-norm least-squares solution instead ({dropped} eigenvalue(s) below {n} eps times "
        "the largest dropped); increase lam or standardise the features for a stable solution",
        RuntimeWarning,
        stacklevel=_stacklevel(),
    )
    return (V @ coef[..., None])[..., 0]


def _posv_loop(K: np.ndarray, y: np.ndarray, fn: str):
    """numpy fast path: one LAPACK ``posv`` (Cholesky factor + solve) per problem, no Python-level
    batching overhead. K is overwritten by its factors (no copy per problem: a third of the time).
    Returns None when a factorisation fails, so that the caller can report an indefinite matrix or
    take the least-squares fallback (from a fresh K)."""
    from scipy.linalg import get_lapack_funcs

    n = K.shape[-1]
    Kf, yf = K.reshape((-1, n, n)), y.reshape((-1, n))
    (posv,) = get_lapack_funcs(("posv",), (Kf[:1], yf[:1]))
    out, diag = np.empty(yf.shape, dtype=K.dtype), np.empty(yf.shape, dtype=K.dtype)
    for i in range(Kf.shape[0]):
        # K is symmetric, so its transpose is a Fortran-ordered view LAPACK factors in place
        c, x, info = posv(Kf[i].T, yf[i], lower=1, overwrite_a=1, overwrite_b=0)
        if info != 0:
            return None
        out[i], diag[i] = x, np.diagonal(c)
    _check_factor_diagonal(diag, _eps(K.dtype), fn, "K + lam I")
    return out.reshape(y.shape).astype(y.dtype, copy=False)


_CHUNK = 1 << 18  # kernel-matrix entries per block (2 MiB in float64)


def _chunkable(kernel) -> bool:
    """Blocks of a flattened batch are safe only for kernels without per-problem (array) parameters."""
    return isinstance(kernel, _Kernel) and all(
        not array_api_compat.is_array_api_obj(v) or getattr(v, "ndim", 1) == 0 for v in vars(kernel).values()
    )


def kernel_ridge_predict(params: KernelRidgeParams, Xq: Any) -> Any:
    """Kernel ridge predictions ``f(x_q) = kernel(x_q, X) alpha``.

    Passing the training inputs themselves (``Xq is params.X``) returns the fitted values
    ``K alpha = y - lam alpha`` without evaluating the kernel again (exact where the fit solved
    ``(K + lam I) alpha = y`` by Cholesky; after the least-squares fallback K is recomputed).

    Parameters
    ----------
    params : KernelRidgeParams
        From :func:`kernel_ridge_fit`.
    Xq : array of shape (..., m, p)

    Returns
    -------
    array of shape (..., m)

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import GaussianKernel
    >>> fit = kernel_ridge_fit(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]), GaussianKernel(1.0), lam=1e-3)
    >>> kernel_ridge_predict(fit, np.array([[1.0]])).round(3)
    array([0.998])
    """
    fn = "kernel_ridge_predict"
    if not isinstance(params, KernelRidgeParams):
        raise TypeError(f"{fn}: params must come from kernel_ridge_fit, got {type(params).__name__}")
    xp = namespace(params.X, Xq, fn=fn)
    check_queries(Xq, params.X, fn)
    if Xq is params.X and params.y is not None:
        # the training inputs themselves: K alpha = (K + lam I) alpha - lam alpha = y - lam alpha
        return params.y - params.lam * params.alpha
    if not callable(params.kernel):
        raise TypeError(f"{fn}: params.kernel must be callable, got {type(params.kernel).__name__}")
    if (_inplace_gaussian(params.kernel, Xq, params.X) and isinstance(params.alpha, np.ndarray)
            and params.alpha.shape == params.X.shape[:-1]):
        return _predict_blocks(params, Xq)
    Kq = _kernel_matrix(params.kernel, Xq, params.X)
    return xp.matmul(Kq, params.alpha[..., None])[..., 0]


def _predict_blocks(params: KernelRidgeParams, Xq: np.ndarray) -> np.ndarray:
    """numpy Gaussian-kernel predictions in cache-sized blocks of problems, as the fit (``_CHUNK``)."""
    X, alpha = params.X, params.alpha
    batch, (m, p), n = tuple(Xq.shape[:-2]), tuple(Xq.shape[-2:]), X.shape[-2]
    size = math.prod(batch)
    Xqf, Xf, af = Xq.reshape((size, m, p)), X.reshape((size, n, p)), alpha.reshape((size, n, 1))
    out = np.empty((size, m), dtype=np.result_type(Xq.dtype, alpha.dtype))
    step = max(1, _CHUNK // max(m * n, 1))
    for i in range(0, size, step):
        Kq = _gaussian_inplace(Xqf[i : i + step], Xf[i : i + step], params.kernel.bandwidth, False)
        out[i : i + step] = np.matmul(Kq, af[i : i + step])[..., 0]
    return out.reshape(batch + (m,))


def kernel_ridge_prefixes(xs: Any, ys: Any, kernel: Any, lam: float = 1.0, *, return_var: bool = False):
    """Kernel ridge on every prefix: ``preds[..., k]`` predicts ``xs[..., k, :]`` from the first k pairs.

    One Cholesky factor serves every prefix. With ``K + lam I = L L^T`` the leading
    k x k block of L is the factor of the k-point problem, so with ``z = L^{-1} y``::

        preds[k] = k(x_k, X_{<k}) (K_{<k} + lam I)^{-1} y_{<k} = sum_{j<k} L[k, j] z[j]

    and ``L[k, k]^2 = k(x_k, x_k) + lam - ||L[k, :k]||^2`` is the GP predictive variance
    of ``y_k`` (noise variance ``lam``). ``preds[..., 0] = 0`` (the prior mean).
    Cost: one O(n^3) factorisation for all n prefixes.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    kernel : callable
    lam : float, >= 0
    return_var : bool
        Also return the predictive variances (..., n) (the GP with noise variance lam).

    Returns
    -------
    preds : array of shape (..., n)
    var : array of shape (..., n), only if ``return_var``

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.kernels import LinearKernel
    >>> xs = np.array([[0.0], [1.0], [2.0]]); ys = np.array([1.0, 3.0, 5.0])
    >>> kernel_ridge_prefixes(xs, ys, LinearKernel(), lam=1.0)
    array([0., 0., 3.])
    """
    fn = "kernel_ridge_prefixes"
    xp = check_prompt(xs, ys, fn)
    lam = check_nonnegative(lam, "lam", fn)
    K = _gram(xp, kernel, xs, fn)
    L = _cholesky(xp, _add_diag(xp, K, lam), fn)
    z = solve_triangular(xp, L, ys[..., None], lower=True)  # (..., n, 1)
    strict = xp.tril(L, k=-1)
    preds = xp.matmul(strict, z)[..., 0]
    if not return_var:
        return preds
    d = xp.linalg.diagonal(L)
    return preds, d * d
