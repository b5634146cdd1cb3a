"""Shared timing helpers for the benchmarks: best-of-N wall clock and the machine's GEMM rate.

A benchmark's seconds say little on a shared machine; what it achieves against the matrix
product of the same shapes, measured in the same run, says how close it is to the floor.
``gemm_gflops(m, k, n, batch)`` times ``A @ B`` with ``A`` of shape (batch, m, k) and ``B`` of
shape (batch, k, n) (``2 * batch * m * k * n`` flops) and returns GFLOP/s; ``best_of(fn)``
returns the best wall-clock seconds of ``repeat`` calls after ``warmup`` untimed ones.

Both run on numpy by default; ``backend="torch"`` times ``torch.bmm`` on the CPU instead
(the batched BLAS the estimators call for numpy's batched solves). Run the benchmark with
``OMP_NUM_THREADS=1`` (and ``torch.set_num_threads(1)``, see ``single_thread``) so that
the rate is one core's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

__all__ = ["best_of", "gemm_gflops", "single_thread", "load_average"]


def best_of(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn()`` after ``warmup`` untimed calls."""
    if repeat < 1:
        raise ValueError(f"best_of: repeat must be >= 1, got {repeat}")
    if warmup < 0:
        raise ValueError(f"best_of: warmup must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_gflops(
    m: int, k: int, n: int, batch: int = 1, dtype=np.float64, repeat: int = 3, backend: str = "numpy"
) -> float:
    """GFLOP/s of the product of (batch, m, k) and (batch, k, n) arrays, best of ``repeat``.

    The flop count is ``2 * batch * m * k * n`` (one multiply and one add per term).
    Small shapes are repeated inside one timing so that each timing lasts at least ~20 ms.
    """
    for name, value in (("m", m), ("k", k), ("n", n), ("batch", batch)):
        if int(value) < 1:
            raise ValueError(f"gemm_gflops: {name} must be >= 1, got {value}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, k, n)).astype(dtype)
    if backend == "torch":
        import torch

        a, b = torch.from_numpy(a), torch.from_numpy(b)
        product = lambda: torch.bmm(a, b)  # noqa: E731
    elif backend == "numpy":
        product = lambda: np.matmul(a, b)  # noqa: E731
    else:
        raise ValueError(f"gemm_gflops: backend must be 'numpy' or 'torch', got {backend!r}")
    once = best_of(product, repeat=1, warmup=1)
    inner = max(1, int(0.02 / max(once, 1e-9)))

    def many():
        for _ in range(inner):
            product()

    seconds = best_of(many, repeat=repeat, warmup=0) / inner
    return 2.0 * batch * m * k * n / seconds / 1e9


def single_thread() -> None:
    """One thread for torch too (``OMP_NUM_THREADS=1`` must be set before numpy loads)."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # torch is a core dependency; optional here for a bare numpy install
        pass


def load_average() -> float:
    """One-minute load average (NaN where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
