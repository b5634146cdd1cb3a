"""Kernels and the methods built on one kernel matrix: kernel ridge regression and GP regression.

Kernel objects (:mod:`._functions`) are small frozen callables ``k(X, Y) -> K`` on numpy, torch or
jax arrays, shared with the MMD tests (:mod:`estimators.mmd`) and KRR-ST (:mod:`estimators.distill`).
Kernel ridge (:mod:`._ridge`): ``alpha = (K + lam I)^{-1} y``, ``f(x) = k(x, X) alpha`` (Saunders,
Gammerman & Vovk 1998), fitted for one prompt or for every prefix of a prompt. GP regression
(:mod:`._gp`): the posterior mean equals kernel ridge with ``lam = noise_var``, and the posterior
predictive of every prefix comes from the same factor (Rasmussen & Williams 2006, section 2.2).
"""

from ._functions import (
    FeatureKernel,
    FourierKernel,
    GaussianKernel,
    LaplaceKernel,
    LinearKernel,
    PeriodicKernel,
    PolynomialKernel,
    median_heuristic,
    squared_distances,
)
from ._gp import (
    GPPosterior,
    gp_log_marginal_likelihood,
    gp_log_predictive_prefixes,
    gp_posterior,
    gp_predictive_moments_prefixes,
)
from ._ridge import KernelRidgeParams, kernel_ridge_fit, kernel_ridge_predict, kernel_ridge_prefixes

__all__ = [
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
]
