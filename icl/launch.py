"""Launching training runs: in this process, or as Ray tasks on one machine or a cluster; listing runs.

The run cache is the contract (``docs/cluster.md``): a run trains into ``runs_root/<config hash>``
(``icl.config.config_hash``), a finished run is never trained again, and an unfinished one resumes
from its newest checkpoint exactly (``icl.train``). :class:`RayLauncher` builds on that alone:

1. deduplicate the configs by hash (two tasks never train one folder; ``icl.run`` also locks it);
2. skip the runs whose newest checkpoint already reached ``train.steps``;
3. submit every other run as one Ray task with declared resources (``num_cpus = cpus_per_run``,
   ``num_gpus = gpus_per_run``) and ``max_retries``: a worker that dies (pre-emption, OOM
   killer, ``kill -9``) is retried by Ray, and so is a run stopped by SIGTERM / SIGINT (which
   writes a checkpoint first, ``icl.train``); the retry resumes from the run's last checkpoint;
4. wait, with one tqdm bar over finished runs whose postfix shows each unfinished run's step.

Every task appends one line to ``<run>/launch.jsonl`` when it starts (host, pid, the step it
starts from), so a retry is visible. ``runs_root`` must be storage every Ray worker reaches under
the same path (one machine, NFS, Lustre). Ray is imported only by :class:`RayLauncher`; the
default launcher trains in this process and imports nothing more. Multi-GPU training of one run
stays ``torchrun`` + DDP (``icl.distributed``); Ray spreads independent runs.

:func:`run_state` and :func:`list_runs` read a run folder as ``icl runs`` shows it: step, loss and
state (``finished``, ``running``: a process holds the folder's lock, ``stopped``, ``new``).
What does not live here: the loop (``icl.train``), the run folder itself (``icl.run``), figures.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from icl.checkpoint import list_checkpoints  # no torch at import: ``icl --help`` declares the arguments below
from icl.errors import ConfigError, TrainingInterrupted

if TYPE_CHECKING:
    from icl.config import RunConfig

__all__ = ["RayLauncher", "RunInterrupted", "LAUNCHERS", "add_launcher_arguments", "launcher_from_args", "run_state", "list_runs",
           "format_runs", "launch_log"]

LAUNCHERS = ("local", "ray")
LAUNCH_LOG = "launch.jsonl"  # one line per task start: host, pid, start step, time


# ----------------------------------------------------------------------------- reading run folders


def _checkpoint_step(run_dir: Path) -> int:
    """Step of the newest checkpoint written whole: ``checkpoint-<step>.pt`` with its manifest (0 when none).

    The manifest is written after the checkpoint (``icl.checkpoint.write_with_manifest``), so a
    file without one was torn and does not count as the run's progress.
    """
    found = [p for p in list_checkpoints(run_dir) if p.with_suffix(".json").is_file()]
    return int(found[0].stem.split("-")[1]) if found else 0


def _locked(run_dir: Path) -> bool:
    """Whether a process holds the run folder's ``run.lock`` flock (the training process does)."""
    path = run_dir / "run.lock"
    if not path.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows has no flock
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no flock on this file system: nothing can be said from the lock
        return False
    finally:
        os.close(fd)  # closing drops the shared lock taken above
    return False


def run_state(run_dir: str | os.PathLike) -> dict:
    """What a run folder holds: ``{run, task, step, steps, loss, state, attempts}``.

    ``step`` is the newest checkpoint's, ``loss`` the last training line's of ``metrics.jsonl``;
    ``state`` is ``finished`` (the checkpoint reached ``train.steps``), ``running`` (a process holds
    ``run.lock``), ``stopped`` (a checkpoint short of the end and nobody training) or ``new``;
    ``attempts`` counts the lines of ``launch.jsonl`` (Ray tasks started, retries included).
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder: config.json is missing")
    cfg = json.loads(cfg_path.read_text())
    steps, step = int(cfg["train"]["steps"]), _checkpoint_step(run_dir)
    loss = None
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a torn last line while the run writes
                continue
            if isinstance(record, dict) and "loss" in record:
                loss = float(record["loss"])
    if step >= steps:
        state = "finished"
    elif _locked(run_dir):
        state = "running"
    else:
        state = "stopped" if step > 0 else "new"
    return {"run": run_dir.name, "task": cfg["task"]["name"], "step": step, "steps": steps, "loss": loss,
            "state": state, "attempts": len(launch_log(run_dir))}


def list_runs(root: str | os.PathLike = "runs") -> list[dict]:
    """:func:`run_state` of every run folder (a folder with ``config.json``) directly under ``root``, by name."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"runs folder {str(root)!r} does not exist")
    return [run_state(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]


def format_runs(rows: list[dict]) -> str:
    """The table ``icl runs`` prints: run, task, step / steps, last loss, state, Ray attempts."""
    lines = [f"{'run':<14}{'task':<20}{'step':>17}  {'loss':>10}  {'state':<9}attempts"]
    for r in rows:
        loss = "-" if r["loss"] is None else f"{r['loss']:.4g}"
        step = f"{r['step']}/{r['steps']}"
        lines.append(f"{r['run']:<14}{r['task']:<20}{step:>17}  {loss:>10}  {r['state']:<9}{r['attempts']}")
    return "\n".join(lines)


def launch_log(run_dir: str | os.PathLike) -> list[dict]:
    """The lines of ``<run>/launch.jsonl``: one per Ray task that started training the run."""
    path = Path(run_dir) / LAUNCH_LOG
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# ----------------------------------------------------------------------------- the Ray launcher


class RunInterrupted(RuntimeError):
    """A Ray task's run was stopped by a signal after writing its checkpoint; Ray retries the task.

    ``icl.errors.TrainingInterrupted`` is a ``KeyboardInterrupt``, which Ray takes for a cancelled
    task and never retries; this plain exception is what the task raises instead.
    """


def _train_task(config: dict, run_dir: str, threads: int) -> str:
    """One run inside a Ray worker: note the attempt in ``launch.jsonl``, then train (or resume) it."""
    import torch

    from icl.config import config_from_dict
    from icl.train import train

    torch.set_num_threads(max(1, threads))
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    attempt = {"host": socket.gethostname(), "pid": os.getpid(), "start_step": _checkpoint_step(folder),
               "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with open(folder / LAUNCH_LOG, "a") as fh:
        fh.write(json.dumps(attempt) + "\n")
    try:
        train(config_from_dict(config), folder, progress=False)
    except TrainingInterrupted as err:  # SIGTERM / SIGINT: the checkpoint is written; Ray may retry
        raise RunInterrupted(f"{folder.name}: {err}") from None
    return run_dir


class RayLauncher:
    """Train independent runs as Ray tasks (one task per config hash); see the module docstring.

    Parameters
    ----------
    address : str, optional
        A running Ray cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``). None: use the
        Ray session this process already joined, else start one embedded on this machine.
    cpus_per_run : float
        CPUs a task declares (and torch threads it uses, rounded down, at least 1).
    gpus_per_run : float
        GPUs a task declares (Ray sets ``CUDA_VISIBLE_DEVICES``; ``train.device = auto`` then uses it).
    max_retries : int
        How often Ray reruns a task whose worker died; each rerun resumes from the last checkpoint.
    progress : bool
        Show the bar over finished runs on stderr.
    """

    def __init__(self, address: str | None = None, cpus_per_run: float = 1.0, gpus_per_run: float = 0.0,
                 max_retries: int = 3, progress: bool = True):
        if not cpus_per_run > 0:
            raise ConfigError(f"RayLauncher: cpus_per_run must be > 0, got {cpus_per_run}")
        if not gpus_per_run >= 0:
            raise ConfigError(f"RayLauncher: gpus_per_run must be >= 0, got {gpus_per_run}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"RayLauncher: max_retries must be an integer >= 0, got {max_retries!r}")
        self.address, self.cpus_per_run, self.gpus_per_run = address, float(cpus_per_run), float(gpus_per_run)
        self.max_retries, self.progress = max_retries, bool(progress)

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise ConfigError("--launcher ray needs Ray: pip install 'icl-toolkit[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        return ray

    def train_many(self, configs: list[RunConfig], runs_root: str | os.PathLike = "runs") -> list[Path]:
        """Train every config into ``runs_root/<config hash>``; returns the run folders in the order given.

        Raises
        ------
        RuntimeError
            A run failed (after Ray's retries); the other runs were still waited for.
        """
        from icl.config import config_hash, config_to_dict

        root = Path(runs_root).resolve()  # workers see the same absolute path on shared storage
        dirs = [root / config_hash(c) for c in configs]
        todo = {d: c for d, c in zip(dirs, configs) if _checkpoint_step(d) < c.train.steps}  # dict: dedup
        if not todo:
            return dirs
        ray = self._ray()
        task = ray.remote(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                          max_retries=self.max_retries, retry_exceptions=[RunInterrupted])(_train_task)
        threads = max(1, int(self.cpus_per_run))
        pending = {task.remote(config_to_dict(c), str(d), threads): d for d, c in todo.items()}
        self._wait(ray, pending, total=len(set(dirs)))
        return dirs

    def _wait(self, ray, pending: dict, total: int) -> None:
        from tqdm.auto import tqdm

        failed = []
        bar = tqdm(total=total, initial=total - len(pending), desc="runs", unit="run", file=sys.stderr,
                   disable=not self.progress)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
                for ref in done:
                    run_dir = pending.pop(ref)
                    try:
                        ray.get(ref)
                    except Exception as err:  # noqa: BLE001 - reported with its run below
                        failed.append(f"{run_dir.name}: {type(err).__name__}: {(str(err).strip().splitlines() or [''])[-1]}")
                    bar.update(1)
                bar.set_postfix_str(" ".join(f"{d.name}:{_checkpoint_step(d)}" for d in pending.values()))
        finally:
            bar.close()
        if failed:
            raise RuntimeError(f"{len(failed)} run(s) failed: " + "; ".join(failed))


# ----------------------------------------------------------------------------- command-line arguments


def add_launcher_arguments(parser) -> None:
    """``--launcher``, ``--address``, ``--cpus-per-run``, ``--gpus-per-run`` (``icl train``, ``icl figure``)."""
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local",
                        help="local: train in this process (default); ray: one Ray task per run")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (e.g. auto or HOST:6379); default: start Ray on this machine")
    parser.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs each Ray task declares (default 1)")
    parser.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each Ray task declares (default 0)")


def launcher_from_args(args) -> RayLauncher | None:
    """The launcher the arguments ask for: None for ``local`` (train in this process)."""
    if args.launcher == "local":
        if args.address is not None:
            raise ConfigError("--address: applies to --launcher ray only")
        return None
    return RayLauncher(address=args.address, cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                       progress=not getattr(args, "quiet", False))
