"""Helpers shared by the figure modules: runs, the device rule, evaluation prompts and their scores.

What lives here is what several figures need between a preset and the numbers they compare:
:func:`run_config` and :func:`resolve_runs` turn a figure's ``runs`` into resolved
:class:`icl.config.RunConfig` objects (so a changed preset file changes the figure's hash);
:func:`figure_device` is the one rule for where a trained model is evaluated, and
:func:`load_run` applies it; :func:`eval_prompts` and :func:`model_preds` give fresh
evaluation prompts and the transformer's all-prefix predictions as float64 numpy;
:func:`curves_and_divergence` scores every predictor against the prompts and the transformer;
:func:`tune_gd_lr` tunes the gradient-descent baseline's rate; :func:`ratio` compares two
nonnegative numbers with 0 / 0 = 1. What does not live here: the build, the cache and the
command line (:mod:`figures._framework`, :mod:`figures._store`), and any one figure's science.
Figure modules import from here and never from each other (docs/design.md, layout).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["spd_statistic", "run_config", "resolve_runs", "figure_device", "load_run", "eval_prompts", "model_preds",
           "curves_and_divergence", "tune_gd_lr", "ratio"]


# ----------------------------------------------------------------------------- runs


def run_config(base_preset: str, overrides: dict, seed: int):
    """The resolved run config of ``base_preset`` with dotted-key ``overrides`` and ``seed``.

    Parameters
    ----------
    base_preset : str
        A preset of ``icl/presets`` (e.g. ``"linear-quick"``).
    overrides : dict
        ``{"dotted.key": value}``, e.g. ``{"model.n_layer": 2, "task.noise": 0.25}``;
        an unknown key is a ValueError that names it.
    seed : int
        The run's seed (its training streams derive from it).

    Returns
    -------
    icl.config.RunConfig
    """
    from icl.config import load_preset

    return load_preset(base_preset, {**overrides, "seed": int(seed)})


def resolve_runs(params: dict) -> dict:
    """``params`` plus the resolved config of every run in ``params["runs"]``.

    Parameters
    ----------
    params : dict
        A figure's parameters with ``seed`` and ``runs = {name: [base_preset, overrides]}``.

    Returns
    -------
    dict
        ``params`` with ``resolved_runs = {name: config as a dict}`` added: what the
        figure's cache hash covers.
    """
    from icl.config import config_to_dict

    runs = {name: config_to_dict(run_config(p, o, params["seed"])) for name, (p, o) in params["runs"].items()}
    return {**params, "resolved_runs": runs}


# ----------------------------------------------------------------------------- the device rule


def figure_device(name: str = "auto"):
    """The device a figure evaluates trained models on.

    One rule for every figure: ``auto`` is CUDA when present, else the CPU
    (:func:`icl.train.resolve_device`); under torchrun each rank takes its own GPU,
    ``cuda:LOCAL_RANK``. The run's ``train.device`` is not consulted: it is left out of the
    run's hash, so a run trained on a GPU is evaluated on a CPU-only machine too.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        ``cuda`` without a GPU is an ``icl.errors.ConfigError``.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> figure_device("cpu")
    device(type='cpu')
    """
    from icl.train import resolve_device

    return resolve_device(name, int(os.environ.get("LOCAL_RANK", 0)))


def load_run(run_dir, device: str = "auto"):
    """The trained model of ``run_dir`` on :func:`figure_device` (eval mode) and the run's config.

    Parameters
    ----------
    run_dir : path
        A run folder written by ``ctx.train`` / ``ctx.train_many``.
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    model : icl.model.GPT
    cfg : icl.config.RunConfig
    """
    from icl.run import load_model

    return load_model(run_dir, device=figure_device(device))


# ----------------------------------------------------------------------------- prompts and predictions


def eval_prompts(task, n_prompts: int, n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray, object]:
    """Fresh evaluation prompts of ``task`` from ``icl.tasks.eval_generator(seed)``.

    Parameters
    ----------
    task : icl.tasks.Task
    n_prompts, n_points : int
        Number of prompts and pairs per prompt.
    seed : int
        An evaluation seed (the figures use ``1000 + seed`` for scoring and ``2000 + seed``
        for calibration, disjoint from every training stream and from each other).

    Returns
    -------
    xs : array of shape (n_prompts, n_points, d), float64
    ys : array of shape (n_prompts, n_points), float64
    params : object
        The batch's task parameters (float64 numpy when they are a tensor).
    """
    from icl.tasks import eval_generator

    batch = task.sample(n_prompts, n_points, eval_generator(seed))
    params = batch.params
    if hasattr(params, "numpy"):
        params = params.double().numpy()
    return batch.xs.double().numpy(), batch.ys.double().numpy(), params


def model_preds(model, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The transformer's all-prefix predictions: ``preds[:, k]`` from the first k pairs.

    Parameters
    ----------
    model : icl.model.GPT
        On any device; the prompts are moved to it and the predictions back.
    xs : array of shape (B, n, d)
    ys : array of shape (B, n)

    Returns
    -------
    array of shape (B, n), float64
    """
    from icl.evaluate import model_prefix_fn

    return np.asarray(model_prefix_fn(model)(xs, ys), dtype=np.float64)


def curves_and_divergence(preds: dict, ys: np.ndarray, y2: float) -> tuple[dict, dict]:
    """Error curves of every predictor and the divergence of the transformer from each.

    Parameters
    ----------
    preds : dict
        ``name -> array of shape (B, n)``, all-prefix predictions; must hold ``"transformer"``.
    ys : array of shape (B, n)
    y2 : float
        ``E[y^2]`` of the task, the normaliser.

    Returns
    -------
    curves : dict
        ``name -> (mean, lo, hi)``, each of shape (n,): :func:`icl.evaluate.error_curve`.
    divergence : dict
        ``name -> array of shape (n,)`` for every predictor but the transformer: the mean of
        :func:`icl.evaluate.prediction_divergence` (Akyurek et al. 2023, Sec. 4, SPD).
    """
    from icl.evaluate import error_curve, prediction_divergence

    curves = {name: tuple(np.asarray(a) for a in error_curve(p, ys, y2)) for name, p in preds.items()}
    div = {name: np.asarray(prediction_divergence(preds["transformer"], p, y2).mean)
           for name, p in preds.items() if name != "transformer"}
    return curves, div


def tune_gd_lr(task, n_points: int, seed: int, steps: int, n_prompts: int = 1000) -> float:
    """The gradient-descent rate (``steps`` steps from 0) minimising the mean squared error over k = 1..n-1.

    Grid search over 40 rates in [0.01, 1.5] (log-spaced) on calibration prompts from
    ``icl.tasks.eval_generator(seed)``; a rate that diverges at small k loses, so the tuned
    rate is stable at every prefix (the rate is per example, eta / k; see
    :func:`estimators.gd_prefixes`). Akyurek et al. 2023, Sec. 4, tune GD's rate the same way.

    Parameters
    ----------
    task : icl.tasks.Task
        A regression task.
    n_points : int
        Pairs per calibration prompt.
    seed : int
        The calibration seed (disjoint from the scoring prompts' seed).
    steps : int
        Gradient steps from w = 0.
    n_prompts : int
        Number of calibration prompts.

    Returns
    -------
    float
        The grid rate with the smallest finite mean squared error.
    """
    from estimators import gd_prefixes
    from icl.tasks import eval_generator

    batch = task.sample(n_prompts, n_points, eval_generator(seed))
    xs, ys = batch.xs.double().numpy(), batch.ys.double().numpy()
    grid = np.geomspace(0.01, 1.5, 40)
    with np.errstate(over="ignore", invalid="ignore"):
        losses = [np.mean((gd_prefixes(xs, ys, lr=lr, steps=steps)[:, 1:] - ys[:, 1:]) ** 2) for lr in grid]
    return float(grid[int(np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)))])


def ratio(a: float, b: float) -> float:
    """``a / b`` for nonnegative a and b, with 0 / 0 = 1 (equally close) and a / 0 = inf.

    Examples
    --------
    >>> ratio(1.0, 2.0), ratio(0.0, 0.0), ratio(1.0, 0.0)
    (0.5, 1.0, inf)
    """
    if b > 0:
        return float(a / b)
    return 1.0 if a == 0 else float("inf")


def spd_statistic(preds: dict, reference: str, ks, y2: float):
    """``statistic(label, idx)`` for a bootstrap claim: the prediction divergence (Akyurek et al. 2023)
    of ``label`` from ``reference``, ``mean over prompts idx and prefixes ks of (pred - ref)^2 / E[y^2]``.

    ``preds`` maps a predictor's name to its predictions (n_prompts, n); ``ks`` selects prefixes.

    Examples
    --------
    >>> preds = {"a": np.zeros((4, 3)), "b": np.ones((4, 3))}
    >>> spd_statistic(preds, "a", [1, 2], 2.0)("b", np.arange(4))
    0.5
    """
    ks = np.asarray(ks)
    cut = {name: np.asarray(p)[:, ks] for name, p in preds.items()}

    def statistic(label, idx):
        return float(np.mean((cut[label][idx] - cut[reference][idx]) ** 2) / y2)

    return statistic
