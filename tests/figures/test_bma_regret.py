"""bma-regret: the tiny preset end to end, the exact BMA predictive, and the claims on known results."""

from __future__ import annotations

import json

import numpy as np

from estimators.bayes import FinitePrior
from figures import bma_regret as br
from figures import make_figure


def test_tiny_preset_end_to_end(tmp_path):
    doc = make_figure("bma-regret", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"bma-regret.{ext}").stat().st_size > 1000
    on_disk = json.loads((tmp_path / "bma-regret.json").read_text())
    claims = {c["name"]: c for c in on_disk["claims"]}
    assert list(claims) == ["bma_max_regret_over_logZ", "transformer_excess_regret_over_wrapped_dmmse_at_n"]
    # the theorem: BMA's regret never exceeds log|Z| (on every prompt and every t); its controls violate it
    check = claims["bma_max_regret_over_logZ"]
    assert check["kind"] == "check" and check["verdict"] == "holds" and check["value"] <= 1.0 + 1e-9
    res = doc["results"]
    assert res["Z"] == 8 and np.isclose(res["log_Z"], np.log(8))
    assert set(res["regret"]) == set(br.EXACT) | set(br.WRAPPED)
    assert np.asarray(res["regret"]["bma"]).shape == (64, 9)
    assert np.all(np.asarray(res["regret"]["bma"]) <= np.log(8) + 1e-9)
    again = make_figure("bma-regret", "tiny", out_dir=tmp_path, runs_root=tmp_path / "runs", progress=False)
    assert again["provenance"]["from_cache"] is True and again["claims"] == doc["claims"]


def test_log_predictives_match_the_posterior_weights():
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((5, 3))
    xs, ys = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 6))
    noise = 0.3
    prior = FinitePrior(pool)
    got = br.log_predictives(prior, xs, ys, noise)
    beta = np.asarray(prior.weights_prefixes(xs, ys, noise))  # (P, n, M)
    dens = np.exp(br.gaussian_logpdf(ys[..., None], np.einsum("pnd,md->pnm", xs, pool), noise))
    np.testing.assert_allclose(got["bma"], np.log((beta * dens).sum(-1)), rtol=1e-8)
    np.testing.assert_allclose(got["single-task"], br.gaussian_logpdf(ys, xs @ pool[0], noise))
    # chain rule: the log predictives sum to the log marginal likelihood of the whole sequence
    full = np.log(np.mean(np.exp(br.gaussian_logpdf(ys[..., None], np.einsum("pnd,md->pnm", xs, pool),
                                                    noise).sum(1)), axis=-1))
    np.testing.assert_allclose(got["bma"].sum(1), full, rtol=1e-8)


def _fake(transformer_like: str = "dmmse", n_prompts: int = 600, pool_size: int = 16, n: int = 15) -> dict:
    """Results shaped like compute's from exact predictors on a synthetic pool; the "transformer" copies
    ``transformer_like`` (its own wrapped regret)."""
    from estimators import ridge_prefixes

    rng = np.random.default_rng(1)
    d, noise = 4, 0.25
    pool = rng.standard_normal((pool_size, d))
    prior = FinitePrior(pool)

    def prompts():
        z = rng.integers(0, pool_size, n_prompts)
        xs = rng.standard_normal((n_prompts, n, d))
        return xs, np.einsum("pnd,pd->pn", xs, pool[z]) + np.sqrt(noise) * rng.standard_normal((n_prompts, n)), z

    def point(xs, ys):
        return {"dmmse": np.asarray(prior.predict_prefixes(xs, ys, noise)), "ridge": ridge_prefixes(xs, ys, noise),
                "zero": np.zeros_like(ys)}

    (cx, cy, _), (xs, ys, z) = prompts(), prompts()
    var = {k: np.mean((p - cy) ** 2, 0) for k, p in point(cx, cy).items()}
    log_true = br.gaussian_logpdf(ys, np.einsum("pnd,pd->pn", xs, pool[z]), noise)
    logp = br.log_predictives(prior, xs, ys, noise)
    logp.update({k: br.gaussian_logpdf(ys, p, var[k]) for k, p in point(xs, ys).items()})
    regret = {k: np.cumsum(log_true - lp, axis=1) for k, lp in logp.items()}
    regret["transformer"] = regret[transformer_like]
    return {"t": np.arange(1, n + 1), "log_Z": float(np.log(pool_size)), "Z": pool_size, "regret": regret}


def test_claims_hold_for_a_transformer_that_is_the_wrapped_dmmse():
    claims = br.claims(_fake("dmmse"), br.PRESETS["quick"])
    for claim in claims:
        record = claim.evaluate()
        assert record["verdict"] == "holds", record
        assert all(c["verdict"] == "fails" for c in record["controls"]), record
    assert claims[0].kind == "check" and claims[1].kind == "evidence"


def test_a_control_put_in_the_subjects_place_does_not_hold():
    for claim in br.claims(_fake("dmmse"), br.PRESETS["quick"]):
        for control in claim.controls:
            assert claim.with_subject(control).evaluate()["verdict"] in ("fails", "undetermined"), (claim.name, control)


def test_claims_fail_when_the_measurement_does_not_support_them():
    res = _fake("ridge")  # a transformer that learned ridge (fresh tasks), not the pool
    assert br.claims(res, br.PRESETS["quick"])[1].evaluate()["verdict"] == "fails"
    res["regret"]["bma"] = res["regret"]["bma"] + 0.5 * res["log_Z"]  # a (broken) BMA above the bound
    assert br.claims(res, br.PRESETS["quick"])[0].evaluate()["verdict"] == "fails"
