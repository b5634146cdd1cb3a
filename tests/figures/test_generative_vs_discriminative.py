"""The generative-vs-discriminative figure: tiny preset end to end, exact errors, m_eps and claims."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import generative_vs_discriminative as gvd
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure(gvd.NAME, "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"{gvd.NAME}.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / f"{gvd.NAME}.json").read_text())
    names = [c["name"] for c in on_disk["claims"]]
    assert "zheng_nb_needs_fewer_samples" in names and "nb-misspecified_lr_better_at_largest_m" in names
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["controls"]
        assert c["holds"] == (c["verdict"] == "holds") and len(c["interval"]) == 2
    checks = {c["name"] for c in on_disk["claims"] if c["kind"] == "check"}
    assert checks == {f"{d}_lr_asymptote_no_worse" for d in gvd.DESIGNS}
    assert all(c["verdict"] == "holds" for c in on_disk["claims"] if c["name"] in checks)  # the Bayes rule is optimal
    res = doc["results"]["designs"]["zheng"]
    tiny = gvd.PRESETS["tiny"]
    assert doc["results"]["m"][1] == gvd.m_grid(tiny, 8) and gvd.m_grid(tiny, 8)[-1] == tiny["m_max_factor"] * 8
    assert np.asarray(res["nb"][1]).shape == (len(gvd.m_grid(tiny, 8)), tiny["seeds"])
    errors = np.concatenate([np.ravel(a) for a in list(res["nb"]) + list(res["lr"])])
    assert np.all((errors >= 0) & (errors <= 1))
    # no fitted rule beats the Bayes error (the logistic asymptote) of its design
    assert all(np.min(a) >= asym - 1e-12 for a, asym in zip(res["lr"], res["lr_asym"]))
    assert all(np.min(a) >= asym - 1e-12 for a, asym in zip(res["nb"], res["lr_asym"]))
    again = make_figure(gvd.NAME, "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


@pytest.mark.parametrize("name", gvd.DESIGNS)
def test_exact_error_matches_monte_carlo(name):
    rng = np.random.default_rng(0)
    mu, cov = gvd.design(name, 6)
    w, b = rng.normal(size=6), 0.3
    X, y = gvd.sample(rng, mu, cov, 1, 200_000)
    empirical = np.mean((X[0] @ w + b > 0).astype(int) != y[0])
    assert abs(gvd.linear_rule_error(w, b, mu, cov) - empirical) < 4e-3  # > 3.5 standard errors
    assert gvd.linear_rule_error(np.zeros(6), 1.0, mu, cov) == 0.5


def test_asymptotes_nb_equals_bayes_when_correctly_specified_and_is_worse_otherwise():
    for name in ("nb-correct", "zheng"):
        nb, bayes = gvd.asymptotic_errors(*gvd.design(name, 8))
        assert nb == pytest.approx(bayes, abs=1e-15)
    nb, bayes = gvd.asymptotic_errors(*gvd.design("nb-misspecified", 40))
    assert nb > bayes + 0.02
    with pytest.raises(ValueError, match="even number of features"):
        gvd.design("nb-misspecified", 5)
    with pytest.raises(ValueError, match="unknown design"):
        gvd.design("nope", 4)


def test_sample_size_to_eps_and_growth_slope():
    grid = [4, 8, 16, 32]
    assert gvd.sample_size_to_eps([0.5, 0.2, 0.11, 0.1], 0.1, 0.02, grid) == 16
    assert gvd.sample_size_to_eps([0.5, 0.1, 0.3, 0.1], 0.1, 0.02, grid) == 32  # must stay within
    assert np.isnan(gvd.sample_size_to_eps([0.5, 0.4, 0.3, 0.2], 0.1, 0.02, grid))
    assert gvd.growth_slope([10, 20, 40], [30, 60, 120]) == pytest.approx(1.0)
    assert gvd.growth_slope([10, 20, 40], [30, 30, 30]) == pytest.approx(0.0)


def _fake(name="zheng", nb_speed=2.0, lr_speed=1.0, nb_asym=0.0, lr_asym=0.0, seeds=12, nb_like_lr=False):
    """Results shaped like compute's: per-seed errors on m_grid that decay as asym + exp(-speed m / n^p),
    naive Bayes needing m ~ log n (``nb_speed`` per log n; per n with ``nb_like_lr``) and logistic regression
    m ~ n (``lr_speed`` per n)."""
    params = gvd.PRESETS["quick"]
    dims = params["dims"]
    rng = np.random.default_rng(0)
    grids = [gvd.m_grid(params, n) for n in dims]
    nb, lr = [], []
    for n, grid in zip(dims, grids):
        m = np.asarray(grid, float)[:, None]
        jitter = 1 + 0.05 * rng.standard_normal((len(grid), seeds))
        nb.append(nb_asym + 0.5 * np.exp(-nb_speed * m / (n if nb_like_lr else np.log(n))) * jitter)
        lr.append(lr_asym + 0.5 * np.exp(-lr_speed * m / n) * jitter)
    rec = {"nb": nb, "lr": lr, "nb_asym": [nb_asym] * len(dims), "lr_asym": [lr_asym] * len(dims),
           "nb_m_eps": [np.nan] * len(dims), "lr_m_eps": [np.nan] * len(dims)}
    return {"m": grids, "dims": dims, "designs": {name: rec}}


def _verdicts(results) -> dict[str, str]:
    return {c.name: c.evaluate()["verdict"] for c in gvd.claims(results, gvd.PRESETS["quick"])}


def test_claims_hold_when_nb_needs_log_n_and_lr_needs_n_samples():
    claims = gvd.claims(_fake(), gvd.PRESETS["quick"])
    assert set(_verdicts(_fake()).values()) == {"holds"}
    rec = {c.name: c.evaluate() for c in claims}
    assert rec["zheng_lr_growth_slope"]["value"] == pytest.approx(1.0, abs=0.15)
    assert rec["zheng_nb_growth_slope"]["value"] < 0.5 and rec["zheng_nb_needs_fewer_samples"]["value"] > 1
    assert rec["zheng_lr_asymptote_no_worse"]["kind"] == "check"
    for claim in claims:
        assert all(c["verdict"] == "fails" for c in rec[claim.name]["controls"]), claim.name


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for results in (_fake(), _fake("nb-misspecified", nb_asym=0.2, lr_asym=0.05)):
        for claim in gvd.claims(results, gvd.PRESETS["quick"]):
            for control in claim.controls:
                assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    # both classifiers need m ~ n: naive Bayes is no faster and its growth is not log-like
    verdicts = _verdicts(_fake(nb_speed=1.0, nb_like_lr=True))
    assert verdicts["zheng_nb_needs_fewer_samples"] == "fails" and verdicts["zheng_nb_growth_slope"] == "fails"
    assert verdicts["zheng_lr_growth_slope"] == "uninformative"  # naive Bayes, its control, grows linearly too
    # a (broken) asymptote of logistic regression above naive Bayes' fails the check
    assert _verdicts(_fake(nb_asym=0.0, lr_asym=0.1))["zheng_lr_asymptote_no_worse"] == "fails"


def test_misspecified_design_carries_the_asymptotic_claims():
    r = _fake("nb-misspecified", nb_asym=0.2, lr_asym=0.05)
    assert _verdicts(r) == {"nb-misspecified_lr_asymptote_no_worse": "holds",
                            "nb-misspecified_lr_better_at_largest_m": "holds"}
    rec = r["designs"]["nb-misspecified"]
    rec["lr"] = [e + 0.3 for e in rec["lr"]]  # logistic regression measured worse than naive Bayes
    assert _verdicts(r)["nb-misspecified_lr_better_at_largest_m"] == "fails"


@pytest.mark.parametrize("preset", sorted(gvd.PRESETS))
def test_every_preset_builds_every_design(preset):
    """A preset's dimensions must suit each of its designs (nb-misspecified pairs features: even n)."""
    params = gvd.PRESETS[preset]
    for name in params["designs"]:
        for n in params["dims"]:
            mu, cov = gvd.design(name, n, params["delta"], params["pair_delta"])
            assert mu.shape == (2, n) and cov.shape == (n, n)
