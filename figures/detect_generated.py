"""Figure ``detect-generated``: telling trained transformers from the exact Bayes predictor with MMD tests.

The MMD-MP setting of Zhang et al. 2024 ("Detecting machine-generated texts by multi-population
aware optimization for maximum mean discrepancy", ICLR, Sec. 4) moved into in-context learning.
A *sample* is one prompt's residual at the query,

    r = y_q - y_hat,

with y_q = y_{k+1} the query's noisy label and y_hat the prediction from the first k pairs of a
noisy linear-regression prompt. The reference population X takes y_hat from the exact Bayes
predictor (ridge at lam = sigma^2, ``task.bayes_prefixes``); the "generated" population Y mixes
equal shares of residuals of several trained transformers (different sizes), as MMD-MP's Y mixes
several text generators. (The summary ``(X^T y / k, x_q, y_hat)`` in R^{2d+1} is kept as a
control: with 11 dimensions at these divergences MMD-D has no power, 0.04-0.08 at every stage of
the quick preset; the residual carries the difference in one number.) At each training stage (checkpoint)
a deep kernel is trained on one draw with the MMD-D objective (Liu et al. 2020) and one with the
MMD-MP objective (:func:`estimators.mmd.train_kernel`), each keeping its checkpoint with the best
MMD^2 power proxy on a validation draw (Zhang et al.'s protocol); each is used in a permutation
test (:func:`estimators.mmd.permutation_test`, alpha = 0.05) on ``n_test`` fresh draws (power) and
on ``n_test`` draws where Y is a second Bayes sample (type-I error). The median-heuristic Gaussian
test on the residuals is shown too. Prompts for training the kernels and for testing come from
disjoint evaluation streams.

Claims (exact Clopper-Pearson intervals over the test repetitions for rates, a paired bootstrap
over test repetitions for differences; each with controls that must fail):

- at the first checkpoint, MMD-D and MMD-MP each reject in at least half the tests; controls: the
  same test with the generators replaced by the Bayes predictor (the null), and MMD-D on the
  11-d summary sample;
- detection gets markedly harder as the transformers train: each test's power at the last
  checkpoint is at least 0.2 below that at the first (a threshold below 0, so that a test whose
  power does not change -- the null control, ~alpha at both stages -- fails); control: the same
  test against the Bayes predictor;
- MMD-MP's power minus MMD-D's, averaged over the checkpoints, is >= 0 (Zhang et al.: MMD-MP is the
  more powerful when Y holds several generators); control: MMD-D on the 11-d summary sample;
- type-I error of MMD-D and MMD-MP, pooled over every checkpoint and test, is at most 1.5 alpha;
  control: the median-heuristic statistic compared with 0 instead of its permutation null.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._claims import binomial_interval
from figures._common import eval_prompts, figure_device, model_preds, run_config

NAME = "detect-generated"
DESCRIPTION = "MMD-D vs MMD-MP power to tell trained transformers (several sizes, checkpoints) from exact Bayes"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 6 h on one H100: three 200k-step runs of "
                  "width 64-256 (~1-2 h each at an assumed 30-60 steps/s) plus minutes of kernel training per stage")
VERSION = 2  # 2: residual samples, validation-selected kernels, per-test rejections, 11-d control

METHODS = ("mmd-d", "mmd-mp")
SUMMARY = "mmd-d, 11-d sample"  # the control on the old sample
TESTS = (*METHODS, "median", SUMMARY)  # every test run at every stage
NAIVE = "median, MMD^2 > 0 (no null)"
_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_head": 2, "train.steps": 40,
             "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16, "train.checkpoint_every": 20,
             "train.device": "cpu"}
_CLAIMS = {"power_threshold": 0.5, "drop": 0.2, "type1_threshold": 0.075}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[1, 8], [1, 16]], "k": 3, "n": 24,
             "pool_prompts": 200, "n_test": 8, "n_permutations": 19, "epochs": 5, "hidden": 8, "alpha": 0.05,
             "run": _TINY_RUN, **_CLAIMS},
    # CPU minutes: d = 5, sigma^2 = 0.25, generators of 1 layer x width 32 and 2 layers x width 64, 2000 steps,
    # checkpoints every 400 steps; residuals at k = d
    "quick": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[1, 32], [2, 64]], "k": 5, "n": 200,
              "pool_prompts": 4000, "n_test": 100, "n_permutations": 100, "epochs": 300, "hidden": 32,
              "alpha": 0.05, "run": {"train.steps": 2000, "train.checkpoint_every": 400,
                                     "train.eval_prompts": 256}, **_CLAIMS},
    # three sizes up to 12 x 256, 200k steps, d = 8 (GPU)
    "paper": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[2, 64], [4, 128], [12, 256]], "k": 8,
              "n": 500, "pool_prompts": 40000, "n_test": 200, "n_permutations": 200, "epochs": 1000, "hidden": 50,
              "alpha": 0.05, "run": {"task.d": 8, "task.n_points": 17, "model.n_positions": 17, "train.steps": 200000,
                                     "train.checkpoint_every": 25000, "train.eval_prompts": 1024}, **_CLAIMS},
}


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "model.n_layer": int(L), "model.n_embd": int(C),
                                               "train.keep_checkpoints": 1000}, params["seed"])
            for L, C in params["sizes"]]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


def residuals(ys: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """Per prompt, the query residual ``y_{k+1} - y_hat_{k+1}`` from the first k pairs: shape (P, 1).

    >>> residuals(np.array([[1.0, 3.0, 2.5]]), np.array([[0.0, 0.0, 2.0]]), 2)
    array([[0.5]])
    """
    return (ys[:, k] - preds[:, k])[:, None]


def samples(xs: np.ndarray, ys: np.ndarray, preds: np.ndarray, k: int) -> np.ndarray:
    """Per prompt, ``(X^T y / k, x_q, y_hat)`` from the first k pairs and the query k: shape (P, 2d + 1).

    >>> xs = np.ones((1, 3, 2)); ys = np.array([[1.0, 3.0, 0.0]])
    >>> samples(xs, ys, np.array([[0.0, 0.0, 7.0]]), 2)
    array([[2., 2., 1., 1., 7.]])
    """
    xty = np.einsum("pkd,pk->pd", xs[:, :k], ys[:, :k]) / k
    return np.concatenate([xty, xs[:, k], preds[:, k:k + 1]], axis=1)


def _checkpoint_models(run_dir, cfg):
    """(step, model) for every checkpoint of a run, oldest first, on :func:`figures._common.figure_device`."""
    from pathlib import Path

    from icl.checkpoint import load_checkpoint
    from icl.run import build_model

    found = sorted(Path(run_dir).glob("checkpoint-*.pt"))
    device = figure_device()
    out = []
    for path in found:
        state = load_checkpoint(path)
        model = build_model(cfg)
        model.load_state_dict(state["model"])
        out.append((int(state["step"]), model.to(device).eval()))
    return out


def _draw(pool: np.ndarray, n: int, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    idx = np.stack([rng.choice(len(pool), n, replace=False) for _ in range(size or 1)])
    return pool[idx] if size else pool[idx[0]]


def _pools(task, cfg, P: int, k: int, seed: int) -> dict:
    """Prompt pools of the three disjoint streams (kernel training, validation, testing): a Bayes reference
    half and a second half for the generators (and, for testing, a second Bayes sample for the null)."""
    pools = {}
    for split, offset in (("train", 1000), ("val", 2000), ("test", 3000)):
        xs, ys, _ = eval_prompts(task, 2 * P, cfg.task.n_points, offset + seed)
        bayes = np.asarray(task.bayes_prefixes(xs, ys))
        pools[split] = {"ref": {"res": residuals(ys[:P], bayes[:P], k), "sum": samples(xs[:P], ys[:P], bayes[:P], k)},
                        "ref2": {"res": residuals(ys[P:], bayes[P:], k), "sum": samples(xs[P:], ys[P:], bayes[P:], k)},
                        "xs": xs[P:], "ys": ys[P:], "bayes": bayes[P:]}
    return pools


def _generated(pool: dict, models: list, k: int) -> tuple[dict, np.ndarray]:
    """The generated population: equal shares of each model's residuals / summaries, and each model's SPD."""
    per_model = {"res": [], "sum": []}
    spd = []
    for model in models:
        f = model_preds(model, pool["xs"], pool["ys"])
        per_model["res"].append(residuals(pool["ys"], f, k))
        per_model["sum"].append(samples(pool["xs"], pool["ys"], f, k))
        spd.append(float(np.mean((f[:, k] - pool["bayes"][:, k]) ** 2)))
    share = len(pool["xs"]) // len(models)
    mix = {key: np.concatenate([g[i * share:(i + 1) * share] for i, g in enumerate(v)]) for key, v in per_model.items()}
    return mix, np.asarray(spd)


def _rejections(X, Y, kernel, B: int, alpha: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from estimators import permutation_test

    res = permutation_test(X, Y, kernel, B, seed=seed)
    return (np.asarray(res.pvalue) <= alpha).astype(float), np.asarray(res.statistic, dtype=float)


def compute(params: dict, ctx) -> dict:
    from estimators import GaussianKernel, median_heuristic, train_kernel
    from icl.tasks import make_task

    configs = _configs(params)
    run_dirs = ctx.train_many(configs)
    cfg = configs[0]
    task = make_task(cfg.task)
    k, n, T, B = (int(params[x]) for x in ("k", "n", "n_test", "n_permutations"))
    alpha = float(params["alpha"])
    pools = _pools(task, cfg, int(params["pool_prompts"]), k, ctx.seed)
    ckpts = [_checkpoint_models(r, c) for r, c in zip(run_dirs, configs)]
    steps = sorted(set.intersection(*(set(s for s, _ in ck) for ck in ckpts)))
    scale = {key: (pools["train"]["ref"][key].mean(0), pools["train"]["ref"][key].std(0) + 1e-8) for key in ("res", "sum")}

    def z(a, key):  # standardised by the reference training sample
        return (a - scale[key][0]) / scale[key][1]

    rej = {f"{t}{suffix}": np.zeros((len(steps), T)) for t in TESTS for suffix in ("", " | null")}
    rej[NAIVE] = np.zeros((len(steps), T))
    spd = np.zeros((len(params["sizes"]), len(steps)))
    diag = np.zeros((len(METHODS), len(steps), 3))  # J at start, J at end, mean off-diagonal of the kernel
    rng = np.random.default_rng([ctx.seed, 0x6D64])
    for j, step in enumerate(ctx.progress(steps, desc="stages")):
        models = [dict(ck)[step] for ck in ckpts]
        gen = {}
        for split in ("train", "val", "test"):
            gen[split], s = _generated(pools[split], models, k)
            if split == "test":
                spd[:, j] = s / task.y_second_moment
        draws = {}
        for key in ("res", "sum"):  # the same prompts for both samples: the indices are drawn once per split
            pass
        seed_j = int(rng.integers(2**31))
        for key in ("res", "sum"):
            r = np.random.default_rng([seed_j, 0])  # same prompt draws for both samples
            ref, ref2, g = pools["test"]["ref"][key], pools["test"]["ref2"][key], gen["test"][key]
            draws[key] = {
                "train": (z(_draw(pools["train"]["ref"][key], n, r), key), z(_draw(gen["train"][key], n, r), key)),
                "val": (z(_draw(pools["val"]["ref"][key], n, r), key), z(_draw(gen["val"][key], n, r), key)),
                "power": (z(_draw(ref, n, r, T), key), z(_draw(g, n, r, T), key)),
                "null": (z(_draw(ref, n, r, T), key), z(_draw(ref2, n, r, T), key)),
            }
        kernels = {}
        learned = dict(n_epochs=int(params["epochs"]), hidden=int(params["hidden"]), n_out=int(params["hidden"]),
                       seed=ctx.seed + j)
        for m, method in enumerate(METHODS):
            d = draws["res"]
            kernels[method], hist = train_kernel(*d["train"], method, validation=d["val"], return_history=True,
                                                 **learned)
            Zv = np.concatenate(d["val"])
            Kv = np.asarray(kernels[method](Zv, Zv), dtype=float)
            diag[m, j] = (hist[0], hist[-1], (Kv.sum() - np.trace(Kv)) / (len(Zv) * (len(Zv) - 1)))
        d = draws["sum"]
        kernels[SUMMARY] = train_kernel(*d["train"], "mmd-d", validation=d["val"], **learned)
        kernels["median"] = GaussianKernel(float(median_heuristic(*draws["res"]["train"])))
        for t in TESTS:
            d = draws["sum" if t == SUMMARY else "res"]
            rej[t][j], _ = _rejections(*d["power"], kernels[t], B, alpha, ctx.seed + j)
            rej[f"{t} | null"][j], stat = _rejections(*d["null"], kernels[t], B, alpha, ctx.seed + j)
            if t == "median":
                rej[NAIVE][j] = (stat > 0).astype(float)
        ctx.log(f"[detect-generated] step {step}: power {dict((t, round(float(rej[t][j].mean()), 2)) for t in TESTS)}, "
                f"type-I {dict((t, round(float(rej[t + ' | null'][j].mean()), 2)) for t in TESTS)}, "
                f"SPD to Bayes per generator {spd[:, j].round(4)}")
    return {"steps": steps, "tests": list(TESTS), "rejections": rej, "spd": spd, "diag": diag,
            "sizes": [list(s) for s in params["sizes"]], "n": n, "n_test": T, "k": k, "d": cfg.task.d,
            "alpha": alpha, "run_dirs": [str(r) for r in run_dirs]}


# ----------------------------------------------------------------------------- claims


def _binomial(rej: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    v = np.asarray(rej, dtype=float).ravel()
    return (float(v.mean()), *binomial_interval(int(v.sum()), v.size, level))


def claims(results: dict, params: dict) -> list:
    rej = {key: np.asarray(v) for key, v in results["rejections"].items()}
    steps = results["steps"]
    T = int(results["n_test"])
    first, last = f"step {steps[0]}", f"step {steps[-1]}"
    out = []
    for method, paper in (("mmd-d", "MMD-D"), ("mmd-mp", "MMD-MP")):
        null = f"{method} | null"
        est = {method: _binomial(rej[method][0]), null: _binomial(rej[null][0]), SUMMARY: _binomial(rej[SUMMARY][0])}
        out.append(Claim(
            f"first_stage_power_{method.replace('-', '_')}", f"{first}: {paper} on residuals tells the generators from "
            f"Bayes in at least {params['power_threshold']:g} of {T} tests", threshold=params["power_threshold"],
            direction=">=", subject=method, controls=(null, SUMMARY), estimates=est))
    for method, paper in (("mmd-d", "MMD-D"), ("mmd-mp", "MMD-MP")):
        def drop(label, idx):
            return float(rej[label][-1, idx].mean() - rej[label][0, idx].mean())

        out.append(Claim(
            f"power_drop_{method.replace('-', '_')}", f"{paper}: power at {last} minus power at {first} is at most "
            f"-{params['drop']:g} (detection gets harder as the transformers approach Bayes)",
            threshold=-params["drop"], direction="<=", subject=method, controls=(f"{method} | null",),
            statistic=drop, n_units=T, unit="test repetitions"))

    def minus_mmd_d(label, idx):
        return float(np.mean(rej[label][:, idx].mean(-1) - rej["mmd-d"][:, idx].mean(-1)))

    out.append(Claim(
        "mmd_mp_minus_mmd_d_power", "MMD-MP's power minus MMD-D's, averaged over the checkpoints, is >= 0 (Zhang et "
        "al. 2024: MMD-MP is the more powerful when Y mixes several generators)", threshold=0.0, direction=">=",
        subject="mmd-mp", controls=(SUMMARY,), statistic=minus_mmd_d, n_units=T, unit="test repetitions"))
    pooled = np.concatenate([rej[f"{m} | null"].ravel() for m in METHODS])
    out.append(Claim(
        "type1_pooled", f"type-I error of MMD-D and MMD-MP pooled over {len(steps)} checkpoints x {T} tests is at most "
        f"{params['type1_threshold']:g} (alpha {results['alpha']:g})", threshold=params["type1_threshold"],
        direction="<=", subject="mmd-d and mmd-mp", controls=(NAIVE,),
        estimates={"mmd-d and mmd-mp": _binomial(pooled), NAIVE: _binomial(rej[NAIVE])}))
    return out


def summary(results: dict, params: dict) -> str:
    rej = {key: np.asarray(v) for key, v in results["rejections"].items()}
    rows = [f"d = {results['d']}, residuals at k = {results['k']}, n = {results['n']} per sample, "
            f"{results['n_test']} tests per stage; generators (layers, width) = {results['sizes']}",
            "step    " + "".join(f"{t:>20}" for t in TESTS) + "   SPD(generator, Bayes) / E[y^2] per size",
            "        " + "".join(f"{'power / type-I':>20}" for _ in TESTS)]
    for j, s in enumerate(results["steps"]):
        rows.append(f"{s:<8d}" + "".join(f"{rej[t][j].mean():>11.2f} / {rej[t + ' | null'][j].mean():.2f}"
                                         for t in TESTS)
                    + "   " + " ".join(f"{v:.4f}" for v in np.asarray(results["spd"])[:, j]))
    diag = np.asarray(results["diag"])
    for m, method in enumerate(METHODS):
        rows.append(f"{method} training (mean over stages): J at start {diag[m, :, 0].mean():+.3f}, at the end "
                    f"{diag[m, :, 1].mean():+.3f}; returned kernel's mean off-diagonal entry {diag[m, :, 2].mean():.3g} "
                    f"(min {diag[m, :, 2].min():.3g}; near 0 = collapsed)")
    return "\n".join(rows)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    steps = np.asarray(results["steps"])
    rej = {key: np.asarray(v) for key, v in results["rejections"].items()}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
    colors = {"mmd-d": "tab:blue", "mmd-mp": "tab:red", "median": "0.45", SUMMARY: "tab:cyan"}
    labels = {"mmd-d": "MMD-D (residual)", "mmd-mp": "MMD-MP (residual)", "median": "median heuristic (residual)",
              SUMMARY: "MMD-D on the 11-d summary (control)"}
    for ax, suffix in ((axes[0], ""), (axes[1], " | null")):
        for t in TESTS:
            est = np.array([_binomial(rej[t + suffix][j]) for j in range(len(steps))])
            ax.errorbar(steps, est[:, 0], yerr=[est[:, 0] - est[:, 1], est[:, 2] - est[:, 0]], marker="o", ms=4,
                        capsize=2, lw=1.6, color=colors[t], label=labels[t])
    axes[0].axhline(params["power_threshold"], color="k", lw=0.8, ls=":")
    axes[0].set_ylabel("test power")
    axes[0].set_ylim(-0.03, 1.03)
    axes[0].set_title("(a) power: Bayes residuals vs generators' residuals")
    axes[1].axhline(results["alpha"], color="0.4", ls="--", label=r"$\alpha$")
    axes[1].axhline(params["type1_threshold"], color="k", lw=0.8, ls=":", label="claim threshold (pooled)")
    axes[1].set_ylim(-0.01, 0.35)
    axes[1].set_ylabel("type-I error")
    axes[1].set_title("(b) type-I error: Bayes vs Bayes")
    for i, (L, C) in enumerate(results["sizes"]):
        axes[2].plot(steps, np.clip(np.asarray(results["spd"])[i], 1e-5, None), marker="o",
                     label=f"{L} layer(s), width {C}")
    axes[2].set_yscale("log")
    axes[2].set_ylabel(f"SPD(generator, Bayes) / E[y²] at k = {results['k']}")
    axes[2].set_title("(c) how far each generator is from Bayes")
    for ax in axes:
        ax.set_xlabel("training step (checkpoint)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[1].legend(fontsize=8, loc="upper right")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Detecting transformer predictions (MMD-D vs MMD-MP, Zhang et al. 2024) in ICL: d = {results['d']}, "
                 f"n = {results['n']} residuals per sample, exact 95% intervals over {results['n_test']} tests",
                 fontsize=12)
    return fig
