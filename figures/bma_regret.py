"""Figure ``bma-regret``: cumulative log-loss regret of BMA over a finite concept class, and of a transformer.

Zhang et al. 2023 ("What and how does in-context learning learn? Bayesian model averaging,
parameterization, and generalization", Sec. 4): over a finite class Z with prior pi the
BMA predictive

    p(y_t | past) = sum_z pi(z | past) p(y_t | z, x_t)

has cumulative log-loss regret against any z* of at most -log pi(z*) = log |Z|, for every
sequence, since p_BMA(y_1..t) >= pi(z*) p(y_1..t | z*). Per step the average regret is at
most log |Z| / t.

The class here is a finite task pool (``finite-pool``: M tasks w_m ~ N(0, I_d), noise
sigma^2 > 0), so p(y | z, x) = N(y; x^T w_z, sigma^2) and BMA is exact
(:meth:`estimators.bayes.FinitePrior.weights_prefixes`). z* is the task that generated the
prompt (the bound is nearly attained once the posterior concentrates, so z* is taken as the
float64 pool member, not the float32 copy in the batch). The transformer is trained with
squared loss and gives a point prediction f_t; its
predictive is taken to be N(f_t, s_t^2) with s_t^2 its own mean squared error at position t
on separate calibration prompts (``eval_generator(2000 + seed)``), a stated modelling choice.

Claims: the BMA regret stays below log |Z| on every evaluation prompt and every t (the
theorem; a check of the estimator), and the transformer's mean cumulative regret at the end
of the prompt is below log |Z| (it approaches BMA).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from figures import Claim
from figures._common import eval_prompts, load_run, model_preds, resolve_runs, run_config

NAME = "bma-regret"
DESCRIPTION = "finite concept class: cumulative log-loss regret of BMA vs the log|Z| bound, and of a transformer"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 2 h on one H100: one 200k-step 8-layer "
                  "width-128 run at an assumed ~35 steps/s")
VERSION = 1

PRESETS = {
    "tiny": {"seed": 0, "eval_prompts": 64, "runs": {"pool": ["finite-pool-quick", {
        "task.d": 3, "task.n_points": 9, "model.n_positions": 9, "task.kwargs.pool_size": 8, "model.n_layer": 1,
        "model.n_head": 2, "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5,
        "train.eval_prompts": 16, "train.checkpoint_every": 30, "train.device": "cpu"}]}},
    # CPU minutes: |Z| = 16 tasks in d = 5, sigma^2 = 0.25, 21-point prompts, 3-layer width-64 GPT, 4000 steps
    "quick": {"seed": 0, "eval_prompts": 2000, "runs": {"pool": ["finite-pool-quick", {
        "task.n_points": 21, "model.n_positions": 21, "train.steps": 4000, "train.eval_prompts": 256,
        "train.checkpoint_every": 1000}]}},
    # a larger class and longer prompts: |Z| = 1024 in d = 8, 41 points, Raventos' 8-layer model, 200k steps (GPU)
    "paper": {"seed": 0, "eval_prompts": 10000, "runs": {"pool": ["finite-pool-paper", {
        "task.n_points": 41, "model.n_positions": 41, "train.steps": 200000}]}},
}


def resolve(params: dict) -> dict:
    return resolve_runs(params)


def gaussian_logpdf(y, mean, var):
    """log N(y; mean, var), elementwise.

    >>> round(float(gaussian_logpdf(0.0, 0.0, 1.0)), 6)
    -0.918939
    """
    return -0.5 * (np.log(2 * np.pi * var) + (np.asarray(y) - mean) ** 2 / var)


def bma_log_predictive(pool: np.ndarray, xs: np.ndarray, ys: np.ndarray, noise: float) -> np.ndarray:
    """log p_BMA(y_t | first t pairs, x_t) for every t, shape (P, n), uniform prior over ``pool`` (M, d).

    Uses the running log posterior sum_{i<t} log N(y_i; x_i^T w_m, sigma^2) normalised with logsumexp.
    """
    means = np.einsum("pnd,md->pnm", xs, pool)  # (P, n, M)
    loglik = gaussian_logpdf(ys[..., None], means, noise)  # (P, n, M)
    past = np.concatenate([np.zeros_like(loglik[:, :1]), np.cumsum(loglik, axis=1)[:, :-1]], axis=1)
    log_post = past - logsumexp(past, axis=-1, keepdims=True)
    return logsumexp(log_post + loglik, axis=-1)


def compute(params: dict, ctx) -> dict:
    from icl.tasks import make_task

    (preset, overrides), = params["runs"].values()
    run_dir, = ctx.train_many([run_config(preset, overrides, params["seed"])])
    model, cfg = load_run(run_dir)
    task = make_task(cfg.task)
    noise, pool = cfg.task.noise, np.asarray(task.pool, dtype=np.float64)
    if noise <= 0:
        raise ValueError("bma-regret: the class needs noise > 0 (a log-loss with point masses is infinite)")
    n = cfg.task.n_points
    # calibration of the transformer's predictive variance per position, on separate prompts
    cx, cy, _ = eval_prompts(task, params["eval_prompts"], n, 2000 + ctx.seed)
    var_t = np.maximum(np.mean((model_preds(model, cx, cy) - cy) ** 2, axis=0), 1e-6)
    xs, ys, w_true = eval_prompts(task, params["eval_prompts"], n, 1000 + ctx.seed)
    w_star = pool[task.pool_index(w_true)]  # the float64 pool member (batch params are rounded to float32)
    log_true = gaussian_logpdf(ys, np.einsum("pnd,pd->pn", xs, w_star), noise)
    log_bma = bma_log_predictive(pool, xs, ys, noise)
    f_t = model_preds(model, xs, ys)
    log_tf = gaussian_logpdf(ys, f_t, var_t[None, :])
    reg_bma = np.cumsum(log_true - log_bma, axis=1)  # (P, n): regret after t = 1..n observations
    reg_tf = np.cumsum(log_true - log_tf, axis=1)
    bayes = np.asarray(task.bayes_prefixes(xs, ys))
    y2 = float(task.y_second_moment)
    ctx.log(f"[bma-regret] mean cumulative regret at t = n: BMA {reg_bma[:, -1].mean():.3f}, "
            f"transformer {reg_tf[:, -1].mean():.3f}, log|Z| = {np.log(len(pool)):.3f}")
    return {"t": np.arange(1, n + 1), "log_Z": float(np.log(len(pool))), "Z": int(len(pool)), "d": cfg.task.d,
            "noise": noise, "y2": y2, "run_dir": str(run_dir),
            "regret_bma_mean": reg_bma.mean(0), "regret_bma_max": reg_bma.max(0),
            "regret_tf_mean": reg_tf.mean(0), "regret_tf_sem": reg_tf.std(0, ddof=1) / np.sqrt(len(reg_tf)),
            "var_transformer": var_t,
            "mse": {"transformer": np.mean((f_t - ys) ** 2, 0) / y2, "bma": np.mean((bayes - ys) ** 2, 0) / y2}}


def claims(results: dict, params: dict) -> list:
    log_z = results["log_Z"]
    worst = float(np.max(results["regret_bma_max"]))
    end_tf = float(np.asarray(results["regret_tf_mean"])[-1])
    return [
        Claim("bma_max_regret_over_logZ", worst / log_z, 1.0, worst <= log_z + 1e-9,
              f"BMA: the largest cumulative regret over all prompts and t, divided by log|Z| = {log_z:.3f}, is <= 1"),
        Claim("transformer_mean_regret_at_n_over_logZ", end_tf / log_z, 1.0, end_tf <= log_z,
              f"transformer (Gaussian predictive, calibrated variance): mean cumulative regret at t = "
              f"{len(results['t'])} divided by log|Z| is <= 1"),
    ]


def summary(results: dict, params: dict) -> str:
    t = np.asarray(results["t"])
    sel = sorted({1, 2, 4, 8, len(t) // 2, len(t)} & set(t.tolist()))
    rows = [f"|Z| = {results['Z']} tasks, d = {results['d']}, sigma^2 = {results['noise']:g}, log|Z| = "
            f"{results['log_Z']:.3f}", "t     BMA mean   BMA max   transformer mean   bound log|Z|/t (per step)"]
    for s in sel:
        i = s - 1
        rows.append(f"{s:<5d} {results['regret_bma_mean'][i]:9.3f} {results['regret_bma_max'][i]:9.3f} "
                    f"{results['regret_tf_mean'][i]:12.3f}        {results['log_Z'] / s:.3f}")
    return "\n".join(rows)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    t, log_z = np.asarray(results["t"]), results["log_Z"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.7), constrained_layout=True)
    rb, rbm, rt = (np.asarray(results[k]) for k in ("regret_bma_mean", "regret_bma_max", "regret_tf_mean"))
    sem = np.asarray(results["regret_tf_sem"])
    axes[0].plot(t, rb, color="tab:purple", lw=2.2, label="BMA, mean over prompts")
    axes[0].plot(t, rbm, color="tab:purple", lw=1.2, ls=":", label="BMA, worst prompt")
    axes[0].plot(t, rt, color="black", lw=2.2, marker="o", ms=3, label="transformer, mean")
    axes[0].fill_between(t, rt - 1.96 * sem, rt + 1.96 * sem, color="black", alpha=0.12, lw=0)
    axes[0].axhline(log_z, color="tab:red", ls="--", label=r"bound $\log|Z|$")
    axes[0].set_ylabel("cumulative log-loss regret")
    axes[0].set_title("(a) cumulative regret vs the true task")
    axes[1].plot(t, np.clip(rb / t, 1e-4, None), color="tab:purple", lw=2.2, label="BMA")
    axes[1].plot(t, np.clip(rt / t, 1e-4, None), color="black", lw=2.2, marker="o", ms=3, label="transformer")
    axes[1].plot(t, log_z / t, color="tab:red", ls="--", label=r"$\log|Z|/t$")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("average regret per step")
    axes[1].set_title("(b) per-step regret and the log|Z|/t bound")
    axes[2].plot(t - 1, results["mse"]["bma"], color="tab:purple", lw=2.2, label="BMA (dMMSE)")
    axes[2].plot(t - 1, results["mse"]["transformer"], color="black", lw=2.2, marker="o", ms=3, label="transformer")
    if "y2" in results:  # the exact floor sigma^2 / E[y^2] of this pool
        axes[2].axhline(results["noise"] / results["y2"], color="0.5", ls=":", label=r"noise floor $\sigma^2/E[y^2]$")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("normalised squared error")
    axes[2].set_title("(c) squared error per prefix")
    for ax in axes:
        ax.set_xlabel("observations t" if ax is not axes[2] else "in-context examples k")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"BMA regret over a finite class (Zhang et al. 2023): |Z| = {results['Z']} tasks in "
                 f"d = {results['d']}, $\\sigma^2$ = {results['noise']:g}", fontsize=12)
    return fig
