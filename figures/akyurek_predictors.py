"""Figure ``akyurek-predictors``: which learning algorithm does in-context learning implement?

Akyurek et al. 2023 ("What learning algorithm is in-context learning? Investigations with
linear models", Sec. 4-5) compare trained transformers of several depths with explicit
learners on linear regression y = x^T w (+ noise), w ~ N(0, tau^2 I_d), tau = 1:

- prediction divergence SPD_k(transformer, A) = mean (f_k - g_k)^2 / E[y^2]
  (:func:`icl.evaluate.prediction_divergence`), averaged over k = 1..n-1 per prompt;
- implicit-weight distance ILWD_k = ||w_imp(transformer) - w_A||^2 with the transformer's
  weights read off by least squares on 2d + 1 probe queries (:func:`icl.evaluate.implicit_weights`),

for A among gradient descent (1 step and ``gd_steps`` steps from 0, rates tuned on separate
prompts, :func:`figures._common.tune_gd_lr`), ridge and OLS. Instead of a few fixed ridge
penalties (a fixed grid decides the verdict: a lam of 0.05 is nearly OLS, and lam = 0.5 fits
the noisy model better than the Bayes 0.25), the penalty is **fitted**: the lam on a log grid
(10 per decade, ``lam_bayes * 10^(j/10)``, j = -40..30, so the Bayes value is a grid point) that
minimises the mean SPD between ridge(lam) and the predictor. Its 95% interval comes from a
bootstrap over evaluation prompts (the fit repeated on every resample).

Linear probes read w and X^T y from the last x token's state of each layer of the deepest
noiseless model (ridge read-out, lam = 1e-3 per sample, fitted on half the evaluation prompts
and scored by pooled R^2 on the other half; Akyurek et al. 2023, Sec. 5). A probe can fit
noise, so its R^2 is compared with a null distribution: ``n_null`` probes fitted to the same
features with the training targets shuffled across prompts, the same best-layer selection
applied to each.

Claims (95% paired-bootstrap intervals over evaluation prompts; controls on the same resamples):

- noiseless, deepest model: the fitted ridge lam is at most a tenth of the noisy setting's Bayes
  value (0.025 at sigma^2 = 0.25): it behaves as OLS (lam -> 0). Controls: ridge at the noisy
  Bayes lam, one step of GD, the zero predictor;
- noisy, deepest model: the fitted lam is the Bayes value sigma^2 / tau^2 to the grid's
  resolution, |log10(lam_fit / lam_bayes)| <= 0.05 (half a grid step): holds when the 95%
  interval of the fitted lam is the Bayes grid point, is undetermined when the interval contains
  it and other points, fails when the interval excludes it. Controls: OLS, ridge at 4 and at
  1/4 times the Bayes lam (the ridges of noise levels 4x off), the zero predictor;
- noiseless, shallowest model: its mean SPD to the nearer GD is below its SPD to OLS (log ratio
  < 0). Control: the deepest model (the paper: deeper models move from GD to OLS);
- noiseless, deepest model, for w and for X^T y: the best layer's held-out probe R^2 minus the
  95th percentile of the shuffled-target null is >= 0. Controls: the same probe on the
  embedding layer (it has seen x_query only) and on the untrained model (the run's initialisation).

The two lam claims are ``scale="paper"``: the quick models are undertrained (the fitted lam of
each kept checkpoint is measured and quoted in the claim's reason).

The module is above the ~400-line guide on purpose: its three analyses (the lam fit with its
bootstrap, GD-vs-OLS by depth, probes with their null) read one set of evaluated prompts, and no
other figure uses them.

Seeds: evaluation prompts ``eval_generator(1000 + seed)`` (the same prompts for every depth, so the
depths are paired), GD calibration ``eval_generator(2000 + seed)``; the probe split, the null's
shuffles and the ILWD probe queries derive from ``seed`` as well.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from figures import Claim
from figures._common import eval_prompts, figure_device, load_run, model_preds, run_config, tune_gd_lr

NAME = "akyurek-predictors"
DESCRIPTION = "transformers of several depths vs GD, fitted ridge lam and OLS: SPD, ILWD, probes (Akyurek 2023)"
PAPER_GPU_TIME = ("not measured (no GPU was available); estimate about 8 x 3 h on one H100: depths 1, 2, 4, 12 "
                  "x {noiseless, noisy}, 500k steps each at width 256, an assumed ~30-120 steps/s by depth")
VERSION = 3  # 2: fitted ridge lam, per-prompt SPD, probe nulls, controls; 3: lam at every kept checkpoint, errors

_TINY_RUN = {"task.d": 3, "task.n_points": 7, "model.n_positions": 7, "model.n_head": 2, "model.n_embd": 16,
             "train.steps": 30, "train.batch_size": 16, "train.warmup": 5, "train.eval_prompts": 16,
             "train.checkpoint_every": 30, "train.device": "cpu"}
PRESETS = {
    "tiny": {"seed": 0, "base_preset": "linear-quick", "depths": [1, 2], "noise": 0.25, "gd_steps": 5,
             "eval_prompts": 64, "n_contexts": 8, "n_null": 20, "run": _TINY_RUN},
    # CPU minutes: d = 5, 11-point prompts, width-64 GPTs of depth 1 and 3, noiseless and sigma^2 = 0.25, 3000 steps
    "quick": {"seed": 0, "base_preset": "linear-quick", "depths": [1, 3], "noise": 0.25, "gd_steps": 5,
              "eval_prompts": 2000, "n_contexts": 64, "n_null": 200,
              "run": {"train.steps": 3000, "train.eval_prompts": 256, "train.checkpoint_every": 1000}},
    # Akyurek's scale: d = 8 (their Sec. 4), 17 points, depths 1, 2, 4, 12 at width 256, 500k steps (GPU)
    "paper": {"seed": 0, "base_preset": "linear-paper", "depths": [1, 2, 4, 12], "noise": 0.25, "gd_steps": 10,
              "eval_prompts": 5000, "n_contexts": 256, "n_null": 200,
              "run": {"task.d": 8, "task.n_points": 17, "model.n_positions": 17, "train.curriculum.enabled": False}},
}
LAM_STEPS = np.arange(-40, 31)  # the lam grid: lam_bayes * 10 ** (LAM_STEPS / 10)
CONTROL_FACTORS = (4.0, 0.25)  # noisy controls: ridge at these multiples of the Bayes lam
PROBE_LAM = 1e-3
PROBE_DOMAIN, SHUFFLE_DOMAIN, QUERY_DOMAIN = 0x7072, 0x7368, 0x696C  # "pr", "sh", "il": split, null shuffles, ILWD
COLORS = {"ols": "tab:blue", "ridge-bayes": "tab:red", "gd-1": "tab:olive", "gd-m": "tab:green", "zero": "0.5"}


def _jobs(params: dict) -> list[tuple[str, int, float]]:
    return [(s, int(L), nz) for s, nz in (("noiseless", 0.0), ("noisy", float(params["noise"])))
            for L in params["depths"]]


def _configs(params: dict) -> list:
    return [run_config(params["base_preset"], {**params["run"], "model.n_layer": L, "task.noise": nz}, params["seed"])
            for _, L, nz in _jobs(params)]


def resolve(params: dict) -> dict:
    from icl.config import config_to_dict

    return {**params, "resolved_runs": [config_to_dict(c) for c in _configs(params)]}


def lam_grid(lam_bayes: float) -> np.ndarray:
    """The log grid of ridge penalties, 10 per decade, with ``lam_bayes`` on it.

    >>> g = lam_grid(0.25)
    >>> len(g), float(g[40]), round(float(g[0]), 7), round(float(g[-1]), 1)
    (71, 0.25, 2.5e-05, 250.0)
    """
    return float(lam_bayes) * 10.0 ** (LAM_STEPS / 10.0)


def baselines(params: dict, task, n_points: int, seed: int, lam_bayes: float) -> dict:
    """name -> all-prefix predictor: OLS, ridge at the Bayes lam and at the control multiples, GD, zero."""
    from estimators import gd_prefixes, ols_prefixes, ridge_prefixes

    out = {"ols": ols_prefixes, "ridge-bayes": partial(ridge_prefixes, lam=lam_bayes)}
    for f in CONTROL_FACTORS:
        out[f"ridge-{f:g}x"] = partial(ridge_prefixes, lam=f * lam_bayes)
    m = int(params["gd_steps"])
    lr1, lrm = (tune_gd_lr(task, n_points, seed, steps) for steps in (1, m))
    out["gd-1"] = partial(gd_prefixes, lr=lr1, steps=1)
    out["gd-m"] = partial(gd_prefixes, lr=lrm, steps=m)
    out["zero"] = lambda xs, ys: np.zeros_like(ys)
    return out


def ridge_path_prefixes(xs: np.ndarray, ys: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """Ridge on every prefix for every penalty: (G, B, n), ``out[g] = ridge_prefixes(xs, ys, lams[g])``.

    With ``S_k = sum_{i<k} x_i x_i^T = V diag(e) V^T`` and ``c_k = sum_{i<k} y_i x_i``, the prediction
    ``x_k^T (S_k + lam I)^{-1} c_k = sum_j (x_k^T v_j)(v_j^T c_k) / (e_j + lam)``: one batched
    eigendecomposition serves the whole grid.
    """
    outer = np.einsum("bni,bnj->bnij", xs, xs)
    S = np.cumsum(outer, axis=1) - outer  # (B, n, d, d): pairs before k
    c = np.cumsum(ys[..., None] * xs, axis=1) - ys[..., None] * xs  # (B, n, d)
    e, V = np.linalg.eigh(S)
    a, b = np.einsum("bnd,bndj->bnj", xs, V), np.einsum("bndj,bnd->bnj", V, c)
    e = np.maximum(e, 0.0)
    return np.einsum("bnj,gbnj->gbn", a * b, 1.0 / (e[None] + np.asarray(lams)[:, None, None, None]))


def spd_per_prompt(f: np.ndarray, g: np.ndarray, y2: float) -> np.ndarray:
    """Per prompt: mean over k = 1..n-1 of (f_k - g_k)^2 / E[y^2]; f, g (..., B, n) -> (..., B)."""
    return ((f - g)[..., 1:] ** 2).mean(-1) / y2


def _probe_errors(feats: list, target: np.ndarray, train: np.ndarray, test: np.ndarray, n_null: int,
                  seed: int) -> dict:
    """Per test prompt squared errors of ridge read-outs of ``target`` from each layer's features.

    Returns ``sse`` (L, P_test), ``sst`` (P_test,) (squared deviation from the test mean, so
    ``1 - sse.sum(-1) / sst.sum()`` is :func:`icl.evaluate.linear_probe`'s pooled R^2) and
    ``null_sse`` (n_null, L, P_test): the same read-outs fitted to training targets shuffled across prompts.
    """
    rng = np.random.default_rng([seed, SHUFFLE_DOMAIN])
    perms = np.stack([rng.permutation(len(train)) for _ in range(n_null)])  # (n_null, P_train)
    t_tr, t_te = target[train], target[test]
    sst = ((t_te - t_te.mean(0)) ** 2).sum(-1)
    sse, null_sse = [], []
    for h in feats:
        f_tr, f_te = h[train], h[test]
        fm = f_tr.mean(0)
        fc = f_tr - fm
        gram = fc.T @ fc + PROBE_LAM * len(fc) * np.eye(fc.shape[1])
        targets = np.concatenate([t_tr[None], t_tr[perms]])  # (1 + n_null, P_train, T)
        tc = targets - targets.mean(1, keepdims=True)
        coef = np.linalg.lstsq(gram, np.einsum("pc,spt->sct", fc, tc).transpose(1, 0, 2).reshape(fc.shape[1], -1),
                               rcond=None)[0].reshape(fc.shape[1], len(targets), -1)  # (C, S, T)
        pred = np.einsum("pc,cst->spt", f_te - fm, coef) + targets.mean(1)[:, None, :]
        err = ((t_te[None] - pred) ** 2).sum(-1)  # (S, P_test)
        sse.append(err[0])
        null_sse.append(err[1:])
    return {"sse": np.stack(sse), "sst": sst, "null_sse": np.stack(null_sse, axis=1)}


def probes(model, untrained, xs: np.ndarray, ys: np.ndarray, w: np.ndarray, n_null: int, seed: int) -> dict:
    """Probe errors for w and X^T y: the model's layers, its embedding layer alone, and the untrained model."""
    import torch

    from icl.model import x_positions

    def last_x_states(m):
        device = next(m.parameters()).device
        with torch.no_grad():
            states = m.hidden_states(torch.as_tensor(xs, dtype=torch.float32, device=device),
                                     torch.as_tensor(ys, dtype=torch.float32, device=device))
        return [x_positions(h)[:, -1].double().cpu().numpy() for h in states]

    feats, feats0 = last_x_states(model), last_x_states(untrained)
    order = np.random.default_rng([seed, PROBE_DOMAIN]).permutation(len(xs))
    train, test = np.sort(order[: len(xs) // 2]), np.sort(order[len(xs) // 2:])
    targets = {"w": w, "X^T y": np.einsum("bnd,bn->bd", xs[:, :-1], ys[:, :-1])}
    out = {}
    for name, t in targets.items():
        out[name] = {"transformer": _probe_errors(feats, t, train, test, n_null, seed),
                     "embedding": _probe_errors(feats[:1], t, train, test, n_null, seed),
                     "untrained": _probe_errors(feats0, t, train, test, n_null, seed)}
    return out


def _lam_trend(run_dir, cfg, xs, ys, path, grid, y2) -> list[dict]:
    """The fitted lam of every checkpoint the run kept, oldest first: does training move it towards the claim?"""
    from icl.checkpoint import list_checkpoints, load_checkpoint
    from icl.run import build_model

    out = []
    for ckpt in reversed(list_checkpoints(run_dir)):
        state = load_checkpoint(ckpt)
        model = build_model(cfg)
        model.load_state_dict(state["model"])
        spd = spd_per_prompt(path, model_preds(model.to(figure_device()).eval(), xs, ys), y2).mean(1)
        out.append({"step": int(state["step"]), "lam": float(grid[int(np.argmin(spd))])})
    return out


def compute(params: dict, ctx) -> dict:
    from icl.evaluate import implicit_weights, model_prefix_fn, report_ks
    from icl.run import build_model
    from icl.tasks import make_task

    run_dirs = ctx.train_many(_configs(params))
    lam_bayes = float(params["noise"])  # sigma^2 / tau^2 with tau = 1 (task.scale)
    grid = lam_grid(lam_bayes)
    out: dict = {"lam_grid": grid, "lam_bayes": lam_bayes, "runs": [], "baselines": {}}
    deepest = max(params["depths"])
    shared: dict = {}  # setting -> (baseline predictions, ridge path) on its evaluation prompts
    for (setting, depth, noise), run_dir in zip(_jobs(params), run_dirs):
        model, cfg = load_run(run_dir)
        task = make_task(cfg.task)
        if float(task.scale) != 1.0:
            raise ValueError(f"akyurek-predictors: the lam grid assumes tau = 1, got task.scale = {task.scale}")
        n, d = cfg.task.n_points, cfg.task.d
        xs, ys, w = eval_prompts(task, params["eval_prompts"], n, 1000 + ctx.seed)
        y2 = float(task.y_second_moment)
        base = baselines(params, task, n, 2000 + ctx.seed, lam_bayes)
        if setting not in out["baselines"]:  # the same prompts and baselines for every depth of a setting
            preds = {b: np.asarray(fn(xs, ys), dtype=np.float64) for b, fn in base.items()}
            path = ridge_path_prefixes(xs, ys, grid)  # (G, P, n)
            out["baselines"][setting] = {
                "preds_spd": {b: {c: spd_per_prompt(p, q, y2) for c, q in preds.items()} for b, p in preds.items()},
                "lam_spd": {b: spd_per_prompt(path, p, y2).T.astype(np.float32) for b, p in preds.items()}}
            shared[setting] = preds, path
        preds, path = shared[setting]
        f_t = model_preds(model, xs, ys)
        spd_k = {b: ((f_t - p) ** 2).mean(0) / y2 for b, p in preds.items()}
        probe_xs = np.random.default_rng([ctx.seed, QUERY_DOMAIN]).standard_normal((2 * d + 1, d))
        c = min(int(params["n_contexts"]), len(xs))
        ks = report_ks(d, n)
        ilwd = {b: [] for b in base if b != "zero"}
        for k in ks:
            w_t, _ = implicit_weights(model_prefix_fn(model), xs[:c, :k], ys[:c, :k], probe_xs)
            for b in ilwd:
                w_b, _ = implicit_weights(base[b], xs[:c, :k], ys[:c, :k], probe_xs)
                ilwd[b].append(float(np.mean(np.sum((w_t - w_b) ** 2, axis=-1))))
        entry = {"setting": setting, "depth": depth, "noise": noise, "d": d, "k": np.arange(n), "run_dir": str(run_dir),
                 "names": list(base), "spd": spd_k, "mean_spd": {b: float(np.mean(v[1:])) for b, v in spd_k.items()},
                 "spd_prompt": {b: spd_per_prompt(f_t, p, y2) for b, p in preds.items()},
                 "lam_spd": spd_per_prompt(path, f_t, y2).T.astype(np.float32),  # (P, G)
                 "ilwd_ks": ks, "ilwd": ilwd}
        if depth == deepest:
            entry["lam_trend"] = _lam_trend(run_dir, cfg, xs, ys, path, grid, y2)
            entry["error"] = {"transformer": float(((f_t - ys)[:, 1:] ** 2).mean() / y2),
                              **{b: float(((preds[b] - ys)[:, 1:] ** 2).mean() / y2) for b in ("ols", "ridge-bayes")}}
            untrained = build_model(cfg).to(next(model.parameters()).device).eval()
            entry["probes"] = probes(model, untrained, xs, ys, np.asarray(w, dtype=np.float64),
                                     int(params["n_null"]), ctx.seed)
        fit = grid[int(np.argmin(entry["lam_spd"].mean(0)))]
        ctx.log(f"[akyurek] {setting} depth {depth}: fitted ridge lam {fit:.4g}; mean SPD {entry['mean_spd']}")
        out["runs"].append(entry)
    return out


def _get(results: dict, setting: str, depth: int) -> dict:
    return next(r for r in results["runs"] if r["setting"] == setting and r["depth"] == depth)


def _lam_spd(results: dict, setting: str, label: str) -> np.ndarray:
    """Per-prompt SPD to ridge(lam) on the grid, (P, G), of a transformer (``transformer-L<depth>``) or a baseline."""
    if label.startswith("transformer-L"):
        return np.asarray(_get(results, setting, int(label[len("transformer-L"):]))["lam_spd"], dtype=np.float64)
    return np.asarray(results["baselines"][setting]["lam_spd"][label], dtype=np.float64)


def fitted_lam(lam_spd: np.ndarray, grid: np.ndarray, idx: np.ndarray) -> float:
    """The grid lam minimising the mean SPD over the prompts ``idx`` (a bootstrap resample)."""
    counts = np.bincount(idx, minlength=lam_spd.shape[0])
    return float(grid[int(np.argmin(counts @ lam_spd))])


def _null_margin(p: dict, idx: np.ndarray) -> float:
    """Best-layer R^2 on the test prompts ``idx`` minus the 95th percentile of the shuffled-target null's."""
    counts = np.bincount(idx, minlength=p["sst"].shape[0])
    sst = counts @ p["sst"]
    real = 1.0 - (np.asarray(p["sse"]) @ counts) / sst  # (L,)
    null = 1.0 - (np.asarray(p["null_sse"]) @ counts) / sst  # (n_null, L)
    return float(real.max() - np.percentile(null.max(1), 95))


def claims(results: dict, params: dict) -> list:
    lo, hi = min(params["depths"]), max(params["depths"])
    grid, lam_b = np.asarray(results["lam_grid"]), float(results["lam_bayes"])
    deep, shallow = f"transformer-L{hi}", f"transformer-L{lo}"
    n_units = _get(results, "noiseless", hi)["lam_spd"].shape[0]
    spd = {s: {b: _lam_spd(results, s, b) for b in (deep, shallow, *results["baselines"][s]["lam_spd"])}
           for s in ("noiseless", "noisy")}

    def noiseless_lam(label, idx):
        return fitted_lam(spd["noiseless"][label], grid, idx)

    def noisy_log_ratio(label, idx):
        return abs(float(np.log10(fitted_lam(spd["noisy"][label], grid, idx) / lam_b)))

    free_b = results["baselines"]["noiseless"]["preds_spd"]

    def to_spd(label, target):  # per-prompt mean-k SPD of label (a noiseless transformer or baseline) to target
        if label.startswith("transformer-L"):
            return np.asarray(_get(results, "noiseless", int(label[len("transformer-L"):]))["spd_prompt"][target])
        return np.asarray(free_b[label][target])

    def gd_vs_ols(label, idx):
        gd = min(to_spd(label, "gd-1")[idx].mean(), to_spd(label, "gd-m")[idx].mean())
        return float(np.log((gd + 1e-12) / (to_spd(label, "ols")[idx].mean() + 1e-12)))

    def trend(setting: str, target: str) -> str:
        r = _get(results, setting, hi)
        steps = ", ".join(f"{t['lam']:.3g} at step {t['step']}" for t in r["lam_trend"])
        e = r["error"]
        return (f"the quick model is undertrained: its fitted lam moves with training ({steps}; {target}) and its "
                f"error averaged over k is {e['transformer']:.3f} vs OLS {e['ols']:.3f}, Bayes ridge "
                f"{e['ridge-bayes']:.3f}; Akyurek et al. train 500k steps")

    out = [
        Claim("noiseless_fitted_lam_near_ols", f"noiseless, depth {hi}: the ridge lam fitted to the transformer (min "
              f"mean SPD) is at most {lam_b / 10:g}, a tenth of the noisy Bayes lam (OLS is lam -> 0)",
              threshold=float(grid[LAM_STEPS == -10][0]), direction="<=", subject=deep,
              controls=("ridge-bayes", "gd-1", "zero"), statistic=noiseless_lam, n_units=n_units,
              scale="paper", scale_reason=trend("noiseless", f"the claim needs lam <= {lam_b / 10:g}")),
        Claim("noisy_fitted_lam_is_bayes", f"noise {lam_b:g}, depth {hi}: the fitted ridge lam is the Bayes lam "
              f"{lam_b:g} to the grid's resolution (value: |log10(lam_fit / lam_bayes)|, half a grid step 0.05)",
              threshold=0.05, direction="<=", subject=deep,
              controls=("ols", *(f"ridge-{f:g}x" for f in CONTROL_FACTORS), "zero"), statistic=noisy_log_ratio,
              n_units=n_units, scale="paper", scale_reason=trend("noisy", f"the claim needs lam = {lam_b:g}")),
        Claim("shallow_closer_to_gd_than_ols", f"noiseless, depth {lo}: mean SPD to the nearer GD is below that to "
              f"OLS (value: log of their ratio); the depth-{hi} model is the control", threshold=0.0, direction="<=",
              subject=shallow, controls=(deep,), statistic=gd_vs_ols, n_units=n_units),
    ]
    p = _get(results, "noiseless", hi)["probes"]
    for target in ("w", "X^T y"):
        pt = p[target]
        out.append(Claim(
            f"probe_{target.replace('^', '').replace(' ', '')}_above_null", f"noiseless, depth {hi}: best-layer probe "
            f"R^2 of {target} minus the 95th percentile of {params['n_null']} shuffled-target probes is >= 0",
            threshold=0.0, direction=">=", subject="transformer", controls=("embedding", "untrained"),
            statistic=lambda label, idx, pt=pt: _null_margin(pt[label], idx),
            n_units=int(np.asarray(pt["transformer"]["sst"]).shape[0]), unit="test prompts"))
    return out


def _r2(p: dict) -> np.ndarray:
    return 1.0 - np.asarray(p["sse"]).sum(-1) / np.asarray(p["sst"]).sum()


def _null_q95(p: dict) -> np.ndarray:
    return np.percentile(1.0 - np.asarray(p["null_sse"]).sum(-1) / np.asarray(p["sst"]).sum(), 95, axis=0)


def summary(results: dict, params: dict) -> str:
    grid, lam_b = np.asarray(results["lam_grid"]), results["lam_bayes"]
    lines = [f"ridge lam fitted by min mean SPD on the grid lam_bayes * 10^(j/10), lam_bayes = {lam_b:g}; "
             "95% bootstrap interval over prompts (400 resamples)"]
    rng = np.random.default_rng(0)
    for r in results["runs"]:
        s = np.asarray(r["lam_spd"], dtype=np.float64)
        boots = [fitted_lam(s, grid, rng.integers(0, len(s), len(s))) for _ in range(400)]
        fit, (blo, bhi) = fitted_lam(s, grid, np.arange(len(s))), np.percentile(boots, [2.5, 97.5])
        spd = ", ".join(f"{b} {v:.4f}" for b, v in sorted(r["mean_spd"].items(), key=lambda kv: kv[1]))
        il = ", ".join(f"{b} {v[-1]:.3f}" for b, v in r["ilwd"].items())
        lines.append(f"{r['setting']} depth {r['depth']}: fitted lam {fit:.4g} [{blo:.4g}, {bhi:.4g}]"
                     f"{' (Bayes lam inside)' if blo <= lam_b <= bhi else ''}\n"
                     f"   mean SPD (closest first) {spd}\n   ILWD at k = {r['ilwd_ks'][-1]}: {il}")
        if "lam_trend" in r:
            lines.append("   fitted lam by checkpoint: " + ", ".join(f"step {t['step']}: {t['lam']:.4g}"
                                                                   for t in r["lam_trend"]))
        if "probes" in r:
            for t, pt in r["probes"].items():
                lines.append(f"   probe R^2 of {t} per layer: " + " ".join(f"{v:.3f}" for v in _r2(pt["transformer"]))
                             + "; null 95th pct: " + " ".join(f"{v:.3f}" for v in _null_q95(pt["transformer"]))
                             + "; untrained: " + " ".join(f"{v:.3f}" for v in _r2(pt["untrained"])))
    return "\n".join(lines)


def plot(results: dict, params: dict):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    depths = sorted(params["depths"])
    grid, lam_b = np.asarray(results["lam_grid"]), results["lam_bayes"]
    fig, axes = plt.subplots(2, 4, figsize=(21, 9), constrained_layout=True)
    for row, setting in enumerate(("noiseless", "noisy")):
        tag = "abcdefgh"[4 * row: 4 * row + 4]
        ax = axes[row, 0]
        for b in ("ols", "ridge-bayes", "gd-1", "gd-m"):
            for L, ls in zip(depths, ("--", "-", ":", "-.")):
                r = _get(results, setting, L)
                ax.plot(r["k"][1:], np.clip(r["spd"][b][1:], 1e-5, None), ls=ls, color=COLORS.get(b),
                        lw=2.0 if L == depths[-1] else 1.2, label=f"{b}, depth {L}")
        ax.set_yscale("log")
        ax.set_xlabel("in-context examples k")
        ax.set_ylabel("SPD(transformer, predictor)")
        ax.set_title(f"({tag[0]}) {setting}: prediction divergence")
        ax.legend(fontsize=6.5, ncol=2)
        ax = axes[row, 1]
        for L, ls in zip(depths, ("--", "-", ":", "-.")):
            curve = np.asarray(_get(results, setting, L)["lam_spd"], dtype=np.float64).mean(0)
            ax.plot(grid, curve, ls=ls, color="black", lw=2.0 if L == depths[-1] else 1.2, label=f"depth {L}")
            ax.plot(grid[np.argmin(curve)], curve.min(), "o", color="black", ms=6)
        ax.axvline(lam_b, color="tab:red", ls=":", label=rf"Bayes $\lambda$ of the noisy task ({lam_b:g})")
        if setting == "noiseless":
            ax.axvline(lam_b / 10, color="tab:blue", ls="--", lw=1,
                       label=rf"claim: fitted $\lambda \leq$ {lam_b / 10:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"ridge $\lambda$")
        ax.set_ylabel(r"mean SPD(transformer, ridge($\lambda$))")
        ax.set_title(f"({tag[1]}) {setting}: fitted ridge penalty (dot: minimum)")
        ax.legend(fontsize=8)
        ax = axes[row, 2]
        names = [b for b in _get(results, setting, depths[-1])["ilwd"]]
        width = 0.8 / len(depths)
        for i, L in enumerate(depths):
            r = _get(results, setting, L)
            ax.bar(np.arange(len(names)) + i * width, [r["ilwd"][b][-1] for b in names], width, label=f"depth {L}")
        ax.set_xticks(np.arange(len(names)) + width * (len(depths) - 1) / 2, names, rotation=30, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel(f"ILWD at k = {_get(results, setting, depths[-1])['ilwd_ks'][-1]}")
        ax.set_title(f"({tag[2]}) {setting}: implicit-weight distance")
        ax.legend(fontsize=8)
        ax = axes[row, 3]
        r = _get(results, setting, depths[-1])
        for (t, pt), color in zip(r["probes"].items(), ("tab:blue", "tab:orange")):
            layers = np.arange(len(pt["transformer"]["sse"]))
            ax.plot(layers, _r2(pt["transformer"]), marker="o", color=color, label=f"{t}, trained")
            ax.plot(layers, _null_q95(pt["transformer"]), ls=":", color=color, label=f"{t}, shuffled null (95th pct)")
            ax.plot(layers, _r2(pt["untrained"]), ls="--", marker="x", color=color, alpha=0.6,
                    label=f"{t}, untrained model")
        ax.set_xlabel("layer (0 = embedding)")
        ax.set_ylabel("held-out probe R^2 (axis fitted to the values)")
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"({tag[3]}) {setting}, depth {depths[-1]}: linear probes")
        ax.legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    d, nz = results["runs"][0]["d"], params["noise"]
    fig.suptitle(f"What learning algorithm is in-context learning? (Akyurek et al. 2023): d = {d}, "
                 f"noisy runs $\\sigma^2$ = {nz:g}, depths {depths}", fontsize=12)
    return fig
