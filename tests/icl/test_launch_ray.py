"""Ray launcher (icl.launch): one task per config hash on a local Ray cluster (``ray.init(num_cpus=2)``),
runs deduplicated and finished runs skipped, a killed worker retried and resumed bit-exactly, a tiny
figure with the same claims and checkpoints as in-process, and ``icl runs``."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from icl.config import config_hash, load_preset
from icl.errors import ConfigError
from icl.launch import RayLauncher, format_runs, launch_log, list_runs, run_state
from icl.train import latest_checkpoint, train

ray = pytest.importorskip("ray")  # in the test extra; skipped only where the extra is not installed

TINY = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "task.d": 3, "task.n_points": 6,
        "model.n_positions": 6, "train.batch_size": 8, "train.lr": 3e-3, "train.warmup": 3,
        "train.log_every": 5, "train.eval_prompts": 16, "train.device": "cpu"}


def tiny(**extra):
    return load_preset("linear-quick", {**TINY, "train.steps": 20, "train.checkpoint_every": 10, **extra})


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def one_thread():
    """The in-process reference trains with the Ray task's one torch thread (cpus_per_run = 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def final_state(run_dir: Path) -> dict:
    return latest_checkpoint(run_dir)[1]


def assert_same_checkpoint(a: Path, b: Path) -> None:
    sa, sb = final_state(a), final_state(b)
    assert sa["step"] == sb["step"]
    assert sa["model"].keys() == sb["model"].keys()
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    moments = [(x, y) for x, y in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values())]
    assert moments and all(torch.equal(x["exp_avg"], y["exp_avg"]) for x, y in moments)


def test_runs_dedup_skip_and_match_in_process(local_ray, one_thread, tmp_path):
    a, b = tiny(seed=1), tiny(seed=2)
    launcher = RayLauncher(progress=False)
    dirs = launcher.train_many([a, b, a], tmp_path / "runs")
    assert [d.name for d in dirs] == [config_hash(a), config_hash(b), config_hash(a)]
    assert len(launch_log(dirs[0])) == 1 and len(launch_log(dirs[1])) == 1  # one task per hash
    assert [run_state(d)["state"] for d in dirs] == ["finished"] * 3
    launcher.train_many([a, b], tmp_path / "runs")  # finished runs are not submitted again
    assert len(launch_log(dirs[0])) == 1 and len(launch_log(dirs[1])) == 1
    assert_same_checkpoint(dirs[0], train(a, tmp_path / "here", progress=False))


def test_failed_run_is_reported_with_its_hash(local_ray, tmp_path):
    cfg = tiny(seed=3)
    (tmp_path / "runs" / config_hash(cfg)).mkdir(parents=True)
    (tmp_path / "runs" / config_hash(cfg) / "config.json").write_text("{not json")  # train refuses this folder
    with pytest.raises(RuntimeError, match=f"1 run\\(s\\) failed: {config_hash(cfg)}"):
        RayLauncher(progress=False).train_many([cfg], tmp_path / "runs")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_killed_worker_is_retried_and_resumes_exactly(local_ray, one_thread, tmp_path, signum):
    """SIGKILL: the worker dies and Ray reruns the task elsewhere; SIGTERM: the run checkpoints and stops
    (icl.train), the task raises RunInterrupted and Ray retries it. Either way the retry resumes."""
    cfg = tiny(seed=4, **{"train.steps": 800, "train.checkpoint_every": 25})
    run_dir = tmp_path / "runs" / config_hash(cfg)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(
        dirs=RayLauncher(progress=False, max_retries=2).train_many([cfg], tmp_path / "runs")))
    worker.start()
    deadline = time.monotonic() + 120
    while not (run_state(run_dir)["step"] >= 50 if (run_dir / "config.json").is_file() else False):
        assert time.monotonic() < deadline and worker.is_alive(), "the Ray task never wrote a checkpoint"
        time.sleep(0.02)
    killed_at = run_state(run_dir)["step"]
    assert killed_at < cfg.train.steps, "the run finished before it could be killed: make it longer"
    os.kill(launch_log(run_dir)[0]["pid"], signum)
    worker.join(120)
    assert not worker.is_alive() and result["dirs"] == [run_dir.resolve()]
    attempts = launch_log(run_dir)
    assert len(attempts) == 2  # Ray retried the task (in a new worker after SIGKILL)
    assert (attempts[1]["pid"] != attempts[0]["pid"]) == (signum == signal.SIGKILL)
    assert attempts[1]["start_step"] >= killed_at > 0  # ... which resumed from a checkpoint
    assert_same_checkpoint(run_dir, train(cfg, tmp_path / "uninterrupted", progress=False))


def test_figure_tiny_with_ray_has_the_in_process_claims_and_checkpoints(local_ray, one_thread, tmp_path, monkeypatch):
    from figures import make_figure

    kw = dict(progress=False, report=False)
    with monkeypatch.context() as m:  # in-process: the runs one after another, one torch thread as in a Ray task
        m.setattr(os, "cpu_count", lambda: 1)
        here = make_figure("task-diversity", "tiny", out_dir=tmp_path / "out-here", runs_root=tmp_path / "runs-here",
                           **kw)
    far = make_figure("task-diversity", "tiny", out_dir=tmp_path / "out-ray", runs_root=tmp_path / "runs-ray",
                      launcher=RayLauncher(progress=False), **kw)
    assert json.dumps(far["claims"]) == json.dumps(here["claims"])
    runs = [Path(r["run_dir"]) for r in here["provenance"]["runs"]]
    assert len(runs) == 3
    for run in runs:
        assert len(launch_log(tmp_path / "runs-ray" / run.name)) == 1  # trained by Ray, once
        assert_same_checkpoint(run, tmp_path / "runs-ray" / run.name)


def test_runs_lists_state_step_and_loss(tmp_path, capsys):
    from icl_toolkit.cli import main

    done, half = tiny(seed=5), tiny(seed=6)
    train(done, tmp_path / "done", progress=False)
    train(half, tmp_path / "half", progress=False, max_steps=10)
    (tmp_path / "empty").mkdir()
    rows = {r["run"]: r for r in list_runs(tmp_path)}
    assert set(rows) == {"done", "half"}  # a folder without config.json is not a run
    assert (rows["done"]["state"], rows["done"]["step"], rows["done"]["steps"]) == ("finished", 20, 20)
    assert (rows["half"]["state"], rows["half"]["step"]) == ("stopped", 10)
    last = [json.loads(x) for x in (tmp_path / "half" / "metrics.jsonl").read_text().splitlines()]
    assert rows["half"]["loss"] == [r["loss"] for r in last if "loss" in r][-1]
    with open(tmp_path / "half" / "run.lock", "a") as fh:  # a training process holds this flock
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert run_state(tmp_path / "half")["state"] == "running"
    assert run_state(tmp_path / "half")["state"] == "stopped"
    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == format_runs(list_runs(tmp_path)).splitlines()[1:]
    assert "finished" in out and "stopped" in out
    assert main(["runs", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_launcher_arguments_are_checked():
    with pytest.raises(ConfigError, match="cpus_per_run"):
        RayLauncher(cpus_per_run=0)
    with pytest.raises(ConfigError, match="gpus_per_run"):
        RayLauncher(gpus_per_run=-1)
    with pytest.raises(ConfigError, match="max_retries"):
        RayLauncher(max_retries=-1)


def test_default_launcher_imports_no_ray():
    code = ("import sys; from icl_toolkit.cli import build_parser; "
            "a = build_parser().parse_args(['figure', 'task-diversity']); "
            "from icl.launch import launcher_from_args; assert launcher_from_args(a) is None; "
            "assert 'ray' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_icl_train_sweeps_as_ray_tasks(local_ray, tmp_path, monkeypatch, capsys):
    from icl_toolkit.cli import main

    monkeypatch.chdir(tmp_path)
    sets = [a for k, v in {**TINY, "train.steps": 10, "train.checkpoint_every": 10}.items()
            for a in ("--set", f"{k}={json.dumps(v)}")]
    assert main(["train", "--preset", "linear-quick", *sets, "--sweep", "seed=[7, 8]", "--launcher", "ray",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    want = [config_hash(tiny(seed=s, **{"train.steps": 10})) for s in (7, 8)]
    assert [Path(p).name for p in printed] == want
    assert [r["state"] for r in list_runs(tmp_path / "runs")] == ["finished", "finished"]
    for argv, match in ((["--sweep", "seed=[1, 2]", "--out", "x"], "--out: names one run folder"),
                        (["--sweep", "seed=3"], "expected a non-empty TOML array"),
                        (["--address", "auto"], "--address: applies to --launcher ray only")):
        assert main(["train", "--preset", "linear-quick", *argv]) == 2
        assert match in capsys.readouterr().err
