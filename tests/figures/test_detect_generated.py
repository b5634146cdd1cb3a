"""detect-generated: the tiny preset end to end, the sample maps, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np

from figures import detect_generated as dg
from figures import make_figure

CLAIMS = ["first_stage_power_mmd_d", "first_stage_power_mmd_mp", "power_drop_mmd_d", "power_drop_mmd_mp",
          "mmd_mp_minus_mmd_d_power", "type1_pooled"]


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("detect-generated", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"detect-generated.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "detect-generated.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == CLAIMS
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["controls"]
    res = doc["results"]
    assert list(res["steps"]) == [20, 40]  # every checkpoint is a stage
    T = dg.PRESETS["tiny"]["n_test"]
    for t in dg.TESTS:
        for key in (t, f"{t} | null"):
            v = np.asarray(res["rejections"][key])
            assert v.shape == (2, T) and np.all(np.isin(v, (0.0, 1.0)))
    assert np.asarray(res["spd"]).shape == (2, 2) and (np.asarray(res["spd"]) > 0).all()
    assert np.asarray(res["diag"]).shape == (2, 2, 3)


def test_sample_maps():
    rng = np.random.default_rng(0)
    xs, ys, preds = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    z = dg.samples(xs, ys, preds, 2)
    assert z.shape == (4, 7)
    np.testing.assert_allclose(z[:, :3], np.einsum("pkd,pk->pd", xs[:, :2], ys[:, :2]) / 2)
    np.testing.assert_allclose(z[:, 3:6], xs[:, 2])
    np.testing.assert_allclose(z[:, 6], preds[:, 2])
    r = dg.residuals(ys, preds, 2)
    assert r.shape == (4, 1)
    np.testing.assert_allclose(r[:, 0], ys[:, 2] - preds[:, 2])


def _results(power: dict, type1: float, T: int = 300, stages: int = 4) -> dict:
    """Rejections drawn per test: ``power[test]`` = (first-stage rate, last-stage rate), linear in between."""
    rng = np.random.default_rng(1)
    rej = {}
    for t in dg.TESTS:
        rates = np.linspace(*power[t], stages)[:, None]
        rej[t] = (rng.random((stages, T)) < rates).astype(float)
        rej[f"{t} | null"] = (rng.random((stages, T)) < type1).astype(float)
    rej[dg.NAIVE] = (rng.random((stages, T)) < 0.45).astype(float)
    return {"steps": [500 * (j + 1) for j in range(stages)], "rejections": rej, "n_test": T, "alpha": 0.05,
            "spd": np.ones((2, stages)), "diag": np.zeros((2, stages, 3)), "sizes": [[1, 32], [3, 64]], "k": 5,
            "d": 5, "n": 200}


GOOD = {"mmd-d": (0.9, 0.4), "mmd-mp": (0.95, 0.5), "median": (0.8, 0.3), dg.SUMMARY: (0.1, 0.08)}


def test_claims_hold_where_the_numbers_support_them():
    claims = dg.claims(_results(GOOD, 0.03), dg.PRESETS["quick"])
    assert [c.name for c in claims] == CLAIMS
    for c in claims:
        rec = c.evaluate()
        assert rec["verdict"] == "holds", (c.name, rec)
        assert all(ctrl["verdict"] == "fails" for ctrl in rec["controls"]), (c.name, rec["controls"])


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for claim in dg.claims(_results(GOOD, 0.03), dg.PRESETS["quick"]):
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    # no power at the first stage, no drop, MMD-MP below MMD-D, an anti-conservative test
    bad = {"mmd-d": (0.3, 0.3), "mmd-mp": (0.1, 0.1), "median": (0.2, 0.2), dg.SUMMARY: (0.1, 0.1)}
    verdicts = {c.name: c.evaluate()["verdict"] for c in dg.claims(_results(bad, 0.15), dg.PRESETS["quick"])}
    assert verdicts == {name: "fails" for name in CLAIMS}, verdicts
