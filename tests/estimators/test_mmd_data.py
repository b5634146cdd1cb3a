"""Tests of estimators.mmd_data: Blob / HDGM as Liu et al. define them, null versions, multi-population."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estimators.mmd_data import (
    BLOB_CORRELATIONS,
    blob,
    hdgm,
    multi_population,
    multi_population_rho,
    separated_populations,
)
from estimators.mmd.data import _expected_kernel, _pairs, _population_mmd2


def test_blob_centres_and_covariances():
    X, Y = blob(60000, rng=0)
    assert X.shape == Y.shape == (60000, 2)
    for Z, corr in ((X, np.zeros(9)), (Y, BLOB_CORRELATIONS)):
        c = np.clip(np.round(Z), 0, 2)
        idx = (3 * c[:, 0] + c[:, 1]).astype(int)
        assert np.all(np.abs(np.bincount(idx, minlength=9) / len(Z) - 1 / 9) < 0.01)  # uniform centres
        for i in range(9):
            R = Z[idx == i] - np.array([i // 3, i % 3])
            cov = np.cov(R.T)
            # the blobs are 2.9 standard deviations from their cell edges: truncation shrinks cov by < 4%
            np.testing.assert_allclose(np.diag(cov), 0.03, rtol=0.08)
            assert cov[0, 1] == pytest.approx(corr[i], abs=0.0025)
    assert BLOB_CORRELATIONS[0] == pytest.approx(-0.02) and BLOB_CORRELATIONS[3] == pytest.approx(-0.026)
    assert BLOB_CORRELATIONS[4] == 0 and BLOB_CORRELATIONS[8] == pytest.approx(0.026)


def test_blob_null_has_no_correlation():
    X, Y = blob(40000, rng=1, null=True)
    for Z in (X, Y):
        R = Z - np.clip(np.round(Z), 0, 2)
        assert abs(np.corrcoef(R.T)[0, 1]) < 0.02


def test_hdgm_modes_and_covariances():
    n, d = 40001, 4
    X, Y = hdgm(n, d, rng=0)
    half = (n + 1) // 2
    for Z, rho in ((X, (0.0, 0.0)), (Y, (0.5, -0.5))):
        for c, part in enumerate((Z[:half], Z[half:])):
            np.testing.assert_allclose(part.mean(0), 0.5 * c, atol=0.03)
            cov = np.cov(part.T)
            want = np.eye(d)
            want[0, 1] = want[1, 0] = rho[c]
            np.testing.assert_allclose(cov, want, atol=0.04)
    Xn, Yn = hdgm(n, d, rng=0, null=True)
    np.testing.assert_allclose(np.cov(Yn[:half].T), np.eye(d), atol=0.04)


def test_seeds_sizes_and_batches():
    a, b = hdgm(10, 3, rng=5, size=4), hdgm(10, 3, rng=5, size=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (4, 10, 3)
    assert not np.array_equal(blob(10, rng=1)[0], blob(10, rng=2)[0])
    g = np.random.default_rng(0)
    assert not np.array_equal(blob(10, g)[0], blob(10, g)[0])  # a Generator advances


def test_expected_kernel_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(0)
    d, bw = 3, 1.7
    S1 = np.eye(d)
    S2 = np.eye(d)
    S2[0, 2] = S2[2, 0] = 0.6
    m1, m2 = np.zeros(d), np.full(d, 0.5)
    exact = _expected_kernel([(1.0, m1, S1)], [(1.0, m2, S2)], bw)
    a = rng.multivariate_normal(m1, S1, size=400000)
    b = rng.multivariate_normal(m2, S2, size=400000)
    mc = np.exp(-np.sum((a - b) ** 2, axis=1) / (2 * bw**2))
    assert exact == pytest.approx(mc.mean(), abs=4 * mc.std() / math.sqrt(len(mc)))


def test_multi_population_matches_difficulty_across_k():
    d, rho1 = 5, 0.35
    target = _population_mmd2(d, 1, rho1, math.sqrt(d))
    rhos = [multi_population_rho(K, d, rho1) for K in (1, 2, 4, 8)]
    assert rhos[0] == rho1 and all(r1 < r2 < 1 for r1, r2 in zip(rhos, rhos[1:]))
    for K, rho in zip((1, 2, 4, 8), rhos):
        assert _population_mmd2(d, K, rho, math.sqrt(d)) == pytest.approx(target, rel=1e-8)
    assert len(set(_pairs(d))) == len(_pairs(d)) == 10


def test_multi_population_mixture_structure():
    n, d, K = 60000, 5, 4
    X, Y = multi_population(n, K, d, rng=0)
    rho = multi_population_rho(K, d, 0.35)
    mode0 = Y[: (n + 1) // 2]
    cov = np.cov(mode0.T)
    for a, b in _pairs(d)[:K]:  # each population adds +rho / K on its own pair in mode 0
        assert cov[a, b] == pytest.approx(rho / K, abs=0.02)
    np.testing.assert_allclose(np.cov(X[: (n + 1) // 2].T), np.eye(d), atol=0.03)
    # K = 1 at rho1 = 0.5 is HDGM
    _, Y1 = multi_population(n, 1, d, rng=1, rho1=0.5)
    _, Yh = hdgm(n, d, rng=2)
    np.testing.assert_allclose(np.cov(Y1[: (n + 1) // 2].T), np.cov(Yh[: (n + 1) // 2].T), atol=0.03)


def test_separated_populations_are_far_apart_and_each_shifted():
    n, d, K, shift = 40000, 4, 6, 6.0  # far enough apart that the nearest mean recovers the population
    X, Y = separated_populations(n, K, d, rng=0, shift=shift)
    np.testing.assert_allclose(X.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(X.T), np.eye(d), atol=0.03)
    # each point of Y is a population mean (one of +-shift e_j) plus standard normal noise:
    # the nearest of the K means recovers the population, and the residual is N(0, I)
    means = shift * np.concatenate([np.eye(d), -np.eye(d)])[:K]
    pop = np.argmin(((Y[:, None, :] - means) ** 2).sum(-1), axis=1)
    assert np.all(np.abs(np.bincount(pop, minlength=K) / n - 1 / K) < 0.03)
    for k in range(K):
        np.testing.assert_allclose(Y[pop == k].mean(0), means[k], atol=0.1)
    # pairwise distances between population means: shift * sqrt(2), or 2 shift for opposite axes
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(K, 1)]
    assert set(np.round(dist / shift, 6)) == {round(np.sqrt(2), 6), 2.0}
    Xn, Yn = separated_populations(50, K, d, rng=1, null=True, size=3)
    assert Xn.shape == Yn.shape == (3, 50, d)
    np.testing.assert_array_equal(separated_populations(5, 2, 3, rng=7)[1], separated_populations(5, 2, 3, rng=7)[1])


def test_bad_input_errors():
    with pytest.raises(ValueError, match="n must be >= 2, got 1"):
        blob(1)
    with pytest.raises(ValueError, match="d must be >= 2"):
        hdgm(10, d=1)
    with pytest.raises(ValueError, match="K must be <= 3"):
        multi_population(10, K=4, d=3)
    with pytest.raises(ValueError, match="rho1 must be < 1"):
        multi_population_rho(2, 5, rho1=1.0)
    with pytest.raises(ValueError, match="lower rho1"):
        multi_population_rho(8, 5, rho1=0.7)
    with pytest.raises(TypeError, match="size must be an integer"):
        blob(10, size=2.5)
    with pytest.raises(ValueError, match="K must be <= 6"):
        separated_populations(10, K=7, d=3)
    with pytest.raises(ValueError, match="shift must be > 0"):
        separated_populations(10, K=1, shift=0.0)
