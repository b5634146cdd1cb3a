"""Evaluation of a trained in-context learner against every baseline of its task (``icl eval``).

:func:`evaluate_model` scores a model on fresh prompts with the metrics of :mod:`icl.metrics`
(re-exported here): error curves with bands for the model and every baseline, agreement with
the task's reference predictors (SPD, ILWD) and linear probes of its hidden states;
:func:`model_predictive` reads a model's predictive distribution (log densities, PIT values,
moments) on prompts for the metrics of predictive distributions;
:func:`evaluate_run` does it for a run directory and :func:`save_eval` writes ``eval.npz`` /
``eval.json``. Nothing here trains a model.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from estimators.validation import check_int, to_numpy
from icl.metrics import (
    Curve,
    error_curve,
    implicit_weight_distance,
    implicit_weights,
    linear_probe,
    prediction_divergence,
    query_predictions,
)

# the point metrics are re-exported here for the figures; the predictive-distribution scores stay in icl.metrics
__all__ = ["Curve", "error_curve", "implicit_weight_distance", "implicit_weights", "linear_probe",
           "prediction_divergence", "query_predictions", "report_ks", "model_prefix_fn", "model_predictive",
           "evaluate_model", "evaluate_run", "format_table", "save_eval"]


# ----------------------------------------------------------------------------- a trained model on a task


def _np64(a) -> np.ndarray:
    return np.asarray(to_numpy(a.detach().cpu() if hasattr(a, "detach") else a), dtype=np.float64)


def _model_predictions(model, xs, ys, chunk: int = 512) -> np.ndarray:
    """``model.predict_prefixes`` in chunks of prompts, as float64 numpy (B, n)."""
    return np.concatenate([_np64(model.predict_prefixes(xs[i:i + chunk], ys[i:i + chunk]))
                           for i in range(0, len(xs), chunk)])


def _last_x_states(model, xs, ys, chunk: int = 512) -> list[np.ndarray]:
    """Hidden states at the last x token of each prompt, per layer: n_layer + 1 arrays (B, C)."""
    import torch

    from icl.model import x_positions

    param = next(model.parameters())
    was_training = model.training
    model.eval()
    out: list[list[np.ndarray]] = []
    try:
        with torch.no_grad():
            for i in range(0, len(xs), chunk):
                states = model.hidden_states(xs[i:i + chunk].to(param.device, param.dtype),
                                             ys[i:i + chunk].to(param.device, param.dtype))
                out.append([_np64(x_positions(h)[:, -1].float()) for h in states])
    finally:
        model.train(was_training)
    return [np.concatenate(layer) for layer in zip(*out)]


def report_ks(d: int, n: int) -> list[int]:
    """The prefix lengths a table reports: d/2, d and 2d (clipped to the prompt, deduplicated).

    >>> report_ks(10, 41), report_ks(5, 8)
    ([5, 10, 20], [2, 5, 7])
    """
    return sorted({min(max(k, 1), n - 1) for k in (d // 2, d, 2 * d)})


def evaluate_model(model, task, *, n_prompts: int = 1000, n_points: int | None = None, seed: int = 0,
                   extra: dict[str, Callable] | None = None, n_contexts: int = 64, probes: bool = True,
                   level: float = 0.95) -> dict:
    """Score ``model`` and every baseline of ``task`` on fresh evaluation prompts.

    The prompts come from :func:`icl.tasks.eval_generator` ``(seed)``, a seed family
    disjoint from every training stream. Returned (all numpy / plain Python):

    - ``curves[name] = (mean, lo, hi)``: :func:`error_curve` normalised by ``E[y^2]``
      for ``"transformer"``, each baseline (``task.baselines()`` plus ``extra``);
    - ``ys`` (n_prompts, n) and ``preds[name]`` (n_prompts, n): the targets and every
      predictor's predictions, prompt by prompt (for paired bootstrap intervals);
    - ``divergence[a][b]``: :func:`prediction_divergence` mean per k for every pair;
    - ``ilwd[name]``: per reported k, the mean ``||w_imp(model) - w_imp(name)||^2`` over
      ``n_contexts`` contexts, each probed at ``2 d + 1`` queries (:func:`implicit_weights`);
    - ``probes[target]``: held-out R^2 per layer (embedding first) of :func:`linear_probe`
      from the last x token's state to ``w``, ``X^T y`` and the model's own prediction there
      (a sanity target, near 1 at the last layer); half the prompts fit, half score.

    Parameters
    ----------
    model : icl.model.GPT
    task : icl.tasks.Task
        A regression task (with ``y_second_moment``).
    n_prompts, n_points, seed : int
        Number and length (default: the model's ``n_positions``) of evaluation prompts.
    extra : dict, optional
        More predictors ``name -> predict_prefixes(xs, ys)`` (numpy float64 in and out).
    """
    fn = "evaluate_model"
    from icl.tasks import eval_generator

    if task.y_second_moment is None:
        raise ValueError(f"{fn}: task {task.name!r} is a classification task; error curves need regression")
    n_prompts = check_int(n_prompts, "n_prompts", fn, minimum=4)
    n = check_int(n_points if n_points is not None else model.cfg.n_positions, "n_points", fn, minimum=2)
    if n > model.cfg.n_positions:
        raise ValueError(f"{fn}: n_points must be <= the model's n_positions = {model.cfg.n_positions}, got {n}")
    y2 = float(task.y_second_moment)
    batch = task.sample(n_prompts, n, eval_generator(seed))
    xs64, ys64 = _np64(batch.xs), _np64(batch.ys)
    predictors: dict[str, Callable] = {"transformer": model_prefix_fn(model)}
    predictors.update(task.baselines())
    predictors.update(extra or {})
    preds = {name: _np64(f(xs64, ys64)) for name, f in predictors.items()}
    curves = {name: tuple(error_curve(p, ys64, y2, level=level)) for name, p in preds.items()}
    names = list(preds)
    divergence = {a: {b: prediction_divergence(preds[a], preds[b], y2).mean for b in names} for a in names}
    ks = report_ks(task.d, n)
    out = {"k": np.arange(n), "report_ks": ks, "names": names, "y2": y2, "n_prompts": n_prompts, "seed": seed,
           "level": level, "curves": curves, "divergence": divergence, "ys": ys64, "preds": preds}

    # implicit weights: contexts from the first prompts, probes from an independent stream
    m = 2 * task.d + 1
    probe_rng = np.random.default_rng([int(seed), 0x696C])  # "il": not a training or eval stream
    probe_xs = probe_rng.standard_normal((m, task.d))
    n_ctx = min(n_contexts, n_prompts)
    ilwd: dict[str, list[float]] = {name: [] for name in names if name != "transformer"}
    for k in ks:
        cx, cy = xs64[:n_ctx, :k], ys64[:n_ctx, :k]
        w_model, _ = implicit_weights(predictors["transformer"], cx, cy, probe_xs)
        for name in ilwd:
            w_base, _ = implicit_weights(predictors[name], cx, cy, probe_xs)
            ilwd[name].append(float(implicit_weight_distance(w_model, w_base).mean()))
    out["ilwd"] = ilwd
    out["ilwd_ks"] = ks

    if probes:
        w_true = batch.params if not isinstance(batch.params, dict) else batch.params.get("w")
        targets = {"X^T y": np.einsum("bnd,bn->bd", xs64[:, :-1], ys64[:, :-1]),
                   "own prediction": preds["transformer"][:, -1]}  # a sanity target: read out by the model
        if w_true is not None and tuple(w_true.shape) == (n_prompts, task.d):
            targets = {"w": _np64(w_true), **targets}
        states = _last_x_states(model, batch.xs, batch.ys)
        half = n_prompts // 2
        out["probes"] = {t: [linear_probe(h[:half], y[:half], h[half:], y[half:], lam=1e-3) for h in states]
                         for t, y in targets.items()}
    return out


def model_prefix_fn(model) -> Callable:
    """The model as a seam function: numpy ``(..., n, d)``, ``(..., n)`` -> float64 ``(..., n)``."""
    import torch

    def predict_prefixes(xs, ys):
        xs, ys = np.asarray(xs), np.asarray(ys)
        lead = ys.shape[:-1]
        flat_x = torch.as_tensor(xs.reshape(-1, *xs.shape[-2:]), dtype=torch.float32)
        flat_y = torch.as_tensor(ys.reshape(-1, ys.shape[-1]), dtype=torch.float32)
        return _model_predictions(model, flat_x, flat_y).reshape(*lead, ys.shape[-1])

    return predict_prefixes


def model_predictive(model, xs, ys, *, variance=None, chunk: int = 512) -> dict[str, np.ndarray]:
    """The model's predictive of every y_k on prompts, as float64 numpy arrays of shape (B, n).

    ``log_prob`` (log p_model(y_k | x_k, first k pairs)), ``pit`` (F_model(y_k)), ``mean`` and
    ``var``, computed in chunks of prompts on the model's device. The mean head needs ``variance``
    (a number, or (B, n)): its prediction is read as N(prediction, variance).

    Parameters
    ----------
    model : icl.model.GPT
    xs : array of shape (B, n, d)
    ys : array of shape (B, n)
    variance : float or array of shape (B, n), optional
    chunk : int
        Prompts per forward pass.

    Returns
    -------
    dict with keys ``log_prob``, ``pit``, ``mean``, ``var``
    """
    import torch

    xs, ys = np.asarray(xs), np.asarray(ys)
    var_full = None if variance is None else np.broadcast_to(np.asarray(variance, dtype=np.float64), ys.shape)
    parts: dict[str, list[np.ndarray]] = {"log_prob": [], "pit": [], "mean": [], "var": []}
    for i in range(0, len(xs), chunk):
        bx = torch.as_tensor(xs[i:i + chunk], dtype=torch.float32)
        by = torch.as_tensor(ys[i:i + chunk], dtype=torch.float32)
        v = None if var_full is None else torch.as_tensor(np.ascontiguousarray(var_full[i:i + chunk]),
                                                         dtype=torch.float32)
        dist = model.predictive(bx, by, variance=None if v is None else v.to(next(model.parameters()).device))
        y = by.to(dist.mean.device)
        for key, value in (("log_prob", dist.log_prob(y)), ("pit", dist.cdf(y)), ("mean", dist.mean),
                           ("var", dist.var)):
            parts[key].append(_np64(value))
    return {key: np.concatenate(v) for key, v in parts.items()}


def format_table(result: dict) -> str:
    """Plain-text table: normalised error (with band) at k = d/2, d, 2d per predictor, then ILWD and probes."""
    ks = result["report_ks"]
    rows = [["predictor", *[f"err@k={k}" for k in ks], *[f"ILWD@k={k}" for k in result.get("ilwd_ks", [])]]]
    for name in result["names"]:
        mean, lo, hi = (np.asarray(a) for a in result["curves"][name])
        cells = [f"{mean[k]:.4f} +- {(hi[k] - lo[k]) / 2:.4f}" for k in ks]
        il = result.get("ilwd", {}).get(name)
        cells += ["-" if il is None else f"{v:.4f}" for v in (il or [None] * len(result.get("ilwd_ks", [])))]
        rows.append([name, *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    for target, r2 in result.get("probes", {}).items():
        lines.append(f"probe R^2 ({target}) per layer: " + " ".join(f"{v:.3f}" for v in r2))
    return "\n".join(lines)


def save_eval(result: dict, out_dir) -> tuple[str, str]:
    """Write ``eval.npz`` (every curve and divergence as arrays) and ``eval.json`` (summary)."""
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"k": np.asarray(result["k"])}
    for name, (mean, lo, hi) in result["curves"].items():
        arrays[f"err/{name}/mean"], arrays[f"err/{name}/lo"], arrays[f"err/{name}/hi"] = mean, lo, hi
    for a, row in result["divergence"].items():
        for b, v in row.items():
            arrays[f"spd/{a}/{b}"] = np.asarray(v)
    np.savez(out / "eval.npz", **arrays)
    ks = result["report_ks"]
    summary = {
        "n_prompts": result["n_prompts"], "seed": result["seed"], "level": result["level"], "y2": result["y2"],
        "report_ks": ks,
        "errors": {name: {str(k): {"mean": float(c[0][k]), "lo": float(c[1][k]), "hi": float(c[2][k])} for k in ks}
                   for name, c in result["curves"].items()},
        "divergence_from_transformer": {b: {str(k): float(result["divergence"]["transformer"][b][k]) for k in ks}
                                        for b in result["names"]},
        "ilwd": {"ks": result.get("ilwd_ks", []), **result.get("ilwd", {})},
        "probes_r2_per_layer": result.get("probes", {}),
        **{key: result[key] for key in ("run_dir", "config", "task") if key in result},
    }
    (out / "eval.json").write_text(json.dumps(summary, indent=1))
    return str(out / "eval.npz"), str(out / "eval.json")


def evaluate_run(run_dir, *, task=None, n_prompts: int = 1000, seed: int = 0, n_points: int | None = None,
                 extra: dict[str, Callable] | None = None, probes: bool = True) -> dict:
    """Load a trained run (``icl.run.load_model``) and :func:`evaluate_model` it.

    ``task`` defaults to the run's own task; pass another :class:`icl.tasks.Task` (same
    ``d``) to test out of distribution. The result also records ``run_dir`` and the config.
    """
    from icl.config import config_to_dict
    from icl.tasks import make_task
    from icl.run import load_model

    model, cfg = load_model(run_dir)
    task = make_task(cfg.task) if task is None else task
    if task.d > model.n_dims:
        raise ValueError(f"evaluate_run: task has d = {task.d} but the model reads at most {model.n_dims}")
    result = evaluate_model(model, task, n_prompts=n_prompts, seed=seed, n_points=n_points, extra=extra,
                            probes=probes)
    result.update(run_dir=str(run_dir), config=config_to_dict(cfg), task=repr(task))
    return result


# ----------------------------------------------------------------------------- `icl eval`


def add_arguments(parser) -> None:
    """Arguments of ``icl eval RUN_DIR``."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `icl train`")
    parser.add_argument("--task", help="evaluate on another task (same d; default: the run's own task)")
    parser.add_argument("--noise", type=float, help="noise variance of the evaluation task (default: the run's)")
    parser.add_argument("--prompts", type=int, default=1000, help="fresh evaluation prompts (default 1000)")
    parser.add_argument("--n-points", type=int, help="pairs per prompt (default: the model's n_positions)")
    parser.add_argument("--seed", type=int, default=1, help="evaluation seed (an eval stream, disjoint from training)")
    parser.add_argument("--out", help="where eval.npz and eval.json go (default RUN_DIR)")
    parser.add_argument("--no-probes", action="store_true", help="skip the hidden-state probes")


def run_from_args(args) -> int:
    """Run ``icl eval``: print the table, write ``eval.npz`` and ``eval.json``."""
    import json
    from pathlib import Path

    from icl.errors import ConfigError
    from icl.tasks import get_task

    cfg = json.loads((Path(args.run_dir) / "config.json").read_text()) if (Path(args.run_dir) / "config.json"
                                                                           ).is_file() else None
    task = None
    if args.task or args.noise is not None:
        if cfg is None:
            raise ConfigError(f"{args.run_dir} is not a run folder: config.json is missing")
        t = cfg["task"]
        kwargs = t["kwargs"] if not args.task or args.task == t["name"] else {}
        task = get_task(args.task or t["name"], d=t["d"], noise=t["noise"] if args.noise is None else args.noise,
                        **kwargs)
    try:
        result = evaluate_run(args.run_dir, task=task, n_prompts=args.prompts, seed=args.seed,
                              n_points=args.n_points, probes=not args.no_probes)
    except ValueError as err:  # user input (sizes, task) -> the CLI's one-line error
        raise ConfigError(str(err)) from None
    print(f"{result['task']}, {result['n_prompts']} prompts (eval seed {result['seed']}): normalised error "
          f"+- {result['level']:.0%} half-width, ILWD = ||w_imp(transformer) - w_imp(baseline)||^2")
    print(format_table(result))
    npz, js = save_eval(result, args.out or args.run_dir)
    print(f"wrote {npz} and {js}")
    return 0
