"""akyurek-predictors: the tiny preset end to end, the baselines, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np

from figures import akyurek_predictors as ak
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("akyurek-predictors", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"akyurek-predictors.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "akyurek-predictors.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "noiseless_spd_ols_over_next", "noisy_spd_bayes_ridge_over_next", "shallow_closer_to_gd",
        "probe_w_minus_control", "probe_XTy_minus_control"]
    runs = on_disk["provenance"]["runs"]
    assert sorted((r["config"]["model"]["n_layer"], r["config"]["task"]["noise"]) for r in runs) == [
        (1, 0.0), (1, 0.25), (2, 0.0), (2, 0.25)]
    res = doc["results"]["runs"]
    noisy = next(r for r in res if r["setting"] == "noisy")
    assert {"ols", "ridge-bayes", "ridge-0.1", "ridge-1", "gd-1", "gd-m"} == set(noisy["names"])
    free = next(r for r in res if r["setting"] == "noiseless")
    assert "ridge-bayes" not in free["names"] and len(free["probes"]["w"]) == 2  # embedding + 1 block


def test_baselines_are_the_linear_learners():
    from icl.tasks import get_task

    task = get_task("linear", d=3, noise=0.25)
    base = ak.baselines(ak.PRESETS["tiny"], task, 7, 0)
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7))
    from estimators import ridge_prefixes

    np.testing.assert_allclose(base["ridge-bayes"](xs, ys), ridge_prefixes(xs, ys, lam=0.25))
    assert set(base) == {"ols", "ridge-bayes", "ridge-0.1", "ridge-1", "gd-1", "gd-m"}


def _entry(setting, depth, spd: dict):
    return {"setting": setting, "depth": depth, "mean_spd": spd,
            "probes": {"w": [0.1, 0.9], "w (shuffled)": [-0.1, 0.0], "X^T y": [0.2, 0.8],
                       "X^T y (shuffled)": [0, 0.05]}}


def test_claims_follow_the_measurement():
    p = {**ak.PRESETS["tiny"], "depths": [1, 2]}
    res = {"runs": [
        _entry("noiseless", 1, {"ols": 0.5, "gd-1": 0.1, "gd-m": 0.2, "ridge-0.1": 0.6}),
        _entry("noiseless", 2, {"ols": 0.05, "gd-1": 0.3, "gd-m": 0.2, "ridge-0.1": 0.1}),
        _entry("noisy", 1, {"ols": 0.5, "ridge-bayes": 0.4, "gd-1": 0.3, "gd-m": 0.3}),
        _entry("noisy", 2, {"ols": 0.3, "ridge-bayes": 0.05, "gd-1": 0.3, "gd-m": 0.3})]}
    claims = {c.name: c for c in ak.claims(res, p)}
    assert all(c.holds for c in claims.values())
    np.testing.assert_allclose(claims["noiseless_spd_ols_over_next"].value, 0.5)
    np.testing.assert_allclose(claims["shallow_closer_to_gd"].value, (0.1 / 0.5) / (0.2 / 0.05))
    np.testing.assert_allclose(claims["probe_w_minus_control"].value, 0.9)
    res["runs"][1]["mean_spd"]["ols"] = 0.4  # deep noiseless model now closer to ridge-0.1 than to OLS
    claims = {c.name: c for c in ak.claims(res, p)}
    assert not claims["noiseless_spd_ols_over_next"].holds
