"""Figure ``prism-priors``: the transformer against the exact Bayes predictor on four priors.

Panwar et al. 2024 ("In-context learning through the Bayesian prism", Sec. 3) train one
transformer per prior over linear functions y = x^T w and find that it follows the
*Bayes* predictor of that prior rather than the usual proxy (OLS, lasso). The priors:

- dense: w ~ N(0, I_d); Bayes = min-norm OLS in the noiseless case (so OLS is excluded
  from the proxies there; lasso remains);
- sparse: k of d coordinates N(0, 1); Bayes = BMA over the C(d, k) supports;
- sign vector: w uniform on {-1, +1}^d / sqrt(d); Bayes = BMA over the 2^d vectors;
- low rank: w = c vec(b b^T), b ~ N(0, I_m), d = m^2. No closed form exists; the Bayes
  predictor is approximated by Monte Carlo BMA over ``lowrank_mc`` prior draws
  (:class:`estimators.bayes.FinitePrior`) with a small likelihood temperature
  ``lowrank_abc_noise`` (the task itself is noiseless) for k < d; from k = d on the
  noiseless posterior is a point mass and its mean is the OLS interpolant. The label says so.

Measured per prior, on fresh evaluation prompts (``eval_generator(1000 + seed)``): the
normalised error curve of every predictor and the prediction divergence
(:func:`icl.evaluate.prediction_divergence`) of the transformer from each of them. Claim
per prior: the divergence from Bayes, averaged over k = 1..n-1, is below that from every
proxy.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, model_preds, ratio, resolve_runs, run_config

NAME = "prism-priors"
DESCRIPTION = "transformer vs exact Bayes vs OLS/lasso on dense, sparse, sign-vector and low-rank priors (Panwar 2024)"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 4 x 5 h on one H100: four 500k-step "
                  "12-layer width-256 runs at an assumed ~30 steps/s (bf16 + compile), plus minutes of Bayes "
                  "evaluation (sign vectors at d = 20 enumerate 2^20 vectors)")
VERSION = 1

PRIORS = ("dense", "sparse", "sign", "low-rank")
_TINY_RUN = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16,
             "train.warmup": 5, "train.eval_prompts": 16, "train.checkpoint_every": 30, "train.device": "cpu"}
_QUICK_RUN = {"train.steps": 4000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}
_NO_CURRICULUM = {"train.curriculum.enabled": False}
PRESETS = {
    # a few dozen steps: for the test suite (claims are computed, not expected to hold)
    "tiny": {"seed": 0, "eval_prompts": 64, "lowrank_mc": 512, "lowrank_abc_noise": 0.02, "runs": {
        "dense": ["linear-quick", {**_TINY_RUN, "task.d": 3, "task.n_points": 7, "model.n_positions": 7}],
        "sparse": ["sparse-linear-quick", {**_TINY_RUN, "task.d": 3, "task.n_points": 7, "model.n_positions": 7,
                                           "task.kwargs.k": 1}],
        "sign": ["sign-vector-quick", {**_TINY_RUN, "task.d": 3, "task.n_points": 7, "model.n_positions": 7}],
        "low-rank": ["linear-quick", {**_TINY_RUN, "task.name": "low-rank", "task.d": 4, "task.n_points": 7,
                                      "model.n_positions": 7}]}},
    # CPU minutes: d = 5 (low rank d = 4), 11-point prompts, 3-layer width-64 GPT, 4000 steps each
    "quick": {"seed": 0, "eval_prompts": 1000, "lowrank_mc": 16384, "lowrank_abc_noise": 0.02, "runs": {
        "dense": ["linear-quick", dict(_QUICK_RUN)],
        "sparse": ["sparse-linear-quick", dict(_QUICK_RUN)],
        "sign": ["sign-vector-quick", dict(_QUICK_RUN)],
        "low-rank": ["linear-quick", {**_QUICK_RUN, "task.name": "low-rank", "task.d": 4}]}},
    # Panwar's scale: d = 20 (low rank d = 16), 41 points, 12 layers, 500k steps (GPU)
    "paper": {"seed": 0, "eval_prompts": 2000, "lowrank_mc": 262144, "lowrank_abc_noise": 0.02, "runs": {
        "dense": ["linear-paper", {}],
        "sparse": ["sparse-linear-paper", {}],
        "sign": ["sign-vector-paper", {}],
        "low-rank": ["linear-paper", {"task.name": "low-rank", "task.d": 16, **_NO_CURRICULUM}]}},
}

LABELS = {"transformer": "transformer", "bayes": "exact Bayes", "ols": "OLS (min-norm)",
          "lasso": r"lasso ($\alpha$=0.01)", "bayes-mc": "Bayes (Monte Carlo)"}
STYLES = {"transformer": dict(color="black", lw=2.4, marker="o", ms=3.5, zorder=10),
          "bayes": dict(color="tab:purple", lw=2.2, ls=":"), "ols": dict(color="tab:blue", lw=1.6, ls="--"),
          "lasso": dict(color="tab:green", lw=1.6, ls="-.")}


def resolve(params: dict) -> dict:
    return resolve_runs(params)


def _lowrank_bayes(task, params: dict, seed: int):
    """Monte Carlo BMA for the low-rank prior: a FinitePrior over prior draws, tempered likelihood."""
    from estimators.bayes import FinitePrior

    pool = task.sample_params(int(params["lowrank_mc"]), np.random.default_rng([seed, 0x6C72]))
    prior = FinitePrior(pool)
    return lambda xs, ys: np.asarray(prior.predict_prefixes(xs, ys, float(params["lowrank_abc_noise"])))


def compute(params: dict, ctx) -> dict:
    from estimators import lasso_prefixes, ols_prefixes
    from icl.tasks import make_task

    names = list(params["runs"])
    cfgs = [run_config(p, o, params["seed"]) for p, o in params["runs"].values()]
    run_dirs = ctx.train_many(cfgs)
    out = {}
    for name, run_dir in zip(names, run_dirs):
        model, cfg = load_run(run_dir)
        task = make_task(cfg.task)
        xs, ys, _ = eval_prompts(task, params["eval_prompts"], cfg.task.n_points, 1000 + ctx.seed)
        preds = {"transformer": model_preds(model, xs, ys)}
        if task.prior is not None:
            preds["bayes"] = np.asarray(task.bayes_prefixes(xs, ys))
        else:
            preds["bayes"] = _lowrank_bayes(task, params, ctx.seed)(xs, ys)
            if cfg.task.noise == 0:  # from k = d on, w is identified: the posterior mean is the interpolant
                preds["bayes"][:, task.d:] = np.asarray(ols_prefixes(xs, ys))[:, task.d:]
        if not (name == "dense" and cfg.task.noise == 0):  # noiseless dense: OLS is the Bayes predictor itself
            preds["ols"] = np.asarray(ols_prefixes(xs, ys))
        preds["lasso"] = np.asarray(lasso_prefixes(xs, ys, alpha=0.01))
        curves, div = curves_and_divergence(preds, ys, float(task.y_second_moment))
        out[name] = {"k": np.arange(cfg.task.n_points), "d": cfg.task.d, "task": repr(task), "run_dir": str(run_dir),
                     "names": list(preds), "curves": curves, "divergence": div,
                     "bayes_is_mc": task.prior is None}
        ctx.log(f"[prism-priors] {name}: mean SPD " + ", ".join(
            f"{b} {float(np.mean(v[1:])):.4f}" for b, v in div.items()))
    return out


def claims(results: dict, params: dict) -> list:
    out = []
    for name in PRIORS:
        if name not in results:
            continue
        r = results[name]
        spd = {b: float(np.mean(np.asarray(v)[1:])) for b, v in r["divergence"].items()}
        proxies = [b for b in spd if b != "bayes"]
        best = min(proxies, key=lambda b: spd[b])
        value = ratio(spd["bayes"], spd[best])
        what = "Monte Carlo Bayes" if r["bayes_is_mc"] else "exact Bayes"
        out.append(Claim(f"{name}_spd_bayes_over_best_proxy", value, 1.0, value < 1.0,
                         f"{name} prior: mean_k SPD(transformer, {what}) / min over {'/'.join(proxies)} of "
                         f"SPD(transformer, proxy) < 1 (closest proxy: {best})"))
    return out


def summary(results: dict, params: dict) -> str:
    lines = []
    for name in PRIORS:
        r = results[name]
        spd = ", ".join(f"{b} {float(np.mean(np.asarray(v)[1:])):.4f}" for b, v in r["divergence"].items())
        err = ", ".join(f"{b} {float(np.asarray(c[0])[r['d']]):.3f}" for b, c in r["curves"].items())
        lines.append(f"{name} ({r['task']}): error at k = d: {err}; mean SPD from the transformer: {spd}")
    return "\n".join(lines)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(PRIORS), figsize=(4.2 * len(PRIORS), 7.4), constrained_layout=True)
    for j, name in enumerate(PRIORS):
        r = results[name]
        k = np.asarray(r["k"])
        bayes_label = "Bayes (Monte Carlo)" if r["bayes_is_mc"] else LABELS["bayes"]
        for b in r["names"]:
            mean, lo, hi = (np.clip(np.asarray(a), 1e-4, 3) for a in r["curves"][b])
            st = STYLES.get(b, {})
            axes[0, j].plot(k, mean, label=bayes_label if b == "bayes" else LABELS.get(b, b), **st)
            axes[0, j].fill_between(k, lo, hi, color=st.get("color"), alpha=0.12, lw=0)
            if b != "transformer":
                spd = np.clip(np.asarray(r["divergence"][b]), 1e-5, None)
                axes[1, j].plot(k[1:], spd[1:], label=bayes_label if b == "bayes" else LABELS.get(b, b), **st)
        axes[0, j].set_title(f"{name}: {r['task']}", fontsize=10)
        axes[0, j].set_ylabel("normalised squared error")
        axes[1, j].set_ylabel("SPD(transformer, predictor)")
        for ax in axes[:, j]:
            ax.set_yscale("log")
            ax.set_xlabel("in-context examples k")
            ax.axvline(r["d"], color="0.6", ls=":", lw=1)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle("Bayesian prism (Panwar et al. 2024): per prior, is the transformer closer to Bayes than to the "
                 "proxies? (top: error, bottom: prediction divergence; dotted line k = d)", fontsize=11)
    return fig
