"""Generative vs discriminative classifiers: naive Bayes (Gaussian, Bernoulli) and logistic regression.

One calling convention for every fitted model:

* ``*_fit(X, y, ..., n_classes=None)`` with ``X (..., m, d)`` and integer labels ``y (..., m)``
  in ``{0, ..., C-1}`` returns a small frozen record (a ``NamedTuple`` of arrays, so it is also
  a jax pytree), batched over the leading axes (independent problems);
* ``*_predict_proba(params, X)`` returns probabilities ``(..., m, C)`` (``log=True``: log-probabilities)
  and ``*_predict(params, X)`` the labels ``(..., m)``;
* ``*_prefixes(xs, ys, ...)`` is the all-prefix seam of ``docs/design.md`` with a class axis: ``xs (..., n, d)``,
  ``ys (..., n)`` -> ``probs (..., n, C)``, ``probs[..., k, :]`` predicted for ``xs[..., k, :]``
  from the first k pairs only (k = 0: the prior).

Everything is computed in log space and normalised with ``logsumexp``. Gaussian naive Bayes has
two variants: ``shared_variance=True`` pools one diagonal variance over the classes, which makes
the log-odds linear in x (:func:`gaussian_nb_linear_form`; the variant analysed by Zheng et al.
2023), and ``shared_variance=False`` keeps one variance per class (scikit-learn's GaussianNB; a
quadratic rule). Bernoulli naive Bayes lives in :mod:`._bernoulli_nb`, logistic regression (Newton / IRLS) in :mod:`._logistic` and :mod:`._newton`, and the exact Bayes classifier of the Gaussian class-conditional prior in :mod:`._bayes`.
Notation map: the papers' number of features n is ``d`` here; their training size m is ``m``.
"""

from ._bayes import gaussian_classes_bayes_prefixes
from ._bernoulli_nb import (
    BernoulliNBParams,
    bernoulli_nb_fit,
    bernoulli_nb_predict,
    bernoulli_nb_predict_proba,
    bernoulli_nb_prefixes,
)
from ._gaussian_nb import (
    GaussianNBParams,
    gaussian_nb_fit,
    gaussian_nb_linear_form,
    gaussian_nb_predict,
    gaussian_nb_predict_proba,
    gaussian_nb_prefixes,
)
from ._logistic import LogisticParams, logistic_fit, logistic_predict, logistic_predict_proba, logistic_prefixes

__all__ = [
    "GaussianNBParams",
    "BernoulliNBParams",
    "LogisticParams",
    "gaussian_nb_fit",
    "gaussian_nb_predict_proba",
    "gaussian_nb_predict",
    "gaussian_nb_linear_form",
    "gaussian_nb_prefixes",
    "bernoulli_nb_fit",
    "bernoulli_nb_predict_proba",
    "bernoulli_nb_predict",
    "bernoulli_nb_prefixes",
    "logistic_fit",
    "logistic_predict_proba",
    "logistic_predict",
    "logistic_prefixes",
    "gaussian_classes_bayes_prefixes",
]
