"""A small GPT for in-context regression, in one file (after nanoGPT), with three read-out heads.

The prompt (x_1, y_1, ..., x_n, y_n) becomes 2n tokens of width d: x tokens and
y tokens ``[y, 0, ..., 0]`` interleaved (Garg et al. 2022, Sec. 2). A linear read-in
maps tokens to the residual stream (no vocabulary table), pre-LayerNorm blocks with
causal attention through ``scaled_dot_product_attention`` mix them, and a linear
read-out at the x positions gives the prediction for y_k from (x_1, y_1, ..., x_k):
exactly the all-prefix seam ``predict_prefixes(xs, ys) -> (B, n)`` of every baseline.

The read-out head (``model.head``) says what position k predicts about y_k:

- ``"mean"``: a number, trained with squared error (Garg et al. 2022);
- ``"gaussian"``: a mean and a log-variance (clamped to ``LOGVAR_RANGE``), trained with the
  Gaussian negative log-likelihood;
- ``"bar"``: the Riemann ("bar") distribution of Mueller et al. 2022, Sec. 4: logits over fixed
  bins whose edges are quantiles of the task's prior predictive of y (a buffer, so checkpoints
  carry them), uniform density inside a bin, half-normal tails on the two outer bins, trained
  with cross-entropy. :class:`icl.heads.BarHead` states the density.

Every head gives the mean (``predict_prefixes``); the distributional heads also give
``log_prob``, ``predictive_moments`` and ``cdf`` per position, so a model is compared with the
exact Bayes predictive in nats (the mean head, given a stated variance, is a Gaussian).

What does not live here: the heads and their distributions (``icl.heads``), training
(``icl.train``), configs and presets (``icl.config``), the samples the bar edges come from
(``icl.run.build_model``).
Paper notation: the sequence length T is 2n; C is ``n_embd``; Garg's ``n_dims`` is ``d``;
Mueller et al.'s "borders" are ``edges``.

Example
-------
>>> import torch
>>> model = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=8, n_positions=5), n_dims=3)
>>> xs, ys = torch.zeros(2, 5, 3), torch.zeros(2, 5)
>>> model.predict_prefixes(xs, ys).shape
torch.Size([2, 5])
>>> len(model.hidden_states(xs, ys)), model.hidden_states(xs, ys)[0].shape
(2, torch.Size([2, 10, 8]))
>>> bar = GPT(ModelConfig(n_layer=1, n_head=2, n_embd=8, n_positions=5, head="bar", n_bins=8), n_dims=3)
>>> bar(xs, ys).shape, bar.log_prob(xs, ys).shape, bar.cdf(xs, ys).shape
(torch.Size([2, 5, 8]), torch.Size([2, 5]), torch.Size([2, 5]))
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from icl.config import ModelConfig
from icl.heads import make_head

__all__ = ["ModelConfig", "GPTConfig", "GPT", "interleave", "x_positions", "y_positions"]

GPTConfig = ModelConfig  # nanoGPT's name for the same dataclass


def interleave(xs: torch.Tensor, ys: torch.Tensor, token_format: str = "garg") -> torch.Tensor:
    """Tokens of a prompt: (B, n, d) and (B, n) -> (B, 2n, D).

    ``"garg"``: D = d, tokens x_1, [y_1, 0, ..., 0], x_2, ... (Garg et al. 2022).
    ``"split"``: D = d + 1, tokens [x_1, 0], [0, ..., 0, y_1], ... (x and y in disjoint coordinates).
    ``"pairs"``: D = d + 1, tokens [x_1, 0], [x_1, y_1], ...: each y token carries its whole pair, as
    the tokens (x_i, y_i) of von Oswald et al. (2023) and Akyurek et al. (2023), so that one attention
    layer can already implement a gradient step.
    """
    B, n, d = xs.shape
    ys = ys.to(xs.dtype)
    if token_format == "garg":
        y_tok = torch.cat([ys[..., None], xs.new_zeros(B, n, d - 1)], dim=-1)  # (B, n, d)
        x_tok = xs
    elif token_format in ("split", "pairs"):
        x_tok = torch.cat([xs, xs.new_zeros(B, n, 1)], dim=-1)  # (B, n, d+1)
        x_part = xs if token_format == "pairs" else xs.new_zeros(B, n, d)
        y_tok = torch.cat([x_part, ys[..., None]], dim=-1)  # (B, n, d+1)
    else:
        raise ValueError(f"token_format must be 'garg', 'split' or 'pairs', got {token_format!r}")
    return torch.stack([x_tok, y_tok], dim=2).reshape(B, 2 * n, x_tok.shape[-1])  # (B, 2n, D)


def x_positions(h: torch.Tensor) -> torch.Tensor:
    """The states at the x tokens: (B, 2n, C) -> (B, n, C); entry k has seen pairs < k and x_k."""
    return h[:, 0::2]


def y_positions(h: torch.Tensor) -> torch.Tensor:
    """The states at the y tokens: (B, 2n, C) -> (B, n, C); entry k has seen pairs <= k."""
    return h[:, 1::2]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)  # fused q, k, v
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, x_only: bool = False) -> torch.Tensor:
        """Causal self-attention of all T tokens: (B, T, C) -> (B, T, C), or with ``x_only`` the
        outputs at the x tokens (even positions) only, (B, ceil(T / 2), C)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, C/H)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, C/H)
        y = y.transpose(1, 2)  # (B, T, H, C/H)
        if x_only:
            y = y[:, 0::2]  # (B, T', H, C/H)
        return self.resid_drop(self.c_proj(y.reshape(B, y.shape[1], C)))  # (B, T or T', C)


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, C)


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, x_only: bool = False) -> torch.Tensor:
        """(B, T, C) -> (B, T, C); with ``x_only`` only the x tokens' outputs, (B, ceil(T / 2), C): every
        token still attends, but the projection and the MLP run on the positions that are read out."""
        a = self.attn(self.ln_1(x), x_only)  # (B, T or T', C)
        x = (x_positions(x) if x_only else x) + a
        return x + self.mlp(self.ln_2(x))  # (B, T or T', C)


# ----------------------------------------------------------------------------------------
# Read-out heads: what position k says about y_k, and the predictive distribution it defines

class GPT(nn.Module):
    """Decoder-only transformer reading prompts of (x, y) pairs.

    Parameters
    ----------
    cfg : ModelConfig
        Depth, heads, width, most pairs per prompt, positional embeddings, token format.
    n_dims : int
        Input dimension d of the task (the model reads prompts with d' <= d zero-padded).
    n_out : int, default 1
        Read-out width of the mean head: 1 for regression (predictions of shape (B, n)), the
        number of classes for classification (logits of shape (B, n, n_out)).
    bar_edges : tensor of shape (cfg.n_bins + 1,), optional
        Bin edges of the bar head (``icl.run.build_model`` computes them from the task's prior
        predictive; a checkpoint's replace them on ``load_state_dict``).

    ``forward`` returns the head's raw output: predictions (B, n) for the mean head, (mean,
    log-variance) (B, n, 2) for the Gaussian head, logits (B, n, n_bins) for the bar head.

    References
    ----------
    Garg, Tsipras, Liang, Valiant (2022), "What can transformers learn in-context?", Sec. 2;
    Radford et al. (2019) GPT-2 (pre-LayerNorm blocks); Mueller et al. (2022), "Transformers Can Do
    Bayesian Inference", Sec. 4 (the bar distribution).
    """

    def __init__(self, cfg: ModelConfig, n_dims: int, n_out: int = 1, bar_edges: torch.Tensor | None = None):
        super().__init__()
        if n_dims < 1:
            raise ValueError(f"GPT: n_dims must be >= 1, got {n_dims}")
        if n_out < 1:
            raise ValueError(f"GPT: n_out must be >= 1, got {n_out}")
        self.cfg, self.n_dims, self.n_out = cfg, n_dims, n_out
        d_token = n_dims if cfg.token_format == "garg" else n_dims + 1
        self.read_in = nn.Linear(d_token, cfg.n_embd)
        self.wpe = nn.Embedding(2 * cfg.n_positions, cfg.n_embd) if cfg.pos_emb else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.head = make_head(cfg, n_out, bar_edges)  # no parameters: the mean head's state_dict is unchanged
        self.read_out = nn.Linear(cfg.n_embd, self.head.width)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _check(self, xs: torch.Tensor, ys: torch.Tensor) -> None:
        if xs.ndim != 3 or ys.ndim != 2 or xs.shape[:2] != ys.shape:
            raise ValueError(
                f"GPT: expected xs (B, n, d) and ys (B, n), got shapes {tuple(xs.shape)} and {tuple(ys.shape)}"
            )
        if xs.shape[-1] > self.n_dims:
            raise ValueError(f"GPT: xs has d={xs.shape[-1]} but the model reads at most n_dims={self.n_dims}")
        if xs.shape[1] > self.cfg.n_positions:
            raise ValueError(
                f"GPT: prompts hold at most n_positions={self.cfg.n_positions} pairs, got {xs.shape[1]}"
            )

    def _embed(self, xs: torch.Tensor, ys: torch.Tensor, drop_last: bool = False) -> torch.Tensor:
        self._check(xs, ys)
        if xs.shape[-1] < self.n_dims:  # zero-pad a lower-dimensional prompt (curriculum)
            xs = F.pad(xs, (0, self.n_dims - xs.shape[-1]))
        tokens = interleave(xs, ys, self.cfg.token_format)  # (B, T, D), T = 2n
        if drop_last:
            tokens = tokens[:, :-1]  # (B, 2n - 1, D)
        h = self.read_in(tokens)  # (B, T, C)
        if self.wpe is not None:
            h = h + self.wpe.weight[: tokens.shape[1]]  # (B, T, C)
        return self.drop(h)

    def hidden_states(self, xs: torch.Tensor, ys: torch.Tensor) -> list[torch.Tensor]:
        """The residual stream after the embedding and after each block: n_layer + 1 tensors (B, 2n, C).

        Use :func:`x_positions` to keep the states at the x tokens (where predictions are read).
        Gradients flow unless called under ``torch.no_grad()``.
        """
        h = self._embed(xs, ys)
        states = [h]
        for block in self.blocks:
            h = block(h)
            states.append(h)
        return states

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """The head's output at every x position: (B, n) predictions or logits (B, n, n_out) for the mean
        head, (B, n, 2) mean and log-variance for the Gaussian head, (B, n, n_bins) logits for the bar head."""
        # Only the x positions are read out, and causal attention makes them independent of what comes
        # after x_n: the last token (y_n) is dropped and the last block runs its projection and MLP on
        # the x positions only (about 4% of a 12-layer step), which changes no output. With dropout in
        # training the full path runs, so that the dropout masks (and the RNG stream) stay as they were.
        short = not (self.training and self.cfg.dropout > 0) and len(self.blocks) > 0
        h = self._embed(xs, ys, drop_last=short)  # (B, T, C), T = 2n (2n - 1 when short)
        for i, block in enumerate(self.blocks):
            h = block(h, x_only=short and i == len(self.blocks) - 1)  # (B, T, C); the last: (B, n, C) when short
        h = h if short else x_positions(h)  # (B, n, C)
        return self.head.read(self.read_out, self.ln_f(h))  # (B, n, width) -> the head's shape

    @torch.no_grad()
    def _evaluated(self, xs, ys):
        """(head output in eval mode, the output device); numpy or torch in, the model's dtype and device inside."""
        was_training = self.training
        param = next(self.parameters())
        out_device = xs.device if isinstance(xs, torch.Tensor) else torch.device("cpu")
        xs = torch.as_tensor(xs).to(device=param.device, dtype=param.dtype)
        ys = torch.as_tensor(ys).to(device=param.device, dtype=param.dtype)
        self.eval()
        try:
            return self(xs, ys).float(), out_device
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict_prefixes(self, xs, ys) -> torch.Tensor:
        """``preds[:, k]`` = prediction for x_k from the first k pairs (eval mode, no gradients): the mean
        of the head's predictive (logits for classification).

        Accepts torch tensors (any float dtype; computed in the model's dtype on its device)
        or numpy arrays; returns a float32 tensor on the input's device (CPU for numpy).
        """
        out, out_device = self._evaluated(xs, ys)
        return self.head.mean(out).to(out_device)

    @torch.no_grad()
    def predictive(self, xs, ys, variance=None):
        """The predictive distribution of y_k given x_k and the first k pairs, for every k (eval mode).

        Returns a :class:`Gaussian` or :class:`Bar` over (B, n) positions, with ``log_prob(y)``,
        ``cdf(y)`` (y of shape (B, n), or a grid (B, n, m)), ``mean`` and ``var``, in float32 on the
        model's device. The mean head needs ``variance`` (a number or (B, n)): its prediction is then
        read as N(prediction, variance); the other heads refuse it.
        """
        out, _ = self._evaluated(xs, ys)
        return self.head.distribution(out, variance)

    def _at(self, ys, at):
        param = next(self.parameters())
        y = ys if at is None else at
        return torch.as_tensor(y).to(device=param.device, dtype=torch.float32)

    @torch.no_grad()
    def log_prob(self, xs, ys, at=None, variance=None) -> torch.Tensor:
        """``out[:, k] = log p_model(y_k | x_k, first k pairs)`` (B, n), float32 on the input's device.

        With ``at`` (shape (B, n, m)), the log density of each position's predictive at those m values
        instead ((B, n, m)): y_k itself is never seen by position k, so this is one forward pass.
        """
        dist = self.predictive(xs, ys, variance)
        device = xs.device if isinstance(xs, torch.Tensor) else torch.device("cpu")
        return dist.log_prob(self._at(ys, at)).to(device)

    @torch.no_grad()
    def cdf(self, xs, ys, at=None, variance=None) -> torch.Tensor:
        """``out[:, k] = F_model(y_k | x_k, first k pairs)``, the PIT values (B, n); ``at`` as in :meth:`log_prob`."""
        dist = self.predictive(xs, ys, variance)
        device = xs.device if isinstance(xs, torch.Tensor) else torch.device("cpu")
        return dist.cdf(self._at(ys, at)).to(device)

    @torch.no_grad()
    def predictive_moments(self, xs, ys, variance=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the predictive of every y_k, each (B, n), float32 on the input's device."""
        dist = self.predictive(xs, ys, variance)
        device = xs.device if isinstance(xs, torch.Tensor) else torch.device("cpu")
        return dist.mean.to(device), dist.var.to(device)

    def num_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
