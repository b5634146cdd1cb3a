"""Figure ``prism-fourier``: Fourier series with a random maximum frequency, and the simplicity bias.

Panwar et al. 2024 ("In-context learning through the Bayesian prism", Sec. 5): functions
f(x) = a_0 + sum_{j <= N} a_j cos(pi j x / L) + b_j sin(pi j x / L) on x ~ U[-L, L], with the
maximum frequency N itself uniform on 1..N_max (task ``fourier-mixture``). The Bayes
predictor is BMA over N (:func:`estimators.bayes.fourier_mixture_prior`); early in the
prompt the posterior favours small N, so BMA's predictions are *simple* (low frequency).
Panwar et al. find the transformer shows the same simplicity bias.

Measured on fresh prompts (``eval_generator(1000 + seed)``):

- error curves and prediction divergence of the transformer from BMA and from the Bayes
  predictor of each fixed N (one Gaussian component of the mixture);
- the spectrum of the function each predictor implies after k examples: the context is
  held fixed, the predictor is queried on a grid of ``4 N_max + 1`` points of [-L, L], the
  answers are fitted by least squares on the Fourier features up to N_max, and the energy
  E_j = a_j^2 + b_j^2 per frequency j >= 1 gives the spectral centroid sum_j j E_j / sum_j E_j.
  The same is computed for the true functions.

Claims: the transformer is closer (mean_k SPD) to BMA than to every fixed-N Bayes
predictor; at k = ``k_early`` its spectral centroid is below that of the true functions
(simplicity bias).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from figures import Claim
from figures._common import (curves_and_divergence, eval_prompts, load_run, model_preds, ratio, resolve_runs,
                             run_config)

NAME = "prism-fourier"
DESCRIPTION = "Fourier series with random max frequency: transformer vs BMA over frequencies; simplicity bias"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 5 h on one H100: one 500k-step 12-layer "
                  "width-256 run (N_max = 10, 41 points) at an assumed ~30 steps/s, plus minutes of spectra")
VERSION = 1

PRESETS = {
    "tiny": {"seed": 0, "eval_prompts": 64, "n_contexts": 16, "k_early": 2, "spectrum_ks": [1, 2, 4, 6],
             "runs": {"fourier": ["fourier-quick", {
                 "task.name": "fourier-mixture", "task.kwargs.max_freq": 2, "task.n_points": 7,
                 "model.n_positions": 7, "model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16,
                 "train.steps": 30, "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
                 "train.checkpoint_every": 30, "train.device": "cpu"}]}},
    # CPU minutes: N ~ U{1..4} on [-5, 5], 21-point prompts, 3-layer width-64 GPT, 4000 steps
    "quick": {"seed": 0, "eval_prompts": 1000, "n_contexts": 200, "k_early": 3,
              "spectrum_ks": [1, 2, 3, 4, 6, 8, 12, 16, 20], "runs": {"fourier": ["fourier-quick", {
                  "task.name": "fourier-mixture", "task.kwargs.max_freq": 4, "train.steps": 4000,
                  "train.eval_prompts": 256, "train.checkpoint_every": 1000}]}},
    # Panwar's scale: N ~ U{1..10}, 41 points, 12 layers, 500k steps (GPU)
    "paper": {"seed": 0, "eval_prompts": 4000, "n_contexts": 500, "k_early": 5,
              "spectrum_ks": [1, 2, 3, 5, 8, 12, 16, 20, 25, 30, 40], "runs": {"fourier": ["fourier-paper", {}]}},
}


def resolve(params: dict) -> dict:
    return resolve_runs(params)


def spectrum(values: np.ndarray, grid: np.ndarray, features) -> np.ndarray:
    """Energy a_j^2 + b_j^2 per frequency j = 1..N_max of the least-squares Fourier fit of ``values`` (..., m).

    >>> from estimators.bayes import FourierFeatures
    >>> g = np.linspace(-1, 1, 9)[:, None]
    >>> np.round(spectrum(np.cos(np.pi * 2 * g[:, 0]), g, FourierFeatures(2, 1.0)), 6)
    array([0., 1.])
    """
    phi = np.asarray(features(grid), dtype=np.float64)  # (m, 2N + 1)
    coef = np.linalg.lstsq(phi, np.moveaxis(np.asarray(values, dtype=np.float64), -1, 0).reshape(len(grid), -1),
                           rcond=None)[0]  # (2N + 1, B)
    n = (phi.shape[1] - 1) // 2
    energy = coef[1:n + 1] ** 2 + coef[n + 1:] ** 2  # (N, B)
    return np.moveaxis(energy.reshape((n,) + np.asarray(values).shape[:-1]), 0, -1)


def centroid(energy: np.ndarray) -> np.ndarray:
    """Spectral centroid sum_j j E_j / sum_j E_j over the last axis (frequencies 1..N)."""
    j = np.arange(1, energy.shape[-1] + 1)
    return (energy * j).sum(-1) / np.maximum(energy.sum(-1), 1e-12)


def _fixed_n_prefixes(prior, component, noise: float, xs, ys) -> np.ndarray:
    """The Bayes predictor of one fixed maximum frequency (one Gaussian component on the features)."""
    return np.asarray(component.predict_prefixes(prior.features(xs), ys, noise))


def compute(params: dict, ctx) -> dict:
    from icl.evaluate import model_prefix_fn, query_predictions
    from icl.tasks import make_task

    (preset, overrides), = params["runs"].values()
    run_dir, = ctx.train_many([run_config(preset, overrides, params["seed"])])
    model, cfg = load_run(run_dir)
    task = make_task(cfg.task)
    prior, noise, n_max = task.prior, cfg.task.noise, task.max_freq
    xs, ys, coefs = eval_prompts(task, params["eval_prompts"], cfg.task.n_points, 1000 + ctx.seed)
    fixed = {}
    for i, comp in enumerate(prior.prior.components):
        fixed[f"N={i + 1}"] = partial(_fixed_n_prefixes, prior, comp, noise)
    predictors = {"transformer": model_prefix_fn(model), "bayes": lambda a, b: np.asarray(task.bayes_prefixes(a, b)),
                  **fixed}
    preds = {"transformer": model_preds(model, xs, ys)}
    preds.update({b: f(xs, ys) for b, f in predictors.items() if b != "transformer"})
    curves, div = curves_and_divergence(preds, ys, float(task.y_second_moment))
    post_n = np.asarray(prior.weights_prefixes(xs, ys, noise))  # (P, n, N_max): posterior over N
    # spectra of the implied functions
    grid = np.linspace(-task.length, task.length, 4 * n_max + 1, endpoint=False)[:, None]
    c = min(int(params["n_contexts"]), len(xs))
    true_energy = spectrum(prior.evaluate(grid[None], coefs[:c]), grid, prior.feature_map)  # (c, N)
    cent = {"transformer": [], "bayes": []}
    energy = {"transformer": [], "bayes": []}
    for k in params["spectrum_ks"]:
        for b in cent:
            vals = query_predictions(predictors[b], xs[:c, :k], ys[:c, :k], grid)  # (c, m)
            e = spectrum(vals, grid, prior.feature_map)
            energy[b].append(e.mean(0))
            cent[b].append(float(np.mean(centroid(e))))
    ctx.log(f"[prism-fourier] spectral centroid per k {params['spectrum_ks']}: transformer "
            f"{np.round(cent['transformer'], 2).tolist()}, BMA {np.round(cent['bayes'], 2).tolist()}, "
            f"truth {float(np.mean(centroid(true_energy))):.2f}")
    return {"k": np.arange(cfg.task.n_points), "task": repr(task), "n_max": n_max, "run_dir": str(run_dir),
            "names": list(preds), "curves": curves, "divergence": div, "posterior_N_mean": post_n.mean(0),
            "spectrum_ks": list(params["spectrum_ks"]), "centroid": cent,
            "energy": {b: np.asarray(v) for b, v in energy.items()}, "true_energy": true_energy.mean(0),
            "true_centroid": float(np.mean(centroid(true_energy)))}


def claims(results: dict, params: dict) -> list:
    spd = {b: float(np.mean(np.asarray(v)[1:])) for b, v in results["divergence"].items()}
    fixed = [b for b in spd if b.startswith("N=")]
    best = min(fixed, key=lambda b: spd[b])
    r1 = ratio(spd["bayes"], spd[best])
    ke = int(params["k_early"])
    i = list(results["spectrum_ks"]).index(ke)
    r2 = ratio(results["centroid"]["transformer"][i], results["true_centroid"])
    return [
        Claim("spd_bma_over_best_fixed_N", r1, 1.0, r1 < 1.0,
              f"mean_k SPD(transformer, BMA over N) / SPD(transformer, closest fixed-N Bayes = {best}) < 1"),
        Claim("early_centroid_over_truth", r2, 1.0, r2 < 1.0,
              f"k = {ke}: spectral centroid of the transformer's implied function / that of the true functions < 1 "
              f"(simplicity bias)"),
    ]


def summary(results: dict, params: dict) -> str:
    spd = ", ".join(f"{b} {float(np.mean(np.asarray(v)[1:])):.4f}" for b, v in results["divergence"].items())
    ks = results["spectrum_ks"]
    return (f"{results['task']}: mean SPD from the transformer: {spd}\n"
            f"spectral centroid at k = {ks}: transformer {np.round(results['centroid']['transformer'], 2).tolist()}, "
            f"BMA {np.round(results['centroid']['bayes'], 2).tolist()}, true functions "
            f"{results['true_centroid']:.2f}")


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    k, n_max = np.asarray(results["k"]), results["n_max"]
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    for b in results["names"]:
        mean = np.clip(np.asarray(results["curves"][b][0]), 1e-4, 3)
        if b == "transformer":
            st = dict(color="black", lw=2.4, marker="o", ms=3, zorder=10)
        elif b == "bayes":
            st = dict(color="tab:purple", lw=2.2, ls=":")
        else:
            st = dict(color=cmap(int(b[2:]) / (n_max + 1)), lw=1.1, ls="--")
        axes[0].plot(k, mean, label="BMA over N" if b == "bayes" else b, **st)
        if b != "transformer":
            axes[1].plot(k[1:], np.clip(np.asarray(results["divergence"][b])[1:], 1e-5, None),
                         label="BMA over N" if b == "bayes" else f"Bayes, {b}", **st)
    axes[0].set_ylabel("normalised squared error")
    axes[0].set_title("(a) error curves")
    axes[1].set_ylabel("SPD(transformer, predictor)")
    axes[1].set_title("(b) divergence of the transformer")
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.set_xlabel("in-context examples k")
    ks = results["spectrum_ks"]
    axes[2].plot(ks, results["centroid"]["transformer"], color="black", marker="o", lw=2.2, label="transformer")
    axes[2].plot(ks, results["centroid"]["bayes"], color="tab:purple", marker="s", ls=":", lw=2, label="BMA")
    axes[2].axhline(results["true_centroid"], color="tab:red", ls="--", label="true functions")
    axes[2].set_xlabel("in-context examples k")
    axes[2].set_ylabel("spectral centroid (frequency)")
    axes[2].set_title("(c) simplicity bias: implied frequency")
    freqs = np.arange(1, n_max + 1)
    e_t = np.asarray(results["energy"]["transformer"])
    for i, kk in enumerate(ks[:4]):
        axes[3].plot(freqs, e_t[i], marker="o", color=cmap(i / 4), label=f"transformer, k = {kk}")
    axes[3].plot(freqs, np.asarray(results["true_energy"]), color="tab:red", ls="--", label="true functions")
    axes[3].set_xlabel("frequency j")
    axes[3].set_ylabel(r"mean energy $a_j^2 + b_j^2$")
    axes[3].set_title("(d) spectrum of the implied function, early k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Fourier series with random max frequency (Panwar et al. 2024): {results['task']}", fontsize=12)
    return fig
