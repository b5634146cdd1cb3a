"""Tests of ``proofs``: every lemma is proved (symbolically and numerically), wrong variants fail,
and the runner (``python -m proofs`` / ``icl proofs``) reports failures with a non-zero exit code."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest
import sympy as sp

import proofs
from proofs import LEMMA_MODULES
from proofs._lemma import Lemma, Result, is_zero

_RESULTS: dict = {}


def _result(name: str) -> Result:
    """Each lemma is checked once per test session (the symbolic parts take seconds)."""
    if name not in _RESULTS:
        _RESULTS[name] = importlib.import_module(f"proofs.{name}").check()
    return _RESULTS[name]


def test_all_twelve_lemmas_of_the_issues_are_registered():
    assert len(LEMMA_MODULES) == 12
    assert len(set(LEMMA_MODULES)) == 12


@pytest.mark.parametrize("name", LEMMA_MODULES)
def test_lemma_is_proved_symbolically_and_numerically(name):
    r = _result(name)
    assert r.error == "", r.error
    assert r.symbolic is True
    assert r.numeric_error <= r.tolerance, f"{name}: numeric error {r.numeric_error} > {r.tolerance}"
    assert r.proved


@pytest.mark.parametrize("name", LEMMA_MODULES)
def test_lemma_module_states_lemma_source_and_backing_function(name):
    module = importlib.import_module(f"proofs.{name}")
    doc = module.__doc__
    assert doc.startswith("Lemma ")
    assert "Statement." in doc and "Proof" in doc and "Source." in doc and "Numeric cross-check" in doc
    assert module.LEMMA.source and module.LEMMA.statement
    assert "estimators" in module.LEMMA.backed_by
    assert 0 < module.LEMMA.tolerance < 1e-6


@pytest.mark.parametrize("name", ["_lemma", "__init__", *LEMMA_MODULES])
def test_module_doctests_pass(name):
    module = proofs if name == "__init__" else importlib.import_module(f"proofs.{name}")
    outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.failed == 0
    assert outcome.attempted > 0


# ---------------------------------------------------------------------------------------
# deliberately wrong variants: the checker must reject them


def test_ridge_with_lam_sigma_over_tau_is_not_the_posterior_mean():
    from proofs.ridge_posterior import CORRECT_LAM, posterior_mean_is_ridge, posterior_mean_is_ridge_general_d, sigma, tau

    assert _result("ridge_posterior").symbolic is True  # the same checkers with lam = sigma^2 / tau^2
    assert CORRECT_LAM == sigma**2 / tau**2
    assert posterior_mean_is_ridge_general_d(sigma / tau) is False
    assert posterior_mean_is_ridge_general_d(sigma**2 / tau) is False
    assert posterior_mean_is_ridge(sigma / tau) is False
    assert posterior_mean_is_ridge(tau**2 / sigma**2, dimensions=((2, 1),)) is False


def test_ridge_with_lam_sigma_over_tau_fails_the_numeric_check_too():
    from proofs.ridge_posterior import LEMMA, numeric

    assert numeric() <= LEMMA.tolerance
    assert numeric(penalty=lambda s, t: s / t) > 1e-3


def test_a_lemma_built_on_the_wrong_penalty_is_reported_as_failed_and_main_exits_nonzero(monkeypatch, capsys):
    from proofs.ridge_posterior import numeric, posterior_mean_is_ridge, sigma, tau

    wrong = Lemma(
        name="ridge = posterior mean with lam = sigma/tau (wrong)",
        statement="wrong on purpose",
        source="test",
        symbolic=lambda: posterior_mean_is_ridge(sigma / tau, dimensions=((1, 2),)),
        numeric=lambda: numeric(penalty=lambda s, t: s / t),
        tolerance=1e-10,
        backed_by="estimators.ridge",
    )
    r = wrong.check()
    assert r.symbolic is False and not r.numeric_ok and not r.proved
    monkeypatch.setattr(proofs, "lemmas", lambda names=None: [wrong])
    assert proofs.main([]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "0/1 lemmas proved" in out


@pytest.mark.parametrize(
    "module, call",
    [
        ("push_through", lambda m: m.primal_equals_dual(2 * m.lam, dimensions=((2, 1),))),
        ("sherman_morrison_rls", lambda m: m.rls_unrolled_is_ridge(P0=m.lam * sp.eye(1), d=1, n=2)),
        ("sherman_morrison_rls", lambda m: m.sherman_morrison_general_d(claimed_denominator_offset=0)),
        ("ridge_limit", lambda m: m.ridge_limit_is(lambda X, y: X.T * y / X.shape[0], dimensions=((2, 1),))),
        ("ols_error", lambda m: m.ols_error_is(lambda d, k: d - k + 1, dimensions=((1, 2),))),
        ("ols_error", lambda m: m.ols_error_general(lambda d, k: d)),
        ("attention_gd", lambda m: m.lsa_is_gd_step(value_scale=sp.Integer(1), explicit=())),
        ("mixture_posterior", lambda m: m.mixture_weights_are(lambda pi, Z: list(pi))),
        ("bma_regret", lambda m: m.regret_bound_holds(lambda p: -sp.log(p) / 2, n_concepts=2, n_steps=2)),
        ("naive_bayes_logistic", lambda m: m.log_odds_are_linear(shared_variance=False, d=1, n_classes=2)),
        ("mmd_unbiased", lambda m: m.estimator_is_unbiased("biased", 2, 2)),
        ("kalman_evidence", lambda m: m.kalman_matches_batch(lambda xSx: xSx, dimensions=((1, 2),))),
        ("mixture_predictive", lambda m: m.predictive_weights_are(lambda pi, Z: list(pi))),
        ("mixture_predictive", lambda m: m.evidence_factorises(((1, 1),), extra_variance=m.sigma**2)),
    ],
)
def test_wrong_variant_of_each_lemma_fails(module, call):
    assert call(importlib.import_module(f"proofs.{module}")) is False


def test_attention_layer_without_the_step_size_misses_the_gd_prediction():
    import numpy as np
    import torch

    from estimators import gd
    from proofs.attention_gd import linear_self_attention

    rng = np.random.default_rng(0)
    X, y, xq = rng.standard_normal((1, 6, 3)), rng.standard_normal((1, 6)), rng.standard_normal((1, 3))
    tokens = np.concatenate([np.concatenate([X, y[..., None]], -1), np.concatenate([xq, np.zeros((1, 1))], -1)[:, None]], 1)
    want = float(xq[0] @ np.asarray(gd(X[0], y[0], lr=0.5, steps=1)))
    with torch.no_grad():
        right = float(linear_self_attention(3, 0.5)(torch.from_numpy(tokens))[0, -1])
        wrong = float(linear_self_attention(3, 1.0)(torch.from_numpy(tokens))[0, -1])
    assert right == pytest.approx(want, abs=1e-12)
    assert abs(wrong - want) > 1e-3


# ---------------------------------------------------------------------------------------
# the checker and the runner


def test_is_zero_decides_rational_log_and_matrix_identities():
    a, b = sp.symbols("a b", positive=True)
    assert is_zero((a**2 - b**2) / (a - b) - a - b)
    assert not is_zero(a / b - b / a)
    assert is_zero(sp.log(a * b) - sp.log(a) - sp.log(b))
    assert is_zero(sp.Matrix([[a - a, (a * b) / b - a]]))
    k, d = sp.symbols("k d", integer=True, positive=True)
    X = sp.MatrixSymbol("X", k, d)
    assert is_zero(X.T * (X * X.T + a * sp.Identity(k)) - (X.T * X + a * sp.Identity(d)) * X.T)
    assert not is_zero(X.T * X * X.T - X.T)


def test_numeric_failures_and_exceptions_are_recorded_not_raised():
    ok = Lemma("ok", "s", "src", lambda: True, lambda: 0.0, 1e-9, "estimators.x")
    too_big = Lemma("big", "s", "src", lambda: True, lambda: 1e-3, 1e-9, "estimators.x")
    nan = Lemma("nan", "s", "src", lambda: True, lambda: float("nan"), 1e-9, "estimators.x")

    def boom():
        raise RuntimeError("estimator exploded")

    raising = Lemma("raises", "s", "src", lambda: True, boom, 1e-9, "estimators.x")
    assert ok.check().proved
    assert not too_big.check().proved and too_big.check().symbolic
    assert not nan.check().proved
    r = raising.check()
    assert not r.proved and "RuntimeError: estimator exploded" in r.error
    table = proofs.format_table([ok.check(), r])
    assert "1/2 lemmas proved" in table and "raised RuntimeError" in table


def test_unknown_lemma_name_is_an_error(capsys):
    with pytest.raises(ValueError, match="unknown lemma module"):
        proofs.lemmas(["no_such_lemma"])
    assert proofs.main(["no_such_lemma"]) == 2
    assert "unknown lemma(s) no_such_lemma" in capsys.readouterr().err


def test_python_m_proofs_prints_the_table_and_exits_zero():
    done = subprocess.run([sys.executable, "-m", "proofs", "mmd_unbiased"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1/1 lemmas proved" in done.stdout
    for column in ("lemma", "source", "symbolic", "numeric max |error|", "time"):
        assert column in done.stdout
    assert "MMD^2_u unbiased" in done.stdout and "proved " in done.stdout


def test_icl_proofs_subcommand_runs_the_same_checks(capsys):
    from icl_toolkit.cli import main

    assert main(["proofs", "push_through"]) == 0
    out = capsys.readouterr().out
    assert "push-through" in out and "1/1 lemmas proved" in out
