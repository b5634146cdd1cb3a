"""task-diversity: the tiny preset end to end, and the claims and transition on synthetic results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import make_figure
from figures import task_diversity as td


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("task-diversity", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"task-diversity.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "task-diversity.json").read_text())
    names = [c["name"] for c in on_disk["claims"]]
    assert names[:2] == ["low_M_follows_dmmse", "high_M_follows_ridge"] and set(names) <= {
        "low_M_follows_dmmse", "high_M_follows_ridge", "pool_tasks_follow_ridge"}
    runs = on_disk["provenance"]["runs"]
    assert sorted(r["config"]["task"]["kwargs"]["pool_size"] for r in runs) == [2, 8, 64]
    res = doc["results"]
    # dMMSE is the Bayes predictor on pool prompts, ridge on fresh ones (Monte Carlo, 64 prompts)
    for e in res["per_M"]:
        assert e["pool"]["mean_err"]["bayes"] <= e["pool"]["mean_err"]["ridge"] + 0.02
        assert e["fresh"]["mean_err"]["ridge"] <= e["fresh"]["mean_err"]["bayes"] + 0.02


def _fake_results(like: dict[int, str], extra: float = 0.0, n_prompts: int = 400) -> dict:
    """measure() on d = 5 pools with a "transformer" that is dMMSE or ridge (``like[M]``) plus Gaussian
    error of variance ``extra`` E[y^2]."""
    from estimators import ridge_prefixes
    from icl.tasks import get_task

    rng = np.random.default_rng(0)
    out = {"M": sorted(like), "per_M": []}
    for m in out["M"]:
        pool = get_task("finite-pool", d=5, noise=0.25, pool_size=m)

        def transformer(xs, ys, pool=pool, m=m):
            base = (np.asarray(pool.prior.predict_prefixes(xs, ys, 0.25)) if like[m] == "bayes"
                    else ridge_prefixes(xs, ys, lam=0.25))
            return base + np.sqrt(extra * 5.25) * rng.standard_normal(base.shape)

        out["per_M"].append(td.measure(pool, transformer, 11, n_prompts, 3))
    return out


@pytest.fixture(scope="module")
def paper_like():
    return td.claims(_fake_results({2: "bayes", 16: "bayes", 128: "ridge", 1024: "ridge"}, extra=0.002),
                     td.PRESETS["quick"])


def test_claims_hold_for_a_transformer_that_switches_from_dmmse_to_ridge(paper_like):
    assert [c.name for c in paper_like] == ["low_M_follows_dmmse", "high_M_follows_ridge", "pool_tasks_follow_ridge"]
    assert "M = 128" in paper_like[2].statement  # at M = 1024 dMMSE is within 0.1 of ridge on pool prompts
    for claim in paper_like:
        record = claim.evaluate()
        assert record["verdict"] == "holds", record
        assert all(c["verdict"] == "fails" for c in record["controls"]), record


def test_a_control_put_in_the_subjects_place_does_not_hold(paper_like):
    for claim in paper_like:
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


@pytest.mark.parametrize("like", ["bayes", "ridge"])
def test_claims_fail_for_a_transformer_that_never_switches(like):
    claims = td.claims(_fake_results({2: like, 16: like, 128: like, 1024: like}), td.PRESETS["quick"])
    verdicts = {c.name: c.evaluate()["verdict"] for c in claims}
    if like == "bayes":
        assert verdicts == {"low_M_follows_dmmse": "holds", "high_M_follows_ridge": "fails",
                            "pool_tasks_follow_ridge": "fails"}
    else:
        assert verdicts["low_M_follows_dmmse"] == "fails"


def _spd_only(closer_ridge: list[bool]) -> dict:
    per = [{"fresh": {"mean_spd": {"ridge": 0.1 if c else 0.5, "bayes": 0.5 if c else 0.1}}} for c in closer_ridge]
    return {"M": [2 ** (i + 1) for i in range(len(closer_ridge))], "per_M": per}


def test_transition_m():
    assert td.transition_m(_spd_only([False, False, True, True])) == 8.0
    assert np.isnan(td.transition_m(_spd_only([False, True, False])))
    assert td.transition_m(_spd_only([True, True])) == 2.0


def test_presets_resolve_to_pools():
    for name, params in td.PRESETS.items():
        runs = td.resolve(params)["resolved_runs"]
        assert [r["task"]["kwargs"]["pool_size"] for r in runs] == params["pool_sizes"], name
        assert all(r["task"]["name"] == "finite-pool" for r in runs)
