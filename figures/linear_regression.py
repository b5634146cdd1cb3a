"""Figure ``linear-regression``: a transformer against the linear baselines, noiseless and noisy.

The setting of Garg et al. 2022 (Fig. 2) with the comparisons of Akyurek et al. 2023
(Sec. 4): dense linear regression ``y = x^T w (+ noise)``, ``x ~ N(0, I_d)``,
``w ~ N(0, I_d)``. Two transformers are trained (noiseless, and noise variance
``sigma^2``), then scored on fresh evaluation prompts against least squares (OLS), ridge
with the Bayes penalty ``lam = sigma^2 / tau^2``, the exact Bayes posterior mean, one
step of gradient descent (learning rate tuned on separate prompts), 20 steps of gradient
descent (rate tuned the same way), averaging and 3-nearest neighbours. Panels: normalised squared error against
the number of in-context examples k (noiseless, noisy), and the prediction divergence
(Akyurek's SPD) of the transformer from each baseline (noisy).

Claims (95% paired-bootstrap intervals over evaluation prompts; each with controls that lack the
property and must fail the same test):

- noiseless: averaged over every k, the transformer's error is within 0.05 (normalised) of OLS's
  (Garg et al. 2022, Fig. 2: the curve matches least squares); controls: the zero predictor,
  averaging, one step of GD;
- noiseless: at k = 2d the transformer's error is within 0.05 of OLS's (same controls);
- noisy: averaged over every k, the transformer's error exceeds the Bayes-optimal ridge's by at
  most 0.05 (Akyurek et al. 2023, Sec. 4); controls: OLS (its interpolation spike at k = d), the
  zero predictor, averaging;
- noisy: averaged over every k, the transformer's prediction divergence (SPD) from Bayes ridge is
  at most 0.05; controls: OLS, the zero predictor, averaging. (A ratio SPD(ridge) / SPD(OLS) at
  k = d is not a claim here: OLS's spike there makes every predictor, zero included, pass it.)

Seeds: run ``seed`` trains both models (training streams); evaluation prompts come from
``eval_generator(1000 + seed)`` and the one-step-GD calibration prompts from
``eval_generator(2000 + seed)`` (both disjoint from training and from each other).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from figures import Claim
from figures._common import load_run, tune_gd_lr, run_config as _run_config

NAME = "linear-regression"
DESCRIPTION = "transformer vs OLS, Bayes ridge, GD, averaging, 3-NN on linear regression (Garg 2022 Fig. 2)"
PAPER_GPU_TIME = "not measured here (no GPU); estimate: a few hours per run on one A100-class GPU, 2 runs of 500k steps"
VERSION = 3  # 3: per-prompt predictions stored (claims with paired bootstrap intervals), the zero predictor

_EVAL = {"eval_prompts": 2000, "n_contexts": 64, "probes": True}
PRESETS = {
    # a few dozen steps: for the test suite (the claims are computed but not expected to hold)
    "tiny": {
        "seed": 0, "base_preset": "linear-quick", "noise": 0.25,
        "run": {"task.d": 3, "task.n_points": 7, "model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16,
                "model.n_positions": 7, "train.steps": 30, "train.batch_size": 16, "train.warmup": 5,
                "train.eval_prompts": 16, "train.checkpoint_every": 30, "train.device": "cpu"},
        "eval_prompts": 64, "n_contexts": 4, "probes": True,
    },
    # CPU minutes: d = 5, prompts of 21 pairs, Garg's curriculum (dims 2 -> 5, points 9 -> 21 over the
    # first 1200 steps); the two runs train in parallel, one core each (the main job of `make demo`)
    "quick": {
        "seed": 0, "base_preset": "linear-quick", "noise": 0.25,
        "run": {"task.n_points": 21, "model.n_positions": 21, "model.n_layer": 3, "model.n_embd": 64,
                "train.steps": 4000, "train.curriculum.enabled": True, "train.curriculum.dims_start": 2,
                "train.curriculum.points_start": 9, "train.curriculum.interval": 200, "train.eval_prompts": 256,
                "train.checkpoint_every": 1000},
        **_EVAL,
    },
    # the paper's scale: d = 20, 41 points, 12 layers, 500k steps with the curriculum (GPU)
    "paper": {"seed": 0, "base_preset": "linear-paper", "noise": 0.25, "run": {}, "eval_prompts": 10000,
              "n_contexts": 256, "probes": True},
}

LABELS = {
    "transformer": "transformer",
    "ols": "least squares (OLS)",
    "ridge": r"ridge, Bayes $\lambda=\sigma^2/\tau^2$",
    "bayes": "exact Bayes (posterior mean)",
    "gd-1step": "GD, 1 step (tuned rate)",
    "gd": "GD, 20 steps (tuned rate)",
    "averaging": "averaging",
    "3-nn": "3-NN",
}
STYLES = {
    "transformer": dict(color="black", lw=2.6, marker="o", ms=4, zorder=10),
    "ols": dict(color="tab:blue", lw=1.8, ls="--"),
    "ridge": dict(color="tab:red", lw=1.8),
    "bayes": dict(color="tab:purple", lw=2.2, ls=":"),
    "gd-1step": dict(color="tab:olive", lw=1.5, ls="--", marker="v", ms=4),
    "gd": dict(color="tab:green", lw=1.5, ls="-."),
    "averaging": dict(color="tab:orange", lw=1.5),
    "3-nn": dict(color="tab:brown", lw=1.5, ls=":", marker="s", ms=3),
}
FLOOR, CEIL = 1e-3, 3.0  # y-axis range: noisy panel from 10 FLOOR, noiseless from FLOOR / 10; clipped outside


def run_config(params: dict, noise: float):
    """The resolved :class:`icl.config.RunConfig` of one of the figure's two runs."""
    return _run_config(params["base_preset"], {**params["run"], "task.noise": float(noise)}, params["seed"])


def _zero(xs, ys):
    """The zero (prior-mean) predictor: a control every claim must fail."""
    return np.zeros_like(ys)


def _settings(params: dict) -> dict[str, float]:
    return {"noiseless": 0.0, "noisy": float(params["noise"])}


def resolve(params: dict) -> dict:
    """The parameters plus both resolved run configs (so a changed preset file invalidates the cache)."""
    from icl.config import config_to_dict

    runs = {s: config_to_dict(run_config(params, nz)) for s, nz in _settings(params).items()}
    return {**params, "resolved_runs": runs}


def compute(params: dict, ctx) -> dict:
    from estimators import gd_prefixes
    from icl.evaluate import evaluate_model, format_table
    from icl.tasks import make_task

    settings = _settings(params)
    run_dirs = ctx.train_many([run_config(params, noise) for noise in settings.values()])
    out: dict = {}
    for (setting, noise), run_dir in zip(settings.items(), run_dirs):
        model, cfg = load_run(run_dir)  # under torchrun, on the rank's own GPU
        task = make_task(cfg.task)
        lr1, lr20 = (tune_gd_lr(task, cfg.task.n_points, 2000 + ctx.seed, steps) for steps in (1, 20))
        extra = {"gd": partial(gd_prefixes, lr=lr20, steps=20), "gd-1step": partial(gd_prefixes, lr=lr1, steps=1),
                 "zero": _zero}
        res = evaluate_model(model, task, n_prompts=params["eval_prompts"], n_points=cfg.task.n_points,
                             seed=1000 + ctx.seed, extra=extra, n_contexts=params["n_contexts"],
                             probes=params["probes"])
        res["names"] = sorted(res["names"], key=lambda nm: list(LABELS).index(nm) if nm in LABELS else len(LABELS))
        res.update(run_dir=str(run_dir), d=cfg.task.d, noise=noise, gd_lr={"1 step": lr1, "20 steps": lr20},
                   table=format_table(res))
        out[setting] = res
    return out


def _errors(r: dict) -> dict[str, np.ndarray]:
    """Per-prompt normalised squared errors (n_prompts, n) of every predictor."""
    ys, y2 = np.asarray(r["ys"]), float(r["y2"])
    return {name: (np.asarray(p) - ys) ** 2 / y2 for name, p in r["preds"].items()}


def claims(results: dict, params: dict) -> list:
    free, noisy = results["noiseless"], results["noisy"]
    d, n = int(free["d"]), len(free["k"])
    k2 = min(2 * d, n - 1)
    ks = np.arange(1, n)  # k = 0 is the prior's prediction for every predictor
    err0, err1 = _errors(free), _errors(noisy)
    y2 = float(noisy["y2"])
    pred1 = {name: np.asarray(p) for name, p in noisy["preds"].items()}

    def mean_gap_to_ols(label, idx):
        return float(np.mean(np.abs(err0[label][idx][:, ks].mean(0) - err0["ols"][idx][:, ks].mean(0))))

    def gap_to_ols_at_2d(label, idx):
        return float(err0[label][idx, k2].mean() - err0["ols"][idx, k2].mean())

    def excess_over_bayes(label, idx):
        return float(np.mean(err1[label][idx][:, ks].mean(0) - err1["ridge"][idx][:, ks].mean(0)))

    def spd_to_ridge(label, idx):
        return float(np.mean(((pred1[label][idx][:, ks] - pred1["ridge"][idx][:, ks]) ** 2).mean(0) / y2))

    noise = f"noise {noisy['noise']:g}"
    common = dict(threshold=0.05, direction="<=", subject="transformer")
    return [
        Claim("noiseless_mean_gap_to_ols", "noiseless: averaged over k = 1..n-1, |error(transformer) - error(OLS)| "
              "is at most 0.05", statistic=mean_gap_to_ols, n_units=err0["ols"].shape[0],
              controls=("zero", "averaging", "gd-1step"), **common),
        Claim("noiseless_gap_to_ols_at_2d", f"noiseless, k = 2d = {k2}: error(transformer) - error(OLS) is at most "
              "0.05", statistic=gap_to_ols_at_2d, n_units=err0["ols"].shape[0],
              controls=("zero", "averaging", "gd-1step"), **common),
        Claim("noisy_mean_excess_over_bayes_ridge", f"{noise}: averaged over k = 1..n-1, error(transformer) - "
              "error(Bayes ridge) is at most 0.05", statistic=excess_over_bayes, n_units=err1["ols"].shape[0],
              controls=("ols", "zero", "averaging"), **common),
        Claim("noisy_mean_spd_to_bayes_ridge", f"{noise}: averaged over k = 1..n-1, SPD(transformer, Bayes ridge) "
              "is at most 0.05", statistic=spd_to_ridge, n_units=err1["ols"].shape[0],
              controls=("ols", "zero", "averaging"), **common),
    ]


def summary(results: dict, params: dict) -> str:
    parts = []
    for setting in ("noiseless", "noisy"):
        r = results[setting]
        parts.append(f"[{setting}: d = {r['d']}, noise = {r['noise']:g}, {r['n_prompts']} eval prompts, "
                     f"normalised error +- 95% half-width; "
                     f"tuned GD rates: 1 step {r['gd_lr']['1 step']:.3f}, 20 steps {r['gd_lr']['20 steps']:.3f}]\n"
                     f"{r['table']}")
    return "\n\n".join(parts)


def _error_panel(ax, r: dict, title: str) -> None:
    k = np.asarray(r["k"])
    floor = FLOOR * 10 if r["noise"] > 0 else FLOOR / 10  # the noise floor vs noiseless errors near 0
    for name in (nm for nm in r["names"] if nm in LABELS):
        mean, lo, hi = (np.clip(np.asarray(a), floor, CEIL) for a in r["curves"][name])
        style = dict(STYLES.get(name, {}))
        ax.plot(k, mean, label=LABELS.get(name, name), **style)
        ax.fill_between(k, lo, hi, color=style.get("color"), alpha=0.12, lw=0)
    _decorate(ax, r, title, "normalised squared error")
    ax.set_ylim(floor, CEIL)


def _decorate(ax, r: dict, title: str, ylabel: str) -> None:
    from matplotlib.ticker import MaxNLocator

    d = r["d"]
    ax.set_yscale("log")
    ax.axvline(d, color="0.5", ls=":", lw=1)
    ax.text(d, 1.02, " k = d", transform=ax.get_xaxis_transform(), color="0.35", fontsize=9, ha="center")
    ax.set_xlabel("in-context examples k")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11, pad=14)
    ax.set_xlim(0, len(r["k"]) - 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    free, noisy = results["noiseless"], results["noisy"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.0), constrained_layout=True)
    _error_panel(axes[0], free, f"(a) noiseless, d = {free['d']} (Bayes = OLS here)")
    _error_panel(axes[1], noisy, rf"(b) noisy, $\sigma^2$ = {noisy['noise']:g}, d = {noisy['d']}")
    k = np.asarray(noisy["k"])
    for name in noisy["names"]:
        if name == "transformer" or name not in LABELS:
            continue
        spd = np.clip(np.asarray(noisy["divergence"]["transformer"][name]), FLOOR / 10, None)
        ax = axes[2]
        ax.plot(k[1:], spd[1:], label=LABELS.get(name, name), **STYLES.get(name, {}))
    _decorate(axes[2], noisy, "(c) noisy: divergence of the transformer from each baseline",
              "SPD(transformer, baseline) / E[y²]")
    axes[2].set_xlim(1, len(k) - 1)
    by_label = {}
    for ax in axes[:2]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            by_label.setdefault(lab, h)
    labels = [LABELS[n] for n in LABELS if LABELS[n] in by_label]  # the order of LABELS
    fig.legend([by_label[lab] for lab in labels], labels, loc="outside lower center", ncol=4, fontsize=10,
               frameon=False)
    fig.suptitle("In-context linear regression: transformer vs. baselines "
                 "(mean over fresh prompts, shaded: 95% band; errors clipped to the axes)", fontsize=12)
    return fig
