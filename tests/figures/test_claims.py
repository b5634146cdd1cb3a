"""The claim record: verdicts from intervals, controls that must fail, paired bootstrap, binomial intervals."""

from __future__ import annotations

import numpy as np
import pytest

from figures import Claim, format_claims
from figures._claims import binomial_interval, compare, paired_bootstrap


def _claim(estimates, **kw):
    kw = {"threshold": 0.05, "direction": "<=", "subject": "model", "controls": ("zero",), **kw}
    return Claim("gap", "the gap is at most 0.05", estimates=estimates, **kw)


@pytest.mark.parametrize("subject,control,verdict", [
    ((0.01, 0.0, 0.02), (0.9, 0.8, 1.0), "holds"),
    ((0.01, 0.0, 0.02), (0.01, 0.0, 0.03), "uninformative"),   # the control passes too
    ((0.01, 0.0, 0.02), (0.05, 0.03, 0.08), "uninformative"),  # the control may pass
    ((0.04, 0.02, 0.09), (0.9, 0.8, 1.0), "undetermined"),     # the interval straddles the threshold
    ((0.2, 0.1, 0.3), (0.9, 0.8, 1.0), "fails"),
])
def test_verdict_needs_the_interval_to_clear_and_every_control_to_fail(subject, control, verdict):
    record = _claim({"model": subject, "zero": control}).evaluate()
    assert record["verdict"] == verdict and record["holds"] == (verdict == "holds")
    assert record["interval"] == list(subject[1:]) and record["controls"][0]["value"] == control[0]


def test_greater_or_equal_direction_and_nan():
    est = {"model": (0.8, 0.7, 0.9), "zero": (0.05, 0.01, 0.1)}
    assert _claim(est, threshold=0.5, direction=">=").evaluate()["verdict"] == "holds"
    assert compare((float("nan"), 1.0), 0.5, ">=") == "undetermined"


def test_paired_bootstrap_interval_covers_the_mean_at_its_level():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(200):
        x = rng.normal(size=200)
        _, lo, hi = paired_bootstrap(lambda label, idx: x[idx].mean(), ["a"], 200, n_boot=300,
                                     seed=int(rng.integers(1 << 30)))["a"]
        covered += lo <= 0.0 <= hi
    assert 0.89 <= covered / 200 <= 0.99  # 95% nominal; binomial spread of 200 trials


def test_paired_bootstrap_pairs_the_labels():
    rng = np.random.default_rng(2)
    shared = rng.normal(size=300)
    data = {"a": shared, "b": shared + 0.01}  # the labels differ by a constant: every resample sees it
    diff = paired_bootstrap(lambda label, idx: data[label][idx].mean() - data["a"][idx].mean(), ["b"], 300)["b"]
    assert diff[1] == pytest.approx(0.01) and diff[2] == pytest.approx(0.01)


def test_bootstrap_claim_and_swapping_in_a_control():
    rng = np.random.default_rng(3)
    err = {"model": 0.01 * rng.random(500), "zero": 1 + rng.random(500)}
    claim = Claim("err", "mean error is at most 0.05", 0.05, "<=", "model", ("zero",),
                  statistic=lambda label, idx: err[label][idx].mean(), n_units=500)
    assert claim.evaluate()["verdict"] == "holds"
    swapped = claim.with_subject("zero")
    assert swapped.controls == ("model",) and swapped.evaluate()["verdict"] == "fails"


def test_binomial_interval_matches_clopper_pearson():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 30), (3, 30), (30, 30), (17, 200)]:
        ref = proportion_confint(k, n, alpha=0.05, method="beta")
        assert binomial_interval(k, n) == pytest.approx(ref, abs=1e-9)
    with pytest.raises(ValueError, match="successes <= trials"):
        binomial_interval(5, 3)


def test_claim_validation_names_the_problem():
    est = {"model": (0.0, 0.0, 0.0), "zero": (1.0, 1.0, 1.0)}
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Claim("", "x", 0.05, "<=", "model", ("zero",), estimates=est)
    with pytest.raises(ValueError, match="one non-empty line"):
        Claim("a", "two\nlines", 0.05, "<=", "model", ("zero",), estimates=est)
    with pytest.raises(ValueError, match="direction must be one of"):
        _claim(est, direction="<")
    with pytest.raises(ValueError, match="at least one control"):
        _claim(est, controls=())
    with pytest.raises(ValueError, match="cannot be its own control"):
        _claim(est, controls=("model",))
    with pytest.raises(ValueError, match="exactly one of statistic"):
        Claim("a", "x", 0.05, "<=", "model", ("zero",))
    with pytest.raises(ValueError, match="estimates lack"):
        _claim({"model": (0.0, 0.0, 0.0)})
    with pytest.raises(ValueError, match="must say why"):
        _claim(est, scale="paper")
    with pytest.raises(TypeError, match="threshold must be a real number"):
        _claim(est, threshold="big")


def test_format_claims_table():
    est = {"model": (0.01, 0.0, 0.02), "zero": (0.9, 0.8, 1.0)}
    records = [_claim(est).evaluate(), _claim({**est, "model": (0.2, 0.1, 0.3)}, kind="check").evaluate()]
    lines = format_claims(records).splitlines()
    assert lines[0].startswith("claim") and "HOLDS" in lines[2] and "FAILS (check)" in lines[3]
    assert "zero 0.9: fails" in lines[2]
