"""icl.metrics on data with known answers: bands cover the true mean at their level, SPD of a
predictor with itself is 0, implicit weights recover the weights of predictors linear in the
query, probes score 1 on exact read-outs and the population R^2 on noisy ones; the exact predictive
is 0 nats above itself and a too wide one its KL divergence, PIT values of a calibrated Gaussian are
uniform and its central intervals cover their level (a too narrow one's do not), and the closed-form
CRPS equals the quadrature of its definition."""

from __future__ import annotations

import numpy as np
import pytest

from estimators import linear
from icl.metrics import (
    Curve,
    error_curve,
    implicit_weight_distance,
    implicit_weights,
    linear_probe,
    prediction_divergence,
    query_predictions,
)

# ----------------------------------------------------------------------------------------
# Error curves and their bands


def _coverage(method: str, level: float, n_prompts: int, reps: int, n_boot: int = 400) -> float:
    """Share of (replicate, position) bands that contain the true mean error 1 of the zero predictor.

    y ~ N(0, 1) and the zero predictor give squared errors chi^2_1 with mean exactly 1 = E[y^2].
    """
    rng = np.random.default_rng(2024)
    hits = []
    for r in range(reps):
        ys = rng.standard_normal((n_prompts, 5))
        c = error_curve(np.zeros_like(ys), ys, y2=1.0, level=level, method=method, n_boot=n_boot, seed=r)
        hits.append((c.lo <= 1.0) & (1.0 <= c.hi))
    return float(np.mean(hits))


def test_normal_band_covers_the_true_mean_at_its_level():
    # 400 replicates x 5 positions = 2000 independent bands: the binomial sd of the coverage is
    # 0.005, so [0.92, 0.97] is +-3 sd around 0.95 with room for the chi^2 skew at P = 500.
    assert 0.92 <= _coverage("normal", 0.95, n_prompts=500, reps=400) <= 0.97
    # control: a 50% band must miss about half the time (a vacuous band would cover always)
    assert 0.44 <= _coverage("normal", 0.5, n_prompts=500, reps=400) <= 0.56


def test_bootstrap_band_covers_the_true_mean_at_its_level():
    # 200 x 5 = 1000 bands (sd 0.007); the percentile bootstrap undercovers slightly for skewed data
    assert 0.91 <= _coverage("bootstrap", 0.95, n_prompts=200, reps=200) <= 0.97


def test_band_shrinks_like_one_over_sqrt_prompts_and_nests_by_level():
    rng = np.random.default_rng(0)
    ys = rng.standard_normal((4000, 3))
    small = error_curve(np.zeros((1000, 3)), ys[:1000])
    large = error_curve(np.zeros((4000, 3)), ys)
    ratio = (large.hi - large.lo) / (small.hi - small.lo)
    assert np.all((0.4 < ratio) & (ratio < 0.6))  # 1 / sqrt(4) = 0.5
    narrow, wide = error_curve(np.zeros((1000, 3)), ys[:1000], level=0.8), small
    assert np.all((wide.lo < narrow.lo) & (narrow.lo <= narrow.mean) & (narrow.mean <= narrow.hi)
                  & (narrow.hi < wide.hi))


def test_error_curve_known_values_normaliser_and_scale_invariance():
    rng = np.random.default_rng(1)
    preds, ys = rng.standard_normal((50, 4)), rng.standard_normal((50, 4))
    c = error_curve(preds, ys, y2=2.0)
    assert isinstance(c, Curve)
    np.testing.assert_allclose(c.mean, ((preds - ys) ** 2).mean(0) / 2.0, rtol=1e-12)
    scaled = error_curve(3.0 * preds, 3.0 * ys, y2=18.0)  # (3e)^2 / (9 * 2) = e^2 / 2
    for a, b in zip(scaled, c):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # leading axes are prompts: (5, 10, n) is the same as (50, n)
    batched = error_curve(preds.reshape(5, 10, 4), ys.reshape(5, 10, 4), y2=2.0)
    for a, b in zip(batched, c):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_error_curve_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"preds and ys disagree in shape: preds has \(2, 3\), ys has \(2, 4\)"):
        error_curve(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="level must be in"):
        error_curve(np.zeros((2, 3)), np.ones((2, 3)), level=1.5)
    with pytest.raises(ValueError, match="at least 2 prompts"):
        error_curve(np.zeros((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="method must be 'normal' or 'bootstrap'"):
        error_curve(np.zeros((2, 3)), np.ones((2, 3)), method="exact")


# ----------------------------------------------------------------------------------------
# Squared prediction divergence (SPD)


def test_spd_of_a_predictor_with_itself_is_zero_and_spd_is_symmetric():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((30, 6)), rng.standard_normal((30, 6))
    same = prediction_divergence(a, a)
    for part in same:
        np.testing.assert_array_equal(part, np.zeros(6))
    ab, ba = prediction_divergence(a, b, y2=3.0), prediction_divergence(b, a, y2=3.0)
    for x, y in zip(ab, ba):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    # SPD(f, g) is the error curve of f against g's predictions
    for x, y in zip(ab, error_curve(a, b, y2=3.0)):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_spd_of_a_constant_offset_is_its_square():
    a = np.random.default_rng(3).standard_normal((20, 5))
    c = prediction_divergence(a, a + 0.5, y2=0.25)  # 0.5^2 / 0.25 = 1 for every prompt
    np.testing.assert_allclose(c.mean, np.ones(5), rtol=1e-12)
    np.testing.assert_allclose(c.hi - c.lo, np.zeros(5), atol=1e-12)  # no spread, no band


# ----------------------------------------------------------------------------------------
# Queries with a fixed context, implicit weights (ILWD)


def _noiseless_context(d: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    xs = rng.standard_normal((k, d))
    return w, xs, xs @ w


def test_query_predictions_match_the_predictor_on_the_full_prompt():
    d, k = 3, 6
    w, cx, cy = _noiseless_context(d, k)
    probes = np.random.default_rng(1).standard_normal((4, d))
    out = query_predictions(linear.ols_prefixes, cx, cy, probes)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, probes @ w, atol=1e-8)  # k >= d: OLS recovers w from the context


def test_implicit_weights_of_ols_and_ridge_are_their_closed_forms():
    d, k, lam = 4, 3, 0.7
    w, cx, cy = _noiseless_context(d, k, seed=5)
    probes = np.random.default_rng(6).standard_normal((d + 3, d))
    w_ols, b_ols = implicit_weights(linear.ols_prefixes, cx, cy, probes)
    np.testing.assert_allclose(w_ols, np.linalg.pinv(cx) @ cy, atol=1e-8)  # k < d: the min-norm solution
    assert abs(b_ols) < 1e-8
    w_ridge, b_ridge = implicit_weights(lambda xs, ys: linear.ridge_prefixes(xs, ys, lam=lam), cx, cy, probes)
    expected = np.linalg.solve(cx.T @ cx + lam * np.eye(d), cx.T @ cy)  # (X^T X + lam I)^{-1} X^T y
    np.testing.assert_allclose(w_ridge, expected, atol=1e-8)
    assert abs(b_ridge) < 1e-8


def test_implicit_weights_find_the_offset_of_an_affine_predictor_and_broadcast():
    w_true = np.array([[1.0, -2.0], [0.5, 3.0]])  # two contexts, one map each

    def affine(xs, ys):  # ignores the context: f(x) = x^T w_c + 3 for context c
        return np.einsum("cmnd,cd->cmn", xs, w_true) + 3.0

    probes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 5.0]])
    w, b = implicit_weights(affine, np.zeros((2, 1, 2)), np.zeros((2, 1)), probes)
    np.testing.assert_allclose(w, w_true, atol=1e-10)
    np.testing.assert_allclose(b, [3.0, 3.0], atol=1e-10)


def test_implicit_weights_reject_too_few_or_degenerate_probes():
    w, cx, cy = _noiseless_context(3, 4)
    with pytest.raises(ValueError, match=r"at least d \+ 1 = 4 probes, got 3"):
        implicit_weights(linear.ols_prefixes, cx, cy, np.eye(3))
    collinear = np.outer(np.arange(5.0), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="rank deficient"):
        implicit_weights(linear.ols_prefixes, cx, cy, collinear)


def test_implicit_weight_distance_is_a_squared_norm():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    np.testing.assert_allclose(implicit_weight_distance(a, b), ((a - b) ** 2).sum(-1), rtol=1e-12)
    np.testing.assert_array_equal(implicit_weight_distance(a, a), np.zeros(5))
    np.testing.assert_allclose(implicit_weight_distance(a, b), implicit_weight_distance(b, a), rtol=1e-12)
    with pytest.raises(ValueError, match="w_a has d = 3, w_b has d = 2"):
        implicit_weight_distance(a, b[:, :2])


# ----------------------------------------------------------------------------------------
# Linear probes


def test_probe_reads_an_exact_linear_target_perfectly_and_is_affine_invariant():
    rng = np.random.default_rng(8)
    feats = rng.standard_normal((300, 6))
    target = feats @ rng.standard_normal((6, 2))  # (N, 2)
    r2 = linear_probe(feats[:200], target[:200], feats[200:], target[200:], lam=0.0)
    assert r2 == pytest.approx(1.0, abs=1e-10)
    shifted = linear_probe(3.0 * feats[:200] + 1.0, 5.0 * target[:200] - 2.0, 3.0 * feats[200:] + 1.0,
                           5.0 * target[200:] - 2.0, lam=0.0)
    assert shifted == pytest.approx(1.0, abs=1e-10)


def test_probe_r2_matches_the_population_value_and_is_near_zero_on_noise():
    rng = np.random.default_rng(9)
    n, c = 20000, 4
    feats = rng.standard_normal((n, c))
    signal = feats @ np.full(c, 0.5)  # variance c / 4 = 1
    target = signal + rng.standard_normal(n) * np.sqrt(3.0)  # noise variance 3: population R^2 = 1 / 4
    r2 = linear_probe(feats[: n // 2], target[: n // 2], feats[n // 2:], target[n // 2:])
    assert r2 == pytest.approx(0.25, abs=0.03)  # sd of the estimate is about 0.01 at 10000 test rows
    noise = rng.standard_normal(n)
    assert abs(linear_probe(feats[: n // 2], noise[: n // 2], feats[n // 2:], noise[n // 2:])) < 0.01


def test_probe_errors_name_the_problem():
    f = np.random.default_rng(10).standard_normal((6, 2))
    with pytest.raises(ValueError, match="target_test is constant"):
        linear_probe(f[:4], f[:4, 0], f[4:], np.ones(2))
    with pytest.raises(ValueError, match="disagree on the number of rows"):
        linear_probe(f[:4], f[:3, 0], f[4:], f[4:, 0])
    with pytest.raises(ValueError, match="lam"):
        linear_probe(f[:4], f[:4, 0], f[4:], f[4:, 0], lam=-1.0)


# ----------------------------------------------------------------------------------------
# Predictive distributions: nats above Bayes, PIT, coverage, calibration error, CRPS

from scipy import integrate, stats  # noqa: E402

from icl.metrics import (  # noqa: E402
    bayes_gap,
    calibration_error,
    gaussian_crps,
    gaussian_log_prob,
    gaussian_pit,
    interval_coverage,
    nll_curve,
    pit_histogram,
)


def _gaussian_prompts(n_prompts=4000, n=6, seed=0):
    """y ~ N(mu, 1) with a mean mu that differs per prompt and position (a known predictive)."""
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((n_prompts, n))
    return mu, mu + rng.standard_normal((n_prompts, n))


def test_exact_predictive_is_zero_nats_above_itself():
    mu, ys = _gaussian_prompts()
    lp = gaussian_log_prob(mu, 1.0, ys)
    gap = bayes_gap(lp, lp)
    assert np.array_equal(gap.mean, np.zeros(6)) and np.array_equal(gap.lo, gap.hi)


def test_gap_of_a_too_wide_gaussian_is_its_kl_divergence():
    """q = N(mu, 2) against p = N(mu, 1): KL(p || q) = (log 2 + 1/2 - 1) / 2 = 0.0966 nats, inside the band."""
    mu, ys = _gaussian_prompts()
    gap = bayes_gap(gaussian_log_prob(mu, 1.0, ys), gaussian_log_prob(mu, 2.0, ys))
    kl = 0.5 * (np.log(2.0) + 0.5 - 1.0)
    # within two half-widths (about 4 standard errors) at each of the 6 positions, and clearly above 0
    assert np.all(np.abs(gap.mean - kl) < (gap.hi - gap.lo)) and np.all(gap.lo > 0)


def test_nll_of_the_exact_gaussian_is_its_entropy():
    mu, ys = _gaussian_prompts()
    curve = nll_curve(gaussian_log_prob(mu, 1.0, ys))
    entropy = 0.5 * np.log(2 * np.pi * np.e)
    assert np.all(np.abs(curve.mean - entropy) < (curve.hi - curve.lo))  # within about 4 standard errors


def test_pit_of_a_calibrated_gaussian_is_uniform():
    mu, ys = _gaussian_prompts(seed=3)
    hist = pit_histogram(gaussian_pit(mu, 1.0, ys)[:, 2], n_bins=10)
    # 4000 values in 10 bins: each density has sd sqrt(0.9 / 400) = 0.047; 0.2 is 4 sd
    assert np.all(np.abs(hist.density - 1) < 0.2) and hist.edges[0] == 0 and hist.edges[-1] == 1
    assert hist.ks_pvalue > 0.01  # fixed seed: not tiny
    narrow = pit_histogram(gaussian_pit(mu, 0.25, ys)[:, 2], n_bins=10)  # control: a too narrow predictive
    assert narrow.ks_pvalue < 1e-10 and narrow.density[0] > 1.5 and narrow.density[-1] > 1.5  # U shape


def test_coverage_is_nominal_when_calibrated_and_below_when_too_narrow():
    mu, ys = _gaussian_prompts()
    for level in (0.5, 0.9):
        ok = interval_coverage(gaussian_pit(mu, 1.0, ys), level, ci=0.999)  # 6 positions: a 99.9% band each
        assert np.all((ok.lo <= level) & (level <= ok.hi)), level
        narrow = interval_coverage(gaussian_pit(mu, 0.25, ys), level)
        expected = 2 * stats.norm.cdf(0.5 * stats.norm.ppf(0.5 + level / 2)) - 1  # |Z| <= sd * z_level
        assert np.all(narrow.hi < level) and np.all(np.abs(narrow.mean - expected) < 0.03), level


def test_coverage_band_is_the_exact_binomial_interval():
    u = np.array([[0.5], [0.5], [0.5], [0.01]])  # 3 of 4 inside the central 50% interval
    c = interval_coverage(u, 0.5)
    assert c.mean[0] == 0.75
    np.testing.assert_allclose([c.lo[0], c.hi[0]], [stats.beta.ppf(0.025, 3, 2), stats.beta.ppf(0.975, 4, 1)])


def test_calibration_error_is_small_when_calibrated_and_large_when_not():
    mu, ys = _gaussian_prompts()
    assert np.all(calibration_error(gaussian_pit(mu, 1.0, ys)) < 0.02)
    assert np.all(calibration_error(gaussian_pit(mu, 0.25, ys)) > 0.1)
    assert np.all(calibration_error(gaussian_pit(mu, 4.0, ys)) > 0.1)  # too wide fails too


def test_gaussian_crps_matches_quadrature_of_its_definition():
    """CRPS(F, y) = int (F(t) - 1{t >= y})^2 dt, integrated by scipy on both sides of y."""
    for mean, var, y in [(0.0, 1.0, 0.3), (1.5, 0.2, -0.4), (-2.0, 9.0, 4.0), (0.0, 1e-4, 0.01)]:
        F = stats.norm(mean, np.sqrt(var)).cdf
        left = integrate.quad(lambda t: F(t) ** 2, -np.inf, y, limit=200)[0]
        right = integrate.quad(lambda t: (1 - F(t)) ** 2, y, np.inf, limit=200)[0]
        assert gaussian_crps(mean, var, y) == pytest.approx(left + right, rel=1e-6, abs=1e-9)
    assert gaussian_crps(0.0, 1e-12, 2.0) == pytest.approx(2.0, rel=1e-5)  # a point mass scores |y - mean|


def test_gaussian_crps_is_proper_on_average():
    """The expected CRPS under y ~ N(0, 1) is smallest for the true predictive (a proper score)."""
    ys = np.random.default_rng(1).standard_normal(200_000)
    scores = {v: gaussian_crps(0.0, v, ys).mean() for v in (0.5, 1.0, 2.0)}
    assert scores[1.0] < scores[0.5] and scores[1.0] < scores[2.0]
    assert scores[1.0] == pytest.approx(1 / np.sqrt(np.pi), rel=0.01)  # E|Y - Y'| / 2 for Y, Y' ~ N(0, 1)


def test_predictive_metrics_name_bad_inputs():
    with pytest.raises(ValueError, match=r"interval_coverage: u must lie in \[0, 1\]"):
        interval_coverage(np.array([[1.5]]), 0.5)
    with pytest.raises(ValueError, match=r"interval_coverage: level must be in \(0, 1\), got 1.0"):
        interval_coverage(np.array([[0.5]]), 1.0)
    with pytest.raises(ValueError, match="gaussian_crps: var must be finite and > 0"):
        gaussian_crps(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="bayes_gap: log_p_bayes and log_p_model disagree in shape"):
        bayes_gap(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="calibration_error: levels must be numbers in"):
        calibration_error(np.array([[0.5]]), levels=[0.0, 0.5])
