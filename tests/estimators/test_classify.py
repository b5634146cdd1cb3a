"""Tests of estimators.classify: naive Bayes and logistic regression against scikit-learn, identities,
invariances, all-prefix agreement, backends and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import BernoulliNB, GaussianNB

from estimators import (
    bernoulli_nb_fit,
    bernoulli_nb_predict,
    bernoulli_nb_predict_proba,
    bernoulli_nb_prefixes,
    gaussian_nb_fit,
    gaussian_nb_linear_form,
    gaussian_nb_predict,
    gaussian_nb_predict_proba,
    gaussian_nb_prefixes,
    logistic_fit,
    logistic_predict,
    logistic_predict_proba,
    logistic_prefixes,
)


def gaussian_data(rng, m=120, d=4, classes=3, shift=1.5):
    y = np.arange(m) % classes
    rng.shuffle(y)
    means = rng.normal(size=(classes, d)) * shift
    scales = rng.uniform(0.5, 2.0, size=(classes, d))
    X = means[y] + scales[y] * rng.normal(size=(m, d))
    return X, y


def tight_sklearn(X, y, C, sample_weight=None):
    return LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=sample_weight)


# ----------------------------------------------------------------------------- scikit-learn agreement


@pytest.mark.parametrize("classes", [2, 3, 5])
@pytest.mark.parametrize("var_smoothing", [1e-9, 1e-2])
def test_gaussian_nb_matches_sklearn(rng, classes, var_smoothing):
    X, y = gaussian_data(rng, classes=classes)
    Xq = rng.normal(size=(50, X.shape[1])) * 2
    params = gaussian_nb_fit(X, y, var_smoothing=var_smoothing)
    sk = GaussianNB(var_smoothing=var_smoothing).fit(X, y)
    np.testing.assert_allclose(params.means, sk.theta_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(params.var, sk.var_, rtol=1e-12)
    np.testing.assert_allclose(gaussian_nb_predict_proba(params, Xq), sk.predict_proba(Xq), rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        gaussian_nb_predict_proba(params, Xq, log=True), sk.predict_log_proba(Xq), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_array_equal(gaussian_nb_predict(params, Xq), sk.predict(Xq))


def test_gaussian_nb_priors_match_sklearn(rng):
    X, y = gaussian_data(rng, classes=3)
    priors = np.array([0.2, 0.5, 0.3])
    params = gaussian_nb_fit(X, y, priors=priors)
    sk = GaussianNB(priors=priors).fit(X, y)
    np.testing.assert_allclose(gaussian_nb_predict_proba(params, X), sk.predict_proba(X), rtol=0, atol=1e-8)


def test_gaussian_nb_shared_variance_is_pooled_within_class_variance(rng):
    X, y = gaussian_data(rng, classes=3)
    params = gaussian_nb_fit(X, y, shared_variance=True, var_smoothing=0.0)
    resid = X - np.stack([X[y == c].mean(0) for c in range(3)])[y]
    np.testing.assert_allclose(params.var[0], (resid**2).mean(0), rtol=1e-12)
    assert params.var.shape == (1, X.shape[1])


@pytest.mark.parametrize("alpha,binarize", [(1.0, 0.0), (0.3, 0.5), (2.0, None)])
def test_bernoulli_nb_matches_sklearn(rng, alpha, binarize):
    X = rng.normal(size=(80, 6))
    if binarize is None:
        X = (X > 0).astype(float)
    y = rng.integers(0, 3, size=80)
    Xq = rng.normal(size=(30, 6)) if binarize is not None else (rng.random((30, 6)) > 0.5).astype(float)
    params = bernoulli_nb_fit(X, y, alpha=alpha, binarize=binarize)
    sk = BernoulliNB(alpha=alpha, binarize=binarize).fit(X, y)
    np.testing.assert_allclose(params.feature_log_prob, sk.feature_log_prob_, rtol=1e-12)
    np.testing.assert_allclose(bernoulli_nb_predict_proba(params, Xq), sk.predict_proba(Xq), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(bernoulli_nb_predict(params, Xq), sk.predict(Xq))


@pytest.mark.parametrize("classes", [2, 3, 4])
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_logistic_matches_sklearn(rng, classes, C):
    X, y = gaussian_data(rng, m=90, d=5, classes=classes, shift=0.7)
    params = logistic_fit(X, y, C, tol=1e-10)
    sk = tight_sklearn(X, y, C)
    assert params.coef.shape == sk.coef_.shape and params.intercept.shape == sk.intercept_.shape
    np.testing.assert_allclose(params.coef, sk.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(params.intercept, sk.intercept_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(logistic_predict_proba(params, X), sk.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(logistic_predict(params, X), sk.predict(X))


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_float32_hessian_reaches_the_same_minimiser(rng, classes):
    X, y = gaussian_data(rng, m=90, d=5, classes=classes, shift=0.7)
    exact = logistic_fit(X, y, 1.0, tol=1e-10, hessian_dtype=None)
    for hessian_dtype in ("float32", "auto"):
        fast = logistic_fit(X, y, 1.0, tol=1e-10, hessian_dtype=hessian_dtype)
        assert fast.coef.dtype == np.float64
        np.testing.assert_allclose(fast.coef, exact.coef, atol=1e-9)
        np.testing.assert_allclose(fast.coef, tight_sklearn(X, y, 1.0).coef_, atol=1e-5)
    with pytest.raises(ValueError, match="hessian_dtype must be 'auto', None or 'float32'"):
        logistic_fit(X, y, hessian_dtype="float16")


def test_logistic_auto_hessian_falls_back_to_float64_when_ill_conditioned(rng):
    # near-collinear features (mixing singular values 1e-6..1) and a weak penalty: cond(H) ~ 1e12,
    # where a float32 Hessian no longer drives Newton's iteration
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    X = rng.standard_normal((20, 100, 6)) @ (Q * np.logspace(-6, 0, 6)).T
    w = rng.standard_normal((20, 6))
    y = (rng.random((20, 100)) < 1 / (1 + np.exp(-np.einsum("bmd,bd->bm", X, w)))).astype(np.int64)
    exact = logistic_fit(X, y, 1e8, tol=1e-10, hessian_dtype=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" converges: no RuntimeWarning
        auto = logistic_fit(X, y, 1e8, tol=1e-10)
    scale = np.abs(exact.coef).max(axis=-1, keepdims=True)
    np.testing.assert_allclose(auto.coef / scale, exact.coef / scale, rtol=0, atol=1e-8)
    with pytest.warns(RuntimeWarning, match="did not converge in max_iter=30"):
        logistic_fit(X, y, 1e8, tol=1e-10, hessian_dtype="float32", max_iter=30)


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_newton_hessian_is_the_jacobian_of_the_gradient(rng, classes):
    import array_api_compat.numpy as xnp

    from estimators.classify._newton import _augment, _gradient, _hessian, _scores

    X, y = gaussian_data(rng, m=30, d=3, classes=classes)
    binary = classes == 2
    Yk = (y == 1).astype(float)[:, None] if binary else np.eye(classes)[y]
    lam = np.array([0.7, 0.7, 0.7, 0.0])

    def gradient(theta, s):
        return _gradient(xnp, X, _scores(xnp, X, theta), Yk, s, theta, lam, binary=binary)

    def hessian(theta, s, at_zero=False):
        P = gradient(theta, s)[1]
        return _hessian(xnp, _augment(xnp, X), P, s, lam, binary=binary, fix_intercept=False, at_zero=at_zero)

    theta = rng.normal(size=(Yk.shape[1], 4)) * 0.3
    s = rng.uniform(0.5, 2.0, size=30)
    eps, n = 1e-6, theta.size
    numeric = np.stack(
        [
            (gradient(theta + eps * E, s)[0] - gradient(theta - eps * E, s)[0]).reshape(-1) / (2 * eps)
            for E in np.eye(n).reshape(n, *theta.shape)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(hessian(theta, s), numeric, rtol=0, atol=1e-8)
    # at theta = 0 with unit weights every p is 1/C: the one-Gram shortcut equals the general form
    zero, ones = np.zeros_like(theta), np.ones(30)
    np.testing.assert_allclose(hessian(zero, ones, at_zero=True), hessian(zero, ones), rtol=0, atol=1e-14)


def test_logistic_sample_weight_matches_sklearn(rng):
    X, y = gaussian_data(rng, m=60, d=3, classes=3, shift=0.7)
    w = rng.uniform(0.1, 3.0, size=60)
    params = logistic_fit(X, y, 0.5, sample_weight=w, tol=1e-10)
    sk = tight_sklearn(X, y, 0.5, sample_weight=w)
    np.testing.assert_allclose(params.coef, sk.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(params.intercept, sk.intercept_, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- identities and properties


def test_logistic_stacked_data_equals_doubled_C(rng):
    X, y = gaussian_data(rng, m=50, d=4, classes=3, shift=0.7)
    stacked = logistic_fit(np.concatenate([X, X]), np.concatenate([y, y]), 0.3, tol=1e-10)
    doubled = logistic_fit(X, y, 0.6, tol=1e-10)
    weighted = logistic_fit(X, y, 0.3, sample_weight=np.full(50, 2.0), tol=1e-10)
    np.testing.assert_allclose(stacked.coef, doubled.coef, atol=1e-9)
    np.testing.assert_allclose(weighted.coef, doubled.coef, atol=1e-9)
    np.testing.assert_allclose(stacked.intercept, doubled.intercept, atol=1e-9)


def test_logistic_is_rotation_equivariant(rng):
    """The L2 penalty is rotation invariant: X -> X Q gives coef -> coef Q and the same probabilities."""
    X, y = gaussian_data(rng, m=70, d=4, classes=3, shift=0.7)
    Q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    a, b = logistic_fit(X, y, 1.0, tol=1e-10), logistic_fit(X @ Q, y, 1.0, tol=1e-10)
    np.testing.assert_allclose(b.coef, a.coef @ Q, atol=1e-8)
    np.testing.assert_allclose(logistic_predict_proba(b, X @ Q), logistic_predict_proba(a, X), atol=1e-9)


@pytest.mark.parametrize("model", ["gnb", "gnb_shared", "bnb", "logistic"])
def test_class_relabelling_permutes_probabilities(rng, model):
    X, y = gaussian_data(rng, m=60, d=3, classes=3, shift=1.0)
    perm = np.array([2, 0, 1])  # class c is renamed perm[c]
    Xq = rng.normal(size=(20, 3))
    fits = {
        "gnb": lambda yy: gaussian_nb_predict_proba(gaussian_nb_fit(X, yy), Xq),
        "gnb_shared": lambda yy: gaussian_nb_predict_proba(gaussian_nb_fit(X, yy, shared_variance=True), Xq),
        "bnb": lambda yy: bernoulli_nb_predict_proba(bernoulli_nb_fit(X, yy), Xq),
        "logistic": lambda yy: logistic_predict_proba(logistic_fit(X, yy, 1.0, tol=1e-10), Xq),
    }
    p, q = fits[model](y), fits[model](perm[y])
    np.testing.assert_allclose(q[:, perm], p, atol=1e-9)


@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.lists(st.floats(1e-2, 1e2), min_size=3, max_size=3),
    shared=st.booleans(),
)
def test_gaussian_nb_is_invariant_to_feature_scaling(seed, scale, shared):
    rng = np.random.default_rng(seed)
    X, y = gaussian_data(rng, m=40, d=3, classes=2)
    Xq = rng.normal(size=(10, 3))
    a = np.asarray(scale)
    p = gaussian_nb_predict_proba(gaussian_nb_fit(X, y, shared_variance=shared, var_smoothing=0.0), Xq)
    q = gaussian_nb_predict_proba(gaussian_nb_fit(X * a, y, shared_variance=shared, var_smoothing=0.0), Xq * a)
    np.testing.assert_allclose(q, p, rtol=1e-7, atol=1e-10)


@given(seed=st.integers(0, 2**32 - 1), classes=st.integers(2, 4), loc=st.floats(-50, 50), spread=st.floats(0.1, 30))
def test_probabilities_are_distributions(seed, classes, loc, spread):
    rng = np.random.default_rng(seed)
    X, y = gaussian_data(rng, m=30, d=3, classes=classes)
    X = loc + spread * X
    Xq = loc + spread * 3 * rng.normal(size=(15, 3))
    for probs in (
        gaussian_nb_predict_proba(gaussian_nb_fit(X, y), Xq),
        gaussian_nb_predict_proba(gaussian_nb_fit(X, y, shared_variance=True), Xq),
        bernoulli_nb_predict_proba(bernoulli_nb_fit(X, y, binarize=loc), Xq),
        logistic_predict_proba(logistic_fit(X, y, 1.0), Xq),
    ):
        assert probs.shape == (15, classes)
        assert np.all(probs >= 0) and np.all(np.isfinite(probs))
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-12)


@given(seed=st.integers(0, 2**32 - 1), classes=st.integers(2, 4))
def test_shared_variance_log_odds_are_linear(seed, classes):
    """The proofs lemma: with a shared variance, log p(c|x) - log p(0|x) = (w_c - w_0)^T x + b_c - b_0."""
    rng = np.random.default_rng(seed)
    X, y = gaussian_data(rng, m=40, d=3, classes=classes)
    params = gaussian_nb_fit(X, y, shared_variance=True)
    coef, intercept = gaussian_nb_linear_form(params)
    Xq = rng.normal(size=(25, 3)) * 3
    logp = gaussian_nb_predict_proba(params, Xq, log=True)
    linear = Xq @ coef.T + intercept
    np.testing.assert_allclose(logp - logp[:, :1], linear - linear[:, :1], rtol=1e-9, atol=1e-8)
    # and the per-class model is not linear: its log-odds have curvature along some line
    per_class = gaussian_nb_fit(X, y)
    lo = gaussian_nb_predict_proba(per_class, np.stack([-Xq[0], 0 * Xq[0], Xq[0]]), log=True)
    second_difference = (lo[0] - 2 * lo[1] + lo[2]) - (lo[0, 0] - 2 * lo[1, 0] + lo[2, 0])
    assert np.max(np.abs(second_difference)) > 1e-6


def test_batched_fits_equal_individual_fits(rng):
    problems = [gaussian_data(rng, m=40, d=3, classes=3, shift=0.8) for _ in range(4)]
    X = np.stack([p[0] for p in problems]).reshape(2, 2, 40, 3)
    y = np.stack([p[1] for p in problems]).reshape(2, 2, 40)
    Xq = rng.normal(size=(2, 2, 7, 3))
    batch_lr = logistic_fit(X, y, 1.0, tol=1e-10)
    batch_nb = gaussian_nb_fit(X, y)
    assert batch_lr.coef.shape == (2, 2, 3, 3)
    for i in range(2):
        for j in range(2):
            single = logistic_fit(X[i, j], y[i, j], 1.0, tol=1e-10)
            np.testing.assert_allclose(batch_lr.coef[i, j], single.coef, atol=1e-12)
            np.testing.assert_allclose(
                gaussian_nb_predict_proba(batch_nb, Xq)[i, j],
                gaussian_nb_predict_proba(gaussian_nb_fit(X[i, j], y[i, j]), Xq[i, j]),
                atol=1e-14,
            )


def test_batched_logistic_with_early_converging_problems_equals_individual_fits(rng):
    # half the problems are nearly quadratic (tiny inputs) and converge in a few steps: the solver
    # drops them from its working set, which must not change anyone's result
    X = rng.standard_normal((32, 60, 4)) * np.where(np.arange(32) % 2 == 0, 0.05, 3.0)[:, None, None]
    w = rng.standard_normal((32, 4))
    y = (rng.random((32, 60)) < 1 / (1 + np.exp(-np.einsum("bmd,bd->bm", X, w)))).astype(np.int64)
    y[:, :2] = [0, 1]
    batch = logistic_fit(X.reshape(4, 8, 60, 4), y.reshape(4, 8, 60), 1.0, tol=1e-10)
    assert batch.coef.shape == (4, 8, 1, 4) and batch.intercept.shape == (4, 8, 1)
    for b in range(32):
        single = logistic_fit(X[b], y[b], 1.0, tol=1e-10)
        np.testing.assert_allclose(batch.coef[b // 8, b % 8], single.coef, rtol=0, atol=1e-8)
        np.testing.assert_allclose(batch.intercept[b // 8, b % 8], single.intercept, rtol=0, atol=1e-8)


# ----------------------------------------------------------------------------- trust-region Newton-CG


def binary_problems(rng, problems=70, m=60, d=32, scale=1.0):
    X = rng.standard_normal((problems, m, d))
    w = rng.standard_normal((problems, d)) * 2.0 / np.sqrt(d)
    y = (rng.random((problems, m)) < 1 / (1 + np.exp(-np.einsum("bmd,bd->bm", X, w)))).astype(np.int64)
    y[:, :2] = [0, 1]
    return X * scale, y


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_newton_cg_matches_sklearn_and_newton(rng, C):
    X, y = binary_problems(rng, problems=3, m=80, d=33)
    cg = logistic_fit(X, y, C, tol=1e-10, solver="newton-cg")
    exact = logistic_fit(X, y, C, tol=1e-10, solver="newton", hessian_dtype=None)
    np.testing.assert_allclose(cg.coef, exact.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(cg.intercept, exact.intercept, rtol=0, atol=1e-8)
    for b in range(3):
        sk = tight_sklearn(X[b], y[b], C)
        np.testing.assert_allclose(cg.coef[b], sk.coef_, rtol=0, atol=1e-5)
        np.testing.assert_allclose(cg.intercept[b], sk.intercept_, rtol=0, atol=1e-5)


def test_newton_cg_sample_weight_and_penalized_intercept_match_sklearn(rng):
    X, y = binary_problems(rng, problems=1, m=80, d=33)
    s = rng.uniform(0.0, 3.0, size=80)
    cg = logistic_fit(X[0], y[0], 0.5, sample_weight=s, tol=1e-10, solver="newton-cg")
    sk = tight_sklearn(X[0], y[0], 0.5, sample_weight=s)
    np.testing.assert_allclose(cg.coef, sk.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(cg.intercept, sk.intercept_, rtol=0, atol=1e-5)
    cg = logistic_fit(X, y, 0.5, penalize_intercept=True, tol=1e-10, solver="newton-cg")
    exact = logistic_fit(X, y, 0.5, penalize_intercept=True, tol=1e-10, solver="newton", hessian_dtype=None)
    np.testing.assert_allclose(cg.coef, exact.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(cg.intercept, exact.intercept, rtol=0, atol=1e-8)


def test_batched_newton_cg_equals_individual_fits(rng, monkeypatch):
    # 70 problems solved in chunks of 8 (the chunk size shrunk to a few problems): each problem's
    # answer must not depend on its batch or chunk (and equal the single-problem Newton fit)
    from estimators.classify import _newton_cg

    monkeypatch.setattr(_newton_cg, "_CHUNK_BYTES", 8 * 40 * 33 * 4)
    X, y = binary_problems(rng, problems=70, m=40, d=32)
    batch = logistic_fit(X, y, 1.0, tol=1e-10, solver="newton-cg")
    for b in (0, 33, 69):
        single = logistic_fit(X[b], y[b], 1.0, tol=1e-10, solver="newton", hessian_dtype=None)
        np.testing.assert_allclose(batch.coef[b], single.coef, rtol=0, atol=1e-8)
        np.testing.assert_allclose(batch.intercept[b], single.intercept, rtol=0, atol=1e-8)


@pytest.mark.parametrize("solver", ["newton", "newton-cg"])
def test_logistic_fits_features_of_size_1e19(rng, solver):
    # float32 products of such features overflow (a silent NaN before); with C divided by 1e38 the fit
    # must equal the fit of the unscaled features (w -> w / 1e19 leaves logits and penalty unchanged)
    X, y = binary_problems(rng, problems=2, m=60, d=33)
    big = logistic_fit(X * 1e19, y, 1e-38, tol=1e-10, solver=solver)
    ref = logistic_fit(X, y, 1.0, tol=1e-10, solver="newton", hessian_dtype=None)
    assert np.all(np.isfinite(big.coef)) and np.all(np.isfinite(big.intercept))
    np.testing.assert_allclose(big.coef * 1e19, ref.coef, rtol=0, atol=1e-6 * np.abs(ref.coef).max())
    np.testing.assert_allclose(big.intercept, ref.intercept, rtol=0, atol=1e-6 * np.abs(ref.coef).max())


def test_newton_cg_torch_and_float32_agree_with_numpy(rng):
    torch = pytest.importorskip("torch")
    X, y = binary_problems(rng, problems=2, m=60, d=33)
    ref = logistic_fit(X, y, 1.0, tol=1e-10, solver="newton-cg")
    out = logistic_fit(torch.from_numpy(X), torch.from_numpy(y), 1.0, tol=1e-10, solver="newton-cg")
    assert isinstance(out.coef, torch.Tensor) and out.coef.dtype == torch.float64
    np.testing.assert_allclose(out.coef.numpy(), ref.coef, rtol=0, atol=1e-8)
    low = logistic_fit(X.astype(np.float32), y, 1.0, solver="newton-cg")
    assert low.coef.dtype == np.float32
    np.testing.assert_allclose(low.coef, ref.coef, rtol=0, atol=1e-3)


def test_newton_cg_warns_and_rejects_what_it_cannot_do(rng):
    X, y = binary_problems(rng, problems=2, m=60, d=33, scale=3.0)
    with pytest.warns(RuntimeWarning, match="Newton-CG did not converge in max_iter=1 .*increase max_iter"):
        logistic_fit(X, y, 100.0, max_iter=1, solver="newton-cg")
    with pytest.raises(ValueError, match="solver must be 'auto', 'newton' or 'newton-cg'"):
        logistic_fit(X, y, solver="lbfgs")
    Xm, ym = gaussian_data(rng, m=30, d=3, classes=3)
    with pytest.raises(ValueError, match="solver='newton-cg' needs two classes"):
        logistic_fit(Xm, ym, solver="newton-cg")


def test_auto_solver_choice(monkeypatch):
    # "auto": Newton-CG only for binary (B, m, d) batches with >= 128 features
    from estimators.classify import _logistic

    calls = []
    real_cg, real_newton = _logistic._newton_cg, _logistic._newton
    monkeypatch.setattr(_logistic, "_newton_cg", lambda *a, **k: calls.append("cg") or real_cg(*a, **k))
    monkeypatch.setattr(_logistic, "_newton", lambda *a, **k: calls.append("newton") or real_newton(*a, **k))
    rng = np.random.default_rng(0)
    for problems, d, classes, expected in ((5, 128, 2, "cg"), (5, 127, 2, "newton"), (5, 128, 3, "newton")):
        X = rng.standard_normal((problems, 4, d)) * 0.1
        y = np.tile(np.arange(4) % classes, (problems, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # two iterations only: the choice is tested
            logistic_fit(X, y, 1.0, max_iter=2)
        assert calls[-1] == expected


# ----------------------------------------------------------------------------- all-prefix seam


def prompt(rng, n=12, d=3, classes=3):
    ys = rng.integers(0, classes, size=(2, n))
    xs = rng.normal(size=(2, n, d)) + ys[..., None] * 0.8
    return xs, ys


@pytest.mark.parametrize("shared", [True, False])
def test_gaussian_nb_prefixes_equal_fits_on_prefixes(rng, shared):
    xs, ys = prompt(rng)
    priors = np.array([0.3, 0.3, 0.4])
    for kw in ({}, {"priors": priors}):
        probs = gaussian_nb_prefixes(xs, ys, n_classes=3, shared_variance=shared, **kw)
        assert probs.shape == (2, 12, 3)
        expected0 = priors if kw else np.full(3, 1 / 3)
        np.testing.assert_allclose(probs[:, 0], np.broadcast_to(expected0, (2, 3)), atol=1e-15)
        for k in range(2, 12):
            fit = gaussian_nb_fit(xs[:, :k], ys[:, :k], n_classes=3, shared_variance=shared, **kw)
            np.testing.assert_allclose(probs[:, k], gaussian_nb_predict_proba(fit, xs[:, k : k + 1])[:, 0], atol=1e-7)


def test_bernoulli_nb_prefixes_equal_fits_on_prefixes(rng):
    xs, ys = prompt(rng)
    probs = bernoulli_nb_prefixes(xs, ys, n_classes=3, alpha=0.5)
    np.testing.assert_allclose(probs[:, 0], 1 / 3, atol=1e-15)
    for k in range(1, 12):
        fit = bernoulli_nb_fit(xs[:, :k], ys[:, :k], n_classes=3, alpha=0.5)
        np.testing.assert_allclose(probs[:, k], bernoulli_nb_predict_proba(fit, xs[:, k : k + 1])[:, 0], atol=1e-12)


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_prefixes_equal_fits_on_prefixes(rng, classes):
    xs, ys = prompt(rng, classes=classes)
    probs = logistic_prefixes(xs, ys, 2.0, n_classes=classes, tol=1e-10)
    chunked = logistic_prefixes(xs[None], ys[None], 2.0, n_classes=classes, tol=1e-10, chunk=1)
    np.testing.assert_allclose(chunked[0], probs, atol=1e-12)
    np.testing.assert_allclose(probs[:, 0], 1 / classes, atol=1e-15)
    for k in range(1, 12):
        fit = logistic_fit(xs[:, :k], ys[:, :k], 2.0, n_classes=classes, penalize_intercept=True, tol=1e-10)
        np.testing.assert_allclose(probs[:, k], logistic_predict_proba(fit, xs[:, k : k + 1])[:, 0], atol=1e-8)


# ----------------------------------------------------------------------------- backends


def test_backends_agree_with_scikit_learn(backend, rng):
    X, y = gaussian_data(rng, m=40, d=3, classes=3, shift=0.8)
    Xq = rng.normal(size=(9, 3))
    xs, ys = prompt(rng)
    bX, by, bq = backend(X), backend(y), backend(Xq)
    gnb = GaussianNB().fit(X, y)

    def gnb_prefixes(x, labels):  # scikit-learn on every prefix that has all three classes
        return {k: GaussianNB().fit(x[:k], labels[:k]).predict_proba(x[k : k + 1])[0]
                for k in range(2, x.shape[0]) if len(np.unique(labels[:k])) == 3}

    cases = [
        (gaussian_nb_predict_proba(gaussian_nb_fit(bX, by), bq), gnb.predict_proba(Xq), 1e-9),
        (bernoulli_nb_predict_proba(bernoulli_nb_fit(bX, by), bq), BernoulliNB().fit(X, y).predict_proba(Xq), 1e-9),
        (logistic_predict_proba(logistic_fit(bX, by, 1.0, tol=1e-10), bq), tight_sklearn(X, y, 1.0).predict_proba(Xq),
         1e-6),
        (gaussian_nb_predict(gaussian_nb_fit(bX, by), bq), gnb.predict(Xq), 0),
    ]
    got_prefixes = backend.numpy(gaussian_nb_prefixes(backend(xs), backend(ys), shared_variance=False))
    for b in range(xs.shape[0]):
        want = gnb_prefixes(xs[b], ys[b])
        assert want, "the prompt should reach all three classes"
        for k, p in want.items():
            np.testing.assert_allclose(got_prefixes[b, k], p, atol=1e-9)
    if backend.name != "jax":  # same Newton code as logistic_fit; on jax it would only add compile time
        got = logistic_prefixes(backend(xs), backend(ys), n_classes=3, tol=1e-10)
        k = xs.shape[-2] - 1  # the last prefix; its fit penalises the intercept, which scikit-learn cannot
        fit = logistic_fit(xs[:, :k], ys[:, :k], 1.0, n_classes=3, penalize_intercept=True, tol=1e-10)
        cases.append((got[:, k], logistic_predict_proba(fit, xs[:, k : k + 1])[:, 0], 1e-8))
    for got, want, atol in cases:
        assert type(got) is type(bX) or backend.name == "jax"
        assert backend.name != "jax" or "jax" in type(got).__module__
        np.testing.assert_allclose(backend.numpy(got), want, atol=atol)
    assert str(cases[0][0].dtype).endswith("float64")


def test_gaussian_nb_under_jax_jit(rng):
    jax = pytest.importorskip("jax")
    X, y = gaussian_data(rng, m=30, d=3, classes=2)
    fit = jax.jit(lambda a, b: gaussian_nb_predict_proba(gaussian_nb_fit(a, b, n_classes=2), a))
    np.testing.assert_allclose(np.asarray(fit(jax.numpy.asarray(X), jax.numpy.asarray(y))),
                               gaussian_nb_predict_proba(gaussian_nb_fit(X, y), X), atol=1e-12)  # fmt: skip
    with pytest.raises(ValueError, match="n_classes is required"):
        jax.jit(lambda a, b: gaussian_nb_fit(a, b).means)(jax.numpy.asarray(X), jax.numpy.asarray(y))


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda X, y: gaussian_nb_fit(X, np.zeros_like(y)), ValueError, "at least 2 classes, got only class 0"),
        (lambda X, y: logistic_fit(X, np.zeros_like(y)), ValueError, "at least 2 classes"),
        (lambda X, y: gaussian_nb_fit(X, y - 1), ValueError, "labels in 0..1 .*got label -1"),
        (lambda X, y: logistic_fit(X, y, n_classes=2), ValueError, r"labels in 0..1 \(n_classes=2\), got label 2"),
        (lambda X, y: gaussian_nb_fit(X, y, n_classes=1), ValueError, "n_classes must be >= 2"),
        (lambda X, y: gaussian_nb_fit(np.where(X > 1, np.nan, X), y), ValueError, "X contains NaN"),
        (lambda X, y: logistic_fit(X, y, C=0.0), ValueError, "C must be > 0, got 0.0"),
        (lambda X, y: logistic_fit(X, y, C=-1.0), ValueError, "C must be > 0"),
        (lambda X, y: logistic_fit(X, y, n_classes=4), ValueError, "class 3 has no samples"),
        (lambda X, y: gaussian_nb_fit(X, y + 0.5), ValueError, "whole-number class labels"),
        (lambda X, y: gaussian_nb_fit(X, y > 0), TypeError, "boolean"),
        (lambda X, y: gaussian_nb_fit(X, y[:-1]), ValueError, "disagree on the number of points"),
        (lambda X, y: gaussian_nb_fit(X, y, var_smoothing=-1.0), ValueError, "var_smoothing must be >= 0"),
        (lambda X, y: gaussian_nb_fit(X, y, priors=[0.5, 0.5]), ValueError, "priors must have one entry per class"),
        (lambda X, y: gaussian_nb_fit(X, y, priors=[0.5, 0.6, 0.1]), ValueError, "priors must sum to 1"),
        (lambda X, y: gaussian_nb_fit(np.ones_like(X), y), ValueError, "fitted variance is 0"),
        (lambda X, y: bernoulli_nb_fit(X, y, alpha=0.0), ValueError, "alpha must be > 0"),
        (lambda X, y: logistic_fit(X, y, sample_weight=-np.ones(len(y))), ValueError, "sample_weight must be >= 0"),
        (lambda X, y: gaussian_nb_linear_form(gaussian_nb_fit(X, y)), ValueError, "shared_variance=True"),
        (lambda X, y: gaussian_nb_predict_proba(gaussian_nb_fit(X, y), X[:, :2]), ValueError, "number of features"),
        (lambda X, y: logistic_predict(logistic_fit(X, y), X.astype(np.float32)), TypeError, "share a dtype"),
        (lambda X, y: gaussian_nb_prefixes(X, y, var_smoothing=0.0), ValueError, "var_smoothing must be > 0"),
        (lambda X, y: logistic_prefixes(X, y, C=0), ValueError, "logistic_prefixes: C must be > 0"),
        (lambda X, y: gaussian_nb_fit(X.tolist(), y), TypeError, "expected numpy, torch or jax arrays"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(rng, call, error, match):
    X, y = gaussian_data(rng, m=30, d=3, classes=3)
    with pytest.raises(error, match=match):
        call(X, y)


def test_mixed_libraries_are_a_type_error(rng):
    torch = pytest.importorskip("torch")
    X, y = gaussian_data(rng, m=30, d=3, classes=3)
    with pytest.raises(TypeError, match="one library"):
        logistic_fit(torch.from_numpy(X), y)


def test_non_convergence_warns_with_advice(rng):
    X, y = gaussian_data(rng, m=60, d=3, classes=2, shift=3.0)
    with pytest.warns(RuntimeWarning, match="did not converge in max_iter=1 .*increase max_iter"):
        logistic_fit(X, y, 100.0, max_iter=1)


# ----------------------------------------------------------------------------- exact Bayes classifier


@pytest.mark.parametrize("shared", [True, False])
def test_gaussian_classes_bayes_matches_monte_carlo_posterior(shared):
    from estimators import gaussian_classes_bayes_prefixes

    rng = np.random.default_rng(3)
    d, C, k = 2, 3, 5
    xs, ys = rng.normal(size=(k + 1, d)), np.array([0, 1, 2, 0, 1, 2])
    probs = gaussian_classes_bayes_prefixes(xs, ys, n_classes=C, mean_scale=1.5, var_low=0.5, var_high=2.0,
                                            shared=shared)  # fmt: skip
    S = 400_000  # prior samples, weighted by the context likelihood
    mu = 1.5 * rng.normal(size=(S, C, d))
    v = np.broadcast_to(rng.uniform(0.5, 2.0, size=(S, 1 if shared else C, d)), (S, C, d))
    loglik = -0.5 * (((xs[:k] - mu[:, ys[:k]]) ** 2) / v[:, ys[:k]] + np.log(v[:, ys[:k]])).sum((1, 2))
    query = np.exp(-0.5 * (((xs[k] - mu) ** 2) / v + np.log(2 * np.pi * v)).sum(-1))  # (S, C)
    post = (np.exp(loglik - loglik.max())[:, None] * query).sum(0)
    np.testing.assert_allclose(probs[k], post / post.sum(), atol=0.01)
    np.testing.assert_allclose(probs[0], 1 / C, atol=1e-14)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-12)


def test_gaussian_classes_bayes_beats_plug_in_classifiers_on_average(rng):
    """Bayes optimality: under its own prior its expected log-loss is below naive Bayes' and logistic's."""
    from estimators import gaussian_classes_bayes_prefixes

    B, n, d, C = 400, 10, 3, 2
    mu, v = rng.normal(size=(B, C, d)), rng.uniform(0.5, 2.0, size=(B, 1, d))
    ys = rng.integers(0, C, size=(B, n))
    xs = mu[np.arange(B)[:, None], ys] + np.sqrt(v) * rng.normal(size=(B, n, d))
    pick = lambda p: np.take_along_axis(p, ys[..., None], -1)[..., 0]  # noqa: E731
    bayes = -np.log(pick(gaussian_classes_bayes_prefixes(xs, ys, n_classes=C)))[:, 2:].mean()
    nb = -pick(gaussian_nb_prefixes(xs, ys, n_classes=C, shared_variance=True, priors=[0.5, 0.5], log=True))
    lr = -np.log(pick(logistic_prefixes(xs, ys, n_classes=C)))[:, 2:].mean()
    assert bayes < nb[:, 2:].mean() and bayes < lr


def test_gaussian_classes_bayes_rejects_bad_prior():
    from estimators import gaussian_classes_bayes_prefixes

    xs, ys = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="var_high must be >= var_low"):
        gaussian_classes_bayes_prefixes(xs, ys, var_low=2.0, var_high=1.0)
    with pytest.raises(ValueError, match="var_low must be > 0"):
        gaussian_classes_bayes_prefixes(xs, ys, var_low=0.0)
