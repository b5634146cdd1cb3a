"""Gaussian priors on feature maps: Fourier features, feature priors and the Fourier-series mixture.

A function ``f(x) = phi(x)^T w`` with ``w`` drawn from a Gaussian (or a mixture of Gaussians) is a
linear model in the features, so its exact posterior is the Gaussian machinery of
:mod:`estimators.bayes._gaussian` applied to ``phi(xs)`` (Rasmussen & Williams 2006, section 2.1).
The Fourier-series task follows Panwar et al. 2024, section 5.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import array_api_compat
import numpy as np

from ..validation import check_array, check_int, check_nonnegative, check_positive, check_prompt, namespace
from . import _engine as engine
from ._gaussian import GaussianPrior, MixturePrior, _Prior
from ._predictive import refuse_point_masses

__all__ = ["FourierFeatures", "FeaturePrior", "fourier_mixture_prior"]


class FourierFeatures:
    """Fourier feature map on [-L, L]: ``phi(x) = [1, cos(pi j x / L), sin(pi j x / L)]``, j = 1..N.

    Inputs (..., n, 1), features (..., n, 2N + 1) in the order constant, cos_1..cos_N,
    sin_1..sin_N, in the input's library, dtype and device (Panwar et al. 2024, section 5,
    Fourier series with ``L`` the half period).

    Examples
    --------
    >>> import numpy as np
    >>> FourierFeatures(1, 1.0)(np.array([[0.5]])).round(6)
    array([[1., 0., 1.]])
    """

    def __init__(self, max_freq: int, period_length: float = 1.0):
        self.max_freq = check_int(max_freq, "max_freq", "FourierFeatures", minimum=1)
        self.period_length = check_positive(period_length, "period_length", "FourierFeatures")
        self.input_dim, self.n_features = 1, 2 * self.max_freq + 1

    def __call__(self, x: Any) -> Any:
        xp = namespace(x, fn="FourierFeatures")
        check_array(x, "x", "FourierFeatures", min_ndim=1)
        if x.shape[-1] != 1:
            raise ValueError(f"FourierFeatures: x must have a last axis of size 1, got shape {tuple(x.shape)}")
        j = xp.arange(1, self.max_freq + 1, dtype=x.dtype, device=array_api_compat.device(x))
        angle = (math.pi / self.period_length) * x * j  # (..., n, N)
        return xp.concat([xp.ones_like(x), xp.cos(angle), xp.sin(angle)], axis=-1)

    def __repr__(self):
        return f"FourierFeatures(max_freq={self.max_freq}, period_length={self.period_length})"


class FeaturePrior:
    """Prior on functions ``f(x) = phi(x)^T a`` with a Gaussian or mixture prior on the coefficients a.

    ``predict_prefixes(xs, ys, noise)`` (and ``log_predictive_prefixes``,
    ``predictive_moments_prefixes``) maps the inputs through ``phi`` and applies the
    coefficient prior's exact predictor (Panwar et al. 2024, section 5). ``d`` is the
    number of coefficients D (``sample`` draws coefficient vectors (n, D));
    ``input_dim`` is the input dimension p when the map declares it.

    Parameters
    ----------
    feature_map : callable mapping (..., n, p) to (..., n, D) in the same library
    prior : GaussianPrior or MixturePrior (or any prior of this module) over R^D

    References
    ----------
    Panwar et al. 2024, section 5 (Fourier series and the simplicity bias).

    Examples
    --------
    >>> import numpy as np
    >>> prior = fourier_mixture_prior(2, period_length=1.0)
    >>> prior.n_components, prior.d
    (2, 5)
    """

    def __init__(self, feature_map: Callable, prior: Any):
        if not callable(feature_map):
            raise TypeError(f"FeaturePrior: feature_map must be callable, got {type(feature_map).__name__}")
        if not isinstance(prior, _Prior):
            raise TypeError(f"FeaturePrior: prior must be a prior of estimators.bayes, got {type(prior).__name__}")
        n_features = getattr(feature_map, "n_features", None)
        if n_features is not None and n_features != prior.d:
            raise ValueError(f"FeaturePrior: feature_map gives {n_features} features but the prior has d = {prior.d}")
        self.feature_map, self.prior, self.d = feature_map, prior, prior.d
        self.input_dim = getattr(feature_map, "input_dim", None)

    @property
    def n_components(self) -> int:
        return self.prior.n_components

    def features(self, xs: Any, fn: str = "FeaturePrior") -> Any:
        """``phi(xs)``, checked to have D = ``d`` features in the input's library."""
        feats = self.feature_map(xs)
        namespace(xs, feats, fn=fn)
        if feats.ndim != xs.ndim or tuple(feats.shape[:-1]) != tuple(xs.shape[:-1]) or feats.shape[-1] != self.d:
            raise ValueError(f"{fn}: feature_map must map (..., n, p) to (..., n, {self.d}), got {tuple(feats.shape)}")
        return feats

    def evaluate(self, xs: Any, coefs: Any) -> Any:
        """Function values ``phi(xs) a``: xs (..., n, p), coefs (..., D) -> (..., n)."""
        xp = namespace(xs, coefs, fn="FeaturePrior.evaluate")
        return xp.sum(self.features(xs, "FeaturePrior.evaluate") * coefs[..., None, :], axis=-1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` coefficient vectors drawn from the coefficient prior, shape (n, D)."""
        return self.prior.sample(n, rng)

    def _mapped(self, xs, ys, fn):
        """Features and targets in the compute dtype: float32 inputs are upcast *before* the
        feature map, so features such as cos(pi j x / L) carry no float32 rounding of their own."""
        xp = check_prompt(xs, ys, fn)
        dt = engine.work_dtype(xp, xs)
        return self.features(xp.astype(xs, dt), fn), xp.astype(ys, dt), xp

    def predict_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Posterior-mean predictions for every prefix, (..., n); see :meth:`GaussianPrior.predict_prefixes`."""
        feats, yw, xp = self._mapped(xs, ys, "FeaturePrior.predict_prefixes")
        return xp.astype(self.prior.predict_prefixes(feats, yw, noise), xs.dtype)

    def log_predictive_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """``log p(y_k | x_k, first k pairs)`` for every k, (..., n): the coefficient prior's predictive on ``phi(x)``.

        ``log sum_c pi_c(D_k) N(y_k; phi(x_k)^T mu_c, sigma^2 + phi(x_k)^T S_c phi(x_k))`` with the
        coefficient posterior ``N(mu_c, S_c)`` of each component; see
        :meth:`GaussianPrior.log_predictive_prefixes` (also for ``noise = 0``). For a Gaussian
        coefficient prior ``N(0, diag(s))`` this is the GP predictive of the kernel
        ``k(x, x') = sum_j s_j phi_j(x) phi_j(x')`` (:func:`estimators.kernels.gp_log_predictive_prefixes`).
        """
        feats, yw, xp = self._mapped(xs, ys, "FeaturePrior.log_predictive_prefixes")
        noise = check_nonnegative(noise, "noise", "FeaturePrior.log_predictive_prefixes")
        refuse_point_masses(self.prior, int(feats.shape[-2]), noise, "FeaturePrior.log_predictive_prefixes")
        return xp.astype(self.prior.log_predictive_prefixes(feats, yw, noise), xs.dtype)

    def predictive_moments_prefixes(self, xs: Any, ys: Any, noise: float) -> tuple:
        """Mean and variance of the predictive of y_k for every k, each (..., n); see
        :meth:`GaussianPrior.predictive_moments_prefixes` (the mean is :meth:`predict_prefixes`)."""
        feats, yw, xp = self._mapped(xs, ys, "FeaturePrior.predictive_moments_prefixes")
        return tuple(xp.astype(a, xs.dtype) for a in self.prior.predictive_moments_prefixes(feats, yw, noise))

    def weights_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Posterior component weights for every prefix, (..., n, C), of a mixture coefficient prior."""
        feats, yw, xp = self._mapped(xs, ys, "FeaturePrior.weights_prefixes")
        return xp.astype(self.prior.weights_prefixes(feats, yw, noise), xs.dtype)

    def posterior(self, X: Any, y: Any, noise: float):
        """Posterior of the coefficients a given inputs X (..., k, p) and values y (..., k)."""
        feats, yw, xp = self._mapped(X, y, "FeaturePrior.posterior")
        post = self.prior.posterior(feats, yw, noise)
        return dataclasses.replace(post, **{f.name: xp.astype(getattr(post, f.name), X.dtype)
                                            for f in dataclasses.fields(post) if getattr(post, f.name) is not None})

    def __repr__(self):
        return f"FeaturePrior({self.feature_map!r}, {self.prior!r})"


def fourier_mixture_prior(max_freq: int, period_length: float = 1.0, scale: float = 1.0,
                          weights: Any = None) -> FeaturePrior:
    """Panwar et al.'s Fourier simplicity-bias prior: a random maximum frequency N, then coefficients.

    ``N ~ weights`` over 1..``max_freq`` (uniform by default); given N the coefficients of
    the constant and of cos/sin up to frequency N are ``N(0, scale^2)`` and those above N are
    0 (zero-variance directions). The exact predictor is BMA over N (Panwar et al. 2024,
    section 5); ``weights_prefixes`` gives the posterior over N (component N - 1).

    References
    ----------
    Panwar et al. 2024, In-context learning through the Bayesian prism, section 5.

    Examples
    --------
    >>> prior = fourier_mixture_prior(3, period_length=5.0)
    >>> [round(float(c.cov.trace())) for c in prior.prior.components]
    [3, 5, 7]
    """
    feats = FourierFeatures(max_freq, period_length)
    scale = check_positive(scale, "scale", "fourier_mixture_prior")
    comps = []
    for N in range(1, feats.max_freq + 1):
        j = np.arange(1, feats.max_freq + 1)
        var = np.concatenate([[1.0], j <= N, j <= N]).astype(float) * scale**2
        comps.append(GaussianPrior(np.zeros(feats.n_features), np.diag(var)))
    if weights is None:
        weights = np.full(feats.max_freq, 1.0 / feats.max_freq)
    return FeaturePrior(feats, MixturePrior(comps, weights))
