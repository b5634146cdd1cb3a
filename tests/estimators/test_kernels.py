"""Kernel objects (matrices, bandwidths, feature kernels) and the Fourier-feature GP.

Oracles: scikit-learn pairwise kernels and the Fourier-series feature prior; kernel ridge and
the GP posterior are tested in ``test_kernel_ridge.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.gaussian_process.kernels import ExpSineSquared
from sklearn.metrics.pairwise import euclidean_distances, polynomial_kernel, rbf_kernel

from estimators import (
    FeatureKernel,
    FourierKernel,
    GaussianKernel,
    LaplaceKernel,
    LinearKernel,
    PeriodicKernel,
    PolynomialKernel,
    gp_posterior,
    kernel_ridge_prefixes,
    median_heuristic,
    squared_distances,
)

# (our kernel, the matching scikit-learn kernel matrix function) on multi-d inputs
KERNEL_PAIRS = [
    (GaussianKernel(1.3), lambda A, B: rbf_kernel(A, B, gamma=1 / (2 * 1.3**2))),
    (LaplaceKernel(0.9), lambda A, B: np.exp(-euclidean_distances(A, B) / 0.9)),
    (LinearKernel(), lambda A, B: A @ B.T),
    (PolynomialKernel(3, c=0.5), lambda A, B: polynomial_kernel(A, B, degree=3, gamma=1.0, coef0=0.5)),
    (PeriodicKernel(1.1, period=2.5), lambda A, B: np.exp(
        -2 * (np.sin(np.pi * (A[:, None, :] - B[None, :, :]) / 2.5) ** 2).sum(-1) / 1.1**2)),
]
IDS = ["gaussian", "laplace", "linear", "poly", "periodic"]


@pytest.mark.parametrize("kernel,oracle", KERNEL_PAIRS, ids=IDS)
def test_kernel_matrix_matches_reference_on_every_backend(backend, rng, kernel, oracle):
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    K = kernel(backend(X), backend(Y))
    assert type(K) is type(backend(X)) and K.dtype == backend(X).dtype and tuple(K.shape) == (7, 5)
    np.testing.assert_allclose(backend.numpy(K), oracle(X, Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.numpy(kernel(backend(X))), oracle(X, X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(backend.numpy(kernel.diag(backend(X))), np.diag(oracle(X, X)), rtol=1e-12)


def test_periodic_is_sklearn_exp_sine_squared_in_1d(rng):
    X, Y = rng.normal(size=(6, 1)), rng.normal(size=(4, 1))
    np.testing.assert_allclose(PeriodicKernel(0.7, period=1.9)(X, Y), ExpSineSquared(0.7, 1.9)(X, Y), atol=1e-13)


@pytest.mark.parametrize("kernel", [k for k, _ in KERNEL_PAIRS], ids=IDS)
def test_kernel_matrices_are_psd_and_batched(rng, kernel):
    X = rng.normal(size=(3, 12, 4))
    K = kernel(X)
    assert K.shape == (3, 12, 12)
    np.testing.assert_allclose(K[1], kernel(X[1]), atol=1e-13)
    assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()


def test_squared_distances_clamped_and_exact_diagonal(rng):
    X = 1e4 + rng.normal(size=(6, 2))  # large norms: the expansion loses the diagonal to rounding
    D = squared_distances(X)
    assert np.all(D >= 0) and np.all(np.diag(D) == 0)
    np.testing.assert_allclose(D, ((X[:, None] - X[None]) ** 2).sum(-1), atol=1e-6)


def test_median_heuristic_is_median_pairwise_distance(backend, rng):
    X, Y = rng.normal(size=(9, 3)), rng.normal(loc=1.0, size=(6, 3))
    med = median_heuristic(backend(X), backend(Y))
    assert type(med) is type(backend(X)) and tuple(med.shape) == ()
    assert float(med) == pytest.approx(np.median(pdist(np.vstack([X, Y]))), rel=1e-12)
    batched = median_heuristic(np.stack([X, 2 * X]))
    np.testing.assert_allclose(batched, [np.median(pdist(X)), 2 * np.median(pdist(X))], rtol=1e-12)


def test_learned_bandwidth_gradients(rng):
    torch = pytest.importorskip("torch")
    X = torch.from_numpy(rng.normal(size=(6, 2)))
    for cls in (GaussianKernel, LaplaceKernel):
        assert torch.autograd.gradcheck(lambda h: cls(h)(X).sum(), torch.tensor(0.8, dtype=torch.float64, requires_grad=True))
    Xg = X.clone().requires_grad_()
    LaplaceKernel(1.0)(Xg).sum().backward()  # sqrt at the zero diagonal must not give NaN
    assert torch.isfinite(Xg.grad).all()
    h = torch.tensor([0.5, 2.0], dtype=torch.float64)  # one bandwidth per batch element
    Kb = GaussianKernel(h)(torch.stack([X, X]))
    torch.testing.assert_close(Kb[1], GaussianKernel(2.0)(X))


def test_feature_kernel_is_weighted_feature_product(rng):
    X = rng.normal(size=(5, 2))
    phi = lambda Z: np.concatenate([np.ones(Z.shape[:-1] + (1,)), Z, np.sin(Z)], axis=-1)  # noqa: E731
    s = np.array([2.0, 0.5, 0.5, 1.5, 1.5])
    np.testing.assert_allclose(FeatureKernel(phi, s)(X), phi(X) @ np.diag(s) @ phi(X).T, atol=1e-13)


def test_kernel_errors_name_the_parameter(rng):
    X = rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="GaussianKernel: bandwidth must be > 0, got -1.0"):
        GaussianKernel(-1.0)
    with pytest.raises(ValueError, match="PeriodicKernel: period must be > 0"):
        PeriodicKernel(1.0, period=0.0)
    with pytest.raises(ValueError, match="PolynomialKernel: degree must be >= 1"):
        PolynomialKernel(0)
    with pytest.raises(ValueError, match="X and Y disagree on the number of features: X has 2, Y has 3"):
        GaussianKernel(1.0)(X, rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match="X must have at least 2 dimension"):
        LinearKernel()(X[0])
    with pytest.raises(TypeError, match="one library"):
        GaussianKernel(1.0)(X, pytest.importorskip("torch").from_numpy(X))
    with pytest.raises(ValueError, match="median_heuristic: needs at least 2 points"):
        median_heuristic(X[:1])


# ------------------------------------------------------------------------------------
# Fourier-feature GP = the Bayes predictor of the Fourier-series prior


def test_fourier_kernel_is_the_fourier_feature_product(backend, rng):
    from estimators.bayes import FourierFeatures

    x, y = rng.uniform(-2, 2, size=(2, 7, 1)), rng.uniform(-2, 2, size=(2, 4, 1))
    s = np.array([1.0, 0.5, 0.25, 0.125])
    phi = FourierFeatures(3, 0.8)(x), FourierFeatures(3, 0.8)(y)
    ref = phi[0] @ np.diag(np.r_[s, s[1:]]) @ np.swapaxes(phi[1], -1, -2)
    K = FourierKernel(3, 0.8, s)(backend(x), backend(y))
    np.testing.assert_allclose(backend.numpy(K), ref, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="FourierKernel: inputs must have one feature"):
        FourierKernel(3)(rng.normal(size=(4, 2)))
    with pytest.raises(ValueError, match="FourierKernel: variances must be a float or 4 values"):
        FourierKernel(3, variances=[1.0, 2.0])


def test_fourier_gp_posterior_mean_is_the_feature_prior_bayes_predictor(rng):
    from estimators.bayes import FeaturePrior, FourierFeatures, GaussianPrior

    N, L, tau2, noise = 4, 1.5, 0.7, 0.05
    prior = FeaturePrior(FourierFeatures(N, L), GaussianPrior.isotropic(2 * N + 1, tau2))
    coefs = prior.sample(3, rng)
    xs = rng.uniform(-L, L, size=(3, 15, 1))
    ys = prior.evaluate(xs, coefs) + np.sqrt(noise) * rng.normal(size=(3, 15))
    kernel = FourierKernel(N, L, tau2)
    np.testing.assert_allclose(kernel_ridge_prefixes(xs, ys, kernel, noise), prior.predict_prefixes(xs, ys, noise),
                               rtol=1e-8, atol=1e-10)
    xq = rng.uniform(-L, L, size=(3, 5, 1))
    post = gp_posterior(xs, ys, kernel, noise, xq)
    mean_w = prior.posterior(xs, ys, noise).mean  # (3, 2N + 1)
    np.testing.assert_allclose(post.mean, prior.evaluate(xq, mean_w), rtol=1e-8, atol=1e-10)
