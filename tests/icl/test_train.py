"""Training loop: schedules, curriculum, pure batches, exact resume (also after SIGKILL), damaged
checkpoints, non-finite losses, metrics, and DDP (2 gloo processes under torchrun) on CPU."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import icl.checkpoint
import icl.config
import icl.train as T
from icl.checkpoint import list_checkpoints
from icl.config import TrainConfig, load_preset
from icl.errors import ConfigError
from icl.train import (
    CheckpointError,
    NonFiniteLossError,
    batch_at,
    curriculum_at,
    latest_checkpoint,
    load_checkpoint,
    load_model,
    lr_at,
    train,
)

TINY = {"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "task.d": 3, "task.n_points": 6,
        "model.n_positions": 6, "train.batch_size": 8, "train.lr": 3e-3, "train.warmup": 3,
        "train.log_every": 5, "train.eval_prompts": 16}


def tiny(extra: dict | None = None):
    return load_preset("linear-quick", {**TINY, **(extra or {})})


def params(run_dir) -> dict:
    model, _ = load_model(run_dir)
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_params(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ----------------------------------------------------------------------------------------
# Pure helpers


def test_lr_schedules():
    const = TrainConfig(steps=100, lr=1.0, warmup=10, schedule="constant")
    assert [lr_at(t, const) for t in (0, 4, 9, 10, 99)] == [0.1, 0.5, 1.0, 1.0, 1.0]
    cos = TrainConfig(steps=110, lr=2.0, warmup=10, schedule="cosine", min_lr_frac=0.1)
    assert lr_at(10, cos) == pytest.approx(2.0)
    assert lr_at(60, cos) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))
    assert lr_at(110, cos) == pytest.approx(0.2)
    vals = [lr_at(t, cos) for t in range(10, 110)]
    assert all(a >= b for a, b in zip(vals, vals[1:]))
    wsd = TrainConfig(steps=100, lr=1.0, warmup=0, schedule="wsd", decay_frac=0.2)
    assert lr_at(79, wsd) == 1.0 and lr_at(80, wsd) == pytest.approx(1.0)
    assert lr_at(90, wsd) == pytest.approx(0.5) and lr_at(99, wsd) == pytest.approx(0.05)


def test_curriculum():
    cfg = load_preset("linear-paper")
    assert curriculum_at(0, cfg) == (5, 11)
    assert curriculum_at(1999, cfg) == (5, 11)
    assert curriculum_at(4000, cfg) == (7, 15)
    assert curriculum_at(30000, cfg) == (20, 41) and curriculum_at(10**7, cfg) == (20, 41)
    assert curriculum_at(0, load_preset("linear-quick")) == (5, 11)  # disabled: the full task
    b = batch_at(cfg, 2000)
    assert b.xs.shape == (64, 13, 20) and torch.all(b.xs[..., 6:] == 0)


def test_batch_is_a_pure_function_of_seed_and_step_and_ranks_split_it():
    cfg = tiny()
    a, b = batch_at(cfg, 7), batch_at(cfg, 7)
    assert torch.equal(a.xs, b.xs) and torch.equal(a.ys, b.ys)
    assert not torch.equal(a.xs, batch_at(cfg, 8).xs)
    assert not torch.equal(a.xs, batch_at(tiny({"seed": 1}), 7).xs)
    parts = [batch_at(cfg, 7, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(torch.cat([p.xs for p in parts]), a.xs)
    assert torch.equal(torch.cat([p.params for p in parts]), a.params)


def test_resolve_device():
    assert T.resolve_device("cpu").type == "cpu"
    assert T.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda requested but no CUDA device"):
            T.resolve_device("cuda")


# ----------------------------------------------------------------------------------------
# Runs, checkpoints and exact resume


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 20-step run (checkpoints every 5 steps)."""
    cfg = tiny({"train.steps": 20, "train.checkpoint_every": 5, "train.keep_checkpoints": 3})
    run = train(cfg, tmp_path_factory.mktemp("ref") / "run", progress=False)
    return cfg, run, params(run)


def test_run_folder_contents(reference):
    cfg, run, _ = reference
    assert json.loads((run / "config.json").read_text())["model"]["n_layer"] == 1
    prov = json.loads((run / "run.json").read_text())
    assert prov["config_hash"] and "torch" in prov["versions"]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_lines = [x for x in lines if "loss" in x]
    assert [x["step"] for x in train_lines] == [5, 10, 15, 20]
    assert all(math.isfinite(x["loss"]) and x["lr"] > 0 for x in train_lines)
    evals = [x for x in lines if x.get("kind") == "eval"]
    assert len(evals) == 1 and len(evals[0]["error"]) == 6
    assert [p.name for p in list_checkpoints(run)] == [f"checkpoint-000000{s:02d}.pt" for s in (20, 15, 10)]
    state = load_checkpoint(run / "checkpoint-00000020.pt")
    assert {"model", "optimizer", "scheduler", "curriculum", "rng", "step"} <= set(state)
    assert state["curriculum"] == {"d": 3, "n_points": 6} and state["scheduler"]["step"] == 20


def test_stop_and_resume_equals_uninterrupted(reference, tmp_path, capsys):
    cfg, _, ref = reference
    run = tmp_path / "run"
    train(cfg, run, progress=False, max_steps=10)
    assert latest_checkpoint(run)[1]["step"] == 10
    train(cfg, run, progress=True)
    err = capsys.readouterr().err
    assert "resuming" in err and "from step 10" in err
    assert_same_params(params(run), ref)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20, 20]  # training lines, then the final eval line
    train(cfg, run, progress=True)
    assert "already finished" in capsys.readouterr().err


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    overrides = {**TINY, "train.steps": 150, "train.checkpoint_every": 10}
    cfg = load_preset("linear-quick", overrides)
    run = tmp_path / "killed"
    code = textwrap.dedent(f"""
        from icl.config import load_preset
        from icl.train import train
        train(load_preset("linear-quick", {overrides!r}), {str(run)!r}, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 120
        while not list(run.glob("checkpoint-*.json")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = latest_checkpoint(run)[1]["step"]
    assert 10 <= killed_at < 150, "the subprocess was not interrupted"
    train(cfg, run, progress=False)
    ref = train(cfg, tmp_path / "ref", progress=False)
    assert_same_params(params(run), params(ref))


def test_damaged_checkpoints_are_reported_and_skipped(reference, tmp_path, capsys):
    cfg, src, ref = reference
    run = tmp_path / "run"
    train(cfg, run, progress=False, max_steps=10)
    newest = run / "checkpoint-00000010.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint-00000010\.pt is corrupted"):
        load_checkpoint(newest)
    newest.write_bytes(bytes(data[:100]))
    with pytest.raises(CheckpointError, match=r"is truncated: 100 bytes"):
        load_checkpoint(newest)
    path, state = latest_checkpoint(run)
    assert path.name == "checkpoint-00000005.pt" and state["step"] == 5
    assert "truncated" in capsys.readouterr().err
    train(cfg, run, progress=False)  # resumes from step 5, overwrites the damaged file
    assert_same_params(params(run), ref)
    (run / "checkpoint-00000020.json").unlink()
    with pytest.raises(CheckpointError, match="not completely written"):
        load_checkpoint(run / "checkpoint-00000020.pt")


def test_only_damaged_checkpoints_is_an_error(tmp_path):
    cfg = tiny({"train.steps": 5, "train.checkpoint_every": 5})
    run = train(cfg, tmp_path / "run", progress=False)
    (run / "checkpoint-00000005.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no intact checkpoint"):
        train(cfg, run, progress=False)


def test_crash_while_writing_keeps_previous_checkpoint(tmp_path, monkeypatch):
    cfg = tiny({"train.steps": 10, "train.checkpoint_every": 5})
    run = tmp_path / "run"
    train(cfg, run, progress=False, max_steps=5)

    def crash(path, data):
        Path(str(path) + ".partial").write_bytes(data[: len(data) // 3])
        raise OSError("disk full")

    monkeypatch.setattr(icl.checkpoint, "atomic_write_bytes", crash)
    with pytest.raises(OSError, match="disk full"):
        train(cfg, run, progress=False)
    monkeypatch.undo()
    path, state = latest_checkpoint(run)
    assert path.name == "checkpoint-00000005.pt" and state["step"] == 5


def test_non_finite_loss_stops_with_message_and_keeps_checkpoint(tmp_path, monkeypatch):
    cfg = tiny({"train.steps": 20, "train.checkpoint_every": 5})
    run = tmp_path / "run"
    real, calls = T.loss_fn, {"n": 0}

    def nan_at_step_7(preds, ys, classification, head=None):
        calls["n"] += 1
        loss = real(preds, ys, classification, head)
        return loss * float("nan") if calls["n"] == 8 else loss

    monkeypatch.setattr(T, "loss_fn", nan_at_step_7)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 7; stopped, the last good checkpoint .*checkpoint-00000005\.pt is intact"):
        train(cfg, run, progress=False)
    assert latest_checkpoint(run)[1]["step"] == 5


def test_other_config_in_same_folder_is_refused(reference):
    cfg, run, _ = reference
    with pytest.raises(ConfigError, match="holds a run with another config"):
        train(tiny({"train.steps": 21}), run, progress=False)


def test_training_fits_a_single_task(tmp_path):
    """With a pool of one task the function is learnable in the weights: held-out error falls from ~1."""
    cfg = tiny({"train.steps": 200, "train.checkpoint_every": 200, "task.name": "finite-pool", "task.noise": 0.0,
                "task.kwargs.pool_size": 1, "train.lr": 1e-2, "train.eval_prompts": 256})
    run = train(cfg, tmp_path / "run", progress=False)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [x["loss"] for x in lines if "loss" in x]
    assert losses[-1] < 0.1 * losses[0]
    assert max(lines[-1]["error"]) < 0.1  # normalised error; the zero predictor scores 1


# ----------------------------------------------------------------------------------------
# Distributional heads: training, exact resume, the bar edges in checkpoints


HEADS = {"gaussian": {"model.head": "gaussian"},
         "bar": {"model.head": "bar", "model.n_bins": 32}}


@pytest.mark.parametrize("head", sorted(HEADS))
def test_distributional_head_trains_and_resumes_bit_exactly(head, tmp_path):
    # a pool of one task (learnable in the weights, like test_training_fits_a_single_task) so that a few
    # dozen steps visibly lower the held-out NLL from the marginal's (where an untrained bar head starts)
    cfg = tiny({**HEADS[head], "task.name": "finite-pool", "task.kwargs.pool_size": 1, "task.noise": 0.25,
                "train.lr": 1e-2, "train.steps": 40, "train.checkpoint_every": 10, "train.eval_every": 20})
    ref = train(cfg, tmp_path / "ref", progress=False)
    run = tmp_path / "run"
    train(cfg, run, progress=False, max_steps=20)
    train(cfg, run, progress=False)
    assert_same_params(params(run), params(ref))
    lines = [json.loads(x) for x in (ref / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if x.get("kind") == "eval"]
    assert len(evals) == 2 and all(len(x["nll"]) == 6 and all(map(math.isfinite, x["nll"])) for x in evals)
    from icl.tasks import make_task

    untrained = T.evaluate_nll(T.build_model(cfg), make_task(cfg.task), 6, cfg.train.eval_prompts, cfg.seed)
    assert sum(evals[-1]["nll"]) < sum(untrained) - 0.5  # held-out nats fall as the head learns the scale of y
    model, _ = load_model(run)
    assert model.head.distributional and model.cfg.head == head
    if head == "bar":
        state = load_checkpoint(latest_checkpoint(run)[0])
        from icl.run import bar_edges
        from icl.tasks import make_task

        assert torch.equal(state["model"]["head.edges"], bar_edges(cfg, make_task(cfg.task)))
        assert torch.equal(model.head.edges, state["model"]["head.edges"])


def test_bar_edges_are_quantiles_of_the_task_and_a_function_of_the_seed():
    from icl.run import bar_edges, build_model
    from icl.tasks import make_task

    cfg = tiny({"model.head": "bar", "model.n_bins": 20, "task.noise": 0.25})
    task = make_task(cfg.task)
    edges = bar_edges(cfg, task)
    assert edges.shape == (21,) and torch.equal(edges, bar_edges(cfg, task))
    assert not torch.equal(edges, bar_edges(tiny({"model.head": "bar", "model.n_bins": 20, "task.noise": 0.25,
                                                  "seed": 1}), task))
    ys = task.sample(4000, 6, 123).ys.flatten()  # fresh y's: each bin holds about 1/20 of them
    share = torch.tensor([float(((ys > a) & (ys <= b)).float().mean()) for a, b in zip(edges[:-1], edges[1:])])
    assert float((share - 1 / 20).abs().max()) < 0.01
    assert torch.equal(build_model(cfg, task).head.edges, edges)


# ----------------------------------------------------------------------------------------
# DDP: two gloo processes under torchrun equal one process with the same global batch


@pytest.mark.parametrize("head", ["mean", "gaussian", "bar"])
def test_ddp_two_processes_match_single_process(tmp_path, head):
    overrides = {**TINY, "train.steps": 6, "train.checkpoint_every": 6, "model.head": head,
                 **({"model.n_bins": 16, "task.noise": 0.1} if head == "bar" else {})}
    script = tmp_path / "ddp_run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from icl.config import load_preset
        from icl.train import train
        train(load_preset("linear-quick", {overrides!r}), sys.argv[1], progress=False, device="cpu")
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
           str(tmp_path / "ddp")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    single = train(load_preset("linear-quick", overrides), tmp_path / "single", progress=False)
    a, b = params(tmp_path / "ddp"), params(single)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert any(not torch.equal(a[k], load_model_init(overrides)[k]) for k in a)  # it did train
    if head == "bar":
        assert torch.equal(a["head.edges"], b["head.edges"])


def load_model_init(overrides):
    return T.build_model(load_preset("linear-quick", overrides)).state_dict()


@pytest.mark.parametrize("name", [n for n in icl.config.list_presets() if n.endswith("-quick")])
def test_every_quick_preset_builds_a_bar_model_whose_edges_cover_its_task(name):
    from icl.tasks import make_task

    cfg = load_preset(name, {"model.head": "bar", "model.n_bins": 16, "task.noise": 0.1})
    model = T.build_model(cfg)
    ys = make_task(cfg.task).sample(256, cfg.task.n_points, 5).ys
    inside = ((ys > model.head.edges[0]) & (ys < model.head.edges[-1])).float().mean()
    assert model.head.edges.shape == (17,) and float(inside) > 0.99
