"""The CPU-checkable parts of benchmarks/gpu_paper.py: time to target from metrics records, the no-CUDA exit.

The script itself needs a CUDA GPU; what can go wrong without one is the reading of the
trainer's metrics (which evaluation counts, which time it gets) and the refusal to run.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from benchmarks import gpu_paper
from benchmarks.gpu_paper import format_target, read_metrics, summarise, time_to_target

D, K = 20, 40


def log(step, d, elapsed):
    return {"step": step, "loss": 0.5, "lr": 1e-4, "d": d, "n_points": 41, "elapsed_s": elapsed}


def ev(step, at_k, n=41):
    err = [1.0] * n
    if K < n:
        err[K] = at_k
    return {"step": step, "kind": "eval", "error": err}


def test_reached_after_the_curriculum_takes_the_log_time_at_or_before_the_eval():
    records = [log(100, 19, 10.0), ev(100, 0.5), log(200, 20, 20.0), ev(200, 0.02),
               log(300, 20, 30.0), log(350, 20, 35.0), ev(400, 0.009), log(400, 20, 41.0), ev(500, 0.001)]
    r = time_to_target(records, K, 0.01, D)
    # the eval at 400 is listed before its log record: the log at step 400 (at or before) gives the time
    assert r["reached"] is True
    assert (r["step"], r["error"], r["elapsed_s"]) == (400, 0.009, 41.0)
    assert "reached at step 400" in format_target(r)


def test_eval_with_no_log_at_its_step_uses_the_last_earlier_one():
    records = [log(100, 20, 10.0), log(200, 20, 20.0), ev(250, 0.005), log(300, 20, 30.0)]
    r = time_to_target(records, K, 0.01, D)
    assert r["reached"] and r["step"] == 250 and r["elapsed_s"] == 20.0


def test_low_error_before_the_curriculum_finished_does_not_count():
    records = [log(100, 5, 10.0), ev(100, 0.001), log(200, 19, 20.0), ev(200, 0.002),
               log(300, 20, 30.0), ev(300, 0.05), log(400, 20, 40.0), ev(400, 0.008)]
    r = time_to_target(records, K, 0.01, D)
    assert r["reached"] and r["step"] == 400 and r["elapsed_s"] == 40.0


def test_not_reached_reports_last_and_best():
    records = [log(100, 19, 10.0), ev(100, 0.004), log(200, 20, 20.0), ev(200, 0.2),
               log(300, 20, 30.0), ev(300, 0.1), log(350, 20, 36.5)]
    r = time_to_target(records, K, 0.01, D)
    assert r["reached"] is False
    assert (r["step"], r["error"]) == (300, 0.1)  # the last evaluation
    assert r["elapsed_s"] == 36.5 and r["last_step"] == 350  # the last training record
    assert (r["best_step"], r["best_error"]) == (100, 0.004)
    assert r["curriculum_done"] is True
    line = format_target(r)
    assert "target not reached within the budget" in line and "0.0040 at step 100" in line


def test_not_reached_curriculum_unfinished_and_nothing_logged():
    r = time_to_target([log(100, 7, 3.0), ev(100, 0.3)], K, 0.01, D)
    assert not r["reached"] and r["curriculum_done"] is False
    empty = time_to_target([], K, 0.01, D)
    assert empty["reached"] is False and empty["step"] is None and empty["best_error"] is None
    assert "trained nothing" in format_target(empty)


def test_short_curve_without_index_k_is_skipped():
    records = [log(100, 20, 10.0), ev(100, 0.0, n=K), {"step": 200, "kind": "eval", "error": []},
               log(200, 20, 20.0), ev(300, float("nan")), log(300, 20, 30.0)]
    r = time_to_target(records, K, 0.01, D)
    assert r["reached"] is False
    assert r["error"] is None and r["best_error"] is None and r["step"] == 300
    records.append(ev(300, 0.01))  # exactly at the target counts
    assert time_to_target(records, K, 0.01, D)["step"] == 300


def test_read_metrics_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_metrics(path) == []
    path.write_text(json.dumps(log(100, 20, 1.0)) + "\n" + json.dumps(ev(100, 0.5)) + "\n" + '{"step": 2')
    recs = read_metrics(path)
    assert [r.get("kind") for r in recs] == [None, "eval"]


def test_summarise_best_run_and_projection():
    s = summarise([3.0, 2.0, 2.5], steps=200, tokens_per_step=64 * 82, total_steps=500_000)
    assert s["steps_per_s"] == 100.0 and s["ms_per_step"] == 10.0
    assert s["median_ms_per_step"] == 12.5
    assert math.isclose(s["hours_for_total"], 500_000 / 100 / 3600)
    assert s["tokens_per_s"] == 100 * 64 * 82


def test_train_command_uses_the_icl_console_scripts_module():
    cmd = gpu_paper.train_command("R", 1000, 512)
    assert cmd[1:4] == ["-m", "icl_toolkit", "train"]
    assert "train.eval_every=1000" in cmd and "train.eval_prompts=512" in cmd
    assert cmd[cmd.index("--device") + 1] == "cuda" and cmd[cmd.index("--out") + 1] == "R"


def test_k_is_in_the_paper_presets_curve():
    from icl.config import load_preset

    cfg = load_preset("linear-paper")
    assert 2 * cfg.task.d == K and K < cfg.task.n_points  # evaluate_curve returns n_points values


def test_main_without_cuda_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_paper.main(["--json", "unused.json"]) == 2
    out, err = capsys.readouterr()
    assert out == "no CUDA device: nothing measured\n"
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", ["--skip-target", "--skip-throughput"])
def test_flags_parse_before_the_cuda_check(monkeypatch, capsys, flag):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_paper.main([flag, "--budget-s", "10"]) == 2
    assert capsys.readouterr().out.count("\n") == 1


def test_time_mode_runs_the_trainers_step_on_a_tiny_cpu_model():
    """The step code (trainer's model, AdamW, batches, loss) on a 1-layer width-16 model: shapes and counts only."""
    from icl.config import load_preset

    cfg = load_preset("linear-paper", {"model.n_layer": 1, "model.n_embd": 16, "model.n_head": 2,
                                       "train.batch_size": 4})
    r = gpu_paper._time_mode(cfg, amp=False, compile_mode=None, steps=1, repeats=2, warmup=1, device="cpu")
    assert len(r["runs_s"]) == 2 and all(t > 0 for t in r["runs_s"])
    assert r["first_step_s"] > 0 and r["warmup_s"] >= r["first_step_s"] and r["peak_mem_gib"] is None


# A stand-in for the trainer: writes metrics.jsonl like icl.train, then waits; SIGINT -> exit 130 as icl train does.
FAKE_TRAINER = """
import json, pathlib, signal, sys, time
run = pathlib.Path(sys.argv[1]); run.mkdir(parents=True)
signal.signal(signal.SIGINT, lambda *a: sys.exit(130))
with open(run / "metrics.jsonl", "w") as f:
    f.write(json.dumps({"step": 100, "d": 20, "n_points": 41, "elapsed_s": 1.5}) + "\\n")
    f.write(json.dumps({"step": 100, "kind": "eval", "error": [1.0] * 40 + [float(sys.argv[2])]}) + "\\n")
print("fake trainer waiting", flush=True)
time.sleep(20)
"""


@pytest.mark.parametrize("at_k, stopped_by", [(0.001, "target reached"), (0.5, "budget")])
def test_run_to_target_stops_the_trainer_with_sigint(monkeypatch, tmp_path, at_k, stopped_by):
    import sys

    monkeypatch.setattr(gpu_paper, "train_command",
                        lambda run_dir, e, p: [sys.executable, "-c", FAKE_TRAINER, str(run_dir), str(at_k)])
    run_dir = tmp_path / "sub" / "run"
    r = gpu_paper.run_to_target(run_dir, budget_s=0.4, eval_every=100, eval_prompts=8, target=0.01,
                                poll_s=0.1, grace_s=5.0)
    assert r["stopped_by"] == stopped_by and r["returncode"] == 130 and "trainer_error" not in r
    assert r["reached"] is (at_k <= 0.01) and r["wall_s"] < 5.0
    assert "fake trainer waiting" in (tmp_path / "sub" / "run.log").read_text()
