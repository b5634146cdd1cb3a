"""Linear function classes y = x^T w (+ noise) with x ~ N(0, I_d), one prior over w each.

Dense (Garg et al. 2022; Akyurek et al. 2023; Raventos et al. 2023), k-sparse (Garg), sign
vectors, rank-one matrices and a two-component Gaussian mixture (Panwar et al. 2024), a finite
pool of M tasks (Raventos et al. 2023; Kirsch et al. 2022), and mixtures of these classes
(Panwar). Every class with an exact prior draws w through that ``estimators.bayes`` object, so
the data and the Bayes baseline share one set of numbers (``docs/design.md``, data flow).

Because x ~ N(0, I_d) is independent of w, E[y^2] = E||w||^2 + sigma^2 for all of them.
What does not live here: nonlinear classes (``nonlinear``) and classification (``classification``).
"""

from __future__ import annotations

import abc
import math
from functools import partial
from typing import Callable

import numpy as np

from icl.errors import ConfigError

from ._base import Task, float_kw, int_kw, register

__all__ = [
    "LinearTask",
    "LinearRegression",
    "SparseLinear",
    "SignVector",
    "LowRank",
    "GaussianMixtureTasks",
    "FinitePool",
    "TaskMixture",
    "POOL_DOMAIN",
]

POOL_DOMAIN = 0x706F  # "po": first entropy word of the seed of a finite task pool


class LinearTask(Task):
    """Base of the classes y = x^T w: evaluation, E[y^2] and the linear baselines."""

    def evaluate(self, xs: np.ndarray, params: np.ndarray) -> np.ndarray:
        return np.einsum("bnd,bd->bn", xs, params)  # (B, n)

    @abc.abstractmethod
    def w_second_moment(self) -> float:
        """E||w||^2 under the prior."""

    def f_second_moment(self) -> float:
        return self.w_second_moment()


@register
class LinearRegression(LinearTask):
    """Dense linear regression, w ~ N(0, scale^2 I_d) (Garg et al. 2022; with noise: Raventos et al. 2023).

    Bayes predictor: ridge with lam = sigma^2 / scale^2 (min-norm OLS when noiseless).

    Examples
    --------
    >>> import numpy as np
    >>> task = LinearRegression(d=3)
    >>> b = task.sample(2, 4, np.random.default_rng(0))
    >>> tuple(b.xs.shape), tuple(b.ys.shape), task.y_second_moment
    ((2, 4, 3), (2, 4), 3.0)
    """

    name = "linear"
    description = "dense linear regression, w ~ N(0, scale^2 I), y = x^T w + noise (Garg 2022, Raventos 2023)"

    def __init__(self, d: int, noise: float = 0.0, scale: float = 1.0):
        super().__init__(d, noise)
        from estimators.bayes import GaussianPrior

        self.scale = float_kw(scale, "scale", 0.0, strict=True)
        self.prior = GaussianPrior.isotropic(self.d, self.scale**2)
        self.ridge_lam = self.noise / self.scale**2

    def w_second_moment(self) -> float:
        return self.d * self.scale**2


@register
class SparseLinear(LinearTask):
    """k-sparse linear regression: a uniform support of k coordinates, w_S ~ N(0, scale^2 I_k) (Garg et al. 2022).

    Bayes predictor: the mixture over the C(d, k) supports; lasso is the classical baseline.
    """

    name = "sparse-linear"
    description = "k-sparse linear regression, k of d coordinates ~ N(0, scale^2) (Garg 2022)"

    def __init__(self, d: int, noise: float = 0.0, k: int = 3, scale: float = 1.0, lasso_alpha: float = 0.01):
        super().__init__(d, noise)
        from estimators.bayes import SparsePrior

        self.k = int_kw(k, "k", 1)
        if self.k > self.d:
            raise ConfigError(f"task.kwargs.k: must be <= task.d={self.d}, got {self.k}")
        self.scale = float_kw(scale, "scale", 0.0, strict=True)
        self.lasso_alpha = float_kw(lasso_alpha, "lasso_alpha", 0.0, strict=True)
        self.prior = SparsePrior(self.d, self.k, self.scale)
        self.ridge_lam = self.noise * self.d / (self.k * self.scale**2)  # matches the marginal variance k/d

    def w_second_moment(self) -> float:
        return self.k * self.scale**2

    def baselines(self) -> dict[str, Callable]:
        from estimators import sparse

        out = super().baselines()
        out["lasso"] = partial(sparse.lasso_prefixes, alpha=self.lasso_alpha)
        return out


@register
class SignVector(LinearTask):
    """w uniform on {-1, +1}^d times ``scale`` (default 1/sqrt(d), so E[y^2] = 1) (Panwar et al. 2024)."""

    name = "sign-vector"
    description = "w uniform on {-1,+1}^d scaled by 1/sqrt(d) (Panwar 2024)"

    def __init__(self, d: int, noise: float = 0.0, scale: float | None = None):
        super().__init__(d, noise)
        from estimators.bayes import SignPrior

        self.scale = 1.0 / math.sqrt(self.d) if scale is None else float_kw(scale, "scale", 0.0, strict=True)
        self.prior = SignPrior(self.d, self.scale)
        self.ridge_lam = self.noise / self.scale**2

    def w_second_moment(self) -> float:
        return self.d * self.scale**2


@register
class LowRank(LinearTask):
    """w = vec(B^T B) * c with B (r x m) ~ N(0, 1), d = m^2 (Panwar et al. 2024; rank 1 by default).

    ``c = sqrt(m / (r (r + m + 1)))`` makes E||w||^2 = m^2 = d (a Wishart moment:
    E tr(W^2) = r m (r + m + 1) for W = B^T B), the dense task's scale. No exact prior is
    implemented (w is not Gaussian), so there is no "bayes" baseline.
    """

    name = "low-rank"
    description = "w = vec(B^T B), B of rank r (default 1), d = m^2, E||w||^2 = d (Panwar 2024)"

    def __init__(self, d: int, noise: float = 0.0, rank: int = 1):
        super().__init__(d, noise)
        self.m = int(round(math.sqrt(self.d)))
        if self.m * self.m != self.d:
            raise ConfigError(f"task.d: low-rank needs a square d = m^2 (4, 9, 16, 25, ...), got {self.d}")
        self.rank = int_kw(rank, "rank", 1)
        self.ridge_lam = self.noise

    def sample_params(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        B = rng.standard_normal((batch, self.rank, self.m))  # (batch, r, m)
        W = np.einsum("bri,brj->bij", B, B) * math.sqrt(self.m / (self.rank * (self.rank + self.m + 1)))
        return W.reshape(batch, self.d)

    def w_second_moment(self) -> float:
        return float(self.d)


@register
class GaussianMixtureTasks(LinearTask):
    """w ~ 1/2 N(+mu, I) + 1/2 N(-mu, I) with mu = mean_scale * e_1 (Panwar et al. 2024, mu = 3 e_1)."""

    name = "gaussian-mixture"
    description = "w ~ 1/2 N(+mu, I) + 1/2 N(-mu, I), mu = 3 e_1 (Panwar 2024)"

    def __init__(self, d: int, noise: float = 0.0, mean_scale: float = 3.0):
        super().__init__(d, noise)
        from estimators.bayes import GaussianPrior, MixturePrior

        self.mean_scale = float_kw(mean_scale, "mean_scale", 0.0)
        mu = np.zeros(self.d)
        mu[0] = self.mean_scale
        eye = np.eye(self.d)
        self.prior = MixturePrior([GaussianPrior(mu, eye), GaussianPrior(-mu, eye)], [0.5, 0.5])
        self.ridge_lam = self.noise

    def w_second_moment(self) -> float:
        return self.mean_scale**2 + self.d


@register
class FinitePool(LinearTask):
    """A pool of M tasks w_1..w_M ~ N(0, I_d) drawn once; prompts pick one uniformly (Raventos et al. 2023).

    The pool is a pure function of (``pool_seed``, M, d): ``default_rng([POOL_DOMAIN, pool_seed])``.
    Bayes predictor: dMMSE, the posterior over the pool (``bayes``); ``ridge`` is the Bayes
    predictor for fresh tasks w ~ N(0, I), which the transformer follows above the
    task-diversity threshold.
    """

    name = "finite-pool"
    description = "pool of M tasks w_m ~ N(0, I) drawn once, prompts pick one uniformly (Raventos 2023)"

    def __init__(self, d: int, noise: float = 0.0, pool_size: int = 64, pool_seed: int = 0):
        super().__init__(d, noise)
        from estimators.bayes import FinitePrior

        self.pool_size = int_kw(pool_size, "pool_size", 1)
        self.pool_seed = int_kw(pool_seed, "pool_seed", 0)
        self.pool = np.random.default_rng([POOL_DOMAIN, self.pool_seed]).standard_normal((self.pool_size, self.d))
        self.prior = FinitePrior(self.pool)
        self.ridge_lam = self.noise

    def w_second_moment(self) -> float:
        return float(np.mean(np.sum(self.pool**2, axis=1)))

    def pool_index(self, params) -> np.ndarray:
        """Index into the pool of each row of ``params`` (B, d) (for checking pool usage)."""
        w = np.asarray(params, dtype=np.float64)
        dist = ((w[:, None, :] - self.pool[None]) ** 2).sum(-1)  # (B, M)
        return np.argmin(dist, axis=1)


_MAX_PIECES = 4096  # largest Gaussian expansion of one component that a TaskMixture enumerates


def _gaussian_pieces(task: LinearTask):
    """The prior of ``task`` as a list of (GaussianPrior, weight): sparse supports, sign vectors and pool
    members become Gaussians with singular (zero-variance) covariances. None when not expressible."""
    from estimators.bayes import FinitePrior, GaussianPrior, MixturePrior, SignPrior, SparsePrior

    p, d = task.prior, task.d
    if isinstance(p, GaussianPrior):
        return [(p, 1.0)]
    if isinstance(p, MixturePrior):
        return list(zip(p.components, p.weights))
    if isinstance(p, SparsePrior) and p.n_components <= _MAX_PIECES:
        out = []
        for support in p.supports:
            cov = np.zeros((d, d))
            cov[support, support] = p.scale**2
            out.append((GaussianPrior(np.zeros(d), cov), 1.0 / p.n_components))
        return out
    if isinstance(p, SignPrior) and p.n_components <= _MAX_PIECES:
        return [(GaussianPrior(v, np.zeros((d, d))), 1.0 / p.n_components) for v in p.vectors()]
    if isinstance(p, FinitePrior) and p.n_components <= _MAX_PIECES:
        return [(GaussianPrior(w, np.zeros((d, d))), 1.0 / p.n_components) for w in p.pool]
    return None


# Components a TaskMixture may combine: their params are w (B, d) and y = x^T w.
_MIXABLE = ("linear", "sparse-linear", "sign-vector", "low-rank", "gaussian-mixture", "finite-pool")


@register
class TaskMixture(LinearTask):
    """A mixture of linear classes, e.g. dense + sparse (Panwar et al. 2024, Sec. 5).

    The component is picked with probabilities ``weights`` independently per prompt
    (``per="prompt"``) or once per batch (``per="batch"``; every prompt of a batch then has
    the same class). Marginally every prompt is drawn from the mixture, so the Bayes predictor
    is one ``MixturePrior`` over all components' Gaussian pieces (a k-sparse prior is the mixture of
    its C(d, k) supports, sign vectors and pool members are zero-covariance Gaussians; up to 4096
    pieces per component). When a component has no such expansion (low-rank) there is no joint
    prior and ``bayes-<component>`` baselines are offered instead.

    Parameters
    ----------
    components : list of str
        Task names among linear, sparse-linear, sign-vector, low-rank, gaussian-mixture, finite-pool.
    weights : list of float, optional (uniform)
    per : "prompt" or "batch"
    component_kwargs : dict, optional
        ``{name: {kwarg: value}}`` passed to each component.
    """

    name = "task-mixture"
    description = "mixture of linear classes (e.g. dense + sparse), picked per prompt or per batch (Panwar 2024)"

    def __init__(self, d: int, noise: float = 0.0, components: tuple = ("linear", "sparse-linear"),
                 weights: tuple | None = None, per: str = "prompt", component_kwargs: dict | None = None):
        super().__init__(d, noise)
        from ._base import get_task

        names = list(components) if isinstance(components, (list, tuple)) else None
        if not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"task.kwargs.components: must be a non-empty list of task names, got {components!r}")
        for n in names:
            if n not in _MIXABLE:
                raise ConfigError(f"task.kwargs.components: {n!r} cannot be mixed; valid: {', '.join(_MIXABLE)}")
        component_kwargs = dict(component_kwargs or {})
        for n in component_kwargs:
            if n not in names:
                raise ConfigError(f"task.kwargs.component_kwargs.{n}: not among the components {names}")
        self.components = [get_task(n, d=self.d, noise=self.noise, **component_kwargs.get(n, {})) for n in names]
        w = np.full(len(names), 1.0 / len(names)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(names),) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ConfigError(f"task.kwargs.weights: must be {len(names)} non-negative numbers summing to 1, got {weights!r}")
        if per not in ("prompt", "batch"):
            raise ConfigError(f"task.kwargs.per: must be 'prompt' or 'batch', got {per!r}")
        self.weights, self.per, self.names = w, per, names
        self.prior = self._mixture_prior()
        self.ridge_lam = self.noise * self.d / self.w_second_moment()

    def _mixture_prior(self):
        """One MixturePrior over every component's Gaussian pieces, or None if a component has none."""
        from estimators.bayes import MixturePrior

        comps, weights = [], []
        for w, task in zip(self.weights, self.components):
            pieces = _gaussian_pieces(task)
            if pieces is None:
                return None
            comps += [p for p, _ in pieces]
            weights += [w * pw for _, pw in pieces]
        return MixturePrior(comps, np.asarray(weights) / np.sum(weights))

    def sample_params(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        if self.per == "batch":
            c = int(rng.choice(len(self.components), p=self.weights))
            return self.components[c].sample_params(batch, rng)
        if self.prior is not None:
            return self.prior.sample(batch, rng)
        which = rng.choice(len(self.components), size=batch, p=self.weights)
        out = np.empty((batch, self.d))
        for c, comp in enumerate(self.components):
            idx = np.flatnonzero(which == c)
            if idx.size:
                out[idx] = comp.sample_params(idx.size, rng)
        return out

    def w_second_moment(self) -> float:
        return float(sum(w * c.w_second_moment() for w, c in zip(self.weights, self.components)))

    def baselines(self) -> dict[str, Callable]:
        out = super().baselines()
        if self.prior is None:
            for name, comp in zip(self.names, self.components):
                if comp.prior is not None:
                    out[f"bayes-{name}"] = comp.bayes_prefixes
        return out
