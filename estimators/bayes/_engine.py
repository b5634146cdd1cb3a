"""Engine of the exact Bayes predictors: Kalman recursions over chunks of mixture components.

Every prior of :mod:`estimators.bayes` is handed to this module as a stream of
*chunks* of mixture components (:class:`Chunk`): Gaussian components
``w ~ N(mu_c, S_c)`` living on all coordinates or on a support of ``k`` of them, or
point masses ``w = p_c``. For each chunk the engine computes, for every prompt and every
prefix, the component's predictive mean ``y_hat`` and its cumulative log evidence
``log p(y_{<i} | c)``, and folds the chunk into running results with a running
logsumexp, so memory stays bounded by ``memory_budget`` however many components there
are (Bayesian model averaging with sequential evidence; Rasmussen & Williams 2006, section 2.2).

Kalman recursion of one Gaussian component (prediction at position i uses the state
before the update with pair i)::

    s_i = x_i^T S x_i + sigma^2,  y_hat_i = x_i^T m,  g = S x_i / s_i,
    m <- m + g (y_i - y_hat_i),    S <- S - g (S x_i)^T,
    log_ev <- log_ev + log N(y_i; y_hat_i, s_i)

``S`` is never inverted, so singular (zero-variance) directions are fine.

Which path. Gaussian components on all d coordinates (``GaussianPrior``, ``MixturePrior``,
feature priors) compute every prefix from Cholesky factors of the responses' covariance
(:mod:`._responses`: the same predictions, predictive variances and log evidences as the
recursion above, as batched BLAS calls; 40x the per-prefix closed form at B = 1280, n = 41,
d = 20, against 17x for the recursion), unless the posterior state is asked for
(``posterior``) or a factor fails, where the recursion runs. Components on supports of a few
coordinates (sparse priors: a 3 x 3 state) and point masses keep the elementwise forms here.

Noise floor. With ``noise = 0`` the predictive variance ``s_i`` can vanish. The engine
uses ``s_i = max(x_i^T S x_i, 0) + max(noise, floor)`` with
``floor = rtol * mean_i ||x_i||^2 * tr(E[w w^T]) / d``, one value per prompt (``rtol = 1e-13`` when
computing in float64, ``1e-6`` in float32), i.e. a relative jitter far below any noise a task uses.
One value per prompt, not per point, makes the noiseless limit on data that no linear function fits
ordinary least squares (a per-point floor would weight the points). Noise variances above the floor
are used exactly. Measured effect (tests/estimators/test_bayes.py, test_bayes_factored.py):
for w ~ N(0, I) and noise 0 every prefix agrees with min-norm OLS to 1e-5 of the RMS of y
(about 2e-6 at the ill-conditioned prefix k = d, 1e-9 elsewhere), also on inconsistent data
(random y: relative 1e-7 except at k = d, d + 1, where the floor's ridge bias
``floor / sigma_min(X_d)^2`` leaves up to 1e-5). In the noiseless limit
the exact posterior trusts the data to that precision, so float32 *data* (rounded y)
can move predictions near the interpolation threshold; prefer float64 data or a small
noise when comparing noiseless models with the Bayes predictor.

Predictive distribution (``want_predictive``). Before pair i the predictive of y_i is the
mixture ``sum_c p_c N(y_i; y_hat_c, q_c + s_i)`` with ``q_c = x_i^T S_c x_i`` (0 for a point
mass), ``s_i`` the (floored) noise variance above and ``p_c`` the softmax of
``log pi_c + log_ev_c``; each chunk gives its log density ``log sum_c p_c N(..)`` (a logsumexp
over normalised log weights) and its variance ``sum_c p_c (q_c + (y_hat_c - mean)^2) + sigma^2``
(``sigma^2`` as given, no floor); chunks are folded by the law of total variance
(:class:`._fold.RunningPredictive`).

Chunks: on a GPU a chunk is as large as ``memory_budget`` allows; on a CPU it is capped
so one working array stays near ``CPU_CHUNK_BYTES`` (cache-sized chunks ran 2x faster).

What does not live here: validation and the prior objects (:mod:`estimators.bayes`), and the
log-space folds of chunks into running results (:mod:`._fold`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import array_api_compat
import numpy as np

from ..validation import library_name
from ._fold import LOG_2PI, Running, RunningPredictive, chunk_predictive, lse_last
from ._responses import gaussian_chunk

#: Relative noise floor (see the module docstring), by the bit width of the compute dtype.
FLOOR_RTOL = {64: 1e-13, 32: 1e-6}
#: Default memory budget (bytes) of one call; priors take ``memory_budget=`` to change it.
DEFAULT_MEMORY_BUDGET = 2**30
#: On a CPU, automatic chunks keep one working array near this size (bytes) so it stays in cache.
CPU_CHUNK_BYTES = 2**22


@dataclass(frozen=True)
class Chunk:
    """A chunk of mixture components (numpy arrays; moved to the prompt's device by the engine).

    Exactly one of ``points`` (point masses, (C, d)) or ``mean``/``cov`` (Gaussians,
    (C, k) and (C, k, k)) is set. ``support`` (C, k) integer coordinates on which a
    Gaussian component lives (``None``: all d coordinates, k = d).
    """

    log_prior: np.ndarray
    points: np.ndarray | None = None
    mean: np.ndarray | None = None
    cov: np.ndarray | None = None
    support: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.log_prior.shape[0])


def work_dtype(xp, x: Any):
    """The compute dtype: float64, except for jax without ``jax_enable_x64`` (float32).

    float32 inputs are upcast to float64 and the results cast back to float32.
    """
    if library_name(x) == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return xp.float32
    return xp.float64


def floor_rtol(xp, dtype) -> float:
    return FLOOR_RTOL[64] if dtype == xp.float64 else FLOOR_RTOL[32]


def bytes_per_component(kind: str, batch: int, n: int, d: int, k: int, posterior: bool,
                        predictive: bool = False) -> int:
    """Working memory (bytes, float64) one component of a chunk costs, used to size chunks."""
    if kind == "point":
        per = n * 8 + (d if posterior else 0)
    else:
        per = n * (6 + k) + 6 * k * k + 6 * k + ((d * d + 2 * d) if posterior else 0)
    return 8 * batch * (per + (6 * n if predictive else 0))


def chunk_size_for(kind, n_components, batch, n, d, k, posterior, budget, chunk_size, fn, on_cpu=True,
                   predictive=False) -> int:
    """Components per chunk: ``chunk_size`` if given, else as many as ``budget`` bytes allow.

    Raises ``ValueError`` before allocating when not even one component fits.
    """
    per = bytes_per_component(kind, batch, n, d, k, posterior, predictive)
    if per > budget:
        raise ValueError(
            f"{fn}: one mixture component needs about {per / 2**20:.1f} MiB for this batch "
            f"({batch} prompts x {n} points), over memory_budget={budget / 2**20:.1f} MiB; "
            "pass fewer prompts at a time or raise memory_budget"
        )
    if chunk_size is not None:
        return max(1, min(int(chunk_size), n_components))
    size = budget // per
    if on_cpu:  # keep one chunk's working arrays in cache: large chunks are several times slower on CPU
        size = min(size, CPU_CHUNK_BYTES // (8 * batch * (n if kind == "point" else k * k + 4 * k)))
    return max(1, min(n_components, size))


def is_cpu(x: Any) -> bool:
    """Whether ``x`` lives in host memory (numpy, or torch / jax on a CPU device)."""
    dev = array_api_compat.device(x)
    return str(getattr(dev, "type", None) or getattr(dev, "platform", None) or dev).startswith("cpu")


def _matvec(xp, S, x):
    """``Sx[i] = sum_j S[i, j] x[j]`` over trailing batch axes: S (k, k, B, C), x (k, B, C).

    numpy's ``einsum`` avoids the (k, k, B, C) temporary; torch and jax use the plain
    product and sum (torch's einsum permutes to a batched matmul and is far slower here).
    """
    if library_name(S) == "numpy":
        return np.einsum("ijbc,jbc->ibc", S, x)
    return xp.sum(S * x[None, ...], axis=1)


def _rank1_update(xp, S, g, Sx):
    """``S - g Sx^T`` for S (k, k, B, C): updated in place for numpy and torch, and returned.

    Row by row for k >= 4, so that the temporary is one (k, B, C) row, not the whole
    (k, k, B, C) outer product (about 2x faster on a CPU); jax arrays are immutable and
    take the whole update at once (``-=`` rebinds).
    """
    if library_name(S) == "jax" or S.shape[0] < 4:
        S -= g[:, None, ...] * Sx[None, ...]  # in place for numpy and torch; a new array for jax
        return S
    for i in range(S.shape[0]):
        S[i] -= g[i] * Sx
    return S


def _kalman(xp, xs, ys, s_extra, mean, cov, support, need_state=True, need_q=False):
    """Run one chunk of Gaussian components over all points.

    xs (B, n, d), ys (B, n), s_extra (B, n); mean (C, k), cov (C, k, k), support (C, k) or None.
    Returns y_hat (n, B, C), ll_before (n, B, C), ll_total (B, C), m (B, C, k), S (B, C, k, k)
    and, with ``need_q``, ``q = max(x_i^T S x_i, 0)`` (n, B, C) (else ``None``).
    The state is kept with the long (B, C) axes last, so every update is an elementwise
    operation over contiguous memory, also for tiny k (sparse supports).
    """
    B, n, d = xs.shape
    C, k = mean.shape
    xt = xp.reshape(xp.permute_dims(xs, (1, 2, 0)), (n * d, B))  # reshape copies: contiguous over B
    xt = xp.reshape(xt, (n, d, B))
    if support is None:
        xc = xp.broadcast_to(xt[..., None], (n, d, B, C))  # shared by the C components
    else:
        xc = xp.reshape(xp.take(xt, xp.reshape(support, (-1,)), axis=1), (n, C, k, B))
        xc = xp.permute_dims(xc, (0, 2, 3, 1))  # (n, k, B, C)
    m = xp.broadcast_to(xp.permute_dims(mean, (1, 0))[:, None, :], (k, B, C))
    # a fresh array (not a broadcast view), so that the update below can run in place
    S = xp.zeros((k, k, B, C), dtype=xs.dtype, device=array_api_compat.device(xs))
    S = S + xp.permute_dims(cov, (1, 2, 0))[:, :, None, :]
    ll = xp.zeros((B, C), dtype=xs.dtype, device=array_api_compat.device(xs))
    yt, st = xp.permute_dims(ys, (1, 0))[..., None], xp.permute_dims(s_extra, (1, 0))[..., None]  # (n, B, 1)
    yhats, lls, qs = [], [], []
    for i in range(n):
        x = xc[i]  # (k, B, C or 1)
        Sx = _matvec(xp, S, x)  # (k, B, C)
        q = xp.sum(Sx * x, axis=0)  # x^T S x, (B, C)
        q = xp.where(q > 0, q, xp.zeros_like(q))
        if need_q:
            qs.append(q)
        s = q + st[i]
        yh = xp.sum(m * x, axis=0)  # (B, C)
        r = yt[i] - yh
        yhats.append(yh)
        lls.append(ll)
        ll = ll - 0.5 * (LOG_2PI + xp.log(s) + r * r / s)
        g = Sx / s
        m = m + g * r
        if i < n - 1 or need_state:
            S = _rank1_update(xp, S, g, Sx)
    m = xp.permute_dims(m, (1, 2, 0))  # (B, C, k)
    S = xp.permute_dims(S, (2, 3, 0, 1))  # (B, C, k, k)
    return xp.stack(yhats, axis=0), xp.stack(lls, axis=0), ll, m, S, (xp.stack(qs, axis=0) if need_q else None)


def _points(xp, xt_w, yt_w, points):
    """One chunk of point masses on whitened data: xt_w (n, B, d), yt_w (n, B), scaled by 1/sqrt(s_i).

    Returns the whitened y_hat / sqrt(s_i) (n, B, C) and the log likelihoods without the
    ``-0.5 log(2 pi s_i)`` terms, which all components share: before each point (n, B, C)
    and in total (B, C). Whitening saves one pass over the (n, B, C) arrays.
    """
    yhat = xp.matmul(xt_w, xp.matrix_transpose(points))  # (n, B, C)
    r = yt_w[..., None] - yhat
    cum = xp.cumulative_sum(r * r, axis=0)  # (n, B, C)
    ll_before = xp.concat([xp.zeros_like(cum[:1]), -0.5 * cum[:-1]], axis=0)
    return yhat, ll_before, -0.5 * cum[-1]


def run(xs, ys, noise: float, chunks: Iterable[Chunk], *, m2: float, d_full: int,
        want_weights: bool = False, want_posterior: bool = False, want_components: bool = False,
        want_predictive: bool = False) -> dict:
    """Fold every chunk into the exact mixture predictions (see the module docstring).

    xs (B, n, d) and ys (B, n) in the compute dtype. Returns a dict with ``pred`` (B, n),
    ``log_ev_prefix`` (B, n) (log evidence of the first i pairs) and, on request,
    ``log_weights`` (B, n, C) (normalised log posterior weights before each pair),
    ``mean`` (B, d), ``second`` (B, d, d) (posterior E[w w^T]), ``log_evidence`` (B,),
    ``final_log_weights`` (B, C), ``comp_means`` (B, C, d) / ``comp_covs`` (B, C, d, d), and
    ``log_predictive`` / ``predictive_var`` (B, n) (the predictive of y_i).
    """
    xp = array_api_compat.array_namespace(xs)
    dev, dt = array_api_compat.device(xs), xs.dtype
    # one floor per prompt (not per point), so that the noiseless limit on inconsistent data is
    # ordinary (unweighted) least squares
    floor = floor_rtol(xp, dt) * m2 * xp.mean(xp.sum(xs * xs, axis=-1), axis=-1, keepdims=True)  # (B, 1)
    floor = xp.broadcast_to(floor, tuple(ys.shape))  # (B, n)
    s_extra = xp.where(floor > noise, floor, xp.full_like(floor, noise))
    s_extra = xp.where(s_extra > 0, s_extra, xp.full_like(s_extra, floor_rtol(xp, dt) * max(m2, 1.0)))
    xt, yt, st = xp.permute_dims(xs, (1, 0, 2)), xp.permute_dims(ys, (1, 0)), xp.permute_dims(s_extra, (1, 0))
    sq = xp.sqrt(st)  # (n, B)
    whitened = []  # data for point masses, computed at the first chunk of them
    pred_run, post_run, pred_dist = Running(xp), Running(xp), RunningPredictive(xp)
    logw_chunks, final_chunks, comp_means, comp_covs = [], [], [], []
    for ch in chunks:
        lp = xp.asarray(ch.log_prior, dtype=dt, device=dev)
        if ch.points is not None:
            P = xp.asarray(ch.points, dtype=dt, device=dev)
            if not whitened:
                common = -0.5 * xp.cumulative_sum(LOG_2PI + xp.log(st), axis=0)  # (n, B)
                common_before = xp.concat([xp.zeros_like(common[:1]), common[:-1]], axis=0)
                whitened.extend([xt / sq[..., None], yt / sq])
            yhat, llb, llt = _points(xp, *whitened, P)
            offset, scale, offset_total = common_before, sq, common[-1]
        else:
            mean = xp.asarray(ch.mean, dtype=dt, device=dev)
            cov = xp.asarray(ch.cov, dtype=dt, device=dev)
            fast = None
            if ch.support is None and not want_posterior:  # every prefix from Cholesky factors (._responses)
                fast = gaussian_chunk(xp, xs, ys, s_extra[:, 0], np.asarray(ch.mean), np.asarray(ch.cov))
            if fast is not None:
                yhat, llb, llt, q = fast
            else:
                sup = None if ch.support is None else xp.asarray(ch.support, device=dev)
                yhat, llb, llt, m, S, q = _kalman(xp, xs, ys, s_extra, mean, cov, sup, want_posterior,
                                                  want_predictive)
            offset = scale = offset_total = None
        logw = lp + llb  # (n, B, C)
        if want_predictive:  # the shared offset of point masses cancels in the softmax; undo the whitening
            yh, qc = (yhat, q) if offset is None else (yhat * scale[..., None], None)
            Lc, *rest = chunk_predictive(xp, logw, yh, qc, st, yt, noise)
            pred_dist.add(Lc if offset is None else Lc + offset, *rest)
        L, p, tot = lse_last(xp, logw, normalise=False)
        acc = xp.sum(p * yhat, axis=-1) / tot
        if offset is not None:  # point masses: add the shared terms, undo the whitening
            L, acc = L + offset, acc * scale
            logw = (logw + offset[..., None]) if want_weights else logw
        pred_run.add(L, [acc])
        if want_weights:
            logw_chunks.append(logw)
        if want_posterior:
            lwf = lp + llt if offset_total is None else lp + llt + offset_total[:, None]  # (B, C)
            Lf, pf, _ = lse_last(xp, lwf)
            final_chunks.append(lwf)
            if ch.points is not None:
                mean_c = xp.matmul(pf, P)  # (B, d)
                second_c = xp.matmul(xp.matrix_transpose(P)[None, ...] * pf[:, None, :], P)
                cm, cc = xp.broadcast_to(P, (pf.shape[0],) + tuple(P.shape)), None
            else:
                cm, cc = _embed(xp, m, S, ch.support, d_full, dev, dt)
                mean_c = xp.sum(pf[..., None] * cm, axis=1)
                outer = cc + cm[..., :, None] * cm[..., None, :]
                second_c = xp.sum(pf[..., None, None] * outer, axis=1)
            post_run.add(Lf, [mean_c, second_c])
            if want_components:
                comp_means.append(cm)
                comp_covs.append(cc if cc is not None else xp.zeros(tuple(cm.shape) + (d_full,), dtype=dt, device=dev))
    out = {"pred": xp.permute_dims(pred_run.accs[0], (1, 0)), "log_ev_prefix": xp.permute_dims(pred_run.L, (1, 0))}
    if want_predictive:
        _, logp, _, var = pred_dist.parts  # the mean is ``pred``
        out["log_predictive"], out["predictive_var"] = xp.permute_dims(logp, (1, 0)), xp.permute_dims(var, (1, 0))
    if want_weights:
        allw = xp.concat(logw_chunks, axis=-1) - pred_run.L[..., None]  # (n, B, C)
        out["log_weights"] = xp.permute_dims(allw, (1, 0, 2))
    if want_posterior:
        out["mean"], out["second"] = post_run.accs
        out["log_evidence"] = post_run.L
        out["final_log_weights"] = xp.concat(final_chunks, axis=-1) - post_run.L[..., None]
        if want_components:
            out["comp_means"] = xp.concat(comp_means, axis=1)
            out["comp_covs"] = xp.concat(comp_covs, axis=1)
    return out


def _embed(xp, m, S, support, d_full, dev, dt):
    """Component means (B, C, k) and covariances (B, C, k, k) embedded into all d coordinates."""
    if support is None:
        return m, S
    C, k = support.shape
    E = np.zeros((C, k, d_full))
    E[np.arange(C)[:, None], np.arange(k)[None, :], support] = 1.0
    E = xp.asarray(E, dtype=dt, device=dev)  # (C, k, d) one-hot rows
    m_full = xp.sum(m[..., :, None] * E, axis=-2)  # (B, C, d)
    S_full = xp.matmul(xp.matmul(xp.matrix_transpose(E), S), E)  # (B, C, d, d)
    return m_full, S_full
