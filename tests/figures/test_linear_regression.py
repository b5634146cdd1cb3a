"""The linear-regression figure: the tiny preset end to end, and its claims on known results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import linear_regression as lr
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("linear-regression", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"linear-regression.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "linear-regression.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "noiseless_mean_gap_to_ols", "noiseless_gap_to_ols_at_2d", "noisy_mean_excess_over_bayes_ridge",
        "noisy_mean_spd_to_bayes_ridge"]
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and "\n" not in c["statement"]
        assert len(c["interval"]) == 2 and c["controls"] and c["holds"] == (c["verdict"] == "holds")
        assert c["value"] is None or np.isfinite(c["value"])
    prov = on_disk["provenance"]
    assert len(prov["runs"]) == 2 and len({r["config_hash"] for r in prov["runs"]}) == 2
    assert {r["config"]["task"]["noise"] for r in prov["runs"]} == {0.0, 0.25}
    assert all(r["train_s"] > 0 for r in prov["runs"])  # each run's own training time, from its metrics
    assert prov["resolved"]["resolved_runs"]["noisy"]["task"]["noise"] == 0.25
    assert "transformer" in doc["summary"] and "err@k=3" in doc["summary"]
    res = doc["results"]["noisy"]
    assert {"transformer", "ols", "ridge", "bayes", "gd", "gd-1step", "averaging", "3-nn", "zero"} == set(res["names"])
    # the second build reuses the cached computation and the trained runs
    again = make_figure("linear-regression", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _fake_results(transformer_like: dict[str, str], extra_error: float = 0.0, n_prompts: int = 400) -> dict:
    """Results shaped like compute's: exact OLS / ridge / zero / averaging predictions on synthetic
    noisy linear prompts, and a "transformer" that copies ``transformer_like[setting]`` plus
    Gaussian error of variance ``extra_error`` (normalised by E[y^2])."""
    from estimators import averaging_prefixes, gd_prefixes, ols_prefixes, ridge_prefixes

    rng = np.random.default_rng(0)
    d, n = 5, 11
    out = {}
    for setting, noise in (("noiseless", 0.0), ("noisy", 0.25)):
        xs = rng.standard_normal((n_prompts, n, d))
        ys = np.einsum("bnd,bd->bn", xs, rng.standard_normal((n_prompts, d))) + np.sqrt(noise) * rng.standard_normal(
            (n_prompts, n))
        y2 = d + noise
        preds = {"ols": ols_prefixes(xs, ys), "ridge": ridge_prefixes(xs, ys, noise), "zero": np.zeros_like(ys),
                 "averaging": averaging_prefixes(xs, ys), "gd-1step": gd_prefixes(xs, ys, 0.1, 1)}
        preds["transformer"] = preds[transformer_like[setting]] + np.sqrt(extra_error * y2) * rng.standard_normal(
            ys.shape)
        out[setting] = {"k": np.arange(n), "d": d, "noise": noise, "y2": y2, "ys": ys, "preds": preds}
    return out


def _verdicts(claims) -> dict[str, str]:
    return {c.name: c.evaluate()["verdict"] for c in claims}


def test_claims_hold_for_a_transformer_that_is_ols_then_bayes_ridge():
    claims = lr.claims(_fake_results({"noiseless": "ols", "noisy": "ridge"}), lr.PRESETS["quick"])
    assert set(_verdicts(claims).values()) == {"holds"}
    for claim in claims:
        record = claim.evaluate()
        assert record["threshold"] == 0.05 and record["controls"]
        assert all(ctrl["verdict"] == "fails" for ctrl in record["controls"])
        assert record["interval"][0] <= record["value"] <= record["interval"][1]


def test_a_control_put_in_the_subjects_place_does_not_hold():
    claims = lr.claims(_fake_results({"noiseless": "ols", "noisy": "ridge"}), lr.PRESETS["quick"])
    for claim in claims:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    # a transformer that copies OLS in the noisy setting pays its interpolation spike; 0.3 extra error misses 0.05
    verdicts = _verdicts(lr.claims(_fake_results({"noiseless": "ols", "noisy": "ols"}, 0.3), lr.PRESETS["quick"]))
    assert verdicts == {name: "fails" for name in verdicts}


def test_presets_resolve_to_valid_run_configs():
    for name, params in lr.PRESETS.items():
        resolved = lr.resolve(params)["resolved_runs"]
        assert resolved["noiseless"]["task"]["noise"] == 0.0, name
        assert resolved["noisy"]["task"]["noise"] == params["noise"], name
        assert resolved["noisy"]["task"]["name"] == "linear", name
    with pytest.raises(ValueError, match="model.n_layers"):
        lr.run_config(dict(lr.PRESETS["tiny"], run={"model.n_layers": 2}), 0.0)
