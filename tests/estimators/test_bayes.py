"""Tests of estimators.bayes: identities, brute-force oracles, numerical integration, Bayes optimality.

Oracles are independent of the Kalman engine: closed-form Gaussian conditioning
(``m = mu + S X^T K^{-1} (y - X mu)``, ``K = X S X^T + sigma^2 I``), scipy.stats for the
evidence, scipy.integrate for one- and two-dimensional posteriors, explicit enumeration
of supports and sign vectors, and ridge / OLS / lasso from estimators.linear / sparse.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.special import logsumexp

from estimators.bayes import _engine as engine
from estimators.bayes import (
    FeaturePrior,
    FinitePrior,
    FourierFeatures,
    GaussianPosterior,
    GaussianPrior,
    MixturePosterior,
    MixturePrior,
    SignPrior,
    SparsePrior,
    fourier_mixture_prior,
)
from estimators.linear import ols_prefixes, ridge_prefixes
from estimators.sparse import lasso_prefixes


def prompts(prior, B, n, noise, rng, d_in=None):
    """Prompts drawn from the prior itself: xs ~ N(0, I), ys = xs w + noise."""
    w = prior.sample(B, rng)
    xs = rng.standard_normal((B, n, w.shape[1] if d_in is None else d_in))
    ys = np.einsum("bnd,bd->bn", xs, w) + np.sqrt(noise) * rng.standard_normal((B, n))
    return xs, ys, w


def gaussian_oracle(mu, S, X, y, noise):
    """Closed-form Gaussian conditioning on one prompt: (mean, cov, log evidence)."""
    K = X @ S @ X.T + noise * np.eye(len(y))
    A = np.linalg.solve(K, X @ S).T  # S X^T K^{-1}
    mean = mu + A @ (y - X @ mu)
    cov = S - A @ X @ S
    return mean, cov, stats.multivariate_normal(X @ mu, K, allow_singular=True).logpdf(y)


def mixture_oracle(mus, Ss, log_pi, X, y, noise, with_cov=False):
    """Mixture posterior on one prompt by per-component closed forms: (mean, weights, log evidence[, cov])."""
    parts = [gaussian_oracle(m, S, X, y, noise) for m, S in zip(mus, Ss)]
    logs = np.array([p[2] for p in parts]) + log_pi
    w = np.exp(logs - logsumexp(logs))
    mean = sum(wc * p[0] for wc, p in zip(w, parts))
    if not with_cov:
        return mean, w, logsumexp(logs)
    second = sum(wc * (p[1] + np.outer(p[0], p[0])) for wc, p in zip(w, parts))  # law of total covariance
    return mean, w, logsumexp(logs), second - np.outer(mean, mean)


def oracle_prefixes(mus, Ss, log_pi, xs, ys, noise):
    """Predictions and weights of every prefix of every prompt from the closed forms."""
    B, n, d = xs.shape
    preds, weights = np.zeros((B, n)), np.zeros((B, n, len(mus)))
    for b in range(B):
        for k in range(n):
            if k == 0:
                mean, w = np.einsum("c,cd->d", np.exp(log_pi), np.asarray(mus)), np.exp(log_pi)
            else:
                mean, w, _ = mixture_oracle(mus, Ss, log_pi, xs[b, :k], ys[b, :k], noise)
            preds[b, k], weights[b, k] = xs[b, k] @ mean, w
    return preds, weights


def random_mixture(rng, d, C):
    comps = []
    for _ in range(C):
        A = rng.standard_normal((d, d))
        comps.append(GaussianPrior(2 * rng.standard_normal(d), A @ A.T / d + 0.1 * np.eye(d)))
    return MixturePrior(comps, rng.dirichlet(np.ones(C)))


# ----------------------------------------------------------------------------------------
# Identities


def test_gaussian_equals_ridge_prefixes(backend, rng):
    tau2, sigma2 = 2.0, 0.5
    xs, ys, _ = prompts(GaussianPrior.isotropic(6, tau2), 20, 15, sigma2, rng)
    got = GaussianPrior.isotropic(6, tau2).predict_prefixes(backend(xs), backend(ys), sigma2)
    assert type(got) is type(backend(xs))
    want = ridge_prefixes(xs, ys, lam=sigma2 / tau2)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=1e-9, atol=1e-10)


def test_float32_inputs_give_float32_outputs(rng):
    torch = pytest.importorskip("torch")
    prior = SparsePrior(5, 2)
    xs, ys, _ = prompts(prior, 8, 10, 0.1, rng)
    got = prior.predict_prefixes(torch.tensor(xs, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32), 0.1)
    assert got.dtype == torch.float32 and tuple(got.shape) == (8, 10)
    want = prior.predict_prefixes(xs.astype(np.float32).astype(float), ys.astype(np.float32).astype(float), 0.1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)


def test_backends_agree_for_mixture_weights_and_posterior(backend, rng):
    prior = random_mixture(rng, 3, 3)
    xs, ys, _ = prompts(prior, 4, 6, 0.3, rng)
    w = prior.weights_prefixes(backend(xs), backend(ys), 0.3)
    np.testing.assert_allclose(backend.numpy(w), prior.weights_prefixes(xs, ys, 0.3), rtol=1e-10, atol=1e-12)
    post = prior.posterior(backend(xs), backend(ys), 0.3)
    ref = prior.posterior(xs, ys, 0.3)
    for name in ("mean", "cov", "weights", "log_evidence", "component_means", "component_covs"):
        np.testing.assert_allclose(backend.numpy(getattr(post, name)), getattr(ref, name), rtol=1e-10, atol=1e-12)


def test_one_component_mixture_equals_its_component(rng):
    comp = random_mixture(rng, 4, 1).components[0]
    mix = MixturePrior([comp], [1.0])
    xs, ys, _ = prompts(comp, 10, 9, 0.2, rng)
    np.testing.assert_allclose(mix.predict_prefixes(xs, ys, 0.2), comp.predict_prefixes(xs, ys, 0.2), rtol=1e-12)
    p_mix, p_comp = mix.posterior(xs, ys, 0.2), comp.posterior(xs, ys, 0.2)
    assert isinstance(p_mix, MixturePosterior) and isinstance(p_comp, GaussianPosterior)
    np.testing.assert_allclose(p_mix.mean, p_comp.mean, rtol=1e-12)
    np.testing.assert_allclose(p_mix.cov, p_comp.cov, atol=1e-12)
    np.testing.assert_allclose(p_mix.log_evidence, p_comp.log_evidence, rtol=1e-12)
    np.testing.assert_allclose(p_mix.weights, 1.0)


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_one_task_finite_prior_predicts_the_task(rng, noise):
    task = rng.standard_normal(5)
    xs = rng.standard_normal((3, 7, 5))
    ys = xs @ task + np.sqrt(noise) * rng.standard_normal((3, 7))
    got = FinitePrior(task[None]).predict_prefixes(xs, ys, noise)
    np.testing.assert_allclose(got[:, 1:], (xs @ task)[:, 1:], rtol=1e-12)


def test_posterior_on_a_prefix_matches_predict_prefixes_and_batch_axes(rng):
    prior = random_mixture(rng, 3, 2)
    xs, ys, _ = prompts(prior, 6, 8, 0.1, rng)
    xs, ys = xs.reshape(2, 3, 8, 3), ys.reshape(2, 3, 8)
    preds = prior.predict_prefixes(xs, ys, 0.1)
    assert preds.shape == (2, 3, 8)
    for k in (1, 4, 7):
        post = prior.posterior(xs[..., :k, :], ys[..., :k], 0.1)
        assert post.weights.shape == (2, 3, 2) and post.cov.shape == (2, 3, 3, 3)
        np.testing.assert_allclose(np.sum(post.mean * xs[..., k, :], -1), preds[..., k], rtol=1e-10)


def test_noiseless_gaussian_agrees_with_min_norm_ols(rng):
    """The stated floor: with noise = 0 and w ~ N(0, I), every prefix matches min-norm OLS
    to 1e-5 relative to the RMS of y (measured: about 1e-7 at k = d, 1e-9 elsewhere)."""
    d = 10
    xs, ys, _ = prompts(GaussianPrior.isotropic(d), 200, 25, 0.0, rng)
    got = GaussianPrior.isotropic(d).predict_prefixes(xs, ys, 0.0)
    err = np.abs(got - ols_prefixes(xs, ys)) / np.sqrt(np.mean(ys**2))
    assert err.max() <= 1e-5
    assert np.abs(got[:, d + 1:] - ys[:, d + 1:]).max() <= 1e-8  # w is identified from d points on
    assert engine.FLOOR_RTOL[64] == 1e-13  # the floor stated in the docstrings


def test_chunking_does_not_change_results(rng):
    xs, ys, _ = prompts(SparsePrior(6, 2), 5, 9, 0.05, rng)
    ref = SparsePrior(6, 2).weights_prefixes(xs, ys, 0.05)
    for size in (1, 4, 15):
        got = SparsePrior(6, 2, chunk_size=size).weights_prefixes(xs, ys, 0.05)
        np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-14)


def test_zero_variance_directions_and_feature_prior(rng):
    prior = fourier_mixture_prior(4, period_length=2.0)
    coefs = prior.sample(30, rng)
    x = rng.uniform(-2, 2, size=(30, 12, 1))
    ys = prior.evaluate(x, coefs)
    feats = FourierFeatures(4, 2.0)(x)
    np.testing.assert_allclose(ys, np.einsum("bnD,bD->bn", feats, coefs), rtol=1e-12)
    # max frequency N: coefficients above N are exactly zero
    n_freq = [int(np.max(np.nonzero(np.abs(c[1:5]) + np.abs(c[5:]))[0], initial=-1)) + 1 for c in coefs]
    assert set(n_freq) <= {1, 2, 3, 4}
    got = prior.predict_prefixes(x, ys, 0.01)
    assert np.all(np.isfinite(got))
    mus = [c.mean for c in prior.prior.components]
    Ss = [c.cov for c in prior.prior.components]
    want, w_want = oracle_prefixes(mus, Ss, np.log(prior.prior.weights), feats[:5], ys[:5], 0.01)
    np.testing.assert_allclose(got[:5], want, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(prior.weights_prefixes(x[:5], ys[:5], 0.01), w_want, atol=1e-8)


# ----------------------------------------------------------------------------------------
# Oracles: numerical integration, enumeration, scipy evidence


def _integrate_mixture(prior, X, y, noise, half_width):
    """Posterior component weights, mean and log evidence by adaptive cubature over a box.

    The integrands are ``pi_c N(w; mu_c, S_c) prod_i N(y_i; x_i^T w, noise)`` (and w times
    it), written out in numpy and scaled by a constant (the log evidence at the grid's
    best point) so that they are O(1); the box is wide enough that the prior's tails
    beyond it are far below 1e-12.
    """
    d = prior.d
    comps = [(c.mean, np.linalg.inv(c.cov), np.linalg.slogdet(2 * np.pi * c.cov)[1]) for c in prior.components]

    def log_joint(w):  # w (p, d) -> (p, C)
        ll = -0.5 * np.sum((y[None, :] - w @ X.T) ** 2, axis=1) / noise - 0.5 * len(y) * np.log(2 * np.pi * noise)
        return np.stack([np.log(pi) - 0.5 * np.einsum("pi,ij,pj->p", w - m, P, w - m) - 0.5 * ld + ll
                         for pi, (m, P, ld) in zip(prior.weights, comps)], axis=1)

    grid = np.stack(np.meshgrid(*[np.linspace(-half_width, half_width, 201)] * d), -1).reshape(-1, d)
    shift = np.max(log_joint(grid))

    def f(w):
        dens = np.exp(log_joint(w) - shift)  # (p, C)
        return np.concatenate([dens, w * dens.sum(1, keepdims=True)], axis=1)

    res = integrate.cubature(f, [-half_width] * d, [half_width] * d, rtol=1e-12, atol=1e-14)
    assert res.status == "converged"
    Zc, first = res.estimate[: len(comps)], res.estimate[len(comps):]
    return Zc / Zc.sum(), first / Zc.sum(), np.log(Zc.sum()) + shift


def test_mixture_1d_matches_numerical_integration():
    pis, mus, vs = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.5, 1.5])
    prior = MixturePrior([GaussianPrior(mus[c:c + 1], vs[c] * np.eye(1)) for c in range(2)], pis)
    noise = 0.4
    x = np.array([0.7, -1.2, 0.3, 1.1, 0.5]); y = np.array([0.4, -1.5, 1.0, 0.2, 0.9])
    preds = prior.predict_prefixes(x[:, None], y, noise)
    weights = prior.weights_prefixes(x[:, None], y, noise)
    for k in range(1, 6):
        w_int, mean_int, log_z = _integrate_mixture(prior, x[:k, None], y[:k], noise, half_width=25.0)
        post = prior.posterior(x[:k, None], y[:k], noise)
        np.testing.assert_allclose(post.mean, mean_int, atol=1e-6)
        np.testing.assert_allclose(post.weights, w_int, atol=1e-6)
        np.testing.assert_allclose(post.log_evidence, log_z, atol=1e-6)
        if k < 5:
            np.testing.assert_allclose(preds[k], x[k] * mean_int[0], atol=1e-6)
            np.testing.assert_allclose(weights[k], w_int, atol=1e-6)


def test_mixture_2d_matches_numerical_integration():
    rng = np.random.default_rng(7)
    comps = [GaussianPrior(np.array([1.0, -0.5]), np.array([[1.0, 0.3], [0.3, 0.5]])),
             GaussianPrior(np.array([-1.0, 1.0]), np.array([[0.6, -0.2], [-0.2, 0.8]]))]
    prior, noise = MixturePrior(comps, [0.4, 0.6]), 0.5
    X = rng.standard_normal((3, 2)); y = rng.standard_normal(3)
    w_int, mean_int, log_z = _integrate_mixture(prior, X, y, noise, half_width=12.0)
    post = prior.posterior(X, y, noise)
    np.testing.assert_allclose(post.weights, w_int, atol=1e-6)
    np.testing.assert_allclose(post.mean, mean_int, atol=1e-6)
    np.testing.assert_allclose(post.log_evidence, log_z, atol=1e-6)


def test_log_evidence_matches_scipy(rng):
    A = rng.standard_normal((4, 4))
    gp = GaussianPrior(rng.standard_normal(4), A @ A.T)
    X, y = rng.standard_normal((9, 4)), rng.standard_normal(9)
    want = stats.multivariate_normal(X @ gp.mean, X @ gp.cov @ X.T + 0.3 * np.eye(9)).logpdf(y)
    np.testing.assert_allclose(gp.posterior(X, y, 0.3).log_evidence, want, rtol=1e-10)
    mix = random_mixture(rng, 4, 3)
    logs = [np.log(p) + stats.multivariate_normal(X @ c.mean, X @ c.cov @ X.T + 0.3 * np.eye(9)).logpdf(y)
            for p, c in zip(mix.weights, mix.components)]
    np.testing.assert_allclose(mix.posterior(X, y, 0.3).log_evidence, logsumexp(logs), rtol=1e-10)
    mean, cov, _ = gaussian_oracle(gp.mean, gp.cov, X, y, 0.3)
    post = gp.posterior(X, y, 0.3)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(post.cov, cov, atol=1e-10)


def test_sparse_prior_matches_dense_enumeration(rng):
    prior, noise = SparsePrior(5, 2, scale=1.5), 0.1
    xs, ys, _ = prompts(prior, 4, 8, noise, rng)
    supports = list(itertools.combinations(range(5), 2))
    assert np.array_equal(prior.supports, np.array(supports))
    Ss = [np.diag(np.isin(np.arange(5), s).astype(float)) * 1.5**2 for s in supports]
    mus = [np.zeros(5)] * len(supports)
    want, w_want = oracle_prefixes(mus, Ss, np.full(10, -np.log(10)), xs, ys, noise)
    np.testing.assert_allclose(prior.predict_prefixes(xs, ys, noise), want, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(prior.weights_prefixes(xs, ys, noise), w_want, atol=1e-10)
    post = prior.posterior(xs, ys, noise)
    ref = [mixture_oracle(mus, Ss, np.full(10, -np.log(10)), xs[b], ys[b], noise, with_cov=True) for b in range(4)]
    np.testing.assert_allclose(post.mean, [r[0] for r in ref], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(post.weights, [r[1] for r in ref], atol=1e-10)
    np.testing.assert_allclose(post.log_evidence, [r[2] for r in ref], rtol=1e-10)
    np.testing.assert_allclose(post.cov, [r[3] for r in ref], atol=1e-9)


def test_sign_prior_matches_dense_enumeration(rng):
    prior, noise = SignPrior(6, 0.5), 0.2
    xs, ys, _ = prompts(prior, 5, 9, noise, rng)
    W = 0.5 * np.array(list(itertools.product([1.0, -1.0], repeat=6)))[:, ::-1]  # bit j of c <-> w_j sign
    assert np.array_equal(prior.vectors(), W)
    for b in range(5):
        for k in range(9):
            logs = -np.sum((ys[b, :k, None] - xs[b, :k] @ W.T) ** 2, axis=0) / (2 * noise)
            beta = np.exp(logs - logsumexp(logs))
            np.testing.assert_allclose(prior.weights_prefixes(xs[b], ys[b], noise)[k], beta, atol=1e-12)
            np.testing.assert_allclose(prior.predict_prefixes(xs[b], ys[b], noise)[k], xs[b, k] @ (beta @ W),
                                       atol=1e-12)
        logs = -np.sum((ys[b, :, None] - xs[b] @ W.T) ** 2, axis=0) / (2 * noise)
        beta = np.exp(logs - logsumexp(logs))
        post = prior.posterior(xs[b], ys[b], noise)
        mean = beta @ W
        np.testing.assert_allclose(post.weights, beta, atol=1e-12)
        np.testing.assert_allclose(post.mean, mean, atol=1e-12)
        np.testing.assert_allclose(post.cov, (W.T * beta) @ W - np.outer(mean, mean), atol=1e-12)
        want = logsumexp(logs - 6 * np.log(2)) - 4.5 * np.log(2 * np.pi * noise)  # 9 points, uniform prior
        np.testing.assert_allclose(post.log_evidence, want, rtol=1e-12)


def test_noiseless_sign_and_sparse_identify_the_task(rng):
    for prior in (SignPrior(8, 8**-0.5), SparsePrior(8, 2)):
        xs, ys, _ = prompts(prior, 10, 14, 0.0, rng)
        got = prior.predict_prefixes(xs, ys, 0.0)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got[:, 10:], ys[:, 10:], atol=1e-8)


# ----------------------------------------------------------------------------------------
# Bayes optimality by Monte Carlo on each prior's own samples


def _optimality(prior, noise, baselines, rng, B=1000, n=10, d_in=None):
    if isinstance(prior, FeaturePrior):
        w = prior.sample(B, rng)
        xs = rng.uniform(-prior.feature_map.period_length, prior.feature_map.period_length, (B, n, 1))
        ys = prior.evaluate(xs, w) + np.sqrt(noise) * rng.standard_normal((B, n))
        lin_xs = prior.features(xs)  # the linear baselines regress on the features
    else:
        xs, ys, _ = prompts(prior, B, n, noise, rng)
        lin_xs = xs
    bayes = (prior.predict_prefixes(xs, ys, noise) - ys) ** 2
    z = stats.norm.ppf(0.995)  # two-sided 99%
    for name, f in baselines.items():
        diff = (f(lin_xs, ys) - ys) ** 2 - bayes  # > 0 where the exact predictor is better
        mean, se = diff.mean(0), diff.std(0, ddof=1) / np.sqrt(B)
        assert np.any(mean - z * se > 0), f"{prior}: not significantly better than {name} anywhere: {mean}"
        assert np.all(mean + z * se >= -1e-12), f"{prior}: significantly worse than {name}: {mean}, {se}"


def _lasso(alpha):
    # A loose solve keeps the test fast; Bayes optimality holds against any predictor, and this is one.
    def f(xs, ys):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return lasso_prefixes(xs, ys, alpha, tol=1e-4, max_iter=300)
    return f


BASELINES = {
    "ridge": lambda xs, ys: ridge_prefixes(xs, ys, lam=1.0),
    "ols": lambda xs, ys: ols_prefixes(xs, ys),
    "lasso": _lasso(0.1),
}

OPTIMALITY_CASES = {
    # ridge at lam = 1 is mis-specified for each of these (the Gaussian's own ridge, lam = 0.25, is exact)
    "gaussian": (GaussianPrior.isotropic(4, 2.0), 0.5),
    "mixture": (MixturePrior([GaussianPrior(3.0 * np.eye(4)[0] * s, 0.5 * np.eye(4)) for s in (1, -1)], [0.5, 0.5]), 0.1),
    "finite": (FinitePrior(np.random.default_rng(3).standard_normal((8, 4))), 0.25),
    "sparse": (SparsePrior(4, 1), 0.05),
    "sign": (SignPrior(4, 0.5), 0.1),
}


@pytest.mark.parametrize("case", sorted(OPTIMALITY_CASES))
def test_bayes_optimal_against_ridge_ols_lasso(case):
    prior, noise = OPTIMALITY_CASES[case]
    _optimality(prior, noise, BASELINES, np.random.default_rng(11))


def test_bayes_optimal_fourier_mixture():
    prior = fourier_mixture_prior(3, period_length=2.0)
    _optimality(prior, 0.2, BASELINES, np.random.default_rng(12), B=600, n=14)


# ----------------------------------------------------------------------------------------
# Weights


@given(st.integers(1, 5), st.integers(0, 10**6), st.floats(0.01, 2.0))
def test_weights_are_a_distribution_and_permute_with_components(C, seed, noise):
    rng = np.random.default_rng(seed)
    prior = random_mixture(rng, 2, C)
    xs, ys, _ = prompts(prior, 3, 5, noise, rng)
    w = prior.weights_prefixes(xs, ys, noise)
    assert w.shape == (3, 5, C) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(w[:, 0], np.broadcast_to(prior.weights, (3, C)), atol=1e-14)
    perm = rng.permutation(C)
    permuted = MixturePrior([prior.components[i] for i in perm], prior.weights[perm])
    np.testing.assert_allclose(permuted.weights_prefixes(xs, ys, noise), w[..., perm], atol=1e-12)
    np.testing.assert_allclose(permuted.predict_prefixes(xs, ys, noise), prior.predict_prefixes(xs, ys, noise),
                               rtol=1e-10, atol=1e-12)


def test_finite_pool_weights_permute_with_the_pool(rng):
    pool = rng.standard_normal((6, 3))
    xs, ys, _ = prompts(FinitePrior(pool), 4, 5, 0.3, rng)
    w = FinitePrior(pool).weights_prefixes(xs, ys, 0.3)
    perm = rng.permutation(6)
    np.testing.assert_allclose(FinitePrior(pool[perm]).weights_prefixes(xs, ys, 0.3), w[..., perm], atol=1e-13)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(FinitePrior(pool).predict_prefixes(xs, ys, 0.3)[:, 0], xs[:, 0] @ pool.mean(0))


# ----------------------------------------------------------------------------------------
# Sampling


def test_samples_have_the_prior_structure(rng):
    s = SparsePrior(7, 3, scale=2.0).sample(500, rng)
    assert s.shape == (500, 7) and np.all(np.count_nonzero(s, axis=1) == 3)
    np.testing.assert_allclose(s[s != 0].std(), 2.0, rtol=0.1)
    g = SignPrior(5, 0.2).sample(100, rng)
    assert set(np.unique(g)) == {-0.2, 0.2}
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    w = GaussianPrior(np.array([1.0, -1.0]), A).sample(20000, rng)
    np.testing.assert_allclose(np.cov(w.T), A, atol=0.06)
    m = MixturePrior([GaussianPrior(np.array([5.0]), np.eye(1)), GaussianPrior(np.array([-5.0]), np.eye(1))],
                     [0.2, 0.8]).sample(5000, rng)
    np.testing.assert_allclose(np.mean(m > 0), 0.2, atol=0.02)
    pool = rng.standard_normal((3, 2))
    assert all(any(np.array_equal(r, p) for p in pool) for r in FinitePrior(pool).sample(20, rng))


# ----------------------------------------------------------------------------------------
# Bad input and memory refusals


def test_bad_input_raises_clear_errors(rng):
    xs, ys = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4))
    g = GaussianPrior.isotropic(3)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        g.predict_prefixes(xs, ys, -0.1)
    with pytest.raises(ValueError, match="positive semi-definite"):
        GaussianPrior(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianPrior(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"cov must have shape \(d, d\)"):
        GaussianPrior(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="weights must sum to 1"):
        MixturePrior([g, g], [0.5, 0.6])
    with pytest.raises(ValueError, match="2 components but 3 weights"):
        MixturePrior([g, g], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="components disagree on d"):
        MixturePrior([g, GaussianPrior.isotropic(2)], [0.5, 0.5])
    with pytest.raises(ValueError, match="k must be <= d"):
        SparsePrior(3, 4)
    with pytest.raises(ValueError, match="scale must be > 0"):
        SignPrior(3, -1.0)
    with pytest.raises(ValueError, match="disagree on the number of points"):
        g.predict_prefixes(xs, ys[:, :3], 0.1)
    with pytest.raises(ValueError, match="xs has 3 features but the prior is over d = 2"):
        GaussianPrior.isotropic(2).predict_prefixes(xs, ys, 0.1)
    with pytest.raises(ValueError, match="pool must have 2 dimension"):
        FinitePrior(np.ones(3))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        g.sample(3, 0)
    with pytest.raises(ValueError, match="feature_map gives 5 features but the prior has d = 3"):
        FeaturePrior(FourierFeatures(2), g)
    with pytest.raises(ValueError, match="last axis of size 1"):
        FourierFeatures(2)(xs)
    with pytest.raises(ValueError, match=r"feature_map must map \(..., n, p\) to \(..., n, 4\)"):
        FeaturePrior(lambda x: x, GaussianPrior.isotropic(4)).predict_prefixes(xs, ys, 0.1)
    with pytest.raises(TypeError, match="one component"):
        g.weights_prefixes(xs, ys, 0.1)


def test_sign_prior_refuses_before_allocating():
    prior = SignPrior(20, 20**-0.5)
    xs, ys = np.zeros((1280, 41, 20)), np.zeros((1280, 41))
    with pytest.raises(ValueError, match="memory_budget"):
        prior.weights_prefixes(xs, ys, 0.0)  # would need 1280 * 41 * 2^20 * 8 bytes = 412 GiB
    with pytest.raises(ValueError, match="memory_budget"):
        SignPrior(10, 1.0, memory_budget=1000).predict_prefixes(xs[:, :, :10], ys, 0.0)
    with pytest.raises(ValueError, match="max_components"):
        SignPrior(26, 1.0).predict_prefixes(np.zeros((1, 2, 26)), np.zeros((1, 2)), 0.0)


def test_sign_prior_d20_streams_over_a_million_components(rng):
    """Chunked prediction over all 2^20 sign vectors on a small batch (the benchmark runs the big one)."""
    prior, noise = SignPrior(20, 20**-0.5, memory_budget=2**26), 0.05
    xs, ys, _ = prompts(prior, 1, 3, noise, rng)
    got = prior.predict_prefixes(xs, ys, noise)
    assert got.shape == (1, 3) and abs(got[0, 0]) < 1e-12  # the prior mean is 0
    W = prior.vectors()  # dense enumeration, 2^20 x 20
    for k in (1, 2):
        logs = -np.sum((ys[0, :k, None] - xs[0, :k] @ W.T) ** 2, axis=0) / (2 * noise)
        beta = np.exp(logs - logsumexp(logs))
        np.testing.assert_allclose(got[0, k], xs[0, k] @ (beta @ W), atol=1e-10)


def test_jax_without_x64_computes_in_float32():
    """jax without jax_enable_x64 cannot upcast: the float32 path (floor rtol 1e-6) identifies w from d + 2 points."""
    import subprocess
    import sys

    code = (
        "import numpy as np, jax, jax.numpy as jnp\n"
        "jax.config.update('jax_enable_x64', False)\n"
        "from estimators.bayes import GaussianPrior, SparsePrior\n"
        "rng = np.random.default_rng(0)\n"
        "for prior in (GaussianPrior.isotropic(4), SparsePrior(4, 2)):\n"
        "    w = prior.sample(50, rng); xs = rng.standard_normal((50, 8, 4))\n"
        "    ys = np.einsum('bnd,bd->bn', xs, w)\n"
        "    got = prior.predict_prefixes(jnp.asarray(xs, dtype=jnp.float32), jnp.asarray(ys, dtype=jnp.float32), 0.0)\n"
        "    assert got.dtype == jnp.float32, got.dtype\n"
        "    err = float(np.max(np.abs(np.asarray(got)[:, 6:] - ys[:, 6:])) / np.sqrt(np.mean(ys ** 2)))\n"
        "    assert err < 1e-3, err\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_feature_prior_keeps_the_input_dtype(rng):
    torch = pytest.importorskip("torch")
    prior = fourier_mixture_prior(2, period_length=1.0)
    x = rng.uniform(-1, 1, (3, 6, 1)); ys = prior.evaluate(x, prior.sample(3, rng))
    x32, y32 = torch.tensor(x, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32)
    assert prior.predict_prefixes(x32, y32, 0.1).dtype == torch.float32
    assert prior.weights_prefixes(x32, y32, 0.1).dtype == torch.float32
    post = prior.posterior(x32, y32, 0.1)
    assert post.mean.dtype == torch.float32 and post.weights.dtype == torch.float32
    # float32 inputs are upcast before the feature map: same answer as float64 on the rounded inputs
    want = prior.predict_prefixes(x32.double().numpy(), y32.double().numpy(), 0.1)
    np.testing.assert_allclose(prior.predict_prefixes(x32, y32, 0.1).numpy(), want, rtol=1e-6, atol=1e-6)
