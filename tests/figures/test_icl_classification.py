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
        "gaussian_logloss_gap_to_bayes_at_last_k",
        "gaussian-classes_accuracy_minus_logistic_at_last_k",
        "linear-classification_accuracy_minus_logistic_at_last_k"]  # fmt: skip
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["controls"]
        assert c["unit"] == "prompts" and c["n_units"] == icl.PRESETS["tiny"]["eval_prompts"]
    runs = on_disk["provenance"]["runs"]
    assert {r["config"]["task"]["name"] for r in runs} == set(icl.TASKS)
    res = doc["results"]
    assert set(res["gaussian-classes"]["names"]) == set(icl.NAMES)
    assert "bayes" not in res["linear-classification"]["names"]
    for task in icl.TASKS:
        for name in res[task]["names"]:
            acc = np.asarray(res[task]["scores"][name]["accuracy"][0])
            loss = np.asarray(res[task]["scores"][name]["log_loss"][0])
            assert acc.shape == (icl.PRESETS["tiny"]["n_points"],) and np.all((acc >= 0) & (acc <= 1))
            assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
        # k = 0: every baseline predicts the uniform distribution (log-loss log 2, two classes)
        assert np.asarray(res[task]["scores"]["logistic"]["log_loss"][0])[0] == pytest.approx(np.log(2))
        assert np.asarray(res[task]["scores"]["prior"]["log_loss"][0]) == pytest.approx(np.log(2))
        assert np.asarray(res[task]["log_probs"]["transformer"]).shape == (64, 8, 2)
    again = make_figure(icl.NAME, "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def test_score_bands():
    ys = np.array([[0, 1], [1, 1]])
    lp = np.log(np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.6, 0.4], [0.5, 0.5]]]))
    s = icl.score({"m": lp}, ys)["m"]
    np.testing.assert_allclose(s["accuracy"][0], [0.5, 0.5])  # a tie [0.5, 0.5] goes to class 0
    np.testing.assert_allclose(s["log_loss"][0], [(-np.log(0.9) - np.log(0.4)) / 2, (-np.log(0.8) - np.log(0.5)) / 2])
    assert np.all(s["log_loss"][1] <= s["log_loss"][0]) and np.all(s["log_loss"][2] >= s["log_loss"][0])


def test_shuffle_labels_keeps_each_prompts_labels():
    ys = np.random.default_rng(0).integers(0, 3, size=(50, 9))
    sh = icl.shuffle_labels(ys, 7)
    assert np.array_equal(np.sort(sh, 1), np.sort(ys, 1)) and not np.array_equal(sh, ys)
    assert np.array_equal(sh, icl.shuffle_labels(ys, 7)) and not np.array_equal(sh, icl.shuffle_labels(ys, 8))


def _fake(transformer_like: dict[str, str], n_prompts: int = 1500, n: int = 12) -> dict:
    """Results shaped like compute's on real prompts of both tasks: naive Bayes, logistic regression, exact
    Bayes, the prior, a label-shuffled learner (naive Bayes fitted to shuffled context labels) and a
    "transformer" that copies ``transformer_like[task]``."""
    from estimators import gaussian_classes_bayes_prefixes, gaussian_nb_prefixes, logistic_prefixes
    from icl.tasks import eval_generator, get_task

    g = icl.PRESETS["quick"]["gaussian"]
    out = {}
    for task_name in icl.TASKS:
        kw = {k: v for k, v in g.items()} if task_name == "gaussian-classes" else {}
        task = get_task(task_name, d=4, **kw)
        batch = task.sample(n_prompts, n, eval_generator(5))
        xs, ys = batch.xs.double().numpy(), batch.ys.numpy()

        def nb(labels):
            return gaussian_nb_prefixes(xs, labels, n_classes=2, shared_variance=True, var_smoothing=0.01,
                                        priors=np.full(2, 0.5), log=True)

        lp = {"naive-bayes": nb(ys), "logistic": logistic_prefixes(xs, ys, 1.0, n_classes=2, log=True),
              "prior": np.full(xs.shape[:2] + (2,), -np.log(2)), "transformer-shuffled": nb(icl.shuffle_labels(ys, 3))}
        if task_name == "gaussian-classes":
            lp["bayes"] = gaussian_classes_bayes_prefixes(xs, ys, n_classes=2, mean_scale=g["mean_scale"],
                                                          var_low=g["var_low"], var_high=g["var_high"],
                                                          shared=g["shared"], log=True)
        lp["transformer"] = lp[transformer_like[task_name]]
        out[task_name] = {"k": np.arange(n), "names": list(lp), "ys": ys, "log_probs": lp,
                          "scores": icl.score(lp, ys)}
    return out


def _verdicts(results) -> dict[str, str]:
    return {c.name: c.evaluate()["verdict"] for c in icl.claims(results, icl.PRESETS["quick"])}


def test_claims_hold_for_a_transformer_that_is_bayes_then_logistic():
    claims = icl.claims(_fake({"gaussian-classes": "bayes", "linear-classification": "logistic"}), icl.PRESETS["quick"])
    for claim in claims:
        record = claim.evaluate()
        assert record["verdict"] == "holds", (claim.name, record)
        assert all(c["verdict"] == "fails" for c in record["controls"])
    assert claims[0].evaluate()["value"] == 0.0  # the transformer is the Bayes classifier


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for claim in icl.claims(_fake({"gaussian-classes": "bayes", "linear-classification": "logistic"}),
                            icl.PRESETS["quick"]):
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_for_a_transformer_that_ignores_the_labels():
    verdicts = _verdicts(_fake({"gaussian-classes": "transformer-shuffled", "linear-classification": "prior"}))
    assert verdicts == {name: "fails" for name in verdicts}
