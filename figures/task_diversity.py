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
normalised error curves of the transformer, dMMSE, ridge and the zero predictor, and the
prediction divergence SPD / E[y^2] (E[y^2] of fresh tasks) of each from the others, averaged
over k = 1..n-1.

Claims (95% paired-bootstrap intervals over evaluation prompts; threshold 0.05):

- smallest M, fresh tasks: SPD(transformer, dMMSE) is at most 0.05. Controls: ridge (1.08 from
  dMMSE at M = 2, d = 5 on synthetic prompts) and the zero predictor (0.63);
- largest M, fresh tasks: SPD(transformer, ridge) is at most 0.05. Controls: that pool's dMMSE
  (0.081 from ridge at M = 1024, d = 5: the larger M, the closer dMMSE gets to ridge, so M stops
  where the two can still be told apart) and the zero predictor (0.68);
- pool tasks (Raventos' non-Bayesian regime): at M_pool, the largest M whose dMMSE is at least
  0.1 (twice the threshold) from ridge on pool prompts, a property of the pool and the prompts
  alone, SPD(transformer, ridge) is at most 0.05. Controls: dMMSE and the zero predictor.

The transition M (the smallest M from which on the transformer is closer to ridge than to dMMSE
on fresh tasks, point estimates) is reported in the summary and the figure, not claimed.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, model_preds, run_config, spd_statistic

NAME = "task-diversity"
DESCRIPTION = "finite task pools M = 2^1..2^k: transformer vs dMMSE and ridge on pool and fresh tasks (Raventos 2023)"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 11 x 4 h on one H100: eleven 500k-step "
                  "8-layer width-128 runs (batch 256) at an assumed ~35 steps/s; about 2 days in all, or 4 h each "
                  "on 11 GPUs in parallel")
VERSION = 2  # 2: per-prompt predictions (bootstrap claims), the zero predictor, pool-task claim

THRESHOLD = 0.05
_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_layer": 1, "model.n_head": 2,
             "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5,
             "train.eval_prompts": 16, "train.checkpoint_every": 30, "train.device": "cpu"}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "finite-pool-quick", "pool_sizes": [2, 8, 64], "eval_prompts": 64,
             "run": _TINY_RUN},
    # CPU minutes: d = 5, sigma^2 = 0.25, 11-point prompts, 3-layer width-64 GPT, 2500 steps per M
    "quick": {"seed": 0, "base_preset": "finite-pool-quick", "pool_sizes": [2, 16, 128, 1024],
              "eval_prompts": 1000, "run": {"train.steps": 2500, "train.eval_prompts": 256,
                                            "train.checkpoint_every": 500}},
    # Raventos' setting: d = 8, 16 points, 8 layers width 128, M = 2^1, 2^3, ..., 2^21 (GPU)
    "paper": {"seed": 0, "base_preset": "finite-pool-paper", "pool_sizes": [2 ** j for j in range(1, 22, 2)],
              "eval_prompts": 4000, "run": {}},
}
COLORS = {"transformer": "black", "bayes": "tab:purple", "ridge": "tab:red", "zero": "0.55"}
LABELS = {"transformer": "transformer", "bayes": "dMMSE (Bayes for the pool)", "ridge": r"ridge $\lambda=\sigma^2$",
          "zero": "zero"}


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "task.kwargs.pool_size": int(m)}, params["seed"])
            for m in params["pool_sizes"]]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


def compute(params: dict, ctx) -> dict:
    from icl.tasks import make_task

    run_dirs = ctx.train_many(_configs(params))
    out: dict = {"M": [int(m) for m in params["pool_sizes"]], "per_M": []}
    for m, run_dir in zip(out["M"], run_dirs):
        model, cfg = load_run(run_dir)
        entry = measure(make_task(cfg.task), lambda xs, ys: model_preds(model, xs, ys), cfg.task.n_points,
                        params["eval_prompts"], 1000 + ctx.seed)
        entry["run_dir"] = str(run_dir)
        ctx.log(f"[task-diversity] M = {m}: fresh mean SPD {entry['fresh']['mean_spd']}, "
                f"pool mean SPD {entry['pool']['mean_spd']}")
        out["per_M"].append(entry)
    return out


def measure(pool_task, transformer, n_points: int, n_prompts: int, seed: int) -> dict:
    """Predictions of ``transformer`` (a prefix function), dMMSE, ridge and zero on pool and fresh prompts."""
    from estimators import ridge_prefixes
    from icl.tasks import get_task

    fresh_task = get_task("linear", d=pool_task.d, noise=pool_task.noise)
    y2 = float(fresh_task.y_second_moment)
    entry = {"d": pool_task.d, "noise": pool_task.noise, "y2": y2}
    for where, task in (("pool", pool_task), ("fresh", fresh_task)):
        xs, ys, _ = eval_prompts(task, n_prompts, n_points, seed)
        preds = {"transformer": np.asarray(transformer(xs, ys), dtype=np.float64),
                 "bayes": np.asarray(pool_task.prior.predict_prefixes(xs, ys, pool_task.noise)),
                 "ridge": np.asarray(ridge_prefixes(xs, ys, lam=pool_task.noise)), "zero": np.zeros_like(ys)}
        curves, div = curves_and_divergence(preds, ys, y2)
        entry[where] = {"ys": ys, "preds": preds, "curves": curves,
                        "mean_err": {b: float(np.mean(c[0][1:])) for b, c in curves.items()},
                        "mean_spd": {b: float(np.mean(v[1:])) for b, v in div.items()},
                        "dmmse_ridge_spd": float(np.mean((preds["bayes"] - preds["ridge"])[:, 1:] ** 2) / y2)}
    return entry


def transition_m(results: dict) -> float:
    """The smallest M from which on the transformer is closer to ridge than to dMMSE on fresh tasks (NaN if none)."""
    closer_ridge = [e["fresh"]["mean_spd"]["ridge"] < e["fresh"]["mean_spd"]["bayes"] for e in results["per_M"]]
    for i in range(len(closer_ridge)):
        if all(closer_ridge[i:]):
            return float(results["M"][i])
    return float("nan")


def pool_claim_m(results: dict) -> int | None:
    """The largest M whose dMMSE is at least twice the threshold from ridge on pool prompts (None if no M is)."""
    ok = [m for m, e in zip(results["M"], results["per_M"]) if e["pool"]["dmmse_ridge_spd"] >= 2 * THRESHOLD]
    return max(ok) if ok else None


def _spd_to(block: dict, target: str, y2: float):
    n = np.asarray(next(iter(block["preds"].values()))).shape[1]
    return spd_statistic(block["preds"], target, np.arange(1, n), y2)


def claims(results: dict, params: dict) -> list:
    (m_lo, lo), (m_hi, hi) = (results["M"][0], results["per_M"][0]), (results["M"][-1], results["per_M"][-1])
    common = dict(threshold=THRESHOLD, direction="<=", subject="transformer")
    out = [
        Claim("low_M_follows_dmmse", f"M = {m_lo}, fresh tasks: mean over k of SPD(transformer, dMMSE) / E[y^2] is "
              f"at most {THRESHOLD}", controls=("ridge", "zero"), statistic=_spd_to(lo["fresh"], "bayes", lo["y2"]),
              n_units=int(np.asarray(lo["fresh"]["ys"]).shape[0]), **common),
        Claim("high_M_follows_ridge", f"M = {m_hi}, fresh tasks: mean over k of SPD(transformer, ridge) / E[y^2] is "
              f"at most {THRESHOLD}", controls=("bayes", "zero"), statistic=_spd_to(hi["fresh"], "ridge", hi["y2"]),
              n_units=int(np.asarray(hi["fresh"]["ys"]).shape[0]), **common),
    ]
    m_pool = pool_claim_m(results)
    if m_pool is not None:
        e = results["per_M"][results["M"].index(m_pool)]
        out.append(Claim("pool_tasks_follow_ridge", f"M = {m_pool} (largest M with dMMSE >= {2 * THRESHOLD:g} from "
                         f"ridge on pool prompts), pool tasks: mean over k of SPD(transformer, ridge) / E[y^2] is at "
                         f"most {THRESHOLD}", controls=("bayes", "zero"),
                         statistic=_spd_to(e["pool"], "ridge", e["y2"]),
                         n_units=int(np.asarray(e["pool"]["ys"]).shape[0]), **common))
    return out


def summary(results: dict, params: dict) -> str:
    rows = ["M       fresh: err T / dMMSE / ridge   SPD(T,dMMSE) SPD(T,ridge) SPD(dMMSE,ridge) | "
            "pool: err T / dMMSE / ridge   SPD(T,ridge) SPD(dMMSE,ridge)"]
    for m, e in zip(results["M"], results["per_M"]):
        f, p = e["fresh"], e["pool"]
        rows.append(f"{m:<7d} {f['mean_err']['transformer']:.3f} / {f['mean_err']['bayes']:.3f} / "
                    f"{f['mean_err']['ridge']:.3f}        {f['mean_spd']['bayes']:.4f}       "
                    f"{f['mean_spd']['ridge']:.4f}       {f['dmmse_ridge_spd']:.4f}           | "
                    f"{p['mean_err']['transformer']:.3f} / {p['mean_err']['bayes']:.3f} / {p['mean_err']['ridge']:.3f}"
                    f"        {p['mean_spd']['ridge']:.4f}       {p['dmmse_ridge_spd']:.4f}")
    rows.append(f"transition M (fresh tasks closer to ridge than to dMMSE from here on, point estimates): "
                f"{transition_m(results):g}; pool-task claim at M = {pool_claim_m(results)}")
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
    axes[2].plot(M, [e["fresh"]["dmmse_ridge_spd"] for e in results["per_M"]], marker="s", color="0.5", ls=":",
                 label="SPD(dMMSE, ridge): the control's distance")
    axes[2].axhline(THRESHOLD, color="0.3", ls="--", lw=1, label=f"claim threshold {THRESHOLD}")
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
        ax.legend(fontsize=8, loc="lower left" if ax is axes[2] else "best")
    e = results["per_M"][0]
    fig.suptitle(f"Task diversity (Raventos et al. 2023): d = {e['d']}, $\\sigma^2$ = {e['noise']:g}", fontsize=12)
    return fig
