"""The KRR-ST figure: the tiny preset end to end, its claims on known results, and its helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from figures import krr_st as fig
from figures import make_figure

CLAIMS = ["digits_krr_st_beats_random", "digits_krr_st_beats_kmeans", "digits_full_pretraining_above_none"]


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("krr-st", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"krr-st.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "krr-st.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == CLAIMS
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["controls"]
        assert c["unit"] == "seeds" and c["n_units"] == fig.PRESETS["tiny"]["n_seeds"]
    params = fig.PRESETS["tiny"]
    r = doc["results"]["digits"]
    for method in fig.METHODS:
        acc = np.asarray(r["acc"][method])
        assert acc.shape == (len(params["ms"]), params["n_seeds"])
        assert np.all((acc > 0.1) & (acc <= 1.0))  # better than chance (10 classes) on every set
    for key in ("none", "full", "shuffled"):
        assert np.asarray(r[key]).shape == (params["n_seeds"],)
    again = make_figure("krr-st", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def _fake(krr_gain: float, full_gain: float = 0.08, S: int = 6) -> dict:
    """Per-seed accuracies: baselines around 0.84, KRR-ST ``krr_gain`` above them, no pretraining at 0.83."""
    rng = np.random.default_rng(0)
    ms = [10, 20, 50]
    base = 0.84 + 0.01 * rng.standard_normal((len(ms), S))
    none = 0.83 + 0.005 * rng.standard_normal(S)
    acc = {"random": base, "kmeans": base + 0.002, "kip": base,
           "krr_st": base + krr_gain + 0.002 * rng.standard_normal((len(ms), S))}
    return {"digits": {"ms": ms, "acc": acc, "none": none, "full": none + full_gain + 0.005 * rng.standard_normal(S),
                       "shuffled": none - 0.02 + 0.005 * rng.standard_normal(S)}}


def _verdicts(claims) -> dict:
    return {c.name: c.evaluate()["verdict"] for c in claims}


def test_claims_hold_where_the_numbers_support_them():
    claims = fig.claims(_fake(0.03), fig.PRESETS["quick"])
    assert [c.name for c in claims] == CLAIMS
    assert set(_verdicts(claims).values()) == {"holds"}
    for c in claims:
        rec = c.evaluate()
        assert all(ctrl["verdict"] == "fails" for ctrl in rec["controls"]), (c.name, rec["controls"])
    margin = claims[0].statistic("krr_st", np.arange(6))
    r = _fake(0.03)["digits"]
    assert margin == pytest.approx(np.min(r["acc"]["krr_st"].mean(1) - r["acc"]["random"].mean(1)))


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for claim in fig.claims(_fake(0.03), fig.PRESETS["quick"]):
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    verdicts = _verdicts(fig.claims(_fake(-0.03, full_gain=-0.03), fig.PRESETS["quick"]))
    assert verdicts == {name: "fails" for name in CLAIMS}


def test_per_class_coresets():
    X, y = fig.load_data("digits")
    X, y = torch.from_numpy(X[:400]), torch.from_numpy(y[:400])
    for kind in ("random", "kmeans"):
        Xs, ys = fig._per_class(X, y, 23, seed=1, kind=kind)
        assert Xs.shape == (23, 64) and ys.dtype == torch.int64
        assert np.bincount(ys.numpy(), minlength=10).tolist() == [3, 3, 3] + [2] * 7
    Xs, ys = fig._per_class(X, y, 10, seed=1, kind="random")
    rows = {tuple(r.tolist()): int(c) for r, c in zip(X, y)}
    assert all(rows[tuple(r.tolist())] == int(c) for r, c in zip(Xs, ys))  # real rows with their own labels
    Xk, yk = fig._per_class(X, y, 10, seed=1, kind="kmeans")  # one centroid per class: the class mean
    for r, c in zip(Xk, yk):
        torch.testing.assert_close(r, X[y == c].mean(0), atol=1e-5, rtol=0)


def test_data_and_augmentations():
    X, y = fig.load_data("digits")
    assert X.shape == (1797, 64) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert set(np.unique(y)) == set(range(10))
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        fig.load_data("mnist")
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
