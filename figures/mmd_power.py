"""Figure ``mmd-power``: test power and type-I error of MMD tests with fixed and learned kernels.

Methods: the Gaussian kernel at the median-heuristic bandwidth, MMD-O (learned bandwidth),
MMD-D (deep kernel, Liu et al. 2020), MMD-MP (deep kernel trained without the k(y, y')
term, Zhang et al. 2024) and the classifier tests C2ST-S / C2ST-L. Protocol (Liu et al. 2020,
section 6): per seed, every method is trained on one draw; its permutation test (alpha = 0.05)
then runs on ``n_test`` fresh draws (power) and ``n_test`` fresh null draws (type-I error).

Benchmarks:

* Blob (Liu et al.'s text: Q's blob covariance is exactly ``[[0.03, r_i], [r_i, 0.03]]``, not
  their code's ``L^T L``) and HDGM at d = 2 up to n = 1000 per sample: at n <= 250 no kernel
  method has much power on HDGM (quick preset: MMD-D 0.10, median heuristic 0.04 at n = 250),
  at n = 1000 the learned kernels do (MMD-D 0.57, MMD-O 0.73, median 0.26). Liu et al.'s HDGM
  has d = 10, where no method was above 0.06 at n = 500 on this CPU budget, hence d = 2. HDGM's kernels train
  on minibatches of ``batch_size`` points per sample above that size (Zhang et al.'s training
  code does the same), which keeps n = 1000 at seconds per kernel on a CPU. MMD-MP is not run
  here: these Y are single populations, where its statistic is negative from the start (X and Y
  overlap) and its kernel collapses towards a delta kernel.
* Several separated populations (:func:`estimators.mmd_data.separated_populations`): X ~
  N(0, I_d), Y a mixture of K populations ``N(shift u_k, scale^2 I_d)`` on K different axes --
  far apart from each other, each separable from X, each more concentrated than X, as one
  language model's texts against human text (Zhang et al. 2024). Kernels train on
  ``mp_n_train`` points per sample; MMD-O, MMD-D and MMD-MP keep the checkpoint with the best
  MMD^2 power proxy on a held-out validation pair (Zhang et al. keep the best validation power);
  tests use small samples of ``mp_n`` points, as theirs use a few sentences.

Claims (exact Clopper-Pearson intervals over test repetitions for rates, a paired bootstrap over
test repetitions or seeds for differences; each with controls that must fail):

- Blob and HDGM at the largest n: MMD-D's power is at least 0.5 (Liu et al.: learned kernels
  have far more power than fixed ones); control: the median-heuristic Gaussian test;
- type-I error: the largest over methods of the type-I rate pooled over every benchmark,
  size and seed is at most 1.5 alpha, with Bonferroni-corrected intervals over the methods;
  control: the median-heuristic statistic compared with 0 instead of its permutation null;
- several populations (K > 1): MMD-MP's power minus MMD-D's, averaged over those K, is >= 0
  (Zhang et al. 2024: MMD-MP is the more powerful); control: the median-heuristic test;
- several populations: MMD-MP's power varies less over training seeds than MMD-D's (ratio of
  standard deviations < 1, bootstrap over seeds); control: MMD-O (a learned kernel without the multi-population objective).

Seeds: seed s, benchmark b and size index j draw the training pair from
``default_rng([s, 100 b + j, 0])``, power test sets from ``[.., 1]``, null test sets from
``[.., 2]`` and the validation pair from ``[.., 3]``.
"""

from __future__ import annotations

import numpy as np

from estimators import GaussianKernel, median_heuristic, permutation_test, train_classifier, train_kernel
from estimators.mmd import c2st
from estimators.mmd_data import blob, hdgm, separated_populations
from figures import Claim
from figures._claims import binomial_interval
from figures._common import ratio

NAME = "mmd-power"
DESCRIPTION = ("MMD two-sample tests: power and type-I error of median / MMD-O / MMD-D / MMD-MP / C2ST on Blob, "
               "HDGM, several separated populations")
PAPER_GPU_TIME = "not measured; CPU minutes at the quick preset, estimate under an hour on 2 CPU cores for paper"
VERSION = 3  # 3: HDGM to n = 1000 (minibatches), separated populations, per-test rejections kept

METHODS = ("median", "mmd-o", "mmd-d", "mmd-mp", "c2st-s", "c2st-l")
LABELS = {"median": "Gaussian, median heuristic", "mmd-o": "MMD-O", "mmd-d": "MMD-D", "mmd-mp": "MMD-MP",
          "c2st-s": "C2ST-S", "c2st-l": "C2ST-L"}
NAIVE = "median, MMD^2 > 0 (no null)"  # the type-I control: an uncalibrated rejection rule
BENCHMARKS = ("blob", "hdgm", "separated")
_SINGLE = ("median", "mmd-o", "mmd-d", "c2st-s", "c2st-l")

_COMMON = {"alpha": 0.05, "hdgm_d": 2, "batch_size": 500, "mp_d": 10, "mp_shift": 1.5, "mp_scale": 0.5,
           "lr": 1e-3, "lr_o": 2e-2, "lr_clf": 1e-3, "type1_threshold": 0.075, "power_threshold": 0.5}
PRESETS = {
    "tiny": {**_COMMON, "seeds": [0], "blob_n": [20], "hdgm_n": [20], "mp_K": [1, 2], "mp_n": 8, "mp_n_train": 20,
             "mp_seeds": [0, 1], "n_test": 8, "mp_n_test": 8, "n_permutations": 19, "epochs": 5, "epochs_o": 5,
             "epochs_clf": 5, "hidden": 8},
    # CPU minutes: 2 training draws per Blob / HDGM size, 3 per multi-population K
    "quick": {**_COMMON, "seeds": [0, 1], "blob_n": [90, 180], "hdgm_n": [250, 1000], "mp_K": [1, 4, 8], "mp_n": 10,
              "mp_n_train": 200, "mp_seeds": [0, 1, 2], "n_test": 50, "mp_n_test": 100, "n_permutations": 100,
              "epochs": 200, "epochs_o": 100, "epochs_clf": 200, "hidden": 30},
    # Liu et al.'s repetitions: 10 training draws, 100 tests each
    "paper": {**_COMMON, "seeds": list(range(10)), "blob_n": [45, 90, 180, 270], "hdgm_n": [250, 500, 1000, 2000],
              "mp_K": [1, 2, 4, 8], "mp_n": 10, "mp_n_train": 400, "mp_seeds": list(range(10)), "n_test": 100,
              "mp_n_test": 100, "n_permutations": 200, "epochs": 500, "epochs_o": 300, "epochs_clf": 500,
              "hidden": 50},
}


def _settings(params: dict) -> dict:
    """benchmark -> dict(x, xlabel, methods, seeds, n_test, validation, draw(j, rng, n, null, size), n_train(j))."""
    d = params["hdgm_d"]
    sp = dict(d=params["mp_d"], shift=params["mp_shift"], scale=params["mp_scale"])
    return {
        "blob": dict(x=params["blob_n"], xlabel="n per sample", methods=_SINGLE, seeds=params["seeds"],
                     n_test=params["n_test"], validation=False, test_n=lambda j: params["blob_n"][j],
                     train_n=lambda j: params["blob_n"][j],
                     draw=lambda j, rng, n, **kw: blob(n, rng, **kw)),
        "hdgm": dict(x=params["hdgm_n"], xlabel="n per sample", methods=_SINGLE, seeds=params["seeds"],
                     n_test=params["n_test"], validation=False, test_n=lambda j: params["hdgm_n"][j],
                     train_n=lambda j: params["hdgm_n"][j],
                     draw=lambda j, rng, n, **kw: hdgm(n, d, rng, **kw)),
        "separated": dict(x=params["mp_K"], xlabel="populations K in Y", methods=METHODS, seeds=params["mp_seeds"],
                          n_test=params["mp_n_test"], validation=True, test_n=lambda j: params["mp_n"],
                          train_n=lambda j: params["mp_n_train"],
                          draw=lambda j, rng, n, **kw: separated_populations(n, params["mp_K"][j], rng=rng, **sp, **kw)),
    }


def _reject(X, Y, kernel, params: dict, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rejections (T,) of the permutation test, and the statistic (T,), in chunks that bound memory."""
    T, N = X.shape[0], X.shape[1] + Y.shape[1]
    chunk = max(1, int(2e7 // (N * N)))
    rej, stat = [], []
    for a in range(0, T, chunk):
        res = permutation_test(X[a:a + chunk], Y[a:a + chunk], kernel, params["n_permutations"], seed=seed + a)
        rej.append(np.asarray(res.pvalue) <= params["alpha"])
        stat.append(np.asarray(res.statistic, dtype=float))
    return np.concatenate(rej), np.concatenate(stat)


def _run(setting: dict, j: int, params: dict, seed: int, stream: int) -> dict:
    """Rejections of every method on the power and null test sets of one training draw (one seed)."""
    draw, n_tr, n_te, T = setting["draw"], setting["train_n"](j), setting["test_n"](j), setting["n_test"]
    Xtr, Ytr = draw(j, np.random.default_rng([seed, stream, 0]), n_tr)
    tests = {"power": draw(j, np.random.default_rng([seed, stream, 1]), n_te, size=T),
             "null": draw(j, np.random.default_rng([seed, stream, 2]), n_te, size=T, null=True)}
    val = draw(j, np.random.default_rng([seed, stream, 3]), max(2, n_tr // 2)) if setting["validation"] else None
    batch = params["batch_size"] if n_tr > params["batch_size"] else None
    learned = {"n_epochs": params["epochs"], "lr": params["lr"], "hidden": params["hidden"],
               "n_out": params["hidden"], "seed": seed, "batch_size": batch, "validation": val}
    kernels = {"median": GaussianKernel(float(median_heuristic(Xtr, Ytr)))}
    diag = {}
    for method in setting["methods"]:
        if method == "mmd-o":
            kernels[method] = train_kernel(Xtr, Ytr, "mmd-o", **{**learned, "n_epochs": params["epochs_o"],
                                                                 "lr": params["lr_o"]})
        elif method in ("mmd-d", "mmd-mp"):
            kernels[method], hist = train_kernel(Xtr, Ytr, method, return_history=True, **learned)
            diag[method] = _diagnostics(kernels[method], hist, val if val is not None else (Xtr, Ytr))
    clf = train_classifier(Xtr, Ytr, hidden=params["hidden"], n_epochs=params["epochs_clf"], lr=params["lr_clf"],
                           seed=seed)
    out = {"power": np.full((len(METHODS), T), np.nan), "null": np.full((len(METHODS), T), np.nan)}
    for key, (X, Y) in tests.items():
        for method in setting["methods"]:
            i = METHODS.index(method)
            if method.startswith("c2st"):
                p = c2st(X, Y, method[-1].upper(), classifier=clf, n_permutations=params["n_permutations"],
                         seed=seed).pvalue
                out[key][i] = np.asarray(p) <= params["alpha"]
            else:
                rej, stat = _reject(X, Y, kernels[method], params, seed)
                out[key][i] = rej
                if method == "median" and key == "null":
                    out["naive_null"] = (stat > 0).astype(float)
    out["diag"] = diag
    return out


def _diagnostics(kernel, history: np.ndarray, pair) -> dict:
    """J at the start and end of training, and the returned kernel's mean off-diagonal entry on ``pair``
    (near 0: the kernel has collapsed towards a delta kernel)."""
    X, Y = pair
    Z = np.concatenate([X, Y])
    K = np.asarray(kernel(Z, Z), dtype=float)
    N = K.shape[0]
    return {"J_start": float(history[0]), "J_end": float(history[-1]),
            "mean_offdiag": float((K.sum() - np.trace(K)) / (N * (N - 1)))}


def compute(params: dict, ctx) -> dict:
    results = {"methods": list(METHODS)}
    for b, (name, setting) in enumerate(_settings(params).items()):
        xs, seeds, T = setting["x"], [int(s) for s in setting["seeds"]], setting["n_test"]
        power = np.full((len(METHODS), len(xs), len(seeds), T), np.nan)
        null = np.full_like(power, np.nan)
        naive = np.full((len(xs), len(seeds), T), np.nan)
        diag = {m: np.full((len(xs), len(seeds), 3), np.nan) for m in ("mmd-d", "mmd-mp")}
        jobs = [(j, s) for j in range(len(xs)) for s in range(len(seeds))]
        for j, s in ctx.progress(jobs, desc=name):
            out = _run(setting, j, params, seeds[s], stream=100 * b + j)
            power[:, j, s], null[:, j, s], naive[j, s] = out["power"], out["null"], out["naive_null"]
            for m, dg in out["diag"].items():
                diag[m][j, s] = (dg["J_start"], dg["J_end"], dg["mean_offdiag"])
            run = [i for i, m in enumerate(METHODS) if m in setting["methods"]]
            ctx.log(f"[mmd-power] {name} x={xs[j]} seed={seeds[s]}: power "
                    f"{dict((METHODS[i], round(float(power[i, j, s].mean()), 2)) for i in run)}, type-I "
                    f"{dict((METHODS[i], round(float(null[i, j, s].mean()), 2)) for i in run)}")
        results[name] = {"x": list(xs), "xlabel": setting["xlabel"], "methods": list(setting["methods"]),
                         "seeds": seeds, "power": power, "null": null, "naive_null": naive, "diag": diag}
    return results


# ----------------------------------------------------------------------------- claims


def _rate(rej: np.ndarray) -> tuple[int, int]:
    v = np.asarray(rej, dtype=float)
    v = v[np.isfinite(v)]
    return int(v.sum()), int(v.size)


def _binomial_estimate(rej: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    k, n = _rate(rej)
    return (k / n, *binomial_interval(k, n, level))


def _type1_estimates(results: dict, params: dict) -> dict:
    """Per method: type-I rate pooled over benchmarks, sizes, seeds and tests, with a Bonferroni-corrected
    exact interval (level 1 - 0.05 / number of methods); plus the uncalibrated control, pooled the same way."""
    level = 1 - 0.05 / len(METHODS)
    est = {}
    for i, method in enumerate(METHODS):
        rej = np.concatenate([np.asarray(results[b]["null"])[i].ravel() for b in BENCHMARKS])
        est[method] = _binomial_estimate(rej, level)
    naive = np.concatenate([np.asarray(results[b]["naive_null"]).ravel() for b in BENCHMARKS])
    est[NAIVE] = _binomial_estimate(naive, level)
    return est


def claims(results: dict, params: dict) -> list:
    m = {method: i for i, method in enumerate(METHODS)}
    out = []
    for name, paper in (("blob", "Blob"), ("hdgm", "HDGM")):
        r = results[name]
        power = np.asarray(r["power"])
        est = {meth: _binomial_estimate(power[m[meth], -1]) for meth in ("mmd-d", "median")}
        _, n = _rate(power[m["mmd-d"], -1])
        out.append(Claim(
            f"{name}_mmd_d_power", f"{paper}, n = {r['x'][-1]} per sample: MMD-D rejects in at least "
            f"{params['power_threshold']:g} of {n} tests (Liu et al. 2020: learned kernels far above fixed ones)",
            threshold=params["power_threshold"], direction=">=", subject="mmd-d", controls=("median",),
            estimates=est))
    t1 = _type1_estimates(results, params)
    worst = max(METHODS, key=lambda meth: t1[meth][2])
    value = max(t1[meth][0] for meth in METHODS)
    est = {"largest over methods": (value, max(t1[meth][1] for meth in METHODS), t1[worst][2]), NAIVE: t1[NAIVE]}
    out.append(Claim(
        "type1_every_method", f"type-I error of every method, pooled over benchmarks, sizes and seeds, is at most "
        f"{params['type1_threshold']:g} (alpha {params['alpha']:g}; Bonferroni over {len(METHODS)} methods; largest: "
        f"{worst})", threshold=params["type1_threshold"], direction="<=", subject="largest over methods",
        controls=(NAIVE,), estimates=est))
    r = results["separated"]
    many = [j for j, K in enumerate(r["x"]) if K > 1]
    power = np.asarray(r["power"])  # (methods, K, seeds, T)
    S, T = power.shape[2], power.shape[3]
    units = power[:, many].reshape(len(METHODS), len(many), S * T)  # test repetitions pooled over seeds

    def minus_mmd_d(label, idx):
        return float(np.mean(units[m[label]][:, idx].mean(-1) - units[m["mmd-d"]][:, idx].mean(-1)))

    Ks = ", ".join(str(r["x"][j]) for j in many)
    out.append(Claim(
        "separated_mmd_mp_minus_mmd_d_power", f"several separated populations (K = {Ks}): MMD-MP's power minus "
        "MMD-D's, averaged over K, is >= 0 (Zhang et al. 2024: MMD-MP is the more powerful)", threshold=0.0,
        direction=">=", subject="mmd-mp", controls=("median",), statistic=minus_mmd_d, n_units=S * T,
        unit="test repetitions (pooled over seeds)"))
    per_seed = np.nanmean(power[:, many], axis=(1, 3))  # (methods, seeds): power per training seed, mean over K

    def spread_ratio(label, idx):
        return ratio(float(np.std(per_seed[m[label], idx])), float(np.std(per_seed[m["mmd-d"], idx])))

    out.append(Claim(
        "separated_mmd_mp_spread_below_mmd_d", f"several separated populations (K = {Ks}): the standard deviation "
        f"over {S} training seeds of MMD-MP's power is below MMD-D's (ratio < 1; Zhang et al.: MMD-MP is more "
        "stable)", threshold=1 - 1e-12, direction="<=", subject="mmd-mp", controls=("mmd-o",),
        statistic=spread_ratio, n_units=S, unit="training seeds"))
    return out


def summary(results: dict, params: dict) -> str:
    lines = []
    for name in BENCHMARKS:
        r = results[name]
        power, null = np.asarray(r["power"]), np.asarray(r["null"])
        lines.append(f"{name}: power / type-I per {r['xlabel']} ({len(r['seeds'])} training seeds x "
                     f"{power.shape[-1]} tests each)")
        lines.append("  " + "method".ljust(28) + "".join(f"{'x=' + str(x):>16}" for x in r["x"]))
        for i, meth in enumerate(METHODS):
            if meth not in r["methods"]:
                continue
            cells = [f"{np.nanmean(power[i, j]):.2f} / {np.nanmean(null[i, j]):.2f}" for j in range(len(r["x"]))]
            lines.append("  " + LABELS[meth].ljust(28) + "".join(f"{c:>16}" for c in cells))
        for meth, dg in r["diag"].items():
            dg = np.asarray(dg)
            if np.isfinite(dg).any():
                lines.append(f"  {LABELS[meth]} training: J at start {np.nanmean(dg[..., 0]):+.3f}, at the end "
                             f"{np.nanmean(dg[..., 1]):+.3f}; returned kernel's mean off-diagonal entry "
                             f"{np.nanmean(dg[..., 2]):.3g} (min {np.nanmin(dg[..., 2]):.3g}; near 0 = collapsed)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plot


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(BENCHMARKS), figsize=(4.6 * len(BENCHMARKS), 7.4), squeeze=False,
                             layout="constrained")
    colors = dict(zip(METHODS, ("0.45", "tab:orange", "tab:blue", "tab:red", "tab:green", "tab:purple")))
    for c, name in enumerate(BENCHMARKS):
        r = results[name]
        x = np.asarray(r["x"], dtype=float)
        for row, key in enumerate(("power", "null")):
            ax = axes[row, c]
            vals = np.asarray(r[key])
            top = 0.0
            for i, meth in enumerate(METHODS):
                if meth not in r["methods"]:
                    continue
                est = np.array([_binomial_estimate(vals[i, j]) for j in range(len(x))])
                top = max(top, float(est[:, 2].max()))
                ax.errorbar(x, est[:, 0], yerr=[est[:, 0] - est[:, 1], est[:, 2] - est[:, 0]], marker="o", ms=3.5,
                            capsize=2, lw=1.4, color=colors[meth], label=LABELS[meth])
            if key == "null":
                ax.axhline(params["alpha"], color="k", lw=0.8, ls="--", label=r"$\alpha$")
                ax.axhline(params["type1_threshold"], color="k", lw=0.8, ls=":", label="claim threshold")
                ax.set_ylim(-0.01, min(1.0, max(0.2, 1.05 * top)))
            else:
                ax.axhline(params["power_threshold"], color="k", lw=0.8, ls=":")
                ax.set_ylim(-0.03, 1.03)
            title = {"blob": "Blob", "hdgm": f"HDGM (d = {params['hdgm_d']})",
                     "separated": f"separated populations (d = {params['mp_d']}, test n = {params['mp_n']})"}[name]
            ax.set_title(title if row == 0 else f"{title}: type-I error", fontsize=9)
            ax.set_xlabel(r["xlabel"])
            ax.set_ylabel("test power" if key == "power" else "type-I error")
            ax.grid(alpha=0.3)
            if name != "separated":
                ax.set_xscale("log")
            ax.set_xticks(x, [str(int(v)) for v in x])
            ax.minorticks_off()
    handles, labels = axes[0, -1].get_legend_handles_labels()
    h2, l2 = axes[1, -1].get_legend_handles_labels()
    extra = [(h, lab) for h, lab in zip(h2, l2) if lab not in labels]
    fig.legend(handles + [h for h, _ in extra], labels + [lab for _, lab in extra], loc="outside lower center",
               ncol=4, fontsize=8, frameon=False)
    fig.suptitle("MMD two-sample tests: rejection rates with exact 95% intervals over "
                 "test repetitions (pooled over training seeds)", fontsize=11)
    return fig
