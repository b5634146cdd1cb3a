"""MMD permutation test: this toolkit vs hyppo vs a per-permutation numpy loop (CPU, one run).

Setting: n = m = 500 points in d = 10, Gaussian kernel with the median-heuristic
bandwidth, 1000 permutations, unbiased MMD^2. Three implementations on the same data:

- ``estimators.permutation_test``: the pooled kernel once, all permuted statistics from one
  batched product ``K A`` (A the X-indicators of the permutations);
- ``hyppo.ksample.MMD(compute_kernel="gaussian", gamma=1 / (2 bw^2)).test(..., auto=False)``:
  hyppo's permutation test (its Gaussian kernel is ``exp(-gamma ||x - y||^2)``);
- a numpy loop: the pooled kernel once, then per permutation index the blocks and sum.

Timings are wall-clock medians over ``--repeats`` runs in one process; the machine is shared,
so read the ratios, not the absolute times. Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.mmd_permutation [--n 500] [--d 10] [--permutations 1000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from estimators import GaussianKernel, median_heuristic, mmd2, permutation_test


def numpy_loop(X: np.ndarray, Y: np.ndarray, kernel, B: int, seed: int) -> float:
    """Reference: the pooled kernel once, then one unbiased MMD^2 per permutation (O(N^2) each)."""
    n, m = len(X), len(Y)
    Z = np.concatenate([X, Y])
    K = kernel(Z, Z)
    rng = np.random.default_rng(seed)

    def stat(ix, iy):
        Kxx, Kyy, Kxy = K[np.ix_(ix, ix)], K[np.ix_(iy, iy)], K[np.ix_(ix, iy)]
        return (
            (Kxx.sum() - np.trace(Kxx)) / (n * (n - 1))
            + (Kyy.sum() - np.trace(Kyy)) / (m * (m - 1))
            - 2 * Kxy.mean()
        )

    observed = stat(np.arange(n), np.arange(n, n + m))
    null = np.empty(B)
    for b in range(B):
        p = rng.permutation(n + m)
        null[b] = stat(p[:n], p[n:])
    return (1 + np.sum(null >= observed)) / (1 + B)


def _time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shift", type=float, default=0.05, help="mean shift of Y (keeps the p-value mid-range)")
    parser.add_argument("--skip-hyppo", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.d))
    Y = rng.normal(size=(args.n, args.d)) + args.shift
    bw = float(median_heuristic(X, Y))
    kernel = GaussianKernel(bw)
    B = args.permutations
    print(f"n = m = {args.n}, d = {args.d}, B = {B}, bandwidth = {bw:.4f}, "
          f"OMP_NUM_THREADS = {os.environ.get('OMP_NUM_THREADS', 'unset')}, load = {os.getloadavg()[0]:.2f}")
    print(f"unbiased MMD^2 = {float(mmd2(X, Y, kernel)):.6g}")

    rows = {}
    rows["icl-toolkit permutation_test"] = _time(lambda: float(permutation_test(X, Y, kernel, B, seed=1).pvalue),
                                                 args.repeats)
    rows["numpy per-permutation loop"] = _time(lambda: numpy_loop(X, Y, kernel, B, seed=1), args.repeats)
    if not args.skip_hyppo:
        from hyppo.ksample import MMD

        def run_hyppo():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = MMD(compute_kernel="gaussian", bias=False, gamma=1 / (2 * bw**2)).test(
                    X, Y, reps=B, workers=1, auto=False, random_state=1
                )
            return float(res.pvalue)

        rows["hyppo MMD().test"] = _time(run_hyppo, max(1, min(args.repeats, 1)))

    base = rows["icl-toolkit permutation_test"][0]
    print("\n| implementation | time (s) | p-value | slower than icl-toolkit |")
    print("|---|---|---|---|")
    for name, (t, p) in rows.items():
        print(f"| {name} | {t:.3f} | {p:.4f} | {t / base:.1f}x |")
    return {name: {"seconds": t, "pvalue": p} for name, (t, p) in rows.items()}


if __name__ == "__main__":
    main()
