"""Lemma 10: the unbiased MMD^2 estimator is unbiased, and MMD^2 = MPP + E k(y, y') (MMD-MP).

Statement. For X = (x_1..x_n) iid P and Y = (y_1..y_m) iid Q (n, m >= 2),

    MMD^2_u = sum_{i!=j} k(x_i,x_j) / (n(n-1)) + sum_{i!=j} k(y_i,y_j) / (m(m-1)) - 2 sum_{i,j} k(x_i,y_j) / (nm)

has ``E[MMD^2_u] = MMD^2(P, Q) = E k(x,x') + E k(y,y') - 2 E k(x,y)``; so does Liu et al.'s
equal-size form ``sum_{i!=j} H_ij / (n(n-1))``, ``H_ij = k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(y_i,x_j)``.
The MMD-MP statistic drops the k(y, y') term: ``H*_ij = k(x_i,x_j) - k(x_i,y_j) - k(y_i,x_j)``, whose
mean estimates ``MPP = E k(x,x') - 2 E k(x,y)``; hence ``MMD^2 = MPP + E k(y,y')``, and the same
decomposition holds exactly for the estimators on every sample. The biased V-statistic
(all pairs, divided by n^2, m^2, nm) is *not* unbiased.

Proof. Each off-diagonal pair (i != j) is a pair of independent draws, so each sum has the
expectation of one term (linearity of expectation). The symbolic check makes this exact for
discrete P and Q, each on two points with general probabilities (``u_i / sum u``) and a
general symmetric kernel matrix on the four support points (10 free symbols): it enumerates
every sample (n = 3, m = 2 for the two-sample form: 32 samples; n = m = 3 for the
equal-size form and for MPP: 64 samples), sums statistic x probability, and cancels the
difference with the population value to 0. The finite-sample decomposition
``mean_{i!=j} H = mean_{i!=j} H* + mean_{i!=j} k(y_i, y_j)`` is checked on a symbolic 6 x 6 pooled
kernel matrix (n = m = 3). Explicit sizes throughout; the argument does not depend on them.
The check takes the estimator's form as an argument, so the biased V-statistic fails.

Source. Gretton et al. 2012, "A kernel two-sample test", JMLR, lemma 6 (unbiased MMD^2_u);
Liu et al. 2020, eq. 2; Zhang et al. 2024, "Detecting machine-generated texts by
multi-population aware optimization for MMD", ICLR, section 4 (MMD-MP).

Numeric cross-check: the exact expectation of ``estimators.mmd.mmd2`` (both unbiased forms) and
``estimators.mmd.mpp`` over every sample from two-point distributions in R^2 with a Gaussian
kernel (one batched call each) against the population MMD^2 and MPP, and
``mmd2 - mpp = mean_{i!=j} k(y_i, y_j)`` on random data.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ._lemma import Lemma, is_zero

__all__ = ["LEMMA", "check", "statistic", "estimator_is_unbiased", "mpp_decomposition_holds", "numeric"]


def statistic(Kxx, Kyy, Kxy, form: str):
    """An MMD-type statistic from the kernel blocks (sympy or numpy 2-d arrays).

    ``form``: ``"unbiased"`` (two-sample U-statistic), ``"one_sample"`` (Liu et al., n = m),
    ``"biased"`` (V-statistic), ``"mpp"`` (MMD-MP, n = m: mean of H* over i != j).
    """
    n, m = Kxx.shape[0], Kyy.shape[0]
    off = lambda A: sum(A[i, j] for i in range(A.shape[0]) for j in range(A.shape[1]) if i != j)  # noqa: E731
    total = lambda A: sum(A[i, j] for i in range(A.shape[0]) for j in range(A.shape[1]))  # noqa: E731
    if form == "unbiased":
        return off(Kxx) / (n * (n - 1)) + off(Kyy) / (m * (m - 1)) - 2 * total(Kxy) / (n * m)
    if form == "biased":
        return total(Kxx) / n**2 + total(Kyy) / m**2 - 2 * total(Kxy) / (n * m)
    if form == "one_sample":
        return (off(Kxx) + off(Kyy) - 2 * off(Kxy)) / (n * (n - 1))
    if form == "mpp":
        return (off(Kxx) - 2 * off(Kxy)) / (n * (n - 1))
    raise ValueError(f"statistic: form must be 'unbiased', 'one_sample', 'biased' or 'mpp', got {form!r}")


def _population():
    """Two-point P (support 0, 1) and Q (support 2, 3) with general probabilities and kernel."""
    u = sp.symbols("u0:2", positive=True)
    v = sp.symbols("v0:2", positive=True)
    p = [u_i / sum(u) for u_i in u]
    q = [v_i / sum(v) for v_i in v]
    K = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"k_{min(i, j)}_{max(i, j)}", real=True))
    return p, q, K


def _expected(form: str, n: int, m: int):
    """Exact E[statistic] over every sample of size (n, m), minus its population target."""
    p, q, K = _population()
    expectation = 0
    for xs in itertools.product(range(2), repeat=n):
        for ys in itertools.product(range(2), repeat=m):
            prob = sp.Mul(*[p[i] for i in xs]) * sp.Mul(*[q[j] for j in ys])
            yi = [2 + j for j in ys]
            stat = statistic(K.extract(list(xs), list(xs)), K.extract(yi, yi), K.extract(list(xs), yi), form)
            expectation += prob * stat
    Ekxx = sum(p[a] * p[b] * K[a, b] for a in range(2) for b in range(2))
    Ekyy = sum(q[a] * q[b] * K[2 + a, 2 + b] for a in range(2) for b in range(2))
    Ekxy = sum(p[a] * q[b] * K[a, 2 + b] for a in range(2) for b in range(2))
    target = Ekxx - 2 * Ekxy if form == "mpp" else Ekxx + Ekyy - 2 * Ekxy
    return expectation - target


def estimator_is_unbiased(form: str = "unbiased", n: int = 3, m: int = 2) -> bool:
    """True iff E[statistic(form)] equals its population value (MMD^2, or MPP for ``form='mpp'``).

    Examples
    --------
    >>> estimator_is_unbiased("unbiased", 2, 2)
    True
    >>> estimator_is_unbiased("biased", 2, 2)
    False
    """
    return is_zero(_expected(form, n, m))


def mpp_decomposition_holds(n: int = 3) -> bool:
    """mean_{i!=j} H_ij = mean_{i!=j} H*_ij + mean_{i!=j} k(y_i, y_j) on a symbolic pooled kernel matrix."""
    K = sp.Matrix(2 * n, 2 * n, lambda i, j: sp.Symbol(f"K_{min(i, j)}_{max(i, j)}", real=True))
    Kxx, Kyy, Kxy = K[:n, :n], K[n:, n:], K[:n, n:]
    yy = sum(Kyy[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return is_zero(statistic(Kxx, Kyy, Kxy, "one_sample") - statistic(Kxx, Kyy, Kxy, "mpp") - yy)


def _symbolic() -> bool:
    return (
        estimator_is_unbiased("unbiased", 3, 2)
        and estimator_is_unbiased("one_sample", 3, 3)
        and estimator_is_unbiased("mpp", 3, 3)
        and mpp_decomposition_holds()
    )


def _samples(support_x, support_y, px, py, n, m):
    """Every sample (X, Y) of sizes (n, m) from discrete P, Q and its probability, batched."""
    X, Y, prob = [], [], []
    for xs in itertools.product(range(len(px)), repeat=n):
        for ys in itertools.product(range(len(py)), repeat=m):
            X.append(support_x[list(xs)])
            Y.append(support_y[list(ys)])
            prob.append(np.prod(px[list(xs)]) * np.prod(py[list(ys)]))
    return np.stack(X), np.stack(Y), np.array(prob)


def numeric(seed: int = 10) -> float:
    """Max |E[mmd2 / mpp over all samples] - population value| and |mmd2 - mpp - yy| on random data."""
    from estimators import GaussianKernel
    from estimators.mmd import mmd2, mpp

    rng = np.random.default_rng(seed)
    kernel = GaussianKernel(0.8)
    support_x, support_y = rng.standard_normal((2, 2)), rng.standard_normal((2, 2)) + 0.5
    px, py = np.array([0.3, 0.7]), np.array([0.55, 0.45])
    Kxx, Kyy, Kxy = (np.asarray(kernel(a, b)) for a, b in
                     [(support_x, support_x), (support_y, support_y), (support_x, support_y)])
    Ekxx, Ekyy, Ekxy = px @ Kxx @ px, py @ Kyy @ py, px @ Kxy @ py
    mmd2_pop, mpp_pop = Ekxx + Ekyy - 2 * Ekxy, Ekxx - 2 * Ekxy
    worst = 0.0
    X, Y, prob = _samples(support_x, support_y, px, py, 3, 2)
    worst = max(worst, abs(float(prob @ np.asarray(mmd2(X, Y, kernel))) - mmd2_pop))
    X, Y, prob = _samples(support_x, support_y, px, py, 3, 3)
    worst = max(worst, abs(float(prob @ np.asarray(mmd2(X, Y, kernel, one_sample=True))) - mmd2_pop))
    worst = max(worst, abs(float(prob @ np.asarray(mpp(X, Y, kernel, one_sample=True))) - mpp_pop))
    # finite-sample decomposition on random data
    X, Y = rng.standard_normal((5, 8, 3)), rng.standard_normal((5, 8, 3)) + 0.3
    Kyy = np.asarray(kernel(Y, Y))
    yy = (Kyy.sum(axis=(-1, -2)) - np.trace(Kyy, axis1=-2, axis2=-1)) / (8 * 7)
    for one_sample in (False, True):
        gap = np.asarray(mmd2(X, Y, kernel, one_sample=one_sample)) - np.asarray(mpp(X, Y, kernel, one_sample=one_sample)) - yy
        worst = max(worst, float(np.max(np.abs(gap))))
    return worst


LEMMA = Lemma(
    name="MMD^2_u unbiased; MMD^2 = MPP + E k(y,y')",
    statement="E[MMD^2_u] = E k(x,x') + E k(y,y') - 2 E k(x,y) (both U-forms; not the V-form); MMD^2 = MPP + E k(y,y')",
    source="Gretton et al. 2012, lemma 6; Zhang et al. 2024, sec. 4",
    symbolic=_symbolic,
    numeric=numeric,
    tolerance=1e-12,
    backed_by="estimators.mmd.mmd2 (unbiased, one_sample) and estimators.mmd.mpp",
)


def check():
    """Prove the lemma symbolically and cross-check it numerically; returns a :class:`proofs._lemma.Result`."""
    return LEMMA.check()
