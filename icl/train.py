"""Training loop: AdamW, LR schedules, Garg's curriculum, checkpoints with exact resume, DDP.

One function, :func:`train`, reads top to bottom and is built from small pure helpers:
:func:`lr_at` (constant-with-warmup, cosine, warmup-stable-decay), :func:`curriculum_at`
(Garg et al. 2022, Sec. 3: input dimension and prompt length grow every ``interval`` steps),
:func:`batch_at` (batch t is a pure function of (run seed, t, stream), see ``icl.tasks``),
:func:`loss_fn` (the read-out head's loss: squared error, Gaussian NLL or the bar NLL) and
:func:`evaluate_curve` (normalised error per prefix length on held-out prompts). What the loop
carries from step to step is one :class:`TrainState` (model, optimizer, step, elapsed time);
a checkpoint is that state plus the schedule position, the curriculum and the RNG state, so a
resumed run continues exactly where the interrupted one stopped. A fresh run seeds torch's
global generator (dropout) from the run seed (:func:`dropout_seed`), so two fresh runs of one
config are identical.

Safety (``docs/training.md``): rank 0 holds the run folder's lock (``icl.run.run_lock``) for
the whole training; at start it sweeps temporary files of crashed writes, drops a torn last
metrics line, and sets aside checkpoints of another run (stored config hash differs: they go
to ``rejected/`` and the newest checkpoint of this run is used, or a fresh start when there is
none). A model that cannot fit is refused before allocation (``icl.run.check_memory``).
SIGINT and SIGTERM finish the current step, write a checkpoint and raise
:class:`~icl.errors.TrainingInterrupted`; the resumed run is bit-exact with an uninterrupted one.

The loop writes into a run folder (``icl.run``): ``metrics.jsonl`` (one JSON object per line:
training records every ``log_every`` steps, ``"kind": "eval"`` records with an error curve and,
for a distributional head, the NLL per prefix length)
and ``checkpoint-<step>.pt`` files with their SHA-256 manifests, written atomically by
``icl.checkpoint`` and loaded without running pickled code. ``load_model`` and ``build_model``
(``icl.run``) and ``load_checkpoint`` (``icl.checkpoint``) are re-exported here.

Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) every rank builds the same global batch
and trains on its slice inside ``DistributedDataParallel`` (the process group comes from
``icl.distributed``), so the run equals the single-process run with the same global batch up to
floating-point reduction order.
What does not live here: the model (``icl.model``), tasks (``icl.tasks``), checkpoint files
(``icl.checkpoint``), the run folder (``icl.run``), evaluation against baselines (``icl.evaluate``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from icl.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint, sweep_temp_files
from icl.config import RunConfig, TrainConfig, config_hash
from icl.distributed import dist_env, process_group
from icl.errors import CheckpointError, ConfigError, NonFiniteLossError, RunLockedError, TrainingInterrupted
from icl.model import GPT
from icl.run import (build_model, check_memory, checkpoint_refusal, load_model, prepare_run_dir, run_lock,
                     truncate_metrics)
from icl.sinks import open_sinks
from icl.tasks import Batch, Task, eval_generator, make_task, train_streams

__all__ = [
    "train",
    "TrainState",
    "load_model",
    "load_checkpoint",
    "latest_checkpoint",
    "lr_at",
    "curriculum_at",
    "batch_at",
    "evaluate_curve",
    "evaluate_nll",
    "build_model",
    "resolve_device",
    "dropout_seed",
    "CheckpointError",
    "NonFiniteLossError",
    "TrainingInterrupted",
]


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


def loss_fn(preds: torch.Tensor, ys: torch.Tensor, classification: bool, head=None) -> torch.Tensor:
    """The loss of the model's read-out head, averaged over every prompt and position.

    Mean head: squared error (cross-entropy of the logits for classification); Gaussian head: the
    Gaussian negative log-likelihood; bar head: -log p(y) of the bar distribution (its
    cross-entropy plus log bin width). ``head`` is ``model.head`` (None: the mean head).
    """
    if classification:
        return F.cross_entropy(preds.reshape(-1, preds.shape[-1]).float(), ys.reshape(-1))
    if head is None:
        return F.mse_loss(preds.float(), ys.float())
    return head.loss(preds, ys)


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


@torch.no_grad()
def evaluate_nll(model: GPT, task: Task, n_points: int, n_prompts: int, seed: int, device="cpu") -> list[float] | None:
    """Mean -log p_model(y_k | prefix) per prefix length on the prompts of :func:`evaluate_curve`, in nats
    (None for the mean head, which predicts no distribution)."""
    if not model.head.distributional:
        return None
    batch = task.sample(n_prompts, n_points, eval_generator(seed)).to(device)
    return (-model.log_prob(batch.xs, batch.ys)).mean(0).tolist()


def dropout_seed(seed: int) -> int:
    """The seed of torch's global generator at the start of a fresh run: a pure function of the run seed.

    A hash of ("dropout", seed), so dropout masks do not share a stream with the initial
    weights (``icl.run.build_model`` seeds a private generator with ``seed``).

    >>> dropout_seed(0) == dropout_seed(0) != dropout_seed(1)
    True
    """
    digest = hashlib.sha256(f"icl-dropout:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # < 2**63, as torch.manual_seed takes


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a ConfigError."""
    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"train.device: must be auto, cpu or cuda, got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("train.device: cuda requested but no CUDA device is available (use auto or cpu)")
    return torch.device("cuda", local_rank)


def _optimizer(model: torch.nn.Module, tc: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, LayerNorm or embeddings' vectors)."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": tc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(tc.beta1, tc.beta2))


# ----------------------------------------------------------------------------------------
# The state the loop carries, and this process's place under torchrun


@dataclass
class TrainState:
    """What the loop carries from step to step; a checkpoint saves it and a resumed run restores it."""

    model: GPT  # the bare model (not the DDP / compiled wrapper), on the training device
    optimizer: torch.optim.Optimizer  # AdamW; the learning rate is set every step from lr_at(step)
    step: int = 0  # optimizer steps done
    elapsed_s: float = 0.0  # training wall time of the run so far, over every process that resumed it

    @classmethod
    def start(cls, cfg: RunConfig, task: Task, device: torch.device, checkpoint: dict | None = None) -> "TrainState":
        """A fresh state (model initialised from ``cfg.seed``) or the one a checkpoint saved, on ``device``."""
        model = build_model(cfg, task)
        state = cls(model, _optimizer(model, cfg.train))
        if checkpoint is None:  # every rank the same stream; a checkpoint saves rank 0's, which equals the others'
            torch.manual_seed(dropout_seed(cfg.seed))
        else:
            model.load_state_dict(checkpoint["model"])
            state.optimizer.load_state_dict(checkpoint["optimizer"])
            torch.set_rng_state(checkpoint["rng"]["torch"])
            if device.type == "cuda" and checkpoint["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(checkpoint["rng"]["cuda"], device)
            state.step, state.elapsed_s = int(checkpoint["step"]), float(checkpoint["elapsed_s"])
        model.to(device)
        for moments in state.optimizer.state.values():  # optimizer moments follow the model to the device
            for k, v in moments.items():
                if isinstance(v, torch.Tensor) and k != "step":
                    moments[k] = v.to(device)
        return state

    def checkpoint(self, cfg: RunConfig, device: torch.device) -> dict:
        """The checkpoint of this state: tensors and plain containers only (loads with weights_only=True)."""
        return {"step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": {"schedule": cfg.train.schedule, "step": self.step, "lr": lr_at(self.step - 1, cfg.train)},
                "curriculum": dict(zip(("d", "n_points"), curriculum_at(self.step, cfg))),
                "rng": {"torch": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
                "elapsed_s": self.elapsed_s, "config_hash": config_hash(cfg)}


@dataclass(frozen=True)
class _Proc:
    """This process: its device, its rank among ``world`` torchrun processes, and whether it reports."""

    device: torch.device
    rank: int = 0
    world: int = 1
    progress: bool = True

    def say(self, message: str) -> None:
        if self.progress and self.rank == 0:
            print(message, file=sys.stderr, flush=True)

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on at least one rank (every rank gets the same answer)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over the ranks (a copy; ``value`` itself is untouched)."""
        value = value.detach().clone()
        if self.world > 1:
            torch.distributed.all_reduce(value)
            value /= self.world
        return value


def _wrap(model: GPT, tc: TrainConfig, proc: _Proc):
    """(network to call, autocast context factory): DDP across ranks, torch.compile and bf16 on CUDA only."""
    use_amp = tc.amp_dtype == "bfloat16"
    if proc.device.type != "cuda" and (use_amp or tc.compile):
        warnings.warn("train.amp_dtype=bfloat16 and train.compile apply on CUDA only; the CPU run is eager float32",
                      stacklevel=3)
        use_amp = False
    net = model
    if proc.world > 1:
        ids = [proc.device.index] if proc.device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if tc.compile and proc.device.type == "cuda":
        net = torch.compile(net)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else contextlib.nullcontext
    return net, autocast


# ----------------------------------------------------------------------------------------
# The loop


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
        ``out_dir`` holds another run, bad device, batch not divisible by the world size, a
        model that cannot fit in memory (naming ``model.n_embd`` and ``model.n_layer``).
    RunLockedError
        Another process is training in ``out_dir`` (the message names its pid, host and start).
    CheckpointError
        Every checkpoint in ``out_dir`` is damaged.
    NonFiniteLossError
        The loss became NaN/inf; nothing is written for that step.
    TrainingInterrupted
        SIGINT or SIGTERM arrived: the step in progress was finished and checkpointed.
    """
    tc = cfg.train
    rank, world, local_rank = dist_env()
    dev = resolve_device(tc.device if device == "auto" else device, local_rank)
    if world > 1 and tc.batch_size % world:
        raise ConfigError(f"train.batch_size: {tc.batch_size} is not divisible by the world size {world}")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL communicators and autocast use the current device
    with process_group(dev):
        return _train(cfg, Path(out_dir), _Proc(dev, rank, world, progress), max_steps)


class _Signals:
    """SIGINT / SIGTERM while training: remember the first and let the loop finish its step.

    The previous handlers come back at once, so a second signal acts as usual (KeyboardInterrupt,
    termination), and on exit. Python takes handlers in the main thread only; elsewhere nothing
    is installed and signals act as usual.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self) -> "_Signals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.received = signum
        self._restore()

    def _restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)

    def __exit__(self, *exc) -> None:
        self._restore()

    def interrupted(self, step: int, steps: int, checkpoint: Path | None) -> TrainingInterrupted:
        """The exception to raise once the checkpoint of ``step`` is written (on rank 0: ``checkpoint``)."""
        signum = int(self.received or signal.SIGTERM)  # a rank that saw no signal stops for one that did
        wrote = checkpoint.name if checkpoint is not None else "its checkpoint"
        return TrainingInterrupted(f"interrupted by {signal.Signals(signum).name} at step {step} of {steps}; wrote "
                                   f"{wrote}; rerun the same command to resume", signum)


def _train(cfg: RunConfig, run_dir: Path, proc: _Proc, max_steps: int | None) -> Path:
    """Refuse what cannot fit, take the run folder's lock (rank 0), then train under it."""
    task = make_task(cfg.task)
    check_memory(cfg, task, proc.device, proc.world)
    with contextlib.ExitStack() as held:
        refused = None
        if proc.rank == 0:
            try:
                held.enter_context(run_lock(run_dir))
            except (RunLockedError, OSError) as err:
                refused = err
        if proc.any(refused is not None):  # every rank stops, not only the one that failed
            raise refused or RunLockedError(f"{run_dir}: rank 0 could not lock the run folder")
        with _Signals() as signals:
            return _train_locked(cfg, run_dir, proc, task, max_steps, signals)


def _train_locked(cfg: RunConfig, run_dir: Path, proc: _Proc, task: Task, max_steps: int | None,
                  signals: _Signals) -> Path:
    from tqdm.auto import tqdm

    tc = cfg.train
    refusal, found = checkpoint_refusal(cfg, task), None
    if proc.rank == 0:
        prepare_run_dir(cfg, run_dir)
        for path in sweep_temp_files(run_dir):
            proc.say(f"icl: removed {path.name}, left by an interrupted write")
        found = latest_checkpoint(run_dir, accept=refusal, set_aside=True)  # another run's go to rejected/
    proc.barrier()
    if proc.rank != 0:
        found = latest_checkpoint(run_dir, warn=False, accept=refusal)
    state = TrainState.start(cfg, task, proc.device, checkpoint=found[1] if found else None)
    if found is None:
        proc.say(f"icl: training {run_dir} ({cfg.task.name}, {state.model.num_params():,} parameters, "
                 f"{tc.steps} steps, {proc.device})")
    elif state.step >= tc.steps:
        proc.say(f"icl: run {run_dir} already finished ({state.step} steps); nothing to do")
        return run_dir
    else:
        proc.say(f"icl: resuming {run_dir} from step {state.step} ({found[0].name})")
    if proc.rank == 0:
        truncate_metrics(run_dir / "metrics.jsonl", state.step)
    stop = tc.steps if max_steps is None else min(tc.steps, max_steps)
    net, autocast = _wrap(state.model, tc, proc)

    sinks = open_sinks(tc.log, run_dir) if proc.rank == 0 else []  # train.log beyond metrics.jsonl (icl.sinks)
    metrics = open(run_dir / "metrics.jsonl", "a") if proc.rank == 0 else None  # after the sinks: none leaks
    bar = tqdm(total=stop, initial=state.step, disable=not (proc.progress and proc.rank == 0), desc="train",
               file=sys.stderr)
    t0, elapsed0, last_good = time.perf_counter(), state.elapsed_s, None

    def write_checkpoint() -> Path | None:
        state.elapsed_s = elapsed0 + time.perf_counter() - t0
        path = None
        if proc.rank == 0:
            path = save_checkpoint(run_dir, state.checkpoint(cfg, proc.device), tc.keep_checkpoints)
        proc.barrier()
        return path

    try:
        net.train()
        for step in range(state.step, stop):
            batch = batch_at(cfg, step, task, proc.rank, proc.world).to(proc.device)
            lr = lr_at(step, tc)
            for group in state.optimizer.param_groups:
                group["lr"] = lr
            with autocast():
                preds = net(batch.xs, batch.ys)
            loss = loss_fn(preds, batch.ys, task.is_classification, state.model.head)
            seen = proc.mean(loss)  # the loss of the global batch
            if not torch.isfinite(seen):
                last = list_checkpoints(run_dir)
                where = f"the last good checkpoint {last[0]} is intact" if last else "no checkpoint was written yet"
                raise NonFiniteLossError(f"loss is {seen.item()} at step {step}; stopped, {where}; "
                                         "lower train.lr, add train.warmup or set train.grad_clip")
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(state.model.parameters(), tc.grad_clip)
            state.optimizer.step()
            state.step = step + 1
            bar.update(1)

            if state.step % tc.log_every == 0 or state.step == stop:
                d_cur, n_cur = curriculum_at(step, cfg)
                record = {"step": state.step, "loss": seen.item(), "lr": lr, "d": d_cur, "n_points": n_cur,
                          "elapsed_s": round(elapsed0 + time.perf_counter() - t0, 3)}
                bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
                _append(metrics, record, sinks)
            if ((tc.eval_every and state.step % tc.eval_every == 0) or state.step == tc.steps) and proc.rank == 0:
                curve = evaluate_curve(state.model, task, cfg.task.n_points, tc.eval_prompts, cfg.seed, proc.device)
                nll = evaluate_nll(state.model, task, cfg.task.n_points, tc.eval_prompts, cfg.seed, proc.device)
                _append(metrics, {"step": state.step, "kind": "eval", "error": curve, **({"nll": nll} if nll else {})},
                        sinks)
            written = state.step % tc.checkpoint_every == 0 or state.step == stop
            if written:
                last_good = write_checkpoint()
            if state.step < stop and proc.any(signals.received is not None):  # all ranks stop after one step
                raise signals.interrupted(state.step, tc.steps, last_good if written else write_checkpoint())
    finally:
        bar.close()
        if metrics is not None:
            metrics.close()
        for sink in sinks:
            sink.close()
    if proc.any(signals.received is not None):  # during the last step or the final evaluation: stop the caller too
        raise signals.interrupted(state.step, tc.steps, last_good)
    if stop == tc.steps:
        proc.say(f"icl: finished {run_dir} at step {stop}" + (f" ({last_good.name})" if last_good else ""))
    else:
        proc.say(f"icl: stopped {run_dir} at step {stop} of {tc.steps}; rerun to resume")
    return run_dir


def _append(metrics, record: dict, sinks=()) -> None:
    """One JSON line in metrics.jsonl (rank 0 holds the file; other ranks pass None) and the record to every sink."""
    if metrics is not None:
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()
    for sink in sinks:
        sink.write(record)
