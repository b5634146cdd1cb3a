"""A run folder and the model it holds: creating the folder, building and loading the run's GPT.

A run folder (``runs/<config hash>`` by default) holds ``config.json`` (the resolved config),
``run.json`` (config hash, seed and the provenance of ``icl.checkpoint.provenance``),
``metrics.jsonl`` and the checkpoints. :func:`prepare_run_dir` creates it or checks that it
holds the same run (same config hash), so a rerun resumes instead of mixing two runs;
:func:`build_model` builds a run's GPT deterministically from ``cfg.seed`` and
:func:`load_model` restores it from the newest intact checkpoint of this run (for evaluation and
figures; :func:`checkpoint_refusal` says why a checkpoint belongs to another run).

Safety of a run folder (``docs/training.md``): :func:`run_lock` holds an exclusive
``fcntl.flock`` on ``run.lock`` for the whole training, so a second process on the same folder
stops at once with one line naming the holder (pid, host, start time); the OS drops the lock
when the holder exits or crashes. :func:`check_memory` refuses a model whose parameters, AdamW
state and activations cannot fit before anything is allocated. :func:`truncate_metrics` drops a
torn last line of ``metrics.jsonl`` (a crash mid-write) with a warning.

What does not live here: writing checkpoints (``icl.checkpoint``) and the loop that writes them
(``icl.train``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import torch

from icl.checkpoint import atomic_write_text, latest_checkpoint, provenance
from icl.config import RunConfig, config_from_dict, config_hash, config_to_dict
from icl.errors import CheckpointError, ConfigError, RunLockedError
from icl.heads import quantile_edges
from icl.model import GPT
from icl.tasks import Streams, Task, make_task

__all__ = ["build_model", "load_model", "prepare_run_dir", "truncate_metrics", "bar_edges", "BINS_DOMAIN",
           "run_lock", "checkpoint_refusal", "train_memory_bytes", "check_memory", "LOCK_FILE"]

BINS_DOMAIN = 0x6269  # "bi": first entropy word of the prompts that place the bar head's bins
_BIN_PROMPTS = 4096  # prompts (of task.n_points pairs each) whose y's give the bin edges' quantiles
LOCK_FILE = "run.lock"  # holds the flock of the training process and its pid, host and start time


def bar_edges(cfg: RunConfig, task: Task) -> torch.Tensor:
    """Bin edges of the bar head: quantiles of y over fresh prompts of the run's task (``n_bins + 1``,).

    The prompts come from ``Streams.from_key(BINS_DOMAIN, cfg.seed)``, disjoint from the training
    and evaluation streams, so the edges are a pure function of the config (Mueller et al. 2022,
    Sec. 4: borders at quantiles of the prior predictive of y).
    """
    ys = task.sample(_BIN_PROMPTS, cfg.task.n_points, Streams.from_key(BINS_DOMAIN, cfg.seed)).ys
    return quantile_edges(ys, cfg.model.n_bins)


def build_model(cfg: RunConfig, task: Task | None = None) -> GPT:
    """The GPT of a run, initialised from ``cfg.seed`` (deterministic); a bar head gets :func:`bar_edges`."""
    task = make_task(cfg.task) if task is None else task
    edges = bar_edges(cfg, task) if cfg.model.head == "bar" else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return GPT(cfg.model, n_dims=task.d, n_out=task.n_classes if task.is_classification else 1, bar_edges=edges)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, RunConfig]:
    """The model of a run's newest intact checkpoint (eval mode) and the run's config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder: config.json is missing")
    cfg = config_from_dict(json.loads(cfg_path.read_text()))
    found = latest_checkpoint(run_dir, accept=checkpoint_refusal(cfg))
    if found is None:
        raise CheckpointError(f"run {run_dir} has no checkpoint of its own yet")
    model = build_model(cfg)
    model.load_state_dict(found[1]["model"])
    return model.to(device).eval(), cfg


def checkpoint_refusal(cfg: RunConfig, task: Task | None = None) -> Callable[[dict], str | None]:
    """The ``accept`` test of ``icl.checkpoint.latest_checkpoint`` for the run ``cfg``.

    A checkpoint is refused (the reason is returned) when its stored config hash differs from
    ``config_hash(cfg)``, or, for a checkpoint without one, when its model tensors do not have
    the shapes of ``cfg``'s model; so another run's checkpoint is never continued silently.
    """
    want = config_hash(cfg)
    shapes: dict[str, tuple] = {}

    def refusal(state: dict) -> str | None:
        got = state.get("config_hash")
        if got is not None:
            return None if got == want else f"it belongs to another run (config hash {got}, this run {want})"
        if not shapes:
            shapes.update({k: tuple(v.shape) for k, v in build_model(cfg, task).state_dict().items()})
        model = state.get("model")
        theirs = {k: tuple(v.shape) for k, v in model.items()} if isinstance(model, dict) else {}
        return None if theirs == shapes else "its model has another architecture than this run's"

    return refusal


def prepare_run_dir(cfg: RunConfig, run_dir: str | Path) -> Path:
    """Create the run folder with config.json and run.json, or check that it holds this very run.

    Raises
    ------
    ConfigError
        ``run_dir`` holds a run of another config (or an unreadable config.json).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.json"
    if cfg_path.is_file():
        try:
            old = config_from_dict(json.loads(cfg_path.read_text()))
        except (ValueError, ConfigError) as err:
            raise ConfigError(f"{cfg_path} is unreadable ({err}); choose another --out") from None
        if config_hash(old) != config_hash(cfg):
            raise ConfigError(
                f"{run_dir} holds a run with another config (hash {config_hash(old)}, this one {config_hash(cfg)}); "
                "choose another --out")
    else:
        atomic_write_text(cfg_path, json.dumps(config_to_dict(cfg), indent=2))
        run = {"config_hash": config_hash(cfg), "seed": cfg.seed, **provenance()}
        atomic_write_text(run_dir / "run.json", json.dumps(run, indent=2))
    return run_dir


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics lines written after ``step`` (the resumed run recomputes them).

    A line that is not JSON (the torn last line of a process killed mid-write) is dropped with
    a warning instead of blocking the resume.
    """
    if not path.is_file():
        return
    keep, torn = [], []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record_step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            torn.append(number)
            continue
        if record_step <= step:
            keep.append(line)
    if torn:
        print(f"icl: warning: {path}: dropped unreadable line(s) {', '.join(map(str, torn))} "
              "(a write interrupted by a crash)", file=sys.stderr)
    atomic_write_text(path, "\n".join(keep) + "\n" if keep else "")


# ----------------------------------------------------------------------------------------
# The lock of a run folder


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` (created if needed) for the ``with`` block.

    ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``run_dir/run.lock``, which then records the holder's
    pid, host and start time. The OS releases a flock when its process exits or crashes, so a
    stale lock file never blocks a rerun. On a platform without ``fcntl`` (Windows) no lock is taken,
    nor (with a warning) on a file system that refuses flock (ENOSYS / EOPNOTSUPP / ENOLCK).

    Raises
    ------
    RunLockedError
        Another process holds the lock; the message names it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield Path(run_dir)
        return
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            try:
                h = json.loads(holder)
                who = f"pid {h['pid']} on {h['host']}, started {h['started']}"
            except (ValueError, KeyError, TypeError):
                who = "a process that is still starting"
            raise RunLockedError(f"{run_dir} is being trained by another process ({who}); "
                                 "wait for it or stop it, or choose another --out") from None
        except OSError as err:
            if err.errno not in (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK):
                raise
            # a file system without flock (e.g. Lustre mounted without -o flock): train unlocked, say so
            warnings.warn(f"{run_dir}: the file system does not support flock ({err.strerror}); training without "
                          "the run-folder lock: do not start a second process on this folder", stacklevel=3)
            yield run_dir
            return
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield run_dir
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


# ----------------------------------------------------------------------------------------
# Will it fit?


def train_memory_bytes(cfg: RunConfig, n_dims: int, n_out: int = 1, world: int = 1) -> int:
    """A lower bound on the memory one training process needs, in bytes (float32).

    ``4 (4 P + 16 B T C L)``: P parameters (counted on the meta device, nothing allocated) held
    as weights, gradients and AdamW's two moments; and the activations autograd keeps for the
    backward pass, about 16 values per token, width unit and layer (layer norms, q, k, v, the
    attention output and its projection, the 4C-wide MLP before and after GELU) for the
    process's ``B = batch_size / world`` prompts of ``T = 2 n_points`` tokens.
    """
    from icl.heads import make_head
    from icl.model import GPT

    m = cfg.model
    edges = torch.linspace(0.0, 1.0, m.n_bins + 1) if m.head == "bar" else None
    width = make_head(m, n_out, edges).width
    plain = dataclasses.replace(m, head="mean")  # the same trunk; the read-out is `width` wide
    with torch.device("meta"):
        n_params = sum(p.numel() for p in GPT(plain, n_dims=n_dims, n_out=width).parameters())
    batch = max(1, cfg.train.batch_size // max(1, world))
    activations = 16 * batch * 2 * cfg.task.n_points * m.n_embd * m.n_layer
    return 4 * (4 * n_params + activations)


def _memory_available(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free), f"{device} has {_gb(free)} free"
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf (Windows)
        return 2**63, "unknown"
    return int(total), f"this machine has {_gb(total)} of memory"


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n < 2**40 else f"{n / 2**40:.1f} TiB"


def check_memory(cfg: RunConfig, task: Task, device: torch.device, world: int = 1) -> int:
    """Refuse a run that cannot fit on ``device`` before anything is allocated; returns the estimate.

    Raises
    ------
    ConfigError
        :func:`train_memory_bytes` exceeds the device's free memory (CUDA) or the machine's
        physical memory (CPU); the message names ``model.n_embd`` and ``model.n_layer``.
    """
    n_out = task.n_classes if task.is_classification else 1
    need = train_memory_bytes(cfg, task.d, n_out, world)
    have, where = _memory_available(device)
    if need > have:
        m = cfg.model
        raise ConfigError(
            f"model.n_embd={m.n_embd}, model.n_layer={m.n_layer}: training needs at least {_gb(need)} (parameters, "
            f"AdamW state, activations of train.batch_size={cfg.train.batch_size}) but {where}; "
            "lower model.n_embd, model.n_layer or train.batch_size")
    return need
