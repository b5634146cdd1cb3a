"""Tests of icl.evaluate: metrics on cases with a known answer, then evaluate_run on a tiny run."""

from __future__ import annotations

import numpy as np
import pytest

from icl.evaluate import (
    evaluate_model,
    evaluate_run,
    error_curve,
    implicit_weight_distance,
    implicit_weights,
    linear_probe,
    prediction_divergence,
    query_predictions,
)


def ridge_prefixes_ref(xs, ys, lam):
    """Reference all-prefix ridge, one explicit solve per prefix (lam = 0: min-norm OLS)."""
    *batch, n, d = xs.shape
    out = np.zeros(ys.shape)
    for k in range(1, n):
        X, y = xs[..., :k, :], ys[..., :k]
        if lam > 0:
            A = np.swapaxes(X, -1, -2) @ X + lam * np.eye(d)
            w = np.linalg.solve(A, (np.swapaxes(X, -1, -2) @ y[..., None]))[..., 0]
        else:
            w = (np.linalg.pinv(X) @ y[..., None])[..., 0]
        out[..., k] = (xs[..., k, :] * w).sum(-1)
    return out


def ridge_weights_ref(X, y, lam):
    if lam > 0:
        return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
    return np.linalg.pinv(X) @ y


# ----------------------------------------------------------------------------- error curve and bands


def test_error_curve_known_values():
    preds = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 4.0]])
    ys = np.array([[1.0, 1.0, 0.0], [3.0, 1.0, 0.0]])
    c = error_curve(preds, ys, y2=2.0)
    np.testing.assert_allclose(c.mean, [(1 + 9) / 4, 0.0, (4 + 16) / 4])
    assert np.all(c.lo <= c.mean) and np.all(c.mean <= c.hi)
    np.testing.assert_allclose(c.lo[1], 0.0) and np.testing.assert_allclose(c.hi[1], 0.0)


def test_error_curve_zero_predictor_scores_one(rng):
    ys = rng.normal(scale=3.0, size=(20000, 4))
    c = error_curve(np.zeros_like(ys), ys, y2=9.0)
    np.testing.assert_allclose(c.mean, 1.0, atol=0.05)


def test_error_curve_leading_axes_are_prompts(rng):
    preds, ys = rng.normal(size=(3, 5, 7)), rng.normal(size=(3, 5, 7))
    a = error_curve(preds, ys)
    b = error_curve(preds.reshape(15, 7), ys.reshape(15, 7))
    np.testing.assert_allclose(a.mean, b.mean) and np.testing.assert_allclose(a.hi, b.hi)


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_band_contains_true_mean_at_stated_rate(method):
    # Each column is an independent replicate with the same true mean, so one call
    # gives many bands. Squared Gaussian errors (chi^2_1, mean 1) like real errors.
    rng = np.random.default_rng(1234)
    if method == "normal":
        reps, prompts, n_boot = 4000, 400, 0
    else:  # the bootstrap resamples every replicate n_boot times: fewer replicates
        reps, prompts, n_boot = 600, 200, 400
    errs = rng.normal(size=(prompts, reps)) ** 2
    c = error_curve(np.sqrt(errs), np.zeros_like(errs), y2=1.0, level=0.95, method=method, seed=5,
                    n_boot=max(n_boot, 1))
    coverage = np.mean((c.lo <= 1.0) & (1.0 <= c.hi))
    # binomial sd of the coverage: sqrt(.95 * .05 / reps) = 0.0034 (normal), 0.0089 (bootstrap);
    # the window is about 4 sd plus the small finite-sample skew of chi^2 means.
    tol = 0.02 if method == "normal" else 0.045
    assert abs(coverage - 0.95) < tol, coverage


def test_band_level_changes_width(rng):
    preds, ys = rng.normal(size=(100, 3)), np.zeros((100, 3))
    narrow, wide = error_curve(preds, ys, level=0.5), error_curve(preds, ys, level=0.99)
    assert np.all(wide.hi - wide.lo > narrow.hi - narrow.lo)


def test_error_curve_bad_input():
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match="preds and ys disagree in shape"):
        error_curve(z, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="y2 must be > 0"):
        error_curve(z, z, y2=0.0)
    with pytest.raises(ValueError, match="level must be in"):
        error_curve(z, z, level=1.5)
    with pytest.raises(ValueError, match="method must be"):
        error_curve(z, z, method="exact")
    with pytest.raises(ValueError, match="at least 2 prompts"):
        error_curve(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="preds"):
        error_curve(np.full((2, 2), np.nan), z[:2, :2])


# ----------------------------------------------------------------------------- divergence


def test_divergence_with_itself_is_zero_and_symmetric(rng):
    a, b = rng.normal(size=(50, 9)), rng.normal(size=(50, 9))
    self_div = prediction_divergence(a, a)
    assert np.all(self_div.mean == 0) and np.all(self_div.lo == 0) and np.all(self_div.hi == 0)
    np.testing.assert_allclose(prediction_divergence(a, b).mean, prediction_divergence(b, a).mean)
    np.testing.assert_allclose(prediction_divergence(a, b, y2=3.0).mean, ((a - b) ** 2).mean(0) / 3.0)


def test_divergence_bad_input():
    with pytest.raises(ValueError, match="a and b disagree in shape"):
        prediction_divergence(np.zeros((2, 3)), np.zeros((3, 3)))


# ----------------------------------------------------------------------------- implicit weights


@pytest.mark.parametrize("lam", [0.0, 0.5])
@pytest.mark.parametrize("k", [3, 5, 12])
def test_implicit_weights_recover_ridge_and_ols_exactly(rng, lam, k):
    d, m = 5, 8
    cx, cy = rng.normal(size=(4, k, d)), rng.normal(size=(4, k))
    probes = rng.normal(size=(m, d))
    w, b = implicit_weights(lambda xs, ys: ridge_prefixes_ref(xs, ys, lam), cx, cy, probes)
    expected = np.stack([ridge_weights_ref(cx[i], cy[i], lam) for i in range(4)])
    np.testing.assert_allclose(w, expected, atol=1e-9)
    np.testing.assert_allclose(b, 0.0, atol=1e-9)
    np.testing.assert_allclose(implicit_weight_distance(w, expected), 0.0, atol=1e-16)


def test_implicit_weights_see_the_intercept_and_distance(rng):
    w_true, b_true = np.array([1.0, -2.0, 0.5]), 0.7
    f = lambda xs, ys: xs @ w_true + b_true  # noqa: E731  (ignores the context)
    w, b = implicit_weights(f, rng.normal(size=(2, 3)), rng.normal(size=2), rng.normal(size=(4, 3)))
    np.testing.assert_allclose(w, w_true, atol=1e-10) and np.testing.assert_allclose(b, b_true, atol=1e-10)
    np.testing.assert_allclose(implicit_weight_distance(w, np.zeros(3)), (w_true**2).sum())


def test_query_predictions_hide_probe_labels(rng):
    # the probe's placeholder label is at the query position, which no prefix prediction sees
    cx, cy, px = rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=(5, 3))
    a = query_predictions(lambda xs, ys: ridge_prefixes_ref(xs, ys, 0.1), cx, cy, px)
    direct = px @ ridge_weights_ref(cx, cy, 0.1)
    np.testing.assert_allclose(a, direct, atol=1e-10)


def test_implicit_weights_bad_input(rng):
    f = lambda xs, ys: xs[..., 0]  # noqa: E731
    with pytest.raises(ValueError, match="at least d \\+ 1 = 4 probes"):
        implicit_weights(f, np.zeros((2, 3)), np.zeros(2), np.ones((3, 3)))
    with pytest.raises(ValueError, match="rank deficient"):
        implicit_weights(f, np.zeros((2, 3)), np.zeros(2), np.ones((5, 3)))
    with pytest.raises(ValueError, match="probe_xs has d = 2"):
        query_predictions(f, np.zeros((2, 3)), np.zeros(2), np.ones((5, 2)))
    with pytest.raises(ValueError, match="context_xs and context_ys disagree"):
        query_predictions(f, np.zeros((2, 3)), np.zeros(3), np.ones((5, 3)))


# ----------------------------------------------------------------------------- probes


def test_probe_recovers_planted_signal_and_matches_sklearn(rng):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    n, c, t = 1500, 24, 3
    F = rng.normal(size=(2 * n, c)) + 2.0
    B = rng.normal(size=(c, t))
    T = F @ B + 0.1 * rng.normal(size=(2 * n, t))
    r2 = linear_probe(F[:n], T[:n], F[n:], T[n:], lam=1e-3)
    assert r2 > 0.99
    sk = Ridge(alpha=1e-3 * n).fit(F[:n], T[:n]).predict(F[n:])
    np.testing.assert_allclose(r2, r2_score(T[n:], sk, multioutput="variance_weighted"), rtol=1e-9)


def test_probe_scores_near_zero_on_noise(rng):
    n, c = 3000, 16
    F, T = rng.normal(size=(2 * n, c)), rng.normal(size=2 * n)
    r2 = linear_probe(F[:n], T[:n], F[n:], T[n:], lam=1e-3)
    # expected about -c / n = -0.005; sd of R^2 on noise is about sqrt(2 c) / n
    assert -0.03 < r2 < 0.01, r2


def test_probe_bad_input():
    F, T = np.ones((5, 2)), np.arange(5.0)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        linear_probe(F, T, F, T, lam=-1.0)
    with pytest.raises(ValueError, match="disagree on the number of rows"):
        linear_probe(F, T[:4], F, T)
    with pytest.raises(ValueError, match="disagree in width"):
        linear_probe(F, T, np.ones((5, 3)), T)
    with pytest.raises(ValueError, match="constant"):
        linear_probe(F, T, F, np.ones(5))


@pytest.mark.parametrize("name", ["ols", "ridge", "gd"])
def test_implicit_weights_recover_the_toolkit_estimators(rng, name):
    from estimators import gd, gd_prefixes, ols, ols_prefixes, ridge, ridge_prefixes

    d, k = 4, 7
    cx, cy, probes = rng.normal(size=(3, k, d)), rng.normal(size=(3, k)), rng.normal(size=(d + 3, d))
    fit, prefixes = {
        "ols": (ols, ols_prefixes),
        "ridge": (lambda X, y: ridge(X, y, 0.3), lambda xs, ys: ridge_prefixes(xs, ys, 0.3)),
        "gd": (lambda X, y: gd(X, y, 0.05, 3), lambda xs, ys: gd_prefixes(xs, ys, 0.05, 3)),
    }[name]
    w, b = implicit_weights(prefixes, cx, cy, probes)
    np.testing.assert_allclose(w, fit(cx, cy), atol=1e-9)
    np.testing.assert_allclose(b, 0.0, atol=1e-9)


# ----------------------------------------------------------------------------- evaluate_model / evaluate_run


class _OLSAsModel:
    """A stand-in 'model' whose predictions are least squares: every metric against OLS must be 0."""

    class cfg:
        n_positions = 9

    def predict_prefixes(self, xs, ys):
        import torch

        from estimators import ols_prefixes

        return torch.as_tensor(ols_prefixes(xs.double().numpy(), ys.double().numpy()))


def test_evaluate_model_against_itself_is_zero():
    from icl.tasks import get_task

    task = get_task("linear", d=3, noise=0.0)
    res = evaluate_model(_OLSAsModel(), task, n_prompts=200, seed=3, n_contexts=5, probes=False)
    assert res["names"][0] == "transformer" and {"ols", "bayes", "averaging", "3-nn", "gd"} <= set(res["names"])
    np.testing.assert_allclose(res["curves"]["transformer"][0], res["curves"]["ols"][0], atol=1e-5)
    np.testing.assert_allclose(res["divergence"]["transformer"]["ols"], 0.0, atol=1e-8)
    np.testing.assert_allclose(res["ilwd"]["ols"], 0.0, atol=1e-6)
    assert res["report_ks"] == [1, 3, 6] and len(res["k"]) == 9
    # the noiseless Bayes predictor is min-norm OLS; the zero-th prediction is the prior mean 0
    np.testing.assert_allclose(res["curves"]["bayes"][0], res["curves"]["ols"][0], atol=1e-8)
    assert res["curves"]["ols"][0][3] < 1e-10 < res["curves"]["averaging"][0][3]


def test_evaluate_model_bad_input():
    from icl.tasks import get_task

    with pytest.raises(ValueError, match="n_points must be <= the model's n_positions = 9"):
        evaluate_model(_OLSAsModel(), get_task("linear", d=3), n_prompts=10, n_points=12, probes=False)
    with pytest.raises(ValueError, match="n_prompts must be >= 4"):
        evaluate_model(_OLSAsModel(), get_task("linear", d=3), n_prompts=2, probes=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from icl.config import load_preset
    from icl.train import train

    cfg = load_preset("noisy-linear-quick", {"task.d": 3, "task.n_points": 7, "model.n_layer": 1, "model.n_head": 2,
                                             "model.n_embd": 16, "model.n_positions": 7, "train.steps": 20,
                                             "train.batch_size": 16, "train.warmup": 2, "train.eval_prompts": 16,
                                             "train.device": "cpu"})
    return train(cfg, tmp_path_factory.mktemp("run"), progress=False)


def test_evaluate_run_writes_files_and_cli_prints_table(tiny_run, tmp_path, capsys):
    import json

    from icl_toolkit.cli import main

    res = evaluate_run(tiny_run, n_prompts=64, seed=2)
    assert {"transformer", "ols", "ridge", "bayes"} <= set(res["curves"])
    np.testing.assert_allclose(res["curves"]["ridge"][0], res["curves"]["bayes"][0], atol=1e-6)
    assert set(res["probes"]) == {"w", "X^T y", "own prediction"} and len(res["probes"]["w"]) == 2
    assert res["probes"]["own prediction"][-1] > 0.9  # the last block's state linearly gives the model's output
    assert main(["eval", str(tiny_run), "--prompts", "64", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "transformer" in out and "err@k=3" in out and "probe R^2" in out
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert summary["report_ks"] == [1, 3, 6] and "ridge" in summary["errors"]
    with np.load(tmp_path / "eval.npz") as npz:
        assert npz["err/transformer/mean"].shape == (7,) and "spd/transformer/ols" in npz.files
    # another task with the same d: out-of-distribution evaluation
    assert main(["eval", str(tiny_run), "--prompts", "32", "--task", "sign-vector", "--no-probes",
                 "--out", str(tmp_path)]) == 0
    assert main(["eval", str(tiny_run), "--prompts", "32", "--n-points", "50", "--out", str(tmp_path)]) == 2
    assert "n_points must be <=" in capsys.readouterr().err


def test_model_predictive_matches_the_model_and_chunks_do_not_matter():
    import torch

    from icl.config import ModelConfig
    from icl.evaluate import model_predictive
    from icl.model import GPT

    torch.manual_seed(0)
    model = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, n_positions=6, head="gaussian"), n_dims=3)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((10, 6, 3)), rng.standard_normal((10, 6))
    out = model_predictive(model, xs, ys, chunk=3)
    assert set(out) == {"log_prob", "pit", "mean", "var"} and all(v.shape == (10, 6) for v in out.values())
    np.testing.assert_allclose(out["log_prob"], model.log_prob(xs, ys).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["pit"], model.cdf(xs, ys).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["mean"], model.predict_prefixes(xs, ys).numpy(), rtol=1e-6)
    for key, value in model_predictive(model, xs, ys, chunk=512).items():
        np.testing.assert_allclose(value, out[key], rtol=1e-6)
    mean_head = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=16, n_positions=6), n_dims=3)
    assert np.all(model_predictive(mean_head, xs, ys, variance=0.25)["var"] == 0.25)
