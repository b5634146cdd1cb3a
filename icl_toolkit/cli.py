"""The ``icl`` command line: one function pair per subcommand, registered in :data:`COMMANDS`.

Adding a subcommand is a local edit: write ``_xxx_args(parser)`` (declare arguments) and
``_xxx_run(args) -> int`` (do the work, return the exit code), then add one line
``"xxx": Command("one-line help", _xxx_args, _xxx_run)`` to :data:`COMMANDS`. A package that
already exposes ``add_arguments(parser)`` and ``run_from_args(args)`` (``icl.evaluate``,
``figures``, ``proofs``) is registered with ``Command.from_module("help", module)``.

User errors (bad presets, unknown keys or task names, bad values, corrupted checkpoints, a
run folder locked by another process, a model too large for memory, a diverged run) and the
machine's refusals (a read-only folder, a full disk, an ``--out`` that is a file: any
``OSError``) end with one line ``icl <cmd>: error: ...`` on stderr and exit code 2 (1 for a run
that diverged); ``ICL_DEBUG=1`` shows the traceback instead. Ctrl-C (SIGINT) or SIGTERM
during training ends with one line ``icl <cmd>: interrupted ...`` after the final checkpoint,
exit code 130 or 143 (128 + the signal number).

The subcommands that need torch (``train``, ``tasks``, ``presets``: configs are validated by
building their task) import ``icl.config``, ``icl.tasks`` and ``icl.train`` when they run, so
``icl --help`` and ``icl proofs`` do not wait for torch to load.

Example
-------
>>> main(["tasks"])  # doctest: +ELLIPSIS
linear ...
0
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import figures
import proofs
from icl import evaluate
from icl.errors import CheckpointError, ConfigError, NonFiniteLossError, RunLockedError

__all__ = ["Command", "COMMANDS", "build_parser", "main"]

_USER_ERRORS = (ConfigError, CheckpointError, NonFiniteLossError, RunLockedError)


@dataclass(frozen=True)
class Command:
    help: str  # one line shown by `icl --help`
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]

    @classmethod
    def from_module(cls, help: str, module: ModuleType) -> "Command":
        """A subcommand served by ``module.add_arguments`` and ``module.run_from_args``."""
        return cls(help, module.add_arguments, module.run_from_args)


# ----------------------------------------------------------------------------------------
# icl train


def _train_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="preset name (see `icl presets`), e.g. linear-quick; a comma-separated list "
                     "trains each (one after another, or as Ray tasks with --launcher ray)")
    src.add_argument("--config", help="a TOML file, or a run's config.json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. --set model.n_layer=4 (repeatable)")
    p.add_argument("--out", help="run folder (default runs/<config hash>); rerunning with it resumes")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides train.device")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=[V1, V2, ...]",
                   help="train one run per value (a TOML array), e.g. --sweep train.lr=[1e-3, 3e-4]; several "
                        "--sweep give every combination (with --launcher ray they train in parallel)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    from icl.launch import add_launcher_arguments

    add_launcher_arguments(p)


def _train_configs(args: argparse.Namespace) -> list:
    """Every config ``icl train`` is asked for: each preset (comma-separated) x each --sweep combination."""
    import itertools

    from icl.config import load_config_file, load_preset, parse_overrides

    overrides = parse_overrides(args.overrides)
    if args.device:
        overrides["train.device"] = args.device
    sweeps = parse_overrides(args.sweep)
    for key, values in sweeps.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--sweep {key}: expected a non-empty TOML array of values, e.g. {key}=[1, 2]")
    combos = [dict(zip(sweeps, vals)) for vals in itertools.product(*sweeps.values())]
    if args.preset:
        return [load_preset(name.strip(), {**overrides, **c}) for name in args.preset.split(",") for c in combos]
    return [load_config_file(args.config, {**overrides, **c}) for c in combos]


def _train_run(args: argparse.Namespace) -> int:
    from icl.config import config_hash
    from icl.launch import launcher_from_args
    from icl.train import train

    launcher = launcher_from_args(args)
    configs = _train_configs(args)
    if args.out and len(configs) > 1:
        raise ConfigError(f"--out: names one run folder, but {len(configs)} runs were asked for "
                          "(they go to runs/<config hash>)")
    if launcher is not None:
        if args.out:
            raise ConfigError("--out: with --launcher ray every run goes to runs/<config hash> (the run cache)")
        for run_dir in launcher.train_many(configs, "runs"):
            print(run_dir)
        return 0
    for cfg in configs:
        train(cfg, args.out or os.path.join("runs", config_hash(cfg)), progress=not args.quiet)
    return 0


# ----------------------------------------------------------------------------------------
# icl runs


def _runs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", default="runs", help="folder of run folders (default runs)")


def _runs_run(args: argparse.Namespace) -> int:
    from icl.launch import format_runs, list_runs

    print(format_runs(list_runs(args.dir)))
    return 0


# ----------------------------------------------------------------------------------------
# icl tasks / icl presets


def _no_args(p: argparse.ArgumentParser) -> None:
    return None


def _tasks_run(args: argparse.Namespace) -> int:
    from icl.tasks import TASKS

    width = max(len(n) for n in TASKS)
    for name, cls in TASKS.items():
        print(f"{name.ljust(width)}  {cls.description}")
    return 0


def _presets_run(args: argparse.Namespace) -> int:
    from icl.config import list_presets, load_preset

    names = list_presets()
    width = max(len(n) for n in names)
    for name in names:
        c = load_preset(name)
        print(f"{name.ljust(width)}  {c.task.name} d={c.task.d} n={c.task.n_points} noise={c.task.noise:g}; "
              f"{c.model.n_layer}L/{c.model.n_head}H/{c.model.n_embd}C; {c.train.steps} steps x {c.train.batch_size}")
    return 0


COMMANDS: dict[str, Command] = {
    "train": Command("train a transformer on a task (resumes when --out holds a run)", _train_args, _train_run),
    "runs": Command("list the run folders with step, loss and state (finished / running / stopped)", _runs_args,
                    _runs_run),
    "tasks": Command("list the function classes, one line each", _no_args, _tasks_run),
    "presets": Command("list the run presets", _no_args, _presets_run),
    "eval": Command.from_module("score a run against every baseline; writes eval.npz and eval.json", evaluate),
    "figure": Command.from_module("build a paper figure with its claims (NAME, all, or --list)", figures),
    "proofs": Command.from_module("prove the lemmas behind the estimators (sympy) with numeric cross-checks", proofs),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump): ``icl train: error: ... (see icl train --help)``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="icl", description="In-context learning toolkit.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        cmd.add_arguments(sub.add_parser(name, help=cmd.help, description=cmd.help))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``icl`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"icl {args.command}"
    try:
        return int(COMMANDS[args.command].run(args) or 0)
    except KeyboardInterrupt as err:  # icl.errors.TrainingInterrupted carries its signal and message
        if os.environ.get("ICL_DEBUG"):
            raise
        print(f"{prog}: {str(err) or 'interrupted'}", file=sys.stderr)
        return int(getattr(err, "exit_code", 130))
    except Exception as err:  # one line for user and machine errors; tracebacks only on request
        message = _one_line(err)
        if message is None or os.environ.get("ICL_DEBUG"):
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 1 if isinstance(err, NonFiniteLossError) else 2


def _one_line(err: Exception) -> str | None:
    """The one-line message of an error the user can act on, or None for a bug (shown with its traceback)."""
    if isinstance(err, _USER_ERRORS):
        return str(err)
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        if err.errno == errno.ENOSPC:
            return (f"{where}no space left on the device; free some and rerun the same command "
                    "(a run resumes from its last checkpoint)")
        if isinstance(err, (FileExistsError, NotADirectoryError)):
            return f"{where}a file is in the way of a folder (--out must name a folder)"
        return f"{where}{err.strerror or err}"
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":  # torch's, without importing it
        first = (str(err).strip().splitlines() or [""])[0]
        return f"out of memory ({first or type(err).__name__}); lower model.n_embd, model.n_layer or train.batch_size"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
