# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Train a tiny transformer, load the run, and compare it with its baselines
#
# The toolkit's main loop in miniature: a run config (a preset plus overrides), `icl.train.train`
# into a run folder, `icl.run.load_model` to get the model back from its newest intact checkpoint,
# and `icl.evaluate.evaluate_model` to score it on fresh prompts (evaluation seeds are disjoint from
# training seeds by construction) against every baseline of its task: least squares, the exact
# Bayes predictor, gradient descent, averaging and 3-nearest neighbours (Garg et al. 2022, Fig. 2).
#
# The model is tiny (2 layers, width 32) and trains for 600 steps on d = 3, so this takes
# seconds on a CPU; it learns something, but it does not match least squares. The paper-scale
# version is `icl figure linear-regression --preset paper` (see the figure gallery).

# %%
import tempfile
import time

import numpy as np
import torch

from icl.config import config_hash, load_preset
from icl.evaluate import evaluate_model, format_table
from icl.run import load_model
from icl.tasks import make_task
from icl.train import train

torch.manual_seed(0)
cfg = load_preset("linear-quick", {
    "task.d": 3, "task.n_points": 9, "model.n_positions": 9,
    "model.n_layer": 2, "model.n_head": 2, "model.n_embd": 32,
    "train.steps": 600, "train.batch_size": 64, "train.warmup": 50,
    "train.eval_prompts": 128, "train.eval_every": 200, "train.checkpoint_every": 200,
    "train.device": "cpu",
})
print(f"config hash {config_hash(cfg)}: task {cfg.task.name}, d = {cfg.task.d}, {cfg.train.steps} steps")

# %% [markdown]
# ## Train into a run folder
#
# The folder holds the resolved config, checkpoints with SHA-256 manifests and `metrics.jsonl`.
# Calling `train` again on the same folder resumes; on a finished run it returns at once.

# %%
workdir = tempfile.TemporaryDirectory()
start = time.perf_counter()
run_dir = train(cfg, f"{workdir.name}/run", progress=False)
print(f"trained in {time.perf_counter() - start:.1f} s -> {sorted(p.name for p in run_dir.iterdir())}")

start = time.perf_counter()
assert train(cfg, run_dir, progress=False) == run_dir  # finished: nothing to do
print(f"second call (finished run): {time.perf_counter() - start:.2f} s")

# %% [markdown]
# ## Load it and evaluate against the baselines
#
# Errors are normalised by $E[y^2]$, so the zero predictor scores 1. `format_table` prints the
# error with its 95% band at k = d/2, d, 2d, and the implicit-weight distance (ILWD; Akyurek et
# al. 2023) of each baseline to the transformer.

# %%
model, run_cfg = load_model(run_dir)
task = make_task(run_cfg.task)
result = evaluate_model(model, task, n_prompts=500, seed=0, probes=False)
print(format_table(result))

# %% [markdown]
# ## The facts, prompt by prompt
#
# `result["preds"][name]` and `result["ys"]` hold every prompt's predictions, so differences get
# paired bootstrap intervals over prompts. At k = 2d the transformer is well below the zero
# predictor and below averaging and 3-NN, but above least squares, which is exact here (noiseless,
# k ≥ d): a 600-step model has not learned least squares.


# %%
def paired_interval(diff: np.ndarray, seed: int = 0, n_boot: int = 2000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of per-prompt differences."""
    boot = np.random.default_rng(seed).integers(0, len(diff), (n_boot, len(diff)))
    lo, hi = np.percentile(diff[boot].mean(1), [2.5, 97.5])
    return float(lo), float(hi)


ys, y2, k = np.asarray(result["ys"]), float(result["y2"]), 2 * task.d
err = {name: (np.asarray(p)[:, k] - ys[:, k]) ** 2 / y2 for name, p in result["preds"].items()}
print({name: round(float(e.mean()), 3) for name, e in err.items()})
hi_vs_zero = paired_interval(err["transformer"] - 1.0)[1]
lo_avg = paired_interval(err["averaging"] - err["transformer"])[0]
lo_knn = paired_interval(err["3-nn"] - err["transformer"])[0]
lo_ols = paired_interval(err["transformer"] - err["ols"])[0]
print(f"transformer - zero predictor: upper bound {hi_vs_zero:.3f}; averaging - transformer: lower bound "
      f"{lo_avg:.3f}; 3-NN - transformer: {lo_knn:.3f}; transformer - OLS: lower bound {lo_ols:.3f}")
assert hi_vs_zero < 0 and lo_avg > 0 and lo_knn > 0, "the model learned something"
assert lo_ols > 0, "but it is not least squares at this size"
assert err["ols"].max() < 1e-6, "OLS is exact for noiseless data once k >= d"
workdir.cleanup()

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
for name, (mean, lo, hi) in result["curves"].items():
    line, = ax.plot(result["k"], np.clip(mean, 1e-4, None), marker=".", label=name)
    ax.fill_between(result["k"], np.clip(lo, 1e-4, None), np.clip(hi, 1e-4, None), color=line.get_color(), alpha=0.15)
ax.axvline(task.d, color="0.5", ls=":")
ax.set(yscale="log", xlabel="in-context examples k", ylabel="normalised squared error",
       title="a 600-step transformer vs its baselines")
ax.legend(ncol=2, fontsize=8)
fig.tight_layout()
