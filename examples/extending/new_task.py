"""Extending the toolkit, 1: a new task with its prior (shown on the docs page "Extending").

A task is a prior over functions plus an input distribution and noise. The class below draws
w ~ N(0, diag(s_1^2, ..., s_d^2)) with a power-law spectrum s_j^2 proportional to j^(-decay)
(a few directions matter, the rest barely): the prior is an ``estimators.bayes.GaussianPrior``,
and the task samples through that object, so the data and the Bayes baseline share one set of
numbers (docs/design.md, "Data flow"). Its Bayes predictor is then not isotropic ridge.
"""

import numpy as np

from estimators import ridge_prefixes
from estimators.bayes import GaussianPrior
from icl.config import load_preset
from icl.errors import ConfigError
from icl.tasks import TASKS, LinearTask, eval_generator, get_task, register


class PowerLawLinear(LinearTask):
    """Linear regression with w ~ N(0, diag(s^2)), s_j^2 = d j^(-decay) / sum_i i^(-decay) (so E||w||^2 = d)."""

    name = "power-law-linear"
    description = "linear regression, w ~ N(0, diag(s^2)) with a power-law spectrum s_j^2 ~ j^(-decay)"

    def __init__(self, d: int, noise: float = 0.0, decay: float = 2.0):
        super().__init__(d, noise)
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not decay >= 0:
            raise ConfigError(f"task.kwargs.decay: must be a number >= 0, got {decay!r}")  # names the key
        self.decay = float(decay)
        spectrum = np.arange(1, self.d + 1, dtype=float) ** -self.decay
        self.variances = self.d * spectrum / spectrum.sum()
        self.prior = GaussianPrior(np.zeros(self.d), np.diag(self.variances))  # samples w AND gives "bayes"

    def w_second_moment(self) -> float:
        return float(self.variances.sum())


if PowerLawLinear.name not in TASKS:  # register once per process (running this file twice is harmless)
    register(PowerLawLinear)

# 1. The registry builds it from a config, so `icl train` / figures can use it once its module is imported.
task = get_task("power-law-linear", d=8, noise=0.1, decay=2.0)
cfg = load_preset("linear-quick", {"task.name": "power-law-linear", "task.d": 8, "task.noise": 0.1,
                                   "task.kwargs": {"decay": 2.0}})
assert cfg.task.name == "power-law-linear"

# 2. Prompts come from the prior object; the exact Bayes predictor is among the baselines.
batch = task.sample(2000, 17, eval_generator(0))
xs, ys = batch.xs.double().numpy(), batch.ys.double().numpy()
assert "bayes" in task.baselines()
bayes = task.bayes_prefixes(xs, ys)
# isotropic ridge with the same total prior variance (tau^2 = E||w||^2 / d = 1): the "wrong prior"
iso = ridge_prefixes(xs, ys, lam=task.noise / 1.0)

# 3. The Bayes predictor of the true prior beats isotropic ridge while k < d (where the prior matters).
err_bayes = ((bayes - ys) ** 2).mean(0) / task.y_second_moment
err_iso = ((iso - ys) ** 2).mean(0) / task.y_second_moment
print("k:          ", " ".join(f"{k:6d}" for k in range(1, 9)))
print("Bayes:      ", " ".join(f"{e:6.3f}" for e in err_bayes[1:9]))
print("iso ridge:  ", " ".join(f"{e:6.3f}" for e in err_iso[1:9]))
assert (err_bayes[1:8] < err_iso[1:8]).all()
