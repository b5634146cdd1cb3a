"""Gaussian-process regression: f ~ GP(0, s k_RBF), x uniform on [-1, 1]^d, y = f(x) + noise.

The setting in which prior-fitted networks were first compared with an exact posterior predictive
(Mueller et al. 2022, "Transformers Can Do Bayesian Inference", Sec. 5: GP priors with an RBF
kernel, inputs uniform on a cube). The task owns its prior, :class:`GPPrior`, which both draws
the function values of every prompt and gives the exact predictive on the prefix seam
(``docs/design.md``) through :mod:`estimators.kernels` (Rasmussen & Williams 2006, Sec. 2.2):
so the data and the Bayes baseline share one kernel, one output scale and one jitter.

A function has no finite parameter vector, so a prompt's parameter is a seed: the values at the
prompt's inputs are ``f = chol(K + jitter I) z`` with ``z ~ N(0, I)`` drawn from that seed. Then
``f ~ N(0, K + jitter I)`` exactly, i.e. a GP with white noise of variance ``jitter`` on top, and
the predictive of y uses the noise variance ``noise + jitter``: the prior is exact, not approximate.

What does not live here: the linear classes (``linear``), feature-space priors (``nonlinear``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Task, float_kw, register

__all__ = ["GPPrior", "GaussianProcess", "ScaledKernel"]


class ScaledKernel:
    """``scale * base(X, Y)``: a kernel with an output scale (the GP's prior variance of f(x))."""

    def __init__(self, base: Any, scale: float):
        self.base, self.scale = base, float(scale)

    def __call__(self, X: Any, Y: Any = None) -> Any:
        return self.scale * (self.base(X) if Y is None else self.base(X, Y))

    def diag(self, X: Any) -> Any:
        return self.scale * self.base.diag(X)

    def __repr__(self) -> str:
        return f"{self.scale:g} * {self.base!r}"


class GPPrior:
    """f ~ GP(0, outputscale * exp(-||x - x'||^2 / (2 lengthscale^2))) and its exact predictive.

    Parameters
    ----------
    lengthscale : float, > 0
    outputscale : float, > 0
        Prior variance of f(x).
    jitter : float, >= 0
        Variance of the white noise that the sampler's Cholesky factor adds (module docstring);
        the predictive adds it to the observation noise.

    Examples
    --------
    >>> import numpy as np
    >>> prior = GPPrior(lengthscale=0.5)
    >>> xs = np.linspace(-1, 1, 4).reshape(1, 4, 1)
    >>> f = prior.sample_f(xs, np.array([7]))
    >>> f.shape, prior.predict_prefixes(xs, f, noise=0.1)[0, 0]
    ((1, 4), np.float64(0.0))
    """

    def __init__(self, lengthscale: float, outputscale: float = 1.0, jitter: float = 1e-6):
        from estimators.kernels import GaussianKernel

        self.lengthscale, self.outputscale, self.jitter = float(lengthscale), float(outputscale), float(jitter)
        self.kernel = ScaledKernel(GaussianKernel(self.lengthscale), self.outputscale)

    def sample_f(self, xs: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """Function values (B, n) at inputs (B, n, d): ``chol(K + jitter I) z``, z from each prompt's seed."""
        xs = np.asarray(xs, dtype=np.float64)
        K = self.kernel(xs) + self.jitter * np.eye(xs.shape[1])  # (B, n, n)
        L = np.linalg.cholesky(K)
        z = np.stack([np.random.default_rng(int(s)).standard_normal(xs.shape[1]) for s in np.asarray(seeds)])
        return np.einsum("bij,bj->bi", L, z)  # (B, n)

    def predict_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Posterior mean of y_k from the first k pairs: kernel ridge with ``lam = noise + jitter``."""
        from estimators.kernels import kernel_ridge_prefixes

        return kernel_ridge_prefixes(xs, ys, self.kernel, lam=noise + self.jitter)

    def log_predictive_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """``log p(y_k | x_k, first k pairs)`` (..., n): :func:`estimators.kernels.gp_log_predictive_prefixes`."""
        from estimators.kernels import gp_log_predictive_prefixes

        return gp_log_predictive_prefixes(xs, ys, self.kernel, noise + self.jitter)

    def predictive_moments_prefixes(self, xs: Any, ys: Any, noise: float) -> tuple:
        """Mean and variance of the predictive of y_k (each (..., n)), noise and jitter included."""
        from estimators.kernels import gp_predictive_moments_prefixes

        return gp_predictive_moments_prefixes(xs, ys, self.kernel, noise + self.jitter)

    def __repr__(self) -> str:
        return f"GPPrior(lengthscale={self.lengthscale:g}, outputscale={self.outputscale:g}, jitter={self.jitter:g})"


@register
class GaussianProcess(Task):
    """y = f(x) + noise, f ~ GP(0, outputscale k_RBF(lengthscale)), x ~ U[-1, 1]^d (Mueller et al. 2022, Sec. 5).

    Bayes predictor: the GP posterior (kernel ridge with ``lam = noise + jitter``); E[y^2] =
    outputscale + noise (+ jitter).

    Examples
    --------
    >>> task = GaussianProcess(d=2, noise=0.1)
    >>> b = task.sample(3, 5, 0)
    >>> tuple(b.xs.shape), tuple(b.ys.shape), round(task.y_second_moment, 6)
    ((3, 5, 2), (3, 5), 1.100001)
    """

    name = "gp"
    description = "Gaussian process f ~ GP(0, k_RBF), x ~ U[-1, 1]^d, the PFN setting (Mueller 2022)"

    def __init__(self, d: int, noise: float = 0.0, lengthscale: float = 0.5, outputscale: float = 1.0,
                 jitter: float = 1e-6):
        super().__init__(d, noise)
        self.prior = GPPrior(float_kw(lengthscale, "lengthscale", 0.0, strict=True),
                             float_kw(outputscale, "outputscale", 0.0, strict=True), float_kw(jitter, "jitter", 0.0))
        self.ridge_lam = self.noise  # ridge on the raw input, a generic baseline

    def sample_params(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """One seed per prompt: the function values are drawn from it at the prompt's inputs."""
        return rng.integers(0, 2**63 - 1, size=batch, dtype=np.int64)

    def sample_inputs(self, batch: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, size=(batch, n_points, self.d))

    def x_second_moment(self) -> float:
        return self.d / 3.0

    def evaluate(self, xs: np.ndarray, params: Any) -> np.ndarray:
        return self.prior.sample_f(xs, np.asarray(params))

    def f_second_moment(self) -> float:
        return self.prior.outputscale + self.prior.jitter

    def __repr__(self) -> str:
        return f"GaussianProcess(d={self.d}, noise={self.noise:g}, {self.prior!r})"
