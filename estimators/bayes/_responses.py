"""All prefixes of Gaussian components from Cholesky factors of the responses' covariance.

For one Gaussian component ``w ~ N(mu, S)`` with ``S = F F^T`` (F of shape (d, r), r = rank S)
and noise variances ``s_i``, the responses are jointly Gaussian,
``y ~ N(X mu, X S X^T + diag(s))``, and the sequential conditionals ``y_k | y_{<k}`` give at once
the posterior-mean prediction, the predictive variance and the log-evidence increment of every
prefix: with ``C = L L^T`` and ``z = L^{-1} (y - X mu)``,

    E[y_k | y_{<k}] = x_k^T mu + sum_{i<k} L_ki z_i,   Var[y_k | y_{<k}] = L_kk^2,
    log p(y_k | y_{<k}) = -(log 2 pi + log L_kk^2 + z_k^2) / 2

(Rasmussen & Williams 2006, section 2.2 and appendix A.2). Working in whitened units
(rows divided by ``sqrt(s_i)``, ``A = X F / sqrt(s)``) the problem is ridge with ``lam = 1``, and
two blocks keep every factor well conditioned also for ``noise = 0`` (the engine's floor,
``s_i ~ 1e-13``), as in :func:`estimators.linear.ridge_prefixes`:

* the first ``m = min(n, r)`` points, dual form: ``K = A_m A_m^T + I`` (m x m);
* the later points given the first r: the whitened coefficient's posterior is
  ``N(u_0, G_0^{-1})`` with ``G_0 = I + A_0^T A_0 = L_0 L_0^T`` and ``u_0 = G_0^{-1} A_0^T z``, so the later
  responses are Gaussian with mean ``A_V u_0`` and covariance ``I + T^T T``, ``T = L_0^{-1} A_V^T``,
  where ``u_0 = A_0^T K^{-1} r_0`` (push-through identity) comes from the first block's factor.

Neither block subtracts nearly equal numbers, so with ``noise = 0`` on data no linear function
fits the predictions reach their limit (least squares in the prior's metric) instead of
rounding noise. Cost per prompt and component: three Cholesky factors of size <= max(r, n - r)
and a few small matrix products, as batched BLAS calls, instead of n rank-one updates of an
r x r state (about 3x fewer passes over memory at B = 1280, n = 41, d = 20;
``benchmarks/bayes_prefixes.py``). Components sharing a covariance (``MixturePrior`` with equal
covariances, e.g. Panwar et al.'s +-mu task) share the factors: their means only change the
right-hand sides.

What does not live here: the posterior state (mean and covariance of w, from the Kalman recursion
of :mod:`._engine`), supports of a few coordinates (sparse priors, where an r x r state with r = 3
is cheaper than n x n factors), and the folds over components (:mod:`._fold`). When a factor
fails (linearly dependent points with ``noise = 0``) :func:`gaussian_chunk` returns ``None`` and
the engine runs the Kalman recursion instead.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from ..validation import matrix_transpose as _mT, solve_triangular
from ._fold import LOG_2PI

__all__ = ["gaussian_chunk"]


def _factors(cov: np.ndarray) -> list[tuple[int, int, np.ndarray | None, np.ndarray]]:
    """Split a chunk's covariances (C, d, d) into runs of consecutive components of equal rank.

    Returns ``(start, stop, cols, F)``: a diagonal run shares one diagonal factor given by its nonzero
    columns ``cols`` (r,) and their standard deviations ``F`` (G, r); otherwise ``cols`` is None and
    ``F`` is (G, d, r). G = 1 when all covariances of the run are equal (shared factors), else G = C_run.
    The rank tolerance is numpy's ``matrix_rank`` default, as ``GaussianPrior`` uses.
    """
    C, d = cov.shape[0], cov.shape[1]
    diag = all(np.count_nonzero(c - np.diag(np.diag(c))) == 0 for c in cov)
    parts = []
    if diag:
        var = np.stack([np.diag(c) for c in cov])  # (C, d)
        tol = var.max(axis=1, keepdims=True) * d * np.finfo(float).eps
        keep = var > tol
        start = 0
        for c in range(1, C + 1):
            if c == C or not np.array_equal(keep[c], keep[start]):
                cols = np.flatnonzero(keep[start])
                sd = np.sqrt(var[start:c][:, cols])
                shared = bool(np.all(sd == sd[:1]))
                parts.append((start, c, cols, sd[:1] if shared else sd))
                start = c
        return parts
    eig, vec = np.linalg.eigh(cov)  # ascending
    tol = eig[:, -1:] * d * np.finfo(float).eps
    ranks = np.sum(eig > tol, axis=1)
    start = 0
    for c in range(1, C + 1):
        if c == C or ranks[c] != ranks[start]:
            r = int(ranks[start])
            F = vec[start:c, :, d - r:] * np.sqrt(eig[start:c, None, d - r:])  # (G, d, r)
            shared = bool(np.all(cov[start:c] == cov[start]))
            parts.append((start, c, None, F[:1] if shared else F))
            start = c
    return parts


def _solve_lower(xp, L, R, transpose=False):
    """``L^{-1} R`` (or ``L^{-T} R``) for lower-triangular L (..., m, m), R (..., m, p).

    numpy runs through torch's batched kernel on zero-copy views of the strided arrays (the exception
    ``docs/design.md`` states: numpy has no batched triangular solve); :func:`estimators.validation.solve_triangular`
    would first copy every operand to contiguous memory, a third of this path's time at B = 1280.
    """
    if isinstance(L, np.ndarray) and isinstance(R, np.ndarray) and L.dtype == R.dtype and L.flags.writeable \
            and R.flags.writeable:
        import torch

        Lt = torch.from_numpy(L)
        return torch.linalg.solve_triangular(Lt.mT if transpose else Lt, torch.from_numpy(R), upper=transpose).numpy()
    return solve_triangular(xp, L, R, lower=True, transpose=transpose)


def _block(xp, K, R):
    """Sequential conditionals of whitened responses R ~ N(0, K): K (B, G, m, m), R (B, G, m, P).

    Returns the conditional means (B, G, m, P), the conditional variances (B, G, m), ``z = L^{-1} R``
    (B, G, m, P) and the factor L, or raises when K is not numerically positive definite.
    """
    L = xp.linalg.cholesky(K)
    z = _solve_lower(xp, L, R)
    dg = xp.linalg.diagonal(L)  # (B, G, m)
    mean = L @ z - dg[..., None] * z  # sum_{i<k} L_ki z_i
    return mean, dg * dg, z, L


def _eye(xp, m, like):
    return xp.eye(m, dtype=like.dtype, device=array_api_compat.device(like))


def _group(xp, xs, ys, s, mu, cols, F):
    """One run of equal-rank components: predictions, whitened variances and z, each (B, n, C_run).

    xs (B, n, d), ys (B, n), s (B,) the noise variance of each prompt, mu (C, d), F as in
    :func:`_factors`. Whitened units: ``A~ = sqrt(c) X F`` with ``c = 1 / s``, so the scalar c is
    applied to the small r x r products instead of to the inputs.
    """
    B, n, d = (int(v) for v in xs.shape)
    C, G = int(mu.shape[0]), int(F.shape[0])
    P = C // G
    dt, dev = xs.dtype, array_api_compat.device(xs)
    c = 1.0 / s  # (B,)
    if cols is not None and len(cols) == d and G == 1 and bool(np.all(F == F[0, 0])):
        A, c = xs[:, None, :, :], c * float(F[0, 0]) ** 2  # S = tau^2 I: A = X, tau^2 goes into c
    elif cols is not None:  # diagonal covariance
        sub = xp.take(xs, xp.asarray(cols, device=dev), axis=-1) if len(cols) < d else xs
        A = sub[:, None, :, :] * xp.asarray(F, dtype=dt, device=dev)[None, :, None, :]  # (B, G, n, r)
    else:
        A = xp.matmul(xs[:, None, :, :], xp.asarray(F, dtype=dt, device=dev)[None, ...])  # (B, G, n, r)
    r = int(A.shape[-1])
    cb = c[:, None, None, None]
    sqs = xp.sqrt(s)[:, None, None]  # (B, 1, 1)
    mux = xp.asarray(mu, dtype=dt, device=dev)
    prior_mean = xp.matmul(xs, _mT(mux)) if bool(np.any(mu)) else xp.zeros((B, n, C), dtype=dt, device=dev)
    resid = (ys[..., None] - prior_mean) / sqs  # (B, n, C) whitened residuals
    if r == 0:  # a point mass at mu: every response is its prior mean plus noise
        return prior_mean, xp.ones_like(prior_mean), resid
    Rw = xp.permute_dims(xp.reshape(resid, (B, n, G, P)), (0, 2, 1, 3))  # (B, G, n, P), c = g P + p
    m = min(n, r)
    A0 = A[..., :m, :]
    mean, var, z, L1 = _block(xp, cb * (A0 @ _mT(A0)) + _eye(xp, m, A), Rw[..., :m, :])  # K~ = A~_m A~_m^T + I
    if n > m:  # m == r: the later points given the first r
        AV = A[..., m:, :]
        L0 = xp.linalg.cholesky(cb * (_mT(A0) @ A0) + _eye(xp, r, A))  # G_0 = I + A~_0^T A~_0 = L_0 L_0^T
        T = _solve_lower(xp, L0, _mT(AV))  # (B, G, r, n - m), times sqrt(c): L_0^{-1} A~_V^T
        # A~_V u_0 with u_0 = G_0^{-1} A~_0^T r_0 = A~_0^T K~^{-1} r_0 (push-through), from the first factor
        shift = cb * (AV @ (_mT(A0) @ _solve_lower(xp, L1, z, transpose=True)))  # (B, G, n - m, P)
        mean2, var2, z2, _ = _block(xp, cb * (_mT(T) @ T) + _eye(xp, n - m, A), Rw[..., m:, :] - shift)
        mean = xp.concat([mean, mean2 + shift], axis=2)  # (B, G, n, P)
        var, z = xp.concat([var, var2], axis=2), xp.concat([z, z2], axis=2)

    def flat(a):  # (B, G, n, P) -> (B, n, C), component c = g P + p
        return xp.reshape(xp.permute_dims(a, (0, 2, 1, 3)), (B, n, C))

    var = flat(xp.broadcast_to(var[..., None], (B, G, n, P)))
    return prior_mean + flat(mean) * sqs, var, flat(z)


def gaussian_chunk(xp, xs, ys, s, mean: np.ndarray, cov: np.ndarray):
    """A chunk of Gaussian components on all d coordinates, for every prefix, from Cholesky factors.

    xs (B, n, d), ys (B, n), s (B,) (the floored noise variance of each prompt); mean (C, d), cov
    (C, d, d) (numpy). Returns the engine's layout: y_hat (n, B, C), the log evidence of the pairs
    before each point (n, B, C), in total (B, C), and ``q = Var[y_k | y_{<k}] - s`` (n, B, C) (clamped
    at 0); or ``None`` when a factor is not numerically positive definite (the engine then runs its
    Kalman recursion).
    """
    outs = []
    try:
        for a, b, cols, F in _factors(cov):
            outs.append(_group(xp, xs, ys, s, mean[a:b], cols, F))
    except Exception:  # numpy LinAlgError, torch's linalg error: a factor is not positive definite
        return None
    pred, var_w, z = (xp.concat([o[i] for o in outs], axis=-1) if len(outs) > 1 else outs[0][i] for i in range(3))
    if not bool(xp.all(xp.isfinite(pred))) or not bool(xp.all(xp.isfinite(var_w))):  # jax returns NaN
        return None
    sb = s[:, None, None]
    ll = -0.5 * (LOG_2PI + xp.log(var_w * sb) + z * z)  # (B, n, C)
    cum = xp.cumulative_sum(ll, axis=1)
    before = xp.concat([xp.zeros_like(cum[:, :1]), cum[:, :-1]], axis=1)
    q = (var_w - 1.0) * sb
    q = xp.where(q > 0, q, xp.zeros_like(q))

    def t(a):
        return xp.permute_dims(a, (1, 0, 2))

    return t(pred), t(before), cum[:, -1], t(q)
