"""Properties of the naive Bayes classifiers that mutation testing found unchecked (docs/testing.md).

scikit-learn is the oracle where it has the same model (``GaussianNB``, ``BernoulliNB`` with fixed
priors, thresholds and smoothing); otherwise the property is a closed form: an empty class is
never predicted, the empty prefix predicts the prior, a zero prior is a zero probability, and a
bad value names its parameter.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.naive_bayes import BernoulliNB, GaussianNB

from estimators import (
    bernoulli_nb_fit,
    bernoulli_nb_predict,
    bernoulli_nb_predict_proba,
    bernoulli_nb_prefixes,
    gaussian_classes_bayes_prefixes,
    gaussian_nb_fit,
    gaussian_nb_linear_form,
    gaussian_nb_predict,
    gaussian_nb_predict_proba,
    gaussian_nb_prefixes,
)


def _data(seed=0, m=40, d=3, C=3):
    rng = np.random.default_rng(seed)
    y = np.arange(m) % C
    X = rng.standard_normal((m, d)) + y[:, None] * np.array([1.0, -0.5, 0.25])[:d]
    return X, y


@pytest.mark.parametrize(
    "call, exc, param",
    [
        (lambda X, y: gaussian_nb_fit(X, y, var_smoothing=-1.0), ValueError, "var_smoothing"),
        (lambda X, y: gaussian_nb_fit(X, y, priors=[0.5, 0.5]), ValueError, "priors"),
        (lambda X, y: gaussian_nb_prefixes(X, y, var_smoothing=0.0), ValueError, "var_smoothing"),
        (lambda X, y: gaussian_nb_prefixes(X, y, priors=[0.2, 0.2, 0.2]), ValueError, "priors"),
        (lambda X, y: bernoulli_nb_fit(X, y, alpha=0.0), ValueError, "alpha"),
        (lambda X, y: bernoulli_nb_fit(X, y, priors=[1.0]), ValueError, "priors"),
        (lambda X, y: bernoulli_nb_prefixes(X, y, alpha=-1.0), ValueError, "alpha"),
        (lambda X, y: gaussian_nb_fit(X, y, n_classes=2), ValueError, "y"),
    ],
)
def test_a_bad_value_names_the_function_and_the_parameter(call, exc, param):
    X, y = _data()
    where = call.__code__.co_names[0]  # the function the lambda calls
    with pytest.raises(exc, match=rf"^{where}: .*\b{param}\b"):
        call(X, y)


def test_a_constant_feature_without_smoothing_is_refused_naming_var_smoothing():
    X, y = _data()
    X[:, 1] = 2.0
    with pytest.raises(ValueError, match=r"^gaussian_nb_fit\b.*\bvar_smoothing\b"):
        gaussian_nb_fit(X, y, var_smoothing=0.0)


def test_query_points_must_match_the_fitted_features_and_dtype():
    X, y = _data()
    params = gaussian_nb_fit(X, y)
    with pytest.raises(ValueError, match=r"^gaussian_nb_predict_proba\b.*\bX\b"):
        gaussian_nb_predict_proba(params, X[:, :2])
    with pytest.raises(TypeError, match=r"^gaussian_nb_predict_proba\b.*dtype"):
        gaussian_nb_predict_proba(params, X.astype(np.float32))


@pytest.mark.parametrize("var_smoothing", [1e-9, 1e-2, 0.5])
def test_gaussian_nb_with_fixed_priors_matches_sklearn(var_smoothing):
    X, y = _data(1)
    Xq = np.random.default_rng(2).standard_normal((15, 3)) * 2
    priors = np.array([0.2, 0.5, 0.3])
    params = gaussian_nb_fit(X, y, priors=priors, var_smoothing=var_smoothing)
    ref = GaussianNB(priors=priors, var_smoothing=var_smoothing).fit(X, y)
    np.testing.assert_allclose(params.means, ref.theta_, rtol=1e-12)
    np.testing.assert_allclose(params.var, ref.var_, rtol=1e-10)
    np.testing.assert_allclose(gaussian_nb_predict_proba(params, Xq), ref.predict_proba(Xq), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(gaussian_nb_predict_proba(params, Xq, log=True), ref.predict_log_proba(Xq), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(gaussian_nb_predict(params, Xq), ref.predict(Xq))


@pytest.mark.parametrize("alpha, binarize", [(0.5, 0.3), (2.0, -0.4), (1.0, None)])
def test_bernoulli_nb_with_fixed_priors_and_thresholds_matches_sklearn(alpha, binarize):
    X, y = _data(3)
    if binarize is None:
        X = (X > 0).astype(float)
    Xq = np.random.default_rng(4).standard_normal((15, 3))
    if binarize is None:
        Xq = (Xq > 0).astype(float)
    priors = np.array([0.6, 0.1, 0.3])
    params = bernoulli_nb_fit(X, y, alpha=alpha, binarize=binarize, priors=priors)
    # scikit-learn takes no negative threshold: it gets the binarised data
    Xb, Xqb = (X, Xq) if binarize is None else ((X > binarize).astype(float), (Xq > binarize).astype(float))
    ref = BernoulliNB(alpha=alpha, binarize=None, class_prior=priors, force_alpha=True).fit(Xb, y)
    np.testing.assert_allclose(params.feature_log_prob, ref.feature_log_prob_, rtol=1e-12)
    np.testing.assert_allclose(bernoulli_nb_predict_proba(params, Xq), ref.predict_proba(Xqb), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bernoulli_nb_predict_proba(params, Xq, log=True), ref.predict_log_proba(Xqb), rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(bernoulli_nb_predict(params, Xq), ref.predict(Xqb))


@pytest.mark.parametrize("model", ["gaussian", "bernoulli"])
def test_a_class_without_samples_or_with_zero_prior_is_never_predicted(model):
    X, y = _data(5, C=2)
    Xq = np.random.default_rng(6).standard_normal((20, 3)) * 3
    fit, proba = {
        "gaussian": (gaussian_nb_fit, gaussian_nb_predict_proba),
        "bernoulli": (bernoulli_nb_fit, bernoulli_nb_predict_proba),
    }[model]
    empty = fit(X, y, n_classes=3)  # class 2 has no samples
    assert empty.log_prior[2] == -np.inf
    p = proba(empty, Xq)
    np.testing.assert_array_equal(p[:, 2], 0.0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    zero = fit(X, y, priors=[1.0, 0.0])
    np.testing.assert_array_equal(proba(zero, Xq), np.tile([1.0, 0.0], (20, 1)))


@pytest.mark.parametrize("shared", [True, False])
def test_gaussian_prefixes_start_at_the_prior_and_end_at_the_full_fit(shared):
    """preds[0] = uniform (no data) or the fixed prior; preds[k] = the fit on the first k points."""
    X, y = _data(7, m=12, C=2)
    p = gaussian_nb_prefixes(X, y, n_classes=2, shared_variance=shared)
    np.testing.assert_allclose(p[0], [0.5, 0.5], rtol=1e-12)
    fixed = gaussian_nb_prefixes(X, y, n_classes=2, shared_variance=shared, priors=[0.8, 0.2])
    np.testing.assert_allclose(fixed[0], [0.8, 0.2], rtol=1e-12)
    fit = gaussian_nb_fit(X[:-1], y[:-1], shared_variance=shared)
    np.testing.assert_allclose(p[-1], gaussian_nb_predict_proba(fit, X[-1:])[0], rtol=1e-7)
    np.testing.assert_allclose(np.exp(gaussian_nb_prefixes(X, y, n_classes=2, shared_variance=shared, log=True)), p, rtol=1e-10)


def test_bernoulli_prefixes_start_at_the_prior_and_end_at_the_full_fit():
    X, y = _data(8, m=12, C=2)
    p = bernoulli_nb_prefixes(X, y, n_classes=2, alpha=0.7, binarize=0.2)
    np.testing.assert_allclose(p[0], [0.5, 0.5], rtol=1e-12)
    fixed = bernoulli_nb_prefixes(X, y, n_classes=2, priors=[0.3, 0.7])
    np.testing.assert_allclose(fixed[0], [0.3, 0.7], rtol=1e-12)
    fit = bernoulli_nb_fit(X[:-1], y[:-1], alpha=0.7, binarize=0.2)
    np.testing.assert_allclose(p[-1], bernoulli_nb_predict_proba(fit, X[-1:])[0], rtol=1e-10)
    np.testing.assert_allclose(np.exp(bernoulli_nb_prefixes(X, y, n_classes=2, alpha=0.7, binarize=0.2, log=True)), p, rtol=1e-10)


def test_extreme_log_likelihoods_stay_normalised():
    """Far from every class the joint log-likelihoods are ~ -1e6: probabilities still sum to 1 (log-sum-exp)."""
    X, y = _data(9)
    params = gaussian_nb_fit(X, y)
    p = gaussian_nb_predict_proba(params, np.full((2, 3), 1e3))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    ref = GaussianNB().fit(X, y).predict_proba(np.full((2, 3), 1e3))
    np.testing.assert_allclose(p, ref, atol=1e-12)


@pytest.mark.parametrize(
    "call, param",
    [
        (lambda X, y: gaussian_classes_bayes_prefixes(X, y, var_low=0.0), "var_low"),
        (lambda X, y: gaussian_classes_bayes_prefixes(X, y, var_low=3.0), "var_high"),
        (lambda X, y: gaussian_classes_bayes_prefixes(X, y * 3, n_classes=2), "ys"),
        (lambda X, y: gaussian_nb_prefixes(X, y * 3, n_classes=2), "ys"),
        (lambda X, y: bernoulli_nb_prefixes(X, y * 2, n_classes=2), "ys"),
        (lambda X, y: gaussian_nb_linear_form(gaussian_nb_fit(X, y, shared_variance=False)), "shared_variance"),
    ],
)
def test_prefix_functions_name_the_parameter_in_errors(call, param):
    X = np.random.default_rng(12).standard_normal((6, 2))
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match=rf"^{call.__code__.co_names[0]}: "):
        call(X, y)
    with pytest.raises(ValueError, match=rf"\b{param}\b"):
        call(X, y)


def test_batched_predictions_equal_per_prompt_predictions_when_classes_and_features_differ():
    """Leading axes are independent prompts: (B, C, d) parameters with C != d predict per prompt."""
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((2, 30, 4)), np.tile(np.arange(30) % 3, (2, 1))
    Xq = rng.standard_normal((2, 5, 4))
    for fit, predict, proba in ((gaussian_nb_fit, gaussian_nb_predict, gaussian_nb_predict_proba),
                                (bernoulli_nb_fit, bernoulli_nb_predict, bernoulli_nb_predict_proba)):
        batched = fit(X, y)
        for b in range(2):
            single = fit(X[b], y[b])
            np.testing.assert_array_equal(predict(batched, Xq)[b], predict(single, Xq[b]))
            np.testing.assert_allclose(proba(batched, Xq)[b], proba(single, Xq[b]), rtol=1e-12)


def test_fitted_parameters_and_queries_from_different_libraries_are_a_type_error():
    torch = pytest.importorskip("torch")
    X, y = _data(14)
    for fit, proba in ((gaussian_nb_fit, gaussian_nb_predict_proba), (bernoulli_nb_fit, bernoulli_nb_predict_proba)):
        with pytest.raises(TypeError, match=rf"^{proba.__name__}\b"):
            proba(fit(X, y), torch.from_numpy(X))
