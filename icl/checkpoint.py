"""Files that must survive a crash: atomic writes, SHA-256 manifests, provenance, checkpoints.

Every file a run or a figure keeps is written by :func:`atomic_write_bytes`: the bytes go to a
temporary file in the same folder, are flushed and ``fsync``-ed, and the temporary file is
renamed over the target (``os.replace`` is atomic on POSIX and Windows), and the folder is
``fsync``-ed so that the rename itself survives a power loss: a reader sees the old file or the
new one, never half of one. A process killed mid-write (or a full disk that also failed the
clean-up) leaves a temporary file ``.<name>.tmp-<pid>``; :func:`sweep_temp_files` removes those
whose process is gone (a run sweeps its folder when it starts).

A checkpoint ``checkpoint-<step>.pt`` (model, optimizer, scheduler, curriculum and RNG state,
see ``icl.train``) is followed by its manifest ``checkpoint-<step>.json`` holding the SHA-256
and the size of the checkpoint's bytes. The manifest is written second, so a checkpoint
without a matching manifest is incomplete or corrupted and is never used silently
(:func:`load_checkpoint` raises :class:`~icl.errors.CheckpointError`, :func:`latest_checkpoint`
reports it and falls back to the previous one). :func:`latest_checkpoint` also takes an
``accept`` test: a checkpoint it refuses (one of another run, see ``icl.train``) is reported
and, with ``set_aside=True``, moved to ``rejected/`` so that it is neither continued nor pruned.
Checkpoints hold tensors and plain containers only and load with
``torch.load(weights_only=True)``: no pickled code runs.

Provenance (:func:`provenance`) is what every saved result carries besides its config: the
git commit (``-dirty`` when tracked files differ from it), package versions and the machine.

This module depends on the standard library and ``icl.errors`` only (torch is imported by the
two functions that serialise tensors), so ``figures`` can use it without loading a model.
What does not live here: what a checkpoint contains and when it is written (``icl.train``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from icl.errors import CheckpointError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "sweep_temp_files",
    "write_with_manifest",
    "read_verified",
    "git_commit",
    "package_versions",
    "machine_info",
    "provenance",
    "save_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "latest_checkpoint",
    "CheckpointError",
]

_CKPT = re.compile(r"^checkpoint-(\d+)\.pt$")
_TMP = re.compile(r"^\..+\.tmp-(\d+)$")  # the temporary files of atomic_write_bytes
_REPO_DIR = Path(__file__).resolve().parent
PROVENANCE_PACKAGES = ("numpy", "scipy", "torch", "matplotlib")


# ----------------------------------------------------------------------------------------
# Atomic writes and manifests


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file, flush, fsync, rename.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write_bytes(p, b"hello"); p.read_bytes(), [q.name for q in p.parent.iterdir()]
    (b'hello', ['x.txt'])
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (signal 0 checks without sending anything)."""
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def sweep_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that :func:`atomic_write_bytes` left in ``folder`` from dead processes.

    A temporary file ``.<name>.tmp-<pid>`` whose process is still alive is kept (it may be
    mid-write). Returns the removed paths.
    """
    removed = []
    for path in Path(folder).iterdir() if Path(folder).is_dir() else ():
        m = _TMP.match(path.name)
        if m and path.is_file() and not _pid_alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def write_with_manifest(path: str | os.PathLike, data: bytes, **fields: Any) -> Path:
    """Write ``data`` to ``path``, then its manifest ``path.with_suffix(".json")`` (both atomic).

    The manifest is ``{**fields, "sha256": ..., "bytes": ...}``; :func:`read_verified` checks it.
    """
    path = Path(path)
    atomic_write_bytes(path, data)
    manifest = {**fields, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    atomic_write_text(_manifest_path(path), json.dumps(manifest))
    return path


def read_verified(path: str | os.PathLike, what: str = "checkpoint") -> bytes:
    """The bytes of ``path`` after checking them against the manifest; CheckpointError with the reason.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.pt"
    >>> read_verified(write_with_manifest(p, b"abc"))
    b'abc'
    """
    path = Path(path)
    manifest_path = _manifest_path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    if not manifest_path.is_file():
        raise CheckpointError(f"{what} {path} has no manifest {manifest_path.name}: it was not completely written")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected_sha, expected_bytes = manifest["sha256"], int(manifest["bytes"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{what} manifest {manifest_path} is unreadable: {err}") from None
    data = path.read_bytes()
    if len(data) != expected_bytes:
        raise CheckpointError(f"{what} {path} is truncated: {len(data)} bytes, expected {expected_bytes}")
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise CheckpointError(f"{what} {path} is corrupted: its SHA-256 does not match the manifest")
    return data


# ----------------------------------------------------------------------------------------
# Provenance


def git_commit() -> str:
    """The commit of the checkout holding this package (``-dirty`` appended when tracked files changed), or "unknown"."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO_DIR, capture_output=True, text=True,
                             timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_REPO_DIR,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions(packages: tuple[str, ...] = PROVENANCE_PACKAGES) -> dict[str, str]:
    """Python's version and each installed distribution's (read from metadata, nothing is imported).

    >>> sorted(package_versions(("numpy",)))
    ['numpy', 'python']
    """
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    """Host name, platform, CPU model and count; torch threads and GPU names when torch is loaded."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"hostname": socket.gethostname(), "platform": platform.platform(), "cpu": cpu,
                            "cpu_count": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def provenance() -> dict[str, Any]:
    """``{"git_commit", "versions", "machine"}``: what every saved result carries besides its config."""
    return {"git_commit": git_commit(), "versions": package_versions(), "machine": machine_info()}


# ----------------------------------------------------------------------------------------
# Checkpoints


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Checkpoint files ``checkpoint-<step>.pt`` of a run folder, newest first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*.pt") if (m := _CKPT.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def save_checkpoint(run_dir: str | os.PathLike, state: dict, keep: int) -> Path:
    """Write ``state`` (with an int ``"step"``) as ``checkpoint-<step>.pt`` plus manifest; keep the newest ``keep``."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    path = write_with_manifest(Path(run_dir) / f"checkpoint-{state['step']:08d}.pt", buf.getvalue(),
                               step=state["step"])
    for old in list_checkpoints(run_dir)[keep:]:
        old.unlink(missing_ok=True)
        _manifest_path(old).unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load and verify one checkpoint (``weights_only=True``); CheckpointError with the reason otherwise."""
    import torch

    data = read_verified(path)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # a file that matches its manifest but still fails is reported, not trusted
        raise CheckpointError(f"checkpoint {path} cannot be loaded: {err}") from None


def latest_checkpoint(run_dir: str | os.PathLike, warn: bool = True,
                      accept: Callable[[dict], str | None] | None = None,
                      set_aside: bool = False) -> tuple[Path, dict] | None:
    """The newest intact checkpoint of a run that ``accept`` takes, or None.

    Newer damaged checkpoints are reported and skipped. ``accept(state)`` returns None to take a
    checkpoint or the reason to refuse it; a refused one is reported and skipped, and with
    ``set_aside`` moved (with its manifest) to ``run_dir/rejected/``. Raises CheckpointError when
    every checkpoint is damaged.
    """
    damaged = []
    for path in list_checkpoints(run_dir):
        try:
            state = load_checkpoint(path)
        except CheckpointError as err:
            damaged.append(str(err))
            if warn:
                print(f"icl: warning: {err}; using the previous checkpoint", file=sys.stderr)
            continue
        reason = accept(state) if accept is not None else None
        if reason is None:
            return path, state
        where = f"moved to {_set_aside(path)}" if set_aside else "skipped"
        if warn:
            print(f"icl: warning: refused checkpoint {path}: {reason}; {where}", file=sys.stderr)
    if damaged:
        raise CheckpointError(f"no intact checkpoint in {run_dir}: {damaged[-1]}")
    return None


def _set_aside(path: Path) -> Path:
    """Move a checkpoint and its manifest to ``rejected/`` next to it; returns the new path."""
    folder = path.parent / "rejected"
    folder.mkdir(exist_ok=True)
    for p in (path, _manifest_path(path)):
        if p.exists():
            os.replace(p, folder / p.name)
    _fsync_dir(path.parent)
    return folder / path.name
