"""Estimators for in-context learning theory: pure functions on numpy, torch or jax arrays.

Every function takes and returns arrays of one library (numpy, torch on CPU or CUDA,
jax); the output keeps the input's library, dtype and device. The all-prefix
functions share one seam (see DESIGN.md)::

    predict_prefixes(xs, ys, ...) -> preds
    xs: (..., n, d)   ys: (..., n)   preds: (..., n)
    preds[..., k] is the prediction for xs[..., k, :] from the first k pairs only.

Example
-------
>>> import numpy as np
>>> from estimators import ridge
>>> X = np.eye(3); y = np.array([1.0, 2.0, 3.0])
>>> ridge(X, y, lam=1.0)
array([0.5, 1. , 1.5])
"""

# Each submodule defines ``__all__``; the package re-exports exactly those names.
from . import linear, sparse, kernels, kernel_ridge, distill, classify
from .linear import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .kernels import *  # noqa: F401,F403
from .kernel_ridge import *  # noqa: F401,F403
from .distill import *  # noqa: F401,F403
from .classify import *  # noqa: F401,F403
from . import bayes
from .bayes import *  # noqa: F401,F403
from . import mmd, mmd_data  # mmd_data (Blob / HDGM samplers) stays a submodule, not re-exported
from .mmd import *  # noqa: F401,F403

__all__ = [*linear.__all__, *sparse.__all__, *kernels.__all__, *kernel_ridge.__all__, *distill.__all__, *classify.__all__, *bayes.__all__, *mmd.__all__]
