"""Runs that survive anything: the run-folder lock, SIGINT / SIGTERM with a final checkpoint and a
bit-exact resume, foreign checkpoints refused and set aside, a torn metrics line, a full disk and
its temporary files, seeded dropout, and models refused before they are allocated."""

from __future__ import annotations

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import icl.checkpoint
import icl.train as T
from icl.checkpoint import atomic_write_bytes, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from icl.checkpoint import sweep_temp_files
from icl.config import load_preset
from icl.errors import ConfigError, RunLockedError, TrainingInterrupted
from icl.run import run_lock, train_memory_bytes
from icl.train import train
from icl_toolkit.cli import main

TINY = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "task.d": 3, "task.n_points": 6,
        "model.n_positions": 6, "train.batch_size": 8, "train.lr": 3e-3, "train.warmup": 3, "train.log_every": 5,
        "train.eval_prompts": 16, "train.steps": 20, "train.checkpoint_every": 5, "train.keep_checkpoints": 3}
DROPOUT = {**TINY, "model.dropout": 0.1}  # the global torch generator matters for these


def tiny(extra: dict | None = None, base: dict = DROPOUT):
    return load_preset("linear-quick", {**base, **(extra or {})})


def cli_args(overrides: dict) -> list[str]:
    out = ["--preset", "linear-quick"]
    for k, v in overrides.items():
        out += ["--set", f"{k}={v}"]
    return out


def final_state(run) -> dict:
    return load_checkpoint(list_checkpoints(run)[0])


def assert_same_checkpoint(a: dict, b: dict) -> None:
    """Every tensor of two checkpoints equal (model, optimizer moments, RNG state); wall time aside."""
    def flat(x, prefix=""):
        if isinstance(x, dict):
            for k, v in x.items():
                yield from flat(v, f"{prefix}/{k}")
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                yield from flat(v, f"{prefix}/{i}")
        else:
            yield prefix, x

    fa = dict(flat({k: v for k, v in a.items() if k != "elapsed_s"}))
    fb = dict(flat({k: v for k, v in b.items() if k != "elapsed_s"}))
    assert fa.keys() == fb.keys()
    for k in fa:
        if isinstance(fa[k], torch.Tensor):
            assert torch.equal(fa[k], fb[k]), k
        else:
            assert fa[k] == fb[k], k


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 20-step run with dropout 0.1, started from a scrambled global generator."""
    torch.manual_seed(12345)
    run = train(tiny(), tmp_path_factory.mktemp("ref") / "run", progress=False)
    return run, final_state(run)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------------------------------
# Seeded dropout


def test_two_fresh_runs_with_dropout_give_identical_checkpoints(reference, tmp_path):
    _, ref = reference
    torch.manual_seed(999)  # another global state before the run: it must not matter
    torch.rand(7)
    run = train(tiny(), tmp_path / "again", progress=False)
    assert_same_checkpoint(final_state(run), ref)
    other = train(tiny({"seed": 1}), tmp_path / "seed1", progress=False)  # dropout does depend on the run seed
    assert not torch.equal(final_state(other)["rng"]["torch"], ref["rng"]["torch"])
    assert T.dropout_seed(0) != T.dropout_seed(1) and T.dropout_seed(2**63 - 1) < 2**63


# ----------------------------------------------------------------------------------------
# Signals


def test_sigint_checkpoints_the_interrupted_step_and_resumes_bit_exactly(reference, tmp_path, monkeypatch):
    _, ref = reference
    run, real, calls = tmp_path / "run", T.loss_fn, {"n": 0}
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN in a pytest-xdist worker

    def interrupt_during_step_6(preds, ys, classification, head=None):
        calls["n"] += 1
        if calls["n"] == 7:  # step 6 (0-based) is in progress: it must be finished and saved as step 7
            os.kill(os.getpid(), signal.SIGINT)
        return real(preds, ys, classification, head)

    monkeypatch.setattr(T, "loss_fn", interrupt_during_step_6)
    with pytest.raises(TrainingInterrupted, match=r"interrupted by SIGINT at step 7 of 20; wrote checkpoint-00000007\.pt") as exc:
        train(tiny(), run, progress=False)
    assert exc.value.exit_code == 130 and isinstance(exc.value, KeyboardInterrupt)
    again = pickle.loads(pickle.dumps(exc.value))  # crosses process boundaries (figures' worker pool)
    assert (str(again), again.exit_code) == (str(exc.value), 130)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
    path, state = latest_checkpoint(run)
    assert path.name == "checkpoint-00000007.pt" and state["step"] == 7
    monkeypatch.undo()
    torch.manual_seed(4242)  # the resumed process's own generator state must not matter either
    train(tiny(), run, progress=False)
    assert_same_checkpoint(final_state(run), ref)


def test_sigint_during_the_final_evaluation_still_stops_the_caller(tmp_path, monkeypatch):
    real = T.evaluate_curve

    def interrupt(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "evaluate_curve", interrupt)
    with pytest.raises(TrainingInterrupted, match=r"at step 5 of 5; wrote checkpoint-00000005\.pt"):
        train(tiny({"train.steps": 5}), tmp_path / "run", progress=False)
    assert latest_checkpoint(tmp_path / "run")[1]["step"] == 5


def test_sigint_from_the_command_line_exits_130_with_one_line(tmp_path):
    run = tmp_path / "run"
    overrides = {**DROPOUT, "train.steps": 100000, "train.checkpoint_every": 2}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from icl_toolkit.cli import main; sys.exit(main(sys.argv[1:]))",
         "train", *cli_args(overrides), "--out", str(run), "--quiet", "--device", "cpu"],
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not list(run.glob("checkpoint-*.json")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("icl train: interrupted by SIGINT at step "), err
    step = int(lines[0].split("at step ")[1].split()[0])
    assert latest_checkpoint(run)[1]["step"] == step and 2 <= step < 100000


# ----------------------------------------------------------------------------------------
# The lock


def test_second_process_on_a_run_folder_is_refused_naming_the_holder(tmp_path, capsys):
    run = tmp_path / "run"
    overrides = {**TINY, "train.steps": 100000, "train.checkpoint_every": 50}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from icl_toolkit.cli import main; sys.exit(main(sys.argv[1:]))",
         "train", *cli_args(overrides), "--out", str(run), "--quiet"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and holder.poll() is None:
            if (run / "run.lock").is_file() and (run / "run.lock").read_text().endswith("}"):
                break
            time.sleep(0.02)
        assert main(["train", *cli_args(overrides), "--out", str(run), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert f"is being trained by another process (pid {holder.pid} on " in err and "started 20" in err
        with pytest.raises(RunLockedError):
            train(load_preset("linear-quick", overrides), run, progress=False)
        holder.send_signal(signal.SIGTERM)  # SIGTERM: the same clean stop as SIGINT
        _, holder_err = holder.communicate(timeout=120)
    finally:
        holder.kill()
    assert holder.returncode == 143 and holder_err.startswith("icl train: interrupted by SIGTERM at step "), holder_err
    assert len(holder_err.strip().splitlines()) == 1 and latest_checkpoint(run) is not None
    with run_lock(run):  # the holder is gone: the OS released its lock
        assert json.loads((run / "run.lock").read_text())["pid"] == os.getpid()


# ----------------------------------------------------------------------------------------
# Foreign checkpoints


def test_foreign_checkpoint_is_refused_set_aside_and_the_run_falls_back(reference, tmp_path, capsys):
    _, ref = reference
    run, other = tmp_path / "run", tmp_path / "other"
    train(tiny(), run, progress=False, max_steps=5)
    train(tiny({"seed": 7}), other, progress=False, max_steps=10)  # same architecture, another run
    for suffix in (".pt", ".json"):
        (run / f"checkpoint-00000010{suffix}").write_bytes((other / f"checkpoint-00000010{suffix}").read_bytes())
    train(tiny(), run, progress=False)
    err = capsys.readouterr().err
    assert "refused checkpoint" in err and "belongs to another run" in err and "moved to" in err
    assert (run / "rejected" / "checkpoint-00000010.pt").is_file()
    assert_same_checkpoint(final_state(run), ref)  # resumed from its own step 5, not the foreign step 10


def test_other_architecture_without_a_hash_is_refused_and_the_run_starts_fresh(reference, tmp_path, capsys):
    _, ref = reference
    run, other = tmp_path / "run", tmp_path / "wide"
    train(tiny(), run, progress=False, max_steps=1)  # the run folder and its config
    for p in list_checkpoints(run):
        p.unlink()
        p.with_suffix(".json").unlink()
    train(tiny({"model.n_embd": 32}), other, progress=False, max_steps=5)
    legacy = load_checkpoint(other / "checkpoint-00000005.pt")
    del legacy["config_hash"]  # a checkpoint written before hashes were stored: the shapes decide
    save_checkpoint(run, legacy, keep=3)
    train(tiny(), run, progress=False)
    assert "its model has another architecture" in capsys.readouterr().err
    assert_same_checkpoint(final_state(run), ref)


# ----------------------------------------------------------------------------------------
# Torn metrics, full disks, temporary files


def test_torn_last_metrics_line_is_dropped_with_a_warning(reference, tmp_path, capsys):
    _, ref = reference
    run = tmp_path / "run"
    train(tiny(), run, progress=False, max_steps=10)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 11, "loss": 0.2')  # a process killed mid-line
    train(tiny(), run, progress=False)
    assert "dropped unreadable line(s) 3" in capsys.readouterr().err
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20, 20]
    assert_same_checkpoint(final_state(run), ref)


def test_full_disk_is_one_line_and_its_temp_files_are_swept_at_the_next_start(reference, tmp_path, monkeypatch,
                                                                               capsys):
    _, ref = reference
    run, pid = tmp_path / "run", dead_pid()
    real = icl.checkpoint.atomic_write_bytes

    def disk_full(path, data):  # what a crashed writer leaves: a partial temporary file
        path = Path(path)
        if path.name.startswith("checkpoint-00000010"):
            (path.parent / f".{path.name}.tmp-{pid}").write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(icl.checkpoint, "atomic_write_bytes", disk_full)
    args = ["train", *cli_args(DROPOUT), "--out", str(run), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "checkpoint-00000010.pt: no space left on the device" in err
    assert latest_checkpoint(run)[1]["step"] == 5 and (run / f".checkpoint-00000010.pt.tmp-{pid}").is_file()
    monkeypatch.undo()
    assert main(args) == 0
    assert not list(run.glob(".*.tmp-*"))
    assert_same_checkpoint(final_state(run), ref)


def test_sweep_keeps_the_temp_files_of_live_processes(tmp_path):
    live, dead = tmp_path / f".a.pt.tmp-{os.getpid()}", tmp_path / f".b.pt.tmp-{dead_pid()}"
    other = tmp_path / ".notes.tmp-x"
    for p in (live, dead, other):
        p.write_bytes(b"partial")
    assert sweep_temp_files(tmp_path) == [dead]
    assert live.is_file() and other.is_file()


def test_atomic_write_fsyncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(icl.checkpoint, "_fsync_dir", lambda folder: synced.append((folder, (folder / "x").exists())))
    atomic_write_bytes(tmp_path / "x", b"data")
    assert synced == [(tmp_path, True)]


# ----------------------------------------------------------------------------------------
# Memory


def test_a_model_that_cannot_fit_is_refused_before_allocation(tmp_path):
    cfg = tiny({"model.n_embd": 2**17, "model.n_head": 2, "model.n_layer": 2})
    with pytest.raises(ConfigError, match=r"^model\.n_embd=131072, model\.n_layer=2: training needs at least .* TiB"):
        train(cfg, tmp_path / "huge", progress=False, device="cpu")
    assert not (tmp_path / "huge").exists()


def test_memory_estimate_counts_parameters_exactly_and_activations():
    cfg = tiny()
    model = T.build_model(cfg)
    n = model.num_params() if hasattr(model, "num_params") else sum(p.numel() for p in model.parameters())
    tokens = 2 * cfg.task.n_points
    expected = 4 * (4 * sum(p.numel() for p in model.parameters())
                    + 16 * cfg.train.batch_size * tokens * cfg.model.n_embd * cfg.model.n_layer)
    assert n > 0 and train_memory_bytes(cfg, n_dims=cfg.task.d) == expected
    assert train_memory_bytes(cfg, n_dims=cfg.task.d, world=2) < expected  # each rank holds half the batch


def test_a_file_system_without_flock_trains_unlocked_with_a_warning(tmp_path, monkeypatch):
    import errno
    import fcntl

    from icl.run import run_lock

    def no_flock(fd, op):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    with pytest.warns(UserWarning, match="does not support flock"):
        with run_lock(tmp_path / "run") as held:
            assert held == tmp_path / "run"
    monkeypatch.setattr(fcntl, "flock", lambda fd, op: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError, match="I/O error"):  # other errors are not mistaken for a missing flock
        with run_lock(tmp_path / "run2"):
            pass
