"""detect-generated: the tiny preset end to end, the sample map, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np

from figures import detect_generated as dg
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("detect-generated", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"detect-generated.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "detect-generated.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "first_stage_power", "power_last_minus_first", "mmd_mp_minus_mmd_d_power", "max_type1_error"]
    res = doc["results"]
    assert list(res["steps"]) == [20, 40]  # every checkpoint is a stage
    power, type1 = np.asarray(res["power"]), np.asarray(res["type1"])
    assert power.shape == type1.shape == (2, 2) and ((power >= 0) & (power <= 1)).all()
    assert np.asarray(res["spd"]).shape == (2, 2) and (np.asarray(res["spd"]) > 0).all()


def test_samples_layout():
    rng = np.random.default_rng(0)
    xs, ys, preds = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    z = dg.samples(xs, ys, preds, 2)
    assert z.shape == (4, 7)
    np.testing.assert_allclose(z[:, :3], np.einsum("pkd,pk->pd", xs[:, :2], ys[:, :2]) / 2)
    np.testing.assert_allclose(z[:, 3:6], xs[:, 2])
    np.testing.assert_allclose(z[:, 6], preds[:, 2])


def test_claims_follow_the_measurement():
    res = {"power": np.array([[0.9, 0.6, 0.2], [1.0, 0.7, 0.3]]), "type1": np.array([[0.05, 0.0, 0.08], [0, 0.05, 0]]),
           "alpha": 0.05, "n_test": 100, "steps": [1, 2, 3]}
    claims = {c.name: c for c in dg.claims(res, dg.PRESETS["quick"])}
    assert all(c.holds for c in claims.values())
    np.testing.assert_allclose(claims["mmd_mp_minus_mmd_d_power"].value, 0.1)
    np.testing.assert_allclose(claims["max_type1_error"].threshold, 0.05 + 2 * np.sqrt(0.05 * 0.95 / 100))
    res["power"] = np.array([[0.3, 0.6, 0.4], [0.2, 0.5, 0.4]])
    res["type1"] = np.array([[0.2, 0.0, 0.0], [0, 0, 0]])
    claims = {c.name: c for c in dg.claims(res, dg.PRESETS["quick"])}
    assert not any(c.holds for c in claims.values())
