"""The figure build: cached computing, plotting, writing claims and provenance, and the command line.

Every paper figure is one module in this package that defines ``NAME``,
``DESCRIPTION``, ``PRESETS`` (plain JSON-able parameter dicts, at least ``tiny``,
``quick`` and ``paper``), ``PAPER_GPU_TIME``, and three functions::

    compute(params, ctx) -> dict       # heavy work, cached by a hash of (NAME, params)
    plot(results, params) -> Figure    # no computing here
    claims(results, params) -> list    # [Claim(...), ...]: statistic, threshold, subject, controls

:func:`make_figure` resolves a preset, reuses the cached ``compute`` result when the
hash of ``(NAME, params, VERSION)`` matches (never by file times), plots, and writes
``NAME.png``, ``NAME.pdf`` and ``NAME.json`` (claims + provenance) into ``out_dir``.
An optional module attribute ``VERSION`` (default 1) is part of the hash: bump it when
``compute`` changes meaning. Two optional hooks: ``resolve(params) -> dict`` expands the
parameters into everything ``compute`` depends on (e.g. the resolved run configs of
presets it names), and that is what gets hashed; ``summary(results, params) -> str`` is
printed (and stored in ``NAME.json``) before the claims table, cached or not.
Cached results live in ``out_dir/cache/<hash>.json``
with numpy arrays in ``<hash>.npz`` (loaded without pickle).

With a launcher (``icl figure NAME --launcher ray``, :class:`icl.launch.RayLauncher`), every run
the figure declares in its resolved ``resolved_runs`` is trained first, one Ray task per config
hash, all at once; ``compute`` then runs here and ``ctx.train`` finds its runs finished (a run it
did not declare is trained through the launcher when ``compute`` asks for it). Evaluation,
plotting and claims run once, in this process, as without a launcher (``docs/cluster.md``).

Under ``torchrun`` every rank runs ``compute`` (so ``ctx.train`` trains with
DistributedDataParallel across the ranks) and only rank 0 writes the cache and the files.

What does not live here: the cache (:mod:`figures._store`), atomic writes, provenance and
the torchrun process group (``icl.checkpoint``, ``icl.distributed``, shared with training runs),
finding the figure modules (:mod:`figures._discovery`), the :class:`Claim` type and its table
(:mod:`figures._claims`), the helpers figures share (:mod:`figures._common`), any figure's
science, and training itself (``ctx.train`` calls ``icl.train.train`` on
``runs_root / config_hash(cfg)``, so a run with the same resolved config is trained once and reused).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from icl.checkpoint import atomic_write_text, git_commit, machine_info, package_versions

from ._claims import Claim, format_claims
from ._discovery import list_figures, load_figure
from ._store import _canonical, _load_cache, _save_cache, params_hash

__all__ = ["Claim", "Context", "list_figures", "load_figure", "make_figure", "make_all", "format_claims", "params_hash"]


class Context:
    """What ``compute`` gets: a seed, a progress bar and cached training.

    Parameters
    ----------
    seed : int
        The figure's seed (``params["seed"]`` when present, else 0).
    runs_root : path
        Folder holding trained runs, one per config hash.
    show_progress : bool
        Show tqdm bars and log lines on stderr.
    launcher : icl.launch.RayLauncher, optional
        Trains the runs (as Ray tasks) instead of this process; None trains here.
    """

    def __init__(self, seed: int = 0, runs_root: str | os.PathLike = "runs", show_progress: bool = True,
                 launcher=None):
        self.seed = int(seed)
        self.runs_root = Path(runs_root)
        self.show_progress = bool(show_progress)
        self.launcher = launcher
        self.runs: list[dict] = []  # provenance of every run used: dir, hash, config

    def progress(self, iterable: Iterable, desc: str | None = None, total: int | None = None):
        """Wrap ``iterable`` in a tqdm bar (silent when progress is off)."""
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, disable=not self.show_progress, file=sys.stderr, leave=False)

    def log(self, message: str) -> None:
        """Print one line to stderr when progress is on."""
        if self.show_progress:
            print(message, file=sys.stderr, flush=True)

    def train(self, run_config) -> Path:
        """Train ``run_config`` into ``runs_root/<config_hash>`` (reused when already trained).

        Returns the run directory, for ``icl.train.load_model`` or ``icl.evaluate.evaluate_run``.
        """
        from icl.config import config_hash
        from icl.train import train

        if self.launcher is not None:
            return self.train_many([run_config])[0]
        h = config_hash(run_config)
        run_dir = self.runs_root / h
        self.log(f"[figures] run {h} -> {run_dir}")
        start = time.perf_counter()
        train(run_config, run_dir, progress=self.show_progress)
        self._record(run_config, run_dir, time.perf_counter() - start)
        return run_dir

    def train_many(self, run_configs) -> list[Path]:
        """Train several runs; reused runs return at once (same caching as :meth:`train`).

        On a machine without CUDA and with at least two cores (and not under torchrun), the
        runs train in parallel processes with ``cpu_count // len(run_configs)`` threads each:
        small models use one core far better than two, so this nearly halves the wall time.
        """
        import torch

        from icl.config import config_hash, config_to_dict

        configs = list(run_configs)
        if self.launcher is not None:
            start = time.perf_counter()
            run_dirs = self.launcher.train_many(configs, self.runs_root)
            for c, r in zip(configs, run_dirs):
                self._record(c, r, time.perf_counter() - start)
            return run_dirs
        cores = os.cpu_count() or 1
        if len(configs) < 2 or cores < 2 or torch.cuda.is_available() or int(os.environ.get("WORLD_SIZE", 1)) > 1:
            return [self.train(c) for c in configs]
        run_dirs = [self.runs_root / config_hash(c) for c in configs]
        threads = max(1, cores // len(configs))
        self.log(f"[figures] training {len(configs)} runs in parallel processes, {threads} thread(s) each: "
                 + ", ".join(str(r) for r in run_dirs))
        import multiprocessing

        start = time.perf_counter()
        pool = multiprocessing.get_context("spawn").Pool(min(len(configs), cores))
        try:
            pool.starmap(_train_worker, [(config_to_dict(c), str(r), threads) for c, r in zip(configs, run_dirs)])
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
        for c, r in zip(configs, run_dirs):
            self._record(c, r, time.perf_counter() - start)
        return run_dirs

    def _record(self, run_config, run_dir: Path, seconds: float) -> None:
        """Provenance of one run: ``train_call_s`` is the wall time of the call that returned it (shared by the
        runs trained together, near 0 for a reused run); ``train_s`` is the run's own training time, the
        ``elapsed_s`` of the last record in its ``metrics.jsonl`` (None when it has none)."""
        from icl.config import config_hash, config_to_dict

        self.runs.append({"run_dir": str(run_dir), "config_hash": config_hash(run_config),
                          "seed": getattr(run_config, "seed", None), "train_call_s": round(seconds, 3),
                          "train_s": _run_train_seconds(run_dir), "config": config_to_dict(run_config)})


def _run_train_seconds(run_dir: Path) -> float | None:
    """``elapsed_s`` of the last record of ``run_dir/metrics.jsonl`` that has one (a torn last line is skipped)."""
    try:
        lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("elapsed_s"), (int, float)):
            return round(float(record["elapsed_s"]), 3)
    return None


def _train_worker(config: dict, run_dir: str, threads: int) -> str:
    """One run in a worker process of :meth:`Context.train_many`."""
    import torch

    from icl.config import config_from_dict
    from icl.train import train

    torch.set_num_threads(threads)
    train(config_from_dict(config), run_dir, progress=False)
    return run_dir


# ----------------------------------------------------------------------------- the build


def make_figure(
    name: str,
    preset: str = "quick",
    out_dir: str | os.PathLike = "figures/out",
    force: bool = False,
    progress: bool = True,
    runs_root: str | os.PathLike = "runs",
    overrides: dict | None = None,
    report: bool | None = None,
    launcher=None,
) -> dict:
    """Build figure ``name``: compute (or reuse the cache), plot, write files and claims.

    Parameters
    ----------
    name : str
        A figure NAME (see :func:`list_figures`).
    preset : str
        A key of the module's ``PRESETS``.
    out_dir : path
        Where ``NAME.png``, ``NAME.pdf``, ``NAME.json`` and ``cache/`` go.
    force : bool
        Recompute even when a cached result exists.
    progress : bool
        Show progress bars and log lines on stderr.
    runs_root : path
        Where trained runs are kept (one folder per config hash).
    overrides : dict, optional
        Parameters replacing the preset's (unknown keys are a ValueError).
    report : bool, optional
        Print the summary, the claims table and the paths written (default: ``progress``).
    launcher : icl.launch.RayLauncher, optional
        Train the figure's runs as Ray tasks (see the module docstring); None trains in this process.

    Returns
    -------
    dict
        The content of ``NAME.json`` (name, preset, params, claims, provenance) plus
        ``files`` (paths written) and ``results`` (what ``compute`` returned).
    """
    mod = load_figure(name)
    presets = mod.PRESETS
    if preset not in presets:
        raise ValueError(f"make_figure: {name} has no preset {preset!r}; available: {sorted(presets)}")
    params = dict(presets[preset])
    for key, value in (overrides or {}).items():
        if key not in params:
            raise ValueError(f"make_figure: unknown parameter {key!r} for {name}; known: {sorted(params)}")
        params[key] = value
    params = _canonical(params)
    version = int(getattr(mod, "VERSION", 1))
    resolved = _canonical(mod.resolve(params)) if hasattr(mod, "resolve") else params
    key = params_hash(mod.NAME, resolved, version)
    out = Path(out_dir)
    cache_dir = out / "cache"
    seed = int(params.get("seed", 0))

    cached = None if force else _load_cache(cache_dir, key, mod.NAME, resolved)
    if cached is not None:
        record, results = cached
        computed = record["computed"]
        computed["from_cache"] = True
        if progress:
            print(f"[figures] {mod.NAME}: reusing cached results {cache_dir / key}.json", file=sys.stderr)
    else:
        rank = int(os.environ.get("RANK", 0))  # under torchrun every rank trains (DDP); rank 0 writes
        ctx = Context(seed=seed, runs_root=runs_root, show_progress=progress and rank == 0, launcher=launcher)
        start = time.perf_counter()
        if launcher is not None:  # every declared run at once, before compute asks for them one call at a time
            _launch_declared(launcher, resolved, runs_root)
        from icl.distributed import process_group  # loads torch, which only computing needs

        # under torchrun, one process group for the whole figure: the runs it trains share it
        with process_group():
            results = mod.compute(params, ctx)
        if not isinstance(results, dict):
            raise TypeError(f"{name}.compute must return a dict, got {type(results).__name__}")
        if rank != 0:
            return {"name": mod.NAME, "preset": preset, "rank": rank, "files": {}, "results": results}
        computed = {
            "wall_time_s": round(time.perf_counter() - start, 3),
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "runs": ctx.runs,
            "machine": machine_info(),
            "git_commit": git_commit(),
            "versions": package_versions(),
            "from_cache": False,
        }
        record = {"name": mod.NAME, "params": resolved, "version": version, "computed": computed}
        _save_cache(cache_dir, key, record, results)
        # reload so plot and claims see exactly what a cached rebuild would see
        record, results = _load_cache(cache_dir, key, mod.NAME, resolved)
        computed = dict(record["computed"], from_cache=False)

    claim_objs = mod.claims(results, params)
    if not isinstance(claim_objs, (list, tuple)) or not all(isinstance(c, Claim) for c in claim_objs):
        raise TypeError(f"{name}.claims must return a list of figures.Claim")
    claim_dicts = [c.evaluate() for c in claim_objs]
    summary = str(mod.summary(results, params)) if hasattr(mod, "summary") else ""

    import matplotlib.pyplot as plt

    fig = mod.plot(results, params)
    out.mkdir(parents=True, exist_ok=True)
    stem = mod.NAME
    files = {"png": str(out / f"{stem}.png"), "pdf": str(out / f"{stem}.pdf"), "json": str(out / f"{stem}.json")}
    try:
        fig.savefig(files["png"], dpi=150, bbox_inches="tight")
        fig.savefig(files["pdf"], bbox_inches="tight")
    finally:
        plt.close(fig)

    doc = {
        "name": mod.NAME,
        "description": str(mod.DESCRIPTION),
        "preset": preset,
        "params": params,
        "params_hash": key,
        "summary": summary,
        "claims": claim_dicts,
        "provenance": {
            "params": params,
            "resolved": resolved,
            "seed": computed["seed"],
            "seeds": {"figure": computed["seed"], "runs": [r.get("seed") for r in computed["runs"]]},
            "runs": computed["runs"],
            "versions": computed["versions"],
            "git_commit": computed["git_commit"],
            "wall_time_s": computed["wall_time_s"],
            "computed_at": computed["at"],
            "from_cache": computed["from_cache"],
            "machine": computed["machine"],
            "paper_gpu_time": str(getattr(mod, "PAPER_GPU_TIME", "unknown")),
        },
    }
    atomic_write_text(files["json"], json.dumps(doc, indent=1))
    if progress if report is None else report:
        if summary:
            print(f"\n{mod.NAME} ({preset})\n{summary}")
        print(f"\n{mod.NAME} ({preset}): claims")
        print(format_claims(claim_dicts))
        print(f"\nwrote {files['png']}, {files['pdf']}, {files['json']}")
    return dict(doc, files=files, results=results)


def _launch_declared(launcher, resolved: dict, runs_root) -> None:
    """Train the runs of ``resolved["resolved_runs"]`` (a list or a dict of config dicts) with ``launcher``."""
    from icl.config import config_from_dict

    declared = resolved.get("resolved_runs") or []
    configs = [config_from_dict(c) for c in (declared.values() if isinstance(declared, dict) else declared)]
    if configs:
        launcher.train_many(configs, runs_root)


def make_all(preset: str = "quick", out_dir: str | os.PathLike = "figures/out", force: bool = False,
             progress: bool = True, runs_root: str | os.PathLike = "runs",
             report: bool | None = None, launcher=None) -> dict[str, dict]:
    """Build every figure with ``preset``; returns ``{NAME: make_figure(...)}``."""
    return {
        name: make_figure(name, preset, out_dir=out_dir, force=force, progress=progress, runs_root=runs_root,
                          report=report, launcher=launcher)
        for name in list_figures()
    }


# ----------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``icl figure`` (also ``python -m figures``)."""
    parser.add_argument("name", nargs="?", help="figure NAME, or 'all'")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--preset", default="quick", help="tiny | quick | paper (default quick)")
    parser.add_argument("--out", default="figures/out", help="output folder (default figures/out)")
    parser.add_argument("--runs", default="runs", help="folder of trained runs (default runs)")
    parser.add_argument("--force", action="store_true", help="recompute even when cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (the claims table is still printed)")
    parser.add_argument("--publish", action="store_true",
                        help="copy NAME.png and NAME.json into docs/ after building (the committed results)")
    parser.add_argument("--gallery", action="store_true",
                        help="regenerate the README's gallery table from docs/*.json and exit")
    from icl.launch import add_launcher_arguments

    add_launcher_arguments(parser)


def run_from_args(args: argparse.Namespace) -> int:
    """Execute ``icl figure`` from parsed arguments; returns the exit code."""
    if args.gallery:
        from ._gallery import update_readme

        update_readme("README.md", "docs")
        print("README.md: gallery table regenerated from docs/*.json")
        return 0
    if args.list or not args.name:
        figs = list_figures()
        width = max((len(n) for n in figs), default=0)
        for n, desc in figs.items():
            mod = load_figure(n)
            print(f"{n.ljust(width)}  {desc}  [presets: {', '.join(mod.PRESETS)}; paper: "
                  f"{getattr(mod, 'PAPER_GPU_TIME', 'unknown')}]")
        return 0
    _check_args(args)
    from icl.launch import launcher_from_args

    kw = dict(out_dir=args.out, force=args.force, progress=not args.quiet, runs_root=args.runs, report=True,
              launcher=launcher_from_args(args))
    built = make_all(args.preset, **kw) if args.name == "all" else {args.name: make_figure(args.name, args.preset, **kw)}
    if args.publish:
        from ._gallery import publish

        for doc in built.values():
            for path in publish(doc["name"], args.out, "docs"):
                print(f"published {path}")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Refuse an unknown figure or preset and a file where a folder belongs, before any computing."""
    from icl.errors import ConfigError

    figs = list_figures()
    if args.name != "all" and args.name not in figs:
        raise ConfigError(f"unknown figure {args.name!r}; valid figures: {', '.join(figs)} (or all)")
    for name in figs if args.name == "all" else [args.name]:
        presets = load_figure(name).PRESETS
        if args.preset not in presets:
            raise ConfigError(f"--preset: figure {name} has no preset {args.preset!r}; valid presets: "
                              f"{', '.join(presets)}")
    for flag, folder in (("--out", args.out), ("--runs", args.runs)):
        if Path(folder).exists() and not Path(folder).is_dir():
            raise ConfigError(f"{flag}: {folder} is a file; it must name a folder")


def main(argv: list[str] | None = None) -> int:
    """``python -m figures``: the arguments of ``icl figure``, with its one-line errors (exit code 2)."""
    from icl.errors import ConfigError, RunLockedError

    parser = argparse.ArgumentParser(prog="python -m figures", description="Build paper figures with claims.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except (ConfigError, RunLockedError, OSError) as err:
        if os.environ.get("ICL_DEBUG"):
            raise
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2

