"""Coreset baselines for dataset distillation: a random subset, k-means centroids, and pretraining.

Lee et al. 2024 (KRR-ST), section 5, compare the distilled set with a random subset and with k-means
centroids of the real inputs; :func:`pretrain` trains an encoder to regress target representations
on any of these sets (how a distilled set is used), :func:`pretrain_supervised` trains it with
cross-entropy on labels (how Lee et al.'s code pretrains on the random and k-means baselines).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..validation import check_int, check_labels, check_nonnegative, check_positive, check_tensor
from ._krr import DistilledSet, _check, _check_finite_result, _fresh, _run_model, _targets

__all__ = ["random_subset", "kmeans_coreset", "pretrain", "pretrain_supervised"]


def random_subset(X_real: torch.Tensor, target: Callable, m: int, *, seed: int = 0) -> DistilledSet:
    """A uniformly random subset of ``m`` real inputs with their target representations.

    Examples
    --------
    >>> import torch
    >>> out = random_subset(torch.arange(10.0)[:, None], lambda x: 2 * x, m=3)
    >>> bool((out.Y == 2 * out.X).all()), out.X.shape
    (True, torch.Size([3, 1]))
    """
    m = _check(X_real, m, "random_subset")
    gen = torch.Generator().manual_seed(check_int(seed, "seed", "random_subset", minimum=0))
    idx = torch.randperm(X_real.shape[0], generator=gen)[:m].to(X_real.device)
    X_s = X_real[idx].clone()
    return DistilledSet(X_s, _targets(target, X_s, fn="random_subset"), [])


def kmeans_coreset(X_real: torch.Tensor, target: Callable, m: int, *, seed: int = 0, iters: int = 50) -> DistilledSet:
    """``m`` k-means centroids of the (flattened) real inputs with their target representations.

    Lloyd's algorithm from a k-means++ start (Arthur & Vassilvitskii 2007); an empty
    cluster is re-seeded at the point farthest from its centroid.

    Examples
    --------
    >>> import torch
    >>> X = torch.tensor([[0.0], [0.1], [10.0], [10.1]])
    >>> out = kmeans_coreset(X, lambda x: x, m=2)
    >>> sorted(round(v, 2) for v in out.X[:, 0].tolist())
    [0.05, 10.05]
    """
    fn = "kmeans_coreset"
    m = _check(X_real, m, fn)
    iters = check_int(iters, "iters", fn, minimum=1)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", fn, minimum=0))
    Z = X_real.flatten(1)
    n = Z.shape[0]
    centres = Z[int(torch.randint(n, (1,), generator=gen))][None]
    for _ in range(1, m):  # k-means++: next centre with probability proportional to d^2
        d2 = torch.cdist(Z, centres).min(1).values ** 2
        probs = (d2 / d2.sum()).cpu() if float(d2.sum()) > 0 else torch.full((n,), 1.0 / n)
        centres = torch.cat([centres, Z[int(torch.multinomial(probs, 1, generator=gen))][None]])
    for _ in range(iters):
        dist = torch.cdist(Z, centres)
        assign = dist.argmin(1)
        counts = torch.bincount(assign, minlength=m)
        sums = torch.zeros_like(centres).index_add_(0, assign, Z)
        new = sums / counts.clamp(min=1)[:, None].to(Z.dtype)
        for j in torch.nonzero(counts == 0).flatten().tolist():
            new[j] = Z[int(dist.min(1).values.argmax())]
        if torch.equal(new, centres):
            break
        centres = new
    X_s = centres.reshape((m,) + tuple(X_real.shape[1:]))
    return DistilledSet(X_s, _targets(target, X_s, fn=fn), [])


def pretrain(
    model: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    steps: int = 500,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    seed: int = 0,
) -> nn.Module:
    """Pretrain ``model`` (inputs -> features (b, h)) on ``(X, Y)``: Adam on ``MSE(head(model(X)), Y)``.

    The evaluation step of Lee et al. 2024 (section 4): a fresh model regresses the
    distilled targets through a linear head; the head is dropped and ``model``
    (trained in place) is returned for a linear read-out.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> X = torch.eye(2); Y = torch.tensor([[1.0], [-1.0]])
    >>> _ = pretrain(net, X, Y, steps=2)
    """
    fn = "pretrain"
    _check_model_inputs(model, X, fn)
    check_tensor(Y, "Y", fn, ndim=2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{fn}: X (m, ...) and Y (m, r) must agree on m, got {tuple(X.shape)} and {tuple(Y.shape)}")
    if X.dtype != Y.dtype:
        raise TypeError(f"{fn}: X and Y must share a dtype, got {X.dtype} and {Y.dtype}")
    return _train_with_head(model, X, Y.shape[1], lambda f, idx, gen: ((f(X[idx]) - Y[idx]) ** 2).sum(1).mean(),
                            steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, fn=fn)


def _train_with_head(model, X, n_out: int, batch_loss, *, steps, batch_size, lr, weight_decay, seed, fn: str):
    """Adam on ``model`` plus a fresh linear head (``n_out`` outputs, seeded by ``seed``) for ``steps`` minibatches.

    ``batch_loss(f, idx, gen)`` is the loss of one minibatch ``idx`` with ``f = head o model`` (``gen``:
    the minibatch generator, for augmentation); the scalars are validated here, once for every caller.
    """
    steps = check_int(steps, "steps", fn, minimum=1)
    batch_size = check_int(batch_size, "batch_size", fn, minimum=1)
    lr, weight_decay = check_positive(lr, "lr", fn), check_nonnegative(weight_decay, "weight_decay", fn)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", fn, minimum=0))
    with torch.no_grad():
        h = _run_model(model, X[:1], "X", fn).flatten(1).shape[1]
    head = _fresh(lambda: nn.Linear(h, n_out), seed, X.device, X.dtype)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=lr, weight_decay=weight_decay)
    n = X.shape[0]
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[:batch_size].to(X.device) if n > batch_size else slice(None)
        loss = batch_loss(lambda xb: head(model(xb).flatten(1)), idx, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _check_finite_result(torch.cat([p.detach().flatten() for p in model.parameters()] + [loss.detach()[None]]), fn,
                         "the model's parameters")
    return model


def _check_model_inputs(model, X, fn: str) -> None:
    """``model`` is a torch module and ``X`` a finite (m, ...) tensor in the dtype of its parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{fn}: model must be a torch.nn.Module, got {type(model).__name__}")
    check_tensor(X, "X", fn, min_ndim=2)
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes and X.dtype not in dtypes:
        raise TypeError(
            f"{fn}: X has dtype {X.dtype} but the model's parameters are {', '.join(map(str, sorted(dtypes, key=str)))}; "
            "convert one of them (model.to(X.dtype) or X.to(...)) first"
        )


def pretrain_supervised(
    model: nn.Module,
    X: torch.Tensor,
    labels: torch.Tensor,
    *,
    n_classes: int | None = None,
    steps: int = 500,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    augment: Callable | None = None,
    seed: int = 0,
) -> nn.Module:
    """Pretrain ``model`` (inputs -> features (b, h)) with cross-entropy on labels through a linear head.

    Adam on ``CE(head(model(augment(X))), labels)``; the head is dropped and ``model`` (trained in
    place) is returned. This is the supervised pretraining that Lee et al. 2024's code applies to
    the random-subset and k-means baselines (their ``pretrain_dc``: a random augmentation of every
    batch, cross-entropy on the selected images' labels).

    Parameters
    ----------
    model : nn.Module
    X : tensor of shape (m, ...)
    labels : integer tensor of shape (m,)
    n_classes : int, optional
        Outputs of the head (default: ``labels.max() + 1``).
    steps, lr, weight_decay, batch_size, seed
        Adam steps and settings, minibatch size, seed of the head and the batches.
    augment : callable, optional
        ``augment(X, generator) -> X'``: a random view of each batch.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU())
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); y = torch.tensor([0, 1])
    >>> pretrain_supervised(net, X, y, steps=50, lr=1e-2) is net
    True
    """
    fn = "pretrain_supervised"
    _check_model_inputs(model, X, fn)
    check_tensor(labels, "labels", fn, floating=False, finite=False)
    if labels.ndim != 1 or labels.shape[0] != X.shape[0] or labels.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"{fn}: labels must be an integer tensor of shape ({X.shape[0]},) (one per row of X), got "
                         f"{labels.dtype} {tuple(labels.shape)}")
    labels, n_classes = check_labels(labels, "labels", fn, n_classes=n_classes, min_classes=1)

    def batch_loss(f, idx, gen):
        return nn.functional.cross_entropy(f(X[idx] if augment is None else augment(X[idx], gen)), labels[idx])

    return _train_with_head(model, X, n_classes, batch_loss, steps=steps, batch_size=batch_size, lr=lr,
                            weight_decay=weight_decay, seed=seed, fn=fn)
