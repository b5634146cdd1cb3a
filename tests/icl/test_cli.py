"""The ``icl`` command: listing, training with resume, and one-line errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from icl_toolkit.cli import COMMANDS, Command, main
from icl.tasks import TASKS

TINY = ["--set", "model.n_layer=1", "--set", "model.n_embd=16", "--set", "model.n_head=2", "--set", "task.d=2",
        "--set", "task.n_points=4", "--set", "model.n_positions=4", "--set", "train.batch_size=4",
        "--set", "train.steps=6", "--set", "train.checkpoint_every=3", "--set", "train.eval_prompts=8"]


def test_tasks_prints_one_line_per_task(capsys):
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(TASKS)
    assert [line.split()[0] for line in lines] == list(TASKS)


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "linear-quick" in out and "linear-paper" in out and "12L/8H/256C" in out


def test_train_then_rerun_says_finished_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "finished" in err and (out / "checkpoint-00000006.pt").is_file()
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(out), "--quiet"]) == 0
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(out)]) == 0
    assert "already finished (6 steps)" in capsys.readouterr().err
    (out / "checkpoint-00000006.pt").unlink()
    (out / "checkpoint-00000006.json").unlink()
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(out)]) == 0
    assert "resuming" in capsys.readouterr().err  # from step 3
    assert main(["train", "--config", str(out / "config.json"), "--out", str(out)]) == 0


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train", "--preset", "nope"], "icl train: error: unknown preset 'nope'; valid presets:"),
        (["train", "--preset", "linear-quick", "--set", "model.n_layers=2"], "icl train: error: model.n_layers: unknown key"),
        (["train", "--preset", "linear-quick", "--set", "train.lr=fast"], "icl train: error: train.lr: expected a number"),
        (["train", "--preset", "linear-quick", "--set", "task.name=lineer"], "icl train: error: unknown task 'lineer'; valid tasks:"),
        (["train", "--preset", "linear-quick", "--set", "nokey"], "expected KEY=VALUE"),
        (["train", "--preset", "linear-quick", "--device", "tpu"], "icl train: error: argument --device: invalid choice"),
        (["train"], "icl train: error: one of the arguments --preset --config is required"),
        (["trian"], "icl: error: argument COMMAND: invalid choice"),
        (["train", "--config", "/nonexistent.toml"], "icl train: error: config file '/nonexistent.toml' does not exist"),
        (["train", "--preset", "linear-quick", "--set", "train={}"], "icl train: error: train: is a section, not a value"),
    ],
)
def test_bad_values_give_one_line_errors(argv, match, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_diverged_run_exits_1_with_one_line(tmp_path, capsys, monkeypatch):
    import icl.train as T

    monkeypatch.setattr(T, "loss_fn", lambda preds, ys, c, head=None: (preds.float() - ys).pow(2).mean() * float("inf"))
    code = main(["train", "--preset", "linear-quick", *TINY, "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "loss is" in err and "at step 0" in err and len(err.strip().splitlines()) == 1


def test_adding_a_subcommand_is_one_registry_entry(capsys, monkeypatch):
    seen = {}
    cmd = Command("say hi", lambda p: p.add_argument("--name", default="x"), lambda a: seen.setdefault("n", a.name) and 0)
    monkeypatch.setitem(COMMANDS, "hello", cmd)
    assert main(["hello", "--name", "icl"]) == 0 and seen["n"] == "icl"


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-c", "import sys; from icl_toolkit.cli import main; sys.exit(main(['tasks']))"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("linear ")
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="console_scripts") if e.name == "icl"] == ["icl_toolkit.cli:main"]
