"""Folding chunks of mixture components into running results, in log space.

The engine (:mod:`._engine`) hands every chunk's per-component quantities to these folds:
:class:`Running` keeps a running logsumexp of the chunk log weights and weighted means
(predictions, posterior moments); :class:`RunningPredictive` folds each chunk's predictive
distribution of y_i (a mixture of Gaussians, Bayesian model averaging; Rasmussen & Williams
2006, section 2.2; Panwar et al. 2024, section 4) into its log density, mean and variance by
the law of total variance, so that no (..., C) array over all components is ever held.
What does not live here: the Kalman recursion and the chunk loop (:mod:`._engine`).
"""

from __future__ import annotations

import math

LOG_2PI = math.log(2.0 * math.pi)

__all__ = ["LOG_2PI", "lse_last", "logaddexp", "Running", "RunningPredictive", "chunk_predictive"]


def lse_last(xp, a, normalise=True):
    """(logsumexp over the last axis, exp(a - max), and their sum); all -inf rows give -inf.

    With ``normalise`` the second output is the softmax and the third is 1.
    """
    mx = xp.max(a, axis=-1)
    mx_safe = xp.where(xp.isfinite(mx), mx, xp.zeros_like(mx))
    p = xp.exp(a - mx_safe[..., None])
    tot = xp.sum(p, axis=-1)
    pos = tot > 0
    tot_safe = xp.where(pos, tot, xp.ones_like(tot))
    lse = xp.where(pos, mx_safe + xp.log(tot_safe), xp.full_like(tot, -math.inf))
    if normalise:
        return lse, p / tot_safe[..., None], xp.ones_like(tot)
    return lse, p, tot_safe


class Running:
    """Running logsumexp of chunk log weights with normalised accumulators.

    ``add(L_c, accs_c)`` folds a chunk whose weights sum to ``exp(L_c)`` and whose
    accumulators are already normalised by that sum; ``accs`` then hold weighted means
    over all components seen so far.
    """

    def __init__(self, xp):
        self.xp, self.L, self.accs = xp, None, None

    def add(self, L, accs):
        xp = self.xp
        if self.L is None:
            self.L, self.accs = L, list(accs)
            return
        mx = xp.maximum(self.L, L)
        mx = xp.where(xp.isfinite(mx), mx, xp.zeros_like(mx))
        a, b = xp.exp(self.L - mx), xp.exp(L - mx)
        tot = a + b
        pos = tot > 0
        tot_safe = xp.where(pos, tot, xp.ones_like(tot))
        out = []
        for old, new in zip(self.accs, accs):
            shape = tuple(a.shape) + (1,) * (old.ndim - a.ndim)
            wa, wb = xp.reshape(a / tot_safe, shape), xp.reshape(b / tot_safe, shape)
            out.append(wa * old + wb * new)
        self.accs = out
        self.L = xp.where(pos, mx + xp.log(tot_safe), xp.full_like(tot, -math.inf))


def logaddexp(xp, a, b):
    """``log(exp(a) + exp(b))`` elementwise; -inf where both are -inf."""
    mx = xp.maximum(a, b)
    mx = xp.where(xp.isfinite(mx), mx, xp.zeros_like(mx))
    tot = xp.exp(a - mx) + xp.exp(b - mx)
    pos = tot > 0
    return xp.where(pos, mx + xp.log(xp.where(pos, tot, xp.ones_like(tot))), xp.full_like(tot, -math.inf))


class RunningPredictive:
    """Running fold of per-chunk predictives: (log weight, log density, mean, variance).

    Two groups with weights ``a = exp(L_a - L)``, ``b = exp(L_b - L)`` combine as
    ``log p = logaddexp(log a + log p_a, log b + log p_b)``, ``mean = a m_a + b m_b`` and
    ``var = a v_a + b v_b + a b (m_a - m_b)^2`` (law of total variance).
    """

    def __init__(self, xp):
        self.xp, self.parts = xp, None

    def add(self, L, logp, mean, var):
        xp = self.xp
        if self.parts is None:
            self.parts = [L, logp, mean, var]
            return
        L0, logp0, mean0, var0 = self.parts
        Lt = logaddexp(xp, L0, L)
        ok = xp.isfinite(Lt)  # both -inf (data impossible under every component so far): equal weights
        Ls, half = xp.where(ok, Lt, xp.zeros_like(Lt)), xp.full_like(Lt, -math.log(2.0))
        la, lb = xp.where(ok, L0 - Ls, half), xp.where(ok, L - Ls, half)
        a, b = xp.exp(la), xp.exp(lb)
        dm = mean0 - mean
        self.parts = [Lt, logaddexp(xp, la + logp0, lb + logp), a * mean0 + b * mean,
                      a * var0 + b * var + a * b * dm * dm]


def chunk_predictive(xp, logw, yhat, q, s_extra, y, noise):
    """One chunk's predictive of every y_i: (L, log density, mean, variance), each (n, B).

    logw (n, B, C): log prior weight + log evidence of the pairs before i; yhat (n, B, C): the
    components' predictive means; q (n, B, C): their ``x_i^T S_c x_i`` (``None``: point masses,
    q = 0); s_extra (n, B): the noise variance the engine uses (floored); y (n, B); ``noise``:
    the noise variance as given, which enters the variance.
    """
    L, p, _ = lse_last(xp, logw)
    Ls = xp.where(xp.isfinite(L), L, xp.zeros_like(L))[..., None]
    mean = xp.sum(p * yhat, axis=-1)
    s = s_extra[..., None] if q is None else q + s_extra[..., None]
    r = y[..., None] - yhat
    logp = lse_last(xp, logw - Ls - 0.5 * (LOG_2PI + xp.log(s) + r * r / s), normalise=False)[0]
    dev = yhat - mean[..., None]
    var = xp.sum(p * (dev * dev if q is None else q + dev * dev), axis=-1) + noise
    return L, logp, mean, var
