"""The read-out heads of :class:`icl.model.GPT` and the predictive distributions they output.

A head maps the residual stream at x positions to what the model predicts about y_k:

- :class:`MeanHead` (``model.head = "mean"``): a number, trained with squared error (Garg et al. 2022);
- :class:`GaussianHead` (``"gaussian"``): a mean and a log-variance clamped to ``LOGVAR_RANGE``,
  trained with the Gaussian negative log-likelihood;
- :class:`BarHead` (``"bar"``): the Riemann ("bar") distribution of Mueller et al. 2022, Sec. 4:
  logits over fixed bins whose edges (:func:`quantile_edges` of the task's prior predictive) are a
  buffer, uniform density inside a bin, half-normal tails on the two outer bins, cross-entropy.

:class:`Gaussian` and :class:`Bar` are the per-position distributions (``log_prob``, ``cdf``,
``mean``, ``variance``). What does not live here: the transformer (:mod:`icl.model`) and the
samples the bar edges come from (``icl.run.build_model``). Mueller et al.'s "borders" are ``edges``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from icl.config import ModelConfig

__all__ = ["Gaussian", "Bar", "MeanHead", "GaussianHead", "BarHead", "make_head", "quantile_edges", "LOGVAR_RANGE"]


LOGVAR_RANGE = (-13.8, 13.8)  # the Gaussian head's log-variance is clamped here: variances in [1e-6, 1e6]
_LOG_2PI = math.log(2.0 * math.pi)
_Z75 = 0.6744897501960817  # Phi^{-1}(3/4): half of a half-normal's mass lies below _Z75 * its scale
_HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)  # E|Z|, Z ~ N(0, 1)


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-z / math.sqrt(2.0))


def _along(param: torch.Tensor, y: torch.Tensor, event_dims: int = 0) -> torch.Tensor:
    """``param`` (B, n, *event) with a query axis added when ``y`` is (B, n, m) rather than (B, n)."""
    return param.unsqueeze(-1 - event_dims) if y.ndim == param.ndim - event_dims + 1 else param


class Gaussian:
    """N(mean, var) per position; ``log_prob`` / ``cdf`` take y (B, n) or a grid (B, n, m)."""

    def __init__(self, mean: torch.Tensor, var: torch.Tensor):
        self.mean, self.var = mean, torch.broadcast_to(var, mean.shape)  # (B, n) each

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        m, v = _along(self.mean, y), _along(self.var, y)
        return -0.5 * (_LOG_2PI + torch.log(v) + (y - m) ** 2 / v)

    def cdf(self, y: torch.Tensor) -> torch.Tensor:
        return _normal_cdf((y - _along(self.mean, y)) / torch.sqrt(_along(self.var, y)))


class Bar:
    """The Riemann ("bar") distribution with half-normal tails (Mueller et al. 2022, Sec. 4).

    Bins b = 0..K-1 between ``edges`` e_0 < ... < e_K have probabilities p = softmax(logits).
    Inside (1 <= b <= K-2) the density is uniform, p_b / w_b with w_b = e_{b+1} - e_b. The outer
    bins give their mass to half-normals that start at the inner edge and run to -inf (b = 0,
    from e_1) and +inf (b = K-1, from e_{K-1}), with scale s = w / Phi^{-1}(3/4), so that half of
    the tail's mass stays inside the bin (the full-support variant of Mueller et al.):

        p(y) = p_0 * 2 phi((e_1 - y) / s_0) / s_0           for y <= e_1,
        p(y) = p_b / w_b                                    for e_b < y <= e_{b+1}, 1 <= b <= K-2,
        p(y) = p_{K-1} * 2 phi((y - e_{K-1}) / s_{K-1}) / s_{K-1}   for y > e_{K-1}.
    """

    def __init__(self, logits: torch.Tensor, edges: torch.Tensor):
        self.logits, self.edges = logits, edges.to(logits.dtype)  # (B, n, K), (K + 1,)
        self.widths = self.edges[1:] - self.edges[:-1]  # (K,)
        self.tail_scales = self.widths[[0, -1]] / _Z75  # (2,)

    def _bin(self, y: torch.Tensor) -> torch.Tensor:
        """Bin index of y: 0 for y <= e_1, K-1 for y > e_{K-1}, else b with e_b < y <= e_{b+1}."""
        return torch.searchsorted(self.edges[1:-1], y.contiguous())

    def log_prob(self, y: torch.Tensor) -> torch.Tensor:
        b = self._bin(y)
        log_p = _along(F.log_softmax(self.logits, dim=-1), y, 1).expand(*b.shape, -1)  # (B, n, [m,] K)
        lp = torch.gather(log_p, -1, b.unsqueeze(-1)).squeeze(-1)  # log p_b
        inside = lp - torch.log(self.widths)[b]
        (s_lo, s_hi), e = self.tail_scales, self.edges
        tail = lp + math.log(2.0) - 0.5 * _LOG_2PI
        lo = tail - torch.log(s_lo) - 0.5 * ((e[1] - y) / s_lo) ** 2
        hi = tail - torch.log(s_hi) - 0.5 * ((y - e[-2]) / s_hi) ** 2
        return torch.where(b == 0, lo, torch.where(b == len(self.widths) - 1, hi, inside))

    def cdf(self, y: torch.Tensor) -> torch.Tensor:
        b = self._bin(y)
        p = _along(torch.softmax(self.logits, dim=-1), y, 1).expand(*b.shape, -1)  # (B, n, [m,] K)
        below = torch.cumsum(p, dim=-1) - p  # mass of the bins left of b
        pb, cb = (torch.gather(a, -1, b.unsqueeze(-1)).squeeze(-1) for a in (p, below))
        (s_lo, s_hi), e = self.tail_scales, self.edges
        inside = cb + pb * (y - e[b]) / self.widths[b]
        lo = 2.0 * p[..., 0] * _normal_cdf(-(e[1] - y) / s_lo)
        hi = 1.0 - 2.0 * p[..., -1] * _normal_cdf(-(y - e[-2]) / s_hi)
        return torch.where(b == 0, lo, torch.where(b == len(self.widths) - 1, hi, inside))

    def _bin_moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of y within each bin (K,): the midpoint and w^2/12 inside, half-normal tails."""
        (s_lo, s_hi), e = self.tail_scales, self.edges
        m = 0.5 * (e[1:] + e[:-1])
        v = self.widths**2 / 12.0
        m = torch.cat([(e[1] - s_lo * _HALF_NORMAL_MEAN)[None], m[1:-1], (e[-2] + s_hi * _HALF_NORMAL_MEAN)[None]])
        v = torch.cat([(s_lo**2 * (1 - 2 / math.pi))[None], v[1:-1], (s_hi**2 * (1 - 2 / math.pi))[None]])
        return m, v

    @property
    def mean(self) -> torch.Tensor:
        return torch.softmax(self.logits, dim=-1) @ self._bin_moments()[0]  # (B, n)

    @property
    def var(self) -> torch.Tensor:
        """Law of total variance over bins, sum_b p_b (v_b + (m_b - mean)^2) (no cancellation)."""
        p = torch.softmax(self.logits, dim=-1)
        m, v = self._bin_moments()
        return (p * (v + (m - (p @ m)[..., None]) ** 2)).sum(-1)  # (B, n)


def quantile_edges(samples: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Bin edges at the quantiles 0, 1/K, ..., 1 of ``samples`` (float32, (K + 1,)): equal prior mass per bin.

    Mueller et al. (2022, Sec. 4) place the bar distribution's borders at quantiles of the prior
    predictive of y, so that every bin holds the same mass a priori. Raises ValueError when two
    edges coincide (the prior predictive has an atom, e.g. noiseless y = 0 prompts).

    >>> quantile_edges(torch.arange(101.0), 4).tolist()
    [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    if n_bins < 3:
        raise ValueError(f"quantile_edges: n_bins must be >= 3 (two tails and one bin inside), got {n_bins}")
    edges = torch.quantile(samples.detach().double().flatten(), torch.linspace(0, 1, n_bins + 1, dtype=torch.float64))
    edges = edges.float()
    if not bool(torch.all(edges[1:] > edges[:-1])):
        raise ValueError("quantile_edges: two bin edges coincide: the prior predictive of y has an atom (a noiseless "
                         "task predicting y exactly?); use fewer bins or add observation noise (task.noise > 0)")
    return edges


class MeanHead(nn.Module):
    """One number per position (or ``n_out`` logits for classification), trained with squared error.

    Its predictive is a Gaussian only with a stated variance (e.g. the noise variance).
    """

    distributional = False

    def __init__(self, n_out: int = 1):
        super().__init__()
        self.width = n_out

    def read(self, read_out: nn.Linear, h: torch.Tensor) -> torch.Tensor:
        return self.output(read_out(h))

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return raw[..., 0] if self.width == 1 else raw  # (B, n) or logits (B, n, n_out)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def distribution(self, out: torch.Tensor, variance=None) -> Gaussian:
        if variance is None:
            raise ValueError("GPT: the mean head predicts no variance; pass variance=... (e.g. the noise variance) "
                             "to read its prediction as a Gaussian, or train with model.head = 'gaussian' or 'bar'")
        var = torch.as_tensor(variance, dtype=out.dtype, device=out.device)
        if bool(torch.any(var <= 0)):
            raise ValueError(f"GPT: variance must be > 0, got {variance!r}")
        return Gaussian(out, var)

    def loss(self, out: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out.float(), ys.float())


class GaussianHead(nn.Module):
    """A mean and a log-variance per position (clamped to ``LOGVAR_RANGE``), trained with the Gaussian NLL.

    ``loss`` (``model.gaussian_loss``) picks the objective:

    - ``"nll"``: 0.5 (log 2 pi + log s^2 + (y - m)^2 / s^2). Its gradient in the mean is
      (m - y) / s^2: where the predicted variance is large (short prefixes, early training) the
      mean learns slowly, and the variance's gradient shapes the shared transformer as well;
    - ``"faithful"`` (Stirn et al. 2023, "Faithful heteroscedastic regression with neural
      networks", Sec. 3): (y - m)^2 + the NLL of (sg(m), s^2), with the log-variance read from
      sg(h), the transformer's last hidden state with no gradient (``sg``: stop-gradient). The
      transformer and the mean then get exactly the mean head's squared-error gradient, and the
      variance is fitted on top, s^2 -> E[(y - m)^2 | context]; at the optimum (m, s^2) are the
      mean and the variance of the posterior predictive. The logged loss is this sum, not the NLL.
    """

    distributional = True
    width = 2

    def __init__(self, loss: str = "nll"):
        super().__init__()
        if loss not in ("nll", "faithful"):
            raise ValueError(f"GaussianHead: loss must be 'nll' or 'faithful', got {loss!r}")
        self.objective = loss

    def read(self, read_out: nn.Linear, h: torch.Tensor) -> torch.Tensor:
        """``read_out(h)``; with the faithful objective the log-variance row sees ``h`` without gradient."""
        if self.objective == "nll":
            return self.output(read_out(h))
        w, b = read_out.weight, read_out.bias
        mean = F.linear(h, w[:1], None if b is None else b[:1])
        log_var = F.linear(h.detach(), w[1:], None if b is None else b[1:])
        return self.output(torch.cat([mean, log_var], dim=-1))

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.stack([raw[..., 0], raw[..., 1].clamp(*LOGVAR_RANGE)], dim=-1)  # (B, n, 2)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out[..., 0]

    def distribution(self, out: torch.Tensor, variance=None) -> Gaussian:
        _no_variance(variance)
        return Gaussian(out[..., 0], torch.exp(out[..., 1]))

    def loss(self, out: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """The mean over prompts and positions of the objective above (``"nll"``: the NLL itself)."""
        out, ys = out.float(), ys.float()
        if self.objective == "nll":
            return -self.distribution(out).log_prob(ys).mean()
        detached = torch.stack([out[..., 0].detach(), out[..., 1]], dim=-1)
        return ((ys - out[..., 0]) ** 2 - self.distribution(detached).log_prob(ys)).mean()


class BarHead(nn.Module):
    """Logits over ``n_bins`` fixed bins (:class:`Bar`), trained with cross-entropy (the bar NLL).

    ``edges`` is a buffer: it is saved in checkpoints and restored by ``load_state_dict``. Without
    edges (a model built with no task) it holds N(0, 1) quantiles until the real ones are loaded.
    """

    distributional = True

    def __init__(self, n_bins: int, edges: torch.Tensor | None = None):
        super().__init__()
        if edges is None:
            probs = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64).clamp(1e-4, 1 - 1e-4)
            edges = torch.special.ndtri(probs).float()
        edges = torch.as_tensor(edges, dtype=torch.float32)
        if edges.shape != (n_bins + 1,) or not bool(torch.all(edges[1:] > edges[:-1])):
            raise ValueError(f"BarHead: edges must be {n_bins + 1} increasing numbers, got shape {tuple(edges.shape)}")
        self.width = n_bins
        self.register_buffer("edges", edges)  # (K + 1,)

    def read(self, read_out: nn.Linear, h: torch.Tensor) -> torch.Tensor:
        return self.output(read_out(h))

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        return raw  # logits (B, n, K)

    def distribution(self, out: torch.Tensor, variance=None) -> Bar:
        _no_variance(variance)
        return Bar(out, self.edges)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return self.distribution(out).mean

    def loss(self, out: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """Mean of -log p(y) over prompts and positions: cross-entropy of the bins plus log w_b (a constant)."""
        return -self.distribution(out.float()).log_prob(ys.float()).mean()


def _no_variance(variance) -> None:
    if variance is not None:
        raise ValueError("GPT: variance= applies to the mean head only; this head predicts its own distribution")


def make_head(cfg: ModelConfig, n_out: int = 1, bar_edges: torch.Tensor | None = None) -> nn.Module:
    """The read-out head named by ``cfg.head`` (see the module docstring)."""
    if cfg.head == "mean":
        return MeanHead(n_out)
    if n_out != 1:
        raise ValueError(f"GPT: model.head = {cfg.head!r} reads out one real y per position; n_out must be 1, got {n_out}")
    if cfg.head == "gaussian":
        return GaussianHead(cfg.gaussian_loss)
    if cfg.head == "bar":
        return BarHead(cfg.n_bins, bar_edges)
    raise ValueError(f"GPT: model.head must be 'mean', 'gaussian' or 'bar', got {cfg.head!r}")
