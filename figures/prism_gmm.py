"""Figure ``prism-gmm``: the Gaussian mixture of tasks and the posterior weight over components.

Panwar et al. 2024 ("In-context learning through the Bayesian prism", Sec. 4, GMM tasks):
w ~ 1/2 N(+mu, I) + 1/2 N(-mu, I) with mu = 3 e_1. The Bayes predictor is Bayesian model
averaging (BMA) over the two components,

    f_BMA(x) = beta_+ x^T m_+ + (1 - beta_+) x^T m_-,
    beta_+ ∝ 1/2 N(y; X mu, X X^T + sigma^2 I),

where m_c is the posterior mean of component c alone ("component c's ridge", ridge shrunk
towards +-mu; :class:`estimators.bayes.GaussianPrior`). The transformer's *implied*
component weight at a query is obtained by writing its prediction in the same form,

    beta_hat = (f_T - x^T m_-) / (x^T m_+ - x^T m_-),

kept only where the two component predictions differ by more than ``min_gap`` sqrt(E[y^2])
(elsewhere the weight is not identified), clipped to [0, 1]. It is compared per k with the
exact beta_+ (``prior.weights_prefixes``) and with the prior weight 1/2.

Claims: the transformer is closer (mean_k SPD) to BMA than to either component's ridge;
its implied weight tracks the exact posterior weight better than the constant prior weight.
"""

from __future__ import annotations

import warnings

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, model_preds, ratio, resolve_runs, run_config

NAME = "prism-gmm"
DESCRIPTION = ("Gaussian mixture of tasks: transformer vs BMA and each component's ridge; "
               "implied vs exact posterior weight")
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 5 h on one H100: one 500k-step 12-layer "
                  "width-256 run at an assumed ~30 steps/s (bf16 + compile)")
VERSION = 1

PRESETS = {
    "tiny": {"seed": 0, "eval_prompts": 64, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-quick", {
        "task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_layer": 1, "model.n_head": 2,
        "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
        "train.checkpoint_every": 30, "train.device": "cpu"}]}},
    # CPU minutes: d = 5, mu = 3 e_1, 11-point prompts, 3-layer width-64 GPT, 4000 steps
    "quick": {"seed": 0, "eval_prompts": 2000, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-quick", {
        "train.steps": 4000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}]}},
    # Panwar's scale: d = 20, 41 points, 12 layers, 500k steps with the curriculum (GPU)
    "paper": {"seed": 0, "eval_prompts": 4000, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-paper", {}]}},
}
LABELS = {"transformer": "transformer", "bayes": "BMA (exact Bayes)", "ridge+": r"component $+\mu$ posterior mean",
          "ridge-": r"component $-\mu$ posterior mean", "ols": "OLS"}
STYLES = {"transformer": dict(color="black", lw=2.4, marker="o", ms=3.5, zorder=10),
          "bayes": dict(color="tab:purple", lw=2.2, ls=":"), "ridge+": dict(color="tab:red", lw=1.5, ls="--"),
          "ridge-": dict(color="tab:orange", lw=1.5, ls="-."), "ols": dict(color="tab:blue", lw=1.2)}


def resolve(params: dict) -> dict:
    return resolve_runs(params)


def implied_weight(f_t, f_plus, f_minus, scale: float, min_gap: float) -> np.ndarray:
    """``(f_t - f_minus) / (f_plus - f_minus)`` clipped to [0, 1]; NaN where the gap is below ``min_gap * scale``.

    >>> implied_weight(np.array([0.5, 2.0, 1.0]), np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0]), 1.0, 0.1)
    array([0.5, 1. , nan])
    """
    f_t, f_plus, f_minus = (np.asarray(a, dtype=np.float64) for a in (f_t, f_plus, f_minus))
    gap = f_plus - f_minus
    ok = np.abs(gap) > min_gap * scale
    beta = np.full(gap.shape, np.nan)
    beta[ok] = np.clip((f_t[ok] - f_minus[ok]) / gap[ok], 0.0, 1.0)
    return beta


def compute(params: dict, ctx) -> dict:
    from estimators import ols_prefixes
    from icl.tasks import make_task

    (preset, overrides), = params["runs"].values()
    run_dir, = ctx.train_many([run_config(preset, overrides, params["seed"])])
    model, cfg = load_run(run_dir)
    task = make_task(cfg.task)
    xs, ys, _ = eval_prompts(task, params["eval_prompts"], cfg.task.n_points, 1000 + ctx.seed)
    plus, minus = task.prior.components
    preds = {"transformer": model_preds(model, xs, ys), "bayes": np.asarray(task.bayes_prefixes(xs, ys)),
             "ridge+": np.asarray(plus.predict_prefixes(xs, ys, cfg.task.noise)),
             "ridge-": np.asarray(minus.predict_prefixes(xs, ys, cfg.task.noise)),
             "ols": np.asarray(ols_prefixes(xs, ys))}
    y2 = float(task.y_second_moment)
    curves, div = curves_and_divergence(preds, ys, y2)
    beta = np.asarray(task.prior.weights_prefixes(xs, ys, cfg.task.noise))[..., 0]  # (P, n): weight of +mu
    beta_t = implied_weight(preds["transformer"], preds["ridge+"], preds["ridge-"], np.sqrt(y2), params["min_gap"])
    beta_bma = implied_weight(preds["bayes"], preds["ridge+"], preds["ridge-"], np.sqrt(y2), params["min_gap"])
    ok = np.isfinite(beta_t)
    with warnings.catch_warnings():  # from k = d on (noiseless) the components agree: no weight is identified
        warnings.simplefilter("ignore", RuntimeWarning)
        dev_t = np.nanmean(np.where(ok, np.abs(beta_t - beta), np.nan), axis=0)
        dev_prior = np.nanmean(np.where(ok, np.abs(0.5 - beta), np.nan), axis=0)
        dev_bma = np.nanmean(np.where(ok, np.abs(beta_bma - beta), np.nan), axis=0)
    ctx.log(f"[prism-gmm] mean |beta_T - beta| per k: {np.round(dev_t, 3).tolist()}")
    return {"k": np.arange(cfg.task.n_points), "d": cfg.task.d, "task": repr(task), "run_dir": str(run_dir),
            "names": list(preds), "curves": curves, "divergence": div, "beta_dev_transformer": dev_t,
            "beta_dev_prior": dev_prior, "beta_dev_bma_check": dev_bma, "identified_frac": ok.mean(axis=0),
            "beta_exact_sample": beta[:300], "beta_transformer_sample": beta_t[:300]}


def _mean_k(a) -> float:
    a = np.asarray(a, dtype=np.float64)[1:]
    return float(np.nanmean(a[np.isfinite(a)])) if np.any(np.isfinite(a)) else float("nan")


def claims(results: dict, params: dict) -> list:
    spd = {b: _mean_k(v) for b, v in results["divergence"].items()}
    closest_comp = min(("ridge+", "ridge-"), key=lambda b: spd[b])
    r1 = ratio(spd["bayes"], spd[closest_comp])
    dev_t, dev_p = _mean_k(results["beta_dev_transformer"]), _mean_k(results["beta_dev_prior"])
    r2 = ratio(dev_t, dev_p) if np.isfinite(dev_t) and np.isfinite(dev_p) else float("nan")
    return [
        Claim("spd_bma_over_best_component", r1, 1.0, r1 < 1.0,
              f"mean_k SPD(transformer, BMA) / SPD(transformer, closest component posterior mean = "
              f"{closest_comp}) < 1"),
        Claim("weight_dev_transformer_over_prior", r2, 1.0, bool(r2 < 1.0),
              "mean_k |implied weight - exact posterior weight| of the transformer / that of the prior weight 1/2 < 1"),
    ]


def summary(results: dict, params: dict) -> str:
    d = results["d"]
    err = ", ".join(f"{b} {float(np.asarray(c[0])[d]):.3f}" for b, c in results["curves"].items())
    spd = ", ".join(f"{b} {_mean_k(v):.4f}" for b, v in results["divergence"].items())
    return (f"{results['task']}: error at k = d: {err}\nmean SPD from the transformer: {spd}\n"
            f"mean |beta_T - beta| per k: {np.round(np.asarray(results['beta_dev_transformer']), 3).tolist()}\n"
            f"mean |1/2 - beta| per k:     {np.round(np.asarray(results['beta_dev_prior']), 3).tolist()}\n"
            f"check, BMA itself:           {np.round(np.asarray(results['beta_dev_bma_check']), 3).tolist()}")


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    k = np.asarray(results["k"])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    for b in results["names"]:
        mean, lo, hi = (np.clip(np.asarray(a), 1e-4, 3) for a in results["curves"][b])
        axes[0].plot(k, mean, label=LABELS[b], **STYLES[b])
        axes[0].fill_between(k, lo, hi, color=STYLES[b]["color"], alpha=0.12, lw=0)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("normalised squared error")
    axes[0].set_title("(a) error curves")
    axes[1].plot(k[1:], np.asarray(results["beta_dev_transformer"])[1:], color="black", marker="o", lw=2.2,
                 label="transformer's implied weight")
    axes[1].plot(k[1:], np.asarray(results["beta_dev_prior"])[1:], color="tab:gray", ls="--", lw=1.6,
                 label="prior weight 1/2")
    axes[1].set_ylabel(r"mean $|\hat\beta_+ - \beta_+|$")
    axes[1].set_title(r"(b) distance to the exact posterior weight $\beta_+$")
    bt, be = np.asarray(results["beta_transformer_sample"]), np.asarray(results["beta_exact_sample"])
    for kk, c in ((1, "tab:blue"), (2, "tab:green"), (min(results["d"], len(k) - 1), "tab:red")):
        axes[2].scatter(be[:, kk], bt[:, kk], s=9, alpha=0.5, color=c, label=f"k = {kk}")
    axes[2].plot([0, 1], [0, 1], color="0.4", lw=1)
    axes[2].set_xlabel(r"exact posterior weight $\beta_+$")
    axes[2].set_ylabel(r"transformer's implied weight $\hat\beta_+$")
    axes[2].set_title("(c) per prompt (weights identified only where components differ)")
    for ax in axes[:2]:
        ax.set_xlabel("in-context examples k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Gaussian mixture of tasks (Panwar et al. 2024): {results['task']}, "
                 r"$w \sim \frac{1}{2}N(+\mu, I) + \frac{1}{2}N(-\mu, I)$", fontsize=12)
    return fig
