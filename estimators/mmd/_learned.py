"""Learned kernels for MMD tests (MMD-O, MMD-D, MMD-MP) and classifier two-sample tests (C2ST).

:func:`train_kernel` maximises the test-power proxy ``J = stat / sqrt(sigma^2_H1 + eps)``
by full-batch Adam on a training split (Liu et al. 2020; Zhang et al. 2024 for MMD-MP);
the kernel it returns is then used, fixed, by :func:`estimators.mmd.permutation_test` on
held-out data. The classifier tests (C2ST) live in :mod:`._c2st`. Everything here is torch; numpy, torch or jax inputs
are accepted. The statistics themselves live in :mod:`._statistics`.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat
import numpy as np
import torch

from ..validation import check_int, check_point_sets, check_positive
from ..kernels import GaussianKernel, median_heuristic
from ._deep_kernel import DeepKernel, _to_torch, check_range_for
from ._statistics import _blocks, _check_samples, _h1_variance, _offdiag_sum

__all__ = ["train_kernel", "featurizer"]

_OBJECTIVES = ("mmd-o", "mmd-d", "mmd-mp")


def featurizer(d_in: int, hidden: int = 50, n_out: int = 50, *, seed: int = 0) -> torch.nn.Module:
    """Liu et al.'s feature network phi: Linear-Softplus x3 then Linear, d_in -> hidden -> n_out.

    Examples
    --------
    >>> net = featurizer(2, hidden=8, n_out=4)
    >>> tuple(net(torch.zeros(5, 2)).shape)
    (5, 4)
    """
    fn = "featurizer"
    d_in = check_int(d_in, "d_in", fn, minimum=1)
    hidden = check_int(hidden, "hidden", fn, minimum=1)
    n_out = check_int(n_out, "n_out", fn, minimum=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check_int(seed, "seed", fn, minimum=0))
        return torch.nn.Sequential(
            torch.nn.Linear(d_in, hidden), torch.nn.Softplus(),
            torch.nn.Linear(hidden, hidden), torch.nn.Softplus(),
            torch.nn.Linear(hidden, hidden), torch.nn.Softplus(),
            torch.nn.Linear(hidden, n_out),
        )


def _training_pair(X: Any, Y: Any, fn: str, device: Any, *, equal: bool = True, names=("X_train", "Y_train")):
    """Validate an unbatched training pair (n, d), (m, d) and return torch tensors on ``device``.

    torch tensors keep their dtype (float64 tensors train a float64 network); numpy and jax points
    become float32, the networks' usual precision, after a check that they fit its range.
    """
    check_point_sets(X, Y, fn, x_name=names[0], y_name=names[1])
    if equal and X.shape[-2] != Y.shape[-2]:
        raise ValueError(
            f"{fn}: {names[0]} and {names[1]} must have the same number of points, got {X.shape[-2]} and {Y.shape[-2]}"
        )
    _check_samples(X, Y, GaussianKernel(1.0), fn, equal=equal)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(
            f"{fn}: {names[0]} and {names[1]} must have shape (n, d), got {tuple(X.shape)} and {tuple(Y.shape)}"
        )
    dtype = X.dtype if isinstance(X, torch.Tensor) else torch.float32
    for name, A in zip(names, (X, Y)):
        check_range_for(A, dtype, name, fn)
    like = torch.empty((), dtype=dtype, device=device)
    return _to_torch(X, like), _to_torch(Y, like)


def _ratio(K: torch.Tensor, n: int, drop_yy: bool, eps: float):
    """(J, stat, var): J = stat / sqrt(var + eps), stat the one-sample U form of MMD^2 (or MPP)."""
    xp = array_api_compat.array_namespace(K)
    Kxx, Kyy, Kxy = _blocks(K, n)
    stat = (_offdiag_sum(xp, Kxx) - 2 * _offdiag_sum(xp, Kxy)) / (n * (n - 1))
    if not drop_yy:
        stat = stat + _offdiag_sum(xp, Kyy) / (n * (n - 1))
    var = _h1_variance(xp, K, n, drop_yy)
    return stat / torch.sqrt(torch.clamp(var, min=0.0) + eps), stat, var


#: Bandwidth multipliers of the grid start: 2^-2 .. 2^2 times the median heuristic.
_GRID = tuple(2.0**k for k in range(-2, 3))
#: A kernel matrix whose mean off-diagonal entry is below this is "near the identity": every point
#: sees almost no neighbour and J measures little but noise.
_NEAR_IDENTITY = 0.05


def _mean_offdiag(K: torch.Tensor) -> float:
    N = K.shape[-1]
    return float((K.sum() - K.diagonal().sum()) / (N * (N - 1)))


def _grid_start(kernel_matrix, bw0: float, n: int, eps: float) -> float:
    """The bandwidth among ``bw0 * 2^k``, k = -2..2, with the largest MMD^2 power proxy J (Adam starts there).

    J is not concave in the bandwidth: started at the median heuristic alone, Adam can stall
    where the kernel is too wide to see the difference. Too narrow is worse: at ``2^-6`` times
    the median the kernel matrix is nearly the identity and J measures little but noise, so its
    argmax over a grid reaching that far lands there on some draws. So the grid stays within a
    factor 4 of the median and skips bandwidths whose kernel matrix is near the identity (mean
    off-diagonal entry below ``_NEAR_IDENTITY``); if all are, the widest is taken. The proxy is always the full MMD^2's (the statistic the test uses), for
    MMD-MP too: its own statistic is negative wherever X and Y overlap, and maximising it at the
    start favours the narrowest kernel.
    """
    grid = [bw0 * g for g in _GRID]
    scores = []
    with torch.no_grad():
        for h in grid:
            K = kernel_matrix(h)
            ok = _mean_offdiag(K) >= _NEAR_IDENTITY
            scores.append(float(_ratio(K, n, False, eps)[0]) if ok else -math.inf)
    if not np.isfinite(scores).any():
        return grid[-1]
    return grid[int(np.nanargmax(scores))]


def train_kernel(
    X_train: Any,
    Y_train: Any,
    objective: str = "mmd-d",
    *,
    n_epochs: int = 1000,
    lr: float | None = None,
    hidden: int = 50,
    n_out: int = 50,
    e: float = 1e-3,
    eps: float = 1e-8,
    seed: int = 0,
    device: Any = None,
    return_history: bool = False,
    batch_size: int | None = None,
    validation: tuple | None = None,
    val_every: int = 10,
):
    """Learn a kernel for an MMD two-sample test by Adam on ``-J``.

    ``J = stat / sqrt(sigma^2_H1 + eps)``: for ``"mmd-o"`` and ``"mmd-d"`` the stat is the
    one-sample U-statistic of MMD^2 and the variance :func:`~estimators.mmd.mmd2_h1_variance`;
    for ``"mmd-mp"`` both drop the ``k(y, y')`` term (:func:`~estimators.mmd.mpp`,
    :func:`~estimators.mmd.mpp_h1_variance`). ``"mmd-o"`` learns the bandwidth of a Gaussian
    on the raw inputs; ``"mmd-d"`` / ``"mmd-mp"`` learn a :class:`~estimators.mmd.DeepKernel`
    (phi = :func:`featurizer`, both bandwidths and e). Bandwidths start at the median
    heuristic times the power of two in 2^-2 .. 2^2 with the largest initial MMD^2 proxy among
    those whose kernel matrix is not near the identity (kappa's for the deep kernels; q stays
    at the median heuristic of the inputs).

    Full-batch by default (Liu et al. 2020); ``batch_size`` trains on minibatches of that many
    points from each sample, reshuffled every epoch (Zhang et al. 2024). With ``validation =
    (X_val, Y_val)`` the kernel returned is the checkpoint (every ``val_every`` epochs and the
    last) with the largest MMD^2 proxy J on the validation pair -- the statistic the test uses,
    for MMD-MP too -- as Zhang et al. keep the checkpoint with the best validation power. This
    guards against a kernel that degrades late in training, e.g. MMD-MP collapsing towards a
    delta kernel when X and Y overlap (its statistic is negative there, and shrinking every
    kernel value raises it towards 0).

    Parameters
    ----------
    X_train, Y_train : arrays of shape (n, d)
        Equal sizes (the H1 variance is the equal-size form); numpy, torch or jax.
    objective : {"mmd-o", "mmd-d", "mmd-mp"}
    n_epochs : int
        Passes over the training pair (full-batch: Adam steps).
    lr : float, optional
        Adam step size; default 5e-4 for the deep kernels, 2e-2 for MMD-O.
    hidden, n_out : int
        Width of phi's hidden layers and of its output.
    e : float in (0, 1)
        Initial epsilon of the deep kernel.
    eps : float
        The variance regulariser in J.
    seed : int
        Seeds phi's initialisation and the minibatch order.
    device : torch device, optional
        Where to train (default CPU); the returned kernel lives there.
    return_history : bool
        Also return J before each epoch and after the last one (numpy array): on the whole
        training pair full-batch, the mean over the epoch's minibatches otherwise.
    batch_size : int >= 2, optional
        Points per sample in a minibatch (default: full batch).
    validation : (X_val, Y_val), optional
        A held-out pair of equal sizes for checkpoint selection.
    val_every : int
        Epochs between validation checks.

    Returns
    -------
    kernel : GaussianKernel (MMD-O, float bandwidth) or DeepKernel (MMD-D / MMD-MP, in eval mode)
    history : numpy array of shape (n_epochs + 1,), only with ``return_history``

    References
    ----------
    Liu et al. (2020), ICML, section 4 and Algorithm 1; Zhang et al. (2024), ICLR, section 4 and
    their released training code (minibatches, best checkpoint by validation power).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); Y = rng.normal(size=(40, 2)) * 2.0
    >>> k = train_kernel(X, Y, "mmd-o", n_epochs=50)
    >>> type(k).__name__, float(k.bandwidth) < float(median_heuristic(X, Y))
    ('GaussianKernel', True)
    """
    fn = "train_kernel"
    if objective not in _OBJECTIVES:
        raise ValueError(f"{fn}: objective must be one of {_OBJECTIVES}, got {objective!r}")
    n_epochs = check_int(n_epochs, "n_epochs", fn, minimum=1)
    lr = check_positive(lr if lr is not None else (2e-2 if objective == "mmd-o" else 5e-4), "lr", fn)
    eps = check_positive(eps, "eps", fn)
    seed = check_int(seed, "seed", fn, minimum=0)
    val_every = check_int(val_every, "val_every", fn, minimum=1)
    device = torch.device(device if device is not None else "cpu")
    X, Y = _training_pair(X_train, Y_train, fn, device)
    n, d = X.shape
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", fn, minimum=2)
    if batch_size is None or batch_size >= n:
        batch_size = n
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(f"{fn}: validation must be a pair (X_val, Y_val), got {type(validation).__name__}")
        Xv, Yv = _training_pair(validation[0], validation[1], fn, device, names=("X_val", "Y_val"))
        Xv, Yv = Xv.to(X.dtype), Yv.to(X.dtype)
        if Xv.shape[1] != d:
            raise ValueError(f"{fn}: validation points have {Xv.shape[1]} features, training points {d}")
        Zv = torch.cat([Xv, Yv])
    Z = torch.cat([X, Y])
    bw0 = max(float(median_heuristic(Z.cpu())), 1e-6)
    drop_yy = objective == "mmd-mp"
    if objective == "mmd-o":
        bw = _grid_start(lambda h: GaussianKernel(h)(Z, Z), bw0, n, eps)
        log_bw = torch.nn.Parameter(torch.tensor(math.log(bw), device=device, dtype=X.dtype))
        params = [log_bw]
        kernel_of = lambda: GaussianKernel(torch.exp(log_bw))  # noqa: E731
    else:
        phi = featurizer(d, hidden, n_out, seed=seed).to(device=device, dtype=X.dtype)
        with torch.no_grad():
            F = phi(Z)
            bw_phi = max(float(median_heuristic(F.cpu())), 1e-6)
            q = GaussianKernel(bw0)(Z, Z)
            bw_phi = _grid_start(lambda h: ((1 - e) * GaussianKernel(h)(F, F) + e) * q, bw_phi, n, eps)
        deep = DeepKernel(phi, bw_phi, bw0, e).to(device)
        params = list(deep.parameters())
        kernel_of = lambda: deep  # noqa: E731
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n_batches = n // batch_size
    history = np.empty(n_epochs + 1)
    best = (-math.inf, None)
    for epoch in range(n_epochs + 1):
        if validation is not None and (epoch % val_every == 0 or epoch == n_epochs):
            with torch.no_grad():
                J_val = float(_ratio(kernel_of()(Zv, Zv), Xv.shape[0], False, eps)[0])
            if J_val > best[0]:
                best = (J_val, [p.detach().clone() for p in params])
        if batch_size == n:
            J, _, _ = _ratio(kernel_of()(Z, Z), n, drop_yy, eps)
            history[epoch] = float(J.detach())
            if epoch == n_epochs:
                break
            opt.zero_grad()
            (-J).backward()
            opt.step()
            continue
        ix, iy = torch.randperm(n, generator=gen).to(device), torch.randperm(n, generator=gen).to(device)
        Js = []
        for b in range(n_batches):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            Zb = torch.cat([X[ix[sl]], Y[iy[sl]]])
            with torch.set_grad_enabled(epoch < n_epochs):
                J, _, _ = _ratio(kernel_of()(Zb, Zb), batch_size, drop_yy, eps)
            Js.append(float(J.detach()))
            if epoch < n_epochs:
                opt.zero_grad()
                (-J).backward()
                opt.step()
        history[epoch] = float(np.mean(Js))
    if best[1] is not None:
        with torch.no_grad():
            for p, v in zip(params, best[1]):
                p.copy_(v)
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise ValueError(f"{fn}: the kernel's parameters became NaN or infinite in training; lower lr or rescale X_train, Y_train")
    if objective == "mmd-o":
        kernel = GaussianKernel(float(torch.exp(log_bw.detach())))
    else:
        kernel = deep.eval().requires_grad_(False)
    return (kernel, history) if return_history else kernel


# ----------------------------------------------------------------------------------------
# classifier two-sample tests
