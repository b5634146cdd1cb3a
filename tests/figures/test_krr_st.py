"""The KRR-ST figure: the tiny preset end to end, its claims on known results, and its helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from figures import krr_st as fig
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("krr-st", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"krr-st.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "krr-st.json").read_text())
    names = [c["name"] for c in on_disk["claims"]]
    assert names == ["digits_krr_st_beats_random_and_kmeans", "digits_full_pretraining_above_none",
                     "synthetic_krr_st_beats_random_and_kmeans", "synthetic_full_pretraining_above_none"]
    for c in on_disk["claims"]:
        assert isinstance(c["holds"], bool) and np.isfinite(c["value"])
    params = fig.PRESETS["tiny"]
    for name in params["datasets"]:
        r = doc["results"][name]
        for method in fig.METHODS:
            acc = np.asarray(r["acc"][method])
            assert acc.shape == (len(params["ms"]), params["n_seeds"])
            assert np.all((acc > 0.1) & (acc <= 1.0))  # better than chance (10 classes) on every set
    again = make_figure("krr-st", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _fake(krr_gain: float) -> dict:
    ms = [10, 20]
    base = np.array([[0.80, 0.82, 0.81], [0.85, 0.86, 0.84]])
    acc = {"random": base, "kmeans": base - 0.01, "kip": base, "krr_st": base + krr_gain}
    return {"digits": {"ms": ms, "acc": acc, "floor": np.full(3, 0.7), "ceiling": np.full(3, 0.9)}}


def test_claims_follow_the_measured_margins():
    good = fig.claims(_fake(0.02), fig.PRESETS["quick"])
    assert good[0].holds and good[0].value == pytest.approx(0.02) and good[0].threshold == 0.0
    assert good[1].holds and good[1].value == pytest.approx(0.2)
    bad = fig.claims(_fake(-0.005), fig.PRESETS["quick"])
    assert not bad[0].holds and bad[0].value == pytest.approx(-0.005)
    assert "m=10: -0.005" in bad[0].statement
    assert "KRR-ST" in fig.summary(_fake(0.02), {"n_seeds": 3})


def test_data_and_augmentations():
    X, y = fig.load_data("digits", 0)
    assert X.shape == (1797, 64) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    Xs, ys = fig.load_data("synthetic", 3)
    assert Xs.shape == (1797, 64) and set(np.unique(ys)) == set(range(10))
    np.testing.assert_array_equal(fig.load_data("synthetic", 3)[0], Xs)  # deterministic in the seed
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        fig.load_data("mnist", 0)
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 64)
    x[:, 27] = 1.0  # one bright pixel at (3, 3): a shift moves it by at most one pixel
    view = fig.augment(x, True, gen)
    assert view.shape == (4, 64)
    for row in view.reshape(4, 8, 8).abs():
        r, c = divmod(int(row.argmax()), 8)
        assert abs(r - 3) <= 1 and abs(c - 3) <= 1


def test_probe_accuracy_on_separable_features():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 10
    X = torch.nn.functional.one_hot(y, 64).float() * 3 + 0.1 * torch.randn(200, 64, generator=gen)
    acc = fig.probe_accuracy(torch.nn.Identity(), X[:100], y[:100], X[100:], y[100:])
    assert acc == 1.0
