"""Dataset distillation for self-supervised transfer: KRR-ST and its baselines (torch).

KRR-ST (Lee et al. 2024, "Self-Supervised Dataset Distillation for Transfer Learning",
ICLR, section 3 and Algorithm 1) learns m synthetic inputs ``X_s`` and target
representations ``Y_s`` so that kernel ridge regression on the features of a model
drawn from a pool predicts a target model's representations of real data::

    F = [f(X), 1]                      features with a bias column
    K_ss = F_s F_s^T, K_rs = F_r F_s^T, lam = 1e-6 tr(K_ss) (a constant of the graph)
    Y_hat = K_rs (K_ss + lam I)^{-1} Y_s,  loss = mean ||Y_hat - g(X_r)||^2

AdamW updates ``X_s`` and ``Y_s`` at a linearly decaying rate; the pool's models are pre-trained
for random numbers of steps, trained online on ``(X_s, Y_s)`` and re-initialised periodically. Baselines: :func:`kip` (kernel inducing points, Nguyen et al. 2021:
the same outer loss with a fixed kernel on the raw inputs); the coresets and the pretraining
step live in :mod:`._baselines`. Paper -> code:
``X_s, Y_s`` are ``DistilledSet.X, DistilledSet.Y``; the target model ``g`` is ``target``.
Everything here is torch (autograd); the kernel objects come from
:mod:`estimators.kernels`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from ..validation import check_int, check_nonnegative, check_positive, check_tensor
from ..kernels import GaussianKernel, median_heuristic

__all__ = ["DistilledSet", "krr_predict", "krr_st", "kip"]


class DistilledSet(NamedTuple):
    """A distilled (or selected) set: inputs ``X`` (m, ...) and target representations ``Y`` (m, r)."""

    X: torch.Tensor
    Y: torch.Tensor
    losses: list  # outer loss per step (empty for the selection baselines)


def krr_predict(K_ss: torch.Tensor, K_rs: torch.Tensor, Y_s: torch.Tensor, lam_scale: float = 1e-6, *,
                detach_lam: bool = False) -> torch.Tensor:
    """Closed-form kernel ridge prediction ``K_rs (K_ss + lam I)^{-1} Y_s`` with ``lam = lam_scale tr(K_ss)``.

    Differentiable in all three inputs (``lam`` included, unless ``detach_lam``: then ``lam`` is a
    constant of the graph, as in Lee et al.'s code). Solved by Cholesky in float64
    (the synthetic set is small, and ``K_ss`` is often rank deficient so only ``lam``
    keeps it invertible); the result has the dtype of ``Y_s``.

    Parameters
    ----------
    K_ss : tensor of shape (m, m)
    K_rs : tensor of shape (b, m)
    Y_s : tensor of shape (m, r)
    lam_scale : float, > 0
    detach_lam : bool
        Treat ``lam`` as a constant (no gradient through ``tr(K_ss)``).

    Returns
    -------
    tensor of shape (b, r)

    References
    ----------
    Lee et al. 2024 (KRR-ST), eq. 3; Nguyen et al. 2021 (KIP), eq. 2.

    Examples
    --------
    >>> import torch
    >>> F = torch.eye(2, dtype=torch.float64)
    >>> krr_predict(F @ F.T, F @ F.T, torch.tensor([[1.0], [2.0]], dtype=torch.float64), 1e-6).round(decimals=4)
    tensor([[1.],
            [2.]], dtype=torch.float64)
    """
    fn = "krr_predict"
    for name, a in (("K_ss", K_ss), ("K_rs", K_rs), ("Y_s", Y_s)):
        check_tensor(a, name, fn, ndim=2, bounded=False)
    lam_scale = check_positive(lam_scale, "lam_scale", fn)
    m = K_ss.shape[-1]
    if K_ss.shape != (m, m) or K_rs.shape[-1] != m or Y_s.shape[0] != m or Y_s.ndim != 2:
        raise ValueError(
            f"{fn}: expected K_ss (m, m), K_rs (b, m), Y_s (m, r), got {tuple(K_ss.shape)}, "
            f"{tuple(K_rs.shape)}, {tuple(Y_s.shape)}"
        )
    K = K_ss.double()
    lam = lam_scale * (torch.trace(K).detach() if detach_lam else torch.trace(K)) + torch.finfo(torch.float64).tiny
    L, info = torch.linalg.cholesky_ex(K + lam * torch.eye(m, dtype=K.dtype, device=K.device))
    if int(info) != 0:
        raise ValueError(f"{fn}: K_ss + lam I is not positive definite; K_ss must be a PSD Gram matrix")
    alpha = torch.cholesky_solve(Y_s.double(), L)  # (m, r)
    return (K_rs.double() @ alpha).to(Y_s.dtype)


def _features(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``[f(X), 1]``: flattened model features with a bias column, (b, h + 1)."""
    F = model(X).flatten(1)
    return torch.cat([F, torch.ones_like(F[:, :1])], dim=1)


def _fresh(factory: Callable[[], nn.Module], seed: int, device, dtype=None) -> nn.Module:
    """A model from ``factory`` initialised under ``seed`` without touching the global RNG, on
    ``device`` and in ``dtype`` (the inputs' dtype: float64 inputs train float64 models)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory().to(device=device, dtype=dtype)


def _run_model(model: Callable, X: torch.Tensor, name: str, fn: str, what: str = "the model") -> torch.Tensor:
    """``model(X)``, with a shape or dtype mismatch between ``X`` and the model as a ValueError naming ``X``."""
    try:
        return model(X)
    except RuntimeError as err:
        raise ValueError(f"{fn}: {what} cannot take {name} of shape {tuple(X.shape)} and dtype {X.dtype}: {err}") from err


def _check_finite_result(t: torch.Tensor, fn: str, what: str) -> None:
    """Refuse a training result that left the finite range (a learning rate too large for the data's scale)."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{fn}: {what} became NaN or infinite during training; lower lr or rescale the inputs")


@torch.no_grad()
def _targets(target: Callable, X: torch.Tensor, batch: int = 1024, fn: str = "distill", name: str = "X_real") -> torch.Tensor:
    """Target representations ``g(X)`` (b, r) in ``X``'s dtype, checked finite."""
    Y = torch.cat([_run_model(target, X[i : i + batch], name, fn, "target").flatten(1)
                   for i in range(0, X.shape[0], batch)])
    check_tensor(Y, f"target({name})", fn, ndim=2, floating=False)
    return Y.to(X.dtype)


def _check(X_real: Any, m: int, fn: str) -> int:
    """Validate the real inputs (n, ...) (a finite float32/float64 torch tensor) and ``1 <= m <= n``."""
    check_tensor(X_real, "X_real", fn, min_ndim=2)
    return check_int(m, "m", fn, minimum=1, maximum=X_real.shape[0])


def _init_set(X_real, Y_real, m, gen):
    idx = torch.randperm(X_real.shape[0], generator=gen)[:m].to(X_real.device)
    return X_real[idx].clone(), Y_real[idx].clone()


def _outer_loop(X_real, Y_real, m, steps, batch_size, lr, weight_decay, seed, progress, predict, after_step=None,
                lr_decay=False, augment=None, target=None, gen=None, fn="distill"):
    """Shared AdamW loop on (X_s, Y_s) for KRR-ST and KIP; ``predict(X_s, Y_s, X_r) -> Y_hat``.

    ``lr_decay``: the rate decays linearly to 1e-3 of its start over the steps (Lee et al.'s
    ``LinearLR``). ``augment(X_r, gen)``: a random view of each real batch, whose targets are then
    ``target`` of the view (Lee et al. augment the real batch before the target model).
    """
    gen = gen if gen is not None else torch.Generator().manual_seed(seed)
    X_s, Y_s = _init_set(X_real, Y_real, m, gen)
    X_s.requires_grad_(True)
    Y_s.requires_grad_(True)
    opt = torch.optim.AdamW([X_s, Y_s], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 1e-3, total_iters=steps) if lr_decay else None
    losses = []
    n = X_real.shape[0]
    for step in progress(range(steps)):
        idx = torch.randint(n, (min(batch_size, n),), generator=gen).to(X_real.device)
        if augment is None:
            X_r, Y_r = X_real[idx], Y_real[idx]
        else:
            X_r = augment(X_real[idx], gen)
            Y_r = _targets(target, X_r, fn=fn)
        loss = ((predict(X_s, Y_s, X_r, step) - Y_r) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss.item())
        if after_step is not None:
            after_step(X_s.detach(), Y_s.detach(), step)
    _check_finite_result(torch.cat([X_s.detach().flatten(), Y_s.detach().flatten()]), fn,
                         "the distilled set (X_s, Y_s)")
    return DistilledSet(X_s.detach(), Y_s.detach(), losses)


def krr_st(
    X_real: torch.Tensor,
    target: Callable[[torch.Tensor], torch.Tensor],
    model_factory: Callable[[], nn.Module],
    m: int,
    *,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    pool_size: int = 10,
    reinit_every: int = 1000,
    online_lr: float = 1e-3,
    lam_scale: float = 1e-6,
    lr_decay: bool = True,
    augment: Callable | None = None,
    seed: int = 0,
    progress: Callable = iter,
) -> DistilledSet:
    """KRR-ST: distill ``m`` synthetic inputs and target representations (Lee et al. 2024, Algorithm 1).

    Each step draws a real batch ``X_r`` (a random view of it with ``augment``, whose targets are
    then ``g`` of the view) and a pool model ``f``; with ``F = [f(X), 1]`` the loss is
    ``mean_r ||F_r F_s^T (F_s F_s^T + lam I)^{-1} Y_s - g(X_r)||^2`` with ``lam = lam_scale
    tr(F_s F_s^T)`` held constant (detached) and ``F_r`` computed without gradient, as in Lee et
    al.'s code; AdamW updates ``X_s`` and ``Y_s`` at a rate decayed linearly to 1e-3 of ``lr``
    (``lr_decay``). Then that model (features plus a linear head to the target dimension) takes
    one Adam step on ``MSE(head(f(X_s)), Y_s)``; once it has taken ``reinit_every`` steps it is
    replaced by a fresh model. Before the first step every pool model is trained for a random
    number of steps in ``[1, reinit_every)`` on the initial set, so the pool spans training stages
    from the start.

    Lee et al.'s settings: a pool of 10 models re-initialised after 1000 steps, 160k outer steps,
    real batches of 1024, pool models trained by SGD (rate 0.1, momentum 0.9); here the pool
    models train by Adam at ``online_lr``, and steps and ``reinit_every`` are the caller's.

    Parameters
    ----------
    X_real : tensor of shape (n, ...)
        Unlabelled real inputs.
    target : callable
        The target (self-supervised) model ``g``: inputs (b, ...) -> representations (b, r).
    model_factory : callable
        ``() -> nn.Module`` mapping inputs (b, ...) to features (b, h); called for every
        (re-)initialisation under a derived seed.
    m : int
        Size of the distilled set (initialised from a random real subset and its targets).
    steps, batch_size, lr, weight_decay, pool_size, reinit_every, online_lr, lam_scale, seed
        Outer steps, real batch size, AdamW settings for ``(X_s, Y_s)``, pool size,
        re-initialisation period, the pool models' Adam learning rate, ``lam`` scale, seed.
    lr_decay : bool
        Decay the outer rate linearly to 1e-3 of ``lr`` over the steps.
    augment : callable, optional
        ``augment(X, generator) -> X'``, a random view of a real batch.
    progress : callable
        Wraps the step range (e.g. ``tqdm``).

    Returns
    -------
    DistilledSet

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    >>> g = torch.nn.Linear(5, 3)
    >>> f = lambda: torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU())
    >>> out = krr_st(X, g, f, m=4, steps=5, pool_size=2, reinit_every=10)
    >>> out.X.shape, out.Y.shape, len(out.losses)
    (torch.Size([4, 5]), torch.Size([4, 3]), 5)
    """
    fn = "krr_st"
    m = _check(X_real, m, fn)
    steps = check_int(steps, "steps", fn, minimum=1)
    batch_size = check_int(batch_size, "batch_size", fn, minimum=1)
    pool_size = check_int(pool_size, "pool_size", fn, minimum=1)
    reinit_every = check_int(reinit_every, "reinit_every", fn, minimum=1)
    lr, online_lr = check_positive(lr, "lr", fn), check_positive(online_lr, "online_lr", fn)
    weight_decay = check_nonnegative(weight_decay, "weight_decay", fn)
    seed = check_int(seed, "seed", fn, minimum=0)
    if augment is not None and not callable(augment):
        raise TypeError(f"{fn}: augment must be callable augment(X, generator) -> X, got {type(augment).__name__}")
    lam_scale = check_positive(lam_scale, "lam_scale", fn)
    if not callable(model_factory):
        raise TypeError(f"{fn}: model_factory must be callable () -> nn.Module, got {type(model_factory).__name__}")
    Y_real = _targets(target, X_real, fn=fn)
    device, dtype, r = X_real.device, X_real.dtype, Y_real.shape[1]
    counter = [seed * 1_000_003]

    def new_member():
        counter[0] += 1
        f = _fresh(model_factory, counter[0], device, dtype)
        with torch.no_grad():
            h = _run_model(f, X_real[:2], "X_real", fn, "model_factory()").flatten(1).shape[1]
        head = _fresh(lambda: nn.Linear(h, r), counter[0], device, dtype)
        opt = torch.optim.Adam([*f.parameters(), *head.parameters()], lr=online_lr)
        return {"f": f, "head": head, "opt": opt, "age": 0}

    def online_step(member, X_s, Y_s):
        loss = ((member["head"](member["f"](X_s).flatten(1)) - Y_s) ** 2).sum(1).mean()
        member["opt"].zero_grad(set_to_none=True)
        loss.backward()
        member["opt"].step()
        member["age"] += 1

    gen = torch.Generator().manual_seed(seed)
    pick = torch.Generator().manual_seed(seed + 7919)
    pool = [new_member() for _ in range(pool_size)]
    X0, Y0 = _init_set(X_real, Y_real, m, torch.Generator().manual_seed(seed))  # the loop's starting set
    for member in pool:  # pre-train each for a random number of steps, as Lee et al.'s ModelPool.init
        for _ in range(int(torch.randint(1, max(2, reinit_every), (1,), generator=pick))):
            online_step(member, X0, Y0)
    current = [0]

    def predict(X_s, Y_s, X_r, step):
        current[0] = int(torch.randint(pool_size, (1,), generator=pick))
        f = pool[current[0]]["f"]
        F_s = _features(f, X_s)
        with torch.no_grad():
            F_r = _features(f, X_r)
        return krr_predict(F_s @ F_s.T, F_r @ F_s.T, Y_s, lam_scale, detach_lam=True)

    def online_update(X_s, Y_s, step):
        member = pool[current[0]]
        online_step(member, X_s, Y_s)
        if member["age"] >= reinit_every:
            pool[current[0]] = new_member()

    return _outer_loop(X_real, Y_real, m, steps, batch_size, lr, weight_decay, seed, progress, predict, online_update,
                       lr_decay=lr_decay, augment=augment, target=target, gen=gen, fn=fn)


def kip(
    X_real: torch.Tensor,
    target: Callable[[torch.Tensor], torch.Tensor],
    m: int,
    *,
    kernel: Callable | None = None,
    steps: int = 1000,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    lam_scale: float = 1e-6,
    seed: int = 0,
    progress: Callable = iter,
) -> DistilledSet:
    """Kernel inducing points (Nguyen et al. 2021, "Dataset Meta-Learning from Kernel Ridge-Regression", section 2).

    The KRR-ST outer loss with a fixed kernel on the flattened raw inputs instead of a
    pool of trained models: ``mean_r ||K_rs (K_ss + lam I)^{-1} Y_s - g(X_r)||^2``
    (the original uses the neural tangent kernel; here any :mod:`estimators.kernels`
    object, by default a Gaussian with the median-heuristic bandwidth of ``X_real``).

    Parameters
    ----------
    X_real, target, m, steps, batch_size, lr, weight_decay, lam_scale, seed, progress
        As in :func:`krr_st`.
    kernel : callable, optional
        ``k(A, B) -> (a, b)`` on flattened inputs.

    Returns
    -------
    DistilledSet

    Examples
    --------
    >>> import torch
    >>> X = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    >>> out = kip(X, torch.nn.Linear(5, 3), m=4, steps=3)
    >>> out.X.shape, len(out.losses)
    (torch.Size([4, 5]), 3)
    """
    fn = "kip"
    m = _check(X_real, m, fn)
    steps = check_int(steps, "steps", fn, minimum=1)
    batch_size = check_int(batch_size, "batch_size", fn, minimum=1)
    lr, weight_decay = check_positive(lr, "lr", fn), check_nonnegative(weight_decay, "weight_decay", fn)
    seed = check_int(seed, "seed", fn, minimum=0)
    lam_scale = check_positive(lam_scale, "lam_scale", fn)
    if kernel is None:
        sample = X_real[: min(1000, X_real.shape[0])].flatten(1)
        bandwidth = float(median_heuristic(sample))
        if not bandwidth > 0:
            raise ValueError(
                f"{fn}: the points of X_real (the first 1000) coincide or are too close for a median-heuristic "
                f"bandwidth (got {bandwidth}); pass kernel=... or rescale X_real"
            )
        kernel = GaussianKernel(bandwidth)
    elif not callable(kernel):
        raise TypeError(f"{fn}: kernel must be callable k(A, B) -> (a, b), got {type(kernel).__name__}")
    Y_real = _targets(target, X_real, fn=fn)

    def predict(X_s, Y_s, X_r, step):
        A, B = X_s.flatten(1), X_r.flatten(1)
        return krr_predict(kernel(A, A), kernel(B, A), Y_s, lam_scale)

    return _outer_loop(X_real, Y_real, m, steps, batch_size, lr, weight_decay, seed, progress, predict, fn=fn)
