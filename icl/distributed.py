"""torchrun's environment and the process group, in one place for training and figure builds.

Under ``torchrun`` (``WORLD_SIZE`` > 1) every process reads its rank from the environment
(:func:`dist_env`) and joins one process group (:func:`process_group`): NCCL when the ranks
run on CUDA, gloo on CPU. Whoever opens the group first owns it and closes it; a nested
``process_group`` (a figure's build around the runs it trains) reuses the open one. Without
torchrun both are no-ops, so the single-process path has no special case.

What does not live here: DistributedDataParallel and the batch split (``icl.train``).
Nothing here reimplements a launcher or a communication layer (``docs/design.md``, devices).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch

__all__ = ["dist_env", "process_group"]


def dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it.

    >>> dist_env() if "WORLD_SIZE" not in os.environ else (0, 1, 0)
    (0, 1, 0)
    """
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


@contextlib.contextmanager
def process_group(device: str | torch.device | None = None) -> Iterator[None]:
    """Join torchrun's process group for the body (no-op for one process or a group already open).

    Parameters
    ----------
    device : torch.device, "cpu", "cuda" or None
        Where this rank computes: NCCL for CUDA, gloo for CPU. None: CUDA when available. On
        CUDA the rank's own GPU (``LOCAL_RANK``) becomes the current device first, as NCCL's
        collectives need.
    """
    _, world, local_rank = dist_env()
    if world <= 1 or torch.distributed.is_initialized():
        yield
        return
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    on_cuda = torch.device(device).type == "cuda"
    if on_cuda:
        torch.cuda.set_device(local_rank)
    torch.distributed.init_process_group(backend="nccl" if on_cuda else "gloo")
    try:
        yield
        # every rank done with its collectives before any tears the group down: a gloo rank that
        # destroys the group while its peer still works can abort at exit ("terminate called
        # without an active exception", seen once in a loaded CI run)
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()
