"""Function classes for in-context learning: samplers, exact priors, baselines.

The classes follow Garg et al. 2022, Raventos et al. 2023, Panwar et al. 2024 and Zheng et al.
2023; each module names its sources with their sections.

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

from ._base import *  # noqa: F401,F403
from ._base import __all__ as _base_all
from .linear import *  # noqa: F401,F403
from .linear import __all__ as _linear_all
from .nonlinear import *  # noqa: F401,F403
from .nonlinear import __all__ as _nonlinear_all
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _classification_all

__all__ = [*_base_all, *_linear_all, *_nonlinear_all, *_classification_all]
