"""The bayes-gap figure: the tiny preset end to end, and its claims on predictives with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import bayes_gap as bg
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("bayes-gap", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"bayes-gap.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "bayes-gap.json").read_text())
    names = [c["name"] for c in on_disk["claims"]]
    priors, heads = list(bg.PRESETS["tiny"]["priors"]), bg.PRESETS["tiny"]["heads"]
    assert names == [f"{p}_{h}_{what}" for p in priors for h in heads for what in ("gap", "coverage")] + [
        "linear_gaussian_head_mse_equals_mean_head", "linear_gaussian_head_gap_shrinks"]
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and "\n" not in c["statement"]
        assert len(c["interval"]) == 2 and c["controls"] and c["holds"] == (c["verdict"] == "holds")
    prov = on_disk["provenance"]
    n_runs = 11 + 2 * (len(bg.PRESETS["tiny"]["mse_seeds"]) - 1)  # + a Gaussian and a mean head per extra seed
    assert len(prov["runs"]) == n_runs and len({r["config_hash"] for r in prov["runs"]}) == n_runs
    assert {r["seed"] for r in prov["runs"]} == set(bg.PRESETS["tiny"]["mse_seeds"])
    assert {r["config"]["model"].get("head", "mean") for r in prov["runs"]} == {"mean", "gaussian", "bar"}
    assert prov["resolved"]["resolved_runs"]["gp/bar"]["task"]["name"] == "gp"
    res = doc["results"]
    assert set(res) == set(priors)
    for prior, r in res.items():
        P, n = np.asarray(r["ys"]).shape
        assert {"bayes", "gaussian", "bar", "ridge-vague", "constant-variance", "mean-noise", "prior-only"} <= set(
            r["log_prob"])
        assert ("ridge-matched" in r["log_prob"]) == (prior != "linear")
        for lab, lp in r["log_prob"].items():
            assert np.asarray(lp).shape == (P, n) and np.all(np.isfinite(lp)), (prior, lab)
        for lab, u in r["pit"].items():
            assert np.all((np.asarray(u) >= 0) & (np.asarray(u) <= 1)), (prior, lab)
    assert res["linear"]["mean_noise_source"] == "mean head" and res["gp"]["mean_noise_source"] == "Bayes mean"
    assert "nats above Bayes" in doc["summary"] and "Gaussian - mean head" in doc["summary"]
    again = make_figure("bayes-gap", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _linear_results(head_like: dict[str, str], n_prompts: int = 2000, seed: int = 0, d: int = 5, n: int = 11) -> dict:
    """Results shaped like compute's for dense noisy linear regression (d = 5, n = 11 by default), every
    predictive exact: each "head" copies the predictive named in ``head_like`` ("bayes", or
    "mean-noise": the Bayes mean with the noise variance, a too narrow predictive)."""
    from estimators.bayes import GaussianPrior
    from estimators.linear import averaging_prefixes
    from icl.metrics import gaussian_log_prob, gaussian_pit

    rng = np.random.default_rng(seed)
    noise = 0.25
    prior = GaussianPrior.isotropic(d, 1.0)
    xs = rng.standard_normal((n_prompts, n, d))
    ys = np.einsum("bnd,bd->bn", xs, rng.standard_normal((n_prompts, d))) + np.sqrt(noise) * rng.standard_normal(
        (n_prompts, n))
    mean, var = prior.predictive_moments_prefixes(xs, ys, noise)
    vague_lp = GaussianPrior.isotropic(d, 100.0).log_predictive_prefixes(xs, ys, noise)
    vm, vv = GaussianPrior.isotropic(d, 100.0).predictive_moments_prefixes(xs, ys, noise)
    const = float(np.mean((mean[:, d:] - ys[:, d:]) ** 2))
    lp = {"bayes": prior.log_predictive_prefixes(xs, ys, noise), "ridge-vague": vague_lp,
          "constant-variance": gaussian_log_prob(mean, const, ys), "mean-noise": gaussian_log_prob(mean, noise, ys),
          "prior-only": gaussian_log_prob(0.0, (xs**2).sum(-1) + noise, ys)}
    pit = {"bayes": gaussian_pit(mean, var, ys), "ridge-vague": gaussian_pit(vm, vv, ys),
           "constant-variance": gaussian_pit(mean, const, ys), "mean-noise": gaussian_pit(mean, noise, ys)}
    for head, like in head_like.items():
        lp[head], pit[head] = lp[like], pit[like]
    pit.pop("bayes")
    means = {"bayes": mean, "gaussian": mean, "bar": mean, "mean": mean, "zero": np.zeros_like(ys),
             "averaging": averaging_prefixes(xs, ys), **{f"{h}@{s}": mean for h in ("gaussian", "mean") for s in (1, 2)}}
    return {"linear": {"d": d, "n": n, "noise": noise, "y2": d + noise, "task": "linear", "const_var": const,
                       "mean_noise_source": "Bayes mean", "ys": ys, "log_prob": lp, "pit": pit, "mean": means}}


def _verdicts(claims) -> dict[str, str]:
    return {c.name: c.evaluate()["verdict"] for c in claims}


def test_claims_hold_for_heads_that_are_the_exact_predictive():
    claims = bg.claims(_linear_results({"gaussian": "bayes", "bar": "bayes"}), bg.PRESETS["quick"])
    assert _verdicts(claims) == {name: "holds" for name in _verdicts(claims)}
    assert len(claims) == 6
    for claim in claims:
        record = claim.evaluate()
        assert all(ctrl["verdict"] == "fails" for ctrl in record["controls"]), (claim.name, record["controls"])
        if claim.name.endswith("_gap"):  # a mean; the absolute deviations of the other claims bias resamples upward
            assert record["interval"][0] <= record["value"] <= record["interval"][1]


def test_gap_window_stops_at_2d_where_a_vague_ridge_is_still_far_from_bayes():
    # long prompts (d = 3, n = 21, the quick preset's dense linear setting): over every k >= d ridge under the vague
    # prior converges to Bayes and would pass a 0.05-nat claim; over k = d..2d it must fail
    results = _linear_results({"gaussian": "bayes", "bar": "bayes"}, d=3, n=21)
    claims = {c.name: c for c in bg.claims(results, bg.PRESETS["quick"])}
    gap = claims["linear_gaussian_gap"]
    assert "k = 3..6" in gap.statement
    record = gap.evaluate()
    assert record["verdict"] == "holds"
    assert {c["name"]: c["verdict"] for c in record["controls"]}["ridge-vague"] == "fails"
    vague = bg._gap(results["linear"], "ridge-vague")
    assert vague[:, 3:].mean() < 0.05 < vague[:, 3:7].mean()  # why the window matters
    assert claims["linear_gaussian_head_gap_shrinks"].evaluate()["verdict"] == "holds"


def test_the_gp_gap_claim_keeps_every_k_from_d():
    results = _linear_results({"gaussian": "bayes", "bar": "bayes"}, n_prompts=100, d=2, n=11)
    results = {"gp": results["linear"]}
    gap = next(c for c in bg.claims(results, bg.PRESETS["quick"]) if c.name == "gp_gaussian_gap")
    assert "k = 2..10" in gap.statement


def test_a_control_put_in_the_subjects_place_does_not_hold():
    claims = bg.claims(_linear_results({"gaussian": "bayes", "bar": "bayes"}), bg.PRESETS["quick"])
    for claim in claims:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_a_too_narrow_head_fails_the_gap_and_coverage_claims():
    verdicts = _verdicts(bg.claims(_linear_results({"gaussian": "mean-noise", "bar": "mean-noise"}),
                                   bg.PRESETS["quick"]))
    for head in ("gaussian", "bar"):
        assert verdicts[f"linear_{head}_gap"] == "fails" and verdicts[f"linear_{head}_coverage"] == "fails"


def test_exact_gap_to_itself_is_zero_and_the_summary_reports_it():
    results = _linear_results({"gaussian": "bayes", "bar": "bayes"})
    assert np.all(bg._gap(results["linear"], "gaussian") == 0)
    text = bg.summary(results, bg.PRESETS["quick"])
    assert "nats above Bayes" in text and "Gaussian - mean head +0.0000" in text


def test_mse_claim_is_undetermined_when_training_seeds_disagree():
    """The units of the Gaussian-vs-mean-head claim are training seeds: one seed's model may sit 0.07 above
    its mean head and another's 0.09 below (measured at the quick budget); three such seeds decide nothing."""
    results = _linear_results({"gaussian": "bayes", "bar": "bayes"}, n_prompts=200)
    lin = results["linear"]
    exact, y2 = lin["mean"]["bayes"], lin["y2"]
    shifted = {excess: exact + np.sqrt(excess * y2) for excess in (0.07, 0.09)}  # adds ~excess to the normalised error
    lin["mean"].update({"gaussian": shifted[0.07], "gaussian@1": shifted[0.07], "mean@2": shifted[0.09]})
    diffs = bg._seed_differences(lin)["gaussian"]
    assert diffs.shape == (3,) and diffs[0] > 0.05 and diffs[2] < -0.05
    claim = next(c for c in bg.claims(results, bg.PRESETS["quick"]) if c.name.endswith("mse_equals_mean_head"))
    record = claim.evaluate()
    assert record["verdict"] == "undetermined" and record["interval"][0] == 0.0 and record["interval"][1] > 0.1


def test_abs_mean_interval_is_the_image_of_the_t_interval():
    value, lo, hi = bg._abs_mean_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302652729911275 * 1.0 / np.sqrt(3)  # t_{0.975, 2} * sd / sqrt(3)
    assert value == 2.0 and np.isclose(hi, 2.0 + half)
    assert lo == 0.0  # 2 - 2.48 < 0 < 2 + 2.48: the interval of the mean straddles 0
    assert bg._abs_mean_interval(np.array([-1.0, -1.1, -0.9]))[1:] == pytest.approx((1.0 - 0.2484, 1.0 + 0.2484), abs=1e-3)
    assert bg._abs_mean_interval(np.array([0.5]))[1:] == (0.0, float("inf"))  # one seed: no interval


def test_presets_resolve_to_valid_run_configs():
    for name, params in bg.PRESETS.items():
        runs = bg.resolve(params)["resolved_runs"]
        assert len(runs) == len(params["priors"]) * len(params["heads"]) + len(params["mean_head_priors"]) + 2 * (
            len(params["mse_seeds"]) - 1), name
        assert runs["linear/gaussian@1"]["seed"] == 1 and runs["linear/gaussian@1"]["model"]["gaussian_loss"] == "faithful"
        assert runs["linear/bar"]["model"]["head"] == "bar" and runs["linear/bar"]["model"].get("n_bins", 100) == params["n_bins"]
        assert "head" not in runs["linear/mean"]["model"]  # the mean head: the default, left out of the dict
        assert all(r["task"]["noise"] > 0 for r in runs.values()), name  # every prior has a density
        assert runs["gp/gaussian"]["task"]["name"] == "gp"
    with pytest.raises(ValueError, match="model.n_layers"):
        bg.run_config(dict(bg.PRESETS["tiny"], run={"model.n_layers": 2}), "linear", "gaussian")
