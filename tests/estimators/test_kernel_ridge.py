"""Kernel ridge (fit, predict, every prefix) and the Gaussian-process posterior.

Oracles: scikit-learn (KernelRidge, GaussianProcessRegressor), scipy.stats.multivariate_normal,
``estimators.ridge`` (push-through identity: Saunders, Gammerman & Vovk 1998) and per-prefix refits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ExpSineSquared
from sklearn.kernel_ridge import KernelRidge

from estimators import (
    GaussianKernel,
    KernelRidgeParams,
    LaplaceKernel,
    LinearKernel,
    PeriodicKernel,
    PolynomialKernel,
    gp_log_marginal_likelihood,
    gp_posterior,
    kernel_ridge_fit,
    kernel_ridge_predict,
    kernel_ridge_prefixes,
    ridge,
)

IDS = ["gaussian", "laplace", "linear", "poly", "periodic"]

# ------------------------------------------------------------------------------------
# kernel ridge

SK_PAIRS = [
    (GaussianKernel(1.3), dict(kernel="rbf", gamma=1 / (2 * 1.3**2))),
    (LaplaceKernel(0.9), dict(kernel=lambda a, b: np.exp(-np.linalg.norm(a - b) / 0.9))),
    (LinearKernel(), dict(kernel="linear")),
    (PolynomialKernel(3, c=0.5), dict(kernel="poly", degree=3, gamma=1.0, coef0=0.5)),
]


@pytest.mark.parametrize("kernel,sk", SK_PAIRS, ids=IDS[:4])
def test_kernel_ridge_matches_sklearn(backend, rng, kernel, sk):
    X, y, Xq = rng.normal(size=(25, 3)), rng.normal(size=25), rng.normal(size=(8, 3))
    fit = kernel_ridge_fit(backend(X), backend(y), kernel, lam=0.7)
    pred = kernel_ridge_predict(fit, backend(Xq))
    assert type(pred) is type(backend(X)) and pred.dtype == backend(X).dtype
    ref = KernelRidge(alpha=0.7, **sk).fit(X, y)
    np.testing.assert_allclose(backend.numpy(fit.alpha), ref.dual_coef_, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(backend.numpy(pred), ref.predict(Xq), rtol=1e-8, atol=1e-8)


def test_periodic_kernel_ridge_matches_sklearn(rng):
    X, y, Xq = rng.uniform(-3, 3, size=(20, 1)), rng.normal(size=20), rng.uniform(-3, 3, size=(5, 1))
    pred = kernel_ridge_predict(kernel_ridge_fit(X, y, PeriodicKernel(0.8, period=2.0), 0.3), Xq)
    ref = KernelRidge(alpha=0.3, kernel=ExpSineSquared(0.8, 2.0)).fit(X, y).predict(Xq)
    np.testing.assert_allclose(pred, ref, rtol=1e-8, atol=1e-8)


def test_linear_kernel_ridge_is_ridge(backend, rng):
    for n, d in [(30, 4), (5, 12)]:  # k >= d and k < d: push-through both ways
        X, y, Xq = rng.normal(size=(3, n, d)), rng.normal(size=(3, n)), rng.normal(size=(3, 6, d))
        pred = kernel_ridge_predict(kernel_ridge_fit(backend(X), backend(y), LinearKernel(), 0.4), backend(Xq))
        w = backend.numpy(ridge(backend(X), backend(y), 0.4))
        np.testing.assert_allclose(backend.numpy(pred), np.einsum("bmd,bd->bm", Xq, w), rtol=1e-9, atol=1e-10)


def test_batched_fit_equals_loop(rng):
    X, y, Xq = rng.normal(size=(2, 3, 10, 2)), rng.normal(size=(2, 3, 10)), rng.normal(size=(2, 3, 4, 2))
    k = GaussianKernel(0.9)
    batched = kernel_ridge_predict(kernel_ridge_fit(X, y, k, 0.1), Xq)
    assert batched.shape == (2, 3, 4)
    for i in range(2):
        for j in range(3):
            one = kernel_ridge_predict(kernel_ridge_fit(X[i, j], y[i, j], k, 0.1), Xq[i, j])
            np.testing.assert_allclose(batched[i, j], one, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kernel", [GaussianKernel(1.0), LinearKernel(), LaplaceKernel(2.0)], ids=["gauss", "linear", "laplace"])
def test_every_prefix_entry_equals_the_fit_on_that_prefix(backend, rng, kernel):
    n, lam = 12, 0.25
    xs, ys = rng.normal(size=(2, n, 3)), rng.normal(size=(2, n))
    preds, var = kernel_ridge_prefixes(backend(xs), backend(ys), kernel, lam, return_var=True)
    preds, var = backend.numpy(preds), backend.numpy(var)
    assert preds.shape == (2, n) and np.all(preds[:, 0] == 0)
    np.testing.assert_allclose(var[:, 0], kernel.diag(xs[:, :1])[:, 0] + lam, rtol=1e-12)
    for k in range(1, n):
        fit = kernel_ridge_fit(xs[:, :k], ys[:, :k], kernel, lam)
        np.testing.assert_allclose(preds[:, k], kernel_ridge_predict(fit, xs[:, k : k + 1])[:, 0], rtol=1e-9, atol=1e-11)
        post = gp_posterior(xs[:, :k], ys[:, :k], kernel, lam, xs[:, k : k + 1])
        np.testing.assert_allclose(var[:, k], post.var[:, 0] + lam, rtol=1e-9, atol=1e-11)


@given(
    hnp.arrays(np.float64, (8, 2), elements=hst.floats(-3, 3)),
    hnp.arrays(np.float64, (8,), elements=hst.floats(-3, 3)),
    hst.floats(0.05, 5.0),
    hst.floats(-4.0, 4.0),
)
def test_prefix_properties(xs, ys, lam, scale):
    """Linear in y (scaling y scales every prediction) and equal to refits on random data."""
    k = GaussianKernel(1.0)
    preds = kernel_ridge_prefixes(xs, ys, k, lam)
    np.testing.assert_allclose(kernel_ridge_prefixes(xs, scale * ys, k, lam), scale * preds, rtol=1e-9, atol=1e-9)
    j = 5
    ref = kernel_ridge_predict(kernel_ridge_fit(xs[:j], ys[:j], k, lam), xs[j : j + 1])[0]
    assert preds[j] == pytest.approx(ref, rel=1e-7, abs=1e-8)


# ------------------------------------------------------------------------------------
# Gaussian process


def test_gp_log_marginal_likelihood_matches_scipy(rng):
    torch = pytest.importorskip("torch")
    X, y = rng.normal(size=(3, 15, 2)), rng.normal(size=(3, 15))
    k = GaussianKernel(0.8)
    lml = gp_log_marginal_likelihood(X, y, k, 0.2)
    lml_t = gp_log_marginal_likelihood(torch.from_numpy(X), torch.from_numpy(y), k, 0.2)
    np.testing.assert_allclose(lml_t.numpy(), lml, rtol=1e-12)
    ref = [st.multivariate_normal(np.zeros(15), k(X[b]) + 0.2 * np.eye(15)).logpdf(y[b]) for b in range(3)]
    np.testing.assert_allclose(lml, ref, rtol=1e-10)


def test_gp_posterior_matches_sklearn_gpr(rng):
    X, y, Xq = rng.normal(size=(20, 2)), rng.normal(size=20), rng.normal(size=(7, 2))
    gpr = GaussianProcessRegressor(RBF(0.9), alpha=0.1, optimizer=None).fit(X, y)
    mean_ref, cov_ref = gpr.predict(Xq, return_cov=True)
    post = gp_posterior(X, y, GaussianKernel(0.9), 0.1, Xq)
    full = gp_posterior(X, y, GaussianKernel(0.9), 0.1, Xq, full_cov=True)
    np.testing.assert_allclose(post.mean, mean_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(full.var, cov_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(post.var, np.diag(cov_ref), rtol=1e-8, atol=1e-10)
    lml = gp_log_marginal_likelihood(X, y, GaussianKernel(0.9), 0.1)
    assert float(lml) == pytest.approx(gpr.log_marginal_likelihood_value_, rel=1e-10)
    krr = kernel_ridge_predict(kernel_ridge_fit(X, y, GaussianKernel(0.9), 0.1), Xq)
    np.testing.assert_allclose(post.mean, krr, rtol=1e-10, atol=1e-12)  # GP mean = KRR with lam = sigma^2


# ------------------------------------------------------------------------------------
# bad input


def test_bad_input_errors(rng):
    X, y = rng.normal(size=(10, 2)), rng.normal(size=10)
    k = GaussianKernel(1.0)
    with pytest.raises(ValueError, match="kernel_ridge_fit: lam must be >= 0, got -0.1"):
        kernel_ridge_fit(X, y, k, -0.1)
    with pytest.raises(ValueError, match="X and y disagree on the number of points: X has 10, y has 9"):
        kernel_ridge_fit(X, y[:9], k, 0.1)
    with pytest.raises(ValueError, match="Xq and X disagree on the number of features"):
        kernel_ridge_predict(kernel_ridge_fit(X, y, k, 0.1), rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="not positive semi-definite"):
        kernel_ridge_fit(X, y, lambda A, B: -k(A, B), 0.1)
    with pytest.raises(ValueError, match="gp_posterior: noise_var must be >= 0"):
        gp_posterior(X, y, k, -1.0, X)
    with pytest.raises(ValueError, match=r"kernel\(X, X\) must have shape"):
        kernel_ridge_fit(X, y, lambda A, B: A @ B.T[:, :3], 0.1)
    with pytest.raises(ValueError, match=r"kernel\(X, X\) contains NaN or infinite values"):
        kernel_ridge_fit(X, y, lambda A, B: k(A, B) * np.inf, 0.1)
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=r"PolynomialKernel: .* overflows float64"):
        kernel_ridge_fit(1e3 * X, y, PolynomialKernel(200), 0.1)  # overflows to inf: the kernel itself refuses
    with pytest.raises(TypeError, match="kernel must be callable"):
        kernel_ridge_prefixes(X, y, "rbf", 0.1)
    with pytest.raises(TypeError, match="params must come from kernel_ridge_fit"):
        kernel_ridge_predict((X, y), X)


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_ill_conditioned_kernel_warns_and_stays_finite(rng, library):
    X = np.concatenate([rng.normal(size=(6, 2))] * 2)  # duplicated points: K is singular
    y = rng.normal(size=12)
    if library == "torch":
        torch = pytest.importorskip("torch")
        X, y = torch.from_numpy(X), torch.from_numpy(y)
    with pytest.warns(RuntimeWarning, match="singular to working precision.*least-squares.*increase lam"):
        fit = kernel_ridge_fit(X, y, GaussianKernel(1.0), 0.0)
    assert np.all(np.isfinite(np.asarray(fit.alpha)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a well-posed problem does not warn
        kernel_ridge_fit(X, y, GaussianKernel(1.0), 0.1)
    Xw = rng.normal(size=(15, 2))  # wide bandwidth: nearly rank-deficient K, no jitter needed or not
    with pytest.warns(RuntimeWarning, match="ill-conditioned|singular to working precision"):
        fit = kernel_ridge_fit(Xw, rng.normal(size=15), GaussianKernel(50.0), 0.0)
    assert np.all(np.isfinite(fit.alpha))


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_unscaled_features_fall_back_to_least_squares_as_sklearn(rng, lam):
    # a linear kernel on features of size 1e7: K + lam I (largest eigenvalue 5e16) is singular to
    # working precision; like scikit-learn, warn and take the least-squares solution (no jitter that
    # grows with the features' scale); predictions then agree with KernelRidge's to rounding
    X = rng.normal(size=(100, 5)) * 1e6 + 1e7
    y = rng.normal(size=100)
    with pytest.warns(RuntimeWarning, match="singular to working precision.*minimum-norm least-squares"):
        fit = kernel_ridge_fit(X, y, LinearKernel(), lam)
    assert fit.y is None  # the fitted values are recomputed from the kernel, not y - lam alpha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn's own "Singular matrix" warning
        sk = KernelRidge(alpha=lam, kernel="linear").fit(X, y)
    np.testing.assert_allclose(kernel_ridge_predict(fit, X), sk.predict(X), rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        kernel_ridge_fit(X[:3], y[:3], lambda A, B: -(A @ B.T), 0.0)


def test_predicting_at_the_training_inputs_reuses_the_fit(rng):
    X, y = rng.normal(size=(7, 30, 3)), rng.normal(size=(7, 30))
    fit = kernel_ridge_fit(X, y, GaussianKernel(1.2), 0.3)
    reused = kernel_ridge_predict(fit, X)  # the same array: y - lam alpha, no kernel
    recomputed = kernel_ridge_predict(fit, X.copy())  # an equal copy: K alpha through the kernel
    np.testing.assert_allclose(reused, recomputed, rtol=0, atol=1e-12)
    sk = KernelRidge(alpha=0.3, kernel="rbf", gamma=1 / (2 * 1.2**2)).fit(X[0], y[0])
    np.testing.assert_allclose(reused[0], sk.predict(X[0]), rtol=0, atol=1e-10)


def test_fit_leaves_a_user_kernels_matrix_untouched(rng):
    # the numpy fast path factors K in place; only a matrix the module made itself may be overwritten,
    # never one a user's kernel returns (here a cached Gram matrix)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    cached = GaussianKernel(1.0)(X, X)
    before = cached.copy()
    fit = kernel_ridge_fit(X, y, lambda A, B: cached, 0.1)
    np.testing.assert_array_equal(cached, before)
    np.testing.assert_allclose(fit.alpha, np.linalg.solve(before + 0.1 * np.eye(20), y), rtol=1e-10)


def test_failed_factorisation_falls_back_on_the_unfactored_matrix(rng):
    # duplicated points, lam = 0: LAPACK's in-place factorisation fails part-way; the least-squares
    # fallback must solve the original K, not the half-overwritten one
    X = np.concatenate([rng.normal(size=(6, 2))] * 2)
    y = np.concatenate([rng.normal(size=6)] * 2)  # consistent: K alpha = y has exact solutions
    with pytest.warns(RuntimeWarning, match="singular to working precision"):
        fit = kernel_ridge_fit(X, y, GaussianKernel(1.0), 0.0)
    K = GaussianKernel(1.0)(X, X)
    np.testing.assert_allclose(fit.alpha, np.linalg.pinv(K, rcond=12 * np.finfo(float).eps) @ y, atol=1e-8)
    np.testing.assert_allclose(K @ fit.alpha, y, atol=1e-8)


def test_failed_factorisation_calls_a_user_kernel_once(rng):
    # the fallback rebuilds K only where the module's own Gram was overwritten, not by calling a user's kernel again
    X = np.concatenate([rng.normal(size=(5, 2))] * 2)
    calls = []

    def kernel(A, B):
        calls.append(1)
        return GaussianKernel(1.0)(A, B)

    with pytest.warns(RuntimeWarning, match="singular to working precision"):
        fit = kernel_ridge_fit(X, np.concatenate([rng.normal(size=5)] * 2), kernel, 0.0)
    assert len(calls) == 1 and np.all(np.isfinite(fit.alpha))


def test_predict_broadcasts_hand_built_dual_weights(rng):
    # KernelRidgeParams built by hand with dual weights shared across the batch: the product broadcasts
    X, Xq = rng.normal(size=(4, 10, 2)), rng.normal(size=(4, 3, 2))
    alpha = rng.normal(size=10)
    params = KernelRidgeParams(X, alpha, GaussianKernel(1.0), 0.1)
    expected = np.stack([GaussianKernel(1.0)(Xq[b], X[b]) @ alpha for b in range(4)])
    np.testing.assert_allclose(kernel_ridge_predict(params, Xq), expected, rtol=1e-12)
