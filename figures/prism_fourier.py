"""Figure ``prism-fourier``: Fourier series with a random maximum frequency, and the simplicity bias.

Panwar et al. 2024 ("In-context learning through the Bayesian prism", Sec. 5), with their task
as their public code draws it (``fourier_series_mixture``, ``standardize=True``): N uniform on
1..N_max, then f(x) = sum_{j <= N} a_j cos(pi j x / L) + b_j sin(pi j x / L) with a_j, b_j ~
N(0, 1/N) and no constant term, x ~ U[-L, L] (task ``fourier-mixture`` with ``intercept=False,
standardize=True``). The Bayes predictor is BMA over N (the task's prior); early in the prompt
the posterior favours small N, so BMA's predictions are *simple* (low frequency). Panwar et al.
find that the transformer follows BMA, simplicity bias included.

Measured on fresh prompts (``eval_generator(1000 + seed)``):

- error curves of the transformer, BMA, the Bayes predictor of each fixed N (one Gaussian
  component of the mixture) and the zero predictor;
- the spectrum of the function each predictor implies after k examples: the context is held
  fixed, the predictor is queried on a grid of ``4 N_max + 1`` points of [-L, L], the answers
  are fitted by least squares on the Fourier features up to N_max, and the energy
  E_j = a_j^2 + b_j^2 per frequency j >= 1 gives the spectral centroid sum_j j E_j / sum_j E_j.
  The same is computed for the true functions.

Claims (95% paired-bootstrap intervals over prompts, or over the ``n_contexts`` spectrum contexts):

- the transformer follows BMA over N: averaged over k = 1..2 N_max - 1 (from k = 2 N_max on every
  predictor with enough frequencies interpolates), SPD(transformer, BMA) / E[y^2] is at most 0.05.
  Controls: the fixed-N Bayes predictors at N = N_max (no simplicity bias; 0.16 from BMA on
  synthetic N_max = 4 prompts) and N = 1 (1.8), and the zero predictor (0.65);
- simplicity bias: at k = ``k_early`` the mean spectral centroid of the transformer's implied
  functions, divided by that of the true functions, is at most 1 (below the truth). Control:
  the fixed-N_max Bayes predictor, which spreads its prior energy evenly over the frequencies
  (1.37 on synthetic prompts at N_max = 4, k = 2). ``k_early`` is where BMA's own ratio is
  about 0.75 (N_max = 4: k = 2, 0.78; N_max = 10: k = 3, 0.76), printed in the summary as a
  check. A fixed small N (N = 1, ratio 0.56) passes this test by construction; it fails the first.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import curves_and_divergence, eval_prompts, load_run, resolve_runs, run_config, spd_statistic

NAME = "prism-fourier"
DESCRIPTION = "Fourier series with random max frequency: transformer vs BMA over frequencies; simplicity bias"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 5 h on one H100: one 500k-step 12-layer "
                  "width-256 run (N_max = 10, 41 points) at an assumed ~30 steps/s, plus minutes of spectra")
VERSION = 2  # 2: Panwar's prior (no constant, variance 1/N), per-prompt predictions and centroids, controls

SPD_THRESHOLD, CENTROID_THRESHOLD = 0.05, 1.0
_PANWAR = {"task.name": "fourier-mixture", "task.kwargs.intercept": False, "task.kwargs.standardize": True}
PRESETS = {
    "tiny": {"seed": 0, "eval_prompts": 64, "n_contexts": 16, "k_early": 1, "spectrum_ks": [1, 2, 4, 6],
             "runs": {"fourier": ["fourier-quick", {
                 **_PANWAR, "task.kwargs.max_freq": 2, "task.n_points": 7, "model.n_positions": 7,
                 "model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "train.steps": 30,
                 "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16, "train.checkpoint_every": 30,
                 "train.device": "cpu"}]}},
    # CPU minutes: N ~ U{1..4} on [-5, 5], 17-point prompts (4 N_max + 1), 3-layer width-64 GPT, 4000 steps
    "quick": {"seed": 0, "eval_prompts": 1000, "n_contexts": 200, "k_early": 2,
              "spectrum_ks": [1, 2, 3, 4, 6, 8, 12, 16], "runs": {"fourier": ["fourier-quick", {
                  **_PANWAR, "task.kwargs.max_freq": 4, "task.n_points": 17, "model.n_positions": 17,
                  "train.steps": 4000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}]}},
    # Panwar's scale: N ~ U{1..10}, 41 points, 12 layers, 500k steps (GPU)
    "paper": {"seed": 0, "eval_prompts": 4000, "n_contexts": 500, "k_early": 3,
              "spectrum_ks": [1, 2, 3, 5, 8, 12, 16, 20, 25, 30, 40], "runs": {"fourier": ["fourier-paper", {
                  "task.kwargs.intercept": False, "task.kwargs.standardize": True}]}},
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


def _n_coefficients(task) -> int:
    """Coefficients with nonzero prior variance at N = N_max: from this many pairs on the series is identified."""
    return 2 * task.max_freq + int(getattr(task, "intercept", True))


def compute(params: dict, ctx) -> dict:
    from icl.evaluate import model_prefix_fn
    from icl.tasks import make_task

    (preset, overrides), = params["runs"].values()
    run_dir, = ctx.train_many([run_config(preset, overrides, params["seed"])])
    model, cfg = load_run(run_dir)
    task = make_task(cfg.task)
    out = measure(task, model_prefix_fn(model), cfg.task.n_points, params, 1000 + ctx.seed, ctx.log)
    return {**out, "run_dir": str(run_dir)}


def measure(task, transformer, n_points: int, params: dict, seed: int, log=lambda msg: None) -> dict:
    """Predictions, error curves and implied spectra of ``transformer`` (a prefix function) and the baselines.

    Parameters
    ----------
    task : icl.tasks.FourierMixture
    transformer : callable
        ``predict_prefixes(xs, ys) -> preds`` (numpy in, float64 numpy out).
    n_points : int
    params : dict
        The figure's parameters (``eval_prompts``, ``n_contexts``, ``spectrum_ks``).
    seed : int
        Evaluation seed of the prompts (``eval_generator(seed)``).
    """
    from functools import partial

    from icl.metrics import query_predictions

    prior, noise, n_max = task.prior, task.noise, task.max_freq
    xs, ys, coefs = eval_prompts(task, params["eval_prompts"], n_points, seed)
    fixed = {f"N={i + 1}": partial(_fixed_n_prefixes, prior, comp, noise)
             for i, comp in enumerate(prior.prior.components)}
    predictors = {"transformer": transformer, "bayes": lambda a, b: np.asarray(task.bayes_prefixes(a, b)),
                  **fixed, "zero": lambda a, b: np.zeros_like(b)}
    preds = {b: np.asarray(f(xs, ys), dtype=np.float64) for b, f in predictors.items()}
    y2 = float(task.y_second_moment)
    curves, _ = curves_and_divergence(preds, ys, y2)
    post_n = np.asarray(prior.weights_prefixes(xs, ys, noise))  # (P, n, N_max): posterior over N
    # spectra of the implied functions, per context
    grid = np.linspace(-task.length, task.length, 4 * n_max + 1, endpoint=False)[:, None]
    c = min(int(params["n_contexts"]), len(xs))
    true_energy = spectrum(prior.evaluate(grid[None], coefs[:c]), grid, prior.feature_map)  # (c, N)
    spectral = ("transformer", "bayes", f"N={n_max}", "N=1")
    cent = {b: [] for b in spectral}
    energy = {b: [] for b in spectral}
    for k in params["spectrum_ks"]:
        for b in spectral:
            e = spectrum(query_predictions(predictors[b], xs[:c, :k], ys[:c, :k], grid), grid, prior.feature_map)
            energy[b].append(e.mean(0))
            cent[b].append(centroid(e))  # (c,)
    true_cent = centroid(true_energy)
    log(f"[prism-fourier] centroid / truth per k {params['spectrum_ks']}: " + "; ".join(
        f"{b} {np.round(np.mean(cent[b], axis=1) / true_cent.mean(), 2).tolist()}" for b in spectral))
    return {"k": np.arange(n_points), "task": repr(task), "n_max": n_max, "n_coefficients": _n_coefficients(task),
            "y2": y2, "ys": ys, "preds": preds, "names": list(preds), "curves": curves,
            "posterior_N_mean": post_n.mean(0), "spectrum_ks": list(params["spectrum_ks"]),
            "centroid": {b: np.asarray(v) for b, v in cent.items()}, "true_centroid": true_cent,
            "energy": {b: np.asarray(v) for b, v in energy.items()}, "true_energy": true_energy.mean(0)}


# ----------------------------------------------------------------------------- claims


def _ks(results: dict) -> np.ndarray:
    return np.arange(1, min(int(results["n_coefficients"]), len(results["k"])))


def _spd_to_bma(results: dict):
    return spd_statistic(results["preds"], "bayes", _ks(results), float(results["y2"]))


def _centroid_ratio(results: dict, k: int):
    i = list(results["spectrum_ks"]).index(k)
    cent = {b: np.asarray(v)[i] for b, v in results["centroid"].items()}
    truth = np.asarray(results["true_centroid"])

    def statistic(label, idx):
        return float(cent[label][idx].mean() / truth[idx].mean())

    return statistic


def claims(results: dict, params: dict) -> list:
    n_max, ke = int(results["n_max"]), int(params["k_early"])
    ks = _ks(results)
    return [
        Claim("follows_bma", f"N_max = {n_max}: mean over k = 1..{ks[-1]} of SPD(transformer, BMA over N) / E[y^2] "
              f"is at most {SPD_THRESHOLD}", threshold=SPD_THRESHOLD, direction="<=", subject="transformer",
              controls=(f"N={n_max}", "N=1", "zero"), statistic=_spd_to_bma(results),
              n_units=int(np.asarray(results["ys"]).shape[0])),
        Claim("simplicity_bias", f"k = {ke}: mean spectral centroid of the transformer's implied functions / that of "
              f"the true functions is at most {CENTROID_THRESHOLD:g}", threshold=CENTROID_THRESHOLD, direction="<=",
              subject="transformer", controls=(f"N={n_max}",), statistic=_centroid_ratio(results, ke),
              n_units=int(np.asarray(results["true_centroid"]).shape[0]), unit="contexts"),
    ]


def summary(results: dict, params: dict) -> str:
    ks, n_max = _ks(results), int(results["n_max"])
    err = ", ".join(f"{b} {float(np.mean(np.asarray(c[0])[ks])):.3f}" for b, c in results["curves"].items()
                    if b in ("transformer", "bayes", "N=1", f"N={n_max}", "zero"))
    spd = _spd_to_bma(results)
    idx = np.arange(np.asarray(results["ys"]).shape[0])
    spds = ", ".join(f"{b} {spd(b, idx):.4f}" for b in results["preds"])
    truth = float(np.mean(results["true_centroid"]))
    cents = "; ".join(f"{b} {np.round(np.mean(v, axis=1) / truth, 3).tolist()}" for b, v in results["centroid"].items())
    return (f"{results['task']}, averages over k = 1..{ks[-1]}:\nerror: {err}\nSPD to BMA: {spds}\n"
            f"spectral centroid / truth ({truth:.2f}) at k = {results['spectrum_ks']}: {cents}")


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    k, n_max = np.asarray(results["k"]), int(results["n_max"])
    shown = ("transformer", "bayes", "N=1", f"N={n_max}")
    styles = {"transformer": dict(color="black", lw=2.4, marker="o", ms=3, zorder=10),
              "bayes": dict(color="tab:purple", lw=2.2, ls=":"), "N=1": dict(color="tab:green", lw=1.4, ls="--"),
              f"N={n_max}": dict(color="tab:orange", lw=1.4, ls="-."), "zero": dict(color="0.55", lw=1.0, ls=":")}
    labels = {"transformer": "transformer", "bayes": "BMA over N", "N=1": "Bayes, fixed N = 1",
              f"N={n_max}": f"Bayes, fixed N = {n_max} (= N_max)", "zero": "zero"}
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.9), constrained_layout=True)
    for b in shown:
        axes[0].plot(k, np.clip(np.asarray(results["curves"][b][0]), 1e-4, 3), label=labels[b], **styles[b])
    bma, y2 = np.asarray(results["preds"]["bayes"]), float(results["y2"])
    for b in ("transformer", "N=1", f"N={n_max}", "zero"):
        spd = ((np.asarray(results["preds"][b]) - bma) ** 2).mean(0) / y2
        axes[1].plot(k[1:], np.clip(spd[1:], 1e-5, None), label=labels[b], **styles[b])
    axes[1].axhline(SPD_THRESHOLD, color="0.3", ls="--", lw=1)
    axes[1].axvspan(1, _ks(results)[-1], color="0.92", zorder=0)
    axes[0].set_ylabel("normalised squared error")
    axes[0].set_title("(a) error curves (clipped at 3)")
    axes[1].set_ylabel("SPD(predictor, BMA) / E[y²]")
    axes[1].set_title("(b) distance to BMA (claim: mean over shaded k)")
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.set_xlabel("in-context examples k")
    ks, truth = results["spectrum_ks"], float(np.mean(results["true_centroid"]))
    for b in shown:
        axes[2].plot(ks, np.mean(results["centroid"][b], axis=1) / truth, marker="o", label=labels[b], **{
            key: v for key, v in styles[b].items() if key != "marker"})
    axes[2].axhline(CENTROID_THRESHOLD, color="tab:red", ls="--", label="true functions")
    axes[2].axvline(int(params["k_early"]), color="0.5", ls=":")
    axes[2].set_xlabel("in-context examples k")
    axes[2].set_ylabel("spectral centroid / that of the true functions")
    axes[2].set_title(f"(c) simplicity bias: implied frequency (claim at k = {params['k_early']})")
    cmap = plt.get_cmap("viridis")
    freqs = np.arange(1, n_max + 1)
    e_t = np.asarray(results["energy"]["transformer"])
    for i, kk in enumerate(ks[:4]):
        axes[3].plot(freqs, e_t[i], marker="o", color=cmap(i / 4), label=f"transformer, k = {kk}")
    axes[3].plot(freqs, np.asarray(results["true_energy"]), color="tab:red", ls="--", label="true functions")
    axes[3].set_xlabel("frequency j")
    axes[3].set_xticks(freqs)
    axes[3].set_ylabel(r"mean energy $a_j^2 + b_j^2$")
    axes[3].set_title("(d) spectrum of the implied function, early k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5)
    fig.suptitle(f"Fourier series with random max frequency (Panwar et al. 2024): {results['task']}, "
                 f"N ~ U{{1..{n_max}}}, coefficients N(0, 1/N)", fontsize=12)
    return fig
