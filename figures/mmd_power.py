"""Figure ``mmd-power``: test power and type-I error of MMD tests with fixed and learned kernels.

Methods: the Gaussian kernel at the median-heuristic bandwidth, MMD-O (learned bandwidth),
MMD-D (deep kernel, Liu et al. 2020), MMD-MP (deep kernel trained without the k(y, y')
term, Zhang et al. 2024) and the classifier tests C2ST-S / C2ST-L. Benchmarks: Blob and
HDGM (power vs sample size n per sample) and the multi-population benchmark (power vs
the number K of populations in Y, at matched difficulty). Protocol (Liu et al. 2020,
section 6): per seed, every method is trained on one draw; its test (permutation test,
alpha = 0.05) then runs on ``n_test`` fresh draws (power) and ``n_test`` fresh null draws
(type-I error). Bands show the spread over seeds (mean +- one standard deviation).

Presets: ``tiny`` (test suite, seconds), ``quick`` (CPU, a few minutes) and ``paper``
(the full CPU figure: 13 minutes measured on 2 CPU cores shared with other jobs, load ~10).
At this CPU scale HDGM uses d = 2 and the multi-population benchmark d = 5, n = 150: Liu
et al.'s HDGM (d = 10) needs thousands of points per sample before any method has power
(measured: no method above 0.06 at n = 500, d = 10).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from estimators import GaussianKernel, median_heuristic, permutation_test, train_classifier, train_kernel
from estimators.mmd import c2st
from estimators.mmd_data import blob, hdgm, multi_population

NAME = "mmd-power"
DESCRIPTION = "MMD two-sample tests: power and type-I error of median / MMD-O / MMD-D / MMD-MP / C2ST on Blob, HDGM, multi-population"
PAPER_GPU_TIME = "about 15 min on 2 CPU cores (no GPU needed)"
VERSION = 2  # 2: bandwidth grid start in train_kernel

METHODS = ("median", "mmd-o", "mmd-d", "mmd-mp", "c2st-s", "c2st-l")
LABELS = {"median": "Gaussian, median heuristic", "mmd-o": "MMD-O", "mmd-d": "MMD-D", "mmd-mp": "MMD-MP",
          "c2st-s": "C2ST-S", "c2st-l": "C2ST-L"}

_COMMON = {"alpha": 0.05, "hdgm_d": 2, "mp_d": 5, "mp_rho1": 0.5, "lr": 1e-3, "lr_o": 2e-2, "lr_clf": 1e-3}
PRESETS = {
    "tiny": {**_COMMON, "seeds": [0], "blob_n": [20], "hdgm_n": [20], "mp_n": 20, "mp_K": [1, 2], "n_test": 8,
             "n_permutations": 19, "epochs": 5, "epochs_o": 5, "epochs_clf": 5, "hidden": 8},
    "quick": {**_COMMON, "seeds": [0, 1], "blob_n": [90, 180], "hdgm_n": [200], "mp_n": 150, "mp_K": [1, 4],
              "n_test": 100, "n_permutations": 100, "epochs": 300, "epochs_o": 200, "epochs_clf": 300, "hidden": 30},
    "paper": {**_COMMON, "seeds": [0, 1, 2], "blob_n": [90, 180, 270], "hdgm_n": [100, 200, 250], "mp_n": 150,
              "mp_K": [1, 2, 4, 8], "n_test": 100, "n_permutations": 100, "epochs": 500, "epochs_o": 300,
              "epochs_clf": 500, "hidden": 50},
}


def _settings(params: dict) -> dict:
    """benchmark -> (x values, axis label, [draw(rng, size=None, null=False) per x])."""
    d, md, rho1 = params["hdgm_d"], params["mp_d"], params["mp_rho1"]
    return {
        "blob": (params["blob_n"], "n per sample",
                 [lambda rng, n=n, **kw: blob(n, rng, **kw) for n in params["blob_n"]]),
        "hdgm": (params["hdgm_n"], "n per sample",
                 [lambda rng, n=n, **kw: hdgm(n, d, rng, **kw) for n in params["hdgm_n"]]),
        "multi-population": (params["mp_K"], "populations K in Y",
                             [lambda rng, K=K, **kw: multi_population(params["mp_n"], K, md, rng, rho1=rho1, **kw)
                              for K in params["mp_K"]]),
    }


def _rejections(draw, params: dict, seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """(power, type-I error) per method for one training draw; streams keep train and test disjoint."""
    alpha, B, T = params["alpha"], params["n_permutations"], params["n_test"]
    Xtr, Ytr = draw(np.random.default_rng([seed, stream, 0]))
    Xte, Yte = draw(np.random.default_rng([seed, stream, 1]), size=T)
    Xnu, Ynu = draw(np.random.default_rng([seed, stream, 2]), size=T, null=True)
    deep = {"n_epochs": params["epochs"], "lr": params["lr"], "hidden": params["hidden"], "n_out": params["hidden"],
            "seed": seed}
    kernels = {
        "median": GaussianKernel(float(median_heuristic(Xtr, Ytr))),
        "mmd-o": train_kernel(Xtr, Ytr, "mmd-o", n_epochs=params["epochs_o"], lr=params["lr_o"], seed=seed),
        "mmd-d": train_kernel(Xtr, Ytr, "mmd-d", **deep),
        "mmd-mp": train_kernel(Xtr, Ytr, "mmd-mp", **deep),
    }
    clf = train_classifier(Xtr, Ytr, hidden=params["hidden"], n_epochs=params["epochs_clf"], lr=params["lr_clf"],
                           seed=seed)
    power, type1 = np.empty(len(METHODS)), np.empty(len(METHODS))
    for i, method in enumerate(METHODS):
        for out, (X, Y) in ((power, (Xte, Yte)), (type1, (Xnu, Ynu))):
            if method.startswith("c2st"):
                p = c2st(X, Y, method[-1].upper(), classifier=clf, n_permutations=B, seed=seed).pvalue
            else:
                p = permutation_test(X, Y, kernels[method], B, seed=seed).pvalue
            out[i] = np.mean(np.asarray(p) <= alpha)
    return power, type1


def compute(params: dict, ctx) -> dict:
    results = {"methods": list(METHODS)}
    seeds = [int(s) for s in params["seeds"]]
    for b, (name, (xs, xlabel, draws)) in enumerate(_settings(params).items()):
        power = np.empty((len(METHODS), len(xs), len(seeds)))
        type1 = np.empty_like(power)
        jobs = [(j, s) for j in range(len(xs)) for s in range(len(seeds))]
        for j, s in ctx.progress(jobs, desc=name):
            power[:, j, s], type1[:, j, s] = _rejections(draws[j], params, seeds[s], stream=100 * b + j)
            ctx.log(f"[mmd-power] {name} x={xs[j]} seed={seeds[s]}: power {np.round(power[:, j, s], 2).tolist()}, "
                    f"type-I {np.round(type1[:, j, s], 2).tolist()} ({', '.join(METHODS)})")
        results[name] = {"x": list(xs), "xlabel": xlabel, "power": power, "type1": type1}
    return results


def _type1_interval(params: dict) -> tuple[float, float, float]:
    """Two-sided binomial interval for the pooled type-I rate of one (method, setting).

    Family-wise 95%: Bonferroni over every (method, setting) pair checked.
    """
    n_draws = params["n_test"] * len(params["seeds"])
    n_checks = len(METHODS) * (len(params["blob_n"]) + len(params["hdgm_n"]) + len(params["mp_K"]))
    level = 0.05 / n_checks
    lo, hi = stats.binom.ppf([level / 2, 1 - level / 2], n_draws, params["alpha"]) / n_draws
    return float(lo), float(hi), level


def plot(results: dict, params: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in ("blob", "hdgm", "multi-population") if k in results]
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6.4), squeeze=False)
    lo, hi, _ = _type1_interval(params)
    for c, name in enumerate(names):
        r = results[name]
        x = np.asarray(r["x"], dtype=float)
        for row, key in enumerate(("power", "type1")):
            ax = axes[row, c]
            vals = np.asarray(r[key])
            for i, method in enumerate(results["methods"]):
                mean, sd = vals[i].mean(axis=-1), vals[i].std(axis=-1)
                (line,) = ax.plot(x, mean, marker="o", ms=3, label=LABELS[method])
                ax.fill_between(x, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=line.get_color(), alpha=0.15)
            if key == "type1":
                ax.axhline(params["alpha"], color="k", lw=0.8, ls="--")
                ax.axhspan(lo, hi, color="grey", alpha=0.15, lw=0)
            title = f"{name} (d = {params['hdgm_d']})" if name == "hdgm" else name
            if name == "multi-population":
                title += f" (n = {params['mp_n']}, d = {params['mp_d']})"
            ax.set_title(title if row == 0 else f"{name}: type-I error", fontsize=9)
            ax.set_xlabel(r["xlabel"])
            ax.set_ylabel("test power" if key == "power" else "type-I error")
            if name == "multi-population":
                ax.set_xscale("log", base=2)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def claims(results: dict, params: dict) -> list:
    from figures import Claim

    m = {method: i for i, method in enumerate(results["methods"])}
    out = []
    for name in ("blob", "hdgm"):
        power = np.asarray(results[name]["power"]).mean(axis=-1)  # (methods, x), averaged over seeds
        gap = float(power[m["mmd-d"], -1] - power[m["median"], -1])
        out.append(Claim(
            f"{name}_mmd_d_minus_median_power", gap, 0.3, gap >= 0.3,
            f"{name}, n = {results[name]['x'][-1]}: MMD-D power {power[m['mmd-d'], -1]:.2f} vs median-heuristic "
            f"Gaussian {power[m['median'], -1]:.2f} (MMD-O {power[m['mmd-o'], -1]:.2f}); wide margin = at least 0.3",
        ))
    lo, hi, level = _type1_interval(params)
    outside = []
    worst = 0.0
    for name in ("blob", "hdgm", "multi-population"):
        pooled = np.asarray(results[name]["type1"]).mean(axis=-1)  # (methods, x)
        worst = max(worst, float(pooled.max()))
        outside += [f"{meth}@{name}[{results[name]['x'][j]}]={pooled[i, j]:.3f}"
                    for meth, i in m.items() for j in range(pooled.shape[1]) if not lo <= pooled[i, j] <= hi]
    out.append(Claim(
        "type1_outside_binomial_interval", len(outside), 0, not outside,
        f"type-I error pooled over seeds within [{lo:.3f}, {hi:.3f}] (alpha = {params['alpha']}, Bonferroni "
        f"family-wise 95%) for every method and setting; max {worst:.3f}; outside: {', '.join(outside) or 'none'}",
    ))
    mp = np.asarray(results["multi-population"]["power"])
    diff = float((mp[m["mmd-mp"]].mean(axis=-1) - mp[m["mmd-d"]].mean(axis=-1)).mean())
    out.append(Claim(
        "multipop_mmd_mp_minus_mmd_d_power", diff, 0.0, diff >= 0.0,
        f"multi-population, K = {results['multi-population']['x']}: mean power MMD-MP "
        f"{mp[m['mmd-mp']].mean():.3f} vs MMD-D {mp[m['mmd-d']].mean():.3f}",
    ))
    sd_mp = float(mp[m["mmd-mp"]].std(axis=-1).mean())
    sd_d = float(mp[m["mmd-d"]].std(axis=-1).mean())
    ratio = sd_mp / sd_d if sd_d > 0 else (math.inf if sd_mp > 0 else 1.0)
    out.append(Claim(
        "multipop_spread_ratio_mp_over_d", ratio, 1.0, ratio <= 1.0,
        f"multi-population: run-to-run (seed) standard deviation of power, mean over K: MMD-MP {sd_mp:.3f} "
        f"vs MMD-D {sd_d:.3f} over {len(params['seeds'])} seeds",
    ))
    return out
