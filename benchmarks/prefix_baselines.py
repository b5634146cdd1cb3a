"""All-prefix baselines against the per-prompt, per-prefix loops the reference ICL code bases run.

For B prompts of n points in d dimensions (float64, CPU), every baseline must give a prediction
at every prefix length: B * n fits. This script times, in one process:

* this toolkit's all-prefix function (``ols_prefixes``, ``ridge_prefixes``, ``lasso_prefixes``);
* a numpy loop over prompts and prefixes (``lstsq`` / ``solve``), as Garg et al.'s evaluation does;
* a scikit-learn loop (``LinearRegression``/``Ridge``/``Lasso`` with ``fit_intercept=False``);

and prints times, speed-ups and the largest difference between results (lasso: the relative
difference of objective values, since the problems with k < d can be ill-conditioned in w).

Run: ``python -m benchmarks.prefix_baselines [--prompts 1280 --points 41 --dim 20]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from estimators import lasso_objective, lasso_prefixes, ols_prefixes, ridge_prefixes


def _timed(fn, repeat=1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def numpy_loop(xs, ys, method, lam=0.0):
    B, n, d = xs.shape
    preds = np.zeros((B, n))
    for b in range(B):
        for k in range(1, n):
            X, y = xs[b, :k], ys[b, :k]
            if method == "ols":
                w = np.linalg.lstsq(X, y, rcond=None)[0]
            else:
                w = np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)
            preds[b, k] = xs[b, k] @ w
    return preds


def sklearn_loop(xs, ys, method, lam=0.0, alpha=0.0, tol=1e-10):
    from sklearn.linear_model import Lasso, LinearRegression, Ridge

    B, n, d = xs.shape
    preds = np.zeros((B, n))
    weights = np.zeros((B, n, d))
    for b in range(B):
        for k in range(1, n):
            X, y = xs[b, :k], ys[b, :k]
            if method == "ols":
                model = LinearRegression(fit_intercept=False)
            elif method == "ridge":
                model = Ridge(alpha=lam, fit_intercept=False)
            else:
                model = Lasso(alpha=alpha, fit_intercept=False, tol=tol, max_iter=100_000)
            w = model.fit(X, y).coef_
            weights[b, k] = w
            preds[b, k] = xs[b, k] @ w
    return preds, weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1280)
    parser.add_argument("--points", type=int, default=41)
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--lam", type=float, default=0.25, help="ridge penalty")
    parser.add_argument("--alpha", type=float, default=0.05, help="lasso penalty")
    parser.add_argument("--noise", type=float, default=0.5, help="label noise std (keeps the problems non-trivial)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    B, n, d = args.prompts, args.points, args.dim
    xs = rng.standard_normal((B, n, d))
    w_true = rng.standard_normal((B, d))
    ys = np.einsum("bnd,bd->bn", xs, w_true) + args.noise * rng.standard_normal((B, n))
    print(f"prefix baselines: B={B} prompts, n={n} points, d={d}, float64, CPU; {B * (n - 1)} fits per method")

    rows = []
    for name, fast, method in [
        ("OLS", lambda: ols_prefixes(xs, ys), "ols"),
        (f"ridge (lam={args.lam})", lambda: ridge_prefixes(xs, ys, args.lam), "ridge"),
    ]:
        t_fast, p_fast = _timed(fast, repeat=3)
        t_np, p_np = _timed(lambda: numpy_loop(xs, ys, method, args.lam))
        t_sk, (p_sk, _) = _timed(lambda: sklearn_loop(xs, ys, method, lam=args.lam))
        diff = max(np.abs(p_fast - p_np).max(), np.abs(p_fast - p_sk).max())
        rows.append((name, t_fast, t_np, t_sk, diff, "max |pred diff|"))

    # Lasso: objective values of every prefix problem against scikit-learn's coordinate descent.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        t_fast, p_fast = _timed(lambda: lasso_prefixes(xs, ys, args.alpha), repeat=3)
    for w in caught:
        print(f"note: {w.message}")
    t_sk, (p_sk, w_sk) = _timed(lambda: sklearn_loop(xs, ys, "lasso", alpha=args.alpha))
    from estimators.sparse import lasso_weights_prefixes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w_fast = lasso_weights_prefixes(xs, ys, args.alpha)
    worse = better = 0.0  # how much higher our objective is than scikit-learn's, and vice versa (relative)
    for k in range(1, n):
        o_fast = lasso_objective(xs[:, :k], ys[:, :k], w_fast[:, k], args.alpha)
        o_sk = lasso_objective(xs[:, :k], ys[:, :k], w_sk[:, k], args.alpha)
        worse = max(worse, float(np.max((o_fast - o_sk) / np.abs(o_sk))))
        better = max(better, float(np.max((o_sk - o_fast) / np.abs(o_sk))))
    print(f"lasso objectives: ours above scikit-learn's by at most {worse:.1e} (relative); "
          f"scikit-learn's above ours by at most {better:.1e}")
    rel = max(worse, 0.0)
    assert np.allclose(np.einsum("bnd,bnd->bn", w_fast, xs), p_fast)
    rows.append((f"lasso (alpha={args.alpha})", t_fast, float("nan"), t_sk, rel, "max rel objective excess over sklearn"))

    header = f"{'method':<20} {'all-prefix s':>13} {'numpy loop s':>13} {'sklearn loop s':>15} {'vs numpy':>9} {'vs sklearn':>11}  max diff"
    print(header)
    print("-" * len(header))
    for name, t_fast, t_np, t_sk, diff, what in rows:
        vs_np = f"{t_np / t_fast:8.1f}x" if np.isfinite(t_np) else f"{'-':>9}"
        t_np_s = f"{t_np:13.3f}" if np.isfinite(t_np) else f"{'-':>13}"
        print(f"{name:<20} {t_fast:13.4f} {t_np_s} {t_sk:15.3f} {vs_np} {t_sk / t_fast:10.1f}x  {diff:.1e} ({what})")
    return rows


if __name__ == "__main__":
    main()
