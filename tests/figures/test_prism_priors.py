"""prism-priors: the tiny preset end to end, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import prism_priors as pp


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-priors", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-priors.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-priors.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [f"{p}_spd_bayes_over_best_proxy" for p in pp.PRIORS]
    for c in on_disk["claims"]:
        assert isinstance(c["holds"], bool) and c["holds"] == (c["value"] < 1.0)
    res = doc["results"]
    assert "ols" not in res["dense"]["names"] and {"bayes", "ols", "lasso"} <= set(res["sparse"]["names"])
    assert res["low-rank"]["bayes_is_mc"] and not res["sign"]["bayes_is_mc"]
    # exact Bayes of a noiseless prior interpolates once k >= d
    for name in ("dense", "sparse", "sign", "low-rank"):
        r = res[name]
        assert np.asarray(r["curves"]["bayes"][0])[r["d"]:].max() < 1e-6, name
    assert len({r["config_hash"] for r in on_disk["provenance"]["runs"]}) == 4


def _fake(closest: str) -> dict:
    n = 8
    div = {"bayes": np.full(n, 0.5), "ols": np.full(n, 0.5), "lasso": np.full(n, 0.5)}
    div[closest] = np.full(n, 0.1)
    return {p: {"divergence": dict(div), "bayes_is_mc": p == "low-rank"} for p in pp.PRIORS}


@pytest.mark.parametrize("closest,holds", [("bayes", True), ("ols", False), ("lasso", False)])
def test_claims_follow_the_measurement(closest, holds):
    claims = pp.claims(_fake(closest), pp.PRESETS["quick"])
    assert [c.holds for c in claims] == [holds] * 4
    np.testing.assert_allclose(claims[0].value, 0.2 if holds else 5.0)


def test_presets_resolve_and_lowrank_overrides():
    for preset, params in pp.PRESETS.items():
        runs = pp.resolve(params)["resolved_runs"]
        assert runs["low-rank"]["task"]["name"] == "low-rank", preset
        assert runs["sign"]["task"]["name"] == "sign-vector", preset
