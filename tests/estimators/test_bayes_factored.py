"""The Gaussian / mixture prefixes from Cholesky factors of the responses (estimators.bayes._responses).

Checked against the per-prefix closed form (posterior mean, predictive variance, log evidence) at
tight tolerance, against the Kalman recursion they replace, in the noiseless limit (least squares,
also on data no linear function fits), and on float32 inputs for every prior.
"""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from estimators import ols_prefixes
from estimators.bayes import (
    FinitePrior, GaussianPrior, MixturePrior, SignPrior, SparsePrior, fourier_mixture_prior,
)
from estimators.bayes import _engine as engine


def _closed_form(mus, covs, log_pi, xs, ys, noise):
    """Per prefix k: BMA mean, predictive variance and log evidence of the first k pairs (numpy loop)."""
    B, n, d = xs.shape
    mean, var, logev = np.zeros((B, n)), np.zeros((B, n)), np.zeros((B, n))
    for k in range(n):
        X, y, x = xs[:, :k], ys[:, :k], xs[:, k]
        logs, m_c, v_c = [], [], []
        for mu, S, lp in zip(mus, covs, log_pi):
            K = X @ S @ X.transpose(0, 2, 1) + noise * np.eye(k)
            r = y - X @ mu
            SX = np.einsum("ij,bkj->bik", S, X)  # S X^T, (B, d, k)
            alpha = np.linalg.solve(K, r[..., None])[..., 0] if k else np.zeros((B, 0))
            m = mu + np.einsum("bik,bk->bi", SX, alpha)
            Sx = np.einsum("ij,bj->bi", S, x)
            red = np.einsum("bik,bk->bi", SX, np.linalg.solve(K, np.einsum("bik,bi->bk", SX, x)[..., None])[..., 0]) \
                if k else np.zeros((B, d))
            m_c.append(np.einsum("bd,bd->b", m, x))
            v_c.append(np.einsum("bd,bd->b", x, Sx - red) + noise)
            logdet = np.linalg.slogdet(K)[1] if k else np.zeros(B)
            logs.append(lp - 0.5 * (k * np.log(2 * np.pi) + logdet + np.einsum("bk,bk->b", r, alpha)))
        logs, m_c, v_c = np.stack(logs, 1), np.stack(m_c, 1), np.stack(v_c, 1)
        w = np.exp(logs - logsumexp(logs, axis=1, keepdims=True))
        mean[:, k] = np.sum(w * m_c, 1)
        var[:, k] = np.sum(w * (v_c + (m_c - mean[:, k:k + 1]) ** 2), 1)
        logev[:, k] = logsumexp(logs, axis=1)
    return mean, var, logev


def _random_cov(rng, d, rank):
    F = rng.standard_normal((d, rank)) / np.sqrt(rank)
    return F @ F.T


def _priors(d):
    rng = np.random.default_rng(0)
    cov = _random_cov(rng, d, d)
    e1 = np.eye(d)[0]
    return {
        "dense cov, nonzero mean": GaussianPrior(rng.standard_normal(d), cov),
        "rank 3 of 5": GaussianPrior(np.zeros(d), _random_cov(rng, d, 3)),
        "mixture, shared cov": MixturePrior([GaussianPrior(2 * e1, cov), GaussianPrior(-2 * e1, cov)], [0.3, 0.7]),
        "mixture, distinct covs and ranks": MixturePrior(
            [GaussianPrior(np.zeros(d), np.eye(d)), GaussianPrior(e1, _random_cov(rng, d, 2)),
             GaussianPrior(-e1, np.diag([2.0, 1.0, 0.0, 0.0, 0.5]))], [0.5, 0.25, 0.25]),
    }


@pytest.mark.parametrize("name", list(_priors(5)))
def test_matches_per_prefix_closed_form(name):
    """Mean, predictive variance, per-step log density and weights against the closed form (noise 0.3)."""
    prior = _priors(5)[name]
    comps = prior.components if isinstance(prior, MixturePrior) else [prior]
    log_pi = np.log(prior.weights) if isinstance(prior, MixturePrior) else np.zeros(1)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((16, 12, 5))
    ys = np.einsum("bnd,bd->bn", xs, prior.sample(16, rng)) + 0.5 * rng.standard_normal((16, 12))
    noise = 0.3
    mean, var, logev = _closed_form([c.mean for c in comps], [c.cov for c in comps], log_pi, xs, ys, noise)
    np.testing.assert_allclose(prior.predict_prefixes(xs, ys, noise), mean, rtol=1e-10, atol=1e-10)
    m, v = prior.predictive_moments_prefixes(xs, ys, noise)
    np.testing.assert_allclose(m, mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v, var, rtol=1e-10, atol=1e-10)
    lp = prior.log_predictive_prefixes(xs, ys, noise)  # entry k = log p(y_{<=k}) - log p(y_{<k})
    np.testing.assert_allclose(np.cumsum(lp, 1)[:, :-1], logev[:, 1:], rtol=1e-10, atol=1e-9)
    if isinstance(prior, MixturePrior):
        final = prior.posterior(xs[:, :6], ys[:, :6], noise).weights
        np.testing.assert_allclose(prior.weights_prefixes(xs, ys, noise)[:, 6], final, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("noise", [0.0, 0.25])
def test_agrees_with_kalman_recursion(noise, monkeypatch):
    """The factored path and the Kalman recursion (the fallback) give the same prefixes."""
    prior = fourier_mixture_prior(4, period_length=2.0)  # components of ranks 3, 5, 7, 9: one group each
    rng = np.random.default_rng(2)
    xs = rng.uniform(-2, 2, (32, 20, 1))
    ys = prior.evaluate(xs, prior.sample(32, rng)) + np.sqrt(noise) * rng.standard_normal((32, 20))
    fast = (prior.predict_prefixes(xs, ys, noise), *prior.predictive_moments_prefixes(xs, ys, noise),
            prior.weights_prefixes(xs, ys, noise))
    monkeypatch.setattr(engine, "gaussian_chunk", lambda *a: None)
    slow = (prior.predict_prefixes(xs, ys, noise), *prior.predictive_moments_prefixes(xs, ys, noise),
            prior.weights_prefixes(xs, ys, noise))
    scale = np.sqrt(np.mean(ys**2))
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * max(scale, 1.0))


def test_factored_path_runs_and_kalman_is_the_fallback(monkeypatch):
    """The engine calls the factored path for Gaussian components and the Kalman recursion when it fails."""
    calls = []
    real = engine.gaussian_chunk
    monkeypatch.setattr(engine, "gaussian_chunk", lambda *a: calls.append(1) or real(*a))
    prior = GaussianPrior.isotropic(3)
    xs, ys = np.random.default_rng(3).standard_normal((2, 5, 3)), np.ones((2, 5))
    out = prior.predict_prefixes(xs, ys, 0.1)
    assert calls
    monkeypatch.setattr(engine, "gaussian_chunk", lambda *a: None)
    np.testing.assert_allclose(prior.predict_prefixes(xs, ys, 0.1), out, rtol=1e-12, atol=1e-12)


def test_noiseless_limit_on_inconsistent_data_is_least_squares():
    """noise = 0 on data no linear function fits (n > d, random y): the least-squares limit, i.e. min-norm OLS.

    (Before the factored path this differed from OLS by up to 5.5 past k = d.)
    """
    rng = np.random.default_rng(4)
    xs, ys = rng.standard_normal((64, 41, 20)), rng.standard_normal((64, 41))
    pred = GaussianPrior.isotropic(20).predict_prefixes(xs, ys, 0.0)
    ols = ols_prefixes(xs, ys)
    rel = np.abs(pred - ols) / np.maximum(1.0, np.abs(ols))
    assert rel[:, :20].max() < 1e-7 and rel[:, 22:].max() < 1e-7
    # k = d interpolates a square X_d (and k = d + 1 builds on it): the floor's ridge bias, lam / sigma_min(X_d)^2
    assert rel[:, 20:22].max() < 1e-4


def test_noiseless_duplicated_points_stay_finite():
    """Repeated inputs with noise = 0 (consistent data): finite, and equal to the prediction without the repeat."""
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((8, 6, 4))
    xs[:, 2] = xs[:, 1]
    ys = np.einsum("bnd,bd->bn", xs, rng.standard_normal((8, 4)))
    pred = GaussianPrior.isotropic(4).predict_prefixes(xs, ys, 0.0)
    assert np.all(np.isfinite(pred))
    keep = [0, 1, 3, 4, 5]
    ref = GaussianPrior.isotropic(4).predict_prefixes(xs[:, keep], ys[:, keep], 0.0)
    np.testing.assert_allclose(pred[:, [0, 1, 3, 4, 5]][:, 2:], ref[:, 2:], rtol=0, atol=1e-5)


def _float32_cases():
    d = 20
    e1 = np.eye(d)[0]
    pool = np.random.default_rng(6).standard_normal((64, d))
    return {
        "gaussian": GaussianPrior.isotropic(d),
        "mixture": MixturePrior([GaussianPrior(3 * e1, np.eye(d)), GaussianPrior(-3 * e1, np.eye(d))], [0.5, 0.5]),
        "finite": FinitePrior(pool),
        "sparse": SparsePrior(d, 3),
        "sign (d = 10: 2^20 vectors are GPU work)": SignPrior(10, 10**-0.5),
        "fourier": fourier_mixture_prior(5, period_length=2.0),
    }


@pytest.mark.parametrize("noise", [0.0, 0.25])
@pytest.mark.parametrize("name", list(_float32_cases()))
def test_float32_batches_agree_with_float64(name, noise):
    """Fresh float32 batches (B = 256, n = 41, d = 20): no refusal beyond the documented ones, float32 out, float64 agreement.

    The documented refusals: the noiseless log density of an identified task (a point mass) and
    ``GaussianPrior.weights_prefixes`` (one component).
    """
    prior = _float32_cases()[name]
    rng = np.random.default_rng(7)
    B, n = (64, 41) if name.startswith(("sparse", "sign")) else (256, 41)  # 1140 supports / 1024 vectors: fewer prompts
    if name == "fourier":
        xs = rng.uniform(-2, 2, (B, n, 1))
        ys = prior.evaluate(xs, prior.sample(B, rng))
    else:
        xs = rng.standard_normal((B, n, prior.d))
        ys = np.einsum("bnd,bd->bn", xs, prior.sample(B, rng))
    ys = ys + np.sqrt(noise) * rng.standard_normal((B, n))
    x32, y32 = xs.astype(np.float32), ys.astype(np.float32)
    x64, y64 = x32.astype(np.float64), y32.astype(np.float64)  # the same data in float64
    methods = ["predict_prefixes", "predictive_moments_prefixes"]
    methods += ["log_predictive_prefixes"] if noise > 0 else []
    methods += [] if isinstance(prior, GaussianPrior) else ["weights_prefixes"]
    for method in methods:
        for lib, wrap in (("numpy", np.asarray), ("torch", torch.from_numpy)):
            out = getattr(prior, method)(wrap(x32), wrap(y32), noise)
            ref = getattr(prior, method)(wrap(x64), wrap(y64), noise)  # same library: noiseless prefixes near
            ref = tuple(map(np.asarray, ref)) if isinstance(ref, tuple) else np.asarray(ref)  # k = rank are ill-posed
            for o, r in zip(out if isinstance(out, tuple) else (out,), ref if isinstance(ref, tuple) else (ref,)):
                o = np.asarray(o)
                assert o.dtype == np.float32, (method, lib)
                np.testing.assert_allclose(o, r, rtol=2e-6, atol=2e-6 * (1 + np.abs(r).max()),
                                           err_msg=f"{name} {method} {lib}")


def test_noiseless_limit_general_prior_is_least_squares_in_its_metric():
    """noise = 0, N(mu, F F^T) of rank 3 in d = 5, inconsistent data: mu + F (X F)^+ (y - X mu) on every prefix."""
    rng = np.random.default_rng(8)
    F = rng.standard_normal((5, 3))
    mu = rng.standard_normal(5)
    prior = GaussianPrior(mu, F @ F.T)
    xs, ys = rng.standard_normal((6, 10, 5)), rng.standard_normal((6, 10))
    pred = prior.predict_prefixes(xs, ys, 0.0)
    ref = np.zeros((6, 10))
    for b in range(6):
        for k in range(10):
            X, x = xs[b, :k], xs[b, k]
            w = mu + F @ (np.linalg.pinv(X @ F) @ (ys[b, :k] - X @ mu)) if k else mu
            ref[b, k] = x @ w
    np.testing.assert_allclose(pred, ref, rtol=1e-6, atol=1e-6)
