"""A run folder and the model it holds: creating the folder, building and loading the run's GPT.

A run folder (``runs/<config hash>`` by default) holds ``config.json`` (the resolved config),
``run.json`` (config hash, seed and the provenance of ``icl.checkpoint.provenance``),
``metrics.jsonl`` and the checkpoints. :func:`prepare_run_dir` creates it or checks that it
holds the same run (same config hash), so a rerun resumes instead of mixing two runs;
:func:`build_model` builds a run's GPT deterministically from ``cfg.seed`` and
:func:`load_model` restores it from the newest intact checkpoint (for evaluation and figures).

What does not live here: writing checkpoints (``icl.checkpoint``) and the loop that writes them
(``icl.train``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from icl.checkpoint import atomic_write_text, latest_checkpoint, provenance
from icl.config import RunConfig, config_from_dict, config_hash, config_to_dict
from icl.errors import CheckpointError, ConfigError
from icl.heads import quantile_edges
from icl.model import GPT
from icl.tasks import Streams, Task, make_task

__all__ = ["build_model", "load_model", "prepare_run_dir", "truncate_metrics", "bar_edges", "BINS_DOMAIN"]

BINS_DOMAIN = 0x6269  # "bi": first entropy word of the prompts that place the bar head's bins
_BIN_PROMPTS = 4096  # prompts (of task.n_points pairs each) whose y's give the bin edges' quantiles


def bar_edges(cfg: RunConfig, task: Task) -> torch.Tensor:
    """Bin edges of the bar head: quantiles of y over fresh prompts of the run's task (``n_bins + 1``,).

    The prompts come from ``Streams.from_key(BINS_DOMAIN, cfg.seed)``, disjoint from the training
    and evaluation streams, so the edges are a pure function of the config (Mueller et al. 2022,
    Sec. 4: borders at quantiles of the prior predictive of y).
    """
    ys = task.sample(_BIN_PROMPTS, cfg.task.n_points, Streams.from_key(BINS_DOMAIN, cfg.seed)).ys
    return quantile_edges(ys, cfg.model.n_bins)


def build_model(cfg: RunConfig, task: Task | None = None) -> GPT:
    """The GPT of a run, initialised from ``cfg.seed`` (deterministic); a bar head gets :func:`bar_edges`."""
    task = make_task(cfg.task) if task is None else task
    edges = bar_edges(cfg, task) if cfg.model.head == "bar" else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return GPT(cfg.model, n_dims=task.d, n_out=task.n_classes if task.is_classification else 1, bar_edges=edges)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, RunConfig]:
    """The model of a run's newest intact checkpoint (eval mode) and the run's config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{run_dir} is not a run folder: config.json is missing")
    cfg = config_from_dict(json.loads(cfg_path.read_text()))
    found = latest_checkpoint(run_dir)
    if found is None:
        raise CheckpointError(f"run {run_dir} has no checkpoint yet")
    model = build_model(cfg)
    model.load_state_dict(found[1]["model"])
    return model.to(device).eval(), cfg


def prepare_run_dir(cfg: RunConfig, run_dir: str | Path) -> Path:
    """Create the run folder with config.json and run.json, or check that it holds this very run.

    Raises
    ------
    ConfigError
        ``run_dir`` holds a run of another config (or an unreadable config.json).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.json"
    if cfg_path.is_file():
        try:
            old = config_from_dict(json.loads(cfg_path.read_text()))
        except (ValueError, ConfigError) as err:
            raise ConfigError(f"{cfg_path} is unreadable ({err}); choose another --out") from None
        if config_hash(old) != config_hash(cfg):
            raise ConfigError(
                f"{run_dir} holds a run with another config (hash {config_hash(old)}, this one {config_hash(cfg)}); "
                "choose another --out")
    else:
        atomic_write_text(cfg_path, json.dumps(config_to_dict(cfg), indent=2))
        run = {"config_hash": config_hash(cfg), "seed": cfg.seed, **provenance()}
        atomic_write_text(run_dir / "run.json", json.dumps(run, indent=2))
    return run_dir


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics lines written after ``step`` (they will be recomputed by the resumed run)."""
    if not path.is_file():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_text(path, "\n".join(keep) + "\n" if keep else "")
