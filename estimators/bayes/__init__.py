"""Exact Bayes predictors: priors over regression functions, their posteriors and all-prefix predictions.

Every prior has ``d``, ``sample(n, rng)`` (numpy float64 (n, d)), ``posterior(X, y, noise)``,
``predict_prefixes(xs, ys, noise)`` (the seam of ``docs/design.md``, batched over prompts), the
posterior predictive of every prefix, ``log_predictive_prefixes(xs, ys, noise)`` (..., n) and
``predictive_moments_prefixes(xs, ys, noise)`` (mean, variance), and, for mixture-like priors,
``n_components`` and ``weights_prefixes(xs, ys, noise)`` (..., n, C).
Observation noise is Gaussian with variance ``noise`` (0 allowed; the log predictive density with
``noise = 0`` exists only before the task is identified, see ``log_predictive_prefixes``).

==========================  =========================================  ==========================
prior                       exact predictor                            source
==========================  =========================================  ==========================
GaussianPrior(mean, cov)    Kalman filter (ridge for N(0, tau^2 I))    Akyurek et al. 2023; Garg 2022
MixturePrior(comps, pi)     BMA over per-component Kalman filters       Panwar et al. 2024
FinitePrior(pool)           dMMSE: softmax(-||y - X w_m||^2 / 2s^2)     Raventos et al. 2023
SparsePrior(d, k, scale)    BMA over all C(d, k) supports              Garg 2022; Panwar 2024
SignPrior(d, scale)         BMA over all 2^d sign vectors (chunked)    Panwar et al. 2024
FeaturePrior(phi, prior)    the coefficient prior on features phi(x)   Panwar et al. 2024 (Fourier)
==========================  =========================================  ==========================

All priors run through one engine (:mod:`._engine`): Gaussian components on all coordinates
from Cholesky factors of the responses' covariance (:mod:`._responses`, three factors of size
<= max(r, n - r) per prompt and component, shared by components with equal covariances), the
others by an O(n k^2) Kalman recursion or, for point masses, residual sums; chunked over
components with a running logsumexp so that memory stays below ``memory_budget`` bytes. Compute dtype: float64 (float32 inputs are upcast and the
results cast back; jax without x64 computes in float32). What does not live here: point
estimators (:mod:`estimators.linear`, :mod:`estimators.sparse`), kernels and GPs
(:mod:`estimators.kernels`).

Files: :mod:`._gaussian` (the shared prior plumbing, Gaussian and mixture priors),
:mod:`._discrete` (finite pools, sparse supports, sign vectors), :mod:`._features` (feature
maps, Fourier series), :mod:`._predictive` (the predictive distribution's methods),
:mod:`._engine` (the chunk loop and the Kalman recursion), :mod:`._responses` (the factored
Gaussian prefixes) and :mod:`._fold` (the running logsumexp folds of chunks).
"""

from ._discrete import FinitePrior, SignPrior, SparsePrior
from ._features import FeaturePrior, FourierFeatures, fourier_mixture_prior
from ._gaussian import GaussianPosterior, GaussianPrior, MixturePosterior, MixturePrior

__all__ = [
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
]
