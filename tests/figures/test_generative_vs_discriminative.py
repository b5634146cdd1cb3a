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
        assert set(c) == {"name", "value", "threshold", "holds", "statement"} and isinstance(c["holds"], bool)
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


def _fake(nb_m, lr_m, nb_asym, lr_asym, name="zheng"):
    dims = [10, 20, 40]
    errs = np.zeros((3, 2, 2))
    return {"m": [[1, 2]] * 3, "dims": dims, "designs": {name: {
        "nb_m_eps": nb_m, "lr_m_eps": lr_m, "nb_asym": nb_asym, "lr_asym": lr_asym,
        "nb": errs + 0.3, "lr": errs + 0.2}}}  # fmt: skip


def test_claims_hold_and_fail_on_known_results():
    params = gvd.PRESETS["quick"]
    good = {c.name: c for c in gvd.claims(_fake([20, 24, 28], [40, 80, 160], [0.3] * 3, [0.2] * 3), params)}
    assert all(c.holds for c in good.values())
    assert good["zheng_lr_growth_slope"].value == pytest.approx(1.0)
    assert good["zheng_nb_needs_fewer_samples"].value == pytest.approx(2.0)
    bad = {c.name: c for c in gvd.claims(_fake([40, 80, 160], [40, 40, 40], [0.2] * 3, [0.3] * 3), params)}
    assert not bad["zheng_nb_needs_fewer_samples"].holds
    assert not bad["zheng_nb_growth_slope"].holds and not bad["zheng_lr_growth_slope"].holds
    assert not bad["zheng_lr_asymptote_no_worse"].holds


def test_misspecified_design_carries_the_asymptotic_claims():
    params = gvd.PRESETS["quick"]
    r = _fake([20, 24, 28], [40, 80, 160], [0.3, 0.2, 0.005], [0.2, 0.1, 0.0], name="nb-misspecified")
    got = {c.name: c for c in gvd.claims(r, params)}
    assert set(got) == {"nb-misspecified_lr_asymptote_no_worse", "nb-misspecified_lr_better_at_largest_m"}
    assert got["nb-misspecified_lr_better_at_largest_m"].holds and got["nb-misspecified_lr_better_at_largest_m"].value == pytest.approx(0.1)
    r["designs"]["nb-misspecified"]["lr"] = np.zeros((3, 2, 2)) + 0.4  # LR measured worse than NB
    assert not {c.name: c for c in gvd.claims(r, params)}["nb-misspecified_lr_better_at_largest_m"].holds


@pytest.mark.parametrize("preset", sorted(gvd.PRESETS))
def test_every_preset_builds_every_design(preset):
    """A preset's dimensions must suit each of its designs (nb-misspecified pairs features: even n)."""
    params = gvd.PRESETS[preset]
    for name in params["designs"]:
        for n in params["dims"]:
            mu, cov = gvd.design(name, n, params["delta"], params["pair_delta"])
            assert mu.shape == (2, n) and cov.shape == (n, n)
