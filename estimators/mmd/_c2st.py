"""Classifier two-sample tests (C2ST; Lopez-Paz & Oquab 2017), the baseline of Liu et al. 2020.

:func:`c2st` trains a small network (:func:`train_classifier`) to tell X from Y on a training
split and tests on held-out data with its accuracy (C2ST-S) or mean logit gap (C2ST-L) as the
statistic and a permutation null over the held-out scores. Everything here is torch; numpy,
torch or jax inputs are accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..kernels import GaussianKernel
from ..validation import check_array, check_int, check_positive, to_numpy
from ._deep_kernel import _from_torch, _phi, _to_torch, check_range_for
from ._learned import _training_pair, featurizer
from ._permutation import PermutationTestResult
from ._statistics import _check_samples

__all__ = ["C2STClassifier", "train_classifier", "c2st"]


class C2STClassifier:
    """A trained X-vs-Y classifier: ``clf(Z)`` gives logits (..., n) of "Z comes from Y".

    Accepts numpy, torch or jax points (..., n, d) and answers in the same library.
    """

    def __init__(self, net: torch.nn.Module):
        self.net = net.eval().requires_grad_(False)

    def __call__(self, Z: Any) -> Any:
        fn = "C2STClassifier"
        check_array(Z, "Z", fn, min_ndim=2)
        like = next(self.net.parameters())
        check_range_for(Z, like.dtype, "Z", fn)
        with torch.no_grad():
            out = _phi(self.net, _to_torch(Z, like), "Z", fn)[..., 0]
        return _from_torch(out, Z)


def train_classifier(
    X_train: Any, Y_train: Any, *, hidden: int = 50, n_epochs: int = 1000, lr: float = 1e-3,
    seed: int = 0, device: Any = None,
) -> C2STClassifier:
    """Train Liu et al.'s C2ST network (:func:`featurizer` with one output logit) by full-batch Adam.

    Minimises the binary cross-entropy of "from Y" (label 1) vs "from X" (label 0).

    Parameters
    ----------
    X_train : array of shape (n, d)
    Y_train : array of shape (m, d)
    hidden, n_epochs, lr, seed, device
        Network width, Adam steps, step size, initialisation seed, torch device.

    Returns
    -------
    C2STClassifier

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((20, 1)); Y = np.ones((20, 1))
    >>> clf = train_classifier(X, Y, hidden=8, n_epochs=200, lr=1e-2)
    >>> bool((clf(Y) > 0).all() and (clf(X) < 0).all())
    True
    """
    fn = "train_classifier"
    n_epochs = check_int(n_epochs, "n_epochs", fn, minimum=1)
    lr = check_positive(lr, "lr", fn)
    device = torch.device(device if device is not None else "cpu")
    X, Y = _training_pair(X_train, Y_train, fn, device, equal=False)
    Z = torch.cat([X, Y])
    labels = torch.cat([torch.zeros(X.shape[0]), torch.ones(Y.shape[0])]).to(device=device, dtype=X.dtype)
    net = featurizer(X.shape[1], hidden, 1, seed=seed).to(device=device, dtype=X.dtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(n_epochs):
        opt.zero_grad()
        loss_fn(net(Z)[:, 0], labels).backward()
        opt.step()
    if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):
        raise ValueError(f"{fn}: the network's weights became NaN or infinite in training; lower lr or rescale X_train, Y_train")
    return C2STClassifier(net)


def _linear_permutation_test(scores: np.ndarray, n: int, B: int, seed: int, stat_of) -> PermutationTestResult:
    """Permutation test of a statistic of the per-group score sums; scores (..., N), first n are X."""
    batch, N = scores.shape[:-1], scores.shape[-1]
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random(batch + (B, N)), axis=-1)
    sx_null = np.take_along_axis(scores[..., None, :], perms[..., :n], axis=-1).sum(axis=-1)  # (..., B)
    total = scores.sum(axis=-1)
    observed = stat_of(scores[..., :n].sum(axis=-1), total)
    null = stat_of(sx_null, total[..., None])
    tol = 32 * np.finfo(np.float64).eps * (np.abs(observed) + np.abs(scores).max(axis=-1) + 1.0)
    pvalue = (1 + (null >= (observed - tol)[..., None]).sum(axis=-1)) / (1 + B)
    return observed, pvalue, null


def c2st(
    X: Any, Y: Any, kind: str = "S", *, classifier: C2STClassifier | None = None, n_permutations: int = 200,
    seed: int = 0, train_fraction: float = 0.5, **train_kwargs,
) -> PermutationTestResult:
    """Classifier two-sample test (C2ST-S: held-out accuracy; C2ST-L: mean logit gap).

    With a trained ``classifier`` f (logit of "from Y"), the statistic on X (..., n, d),
    Y (..., m, d) is the accuracy ``(#{f(x) < 0} + #{f(y) > 0}) / (n + m)`` (``"S"``,
    Lopez-Paz & Oquab 2017) or ``mean_y f(y) - mean_x f(x)`` (``"L"``, Cheng & Cloninger
    2022 as in Liu et al. 2020); the null relabels the pooled points (permutation test,
    ``p = (1 + #{T_b >= T}) / (1 + B)``). Without a classifier, unbatched X and Y are
    split at random: ``train_classifier`` on the ``train_fraction`` part, the test on the rest.

    Parameters
    ----------
    X : array of shape (..., n, d)
    Y : array of shape (..., m, d)
    kind : {"S", "L"}
    classifier : C2STClassifier, optional
    n_permutations : int, >= 1
    seed : int
        Seeds the split, the network and the permutations.
    train_fraction : float in (0, 1)
    **train_kwargs
        Passed to :func:`train_classifier` (hidden, n_epochs, lr, device).

    Returns
    -------
    PermutationTestResult
        numpy values (shape (...) and (..., B)).

    References
    ----------
    Lopez-Paz & Oquab (2017), "Revisiting classifier two-sample tests", ICLR; Liu et al.
    (2020), ICML, section 6 (the C2ST-S / C2ST-L baselines).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)); Y = rng.normal(size=(100, 2)) + 2.0
    >>> res = c2st(X, Y, "S", n_permutations=99, n_epochs=200, lr=1e-2)
    >>> float(res.pvalue), float(res.statistic) > 0.8
    (0.01, True)
    """
    fn = "c2st"
    if kind not in ("S", "L"):
        raise ValueError(f"{fn}: kind must be 'S' or 'L', got {kind!r}")
    _check_samples(X, Y, GaussianKernel(1.0), fn)
    B = check_int(n_permutations, "n_permutations", fn, minimum=1)
    seed = check_int(seed, "seed", fn, minimum=0)
    if classifier is None:
        train_fraction = check_positive(train_fraction, "train_fraction", fn)
        if train_fraction >= 1 or X.ndim != 2 or Y.ndim != 2:
            raise ValueError(
                f"{fn}: without a classifier, X and Y must be unbatched (n, d) and 0 < train_fraction < 1, "
                f"got shapes {tuple(X.shape)}, {tuple(Y.shape)} and train_fraction={train_fraction}"
            )
        Xn, Yn = to_numpy(X), to_numpy(Y)
        rng = np.random.default_rng(seed)
        ix, iy = rng.permutation(len(Xn)), rng.permutation(len(Yn))
        nx, ny = int(round(train_fraction * len(Xn))), int(round(train_fraction * len(Yn)))
        if min(nx, ny, len(Xn) - nx, len(Yn) - ny) < 2:
            raise ValueError(f"{fn}: each of the train and test splits needs at least 2 points of X and of Y")
        classifier = train_classifier(Xn[ix[:nx]], Yn[iy[:ny]], seed=seed, **train_kwargs)
        X, Y = Xn[ix[nx:]], Yn[iy[ny:]]
    elif not isinstance(classifier, C2STClassifier):
        raise TypeError(f"{fn}: classifier must come from train_classifier, got {type(classifier).__name__}")
    fx = to_numpy(classifier(X)).astype(np.float64)
    fy = to_numpy(classifier(Y)).astype(np.float64)
    batch = np.broadcast_shapes(fx.shape[:-1], fy.shape[:-1])
    n, m = fx.shape[-1], fy.shape[-1]
    N = n + m
    if kind == "S":
        scores = (np.concatenate([np.broadcast_to(fx, batch + (n,)), np.broadcast_to(fy, batch + (m,))], -1) > 0)
        # accuracy = (#{x predicted X} + #{y predicted Y}) / N = (n - s_X + (s_total - s_X)) / N
        stat_of = lambda s_x, s_tot: (n - 2 * s_x + s_tot) / N  # noqa: E731
    else:
        scores = np.concatenate([np.broadcast_to(fx, batch + (n,)), np.broadcast_to(fy, batch + (m,))], -1)
        stat_of = lambda s_x, s_tot: (s_tot - s_x) / m - s_x / n  # noqa: E731
    observed, pvalue, null = _linear_permutation_test(scores.astype(np.float64), n, B, seed + 1, stat_of)
    return PermutationTestResult(observed[()], pvalue[()], null)
