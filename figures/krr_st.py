"""Figure ``krr-st``: self-supervised dataset distillation for transfer (Lee et al. 2024, Table 1 / Fig. 3).

A small target encoder is trained by Barlow Twins (Zbontar et al. 2021) with image
augmentations on unlabelled data; its representations are the distillation targets.
Sets of m inputs with target representations are built by KRR-ST, KIP, a random real
subset and k-means centroids (:mod:`estimators.distill`); a fresh encoder is
pretrained on each set by regressing the targets, and a linear read-out (multinomial
logistic regression on its frozen features) is fitted on a labelled split and scored
on a held-out split. Floor: the fresh encoder without pretraining; ceiling: the fresh
encoder pretrained on the whole unlabelled split. Two data sets: scikit-learn's
bundled 8x8 digits (no download) and a synthetic one (10 Gaussian classes in an 8-d
latent space, pushed through a random tanh layer into 64-d).

Claim (per data set, measured): at every m, mean read-out accuracy over seeds of
KRR-ST exceeds both the random subset and the k-means centroids; value = the smallest
margin over m (> 0 holds). A second claim checks the floor < ceiling sanity gap.

Seeds: ``seed`` trains the target encoder; seed s of ``n_seeds`` draws the data split,
the distillation, the fresh encoder and the labelled subset from ``seed + 1 + s``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from estimators.distill import kip, kmeans_coreset, krr_st, pretrain, random_subset
from figures import Claim

NAME = "krr-st"
DESCRIPTION = "KRR-ST distilled sets vs random subset, k-means and KIP for pretraining (digits + synthetic)"
PAPER_GPU_TIME = "not measured; runs on the CPU (small MLPs): estimate 2-4 h on one core for the paper preset"
VERSION = 1

_COMMON = {"datasets": ["digits", "synthetic"], "n_unlabelled": 1000, "width": 128, "rep_dim": 64,
           "labels_per_class": 10, "pool_size": 4, "distill_lr": 0.005, "online_lr": 1e-3}
PRESETS = {
    "tiny": {**_COMMON, "seed": 0, "ms": [4, 8], "n_seeds": 1, "n_unlabelled": 300, "width": 32, "rep_dim": 16,
             "ssl_steps": 10, "distill_steps": 10, "reinit_every": 5, "pretrain_steps": 10, "full_pretrain_steps": 10},
    "quick": {**_COMMON, "seed": 0, "ms": [10, 20, 50, 100], "n_seeds": 3, "ssl_steps": 1500,
              "distill_steps": 1000, "reinit_every": 100, "pretrain_steps": 400, "full_pretrain_steps": 1000},
    "paper": {**_COMMON, "seed": 0, "ms": [10, 20, 50, 100], "n_seeds": 10, "ssl_steps": 5000,
              "distill_steps": 5000, "reinit_every": 500, "pretrain_steps": 1000, "full_pretrain_steps": 5000},
}
METHODS = ["krr_st", "kip", "random", "kmeans"]
LABELS = {"krr_st": "KRR-ST", "kip": "KIP", "random": "random subset", "kmeans": "k-means centroids"}


# ----------------------------------------------------------------------------- data and models

def load_data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n, 64) scaled to about unit range and labels (n,), for ``digits`` or ``synthetic``."""
    if name == "digits":
        from sklearn.datasets import load_digits

        data = load_digits()
        return data.data.astype(np.float32) / 16.0, data.target.astype(np.int64)
    if name == "synthetic":
        rng = np.random.default_rng(12345)  # the data-generating process is fixed; draws depend on seed
        means, W = 1.5 * rng.standard_normal((10, 8)), rng.standard_normal((64, 8)) / np.sqrt(8)
        draw = np.random.default_rng(seed)
        y = draw.integers(0, 10, size=1797)
        z = means[y] + draw.standard_normal((1797, 8))
        X = np.tanh(z @ W.T) + 0.1 * draw.standard_normal((1797, 64))
        return X.astype(np.float32), y.astype(np.int64)
    raise ValueError(f"krr-st: unknown dataset {name!r}; use 'digits' or 'synthetic'")


def encoder(width: int, rep_dim: int) -> nn.Module:
    """The MLP encoder used everywhere: 64 -> width -> width -> rep_dim."""
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, rep_dim))


def augment(x: torch.Tensor, image: bool, gen: torch.Generator) -> torch.Tensor:
    """A random view: shift by up to one pixel (images), intensity scaling, pixel dropout, noise."""
    b = x.shape[0]
    if image:
        padded = nn.functional.pad(x.reshape(b, 8, 8), (1, 1, 1, 1))
        oy, ox = torch.randint(0, 3, (b,), generator=gen), torch.randint(0, 3, (b,), generator=gen)
        rows = (oy[:, None] + torch.arange(8))[:, :, None]
        cols = (ox[:, None] + torch.arange(8))[:, None, :]
        x = padded[torch.arange(b)[:, None, None], rows, cols].reshape(b, 64)
    scale = 0.7 + 0.6 * torch.rand(b, 1, generator=gen)
    keep = (torch.rand(x.shape, generator=gen) > 0.1).to(x.dtype)
    return x * scale * keep + 0.1 * torch.randn(x.shape, generator=gen)


def barlow_twins(X: torch.Tensor, params: dict, image: bool, seed: int, progress) -> nn.Module:
    """Train the target encoder with the Barlow Twins loss (Zbontar et al. 2021, eq. 1; lambda = 1/proj dim)."""
    torch.manual_seed(seed)
    enc, proj_dim = encoder(params["width"], params["rep_dim"]), 256
    proj = nn.Sequential(nn.Linear(params["rep_dim"], proj_dim), nn.BatchNorm1d(proj_dim), nn.ReLU(),
                         nn.Linear(proj_dim, proj_dim))
    opt = torch.optim.Adam([*enc.parameters(), *proj.parameters()], lr=1e-3, weight_decay=1e-5)
    gen = torch.Generator().manual_seed(seed)
    for _ in progress(range(params["ssl_steps"]), desc="Barlow Twins"):
        xb = X[torch.randint(X.shape[0], (256,), generator=gen)]
        z1, z2 = (proj(enc(augment(xb, image, gen))) for _ in range(2))
        z1, z2 = ((z - z.mean(0)) / (z.std(0) + 1e-5) for z in (z1, z2))
        c = z1.T @ z2 / z1.shape[0]
        off = c - torch.diag(torch.diagonal(c))
        loss = ((1 - torch.diagonal(c)) ** 2).sum() + (off**2).sum() / proj_dim
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return enc.eval()


def probe_accuracy(enc: nn.Module, X_lab, y_lab, X_test, y_test) -> float:
    """Held-out accuracy of multinomial logistic regression (L2 1e-3, L-BFGS) on frozen standardised features."""
    with torch.no_grad():
        F, Ft = enc(X_lab), enc(X_test)
    mu, sd = F.mean(0), F.std(0) + 1e-6
    F, Ft = (F - mu) / sd, (Ft - mu) / sd
    W = torch.zeros(F.shape[1], 10, requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(F @ W + b, y_lab) + 1e-3 * (W**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((Ft @ W + b).argmax(1) == y_test).float().mean())


# ----------------------------------------------------------------------------- compute

def _one_dataset(name: str, params: dict, ctx) -> dict:
    X_all, y_all = load_data(name, params["seed"])
    image = name == "digits"
    n_u = params["n_unlabelled"]
    ms, S = params["ms"], params["n_seeds"]
    acc = {m: np.full((len(ms), S), np.nan) for m in METHODS}
    floor, ceiling = np.full(S, np.nan), np.full(S, np.nan)
    target = None
    for s in range(S):
        seed = params["seed"] + 1 + s
        perm = np.random.default_rng(seed).permutation(len(y_all))
        X = torch.from_numpy(X_all[perm])
        y = torch.from_numpy(y_all[perm])
        X_u, X_test, y_u, y_test = X[:n_u], X[n_u:], y[:n_u], y[n_u:]
        lab = np.concatenate([np.flatnonzero(y_u.numpy() == c)[: params["labels_per_class"]] for c in range(10)])
        X_lab, y_lab = X_u[lab], y_u[lab]
        if target is None:  # one target encoder per data set, trained on the first split's unlabelled part
            target = barlow_twins(X_u, params, image, params["seed"], ctx.progress)

        def fresh():
            torch.manual_seed(seed)
            return encoder(params["width"], params["rep_dim"])

        def score(enc):
            return probe_accuracy(enc.eval(), X_lab, y_lab, X_test, y_test)

        floor[s] = score(fresh())
        with torch.no_grad():
            Y_u = target(X_u)
        ceiling[s] = score(pretrain(fresh(), X_u, Y_u, steps=params["full_pretrain_steps"], lr=1e-3, seed=seed))
        for i, m in enumerate(ctx.progress(ms, desc=f"{name} seed {s}")):
            common = dict(steps=params["distill_steps"], lr=params["distill_lr"], seed=seed)
            sets = {
                "krr_st": krr_st(X_u, target, fresh, m, pool_size=params["pool_size"],
                                 reinit_every=params["reinit_every"], online_lr=params["online_lr"], **common),
                "kip": kip(X_u, target, m, **common),
                "random": random_subset(X_u, target, m, seed=seed),
                "kmeans": kmeans_coreset(X_u, target, m, seed=seed),
            }
            for method, ds in sets.items():
                enc = pretrain(fresh(), ds.X, ds.Y, steps=params["pretrain_steps"], lr=1e-3, seed=seed)
                acc[method][i, s] = score(enc)
    return {"ms": list(ms), "acc": {k: v for k, v in acc.items()}, "floor": floor, "ceiling": ceiling}


def compute(params: dict, ctx) -> dict:
    return {name: _one_dataset(name, params, ctx) for name in params["datasets"]}


# ----------------------------------------------------------------------------- claims, plot

def _margins(r: dict) -> np.ndarray:
    """Per m: mean accuracy of KRR-ST minus the better of random subset and k-means (means over seeds)."""
    mean = {k: np.nanmean(np.asarray(v), axis=1) for k, v in r["acc"].items()}
    return mean["krr_st"] - np.maximum(mean["random"], mean["kmeans"])


def claims(results: dict, params: dict) -> list:
    out = []
    for name, r in results.items():
        margins = _margins(r)
        per_m = ", ".join(f"m={m}: {d:+.3f}" for m, d in zip(r["ms"], margins))
        worst = float(np.min(margins))
        out.append(Claim(f"{name}_krr_st_beats_random_and_kmeans", worst, 0.0, bool(worst > 0),
                         f"{name}: KRR-ST accuracy minus max(random, k-means) at every m is > 0 ({per_m})"))
        gap = float(np.nanmean(np.asarray(r["ceiling"])) - np.nanmean(np.asarray(r["floor"])))
        out.append(Claim(f"{name}_full_pretraining_above_none", gap, 0.0, bool(gap > 0),
                         f"{name}: full-data pretraining accuracy minus no pretraining is > 0 (floor/ceiling sanity)"))
    return out


def summary(results: dict, params: dict) -> str:
    lines = []
    for name, r in results.items():
        lines.append(f"{name}: read-out accuracy (mean over {params['n_seeds']} seeds); "
                     f"no pretraining {np.nanmean(r['floor']):.3f}, full data {np.nanmean(r['ceiling']):.3f}")
        lines.append("  m     " + "  ".join(f"{LABELS[k]:>17}" for k in METHODS))
        for i, m in enumerate(r["ms"]):
            lines.append(f"  {m:<5} " + "  ".join(f"{np.nanmean(np.asarray(r['acc'][k])[i]):17.3f}" for k in METHODS))
    return "\n".join(lines)


def _band(values: np.ndarray, axis: int = -1):
    """Mean and a 95% normal band of the mean over seeds (zero width with one seed)."""
    v = np.asarray(values, dtype=float)
    mean = np.nanmean(v, axis=axis)
    n = v.shape[axis]
    half = 1.96 * np.nanstd(v, axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    return mean, half


def plot(results: dict, params: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.0), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items()):
        ms = np.asarray(r["ms"])
        for method in METHODS:
            mean, half = _band(r["acc"][method])
            ax.plot(ms, mean, marker="o", label=LABELS[method])
            ax.fill_between(ms, mean - half, mean + half, alpha=0.2)
        for key, style, label in (("floor", ":", "no pretraining"), ("ceiling", "--", "full-data pretraining")):
            mean, half = _band(r[key])
            ax.axhline(mean, color="k", linestyle=style, label=label)
            ax.axhspan(mean - half, mean + half, color="k", alpha=0.08)
        ax.set_xscale("log")
        ax.set_xticks(ms, [str(m) for m in ms])
        ax.set_xlabel("distilled set size m")
        ax.set_ylabel("linear read-out accuracy")
        ax.set_title(f"{name} ({params['labels_per_class']} labels/class, {params['n_seeds']} seeds, 95% band)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig
