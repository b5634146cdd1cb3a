"""task-diversity: the tiny preset end to end, and the claims and transition on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import task_diversity as td


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("task-diversity", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"task-diversity.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "task-diversity.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "low_M_spd_dmmse_over_ridge", "high_M_spd_ridge_over_dmmse", "transition_M"]
    runs = on_disk["provenance"]["runs"]
    assert sorted(r["config"]["task"]["kwargs"]["pool_size"] for r in runs) == [2, 8, 64]
    res = doc["results"]
    # dMMSE is the Bayes predictor on pool prompts: no predictor beats it there (Monte Carlo, 64 prompts)
    for e in res["per_M"]:
        assert e["pool"]["mean_err"]["bayes"] <= e["pool"]["mean_err"]["ridge"] + 0.02
        assert e["fresh"]["mean_err"]["ridge"] <= e["fresh"]["mean_err"]["bayes"] + 0.02


def _fake(closer_ridge: list[bool]) -> dict:
    per = [{"fresh": {"mean_spd": {"ridge": 0.1 if c else 0.5, "bayes": 0.5 if c else 0.1}}} for c in closer_ridge]
    return {"M": [2 ** (i + 1) for i in range(len(closer_ridge))], "per_M": per}


def test_transition_and_claims():
    res = _fake([False, False, True, True])
    assert td.transition_m(res) == 8.0
    claims = {c.name: c for c in td.claims(res, td.PRESETS["quick"])}
    assert claims["low_M_spd_dmmse_over_ridge"].holds and claims["high_M_spd_ridge_over_dmmse"].holds
    assert claims["transition_M"].holds and claims["transition_M"].value == 8.0
    np.testing.assert_allclose(claims["low_M_spd_dmmse_over_ridge"].value, 0.2)


@pytest.mark.parametrize("pattern", [[True, True, True], [False, False, False], [False, True, False]])
def test_no_transition_is_reported_as_not_holding(pattern):
    claims = {c.name: c for c in td.claims(_fake(pattern), td.PRESETS["quick"])}
    assert not claims["transition_M"].holds
    if pattern == [False, True, False]:
        assert np.isnan(td.transition_m(_fake(pattern)))


def test_presets_resolve_to_pools():
    for name, params in td.PRESETS.items():
        runs = td.resolve(params)["resolved_runs"]
        assert [r["task"]["kwargs"]["pool_size"] for r in runs] == params["pool_sizes"], name
        assert all(r["task"]["name"] == "finite-pool" for r in runs)
