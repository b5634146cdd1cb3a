"""Batched kernel ridge against a scikit-learn ``KernelRidge`` loop (one fit per problem).

B independent problems of n points in d dimensions (float64, CPU), each fitted with a
Gaussian kernel and predicted (1) at its own n training points and (2) at q query points.
This script times, in one process (best of ``--repeat`` after a warm-up, one thread):

* ``kernel_ridge_fit`` + ``kernel_ridge_predict`` on the whole (B, n, d) batch (one kernel
  matrix per block of problems, one LAPACK ``posv`` per problem); predicting at the training
  inputs reuses the fit (``K alpha = y - lam alpha``, no second kernel matrix);
* the same through torch tensors (CPU);
* a loop of scikit-learn ``KernelRidge(kernel="rbf").fit(X_b, y_b).predict(...)``;

and prints the speed-ups, the largest difference between the predictions, where the batched
time goes (kernel matrix, factorisation + solve, prediction) and the achieved GFLOP/s beside
the same-shape GEMM measured in the run. Flop counts (float64 multiply-adds counted as 2):
the kernel matrix 2 B n^2 d (the inner products) plus ~5 B n^2 elementwise (distances, exp),
Cholesky B n^3 / 3, the two triangular solves 2 B n^2, q predictions 2 B q n (d + 1).
The target is >= 20x over the scikit-learn loop for B = 1000, n = 100, d = 5, in both rows.

Run: ``OMP_NUM_THREADS=1 python -m benchmarks.kernel_ridge [--problems 1000 --points 100 --dim 5]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from estimators import GaussianKernel, kernel_ridge_fit, kernel_ridge_predict

from ._gemm import best_of, gemm_gflops, load_average, single_thread


def batched(X, y, Xq, bandwidth, lam):
    """A thunk: fit on (X, y), predict at Xq (Xq is X: at the training inputs)."""
    return lambda: kernel_ridge_predict(kernel_ridge_fit(X, y, GaussianKernel(bandwidth), lam), Xq)


def sklearn_loop(X, y, Xq, bandwidth, lam):
    from sklearn.kernel_ridge import KernelRidge

    gamma = 1.0 / (2.0 * bandwidth**2)
    return np.stack([KernelRidge(alpha=lam, kernel="rbf", gamma=gamma).fit(X[b], y[b]).predict(Xq[b]) for b in range(len(X))])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--bandwidth", type=float, default=1.5)
    parser.add_argument("--lam", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of the batched versions")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    B, n, d, q = args.problems, args.points, args.dim, args.queries
    X, Xq = rng.standard_normal((B, n, d)), rng.standard_normal((B, q, d))
    y = np.sin(X.sum(-1)) + 0.1 * rng.standard_normal((B, n))
    load = load_average()
    print(f"kernel ridge: B={B} problems, n={n} points, d={d}, q={q} queries, Gaussian kernel, float64, CPU "
          f"(load average {load:.1f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")

    bw, lam = args.bandwidth, args.lam
    single_thread()
    import torch

    Xt, yt, Xqt = (torch.from_numpy(a) for a in (X, y, Xq))
    speedups = {}
    for label, queries, queries_t in (("at the n training points", X, Xt), (f"at q={q} queries", Xq, Xqt)):
        rows = [("batched numpy", batched(X, y, queries, bw, lam)),
                ("batched torch", lambda: batched(Xt, yt, queries_t, bw, lam)().numpy())]  # fmt: skip
        times = {name: best_of(fn, repeat=args.repeat, warmup=1) for name, fn in rows}
        t0 = time.perf_counter()
        sk = sklearn_loop(X, y, queries, bw, lam)
        t_sk = time.perf_counter() - t0
        for name, fn in rows:  # once more after sklearn, so load drifts hit both sides
            times[name] = min(times[name], best_of(fn, repeat=1, warmup=0))
        print(f"fit + predict {label}:")
        print(f"  {'sklearn loop':<16} {t_sk:8.3f} s")
        for name, fn in rows:
            print(f"  {name:<16} {times[name]:8.3f} s {t_sk / times[name]:7.1f}x  max |pred diff| {np.abs(fn() - sk).max():.1e}")
            speedups[(label, name)] = t_sk / times[name]

    # where the time goes (numpy), and the rates against the same-shape GEMMs of this run. The kernel matrices are
    # timed through the public API: predicting at an equal copy of the training inputs evaluates the same in-place
    # Gaussian kernel matrices, block by block as the fit does, plus one matrix-vector product per problem
    kern = GaussianKernel(bw)
    fit = kernel_ridge_fit(X, y, kern, lam)
    X_copy = X.copy()
    t_kernel = best_of(lambda: kernel_ridge_predict(fit, X_copy), repeat=args.repeat)
    t_fit = best_of(lambda: kernel_ridge_fit(X, y, kern, lam), repeat=args.repeat)
    t_solve = max(t_fit - t_kernel, 1e-9)  # the per-problem LAPACK posv, and the fit's checks
    t_pred = best_of(lambda: kernel_ridge_predict(fit, Xq), repeat=args.repeat)
    f_kernel = 2.0 * B * n * n * d + 5.0 * B * n * n
    f_solve = B * n**3 / 3.0 + 2.0 * B * n * n
    f_pred = 2.0 * B * q * n * (d + 1) + 5.0 * B * q * n
    g_kernel = gemm_gflops(n, d, n, batch=B)  # the kernel's inner products X X^T
    g_chol = gemm_gflops(n, n, n, batch=B)  # a product of the factorisation's size
    print(f"where the time goes (numpy, B={B}, n={n}, d={d}):")
    print(f"  fit {t_fit * 1e3:.1f} ms ({B} problems; the kernel part timed as a prediction at a copy of the training "
          "inputs, the factorisation as the rest of the fit)")
    print(f"  kernel matrix (in place)  {t_kernel * 1e3:5.1f} ms  {f_kernel / t_kernel / 1e9:5.1f} GFLOP/s  "
          f"(same-shape GEMM (B,{n},{d})x(B,{d},{n}): {g_kernel:.1f} GFLOP/s; the exp dominates)")
    print(f"  posv (Cholesky + solves) ~{t_solve * 1e3:5.1f} ms  {f_solve / t_solve / 1e9:5.1f} GFLOP/s  "
          f"(same-size GEMM (B,{n},{n})x(B,{n},{n}): {g_chol:.1f} GFLOP/s = {f_solve / t_solve / 1e9 / g_chol:.0%} of it)")
    print(f"  predict {q} queries {t_pred * 1e3:5.1f} ms  {f_pred / t_pred / 1e9:5.1f} GFLOP/s; at the training points: "
          "no kernel (y - lam alpha)")
    total = f_kernel + f_solve
    print(f"  fit: {total / 1e9:.3f} GFLOP in {t_fit * 1e3:.1f} ms = {total / t_fit / 1e9:.1f} GFLOP/s, "
          f"{total / t_fit / 1e9 / g_chol:.0%} of the (B,{n},{n}) GEMM rate")
    print(f"load average after: {load_average():.1f}")
    return speedups


if __name__ == "__main__":
    main()
