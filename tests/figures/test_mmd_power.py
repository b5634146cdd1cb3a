"""The mmd-power figure: the tiny preset end to end, and its claims on constructed results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import mmd_power as fig


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("mmd-power", "tiny", out_dir=tmp_path, progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"mmd-power.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "mmd-power.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "blob_mmd_d_minus_median_power", "hdgm_mmd_d_minus_median_power", "type1_outside_binomial_interval",
        "multipop_mmd_mp_minus_mmd_d_power", "multipop_spread_ratio_mp_over_d"]
    for c in on_disk["claims"]:
        assert isinstance(c["holds"], bool) and "\n" not in c["statement"]
    res = doc["results"]
    p = fig.PRESETS["tiny"]
    assert np.asarray(res["blob"]["power"]).shape == (len(fig.METHODS), len(p["blob_n"]), len(p["seeds"]))
    assert res["multi-population"]["x"] == p["mp_K"]
    for name in ("blob", "hdgm", "multi-population"):
        for key in ("power", "type1"):
            v = np.asarray(res[name][key])
            assert np.all((v >= 0) & (v <= 1)) and np.all(v * p["n_test"] == np.round(v * p["n_test"]))
    again = make_figure("mmd-power", "tiny", out_dir=tmp_path, progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _results(power_by_method: dict, type1: float, params: dict, mp_seed_spread=(0.0, 0.0)) -> dict:
    """Results shaped like compute's: constant power per method, the given type-I rate everywhere."""
    S = len(params["seeds"])
    out = {"methods": list(fig.METHODS)}
    for name, xs in (("blob", params["blob_n"]), ("hdgm", params["hdgm_n"]), ("multi-population", params["mp_K"])):
        power = np.array([[[power_by_method[m]] * S] * len(xs) for m in fig.METHODS], dtype=float)
        if name == "multi-population":  # alternate +-spread over seeds for MMD-MP and MMD-D
            for m, spread in zip(("mmd-mp", "mmd-d"), mp_seed_spread):
                power[fig.METHODS.index(m)] += spread * np.where(np.arange(S) % 2 == 0, 1, -1)
        out[name] = {"x": list(xs), "xlabel": "x", "power": power, "type1": np.full_like(power, type1)}
    return out


def test_claims_follow_the_numbers():
    params = fig.PRESETS["paper"]
    good = {"median": 0.1, "mmd-o": 0.5, "mmd-d": 0.9, "mmd-mp": 0.92, "c2st-s": 0.6, "c2st-l": 0.7}
    verdicts = {c.name: c.holds for c in fig.claims(_results(good, 0.05, params, (0.01, 0.05)), params)}
    assert all(verdicts.values()), verdicts
    bad = {**good, "mmd-d": 0.2, "mmd-mp": 0.1}
    claims = {c.name: c for c in fig.claims(_results(bad, 0.2, params, (0.05, 0.01)), params)}
    assert not claims["blob_mmd_d_minus_median_power"].holds
    assert claims["blob_mmd_d_minus_median_power"].value == pytest.approx(0.2 - 0.1)
    assert not claims["type1_outside_binomial_interval"].holds
    assert claims["type1_outside_binomial_interval"].value == len(fig.METHODS) * 10  # every (method, setting)
    assert not claims["multipop_mmd_mp_minus_mmd_d_power"].holds
    assert not claims["multipop_spread_ratio_mp_over_d"].holds


def test_type1_interval_contains_alpha_and_is_family_wise():
    lo, hi, level = fig._type1_interval(fig.PRESETS["paper"])
    assert lo < 0.05 < hi and level == 0.05 / (len(fig.METHODS) * 10)
