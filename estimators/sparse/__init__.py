"""Lasso, the convex proxy for sparse linear regression, batched and all-prefix.

The objective is scikit-learn's scaling, so results compare with ``sklearn.linear_model.Lasso``
(``fit_intercept=False``)::

    min_w  (1 / (2k)) ||y - X w||^2 + alpha ||w||_1        (k = number of pairs)

Every problem is solved in Gram form (G = X^T X, c = X^T y, k, y^T y) by batched feature-sign
search (:mod:`._feature_sign`, Lee et al. 2007), an exact active-set method. All
prefixes of all prompts run as one sweep over the prefix length: the Gram statistics grow by
one point and every prompt's search starts from its previous prefix's solution, so a prefix
costs a few batched solves. Each answer is certified by its duality gap (scikit-learn's stopping
rule); the rare problem feature-sign search hands back (degenerate data) is finished by proximal
gradient and coordinate descent (:mod:`._iterative`). L-infinity minimisation (:mod:`._linf`),
the proxy for sign vectors, is a linear program per prefix. What does not live here:
the exact Bayes predictor for the k-sparse prior, :class:`estimators.bayes.SparsePrior`.
"""

from ._lasso import lasso, lasso_objective, lasso_prefixes, lasso_weights_prefixes
from ._linf import linf_min, linf_min_prefixes

__all__ = ["lasso", "lasso_prefixes", "lasso_objective", "lasso_weights_prefixes", "linf_min", "linf_min_prefixes"]
