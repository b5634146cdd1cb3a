"""The task protocol, random streams and the task registry (shared by every function class).

A :class:`Task` draws prompts: ``sample(batch, n_points, generator) -> Batch(xs, ys, params)``
with ``xs`` (B, n, d) and ``ys`` (B, n) torch float32 tensors (int64 labels for classification).
Randomness comes from three separate numpy streams (:class:`Streams`): ``task`` (the function
parameters), ``inputs`` (the x's) and ``noise`` (observation noise), so that e.g. the same
inputs can be paired with other functions.

Seed scheme (``docs/design.md``, "Randomness"): the streams of training step t of a run with seed s are
``default_rng([TRAIN_DOMAIN, s, t, i])`` for stream i = 0, 1, 2 (:func:`train_streams`);
evaluation prompts use ``default_rng([EVAL_DOMAIN, seed, 0, i])`` (:func:`eval_generator`).
The first entropy word differs, so the two families of seed sequences are disjoint by
construction: no evaluation prompt can coincide with a training batch.

Keyword checks shared by the function classes (:func:`int_kw`, :func:`float_kw`) live here
too; they raise :class:`icl.errors.ConfigError` naming ``task.kwargs.<key>``. This package
imports ``icl.errors`` and never ``icl.config``: the config module validates its task section
by calling :func:`check_task_config`, so the dependency runs one way only.

What does not live here: the function classes themselves (``linear``, ``nonlinear``,
``classification`` modules of this package).
"""

from __future__ import annotations

import abc
import inspect
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from icl.errors import ConfigError

__all__ = [
    "Batch",
    "Streams",
    "Task",
    "TASKS",
    "register",
    "get_task",
    "make_task",
    "check_task_config",
    "train_streams",
    "eval_generator",
    "as_streams",
    "TRAIN_DOMAIN",
    "EVAL_DOMAIN",
]

TRAIN_DOMAIN = 0x7472  # "tr": first entropy word of every training stream
EVAL_DOMAIN = 0x6576  # "ev": first entropy word of every evaluation stream


@dataclass(frozen=True)
class Batch:
    """A batch of prompts: xs (B, n, d), ys (B, n), and the functions' parameters (tensor or dict)."""

    xs: torch.Tensor
    ys: torch.Tensor
    params: Any

    def to(self, device) -> "Batch":
        move = (lambda p: p.to(device)) if isinstance(self.params, torch.Tensor) else (lambda p: p)
        if isinstance(self.params, dict):
            params = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.params.items()}
        else:
            params = move(self.params)
        return Batch(self.xs.to(device), self.ys.to(device), params)


@dataclass(frozen=True)
class Streams:
    """Three independent numpy generators: function parameters, inputs, noise."""

    task: np.random.Generator
    inputs: np.random.Generator
    noise: np.random.Generator

    @classmethod
    def from_key(cls, *key: int) -> "Streams":
        """Streams ``default_rng([*key, i])`` for i = 0 (task), 1 (inputs), 2 (noise)."""
        words = [int(k) for k in key]
        if any(k < 0 for k in words):
            raise ValueError(f"Streams: seed words must be >= 0, got {words}")
        return cls(*(np.random.default_rng([*words, i]) for i in range(3)))


def train_streams(seed: int, step: int) -> Streams:
    """The streams of training step ``step`` of a run with seed ``seed`` (a pure function)."""
    return Streams.from_key(TRAIN_DOMAIN, seed, step)


def eval_generator(seed: int) -> Streams:
    """Streams for evaluation prompts, disjoint from every training stream (see module docstring)."""
    return Streams.from_key(EVAL_DOMAIN, seed, 0)


def as_streams(generator: Any) -> Streams:
    """Accept :class:`Streams`, a numpy ``Generator`` (split into three), a ``torch.Generator`` or an int seed."""
    if isinstance(generator, Streams):
        return generator
    if isinstance(generator, torch.Generator):
        generator = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return eval_generator(int(generator))
    if isinstance(generator, np.random.Generator):
        return Streams(*generator.spawn(3))
    raise TypeError(
        f"sample: generator must be icl.tasks.Streams, numpy.random.Generator, torch.Generator or int, "
        f"got {type(generator).__name__}"
    )


def int_kw(value: Any, key: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, else ConfigError naming ``task.kwargs.<key>``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"task.kwargs.{key}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def float_kw(value: Any, key: str, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite float >= ``minimum`` (> with ``strict``), else ConfigError naming the key.

    >>> float_kw(2, "scale", 0.0, strict=True)
    2.0
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        raise ConfigError(f"task.kwargs.{key}: must be a number {'>' if strict else '>='} {minimum}, got {value!r}")
    return float(value)


class Task(abc.ABC):
    """A function class: a prior over functions f, an input distribution, noise, and baselines.

    Subclasses set ``name``/``description`` and implement :meth:`sample_params` (default: the
    prior's ``sample``) and :meth:`evaluate` (noiseless f at the inputs); they may override
    :meth:`sample_inputs` (default x ~ N(0, I_d)).

    Attributes
    ----------
    d : int
        Input dimension.
    noise : float
        Observation-noise variance sigma^2 (``y = f(x) + sigma eps``).
    prior : estimators.bayes prior or None
        The exact prior the parameters are drawn from (the Bayes predictor is built from it).
    y_second_moment : float or None
        E[y^2] under the task (noise included), the error of the zero predictor; normalised
        errors divide by it. ``None`` for classification tasks.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    is_classification: ClassVar[bool] = False
    n_classes: int = 1
    prior: Any = None
    ridge_lam: float | None = None  # the Bayes ridge penalty sigma^2 / tau^2 where one exists

    def __init__(self, d: int, noise: float = 0.0):
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ConfigError(f"task.d: {self.name} needs an integer d >= 1, got {d!r}")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not np.isfinite(noise) or noise < 0:
            raise ConfigError(f"task.noise: must be a variance >= 0, got {noise!r}")
        self.d, self.noise = int(d), float(noise)

    # -- sampling ---------------------------------------------------------------------
    def sample_params(self, batch: int, rng: np.random.Generator) -> Any:
        """Parameters of ``batch`` functions (numpy), drawn through the prior object."""
        return self.prior.sample(batch, rng)

    def sample_inputs(self, batch: int, n_points: int, rng: np.random.Generator) -> np.ndarray:
        """Inputs (B, n, d); default x ~ N(0, I_d)."""
        return rng.standard_normal((batch, n_points, self.d))

    def x_second_moment(self) -> float:
        """E||x||^2 under :meth:`sample_inputs` (d for x ~ N(0, I_d))."""
        return float(self.d)

    @abc.abstractmethod
    def evaluate(self, xs: np.ndarray, params: Any) -> np.ndarray:
        """Noiseless values f(x) of shape (B, n) (labels for classification)."""

    def f_second_moment(self) -> float:
        """E[f(x)^2] (without noise); regression classes give the closed form, classification has none."""
        raise TypeError(f"{type(self).__name__}: a classification task has no E[f(x)^2]; y_second_moment is None")

    @property
    def y_second_moment(self) -> float | None:
        if self.is_classification:
            return None
        return self.f_second_moment() + self.noise

    def sample(self, batch: int, n_points: int, generator: Any, d_active: int | None = None) -> Batch:
        """Draw ``batch`` prompts of ``n_points`` pairs.

        Parameters
        ----------
        batch, n_points : int
        generator : Streams, numpy Generator, torch Generator or int
            Source of randomness (see :func:`as_streams`).
        d_active : int, optional
            Curriculum (Garg et al. 2022, Sec. 3): only the first ``d_active`` input coordinates
            are non-zero; the function is evaluated on the zero-padded inputs.

        Returns
        -------
        Batch
            xs (B, n, d) float32, ys (B, n) float32 (int64 labels for classification), params.
        """
        for value, key in ((batch, "batch"), (n_points, "n_points")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{self.name}.sample: {key} must be an integer >= 1, got {value!r}")
        streams = as_streams(generator)
        params = self.sample_params(batch, streams.task)
        xs = self.sample_inputs(batch, n_points, streams.inputs)
        if d_active is not None:
            if not 1 <= d_active <= self.d:
                raise ValueError(f"{self.name}.sample: d_active must be in [1, {self.d}], got {d_active}")
            xs[..., d_active:] = 0.0
        ys = self.evaluate(xs, params)
        if self.is_classification:
            ys_t = torch.as_tensor(np.asarray(ys), dtype=torch.int64)
        else:
            if self.noise > 0:
                ys = ys + np.sqrt(self.noise) * streams.noise.standard_normal(ys.shape)
            ys_t = torch.as_tensor(ys, dtype=torch.float32)
        return Batch(torch.as_tensor(xs, dtype=torch.float32), ys_t, _params_to_torch(params))

    # -- baselines --------------------------------------------------------------------
    def baselines(self) -> dict[str, Callable]:
        """Default all-prefix baselines ``name -> fn(xs, ys) -> preds (B, n)`` (torch in, torch out)."""
        from estimators import linear

        out: dict[str, Callable] = {
            "ols": linear.ols_prefixes,
            "averaging": linear.averaging_prefixes,
            "3-nn": partial(linear.knn_prefixes, k=3),
            # 20 steps at rate 1 / (4 E||x||^2): eta * lambda_max < 2 unless ||x||^2 > 8 E||x||^2 (one point)
            "gd": partial(linear.gd_prefixes, lr=0.25 / self.x_second_moment(), steps=20),
        }
        if self.ridge_lam is not None and self.ridge_lam > 0:
            out["ridge"] = partial(linear.ridge_prefixes, lam=self.ridge_lam)
        if self.prior is not None:
            out["bayes"] = self.bayes_prefixes
        return out

    def bayes_prefixes(self, xs, ys):
        """The exact posterior-mean prediction for every prefix (the prior's ``predict_prefixes``)."""
        if self.prior is None:
            raise ValueError(f"{self.name}: no exact prior, so no Bayes predictor")
        return self.prior.predict_prefixes(xs, ys, self.noise)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, noise={self.noise:g})"


def _params_to_torch(params: Any) -> Any:
    if isinstance(params, dict):
        return {k: _params_to_torch(v) for k, v in params.items()}
    if isinstance(params, np.ndarray):
        return torch.as_tensor(params, dtype=torch.float32 if params.dtype.kind == "f" else torch.int64)
    return params


# ----------------------------------------------------------------------------------------
# Registry

TASKS: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task to :data:`TASKS` under ``cls.name``."""
    if not cls.name or cls.name in TASKS:
        raise ValueError(f"register: task name {cls.name!r} is empty or taken")
    TASKS[cls.name] = cls
    return cls


def get_task(name: str, **kwargs: Any) -> Task:
    """Build the task ``name`` with keyword arguments (``d``, ``noise``, task-specific ones).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid names) or unknown/invalid arguments.
    """
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    cls = TASKS[name]
    sig = inspect.signature(cls.__init__)
    valid = [p for p in sig.parameters if p != "self"]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"task.kwargs.{key}: unknown argument of task {name!r}; valid: {', '.join(valid)}")
    try:
        return cls(**kwargs)
    except TypeError as err:  # e.g. a missing required argument
        raise ConfigError(f"task {name!r}: {err}") from None


def make_task(task_cfg) -> Task:
    """The task of a :class:`icl.config.TaskConfig` (its ``kwargs`` must not repeat d or noise)."""
    for key in ("d", "noise", "n_points"):
        if key in task_cfg.kwargs:
            raise ConfigError(f"task.kwargs.{key}: set task.{key} instead")
    return get_task(task_cfg.name, d=task_cfg.d, noise=task_cfg.noise, **task_cfg.kwargs)


def check_task_config(task_cfg) -> None:
    """Validate a TaskConfig by building its task (raises :class:`ConfigError`)."""
    make_task(task_cfg)
