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
        "noiseless_gap_to_ols_at_2d", "noisy_spd_ridge_over_ols_at_d", "noisy_ilwd_ridge_over_ols_at_d"]
    for c in on_disk["claims"]:
        assert set(c) == {"name", "value", "threshold", "holds", "statement"}
        assert isinstance(c["holds"], bool) and "\n" not in c["statement"]
        assert c["value"] is None or np.isfinite(c["value"])
    prov = on_disk["provenance"]
    assert len(prov["runs"]) == 2 and len({r["config_hash"] for r in prov["runs"]}) == 2
    assert {r["config"]["task"]["noise"] for r in prov["runs"]} == {0.0, 0.25}
    assert prov["resolved"]["resolved_runs"]["noisy"]["task"]["noise"] == 0.25
    assert "transformer" in doc["summary"] and "err@k=3" in doc["summary"]
    res = doc["results"]["noisy"]
    assert {"transformer", "ols", "ridge", "bayes", "gd", "gd-1step", "averaging", "3-nn"} == set(res["names"])
    # the second build reuses the cached computation and the trained runs
    again = make_figure("linear-regression", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _fake_results(transformer_like: str, gap: float = 0.0) -> dict:
    """Results shaped like compute's, where the transformer copies one baseline (plus ``gap`` error)."""
    n, d = 11, 5
    k = np.arange(n)
    curves = {"ols": np.where(k >= d, 0.0, 0.5), "ridge": np.full(n, 0.2)}
    out = {}
    for setting, noise in (("noiseless", 0.0), ("noisy", 0.25)):
        base = curves[transformer_like]
        c = {name: (v, v, v) for name, v in curves.items()}
        c["transformer"] = (base + gap, base + gap, base + gap)
        other = "ridge" if transformer_like == "ols" else "ols"
        div = {"transformer": {transformer_like: np.zeros(n), other: np.ones(n)}}
        out[setting] = {"k": k, "d": d, "noise": noise, "curves": c, "divergence": div, "ilwd_ks": [2, 5, 10],
                        "ilwd": {transformer_like: [0.0] * 3, other: [1.0] * 3}}
    return out


def test_claims_hold_when_the_transformer_is_bayes_ridge():
    claims = lr.claims(_fake_results("ridge"), lr.PRESETS["quick"])
    verdicts = {c.name: c.holds for c in claims}
    assert verdicts["noisy_spd_ridge_over_ols_at_d"] and verdicts["noisy_ilwd_ridge_over_ols_at_d"]
    assert claims[1].value == 0.0 and claims[0].threshold == 0.05


def test_claims_fail_when_the_measurement_does_not_support_them():
    # a transformer that copies OLS is not closer to ridge; one with a 0.1 gap misses the 0.05 bound
    claims = lr.claims(_fake_results("ols", gap=0.1), lr.PRESETS["quick"])
    verdicts = {c.name: c.holds for c in claims}
    assert not verdicts["noisy_spd_ridge_over_ols_at_d"] and not verdicts["noisy_ilwd_ridge_over_ols_at_d"]
    assert not verdicts["noiseless_gap_to_ols_at_2d"]
    np.testing.assert_allclose(claims[0].value, 0.1)
    ok = lr.claims(_fake_results("ols", gap=0.04), lr.PRESETS["quick"])[0]
    assert ok.holds and np.isclose(ok.value, 0.04)


def test_presets_resolve_to_valid_run_configs():
    for name, params in lr.PRESETS.items():
        resolved = lr.resolve(params)["resolved_runs"]
        assert resolved["noiseless"]["task"]["noise"] == 0.0, name
        assert resolved["noisy"]["task"]["noise"] == params["noise"], name
        assert resolved["noisy"]["task"]["name"] == "linear", name
    with pytest.raises(ValueError, match="model.n_layers"):
        lr.run_config(dict(lr.PRESETS["tiny"], run={"model.n_layers": 2}), 0.0)
