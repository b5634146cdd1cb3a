"""prism-gmm: the tiny preset end to end, the implied weight, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np

from figures import make_figure
from figures import prism_gmm as pg


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-gmm", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-gmm.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-gmm.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == ["spd_bma_over_best_component",
                                                      "weight_dev_transformer_over_prior"]
    res = doc["results"]
    # the BMA prediction is exactly the beta-weighted mix of the component means: its implied weight is beta
    check = np.asarray(res["beta_dev_bma_check"])[1:]
    assert np.nanmax(check) < 1e-6
    assert set(res["names"]) == {"transformer", "bayes", "ridge+", "ridge-", "ols"}


def test_implied_weight_recovers_a_mixture():
    rng = np.random.default_rng(0)
    fp, fm, beta = rng.normal(size=50), rng.normal(size=50), rng.uniform(size=50)
    got = pg.implied_weight(beta * fp + (1 - beta) * fm, fp, fm, 1.0, 0.0)
    np.testing.assert_allclose(got, beta, atol=1e-12)
    assert np.isnan(pg.implied_weight(np.ones(1), np.ones(1), np.ones(1), 1.0, 0.1)).all()


def _fake(t_like_bma: bool) -> dict:
    n = 6
    div = {"bayes": np.full(n, 0.1 if t_like_bma else 0.5), "ridge+": np.full(n, 0.3), "ridge-": np.full(n, 0.4),
           "ols": np.ones(n)}
    return {"divergence": div, "beta_dev_transformer": np.full(n, 0.05 if t_like_bma else 0.4),
            "beta_dev_prior": np.full(n, 0.3)}


def test_claims_follow_the_measurement():
    good = pg.claims(_fake(True), pg.PRESETS["quick"])
    assert [c.holds for c in good] == [True, True]
    np.testing.assert_allclose(good[0].value, 0.1 / 0.3)
    bad = pg.claims(_fake(False), pg.PRESETS["quick"])
    assert [c.holds for c in bad] == [False, False]
    np.testing.assert_allclose(bad[1].value, 0.4 / 0.3)
