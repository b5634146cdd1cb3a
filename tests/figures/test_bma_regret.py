"""bma-regret: the tiny preset end to end, the BMA log predictive, and the claims."""

from __future__ import annotations

import json

import numpy as np

from estimators.bayes import FinitePrior
from figures import bma_regret as br
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("bma-regret", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"bma-regret.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "bma-regret.json").read_text())
    claims = {c["name"]: c for c in on_disk["claims"]}
    # the theorem: BMA's regret never exceeds log|Z| (on every prompt and every t)
    assert claims["bma_max_regret_over_logZ"]["holds"] and claims["bma_max_regret_over_logZ"]["value"] <= 1.0 + 1e-9
    res = doc["results"]
    assert res["Z"] == 8 and np.isclose(res["log_Z"], np.log(8))
    assert np.all(np.asarray(res["regret_bma_max"]) <= np.log(8) + 1e-9)


def test_bma_log_predictive_matches_the_posterior_weights():
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((5, 3))
    xs, ys = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6))
    noise = 0.3
    got = br.bma_log_predictive(pool, xs, ys, noise)
    beta = np.asarray(FinitePrior(pool).weights_prefixes(xs, ys, noise))  # (P, n, M)
    dens = np.exp(br.gaussian_logpdf(ys[..., None], np.einsum("pnd,md->pnm", xs, pool), noise))
    np.testing.assert_allclose(got, np.log((beta * dens).sum(-1)), rtol=1e-8)
    # chain rule: the sum of log predictives is the log marginal likelihood of the whole sequence
    full = np.log(np.mean(np.exp(br.gaussian_logpdf(ys[..., None], np.einsum("pnd,md->pnm", xs, pool),
                                                    noise).sum(1)), axis=-1))
    np.testing.assert_allclose(got.sum(1), full, rtol=1e-8)


def test_claims_follow_the_measurement():
    base = {"log_Z": np.log(16), "t": np.arange(1, 6), "regret_bma_max": np.full(5, 2.0)}
    ok = br.claims({**base, "regret_tf_mean": np.array([0.1, 0.5, 1.0, 1.5, 2.0])}, br.PRESETS["quick"])
    assert [c.holds for c in ok] == [True, True]
    np.testing.assert_allclose(ok[1].value, 2.0 / np.log(16))
    bad = br.claims({**base, "regret_bma_max": np.full(5, 3.0), "regret_tf_mean": np.full(5, 4.0)},
                    br.PRESETS["quick"])
    assert [c.holds for c in bad] == [False, False]
