"""Extending the toolkit, 3: a new figure with claims and controls (shown on the docs page "Extending").

A figure is a module with NAME, DESCRIPTION, PRESETS (at least tiny / quick / paper),
PAPER_GPU_TIME and three functions: ``compute(params, ctx) -> dict`` (cached by a hash of the
parameters), ``plot(results, params) -> Figure`` (no computing) and ``claims(results, params) ->
[Claim]``. Saved as ``figures/NAME.py`` it is found by ``icl figure NAME``; here the same object
is built from this file with ``figures.make_figure``, which also accepts any object that has
those attributes.

The figure: ridge with the Bayes penalty vs least squares at the interpolation point k = d on
noisy linear regression (Garg et al. 2022; Akyurek et al. 2023). No transformer is trained, so
it builds in a second. Its claim, with controls that must fail it (docs/design.md, "Claims"):
"at k = d, the Bayes ridge's normalised error is at most 0.5" -- OLS (interpolation spike) and
the zero predictor (error 1) lack the property and must fail the same test on the same prompts.
"""

import json
import tempfile
import types

import numpy as np

from figures import Claim, make_figure

NAME = "ridge-spike"
DESCRIPTION = "Bayes ridge vs OLS at the interpolation point k = d (noisy linear regression)"
PAPER_GPU_TIME = "none: no training (seconds on a CPU)"
PRESETS = {
    "tiny": {"seed": 0, "d": 5, "noise": 0.25, "prompts": 400},
    "quick": {"seed": 0, "d": 10, "noise": 0.25, "prompts": 4000},
    "paper": {"seed": 0, "d": 20, "noise": 0.25, "prompts": 20000},
}


def compute(params: dict, ctx) -> dict:
    """Per-prompt squared errors at every k of OLS, Bayes ridge and the zero predictor."""
    from estimators import ols_prefixes, ridge_prefixes
    from icl.tasks import eval_generator, get_task

    task = get_task("linear", d=params["d"], noise=params["noise"])
    batch = task.sample(params["prompts"], 2 * params["d"] + 1, eval_generator(1000 + ctx.seed))
    xs, ys = batch.xs.double().numpy(), batch.ys.double().numpy()
    preds = {"ridge": ridge_prefixes(xs, ys, lam=task.ridge_lam), "ols": ols_prefixes(xs, ys),
             "zero": np.zeros_like(ys)}
    return {"errors": {k: (p - ys) ** 2 / task.y_second_moment for k, p in preds.items()}, "d": params["d"]}


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, err in results["errors"].items():
        ax.plot(np.median(np.asarray(err), axis=0), label=name)
    ax.axvline(results["d"], color="0.5", ls=":")
    ax.set(yscale="log", xlabel="k", ylabel="median normalised error")
    ax.legend()
    return fig


def claims(results: dict, params: dict) -> list:
    d = int(results["d"])
    err = {k: np.asarray(v) for k, v in results["errors"].items()}

    def error_at_d(label, idx):  # the statistic, on bootstrap resamples idx of the prompts
        return float(err[label][idx, d].mean())

    return [Claim("ridge_error_at_d", f"k = d = {d}: the Bayes ridge's normalised error is at most 0.5",
                  threshold=0.5, direction="<=", subject="ridge", controls=("ols", "zero"),
                  statistic=error_at_d, n_units=err["ridge"].shape[0], unit="prompts")]


figure = types.SimpleNamespace(NAME=NAME, DESCRIPTION=DESCRIPTION, PRESETS=PRESETS, PAPER_GPU_TIME=PAPER_GPU_TIME,
                               compute=compute, plot=plot, claims=claims)
with tempfile.TemporaryDirectory() as out:
    doc = make_figure(figure, preset="tiny", out_dir=out, progress=False, report=True)
    claim = doc["claims"][0]
    assert claim["verdict"] == "holds", claim  # interval below 0.5, and both controls fail
    assert {c["name"]: c["verdict"] for c in claim["controls"]} == {"ols": "fails", "zero": "fails"}
    saved = json.loads(open(doc["files"]["json"]).read())
    assert saved["claims"][0]["verdict"] == "holds" and "git_commit" in saved["provenance"]
    again = make_figure(figure, preset="tiny", out_dir=out, progress=False)  # cached: nothing recomputed
    assert again["provenance"]["from_cache"]
