"""The exact Bayes classifier of the Gaussian class-conditional prior, on every prefix of a prompt.

The prior (``icl.tasks`` ``gaussian-classes``; Zheng et al. 2023, Ng & Jordan 2001): labels
uniform over C classes; class means :math:`\\mu_c \\sim N(0, s^2 I_d)`; diagonal variances
:math:`v_j \\sim U[a, b]`, one per feature shared by the classes (``shared=True``) or one per
class and feature; :math:`x \\mid y = c \\sim N(\\mu_c, \\operatorname{diag}(v))`.

Given v, the means integrate out in closed form (a Gaussian group of n values with sums
:math:`S_1, S_2`):

.. math::
    \\log M(n, S_1, S_2 \\mid v) = -\\tfrac{n}{2}\\log(2\\pi v) - \\tfrac12\\log\\big(1 + \\tfrac{n s^2}{v}\\big)
    - \\frac{S_2}{2v} + \\frac{s^2 S_1^2}{2v\\,(v + n s^2)},

and every variance is a one-dimensional integral, done by Gauss-Legendre quadrature on [a, b].
Features are independent given the labels, so

.. math::
    p(y_q = c \\mid x_q, \\text{context}) \\propto \\prod_j \\int U(v)\\, \\prod_{c'}
    M\\big(\\text{group } c' \\text{ with } x_q \\text{ added to group } c \\mid v\\big)\\, dv

(shared), or the ratio of the per-class integrals with and without the query (per class).
Public name re-exported by :mod:`estimators.classify`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..validation import check_int, check_nonnegative, check_positive
from ._base import check_labelled_data, log_normalize, logsumexp, one_hot, resolve_n_classes

__all__ = ["gaussian_classes_bayes_prefixes"]


def _log_marginal(xp, n, s1, s2, v, s2_prior):
    """log M(n, S1, S2 | v) of a Gaussian group with a N(0, s^2) mean; broadcasts over all axes."""
    denom = v + n * s2_prior
    return (-0.5 * n * xp.log(2 * math.pi * v) - 0.5 * xp.log(denom / v)
            - s2 / (2 * v) + s2_prior * s1**2 / (2 * v * denom))  # fmt: skip


def gaussian_classes_bayes_prefixes(
    xs: Any,
    ys: Any,
    *,
    n_classes: int | None = None,
    mean_scale: float = 1.0,
    var_low: float = 0.5,
    var_high: float = 2.0,
    shared: bool = True,
    nodes: int = 48,
    log: bool = False,
) -> Any:
    r"""Posterior predictive class probabilities of the Gaussian class-conditional prior, every prefix.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n), class labels
    n_classes : int, optional
        Inferred as ``max(ys) + 1`` when omitted.
    mean_scale : float >= 0
        Prior standard deviation s of every class-mean coordinate.
    var_low, var_high : float
        The variances are uniform on [var_low, var_high] (0 < var_low <= var_high).
    shared : bool
        One variance per feature shared by the classes, or one per class and feature.
    nodes : int
        Gauss-Legendre nodes for each variance integral.
    log : bool
        Return log-probabilities.

    Returns
    -------
    probs : array of shape (..., n, C); ``probs[..., k, :]`` uses the first k pairs (k = 0: uniform).
        In the input's dtype, computed in float64 (the log-marginals reach ~n d in size, so float32
        would lose ~1e-4 of every probability).

    References
    ----------
    Zheng et al. (2023), section 3 (the Gaussian class-conditional model); Ng & Jordan (2001).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[-1.0], [1.0], [0.9]]); ys = np.array([0, 1, 1])
    >>> gaussian_classes_bayes_prefixes(xs, ys, n_classes=2).round(3)
    array([[0.5  , 0.5  ],
           [0.418, 0.582],
           [0.358, 0.642]])
    """
    fn = "gaussian_classes_bayes_prefixes"
    xp, yi = check_labelled_data(xs, ys, fn, x_name="xs", y_name="ys")
    C = resolve_n_classes(xp, yi, n_classes, fn, name="ys")
    s2_prior = check_nonnegative(mean_scale, "mean_scale", fn) ** 2
    a = check_positive(var_low, "var_low", fn)
    b = check_positive(var_high, "var_high", fn)
    if b < a:
        raise ValueError(f"{fn}: var_high must be >= var_low, got var_low={a}, var_high={b}")
    nodes = check_int(nodes, "nodes", fn, minimum=1)
    t, w = np.polynomial.legendre.leggauss(nodes)
    like, xs = xs, xp.astype(xs, xp.float64)  # sums of squares and log-marginals of size ~n d: float64
    device = getattr(xs, "device", None)
    v = xp.asarray(a + (b - a) * (t + 1) / 2, dtype=xs.dtype, device=device)  # (V,)
    log_w = xp.asarray(np.log(w / 2), dtype=xs.dtype, device=device)  # U[a, b] density times the node width

    def excl(arr, axis):
        n = arr.shape[axis]
        return xp.take(xp.cumulative_sum(arr, axis=axis, include_initial=True), xp.arange(n), axis=axis)

    Y = one_hot(xp, yi, C, xs.dtype)  # (..., n, C)
    cnt = excl(Y, -2)[..., None, None]  # (..., n, C, 1, 1)
    s1 = excl(Y[..., :, :, None] * xs[..., :, None, :], -3)[..., None]  # (..., n, C, d, 1)
    s2 = excl(Y[..., :, :, None] * (xs**2)[..., :, None, :], -3)[..., None]
    xq = xs[..., :, None, :, None]  # (..., n, 1, d, 1): the query, added to one class at a time
    before = _log_marginal(xp, cnt, s1, s2, v, s2_prior)  # (..., n, C, d, V)
    after = _log_marginal(xp, cnt + 1, s1 + xq, s2 + xq**2, v, s2_prior)
    if shared:  # one integral per feature over the groups of all classes; the query joins class c
        total = xp.sum(before, axis=-3, keepdims=True)  # (..., n, 1, d, V)
        with_q = total - before + after  # (..., n, C, d, V)
        score = xp.sum(logsumexp(xp, with_q + log_w, axis=-1), axis=-1)  # (..., n, C)
    else:  # per-class variances: predictive of class c alone = ratio of its integrals
        score = xp.sum(logsumexp(xp, after + log_w, axis=-1) - logsumexp(xp, before + log_w, axis=-1), axis=-1)
    logp = log_normalize(xp, score)  # uniform class prior
    return xp.astype(logp if log else xp.exp(logp), like.dtype)
