"""The posterior predictive distribution of every prior: log densities and moments of y_k, for every prefix.

:class:`PredictiveMethods` gives every prior of :mod:`estimators.bayes` (through its base class)
``log_predictive_prefixes`` and ``predictive_moments_prefixes``, next to ``predict_prefixes``
and on the same seam (``docs/design.md``): entry k describes ``y_k`` given ``x_k`` and the first
k pairs. For a mixture ``w ~ sum_c pi_c N(mu_c, S_c)`` (a Gaussian prior is one component; point
masses have ``S_c = 0``) the predictive is

    p(y_k | x_k, D_k) = sum_c pi_c(D_k) N(y_k; m_c, s_c^2),
    pi_c(D_k) ∝ pi_c p(D_k | c),   m_c = x_k^T mu_c(D_k),   s_c^2 = x_k^T S_c(D_k) x_k + sigma^2,

with ``mu_c(D_k), S_c(D_k)`` the component's posterior after ``D_k`` (Rasmussen & Williams 2006,
section 2.2), evaluated by the engine's Kalman recursions with a logsumexp over components
(:mod:`._engine`, :mod:`._fold`); the weights are the BMA weights of Panwar et al. 2024, section 4.
This is the target a transformer with a distributional read-out approximates (Müller et al. 2022),
so models and the Bayes predictor can be compared in nats. What does not live here: the
recursion and the folds (:mod:`._engine`, :mod:`._fold`), the GP predictive
(:func:`estimators.kernels.gp_log_predictive_prefixes`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PredictiveMethods"]


def refuse_point_masses(prior, n: int, noise: float, fn: str) -> None:
    """With ``noise = 0``, refuse prompts whose last prefixes have a point-mass predictive.

    A Gaussian component ``N(mu_c, S_c)`` with ``rank S_c = r`` predicts ``y_k`` exactly once
    ``k >= r`` pairs (inputs in general position) have pinned its r free directions, so the
    predictive has an atom at prefix k as soon as ``k >= min_c r_c`` (point masses: r = 0).
    """
    if noise == 0 and n > prior._rank:
        r = prior._rank
        what = ("its components are point masses, so the predictive of every y_k is discrete" if r == 0 else
                f"after k >= {r} pairs (the smallest rank of a component's prior covariance) some component "
                "predicts y_k exactly, so the predictive has a point mass")
        keep = f", keep the first {r} points (xs[..., :{r}, :])" if r else ""
        raise ValueError(
            f"{fn}: with noise = 0 the log predictive density of {type(prior).__name__} exists only for prefixes "
            f"k < {r} (inputs in general position), but the prompt has n = {n} points: {what}, which has no "
            f"density; pass noise > 0{keep}, or use predictive_moments_prefixes (defined for every noise)"
        )


class PredictiveMethods:
    """Mixin of the prior base class: the predictive distribution of every y_k (see the module docstring).

    Relies on the base class's ``_prepare`` (validation, flattening, compute dtype) and ``_run``
    (chunk sizing and the engine).
    """

    def log_predictive_prefixes(self, xs: Any, ys: Any, noise: float) -> Any:
        """Log posterior predictive density of y_k given x_k and the first k pairs, for every k.

        ``out[..., k] = log p(y_k | x_k, x_{<k}, y_{<k})``. For a Gaussian prior
        ``log N(y_k; x_k^T mu_k, sigma^2 + x_k^T Sigma_k x_k)`` (posterior ``N(mu_k, Sigma_k)``
        after k pairs); for mixtures, finite pools, sparse supports and sign vectors
        ``log sum_c pi_c(D_k) N(y_k; m_c, s_c^2)`` with ``pi_c(D_k) ∝ pi_c p(D_k | c)``, a
        logsumexp over components in chunks. The entries sum to the log evidence of the prompt,
        ``sum_k out[..., k] = log p(y | X)``; entry 0 is the prior predictive.

        Parameters
        ----------
        xs : array of shape (..., n, d)
        ys : array of shape (..., n)
        noise : float
            Observation noise variance sigma^2 >= 0.

        Returns
        -------
        array of shape (..., n), in the input's library, dtype and device.

        Raises
        ------
        ValueError
            If ``noise < 0``, the shapes disagree, or ``noise = 0`` and the predictive of some
            y_k is a point mass (Notes).

        Notes
        -----
        ``noise = 0``. A Gaussian component ``N(mu_c, S_c)`` of rank ``r_c`` has a proper
        predictive while ``k < r_c`` (inputs in general position) and predicts y_k exactly once
        ``k >= r_c``: the noiseless predictive is then a point mass (or has one), whose log
        density is not a number (+inf at the atom). So with ``noise = 0`` the log density is
        returned when ``n <= min_c r_c`` (a Gaussian prior ``N(mu, S)``: ``n <= rank S``; a
        sparse prior: ``n <= k``; never for finite pools and sign vectors, whose components are
        point masses), and a prompt with more points raises ``ValueError`` naming ``noise``,
        before any work. Where it is returned, the engine's floor
        ``rtol * ||x_k||^2 * tr(E[w w^T]) / d`` (``rtol = 1e-13`` in float64) stands in for the
        noise variance (:mod:`estimators.bayes._engine`), a relative error of the predictive
        variance of ``floor / (x_k^T S_c x_k)``, about 1e-13 for generic inputs. A positive noise
        below the floor is raised to the floor, as in :meth:`predict_prefixes`. The moments
        (:meth:`predictive_moments_prefixes`) exist for every noise.

        References
        ----------
        Rasmussen & Williams 2006, section 2.2 (the Gaussian predictive and the log evidence as a
        sum of one-step predictives); Panwar et al. 2024, section 4 (mixture priors, BMA weights);
        Müller et al. 2022, "Transformers Can Do Bayesian Inference", section 2 (the posterior
        predictive as the target of a prior-fitted network).

        Examples
        --------
        >>> import numpy as np
        >>> from estimators.bayes import GaussianPrior
        >>> prior = GaussianPrior.isotropic(1, 1.0)
        >>> xs = np.ones((1, 2, 1)); ys = np.zeros((1, 2))
        >>> lp = prior.log_predictive_prefixes(xs, ys, noise=1.0)  # N(0, 2), then N(0, 1.5)
        >>> bool(np.allclose(lp, -0.5 * np.log(2 * np.pi * np.array([2.0, 1.5]))))
        True
        >>> prior.log_predictive_prefixes(xs, ys, noise=0.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: GaussianPrior.log_predictive_prefixes: with noise = 0 the log predictive density ... exists only for prefixes k < 1 ...
        """
        fn = f"{type(self).__name__}.log_predictive_prefixes"
        xp, xw, yw, batch, noise = self._prepare(xs, ys, noise, fn)
        refuse_point_masses(self, int(xw.shape[1]), noise, fn)
        out = self._run(xw, yw, noise, fn, want_predictive=True)
        return xp.astype(xp.reshape(out["log_predictive"], batch + (xw.shape[1],)), xs.dtype)

    def predictive_moments_prefixes(self, xs: Any, ys: Any, noise: float) -> tuple:
        """Mean and variance of the posterior predictive of y_k given x_k and the first k pairs.

        ``mean[..., k] = sum_c pi_c(D_k) m_c`` (equal to :meth:`predict_prefixes`) and, by the
        law of total variance, ``var[..., k] = sum_c pi_c(D_k) (s_c^2 + m_c^2) - mean^2``, computed
        as ``sum_c pi_c(D_k) (s_c^2 + (m_c - mean)^2)`` (no cancellation), with
        ``s_c^2 = x_k^T S_c(D_k) x_k + sigma^2`` and the notation of :meth:`log_predictive_prefixes`.

        Parameters
        ----------
        xs : array of shape (..., n, d)
        ys : array of shape (..., n)
        noise : float
            Observation noise variance sigma^2 >= 0.

        Returns
        -------
        mean, var : arrays of shape (..., n), in the input's library, dtype and device.

        Notes
        -----
        Defined for every ``noise >= 0``: ``sigma^2`` enters the variance as given (no floor), so
        with ``noise = 0`` a point-mass predictive (an identified task) has variance 0 up to the
        engine's floor (a few times ``1e-13`` of the prior variance of y_k in float64; exactly 0
        for finite pools and sign vectors once the data single out one component).

        References
        ----------
        Rasmussen & Williams 2006, section 2.2; Panwar et al. 2024, section 4.

        Examples
        --------
        >>> import numpy as np
        >>> from estimators.bayes import FinitePrior
        >>> prior = FinitePrior(np.array([[-1.0], [1.0]]))
        >>> mean, var = prior.predictive_moments_prefixes(np.ones((1, 1, 1)), np.zeros((1, 1)), noise=1.0)
        >>> mean, var  # 0.5 N(-1, 1) + 0.5 N(1, 1)
        (array([[0.]]), array([[2.]]))
        """
        fn = f"{type(self).__name__}.predictive_moments_prefixes"
        xp, xw, yw, batch, noise = self._prepare(xs, ys, noise, fn)
        out = self._run(xw, yw, noise, fn, want_predictive=True)
        shape = batch + (xw.shape[1],)
        return tuple(xp.astype(xp.reshape(out[key], shape), xs.dtype) for key in ("pred", "predictive_var"))
