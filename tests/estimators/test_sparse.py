"""Lasso: agreement with scikit-learn's objective, prefixes, backends, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from estimators import lasso, lasso_objective, lasso_prefixes

seeds = st.integers(0, 2**32 - 1)


def sparse_problem(seed, B, k, d, noise=0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, k, d))
    w = rng.standard_normal((B, d)) * (rng.random((B, d)) < 0.4)
    return X, np.einsum("bkd,bd->bk", X, w) + noise * rng.standard_normal((B, k))


@given(st.integers(1, 3), st.integers(1, 15), st.integers(1, 8), seeds, st.floats(1e-3, 1.0))
def test_lasso_objective_matches_sklearn(B, k, d, seed, alpha):
    from sklearn.linear_model import Lasso

    X, y = sparse_problem(seed, B, k, d)
    w = lasso(X, y, alpha)
    ours = lasso_objective(X, y, w, alpha)
    for b in range(B):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_w = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=200_000).fit(X[b], y[b]).coef_
        ref = lasso_objective(X[b], y[b], ref_w, alpha)
        # never worse than scikit-learn's coordinate descent beyond 1e-9 relative
        assert ours[b] <= ref * (1 + 1e-9) + 1e-14, (ours[b], ref)
        if k >= d:  # the strictly convex case has a unique minimiser
            np.testing.assert_allclose(w[b], ref_w, atol=1e-6)


def test_lasso_subgradient_optimality(rng):
    """KKT: X_j^T r / k = alpha sign(w_j) on the support, |X_j^T r / k| <= alpha off it."""
    X, y = sparse_problem(3, 5, 30, 10)
    alpha = 0.1
    w = lasso(X, y, alpha)
    grad = np.einsum("bkd,bk->bd", X, y - np.einsum("bkd,bd->bk", X, w)) / 30
    on = w != 0
    np.testing.assert_allclose(grad[on], alpha * np.sign(w[on]), atol=1e-8)
    assert np.all(np.abs(grad[~on]) <= alpha + 1e-8)


def test_large_alpha_gives_zero_and_zero_alpha_gives_least_squares(rng):
    X, y = sparse_problem(4, 3, 20, 5)
    alpha_max = np.abs(np.einsum("bkd,bk->bd", X, y)).max() / 20
    assert np.all(lasso(X, y, 1.01 * alpha_max) == 0)
    np.testing.assert_allclose(lasso(X, y, 0.0), np.stack([np.linalg.lstsq(X[b], y[b], rcond=None)[0] for b in range(3)]), atol=1e-7)


@given(st.integers(1, 2), st.integers(2, 14), st.integers(1, 6), seeds, st.floats(0.01, 0.5))
def test_every_prefix_equals_the_single_fit(B, n, d, seed, alpha):
    xs, ys = sparse_problem(seed, B, n, d)
    from estimators.sparse import lasso_weights_prefixes

    W = lasso_weights_prefixes(xs, ys, alpha)
    preds = lasso_prefixes(xs, ys, alpha)
    assert np.all(preds[:, 0] == 0)
    for k in range(1, n):
        single = lasso(xs[:, :k], ys[:, :k], alpha)
        o_prefix = lasso_objective(xs[:, :k], ys[:, :k], W[:, k], alpha)
        o_single = lasso_objective(xs[:, :k], ys[:, :k], single, alpha)
        np.testing.assert_allclose(o_prefix, o_single, rtol=1e-8)
        np.testing.assert_allclose(preds[:, k], np.einsum("bd,bd->b", xs[:, k], W[:, k]), atol=1e-12)


@pytest.mark.parametrize("repeat", ["points", "columns"])
def test_repeated_points_or_columns_are_solved_exactly(repeat):
    """Degenerate data (X_A singular with fewer than k active columns) takes the null-direction step."""
    from sklearn.linear_model import Lasso

    xs, ys = sparse_problem(21, 3, 16, 8)
    if repeat == "points":
        xs[:, 3], ys[:, 3] = xs[:, 1], ys[:, 1]
    else:
        xs[:, :, 2] = xs[:, :, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback warning
        from estimators.sparse import lasso_weights_prefixes

        W = lasso_weights_prefixes(xs, ys, 0.05)
    for b in range(3):
        for k in range(1, 16):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref_w = Lasso(alpha=0.05, fit_intercept=False, tol=1e-14, max_iter=500_000).fit(xs[b, :k], ys[b, :k]).coef_
            ref = lasso_objective(xs[b, :k], ys[b, :k], ref_w, 0.05)
            assert lasso_objective(xs[b, :k], ys[b, :k], W[b, k], 0.05) <= ref * (1 + 1e-9) + 1e-14


def test_rank_deficient_prefixes_have_at_most_k_nonzeros():
    """In general position a lasso solution has at most k nonzeros (Tibshirani 2013, lemma 14)."""
    from estimators.sparse import lasso_weights_prefixes

    xs, ys = sparse_problem(8, 4, 12, 20)
    W = lasso_weights_prefixes(xs, ys, 0.01)
    nonzeros = np.count_nonzero(W, axis=-1)  # (B, n)
    assert np.all(nonzeros <= np.arange(12)[None, :])
    assert nonzeros[:, 11].max() == 11  # a small penalty saturates the support


def test_iterative_fallback_reaches_the_same_objective():
    """The proximal-gradient / coordinate-descent fallback certifies the same optimum."""
    from estimators.sparse._lasso import _finish, _lasso_gram

    X, y = sparse_problem(13, 6, 9, 12)  # k < d: the rank-deficient case first-order methods crawl on
    G, c = np.swapaxes(X, -1, -2) @ X, np.einsum("bkd,bk->bd", X, y)
    yy, k = np.einsum("bk,bk->b", y, y), np.full(6, 9.0)
    exact = _lasso_gram(G, c, yy, k, 0.05, 1e-10, 20000, "lasso")
    fallback = _finish(G, c, yy, k, 0.05 * k, np.zeros_like(c), np.zeros(6, dtype=bool), 1e-10, 20000, "lasso")
    np.testing.assert_allclose(lasso_objective(X, y, fallback, 0.05), lasso_objective(X, y, exact, 0.05), rtol=1e-9)


def test_backends_agree_with_scikit_learn(backend):
    from sklearn.linear_model import Lasso

    def sk(X, y):
        return Lasso(alpha=0.1, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_

    xs, ys = sparse_problem(11, 2, 12, 5)
    ref = np.array([[0.0] + [xs[b, k] @ sk(xs[b, :k], ys[b, :k]) for k in range(1, 12)] for b in range(2)])
    out = lasso_prefixes(backend(xs), backend(ys), 0.1)
    np.testing.assert_allclose(backend.numpy(out), ref, atol=1e-7)
    ref_w = np.stack([sk(xs[b], ys[b]) for b in range(2)])
    np.testing.assert_allclose(backend.numpy(lasso(backend(xs), backend(ys), 0.1)), ref_w, atol=1e-7)
    assert backend.numpy(out).dtype == np.float64


def test_float32_input_keeps_its_dtype():
    import torch

    xs, ys = sparse_problem(12, 2, 12, 5)
    out = lasso_prefixes(torch.from_numpy(xs).float(), torch.from_numpy(ys).float(), 0.1)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), lasso_prefixes(xs, ys, 0.1), atol=1e-5)


def test_non_convergence_warns_with_advice():
    xs, ys = sparse_problem(5, 2, 12, 6)
    with pytest.warns(RuntimeWarning, match="increase max_iter"):
        lasso(xs, ys, 1e-4, tol=1e-16, max_iter=3)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"alpha": -1.0}, ValueError, "lasso: alpha must be >= 0, got -1.0"),
        ({"alpha": 0.1, "tol": 0.0}, ValueError, "tol must be > 0"),
        ({"alpha": 0.1, "max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ],
)
def test_bad_input(kwargs, exc, match):
    X, y = sparse_problem(0, 1, 5, 3)
    with pytest.raises(exc, match=match):
        lasso(X, y, **kwargs)
    with pytest.raises(ValueError, match="lasso_prefixes: xs and ys disagree"):
        lasso_prefixes(X, y[:, :3], 0.1)


def test_one_point_prompts_have_only_the_empty_prefix():
    xs, ys = sparse_problem(2, 3, 1, 4)
    assert np.all(lasso_prefixes(xs, ys, 0.1) == 0)
    xs, ys = sparse_problem(2, 3, 2, 4)
    np.testing.assert_allclose(lasso_prefixes(xs, ys, 0.1)[:, 1], np.einsum("bd,bd->b", xs[:, 1], lasso(xs[:, :1], ys[:, :1], 0.1)))
