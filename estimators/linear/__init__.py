"""Linear in-context baselines: least squares, ridge, gradient descent, averaging, k-NN.

Two shapes of function (Garg et al. 2022, section 3; Akyurek et al. 2023, section 2):

* single fits, batched over leading axes: ``X (..., k, d)``, ``y (..., k)`` -> ``w (..., d)``
  (:mod:`._closed_form`; ``knn_predict`` returns predictions at query points instead);
* all-prefix predictors on the seam of ``docs/design.md``: ``xs (..., n, d)``, ``ys (..., n)`` ->
  ``preds (..., n)``, ``preds[..., k]`` predicted for ``xs[..., k, :]`` from the first k pairs
  (:mod:`._prefixes`).

Notation map: the papers' ``lambda`` is ``lam``. Lasso lives in :mod:`estimators.sparse`.
"""

from ._closed_form import averaging, gd, knn_predict, ols, ridge
from ._prefixes import averaging_prefixes, gd_prefixes, knn_prefixes, ols_prefixes, ridge_prefixes

__all__ = [
    "ols",
    "ridge",
    "gd",
    "averaging",
    "knn_predict",
    "ols_prefixes",
    "ridge_prefixes",
    "gd_prefixes",
    "averaging_prefixes",
    "knn_prefixes",
]
