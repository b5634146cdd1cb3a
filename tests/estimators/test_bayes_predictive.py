"""Tests of the posterior predictive of every prior and of the GP (log densities and moments of y_k).

Oracles are independent of the Kalman engine: numerical integration over w (scipy quad / dblquad)
of ``p(y_k | w) p(w | D_k)`` for Gaussian and mixture priors in one and two dimensions; explicit
enumeration of components with closed-form Gaussian conditioning per prompt (sparse supports,
sign vectors, finite pools, Fourier mixtures); scipy.stats for the evidence; Monte Carlo over the
GP posterior (drawn from ``gp_posterior``); integration over y_k of the returned density.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp, roots_legendre

from estimators.bayes import (
    FeaturePrior,
    FinitePrior,
    FourierFeatures,
    GaussianPrior,
    MixturePrior,
    SignPrior,
    SparsePrior,
    fourier_mixture_prior,
)
from estimators.kernels import (
    FourierKernel,
    GaussianKernel,
    LinearKernel,
    gp_log_marginal_likelihood,
    gp_log_predictive_prefixes,
    gp_posterior,
    gp_predictive_moments_prefixes,
    kernel_ridge_prefixes,
)

NOISE = 0.3


def two_component_mixture(d: int) -> MixturePrior:
    comps = [GaussianPrior(np.full(d, -1.5), 0.6 * np.eye(d)),
             GaussianPrior(np.linspace(1.0, 2.0, d), np.eye(d) + 0.3 * (np.ones((d, d)) - np.eye(d)))]
    return MixturePrior(comps, [0.35, 0.65])


def fourier_gaussian_prior(max_freq: int, L: float, s) -> FeaturePrior:
    """Gaussian prior N(0, diag(s_0, s_1..s_N, s_1..s_N)) on Fourier coefficients (the FourierKernel's GP)."""
    s = np.asarray(s, dtype=float)
    return FeaturePrior(FourierFeatures(max_freq, L), GaussianPrior(np.zeros(2 * max_freq + 1),
                                                                  np.diag(np.concatenate([s, s[1:]]))))


PRIORS = {
    "gaussian": lambda: GaussianPrior(np.array([0.5, -1.0, 0.2]), np.array([[1.0, 0.3, 0.0], [0.3, 0.8, 0.1],
                                                                           [0.0, 0.1, 0.5]])),
    "mixture": lambda: two_component_mixture(3),
    "finite": lambda: FinitePrior(np.random.default_rng(3).standard_normal((6, 3))),
    "sparse": lambda: SparsePrior(4, 2, 0.8),
    "sign": lambda: SignPrior(4, 0.5),
    "fourier_mixture": lambda: fourier_mixture_prior(3, period_length=2.0),
}


def prompt(prior, B, n, noise, rng):
    """Prompts drawn from the prior: xs (B, n, p), ys (B, n); Fourier priors take inputs in [-L, L]."""
    w = prior.sample(B, rng)
    if isinstance(prior, FeaturePrior):
        xs = rng.uniform(-2.0, 2.0, (B, n, 1))
        ys = prior.evaluate(xs, w)
    else:
        xs = rng.standard_normal((B, n, prior.d))
        ys = np.einsum("bnd,bd->bn", xs, w)
    return xs, ys + np.sqrt(noise) * rng.standard_normal((B, n))


# ------------------------------------------------------------------------------------------
# oracle: enumerate the components, condition each in closed form


def components(prior):
    """(mean, cov, log prior weight) of every component, dense in d coordinates, and the feature map."""
    if isinstance(prior, FeaturePrior):
        return components(prior.prior)[0], prior.features
    if isinstance(prior, GaussianPrior):
        return [(prior.mean, prior.cov, 0.0)], None
    if isinstance(prior, MixturePrior):
        return [(c.mean, c.cov, np.log(w)) for c, w in zip(prior.components, prior.weights)], None
    if isinstance(prior, SparsePrior):
        C = prior.n_components
        out = []
        for sup in prior.supports:
            S = np.zeros((prior.d, prior.d))
            S[sup, sup] = prior.scale**2
            out.append((np.zeros(prior.d), S, -np.log(C)))
        return out, None
    points = prior.pool if isinstance(prior, FinitePrior) else prior.vectors()
    return [(p, np.zeros((prior.d, prior.d)), -np.log(len(points))) for p in points], None


def component_predictive(mu, S, X, y, x, noise):
    """log evidence of (X, y) and the predictive mean and variance of y at x, by closed-form conditioning."""
    if len(y) == 0:
        return 0.0, x @ mu, x @ S @ x + noise
    K = X @ S @ X.T + noise * np.eye(len(y))
    A = np.linalg.solve(K, X @ S).T  # S X^T K^{-1}
    m, V = mu + A @ (y - X @ mu), S - A @ X @ S
    return stats.multivariate_normal(X @ mu, K).logpdf(y), x @ m, x @ V @ x + noise


def oracle(prior, xs, ys, noise):
    """Log predictive, mean and variance of every prefix of every prompt, (B, n) each, by enumeration."""
    comps, features = components(prior)
    F = xs if features is None else np.asarray(features(xs))
    B, n = ys.shape
    out = np.zeros((3, B, n))
    for b in range(B):
        for k in range(n):
            parts = np.array([(lp + e, m, v) for mu, S, lp in comps
                              for e, m, v in [component_predictive(mu, S, F[b, :k], ys[b, :k], F[b, k], noise)]])
            logw, m, v = parts.T
            p = np.exp(logw - logsumexp(logw))
            log_pred = logsumexp(logw + stats.norm.logpdf(ys[b, k], m, np.sqrt(v))) - logsumexp(logw)
            mean = p @ m
            out[:, b, k] = log_pred, mean, p @ (v + m**2) - mean**2  # sum_c pi_c (s_c^2 + m_c^2) - mean^2
    return out


@pytest.mark.parametrize("name", ["mixture", "finite", "sparse", "sign", "fourier_mixture", "gaussian"])
def test_log_predictive_and_moments_match_enumeration_of_components(name, rng):
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 3, 7, NOISE, rng)
    want_lp, want_mean, want_var = oracle(prior, xs, ys, NOISE)
    got = prior.log_predictive_prefixes(xs, ys, NOISE)
    assert got.shape == ys.shape and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want_lp, rtol=1e-9, atol=1e-9)
    mean, var = prior.predictive_moments_prefixes(xs, ys, NOISE)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(var, want_var, rtol=1e-9, atol=1e-9)
    assert np.all(var >= NOISE * (1 - 1e-12))  # the noise alone is a lower bound


# ------------------------------------------------------------------------------------------
# oracle: numerical integration over w in one and two dimensions


def _log_prior_density(prior, W):
    """log p(w) at the rows of W (m, d)."""
    comps = [prior] if isinstance(prior, GaussianPrior) else prior.components
    weights = [1.0] if isinstance(prior, GaussianPrior) else prior.weights
    return logsumexp([np.log(p) + stats.multivariate_normal(c.mean, c.cov).logpdf(W).reshape(-1)
                      for c, p in zip(comps, weights)], axis=0)


def _integrate_w(f, d, lo, hi):
    """int f(w) dw over [lo, hi]^d: adaptive scipy quad in 1-d; in 2-d a composite 10-point
    Gauss-Legendre product rule on 64 x 64 panels (f vectorised over rows of w; the posteriors
    here have standard deviations >= 0.2, far wider than a panel's 0.25 / 10 node spacing)."""
    if d == 1:
        return integrate.quad(lambda a: f(np.array([[a]]))[0], lo, hi, epsabs=0, epsrel=1e-11, limit=400)[0]
    t, wt = roots_legendre(10)
    edges = np.linspace(lo, hi, 65)
    half = np.diff(edges)[:, None] / 2
    nodes = ((edges[:-1, None] + edges[1:, None]) / 2 + half * t).ravel()
    weights = (half * wt).ravel()
    A, B = np.meshgrid(nodes, nodes, indexing="ij")
    vals = f(np.stack([A.ravel(), B.ravel()], axis=1)).reshape(A.shape)
    return float(weights @ vals @ weights)


@pytest.mark.parametrize("kind", ["gaussian", "mixture"])
@pytest.mark.parametrize("d", [1, 2])
def test_predictive_matches_numerical_integration_over_w(kind, d):
    """p(y_k | D_k) = int N(y_k; x_k^T w, s^2) p(w | D_k) dw, and its first two moments, by quadrature."""
    rng = np.random.default_rng(11 + d)
    prior = GaussianPrior(np.full(d, 0.4), np.eye(d) * 0.9) if kind == "gaussian" else two_component_mixture(d)
    n, noise = 3, 0.5
    xs, ys = rng.standard_normal((1, n, d)), rng.standard_normal((1, n)) + 1.0
    lp = prior.log_predictive_prefixes(xs, ys, noise)[0]
    mean, var = (a[0] for a in prior.predictive_moments_prefixes(xs, ys, noise))
    X, y = xs[0], ys[0]
    for k in range(n):
        def joint(W, k=k):  # prior x likelihood of the first k pairs (unnormalised posterior) at rows of W
            r = y[:k] - W @ X[:k].T  # (m, k)
            return np.exp(_log_prior_density(prior, W) - 0.5 * np.sum(r * r, axis=1) / noise
                          - 0.5 * k * np.log(2 * np.pi * noise))

        def f_k(W, k=k):
            return W @ X[k]

        Z = _integrate_w(joint, d, -8, 8)
        Z_next = _integrate_w(lambda W: joint(W) * stats.norm.pdf(y[k], f_k(W), np.sqrt(noise)), d, -8, 8)
        first = _integrate_w(lambda W: joint(W) * f_k(W), d, -8, 8) / Z
        second = _integrate_w(lambda W: joint(W) * f_k(W) ** 2, d, -8, 8) / Z + noise  # E[y_k^2 | D_k]
        assert lp[k] == pytest.approx(np.log(Z_next / Z), abs=1e-6)
        assert mean[k] == pytest.approx(first, abs=1e-6)
        assert var[k] == pytest.approx(second - first**2, rel=1e-6)


# ------------------------------------------------------------------------------------------
# the predictive is a density in y_k: it integrates to one, with the stated mean and variance


def _density_in_y(fn, xs, ys, k):
    """y -> p(y_k = y | x_k, first k pairs) for prompt 0, from a function (xs, ys) -> (..., n) of log densities."""
    def density(t):
        y = ys.copy()
        y[0, k] = t
        return float(np.exp(np.asarray(fn(xs, y))[0, k]))
    return density


def _gp_case(rng):
    kernel = GaussianKernel(1.0)
    xs, ys = rng.standard_normal((1, 6, 2)), rng.standard_normal((1, 6))
    return (lambda a, b: gp_log_predictive_prefixes(a, b, kernel, NOISE),
            lambda a, b: gp_predictive_moments_prefixes(a, b, kernel, NOISE), xs, ys)


@pytest.mark.parametrize("name", [*PRIORS, "fourier_gaussian", "gp"])
@pytest.mark.parametrize("k", [0, 3])
def test_predictive_integrates_to_one_with_the_stated_moments(name, k, rng):
    if name == "gp":
        log_pred, moments, xs, ys = _gp_case(rng)
    else:
        prior = fourier_gaussian_prior(2, 2.0, [1.0, 0.5, 0.2]) if name == "fourier_gaussian" else PRIORS[name]()
        xs, ys = prompt(prior, 2, 5, NOISE, rng)
        log_pred = lambda a, b: prior.log_predictive_prefixes(a, b, NOISE)  # noqa: E731
        moments = lambda a, b: prior.predictive_moments_prefixes(a, b, NOISE)  # noqa: E731
    mean, var = (float(np.asarray(a)[0, k]) for a in moments(xs, ys))
    p = _density_in_y(log_pred, xs, ys, k)
    lo, hi, sd = mean - 14 * np.sqrt(var), mean + 14 * np.sqrt(var), np.sqrt(var)
    pts = list(mean + sd * np.linspace(-4, 4, 9))
    kw = dict(points=pts, limit=500, epsabs=1e-12, epsrel=1e-10)
    mass = integrate.quad(p, lo, hi, **kw)[0]
    first = integrate.quad(lambda t: t * p(t), lo, hi, **kw)[0]
    second = integrate.quad(lambda t: (t - mean) ** 2 * p(t), lo, hi, **kw)[0]
    assert mass == pytest.approx(1.0, abs=1e-8)
    assert first == pytest.approx(mean, abs=1e-7 * max(1.0, sd))
    assert second == pytest.approx(var, rel=1e-7)


@pytest.mark.parametrize("name", [*PRIORS, "gp"])
def test_moments_mean_is_predict_prefixes(name, rng):
    if name == "gp":
        _, moments, xs, ys = _gp_case(rng)
        mean, _ = moments(xs, ys)
        np.testing.assert_allclose(mean, kernel_ridge_prefixes(xs, ys, GaussianKernel(1.0), lam=NOISE), rtol=1e-12, atol=1e-13)
        return
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 4, 8, NOISE, rng)
    mean, var = prior.predictive_moments_prefixes(xs, ys, NOISE)
    np.testing.assert_allclose(mean, prior.predict_prefixes(xs, ys, NOISE), rtol=1e-12, atol=1e-13)
    assert var.shape == mean.shape == ys.shape


# ------------------------------------------------------------------------------------------
# the log predictives of a prompt sum to its log evidence


def test_gaussian_log_predictives_sum_to_the_scipy_evidence(rng):
    prior = PRIORS["gaussian"]()
    xs, ys = prompt(prior, 5, 9, NOISE, rng)
    lp = prior.log_predictive_prefixes(xs, ys, NOISE)
    for b in range(5):
        K = xs[b] @ prior.cov @ xs[b].T + NOISE * np.eye(9)
        want = stats.multivariate_normal(xs[b] @ prior.mean, K).logpdf(ys[b])
        assert lp[b].sum() == pytest.approx(want, abs=1e-9)
        for k in (1, 4):  # every prefix: the first k entries sum to the evidence of the first k pairs
            want_k = stats.multivariate_normal(xs[b, :k] @ prior.mean, K[:k, :k]).logpdf(ys[b, :k])
            assert lp[b, :k].sum() == pytest.approx(want_k, abs=1e-9)


@pytest.mark.parametrize("name", list(PRIORS))
def test_log_predictives_sum_to_the_log_evidence_of_the_posterior(name, rng):
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 4, 6, NOISE, rng)
    total = prior.log_predictive_prefixes(xs, ys, NOISE).sum(axis=-1)
    np.testing.assert_allclose(total, prior.posterior(xs, ys, NOISE).log_evidence, rtol=0, atol=1e-9)
    comps, features = components(prior)  # and by enumeration: log sum_c pi_c N(y; X mu_c, X S_c X^T + s^2 I)
    F = xs if features is None else np.asarray(features(xs))
    for b in range(4):
        want = logsumexp([lp + component_predictive(mu, S, F[b], ys[b], F[b, 0], NOISE)[0] for mu, S, lp in comps])
        assert total[b] == pytest.approx(want, abs=1e-9)


def test_gp_log_predictives_sum_to_the_log_marginal_likelihood(rng):
    kernel = GaussianKernel(0.7)
    xs, ys = rng.standard_normal((3, 8, 2)), rng.standard_normal((3, 8))
    lp = gp_log_predictive_prefixes(xs, ys, kernel, NOISE)
    np.testing.assert_allclose(lp.sum(-1), gp_log_marginal_likelihood(xs, ys, kernel, NOISE), rtol=0, atol=1e-10)
    for b in range(3):
        want = stats.multivariate_normal(np.zeros(8), np.asarray(kernel(xs[b], xs[b])) + NOISE * np.eye(8)).logpdf(ys[b])
        assert lp[b].sum() == pytest.approx(want, abs=1e-9)


# ------------------------------------------------------------------------------------------
# Gaussian process


def test_gp_predictive_matches_monte_carlo_over_posterior_functions():
    """p(y_k | D_k) = E_{f ~ GP posterior given D_k}[N(y_k; f(x_k), s^2)], within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(5)
    kernel, noise, S = GaussianKernel(1.0), 0.1, 400_000
    xs, ys = rng.standard_normal((7, 2)), rng.standard_normal(7)
    lp = gp_log_predictive_prefixes(xs, ys, kernel, noise)
    for k in (0, 1, 4, 6):
        Xq = xs[k:k + 2]  # the function at x_k and one further input, drawn jointly
        if k == 0:
            mean, cov = np.zeros(len(Xq)), np.asarray(kernel(Xq, Xq))
        else:
            mean, cov = gp_posterior(xs[:k], ys[:k], kernel, noise, Xq, full_cov=True)
        f = rng.multivariate_normal(np.asarray(mean), np.asarray(cov), size=S, method="eigh")[:, 0]
        lik = stats.norm.pdf(ys[k], f, np.sqrt(noise))
        mc, se = lik.mean(), lik.std() / np.sqrt(S)
        assert se < 0.02 * mc  # the check has power
        assert abs(mc - np.exp(lp[k])) < 4 * se, (k, mc, np.exp(lp[k]), se)


def test_gp_predictive_equals_the_feature_prior_for_a_fourier_kernel(rng):
    s = [1.0, 0.5, 0.25, 0.1]
    kernel, prior = FourierKernel(3, 2.0, s), fourier_gaussian_prior(3, 2.0, s)
    xs, ys = prompt(prior, 4, 10, NOISE, rng)
    np.testing.assert_allclose(gp_log_predictive_prefixes(xs, ys, kernel, NOISE),
                               prior.log_predictive_prefixes(xs, ys, NOISE), rtol=1e-10, atol=1e-10)
    for got, want in zip(gp_predictive_moments_prefixes(xs, ys, kernel, NOISE),
                         prior.predictive_moments_prefixes(xs, ys, NOISE)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------------------
# noise = 0


def test_noiseless_gaussian_predictive_is_exact_before_identification_and_refused_after(rng):
    prior = PRIORS["gaussian"]()  # full rank 3
    w = prior.sample(4, rng)
    xs = rng.standard_normal((4, 5, 3))
    ys = np.einsum("bnd,bd->bn", xs, w)
    lp = prior.log_predictive_prefixes(xs[:, :3], ys[:, :3], 0.0)  # n = rank: every prefix is a proper Gaussian
    for b in range(4):
        for k in range(3):
            X, x = xs[b, :k], xs[b, k]
            if k == 0:
                m, v = x @ prior.mean, x @ prior.cov @ x
            else:  # noiseless conditioning: K = X S X^T is non-singular for k < d
                A = np.linalg.solve(X @ prior.cov @ X.T, X @ prior.cov).T
                m = x @ (prior.mean + A @ (ys[b, :k] - X @ prior.mean))
                v = x @ (prior.cov - A @ X @ prior.cov) @ x
            assert lp[b, k] == pytest.approx(stats.norm.logpdf(ys[b, k], m, np.sqrt(v)), abs=1e-8)
    with pytest.raises(ValueError, match=r"noise = 0 .* exists only for prefixes k < 3 .* n = 4"):
        prior.log_predictive_prefixes(xs[:, :4], ys[:, :4], 0.0)
    mean, var = prior.predictive_moments_prefixes(xs, ys, 0.0)  # the moments exist: variance 0 once identified
    np.testing.assert_allclose(mean[:, 3:], ys[:, 3:], rtol=0, atol=1e-9)
    assert np.all(var[:, 3:] < 1e-10) and np.all(var[:, :3] > 1e-3)


@pytest.mark.parametrize("name, rank", [("finite", 0), ("sign", 0), ("sparse", 2), ("fourier_mixture", 3)])
def test_noiseless_point_masses_are_refused_naming_noise(name, rank, rng):
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 2, 5, 0.0, rng)
    with pytest.raises(ValueError, match=rf"noise = 0 .* k < {rank} .* n = 5 .*pass noise > 0"):
        prior.log_predictive_prefixes(xs, ys, 0.0)
    if rank:
        assert np.all(np.isfinite(prior.log_predictive_prefixes(xs[:, :rank], ys[:, :rank], 0.0)))
    assert np.all(np.isfinite(prior.log_predictive_prefixes(xs, ys, 1e-4)))  # any positive noise is a density


def test_noiseless_moments_of_a_finite_pool_are_the_discrete_predictive(rng):
    prior = PRIORS["finite"]()
    xs, ys = prompt(prior, 3, 4, 0.0, rng)
    mean, var = prior.predictive_moments_prefixes(xs, ys, 0.0)
    vals = xs[:, 0] @ prior.pool.T  # k = 0: y_0 uniform on {x_0^T w_m}
    np.testing.assert_allclose(mean[:, 0], vals.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(var[:, 0], vals.var(axis=1), rtol=1e-12)
    np.testing.assert_allclose(var[:, 2:], 0.0, atol=1e-10)  # two generic points single out the task


def test_gp_noiseless_predictive_exists_for_a_definite_kernel_and_is_refused_for_a_singular_one(rng):
    X = rng.standard_normal((5, 2))
    y = X @ np.array([1.0, -2.0])
    lp = gp_log_predictive_prefixes(X, y, GaussianKernel(1.0), 0.0)
    mean, var = gp_posterior(X[:3], y[:3], GaussianKernel(1.0), 0.0, X[3:4])
    assert lp[3] == pytest.approx(stats.norm.logpdf(y[3], mean[0], np.sqrt(var[0])), abs=1e-8)
    assert np.isfinite(gp_log_predictive_prefixes(X[:2], y[:2], LinearKernel(), 0.0)).all()  # n <= rank 2
    with pytest.raises(ValueError, match="noise_var = 0 .* point mass .* pass noise_var > 0"):
        gp_log_predictive_prefixes(X, y, LinearKernel(), 0.0)  # 5 points, rank 2
    with pytest.raises(ValueError, match="noise_var = 0"):
        gp_log_predictive_prefixes(X[[0, 1, 0]], y[[0, 1, 0]], GaussianKernel(1.0), 0.0)  # a repeated input


# ------------------------------------------------------------------------------------------
# backends, dtypes, batching, chunking, memory, bad input


@pytest.mark.parametrize("name", list(PRIORS))
def test_backends_agree(name, backend, rng):
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 3, 6, NOISE, rng)
    got = prior.log_predictive_prefixes(backend(xs), backend(ys), NOISE)
    assert type(got) is type(backend(xs)) and got.dtype == backend(xs).dtype
    np.testing.assert_allclose(backend.numpy(got), prior.log_predictive_prefixes(xs, ys, NOISE), rtol=1e-10, atol=1e-10)
    for g, w in zip(prior.predictive_moments_prefixes(backend(xs), backend(ys), NOISE),
                    prior.predictive_moments_prefixes(xs, ys, NOISE)):
        assert type(g) is type(backend(xs))
        np.testing.assert_allclose(backend.numpy(g), w, rtol=1e-10, atol=1e-10)


def test_gp_backends_agree(backend, rng):
    kernel = GaussianKernel(1.0)
    xs, ys = rng.standard_normal((2, 6, 2)), rng.standard_normal((2, 6))
    got = gp_log_predictive_prefixes(backend(xs), backend(ys), kernel, NOISE)
    assert type(got) is type(backend(xs))
    np.testing.assert_allclose(backend.numpy(got), gp_log_predictive_prefixes(xs, ys, kernel, NOISE), rtol=1e-10)
    mean, var = gp_predictive_moments_prefixes(backend(xs), backend(ys), kernel, NOISE)
    np.testing.assert_allclose(backend.numpy(var), gp_predictive_moments_prefixes(xs, ys, kernel, NOISE)[1], rtol=1e-10)


@pytest.mark.parametrize("name", ["gaussian", "sign", "fourier_mixture", "gp"])
def test_float32_inputs_give_float32_outputs(name, backend, rng):
    if name == "gp":
        xs, ys = rng.standard_normal((2, 5, 2)), rng.standard_normal((2, 5))
        f = lambda a, b: gp_log_predictive_prefixes(a, b, GaussianKernel(1.0), NOISE)  # noqa: E731
        g = lambda a, b: gp_predictive_moments_prefixes(a, b, GaussianKernel(1.0), NOISE)[1]  # noqa: E731
    else:
        prior = PRIORS[name]()
        xs, ys = prompt(prior, 2, 5, NOISE, rng)
        f = lambda a, b: prior.log_predictive_prefixes(a, b, NOISE)  # noqa: E731
        g = lambda a, b: prior.predictive_moments_prefixes(a, b, NOISE)[1]  # noqa: E731
    x32, y32 = backend(xs.astype(np.float32)), backend(ys.astype(np.float32))
    for fun in (f, g):
        got = fun(x32, y32)
        assert got.dtype == x32.dtype and type(got) is type(x32)
        want = fun(xs.astype(np.float32).astype(float), ys.astype(np.float32).astype(float))
        np.testing.assert_allclose(backend.numpy(got).astype(float), want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", ["mixture", "finite", "sparse", "sign"])
def test_chunking_and_batch_axes_do_not_change_the_predictive(name, rng):
    prior = PRIORS[name]()
    xs, ys = prompt(prior, 6, 5, NOISE, rng)
    whole = prior.log_predictive_prefixes(xs, ys, NOISE), *prior.predictive_moments_prefixes(xs, ys, NOISE)
    prior.chunk_size = 1  # one component per chunk: every fold of the running logsumexp is exercised
    chunked = prior.log_predictive_prefixes(xs, ys, NOISE), *prior.predictive_moments_prefixes(xs, ys, NOISE)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    batched = prior.log_predictive_prefixes(xs.reshape(2, 3, 5, -1), ys.reshape(2, 3, 5), NOISE)
    assert batched.shape == (2, 3, 5)
    np.testing.assert_allclose(batched.reshape(6, 5), whole[0], rtol=1e-12, atol=1e-12)
    prefix = prior.log_predictive_prefixes(xs[:, :3], ys[:, :3], NOISE)  # entry k sees only the first k pairs
    np.testing.assert_allclose(prefix, whole[0][:, :3], rtol=1e-11, atol=1e-12)


def test_memory_budget_refuses_before_allocating():
    prior = SignPrior(10, 1.0, memory_budget=1000)
    xs, ys = np.zeros((64, 20, 10)), np.zeros((64, 20))
    with pytest.raises(ValueError, match="memory_budget"):
        prior.log_predictive_prefixes(xs, ys, 0.1)
    with pytest.raises(ValueError, match="memory_budget"):
        prior.predictive_moments_prefixes(xs, ys, 0.1)


def test_bad_input_raises_errors_naming_the_parameter(rng):
    xs, ys = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4))
    for prior in (PRIORS["gaussian"](), PRIORS["mixture"](), PRIORS["sign"]()):
        for method in (prior.log_predictive_prefixes, prior.predictive_moments_prefixes):
            with pytest.raises(ValueError, match="noise must be >= 0, got -0.1"):
                method(xs[..., :prior.d], ys, -0.1)
            with pytest.raises(ValueError, match="xs and ys disagree on the number of points: xs has 4, ys has 3"):
                method(xs[..., :prior.d], ys[:, :3], 0.1)
    with pytest.raises(ValueError, match="xs has 4 features but the prior is over d = 3"):
        PRIORS["gaussian"]().log_predictive_prefixes(xs, ys, 0.1)
    for fn in (gp_log_predictive_prefixes, gp_predictive_moments_prefixes):
        with pytest.raises(ValueError, match="noise_var must be >= 0, got -1.0"):
            fn(xs, ys, GaussianKernel(1.0), -1.0)
        with pytest.raises(ValueError, match="disagree on the number of points"):
            fn(xs, ys[:, :3], GaussianKernel(1.0), 0.1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        PRIORS["fourier_mixture"]().log_predictive_prefixes(rng.uniform(-1, 1, (2, 4, 1)), ys, -1.0)
