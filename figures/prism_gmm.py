"""Figure ``prism-gmm``: the Gaussian mixture of tasks and the posterior weight over components.

Panwar et al. 2024 ("In-context learning through the Bayesian prism", Sec. 4, GMM tasks):
w ~ 1/2 N(+mu, I) + 1/2 N(-mu, I) with mu = 3 e_1, noiseless. The Bayes predictor is Bayesian
model averaging (BMA) over the two components,

    f_BMA(x) = beta_+ x^T m_+ + (1 - beta_+) x^T m_-,
    beta_+ ∝ 1/2 N(y; X mu, X X^T + sigma^2 I),

where m_c is the posterior mean of component c alone ("component c's ridge", shrunk towards
+-mu; :class:`estimators.bayes.GaussianPrior`). A predictor's *implied* component weight at a
query writes its prediction in the same form,

    beta_hat = (f - x^T m_-) / (x^T m_+ - x^T m_-),

kept only where the two component predictions differ by more than ``min_gap`` sqrt(E[y^2])
(elsewhere the weight is not identified; from k = d on the noiseless components agree), clipped
to [0, 1], and compared with the exact beta_+ (``prior.weights_prefixes``).

Claims (95% paired-bootstrap intervals over evaluation prompts), both over k = 1..d-1, where the
components disagree (from k = d on every interpolating predictor equals BMA):

- the transformer follows BMA: mean SPD(transformer, BMA) / E[y^2] is at most 0.05. Controls:
  OLS (it ignores the mixture; on synthetic d = 5 prompts 0.21 from BMA), each single
  component's posterior mean (each is wrong on half the prompts; 0.53) and the zero predictor (0.71);
- its implied weight tracks the exact posterior weight: mean |beta_hat - beta_+| (per k over the
  identified prompts, then over k) is at most 0.1, a tenth of the weight's range. Controls: the
  prior weight 1/2, a single component (weight 1 or 0), and OLS, whose implied weight is 1/2
  exactly (it is odd in mu; about 0.42 from beta_+ on average, like the prior's).

Seeds: the run trains from ``seed``; evaluation prompts come from ``eval_generator(1000 + seed)``.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, model_preds, resolve_runs, run_config, spd_statistic

NAME = "prism-gmm"
DESCRIPTION = ("Gaussian mixture of tasks: transformer vs BMA, OLS and each component's posterior mean; "
               "implied vs exact posterior weight")
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 5 h on one H100: one 500k-step 12-layer "
                  "width-256 run at an assumed ~30 steps/s (bf16 + compile)")
VERSION = 2  # 2: per-prompt predictions and weights (bootstrap claims), OLS / components / zero as controls

SPD_THRESHOLD, WEIGHT_THRESHOLD = 0.05, 0.1
SPD_CONTROLS = ("ols", "ridge+", "ridge-", "zero")
WEIGHT_CONTROLS = ("prior", "ridge+", "ridge-", "ols")

PRESETS = {
    "tiny": {"seed": 0, "eval_prompts": 64, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-quick", {
        "task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_layer": 1, "model.n_head": 2,
        "model.n_embd": 16, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
        "train.checkpoint_every": 30, "train.device": "cpu"}]}},
    # CPU minutes: d = 5, mu = 3 e_1, 11-point prompts, 3-layer width-64 GPT, 3000 steps
    "quick": {"seed": 0, "eval_prompts": 2000, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-quick", {
        "train.steps": 3000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}]}},
    # Panwar's scale: d = 20, 41 points, 12 layers, 500k steps with the curriculum (GPU)
    "paper": {"seed": 0, "eval_prompts": 4000, "min_gap": 0.1, "runs": {"gmm": ["gaussian-mixture-paper", {}]}},
}
LABELS = {"transformer": "transformer", "bayes": "BMA (exact Bayes)", "ridge+": r"component $+\mu$ posterior mean",
          "ridge-": r"component $-\mu$ posterior mean", "ols": "OLS", "zero": "zero", "prior": "prior weight 1/2"}
STYLES = {"transformer": dict(color="black", lw=2.4, marker="o", ms=3.5, zorder=10),
          "bayes": dict(color="tab:purple", lw=2.2, ls=":"), "ridge+": dict(color="tab:red", lw=1.5, ls="--"),
          "ridge-": dict(color="tab:orange", lw=1.5, ls="-."), "ols": dict(color="tab:blue", lw=1.4),
          "zero": dict(color="0.55", lw=1.0, ls=":"), "prior": dict(color="tab:gray", lw=1.4, ls="--")}


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


def weights_of(preds: dict, y2: float, min_gap: float) -> dict:
    """Implied weight of +mu of every predictor (NaN where not identified), plus the prior's constant 1/2."""
    out = {b: implied_weight(p, preds["ridge+"], preds["ridge-"], np.sqrt(y2), min_gap) for b, p in preds.items()}
    out["prior"] = np.where(np.isfinite(out["bayes"]), 0.5, np.nan)
    return out


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
             "ols": np.asarray(ols_prefixes(xs, ys)), "zero": np.zeros_like(ys)}
    y2 = float(task.y_second_moment)
    curves, _ = curves_and_divergence(preds, ys, y2)
    beta = np.asarray(task.prior.weights_prefixes(xs, ys, cfg.task.noise))[..., 0]  # (P, n): weight of +mu
    weights = weights_of(preds, y2, params["min_gap"])
    ctx.log(f"[prism-gmm] identified fraction per k: {np.round(np.isfinite(weights['bayes']).mean(0), 3).tolist()}")
    return {"k": np.arange(cfg.task.n_points), "d": cfg.task.d, "task": repr(task), "run_dir": str(run_dir),
            "y2": y2, "ys": ys, "preds": preds, "names": list(preds), "curves": curves, "beta": beta,
            "weights": weights}


# ----------------------------------------------------------------------------- claims


def _ks(results: dict) -> np.ndarray:
    return np.arange(1, min(int(results["d"]), len(results["k"])))


def _spd_to_bma(results: dict):
    return spd_statistic(results["preds"], "bayes", _ks(results), float(results["y2"]))


def _weight_deviation(results: dict):
    """mean over k = 1..d-1 (with an identified prompt) of the mean over identified prompts of |w_label - beta|."""
    ks = _ks(results)
    beta = np.asarray(results["beta"])[:, ks]
    ok = np.isfinite(np.asarray(results["weights"]["bayes"])[:, ks])
    dev = {b: np.where(ok, np.abs(np.nan_to_num(np.asarray(w)[:, ks], nan=0.5) - beta), 0.0)
           for b, w in results["weights"].items()}

    def statistic(label, idx):
        count = ok[idx].sum(0)
        per_k = dev[label][idx].sum(0)[count > 0] / count[count > 0]
        return float(per_k.mean()) if per_k.size else float("nan")

    return statistic


def claims(results: dict, params: dict) -> list:
    n_prompts, d = int(np.asarray(results["ys"]).shape[0]), int(results["d"])
    common = dict(subject="transformer", direction="<=", n_units=n_prompts)
    return [
        Claim("follows_bma", f"d = {d}: mean over k = 1..d-1 of SPD(transformer, BMA) / E[y^2] is at most "
              f"{SPD_THRESHOLD}", threshold=SPD_THRESHOLD, controls=SPD_CONTROLS, statistic=_spd_to_bma(results),
              **common),
        Claim("implied_weight_tracks_posterior", f"d = {d}: mean over k = 1..d-1 of |implied weight of +mu - exact "
              f"posterior weight| (identified prompts) is at most {WEIGHT_THRESHOLD}", threshold=WEIGHT_THRESHOLD,
              controls=WEIGHT_CONTROLS, statistic=_weight_deviation(results), **common),
    ]


def summary(results: dict, params: dict) -> str:
    ks = _ks(results)
    idx = np.arange(np.asarray(results["ys"]).shape[0])
    err = ", ".join(f"{b} {float(np.mean(np.asarray(c[0])[ks])):.3f}" for b, c in results["curves"].items())
    spd, dev = _spd_to_bma(results), _weight_deviation(results)
    spds = ", ".join(f"{b} {spd(b, idx):.4f}" for b in results["preds"])
    devs = ", ".join(f"{b} {dev(b, idx):.3f}" for b in results["weights"])
    ident = np.round(np.isfinite(np.asarray(results["weights"]["bayes"])).mean(0)[ks], 3).tolist()
    return (f"{results['task']}, averages over k = 1..d-1:\nerror: {err}\nSPD to BMA: {spds}\n"
            f"|implied weight - posterior weight|: {devs} (BMA's own: an identity, 0 up to rounding)\n"
            f"identified fraction per k: {ident}")


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    k, d, y2 = np.asarray(results["k"]), int(results["d"]), float(results["y2"])
    ks = _ks(results)
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.9), constrained_layout=True)
    for b in results["names"]:
        if b == "zero":
            continue
        mean, lo, hi = (np.clip(np.asarray(a), 1e-4, 3) for a in results["curves"][b])
        axes[0].plot(k, mean, label=LABELS[b], **STYLES[b])
        axes[0].fill_between(k, lo, hi, color=STYLES[b]["color"], alpha=0.12, lw=0)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("normalised squared error")
    axes[0].set_title("(a) error curves")
    bma = np.asarray(results["preds"]["bayes"])
    for b in ("transformer", *SPD_CONTROLS):
        spd = ((np.asarray(results["preds"][b]) - bma) ** 2).mean(0) / y2
        axes[1].plot(k[1:], np.clip(spd[1:], 1e-5, None), label=LABELS[b], **STYLES[b])
    axes[1].axhline(SPD_THRESHOLD, color="0.3", ls="--", lw=1)
    axes[1].set_yscale("log")
    axes[1].set_ylabel("SPD(predictor, BMA) / E[y²]")
    axes[1].set_title("(b) distance to BMA (claim: mean over shaded k)")
    beta = np.asarray(results["beta"])
    ok = np.isfinite(np.asarray(results["weights"]["bayes"]))
    for b in ("transformer", *WEIGHT_CONTROLS):
        w = np.nan_to_num(np.asarray(results["weights"][b]), nan=0.5)
        per_k = [float(np.abs(w - beta)[ok[:, j], j].mean()) if ok[:, j].any() else np.nan for j in ks]
        axes[2].plot(ks, per_k, label=LABELS[b], **STYLES[b])
    axes[2].axhline(WEIGHT_THRESHOLD, color="0.3", ls="--", lw=1)
    axes[2].set_ylabel(r"mean $|\hat\beta_+ - \beta_+|$ (identified prompts)")
    axes[2].set_title(r"(c) implied vs exact posterior weight $\beta_+$")
    axes[2].set_xticks(ks)
    for ax in axes[1:3]:
        ax.axvspan(1, d - 1, color="0.92", zorder=0)
    bt = np.asarray(results["weights"]["transformer"])[:300]
    for kk, c in ((1, "tab:blue"), (2, "tab:green"), (max(1, d - 1), "tab:red")):
        axes[3].scatter(beta[:300, kk], bt[:, kk], s=9, alpha=0.5, color=c, label=f"k = {kk}")
    axes[3].plot([0, 1], [0, 1], color="0.4", lw=1)
    axes[3].set_xlabel(r"exact posterior weight $\beta_+$")
    axes[3].set_ylabel(r"transformer's implied weight $\hat\beta_+$")
    axes[3].set_title("(d) per prompt (identified only where the components differ)")
    for ax in axes[:3]:
        ax.set_xlabel("in-context examples k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Gaussian mixture of tasks (Panwar et al. 2024): {results['task']}, "
                 r"$w \sim \frac{1}{2}N(+\mu, I) + \frac{1}{2}N(-\mu, I)$; dashed: claim thresholds", fontsize=12)
    return fig
