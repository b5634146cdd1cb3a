"""L-infinity minimisation: interpolation, minimality against brute force, sign-vector recovery, prefixes."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimators import linf_min, linf_min_prefixes, ols

seeds = st.integers(0, 2**32 - 1)


def _problem(seed, B, k, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, k, d))
    return X, np.einsum("bkd,bd->bk", X, rng.standard_normal((B, d)))


def _brute_force_linf(X, y):
    """min ||w||_inf s.t. Xw = y for full-row-rank X (k <= d) by enumerating candidate vertices.

    At a vertex of the program in (w, t) at least d - k + 1 coordinates sit at |w_i| = t: for every
    such set S and signs s the square system [X, 0; e_i^T, -s_i] (w, t) = (y, 0) is solved, and the
    feasible candidate (|w_j| <= t for all j) with the smallest t wins.
    """
    k, d = X.shape
    best = np.inf
    for S in itertools.combinations(range(d), d - k + 1):
        for signs in itertools.product((-1.0, 1.0), repeat=len(S)):
            M = np.zeros((d + 1, d + 1))
            rhs = np.zeros(d + 1)
            M[:k, :d], rhs[:k] = X, y
            for row, (i, s) in enumerate(zip(S, signs), start=k):
                M[row, i], M[row, d] = 1.0, -s
            try:
                z = np.linalg.solve(M, rhs)
            except np.linalg.LinAlgError:
                continue
            if z[d] >= -1e-12 and np.all(np.abs(z[:d]) <= z[d] + 1e-9):
                best = min(best, z[d])
    return best


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), seeds)
def test_interpolates_when_k_le_d(B, k, d, seed):
    X, y = _problem(seed, B, min(k, d), d)
    w = linf_min(X, y)
    np.testing.assert_allclose(np.einsum("bkd,bd->bk", X, w), y, atol=1e-8)


@given(st.integers(1, 4), st.integers(1, 4), seeds)
def test_inf_norm_is_minimal_against_brute_force(k, d, seed):
    k = min(k, d)
    X, y = _problem(seed, 1, k, d)
    w = linf_min(X, y)[0]
    np.testing.assert_allclose(np.abs(w).max(), _brute_force_linf(X[0], y[0]), rtol=1e-7, atol=1e-10)


def test_no_interpolant_has_a_smaller_inf_norm(rng):
    """Moving along the null space of X never lowers max |w_i| (random directions, small and large steps)."""
    X, y = _problem(7, 20, 3, 7)
    w = linf_min(X, y)
    for b in range(20):
        null = np.linalg.svd(X[b])[2][3:]  # (d - k, d) basis of the null space
        steps = rng.standard_normal((500, null.shape[0])) * rng.choice([1e-4, 1e-2, 1.0], size=(500, 1))
        assert np.all(np.abs(w[b] + steps @ null).max(-1) >= np.abs(w[b]).max() - 1e-10)


def _recovery_probability(k: int, d: int) -> float:
    """P(the sign vector is the unique L-inf interpolant) for Gaussian X (k x d), Mangasarian & Recht 2011:
    1 - 2^{-(d-1)} sum_{j < d - k} C(d - 1, j)."""
    return 1.0 - sum(comb(d - 1, j) for j in range(d - k)) / 2 ** (d - 1)


@pytest.mark.parametrize("k", [5, 7, 9, 10])
def test_recovers_sign_vectors_at_the_predicted_rate(k):
    """From k = d/2 on, L-inf minimisation recovers w in {-1, +1}^d at Mangasarian & Recht's rate (d = 10);
    from k = 3d/4 on that rate is above 0.9. 400 problems: the binomial 99.9% band is about +-0.08."""
    d, B = 10, 400
    rng = np.random.default_rng(k)
    X = rng.standard_normal((B, k, d))
    w_true = rng.choice([-1.0, 1.0], size=(B, d))
    w = linf_min(X, np.einsum("bkd,bd->bk", X, w_true))
    rate = float(np.mean(np.abs(w - w_true).max(-1) < 1e-6))
    p = _recovery_probability(k, d)
    assert abs(rate - p) <= 3.3 * np.sqrt(p * (1 - p) / B) + 1e-9, (k, rate, p)
    if k >= 3 * d / 4:
        assert rate > 0.9


def test_prefix_entry_equals_the_fit_on_the_prefix():
    X, y = _problem(3, 4, 9, 5)
    preds = linf_min_prefixes(X, y)
    assert preds.shape == (4, 9) and np.all(preds[:, 0] == 0)
    for k in range(1, 9):
        w = linf_min(X[:, :k], y[:, :k])
        np.testing.assert_allclose(preds[:, k], np.einsum("bd,bd->b", X[:, k], w), atol=1e-8)


def test_beyond_d_it_is_least_squares_and_scale_equivariant():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 12, 4))
    y = np.einsum("bkd,bd->bk", X, rng.standard_normal((3, 4))) + 0.3 * rng.standard_normal((3, 12))
    np.testing.assert_allclose(linf_min(X, y), ols(X, y), atol=1e-8)
    Xs, ys = _problem(2, 3, 2, 5)
    np.testing.assert_allclose(linf_min(Xs, -2.5 * ys), -2.5 * linf_min(Xs, ys), atol=1e-9)
    np.testing.assert_allclose(linf_min_prefixes(Xs, ys, chunk=1), linf_min_prefixes(Xs, ys), atol=1e-9)


def test_backends_agree(backend):
    xs, ys = _problem(5, 2, 6, 4)
    ref = linf_min_prefixes(xs, ys)
    out = linf_min_prefixes(backend(xs), backend(ys))
    assert backend.numpy(out).dtype == np.float64 and type(out) is type(backend(ys))
    np.testing.assert_allclose(backend.numpy(out), ref, atol=1e-10)
    np.testing.assert_allclose(backend.numpy(linf_min(backend(xs), backend(ys))), linf_min(xs, ys), atol=1e-10)


def test_errors_name_the_parameter():
    xs, ys = _problem(0, 1, 4, 3)
    with pytest.raises(ValueError, match="linf_min_prefixes: xs and ys disagree on the number of points"):
        linf_min_prefixes(xs, ys[:, :3])
    with pytest.raises(ValueError, match="linf_min: chunk"):
        linf_min(xs, ys, chunk=0)
