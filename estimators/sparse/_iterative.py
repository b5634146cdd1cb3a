"""Proximal gradient and coordinate descent for the lasso: the fallback of :mod:`estimators.sparse`.

The exact feature-sign search (:mod:`estimators.sparse._feature_sign`) solves almost every problem;
what it hands back (degenerate data, or its step budget) is finished here: accelerated proximal
gradient (FISTA with adaptive restart, Beck & Teboulle 2009; O'Donoghue & Candes 2015) in Gram
form, batched over the problems, with an active-set polish, then batched cyclic coordinate
descent (scikit-learn's algorithm) for stragglers. Every problem stops on its duality gap.
"""

from __future__ import annotations


def _matvec(A, v):
    return (A @ v[..., None])[..., 0]


def _soft(xp, v, t):
    """Soft thresholding sign(v) max(|v| - t, 0)."""
    return xp.sign(v) * xp.maximum(xp.abs(v) - t, xp.zeros_like(v))


def _gap(xp, G, c, yy, k, a, w):
    r"""Duality gap of :math:`\frac12\|y - Xw\|^2 + a\|w\|_1` (a = k alpha), from Gram statistics.

    With the residual r = y - Xw: :math:`X^\top r = c - Gw`, :math:`\|r\|^2 = y^\top y - 2w^\top c + w^\top G w`,
    and the dual point :math:`\theta = s r`, :math:`s = \min(1, a / \|X^\top r\|_\infty)` gives
    gap = ½(1 + s²)‖r‖² + a‖w‖₁ − s rᵀy (the same certificate scikit-learn's coordinate descent uses).
    """
    return gap_from_gradient(xp, _matvec(G, w) - c, c, yy, a, w)


def gap_from_gradient(xp, g, c, yy, a, w):
    """:func:`_gap` given the gradient g = Gw - c of the smooth part (so no product with G)."""
    wc = xp.sum(w * c, axis=-1)
    r2 = xp.maximum(yy - wc + xp.sum(w * g, axis=-1), xp.zeros_like(yy))  # yy - 2 w.c + w.Gw
    dual_norm = xp.max(xp.abs(g), axis=-1)
    # g = Gw - c carries a rounding error of about eps (|Gw| + |c|); when a is below that floor (alpha of
    # 1e-30, or data of scale 1e150 rescaled) the dual point is scaled to the floor instead, infeasible by
    # no more than the rounding, or the rounding in X^T r would dominate a and the gap stay at ||r||^2
    eps = float(xp.finfo(g.dtype).eps)
    a_dual = xp.maximum(a, 1e3 * eps * (xp.max(xp.abs(g + c), axis=-1) + xp.max(xp.abs(c), axis=-1)))
    s = xp.where(dual_norm > a_dual, a_dual / xp.where(dual_norm > 0, dual_norm, xp.ones_like(dual_norm)),
                 xp.ones_like(a_dual))
    return 0.5 * (1 + s * s) * r2 + a * xp.sum(xp.abs(w), axis=-1) - s * (yy - wc)


def _support_solve(xp, G, c, a, support, signs):
    """KKT solution on a support with given signs: G_SS w_S = c_S - a s_S (zero elsewhere).

    A relative ridge of 1e3 eps tr(G) (about 2e-13 in float64) keeps singular guesses finite; callers keep a guess only where
    it lowers the duality gap, so a bad guess is harmless.
    """
    d = G.shape[-1]
    eye = xp.eye(d, dtype=G.dtype, device=getattr(G, "device", None))
    eps = float(xp.finfo(G.dtype).eps)
    jitter = 1e3 * eps * xp.sum(G * eye, axis=(-2, -1))[..., None, None] * eye
    onf = xp.astype(support, G.dtype)
    A = G * onf[..., :, None] * onf[..., None, :] + eye * (1 - onf)[..., None, :] + jitter
    rhs = (c - a[..., None] * signs) * onf
    try:
        return xp.linalg.solve(A, rhs[..., None])[..., 0] * onf
    except Exception:  # an exactly singular guess (possible in float32): offer no guess
        return None


def _polish(xp, G, c, a, w, k, rounds=4):
    """Candidate exact lasso solutions from an approximate one, by a few active-set rounds.

    Starting supports: the support of ``w`` and its ``min(nnz, k)`` largest entries (a lasso
    solution with at most k nonzeros always exists, Tibshirani 2013, which repairs the flat
    directions proximal gradient crawls along when k < d). Each round solves the KKT system on
    the support, drops coordinates whose sign flipped and adds the worst KKT violator
    |c_j - (G w)_j| > a off the support, with the sign of that gradient.
    """
    on = xp.abs(w) > 0
    nnz = xp.sum(xp.astype(on, G.dtype), axis=-1)
    rank = xp.argsort(xp.argsort(-xp.abs(w), axis=-1, stable=True), axis=-1, stable=True)  # 0 = largest
    top = on & (xp.astype(rank, G.dtype) < xp.minimum(nnz, k)[..., None])
    guesses = []
    for support in (on, top):
        signs = xp.sign(w)
        for _ in range(rounds):
            guess = _support_solve(xp, G, c, a, support, signs)
            if guess is None:
                break
            guesses.append(guess)
            support = support & (xp.sign(guess) == signs)
            grad = c - (G @ guess[..., None])[..., 0]
            violation = xp.where(support, xp.zeros_like(grad), xp.abs(grad) - a[..., None])
            worst = xp.argmax(violation, axis=-1)
            add = (xp.arange(G.shape[-1], device=getattr(G, "device", None)) == worst[..., None]) & (
                xp.max(violation, axis=-1) > 0
            )[..., None]
            support = support | add
            signs = xp.where(add, xp.sign(grad), signs)
    return guesses


def _largest_eigenvalue(xp, G, iters=30):
    """An upper bound (within 1%) of the largest eigenvalue of each PSD matrix G (P, d, d).

    Power iteration from the all-ones vector, then a 1% margin and a tiny floor: the step
    size 1/L only needs L >= lambda_max for proximal gradient to converge, and batched power
    iteration costs a few matrix-vector products where eigvalsh costs a full decomposition.
    The margin is checked by a Rayleigh-quotient bound and falls back to the trace if violated.
    """
    v = xp.ones(G.shape[:-1], dtype=G.dtype, device=getattr(G, "device", None))
    for _ in range(iters):
        v = _matvec(G, v)
        v = v / xp.maximum(xp.max(xp.abs(v), axis=-1, keepdims=True), xp.full_like(v[..., :1], 1e-300))
    Gv = _matvec(G, v)
    vv = xp.maximum(xp.sum(v * v, axis=-1), xp.full_like(v[..., 0], 1e-300))
    rayleigh = xp.sum(v * Gv, axis=-1) / vv
    # Residual bound: some eigenvalue lies within ||Gv - rv|| / ||v|| of the Rayleigh quotient.
    resid = xp.sqrt(xp.sum((Gv - rayleigh[..., None] * v) ** 2, axis=-1) / vv)
    trace = xp.sum(xp.sum(G * xp.eye(G.shape[-1], dtype=G.dtype, device=getattr(G, "device", None)), axis=-1), axis=-1)
    est = 1.01 * (rayleigh + resid)
    # Power iteration can stall on a smaller eigenvalue only if v starts orthogonal to the top one;
    # where the estimate is not clearly dominant, use the trace (always >= lambda_max).
    safe = xp.where(resid <= 0.01 * rayleigh, est, trace)
    return xp.maximum(safe, xp.full_like(safe, 1e-12))


_FISTA_BUDGET = 20000  # proximal-gradient iterations before the stragglers switch to coordinate descent


def _coordinate_descent(xp, G, c, yy, k, a, w, thresh, max_sweeps):
    r"""Cyclic coordinate descent in Gram form, batched over problems; returns (w, #unconverged).

    One coordinate update: :math:`w_j \leftarrow S(c_j - (Gw)_j + G_{jj} w_j,\ a) / G_{jj}`
    (zero where :math:`G_{jj} = 0`), with :math:`Gw` kept up to date by one column per update.
    """
    d = G.shape[-1]
    dev = getattr(G, "device", None)
    cols = xp.arange(d, device=dev)
    Gw = _matvec(G, w)
    for sweep in range(max_sweeps):
        for j in range(d):
            gjj = G[:, j, j]
            rho = c[:, j] - Gw[:, j] + gjj * w[:, j]
            safe = xp.where(gjj > 0, gjj, xp.ones_like(gjj))
            new = xp.where(gjj > 0, _soft(xp, rho, a) / safe, xp.zeros_like(rho))
            Gw = Gw + G[:, :, j] * (new - w[:, j])[:, None]
            w = xp.where(cols == j, new[:, None], w)
        if sweep % 10 == 9 and bool(xp.all((_gap(xp, G, c, yy, k, a, w) <= thresh) | (k == 0))):
            return w, 0
    done = (_gap(xp, G, c, yy, k, a, w) <= thresh) | (k == 0)
    return w, int(xp.sum(xp.astype(~done, xp.int64)))


def iterative_lasso(xp, G, c, yy, k, a, thresh, max_iter):
    """Solve flat float problems (P, d, d), (P, d), (P,) ... by FISTA, polish and coordinate descent.

    Returns ``(w, unconverged)``: w (P, d), and the number of problems whose duality gap stayed
    above ``thresh`` after ``max_iter`` iterations. Problems leave the iteration as soon as their
    gap certifies them, so the cost follows the typical problem rather than the hardest one.
    """
    P, d = c.shape
    dev = getattr(G, "device", None)
    # Lipschitz constant of the gradient: the largest eigenvalue of G (at least a tiny floor).
    L = _largest_eigenvalue(xp, G)
    ids = xp.arange(P, device=dev)
    w = xp.zeros_like(c)
    v, t = w, 1.0
    finished_ids, finished_w = [], []
    unconverged = 0
    for it in range(min(max_iter, _FISTA_BUDGET)):
        w_new = _soft(xp, v - (_matvec(G, v) - c) / L[:, None], (a / L)[:, None])
        # Restart momentum where the objective direction turned (O'Donoghue & Candes 2015).
        restart = xp.sum((v - w_new) * (w_new - w), axis=-1) > 0
        t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
        v = w_new + ((t - 1) / t_new) * (w_new - w)
        v = xp.where(restart[:, None], w_new, v)
        w, t = w_new, t_new
        if it % 25 != 19:
            continue
        # Few problems left: afford a longer active-set walk (up to 2d + 4 rounds) on each.
        rounds = 4 if ids.shape[0] > 1000 else 2 * d + 4
        for guess in _polish(xp, G, c, a, w, k, rounds=rounds):
            better = _gap(xp, G, c, yy, k, a, guess) < _gap(xp, G, c, yy, k, a, w)
            w = xp.where(better[:, None], guess, w)
            v = xp.where(better[:, None], w, v)
        done = (_gap(xp, G, c, yy, k, a, w) <= thresh) | (k == 0)
        if bool(xp.any(done)):
            fin, keep = xp.nonzero(done)[0], xp.nonzero(~done)[0]
            finished_ids.append(xp.take(ids, fin, axis=0))
            finished_w.append(xp.take(xp.where((k == 0)[:, None], xp.zeros_like(w), w), fin, axis=0))
            ids, G, c, yy, k, a, L, thresh, w, v = (
                xp.take(arr, keep, axis=0) for arr in (ids, G, c, yy, k, a, L, thresh, w, v)
            )
        if ids.shape[0] == 0:
            break
    if ids.shape[0] > 0:
        # The few problems proximal gradient has not certified (flat, rank-deficient prefixes with
        # k << d) finish by cyclic coordinate descent, scikit-learn's algorithm, batched over them.
        w, unconverged = _coordinate_descent(xp, G, c, yy, k, a, w, thresh, max_iter)
    all_ids = xp.concat(finished_ids + [ids], axis=0)
    all_w = xp.concat(finished_w + [w], axis=0)
    return xp.take(all_w, xp.argsort(all_ids), axis=0), unconverged
