"""figures._common: the shared helpers, the device rule, and the rule that no figure imports another."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import figures
from figures import _common


def _figure_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(figures.__path__) if not m.name.startswith("_")]


def _imported_figure_modules(path: Path, names: set[str]) -> set[str]:
    """The figure modules that ``path`` imports, absolute (``figures.x``) or relative (``.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("figures.")}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 0 and mod.startswith("figures."):
                found.add(mod.split(".")[1])
            elif node.level == 1 and mod:
                found.add(mod.split(".")[0])
            if (node.level == 0 and mod == "figures") or (node.level == 1 and not mod):
                found |= {a.name for a in node.names}
    return found & names


def test_no_figure_module_imports_another():
    names = set(_figure_modules())
    assert {"linear_regression", "prism_priors", "akyurek_predictors"} <= names
    root = Path(figures.__file__).parent
    for path in sorted(root.glob("*.py")):
        bad = _imported_figure_modules(path, names - {path.stem})
        assert not bad, f"{path.name} imports figure module(s) {sorted(bad)}; shared code goes in figures/_common.py"


def test_ratio_conventions():
    assert _common.ratio(1.0, 2.0) == 0.5
    assert _common.ratio(0.0, 0.0) == 1.0
    assert _common.ratio(1.0, 0.0) == float("inf")
    assert isinstance(_common.ratio(np.float64(1.0), np.float64(4.0)), float)


def test_run_config_applies_overrides_and_names_unknown_keys():
    cfg = _common.run_config("linear-quick", {"model.n_layer": 2, "task.noise": 0.25}, 7)
    assert (cfg.model.n_layer, cfg.task.noise, cfg.seed) == (2, 0.25, 7)
    with pytest.raises(ValueError, match="model.n_layers"):
        _common.run_config("linear-quick", {"model.n_layers": 2}, 0)


def test_resolve_runs_adds_every_run():
    params = {"seed": 3, "runs": {"a": ["linear-quick", {"task.d": 4}], "b": ["linear-quick", {}]}}
    out = _common.resolve_runs(params)
    assert set(out["resolved_runs"]) == {"a", "b"}
    assert out["resolved_runs"]["a"]["task"]["d"] == 4 and out["resolved_runs"]["a"]["seed"] == 3
    assert {k: v for k, v in out.items() if k != "resolved_runs"} == params


def test_figure_device_is_one_rule(monkeypatch):
    import torch

    assert _common.figure_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LOCAL_RANK", "0")
    if torch.cuda.is_available():
        assert _common.figure_device() == torch.device("cuda", 0)
    else:
        assert _common.figure_device() == torch.device("cpu")
        with pytest.raises(ValueError, match="cuda"):
            _common.figure_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        _common.figure_device("gpu")


def test_eval_prompts_are_fixed_by_their_seed():
    from icl.tasks import get_task

    task = get_task("linear", d=3, noise=0.0)
    xs, ys, w = _common.eval_prompts(task, 5, 4, seed=1000)
    assert xs.shape == (5, 4, 3) and ys.shape == (5, 4) and xs.dtype == ys.dtype == np.float64
    np.testing.assert_allclose(ys, np.einsum("pnd,pd->pn", xs, w), atol=1e-5)
    again = _common.eval_prompts(task, 5, 4, seed=1000)
    other = _common.eval_prompts(task, 5, 4, seed=2000)
    np.testing.assert_array_equal(xs, again[0])
    assert not np.allclose(xs, other[0])


def test_curves_and_divergence_shapes_and_self_divergence():
    rng = np.random.default_rng(0)
    ys = rng.standard_normal((50, 6))
    preds = {"transformer": ys + 0.1 * rng.standard_normal(ys.shape), "exact": ys.copy()}
    curves, div = _common.curves_and_divergence({**preds, "copy": preds["transformer"]}, ys, 1.0)
    assert set(curves) == {"transformer", "exact", "copy"} and set(div) == {"exact", "copy"}
    assert all(len(a) == 6 for c in curves.values() for a in c)
    np.testing.assert_allclose(div["copy"], 0.0)
    np.testing.assert_allclose(curves["exact"][0], 0.0)


def test_tune_gd_lr_picks_a_stable_rate_on_the_grid():
    from icl.tasks import get_task

    task = get_task("linear", d=3, noise=0.0)
    lr = _common.tune_gd_lr(task, 7, seed=2000, steps=1, n_prompts=64)
    grid = np.geomspace(0.01, 1.5, 40)
    assert np.isclose(grid, lr).any()
    assert _common.tune_gd_lr(task, 7, seed=2000, steps=1, n_prompts=64) == lr
