"""Metrics on prediction arrays: prefix-wise errors with bands, agreement, implicit weights, probes, nats.

Pure functions on arrays that follow the toolkit's seam (``preds[..., k]`` is the prediction
for ``xs[..., k, :]`` from the first ``k`` pairs), so a transformer, a baseline and an exact
Bayes predictor are scored the same way:

- :func:`error_curve`: mean normalised squared error per k with a 95% band
  (Garg et al. 2022, Fig. 2).
- :func:`prediction_divergence`: squared prediction difference of two predictors per
  k (Akyurek et al. 2023, Sec. 4, "SPD").
- :func:`implicit_weights` and :func:`implicit_weight_distance`: the linear map a
  predictor applies to a query for a fixed context, fitted from ``>= d + 1`` probe
  queries (Akyurek et al. 2023, Sec. 4, "ILWD").
- :func:`linear_probe`: held-out R^2 of a ridge read-out from hidden states to a
  target such as ``w`` or ``X^T y`` (Akyurek et al. 2023, Sec. 5).
- predictive distributions (log densities ``log q(y_k | x_k, first k pairs)`` and PIT values
  ``F(y_k)`` on the same seam): :func:`nll_curve` (nats per k), :func:`bayes_gap` (nats above
  the exact Bayes predictive, Mueller et al. 2022), :func:`pit_histogram`,
  :func:`interval_coverage` and :func:`calibration_error` (central intervals), and for
  Gaussian predictives :func:`gaussian_log_prob`, :func:`gaussian_pit` and the closed-form
  :func:`gaussian_crps` (Gneiting & Raftery 2007).

What does not live here: running a trained model on a task (:mod:`icl.evaluate`). The module is
above the 400-line guide on purpose: every function is a pure score of per-prompt arrays on one
seam, :mod:`icl.evaluate` re-exports them all, and the predictive-distribution scores share the
band helper of the error curves.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from scipy import stats

from estimators.validation import check_array, check_int, check_nonnegative, check_positive, to_numpy

__all__ = [
    "Curve",
    "error_curve",
    "prediction_divergence",
    "query_predictions",
    "implicit_weights",
    "implicit_weight_distance",
    "linear_probe",
    "PITHistogram",
    "nll_curve",
    "bayes_gap",
    "pit_histogram",
    "interval_coverage",
    "calibration_error",
    "gaussian_log_prob",
    "gaussian_pit",
    "gaussian_crps",
]


class Curve(NamedTuple):
    """A per-k mean with its lower and upper band, each of shape (n,)."""

    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _flat_prompts(a, name: str, fn: str) -> np.ndarray:
    a = to_numpy(check_array(a, name, fn, min_ndim=1, floating=True, finite=True)).astype(np.float64)
    return a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a[None, :]


def _mean_band(values: np.ndarray, level: float, method: str, seed: int, n_boot: int, fn: str) -> Curve:
    """Mean over axis 0 and a two-sided ``level`` band (normal or percentile bootstrap)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"{fn}: level must be in (0, 1), got {level}")
    p = values.shape[0]
    mean = values.mean(axis=0)
    if method == "normal":
        if p < 2:
            raise ValueError(f"{fn}: a normal band needs at least 2 prompts, got {p}")
        half = stats.norm.ppf(0.5 + level / 2) * values.std(axis=0, ddof=1) / np.sqrt(p)
        return Curve(mean, mean - half, mean + half)
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, p, size=(n_boot, p))
        boot = np.stack([values[i].mean(axis=0) for i in idx])  # (n_boot, n)
        lo, hi = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return Curve(mean, lo, hi)
    raise ValueError(f"{fn}: method must be 'normal' or 'bootstrap', got {method!r}")


def error_curve(preds, ys, y2: float = 1.0, *, level: float = 0.95, method: str = "normal", seed: int = 0,
                n_boot: int = 1000) -> Curve:
    r"""Mean normalised squared error per prefix length k, with a ``level`` band.

    .. math:: e_k = \frac{1}{P} \sum_{p=1}^P \frac{(\hat y_{p,k} - y_{p,k})^2}{E[y^2]}

    The band is ``mean +- z_{(1+level)/2} * sd / sqrt(P)`` (``method="normal"``) or a
    percentile bootstrap over prompts (``method="bootstrap"``, ``n_boot`` resamples).

    Parameters
    ----------
    preds, ys : array of shape (..., n)
        Predictions and targets; leading axes are prompts.
    y2 : float
        The normaliser ``E[y^2]`` (the task's ``y_second_moment``), so the zero
        predictor scores 1.
    level : float
        Coverage of the band.

    Returns
    -------
    Curve
        ``(mean, lo, hi)``, each of shape (n,).

    References
    ----------
    Garg et al. 2022, "What can transformers learn in-context?", Sec. 3 and Fig. 2.

    Example
    -------
    >>> import numpy as np
    >>> c = error_curve(np.zeros((2, 3)), np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0]]), y2=2.0)
    >>> c.mean
    array([0.5, 1. , 0. ])
    """
    fn = "error_curve"
    p, y = _flat_prompts(preds, "preds", fn), _flat_prompts(ys, "ys", fn)
    if p.shape != y.shape:
        raise ValueError(f"{fn}: preds and ys disagree in shape: preds has {p.shape}, ys has {y.shape}")
    y2 = check_positive(y2, "y2", fn)
    return _mean_band((p - y) ** 2 / y2, level, method, seed, n_boot, fn)


def prediction_divergence(a, b, y2: float = 1.0, *, level: float = 0.95, method: str = "normal", seed: int = 0,
                          n_boot: int = 1000) -> Curve:
    r"""Squared prediction divergence of two predictors on the same prompts, per k.

    .. math:: \mathrm{SPD}_k(f, g) = \frac{1}{P} \sum_p \frac{(f_{p,k} - g_{p,k})^2}{E[y^2]}

    Symmetric, zero for a predictor with itself. Parameters and band as in
    :func:`error_curve` (the second predictor plays the role of ``ys``).

    References
    ----------
    Akyurek et al. 2023, "What learning algorithm is in-context learning?", Sec. 4.1 (SPD).

    Example
    -------
    >>> import numpy as np
    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> prediction_divergence(a, a).mean
    array([0., 0.])
    >>> prediction_divergence(a, a + 1.0, y2=2.0).mean
    array([0.5, 0.5])
    """
    fn = "prediction_divergence"
    fa, fb = _flat_prompts(a, "a", fn), _flat_prompts(b, "b", fn)
    if fa.shape != fb.shape:
        raise ValueError(f"{fn}: a and b disagree in shape: a has {fa.shape}, b has {fb.shape}")
    y2 = check_positive(y2, "y2", fn)
    return _mean_band((fa - fb) ** 2 / y2, level, method, seed, n_boot, fn)


def query_predictions(predict_prefixes: Callable, context_xs, context_ys, probe_xs) -> np.ndarray:
    """Predictions at each probe query from one fixed context, through the prefix seam.

    Builds ``m`` prompts ``[context, probe_j]`` (the probe's label is a placeholder 0
    that no prefix prediction can see) and returns ``preds[..., j, k]``.

    Parameters
    ----------
    predict_prefixes : callable
        ``predict_prefixes(xs, ys) -> preds`` with the seam's shapes.
    context_xs : array of shape (..., k, d)
    context_ys : array of shape (..., k)
    probe_xs : array of shape (..., m, d)

    Returns
    -------
    ndarray of shape (..., m)

    Example
    -------
    >>> import numpy as np
    >>> mean_so_far = lambda xs, ys: np.concatenate(
    ...     [np.zeros(ys.shape[:-1] + (1,)), np.cumsum(ys, -1)[..., :-1] / np.arange(1, ys.shape[-1])], -1)
    >>> query_predictions(mean_so_far, np.zeros((2, 1)), np.array([1.0, 3.0]), np.ones((3, 1)))
    array([2., 2., 2.])
    """
    fn = "query_predictions"
    cx = to_numpy(check_array(context_xs, "context_xs", fn, min_ndim=2))
    cy = to_numpy(check_array(context_ys, "context_ys", fn, min_ndim=1))
    px = to_numpy(check_array(probe_xs, "probe_xs", fn, min_ndim=2))
    if cx.shape[:-1] != cy.shape:
        raise ValueError(f"{fn}: context_xs and context_ys disagree: context_xs has {cx.shape}, "
                         f"context_ys has {cy.shape}")
    if px.shape[-1] != cx.shape[-1]:
        raise ValueError(f"{fn}: probe_xs has d = {px.shape[-1]}, context_xs has d = {cx.shape[-1]}")
    k, m = cx.shape[-2], px.shape[-2]
    batch = np.broadcast_shapes(cx.shape[:-2], px.shape[:-2])
    cx = np.broadcast_to(cx[..., None, :, :], batch + (m,) + cx.shape[-2:])
    cy = np.broadcast_to(cy[..., None, :], batch + (m, k))
    xs = np.concatenate([cx, np.broadcast_to(px, batch + px.shape[-2:])[..., None, :]], axis=-2)  # (..., m, k+1, d)
    ys = np.concatenate([cy, np.zeros(batch + (m, 1), dtype=cy.dtype)], axis=-1)  # (..., m, k+1)
    return to_numpy(predict_prefixes(xs, ys))[..., k]


def implicit_weights(predict_prefixes: Callable, context_xs, context_ys, probe_xs) -> tuple[np.ndarray, np.ndarray]:
    r"""The affine map a predictor applies to queries for a fixed context (Akyurek's ILWD).

    Queries the predictor at ``m >= d + 1`` probe points with the context held fixed
    and fits, by least squares,

    .. math:: f(x_j) \approx x_j^\top \hat w_{\mathrm{imp}} + b, \quad j = 1..m.

    For any predictor linear in the query (OLS, ridge, GD) this returns its own
    weight vector and ``b = 0`` exactly (up to rounding).

    Parameters
    ----------
    predict_prefixes : callable
        ``predict_prefixes(xs, ys) -> preds`` (the seam).
    context_xs : array of shape (..., k, d)
    context_ys : array of shape (..., k)
    probe_xs : array of shape (..., m, d), m >= d + 1, in general position

    Returns
    -------
    w : ndarray of shape (..., d)
    b : ndarray of shape (...)

    References
    ----------
    Akyurek et al. 2023, "What learning algorithm is in-context learning?", Sec. 4.1 (ILWD).

    Example
    -------
    >>> import numpy as np
    >>> w_true = np.array([2.0, -1.0])
    >>> linear = lambda xs, ys: xs @ w_true  # ignores the context
    >>> w, b = implicit_weights(linear, np.zeros((1, 2)), np.zeros(1), np.array([[1., 0.], [0., 1.], [1., 1.]]))
    >>> np.round(w, 6), bool(abs(b) < 1e-9)
    (array([ 2., -1.]), True)
    """
    fn = "implicit_weights"
    px = to_numpy(check_array(probe_xs, "probe_xs", fn, min_ndim=2)).astype(np.float64)
    m, d = px.shape[-2:]
    if m < d + 1:
        raise ValueError(f"{fn}: probe_xs needs at least d + 1 = {d + 1} probes, got {m}")
    f = query_predictions(predict_prefixes, context_xs, context_ys, probe_xs).astype(np.float64)  # (..., m)
    design = np.concatenate([np.broadcast_to(px, f.shape + (d,)), np.ones(f.shape + (1,))], axis=-1)  # (..., m, d+1)
    if np.any(np.linalg.matrix_rank(design) < d + 1):
        raise ValueError(f"{fn}: probe_xs must span R^d affinely (the design [x, 1] is rank deficient)")
    gram = np.swapaxes(design, -1, -2) @ design
    coef = np.linalg.solve(gram, (np.swapaxes(design, -1, -2) @ f[..., None]))[..., 0]
    return coef[..., :d], coef[..., d]


def implicit_weight_distance(w_a, w_b) -> np.ndarray:
    r"""``||w_a - w_b||^2`` over the last axis (Akyurek's ILWD for one context each).

    >>> import numpy as np
    >>> implicit_weight_distance(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array(4.)
    """
    a = to_numpy(check_array(w_a, "w_a", "implicit_weight_distance", min_ndim=1)).astype(np.float64)
    b = to_numpy(check_array(w_b, "w_b", "implicit_weight_distance", min_ndim=1)).astype(np.float64)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"implicit_weight_distance: w_a has d = {a.shape[-1]}, w_b has d = {b.shape[-1]}")
    return np.asarray(((a - b) ** 2).sum(axis=-1))


def linear_probe(features_train, target_train, features_test, target_test, lam: float = 1e-3) -> float:
    r"""Held-out R^2 of a ridge read-out from features (hidden states) to a target.

    Fits, on centred training data, :math:`B = (F^\top F + \lambda N I)^{-1} F^\top T`
    and scores the test set with the pooled coefficient of determination

    .. math:: R^2 = 1 - \frac{\sum_{i,j} (T_{ij} - \hat T_{ij})^2}{\sum_{i,j} (T_{ij} - \bar T_j)^2},

    where :math:`\bar T` is the test mean. 1 is a perfect read-out, 0 is no better than
    the mean, and it can be negative on noise (overfitting).

    Parameters
    ----------
    features_train : array of shape (N, C)
    target_train : array of shape (N,) or (N, T)
    features_test : array of shape (M, C)
    target_test : array of shape (M,) or (M, T)
    lam : float
        Ridge penalty per sample (>= 0).

    References
    ----------
    Akyurek et al. 2023, "What learning algorithm is in-context learning?", Sec. 5 (probing).

    Example
    -------
    >>> import numpy as np
    >>> F = np.arange(12.0).reshape(6, 2) % 5
    >>> round(linear_probe(F[:4], F[:4] @ [1.0, 2.0], F[4:], F[4:] @ [1.0, 2.0], lam=0.0), 6)
    1.0
    """
    fn = "linear_probe"
    lam = check_nonnegative(lam, "lam", fn)
    ftr = to_numpy(check_array(features_train, "features_train", fn, ndim=2)).astype(np.float64)
    fte = to_numpy(check_array(features_test, "features_test", fn, ndim=2)).astype(np.float64)
    ttr = to_numpy(check_array(target_train, "target_train", fn, min_ndim=1)).astype(np.float64)
    tte = to_numpy(check_array(target_test, "target_test", fn, min_ndim=1)).astype(np.float64)
    ttr, tte = ttr.reshape(len(ttr), -1), tte.reshape(len(tte), -1)
    if len(ftr) != len(ttr) or len(fte) != len(tte):
        raise ValueError(f"{fn}: features and targets disagree on the number of rows: train {len(ftr)} vs "
                         f"{len(ttr)}, test {len(fte)} vs {len(tte)}")
    if ftr.shape[1] != fte.shape[1] or ttr.shape[1] != tte.shape[1]:
        raise ValueError(f"{fn}: train and test disagree in width: features {ftr.shape[1]} vs {fte.shape[1]}, "
                         f"targets {ttr.shape[1]} vs {tte.shape[1]}")
    check_int(len(tte), "len(target_test)", fn, minimum=2)
    fmean, tmean = ftr.mean(0), ttr.mean(0)
    fc, tc = ftr - fmean, ttr - tmean
    gram = fc.T @ fc + lam * len(fc) * np.eye(fc.shape[1])
    coef = np.linalg.lstsq(gram, fc.T @ tc, rcond=None)[0]  # lstsq: exact when lam = 0 and F is rank deficient
    pred = (fte - fmean) @ coef + tmean
    sst = ((tte - tte.mean(0)) ** 2).sum()
    if sst == 0:
        raise ValueError(f"{fn}: target_test is constant, so R^2 is undefined")
    return float(1.0 - ((tte - pred) ** 2).sum() / sst)


# ----------------------------------------------------------------------------------------
# Predictive distributions: nats, calibration, CRPS (Mueller et al. 2022; Gneiting & Raftery 2007)


class PITHistogram(NamedTuple):
    """A PIT histogram: ``density`` per bin (1 everywhere when uniform), its ``edges`` and a KS p-value."""

    density: np.ndarray
    edges: np.ndarray
    ks_pvalue: float


def _unit_interval(u, name: str, fn: str) -> np.ndarray:
    a = _flat_prompts(u, name, fn)
    if np.any((a < 0) | (a > 1)):
        raise ValueError(f"{fn}: {name} must lie in [0, 1] (PIT values F(y)), got values in [{a.min():g}, {a.max():g}]")
    return a


def nll_curve(log_probs, *, level: float = 0.95, method: str = "normal", seed: int = 0,
              n_boot: int = 1000) -> Curve:
    r"""Mean negative log predictive density per prefix length k, in nats, with a ``level`` band.

    .. math:: \mathrm{NLL}_k = -\frac{1}{P} \sum_{p=1}^P \log q(y_{p,k} \mid x_{p,k}, D_{p,k})

    Parameters
    ----------
    log_probs : array of shape (..., n)
        ``log q(y_k | x_k, first k pairs)`` of a predictive q; leading axes are prompts.
    level, method, seed, n_boot
        The band, as in :func:`error_curve`.

    Returns
    -------
    Curve
        ``(mean, lo, hi)``, each of shape (n,).

    References
    ----------
    Gneiting & Raftery 2007, "Strictly proper scoring rules, prediction, and estimation", Sec. 4.1
    (the logarithmic score); Mueller et al. 2022, "Transformers Can Do Bayesian Inference", Sec. 5.

    Example
    -------
    >>> import numpy as np
    >>> nll_curve(np.log(np.array([[0.5, 0.25], [0.5, 0.25]]))).mean.round(4)
    array([0.6931, 1.3863])
    """
    fn = "nll_curve"
    return _mean_band(-_flat_prompts(log_probs, "log_probs", fn), level, method, seed, n_boot, fn)


def bayes_gap(log_p_bayes, log_p_model, *, level: float = 0.95, method: str = "normal", seed: int = 0,
              n_boot: int = 1000) -> Curve:
    r"""Nats a predictive sits above the exact Bayes predictive, per prefix length k, with a ``level`` band.

    .. math:: \mathrm{gap}_k = \frac{1}{P} \sum_p \left[\log p_B(y_{p,k} \mid \cdot) - \log q(y_{p,k} \mid \cdot)\right]

    On prompts drawn from the prior, its expectation is the expected KL divergence from the Bayes
    predictive p_B to q, so it is >= 0 and 0 only for q = p_B; the sample mean can dip below 0 by
    chance. Pairing the two log densities on the same prompts removes the noise of y itself.

    Parameters
    ----------
    log_p_bayes, log_p_model : array of shape (..., n)
        Log densities of the same targets under the exact predictive and under the model.
    level, method, seed, n_boot
        The band, as in :func:`error_curve`.

    Returns
    -------
    Curve
        ``(mean, lo, hi)``, each of shape (n,), in nats.

    References
    ----------
    Mueller et al. 2022, "Transformers Can Do Bayesian Inference", Sec. 5 (PFNs against the exact
    GP predictive in nats); Cover & Thomas 2006, Sec. 2.3 (KL divergence as an expected log ratio).

    Example
    -------
    >>> import numpy as np
    >>> lp = np.log(np.array([[0.5, 0.25], [0.4, 0.2]]))
    >>> bayes_gap(lp, lp).mean
    array([0., 0.])
    """
    fn = "bayes_gap"
    b, m = _flat_prompts(log_p_bayes, "log_p_bayes", fn), _flat_prompts(log_p_model, "log_p_model", fn)
    if b.shape != m.shape:
        raise ValueError(f"{fn}: log_p_bayes and log_p_model disagree in shape: {b.shape} and {m.shape}")
    return _mean_band(b - m, level, method, seed, n_boot, fn)


def pit_histogram(u, n_bins: int = 10) -> PITHistogram:
    r"""Histogram of probability integral transform values u = F(y), pooled over every entry given.

    For a calibrated predictive F and y drawn from the truth, u is uniform on [0, 1]: every bin's
    ``density`` is 1. A U shape means too narrow a predictive, a hump too wide, a slope a biased
    mean. ``ks_pvalue`` is the Kolmogorov-Smirnov test of uniformity on the pooled values (it
    treats them as independent; pass one position k at a time when they are not).

    Parameters
    ----------
    u : array of shape (...,)
        PIT values in [0, 1] (e.g. ``model.cdf(xs, ys)[:, k]``).
    n_bins : int
        Equal-width bins on [0, 1].

    Returns
    -------
    PITHistogram
        ``density`` (n_bins,), ``edges`` (n_bins + 1,), ``ks_pvalue``.

    References
    ----------
    Dawid 1984, "Statistical theory: the prequential approach" (the PIT); Gneiting, Balabdaoui &
    Raftery 2007, "Probabilistic forecasts, calibration and sharpness", Sec. 3.1 (PIT histograms).

    Example
    -------
    >>> import numpy as np
    >>> pit_histogram(np.array([0.05, 0.3, 0.55, 0.8]), n_bins=4).density
    array([1., 1., 1., 1.])
    """
    fn = "pit_histogram"
    n_bins = check_int(n_bins, "n_bins", fn, minimum=1)
    a = _unit_interval(u, "u", fn).ravel()
    counts, edges = np.histogram(a, bins=n_bins, range=(0.0, 1.0))
    pvalue = float(stats.kstest(a, "uniform").pvalue) if a.size else float("nan")
    return PITHistogram(counts / max(a.size, 1) * n_bins, edges, pvalue)


def interval_coverage(u, level: float, *, ci: float = 0.95) -> Curve:
    r"""Share of prompts whose y_k falls in the predictive's central ``level`` interval, per k.

    y_k lies in the central interval ``[F^{-1}((1 - level)/2), F^{-1}((1 + level)/2)]`` exactly when
    its PIT value u = F(y_k) satisfies ``|u - 1/2| <= level / 2`` (F continuous), so coverage needs
    no quantile function. A calibrated predictive covers ``level``; a too narrow one less.
    The band is the exact (Clopper-Pearson) ``ci`` interval of a binomial rate.

    Parameters
    ----------
    u : array of shape (..., n)
        PIT values; leading axes are prompts.
    level : float in (0, 1)
        Nominal coverage of the central interval (0.5, 0.9, ...).
    ci : float in (0, 1)
        Confidence of the band.

    Returns
    -------
    Curve
        ``(coverage, lo, hi)``, each of shape (n,).

    References
    ----------
    Gneiting, Balabdaoui & Raftery 2007, Sec. 3 (coverage of central prediction intervals);
    Clopper & Pearson 1934 (the exact binomial interval).

    Example
    -------
    >>> import numpy as np
    >>> interval_coverage(np.array([[0.5, 0.01], [0.3, 0.9], [0.7, 0.99], [0.2, 0.5]]), 0.5).mean
    array([0.75, 0.25])
    """
    fn = "interval_coverage"
    a = _unit_interval(u, "u", fn)
    for value, name in ((level, "level"), (ci, "ci")):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{fn}: {name} must be in (0, 1), got {value}")
    hits = (np.abs(a - 0.5) <= level / 2).sum(axis=0)
    trials = a.shape[0]
    alpha = 1.0 - ci
    lo = np.where(hits > 0, stats.beta.ppf(alpha / 2, hits, trials - hits + 1), 0.0)
    hi = np.where(hits < trials, stats.beta.ppf(1 - alpha / 2, hits + 1, trials - hits), 1.0)
    return Curve(hits / trials, lo, hi)


def calibration_error(u, levels=None) -> np.ndarray:
    r"""Expected calibration error of central intervals per k: the mean |coverage - nominal| over levels.

    .. math:: \mathrm{ECE}_k = \frac{1}{J} \sum_{j=1}^J \left| \hat c_k(\ell_j) - \ell_j \right|,
       \qquad \hat c_k(\ell) = \frac{1}{P} \sum_p \mathbf 1\{|u_{p,k} - 1/2| \le \ell / 2\}

    (the L1 form of the calibration error of Kuleshov et al. 2018, on central intervals). 0 for a
    calibrated predictive up to sampling noise (about ``0.4 / sqrt(P)``), up to 1/2 for a useless one.

    Parameters
    ----------
    u : array of shape (..., n)
        PIT values; leading axes are prompts.
    levels : array of shape (J,), optional
        Nominal levels in (0, 1); default 0.05, 0.10, ..., 0.95.

    Returns
    -------
    ndarray of shape (n,)

    References
    ----------
    Kuleshov, Fenner & Ermon 2018, "Accurate uncertainties for deep learning using calibrated
    regression", Sec. 3.5 (calibration error).

    Example
    -------
    >>> import numpy as np
    >>> u = (np.arange(1000) + 0.5)[:, None] / 1000  # perfectly uniform PIT values
    >>> float(calibration_error(u)[0]) < 1e-3
    True
    """
    fn = "calibration_error"
    a = _unit_interval(u, "u", fn)
    lv = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=np.float64).ravel()
    if lv.size == 0 or np.any((lv <= 0) | (lv >= 1)):
        raise ValueError(f"{fn}: levels must be numbers in (0, 1), got {levels!r}")
    covered = (np.abs(a - 0.5)[None] <= lv[:, None, None] / 2).mean(axis=1)  # (J, n)
    return np.abs(covered - lv[:, None]).mean(axis=0)


def gaussian_log_prob(mean, var, y) -> np.ndarray:
    r"""``log N(y; mean, var)`` elementwise (broadcasting), float64: a Gaussian predictive's log density.

    >>> import numpy as np
    >>> round(float(gaussian_log_prob(0.0, 1.0, 0.0)), 6)
    -0.918939
    """
    m, v, t = _gaussian_args(mean, var, y, "gaussian_log_prob")
    return -0.5 * (np.log(2 * np.pi * v) + (t - m) ** 2 / v)


def gaussian_pit(mean, var, y) -> np.ndarray:
    r"""``Phi((y - mean) / sqrt(var))`` elementwise: the PIT value of y under N(mean, var).

    >>> round(float(gaussian_pit(1.0, 4.0, 1.0)), 6)
    0.5
    """
    m, v, t = _gaussian_args(mean, var, y, "gaussian_pit")
    return stats.norm.cdf((t - m) / np.sqrt(v))


def gaussian_crps(mean, var, y) -> np.ndarray:
    r"""CRPS of the Gaussian predictive N(mean, var) at y, in closed form (lower is better).

    .. math:: \mathrm{CRPS}(N(\mu, \sigma^2), y) = \int (F(t) - \mathbf 1\{t \ge y\})^2\,dt
       = \sigma \left[ z (2\Phi(z) - 1) + 2 \varphi(z) - \frac{1}{\sqrt\pi} \right], \quad z = \frac{y - \mu}{\sigma}

    It scores a mean-only predictor once a variance is stated (e.g. the noise variance) and, unlike
    the log score, stays finite for a point mass (sigma -> 0 gives |y - mu|).

    Parameters
    ----------
    mean, var, y : arrays broadcasting to one shape
        Predictive means, variances (> 0) and observed values.

    Returns
    -------
    ndarray of the broadcast shape, float64

    References
    ----------
    Gneiting & Raftery 2007, "Strictly proper scoring rules, prediction, and estimation", Sec. 4.2
    (the CRPS and its closed form for the normal).

    Example
    -------
    >>> round(float(gaussian_crps(0.0, 1.0, 0.0)), 6)  # (2 - sqrt(2)) / sqrt(2 pi)
    0.233695
    """
    m, v, t = _gaussian_args(mean, var, y, "gaussian_crps")
    s = np.sqrt(v)
    z = (t - m) / s
    return s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def _gaussian_args(mean, var, y, fn: str):
    m, v, t = (np.asarray(to_numpy(a), dtype=np.float64) for a in (mean, var, y))
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(t))):
        raise ValueError(f"{fn}: mean and y must be finite")
    if np.any(~(v > 0)) or not np.all(np.isfinite(v)):
        raise ValueError(f"{fn}: var must be finite and > 0 (a variance), got min {np.min(v):g}")
    return m, v, t
