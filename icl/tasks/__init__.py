"""Function classes for in-context learning: samplers, exact priors, baselines.

The classes follow Garg et al. 2022, Raventos et al. 2023, Panwar et al. 2024, Zheng et al.
2023 and Mueller et al. 2022 (Gaussian processes); each module names its sources with their sections.

``get_task(name, d=..., noise=..., **kwargs)`` (or ``make_task(task_cfg)``) builds a
:class:`Task`; ``TASKS`` maps names to classes (``icl tasks`` lists them, one line each).
Every task draws ``Batch(xs, ys, params)`` from three seeded streams (function, inputs, noise);
training batches use :func:`train_streams` and evaluation prompts :func:`eval_generator`, two
disjoint seed families (see ``icl/tasks/_base.py``).

Example
-------
>>> task = get_task("linear", d=2)
>>> batch = task.sample(3, 5, eval_generator(0))
>>> tuple(batch.xs.shape), tuple(batch.ys.shape)
((3, 5, 2), (3, 5))
>>> sorted(task.baselines())
['3-nn', 'averaging', 'bayes', 'gd', 'ols']
"""

from ._base import (
    EVAL_DOMAIN,
    TASKS,
    TRAIN_DOMAIN,
    Batch,
    Streams,
    Task,
    as_streams,
    check_task_config,
    eval_generator,
    get_task,
    make_task,
    register,
    train_streams,
)
from .linear import (  # importing a class module registers its tasks, in this order
    POOL_DOMAIN,
    FinitePool,
    GaussianMixtureTasks,
    LinearRegression,
    LinearTask,
    LowRank,
    SignVector,
    SparseLinear,
    TaskMixture,
)
from .nonlinear import (
    BASIS_DOMAIN,
    DecisionTree,
    FeatureTask,
    FourierMixture,
    FourierSeries,
    HaarFeatures,
    HaarWavelets,
    MonomialFeatures,
    Monomials,
    ReluNet,
)
from .classification import GaussianClasses, LinearClassification
from .gaussian_process import GaussianProcess, GPPrior, ScaledKernel

__all__ = [
    # protocol, streams, registry (_base)
    "Batch", "Streams", "Task", "TASKS", "register", "get_task", "make_task", "check_task_config",
    "train_streams", "eval_generator", "as_streams", "TRAIN_DOMAIN", "EVAL_DOMAIN",
    # linear classes
    "LinearTask", "LinearRegression", "SparseLinear", "SignVector", "LowRank", "GaussianMixtureTasks",
    "FinitePool", "TaskMixture", "POOL_DOMAIN",
    # nonlinear classes
    "FeatureTask", "FourierSeries", "FourierMixture", "HaarFeatures", "HaarWavelets", "MonomialFeatures",
    "Monomials", "ReluNet", "DecisionTree", "BASIS_DOMAIN",
    # classification
    "LinearClassification", "GaussianClasses",
    # Gaussian processes
    "GaussianProcess", "GPPrior", "ScaledKernel",
]  # fmt: skip
