"""prism-fourier: the tiny preset end to end, the spectrum helpers, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from estimators.bayes import FourierFeatures
from figures import make_figure
from figures import prism_fourier as pf


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-fourier", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-fourier.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-fourier.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == ["follows_bma", "simplicity_bias"]
    assert [k["name"] for k in on_disk["claims"][0]["controls"]] == ["N=2", "N=1", "zero"]
    assert on_disk["claims"][1]["unit"] == "contexts"
    res = doc["results"]
    assert set(res["names"]) == {"transformer", "bayes", "N=1", "N=2", "zero"}
    assert res["n_coefficients"] == 4  # no constant term: cos and sin up to N_max = 2
    task = on_disk["provenance"]["runs"][0]["config"]["task"]
    assert task["name"] == "fourier-mixture" and task["kwargs"]["intercept"] is False
    # BMA is the Bayes predictor: on its own prior no fixed-N predictor has a lower mean error (MC slack)
    bma = np.mean(np.asarray(res["curves"]["bayes"][0]))
    assert all(bma <= np.mean(np.asarray(res["curves"][b][0])) + 0.05 for b in ("N=1", "N=2"))


def test_spectrum_and_centroid():
    feats = FourierFeatures(3, 2.0)
    grid = np.linspace(-2, 2, 13, endpoint=False)[:, None]
    vals = np.stack([np.sin(np.pi * 1 * grid[:, 0] / 2), 2 * np.cos(np.pi * 3 * grid[:, 0] / 2)])
    e = pf.spectrum(vals, grid, feats)
    np.testing.assert_allclose(e, [[1, 0, 0], [0, 0, 4]], atol=1e-10)
    np.testing.assert_allclose(pf.centroid(e), [1.0, 3.0])


def _fake_results(like: str, extra: float = 0.0) -> dict:
    """measure() on the quick task with a "transformer" that is BMA (or a fixed-N Bayes predictor) plus
    Gaussian error of variance ``extra`` E[y^2]."""
    from icl.tasks import get_task

    task = get_task("fourier-mixture", d=1, max_freq=4, length=5.0)
    rng = np.random.default_rng(0)
    comps = {f"N={i + 1}": c for i, c in enumerate(task.prior.prior.components)}

    def transformer(xs, ys):
        base = (np.asarray(task.bayes_prefixes(xs, ys)) if like == "bayes"
                else pf._fixed_n_prefixes(task.prior, comps[like], 0.0, xs, ys))
        return base + np.sqrt(extra * task.y_second_moment) * rng.standard_normal(base.shape)

    params = dict(pf.PRESETS["quick"], eval_prompts=400, n_contexts=120, spectrum_ks=[1, 2, 4])
    return pf.measure(task, transformer, 17, params, 5), params


@pytest.fixture(scope="module")
def bma_like():
    results, params = _fake_results("bayes", extra=0.002)
    return pf.claims(results, params)


def test_claims_hold_for_a_transformer_that_is_bma(bma_like):
    for claim in bma_like:
        record = claim.evaluate()
        assert record["verdict"] == "holds", record
        assert all(c["verdict"] == "fails" for c in record["controls"]), record


def test_a_control_put_in_the_subjects_place_does_not_hold(bma_like):
    for claim in bma_like:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_for_a_transformer_without_the_simplicity_bias():
    results, params = _fake_results("N=4")
    verdicts = {c.name: c.evaluate()["verdict"] for c in pf.claims(results, params)}
    assert verdicts == {"follows_bma": "fails", "simplicity_bias": "fails"}


def test_presets_draw_panwars_prior():
    for name, params in pf.PRESETS.items():
        task = pf.resolve(params)["resolved_runs"]["fourier"]["task"]
        assert task["name"] == "fourier-mixture", name
        assert task["kwargs"]["intercept"] is False and task["kwargs"]["standardize"] is True, name
        assert params["k_early"] in params["spectrum_ks"], name
