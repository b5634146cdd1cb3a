"""Benchmark of the exact Bayes all-prefix predictors (estimators.bayes) against per-prefix closed forms.

Measured in one run (one thread, best of 3 after a warm-up), so the ratios hold on a loaded machine:

1. Gaussian prior N(0, I), noise 0.25: all prefixes from Cholesky factors of the responses'
   covariance (``estimators.bayes._responses``) vs a Python loop over prefixes of the closed form
   ``m = mu + S X^T (X S X^T + sigma^2 I)^{-1} (y - X mu)`` (batched solve over prompts).
   Target: >= 30x, max difference <= 1e-6.
2. Two-component Gaussian mixture (Panwar et al.'s +-3 e_1 task): the same, with the
   per-component closed form and Cholesky log evidences combined by logsumexp.
3. Sparse prior, d = 20, k = 3: exact BMA over all 1140 supports, noiseless. Target <= 30 s.
4. Sign vectors, d = 10: exact over 1024 vectors. On a GPU (``--device cuda``), also d = 20.

For 1 and 2 the achieved GFLOP/s (the factored path's flop count, :func:`factored_flops`) is printed
beside numpy's batched GEMM of the shapes the path multiplies (B x (d x d) @ (d x d)), measured in the
same run: how close the path is to the machine's floor for these small matrices.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.bayes_prefixes            # B = 1280, n = 41, d = 20
    python -m benchmarks.bayes_prefixes --device cuda --sign-d20     # on a GPU
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from scipy.special import logsumexp

from estimators.bayes import GaussianPrior, MixturePrior, SignPrior, SparsePrior
from estimators.validation import to_numpy

from ._gemm import best_of, gemm_gflops, load_average, single_thread


def closed_form_prefixes(mus, covs, log_pi, xs, ys, noise):
    """Per-prefix loop of the closed-form mixture posterior mean (the reference being timed)."""
    B, n, d = xs.shape
    preds = np.zeros((B, n))
    preds[:, 0] = xs[:, 0] @ np.einsum("c,cd->d", np.exp(log_pi), np.asarray(mus))
    for k in range(1, n):
        X, y = xs[:, :k], ys[:, :k]
        logs, comp_preds = [], []
        for mu, S, lp in zip(mus, covs, log_pi):
            K = X @ S @ X.transpose(0, 2, 1) + noise * np.eye(k)  # (B, k, k)
            r = y - X @ mu
            alpha = np.linalg.solve(K, r[..., None])[..., 0]  # K^{-1} (y - X mu)
            m = mu + np.einsum("ij,bkj,bk->bi", S, X, alpha)  # mu + S X^T alpha
            comp_preds.append(np.einsum("bd,bd->b", m, xs[:, k]))
            if len(mus) == 1:  # one component: no evidence needed, so none is computed
                continue
            logdet = np.linalg.slogdet(K)[1]
            logs.append(lp - 0.5 * (k * np.log(2 * np.pi) + logdet + np.einsum("bk,bk->b", r, alpha)))
        if len(mus) == 1:
            preds[:, k] = comp_preds[0]
            continue
        logs = np.stack(logs, 1)
        w = np.exp(logs - logsumexp(logs, axis=1, keepdims=True))
        preds[:, k] = np.sum(w * np.stack(comp_preds, 1), axis=1)
    return preds


def timed(f, repeat=3, warmup=1):
    """Best wall time of ``repeat`` runs after ``warmup`` (the machine is shared), and the output."""
    out = []
    seconds = best_of(lambda: out.append(f()), repeat=repeat, warmup=warmup)
    return out[-1], seconds


def factored_flops(n: int, d: int, n_rhs: int = 1) -> int:
    """Flops of one prompt's prefixes for a full-rank Gaussian component (``estimators.bayes._responses``).

    First block (m = min(n, d) points): K = A A^T (2 m^2 d), its Cholesky (m^3 / 3), z = L^{-1} r and
    L z (3 m^2 per right-hand side). Later points (v = n - d): G_0 = A_0^T A_0 (2 d^3), its Cholesky,
    T = L_0^{-1} A_V^T (d^2 v), u_0 and A_V u_0 (about 4 d v per right-hand side), T^T T (2 v^2 d), its
    Cholesky (v^3 / 3) and the solves (3 v^2 per right-hand side).
    """
    m, v = min(n, d), max(n - d, 0)
    f = 2 * m * m * d + m**3 // 3 + 3 * m * m * n_rhs
    if v:
        f += 2 * d**3 + d**3 // 3 + d * d * v + (d * d + 4 * d * v) * n_rhs + 2 * v * v * d + v**3 // 3 + 3 * v * v * n_rhs
    return f


def data(prior, B, n, noise, seed):
    rng = np.random.default_rng(seed)
    w = prior.sample(B, rng)
    xs = rng.standard_normal((B, n, prior.d))
    ys = np.einsum("bnd,bd->bn", xs, w) + np.sqrt(noise) * rng.standard_normal((B, n))
    return xs, ys


def to_device(a, device):
    if device == "numpy":
        return a
    import torch

    return torch.as_tensor(a, device=device)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1280)
    p.add_argument("--n", type=int, default=41)
    p.add_argument("--d", type=int, default=20)
    p.add_argument("--device", default="numpy", help="numpy, cpu (torch) or cuda (torch)")
    p.add_argument("--sign-d20", action="store_true", help="also run sign vectors at d = 20 (GPU work)")
    p.add_argument("--skip-sparse", action="store_true")
    args = p.parse_args(argv)
    single_thread()
    B, n, d, dev = args.batch, args.n, args.d, args.device
    print(f"B = {B}, n = {n}, d = {d}, device = {dev}, OMP_NUM_THREADS = {os.environ.get('OMP_NUM_THREADS')}, "
          f"load = {load_average():.1f}")
    gemm = gemm_gflops(d, d, d, batch=B)  # the path's products are B small d x d matrices
    print(f"numpy batched GEMM, {B} x ({d} x {d}) @ ({d} x {d}): {gemm:.1f} GFLOP/s")
    rows = []

    noise = 0.25
    gauss = GaussianPrior.isotropic(d, 1.0)
    e1 = np.eye(d)[0]
    mix = MixturePrior([GaussianPrior(3 * e1, np.eye(d)), GaussianPrior(-3 * e1, np.eye(d))], [0.5, 0.5])
    for name, prior, mus, covs, log_pi in [
        ("Gaussian N(0, I)", gauss, [gauss.mean], [gauss.cov], np.zeros(1)),
        ("2-component mixture", mix, list(mix._means), list(mix._covs), np.log(mix.weights)),
    ]:
        xs, ys = data(prior, B, n, noise, 0)
        fast, t_fast = timed(lambda: prior.predict_prefixes(to_device(xs, dev), to_device(ys, dev), noise))
        slow, t_slow = timed(lambda: closed_form_prefixes(mus, covs, log_pi, xs, ys, noise))
        diff = float(np.max(np.abs(to_numpy(fast) - slow)))
        gf = B * factored_flops(n, d, n_rhs=len(mus)) / t_fast / 1e9  # equal covariances share the factors
        rows.append((name, f"{t_fast:.3f} s ({gf:.1f} GFLOP/s, {gf / gemm:.0%} of GEMM)", f"{t_slow:.3f} s",
                     f"{t_slow / t_fast:.0f}x", f"{diff:.1e}"))

    if not args.skip_sparse:
        sparse = SparsePrior(d, 3)
        xs, ys = data(sparse, B, n, 0.0, 1)
        pred, t = timed(lambda: sparse.predict_prefixes(to_device(xs, dev), to_device(ys, dev), 0.0), 1, 0)
        err = np.mean((to_numpy(pred) - ys) ** 2, axis=0)
        rows.append((f"sparse k=3 ({sparse.n_components} supports), noiseless", f"{t:.2f} s", "", "",
                     f"MSE at k=3,6,12: {err[3]:.2f}, {err[6]:.1e}, {err[12]:.1e}"))

    sign_ds = [10] + ([20] if args.sign_d20 else [])
    for sd in sign_ds:
        sign = SignPrior(sd, sd**-0.5, memory_budget=(2**33 if dev == "cuda" else 2**30))
        xs, ys = data(sign, B, n, 0.0, 2)
        pred, t = timed(lambda: sign.predict_prefixes(to_device(xs, dev), to_device(ys, dev), 0.0), 1, 0)
        err = np.mean((to_numpy(pred) - ys) ** 2, axis=0)
        rows.append((f"sign d={sd} ({sign.n_components} vectors), noiseless", f"{t:.2f} s", "", "",
                     f"MSE at k=1,{sd // 2},{sd}: {err[1]:.2f}, {err[sd // 2]:.1e}, {err[sd]:.1e}"))

    print(f"load at the end = {load_average():.1f}")
    print("| prior | all-prefix (exact) | per-prefix closed form | speed-up | max diff / check |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
