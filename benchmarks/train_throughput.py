"""Training throughput of ``icl.model.GPT`` against Hugging Face ``GPT2Model`` wrapped as Garg et al. wrap it.

Both models get the Garg et al. (2022) shape: 12 layers, 8 heads, width 256, d = 20, 41 points
(82 tokens), batch 64, the same read-in / read-out, dropout 0, Adam. The wrapper follows the
paper's public code: a linear read-in of the interleaved tokens into ``GPT2Model(inputs_embeds=...)``,
a linear read-out, predictions at the x positions. It is timed twice: with today's default attention
(``sdpa``) and with ``eager`` attention, which is what the transformers version pinned by Garg et al.'s
code (4.17) ran. Timed in one process with one thread (``--threads``), alternating the
models round by round so that machine load hits all alike; the ratio of the best step times (best
of ``--steps`` = 3 after a warm-up step) is the result, with the medians beside it. Each model's
achieved GFLOP/s counts the same model flops (:func:`model_flops`, the architecture's matrix
products, forward and backward) and is printed beside torch's GEMM of the MLP's shape
(B T x C) @ (C x 4C) in float32, measured in the same run. On a CUDA machine the paper preset is
timed as well, by ``benchmarks.gpu_paper.gpu_paper_preset`` (four modes: float32 and bf16 eager,
bf16 with torch.compile, with CUDA graphs; ``--gpu-steps`` steps, best of 3).

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.train_throughput [--steps 3] [--batch 64] [--threads 1] [--gpu-steps 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

from icl.config import ModelConfig
from icl.model import GPT, interleave

from ._gemm import gemm_gflops, load_average
from .gpu_paper import format_throughput, gpu_paper_preset

D, N_POINTS, N_LAYER, N_HEAD, N_EMBD = 20, 41, 12, 8, 256


class GargTransformer(nn.Module):
    """Garg et al.'s ``TransformerModel``: read-in -> GPT2Model(inputs_embeds) -> read-out at x positions."""

    def __init__(self, n_dims: int, n_positions: int, n_embd: int, n_layer: int, n_head: int,
                 attn_implementation: str | None = None):
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        config = GPT2Config(n_positions=2 * n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False)
        if attn_implementation is not None:
            config._attn_implementation = attn_implementation
        self._read_in = nn.Linear(n_dims, n_embd)
        self._backbone = GPT2Model(config)
        self._read_out = nn.Linear(n_embd, 1)

    def forward(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        embeds = self._read_in(interleave(xs, ys))  # Garg's _combine: x tokens and [y, 0, ..., 0]
        output = self._backbone(inputs_embeds=embeds).last_hidden_state
        return self._read_out(output)[:, ::2, 0]


def model_flops(batch: int, n_points: int = N_POINTS, d: int = D, n_layer: int = N_LAYER, C: int = N_EMBD) -> float:
    """Flops of one training step of the architecture (both models): every matrix product, forward and backward.

    Per token and layer the linear maps hold 12 C^2 weights (q, k, v, output: 4 C^2; MLP: 8 C^2), the
    read-in d C and the read-out C; attention multiplies T x T scores by C per layer twice (QK^T, PV).
    The backward pass costs twice the forward, so a step is 3 x (2 x weights x tokens + attention).
    icl.model.GPT skips part of this (the last y token, the last block's y positions); the count is the
    same for both models so that GFLOP/s compares useful work.
    """
    T = 2 * n_points
    tokens = batch * T
    forward = 2 * tokens * (n_layer * 12 * C * C + d * C + C) + n_layer * 2 * 2 * batch * T * T * C
    return 3.0 * forward


def step_time(model: nn.Module, opt: torch.optim.Optimizer, xs: torch.Tensor, ys: torch.Tensor) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one training step (forward, MSE loss, backward, Adam update).

    On a shared machine the CPU seconds are the robust measure: they do not count time spent
    waiting for a core. With one torch thread they are the compute time of the step.
    """
    t, c = time.perf_counter(), time.process_time()
    loss = ((model(xs, ys) - ys) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t, time.process_time() - c


def cpu_comparison(steps: int, batch: int) -> dict:
    torch.manual_seed(0)
    ours = GPT(ModelConfig(n_layer=N_LAYER, n_head=N_HEAD, n_embd=N_EMBD, n_positions=N_POINTS), n_dims=D)
    hf = GargTransformer(D, N_POINTS, N_EMBD, N_LAYER, N_HEAD)  # today's default attention (sdpa)
    eager = GargTransformer(D, N_POINTS, N_EMBD, N_LAYER, N_HEAD, attn_implementation="eager")
    models = {"icl.model.GPT": ours, "HF GPT2Model, sdpa (default)": hf,
              "HF GPT2Model, eager (Garg's era)": eager}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
    xs, ys = torch.randn(batch, N_POINTS, D), torch.randn(batch, N_POINTS)
    wall, cpu = {k: [] for k in models}, {k: [] for k in models}
    for name, m in models.items():  # warm-up
        step_time(m, opts[name], xs, ys)
    for _ in range(steps):  # alternate so that load changes hit both
        for name, m in models.items():
            w, c = step_time(m, opts[name], xs, ys)
            wall[name].append(w)
            cpu[name].append(c)
    tokens = batch * 2 * N_POINTS
    out = {}
    for name in models:
        w, c = min(wall[name]), min(cpu[name])
        out[name] = {"best_step_s": w, "median_step_s": statistics.median(wall[name]), "tokens_per_s": tokens / w,
                     "best_step_cpu_s": c, "tokens_per_cpu_s": tokens / c, "gflops": model_flops(batch) / w / 1e9,
                     "params": sum(p.numel() for p in models[name].parameters())}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="timed steps per model on CPU (after one warm-up step)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; 0: torch's choice)")
    p.add_argument("--gpu-steps", type=int, default=200, help="timed steps of the paper preset on CUDA")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, load {load_average():.1f}; shape: "
          f"{N_LAYER} layers, {N_HEAD} heads, width {N_EMBD}, d = {D}, {N_POINTS} points, batch {args.batch}")
    M = args.batch * 2 * N_POINTS
    gemm = gemm_gflops(M, N_EMBD, 4 * N_EMBD, dtype=np.float32, repeat=5, backend="torch")
    print(f"  torch GEMM ({M} x {N_EMBD}) @ ({N_EMBD} x {4 * N_EMBD}), float32: {gemm:.1f} GFLOP/s")
    res = cpu_comparison(args.steps, args.batch)
    for name, r in res.items():
        print(f"  {name:34s} {r['best_step_s'] * 1000:5.0f} ms/step best of {args.steps} "
              f"(median {r['median_step_s'] * 1000:.0f}), {r['tokens_per_s']:5.0f} tokens/s, "
              f"{r['gflops']:5.1f} GFLOP/s = {r['gflops'] / gemm:.0%} of GEMM, {r['params'] / 1e6:.2f} M params")
    names = list(res)
    a = res[names[0]]
    for other in names[1:]:
        b = res[other]
        print(f"  speed-up over {other}: {b['best_step_s'] / a['best_step_s']:.2f}x wall (best), "
              f"{b['median_step_s'] / a['median_step_s']:.2f}x (median), "
              f"{b['best_step_cpu_s'] / a['best_step_cpu_s']:.2f}x per CPU-second (target >= 1.3x)")
    print(f"  load at the end {load_average():.1f}")
    if torch.cuda.is_available():
        g = gpu_paper_preset(args.gpu_steps, progress=False)
        print(f"GPU {g['device']}: linear-paper preset at its final shapes")
        for line in format_throughput(g):
            print(line)
    else:
        print("GPU: not available here, paper-preset steps/s not measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
