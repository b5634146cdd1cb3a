"""Batched kernel ridge against a scikit-learn ``KernelRidge`` loop (one fit per problem).

B independent problems of n points in d dimensions (float64, CPU), each fitted with a
Gaussian kernel and predicted at q query points. This script times, in one process:

* ``kernel_ridge_fit`` + ``kernel_ridge_predict`` on the whole (B, n, d) batch
  (one batched kernel matrix, one batched Cholesky factorisation);
* the same through torch tensors (CPU);
* a loop of scikit-learn ``KernelRidge(kernel="rbf").fit(X_b, y_b).predict(Xq_b)``;

and prints wall-clock and process CPU times (best of ``--repeat`` for the batched versions;
CPU time is the fair measure on a shared machine, run with ``OMP_NUM_THREADS=1``),
speed-ups and the largest difference between the predictions.
The target is >= 20x over the scikit-learn loop for B = 1000, n = 100.

Run: ``python -m benchmarks.kernel_ridge [--problems 1000 --points 100 --dim 5]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from estimators import GaussianKernel, kernel_ridge_fit, kernel_ridge_predict


def _timed(fn, repeat=1):
    """(best wall-clock s, best CPU s of this process, result); CPU time is robust to other jobs' load."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu, out


def batched(X, y, Xq, bandwidth, lam):
    return kernel_ridge_predict(kernel_ridge_fit(X, y, GaussianKernel(bandwidth), lam), Xq)


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
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"kernel ridge: B={B} problems, n={n} points, d={d}, q={q} queries, Gaussian kernel, float64, CPU "
          f"(load average {load:.1f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")

    bw, lam = args.bandwidth, args.lam
    rows = [("batched numpy", *_timed(lambda: batched(X, y, Xq, bw, lam), repeat=args.repeat))]
    try:
        import torch

        Xt, yt, Xqt = (torch.from_numpy(a) for a in (X, y, Xq))
        rows.append(("batched torch", *_timed(lambda: batched(Xt, yt, Xqt, bw, lam).numpy(), repeat=args.repeat)))
    except ImportError:  # torch is a core dependency; kept optional here only for a bare numpy install
        pass
    w_sk, c_sk, p_sk = _timed(lambda: sklearn_loop(X, y, Xq, bw, lam))

    header = f"{'method':<16} {'wall s':>8} {'CPU s':>8} {'speed-up (wall)':>16} {'speed-up (CPU)':>15}  max |pred diff|"
    print(header)
    print("-" * len(header))
    for name, w, c, p in rows:
        print(f"{name:<16} {w:8.3f} {c:8.3f} {w_sk / w:15.1f}x {c_sk / c:14.1f}x  {np.abs(p - p_sk).max():.1e}")
    print(f"{'sklearn loop':<16} {w_sk:8.3f} {c_sk:8.3f} {1.0:15.1f}x {1.0:14.1f}x  -")
    return {name: c_sk / c for name, _, c, _ in rows}


if __name__ == "__main__":
    main()
