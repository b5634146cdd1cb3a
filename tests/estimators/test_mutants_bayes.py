"""Properties of the Gaussian, mixture, finite and sparse priors that mutation testing found unchecked.

Closed forms written out in numpy are the oracle: the Gaussian posterior and evidence
(Rasmussen & Williams 2006, eq. 2.30), posterior weights of a finite pool, a sparse prior as the
explicit mixture over its supports, chunking that changes nothing, sampling moments, and errors
that name their parameter (docs/testing.md).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from estimators.bayes import FinitePrior, GaussianPrior, MixturePrior, SparsePrior


def _prompt(seed, B=2, n=6, d=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, n, d)), rng.standard_normal((B, n))


def _gaussian_posterior(mu, S, X, y, noise):
    """Mean, covariance and log evidence of N(mu, S) after y = X w + N(0, noise I) (R&W eq. 2.30)."""
    K = X @ S @ X.T + noise * np.eye(len(y))
    gain = S @ X.T @ np.linalg.inv(K)
    r = y - X @ mu
    log_ev = -0.5 * (r @ np.linalg.solve(K, r) + np.linalg.slogdet(K)[1] + len(y) * np.log(2 * np.pi))
    return mu + gain @ r, S - gain @ X @ S, log_ev


def test_gaussian_posterior_with_a_mean_and_correlations_has_the_closed_form():
    mu, S = np.array([0.5, -1.0, 2.0]), np.array([[2.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 0.5]])
    X, y = _prompt(1, B=1)
    prior = GaussianPrior(mu, S)
    post = prior.posterior(X[0], y[0], noise=0.7)
    mean, cov, log_ev = _gaussian_posterior(mu, S, X[0], y[0], 0.7)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(post.cov, cov, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(post.log_evidence, log_ev, rtol=1e-9)
    preds = prior.predict_prefixes(X[0], y[0], noise=0.7)
    expected = [X[0, k] @ _gaussian_posterior(mu, S, X[0, :k], y[0, :k], 0.7)[0] for k in range(6)]
    np.testing.assert_allclose(preds, expected, rtol=1e-9, atol=1e-12)


def test_mixture_weights_and_prediction_are_bayesian_model_averaging():
    """beta_c ∝ pi_c N(y; X mu_c, X S_c X^T + sigma^2 I) and mean sum_c beta_c m_c (Panwar et al. 2024, section 4)."""
    comps = [GaussianPrior(np.array([1.0, 0.0]), np.eye(2)), GaussianPrior(np.array([-1.0, 2.0]), 0.5 * np.eye(2)),
             GaussianPrior(np.zeros(2), np.diag([3.0, 0.1]))]
    pi = np.array([0.2, 0.5, 0.3])
    X, y = _prompt(2, B=1, n=5, d=2)
    prior = MixturePrior(comps, pi)
    weights = prior.weights_prefixes(X, y, noise=0.4)[0]  # (n, C)
    preds = prior.predict_prefixes(X, y, noise=0.4)[0]
    for k in range(5):
        posts = [_gaussian_posterior(c.mean, c.cov, X[0, :k], y[0, :k], 0.4) for c in comps]
        logw = np.log(pi) + np.array([p[2] for p in posts])
        beta = np.exp(logw - logw.max())
        beta /= beta.sum()
        np.testing.assert_allclose(weights[k], beta, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(preds[k], X[0, k] @ sum(b * p[0] for b, p in zip(beta, posts)), rtol=1e-8)
    post = prior.posterior(X[0], y[0], noise=0.4)
    np.testing.assert_allclose(post.weights, _final_weights(comps, pi, X[0], y[0], 0.4), rtol=1e-8)


def _final_weights(comps, pi, X, y, noise):
    logw = np.log(pi) + np.array([_gaussian_posterior(c.mean, c.cov, X, y, noise)[2] for c in comps])
    beta = np.exp(logw - logw.max())
    return beta / beta.sum()


def test_a_finite_pool_gives_the_dmmse_posterior_weights():
    """beta_m ∝ exp(-|y - X w_m|^2 / (2 sigma^2)) under a uniform prior (Raventos et al. 2023, section 2)."""
    pool = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 2.0, 0.0]])
    X, y = _prompt(3, B=1, n=5)
    prior = FinitePrior(pool)
    weights = prior.weights_prefixes(X, y, noise=0.8)[0]
    preds = prior.predict_prefixes(X, y, noise=0.8)[0]
    for k in range(5):
        logw = -np.sum((y[0, :k, None] - X[0, :k] @ pool.T) ** 2, axis=0) / (2 * 0.8)
        beta = np.exp(logw - logw.max())
        beta /= beta.sum()
        np.testing.assert_allclose(weights[k], beta, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(preds[k], X[0, k] @ (beta @ pool), rtol=1e-9, atol=1e-14)


def test_a_sparse_prior_is_the_mixture_over_its_supports():
    d, k, scale = 4, 2, 1.5
    supports = list(itertools.combinations(range(d), k))
    comps = []
    for s in supports:
        diag = np.zeros(d)
        diag[list(s)] = scale**2
        comps.append(GaussianPrior(np.zeros(d), np.diag(diag)))
    explicit = MixturePrior(comps, np.full(len(supports), 1 / len(supports)))
    sparse = SparsePrior(d, k, scale)
    assert sparse.n_components == len(supports) == 6
    np.testing.assert_array_equal(sparse.supports, np.array(supports))
    X, y = _prompt(4, n=7, d=d)
    np.testing.assert_allclose(sparse.predict_prefixes(X, y, 0.3), explicit.predict_prefixes(X, y, 0.3), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sparse.weights_prefixes(X, y, 0.3), explicit.weights_prefixes(X, y, 0.3), rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("make", [
    lambda c: FinitePrior(np.random.default_rng(5).standard_normal((7, 3)), chunk_size=c),
    lambda c: SparsePrior(3, 1, chunk_size=c),
    lambda c: MixturePrior([GaussianPrior(np.full(3, m), np.eye(3)) for m in (-1.0, 0.0, 2.0)], [0.2, 0.3, 0.5], chunk_size=c),
])
def test_chunking_the_components_changes_nothing(make):
    X, y = _prompt(6)
    one = make(1)
    ref = make(None)
    np.testing.assert_allclose(one.predict_prefixes(X, y, 0.5), ref.predict_prefixes(X, y, 0.5), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(one.weights_prefixes(X, y, 0.5), ref.weights_prefixes(X, y, 0.5), rtol=1e-10, atol=1e-14)


def test_samples_have_the_prior_moments():
    """Means and covariances of 20,000 draws within 5 standard errors (fixed seed)."""
    rng = np.random.default_rng(7)
    mu, S = np.array([1.0, -2.0]), np.array([[2.0, 0.8], [0.8, 1.0]])
    n = 20_000
    w = GaussianPrior(mu, S).sample(n, rng)
    assert w.shape == (n, 2)
    np.testing.assert_allclose(w.mean(0), mu, atol=5 * np.sqrt(np.max(np.diag(S)) / n))
    np.testing.assert_allclose(np.cov(w.T), S, atol=0.06)
    mix = MixturePrior([GaussianPrior(np.array([3.0, 0.0]), 0.1 * np.eye(2)), GaussianPrior(np.array([-3.0, 0.0]), 0.1 * np.eye(2))], [0.25, 0.75])
    wm = mix.sample(n, rng)
    assert abs(np.mean(wm[:, 0] > 0) - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n)
    np.testing.assert_allclose(wm[wm[:, 0] > 0].mean(0), [3.0, 0.0], atol=0.02)
    sp = SparsePrior(5, 2, scale=2.0).sample(n, rng)
    np.testing.assert_array_equal(np.sum(sp != 0, axis=1), 2)
    np.testing.assert_allclose(np.mean(sp**2) * 5 / 2, 4.0, rtol=0.05)  # E|w|^2 = k scale^2
    pool = np.arange(6.0).reshape(3, 2)
    draws = FinitePrior(pool).sample(3000, rng)
    counts = [np.sum(np.all(draws == row, axis=1)) for row in pool]
    assert sum(counts) == 3000 and min(counts) > 900
    for prior in (GaussianPrior(mu, S), mix, SparsePrior(5, 2), FinitePrior(pool)):
        assert prior.sample(0, rng).shape == (0, prior.d)


@pytest.mark.parametrize(
    "call, exc, where, param",
    [
        (lambda: GaussianPrior(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]])), ValueError, "GaussianPrior", "cov"),
        (lambda: GaussianPrior(np.zeros(2), -np.eye(2)), ValueError, "GaussianPrior", "cov"),
        (lambda: GaussianPrior(np.zeros(2), np.eye(3)), ValueError, "GaussianPrior", "cov"),
        (lambda: GaussianPrior.isotropic(0), ValueError, "GaussianPrior.isotropic", "d"),
        (lambda: GaussianPrior.isotropic(2, -1.0), ValueError, "GaussianPrior.isotropic", "scale2"),
        (lambda: GaussianPrior.isotropic(2).sample(-1, np.random.default_rng(0)), ValueError, "GaussianPrior.sample", "n"),
        (lambda: GaussianPrior.isotropic(2).sample(3, 0), TypeError, "GaussianPrior.sample", "rng"),
        (lambda: MixturePrior([GaussianPrior.isotropic(2)], [0.5, 0.5]), ValueError, "MixturePrior", "weights"),
        (lambda: MixturePrior([GaussianPrior.isotropic(2)], [1.0], chunk_size=0), ValueError, "MixturePrior", "chunk_size"),
        (lambda: MixturePrior([GaussianPrior.isotropic(2)], [1.0], memory_budget=0), ValueError, "MixturePrior", "memory_budget"),
        (lambda: FinitePrior(np.ones(3)), ValueError, "FinitePrior", "pool"),
        (lambda: FinitePrior(np.ones((2, 3))).sample(2, None), TypeError, "FinitePrior.sample", "rng"),
        (lambda: SparsePrior(2, 3), ValueError, "SparsePrior", "k"),
        (lambda: SparsePrior(3, 1, scale=0.0), ValueError, "SparsePrior", "scale"),
        (lambda: SparsePrior(0, 1), ValueError, "SparsePrior", "d"),
        (lambda: GaussianPrior.isotropic(3).predict_prefixes(*_prompt(0), noise=-1.0), ValueError, "GaussianPrior.predict_prefixes", "noise"),
        (lambda: GaussianPrior.isotropic(2).predict_prefixes(*_prompt(0), noise=1.0), ValueError, "GaussianPrior.predict_prefixes", "d"),
    ],
)
def test_a_bad_value_names_its_parameter(call, exc, where, param):
    with pytest.raises(exc, match=rf"^{re.escape(where)}: .*\b{param}\b"):
        call()


def test_a_gaussian_prior_has_no_weights_and_reprs_name_the_sizes():
    with pytest.raises(TypeError, match="MixturePrior"):
        GaussianPrior.isotropic(2).weights_prefixes(*_prompt(0, d=2), noise=1.0)
    assert repr(GaussianPrior.isotropic(4)) == "GaussianPrior(d=4)"
    assert repr(MixturePrior([GaussianPrior.isotropic(2)] * 3, [0.2, 0.3, 0.5])) == "MixturePrior(d=2, n_components=3)"
    assert repr(FinitePrior(np.ones((5, 2)))) == "FinitePrior(M=5, d=2)"


def test_a_float32_pool_is_kept_in_float64():
    """The pool is the prior's numbers: stored and sampled in float64 whatever dtype it came in."""
    pool = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    prior = FinitePrior(pool)
    assert prior.pool.dtype == np.float64
    assert prior.sample(4, np.random.default_rng(0)).dtype == np.float64
    X, y = _prompt(15)
    np.testing.assert_allclose(prior.predict_prefixes(X, y, 0.5), FinitePrior(pool.astype(float)).predict_prefixes(X, y, 0.5), rtol=1e-12)


def test_a_component_of_weight_zero_does_not_limit_the_noiseless_density():
    """A zero-weight rank-1 component is not in the prior: with noise = 0 the density of 2 points exists."""
    full = GaussianPrior.isotropic(3)
    mix = MixturePrior([full, GaussianPrior(np.zeros(3), np.diag([1.0, 0.0, 0.0]))], [1.0, 0.0])
    X, y = _prompt(16, n=2)
    np.testing.assert_allclose(mix.log_predictive_prefixes(X, y, 0.0), full.log_predictive_prefixes(X, y, 0.0), rtol=1e-9)
    with pytest.raises(ValueError, match=r"noise"):
        MixturePrior(mix.components, [0.5, 0.5]).log_predictive_prefixes(X, y, 0.0)
