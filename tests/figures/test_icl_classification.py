"""The icl-classification figure: the tiny preset end to end, scoring, and claims on known results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import icl_classification as icl
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure(icl.NAME, "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"{icl.NAME}.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / f"{icl.NAME}.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "gaussian_logloss_gap_to_bayes_at_last_k", "gaussian-classes_accuracy_minus_logistic_at_last_k",
        "linear-classification_accuracy_minus_logistic_at_last_k"]  # fmt: skip
    runs = on_disk["provenance"]["runs"]
    assert {r["config"]["task"]["name"] for r in runs} == set(icl.TASKS)
    res = doc["results"]
    assert set(res["gaussian-classes"]["names"]) == {"transformer", "naive-bayes", "logistic", "bayes"}
    assert "bayes" not in res["linear-classification"]["names"]
    for task in icl.TASKS:
        for name in res[task]["names"]:
            acc = np.asarray(res[task]["scores"][name]["accuracy"][0])
            loss = np.asarray(res[task]["scores"][name]["log_loss"][0])
            assert acc.shape == (icl.PRESETS["tiny"]["n_points"],) and np.all((acc >= 0) & (acc <= 1))
            assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
        # k = 0: every baseline predicts the uniform distribution (log-loss log 2, two classes)
        assert np.asarray(res[task]["scores"]["logistic"]["log_loss"][0])[0] == pytest.approx(np.log(2))
    again = make_figure(icl.NAME, "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def test_score_bands():
    ys = np.array([[0, 1], [1, 1]])
    lp = np.log(np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.5, 0.5]]]))
    s = icl.score({"m": lp}, ys)["m"]
    np.testing.assert_allclose(s["accuracy"][0], [0.5, 0.5])  # a tie [0.5, 0.5] goes to class 0
    np.testing.assert_allclose(s["log_loss"][0], [(-np.log(0.9) - np.log(0.4)) / 2, (-np.log(0.8) - np.log(0.5)) / 2])
    assert np.all(s["log_loss"][1] <= s["log_loss"][0]) and np.all(s["log_loss"][2] >= s["log_loss"][0])


def _fake(transformer_acc: float, transformer_loss: float) -> dict:
    def band(v):
        a = np.full(5, v)
        return (a, a, a)

    out = {}
    for task in icl.TASKS:
        names = ["transformer", "logistic"] + (["bayes"] if task == "gaussian-classes" else [])
        scores = {n: {"accuracy": band(0.8), "log_loss": band(0.4)} for n in names}
        scores["transformer"] = {"accuracy": band(transformer_acc), "log_loss": band(transformer_loss)}
        out[task] = {"k": np.arange(5), "names": names, "scores": scores}
    return out


def test_claims_hold_and_fail_on_known_results():
    good = icl.claims(_fake(0.8, 0.45), icl.PRESETS["quick"])
    assert all(c.holds for c in good) and good[0].value == pytest.approx(0.05)
    bad = icl.claims(_fake(0.7, 0.6), icl.PRESETS["quick"])
    assert not any(c.holds for c in bad)
