"""prism-priors: the tiny preset end to end, nuclear-norm minimisation, and the claims on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import prism_priors as pp

SIZES = {"dense": ("linear", 5, {}), "sparse": ("sparse-linear", 5, {"k": 2}), "sign": ("sign-vector", 6, {}),
         "low-rank": ("low-rank", 9, {})}


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("prism-priors", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"prism-priors.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "prism-priors.json").read_text())
    assert [c["name"] for c in on_disk["claims"]] == [f"{p}_follows_{pp.COMPARATOR[p]}" for p in pp.PRIORS]
    for c in on_disk["claims"]:
        assert c["verdict"] in ("holds", "fails", "undetermined", "uninformative") and c["threshold"] == 0.05
        assert [k["name"] for k in c["controls"]] == list(pp.CONTROLS[c["name"].split("_")[0]])
    res = doc["results"]
    assert "ols" not in res["dense"]["names"] and {"lasso", "linf", "bayes", "ols"} <= set(res["sparse"]["names"])
    assert "nuclear" in res["low-rank"]["names"] and res["low-rank"]["nuclear_unconverged"] == 0
    assert res["sign"]["d"] % 2 == 0
    # the interpolating comparators (and exact Bayes) are exact from k = d on; lasso shrinks
    for name, exact in (("dense", "bayes"), ("sparse", "bayes"), ("sign", "linf"), ("low-rank", "nuclear")):
        r = res[name]
        assert np.asarray(r["curves"][exact][0])[r["d"]:].max() < 1e-6, name
    assert len({r["config_hash"] for r in on_disk["provenance"]["runs"]}) == 4


def _fake_results(like: dict[str, str], extra: float = 0.0, n_prompts: int = 300) -> dict:
    """Results shaped like compute's on synthetic prompts of each prior, with a transformer that copies
    ``like[prior]`` plus Gaussian error of variance ``extra`` E[y^2]."""
    from icl.tasks import eval_generator, get_task

    rng = np.random.default_rng(1)
    params = dict(pp.PRESETS["quick"], lowrank_mc=1024)
    out = {}
    for name, (task_name, d, kw) in SIZES.items():
        task = get_task(task_name, d=d, **kw)
        b = task.sample(n_prompts, 2 * d + 1, eval_generator(7))
        xs, ys = b.xs.double().numpy(), b.ys.double().numpy()
        preds, _ = pp._predictions(name, task, xs, ys, params, 0)
        y2 = float(task.y_second_moment)
        preds["transformer"] = preds[like[name]] + np.sqrt(extra * y2) * rng.standard_normal(ys.shape)
        out[name] = {"k": np.arange(2 * d + 1), "d": d, "y2": y2, "ys": ys, "preds": preds}
    return out


@pytest.fixture(scope="module")
def following():
    return pp.claims(_fake_results(pp.COMPARATOR, extra=0.005), pp.PRESETS["quick"])


def test_claims_hold_for_a_transformer_that_is_the_comparator(following):
    for claim in following:
        record = claim.evaluate()
        assert record["verdict"] == "holds", record
        assert all(c["verdict"] == "fails" for c in record["controls"]), record
        assert record["interval"][0] <= record["value"] <= record["interval"][1]


def test_a_control_put_in_the_subjects_place_does_not_hold(following):
    for claim in following:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_for_a_transformer_that_follows_the_wrong_algorithm():
    wrong = {"dense": "lasso", "sparse": "ols", "sign": "ols", "low-rank": "linf"}
    verdicts = {c.name: c.evaluate()["verdict"] for c in pp.claims(_fake_results(wrong), pp.PRESETS["quick"])}
    assert set(verdicts.values()) == {"fails"}, verdicts


def test_nuclear_min_interpolates_and_beats_every_other_interpolant():
    rng = np.random.default_rng(0)
    m, k, P = 3, 4, 10
    X = rng.standard_normal((P, k, m * m))
    b = rng.standard_normal((P, m))
    y = np.einsum("pkd,pd->pk", X, np.einsum("pi,pj->pij", b, b).reshape(P, m * m))
    A, c = np.zeros((P, m * m, m * m)), np.zeros((P, m * m))
    for i in range(P):
        Ai, ci = pp._affine(X[i], y[i])
        A[i, :len(ci)], c[i, :len(ci)] = Ai, ci
    W, unconverged = pp.nuclear_min(A, c, m, iters=5000)
    assert unconverged == 0
    np.testing.assert_allclose(np.einsum("pkd,pd->pk", X, W), y, atol=1e-10)
    nuc = np.linalg.svd(W.reshape(P, m, m), compute_uv=False).sum(-1)
    for i in range(P):  # random interpolants: the same point plus null-space moves are never smaller
        null = np.linalg.svd(X[i])[2][k:]
        moves = W[i] + (rng.standard_normal((400, null.shape[0])) * rng.choice([1e-3, 0.1, 1.0], (400, 1))) @ null
        assert np.all(np.linalg.svd(moves.reshape(-1, m, m), compute_uv=False).sum(-1) >= nuc[i] - 1e-7)


def test_nuclear_min_prefixes_beats_ols_on_rank_one_matrices_before_k_equals_d():
    from icl.tasks import eval_generator, get_task

    from estimators import ols_prefixes

    task = get_task("low-rank", d=9)
    b = task.sample(600, 10, eval_generator(3))
    xs, ys = b.xs.double().numpy(), b.ys.double().numpy()
    preds, unconverged = pp.nuclear_min_prefixes(xs, ys)
    assert unconverged == 0 and np.all(preds[:, 0] == 0)
    err_nuc, err_ols = (float(((p - ys)[:, 1:9] ** 2).mean()) for p in (preds, ols_prefixes(xs, ys)))
    assert err_nuc < 0.95 * err_ols  # about 0.85 (300 prompts); heavy tails: w = vec(b b^T)


def test_presets_resolve_with_even_sign_dimension():
    for preset, params in pp.PRESETS.items():
        runs = pp.resolve(params)["resolved_runs"]
        assert runs["low-rank"]["task"]["name"] == "low-rank", preset
        assert runs["sign"]["task"]["name"] == "sign-vector" and runs["sign"]["task"]["d"] % 2 == 0, preset
