"""Properties of the linear baselines: scikit-learn agreement, identities, prefixes, backends, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

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

# Problems are drawn from seeds: Gaussian data is in general position, so the identities below are
# exact up to rounding, and hypothesis still explores sizes, scales and penalties.
problem_shapes = st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 7))  # (B, k, d)
seeds = st.integers(0, 2**32 - 1)
penalties = st.floats(1e-3, 1e3)


def make_problem(seed, B, k, d, noise=0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, k, d))
    w = rng.standard_normal((B, d))
    y = np.einsum("bkd,bd->bk", X, w) + noise * rng.standard_normal((B, k))
    return X, y


def prefix_reference(fit, xs, ys):
    """preds[:, k] = x_k . fit(first k pairs): the slow definition the all-prefix functions must equal."""
    B, n, _ = xs.shape
    out = np.zeros((B, n))
    for k in range(1, n):
        out[:, k] = np.einsum("bd,bd->b", xs[:, k], fit(xs[:, :k], ys[:, :k]))
    return out


# ----------------------------------------------------------------------------- scikit-learn agreement


@given(problem_shapes, seeds, penalties)
def test_ridge_matches_sklearn(shape, seed, lam):
    from sklearn.linear_model import Ridge

    X, y = make_problem(seed, *shape)
    w = ridge(X, y, lam)
    for b in range(X.shape[0]):
        ref = Ridge(alpha=lam, fit_intercept=False, solver="cholesky").fit(X[b], y[b]).coef_
        np.testing.assert_allclose(w[b], ref, rtol=1e-7, atol=1e-9)


@given(problem_shapes, seeds)
def test_ols_is_min_norm_lstsq(shape, seed):
    X, y = make_problem(seed, *shape)
    w = ols(X, y)
    for b in range(X.shape[0]):
        ref = np.linalg.lstsq(X[b], y[b], rcond=None)[0]  # lstsq returns the minimum-norm solution
        np.testing.assert_allclose(w[b], ref, rtol=1e-7, atol=1e-9)


@given(st.integers(2, 15), st.integers(1, 4), st.integers(1, 5), seeds)
def test_knn_matches_sklearn(n, d, k, seed):
    from sklearn.neighbors import KNeighborsRegressor

    rng = np.random.default_rng(seed)
    X, y, Xq = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal((6, d))
    k = min(k, n)
    ref = KNeighborsRegressor(n_neighbors=k, algorithm="brute").fit(X, y).predict(Xq)
    np.testing.assert_allclose(knn_predict(X, y, Xq, k=k), ref, rtol=1e-12)


# ----------------------------------------------------------------------------- identities


@given(problem_shapes, seeds)
def test_ridge_tends_to_ols_and_to_zero(shape, seed):
    X, y = make_problem(seed, *shape)
    w_ols = ols(X, y)
    scale = 1 + np.abs(w_ols).max()
    # ||ridge - ols|| <= (lam / s_min^2) ||ols|| with s_min the smallest nonzero singular value of X.
    lam = 1e-10
    s_min = np.linalg.svd(X, compute_uv=False)[..., -1]
    bound = 2 * lam / s_min**2 * np.linalg.norm(w_ols, axis=-1) + 1e-8 * scale
    assert np.all(np.linalg.norm(ridge(X, y, lam) - w_ols, axis=-1) <= bound)
    big = ridge(X, y, 1e12)
    assert np.abs(big).max() < 1e-9 * (1 + np.abs(X).max() * np.abs(y).max() * X.shape[1])
    # and monotone shrinkage of the norm along the path
    norms = [np.linalg.norm(ridge(X, y, lam), axis=-1) for lam in (0.01, 0.1, 1.0, 10.0)]
    assert all(np.all(a >= b - 1e-12) for a, b in zip(norms, norms[1:]))


@given(problem_shapes, seeds, penalties)
def test_order_invariance(shape, seed, lam):
    X, y = make_problem(seed, *shape)
    perm = np.random.default_rng(seed + 1).permutation(X.shape[1])
    np.testing.assert_allclose(ridge(X[:, perm], y[:, perm], lam), ridge(X, y, lam), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ols(X[:, perm], y[:, perm]), ols(X, y), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(averaging(X[:, perm], y[:, perm]), averaging(X, y), atol=1e-12)


@given(problem_shapes, seeds, penalties)
def test_stacked_data_with_doubled_penalty(shape, seed, lam):
    X, y = make_problem(seed, *shape)
    stacked = ridge(np.concatenate([X, X], axis=1), np.concatenate([y, y], axis=1), 2 * lam)
    np.testing.assert_allclose(stacked, ridge(X, y, lam), rtol=1e-7, atol=1e-10)


def test_gd_one_step_is_scaled_averaging(rng):
    X, y = rng.standard_normal((4, 7, 3)), rng.standard_normal((4, 7))
    np.testing.assert_allclose(gd(X, y, lr=0.3, steps=1), 0.3 * averaging(X, y), atol=1e-14)
    assert np.all(gd(X, y, lr=0.3, steps=0) == 0)


def test_gd_converges_to_least_squares(rng):
    X, y = rng.standard_normal((3, 30, 4)), rng.standard_normal((3, 30))
    lr = 0.9 / np.linalg.eigvalsh(np.einsum("bki,bkj->bij", X, X) / 30).max()
    np.testing.assert_allclose(gd(X, y, lr=lr, steps=3000), ols(X, y), atol=1e-8)


# ----------------------------------------------------------------------------- prefixes


@given(st.integers(1, 3), st.integers(1, 14), st.integers(1, 6), seeds, penalties)
def test_every_prefix_equals_the_single_fit(B, n, d, seed, lam):
    xs, ys = make_problem(seed, B, n, d)
    np.testing.assert_allclose(ridge_prefixes(xs, ys, lam), prefix_reference(lambda X, y: ridge(X, y, lam), xs, ys), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(ols_prefixes(xs, ys), prefix_reference(ols, xs, ys), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gd_prefixes(xs, ys, 0.2, 3), prefix_reference(lambda X, y: gd(X, y, 0.2, 3), xs, ys), atol=1e-10)
    np.testing.assert_allclose(averaging_prefixes(xs, ys), prefix_reference(averaging, xs, ys), atol=1e-10)
    knn_ref = np.zeros((B, n))
    for k in range(1, n):
        knn_ref[:, k] = knn_predict(xs[:, :k], ys[:, :k], xs[:, k : k + 1], k=3)[:, 0]
    np.testing.assert_allclose(knn_prefixes(xs, ys, k=3), knn_ref, atol=1e-12)


def test_prefix_zero_is_zero_and_leading_axes_broadcast(rng):
    xs, ys = rng.standard_normal((2, 3, 9, 4)), rng.standard_normal((2, 3, 9))
    for preds in (ols_prefixes(xs, ys), ridge_prefixes(xs, ys, 0.5), gd_prefixes(xs, ys, 0.1, 2), averaging_prefixes(xs, ys), knn_prefixes(xs, ys)):
        assert preds.shape == (2, 3, 9)
        assert np.all(preds[..., 0] == 0)
    np.testing.assert_allclose(ridge_prefixes(xs, ys, 0.5)[1, 2], ridge_prefixes(xs[1, 2], ys[1, 2], 0.5), atol=1e-12)


def test_expected_noiseless_ols_error_is_d_minus_k():
    """E[(x^T w - x^T w_hat)^2] = d - k for k < d and 0 for k >= d (x, w ~ N(0, I)).

    Monte Carlo with B = 4000 prompts; each mean is checked against its 99.9% normal interval
    (a fixed seed, so the test is deterministic; the interval is wide enough to be non-flaky
    and narrow enough to detect an off-by-one in k, whose effect is a full unit).
    """
    d, n, B = 6, 10, 4000
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((B, n, d))
    ys = np.einsum("bnd,bd->bn", xs, rng.standard_normal((B, d)))
    err = (ols_prefixes(xs, ys) - ys) ** 2  # (B, n)
    z = stats.norm.ppf(0.9995)
    for k in range(n):
        expected = max(d - k, 0)
        mean, sem = err[:, k].mean(), err[:, k].std(ddof=1) / np.sqrt(B)
        if expected == 0:
            assert mean < 1e-10
        else:
            assert abs(mean - expected) < z * sem, (k, mean, expected, sem)


# ----------------------------------------------------------------------------- backends


def _reference_fits():
    """Independent float64 fits (scikit-learn, lstsq, the plain iteration), one prompt at a time."""
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import KNeighborsRegressor

    def per_prompt(fit):
        return lambda X, y, *rest: np.stack([fit(X[b], y[b], *(r[b] for r in rest)) for b in range(X.shape[0])])

    def gd_loop(X, y, lr, steps):
        w = np.zeros(X.shape[-1])
        for _ in range(steps):
            w = w - lr / X.shape[0] * X.T @ (X @ w - y)
        return w

    return {
        "ols": per_prompt(lambda X, y: np.linalg.lstsq(X, y, rcond=None)[0]),
        "ridge": lambda lam: per_prompt(
            lambda X, y: Ridge(alpha=lam, fit_intercept=False, solver="svd").fit(X, y).coef_),
        "gd": lambda lr, steps: per_prompt(lambda X, y: gd_loop(X, y, lr, steps)),
        "averaging": per_prompt(lambda X, y: X.T @ y / X.shape[0]),
        "knn": lambda k: per_prompt(lambda X, y, Xq: KNeighborsRegressor(n_neighbors=min(k, len(y)), algorithm="brute")
                                    .fit(X, y).predict(Xq)),
    }


def test_backends_agree_with_independent_float64_references(backend, rng):
    xs, ys = rng.standard_normal((3, 9, 4)), rng.standard_normal((3, 9))
    X, y, Xq = xs[:, :6], ys[:, :6], xs[:, 6:]
    ref = _reference_fits()
    cases = [
        (ols, (X, y), {}, ref["ols"](X, y)),
        (ridge, (X, y), {"lam": 0.3}, ref["ridge"](0.3)(X, y)),
        (gd, (X, y), {"lr": 0.1, "steps": 4}, ref["gd"](0.1, 4)(X, y)),
        (averaging, (X, y), {}, ref["averaging"](X, y)),
        (knn_predict, (X, y, Xq), {"k": 2}, ref["knn"](2)(X, y, Xq)),
        (ols_prefixes, (xs, ys), {}, prefix_reference(ref["ols"], xs, ys)),
        (ridge_prefixes, (xs, ys), {"lam": 0.3}, prefix_reference(ref["ridge"](0.3), xs, ys)),
        (gd_prefixes, (xs, ys), {"lr": 0.1, "steps": 4}, prefix_reference(ref["gd"](0.1, 4), xs, ys)),
        (averaging_prefixes, (xs, ys), {}, prefix_reference(ref["averaging"], xs, ys)),
        (knn_prefixes, (xs, ys), {"k": 3},
         np.stack([[0.0] + [float(ref["knn"](3)(xs[b : b + 1, :k], ys[b : b + 1, :k], xs[b : b + 1, k : k + 1])[0, 0])
                            for k in range(1, 9)] for b in range(3)])),
    ]
    for fn, args, kwargs, ref in cases:
        out = fn(*(backend(a) for a in args), **kwargs)
        assert type(out).__module__.split(".")[0] == type(backend(args[0])).__module__.split(".")[0], fn.__name__
        assert str(out.dtype).endswith("float64"), (fn.__name__, out.dtype)
        np.testing.assert_allclose(backend.numpy(out), ref, rtol=1e-9, atol=1e-10, err_msg=fn.__name__)


def test_float32_torch_keeps_dtype():
    torch = pytest.importorskip("torch")
    xs, ys = torch.randn(2, 8, 3), torch.randn(2, 8)
    for preds in (ols_prefixes(xs, ys), ridge_prefixes(xs, ys, 0.1), knn_prefixes(xs, ys), gd_prefixes(xs, ys, 0.1, 2)):
        assert preds.dtype == torch.float32 and preds.shape == (2, 8)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda X, y: ridge(X, y, -0.1), ValueError, "ridge: lam must be >= 0, got -0.1"),
        (lambda X, y: gd(X, y, -1.0, 3), ValueError, "lr must be >= 0"),
        (lambda X, y: gd(X, y, 0.1, -1), ValueError, "steps must be >= 0"),
        (lambda X, y: gd(X, y, 0.1, 2.5), TypeError, "steps must be an integer"),
        (lambda X, y: knn_predict(X, y, X, k=0), ValueError, "k must be >= 1"),
        (lambda X, y: ridge(X[0, 0], y, 1.0), ValueError, "X must have at least 2 dimension"),
        (lambda X, y: ols(X, y[..., :-1]), ValueError, "disagree on the number of points: X has 5, y has 4"),
        (lambda X, y: ols(X, np.where(np.arange(5) == 2, np.nan, y)), ValueError, "y contains NaN or infinite"),
        (lambda X, y: ols(np.full_like(X, np.inf), y), ValueError, "X contains NaN or infinite"),
        (lambda X, y: ols(X[:, :0], y[:, :0]), ValueError, "X is empty"),
        (lambda X, y: ols(X.astype(int), y), TypeError, "X must have a real floating dtype"),
        (lambda X, y: ridge_prefixes(X, y[:, :4], 1.0), ValueError, "xs and ys disagree on the number of points"),
        (lambda X, y: ridge_prefixes(X, np.stack([y, y]), 1.0), ValueError, "one more dimension"),
        (lambda X, y: ridge_prefixes(X, y, float("nan")), ValueError, "lam must be finite"),
        (lambda X, y: ols(X.tolist(), y), TypeError, "expected numpy, torch or jax arrays"),
        (lambda X, y: knn_predict(X, y, X[..., :1], k=1), ValueError, "disagree on the number of features"),
    ],
)
def test_bad_input_names_the_parameter(rng, call, exc, match):
    X, y = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5))
    with pytest.raises(exc, match=match):
        call(X, y)


def test_mixed_libraries_is_a_type_error(rng):
    torch = pytest.importorskip("torch")
    X, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    with pytest.raises(TypeError, match="all arrays must come from one library.*numpy, torch"):
        ridge(X, torch.from_numpy(y), 1.0)


def test_duplicate_points_in_ols_prefixes_give_clear_error():
    xs = np.ones((4, 3))
    with pytest.raises(ValueError, match="ols_prefixes: the first 3 points .* linearly dependent"):
        ols_prefixes(xs, np.ones(4))
    # ridge with lam > 0 is always well posed
    assert np.all(np.isfinite(ridge_prefixes(xs, np.ones(4), 0.1)))


@pytest.mark.parametrize("noise", [0.0, 0.25])
def test_float32_prompts_are_never_refused_and_match_float64(noise):
    # Garg et al.'s evaluation shape in float32 (the dtype of model outputs): a float32 Cholesky of the
    # first d points' Gram matrix (condition up to ~1e9) refused about a third of such batches.
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(7)
    for _ in range(10):
        xs = torch.randn(256, 41, 20, generator=gen)
        ys = (xs @ torch.randn(256, 20, 1, generator=gen))[..., 0] + noise**0.5 * torch.randn(256, 41, generator=gen)
        for fn in (ols_prefixes, lambda a, b: ridge_prefixes(a, b, noise)):
            got = fn(xs, ys)
            ref = fn(xs.double(), ys.double())
            assert got.dtype == torch.float32
            # float32 accuracy of the inputs, amplified by cond(X_d) near k = d: relative 1e-3 of the scale
            scale = ref.abs().clamp_min(1.0)
            assert float(((got.double() - ref).abs() / scale).max()) < 1e-3
        # and the float64 answer is the per-prompt least-squares fit (a few prompts, every prefix)
        X, Y = xs[:3].double().numpy(), ys[:3].double().numpy()
        loop = np.array([[X[b, k] @ np.linalg.lstsq(X[b, :k], Y[b, :k], rcond=None)[0] if k else 0.0
                          for k in range(41)] for b in range(3)])
        assert np.allclose(ols_prefixes(xs[:3], ys[:3]).double().numpy(), loop, rtol=1e-3, atol=1e-3)
