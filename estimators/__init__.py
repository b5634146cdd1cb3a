"""Estimators for in-context learning theory: pure functions on numpy, torch or jax arrays.

Every function takes and returns arrays of one library (numpy, torch on CPU or CUDA, jax); the
output keeps the input's library, dtype and device. The all-prefix functions share one seam
(``docs/design.md``)::

    predict_prefixes(xs, ys, ...) -> preds
    xs: (..., n, d)   ys: (..., n)   preds: (..., n)
    preds[..., k] is the prediction for xs[..., k, :] from the first k pairs only.

Topics are subpackages: :mod:`estimators.linear`, :mod:`estimators.sparse`,
:mod:`estimators.bayes`, :mod:`estimators.classify`, :mod:`estimators.kernels`,
:mod:`estimators.mmd` (with the samplers of :mod:`estimators.mmd_data`) and
:mod:`estimators.distill`; input validation and the error wording live in
:mod:`estimators.validation`. This package re-exports every public name and loads a topic
(and torch or jax) only when one of its names is first used (PEP 562), so
``import estimators`` stays fast.

Example
-------
>>> import numpy as np
>>> from estimators import ridge
>>> X = np.eye(3); y = np.array([1.0, 2.0, 3.0])
>>> ridge(X, y, lam=1.0)
array([0.5, 1. , 1.5])
"""

import importlib

_SUBMODULES = ("linear", "sparse", "bayes", "classify", "kernels", "mmd", "mmd_data", "distill", "validation")

#: The public names of each topic, re-exported here (each subpackage's ``__all__``; a test pins both).
_EXPORTS = {
    "linear": (
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
    ),
    "sparse": (
        "lasso",
        "lasso_prefixes",
        "lasso_objective",
        "lasso_weights_prefixes",
        "linf_min",
        "linf_min_prefixes",
    ),
    "bayes": (
        "GaussianPosterior",
        "MixturePosterior",
        "GaussianPrior",
        "MixturePrior",
        "FinitePrior",
        "SparsePrior",
        "SignPrior",
        "FeaturePrior",
        "FourierFeatures",
        "fourier_mixture_prior",
    ),
    "classify": (
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
    ),
    "kernels": (
        "GaussianKernel",
        "LaplaceKernel",
        "LinearKernel",
        "PolynomialKernel",
        "PeriodicKernel",
        "FeatureKernel",
        "FourierKernel",
        "squared_distances",
        "median_heuristic",
        "KernelRidgeParams",
        "kernel_ridge_fit",
        "kernel_ridge_predict",
        "kernel_ridge_prefixes",
        "GPPosterior",
        "gp_posterior",
        "gp_log_marginal_likelihood",
        "gp_log_predictive_prefixes",
        "gp_predictive_moments_prefixes",
    ),
    "mmd": (
        "mmd2",
        "mpp",
        "mmd2_h1_variance",
        "mpp_h1_variance",
        "permutation_test",
        "PermutationTestResult",
        "DeepKernel",
        "train_kernel",
        "featurizer",
        "C2STClassifier",
        "train_classifier",
        "c2st",
    ),
    "distill": (
        "DistilledSet",
        "krr_predict",
        "krr_st",
        "kip",
        "random_subset",
        "kmeans_coreset",
        "pretrain",
        "pretrain_supervised",
    ),
}

_OWNER = {name: topic for topic, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str):
    """Import a topic, or the topic that owns a public name, on first use (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _OWNER:
        value = getattr(importlib.import_module(f"{__name__}.{_OWNER[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
