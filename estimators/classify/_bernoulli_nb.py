"""Bernoulli naive Bayes (binary features), batched over problems and on every prefix of a prompt.

Same calling convention as :mod:`estimators.classify`, which re-exports these names: a fit
returns a :class:`BernoulliNBParams` record; ``bernoulli_nb_predict_proba`` gives (..., m, C)
probabilities computed in log space. Inputs are binarised as ``x > binarize`` (as
scikit-learn's BernoulliNB). Gaussian naive Bayes lives in :mod:`estimators.classify`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..validation import check_nonnegative, check_positive, namespace
from ._base import (
    check_labelled_data,
    check_predict_X,
    exclusive_prefix_sum,
    fixed_log_prior,
    jax_jit,
    log_normalize,
    class_log_prior,
    one_hot,
    resolve_n_classes,
)

__all__ = [
    "BernoulliNBParams",
    "bernoulli_nb_fit",
    "bernoulli_nb_predict_proba",
    "bernoulli_nb_predict",
    "bernoulli_nb_prefixes",
]


class BernoulliNBParams(NamedTuple):
    """A fitted Bernoulli naive Bayes model.

    feature_log_prob : (..., C, d) ``log P(x_j = 1 | c)``; log_prior : (..., C); threshold : 0-d
    array or ``None``: inputs are binarised as ``x > threshold`` (``None``: already 0/1).
    """

    feature_log_prob: Any
    log_prior: Any
    threshold: Any


def _threshold(xp, binarize, fn, like):
    """The binarisation threshold as a 0-d array of ``like``'s dtype (``None`` stays ``None``)."""
    if binarize is None:
        return None
    value = check_nonnegative(binarize, "binarize", fn) if binarize >= 0 else -check_positive(-binarize, "binarize", fn)
    return xp.asarray(value, dtype=like.dtype, device=getattr(like, "device", None))


def _binarize(xp, X, threshold):
    return X if threshold is None else xp.astype(X > threshold, X.dtype)


def bernoulli_nb_fit(
    X: Any,
    y: Any,
    *,
    n_classes: int | None = None,
    alpha: float = 1.0,
    binarize: float | None = 0.0,
    priors: Any = None,
) -> BernoulliNBParams:
    r"""Fit Bernoulli naive Bayes with additive (Laplace) smoothing, batched over leading axes.

    .. math:: P(x_j = 1 \mid c) = \frac{\#\{i: y_i = c, x_{ij} = 1\} + \alpha}{m_c + 2\alpha},\qquad
              \pi_c = m_c / m .

    Parameters
    ----------
    X : array of shape (..., m, d)
        Binarised as ``X > binarize`` (``binarize=None``: X already holds 0/1).
    y : integer array of shape (..., m)
    n_classes : int, optional
    alpha : float > 0
        Additive smoothing (scikit-learn's ``alpha``).
    binarize : float or None
    priors : 1-d array of length C, optional

    Returns
    -------
    BernoulliNBParams

    References
    ----------
    McCallum & Nigam (1998), "A comparison of event models for naive Bayes text classification";
    scikit-learn's BernoulliNB.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]); y = np.array([0, 0, 1])
    >>> np.exp(bernoulli_nb_fit(X, y).feature_log_prob).round(3)
    array([[0.75 , 0.5  ],
           [0.333, 0.667]])
    """
    fn = "bernoulli_nb_fit"
    xp, yi = check_labelled_data(X, y, fn)
    C = resolve_n_classes(xp, yi, n_classes, fn)
    alpha = check_positive(alpha, "alpha", fn)
    threshold = _threshold(xp, binarize, fn, X)
    flp, counts = _bernoulli_nb_core(xp, X, yi, threshold, n_classes=C, alpha=alpha)
    total = xp.sum(counts, axis=-1, keepdims=True)
    return BernoulliNBParams(flp, class_log_prior(xp, counts, total, fixed_log_prior(xp, priors, C, fn, X)), threshold)


@jax_jit("n_classes", "alpha")
def _bernoulli_nb_core(xp, X, yi, threshold, *, n_classes, alpha):
    """Smoothed ``log P(x_j = 1 | c)`` (..., C, d) and class counts (..., C)."""
    Y = one_hot(xp, yi, n_classes, X.dtype)
    counts = xp.sum(Y, axis=-2)  # (..., C)
    ones = xp.matrix_transpose(Y) @ _binarize(xp, X, threshold)  # (..., C, d)
    return xp.log(ones + alpha) - xp.log(counts + 2.0 * alpha)[..., None], counts


def _bernoulli_jll(xp, params: BernoulliNBParams, X: Any) -> Any:
    return _bernoulli_jll_core(xp, params.feature_log_prob, params.log_prior, params.threshold, X)


@jax_jit()
def _bernoulli_jll_core(xp, flp, log_prior, threshold, X):
    r""":math:`\log\pi_c + \sum_j x_j \log p_{cj} + (1 - x_j)\log(1 - p_{cj})`: (..., m, C)."""
    Xb = _binarize(xp, X, threshold)
    neg = xp.log1p(-xp.exp(flp))  # log(1 - p), p < 1 by smoothing
    return Xb @ xp.matrix_transpose(flp - neg) + (xp.sum(neg, axis=-1) + log_prior)[..., None, :]


def bernoulli_nb_predict_proba(params: BernoulliNBParams, X: Any, *, log: bool = False) -> Any:
    """Class probabilities of Bernoulli naive Bayes: (..., m, C) (``log=True``: log-probabilities).

    Examples
    --------
    >>> import numpy as np
    >>> p = bernoulli_nb_fit(np.array([[1.0], [0.0]]), np.array([0, 1]))
    >>> bernoulli_nb_predict_proba(p, np.array([[1.0]])).round(3)
    array([[0.667, 0.333]])
    """
    fn = "bernoulli_nb_predict_proba"
    X = check_predict_X(X, params.feature_log_prob.shape[-1], params.feature_log_prob.dtype, fn)
    xp = namespace(params.feature_log_prob, X, fn=fn)
    logp = log_normalize(xp, _bernoulli_jll(xp, params, X))
    return logp if log else xp.exp(logp)


def bernoulli_nb_predict(params: BernoulliNBParams, X: Any) -> Any:
    """Most probable class under Bernoulli naive Bayes: (..., m) int64 labels.

    Examples
    --------
    >>> import numpy as np
    >>> p = bernoulli_nb_fit(np.array([[1.0], [0.0]]), np.array([0, 1]))
    >>> bernoulli_nb_predict(p, np.array([[0.0], [1.0]]))
    array([1, 0])
    """
    fn = "bernoulli_nb_predict"
    X = check_predict_X(X, params.feature_log_prob.shape[-1], params.feature_log_prob.dtype, fn)
    xp = namespace(params.feature_log_prob, X, fn=fn)
    return xp.argmax(_bernoulli_jll(xp, params, X), axis=-1)


def bernoulli_nb_prefixes(
    xs: Any,
    ys: Any,
    *,
    n_classes: int | None = None,
    alpha: float = 1.0,
    binarize: float | None = 0.0,
    priors: Any = None,
    log: bool = False,
) -> Any:
    r"""Bernoulli naive Bayes on every prefix: ``probs[..., k, :]`` from the first k pairs, (..., n, C).

    Prefix k equals :func:`bernoulli_nb_predict_proba` of :func:`bernoulli_nb_fit` on the first
    k pairs (with ``n_classes`` given); at k = 0 every feature probability is 1/2 and the prior
    is ``priors`` or uniform.

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[1.0], [0.0], [1.0]]); ys = np.array([0, 1, 0])
    >>> bernoulli_nb_prefixes(xs, ys).round(3)
    array([[0.5  , 0.5  ],
           [1.   , 0.   ],
           [0.667, 0.333]])
    """
    fn = "bernoulli_nb_prefixes"
    xp, yi = check_labelled_data(xs, ys, fn, x_name="xs", y_name="ys")
    C = resolve_n_classes(xp, yi, n_classes, fn, name="ys")
    alpha = check_positive(alpha, "alpha", fn)
    threshold = _threshold(xp, binarize, fn, xs)  # in the input's dtype, then widened exactly
    wide = xp.astype(xs, xp.float64)  # computed in float64, rounded once to the input's dtype
    threshold = None if threshold is None else xp.astype(threshold, wide.dtype)
    jll = _bernoulli_prefix_core(xp, wide, yi, threshold, fixed_log_prior(xp, priors, C, fn, wide), n_classes=C,
                                 alpha=alpha)  # fmt: skip
    logp = log_normalize(xp, jll)
    return xp.astype(logp if log else xp.exp(logp), xs.dtype)


@jax_jit("n_classes", "alpha")
def _bernoulli_prefix_core(xp, xs, yi, threshold, fixed, *, n_classes, alpha):
    """Joint log-likelihoods (..., n, C) of every prefix fit of Bernoulli naive Bayes."""
    Xb = _binarize(xp, xs, threshold)
    Y = one_hot(xp, yi, n_classes, xs.dtype)
    counts = exclusive_prefix_sum(xp, Y, -2)  # (..., n, C)
    ones = exclusive_prefix_sum(xp, Y[..., :, :, None] * Xb[..., :, None, :], -3)  # (..., n, C, d)
    flp = xp.log(ones + alpha) - xp.log(counts + 2.0 * alpha)[..., None]
    log_prior = class_log_prior(xp, counts, xp.sum(counts, axis=-1, keepdims=True), fixed)
    neg = xp.log1p(-xp.exp(flp))
    return xp.sum(Xb[..., :, None, :] * (flp - neg) + neg, axis=-1) + log_prior
