"""Nonlinear function classes: feature-space priors (Fourier, Haar, monomials), ReLU nets, decision trees.

Fourier series, Haar wavelets and degree-2 monomials are linear in a fixed feature map,
f(x) = phi(x)^T a with Gaussian (or mixture) coefficients a: their exact prior is an
``estimators.bayes.FeaturePrior`` and the coefficients are drawn through it (Panwar et al.
2024, Sec. 5). Two-layer ReLU networks and depth-4 decision trees (Garg et al. 2022,
Sec. 5) have no implemented exact posterior; their baselines are the generic ones.

E[y^2] in closed form: for an orthonormal basis under the input law (Haar on U[0, 1)) it is the
sum of the coefficient variances; Fourier terms have E[cos^2] = E[sin^2] = 1/2 on [-L, L];
E[(x_i x_j)^2] is 1 (i != j) or 3 (i = j) for x ~ N(0, I).
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np

from icl.errors import ConfigError

from ._base import Task, float_kw, int_kw, register

__all__ = ["FeatureTask", "FourierSeries", "FourierMixture", "HaarFeatures", "HaarWavelets",
           "MonomialFeatures", "Monomials", "ReluNet", "DecisionTree", "BASIS_DOMAIN"]

BASIS_DOMAIN = 0x6261  # "ba": first entropy word of the seed choosing a fixed basis subset


class FeatureTask(Task):
    """Base of f(x) = phi(x)^T a, a drawn through ``self.prior`` (a FeaturePrior)."""

    def evaluate(self, xs: np.ndarray, params: np.ndarray) -> np.ndarray:
        return self.prior.evaluate(xs, params)  # (B, n)

    def _require_d(self, d_expected: int) -> None:
        if self.d != d_expected:
            raise ConfigError(f"task.d: {self.name} needs d = {d_expected}, got {self.d}")


@register
class FourierSeries(FeatureTask):
    """f(x) = a_0 + sum_{j<=N} a_j cos(pi j x / L) + b_j sin(pi j x / L), coefficients N(0, scale^2), x ~ U[-L, L]."""

    name = "fourier"
    description = "Fourier series up to frequency N on [-L, L], coefficients ~ N(0, 1), d = 1 (Panwar 2024)"

    def __init__(self, d: int = 1, noise: float = 0.0, max_freq: int = 10, length: float = 5.0, scale: float = 1.0):
        super().__init__(d, noise)
        from estimators.bayes import FeaturePrior, FourierFeatures, GaussianPrior

        self._require_d(1)
        self.max_freq = int_kw(max_freq, "max_freq", 1)
        self.length = float_kw(length, "length", 0.0, strict=True)
        self.scale = float_kw(scale, "scale", 0.0, strict=True)
        feats = FourierFeatures(self.max_freq, self.length)
        self.prior = FeaturePrior(feats, GaussianPrior.isotropic(feats.n_features, self.scale**2))
        self.ridge_lam = self.noise  # ridge on the raw input, a generic baseline

    def sample_inputs(self, batch: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.length, self.length, size=(batch, n_points, 1))

    def x_second_moment(self) -> float:
        return self.length**2 / 3.0

    def f_second_moment(self) -> float:
        return self.scale**2 * (1.0 + self.max_freq)  # 1 + 2N * 1/2


@register
class FourierMixture(FourierSeries):
    """Fourier series whose maximum frequency N is itself uniform on 1..max_freq (Panwar et al. 2024, simplicity bias).

    Panwar et al.'s task (their public code, task ``fourier_series_mixture`` with
    ``standardize=True``): given N, f(x) = sum_{j <= N} a_j cos(pi j x / L) + b_j sin(pi j x / L)
    with a_j, b_j ~ N(0, scale^2 / N), no constant term, so E[f(x)^2] = scale^2 for every N.
    ``intercept=True`` adds a constant a_0 with the same variance; ``standardize=False`` gives
    every coefficient variance scale^2 (the toolkit's earlier prior: ``intercept=True,
    standardize=False``). The exact predictor is BMA over N; ``prior.weights_prefixes`` gives the
    posterior over N (component N - 1). The coefficient vector keeps the layout of
    :class:`estimators.bayes.FourierFeatures` (constant, cos_1..cos_N_max, sin_1..sin_N_max);
    without an intercept its first entry is 0.

    Examples
    --------
    >>> task = FourierMixture(max_freq=4, length=5.0)
    >>> task.f_second_moment(), [round(float(c.cov[1, 1]), 3) for c in task.prior.prior.components]
    (1.0, [1.0, 0.5, 0.333, 0.25])
    """

    name = "fourier-mixture"
    description = ("Fourier series with a random max frequency N ~ U{1..max_freq}, coefficients N(0, scale^2 / N), "
                   "no constant term (Panwar 2024 simplicity bias)")

    def __init__(self, d: int = 1, noise: float = 0.0, max_freq: int = 10, length: float = 5.0, scale: float = 1.0,
                 intercept: bool = False, standardize: bool = True):
        super().__init__(d, noise, max_freq, length, scale)
        from estimators.bayes import FeaturePrior, FourierFeatures, GaussianPrior, MixturePrior

        for key, value in (("intercept", intercept), ("standardize", standardize)):
            if not isinstance(value, bool):
                raise ConfigError(f"task.kwargs.{key}: must be true or false, got {value!r}")
        self.intercept, self.standardize = intercept, standardize
        freqs = np.arange(1, self.max_freq + 1)
        comps = []
        for n_top in freqs:
            var = self.scale**2 / n_top if standardize else self.scale**2
            on = (freqs <= n_top).astype(float)
            comps.append(GaussianPrior(np.zeros(2 * self.max_freq + 1),
                                       np.diag(np.concatenate([[float(intercept)], on, on]) * var)))
        weights = np.full(self.max_freq, 1.0 / self.max_freq)
        self.prior = FeaturePrior(FourierFeatures(self.max_freq, self.length), MixturePrior(comps, weights))

    def coefficient_variance(self) -> np.ndarray:
        """Variance of each cos / sin coefficient given N = 1..max_freq, shape (max_freq,)."""
        n_top = np.arange(1, self.max_freq + 1)
        return self.scale**2 / n_top if self.standardize else np.full(self.max_freq, self.scale**2)

    def f_second_moment(self) -> float:
        # E[cos^2] = E[sin^2] = 1/2 on [-L, L]: given N, E[f^2] = (intercept + N) v_N; N uniform
        n_top = np.arange(1, self.max_freq + 1)
        return float(np.mean((float(self.intercept) + n_top) * self.coefficient_variance()))


class HaarFeatures:
    """Haar basis on [0, 1): 1 and psi_{j,k}(x) = 2^{j/2} psi(2^j x - k), j < levels, k < 2^j (2^levels features).

    psi(t) = 1 on [0, 1/2), -1 on [1/2, 1), 0 elsewhere. Works on numpy and torch inputs (..., n, 1).
    """

    def __init__(self, levels: int):
        self.levels = levels
        self.input_dim, self.n_features = 1, 2**levels
        jk = [(j, k) for j in range(levels) for k in range(2**j)]
        self._dil = np.array([2.0**j for j, _ in jk])
        self._shift = np.array([float(k) for _, k in jk])
        self._amp = np.sqrt(self._dil)

    def __call__(self, x: Any) -> Any:
        xp = array_api_compat.array_namespace(x)
        dev = array_api_compat.device(x)
        dil, shift, amp = (xp.asarray(a, dtype=x.dtype, device=dev) for a in (self._dil, self._shift, self._amp))
        t = x * dil - shift  # (..., n, D - 1)
        inside = xp.astype((t >= 0) & (t < 1), x.dtype)
        sign = xp.where(t < 0.5, xp.ones_like(t), -xp.ones_like(t))
        return xp.concat([xp.ones_like(x), amp * inside * sign], axis=-1)  # (..., n, D)

    def __repr__(self):
        return f"HaarFeatures(levels={self.levels})"


@register
class HaarWavelets(FeatureTask):
    """f(x) = sum of Haar basis functions up to ``levels`` with N(0, scale^2) coefficients, x ~ U[0, 1) (Panwar 2024)."""

    name = "haar"
    description = "Haar wavelet series on [0, 1) with 2^levels basis functions, coefficients ~ N(0, 1), d = 1 (Panwar 2024)"

    def __init__(self, d: int = 1, noise: float = 0.0, levels: int = 3, scale: float = 1.0):
        super().__init__(d, noise)
        from estimators.bayes import FeaturePrior, GaussianPrior

        self._require_d(1)
        self.levels = int_kw(levels, "levels", 1)
        self.scale = float_kw(scale, "scale", 0.0, strict=True)
        feats = HaarFeatures(self.levels)
        self.prior = FeaturePrior(feats, GaussianPrior.isotropic(feats.n_features, self.scale**2))
        self.ridge_lam = self.noise

    def sample_inputs(self, batch: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, 1.0, size=(batch, n_points, 1))

    def x_second_moment(self) -> float:
        return 1.0 / 3.0

    def f_second_moment(self) -> float:
        return self.scale**2 * self.prior.d  # orthonormal basis under U[0, 1)


class MonomialFeatures:
    """Degree-2 monomials x_i x_j for a fixed list of pairs (i, j), i <= j; numpy and torch inputs (..., n, d)."""

    def __init__(self, d: int, pairs: np.ndarray):
        self.input_dim, self.pairs = d, np.asarray(pairs, dtype=np.int64)
        self.n_features = int(self.pairs.shape[0])

    def __call__(self, x: Any) -> Any:
        xp = array_api_compat.array_namespace(x)
        dev = array_api_compat.device(x)
        i = xp.asarray(self.pairs[:, 0], device=dev)
        j = xp.asarray(self.pairs[:, 1], device=dev)
        return xp.take(x, i, axis=-1) * xp.take(x, j, axis=-1)  # (..., n, K)

    def __repr__(self):
        return f"MonomialFeatures(d={self.input_dim}, n_features={self.n_features})"


@register
class Monomials(FeatureTask):
    """f(x) = sum over a fixed subset S of degree-2 monomials of a_ij x_i x_j, a ~ N(0, scale^2) (Panwar 2024).

    S holds ``n_terms`` of the d(d+1)/2 monomials, chosen once from ``basis_seed``.
    """

    name = "monomials"
    description = "fixed subset of degree-2 monomials x_i x_j with N(0, 1) coefficients (Panwar 2024)"

    def __init__(self, d: int, noise: float = 0.0, n_terms: int = 10, basis_seed: int = 0, scale: float = 1.0):
        super().__init__(d, noise)
        from estimators.bayes import FeaturePrior, GaussianPrior

        all_pairs = np.array([(i, j) for i in range(self.d) for j in range(i, self.d)], dtype=np.int64)
        self.n_terms = int_kw(n_terms, "n_terms", 1)
        if self.n_terms > len(all_pairs):
            raise ConfigError(f"task.kwargs.n_terms: must be <= d(d+1)/2 = {len(all_pairs)}, got {self.n_terms}")
        self.basis_seed = int_kw(basis_seed, "basis_seed", 0)
        self.scale = float_kw(scale, "scale", 0.0, strict=True)
        rng = np.random.default_rng([BASIS_DOMAIN, self.basis_seed])
        pairs = all_pairs[np.sort(rng.choice(len(all_pairs), size=self.n_terms, replace=False))]
        self.prior = FeaturePrior(MonomialFeatures(self.d, pairs), GaussianPrior.isotropic(self.n_terms, self.scale**2))
        self.ridge_lam = self.noise

    def f_second_moment(self) -> float:
        pairs = self.prior.feature_map.pairs
        return self.scale**2 * float(np.sum(np.where(pairs[:, 0] == pairs[:, 1], 3.0, 1.0)))


@register
class ReluNet(Task):
    """y = sqrt(2/h) sum_j relu(x^T W1_j) W2_j, entries N(0, 1), h = 100 (Garg et al. 2022, Sec. 5). E[y^2] = d."""

    name = "relu-net"
    description = "2-layer ReLU network with h hidden units, N(0, 1) weights (Garg 2022)"

    def __init__(self, d: int, noise: float = 0.0, hidden: int = 100):
        super().__init__(d, noise)
        self.hidden = int_kw(hidden, "hidden", 1)
        self.ridge_lam = self.noise

    def sample_params(self, batch: int, rng: np.random.Generator) -> dict:
        return {"W1": rng.standard_normal((batch, self.hidden, self.d)), "W2": rng.standard_normal((batch, self.hidden))}

    def evaluate(self, xs: np.ndarray, params: dict) -> np.ndarray:
        h = np.maximum(np.einsum("bnd,bhd->bnh", xs, params["W1"]), 0.0)  # (B, n, h)
        return math.sqrt(2.0 / self.hidden) * np.einsum("bnh,bh->bn", h, params["W2"])

    def f_second_moment(self) -> float:
        return float(self.d)  # (2/h) * h * E[relu(z)^2], z ~ N(0, d): d/2 each


@register
class DecisionTree(Task):
    """Full binary tree of depth ``depth``: node splits on x_c > 0 (c uniform), leaves N(0, 1) (Garg et al. 2022). E[y^2] = 1."""

    name = "decision-tree"
    description = "depth-4 decision tree splitting on x_c > 0 at random coordinates, N(0, 1) leaves (Garg 2022)"

    def __init__(self, d: int, noise: float = 0.0, depth: int = 4):
        super().__init__(d, noise)
        self.depth = int_kw(depth, "depth", 1)
        self.ridge_lam = self.noise

    def sample_params(self, batch: int, rng: np.random.Generator) -> dict:
        n_inner = 2**self.depth - 1
        return {"coords": rng.integers(0, self.d, size=(batch, n_inner)),
                "leaves": rng.standard_normal((batch, 2**self.depth))}

    def evaluate(self, xs: np.ndarray, params: dict) -> np.ndarray:
        B, n, _ = xs.shape
        node = np.zeros((B, n), dtype=np.int64)
        for _ in range(self.depth):
            c = np.take_along_axis(params["coords"], node, axis=1)  # (B, n) split coordinate
            go_right = np.take_along_axis(xs, c[..., None], axis=2)[..., 0] > 0
            node = 2 * node + 1 + go_right
        return np.take_along_axis(params["leaves"], node - (2**self.depth - 1), axis=1)

    def f_second_moment(self) -> float:
        return 1.0
