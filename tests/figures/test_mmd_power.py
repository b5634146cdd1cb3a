"""The mmd-power figure: the tiny preset end to end, and its claims on constructed results."""

from __future__ import annotations

import json

import numpy as np

from figures import make_figure
from figures import mmd_power as fig

CLAIMS = ["blob_mmd_d_power", "hdgm_mmd_d_power", "type1_every_method", "separated_mmd_mp_minus_mmd_d_power",
          "separated_mmd_mp_spread_below_mmd_d"]


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("mmd-power", "tiny", out_dir=tmp_path, progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"mmd-power.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "mmd-power.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == CLAIMS
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and "\n" not in c["statement"]
        assert c["controls"] and c["holds"] == (c["verdict"] == "holds")
    res = doc["results"]
    p = fig.PRESETS["tiny"]
    for name, xs, seeds, T in (("blob", p["blob_n"], p["seeds"], p["n_test"]),
                               ("separated", p["mp_K"], p["mp_seeds"], p["mp_n_test"])):
        power = np.asarray(res[name]["power"])
        assert power.shape == (len(fig.METHODS), len(xs), len(seeds), T)
        for i, method in enumerate(fig.METHODS):  # 0/1 per test where the method runs, NaN where it does not
            v = power[i]
            assert np.all(np.isin(v, (0.0, 1.0))) if method in res[name]["methods"] else np.all(np.isnan(v))
    assert "mmd-mp" not in res["hdgm"]["methods"] and "mmd-mp" in res["separated"]["methods"]
    assert "J at start" in doc["summary"]
    again = make_figure("mmd-power", "tiny", out_dir=tmp_path, progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _results(rates: dict, type1: float, params: dict, spread: dict | None = None, T: int = 200) -> dict:
    """Results shaped like compute's: per-test rejections drawn at the given rates (per method), type-I
    rejections at ``type1``; ``spread[method]`` alternates that method's per-seed rate by +-spread."""
    rng = np.random.default_rng(0)
    out = {"methods": list(fig.METHODS)}
    for name, xs, seeds in (("blob", params["blob_n"], params["seeds"]), ("hdgm", params["hdgm_n"], params["seeds"]),
                            ("separated", params["mp_K"], params["mp_seeds"])):
        methods = fig.METHODS if name == "separated" else fig._SINGLE
        S = len(seeds)
        power = np.full((len(fig.METHODS), len(xs), S, T), np.nan)
        null = np.full_like(power, np.nan)
        for i, m in enumerate(fig.METHODS):
            if m not in methods:
                continue
            sign = np.where(np.arange(S) % 2 == 0, 1.0, -1.0)[None, :, None]
            rate = np.clip(rates[m] + (spread or {}).get(m, 0.0) * sign, 0, 1)
            power[i] = rng.random((len(xs), S, T)) < rate
            null[i] = rng.random((len(xs), S, T)) < type1
        naive = (rng.random((len(xs), S, T)) < 0.45).astype(float)
        out[name] = {"x": list(xs), "xlabel": "x", "methods": list(methods), "seeds": list(seeds), "power": power,
                     "null": null, "naive_null": naive, "diag": {}}
    return out


GOOD = {"median": 0.15, "mmd-o": 0.5, "mmd-d": 0.8, "mmd-mp": 0.95, "c2st-s": 0.6, "c2st-l": 0.7}
PARAMS = {**fig.PRESETS["quick"], "mp_seeds": list(range(6))}


def test_claims_hold_where_the_numbers_support_them():
    claims = fig.claims(_results(GOOD, 0.04, PARAMS, spread={"mmd-d": 0.08, "mmd-o": 0.1, "mmd-mp": 0.01}), PARAMS)
    verdicts = {c.name: c.evaluate()["verdict"] for c in claims}
    assert list(verdicts) == CLAIMS
    assert set(verdicts.values()) == {"holds"}, verdicts
    for c in claims:
        rec = c.evaluate()
        assert all(ctrl["verdict"] == "fails" for ctrl in rec["controls"]), (c.name, rec["controls"])
        assert rec["interval"][0] <= rec["value"] <= rec["interval"][1]


def test_a_control_put_in_the_subjects_place_does_not_hold():
    claims = fig.claims(_results(GOOD, 0.04, PARAMS, spread={"mmd-d": 0.08, "mmd-o": 0.1, "mmd-mp": 0.01}), PARAMS)
    for claim in claims:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    bad = {**GOOD, "mmd-d": 0.2, "mmd-mp": 0.05}
    claims = {c.name: c.evaluate() for c in fig.claims(_results(bad, 0.2, PARAMS, spread={"mmd-mp": 0.04}), PARAMS)}
    assert claims["blob_mmd_d_power"]["verdict"] == "fails"
    assert claims["hdgm_mmd_d_power"]["verdict"] == "fails"
    assert claims["type1_every_method"]["verdict"] == "fails"
    assert claims["separated_mmd_mp_minus_mmd_d_power"]["verdict"] == "fails"
    assert claims["separated_mmd_mp_spread_below_mmd_d"]["verdict"] != "holds"


def test_type1_is_pooled_and_bonferroni_corrected():
    res = _results(GOOD, 0.05, PARAMS)
    est = fig._type1_estimates(res, PARAMS)
    n = sum(np.isfinite(np.asarray(res[b]["null"])[fig.METHODS.index("median")]).sum() for b in fig.BENCHMARKS)
    k = sum(np.nansum(np.asarray(res[b]["null"])[fig.METHODS.index("median")]) for b in fig.BENCHMARKS)
    from figures._claims import binomial_interval

    assert est["median"] == (k / n, *binomial_interval(int(k), int(n), 1 - 0.05 / len(fig.METHODS)))
    lo95, hi95 = binomial_interval(int(k), int(n))
    assert est["median"][1] < lo95 and est["median"][2] > hi95  # wider than one test's 95% interval
