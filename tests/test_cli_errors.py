"""Every error of the ``icl`` command that a user can act on is one line on stderr with exit code 2:
bad config files, unknown figures and presets, files where folders belong, unwritable folders,
full disks, overflowing seeds, models too large to allocate; Ctrl-C outside training is one line
with exit code 130; a bug still shows its traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import icl.run
from figures._framework import main as figures_main
from icl_toolkit import cli
from icl_toolkit.cli import main

TINY = ["--set", "model.n_layer=1", "--set", "model.n_embd=16", "--set", "model.n_head=2", "--set", "task.d=2",
        "--set", "task.n_points=4", "--set", "model.n_positions=4", "--set", "train.batch_size=4",
        "--set", "train.steps=2", "--set", "train.eval_prompts=8"]
BINARY = bytes(range(256)) * 4  # not UTF-8, not TOML, not JSON


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "binary.toml").write_bytes(BINARY)
    (tmp / "binary.json").write_bytes(BINARY)
    (tmp / "broken.toml").write_text("[train\nsteps = 3\n")
    (tmp / "a-file").write_text("not a folder")
    return {k: str(tmp / k) for k in ("binary.toml", "binary.json", "broken.toml", "a-file")}


def _fill(argv: list[str], files: dict[str, str]) -> list[str]:
    """``@name`` -> the path of that file under tmp_path."""
    out = []
    for a in argv:
        for name, path in files.items():
            a = a.replace("@" + name, path)
        out.append(a)
    return out


CASES = {
    "binary toml": (["train", "--config", "@binary.toml"], "binary.toml: not a UTF-8 text file"),
    "binary json": (["train", "--config", "@binary.json"], "binary.json: not a JSON config"),
    "invalid toml": (["train", "--config", "@broken.toml"], "broken.toml: invalid TOML"),
    "unknown figure": (["figure", "nosuch"], "icl figure: error: unknown figure 'nosuch'; valid figures: "),
    "unknown figure preset": (["figure", "linear-regression", "--preset", "huge"],
                              "figure linear-regression has no preset 'huge'; valid presets: tiny, quick, paper"),
    "figure out is a file": (["figure", "linear-regression", "--out", "@a-file"], "--out: "),
    "train out is a file": (["train", "--preset", "linear-quick", *TINY, "--out", "@a-file"],
                            "a file is in the way of a folder (--out must name a folder)"),
    "train out below a file": (["train", "--preset", "linear-quick", *TINY, "--out", "@a-file/run"],
                               "a file is in the way of a folder"),
    "overflowing seed": (["train", "--preset", "linear-quick", "--set", f"seed={2**70}"],
                         f"icl train: error: seed: must be in [0, 2**63 - 1] (torch seeds are 64-bit), got {2**70}"),
    "width too large": (["train", "--preset", "linear-quick", *TINY, "--set", "model.n_embd=131072"],
                        "icl train: error: model.n_embd=131072, model.n_layer=1: training needs at least"),
    "whole table": (["train", "--preset", "linear-quick", "--set", "train={}"],
                    "icl train: error: train: is a section, not a value; set its keys one by one"),
}


@pytest.mark.parametrize("case", CASES)
def test_user_errors_are_one_line_with_exit_code_2(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that wrongly started would write under tmp_path/runs
    files = _files(tmp_path)
    argv, match = CASES[case]
    code = main(_fill(argv, files))
    err = capsys.readouterr().err
    assert code == 2, err
    assert match in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_unwritable_out_folder_is_one_line(tmp_path, capsys, monkeypatch):
    target = tmp_path / "locked" / "run"
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):  # what a read-only parent folder does (root ignores chmod)
        if self == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(target), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"icl train: error: {target}: Permission denied\n"


def test_full_disk_while_creating_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(icl.run, "atomic_write_text", full)
    assert main(["train", "--preset", "linear-quick", *TINY, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"icl train: error: {tmp_path / 'run' / 'config.json'}: no space left on the device; ")


def test_ctrl_c_outside_training_is_one_line_with_exit_code_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "tasks", cli.Command("list", cli._no_args, interrupted))
    assert main(["tasks"]) == 130
    assert capsys.readouterr().err == "icl tasks: interrupted\n"


def test_a_bug_keeps_its_traceback(monkeypatch):
    def bug(args):
        raise RuntimeError("a bug, not a user error")

    monkeypatch.setitem(cli.COMMANDS, "tasks", cli.Command("list", cli._no_args, bug))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["tasks"])


def test_python_m_figures_gives_the_same_one_line_errors(capsys):
    assert figures_main(["nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m figures: error: unknown figure 'nosuch'") and len(err.strip().splitlines()) == 1


def test_console_script_exit_code_and_exactly_one_stderr_line(tmp_path):
    files = _files(tmp_path)
    argv, match = ["train", "--config", "@binary.toml"], "icl train: error: "
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from icl_toolkit.cli import main; sys.exit(main(sys.argv[1:]))",
         *_fill(argv, files)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(match) and len(done.stderr.splitlines()) == 1, done.stderr
