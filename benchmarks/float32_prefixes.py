"""Every ``*_prefixes`` function on fresh float32 prompts: never refused, and equal to a float64 reference.

For each function, ``--batches`` fresh float32 batches per noise level (B = 256, n = 41, d = 20;
noiseless and noise variance 0.25; classification labels from the matching ``icl.tasks`` task) are
passed in float32 and compared with a float64 reference computed on the same float32 numbers
(widened exactly), so the error measured is the function's own float32 error. The table has, per
function: batches run, raises, the largest error and its tolerance.

Error: regression outputs (predictions, log densities, variances) are relative,
``|got - ref| / max(|ref|, rms_b)`` with ``rms_b`` the prompt's RMS output (so a prediction near
0 is measured against the prompt's scale); probabilities are absolute.

Tolerance ``c kappa eps32`` (eps32 = 2^-23):

* functions that compute in float64 and round once (every function of this toolkit's linear,
  sparse, GP, naive Bayes and Bayes modules): kappa = 1, c = 4 (rounding the answer costs eps32 / 2;
  the float64 reference differs by ~kappa(X) eps64, far below);
* ``kernel_ridge_prefixes`` (a float32 Cholesky factor): kappa = cond(K + lam I) of the prompt and
  c = 1.5 n (Cholesky solves have forward error <= 3 n u kappa, u = eps32 / 2; Higham 2002, theorem 10.4);
* ``logistic_prefixes`` (float32 Newton iterations stopped at ``tol = 1e-6``): 10 tol.

References (independent of the code under test unless said): ``ols`` per-prefix pseudo-inverse
(SVD); ``ridge`` and the Gaussian prior's mean per-prefix normal equations; ``gd`` the iteration
per prefix; averaging and k-NN per prefix in numpy (k-NN distances from differences); kernel ridge
and the GP predictive per-prefix solves of ``(K_<k + s I)``; the Gaussian prior's predictive by
its closed-form posterior. The lasso, L-infinity minimisation, naive Bayes, the Gaussian-classes
Bayes classifier, logistic regression and the non-Gaussian Bayes priors are compared with their
own float64 path (a per-prefix loop of 10^6 fits has no affordable independent reference; their
float64 results are checked against scikit-learn / scipy / enumeration in tests/estimators).

Run: ``OMP_NUM_THREADS=1 python -m benchmarks.float32_prefixes [--batches 50] [--only ols,lasso]``.
The CI test ``tests/estimators/test_float32_prefixes.py`` runs the same cases on two small batches.
"""

from __future__ import annotations

import argparse
import time
import warnings
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

import estimators as E
from estimators.bayes import FinitePrior, GaussianPrior, MixturePrior, SignPrior, SparsePrior, fourier_mixture_prior
from estimators.kernels import GaussianKernel, LinearKernel

EPS32 = float(np.finfo(np.float32).eps)
NOISES = (0.0, 0.25)


# ----------------------------------------------------------------------------- data


def regression(rng, B, n, d, noise, prior=None):
    """Gaussian inputs, w from ``prior`` (N(0, I) by default), y = x^T w + noise; float32 (B, n, d), (B, n)."""
    if prior is not None and hasattr(prior, "features"):  # a feature prior takes scalar inputs
        xs = rng.uniform(-2.0, 2.0, (B, n, 1))
        ys = prior.evaluate(xs, prior.sample(B, rng))
    else:
        d = d if prior is None else prior.d
        w = rng.standard_normal((B, d)) if prior is None else prior.sample(B, rng)
        xs = rng.standard_normal((B, n, d))
        ys = np.einsum("bnd,bd->bn", xs, w)
    ys = ys + np.sqrt(noise) * rng.standard_normal((B, n))
    return xs.astype(np.float32), ys.astype(np.float32)


def gaussian_classes(rng, B, n, d):
    """The ``gaussian-classes`` task (shared variances, 2 classes): float32 xs, int64 labels."""
    labels = rng.integers(0, 2, size=(B, n))
    means, v = rng.standard_normal((B, 2, d)), rng.uniform(0.5, 2.0, (B, 1, d))
    xs = means[np.arange(B)[:, None], labels] + np.sqrt(v) * rng.standard_normal((B, n, d))
    return xs.astype(np.float32), labels


def linear_classes(rng, B, n, d):
    """The ``linear-classification`` task: labels 1[x^T w > 0], w ~ N(0, I) (Garg et al. 2022, section 5)."""
    xs = rng.standard_normal((B, n, d)).astype(np.float32)
    w = rng.standard_normal((B, d))
    return xs, (np.einsum("bnd,bd->bn", xs.astype(float), w) > 0).astype(np.int64)


# ----------------------------------------------------------------------------- independent references


def _per_prefix(xs, ys, weights):
    """preds[:, k] = x_k . weights(X_<k, y_<k) (batched over prompts), preds[:, 0] = 0."""
    B, n, _ = xs.shape
    out = np.zeros((B, n))
    for k in range(1, n):
        out[:, k] = np.einsum("bd,bd->b", xs[:, k], weights(xs[:, :k], ys[:, :k]))
    return out


def ref_ols(xs, ys):
    return _per_prefix(xs, ys, lambda X, y: np.einsum("bdk,bk->bd", np.linalg.pinv(X), y))


def ref_ridge(lam):
    def ref(xs, ys):
        eye = np.eye(xs.shape[-1])
        return _per_prefix(xs, ys, lambda X, y: np.linalg.solve(np.swapaxes(X, 1, 2) @ X + lam * eye,
                                                                np.einsum("bkd,bk->bd", X, y)[..., None])[..., 0])
    return ref


def ref_gd(lr, steps):
    def weights(X, y):
        k = X.shape[1]
        w = np.zeros((X.shape[0], X.shape[2]))
        for _ in range(steps):
            w = w - lr / k * np.einsum("bkd,bk->bd", X, np.einsum("bkd,bd->bk", X, w) - y)
        return w
    return lambda xs, ys: _per_prefix(xs, ys, weights)


def ref_averaging(xs, ys):
    return _per_prefix(xs, ys, lambda X, y: np.mean(X * y[..., None], axis=1))


def ref_knn(kk):
    def ref(xs, ys):
        B, n, _ = xs.shape
        out = np.zeros((B, n))
        for k in range(1, n):
            dist = np.linalg.norm(xs[:, :k] - xs[:, k : k + 1], axis=-1)  # (B, k)
            idx = np.argsort(dist, axis=-1, kind="stable")[:, :kk]
            out[:, k] = np.take_along_axis(ys[:, :k], idx, axis=-1).mean(axis=-1)
        return out
    return ref


def _kernel_prefix_moments(xs, ys, kernel, s):
    """Per-prefix GP / kernel-ridge mean and predictive variance of y_k: (B, n) each."""
    K = np.asarray(kernel(xs, xs))
    B, n = ys.shape
    mean, var = np.zeros((B, n)), np.diagonal(K, axis1=1, axis2=2) + s
    var = var.copy()
    for k in range(1, n):
        A = K[:, :k, :k] + s * np.eye(k)
        kq = K[:, :k, k]
        sol = np.linalg.solve(A, np.stack([ys[:, :k], kq], axis=-1))  # (B, k, 2)
        mean[:, k] = np.einsum("bk,bk->b", kq, sol[..., 0])
        var[:, k] -= np.einsum("bk,bk->b", kq, sol[..., 1])
    return mean, var


def _log_normal(y, mean, var):
    return -0.5 * np.log(2 * np.pi * var) - 0.5 * (y - mean) ** 2 / var


def ref_gp(kernel, s, what):
    def ref(xs, ys):
        mean, var = _kernel_prefix_moments(xs, ys, kernel, s)
        return {"mean": mean, "moments": np.stack([mean, var], axis=1), "logpdf": _log_normal(ys, mean, var)}[what]
    return ref


def ref_gaussian_prior(s, what):
    """Closed-form posterior of w ~ N(0, I) under noise variance s: mean, predictive moments, log density."""
    def ref(xs, ys):
        if what == "mean" and s == 0:
            return ref_ols(xs, ys)  # the min-norm interpolant, then the exact solution
        d = xs.shape[-1]

        def moments(X, y):
            prec = np.swapaxes(X, 1, 2) @ X / s + np.eye(d)
            return np.linalg.solve(prec, np.concatenate([np.einsum("bkd,bk->bd", X, y)[..., None] / s,
                                                         np.eye(d)[None].repeat(X.shape[0], 0)], axis=-1))
        B, n, _ = xs.shape
        mean, var = np.zeros((B, n)), np.einsum("bnd,bnd->bn", xs, xs) + s
        for k in range(1, n):
            sol = moments(xs[:, :k], ys[:, :k])  # (B, d, 1 + d): posterior mean | covariance
            mean[:, k] = np.einsum("bd,bd->b", xs[:, k], sol[..., 0])
            var[:, k] = np.einsum("bi,bij,bj->b", xs[:, k], sol[..., 1:], xs[:, k]) + s
        return {"mean": mean, "moments": np.stack([mean, var], axis=1), "logpdf": _log_normal(ys, mean, var)}[what]
    return ref


def own_float64(f):
    """The function's own float64 path (used where no affordable independent reference exists)."""
    return lambda xs, ys: f(xs, ys)


# ----------------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    call: Callable  # (xs, ys, noise) -> array, or tuple of arrays (stacked)
    reference: Callable  # noise -> (xs64, ys64) -> array
    data: str = "regression"  # or "gaussian-classes", "linear-classes"
    kind: str = "relative"  # or "probability"
    tolerance: str = "float64"  # or "cholesky32", "newton"
    prior: Callable | None = None
    slow: bool = False


def _stack(out):
    """A tuple of (B, n) outputs as one (B, parts, n) array."""
    return np.stack([np.asarray(o) for o in out], axis=1) if isinstance(out, tuple) else np.asarray(out)


def _density_noise(noise):
    return max(noise, 1e-4)  # a point mass (noise 0) has no density: the smallest variance used is 1e-4


def _cases():
    gk, lk = GaussianKernel(np.sqrt(20.0)), LinearKernel()
    cases = [
        Case("ols_prefixes", lambda x, y, s: E.ols_prefixes(x, y), lambda s: ref_ols),
        Case("ridge_prefixes", lambda x, y, s: E.ridge_prefixes(x, y, 0.1), lambda s: ref_ridge(0.1)),
        Case("gd_prefixes", lambda x, y, s: E.gd_prefixes(x, y, 0.02, 20), lambda s: ref_gd(0.02, 20)),
        Case("averaging_prefixes", lambda x, y, s: E.averaging_prefixes(x, y), lambda s: ref_averaging),
        Case("knn_prefixes", lambda x, y, s: E.knn_prefixes(x, y, 3), lambda s: ref_knn(3)),
        Case("lasso_prefixes", lambda x, y, s: E.lasso_prefixes(x, y, 0.05),
             lambda s: own_float64(lambda a, b: E.lasso_prefixes(a, b, 0.05))),
        Case("lasso_weights_prefixes", lambda x, y, s: E.lasso_weights_prefixes(x, y, 0.05),
             lambda s: own_float64(lambda a, b: E.lasso_weights_prefixes(a, b, 0.05))),
        Case("linf_min_prefixes", lambda x, y, s: E.linf_min_prefixes(x, y),
             lambda s: own_float64(E.linf_min_prefixes), slow=True),
    ]
    for kname, kern in (("gaussian", gk), ("linear", lk)):
        cases += [
            Case(f"kernel_ridge_prefixes[{kname}]",
                 lambda x, y, s, k=kern: E.kernel_ridge_prefixes(x, y, k, _density_noise(s), return_var=True),
                 lambda s, k=kern: ref_gp(k, _density_noise(s), "moments"), tolerance="cholesky32"),
            Case(f"gp_log_predictive_prefixes[{kname}]",
                 lambda x, y, s, k=kern: E.gp_log_predictive_prefixes(x, y, k, _density_noise(s)),
                 lambda s, k=kern: ref_gp(k, _density_noise(s), "logpdf")),
            Case(f"gp_predictive_moments_prefixes[{kname}]",
                 lambda x, y, s, k=kern: E.gp_predictive_moments_prefixes(x, y, k, _density_noise(s)),
                 lambda s, k=kern: ref_gp(k, _density_noise(s), "moments")),
        ]
    iso = GaussianPrior.isotropic(20)
    cases += [
        Case("GaussianPrior.predict_prefixes", lambda x, y, s: iso.predict_prefixes(x, y, s),
             lambda s: ref_gaussian_prior(s, "mean")),
        Case("GaussianPrior.log_predictive_prefixes",
             lambda x, y, s: iso.log_predictive_prefixes(x, y, _density_noise(s)),
             lambda s: ref_gaussian_prior(_density_noise(s), "logpdf")),
        Case("GaussianPrior.predictive_moments_prefixes",
             lambda x, y, s: iso.predictive_moments_prefixes(x, y, _density_noise(s)),
             lambda s: ref_gaussian_prior(_density_noise(s), "moments")),
    ]
    rng = np.random.default_rng(3)
    priors = {
        "MixturePrior": MixturePrior([GaussianPrior(np.full(20, 1.0), np.eye(20)),
                                      GaussianPrior(np.full(20, -1.0), 0.5 * np.eye(20))], [0.4, 0.6]),
        "FinitePrior": FinitePrior(rng.standard_normal((64, 20))),
        "SparsePrior": SparsePrior(20, 3),
        "SignPrior(d=10)": SignPrior(10),
        "FeaturePrior(fourier)": fourier_mixture_prior(5, period_length=2.0),
    }
    for pname, prior in priors.items():
        for method in ("predict_prefixes", "log_predictive_prefixes", "predictive_moments_prefixes"):
            noise_of = (lambda s: s) if method == "predict_prefixes" else _density_noise

            def call(x, y, s, p=prior, m=method, nf=noise_of):
                return getattr(p, m)(x, y, nf(s))

            cases.append(Case(f"{pname}.{method}", call, lambda s, c=call: own_float64(lambda a, b: c(a, b, s)),
                              prior=prior))
    cases += [
        Case("gaussian_nb_prefixes", lambda x, y, s: E.gaussian_nb_prefixes(x, y, n_classes=2),
             lambda s: own_float64(lambda a, b: E.gaussian_nb_prefixes(a, b, n_classes=2)),
             data="gaussian-classes", kind="probability"),
        Case("bernoulli_nb_prefixes", lambda x, y, s: E.bernoulli_nb_prefixes(x, y, n_classes=2),
             lambda s: own_float64(lambda a, b: E.bernoulli_nb_prefixes(a, b, n_classes=2)),
             data="linear-classes", kind="probability"),
        Case("gaussian_classes_bayes_prefixes", lambda x, y, s: E.gaussian_classes_bayes_prefixes(x, y, n_classes=2),
             lambda s: own_float64(lambda a, b: E.gaussian_classes_bayes_prefixes(a, b, n_classes=2)),
             data="gaussian-classes", kind="probability"),
        Case("logistic_prefixes", lambda x, y, s: E.logistic_prefixes(x, y, n_classes=2),
             lambda s: own_float64(lambda a, b: E.logistic_prefixes(a, b, n_classes=2, tol=1e-10)),
             data="linear-classes", kind="probability", tolerance="newton"),
    ]
    return cases


CASES = _cases()


def _draw(case, rng, B, n, d, noise):
    if case.data == "gaussian-classes":
        return gaussian_classes(rng, B, n, d)
    if case.data == "linear-classes":
        return linear_classes(rng, B, n, d)
    return regression(rng, B, n, d, noise, case.prior)


def _tolerance(case, xs64, noise):
    """Per-prompt tolerance (B,) = c kappa eps32 (see the module docstring)."""
    B, n = xs64.shape[:2]
    if case.tolerance == "newton":
        return np.full(B, 10 * 1e-6)
    if case.tolerance == "cholesky32":
        kern = GaussianKernel(np.sqrt(20.0)) if "gaussian" in case.name else LinearKernel()
        ev = np.linalg.eigvalsh(np.asarray(kern(xs64, xs64)) + _density_noise(noise) * np.eye(n))
        return 1.5 * n * (ev[:, -1] / ev[:, 0]) * EPS32
    return np.full(B, 4 * EPS32)


def _errors(case, got, ref):
    """Per-prompt largest error (B,): relative (floored at the prompt's RMS output) or absolute."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise AssertionError(f"{case.name}: shape {got.shape} != reference {ref.shape}")
    B = ref.shape[0]
    if case.kind == "probability":
        return np.abs(got - ref).reshape(B, -1).max(axis=-1)
    g, r = got.reshape(B, -1, ref.shape[-1]), ref.reshape(B, -1, ref.shape[-1])  # (B, parts, n) or (B, n, d)
    rms = np.sqrt(np.mean(r * r, axis=-1, keepdims=True))
    return (np.abs(g - r) / np.maximum(np.abs(r), np.maximum(rms, 1e-300))).reshape(B, -1).max(axis=-1)


def run_case(case, batches, seed=0, B=256, n=41, d=20, noises=NOISES):
    """Run ``case`` on ``batches`` fresh float32 batches per noise level.

    Returns (batches run, raises, max error, max tolerance, worst error / tolerance, first exception).
    """
    rng = np.random.default_rng([seed, zlib.crc32(case.name.encode())])
    raises, worst_err, worst_tol, worst_ratio, first, runs = 0, 0.0, 0.0, 0.0, None, 0
    for noise in noises:
        if case.data != "regression" and noise > 0:
            continue  # classification tasks have no observation noise
        reference = case.reference(noise)
        for _ in range(batches if case.data == "regression" else batches * len(noises)):
            xs, ys = _draw(case, rng, B, n, d, noise)
            runs += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # ill-conditioning warnings are reported as errors
                try:
                    got = _stack(case.call(xs, ys, noise))
                except Exception as err:  # noqa: BLE001 - every exception is a refusal to report
                    raises += 1
                    first = first or f"{type(err).__name__}: {err}"
                    continue
                ref = _stack(reference(xs.astype(np.float64), ys if ys.dtype.kind == "i" else ys.astype(np.float64)))
            if got.dtype != np.float32:
                raises += 1
                first = first or f"returned {got.dtype} for float32 input"
                continue
            err, tol = _errors(case, got, ref), _tolerance(case, xs.astype(np.float64), noise)
            worst_err, worst_tol = max(worst_err, float(err.max())), max(worst_tol, float(tol.max()))
            worst_ratio = max(worst_ratio, float(np.max(err / tol)))
    return runs, raises, worst_err, worst_tol, worst_ratio, first


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50, 
                        help="fresh batches per noise level (default 50: 100 in all)")
    parser.add_argument("--slow-batches", type=int, default=None, help="batches per noise level for the slow cases")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--only", default=None, help="comma-separated substrings of case names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"float32 prompts B={args.prompts}, n=41, d=20, noise variance {NOISES}; eps32 = {EPS32:.3g}")
    print(f"{'function':48s} {'batches':>7s} {'raises':>6s} {'max error':>10s} {'tolerance':>10s} {'err/tol':>8s}  s")
    failed = 0
    for case in CASES:
        if args.only and not any(s in case.name for s in args.only.split(",")):
            continue
        nb = args.slow_batches if case.slow and args.slow_batches is not None else args.batches
        t0 = time.perf_counter()
        runs, raises, err, tol, ratio, first = run_case(case, nb, seed=args.seed, B=args.prompts)
        ok = raises == 0 and ratio <= 1
        failed += not ok
        seconds = time.perf_counter() - t0
        print(f"{case.name:48s} {runs:7d} {raises:6d} {err:10.2e} {tol:10.2e} {ratio:8.3f}  {seconds:5.0f}"
              + ("" if ok else "  FAIL" + (f" ({first[:90]})" if first else "")), flush=True)
    print(f"{failed} function(s) failed")
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
