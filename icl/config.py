"""Run configuration: frozen dataclasses, strict TOML presets and dotted-key overrides.

A run is described by one :class:`RunConfig` = task + model + training + seed. Presets
live in ``icl/presets/<name>.toml`` (``<task>-quick`` for a CPU in minutes, ``<task>-paper``
for the paper's scale on a GPU). Loading is strict: an unknown key, a value of the wrong
type or an out-of-range value raises :class:`~icl.errors.ConfigError` whose one-line message
names the key, e.g. ``ConfigError("model.n_layers: unknown key; valid keys: n_layer, n_head, ...")``.

Overrides are a mapping ``{"dotted.key": python_value}``; the command line's ``--set KEY=VALUE``
strings become that mapping through :func:`parse_overrides` (values are TOML literals, bare
words are strings). An override sets one value: it may not replace a whole section such as
``train`` (that would silently reset every other key of the section to its default).

Imports run one way: ``icl.errors`` <- ``icl.tasks`` <- ``icl.config``. The task section
(``task.name`` and ``task.kwargs``) is validated by building the task with
:func:`icl.tasks.check_task_config`; the tasks package raises :class:`~icl.errors.ConfigError`
from ``icl.errors`` and never imports this module, so there is no import cycle.

What does not live here: building tasks (``icl.tasks``), models (``icl.model``) or the
training loop (``icl.train``).

Example
-------
>>> cfg = load_preset("linear-quick", {"model.n_layer": 2, "train.steps": 10})
>>> cfg.model.n_layer, cfg.train.steps, cfg.task.name
(2, 10, 'linear')
>>> parse_overrides(["train.lr=3e-4", "train.schedule=wsd"])
{'train.lr': 0.0003, 'train.schedule': 'wsd'}
>>> config_from_dict(config_to_dict(cfg)) == cfg
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from icl.errors import ConfigError
from icl.tasks import TASKS, check_task_config

__all__ = [
    "ConfigError",
    "TaskConfig",
    "ModelConfig",
    "CurriculumConfig",
    "TrainConfig",
    "RunConfig",
    "load_preset",
    "load_config_file",
    "list_presets",
    "config_from_dict",
    "config_to_dict",
    "config_hash",
    "apply_overrides",
    "parse_overrides",
    "PRESET_DIR",
]

PRESET_DIR = Path(__file__).with_name("presets")
SCHEDULES = ("constant", "cosine", "wsd")
TOKEN_FORMATS = ("garg", "split", "pairs")
DEVICES = ("auto", "cpu", "cuda")
HEADS = ("mean", "gaussian", "bar")
GAUSSIAN_LOSSES = ("nll", "faithful")  # training objectives of the "gaussian" head (icl.heads.GaussianHead)
AMP_DTYPES = ("float32", "bfloat16")
MAX_SEED = 2**63 - 1  # torch.manual_seed takes a 64-bit integer


@dataclass(frozen=True)
class TaskConfig:
    name: str = "linear"  # registry name, see `icl tasks`
    d: int = 20  # input dimension
    n_points: int = 41  # (x, y) pairs per training prompt
    noise: float = 0.0  # observation-noise variance sigma^2
    kwargs: dict = field(default_factory=dict)  # task-specific keyword arguments (e.g. {"k": 3})


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int = 12  # transformer blocks
    n_head: int = 8  # attention heads per block
    n_embd: int = 256  # residual-stream width C
    n_positions: int = 41  # most (x, y) pairs a prompt may hold; the sequence has 2 * n_positions tokens
    pos_emb: bool = True  # learned positional embeddings (False: position only through causal masking)
    dropout: float = 0.0  # dropout in attention and MLP (Garg et al. use 0)
    bias: bool = True  # biases in Linear and LayerNorm layers
    token_format: str = "garg"  # "garg": x, [y, 0, ..., 0]; "split": [x, 0], [0, ..., 0, y]; "pairs": [x, 0], [x, y]
    head: str = "mean"  # read-out: "mean" (squared error), "gaussian" (mean, log-variance; Gaussian NLL), "bar" (Riemann)
    n_bins: int = 100  # bins of the "bar" head, edges at quantiles of the task's prior predictive of y
    gaussian_loss: str = "nll"  # "gaussian" head: "nll", or "faithful" (Stirn et al. 2023: the mean by squared error)


@dataclass(frozen=True)
class CurriculumConfig:
    enabled: bool = False  # Garg et al.'s curriculum over the input dimension and prompt length
    dims_start: int = 5  # active input coordinates at step 0 (the rest are zero)
    dims_inc: int = 1  # added every `interval` steps, up to task.d
    points_start: int = 11  # prompt length at step 0
    points_inc: int = 2  # added every `interval` steps, up to task.n_points
    interval: int = 2000  # steps between increments


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 500_000  # optimizer steps
    batch_size: int = 64  # global batch (split evenly over DDP ranks)
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    beta1: float = 0.9  # AdamW beta1
    beta2: float = 0.999  # AdamW beta2
    grad_clip: float = 0.0  # max global gradient norm; 0 disables clipping
    schedule: str = "constant"  # "constant" (after warmup), "cosine", or "wsd" (warmup-stable-decay)
    warmup: int = 0  # linear warmup steps
    decay_frac: float = 0.2  # wsd: fraction of the steps spent in the final linear decay
    min_lr_frac: float = 0.0  # cosine / wsd: final learning rate as a fraction of lr
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk (>= 2 keeps a good one while writing)
    log_every: int = 50  # steps between metrics lines
    eval_every: int = 0  # steps between held-out error curves in metrics.jsonl (0: only at the end)
    eval_prompts: int = 256  # prompts in each held-out error curve
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    amp_dtype: str = "float32"  # "bfloat16": autocast on CUDA (the CPU path stays float32)
    compile: bool = False  # torch.compile the model on CUDA
    log: tuple[str, ...] = ("jsonl",)  # metric sinks (icl.sinks): "jsonl" (metrics.jsonl, always), "tensorboard"


@dataclass(frozen=True)
class RunConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0  # run seed: batches are a pure function of (seed, step, stream)


# Fields that change how a run is executed or reported, not what it computes.
_HASH_EXCLUDED = {"train.device", "train.compile", "train.log_every", "train.checkpoint_every", "train.keep_checkpoints",
                  "train.log"}

# Fields added after runs and figure caches were first published: written (and hashed) only when they
# differ from their default, so every config that predates them keeps its dict, hash and run folder.
_OMITTED_AT_DEFAULT = {"model.head": "mean", "model.n_bins": 100, "model.gaussian_loss": "nll",
                       "train.log": ("jsonl",)}


# ----------------------------------------------------------------------------------------
# Strict conversion from plain dicts


def _check_value(value: Any, tp: Any, key: str) -> Any:
    """Check that ``value`` has type ``tp`` (ints are accepted for floats) and return it."""
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if typing.get_origin(tp) is tuple:  # tuple[str, ...]: a TOML array of strings
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected an array of strings, got {value!r}")
        return tuple(value)
    if tp is dict or typing.get_origin(tp) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return dict(value)
    raise ConfigError(f"{key}: unsupported field type {tp!r}")  # pragma: no cover


def _build(cls: type, data: Any, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        if key not in names:
            raise ConfigError(f"{full}: unknown key; valid keys: {', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            values[key] = _build(tp, value, full)
        else:
            values[key] = _check_value(value, tp, full)
    return cls(**values)


def _require(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {message}")


def _validate(cfg: RunConfig) -> None:
    t, m, tr, c = cfg.task, cfg.model, cfg.train, cfg.train.curriculum
    _require(t.d >= 1, "task.d", f"must be >= 1, got {t.d}")
    _require(t.n_points >= 1, "task.n_points", f"must be >= 1, got {t.n_points}")
    _require(t.noise >= 0, "task.noise", f"must be >= 0 (a variance), got {t.noise}")
    for name in ("n_layer", "n_head", "n_embd", "n_positions"):
        _require(getattr(m, name) >= 1, f"model.{name}", f"must be >= 1, got {getattr(m, name)}")
    _require(m.n_embd % m.n_head == 0, "model.n_embd", f"must be divisible by model.n_head={m.n_head}, got {m.n_embd}")
    _require(0 <= m.dropout < 1, "model.dropout", f"must be in [0, 1), got {m.dropout}")
    _require(m.token_format in TOKEN_FORMATS, "model.token_format", f"must be one of {', '.join(TOKEN_FORMATS)}, got {m.token_format!r}")
    _require(m.n_positions >= t.n_points, "model.n_positions", f"must be >= task.n_points={t.n_points}, got {m.n_positions}")
    _require(m.head in HEADS, "model.head", f"must be one of {', '.join(HEADS)}, got {m.head!r}")
    _require(m.n_bins >= 3, "model.n_bins", f"must be >= 3 (two tail bins and at least one inside), got {m.n_bins}")
    _require(m.head == "bar" or m.n_bins == _OMITTED_AT_DEFAULT["model.n_bins"], "model.n_bins",
             f"applies to model.head = 'bar' only, but model.head is {m.head!r}")
    _require(m.gaussian_loss in GAUSSIAN_LOSSES, "model.gaussian_loss",
             f"must be one of {', '.join(GAUSSIAN_LOSSES)}, got {m.gaussian_loss!r}")
    _require(m.head == "gaussian" or m.gaussian_loss == _OMITTED_AT_DEFAULT["model.gaussian_loss"], "model.gaussian_loss",
             f"applies to model.head = 'gaussian' only, but model.head is {m.head!r}")
    _require(set(tr.log) <= {"jsonl", "tensorboard"} and "jsonl" in tr.log and len(set(tr.log)) == len(tr.log),
             "train.log", f"must list 'jsonl' (metrics.jsonl, which resume reads) and optionally 'tensorboard', "
             f"each once, got {list(tr.log)}")
    _require(tr.steps >= 1, "train.steps", f"must be >= 1, got {tr.steps}")
    _require(tr.batch_size >= 1, "train.batch_size", f"must be >= 1, got {tr.batch_size}")
    _require(tr.lr > 0, "train.lr", f"must be > 0, got {tr.lr}")
    _require(tr.weight_decay >= 0, "train.weight_decay", f"must be >= 0, got {tr.weight_decay}")
    _require(0 <= tr.beta1 < 1, "train.beta1", f"must be in [0, 1), got {tr.beta1}")
    _require(0 <= tr.beta2 < 1, "train.beta2", f"must be in [0, 1), got {tr.beta2}")
    _require(tr.grad_clip >= 0, "train.grad_clip", f"must be >= 0, got {tr.grad_clip}")
    _require(tr.schedule in SCHEDULES, "train.schedule", f"must be one of {', '.join(SCHEDULES)}, got {tr.schedule!r}")
    _require(tr.warmup >= 0, "train.warmup", f"must be >= 0, got {tr.warmup}")
    _require(0 < tr.decay_frac <= 1, "train.decay_frac", f"must be in (0, 1], got {tr.decay_frac}")
    _require(0 <= tr.min_lr_frac <= 1, "train.min_lr_frac", f"must be in [0, 1], got {tr.min_lr_frac}")
    _require(tr.checkpoint_every >= 1, "train.checkpoint_every", f"must be >= 1, got {tr.checkpoint_every}")
    _require(tr.keep_checkpoints >= 2, "train.keep_checkpoints", f"must be >= 2, got {tr.keep_checkpoints}")
    _require(tr.log_every >= 1, "train.log_every", f"must be >= 1, got {tr.log_every}")
    _require(tr.eval_every >= 0, "train.eval_every", f"must be >= 0, got {tr.eval_every}")
    _require(tr.eval_prompts >= 1, "train.eval_prompts", f"must be >= 1, got {tr.eval_prompts}")
    _require(tr.device in DEVICES, "train.device", f"must be one of {', '.join(DEVICES)}, got {tr.device!r}")
    _require(tr.amp_dtype in AMP_DTYPES, "train.amp_dtype", f"must be one of {', '.join(AMP_DTYPES)}, got {tr.amp_dtype!r}")
    if c.enabled:
        _require(1 <= c.dims_start <= t.d, "train.curriculum.dims_start", f"must be in [1, task.d={t.d}], got {c.dims_start}")
        _require(1 <= c.points_start <= t.n_points, "train.curriculum.points_start",
                 f"must be in [1, task.n_points={t.n_points}], got {c.points_start}")
        _require(c.dims_inc >= 0, "train.curriculum.dims_inc", f"must be >= 0, got {c.dims_inc}")
        _require(c.points_inc >= 0, "train.curriculum.points_inc", f"must be >= 0, got {c.points_inc}")
        _require(c.interval >= 1, "train.curriculum.interval", f"must be >= 1, got {c.interval}")
    _require(0 <= cfg.seed <= MAX_SEED, "seed", f"must be in [0, 2**63 - 1] (torch seeds are 64-bit), got {cfg.seed}")
    check_task_config(t)
    _require(m.head == "mean" or not TASKS[t.name].is_classification, "model.head",
             f"{m.head!r} reads out a distribution over a real y; the classification task {t.name!r} needs 'mean' "
             "(logits)")


def config_from_dict(data: dict) -> RunConfig:
    """Build a validated :class:`RunConfig` from nested dicts (strict: unknown keys are errors)."""
    cfg = _build(RunConfig, data, "")
    _validate(cfg)
    return cfg


def config_to_dict(cfg: RunConfig) -> dict:
    """Nested plain dicts (JSON- and TOML-able) of a config; inverse of :func:`config_from_dict`.

    The fields of ``_OMITTED_AT_DEFAULT`` (``model.head``, ``model.n_bins``, ``model.gaussian_loss``) appear only when they
    differ from their default, so a config written before they existed has the same dict and hash.
    """
    data = dataclasses.asdict(cfg)
    for dotted, default in _OMITTED_AT_DEFAULT.items():
        section, key = dotted.split(".")
        if data[section].get(key) == default:
            del data[section][key]
    return data


def config_hash(cfg: RunConfig) -> str:
    """A stable 12-hex-digit hash of what a run computes (device and logging fields excluded)."""
    data = config_to_dict(cfg)
    for dotted in _HASH_EXCLUDED:
        section, key = dotted.split(".")
        data[section].pop(key, None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ----------------------------------------------------------------------------------------
# Overrides and presets


def _parse_value(text: str) -> Any:
    """A TOML value (``4``, ``1e-3``, ``true``, ``"x"``, ``{k = 3}``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["key.path=value", ...]`` (the command line's ``--set``) -> ``{"key.path": value}``.

    Values are TOML literals (``4``, ``1e-3``, ``true``, ``"x"``, ``[1, 2]``, ``{k = 3}``);
    anything that is not valid TOML is kept as a string. A later item for the same key wins.

    >>> parse_overrides(["model.n_layer=4", "model.pos_emb=false", "task.name=sparse-linear"])
    {'model.n_layer': 4, 'model.pos_emb': False, 'task.name': 'sparse-linear'}
    """
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. model.n_layer=4")
        key, text = item.split("=", 1)
        out[key.strip()] = _parse_value(text.strip())
    return out


def _plain(value: Any) -> Any:
    """A deep copy of an override value as TOML-like data (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a numpy scalar
        return value.item()
    return value


def apply_overrides(data: dict, overrides: Mapping[str, Any] | None = None) -> dict:
    """Apply ``{"key.path": value}`` overrides to nested dicts (a deep copy is returned).

    Keys must exist in the config schema, except below ``task.kwargs`` (checked by the task).
    A key may name a value or a dict-valued field (``task.kwargs``), not a section of the
    schema (``train``, ``train.curriculum``, ...): that is a ConfigError naming the key.

    >>> apply_overrides({"model": {"n_layer": 2}}, {"model.n_layer": 3})
    {'model': {'n_layer': 3}}
    """
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must be a mapping {{'dotted.key': value}}, got {type(overrides).__name__}; "
                        "turn 'key=value' strings into one with icl.config.parse_overrides")
    data = json.loads(json.dumps(data))
    for key, value in overrides.items():
        parts = key.split(".") if isinstance(key, str) else [""]
        if not all(p.strip() and p == p.strip() for p in parts):
            raise ConfigError(f"{key!r}: malformed key; expected a dotted path such as model.n_layer")
        node, cls = data, RunConfig
        for i, part in enumerate(parts):
            full = ".".join(parts[: i + 1])
            last = i == len(parts) - 1
            next_cls = None
            if cls is not None:
                names = [f.name for f in dataclasses.fields(cls)]
                if part not in names:
                    raise ConfigError(f"{full}: unknown key; valid keys: {', '.join(names)}")
                tp = typing.get_type_hints(cls)[part]
                next_cls = tp if dataclasses.is_dataclass(tp) else None
                if last and next_cls is not None:
                    example = dataclasses.fields(next_cls)[0].name
                    raise ConfigError(f"{full}: is a section, not a value; set its keys one by one, e.g. {full}.{example}")
                if next_cls is None and not last and tp is not dict:
                    raise ConfigError(f"{full}: is a value, not a table; cannot set {key}")
            if last:
                node[part] = _plain(value)
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"{full}: is a value, not a table; cannot set {key}")
            cls = next_cls
    return data


def list_presets() -> list[str]:
    """Names of the bundled presets (``icl/presets/*.toml``), sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def _read_toml(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what}: invalid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what}: not a UTF-8 text file ({err.reason} at byte {err.start}); "
                          "expected a TOML file or a run's config.json") from None


def load_config_file(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Load a TOML (or a run's ``config.json``) file, apply ``{"dotted.key": value}`` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} " + ("is a folder" if path.is_dir() else "does not exist"))
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ConfigError(f"{path}: not a JSON config ({err})") from None
    else:
        data = _read_toml(path, str(path))
    return config_from_dict(apply_overrides(data, overrides))


def load_preset(name: str, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Load the preset ``name`` (see :func:`list_presets`) with ``{"dotted.key": value}`` overrides.

    Raises
    ------
    ConfigError
        Unknown preset (the message lists the valid ones), unknown key, wrong type or
        out-of-range value (the message names the key).
    """
    names = list_presets()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(names)}")
    data = _read_toml(PRESET_DIR / f"{name}.toml", f"preset {name}")
    return config_from_dict(apply_overrides(data, overrides))
