"""Batched logistic regression against a scikit-learn loop: the fits behind one learning curve.

A learning curve (test error against the training size m, many seeds, several feature
dimensions) is thousands of independent small fits. This script times, in one process and on
the same data:

* ``estimators.logistic_fit`` on all problems at once with its default ``solver="auto"``
  (numpy, and torch on the CPU; binary problems with n >= 32 features take the trust-region
  Newton-CG solver), and with ``solver="newton"`` (the Hessian formed in float32 and factorised,
  the previous default) and ``solver="newton-cg"``, best of ``--repeat`` after a warm-up (at the
  default shapes "auto" is "newton": the two rows differ only by the machine's noise);
* a loop of ``sklearn.linear_model.LogisticRegression(C=C)`` fits, one per problem, with
  scikit-learn's defaults (lbfgs, tol=1e-4), as a learning-curve script would run it;

and reports the speed-up, the largest coefficient difference against that loop, and against
a tight-tolerance scikit-learn fit on a subset (the batched solver is converged far below
scikit-learn's default tolerance). The machine's load average is printed with the numbers:
both sides are CPU-bound, so the ratio is what to read, not the seconds. For binary problems
it then times ``solver="newton-cg"`` and prints both solvers' times in units of the same-shape
float32 GEMM (the Hessian's X^T X) and GEMV (one pass over X) measured in the run, with GFLOP/s.
Run with ``OMP_NUM_THREADS=1`` (torch is set to one thread too).

Data: x ~ N(0, I_n); y ~ Bernoulli(sigmoid(x^T w)) with w ~ N(0, 4 I_n / n) (binary) or
y = argmax(x^T W + Gumbel noise) (``--classes`` > 2).

Run: ``python -m benchmarks.classify_curves [--problems 1000 --samples 200 --features 50]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from estimators import logistic_fit

from ._gemm import best_of, gemm_gflops, load_average, single_thread


def make_problems(problems: int, samples: int, features: int, classes: int, seed: int = 0):
    """``problems`` independent classification data sets: X (B, m, n) float64, y (B, m) int64."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((problems, samples, features))
    if classes == 2:
        w = rng.standard_normal((problems, features)) * 2.0 / np.sqrt(features)
        logits = np.einsum("bmn,bn->bm", X, w)
        y = (rng.random((problems, samples)) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    else:
        W = rng.standard_normal((problems, features, classes)) * 2.0 / np.sqrt(features)
        y = np.argmax(X @ W + rng.gumbel(size=(problems, samples, classes)), axis=-1).astype(np.int64)
    # every problem needs every class (regenerate the rare one-class problem's labels by flipping one)
    for b in np.flatnonzero([len(np.unique(row)) < classes for row in y]):
        y[b, :classes] = np.arange(classes)
    return X, y


def sklearn_loop(X, y, C: float, tol: float = 1e-4, max_iter: int = 100):
    """One scikit-learn fit per problem; returns coef (B, K, n), intercept (B, K) and seconds."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    coefs, intercepts = [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for b in range(X.shape[0]):
            model = LogisticRegression(C=C, tol=tol, max_iter=max_iter).fit(X[b], y[b])
            coefs.append(model.coef_)
            intercepts.append(model.intercept_)
    return np.stack(coefs), np.stack(intercepts), time.perf_counter() - t0


def batched(X, y, C: float, backend: str, solver="auto", hessian_dtype="auto"):
    """All problems in one ``logistic_fit`` call: a thunk returning coef and intercept (numpy)."""
    if backend == "torch":
        import torch

        X, y = torch.from_numpy(X), torch.from_numpy(y)

    def fit():
        params = logistic_fit(X, y, C, solver=solver, hessian_dtype=hessian_dtype)
        return np.asarray(params.coef), np.asarray(params.intercept)

    return fit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200, help="m, training samples per problem")
    parser.add_argument("--features", type=int, default=50, help="n, features per problem")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3, help="batched runs after a warm-up (best is kept)")
    parser.add_argument("--tight-subset", type=int, default=20, help="problems refit by sklearn at tol=1e-10")
    parser.add_argument("--backends", default="numpy,torch")
    args = parser.parse_args(argv)
    single_thread()

    X, y = make_problems(args.problems, args.samples, args.features, args.classes)
    B, m, d = X.shape
    print(
        f"{args.problems} logistic fits, m={args.samples}, n={args.features}, classes={args.classes}, C={args.C}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average {load_average():.1f}"
    )
    methods = [(b, "auto") for b in args.backends.split(",")] + [("numpy", "newton"), ("numpy", "newton-cg")]
    methods = [meth for meth in methods if args.classes == 2 or meth[1] != "newton-cg"]
    results = {}
    for backend, solver in methods:
        fit = batched(X, y, args.C, backend, solver)
        seconds = best_of(fit, repeat=args.repeat, warmup=1)
        results[(backend, solver)] = (*fit(), seconds)
    sk_coef, sk_int, sk_seconds = sklearn_loop(X, y, args.C)
    for backend, solver in methods:  # once more after sklearn, so load drifts hit both sides
        seconds = best_of(batched(X, y, args.C, backend, solver), repeat=1, warmup=0)
        if seconds < results[(backend, solver)][2]:
            results[(backend, solver)] = (*results[(backend, solver)][:2], seconds)
    k = args.tight_subset
    tight_coef, tight_int, tight_seconds = sklearn_loop(X[:k], y[:k], args.C, tol=1e-10, max_iter=10000)
    tight_total = tight_seconds * args.problems / k  # extrapolated to all problems

    print(f"{'method':<44}{'seconds':>10}{'speed-up':>10}{'max |coef diff|':>18}{'vs tight (subset)':>20}")
    print(f"{'sklearn loop (lbfgs, defaults)':<44}{sk_seconds:>10.3f}{1.0:>10.1f}{0.0:>18.1e}"
          f"{np.max(np.abs(sk_coef[:k] - tight_coef)):>20.1e}")  # fmt: skip
    for (backend, solver), (coef, intercept, seconds) in results.items():
        diff = max(np.max(np.abs(coef - sk_coef)), np.max(np.abs(intercept - sk_int)))
        tight = max(np.max(np.abs(coef[:k] - tight_coef)), np.max(np.abs(intercept[:k] - tight_int)))
        label = f"logistic_fit ({backend}, solver={solver!r})"
        print(f"{label:<44}{seconds:>10.3f}{sk_seconds / seconds:>10.1f}"
              f"{diff:>18.1e}{tight:>20.1e}")  # fmt: skip
    best = min(r[2] for r in results.values())
    print(f"sklearn at tol=1e-10 (matched accuracy), {k} problems timed, extrapolated to {args.problems}: "
          f"{tight_total:.2f} s, {tight_total / best:.1f}x the fastest batched run")

    if args.classes == 2:
        # where the time goes, against the machine's own matrix-product rates in this run
        cg_seconds = results[("numpy", "newton-cg")][2]
        gram = gemm_gflops(d + 1, m, d + 1, batch=B, dtype=np.float32)  # the Hessian's X^T W X (float32)
        gemv = gemm_gflops(1, m, d + 1, batch=B, dtype=np.float32)  # one pass over X: r^T X (float32)
        pass_s = 2.0 * B * m * (d + 1) / gemv / 1e9
        print(f"same-shape float32 rates in this run: GEMM X^T X {gram:.1f} GFLOP/s; one pass r^T X over all of X "
              f"(a GEMV) {pass_s * 1e3:.2f} ms = {gemv:.1f} GFLOP/s")
        print(f"Newton-CG (numpy, solver='newton-cg'): {cg_seconds * 1e3:.0f} ms = {cg_seconds / pass_s:.0f} passes' "
              f"time (it makes about 45 passes at these shapes: the rest is elementwise work and small products)")
        newton_seconds = results[("numpy", "newton")][2]
        hess_s = 2.0 * B * m * (d + 1) ** 2 / gram / 1e9
        print(f"Newton (solver='newton'): one float32 Hessian X^T W X at the GEMM rate is {hess_s * 1e3:.1f} ms "
              f"({2.0 * B * m * (d + 1) ** 2 / 1e9:.2f} GFLOP); the fit, {newton_seconds * 1e3:.0f} ms, is "
              f"{newton_seconds / hess_s:.1f} Hessians' time (it forms 4 and factorises them, ~{4 * 2.0 * B * m * (d + 1) ** 2 / newton_seconds / 1e9:.1f} GFLOP/s in those products)")
    print(f"load average after: {load_average():.1f}")
    return results, sk_seconds


if __name__ == "__main__":
    main()
