"""Training loop: AdamW, LR schedules, Garg's curriculum, atomic checkpoints, exact resume, DDP.

One function, :func:`train`, reads top to bottom and is built from small pure helpers:
:func:`lr_at` (constant-with-warmup, cosine, warmup-stable-decay), :func:`curriculum_at`
(Garg et al. 2022, Sec. 3: input dimension and prompt length grow every ``interval`` steps),
:func:`batch_at` (batch t is a pure function of (run seed, t, stream), see ``icl.tasks``) and
:func:`evaluate_curve` (normalised error per prefix length on held-out prompts).

A run folder holds ``config.json`` (the resolved config), ``run.json`` (provenance: config
hash, package versions, git commit), ``metrics.jsonl`` (one JSON object per line: training
records every ``log_every`` steps, ``"kind": "eval"`` records with an error curve) and
``checkpoint-<step>.pt`` files. A checkpoint (model, optimizer, scheduler, curriculum, RNG)
is written to a temporary file and renamed, then its SHA-256 manifest
``checkpoint-<step>.json`` is written the same way; a checkpoint without a matching manifest is
incomplete or corrupted and is never used silently. Checkpoints load with
``torch.load(weights_only=True)``: no pickled code runs.

Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) every rank builds the same global batch
and trains on its slice inside ``DistributedDataParallel`` (NCCL on CUDA, gloo on CPU), so the
run equals the single-process run with the same global batch up to floating-point reduction order.
What does not live here: the model (``icl.model``), tasks (``icl.tasks``), full evaluation
against baselines (``icl.evaluate``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from icl.config import ConfigError, RunConfig, TrainConfig, config_from_dict, config_hash, config_to_dict
from icl.model import GPT
from icl.tasks import Batch, Task, eval_generator, make_task, train_streams

__all__ = [
    "train",
    "load_model",
    "load_checkpoint",
    "latest_checkpoint",
    "lr_at",
    "curriculum_at",
    "batch_at",
    "evaluate_curve",
    "build_model",
    "resolve_device",
    "CheckpointError",
    "NonFiniteLossError",
]

_CKPT = re.compile(r"^checkpoint-(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupted or belongs to another run."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left intact."""


# ----------------------------------------------------------------------------------------
# Pure helpers


def lr_at(step: int, tc: TrainConfig) -> float:
    """Learning rate of step ``step`` (0-based).

    Linear warmup over ``warmup`` steps to ``lr``, then
    ``constant``: lr; ``cosine``: lr (m + (1 - m)(1 + cos(pi p)) / 2) with p the progress after
    warmup and m = ``min_lr_frac``; ``wsd`` (warmup-stable-decay, "infinite" schedule): lr until
    the last ``decay_frac`` of the steps, then linear decay to m lr.

    >>> from icl.config import TrainConfig
    >>> tc = TrainConfig(steps=10, lr=1.0, warmup=2, schedule="wsd", decay_frac=0.5)
    >>> [round(lr_at(t, tc), 2) for t in range(10)]
    [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2]
    """
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    m = tc.min_lr_frac
    if tc.schedule == "constant":
        return tc.lr
    if tc.schedule == "cosine":
        p = (step - tc.warmup) / max(1, tc.steps - tc.warmup)
        return tc.lr * (m + (1 - m) * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))
    decay_steps = max(1, round(tc.decay_frac * tc.steps))
    start = tc.steps - decay_steps
    if step < start:
        return tc.lr
    return tc.lr * (m + (1 - m) * (tc.steps - step) / decay_steps)


def curriculum_at(step: int, cfg: RunConfig) -> tuple[int, int]:
    """(active input dimension, prompt length) at ``step``: Garg et al.'s curriculum or the full task.

    >>> from icl.config import load_preset
    >>> cfg = load_preset("linear-paper")
    >>> curriculum_at(0, cfg), curriculum_at(2000, cfg), curriculum_at(10**6, cfg)
    ((5, 11), (6, 13), (20, 41))
    """
    c, t = cfg.train.curriculum, cfg.task
    if not c.enabled:
        return t.d, t.n_points
    k = step // c.interval
    return min(t.d, c.dims_start + k * c.dims_inc), min(t.n_points, c.points_start + k * c.points_inc)


def batch_at(cfg: RunConfig, step: int, task: Task | None = None, rank: int = 0, world_size: int = 1) -> Batch:
    """The training batch of ``step``: a pure function of (cfg.seed, step) and the config.

    The global batch (``train.batch_size`` prompts) is drawn from ``icl.tasks.train_streams(seed,
    step)`` with the curriculum's dimension and length; rank r of ``world_size`` gets rows
    ``[r B / W, (r + 1) B / W)``.
    """
    task = make_task(cfg.task) if task is None else task
    d, n = curriculum_at(step, cfg)
    full = task.sample(cfg.train.batch_size, n, train_streams(cfg.seed, step), d_active=d)
    if world_size == 1:
        return full
    per = cfg.train.batch_size // world_size
    rows = slice(rank * per, (rank + 1) * per)
    params = full.params[rows] if isinstance(full.params, torch.Tensor) else {
        k: v[rows] for k, v in full.params.items()}
    return Batch(full.xs[rows], full.ys[rows], params)


def loss_fn(preds: torch.Tensor, ys: torch.Tensor, classification: bool) -> torch.Tensor:
    """Mean squared error over every prompt and position (cross-entropy for classification)."""
    if classification:
        return F.cross_entropy(preds.reshape(-1, preds.shape[-1]).float(), ys.reshape(-1))
    return F.mse_loss(preds.float(), ys.float())


@torch.no_grad()
def evaluate_curve(model: GPT, task: Task, n_points: int, n_prompts: int, seed: int, device="cpu") -> list[float]:
    """Error per prefix length on fresh prompts from ``eval_generator(seed)``.

    Regression: mean of (pred_k - y_k)^2 / E[y^2] (1 for the zero predictor). Classification:
    the error rate at each position.
    """
    batch = task.sample(n_prompts, n_points, eval_generator(seed)).to(device)
    preds = model.predict_prefixes(batch.xs, batch.ys)
    if task.is_classification:
        return (preds.argmax(-1) != batch.ys).float().mean(0).tolist()
    return (((preds - batch.ys) ** 2).mean(0) / task.y_second_moment).tolist()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a ConfigError."""
    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"train.device: must be auto, cpu or cuda, got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("train.device: cuda requested but no CUDA device is available (use auto or cpu)")
    return torch.device("cuda", local_rank)


def build_model(cfg: RunConfig, task: Task | None = None) -> GPT:
    """The GPT of a run, initialised from ``cfg.seed`` (deterministic)."""
    task = make_task(cfg.task) if task is None else task
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return GPT(cfg.model, n_dims=task.d, n_out=task.n_classes if task.is_classification else 1)


def _optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, LayerNorm or embeddings' vectors)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2))


# ----------------------------------------------------------------------------------------
# Checkpoints


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _save_checkpoint(run_dir: Path, state: dict, keep: int) -> Path:
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    path = run_dir / f"checkpoint-{state['step']:08d}.pt"
    _atomic_write_bytes(path, data)
    manifest = {"step": state["step"], "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    _atomic_write_bytes(path.with_suffix(".json"), json.dumps(manifest).encode())
    for old in _checkpoints(run_dir)[keep:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
    return path


def _checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint files of a run, newest first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*.pt") if (m := _CKPT.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load_checkpoint(path: str | Path) -> dict:
    """Load and verify one checkpoint (``weights_only=True``); CheckpointError with the reason otherwise."""
    path = Path(path)
    manifest_path = path.with_suffix(".json")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not manifest_path.is_file():
        raise CheckpointError(f"checkpoint {path} has no manifest {manifest_path.name}: it was not completely written")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected_sha, expected_bytes = manifest["sha256"], int(manifest["bytes"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint manifest {manifest_path} is unreadable: {err}") from None
    data = path.read_bytes()
    if len(data) != expected_bytes:
        raise CheckpointError(f"checkpoint {path} is truncated: {len(data)} bytes, expected {expected_bytes}")
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise CheckpointError(f"checkpoint {path} is corrupted: its SHA-256 does not match the manifest")
    import io

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # a file that matches its manifest but still fails is reported, not trusted
        raise CheckpointError(f"checkpoint {path} cannot be loaded: {err}") from None


def latest_checkpoint(run_dir: str | Path, warn: bool = True) -> tuple[Path, dict] | None:
    """The newest intact checkpoint of a run (newer damaged ones are reported and skipped), or None."""
    damaged = []
    for path in _checkpoints(Path(run_dir)):
        try:
            return path, load_checkpoint(path)
        except CheckpointError as err:
            damaged.append(str(err))
            if warn:
                print(f"icl: warning: {err}; using the previous checkpoint", file=sys.stderr)
    if damaged:
        raise CheckpointError(f"no intact checkpoint in {run_dir}: {damaged[-1]}")
    return None


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, RunConfig]:
    """The model of a run's newest intact checkpoint (eval mode) and the run's config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder: config.json is missing")
    cfg = config_from_dict(json.loads(cfg_path.read_text()))
    found = latest_checkpoint(run_dir)
    if found is None:
        raise CheckpointError(f"run {run_dir} has no checkpoint yet")
    model = build_model(cfg)
    model.load_state_dict(found[1]["model"])
    return model.to(device).eval(), cfg


# ----------------------------------------------------------------------------------------
# Run folder bookkeeping


def _provenance(cfg: RunConfig) -> dict:
    import numpy

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"config_hash": config_hash(cfg), "seed": cfg.seed, "git_commit": commit,
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__}}


def _prepare_run_dir(cfg: RunConfig, run_dir: Path) -> None:
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
        _atomic_write_bytes(cfg_path, json.dumps(config_to_dict(cfg), indent=2).encode())
        _atomic_write_bytes(run_dir / "run.json", json.dumps(_provenance(cfg), indent=2).encode())


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics lines written after ``step`` (they will be recomputed by the resumed run)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    _atomic_write_bytes(path, ("\n".join(keep) + "\n" if keep else "").encode())


# ----------------------------------------------------------------------------------------
# The loop


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment (0, 1, 0 without it)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def train(cfg: RunConfig, out_dir: str | Path, progress: bool = True, device: str = "auto",
          max_steps: int | None = None) -> Path:
    """Train (or resume) the run ``cfg`` in ``out_dir``; returns the run folder.

    Parameters
    ----------
    cfg : RunConfig
    out_dir : path
        Run folder. If it already holds this run (same config hash), training resumes from the
        newest intact checkpoint; a finished run returns at once.
    progress : bool
        Show a tqdm bar and one-line status messages (rank 0 only).
    device : "auto", "cpu" or "cuda"
        Overrides ``cfg.train.device`` unless "auto".
    max_steps : int, optional
        Stop (with a checkpoint) once this many steps are done, as an interruption would;
        calling again resumes.

    Raises
    ------
    ConfigError
        ``out_dir`` holds another run, bad device, batch not divisible by the world size.
    CheckpointError
        Every checkpoint in ``out_dir`` is damaged.
    NonFiniteLossError
        The loss became NaN/inf; nothing is written for that step.
    """
    tc, run_dir = cfg.train, Path(out_dir)
    rank, world, local_rank = _dist_env()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if (progress and rank == 0) else (lambda msg: None)
    dev = resolve_device(tc.device if device == "auto" else device, local_rank)
    if world > 1 and tc.batch_size % world:
        raise ConfigError(f"train.batch_size: {tc.batch_size} is not divisible by the world size {world}")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL communicators and autocast use the current device
    owns_group = False
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
        owns_group = True
    try:
        return _train(cfg, run_dir, tc, dev, rank, world, say, progress, max_steps)
    finally:
        if owns_group:
            torch.distributed.destroy_process_group()


def _train(cfg, run_dir, tc, dev, rank, world, say, progress, max_steps) -> Path:
    from tqdm.auto import tqdm

    if rank == 0:
        _prepare_run_dir(cfg, run_dir)
    if world > 1:
        torch.distributed.barrier()
    task = make_task(cfg.task)
    model = build_model(cfg, task)
    opt = _optimizer(model, tc)
    start, elapsed = 0, 0.0
    found = latest_checkpoint(run_dir, warn=rank == 0)
    if found is not None:
        path, state = found
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        if dev.type == "cuda" and state["rng"].get("cuda"):
            torch.cuda.set_rng_state(state["rng"]["cuda"], dev)
        start, elapsed = int(state["step"]), float(state["elapsed_s"])
        if start >= tc.steps:
            say(f"icl: run {run_dir} already finished ({start} steps); nothing to do")
            return run_dir
        say(f"icl: resuming {run_dir} from step {start} ({path.name})")
    else:
        say(f"icl: training {run_dir} ({cfg.task.name}, {model.num_params():,} parameters, {tc.steps} steps, {dev})")
    if rank == 0:
        _truncate_metrics(run_dir / "metrics.jsonl", start)
    stop = tc.steps if max_steps is None else min(tc.steps, max_steps)

    model.to(dev)
    for group_state in opt.state.values():  # optimizer moments follow the model to the device
        for k, v in group_state.items():
            if isinstance(v, torch.Tensor) and k != "step":
                group_state[k] = v.to(dev)
    use_amp = tc.amp_dtype == "bfloat16"
    if dev.type != "cuda" and (use_amp or tc.compile):
        warnings.warn("train.amp_dtype=bfloat16 and train.compile apply on CUDA only; the CPU run is eager float32",
                      stacklevel=2)
        use_amp = False
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if tc.compile and dev.type == "cuda":
        net = torch.compile(net)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext

    metrics = open(run_dir / "metrics.jsonl", "a") if rank == 0 else None
    bar = tqdm(total=stop, initial=start, disable=not (progress and rank == 0), desc="train", file=sys.stderr)
    t0, last_good = time.perf_counter(), None
    try:
        net.train()
        for step in range(start, stop):
            batch = batch_at(cfg, step, task, rank, world).to(dev)
            lr = lr_at(step, tc)
            for group in opt.param_groups:
                group["lr"] = lr
            with autocast():
                preds = net(batch.xs, batch.ys)
            loss = loss_fn(preds, batch.ys, task.is_classification)
            seen = loss.detach().clone()
            if world > 1:
                torch.distributed.all_reduce(seen)
                seen /= world
            if not torch.isfinite(seen):
                last = _checkpoints(run_dir)
                where = f"the last good checkpoint {last[0]} is intact" if last else "no checkpoint was written yet"
                raise NonFiniteLossError(f"loss is {seen.item()} at step {step}; stopped, {where}; "
                                         "lower train.lr, add train.warmup or set train.grad_clip")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            done = step + 1
            bar.update(1)
            if done % tc.log_every == 0 or done == stop:
                now = elapsed + time.perf_counter() - t0
                d_cur, n_cur = curriculum_at(step, cfg)
                record = {"step": done, "loss": seen.item(), "lr": lr, "d": d_cur, "n_points": n_cur,
                          "elapsed_s": round(now, 3)}
                bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
                if metrics is not None:
                    metrics.write(json.dumps(record) + "\n")
                    metrics.flush()
            if (tc.eval_every and done % tc.eval_every == 0) or done == tc.steps:
                if rank == 0:
                    curve = evaluate_curve(model, task, cfg.task.n_points, tc.eval_prompts, cfg.seed, dev)
                    metrics.write(json.dumps({"step": done, "kind": "eval", "error": curve}) + "\n")
                    metrics.flush()
            if done % tc.checkpoint_every == 0 or done == stop:
                if rank == 0:
                    state = {"step": done, "model": model.state_dict(), "optimizer": opt.state_dict(),
                             "scheduler": {"schedule": tc.schedule, "step": done, "lr": lr},
                             "curriculum": dict(zip(("d", "n_points"), curriculum_at(done, cfg))),
                             "rng": {"torch": torch.get_rng_state(),
                                     "cuda": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None},
                             "elapsed_s": elapsed + time.perf_counter() - t0, "config_hash": config_hash(cfg)}
                    last_good = _save_checkpoint(run_dir, state, tc.keep_checkpoints)
                if world > 1:
                    torch.distributed.barrier()
    finally:
        bar.close()
        if metrics is not None:
            metrics.close()
    if stop == tc.steps:
        say(f"icl: finished {run_dir} at step {stop}" + (f" ({last_good.name})" if last_good else ""))
    else:
        say(f"icl: stopped {run_dir} at step {stop} of {tc.steps}; rerun to resume")
    return run_dir
