"""Posterior records, the shared prior plumbing, and the Gaussian and Gaussian-mixture priors.

:class:`_Prior` turns the engine of :mod:`estimators.bayes._engine` into the public
methods every prior has (``predict_prefixes``, ``posterior``, and for mixture-like
priors ``weights_prefixes``; the predictive distribution's methods come from
:mod:`._predictive`): validation, flattening of leading batch axes, the compute
dtype (float64; float32 inputs are upcast and the results cast back) and chunk sizing.
The remaining priors (finite pool, sparse, sign, feature maps) live in
:mod:`estimators.bayes`, which is also the public namespace.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from . import _engine as engine
from ._predictive import PredictiveMethods
from ..validation import check_array, check_int, check_nonnegative, check_probability_vector, check_prompt, to_numpy

__all__ = ["GaussianPosterior", "MixturePosterior", "GaussianPrior", "MixturePrior"]


@dataclass(frozen=True)
class GaussianPosterior:
    """Posterior of a Gaussian prior: ``mean`` (..., d), ``cov`` (..., d, d), ``log_evidence`` (...)."""

    mean: Any
    cov: Any
    log_evidence: Any


@dataclass(frozen=True)
class MixturePosterior:
    """Posterior of a mixture-like prior.

    ``mean`` (..., d) and ``cov`` (..., d, d) of w, ``weights`` (..., C) of the components,
    ``log_evidence`` (...), and for :class:`MixturePrior` the per-component posterior
    ``component_means`` (..., C, d) and ``component_covs`` (..., C, d, d) (else ``None``).
    """

    mean: Any
    cov: Any
    weights: Any
    log_evidence: Any
    component_means: Any = None
    component_covs: Any = None


def _check_rng(rng: Any, fn: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{fn}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_memory(chunk_size: Any, memory_budget: Any, fn: str):
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", fn, minimum=1)
    return chunk_size, check_int(memory_budget, "memory_budget", fn, minimum=1)


class _Prior(PredictiveMethods, abc.ABC):
    """Plumbing shared by every prior; subclasses define ``d``, ``_chunks``, ``_m2`` and ``sample``.

    The predictive distribution (``log_predictive_prefixes``, ``predictive_moments_prefixes``)
    comes from :class:`._predictive.PredictiveMethods`.
    """

    d: int
    _kind = "gauss"  # "gauss" or "point": sizes chunks
    _k: int  # dimension of one Gaussian component (its support size)
    _mixture = True  # whether weights_prefixes / posterior weights exist
    _supports = False  # whether Gaussian components live on supports of a few coordinates (sparse)
    _rank: int  # smallest rank of a component's prior covariance (0: point masses); see _predictive
    chunk_size: int | None = None
    memory_budget: int = engine.DEFAULT_MEMORY_BUDGET

    @property
    @abc.abstractmethod
    def n_components(self) -> int:
        """Number of mixture components (1 for a Gaussian prior)."""

    @abc.abstractmethod
    def _chunks(self, size: int) -> Iterator[engine.Chunk]:
        """The prior's Gaussian components in chunks of at most ``size`` (see ``estimators.bayes._engine``)."""

    def _check_runnable(self, fn: str) -> None:
        """Hook for priors that refuse some work before allocating (sign vectors)."""

    def _prepare(self, xs, ys, noise, fn):
        xp = check_prompt(xs, ys, fn)
        if xs.shape[-1] != self.d:
            raise ValueError(
                f"{fn}: xs has {xs.shape[-1]} features but the prior is over d = {self.d} coefficients"
            )
        noise = check_nonnegative(noise, "noise", fn)
        self._check_runnable(fn)
        batch, (n, d) = tuple(xs.shape[:-2]), tuple(xs.shape[-2:])
        dt = engine.work_dtype(xp, xs)
        xw = xp.astype(xp.reshape(xs, (-1, n, d)), dt, copy=False)  # read only below: no copy when dt matches
        yw = xp.astype(xp.reshape(ys, (-1, n)), dt, copy=False)
        return xp, xw, yw, batch, noise

    def _run(self, xw, yw, noise, fn, **want):
        B, n, d = (int(s) for s in xw.shape)
        posterior = bool(want.get("want_posterior"))
        # Gaussian components on all coordinates run as batched factorizations (._responses), which
        # need no cache-sized chunks; the elementwise recursions (Kalman, point masses) do
        factored = self._kind == "gauss" and not self._supports and not posterior
        size = engine.chunk_size_for(self._kind, self.n_components, B, n, d, self._k, posterior,
                                     self.memory_budget, self.chunk_size, fn, engine.is_cpu(xw) and not factored,
                                     bool(want.get("want_predictive")))
        extra = 8 * B * self.n_components * ((n if want.get("want_weights") else 0) + (1 if posterior else 0))
        if extra > self.memory_budget:
            raise ValueError(
                f"{fn}: the posterior weights of all {self.n_components} components need "
                f"{extra / 2**20:.1f} MiB for {B} prompts x {n} points, over "
                f"memory_budget={self.memory_budget / 2**20:.1f} MiB; use predict_prefixes (which streams "
                "over components), fewer prompts, or a larger memory_budget"
            )
        return engine.run(xw, yw, noise, self._chunks(size), m2=self._m2, d_full=self.d, **want)

    def predict_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Posterior-mean prediction of y_k from the first k pairs, for every k (the seam of ``docs/design.md``).

        ``preds[..., k] = x_k^T E[w | x_{<k}, y_{<k}]``, with noise variance ``noise``
        (0 allowed; see :mod:`estimators.bayes._engine` for the floor), computed by one
        Kalman recursion per component and a logsumexp over components.

        Parameters
        ----------
        xs : array of shape (..., n, d)
        ys : array of shape (..., n)
        noise : float
            Observation noise variance sigma^2 >= 0.

        Returns
        -------
        array of shape (..., n), in the input's library, dtype and device.
        """
        fn = f"{type(self).__name__}.predict_prefixes"
        xp, xw, yw, batch, noise = self._prepare(xs, ys, noise, fn)
        pred = self._run(xw, yw, noise, fn)["pred"]
        if noise == 0 and self._rank == self.d and xw.shape[1] > self.d:
            pred = self._least_squares_tail(xp, xw, yw, pred)
        return xp.astype(xp.reshape(pred, batch + (xw.shape[1],)), xs.dtype, copy=False)

    def _least_squares_tail(self, xp, xw, yw, pred):
        """Noiseless, every component's covariance of full rank: from k = d on, the least-squares fit.

        Once the first k >= d points span R^d, the noiseless posterior of every full-rank Gaussian
        component concentrates on the least-squares solution of those points, whatever its prior
        mean and covariance (the noise -> 0 limit of ridge), so the mixture's mean is that fit.
        ``ols_prefixes`` computes it without the engine's noise floor, whose ridge bias grows as
        cond(X_d)^2 (4.7e-4 relative at k = d in 25,600 Gaussian prompts with n = 41, d = 20);
        prompts whose first d points are linearly dependent keep the engine's values.
        """
        from ..linear import ols_prefixes

        try:
            ls = ols_prefixes(xw, yw)
        except ValueError:
            return pred
        return xp.concat([pred[..., : self.d], xp.astype(ls[..., self.d:], pred.dtype)], axis=-1)

    def weights_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Posterior weight of every component given the first k pairs, for every k.

        ``weights[..., k, c] = p(c | x_{<k}, y_{<k})`` (k = 0: the prior weights),
        proportional to ``pi_c N(y_{<k}; X mu_c, X S_c X^T + sigma^2 I)``.

        Returns
        -------
        array of shape (..., n, C): non-negative, summing to one over the last axis.

        Raises
        ------
        ValueError
            If the (..., n, C) output would exceed ``memory_budget`` bytes.
        """
        fn = f"{type(self).__name__}.weights_prefixes"
        xp, xw, yw, batch, noise = self._prepare(xs, ys, noise, fn)
        out = self._run(xw, yw, noise, fn, want_weights=True)
        w = xp.exp(out["log_weights"])
        return xp.astype(xp.reshape(w, batch + tuple(w.shape[1:])), xs.dtype)

    def posterior(self, X: Any, y: Any, noise: float):
        """Posterior of w given all pairs (X, y): mean, covariance, weights and log evidence.

        The log evidence is ``log p(y | X) = log sum_c pi_c N(y; X mu_c, X S_c X^T + sigma^2 I)``.

        Parameters
        ----------
        X : array of shape (..., k, d)
        y : array of shape (..., k)
        noise : float

        Returns
        -------
        :class:`MixturePosterior` (or :class:`GaussianPosterior` for a Gaussian prior)
        """
        fn = f"{type(self).__name__}.posterior"
        xp, xw, yw, batch, noise = self._prepare(X, y, noise, fn)
        want_comp = isinstance(self, (GaussianPrior, MixturePrior))
        out = self._run(xw, yw, noise, fn, want_posterior=True, want_components=want_comp)
        d, C = self.d, self.n_components

        def back(a, tail):
            return xp.astype(xp.reshape(a, batch + tail), X.dtype)

        mean = out["mean"]
        cov = out["second"] - mean[:, :, None] * mean[:, None, :]
        if isinstance(self, GaussianPrior):
            return GaussianPosterior(back(mean, (d,)), back(out["comp_covs"][:, 0], (d, d)),
                                     back(out["log_evidence"], ()))
        comps = (back(out["comp_means"], (C, d)), back(out["comp_covs"], (C, d, d))) if want_comp else (None, None)
        return MixturePosterior(back(mean, (d,)), back(cov, (d, d)), back(xp.exp(out["final_log_weights"]), (C,)),
                                back(out["log_evidence"], ()), *comps)


def _check_gaussian(mean: Any, cov: Any, fn: str):
    mean = np.asarray(to_numpy(check_array(mean, "mean", fn, ndim=1)), dtype=float)
    cov = np.asarray(to_numpy(check_array(cov, "cov", fn, ndim=2)), dtype=float)
    d = mean.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"{fn}: cov must have shape (d, d) = ({d}, {d}) to match mean, got {cov.shape}")
    scale = max(1.0, float(np.max(np.abs(cov))))
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-10 * scale):
        raise ValueError(f"{fn}: cov must be symmetric, max |cov - cov^T| = {np.max(np.abs(cov - cov.T)):.3g}")
    cov = 0.5 * (cov + cov.T)
    eig, vec = np.linalg.eigh(cov)
    if eig[0] < -1e-10 * scale:
        raise ValueError(f"{fn}: cov must be positive semi-definite, its smallest eigenvalue is {eig[0]:.3g}")
    factor = vec * np.sqrt(np.clip(eig, 0, None))  # cov = factor factor^T
    return mean, cov, factor


class GaussianPrior(_Prior):
    """Gaussian prior ``w ~ N(mean, cov)``; ``cov`` may be singular (zero-variance directions).

    The posterior is Gaussian: ``m = mu + S X^T (X S X^T + sigma^2 I)^{-1} (y - X mu)``,
    ``S_post = S - S X^T (X S X^T + sigma^2 I)^{-1} X S``, log evidence
    ``log N(y; X mu, X S X^T + sigma^2 I)`` (Rasmussen & Williams 2006, eq. 2.30). With ``mean = 0`` and
    ``cov = tau^2 I`` the posterior mean is ridge with ``lam = sigma^2 / tau^2``
    (Akyurek et al. 2023, section 3); with ``noise = 0`` and ``cov = I`` it is min-norm
    least squares (Garg et al. 2022).

    Parameters
    ----------
    mean : array of shape (d,)
    cov : array of shape (d, d), symmetric positive semi-definite

    Notes
    -----
    ``noise = 0`` is the limit sigma^2 -> 0 of the posterior mean (the engine's relative floor,
    :mod:`estimators.bayes._engine`, stands in for sigma^2), and it is defined on any data: on data
    that some w in the prior's support fits it interpolates; on data that none fits (n > rank, random
    y) it is least squares in the prior's metric, ``mu + F (X F)^+ (y - X mu)`` with ``cov = F F^T``
    (for ``N(0, I)``: :func:`estimators.ols_prefixes`, to 1e-7 relative except near k = d where the
    floor's ridge bias leaves up to 1e-5). ``predict_prefixes`` and the predictive moments compute it
    from Cholesky factors of the responses (:mod:`estimators.bayes._responses`); ``posterior``, which
    needs the state, runs the Kalman recursion, which loses this limit on inconsistent data (it
    subtracts nearly equal numbers); use ``noise > 0`` there.

    References
    ----------
    Garg et al. 2022, section 3 (least squares as the noiseless Bayes predictor); Akyurek et al. 2023,
    section 3 (ridge with lam = sigma^2 / tau^2); Rasmussen & Williams 2006, section 2.1 (the sequential, Kalman form).

    Examples
    --------
    >>> import numpy as np
    >>> prior = GaussianPrior.isotropic(2, 1.0)
    >>> xs = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]); ys = np.array([[2.0, -1.0, 1.0]])
    >>> prior.predict_prefixes(xs, ys, noise=1.0)
    array([[0. , 0. , 0.5]])
    """

    _mixture = False

    def __init__(self, mean: Any, cov: Any):
        self.mean, self.cov, self._factor = _check_gaussian(mean, cov, "GaussianPrior")
        self.d = self._k = int(self.mean.shape[0])
        self._rank = int(np.linalg.matrix_rank(self.cov, hermitian=True))
        self._m2 = float(np.trace(self.cov) + self.mean @ self.mean) / self.d

    @classmethod
    def isotropic(cls, d: int, scale2: float = 1.0) -> "GaussianPrior":
        """``N(0, scale2 I_d)``."""
        d = check_int(d, "d", "GaussianPrior.isotropic", minimum=1)
        scale2 = check_nonnegative(scale2, "scale2", "GaussianPrior.isotropic")
        return cls(np.zeros(d), scale2 * np.eye(d))

    @property
    def n_components(self) -> int:
        return 1

    def _chunks(self, size):
        yield engine.Chunk(np.zeros(1), mean=self.mean[None], cov=self.cov[None])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of w, shape (n, d), float64."""
        n = check_int(n, "n", "GaussianPrior.sample", minimum=0)
        z = _check_rng(rng, "GaussianPrior.sample").standard_normal((n, self.d))
        return self.mean + z @ self._factor.T

    def weights_prefixes(self, xs, ys, noise):
        raise TypeError("GaussianPrior.weights_prefixes: a Gaussian prior has one component; use MixturePrior")

    def __repr__(self):
        return f"GaussianPrior(d={self.d})"


class MixturePrior(_Prior):
    """Gaussian mixture prior ``w ~ sum_c pi_c N(mu_c, S_c)`` (Bayesian model averaging).

    The posterior is a mixture with weights ``beta_c ∝ pi_c N(y; X mu_c, X S_c X^T + sigma^2 I)``
    and mean ``sum_c beta_c m_c`` (Panwar et al. 2024, section 4,
    Gaussian-mixture tasks; Zhang et al. 2023 on ICL as BMA).

    Parameters
    ----------
    components : list of GaussianPrior, all of the same d
    weights : array of shape (C,), non-negative, summing to one
    chunk_size, memory_budget : optional, components per chunk and bytes per call

    References
    ----------
    Panwar et al. 2024, In-context learning through the Bayesian prism, section 4 (Gaussian-mixture
    tasks); Zhang et al. 2023, What and how does in-context learning learn (BMA).

    Examples
    --------
    >>> import numpy as np
    >>> comps = [GaussianPrior(np.array([m]), np.eye(1)) for m in (-3.0, 3.0)]
    >>> prior = MixturePrior(comps, [0.5, 0.5])
    >>> xs = np.ones((1, 2, 1)); ys = np.array([[6.0, 6.0]])
    >>> prior.weights_prefixes(xs, ys, noise=1.0).round(4)
    array([[[0.5, 0.5],
            [0. , 1. ]]])
    """

    def __init__(self, components: list, weights: Any, *, chunk_size: int | None = None,
                 memory_budget: int = engine.DEFAULT_MEMORY_BUDGET):
        fn = "MixturePrior"
        components = list(components)
        if not components or not all(isinstance(c, GaussianPrior) for c in components):
            raise TypeError(f"{fn}: components must be a non-empty list of GaussianPrior")
        d = components[0].d
        if any(c.d != d for c in components):
            raise ValueError(f"{fn}: components disagree on d: {[c.d for c in components]}")
        self.weights = check_probability_vector(weights, "weights", fn)
        if self.weights.shape[0] != len(components):
            raise ValueError(f"{fn}: got {len(components)} components but {self.weights.shape[0]} weights")
        self.components, self.d, self._k = components, d, d
        self._rank = min(c._rank for c, p in zip(components, self.weights) if p > 0)
        self.chunk_size, self.memory_budget = _check_memory(chunk_size, memory_budget, fn)
        self._means = np.stack([c.mean for c in components])
        self._covs = np.stack([c.cov for c in components])
        self._m2 = float(np.dot(self.weights, [c._m2 for c in components]))
        with np.errstate(divide="ignore"):
            self._log_w = np.log(self.weights)

    @property
    def n_components(self) -> int:
        return len(self.components)

    def _chunks(self, size):
        for a in range(0, self.n_components, size):
            yield engine.Chunk(self._log_w[a:a + size], mean=self._means[a:a + size], cov=self._covs[a:a + size])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of w, shape (n, d): pick a component by ``weights``, then draw from it."""
        n = check_int(n, "n", "MixturePrior.sample", minimum=0)
        rng = _check_rng(rng, "MixturePrior.sample")
        which = rng.choice(self.n_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.d))
        factors = np.stack([c._factor for c in self.components])
        return self._means[which] + np.einsum("nij,nj->ni", factors[which], z)

    def __repr__(self):
        return f"MixturePrior(d={self.d}, n_components={self.n_components})"

