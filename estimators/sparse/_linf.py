"""L-infinity-norm minimisation: the convex proxy for sign-vector regression, batched and all-prefix.

For a prefix (X, y) the estimate is the interpolant of smallest largest entry::

    min_w ||w||_inf   s.t.   X w = y

a linear program in (w, t): minimise t subject to -t <= w_i <= t and X w = y. When y is not in
the range of X (noise, or float32 rounding once k > d) the equality is replaced by the normal
equations' solution set ``V_r^T w = S_r^{-1} U_r^T y`` (X = U S V^T truncated to its numerical
rank r), which is the same set when the system is consistent and the least-squares solutions
otherwise (so k >= d with full rank gives least squares). The programs are solved by HiGHS
(``scipy.optimize.linprog(method="highs")``, Huangfu & Hall 2018) in float64 numpy, many problems
per call as one block-diagonal program (the blocks are independent, so the joint optimum is the
optimum of every block). What does not live here: the lasso (:mod:`._lasso`) and the exact Bayes
predictor for sign vectors, :class:`estimators.bayes.SignPrior`.
"""

from __future__ import annotations

import math

from typing import Any

import array_api_compat
import numpy as np

from ..validation import check_fit_data, check_int, check_prompt, to_numpy

__all__ = ["linf_min", "linf_min_prefixes"]


def _affine_constraints(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` with ``{w : A w = b}`` the least-squares solutions of ``X w = y`` (rows of A orthonormal).

    X = U S V^T; rank r counts singular values above ``max(k, d) eps s_max`` (numpy's matrix_rank
    rule); A = V_r^T, b = S_r^{-1} U_r^T y.
    """
    if X.size == 0 or not np.any(X):
        return np.zeros((0, X.shape[-1])), np.zeros(0)
    e = math.frexp(float(np.max(np.abs(X))))[1]  # X / 2^e is exact and of unit scale: no subnormal s
    U, s, Vt = np.linalg.svd(np.ldexp(X, -e), full_matrices=False)
    r = int(np.sum(s > max(X.shape) * np.finfo(np.float64).eps * s[0]))
    with np.errstate(over="ignore"):
        b = np.ldexp((U[:, :r].T @ y) / s[:r], -e)
    if not np.all(np.isfinite(b)):
        raise ValueError("linf_min: the interpolating weights overflow float64: X (xs) is too small relative to y (ys); "
                         "rescale X and y")
    return Vt[:r], b


def _solve_block(problems: list[tuple[np.ndarray, np.ndarray]], d: int) -> np.ndarray:
    """One block-diagonal linear program for a list of ``(A, b)`` problems; returns w of shape (P, d).

    Variables per problem: (w_1..w_d, t); minimise the sum of the t's subject to A w = b,
    w_i - t <= 0 and -w_i - t <= 0, t >= 0.
    """
    from scipy.optimize import linprog
    from scipy.sparse import block_diag, coo_matrix, csr_matrix, hstack, identity, vstack

    # the program is positively homogeneous in b, and HiGHS's tolerances are absolute: each problem is
    # solved for b / 2^e (max |b| in [1/2, 1), an exact rescaling) and its answer scaled back by 2^e
    exps = [math.frexp(float(np.max(np.abs(b))))[1] if b.size and np.any(b) else 0 for _, b in problems]
    problems = [(A, np.ldexp(b, -e)) for (A, b), e in zip(problems, exps)]
    P, nv = len(problems), d + 1
    eye, ones = identity(d, format="csr"), csr_matrix(np.ones((d, 1)))
    A_ub = block_diag([vstack([hstack([eye, -ones]), hstack([-eye, -ones])])] * P, format="csr")  # (2dP, P nv)
    rows, cols, vals, b_eq, row0 = [], [], [], [], 0
    for p, (A, b) in enumerate(problems):  # A (r_p, d) into rows row0.., columns p nv .. p nv + d - 1
        r_idx, c_idx = np.nonzero(np.ones_like(A, dtype=bool))
        rows.append(row0 + r_idx)
        cols.append(p * nv + c_idx)
        vals.append(A[r_idx, c_idx])
        b_eq.append(b)
        row0 += A.shape[0]
    A_eq = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(row0, P * nv)).tocsr() if row0 else None
    bounds = [(None, None)] * d + [(0.0, None)]
    res = linprog(np.tile(np.r_[np.zeros(d), 1.0], P), A_ub=A_ub, b_ub=np.zeros(2 * d * P), A_eq=A_eq,
                  b_eq=np.concatenate(b_eq) if row0 else None, bounds=bounds * P, method="highs")
    if res.status != 0:
        raise RuntimeError(f"linf_min: HiGHS did not solve the linear program ({res.message}); the inputs may be "
                           "badly scaled: rescale xs and ys")
    with np.errstate(over="ignore"):
        w = np.ldexp(res.x.reshape(P, nv)[:, :d], np.array(exps)[:, None])
    if not np.all(np.isfinite(w)):
        raise ValueError("linf_min: the minimum-norm weights overflow float64: X is too small relative to y; "
                         "rescale X and y")
    return w


def _linf_weights(X: np.ndarray, y: np.ndarray, chunk: int) -> np.ndarray:
    """Flat float64 problems X (P, k, d), y (P, k) -> w (P, d); k = 0 gives w = 0."""
    P, _, d = X.shape
    out = np.zeros((P, d))
    for start in range(0, P, chunk):
        stop = min(P, start + chunk)
        out[start:stop] = _solve_block([_affine_constraints(X[p], y[p]) for p in range(start, stop)], d)
    return out


def _like(xp, a, like):
    return xp.asarray(a, dtype=like.dtype, device=array_api_compat.device(like))


def linf_min(X: Any, y: Any, chunk: int = 256) -> Any:
    r"""The interpolant of smallest L-infinity norm, batched over leading axes.

    .. math:: \hat w = \arg\min_w \|w\|_\infty \quad \text{s.t.} \quad X w = y

    (over the least-squares solutions when ``X w = y`` has none; see the module docstring).

    Parameters
    ----------
    X : array of shape (..., k, d)
    y : array of shape (..., k)
    chunk : int, >= 1
        Problems per linear program (one block-diagonal HiGHS call each).

    Returns
    -------
    w : array of shape (..., d), in the input's library, dtype and device (solved on the CPU in
    float64 numpy). A minimiser need not be unique; for inputs in general position it is.

    Raises
    ------
    RuntimeError
        If HiGHS reports a program it could not solve.

    References
    ----------
    Mangasarian & Recht 2011, "Probability of unique integer solution to a system of linear
    equations" (a vector in {-1, +1}^d is the unique L-infinity minimiser of X w = X w* with high
    probability once k > d / 2 Gaussian measurements); Panwar et al. 2024, section 3 (the
    comparator for sign-vector regression).

    Examples
    --------
    >>> import numpy as np
    >>> linf_min(np.array([[1.0, 2.0]]), np.array([3.0])).round(6)
    array([1., 1.])
    """
    xp = check_fit_data(X, y, fn="linf_min")
    chunk = check_int(chunk, "chunk", fn="linf_min", minimum=1)
    k, d = X.shape[-2], X.shape[-1]
    Xn = np.asarray(to_numpy(X), dtype=np.float64).reshape(-1, k, d)
    yn = np.asarray(to_numpy(y), dtype=np.float64).reshape(-1, k)
    w = _linf_weights(Xn, yn, chunk)
    return _like(xp, w.reshape(tuple(X.shape[:-2]) + (d,)), X)


def linf_min_prefixes(xs: Any, ys: Any, chunk: int = 256) -> Any:
    r"""L-infinity minimisation on every prefix: ``preds[..., k] = xs[..., k, :] @ linf_min(first k pairs)``.

    ``preds[..., 0] = 0`` (the minimiser with no constraint is w = 0). Every prefix of every prompt
    is one linear program; ``chunk`` of them are solved per HiGHS call.

    Parameters
    ----------
    xs : array of shape (..., n, d)
    ys : array of shape (..., n)
    chunk : int, >= 1
        Problems per linear program.

    Returns
    -------
    preds : array of shape (..., n), in the input's library, dtype and device.

    References
    ----------
    Panwar et al. 2024, section 3 (sign-vector regression: the transformer is compared with
    L-infinity minimisation); Mangasarian & Recht 2011 (sign vectors are recovered by it).

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.array([[1.0, 2.0], [1.0, -1.0], [2.0, 0.0]])
    >>> ys = xs @ np.array([1.0, -1.0])
    >>> linf_min_prefixes(xs, ys).round(6)  # k = 1: w = (-1/3, -1/3); k = 2: w = (1, -1)
    array([0., 0., 2.])
    """
    xp = check_prompt(xs, ys, fn="linf_min_prefixes")
    chunk = check_int(chunk, "chunk", fn="linf_min_prefixes", minimum=1)
    batch, (n, d) = tuple(xs.shape[:-2]), tuple(xs.shape[-2:])
    X = np.asarray(to_numpy(xs), dtype=np.float64).reshape(-1, n, d)
    Y = np.asarray(to_numpy(ys), dtype=np.float64).reshape(-1, n)
    preds = np.zeros(X.shape[:2])
    problems = [(b, k) for k in range(1, n) for b in range(X.shape[0])]
    for start in range(0, len(problems), chunk):
        part = problems[start:start + chunk]
        w = _solve_block([_affine_constraints(X[b, :k], Y[b, :k]) for b, k in part], d)
        idx_b, idx_k = np.array([b for b, _ in part]), np.array([k for _, k in part])
        preds[idx_b, idx_k] = np.einsum("pd,pd->p", X[idx_b, idx_k], w)
    return _like(xp, preds.reshape(batch + (n,)), xs)
