"""akyurek-predictors: the tiny preset end to end, the ridge path and probes, and the claims on synthetic results."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from figures import akyurek_predictors as ak
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("akyurek-predictors", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"akyurek-predictors.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "akyurek-predictors.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [
        "noiseless_fitted_lam_near_ols", "noisy_fitted_lam_is_bayes", "shallow_closer_to_gd_than_ols",
        "probe_w_above_null", "probe_XTy_above_null"]
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["controls"]
    runs = on_disk["provenance"]["runs"]
    assert sorted((r["config"]["model"]["n_layer"], r["config"]["task"]["noise"]) for r in runs) == [
        (1, 0.0), (1, 0.25), (2, 0.0), (2, 0.25)]
    res = doc["results"]
    names = {"ols", "ridge-bayes", "ridge-4x", "ridge-0.25x", "gd-1", "gd-m", "zero"}
    assert names == set(res["baselines"]["noisy"]["lam_spd"])
    deep = next(r for r in res["runs"] if r["setting"] == "noiseless" and r["depth"] == 2)
    assert np.asarray(deep["lam_spd"]).shape == (64, len(ak.LAM_STEPS))
    assert np.asarray(deep["probes"]["w"]["transformer"]["null_sse"]).shape == (20, 3, 32)  # null, layers, test
    assert "fitted lam" in doc["summary"]
    assert [t["step"] for t in deep["lam_trend"]] == [30]  # the one checkpoint the tiny run keeps
    lam_claims = [c for c in on_disk["claims"] if "fitted_lam" in c["name"]]
    assert all(c["scale"]["expected_at"] == "paper" and "step 30" in c["scale"]["reason"] for c in lam_claims)


def test_ridge_path_is_ridge_at_every_penalty():
    from estimators import ridge_prefixes

    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((20, 9, 4)), rng.standard_normal((20, 9))
    lams = np.array([1e-3, 0.1, 1.0, 30.0])
    path = ak.ridge_path_prefixes(xs, ys, lams)
    for lam, p in zip(lams, path):
        np.testing.assert_allclose(p, ridge_prefixes(xs, ys, float(lam)), rtol=1e-8, atol=1e-10)


def test_probe_errors_give_linear_probe_r2():
    from icl.evaluate import linear_probe

    rng = np.random.default_rng(1)
    feats = [rng.standard_normal((200, 6)) for _ in range(2)]
    target = feats[1][:, :3] @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((200, 2))
    train, test = np.arange(100), np.arange(100, 200)
    pe = ak._probe_errors(feats, target, train, test, n_null=5, seed=0)
    for layer, h in enumerate(feats):
        r2 = 1 - pe["sse"][layer].sum() / pe["sst"].sum()
        assert r2 == pytest.approx(linear_probe(h[train], target[train], h[test], target[test], lam=ak.PROBE_LAM))
    assert pe["null_sse"].shape == (5, 2, 100)


def _fake(deep_like: dict[str, str], shallow_like: str = "gd-1", n_prompts: int = 600) -> dict:
    """Results shaped like compute's on synthetic prompts (d = 4, 9 points, sigma^2 = 0.25): the depth-2
    "transformer" copies ``deep_like[setting]``, the depth-1 one ``shallow_like``; probes of a model whose
    last state holds w linearly (trained), a random map of the pairs (untrained) and x_query (embedding)."""
    from estimators import gd_prefixes, ols_prefixes, ridge_prefixes

    rng = np.random.default_rng(0)
    d, n, lam_b = 4, 9, 0.25
    grid = ak.lam_grid(lam_b)
    out = {"lam_grid": grid, "lam_bayes": lam_b, "runs": [], "baselines": {}}
    for setting, noise in (("noiseless", 0.0), ("noisy", lam_b)):
        xs, w = rng.standard_normal((n_prompts, n, d)), rng.standard_normal((n_prompts, d))
        ys = np.einsum("bnd,bd->bn", xs, w) + np.sqrt(noise) * rng.standard_normal((n_prompts, n))
        y2 = d + noise
        fns = {"ols": ols_prefixes, "ridge-bayes": partial(ridge_prefixes, lam=lam_b),
               "ridge-4x": partial(ridge_prefixes, lam=4 * lam_b),
               "ridge-0.25x": partial(ridge_prefixes, lam=lam_b / 4),
               "gd-1": partial(gd_prefixes, lr=0.3, steps=1), "gd-m": partial(gd_prefixes, lr=0.3, steps=5),
               "zero": lambda a, b: np.zeros_like(b)}
        preds = {b: fn(xs, ys) for b, fn in fns.items()}
        path = ak.ridge_path_prefixes(xs, ys, grid)
        out["baselines"][setting] = {
            "preds_spd": {b: {c: ak.spd_per_prompt(p, q, y2) for c, q in preds.items()} for b, p in preds.items()},
            "lam_spd": {b: ak.spd_per_prompt(path, p, y2).T for b, p in preds.items()}}
        for depth, like in ((1, shallow_like), (2, deep_like[setting])):
            f_t = preds[like]
            entry = {"setting": setting, "depth": depth, "lam_spd": ak.spd_per_prompt(path, f_t, y2).T,
                     "spd_prompt": {b: ak.spd_per_prompt(f_t, p, y2) for b, p in preds.items()}}
            if depth == 2:
                entry["lam_trend"] = [{"step": 1, "lam": 1.0}, {"step": 2, "lam": 0.5}]
                entry["error"] = {"transformer": 0.1, "ols": 0.1, "ridge-bayes": 0.1}
                order = rng.permutation(n_prompts)
                train, test = order[: n_prompts // 2], order[n_prompts // 2:]
                xty = np.einsum("bnd,bn->bd", xs[:, :-1], ys[:, :-1])
                trained = [xs[:, -1] @ rng.standard_normal((d, 8)),
                           np.concatenate([w, xty, rng.standard_normal((n_prompts, 4))], 1)]
                untrained = [trained[0], np.tanh(xs.reshape(n_prompts, -1) @ rng.standard_normal((n * d, 8)))]
                entry["probes"] = {t: {"transformer": ak._probe_errors(trained, tgt, train, test, 50, 0),
                                       "embedding": ak._probe_errors(trained[:1], tgt, train, test, 50, 0),
                                       "untrained": ak._probe_errors(untrained, tgt, train, test, 50, 0)}
                                   for t, tgt in (("w", w), ("X^T y", xty))}
            out["runs"].append(entry)
    return out


PARAMS = {**ak.PRESETS["quick"], "depths": [1, 2], "n_null": 50}


def test_claims_hold_for_transformers_that_are_ols_bayes_ridge_and_gd():
    claims = ak.claims(_fake({"noiseless": "ols", "noisy": "ridge-bayes"}), PARAMS)
    for claim in claims:
        record = claim.evaluate()
        assert record["verdict"] == "holds", (claim.name, record)
        assert all(c["verdict"] == "fails" for c in record["controls"]), claim.name
    rec = {c.name: c.evaluate() for c in claims}
    assert rec["noiseless_fitted_lam_near_ols"]["value"] == ak.lam_grid(0.25)[0]  # OLS: the smallest lam
    assert rec["noisy_fitted_lam_is_bayes"]["value"] == pytest.approx(0.0, abs=1e-12)  # exactly the Bayes lam


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for claim in ak.claims(_fake({"noiseless": "ols", "noisy": "ridge-bayes"}), PARAMS):
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    # deep models that copy ridge with a 4x penalty (noiseless: lam 1, noisy: 4 x Bayes), a shallow one that is OLS
    verdicts = {c.name: c.evaluate()["verdict"] for c in
                ak.claims(_fake({"noiseless": "ridge-4x", "noisy": "ridge-4x"}, shallow_like="ols"), PARAMS)}
    assert verdicts["noiseless_fitted_lam_near_ols"] == "fails"
    assert verdicts["noisy_fitted_lam_is_bayes"] == "fails"
    assert verdicts["shallow_closer_to_gd_than_ols"] == "fails"
