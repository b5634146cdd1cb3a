"""Tests of the figures framework: claims, discovery, the params-hash cache, files and provenance."""

from __future__ import annotations

import json
import math
import os
import types

import numpy as np
import pytest

import figures
from figures import Claim, make_figure, params_hash
from figures._store import _canonical


def fake_module(calls: list, value: float = 0.5, name: str = "fake-fig") -> types.ModuleType:
    """A figure module following the contract; ``calls`` counts compute calls."""
    mod = types.ModuleType("fake_fig")
    mod.NAME, mod.DESCRIPTION, mod.PAPER_GPU_TIME = name, "a fake figure", "none"
    mod.PRESETS = {"tiny": {"seed": 7, "n": 4}, "other": {"seed": 1, "n": 6}}

    def compute(params, ctx):
        calls.append(dict(params))
        rng = np.random.default_rng(ctx.seed)
        xs = list(ctx.progress(range(params["n"]), desc="fake"))
        return {"x": np.array(xs, dtype=float), "noise": rng.normal(size=3), "v": value,
                "nested": {"list": [np.ones(2), 2.5, float("nan")]}, "seed": ctx.seed}

    def plot(results, params):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(results["x"])
        return fig

    def claims(results, params):
        est = {"fake": (results["v"], results["v"], results["v"]), "two": (2.0, 2.0, 2.0)}
        return [Claim("v_small", "v is below one", 1.0, "<=", "fake", ("two",), estimates=est)]

    mod.compute, mod.plot, mod.claims = compute, plot, claims
    return mod


def test_params_hash_is_canonical_and_sensitive():
    assert params_hash("f", {"a": 1, "b": (1, 2)}) == params_hash("f", {"b": [1, 2], "a": 1})
    assert params_hash("f", {"a": 1}) != params_hash("f", {"a": 2})
    assert params_hash("f", {"a": 1}) != params_hash("g", {"a": 1})
    assert params_hash("f", {"a": 1}, version=1) != params_hash("f", {"a": 1}, version=2)
    with pytest.raises(TypeError, match="params must be JSON-able"):
        _canonical({"a": object()})


def test_make_figure_writes_files_claims_and_provenance(tmp_path):
    calls: list = []
    out = make_figure(fake_module(calls), "tiny", out_dir=tmp_path, progress=False, runs_root=tmp_path / "runs")
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"fake-fig.{ext}").stat().st_size > 0
    doc = json.loads((tmp_path / "fake-fig.json").read_text())
    assert doc["name"] == "fake-fig" and doc["preset"] == "tiny" and doc["params"] == {"n": 4, "seed": 7}
    assert [c["name"] for c in doc["claims"]] == ["v_small"]
    for c in doc["claims"]:
        assert {"name", "statement", "value", "interval", "threshold", "verdict", "scale", "controls"} <= set(c)
        assert isinstance(c["holds"], bool) and c["controls"][0]["name"] == "two"
    prov = doc["provenance"]
    assert prov["seed"] == 7 and prov["params"] == {"n": 4, "seed": 7}
    assert set(prov["versions"]) >= {"python", "numpy", "scipy", "torch"}
    assert prov["git_commit"] == "unknown" or len(prov["git_commit"]) >= 40
    assert prov["wall_time_s"] >= 0 and prov["machine"]["hostname"] and prov["from_cache"] is False
    assert out["results"]["seed"] == 7 and len(calls) == 1
    assert math.isnan(out["results"]["nested"]["list"][2])


def test_cache_is_keyed_by_params_not_file_times(tmp_path):
    calls: list = []
    mod = fake_module(calls)
    first = make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    # touching or aging the cache files changes nothing: no timestamps are consulted
    for f in (tmp_path / "cache").iterdir():
        os.utime(f, (0, 0))
    second = make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    assert len(calls) == 1 and second["provenance"]["from_cache"] is True
    np.testing.assert_array_equal(first["results"]["noise"], second["results"]["noise"])
    make_figure(mod, "other", out_dir=tmp_path, progress=False)  # other params: computed
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False, overrides={"n": 5})
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False, force=True)
    assert len(calls) == 4
    mod.VERSION = 2  # a new meaning of compute invalidates the cache
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    assert len(calls) == 5


def test_resolve_hook_enters_the_hash(tmp_path):
    calls: list = []
    mod = fake_module(calls)
    resolved = {"version_of_run": 1}
    mod.resolve = lambda params: dict(params, run=resolved["version_of_run"])
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    assert len(calls) == 1
    resolved["version_of_run"] = 2  # e.g. a run preset changed on disk
    make_figure(mod, "tiny", out_dir=tmp_path, progress=False)
    assert len(calls) == 2


def test_claim_that_fails_is_reported_as_failing(tmp_path, capsys):
    doc = make_figure(fake_module([], value=3.0), "tiny", out_dir=tmp_path, progress=True)
    assert doc["claims"][0]["verdict"] == "fails" and doc["claims"][0]["value"] == 3.0
    printed = capsys.readouterr().out
    assert "FAILS" in printed and "v_small" in printed


def test_make_figure_bad_input(tmp_path):
    mod = fake_module([])
    with pytest.raises(ValueError, match="has no preset 'huge'"):
        make_figure(mod, "huge", out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown parameter 'm'"):
        make_figure(mod, "tiny", out_dir=tmp_path, progress=False, overrides={"m": 1})
    with pytest.raises(ValueError, match="unknown figure 'no-such-figure'"):
        make_figure("no-such-figure", out_dir=tmp_path, progress=False)
    with pytest.raises(TypeError, match="lacks"):
        make_figure(types.ModuleType("empty"), out_dir=tmp_path, progress=False)
    bad = fake_module([])
    bad.claims = lambda results, params: [{"name": "x"}]
    with pytest.raises(TypeError, match="list of figures.Claim"):
        make_figure(bad, "tiny", out_dir=tmp_path, progress=False)


def test_discovery_lists_the_linear_regression_figure():
    figs = figures.list_figures()
    assert "linear-regression" in figs and all(isinstance(v, str) and v for v in figs.values())
    mod = figures.load_figure("linear-regression")
    assert {"tiny", "quick", "paper"} <= set(mod.PRESETS)


def test_run_train_seconds_reads_the_runs_own_metrics(tmp_path):
    # provenance: each run's own training time, not the wall time of the call that trained several at once
    from figures._framework import _run_train_seconds

    assert _run_train_seconds(tmp_path) is None  # no metrics.jsonl
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 50, "loss": 1.0, "elapsed_s": 3.5}\n{"step": 100, "kind": "eval", "error": [1.0]}\n'
        '{"step": 100, "loss": 0.9, "elapsed_s": 7.25}\n{"step": 150, "lo')  # a torn last line
    assert _run_train_seconds(tmp_path) == 7.25
