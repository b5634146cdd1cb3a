"""Figure ``icl-classification``: a transformer classifying in context against NB, logistic regression, Bayes.

Two transformers are trained (``ctx.train``) on the classification tasks of ``icl.tasks``:

* ``gaussian-classes`` (Zheng et al. 2023; Ng & Jordan 2001): per prompt, class means
  ``mu_c ~ N(0, s^2 I)``, one diagonal variance ``v_j ~ U[a, b]`` shared by the classes, labels
  uniform; naive Bayes with a pooled variance has the Bayes-optimal form, and the exact Bayes
  classifier of the prior is :func:`estimators.gaussian_classes_bayes_prefixes`;
* ``linear-classification`` (Garg et al. 2022, Sec. 5): labels ``1[x^T w > 0]``, ``w ~ N(0, I)``
  (no closed-form Bayes classifier; naive Bayes is misspecified there).

On fresh evaluation prompts (``eval_generator(1000 + seed)``, disjoint from training) every
predictor gives class probabilities for each prefix (the ``predict_prefixes`` seam of docs/design.md with a class axis):
the transformer (softmax of its read-out), Gaussian naive Bayes (pooled variance, uniform
priors as the task draws labels, ``var_smoothing`` 0.01 so two-point prefixes stay finite),
L2 logistic regression (C = 1, penalised intercept, all prefixes in one batched Newton
solve), and on ``gaussian-classes`` the exact Bayes classifier. Two controls are scored the
same way: ``prior``, which ignores the context and predicts the uniform class distribution,
and ``transformer-shuffled``, the same transformer given each prompt's context labels permuted
within the prompt (``default_rng([1000 + seed, 0x7368])``), so the pairs carry no information
about the query's label. Panels: accuracy and log-loss against the number of in-context
examples k, with normal 95% bands over prompts.

Claims (95% paired-bootstrap intervals over evaluation prompts; the controls on the same resamples):

- gaussian-classes: at the last prefix (k = n - 1) the transformer's log-loss exceeds the exact
  Bayes classifier's by at most 0.1 nats (controls: ``prior``, ``transformer-shuffled``);
- gaussian-classes and linear-classification: at the last prefix the transformer's accuracy is
  at least logistic regression's minus 0.02 (controls: ``prior``, ``transformer-shuffled``).
"""

from __future__ import annotations

import numpy as np

from figures import Claim
from figures._common import load_run, run_config as _run_config

NAME = "icl-classification"
DESCRIPTION = "in-context classification: transformer vs naive Bayes, logistic regression, exact Bayes (Zheng 2023)"
PAPER_GPU_TIME = "not measured here (no GPU); estimate: about 1 h per run on one A100-class GPU, 2 runs of 100k steps"
VERSION = 2  # 2: per-prompt log-probabilities stored (bootstrap intervals), prior and label-shuffled controls

TASKS = ("gaussian-classes", "linear-classification")
_GAUSS = {"n_classes": 2, "mean_scale": 1.0, "var_low": 0.5, "var_high": 2.0, "shared": True}
PRESETS = {
    # a few dozen steps: for the test suite (the claims are computed but not expected to hold)
    "tiny": {"seed": 0, "base_preset": "linear-quick", "d": 3, "n_points": 8, "gaussian": _GAUSS,
             "run": {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "train.steps": 30,
                     "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
                     "train.checkpoint_every": 30, "train.device": "cpu"},
             "eval_prompts": 64},
    # CPU minutes
    "quick": {"seed": 0, "base_preset": "linear-quick", "d": 4, "n_points": 20, "gaussian": _GAUSS,
              "run": {"model.n_layer": 3, "model.n_embd": 64, "train.steps": 3000}, "eval_prompts": 2000},
    # GPU scale: Garg et al.'s model size
    "paper": {"seed": 0, "base_preset": "linear-paper", "d": 10, "n_points": 41, "gaussian": _GAUSS,
              "run": {"train.steps": 100000}, "eval_prompts": 10000},
}  # fmt: skip

NAMES = ("transformer", "naive-bayes", "logistic", "bayes", "prior", "transformer-shuffled")
SHUFFLE_DOMAIN = 0x7368  # "sh": the stream that permutes the context labels of the shuffled control


def run_config(params: dict, task: str):
    """The resolved :class:`icl.config.RunConfig` of the run on ``task``."""
    n = params["n_points"]
    sets = {"task.name": task, "task.d": params["d"], "task.n_points": n, "task.noise": 0.0,
            "model.n_positions": n}  # fmt: skip
    if task == "gaussian-classes":
        sets.update({f"task.kwargs.{k}": v for k, v in params["gaussian"].items()})
    sets.update(params["run"])
    return _run_config(params["base_preset"], sets, params["seed"])


def resolve(params: dict) -> dict:
    """The parameters plus both resolved run configs (a changed preset file invalidates the cache)."""
    from icl.config import config_to_dict

    return {**params, "resolved_runs": {t: config_to_dict(run_config(params, t)) for t in TASKS}}


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over prompts per k and a normal 95% band: values (B, n) -> three (n,) arrays."""
    mean = values.mean(0)
    half = 1.96 * values.std(0, ddof=1) / np.sqrt(values.shape[0])
    return mean, mean - half, mean + half


def score(log_probs: dict, ys: np.ndarray) -> dict:
    """Per-k accuracy and log-loss bands of every predictor's log-probabilities (B, n, C)."""
    out = {}
    for name, lp in log_probs.items():
        picked = np.take_along_axis(lp, ys[..., None], axis=-1)[..., 0]
        out[name] = {"accuracy": _band((lp.argmax(-1) == ys).astype(float)), "log_loss": _band(-picked)}
    return out


def shuffle_labels(ys: np.ndarray, seed: int) -> np.ndarray:
    """Each prompt's labels permuted within the prompt: (B, n) -> (B, n), same label counts per prompt.

    >>> ys = np.array([[0, 0, 1, 1, 1]])
    >>> sorted(shuffle_labels(ys, 0)[0].tolist())
    [0, 0, 1, 1, 1]
    """
    perm = np.argsort(np.random.default_rng([seed, SHUFFLE_DOMAIN]).random(ys.shape), axis=1)
    return np.take_along_axis(ys, perm, axis=1)


def compute(params: dict, ctx) -> dict:
    import torch

    from estimators import gaussian_classes_bayes_prefixes, gaussian_nb_prefixes, logistic_prefixes
    from icl.tasks import eval_generator, make_task

    out = {}
    for task_name in ctx.progress(TASKS, desc="runs"):
        run_dir = ctx.train(run_config(params, task_name))
        model, cfg = load_run(run_dir)
        task = make_task(cfg.task)
        C = task.n_classes
        batch = task.sample(params["eval_prompts"], cfg.task.n_points, eval_generator(1000 + ctx.seed))
        xs, ys = batch.xs.double().numpy(), batch.ys.numpy()
        logits = model.predict_prefixes(batch.xs, batch.ys.float()).double()
        shuffled = shuffle_labels(ys, 1000 + ctx.seed)
        logits_shuffled = model.predict_prefixes(batch.xs, torch.as_tensor(shuffled).float()).double()
        log_probs = {
            "transformer": torch.log_softmax(logits, dim=-1).numpy(),
            "transformer-shuffled": torch.log_softmax(logits_shuffled, dim=-1).numpy(),
            "prior": np.full(xs.shape[:2] + (C,), -np.log(C)),
            "naive-bayes": gaussian_nb_prefixes(xs, ys, n_classes=C, shared_variance=True, var_smoothing=0.01,
                                                priors=np.full(C, 1.0 / C), log=True),
            "logistic": logistic_prefixes(xs, ys, 1.0, n_classes=C, log=True),
        }  # fmt: skip
        if task_name == "gaussian-classes":
            g = params["gaussian"]
            log_probs["bayes"] = gaussian_classes_bayes_prefixes(
                xs, ys, n_classes=C, mean_scale=g["mean_scale"], var_low=g["var_low"], var_high=g["var_high"],
                shared=g["shared"], log=True)  # fmt: skip
        out[task_name] = {"k": np.arange(cfg.task.n_points), "names": list(log_probs), "run_dir": str(run_dir),
                          "scores": score(log_probs, ys), "ys": ys, "log_probs": log_probs}  # fmt: skip
    return out


def _last(results: dict, task: str, name: str, metric: str) -> float:
    return float(np.asarray(results[task]["scores"][name][metric][0])[-1])


def _per_prompt(r: dict) -> tuple[dict, dict]:
    """Per prompt (B, n): the log-probability of the true label and whether the most probable class is it."""
    ys = np.asarray(r["ys"])
    lp = {name: np.asarray(v, float) for name, v in r["log_probs"].items()}
    picked = {name: np.take_along_axis(v, ys[..., None], axis=-1)[..., 0] for name, v in lp.items()}
    correct = {name: (v.argmax(-1) == ys).astype(float) for name, v in lp.items()}
    return picked, correct


def claims(results: dict, params: dict) -> list:
    out = []
    if "gaussian-classes" in results:
        picked, _ = _per_prompt(results["gaussian-classes"])
        loss_last = {name: -v[:, -1] for name, v in picked.items()}
        n_units = len(loss_last["bayes"])
        out.append(Claim(
            "gaussian_logloss_gap_to_bayes_at_last_k", "gaussian-classes: at the last prefix the log-loss exceeds the "
            "exact Bayes classifier's by at most 0.1 nats", threshold=0.1, direction="<=", subject="transformer",
            controls=("prior", "transformer-shuffled"), n_units=n_units,
            statistic=lambda label, idx: float(loss_last[label][idx].mean() - loss_last["bayes"][idx].mean())))
    for task in TASKS:
        if task in results:
            _, correct = _per_prompt(results[task])
            acc_last = {name: v[:, -1] for name, v in correct.items()}
            out.append(Claim(
                f"{task}_accuracy_minus_logistic_at_last_k", f"{task}: at the last prefix the accuracy is at least "
                "logistic regression's minus 0.02", threshold=-0.02, direction=">=", subject="transformer",
                controls=("prior", "transformer-shuffled"), n_units=len(acc_last["logistic"]),
                statistic=lambda label, idx, a=acc_last: float(a[label][idx].mean() - a["logistic"][idx].mean())))
    return out


def summary(results: dict, params: dict) -> str:
    lines = ["at the last prefix: accuracy / log-loss"]
    for task, r in results.items():
        cells = [f"{name} {_last(results, task, name, 'accuracy'):.3f} / {_last(results, task, name, 'log_loss'):.3f}"
                 for name in r["names"]]  # fmt: skip
        lines.append(f"  {task}: " + "; ".join(cells))
    return "\n".join(lines)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    tasks = list(results)
    fig, axes = plt.subplots(len(tasks), 2, figsize=(10, 3.4 * len(tasks)), squeeze=False)
    styles = {"transformer": "C3-", "naive-bayes": "C0--", "logistic": "C2-.", "bayes": "k:", "prior": "C7:",
              "transformer-shuffled": "C1:"}
    for row, task in enumerate(tasks):
        r = results[task]
        k = np.asarray(r["k"])
        for col, metric in enumerate(("accuracy", "log_loss")):
            ax = axes[row, col]
            for name in r["names"]:
                mean, lo, hi = (np.asarray(a) for a in r["scores"][name][metric])
                ax.plot(k, mean, styles.get(name, "-"), label=name)
                ax.fill_between(k, lo, hi, color=styles.get(name, "C7")[:2] if name != "bayes" else "k", alpha=0.15)
            ax.set_xlabel("in-context examples k")
            ax.set_ylabel(metric.replace("_", "-"))
            ax.set_title(f"{task}: {metric.replace('_', '-')}")
            if metric == "log_loss":
                ax.set_ylim(0, min(2.0, ax.get_ylim()[1]))
        axes[row, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig
