"""Figure ``detect-generated``: telling trained transformers from the exact Bayes predictor with MMD tests.

The MMD-MP setting of Zhang et al. 2024 ("Detecting machine-generated texts by multi-population
aware optimization for maximum mean discrepancy", ICLR, Sec. 4) moved into in-context
learning. A *sample* is one prompt's summary and one prediction,

    z = (X^T y / k, x_q, y_hat) in R^{2d + 1},

from the first k pairs of a noisy linear-regression prompt and the query x_q = x_{k+1}.
The reference population X uses y_hat from the exact Bayes predictor (ridge at
lam = sigma^2, ``task.bayes_prefixes``); the "generated" population Y mixes equal shares of
samples whose y_hat comes from several trained transformers (different sizes), as MMD-MP's
Y mixes several text generators. At each training stage (checkpoint) a deep kernel is
trained on one draw with the MMD-D objective (Liu et al. 2020) and one with the MMD-MP
objective (:func:`estimators.mmd.train_kernel`), and each is used in a permutation test
(:func:`estimators.mmd.permutation_test`, alpha = 0.05) on ``n_test`` fresh draws (power)
and on ``n_test`` draws where Y is a second reference sample (type-I error). Prompts for
training the kernels and for testing come from disjoint evaluation streams.

Claims: early checkpoints are detected (power of the better test at the first stage
>= 0.5) and detection gets harder as the transformers train (power at the last stage below
that at the first); MMD-MP's power averaged over stages is at least MMD-D's; the type-I
error of both stays within alpha plus a binomial allowance of 2 standard errors.
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import eval_prompts, figure_device, model_preds, run_config

NAME = "detect-generated"
DESCRIPTION = "MMD-D vs MMD-MP power to tell trained transformers (several sizes, checkpoints) from exact Bayes"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 6 h on one H100: three 200k-step runs of "
                  "width 64-256 (~1-2 h each at an assumed 30-60 steps/s) plus minutes of kernel training per stage")
VERSION = 1

METHODS = ("mmd-d", "mmd-mp")
_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_head": 2, "train.steps": 40,
             "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16, "train.checkpoint_every": 20,
             "train.device": "cpu"}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[1, 8], [1, 16]], "k": 3, "n": 24,
             "pool_prompts": 200, "n_test": 4, "n_permutations": 19, "epochs": 5, "hidden": 8, "alpha": 0.05,
             "run": _TINY_RUN},
    # CPU minutes: d = 5, sigma^2 = 0.25, generators of 1 layer x width 32 and 3 layers x width 64, 3000 steps,
    # checkpoints every 500 steps; samples at k = d
    "quick": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[1, 32], [3, 64]], "k": 5, "n": 200,
              "pool_prompts": 4000, "n_test": 30, "n_permutations": 100, "epochs": 300, "hidden": 32,
              "alpha": 0.05, "run": {"train.steps": 3000, "train.checkpoint_every": 500,
                                     "train.eval_prompts": 256}},
    # three sizes up to 12 x 256, 200k steps, d = 8 (GPU)
    "paper": {"seed": 0, "base_preset": "noisy-linear-quick", "sizes": [[2, 64], [4, 128], [12, 256]], "k": 8,
              "n": 500, "pool_prompts": 40000, "n_test": 100, "n_permutations": 200, "epochs": 1000, "hidden": 50,
              "alpha": 0.05, "run": {"task.d": 8, "task.n_points": 17, "model.n_positions": 17, "train.steps": 200000,
                                     "train.checkpoint_every": 25000, "train.eval_prompts": 1024}},
}


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "model.n_layer": int(L), "model.n_embd": int(C),
                                               "train.keep_checkpoints": 1000}, params["seed"])
            for L, C in params["sizes"]]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


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


def compute(params: dict, ctx) -> dict:
    from estimators import permutation_test, train_kernel
    from icl.tasks import make_task

    configs = _configs(params)
    run_dirs = ctx.train_many(configs)
    cfg = configs[0]
    task = make_task(cfg.task)
    k, n, T, B = (int(params[x]) for x in ("k", "n", "n_test", "n_permutations"))
    alpha = float(params["alpha"])
    P = int(params["pool_prompts"])
    # two disjoint prompt pools (kernel training / testing), each with a reference and a generated half
    pools = {}
    for split, seed in (("train", 1000 + ctx.seed), ("test", 3000 + ctx.seed)):
        xs, ys, _ = eval_prompts(task, 2 * P, cfg.task.n_points, seed)
        bayes = np.asarray(task.bayes_prefixes(xs, ys))
        pools[split] = {"ref": samples(xs[:P], ys[:P], bayes[:P], k), "ref2": samples(xs[P:], ys[P:], bayes[P:], k),
                        "xs": xs[P:], "ys": ys[P:]}
    ckpts = [_checkpoint_models(r, c) for r, c in zip(run_dirs, configs)]
    steps = sorted(set.intersection(*(set(s for s, _ in ck) for ck in ckpts)))
    mu, sd = pools["train"]["ref"].mean(0), pools["train"]["ref"].std(0) + 1e-8
    z = lambda a: (a - mu) / sd  # noqa: E731  (standardised by the reference training sample)
    power = np.zeros((len(METHODS), len(steps)))
    type1 = np.zeros_like(power)
    spd = np.zeros((len(params["sizes"]), len(steps)))
    rng = np.random.default_rng([ctx.seed, 0x6D64])
    for j, step in enumerate(ctx.progress(steps, desc="stages")):
        gen = {}
        for split in ("train", "test"):
            p = pools[split]
            per_model = []
            for i, ck in enumerate(ckpts):
                model = dict(ck)[step]
                f = model_preds(model, p["xs"], p["ys"])
                per_model.append(samples(p["xs"], p["ys"], f, k))
                if split == "test":
                    spd[i, j] = float(np.mean((f[:, k] - np.asarray(task.bayes_prefixes(p["xs"], p["ys"]))[:, k]) ** 2)
                                      / task.y_second_moment)
            share = len(p["xs"]) // len(per_model)
            gen[split] = np.concatenate([g[i * share:(i + 1) * share] for i, g in enumerate(per_model)])
        Xtr, Ytr = z(_draw(pools["train"]["ref"], n, rng)), z(_draw(gen["train"], n, rng))
        Xte, Yte = z(_draw(pools["test"]["ref"], n, rng, T)), z(_draw(gen["test"], n, rng, T))
        Xnu, Ynu = z(_draw(pools["test"]["ref"], n, rng, T)), z(_draw(pools["test"]["ref2"], n, rng, T))
        for m, method in enumerate(METHODS):
            kern = train_kernel(Xtr, Ytr, method, n_epochs=int(params["epochs"]), hidden=int(params["hidden"]),
                                n_out=int(params["hidden"]), seed=ctx.seed + j)
            power[m, j] = np.mean(np.asarray(permutation_test(Xte, Yte, kern, B, seed=ctx.seed + j).pvalue) <= alpha)
            type1[m, j] = np.mean(np.asarray(permutation_test(Xnu, Ynu, kern, B, seed=ctx.seed + j).pvalue) <= alpha)
        ctx.log(f"[detect-generated] step {step}: power {dict(zip(METHODS, power[:, j].round(2)))}, type-I "
                f"{dict(zip(METHODS, type1[:, j].round(2)))}, SPD to Bayes per generator {spd[:, j].round(4)}")
    return {"steps": steps, "methods": list(METHODS), "power": power, "type1": type1, "spd": spd,
            "sizes": [list(s) for s in params["sizes"]], "n": n, "n_test": T, "k": k, "d": cfg.task.d,
            "alpha": alpha, "run_dirs": [str(r) for r in run_dirs]}


def claims(results: dict, params: dict) -> list:
    power, type1 = np.asarray(results["power"]), np.asarray(results["type1"])
    alpha, T = results["alpha"], results["n_test"]
    first, last = power[:, 0].max(), power[:, -1].max()
    mp_minus_d = float(power[1].mean() - power[0].mean())
    allow = alpha + 2 * np.sqrt(alpha * (1 - alpha) / T)
    worst = float(type1.max())
    return [
        Claim("first_stage_power", first, 0.5, first >= 0.5,
              f"step {results['steps'][0]}: the better test detects the generators with power >= 0.5"),
        Claim("power_last_minus_first", last - first, 0.0, last < first,
              f"power falls as the transformers train: best power at step {results['steps'][-1]} minus at step "
              f"{results['steps'][0]} < 0"),
        Claim("mmd_mp_minus_mmd_d_power", mp_minus_d, 0.0, mp_minus_d >= 0,
              "mean power over stages: MMD-MP minus MMD-D >= 0"),
        Claim("max_type1_error", worst, allow, worst <= allow,
              f"largest type-I error over stages and tests <= alpha + 2 binomial s.e. ({allow:.3f}, {T} tests)"),
    ]


def summary(results: dict, params: dict) -> str:
    rows = [f"d = {results['d']}, samples at k = {results['k']}, n = {results['n']} per sample, "
            f"{results['n_test']} tests per stage; generators (layers, width) = {results['sizes']}",
            "step     power MMD-D  MMD-MP   type-I MMD-D  MMD-MP   SPD(generator, Bayes) per size"]
    for j, s in enumerate(results["steps"]):
        p, t = np.asarray(results["power"])[:, j], np.asarray(results["type1"])[:, j]
        rows.append(f"{s:<8d} {p[0]:11.2f} {p[1]:7.2f} {t[0]:13.2f} {t[1]:7.2f}   "
                    + " ".join(f"{v:.4f}" for v in np.asarray(results["spd"])[:, j]))
    return "\n".join(rows)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    steps = np.asarray(results["steps"])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    colors = {"mmd-d": "tab:blue", "mmd-mp": "tab:red"}
    for m, method in enumerate(results["methods"]):
        axes[0].plot(steps, np.asarray(results["power"])[m], marker="o", lw=2, color=colors[method],
                     label=method.upper())
        axes[1].plot(steps, np.asarray(results["type1"])[m], marker="s", lw=1.6, color=colors[method],
                     label=method.upper())
    axes[0].set_ylabel("test power")
    axes[0].set_ylim(-0.03, 1.03)
    axes[0].set_title("(a) power: reference (Bayes) vs generators")
    axes[1].axhline(results["alpha"], color="0.4", ls="--", label=r"$\alpha$")
    axes[1].set_ylim(-0.03, 0.5)
    axes[1].set_ylabel("type-I error")
    axes[1].set_title("(b) type-I error: Bayes vs Bayes")
    for i, (L, C) in enumerate(results["sizes"]):
        axes[2].plot(steps, np.clip(np.asarray(results["spd"])[i], 1e-5, None), marker="o",
                     label=f"{L} layer(s), width {C}")
    axes[2].set_yscale("log")
    axes[2].set_ylabel(f"SPD(generator, Bayes) at k = {results['k']}")
    axes[2].set_title("(c) how far each generator is from Bayes")
    for ax in axes:
        ax.set_xlabel("training step (checkpoint)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Detecting transformer-generated predictions (MMD-D vs MMD-MP, Zhang et al. 2024) in ICL: "
                 f"d = {results['d']}, n = {results['n']} per sample", fontsize=12)
    return fig
