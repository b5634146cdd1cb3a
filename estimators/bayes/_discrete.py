"""Priors with a finite support of components: a finite task pool, k-sparse supports, sign vectors.

Each is a mixture whose components share the engine of :mod:`._engine`: the finite pool's
components are point masses (the dMMSE predictor of Raventos et al. 2023), the sparse prior's
are Gaussians on each of the C(d, k) supports, and the sign prior's are the 2^d sign vectors,
enumerated in chunks (Panwar et al. 2024, section 4).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ..validation import check_array, check_int, check_positive, to_numpy
from . import _engine as engine
from ._gaussian import _check_memory, _check_rng, _Prior

__all__ = ["FinitePrior", "SparsePrior", "SignPrior"]

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
        self.d, self._k, self._rank = int(self.pool.shape[1]), 0, 0
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

    _supports = True

    def __init__(self, d: int, k: int, scale: float = 1.0, *, chunk_size: int | None = None,
                 memory_budget: int = _DEFAULT):
        fn = "SparsePrior"
        self.d = check_int(d, "d", fn, minimum=1)
        self.k = self._k = self._rank = check_int(k, "k", fn, minimum=1)
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
        self._k, self._rank, self._m2 = 0, 0, self.scale**2

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
