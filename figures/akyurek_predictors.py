"""Figure ``akyurek-predictors``: which learning algorithm does in-context learning implement?

Akyurek et al. 2023 ("What learning algorithm is in-context learning? Investigations with
linear models", Sec. 4-5) compare trained transformers of several depths with explicit
learners on linear regression y = x^T w (+ noise), w ~ N(0, I_d):

- prediction divergence SPD_k(transformer, A) = mean (f_k - g_k)^2 / E[y^2]
  (:func:`icl.evaluate.prediction_divergence`),
- implicit-weight distance ILWD_k = ||w_imp(transformer) - w_A||^2 with the transformer's
  weights read off by least squares on 2d + 1 probe queries (:func:`icl.evaluate.implicit_weights`),

for A among gradient descent (1 step and ``gd_steps`` steps from 0, rates tuned on separate
prompts, :func:`figures._common.tune_gd_lr`), ridge with several lam (including
the Bayes lam = sigma^2 / tau^2), and OLS. Linear probes (:func:`icl.evaluate.linear_probe`)
read w and X^T y from the last x token's state of each layer; the control probe fits the
same read-out to targets shuffled across prompts (it can only fit noise).

Claims: noiseless, the deepest model is closest (mean_k SPD) to OLS; noisy, closest to the
Bayes ridge; the shallowest model is relatively closer to GD than the deepest one
(SPD to the nearer GD over SPD to the Bayes predictor); the best layer's probe R^2 for w and
for X^T y beats the shuffled-target control.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from figures import Claim
from figures._common import eval_prompts, load_run, model_preds, ratio, run_config, tune_gd_lr

NAME = "akyurek-predictors"
DESCRIPTION = "transformers of several depths vs GD, ridge (several lam) and OLS: SPD, ILWD, probes (Akyurek 2023)"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 8 x 3 h on one H100: depths 1, 2, 4, 12 "
                  "x {noiseless, noisy}, 500k steps each at width 256, an assumed ~30-120 steps/s by depth")
VERSION = 1

_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_head": 2, "model.n_embd": 16,
             "train.steps": 30, "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
             "train.checkpoint_every": 30, "train.device": "cpu"}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "linear-quick", "depths": [1, 2], "noise": 0.25, "lams": [0.1, 1.0],
             "gd_steps": 5, "eval_prompts": 64, "n_contexts": 8, "run": _TINY_RUN},
    # CPU minutes: d = 5, 11-point prompts, width-64 GPTs of depth 1 and 3, noiseless and sigma^2 = 0.25, 3000 steps
    "quick": {"seed": 0, "base_preset": "linear-quick", "depths": [1, 3], "noise": 0.25, "lams": [0.05, 1.0],
              "gd_steps": 5, "eval_prompts": 2000, "n_contexts": 64,
              "run": {"train.steps": 3000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}},
    # Akyurek's scale: d = 8 (their Sec. 4), 17 points, depths 1, 2, 4, 12 at width 256, 500k steps (GPU)
    "paper": {"seed": 0, "base_preset": "linear-paper", "depths": [1, 2, 4, 12], "noise": 0.25,
              "lams": [0.05, 1.0], "gd_steps": 10, "eval_prompts": 5000, "n_contexts": 256,
              "run": {"task.d": 8, "task.n_points": 17, "model.n_positions": 17, "train.curriculum.enabled": False}},
}
COLORS = {"ols": "tab:blue", "ridge-bayes": "tab:red", "gd-1": "tab:olive", "gd-m": "tab:green"}


def _jobs(params: dict) -> list[tuple[str, int, float]]:
    return [(s, int(L), nz) for s, nz in (("noiseless", 0.0), ("noisy", float(params["noise"])))
            for L in params["depths"]]


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "model.n_layer": L, "task.noise": nz}, params["seed"])
            for _, L, nz in _jobs(params)]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


def baselines(params: dict, task, n_points: int, seed: int) -> dict:
    """name -> all-prefix predictor: OLS, ridge at each lam and at the Bayes lam, GD 1 and ``gd_steps`` steps."""
    from estimators import gd_prefixes, ols_prefixes, ridge_prefixes

    out = {"ols": ols_prefixes}
    bayes_lam = float(task.noise) / float(task.scale) ** 2
    if bayes_lam > 0:
        out["ridge-bayes"] = partial(ridge_prefixes, lam=bayes_lam)
    for lam in params["lams"]:
        if not np.isclose(lam, bayes_lam):
            out[f"ridge-{lam:g}"] = partial(ridge_prefixes, lam=float(lam))
    m = int(params["gd_steps"])
    lr1, lrm = (tune_gd_lr(task, n_points, seed, steps) for steps in (1, m))
    out["gd-1"] = partial(gd_prefixes, lr=lr1, steps=1)
    out["gd-m"] = partial(gd_prefixes, lr=lrm, steps=m)
    return out


def probes(model, xs: np.ndarray, ys: np.ndarray, w: np.ndarray, seed: int) -> dict:
    """Held-out R^2 per layer of linear read-outs of w, X^T y and shuffled-target controls."""
    import torch

    from icl.evaluate import linear_probe
    from icl.model import x_positions

    device = next(model.parameters()).device
    with torch.no_grad():
        states = model.hidden_states(torch.as_tensor(xs, dtype=torch.float32, device=device),
                                     torch.as_tensor(ys, dtype=torch.float32, device=device))
    feats = [x_positions(h)[:, -1].double().cpu().numpy() for h in states]
    targets = {"w": w, "X^T y": np.einsum("bnd,bn->bd", xs[:, :-1], ys[:, :-1])}
    half = len(xs) // 2
    perm = np.random.default_rng([seed, 0x7368]).permutation(half)  # "sh": the control's shuffle
    out = {}
    for name, t in targets.items():
        out[name] = [linear_probe(h[:half], t[:half], h[half:], t[half:], lam=1e-3) for h in feats]
        out[f"{name} (shuffled)"] = [linear_probe(h[:half], t[:half][perm], h[half:], t[half:], lam=1e-3)
                                     for h in feats]
    return out


def compute(params: dict, ctx) -> dict:
    from icl.evaluate import implicit_weights, model_prefix_fn, prediction_divergence, report_ks
    from icl.tasks import make_task

    run_dirs = ctx.train_many(_configs(params))
    out: dict = {"runs": []}
    for (setting, depth, noise), run_dir in zip(_jobs(params), run_dirs):
        model, cfg = load_run(run_dir)
        task = make_task(cfg.task)
        n, d = cfg.task.n_points, cfg.task.d
        base = baselines(params, task, n, 2000 + ctx.seed)
        xs, ys, w = eval_prompts(task, params["eval_prompts"], n, 1000 + ctx.seed)
        f_t = model_preds(model, xs, ys)
        y2 = float(task.y_second_moment)
        spd = {b: np.asarray(prediction_divergence(f_t, np.asarray(fn(xs, ys)), y2).mean) for b, fn in base.items()}
        ks = report_ks(d, n)
        probe_xs = np.random.default_rng([ctx.seed, 0x696C]).standard_normal((2 * d + 1, d))
        c = min(int(params["n_contexts"]), len(xs))
        ilwd = {b: [] for b in base}
        for k in ks:
            w_t, _ = implicit_weights(model_prefix_fn(model), xs[:c, :k], ys[:c, :k], probe_xs)
            for b, fn in base.items():
                w_b, _ = implicit_weights(fn, xs[:c, :k], ys[:c, :k], probe_xs)
                ilwd[b].append(float(np.mean(np.sum((w_t - w_b) ** 2, axis=-1))))
        entry = {"setting": setting, "depth": depth, "noise": noise, "d": d, "k": np.arange(n), "run_dir": str(run_dir),
                 "names": list(base), "spd": spd, "mean_spd": {b: float(np.mean(v[1:])) for b, v in spd.items()},
                 "ilwd_ks": ks, "ilwd": ilwd, "probes": probes(model, xs, ys, np.asarray(w, dtype=np.float64),
                                                               ctx.seed)}
        ctx.log(f"[akyurek] {setting} depth {depth}: mean SPD {entry['mean_spd']}")
        out["runs"].append(entry)
    return out


def _get(results: dict, setting: str, depth: int) -> dict:
    return next(r for r in results["runs"] if r["setting"] == setting and r["depth"] == depth)


def _closest(entry: dict, target: str) -> float:
    others = [v for b, v in entry["mean_spd"].items() if b != target]
    return ratio(entry["mean_spd"][target], min(others))


def _gd_rel(entry: dict, bayes: str) -> float:
    return ratio(min(entry["mean_spd"]["gd-1"], entry["mean_spd"]["gd-m"]), entry["mean_spd"][bayes])


def claims(results: dict, params: dict) -> list:
    lo, hi = min(params["depths"]), max(params["depths"])
    free, noisy = _get(results, "noiseless", hi), _get(results, "noisy", hi)
    c_ols, c_ridge = _closest(free, "ols"), _closest(noisy, "ridge-bayes")
    g_lo, g_hi = _gd_rel(_get(results, "noiseless", lo), "ols"), _gd_rel(free, "ols")
    gd_ratio = ratio(g_lo, g_hi)
    out = [
        Claim("noiseless_spd_ols_over_next", c_ols, 1.0, c_ols < 1.0,
              f"noiseless, depth {hi}: mean_k SPD(transformer, OLS) / that of the next-closest predictor < 1"),
        Claim("noisy_spd_bayes_ridge_over_next", c_ridge, 1.0, c_ridge < 1.0,
              f"noise {params['noise']:g}, depth {hi}: mean_k SPD(transformer, ridge at the Bayes lam) / "
              f"that of the next-closest predictor < 1"),
        Claim("shallow_closer_to_gd", gd_ratio, 1.0, gd_ratio < 1.0,
              f"noiseless: [SPD(T, nearer GD) / SPD(T, OLS)] at depth {lo} over the same at depth {hi} < 1"),
    ]
    for target in ("w", "X^T y"):
        p = free["probes"]
        margin = max(p[target]) - max(p[f"{target} (shuffled)"])
        out.append(Claim(f"probe_{target.replace('^', '').replace(' ', '')}_minus_control", margin, 0.0, margin > 0,
                         f"noiseless, depth {hi}: best-layer probe R^2 of {target} minus that of the "
                         f"shuffled-target control > 0"))
    return out


def summary(results: dict, params: dict) -> str:
    lines = []
    for r in results["runs"]:
        spd = ", ".join(f"{b} {v:.4f}" for b, v in sorted(r["mean_spd"].items(), key=lambda kv: kv[1]))
        il = ", ".join(f"{b} {r['ilwd'][b][-1]:.3f}" for b in r["names"])
        pr = "; ".join(f"{t}: " + " ".join(f"{v:.2f}" for v in vals) for t, vals in r["probes"].items())
        lines.append(f"{r['setting']} depth {r['depth']}: mean SPD (closest first) {spd}\n"
                     f"   ILWD at k = {r['ilwd_ks'][-1]}: {il}\n   probe R^2 per layer: {pr}")
    return "\n".join(lines)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    depths = sorted(params["depths"])
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.6), constrained_layout=True)
    for row, setting in enumerate(("noiseless", "noisy")):
        ax = axes[row, 0]
        for b in _get(results, setting, depths[-1])["names"]:
            for L, ls in zip(depths, ("--", "-", ":", "-.")):
                r = _get(results, setting, L)
                ax.plot(r["k"][1:], np.clip(r["spd"][b][1:], 1e-5, None), ls=ls, color=COLORS.get(b),
                        lw=2.0 if L == depths[-1] else 1.2, label=f"{b}, depth {L}")
        ax.set_yscale("log")
        ax.set_xlabel("in-context examples k")
        ax.set_ylabel("SPD(transformer, predictor)")
        ax.set_title(f"({'ad'[row]}) {setting}: prediction divergence")
        ax.legend(fontsize=6.5, ncol=2)
        ax = axes[row, 1]
        names = _get(results, setting, depths[-1])["names"]
        width = 0.8 / len(depths)
        for i, L in enumerate(depths):
            r = _get(results, setting, L)
            ax.bar(np.arange(len(names)) + i * width, [r["ilwd"][b][-1] for b in names], width, label=f"depth {L}")
        ax.set_xticks(np.arange(len(names)) + width * (len(depths) - 1) / 2, names, rotation=30, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel(f"ILWD at k = {_get(results, setting, depths[-1])['ilwd_ks'][-1]}")
        ax.set_title(f"({'be'[row]}) {setting}: implicit-weight distance")
        ax.legend(fontsize=8)
        ax = axes[row, 2]
        r = _get(results, setting, depths[-1])
        for t, vals in r["probes"].items():
            ax.plot(range(len(vals)), vals, marker="o", ls=":" if "shuffled" in t else "-", label=t)
        ax.set_xlabel("layer (0 = embedding)")
        ax.set_ylabel("held-out probe R^2")
        ax.set_ylim(-0.5, 1.05)
        ax.set_title(f"({'cf'[row]}) {setting}, depth {depths[-1]}: linear probes")
        ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    d, nz = results["runs"][0]["d"], params["noise"]
    fig.suptitle(f"What learning algorithm is in-context learning? (Akyurek et al. 2023): d = {d}, "
                 f"noisy runs $\\sigma^2$ = {nz:g}, depths {depths}", fontsize=12)
    return fig
