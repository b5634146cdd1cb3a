"""Figure ``task-diversity``: from dMMSE to ridge as the number of pretraining tasks grows.

Raventos et al. 2023 ("Pretraining task diversity and the emergence of non-Bayesian
in-context learning for regression", Sec. 3-4; also Kirsch et al. 2022) pretrain on a
finite pool of M tasks w_1..w_M ~ N(0, I_d) with noise sigma^2. The Bayes predictor for
the pretraining distribution is dMMSE, the posterior mean over the pool
(:class:`estimators.bayes.FinitePrior`); on *fresh* tasks w ~ N(0, I) the Bayes predictor
is ridge with lam = sigma^2. With few tasks the transformer follows dMMSE (it memorises the
pool); above a task-diversity threshold it follows ridge, even on pool tasks.

One run per M in ``pool_sizes`` (``finite-pool`` task, ``pool_size = M``). Per M, on
prompts from the pool and on prompts from fresh tasks (``eval_generator(1000 + seed)``):
normalised error curves of the transformer, dMMSE and ridge, and the prediction
divergence (SPD) of the transformer from dMMSE and from ridge, averaged over k = 1..n-1.

Claims: at the smallest M the transformer is closer to dMMSE than to ridge on fresh tasks;
at the largest M it is closer to ridge; the transition M (the smallest M from which on it
stays closer to ridge) is reported.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, model_preds, ratio, run_config

NAME = "task-diversity"
DESCRIPTION = "finite task pools M = 2^1..2^k: transformer vs dMMSE and ridge on pool and fresh tasks (Raventos 2023)"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 11 x 4 h on one H100: eleven 500k-step "
                  "8-layer width-128 runs (batch 256) at an assumed ~35 steps/s; about 2 days in all, or 4 h each "
                  "on 11 GPUs in parallel")
VERSION = 1

_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_layer": 1, "model.n_head": 2,
             "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5,
             "train.eval_prompts": 16, "train.checkpoint_every": 30, "train.device": "cpu"}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "finite-pool-quick", "pool_sizes": [2, 8, 64], "eval_prompts": 64,
             "run": _TINY_RUN},
    # CPU minutes: d = 5, sigma^2 = 0.25, 11-point prompts, 3-layer width-64 GPT, 3000 steps per M
    "quick": {"seed": 0, "base_preset": "finite-pool-quick", "pool_sizes": [2, 8, 32, 128, 1024],
              "eval_prompts": 1000, "run": {"train.steps": 3000, "train.eval_prompts": 256,
                                            "train.checkpoint_every": 1000}},
    # Raventos' setting: d = 8, 16 points, 8 layers width 128, M = 2^1, 2^3, ..., 2^21 (GPU)
    "paper": {"seed": 0, "base_preset": "finite-pool-paper", "pool_sizes": [2 ** j for j in range(1, 22, 2)],
              "eval_prompts": 4000, "run": {}},
}
COLORS = {"transformer": "black", "bayes": "tab:purple", "ridge": "tab:red"}
LABELS = {"transformer": "transformer", "bayes": "dMMSE (Bayes for the pool)", "ridge": r"ridge $\lambda=\sigma^2$"}


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "task.kwargs.pool_size": int(m)}, params["seed"])
            for m in params["pool_sizes"]]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


def compute(params: dict, ctx) -> dict:
    from estimators import ridge_prefixes
    from icl.tasks import get_task, make_task

    run_dirs = ctx.train_many(_configs(params))
    out: dict = {"M": [int(m) for m in params["pool_sizes"]], "per_M": []}
    for m, run_dir in zip(out["M"], run_dirs):
        model, cfg = load_run(run_dir)
        pool_task = make_task(cfg.task)
        fresh_task = get_task("linear", d=cfg.task.d, noise=cfg.task.noise)
        entry = {"run_dir": str(run_dir), "d": cfg.task.d, "noise": cfg.task.noise}
        for where, task in (("pool", pool_task), ("fresh", fresh_task)):
            xs, ys, _ = eval_prompts(task, params["eval_prompts"], cfg.task.n_points, 1000 + ctx.seed)
            preds = {"transformer": model_preds(model, xs, ys),
                     "bayes": np.asarray(pool_task.prior.predict_prefixes(xs, ys, cfg.task.noise)),
                     "ridge": np.asarray(ridge_prefixes(xs, ys, lam=cfg.task.noise))}
            curves, div = curves_and_divergence(preds, ys, float(fresh_task.y_second_moment))
            entry[where] = {"curves": curves, "divergence": div,
                            "mean_err": {b: float(np.mean(c[0][1:])) for b, c in curves.items()},
                            "mean_spd": {b: float(np.mean(v[1:])) for b, v in div.items()}}
        ctx.log(f"[task-diversity] M = {m}: fresh mean SPD {entry['fresh']['mean_spd']}, "
                f"pool mean SPD {entry['pool']['mean_spd']}")
        out["per_M"].append(entry)
    return out


def transition_m(results: dict) -> float:
    """The smallest M from which on the transformer is closer to ridge than to dMMSE on fresh tasks (NaN if none)."""
    closer_ridge = [e["fresh"]["mean_spd"]["ridge"] < e["fresh"]["mean_spd"]["bayes"] for e in results["per_M"]]
    for i in range(len(closer_ridge)):
        if all(closer_ridge[i:]):
            return float(results["M"][i])
    return float("nan")


def claims(results: dict, params: dict) -> list:
    first, last = results["per_M"][0]["fresh"]["mean_spd"], results["per_M"][-1]["fresh"]["mean_spd"]
    m_lo, m_hi = results["M"][0], results["M"][-1]
    low = ratio(first["bayes"], first["ridge"])
    high = ratio(last["ridge"], last["bayes"])
    mt = transition_m(results)
    both = low < 1.0 and high < 1.0 and np.isfinite(mt) and mt > m_lo
    return [
        Claim("low_M_spd_dmmse_over_ridge", low, 1.0, low < 1.0,
              f"M = {m_lo}, fresh tasks: mean_k SPD(transformer, dMMSE) / SPD(transformer, ridge) < 1"),
        Claim("high_M_spd_ridge_over_dmmse", high, 1.0, high < 1.0,
              f"M = {m_hi}, fresh tasks: mean_k SPD(transformer, ridge) / SPD(transformer, dMMSE) < 1"),
        Claim("transition_M", mt, float(m_hi), bool(both),
              f"a transition exists inside M = {m_lo}..{m_hi}: from M = {mt:g} on the transformer follows ridge "
              f"on fresh tasks, below it dMMSE"),
    ]


def summary(results: dict, params: dict) -> str:
    rows = ["M       fresh: err T / dMMSE / ridge   SPD(T,dMMSE) SPD(T,ridge) | pool: err T / dMMSE / ridge"]
    for m, e in zip(results["M"], results["per_M"]):
        f, p = e["fresh"], e["pool"]
        rows.append(f"{m:<7d} {f['mean_err']['transformer']:.3f} / {f['mean_err']['bayes']:.3f} / "
                    f"{f['mean_err']['ridge']:.3f}        {f['mean_spd']['bayes']:.4f}       "
                    f"{f['mean_spd']['ridge']:.4f}     | {p['mean_err']['transformer']:.3f} / "
                    f"{p['mean_err']['bayes']:.3f} / {p['mean_err']['ridge']:.3f}")
    rows.append(f"transition M (fresh tasks closer to ridge from here on): {transition_m(results):g}")
    return "\n".join(rows)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    M = np.asarray(results["M"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    for ax, where in zip(axes[:2], ("pool", "fresh")):
        for b in ("transformer", "bayes", "ridge"):
            ax.plot(M, [e[where]["mean_err"][b] for e in results["per_M"]], marker="o", color=COLORS[b],
                    label=LABELS[b], lw=2.4 if b == "transformer" else 1.6)
        ax.set_title(f"({'a' if where == 'pool' else 'b'}) error on {where} tasks (mean over k)")
        ax.set_ylabel("normalised squared error")
    for b, ls in (("bayes", "-"), ("ridge", "--")):
        axes[2].plot(M, [e["fresh"]["mean_spd"][b] for e in results["per_M"]], marker="o", color=COLORS[b], ls=ls,
                     label=f"SPD(transformer, {LABELS[b]})")
    mt = transition_m(results)
    if np.isfinite(mt):
        for ax in axes:
            ax.axvline(mt, color="0.5", ls=":", lw=1.2)
        axes[2].text(mt, 1.01, f" transition M = {mt:g}", transform=axes[2].get_xaxis_transform(), fontsize=9)
    axes[2].set_title("(c) fresh tasks: which predictor does it follow?", pad=14)
    axes[2].set_ylabel("mean prediction divergence")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("pretraining tasks M")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    e = results["per_M"][0]
    fig.suptitle(f"Task diversity (Raventos et al. 2023): d = {e['d']}, $\\sigma^2$ = {e['noise']:g}", fontsize=12)
    return fig
