"""Batched feature-sign search: the exact lasso solver behind :mod:`estimators.sparse`.

Every problem is given by its Gram statistics and solved as

    min_w  f(w) = ½ wᵀ G w − cᵀ w + a ‖w‖₁          (G = XᵀX, c = Xᵀy, a = k · alpha),

which is scikit-learn's lasso objective times k up to a constant. Feature-sign search
(Lee, Battle, Raina & Ng 2007, "Efficient sparse coding algorithms", section 2, Algorithm 1)
guesses the signs θ of the solution and alternates two moves:

* *feature-sign step*: minimise the quadratic with the guessed signs on the active set A,
  :math:`\\hat w_A = G_{AA}^{-1}(c_A - a\\,\\theta_A)`, and move towards :math:`\\hat w` up to the
  first point where a coefficient reaches zero (it leaves A). Up to there the signs are those
  guessed, so f is the sign-fixed quadratic and falls at every step (the safeguarded form of
  Lee et al.'s discrete line search, as in active-set and homotopy methods); the search
  terminates because no (support, signs) state repeats;
* *activation*: when the current point is optimal on A, the inactive coordinate with the
  largest KKT violation :math:`|(Gw - c)_j| > a` joins A with sign :math:`-\\mathrm{sign}((Gw-c)_j)`;
  with no violator left the point is the exact lasso solution.

Three additions make it fast and robust for the all-prefix use:

* *the inverse* :math:`H = G_{AA}^{-1}` (zero off A) is kept up to date by rank-one formulas,
  one per event, instead of a factorization per step: a coordinate joins,
  :math:`H \\leftarrow H + e e^\\top / s` with :math:`u = H G_{\\cdot i}`, :math:`e = u - e_i`,
  :math:`s = G_{ii} - G_{i\\cdot} u` (block inverse); a coordinate j leaves,
  :math:`H \\leftarrow H - h h^\\top / h_j` with :math:`h = H e_j`; a point x arrives,
  :math:`H \\leftarrow H - (Hx)(Hx)^\\top / (1 + x^\\top H x)` (Sherman-Morrison). Each solve takes one
  step of iterative refinement against G, and every answer is certified by its duality gap;
* *rank-deficient problems* (k < d points): in general position a lasso solution has at most
  k nonzeros (Tibshirani 2013, "The lasso problem and uniqueness", lemma 14). When a (k+1)-th
  coordinate i would join, :math:`G_{AA}` is singular; the step follows the null direction
  :math:`v = \\theta_i (e_i - u)` of :math:`X_{A \\cup i}`, along which the squared loss is constant
  and the l1 norm falls, to the first coefficient j that reaches zero, and i replaces j (the same
  step serves a column that is numerically in the span of X_A, s ~ 0: repeated points or columns);
* *one sweep over all prefixes*: each prompt's search runs on its own prefix; when it is
  solved, the next point arrives and the search goes on from that solution (a warm start
  whose support is usually right or one coordinate off), so the batch stays full.

Problems that cannot be certified (degenerate data, or the step budget) are handed back to the
caller, which finishes them with proximal gradient and coordinate descent. The search runs on
float64 numpy arrays (its events touch a few rows at a time, which numpy updates in place);
:mod:`estimators.sparse` converts torch and jax inputs and converts the answer back.
"""

from __future__ import annotations

import numpy as np

from ..validation import _torch_view, solve_triangular

__all__ = ["feature_sign_fits", "feature_sign_prefixes"]

_SLACK = 1e-11  # a coordinate violates the KKT conditions when |(Gw - c)_j| > (1 + _SLACK) a


def _matvec(A, v):
    return (A @ v[:, :, None])[:, :, 0]


def _outer(u, v):
    return np.einsum("pi,pj->pij", u, v)


def _add_outer(M, rows, u, v):
    """``M[rows] += u v^T`` in place, row by row (M (P, d, d); u, v (len(rows), d)).

    Many rows: one fused multiply-add over the whole batch through a torch view of M (numpy's
    broadcast outer product costs about twice as much at d = 20); few rows: numpy fancy indexing.
    """
    if 4 * rows.size < M.shape[0]:
        M[rows] += _outer(u, v)
        return
    import torch

    U = np.zeros(M.shape[:2])
    U[rows] = u
    V = np.zeros(M.shape[:2])
    V[rows] = v
    torch.from_numpy(M).addcmul_(torch.from_numpy(U)[:, :, None], torch.from_numpy(V)[:, None, :])


def _cholesky_ex(A):
    """Lower Cholesky factors of a batch that does not raise: (L, ok); L is the identity where not ok.

    numpy's ``cholesky`` raises for the whole batch when one matrix is not positive definite;
    torch's ``cholesky_ex`` (on a zero-copy view) reports each one.
    """
    try:
        return np.linalg.cholesky(A), np.ones(A.shape[:-2], dtype=bool)
    except np.linalg.LinAlgError:
        import torch

        L, info = torch.linalg.cholesky_ex(_torch_view(A))
        L, ok = L.numpy(), info.numpy() == 0
        L[~ok] = np.eye(A.shape[-1])
        return L, ok


def _masked_inverse(G, act):
    """:math:`G_{AA}^{-1}` embedded in d x d (zero off A) by a Cholesky factorization; returns (H, ok)."""
    d = G.shape[-1]
    eye = np.eye(d)
    both = act[:, :, None] & act[:, None, :]
    L, ok = _cholesky_ex(np.where(both, G, eye))
    Z = solve_triangular(np, L, np.broadcast_to(eye, G.shape), lower=True)  # L^{-1}
    H = np.where(both, np.swapaxes(Z, -1, -2) @ Z, 0.0)
    ok &= np.isfinite(H).all(axis=(-2, -1))
    H[~ok] = 0.0
    return H, ok


def _join(G, H, rows, i, u=None):
    """Coordinate i[r] joins A on each of ``rows`` (in place): H += e e^T / s; returns ok (s > 0).

    ``u = H G e_i`` may be passed when it is already known.
    """
    b = G[rows, :, i]  # column i of G
    if u is None:
        u = _matvec(H[rows], b)  # zero off A
    g_ii = G[rows, i, i]
    s = g_ii - np.einsum("pj,pj->p", b, u)
    ok = s > 1e-12 * g_ii
    e = u.copy()
    e[np.arange(rows.size), i] -= 1.0
    rows, e, s = rows[ok], e[ok], s[ok]
    _add_outer(H, rows, e / s[:, None], e)
    return ok


def _leave(H, rows, j):
    """Coordinate j[r] leaves A on each of ``rows`` (in place): H -= h h^T / h_j, h = H e_j."""
    h = H[rows, :, j]
    h_j = h[np.arange(rows.size), j]
    _add_outer(H, rows, -h / h_j[:, None], h)
    H[rows, j, :] = 0.0
    H[rows, :, j] = 0.0


def _violations(G, c, a, w, act):
    """Gradient g = Gw - c, the worst inactive KKT violator and its violation |g_j| - a."""
    g = _matvec(G, w) - c
    viol = np.where(act, -np.inf, np.abs(g) - a[:, None])
    worst = np.argmax(viol, axis=-1)
    return g, worst, viol[np.arange(w.shape[0]), worst]


def _first_crossing(w, delta):
    """The step t* = min(1, first zero crossing) along w + t delta, and the coordinates zeroed there.

    Up to the first crossing the signs stay those of w, so f is the sign-fixed quadratic, which
    falls all the way to the end point; stopping there lowers f at every step (the safeguarded
    form of Lee et al.'s discrete line search, as in active-set and homotopy methods).
    """
    sign_change = w * delta < 0
    bp = np.where(sign_change, -w / np.where(sign_change, delta, 1.0), np.inf)
    t_first = bp.min(axis=-1)
    t_star = np.minimum(t_first, 1.0)
    zeroed = sign_change & (bp == t_first[:, None]) & (t_first < 1)[:, None]
    return t_star, zeroed


def _step(G, c, a, k, w, H, act, optimal, g, worst):
    """One feature-sign step on every row, in place on w, H, act (activation first where ``optimal``).

    Returns (optimal, ok); rows with ``ok`` False met a numerically singular system.
    """
    P, d = w.shape
    theta = np.sign(w)
    add = np.flatnonzero(optimal)
    i_add = worst[add]
    theta[add, i_add] = -np.sign(g[add, i_add])
    # Joining column i is singular when it lies in the span of X_A: by count in general position
    # (|A| + 1 > k points), or numerically (Schur complement s = G_ii - G_iA H G_Ai ~ 0, e.g. repeated points).
    b = G[np.arange(P), :, worst]
    u = _matvec(H, b)[add]  # the whole batch at once: cheaper than copying the rows of H
    b = b[add]
    s = G[add, i_add, i_add] - np.einsum("pj,pj->p", b, u)
    singular = np.zeros(P, dtype=bool)
    singular[add] = (act[add].sum(axis=-1) + 1 > k[add]) | (s <= 1e-9 * G[add, i_add, i_add])
    ok = np.ones(P, dtype=bool)
    # Singular rows: null direction v = theta_i (e_i - H G e_i) to the first zero crossing j; i replaces j.
    sing = np.flatnonzero(singular)
    if sing.size:
        i = worst[sing]
        ar = np.arange(sing.size)
        th = theta[sing, i]
        v = -th[:, None] * u[singular[add]]
        v[ar, i] += th
        ws = w[sing]
        crosses = act[sing] & (ws * v < 0)
        t_hit = np.where(crosses, -ws / np.where(crosses, v, 1.0), np.inf)
        j = np.argmin(t_hit, axis=-1)
        t_max = t_hit[ar, j]
        good = np.isfinite(t_max)
        ok[sing[~good]] = False
        sing, i, j, v, ws, t_max = sing[good], i[good], j[good], v[good], ws[good], t_max[good]
        w_null = ws + t_max[:, None] * v
        w_null[np.arange(sing.size), j] = 0.0
        w[sing] = w_null
        _leave(H, sing, j)
        act[sing, j] = False
        joined = _join(G, H, sing, i)
        act[sing[joined], i[joined]] = True
        ok[sing[~joined]] = False
    reg_add = add[~singular[add]]
    if reg_add.size:
        joined = _join(G, H, reg_add, worst[reg_add], u[~singular[add]])
        act[reg_add[joined], worst[reg_add[joined]]] = True
        ok[reg_add[~joined]] = False
    # Regular rows: the sign-constrained minimiser on A (one refinement step), then to the first
    # zero crossing. Computed on every row (no row copies); only the regular rows take the result.
    reg = ~singular & ok
    actf = act.astype(w.dtype)
    th = theta * actf
    rhs = (c - a[:, None] * th) * actf
    sol = _matvec(H, rhs)
    sol = (sol + _matvec(H, rhs - _matvec(G, sol) * actf)) * actf
    t_star, zeroed = _first_crossing(w, sol - w)
    at_end = t_star >= 1
    stepped = np.where(at_end[:, None], sol, np.where(zeroed, 0.0, w + t_star[:, None] * (sol - w)))
    reg &= np.isfinite(stepped).all(axis=-1)
    ok &= reg | singular
    consistent = ((np.sign(sol) == th) | ~act).all(axis=-1)
    new_optimal = reg & at_end & consistent
    w[reg] = stepped[reg]
    # Coordinates that reached zero leave A: one by a rank-one update, several by refactorizing.
    leaving = act & (w == 0) & reg[:, None]
    n_leave = leaving.sum(axis=-1)
    one = np.flatnonzero(n_leave == 1)
    if one.size:
        j = np.argmax(leaving[one], axis=-1)
        _leave(H, one, j)
        act[one, j] = False
    many = np.flatnonzero(n_leave > 1)
    if many.size:
        act[many] &= ~leaving[many]
        H[many], ok_m = _masked_inverse(G[many], act[many])
        ok[many[~ok_m]] = False
    return new_optimal, ok


def feature_sign_fits(G, c, a, k, max_steps):
    """Solve problems G (P, d, d), c (P, d), a (P,), k (P,) from w = 0; returns (w, solved)."""
    P, d = c.shape
    w, H = np.zeros((P, d)), np.zeros((P, d, d))
    act = np.zeros((P, d), dtype=bool)
    optimal = np.ones(P, dtype=bool)  # w = 0 is optimal on the empty set
    solved = np.zeros(P, dtype=bool)
    rows = np.arange(P)
    for _ in range(max_steps):
        g, worst, vmax = _violations(G[rows], c[rows], a[rows], w[rows], act[rows])
        done = optimal & (vmax <= _SLACK * a[rows])
        solved[rows[done]] = True
        keep = ~done
        rows, optimal, g, worst = rows[keep], optimal[keep], g[keep], worst[keep]
        if rows.size == 0:
            break
        w_r, H_r, act_r = w[rows], H[rows], act[rows]
        optimal, ok = _step(G[rows], c[rows], a[rows], k[rows], w_r, H_r, act_r, optimal, g, worst)
        if not ok.all():  # refactorize; a row that keeps failing runs out of steps unsolved
            H_r[~ok], _ = _masked_inverse(G[rows[~ok]], act_r[~ok])
        w[rows], H[rows], act[rows] = w_r, H_r, act_r
    return w, solved


def feature_sign_prefixes(X, Y, alpha, gap_ok, max_steps_per_prefix):
    """Lasso weights of every prefix of every prompt in one sweep; returns (W (B, n, d), solved (B, n)).

    ``gap_ok(g, c, yy, a, w)`` -> bool (rows,) certifies finished rows (g = Gw - c). Row k of W is
    fitted on the first k pairs (row 0 is zero). Unsolved rows hold the last point reached.
    """
    B, n, d = X.shape
    W = np.zeros((B, n, d))
    solved = np.ones((B, n), dtype=bool)
    if n < 2:  # only the empty prefix
        return W, solved
    ids = np.arange(B)
    pre = np.ones(B, dtype=np.int64)  # current prefix length k of each prompt; n once it is done
    x0, y0 = X[:, 0, :], Y[:, 0]
    G, c, yy = _outer(x0, x0), y0[:, None] * x0, y0 * y0
    w, H = np.zeros((B, d)), np.zeros((B, d, d))
    act = np.zeros((B, d), dtype=bool)
    optimal = np.ones(B, dtype=bool)
    steps = np.zeros(B, dtype=np.int64)
    g = -c
    while ids.size:
        live = pre < n
        a = alpha * pre.astype(np.float64)
        viol = np.where(act, -np.inf, np.abs(g) - a[:, None])
        worst = np.argmax(viol, axis=-1)
        finished = live & optimal & (viol[np.arange(ids.size), worst] <= _SLACK * a)
        if finished.any():
            # A KKT point whose gap does not certify has a drifted H: refactorize and solve again.
            fin = np.flatnonzero(finished)
            stale = np.zeros_like(finished)
            stale[fin] = ~gap_ok(g[fin], c[fin], yy[fin], a[fin], w[fin])
            if stale.any():
                finished &= ~stale
                H[stale], ok_f = _masked_inverse(G[stale], act[stale])
                optimal &= ~stale
                steps[np.flatnonzero(stale)[~ok_f]] = max_steps_per_prefix
        leave = finished | (live & (steps >= max_steps_per_prefix))
        if leave.any():
            rows = np.flatnonzero(leave)
            W[ids[rows], pre[rows]] = w[rows]
            solved[ids[rows], pre[rows]] = finished[rows]
            gave_up = leave & ~finished
            # Advance: the next point arrives; prompts past k = n - 1 are done.
            pre[rows] += 1
            live = pre < n
            if live.sum() < 0.9 * ids.size:  # drop the finished prompts now and then
                ids, pre, G, c, yy, w, H, act, optimal, steps, g, worst, leave, gave_up, live = (
                    arr[live] for arr in (ids, pre, G, c, yy, w, H, act, optimal, steps, g, worst, leave, gave_up, live)
                )
                if ids.size == 0:
                    break
            rows = np.flatnonzero(leave & live)
            x, y = X[ids[rows], pre[rows] - 1], Y[ids[rows], pre[rows] - 1]
            _add_outer(G, rows, x, x)
            c[rows] += y[:, None] * x
            yy[rows] += y * y
            g[rows] += x * (np.einsum("pj,pj->p", x, w[rows]) - y)[:, None]  # G w - c for the new G, c
            Hx = _matvec(H[rows], x)  # Sherman-Morrison (H is zero off A)
            _add_outer(H, rows, -Hx / (1 + np.einsum("pj,pj->p", x, Hx))[:, None], Hx)
            optimal[rows] = False
            steps[rows] = 0
            fresh = np.flatnonzero(gave_up & live)
            if fresh.size:  # a fresh factorization, or a fresh start, for the prompts that gave up
                H[fresh], ok_f = _masked_inverse(G[fresh], act[fresh])
                reset = fresh[~ok_f]
                act[reset], w[reset], g[reset] = False, 0.0, -c[reset]
            a = alpha * pre.astype(np.float64)  # (the advanced rows are not optimal: no activation uses their worst)
        optimal = optimal & live
        optimal, ok = _step(G, c, a, pre.astype(np.float64), w, H, act, optimal, g, worst)
        steps += 1
        bad = np.flatnonzero(~ok & live)
        if bad.size:  # refactorize; a row that fails again gives up on this prefix
            H[bad], ok_f = _masked_inverse(G[bad], act[bad])
            steps[bad[~ok_f]] = max_steps_per_prefix
        g = _matvec(G, w) - c
    return W, solved
