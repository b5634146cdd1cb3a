"""MMD two-sample statistics, their H1 variance, batched permutation tests and the deep kernel.

Maximum mean discrepancy (Gretton et al. 2012) between samples ``X`` (..., n, d) and
``Y`` (..., m, d) under a kernel ``k``: a kernel is any callable ``k(A, B) -> (..., a, b)``
such as :class:`estimators.kernels.GaussianKernel` or :class:`DeepKernel`. Everything is
batched over leading axes and works on numpy, torch (also CUDA, also with autograd) and
jax through the array namespace. Notation map: Liu et al. (2020) write the Gaussian
kernel ``exp(-||x - y||^2 / s)``; here ``s = 2 bandwidth^2``.

What lives here: :func:`mmd2`, :func:`mpp` (the MMD-MP statistic, Zhang et al. 2024),
their H1 variances, :func:`permutation_test` (one kernel matrix, all permutations in one
batched product) and :class:`DeepKernel` (:mod:`estimators._deep_kernel`). Kernel training (MMD-O / MMD-D / MMD-MP) and
the classifier tests (C2ST) live in :mod:`estimators._mmd_train` and are re-exported
here; the Blob / HDGM samplers live in :mod:`estimators.mmd_data`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .validation import check_array, check_int, check_point_sets, library_name
from .kernels import GaussianKernel  # noqa: F401  (the doctest examples use it)

__all__ = [
    "mmd2",
    "mpp",
    "mmd2_h1_variance",
    "mpp_h1_variance",
    "permutation_test",
    "PermutationTestResult",
    "DeepKernel",
]


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


# ----------------------------------------------------------------------------------------
# permutation test


@dataclass(frozen=True)
class PermutationTestResult:
    """``statistic`` (...), ``pvalue`` (...) and ``null_distribution`` (..., B), scipy's names."""

    statistic: Any
    pvalue: Any
    null_distribution: Any


_STATISTICS = ("mmd2", "mmd2-biased", "mmd2-one-sample")


def _take_last(K_flat: Any, idx: Any) -> Any:
    """``K_flat[..., idx[..., j]]`` along the last axis in numpy, torch or jax."""
    name = library_name(K_flat)
    if name == "torch":
        import torch

        return torch.gather(K_flat, -1, idx)
    if name == "jax":
        import jax.numpy as jnp

        return jnp.take_along_axis(K_flat, idx, axis=-1)
    return np.take_along_axis(K_flat, idx, axis=-1)


def _permuted_statistics(xp, K: Any, n: int, perms: np.ndarray, statistic: str) -> Any:
    """MMD^2 of every relabelling ``perms[..., b, :]`` of the pooled sample from one product.

    With ``a_b`` the 0/1 indicator of the points labelled X by permutation b and ``A`` the
    (N, B) matrix of them: ``a^T K a = colsum(A * (K A))``, ``a^T K 1 = A^T (K 1)``, then
    ``sum K_yy = 1^T K 1 - 2 a^T K 1 + a^T K a`` and ``sum K_xy = a^T K 1 - a^T K a``; the
    unbiased forms subtract the diagonal ``a^T diag(K)``, and the one-sample form also the
    paired entries ``sum_i K[perm_i, perm_{n+i}]``. Runs in float64.
    """
    dev = array_api_compat.device(K)
    N = K.shape[-1]
    m = N - n
    B = perms.shape[-2]
    A_np = np.zeros(perms.shape[:-2] + (N, B))
    np.put_along_axis(A_np, np.swapaxes(perms[..., :n], -1, -2), 1.0, axis=-2)
    A = xp.asarray(A_np, dtype=xp.float64, device=dev)
    KA = xp.matmul(K, A)  # (..., N, B)
    xx_full = xp.sum(A * KA, axis=-2)  # a^T K a, (..., B)
    r = xp.sum(K, axis=-1)  # K 1, (..., N)
    x1 = xp.sum(A * r[..., :, None], axis=-2)  # a^T K 1
    total = xp.sum(r, axis=-1)[..., None]
    yy_full = total - 2 * x1 + xx_full
    xy = x1 - xx_full
    if statistic == "mmd2-biased":
        return xx_full / n**2 + yy_full / m**2 - 2 * xy / (n * m)
    dK = xp.linalg.diagonal(K)
    dx = xp.sum(A * dK[..., :, None], axis=-2)
    dy = xp.sum(dK, axis=-1)[..., None] - dx
    if statistic == "mmd2":
        return (xx_full - dx) / (n * (n - 1)) + (yy_full - dy) / (m * (m - 1)) - 2 * xy / (n * m)
    pair_idx = perms[..., :n] * N + perms[..., n:]  # (..., B, n) flat indices of (x_i, y_i) pairs
    flat = xp.reshape(K, tuple(K.shape[:-2]) + (N * N,))
    pair_idx = np.reshape(pair_idx, pair_idx.shape[:-2] + (B * n,))
    idx = xp.asarray(np.broadcast_to(pair_idx, tuple(K.shape[:-2]) + (B * n,)).copy(), device=dev)
    paired = xp.sum(xp.reshape(_take_last(flat, idx), tuple(K.shape[:-2]) + (B, n)), axis=-1)
    return (xx_full - dx + yy_full - dy - 2 * (xy - paired)) / (n * (n - 1))


def permutation_test(
    X: Any,
    Y: Any,
    kernel: Any,
    n_permutations: int = 1000,
    *,
    statistic: str = "mmd2",
    seed: int = 0,
    chunk_size: int | None = None,
) -> PermutationTestResult:
    """Permutation two-sample test with an MMD^2 statistic, batched over test sets.

    The pooled kernel matrix ``K = k(Z, Z)``, ``Z = [X; Y]``, is computed once; every
    permutation relabels Z, so all B permuted statistics come from one product ``K A``
    with the (N, B) matrix of X-indicators (see the diagonal corrections in the source).
    The p-value counts the observed statistic as one of the draws::

        p = (1 + #{b : T_b >= T}) / (1 + B)

    Each test set in the batch gets its own independent permutations (from ``seed``).
    Ties within a relative ``32 eps`` of T count as ``>=``.

    Parameters
    ----------
    X : array of shape (..., n, d)
    Y : array of shape (..., m, d)
    kernel : callable
        A fixed kernel (e.g. one returned by ``train_kernel``); evaluated without gradients.
    n_permutations : int, >= 1
    statistic : {"mmd2", "mmd2-biased", "mmd2-one-sample"}
        The unbiased two-sample, biased, or Liu et al.'s equal-size form of :func:`mmd2`.
    seed : int
    chunk_size : int, optional
        Permutations per product (memory bound); by default about 2^24 floats per chunk.

    Returns
    -------
    PermutationTestResult
        ``statistic`` (...), ``pvalue`` (...), ``null_distribution`` (..., B), in the
        input's library (0-d for unbatched input), the statistic in the input's dtype.

    Raises
    ------
    ValueError
        Bad samples (see :func:`mmd2`), ``n_permutations < 1``, unknown ``statistic``.

    References
    ----------
    Gretton et al. (2012), JMLR, section 5; Liu et al. (2020), ICML, Algorithm 1;
    Phipson & Smyth (2010) for the ``(1 + #) / (1 + B)`` p-value.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianKernel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 2)); Y = rng.normal(size=(50, 2)) + 1.0
    >>> res = permutation_test(X, Y, GaussianKernel(1.0), n_permutations=99, seed=0)
    >>> float(res.pvalue), res.null_distribution.shape
    (0.01, (99,))
    """
    fn = "permutation_test"
    if statistic not in _STATISTICS:
        raise ValueError(f"{fn}: statistic must be one of {_STATISTICS}, got {statistic!r}")
    xp, n, m = _check_samples(X, Y, kernel, fn, equal=statistic == "mmd2-one-sample")
    B = check_int(n_permutations, "n_permutations", fn, minimum=1)
    seed = check_int(seed, "seed", fn, minimum=0)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", fn, minimum=1)
    K = _gram_no_grad(xp, kernel, X, Y, fn)
    in_dtype = K.dtype
    K = xp.astype(K, xp.float64)
    batch = tuple(K.shape[:-2])
    N = n + m
    rng = np.random.default_rng(seed)
    if chunk_size is None:
        chunk_size = max(1, (1 << 24) // (N * max(1, math.prod(batch))))
    identity = np.broadcast_to(np.arange(N), batch + (1, N))
    observed = _permuted_statistics(xp, K, n, identity, statistic)[..., 0]
    chunks = []
    for start in range(0, B, chunk_size):
        size = min(chunk_size, B - start)
        perms = np.argsort(rng.random(batch + (size, N)), axis=-1)
        chunks.append(_permuted_statistics(xp, K, n, perms, statistic))
    null = xp.concat(chunks, axis=-1)
    scale = xp.max(xp.abs(xp.reshape(K, batch + (N * N,))), axis=-1)
    tol = 32 * float(np.finfo(np.float64).eps) * (xp.abs(observed) + scale)
    exceed = xp.sum(xp.astype(null >= (observed - tol)[..., None], xp.float64), axis=-1)
    pvalue = (1 + exceed) / (1 + B)
    return PermutationTestResult(xp.astype(observed, in_dtype), pvalue, null)


def _gram_no_grad(xp, kernel: Any, X: Any, Y: Any, fn: str) -> Any:
    """The pooled kernel matrix, without building an autograd graph for torch kernels."""
    if library_name(X) == "torch":
        import torch

        with torch.no_grad():
            return _gram(xp, kernel, X, Y, fn)
    return _gram(xp, kernel, X, Y, fn)


# The deep kernel (a torch module) and the learned kernels / classifier tests live in their own
# modules and are re-exported here.
from ._deep_kernel import DeepKernel  # noqa: E402
from ._mmd_train import C2STClassifier, c2st, featurizer, train_classifier, train_kernel  # noqa: E402

__all__ += ["train_kernel", "featurizer", "C2STClassifier", "train_classifier", "c2st"]
