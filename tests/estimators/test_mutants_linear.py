"""Properties of the linear baselines that mutation testing found unchecked (docs/testing.md).

Each test states a closed form or an invariance: the parameter named in an error, the fit at
w = 0 (zero design, zero steps, zero rate), scale equivariance of ridge over 240 orders of
magnitude, k-NN ties and k > n, and the dtype of every all-prefix function.
"""

from __future__ import annotations

import numpy as np
import pytest

from estimators import (
    averaging,
    averaging_prefixes,
    gd,
    gd_prefixes,
    knn_predict,
    knn_prefixes,
    ols,
    ols_prefixes,
    ridge,
    ridge_prefixes,
)

_X = np.random.default_rng(3).standard_normal((6, 2))
_Y = np.random.default_rng(4).standard_normal(6)


@pytest.mark.parametrize(
    "fn, kwargs, param, exc",
    [
        (ridge, {"lam": -1.0}, "lam", ValueError),
        (ridge_prefixes, {"lam": -1.0}, "lam", ValueError),
        (gd, {"lr": -0.1, "steps": 1}, "lr", ValueError),
        (gd, {"lr": 0.1, "steps": -1}, "steps", ValueError),
        (gd, {"lr": 0.1, "steps": 1.5}, "steps", TypeError),
        (gd_prefixes, {"lr": -0.1, "steps": 1}, "lr", ValueError),
        (gd_prefixes, {"lr": 0.1, "steps": -1}, "steps", ValueError),
        (gd_prefixes, {"lr": 0.1, "steps": 1.5}, "steps", TypeError),
        (knn_prefixes, {"k": 0}, "k", ValueError),
        (knn_prefixes, {"k": 2.5}, "k", TypeError),
        (knn_predict, {"Xq": _X, "k": 0}, "k", ValueError),
    ],
)
def test_a_bad_value_names_the_function_and_the_parameter(fn, kwargs, param, exc):
    with pytest.raises(exc, match=rf"^{fn.__name__}\b.*\b{param}\b"):
        fn(_X, _Y, **kwargs)


@pytest.mark.parametrize("fn", [ols, averaging, ridge, gd, knn_predict, ols_prefixes, ridge_prefixes, gd_prefixes, averaging_prefixes, knn_prefixes])
def test_malformed_data_names_the_function(fn):
    kwargs = {"ridge": {"lam": 1.0}, "ridge_prefixes": {"lam": 1.0}, "gd": {"lr": 0.1, "steps": 1},
              "gd_prefixes": {"lr": 0.1, "steps": 1}, "knn_predict": {"Xq": _X}}.get(fn.__name__, {})
    with pytest.raises(ValueError, match=rf"^{fn.__name__}\b"):
        fn(_X, _Y[:-1], **kwargs)  # one response short


def test_a_zero_design_gives_zero_weights():
    """X = 0: the min-norm and ridge solutions are w = 0 (not NaN from a 0 / 0 rescaling)."""
    X, y = np.zeros((2, 4, 3)), np.ones((2, 4))
    for w in (ols(X, y), ridge(X, y, 1.0), ridge(X, y, 0.0), averaging(X, y), gd(X, y, 0.5, 3)):
        np.testing.assert_array_equal(w, np.zeros((2, 3)))


@pytest.mark.parametrize("c", [1e-120, 1e-3, 1e3, 1e120])
def test_ridge_is_scale_equivariant(c):
    """ridge(c X, y, c^2 lam) = ridge(X, y, lam) / c and ols(c X, y) = ols(X, y) / c, for any c > 0.

    Both sides solve the same problem in the variable c w (Hoerl & Kennard 1970): the identity checks
    the per-problem rescaling and the spectral filter far from unit scale, where s^2 underflows or
    overflows.
    """
    rng = np.random.default_rng(7)
    for k, d in ((7, 3), (3, 5)):
        X, y = rng.standard_normal((2, k, d)), rng.standard_normal((2, k))
        for lam in (1e-3, 1.0, 1e3):
            np.testing.assert_allclose(ridge(c * X, y, c * c * lam) * c, ridge(X, y, lam), rtol=1e-9)
        np.testing.assert_allclose(ols(c * X, y) * c, ols(X, y), rtol=1e-9)


def test_ridge_filter_below_the_representable_ratio():
    """A singular value far below lam: w = V diag(s / (s^2 + lam)) U^T y with s / lam to rounding.

    X = diag(s1, s2) with s2 = 1e-300 and lam = 1e10: s2 / lam = 1e-310 is subnormal, lam / s2 overflows;
    the exact answer is w_i = s_i y_i / (s_i^2 + lam).
    """
    s = np.array([1.0, 1e-300])
    X, y, lam = np.diag(s), np.array([2.0, 3.0]), 1e10
    expected = s * y / (s * s + lam)
    w = ridge(X, y, lam)
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(w[0], expected[0], rtol=1e-12)
    assert w[1] == pytest.approx(expected[1], rel=1e-6, abs=0.0) and w[1] > 0


def test_ridge_without_penalty_is_ols_on_both_sides_of_d():
    rng = np.random.default_rng(8)
    for k, d in ((2, 5), (5, 5), (9, 5)):
        X, y = rng.standard_normal((k, d)), rng.standard_normal(k)
        np.testing.assert_allclose(ridge(X, y, 0.0), ols(X, y), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ridge_prefixes(X, y, 0.0), ols_prefixes(X, y), rtol=1e-12, atol=1e-12)


def test_gd_from_zero_without_steps_or_rate_stays_at_zero():
    X, y = _X[None], _Y[None]
    for w in (gd(X, y, 0.3, 0), gd(X, y, 0.0, 5)):
        np.testing.assert_array_equal(w, np.zeros((1, 2)))
    for preds in (gd_prefixes(X, y, 0.3, 0), gd_prefixes(X, y, 0.0, 5)):
        np.testing.assert_array_equal(preds, np.zeros((1, 6)))


def test_gd_iterates_have_the_closed_form():
    r"""w_t = (I - (I - eta G)^t) G^{-1} c with G = X^T X / k, c = X^T y / k (von Oswald et al. 2023, section 2)."""
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    G, c = X.T @ X / 8, X.T @ y / 8
    for lr, t in ((0.1, 1), (0.3, 4), (0.5, 7)):
        closed = (np.eye(3) - np.linalg.matrix_power(np.eye(3) - lr * G, t)) @ np.linalg.solve(G, c)
        np.testing.assert_allclose(gd(X, y, lr, t), closed, rtol=1e-10)
        np.testing.assert_allclose(gd_prefixes(X, y, lr, t)[-1], X[-1] @ gd(X[:-1], y[:-1], lr, t), rtol=1e-10)


def test_gd_divergence_is_an_error_that_names_lr():
    X = np.random.default_rng(10).standard_normal((6, 2)) * 10
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match=r"^gd\b.*\blr\b"):
        gd(X, _Y, 1e3, 400)


def test_knn_ties_go_to_the_lower_index_and_k_beyond_n_averages_everything():
    X, y = np.zeros((4, 1)), np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_array_equal(knn_predict(X, y, np.zeros((1, 1)), k=2), [1.5])
    np.testing.assert_array_equal(knn_predict(X, y, np.zeros((1, 1)), k=10), [3.75])
    np.testing.assert_array_equal(knn_prefixes(X, y, k=2), [0.0, 1.0, 1.5, 1.5])
    np.testing.assert_array_equal(knn_prefixes(X, y, k=10), [0.0, 1.0, 1.5, 7.0 / 3.0])
    np.testing.assert_array_equal(knn_prefixes(X, y, k=1), [0.0, 1.0, 1.0, 1.0])


def test_knn_uses_euclidean_distance():
    """The nearest point in Euclidean distance, not in one coordinate or in the sum of differences."""
    X, y = np.array([[3.0, 0.0], [2.0, 2.0], [-2.0, -2.0]]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(knn_predict(X, y, np.zeros((1, 2)), k=1), [2.0])  # |.|^2: 9, 8, 8
    np.testing.assert_array_equal(knn_predict(X, y, np.array([[0.0, 3.0]]), k=1), [2.0])
    np.testing.assert_array_equal(knn_prefixes(np.vstack([X, [[0.0, 3.0]]]), np.append(y, 0.0), k=1)[-1], 2.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_prefix_function_keeps_the_dtype_and_agrees_with_float64(dtype):
    rng = np.random.default_rng(11)
    xs, ys = rng.standard_normal((2, 9, 3)), rng.standard_normal((2, 9))
    calls = [
        (ols_prefixes, {}), (ridge_prefixes, {"lam": 0.5}), (gd_prefixes, {"lr": 0.2, "steps": 3}),
        (averaging_prefixes, {}), (knn_prefixes, {"k": 2}),
    ]
    for fn, kwargs in calls:
        out = fn(xs.astype(dtype), ys.astype(dtype), **kwargs)
        assert out.dtype == dtype, fn.__name__
        ref = fn(xs.astype(dtype).astype(np.float64), ys.astype(dtype).astype(np.float64), **kwargs)
        np.testing.assert_allclose(out, ref.astype(dtype), rtol=1e-6, atol=1e-6, err_msg=fn.__name__)


def test_averaging_prefixes_divides_by_the_prefix_length():
    """y_hat_k = x_k^T (1/k) sum_{i<k} y_i x_i: with x = 1 and y = i this is the running mean of 0..k-1."""
    xs, ys = np.ones((6, 1)), np.arange(6.0)
    np.testing.assert_allclose(averaging_prefixes(xs, ys), [0.0, 0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(gd_prefixes(xs, ys, 1.0, 1), [0.0, 0.0, 0.5, 1.0, 1.5, 2.0])
