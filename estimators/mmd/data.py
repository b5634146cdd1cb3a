"""Synthetic two-sample benchmarks: Blob and HDGM (Liu et al. 2020) and a multi-population benchmark.

Each sampler returns a pair ``(X, Y)`` of numpy arrays of shape (n, d), or
(size, n, d) with ``size`` independent draws at once (for power over many test sets).
``null=True`` draws both samples from P (the type-I error version). Randomness comes only
from the ``rng`` argument (a ``numpy.random.Generator`` or an int seed).

- :func:`blob`: 9 Gaussian blobs on the grid {0, 1, 2}^2; Y's blobs are correlated.
- :func:`hdgm`: two-mode high-dimensional Gaussian mixture; Y correlates coordinates 0, 1.
- :func:`multi_population`: X from HDGM's P, Y a mixture of K HDGM-like populations that
  perturb K different coordinate pairs, with the correlation strength rho_K chosen so that
  the population MMD^2 under a reference Gaussian kernel is the same for every K
  (:func:`multi_population_rho`, computed in closed form). Its populations are barely
  distinguishable from each other and from X.
- :func:`separated_populations`: X standard normal, Y a mixture of K populations whose means
  sit ``shift`` away from X's along K different axes: far apart from each other and each
  separable from X (the setting in which Zhang et al. 2024 expect MMD-MP to help).

The stable import path ``estimators.mmd_data`` names this module. What does not live here: the
tests themselves (:mod:`estimators.mmd`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ..validation import check_int, check_positive

__all__ = ["blob", "hdgm", "multi_population", "multi_population_rho", "separated_populations", "BLOB_CORRELATIONS"]

#: r_i of Y's blob i (i = 3 row + col): -0.02 - 0.002 i (i < 4), 0 (i = 4), 0.02 + 0.002 (i - 5) (i > 4).
BLOB_CORRELATIONS = np.array([-0.02 - 0.002 * i if i < 4 else 0.0 if i == 4 else 0.02 + 0.002 * (i - 5) for i in range(9)])


def _rng(rng: Any, fn: str) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(check_int(rng, "rng", fn, minimum=0))


def _shape(size: Any, fn: str) -> tuple:
    return () if size is None else (check_int(size, "size", fn, minimum=1),)


def blob(n: int, rng: Any = 0, *, null: bool = False, size: int | None = None):
    """Blob (Liu et al. 2020, section 6): 9 Gaussians centred on {0, 1, 2}^2, uniform weights.

    P: ``x = c + N(0, 0.03 I_2)`` with the centre c uniform on the grid. Q: the same
    centres, blob i (``c = (i // 3, i % 3)``) with covariance ``[[0.03, r_i], [r_i, 0.03]]``,
    ``r_i`` in :data:`BLOB_CORRELATIONS`. Liu et al.'s code draws ``z L`` with ``L L^T`` the
    stated covariance, whose covariance is ``L^T L``; this follows the paper's text
    (covariance exactly ``[[0.03, r_i], [r_i, 0.03]]``).

    Parameters
    ----------
    n : int, >= 2
        Points per sample.
    rng : numpy Generator or int seed
    null : bool
        Draw Y from P too.
    size : int, optional
        Number of independent (X, Y) draws, stacked on a leading axis.

    Returns
    -------
    X, Y : arrays of shape (n, 2), or (size, n, 2)

    Examples
    --------
    >>> X, Y = blob(5, rng=0, size=3)
    >>> X.shape, Y.shape
    ((3, 5, 2), (3, 5, 2))
    """
    fn = "blob"
    n = check_int(n, "n", fn, minimum=2)
    rng = _rng(rng, fn)
    shape = _shape(size, fn) + (n,)
    centres = np.stack(np.meshgrid(np.arange(3.0), np.arange(3.0), indexing="ij"), -1).reshape(9, 2)
    X = centres[rng.integers(9, size=shape)] + math.sqrt(0.03) * rng.standard_normal(shape + (2,))
    if null:
        Y = centres[rng.integers(9, size=shape)] + math.sqrt(0.03) * rng.standard_normal(shape + (2,))
        return X, Y
    cov = np.tile(0.03 * np.eye(2), (9, 1, 1))
    cov[:, 0, 1] = cov[:, 1, 0] = BLOB_CORRELATIONS
    L = np.linalg.cholesky(cov)  # (9, 2, 2)
    idx = rng.integers(9, size=shape)
    z = rng.standard_normal(shape + (2,))
    Y = centres[idx] + np.einsum("...ij,...j->...i", L[idx], z)
    return X, Y


def _hdgm_draw(rng, shape, d, counts, chols):
    """Two modes (means 0 and 0.5 * 1_d), counts[c] points of mode c with covariance chols[c] chols[c]^T."""
    parts = []
    for c, (k, L) in enumerate(zip(counts, chols)):  # L: (d, d), or (..., k, d, d) per point
        z = rng.standard_normal(shape + (k, d))
        parts.append(0.5 * c + np.einsum("...ij,...j->...i", L, z))
    return np.concatenate(parts, axis=-2)


def hdgm(n: int, d: int = 10, rng: Any = 0, *, null: bool = False, size: int | None = None):
    """HDGM (Liu et al. 2020, section 6): a two-mode Gaussian mixture in d dimensions.

    Modes have means ``0`` and ``0.5 * 1_d``; as in Liu et al.'s sampler each mode holds
    half of the points (``ceil(n / 2)`` and ``floor(n / 2)``). P: covariance ``I_d`` in both
    modes. Q: ``I_d`` with entries (0, 1) and (1, 0) set to ``+0.5`` in mode 0 and ``-0.5``
    in mode 1.

    Parameters
    ----------
    n : int, >= 2
    d : int, >= 2
    rng : numpy Generator or int seed
    null : bool
        Draw Y from P too.
    size : int, optional

    Returns
    -------
    X, Y : arrays of shape (n, d), or (size, n, d)

    Examples
    --------
    >>> X, Y = hdgm(4, d=3, rng=0)
    >>> X.shape, Y.shape
    ((4, 3), (4, 3))
    """
    fn = "hdgm"
    n = check_int(n, "n", fn, minimum=2)
    d = check_int(d, "d", fn, minimum=2)
    rng = _rng(rng, fn)
    shape = _shape(size, fn)
    counts = ((n + 1) // 2, n // 2)
    eye = np.eye(d)
    X = _hdgm_draw(rng, shape, d, counts, (eye, eye))
    if null:
        return X, _hdgm_draw(rng, shape, d, counts, (eye, eye))
    c0, c1 = eye.copy(), eye.copy()
    c0[0, 1] = c0[1, 0] = 0.5
    c1[0, 1] = c1[1, 0] = -0.5
    return X, _hdgm_draw(rng, shape, d, counts, (np.linalg.cholesky(c0), np.linalg.cholesky(c1)))


# ----------------------------------------------------------------------------------------
# multi-population benchmark


def _pairs(d: int) -> list:
    """All d (d - 1) / 2 coordinate pairs: (0,1), (2,3), ..., then (1,2), (3,4), ..., then the rest in order."""
    first = [(2 * k, 2 * k + 1) for k in range(d // 2)] + [(2 * k + 1, 2 * k + 2) for k in range((d - 1) // 2)]
    return first + [(a, b) for a in range(d) for b in range(a + 1, d) if (a, b) not in first]


def _population_covs(d: int, K: int, rho: float) -> np.ndarray:
    """covs[k, c]: population k, mode c: I_d with +rho (mode 0) / -rho (mode 1) on pair k."""
    covs = np.tile(np.eye(d), (K, 2, 1, 1))
    for k, (a, b) in enumerate(_pairs(d)[:K]):
        covs[k, 0, a, b] = covs[k, 0, b, a] = rho
        covs[k, 1, a, b] = covs[k, 1, b, a] = -rho
    return covs


def _expected_kernel(comps1, comps2, bandwidth: float) -> float:
    """E k(a, b) for Gaussian mixtures a, b and the Gaussian kernel (closed form).

    For a ~ N(m1, S1), b ~ N(m2, S2): ``E k = l^d det(l^2 I + S1 + S2)^{-1/2}
    exp(-D^T (l^2 I + S1 + S2)^{-1} D / 2)``, D = m1 - m2, l the bandwidth.
    """
    total = 0.0
    for w1, m1, S1 in comps1:
        for w2, m2, S2 in comps2:
            A = bandwidth**2 * np.eye(len(m1)) + S1 + S2
            D = m1 - m2
            _, logdet = np.linalg.slogdet(A)
            total += w1 * w2 * math.exp(len(m1) * math.log(bandwidth) - 0.5 * logdet - 0.5 * D @ np.linalg.solve(A, D))
    return total


def _population_mmd2(d: int, K: int, rho: float, bandwidth: float) -> float:
    means = (np.zeros(d), 0.5 * np.ones(d))
    P = [(0.5, means[c], np.eye(d)) for c in range(2)]
    covs = _population_covs(d, K, rho)
    Q = [(0.5 / K, means[c], covs[k, c]) for k in range(K) for c in range(2)]
    return _expected_kernel(P, P, bandwidth) + _expected_kernel(Q, Q, bandwidth) - 2 * _expected_kernel(P, Q, bandwidth)


@lru_cache(maxsize=64)
def multi_population_rho(K: int, d: int = 10, rho1: float = 0.35) -> float:
    """Correlation rho_K giving the K-population mixture the population MMD^2 of K = 1 at ``rho1``.

    Difficulty is measured by the exact population MMD^2 between P and the mixture Q_K
    under the Gaussian kernel of bandwidth ``sqrt(d)`` (closed form for Gaussian mixtures),
    and rho_K is found by bisection (MMD^2 increases with rho).

    Raises
    ------
    ValueError
        If no rho < 0.999 matches (lower ``rho1``), or there are fewer than K coordinate pairs.

    Examples
    --------
    >>> round(multi_population_rho(1, d=10, rho1=0.35), 6)
    0.35
    >>> multi_population_rho(8, d=10, rho1=0.35) > multi_population_rho(2, d=10, rho1=0.35) > 0.35
    True
    """
    from scipy.optimize import brentq

    fn = "multi_population_rho"
    K = check_int(K, "K", fn, minimum=1)
    d = check_int(d, "d", fn, minimum=2)
    rho1 = check_positive(rho1, "rho1", fn)
    if rho1 >= 1:
        raise ValueError(f"{fn}: rho1 must be < 1, got {rho1}")
    if K > len(_pairs(d)):
        raise ValueError(f"{fn}: K must be <= {len(_pairs(d))} (distinct coordinate pairs in d = {d}), got {K}")
    if K == 1:
        return rho1
    bw = math.sqrt(d)
    target = _population_mmd2(d, 1, rho1, bw)
    gap = lambda r: _population_mmd2(d, K, r, bw) - target  # noqa: E731
    if gap(0.999) < 0:
        raise ValueError(f"{fn}: no rho < 0.999 gives K = {K} populations the difficulty of rho1 = {rho1}; lower rho1")
    return float(brentq(gap, rho1, 0.999, xtol=1e-10))


def multi_population(
    n: int, K: int, d: int = 10, rng: Any = 0, *, rho1: float = 0.35, null: bool = False, size: int | None = None
):
    """Multi-population benchmark: X from one distribution, Y a mixture of K distinct ones.

    X ~ P, HDGM's null distribution (two modes, means 0 and 0.5 * 1_d, covariance I_d).
    Y: each point picks one of K populations uniformly; population k is HDGM's Q with
    the +-rho_K correlation on its own coordinate pair (k-th of (0,1), (2,3), ..., then
    (1,2), (3,4), ..., then the other pairs in order). ``rho_K = multi_population_rho(K, d, rho1)`` matches the overall
    difficulty (population MMD^2 under a reference Gaussian kernel) across K; K = 1 with
    rho1 = 0.5 is exactly HDGM. Modes split the points in half as in :func:`hdgm`.

    Parameters
    ----------
    n : int, >= 2
    K : int, >= 1
        Number of populations in Y (1, 2, 4, 8 in the figure; at most the pairs in d).
    d : int
    rng : numpy Generator or int seed
    rho1 : float in (0, 1)
        The K = 1 correlation that fixes the difficulty.
    null : bool
    size : int, optional

    Returns
    -------
    X, Y : arrays of shape (n, d), or (size, n, d)

    References
    ----------
    Zhang et al. (2024), ICLR (MMD-MP: Y holds texts of several language models); the
    populations here follow Liu et al.'s HDGM.

    Examples
    --------
    >>> X, Y = multi_population(6, K=4, d=10, rng=0, size=2)
    >>> X.shape, Y.shape
    ((2, 6, 10), (2, 6, 10))
    """
    fn = "multi_population"
    n = check_int(n, "n", fn, minimum=2)
    d = check_int(d, "d", fn, minimum=2)
    rng = _rng(rng, fn)
    shape = _shape(size, fn)
    rho = multi_population_rho(K, d, rho1)
    counts = ((n + 1) // 2, n // 2)
    eye = np.eye(d)
    X = _hdgm_draw(rng, shape, d, counts, (eye, eye))
    if null:
        return X, _hdgm_draw(rng, shape, d, counts, (eye, eye))
    chols = np.linalg.cholesky(_population_covs(d, K, rho))  # (K, 2, d, d)
    pop = [rng.integers(K, size=shape + (k,)) for k in counts]
    return X, _hdgm_draw(rng, shape, d, counts, (chols[pop[0], 0], chols[pop[1], 1]))


def _axes(d: int, K: int) -> np.ndarray:
    """K unit vectors: e_0, e_1, ..., e_{d-1}, then -e_0, -e_1, ... (rows of a (K, d) array)."""
    eye = np.eye(d)
    return np.concatenate([eye, -eye])[:K]


def separated_populations(
    n: int, K: int, d: int = 10, rng: Any = 0, *, shift: float = 1.0, scale: float = 1.0, null: bool = False,
    size: int | None = None,
):
    """Several far-apart populations in Y, each separable from X (multi-population MMD tests).

    X ~ N(0, I_d). Each point of Y picks one of K populations uniformly; population k is
    ``N(shift * u_k, scale^2 I_d)`` with ``u_k`` the k-th of e_0, ..., e_{d-1}, -e_0, ..., -e_{d-1}. Every
    population is ``shift`` away from X's mean, and two populations are ``shift * sqrt(2)`` (or
    ``2 shift``) apart: the populations are as different from each other as from X, like the
    texts of several language models against human text (Zhang et al. 2024, section 3).

    Parameters
    ----------
    n : int, >= 2
        Points per sample.
    K : int, 1 <= K <= 2 d
        Populations in Y.
    d : int, >= 1
    rng : numpy Generator or int seed
    shift : float, > 0
        Distance of every population's mean from X's.
    scale : float, > 0
        Standard deviation of every coordinate within a population (below 1: each population is
        more concentrated than X, as one language model's texts are less varied than human text).
    null : bool
        Draw Y from X's distribution too.
    size : int, optional
        Number of independent (X, Y) draws, stacked on a leading axis.

    Returns
    -------
    X, Y : arrays of shape (n, d), or (size, n, d)

    References
    ----------
    Zhang et al. (2024), "Detecting machine-generated texts by multi-population aware optimization
    for maximum mean discrepancy", ICLR, sections 3-4.

    Examples
    --------
    >>> X, Y = separated_populations(2000, K=2, d=3, rng=0, shift=3.0)
    >>> X.shape, np.round(Y.mean(0) / 3, 1).tolist()  # half the points around 3 e_0, half around 3 e_1
    ((2000, 3), [0.5, 0.5, 0.0])
    """
    fn = "separated_populations"
    n = check_int(n, "n", fn, minimum=2)
    d = check_int(d, "d", fn, minimum=1)
    K = check_int(K, "K", fn, minimum=1, maximum=2 * d)
    shift = check_positive(shift, "shift", fn)
    scale = check_positive(scale, "scale", fn)
    rng = _rng(rng, fn)
    shape = _shape(size, fn) + (n,)
    X = rng.standard_normal(shape + (d,))
    noise = rng.standard_normal(shape + (d,))
    if null:
        return X, noise
    pop = rng.integers(K, size=shape)
    return X, scale * noise + shift * _axes(d, K)[pop]
