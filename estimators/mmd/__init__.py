"""MMD two-sample tests: statistics, permutation tests, learned kernels, classifier tests, data sets.

Maximum mean discrepancy (Gretton et al. 2012) between samples ``X`` (..., n, d) and ``Y`` (..., m, d)
under a kernel ``k``: any callable ``k(A, B) -> (..., a, b)`` such as
:class:`estimators.kernels.GaussianKernel` or :class:`DeepKernel`. Everything is batched over
leading axes. Notation map: Liu et al. (2020) write the Gaussian kernel ``exp(-||x - y||^2 / s)``;
here ``s = 2 bandwidth^2``.

Files: :mod:`._statistics` (:func:`mmd2`, :func:`mpp` of Zhang et al. 2024, their H1 variances),
:mod:`._permutation` (:func:`permutation_test`), :mod:`._deep_kernel` (:class:`DeepKernel`),
:mod:`._learned` (MMD-O / MMD-D / MMD-MP kernel training, Liu et al. 2020), :mod:`._c2st` (C2ST),
:mod:`.data` (the Blob, HDGM and multi-population samplers, also at ``estimators.mmd_data``).
The deep kernel and the learned tests are torch code: their names load torch on first use, so
``from estimators.mmd import mmd2`` does not.
"""

import importlib

from ._permutation import PermutationTestResult, permutation_test
from ._statistics import mmd2, mmd2_h1_variance, mpp, mpp_h1_variance

_TORCH_NAMES = {
    "DeepKernel": "._deep_kernel",
    "train_kernel": "._learned",
    "featurizer": "._learned",
    "C2STClassifier": "._c2st",
    "train_classifier": "._c2st",
    "c2st": "._c2st",
}

__all__ = [
    "mmd2",
    "mpp",
    "mmd2_h1_variance",
    "mpp_h1_variance",
    "permutation_test",
    "PermutationTestResult",
    *_TORCH_NAMES,
]


def __getattr__(name: str):
    """Load the torch-backed names on first use (PEP 562)."""
    if name in _TORCH_NAMES:
        value = getattr(importlib.import_module(_TORCH_NAMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
