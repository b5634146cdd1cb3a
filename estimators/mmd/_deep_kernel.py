"""The deep kernel of Liu et al. (2020), a torch module usable wherever a kernel is.

:class:`DeepKernel` is re-exported by :mod:`estimators.mmd`; the training loops that fit it
(MMD-D, MMD-MP) live in :mod:`._learned`. Inputs of any library are converted to
the parameters' device and dtype, and the kernel matrix is returned in the input's library.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..validation import check_point_sets, check_positive, library_name, max_magnitude, to_numpy
from ..kernels import GaussianKernel

__all__ = ["DeepKernel", "check_range_for"]


def _to_torch(x: Any, like: torch.Tensor) -> torch.Tensor:
    """A torch tensor of ``x`` on the parameters' device and dtype (no copy when it already is)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(to_numpy(x)))
    return t.to(device=like.device, dtype=like.dtype)


def _from_torch(t: torch.Tensor, like: Any) -> Any:
    """``t`` in the library and dtype of ``like``."""
    name = library_name(like)
    if name == "torch":
        return t.to(dtype=like.dtype)
    out = t.detach().cpu().numpy()
    if name == "jax":
        import jax.numpy as jnp

        return jnp.asarray(out, dtype=like.dtype)
    return out.astype(like.dtype, copy=False)


def check_range_for(A: Any, dtype: torch.dtype, name: str, fn: str) -> None:
    """Refuse points that would overflow when converted to the parameters' ``dtype`` (float64 -> float32)."""
    top = float(np.max(np.abs(to_numpy(A)))) if math.prod(A.shape) else 0.0
    limit = max_magnitude(dtype)
    if top > limit:
        raise ValueError(
            f"{fn}: {name} has entries up to {top:.3g}, beyond {limit:.3g} for the network's {dtype}; rescale {name} first"
        )


def _phi(phi: Any, X: torch.Tensor, name: str, fn: str) -> torch.Tensor:
    """``phi(X)``; a shape the network cannot take is a ValueError naming ``name``."""
    try:
        return phi(X)
    except RuntimeError as err:
        raise ValueError(f"{fn}: phi cannot take {name} of shape {tuple(X.shape)}: {err}") from err


class DeepKernel(torch.nn.Module):
    """Deep kernel ``k(x, y) = [(1 - e) kappa(phi(x), phi(y)) + e] q(x, y)`` (Liu et al. 2020).

    ``kappa`` and ``q`` are :class:`~estimators.kernels.GaussianKernel` objects with
    bandwidths ``bandwidth_phi`` (on the features) and ``bandwidth_q`` (on the raw inputs);
    ``phi`` is a torch network mapping (..., n, d) to (..., n, F); ``0 < e < 1`` keeps the
    kernel characteristic. Bandwidths and e are stored as ``log`` / ``logit`` parameters,
    so Adam on :meth:`parameters` trains phi, both bandwidths and e together.

    Called on numpy or jax points it returns a numpy / jax matrix (computed without
    gradients); on torch tensors it returns a torch matrix with autograd.

    Parameters
    ----------
    phi : torch.nn.Module
    bandwidth_phi, bandwidth_q : float, > 0
        Initial bandwidths (Liu et al.'s ``sigma_phi = 2 bandwidth_phi^2``, ``sigma_q = 2 bandwidth_q^2``).
    e : float in (0, 1)
        Initial mixing weight epsilon.

    References
    ----------
    Liu et al. (2020), ICML, eq. 4 and section 5 ("MMD-D").

    Examples
    --------
    >>> import numpy as np, torch
    >>> k = DeepKernel(torch.nn.Identity(), bandwidth_phi=1.0, bandwidth_q=1.0, e=0.5)
    >>> k(np.array([[0.0], [1.0]])).round(4)  # [(1 - 0.5) exp(-1/2) + 0.5] exp(-1/2)
    array([[1.    , 0.4872],
           [0.4872, 1.    ]])
    """

    def __init__(self, phi: torch.nn.Module, bandwidth_phi: float = 1.0, bandwidth_q: float = 1.0, e: float = 1e-3):
        super().__init__()
        fn = "DeepKernel"
        if not callable(phi):
            raise TypeError(f"{fn}: phi must be a torch module mapping (..., n, d) -> (..., n, F), got {type(phi).__name__}")
        bw_phi = check_positive(bandwidth_phi, "bandwidth_phi", fn)
        bw_q = check_positive(bandwidth_q, "bandwidth_q", fn)
        e = check_positive(e, "e", fn)
        if e >= 1:
            raise ValueError(f"{fn}: e must be in (0, 1), got {e}")
        self.phi = phi
        params = list(phi.parameters()) if isinstance(phi, torch.nn.Module) else []
        dtype = params[0].dtype if params else torch.get_default_dtype()
        self.log_bandwidth_phi = torch.nn.Parameter(torch.tensor(math.log(bw_phi), dtype=dtype))
        self.log_bandwidth_q = torch.nn.Parameter(torch.tensor(math.log(bw_q), dtype=dtype))
        self.logit_e = torch.nn.Parameter(torch.tensor(math.log(e / (1 - e)), dtype=dtype))

    @property
    def bandwidth_phi(self) -> torch.Tensor:
        return torch.exp(self.log_bandwidth_phi)

    @property
    def bandwidth_q(self) -> torch.Tensor:
        return torch.exp(self.log_bandwidth_q)

    @property
    def e(self) -> torch.Tensor:
        return torch.sigmoid(self.logit_e)

    def forward(self, X: Any, Y: Any = None) -> Any:
        """The kernel matrix (..., n, m) of points X (..., n, d) and Y (..., m, d) (Y defaults to X)."""
        fn = "DeepKernel"
        check_point_sets(X, X if Y is None else Y, fn)
        like = self.log_bandwidth_q
        for name, A in (("X", X), ("Y", Y)):
            if A is not None:
                check_range_for(A, like.dtype, name, fn)
        with torch.set_grad_enabled(torch.is_grad_enabled() and isinstance(X, torch.Tensor)):
            Xt = _to_torch(X, like)
            Yt = None if Y is None else _to_torch(Y, like)
            FX = _phi(self.phi, Xt, "X", fn)
            FY = None if Y is None else _phi(self.phi, Yt, "Y", fn)
            kappa = GaussianKernel(self.bandwidth_phi)(FX, FY)
            q = GaussianKernel(self.bandwidth_q)(Xt, Yt)
            e = self.e
            K = ((1 - e) * kappa + e) * q
        return _from_torch(K, X)

    def extra_repr(self) -> str:
        return (
            f"bandwidth_phi={float(self.bandwidth_phi):.4g}, bandwidth_q={float(self.bandwidth_q):.4g}, "
            f"e={float(self.e):.3g}"
        )
