"""Gaussian naive Bayes with a pooled (linear rule) or per-class (quadratic rule) diagonal variance.

The pooled variant makes the log-odds linear in x (:func:`gaussian_nb_linear_form`), the
variant analysed by Zheng et al. 2023, section 3; the per-class one is scikit-learn's
GaussianNB. Fit, predict and all prefixes, batched, in log space.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..validation import _is_traced, check_nonnegative, check_positive, namespace
from ._base import (
    check_labelled_data,
    check_predict_X,
    class_log_prior,
    exclusive_prefix_sum,
    fixed_log_prior,
    jax_jit,
    log_normalize,
    one_hot,
    resolve_n_classes,
)

__all__ = ["GaussianNBParams", "gaussian_nb_fit", "gaussian_nb_predict_proba", "gaussian_nb_predict", "gaussian_nb_linear_form", "gaussian_nb_prefixes"]

_LOG_2PI = math.log(2.0 * math.pi)


class GaussianNBParams(NamedTuple):
    """A fitted Gaussian naive Bayes model.

    means : (..., C, d) class means; var : (..., 1, d) when the variance is shared (pooled over
    classes) or (..., C, d) per class, smoothing included; log_prior : (..., C).
    """

    means: Any
    var: Any
    log_prior: Any


# ----------------------------------------------------------------------------- Gaussian naive Bayes


def gaussian_nb_fit(
    X: Any,
    y: Any,
    *,
    n_classes: int | None = None,
    shared_variance: bool = False,
    var_smoothing: float = 1e-9,
    priors: Any = None,
) -> GaussianNBParams:
    r"""Fit Gaussian naive Bayes by maximum likelihood, batched over leading axes.

    .. math::
        \mu_c = \frac{1}{m_c}\sum_{y_i = c} x_i,\qquad
        \sigma^2_{cj} = \frac{1}{m_c}\sum_{y_i=c} (x_{ij} - \mu_{cj})^2 + \epsilon
        \ \text{(per class)},\qquad
        \sigma^2_{j} = \frac{1}{m}\sum_{i} (x_{ij} - \mu_{y_i j})^2 + \epsilon \ \text{(shared)},

    with :math:`\epsilon = \text{var\_smoothing}\cdot\max_j \operatorname{Var}(x_{\cdot j})` (as
    scikit-learn) and :math:`\pi_c = m_c / m` unless ``priors`` is given.

    Parameters
    ----------
    X : array of shape (..., m, d)
    y : integer array of shape (..., m), labels in ``0..n_classes-1``
    n_classes : int, optional
        Number of classes C; inferred as ``max(y) + 1`` when omitted (required under jax ``jit``).
        A class without samples gets prior 0 (``log_prior = -inf``) and is never predicted.
    shared_variance : bool
        Pool one diagonal variance over the classes (a linear rule) instead of one per class.
    var_smoothing : float >= 0
        Fraction of the largest feature variance added to every variance.
    priors : 1-d array of length C, optional
        Fixed class priors instead of the empirical frequencies.

    Returns
    -------
    GaussianNBParams

    Raises
    ------
    ValueError
        On one class only, labels outside ``0..n_classes-1``, NaN, a negative ``var_smoothing``,
        or a zero fitted variance (constant features; increase ``var_smoothing``).

    References
    ----------
    Ng & Jordan (2001), "On discriminative vs. generative classifiers", section 2; Zheng et al.
    (2023), "Revisiting discriminative vs. generative classifiers", section 3 (shared variance).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [2.0], [4.0], [6.0]]); y = np.array([0, 0, 1, 1])
    >>> p = gaussian_nb_fit(X, y, shared_variance=True)
    >>> p.means[:, 0], p.var[0].round(6), np.exp(p.log_prior)
    (array([1., 5.]), array([1.]), array([0.5, 0.5]))
    """
    fn = "gaussian_nb_fit"
    xp, yi = check_labelled_data(X, y, fn)
    C = resolve_n_classes(xp, yi, n_classes, fn)
    var_smoothing = check_nonnegative(var_smoothing, "var_smoothing", fn)
    means, var, counts = _gaussian_nb_core(
        xp, X, yi, n_classes=C, shared_variance=bool(shared_variance), var_smoothing=var_smoothing
    )
    if not _is_traced(var) and bool(xp.any(var <= 0)):
        raise ValueError(
            f"{fn}: a fitted variance is 0 (a feature of X is constant within a class); "
            "increase var_smoothing (e.g. 1e-9) or drop constant features"
        )
    total = xp.sum(counts, axis=-1, keepdims=True)
    return GaussianNBParams(means, var, class_log_prior(xp, counts, total, fixed_log_prior(xp, priors, C, fn, X)))


@jax_jit("n_classes", "shared_variance", "var_smoothing")
def _gaussian_nb_core(xp, X, yi, *, n_classes, shared_variance, var_smoothing):
    """Class means (..., C, d), smoothed variances (..., 1|C, d) and class counts (..., C)."""
    Y = one_hot(xp, yi, n_classes, X.dtype)  # (..., m, C)
    counts = xp.sum(Y, axis=-2)  # (..., C)
    safe_counts = xp.where(counts > 0, counts, xp.ones_like(counts))
    means = xp.matrix_transpose(Y) @ X / safe_counts[..., None]  # (..., C, d)
    resid = X - Y @ means  # (..., m, d): each sample minus its class mean
    if shared_variance:
        var = xp.sum(resid**2, axis=-2, keepdims=True) / X.shape[-2]  # (..., 1, d)
    else:
        var = xp.matrix_transpose(Y) @ resid**2 / safe_counts[..., None]  # (..., C, d)
    overall = xp.mean((X - xp.mean(X, axis=-2, keepdims=True)) ** 2, axis=-2)  # (..., d)
    return means, var + var_smoothing * xp.max(overall, axis=-1)[..., None, None], counts


def _gaussian_jll(xp, params: GaussianNBParams, X: Any) -> Any:
    return _gaussian_jll_core(xp, params.means, params.var, params.log_prior, X)


@jax_jit()
def _gaussian_jll_core(xp, means, var, log_prior, X):
    r"""Joint log-likelihoods :math:`\log\pi_c + \sum_j \log N(x_j; \mu_{cj}, \sigma^2_{cj})`: (..., m, C)."""
    means, var = means[..., None, :, :], var[..., None, :, :]  # (..., 1, C|1, d)
    sq = (X[..., :, None, :] - means) ** 2 / var  # (..., m, C, d)
    log_det = xp.sum(xp.log(var), axis=-1)  # (..., 1, C|1)
    return log_prior[..., None, :] - 0.5 * (xp.sum(sq, axis=-1) + log_det + X.shape[-1] * _LOG_2PI)


def gaussian_nb_predict_proba(params: GaussianNBParams, X: Any, *, log: bool = False) -> Any:
    r"""Class probabilities of Gaussian naive Bayes, :math:`p(c \mid x) \propto \pi_c \prod_j N(x_j; \mu_{cj}, \sigma^2_{cj})`.

    Parameters
    ----------
    params : GaussianNBParams from :func:`gaussian_nb_fit`
    X : array of shape (..., m, d)
    log : bool
        Return log-probabilities (computed with ``logsumexp``, never by taking a log afterwards).

    Returns
    -------
    probs : array of shape (..., m, C), rows summing to one.

    References
    ----------
    Ng & Jordan (2001), section 2.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [2.0], [4.0], [6.0]]); y = np.array([0, 0, 1, 1])
    >>> p = gaussian_nb_fit(X, y, shared_variance=True)
    >>> gaussian_nb_predict_proba(p, np.array([[3.0]])).round(6)
    array([[0.5, 0.5]])
    """
    fn = "gaussian_nb_predict_proba"
    X = check_predict_X(X, params.means.shape[-1], params.means.dtype, fn)
    xp = namespace(params.means, X, fn=fn)
    logp = log_normalize(xp, _gaussian_jll(xp, params, X))
    return logp if log else xp.exp(logp)


def gaussian_nb_predict(params: GaussianNBParams, X: Any) -> Any:
    """Most probable class under Gaussian naive Bayes: (..., m) int64 labels.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_nb_fit(np.array([[0.0], [2.0], [4.0], [6.0]]), np.array([0, 0, 1, 1]))
    >>> gaussian_nb_predict(p, np.array([[-1.0], [7.0]]))
    array([0, 1])
    """
    fn = "gaussian_nb_predict"
    X = check_predict_X(X, params.means.shape[-1], params.means.dtype, fn)
    xp = namespace(params.means, X, fn=fn)
    return xp.argmax(_gaussian_jll(xp, params, X), axis=-1)


def gaussian_nb_linear_form(params: GaussianNBParams):
    r"""The linear rule of shared-variance Gaussian naive Bayes: ``(coef (..., C, d), intercept (..., C))``.

    With one variance :math:`\sigma^2_j` shared by the classes, the quadratic terms
    :math:`x_j^2 / 2\sigma_j^2` are common to every class and cancel in the posterior, so

    .. math::
        \log p(c \mid x) = w_c^\top x + b_c - \log\sum_{c'} e^{w_{c'}^\top x + b_{c'}},\qquad
        w_{cj} = \frac{\mu_{cj}}{\sigma^2_j},\quad
        b_c = \log\pi_c - \sum_j \frac{\mu_{cj}^2}{2\sigma^2_j},

    and the binary log-odds :math:`(w_1 - w_0)^\top x + b_1 - b_0` are linear in x (the proofs
    lemma "Gaussian NB with shared variance has log-odds linear in x").

    Raises
    ------
    ValueError
        If the model was fitted with per-class variances (the rule is then quadratic).

    References
    ----------
    Ng & Jordan (2001), section 2; Zheng et al. (2023), section 3.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_nb_fit(np.array([[0.0], [2.0], [4.0], [6.0]]), np.array([0, 0, 1, 1]), shared_variance=True)
    >>> coef, intercept = gaussian_nb_linear_form(p)
    >>> float(coef[1, 0] - coef[0, 0]), float(intercept[1] - intercept[0])
    (4.0, -12.0)
    """
    fn = "gaussian_nb_linear_form"
    if params.var.shape[-2] != 1:
        raise ValueError(
            f"{fn}: the model has per-class variances (a quadratic rule); fit it with shared_variance=True"
        )
    xp = namespace(params.means, params.var, fn=fn)
    coef = params.means / params.var  # (..., C, d)
    intercept = params.log_prior - 0.5 * xp.sum(params.means * coef, axis=-1)
    return coef, intercept


def gaussian_nb_prefixes(
    xs: Any,
    ys: Any,
    *,
    n_classes: int | None = None,
    shared_variance: bool = True,
    var_smoothing: float = 1e-9,
    priors: Any = None,
    log: bool = False,
) -> Any:
    r"""Gaussian naive Bayes on every prefix of a prompt: ``probs[..., k, :]`` from the first k pairs.

    Class counts, sums and sums of squares are exclusive prefix sums, so all n fits cost one
    pass. Prefix k equals ``gaussian_nb_predict_proba(gaussian_nb_fit(xs[..., :k, :], ys[..., :k],
    n_classes, ...), xs[..., k:k+1, :])`` whenever that fit is defined; where it is not (k = 0,
    or the first k inputs are all equal, e.g. k = 1) the prediction is the class prior alone:
    ``priors`` if given, else the empirical class frequencies (uniform at k = 0). A class not
    yet seen has mean 0 and, without ``priors``, probability 0.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n), class labels (integer, or floats holding whole numbers)
    n_classes : int, optional
        Inferred as ``max(ys) + 1`` when omitted.
    shared_variance, var_smoothing, priors
        As in :func:`gaussian_nb_fit`; ``var_smoothing`` must be > 0 here.
    log : bool
        Return log-probabilities.

    Returns
    -------
    probs : array of shape (..., n, C), in the input's dtype; computed in float64 (a float32
    variance ``s2 / k - mean^2`` of inputs with mean m and spread s loses ~(m / s)^2 eps32 of it).

    References
    ----------
    Zheng et al. (2023), section 3; ``docs/design.md`` (the all-prefix seam).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[0.0], [4.0], [2.0], [6.0], [3.5]]); ys = np.array([0, 1, 0, 1, 1])
    >>> gaussian_nb_prefixes(xs, ys)[[0, 1, 4]].round(3)
    array([[0.5  , 0.5  ],
           [1.   , 0.   ],
           [0.119, 0.881]])
    """
    fn = "gaussian_nb_prefixes"
    xp, yi = check_labelled_data(xs, ys, fn, x_name="xs", y_name="ys")
    C = resolve_n_classes(xp, yi, n_classes, fn, name="ys")
    var_smoothing = check_positive(var_smoothing, "var_smoothing", fn)
    wide = xp.astype(xs, xp.float64)  # float32 sums of squares cancel: s2 - mean * s1 loses the variance
    fixed = fixed_log_prior(xp, priors, C, fn, wide)
    jll = _gaussian_prefix_core(xp, wide, yi, fixed, n_classes=C, shared_variance=bool(shared_variance),
                                var_smoothing=var_smoothing)  # fmt: skip
    logp = log_normalize(xp, jll)
    return xp.astype(logp if log else xp.exp(logp), xs.dtype)


@jax_jit("n_classes", "shared_variance", "var_smoothing")
def _gaussian_prefix_core(xp, xs, yi, fixed, *, n_classes, shared_variance, var_smoothing):
    """Joint log-likelihoods (..., n, C) of every prefix fit (likelihood dropped where undefined)."""
    Y = one_hot(xp, yi, n_classes, xs.dtype)  # (..., n, C)
    counts = exclusive_prefix_sum(xp, Y, -2)  # (..., n, C)
    s1 = exclusive_prefix_sum(xp, Y[..., :, :, None] * xs[..., :, None, :], -3)  # (..., n, C, d)
    s2 = exclusive_prefix_sum(xp, Y[..., :, :, None] * (xs**2)[..., :, None, :], -3)
    safe = xp.where(counts > 0, counts, xp.ones_like(counts))[..., None]
    means = s1 / safe
    ss = xp.maximum(s2 - means * s1, xp.zeros_like(s2))  # within-class sums of squares
    k = xp.sum(counts, axis=-1)  # (..., n) = 0, 1, ..., n-1
    safe_k = xp.where(k > 0, k, xp.ones_like(k))[..., None]
    if shared_variance:
        var = xp.sum(ss, axis=-2, keepdims=True) / safe_k[..., None]  # (..., n, 1, d)
    else:
        var = ss / safe
    t1, t2 = exclusive_prefix_sum(xp, xs, -2), exclusive_prefix_sum(xp, xs**2, -2)
    overall = xp.maximum(t2 / safe_k - (t1 / safe_k) ** 2, xp.zeros_like(t2))  # (..., n, d)
    eps = var_smoothing * xp.max(overall, axis=-1)  # (..., n)
    defined = eps > 0
    var = var + xp.where(defined, eps, xp.ones_like(eps))[..., None, None]
    log_prior = class_log_prior(xp, counts, k[..., None], fixed)
    sq = (xs[..., :, None, :] - means) ** 2 / var  # (..., n, C, d)
    loglik = -0.5 * (xp.sum(sq, axis=-1) + xp.sum(xp.log(var), axis=-1))  # (..., n, C)
    return log_prior + xp.where(defined[..., None], loglik, xp.zeros_like(loglik))
