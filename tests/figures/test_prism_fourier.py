"""prism-fourier: the tiny preset end to end, the spectrum helpers, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np

from estimators.bayes import FourierFeatures
from figures import make_figure
from figures import prism_fourier as pf


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-fourier", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-fourier.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-fourier.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == ["spd_bma_over_best_fixed_N", "early_centroid_over_truth"]
    res = doc["results"]
    assert set(res["names"]) == {"transformer", "bayes", "N=1", "N=2"}
    # BMA is the Bayes predictor: on its own prior no fixed-N predictor has a lower mean error (MC slack)
    bma = np.mean(np.asarray(res["curves"]["bayes"][0]))
    assert all(bma <= np.mean(np.asarray(res["curves"][b][0])) + 0.05 for b in ("N=1", "N=2"))
    assert 1.0 <= res["true_centroid"] <= 2.0


def test_spectrum_and_centroid():
    feats = FourierFeatures(3, 2.0)
    grid = np.linspace(-2, 2, 13, endpoint=False)[:, None]
    vals = np.stack([np.sin(np.pi * 1 * grid[:, 0] / 2), 2 * np.cos(np.pi * 3 * grid[:, 0] / 2)])
    e = pf.spectrum(vals, grid, feats)
    np.testing.assert_allclose(e, [[1, 0, 0], [0, 0, 4]], atol=1e-10)
    np.testing.assert_allclose(pf.centroid(e), [1.0, 3.0])


def test_claims_follow_the_measurement():
    res = {"divergence": {"bayes": np.full(5, 0.1), "N=1": np.full(5, 0.3), "N=2": np.full(5, 0.2)},
           "spectrum_ks": [1, 2, 3], "centroid": {"transformer": [1.1, 1.2, 1.8]}, "true_centroid": 2.0}
    claims = pf.claims(res, pf.PRESETS["tiny"])
    assert [c.holds for c in claims] == [True, True]
    np.testing.assert_allclose([c.value for c in claims], [0.5, 0.6])
    res["centroid"]["transformer"] = [1.1, 2.5, 1.8]
    res["divergence"]["bayes"] = np.full(5, 0.25)
    assert [c.holds for c in pf.claims(res, pf.PRESETS["tiny"])] == [False, False]
