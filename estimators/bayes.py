"""Exact Bayes predictors: priors over regression functions, their posteriors and all-prefix predictions.

Every prior has ``d``, ``sample(n, rng)`` (numpy float64 (n, d)), ``posterior(X, y, noise)``,
``predict_prefixes(xs, ys, noise)`` (the DESIGN.md seam, batched over prompts) and, for
mixture-like priors, ``n_components`` and ``weights_prefixes(xs, ys, noise)`` (..., n, C).
Observation noise is Gaussian with variance ``noise`` (0 allowed).

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

All priors run through one engine (:mod:`estimators._bayes_engine`): O(n k^2) per prompt
and component, chunked over components with a running logsumexp so that memory stays
below ``memory_budget`` bytes. Compute dtype: float64 (float32 inputs are upcast and the
results cast back; jax without x64 computes in float32). What does not live here: point
estimators (:mod:`estimators.linear`, :mod:`estimators.sparse`), kernels and GPs
(:mod:`estimators.kernels`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Callable

import array_api_compat
import numpy as np

from . import _bayes_engine as engine
from .validation import check_array, check_int, check_positive, check_prompt, namespace, to_numpy
from ._bayes_base import GaussianPosterior, GaussianPrior, MixturePosterior, MixturePrior, _check_memory, _check_rng
from ._bayes_base import _Prior

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

_DEFAULT = engine.DEFAULT_MEMORY_BUDGET


class FinitePrior(_Prior):
    """Uniform prior on a finite pool of tasks ``{w_1, ..., w_M}`` (point masses).

    The posterior weights are ``beta_m ∝ exp(-||y - X w_m||^2 / (2 sigma^2))`` and the
    prediction ``x^T sum_m beta_m w_m`` is the dMMSE estimator of Raventos et al. 2023
    (section 2); with no context it is ``x^T mean(w)``.

    Parameters
    ----------
    pool : array of shape (M, d)
    chunk_size, memory_budget : optional, tasks per chunk and bytes per call

    References
    ----------
    Raventos et al. 2023, Pretraining task diversity and the emergence of non-Bayesian in-context
    learning for regression, section 2 (dMMSE).

    Examples
    --------
    >>> import numpy as np
    >>> prior = FinitePrior(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> xs = np.array([[[1.0, 0.0], [1.0, 1.0]]]); ys = np.array([[1.0, 1.0]])
    >>> prior.predict_prefixes(xs, ys, noise=0.0)
    array([[0.5, 1. ]])
    """

    _kind = "point"

    def __init__(self, pool: Any, *, chunk_size: int | None = None, memory_budget: int = _DEFAULT):
        fn = "FinitePrior"
        self.pool = np.asarray(to_numpy(check_array(pool, "pool", fn, ndim=2)), dtype=float)
        self.d, self._k = int(self.pool.shape[1]), 0
        self.chunk_size, self.memory_budget = _check_memory(chunk_size, memory_budget, fn)
        self._m2 = float(np.mean(np.sum(self.pool**2, axis=1))) / self.d

    @property
    def n_components(self) -> int:
        return int(self.pool.shape[0])

    def _chunks(self, size):
        lp = np.full(self.n_components, -math.log(self.n_components))
        for a in range(0, self.n_components, size):
            yield engine.Chunk(lp[a:a + size], points=self.pool[a:a + size])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` tasks drawn uniformly with replacement from the pool, shape (n, d)."""
        n = check_int(n, "n", "FinitePrior.sample", minimum=0)
        return self.pool[_check_rng(rng, "FinitePrior.sample").integers(self.n_components, size=n)].copy()

    def __repr__(self):
        return f"FinitePrior(M={self.n_components}, d={self.d})"


class SparsePrior(_Prior):
    """k-sparse prior: support uniform over the C(d, k) subsets, nonzeros ``N(0, scale^2)``.

    A mixture of C(d, k) Gaussians, each living on its k coordinates; every component
    runs a k-dimensional Kalman filter (Garg et al. 2022, section 4 sparse linear
    functions; Panwar et al. 2024, section 3). Component ``c`` is the c-th support of
    ``itertools.combinations(range(d), k)``, listed by :attr:`supports`.

    References
    ----------
    Garg et al. 2022, What can transformers learn in-context?, section 4 (sparse linear functions);
    Panwar et al. 2024, section 3.

    Examples
    --------
    >>> import numpy as np
    >>> prior = SparsePrior(2, 1)
    >>> xs = np.array([[[1.0, 1.0], [1.0, 0.0]]]); ys = np.array([[2.0, 0.0]])
    >>> prior.weights_prefixes(xs, ys, noise=0.01).round(3)
    array([[[0.5, 0.5],
            [0.5, 0.5]]])
    """

    def __init__(self, d: int, k: int, scale: float = 1.0, *, chunk_size: int | None = None,
                 memory_budget: int = _DEFAULT):
        fn = "SparsePrior"
        self.d = check_int(d, "d", fn, minimum=1)
        self.k = self._k = check_int(k, "k", fn, minimum=1)
        if self.k > self.d:
            raise ValueError(f"{fn}: k must be <= d, got k = {self.k} > d = {self.d}")
        self.scale = check_positive(scale, "scale", fn)
        self.chunk_size, self.memory_budget = _check_memory(chunk_size, memory_budget, fn)
        self._m2 = self.k * self.scale**2 / self.d

    @property
    def n_components(self) -> int:
        return math.comb(self.d, self.k)

    @property
    def supports(self) -> np.ndarray:
        """The supports, (C, k) integers, in the order of the components."""
        return np.array(list(itertools.combinations(range(self.d), self.k)), dtype=np.int64)

    def _chunks(self, size):
        lp, combos = -math.log(self.n_components), itertools.combinations(range(self.d), self.k)
        while True:
            sup = np.array(list(itertools.islice(combos, size)), dtype=np.int64)
            if sup.size == 0:
                return
            C = sup.shape[0]
            cov = np.repeat(self.scale**2 * np.eye(self.k)[None], C, axis=0)
            yield engine.Chunk(np.full(C, lp), mean=np.zeros((C, self.k)), cov=cov, support=sup)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` k-sparse vectors, shape (n, d)."""
        n = check_int(n, "n", "SparsePrior.sample", minimum=0)
        rng = _check_rng(rng, "SparsePrior.sample")
        support = np.argsort(rng.random((n, self.d)), axis=1)[:, : self.k]
        w = np.zeros((n, self.d))
        np.put_along_axis(w, support, self.scale * rng.standard_normal((n, self.k)), axis=1)
        return w

    def __repr__(self):
        return f"SparsePrior(d={self.d}, k={self.k}, scale={self.scale})"


class SignPrior(_Prior):
    """Uniform prior on scaled sign vectors ``w = scale * s``, ``s in {-1, +1}^d``.

    A mixture of 2^d point masses, enumerated in chunks (Panwar et al. 2024, section 3;
    their task uses ``scale = 1/sqrt(d)``). Component ``c`` has ``s_j = +1`` where bit j
    of c is 0 and ``-1`` where it is 1 (:meth:`vectors`). d = 20 (10^6 components) is GPU
    work for large batches; ``predict_prefixes`` streams over components, while
    ``weights_prefixes`` / ``posterior`` refuse with a ValueError, before allocating,
    when their (..., C) outputs exceed ``memory_budget``. More than ``max_components``
    components (default 2^24) are refused outright.

    References
    ----------
    Panwar et al. 2024, In-context learning through the Bayesian prism, section 3 (sign-vector regression).

    Examples
    --------
    >>> import numpy as np
    >>> prior = SignPrior(2, 1.0)
    >>> xs = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]); ys = np.array([[-1.0, 1.0, 0.0]])
    >>> prior.predict_prefixes(xs, ys, noise=0.0)
    array([[0., 0., 0.]])
    """

    _kind = "point"

    def __init__(self, d: int, scale: float = 1.0, *, chunk_size: int | None = None,
                 memory_budget: int = _DEFAULT, max_components: int = 2**24):
        fn = "SignPrior"
        self.d = check_int(d, "d", fn, minimum=1)
        self.scale = check_positive(scale, "scale", fn)
        self.chunk_size, self.memory_budget = _check_memory(chunk_size, memory_budget, fn)
        self.max_components = check_int(max_components, "max_components", fn, minimum=1)
        self._k, self._m2 = 0, self.scale**2

    @property
    def n_components(self) -> int:
        return 2**self.d

    def vectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Sign vectors ``scale * s`` of components ``start .. stop - 1``, shape (stop - start, d)."""
        stop = self.n_components if stop is None else stop
        c = np.arange(start, stop, dtype=np.int64)
        bits = (c[:, None] >> np.arange(self.d, dtype=np.int64)[None, :]) & 1
        return self.scale * (1.0 - 2.0 * bits)

    def _check_runnable(self, fn):
        if self.n_components > self.max_components:
            raise ValueError(
                f"{fn}: exact enumeration of 2^{self.d} = {self.n_components} sign vectors exceeds "
                f"max_components = {self.max_components}; use a smaller d or raise max_components"
            )

    def _chunks(self, size):
        lp = -self.d * math.log(2.0)
        for a in range(0, self.n_components, size):
            P = self.vectors(a, min(a + size, self.n_components))
            yield engine.Chunk(np.full(P.shape[0], lp), points=P)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` scaled sign vectors, shape (n, d)."""
        n = check_int(n, "n", "SignPrior.sample", minimum=0)
        s = _check_rng(rng, "SignPrior.sample").integers(0, 2, size=(n, self.d))
        return self.scale * (2.0 * s - 1.0)

    def __repr__(self):
        return f"SignPrior(d={self.d}, scale={self.scale})"


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

    ``predict_prefixes(xs, ys, noise)`` maps the inputs through ``phi`` and applies the
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
