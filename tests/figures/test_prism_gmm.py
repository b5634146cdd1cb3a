"""prism-gmm: the tiny preset end to end, the implied weight, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import prism_gmm as pg


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-gmm", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-gmm.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-gmm.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == ["follows_bma", "implied_weight_tracks_posterior"]
    assert [k["name"] for k in on_disk["claims"][0]["controls"]] == list(pg.SPD_CONTROLS)
    assert [k["name"] for k in on_disk["claims"][1]["controls"]] == list(pg.WEIGHT_CONTROLS)
    res = doc["results"]
    # the BMA prediction is exactly the beta-weighted mix of the component means: its implied weight is beta
    ok = np.isfinite(res["weights"]["bayes"])
    assert ok.any() and np.nanmax(np.abs(res["weights"]["bayes"] - res["beta"])[ok]) < 1e-6
    assert set(res["names"]) == {"transformer", "bayes", "ridge+", "ridge-", "ols", "zero"}


def test_implied_weight_recovers_a_mixture():
    rng = np.random.default_rng(0)
    fp, fm, beta = rng.normal(size=50), rng.normal(size=50), rng.uniform(size=50)
    got = pg.implied_weight(beta * fp + (1 - beta) * fm, fp, fm, 1.0, 0.0)
    np.testing.assert_allclose(got, beta, atol=1e-12)
    assert np.isnan(pg.implied_weight(np.ones(1), np.ones(1), np.ones(1), 1.0, 0.1)).all()


def _fake_results(like: str, extra: float = 0.0, n_prompts: int = 600) -> dict:
    """Results shaped like compute's on synthetic GMM prompts (d = 5), with a transformer that copies
    ``like`` plus Gaussian error of variance ``extra`` E[y^2]."""
    from estimators import ols_prefixes
    from icl.tasks import eval_generator, get_task

    task = get_task("gaussian-mixture", d=5)
    b = task.sample(n_prompts, 11, eval_generator(9))
    xs, ys = b.xs.double().numpy(), b.ys.double().numpy()
    plus, minus = task.prior.components
    preds = {"bayes": np.asarray(task.bayes_prefixes(xs, ys)), "ridge+": plus.predict_prefixes(xs, ys, 0.0),
             "ridge-": minus.predict_prefixes(xs, ys, 0.0), "ols": ols_prefixes(xs, ys), "zero": np.zeros_like(ys)}
    y2 = float(task.y_second_moment)
    preds["transformer"] = preds[like] + np.sqrt(extra * y2) * np.random.default_rng(2).standard_normal(ys.shape)
    return {"k": np.arange(11), "d": 5, "y2": y2, "ys": ys, "preds": preds,
            "beta": np.asarray(task.prior.weights_prefixes(xs, ys, 0.0))[..., 0],
            "weights": pg.weights_of(preds, y2, 0.1)}


@pytest.fixture(scope="module")
def bma_like():
    return pg.claims(_fake_results("bayes", extra=0.002), pg.PRESETS["quick"])


def test_claims_hold_for_a_transformer_that_is_bma(bma_like):
    for claim in bma_like:
        record = claim.evaluate()
        assert record["verdict"] == "holds", record
        assert all(c["verdict"] == "fails" for c in record["controls"]), record


def test_a_control_put_in_the_subjects_place_does_not_hold(bma_like):
    for claim in bma_like:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


@pytest.mark.parametrize("like", ["ols", "ridge+"])
def test_claims_fail_for_a_transformer_without_the_mixture(like):
    verdicts = {c.name: c.evaluate()["verdict"] for c in pg.claims(_fake_results(like), pg.PRESETS["quick"])}
    assert set(verdicts.values()) == {"fails"}, verdicts
