"""Classification function classes: labels are int64 class indices, predictions carry a class axis.

Linear classification y = 1[x^T w > 0] with w ~ N(0, I) (Garg et al. 2022, Sec. 5; labels
0/1 here instead of -1/+1), and Gaussian class-conditional data: per prompt the class means
mu_c ~ N(0, mean_scale^2 I) and a diagonal covariance (shared by the classes, or one per class)
are drawn, labels are uniform and x | y = c ~ N(mu_c, diag(v_c)) (Zheng et al. 2023; Ng & Jordan
2001: with a shared covariance, naive Bayes is Bayes-optimal).

Baselines are the all-prefix classifiers of ``estimators.classify`` (naive Bayes and logistic
regression), returning probabilities (B, n, C). There is no E[y^2] normaliser
(``y_second_moment`` is None) and no additive noise.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import torch

from icl.errors import ConfigError

from ._base import Batch, Task, _params_to_torch, as_streams, float_kw, int_kw, register

__all__ = ["LinearClassification", "GaussianClasses"]


class _ClassificationTask(Task):
    is_classification = True

    def __init__(self, d: int, noise: float = 0.0):
        super().__init__(d, noise)
        if self.noise != 0:
            raise ConfigError(f"task.noise: {self.name} has no observation noise; set it to 0, got {self.noise}")

    def baselines(self) -> dict[str, Callable]:
        from estimators import classify

        uniform = np.full(self.n_classes, 1.0 / self.n_classes)
        return {
            # Uniform class priors and a visible variance floor keep early prefixes (unseen classes,
            # one point per class) at finite log-loss instead of probability 0.
            "naive-bayes": partial(
                classify.gaussian_nb_prefixes,
                n_classes=self.n_classes,
                shared_variance=True,
                priors=uniform,
                var_smoothing=0.01,
            ),
            "logistic": partial(classify.logistic_prefixes, n_classes=self.n_classes),
        }


@register
class LinearClassification(_ClassificationTask):
    """Labels 1[x^T w > 0], w ~ N(0, I_d), x ~ N(0, I_d) (Garg et al. 2022)."""

    name = "linear-classification"
    description = "labels 1[x^T w > 0], w ~ N(0, I) (Garg 2022)"
    n_classes = 2

    def __init__(self, d: int, noise: float = 0.0):
        super().__init__(d, noise)
        from estimators.bayes import GaussianPrior

        self.w_prior = GaussianPrior.isotropic(self.d)  # draws w; not a Bayes predictor for labels

    def sample_params(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        return self.w_prior.sample(batch, rng)

    def evaluate(self, xs: np.ndarray, params: np.ndarray) -> np.ndarray:
        return (np.einsum("bnd,bd->bn", xs, params) > 0).astype(np.int64)


@register
class GaussianClasses(_ClassificationTask):
    """x | y = c ~ N(mu_c, diag(v)), mu_c ~ N(0, mean_scale^2 I), v_j ~ U[var_low, var_high], y uniform.

    ``shared=True``: one v for all classes (naive Bayes with a pooled variance is Bayes-optimal);
    ``shared=False``: one v per class (quadratic Bayes rule). params = {"means" (B, C, d), "vars" (B, C, d)}.
    """

    name = "gaussian-classes"
    description = "Gaussian class-conditional classification, shared or per-class diagonal covariance (Zheng 2023)"

    def __init__(self, d: int, noise: float = 0.0, n_classes: int = 2, mean_scale: float = 1.0,
                 var_low: float = 0.5, var_high: float = 2.0, shared: bool = True):
        super().__init__(d, noise)
        self.n_classes = int_kw(n_classes, "n_classes", 2)
        self.mean_scale = float_kw(mean_scale, "mean_scale", 0.0)
        self.var_low = float_kw(var_low, "var_low", 0.0, strict=True)
        self.var_high = float_kw(var_high, "var_high", self.var_low)
        if not isinstance(shared, bool):
            raise ConfigError(f"task.kwargs.shared: expected true or false, got {shared!r}")
        self.shared = shared

    def sample_params(self, batch: int, rng: np.random.Generator) -> dict:
        C, d = self.n_classes, self.d
        means = self.mean_scale * rng.standard_normal((batch, C, d))
        v = rng.uniform(self.var_low, self.var_high, size=(batch, 1 if self.shared else C, d))
        return {"means": means, "vars": np.broadcast_to(v, (batch, C, d)).copy()}

    def sample(self, batch: int, n_points: int, generator, d_active: int | None = None) -> Batch:
        """As :meth:`Task.sample`; the labels come from the input stream, then x | label."""
        streams = as_streams(generator)
        params = self.sample_params(batch, streams.task)
        labels = streams.inputs.integers(0, self.n_classes, size=(batch, n_points))
        b = np.arange(batch)[:, None]
        mu, var = params["means"][b, labels], params["vars"][b, labels]  # (B, n, d)
        xs = mu + np.sqrt(var) * streams.inputs.standard_normal((batch, n_points, self.d))
        if d_active is not None:
            xs[..., d_active:] = 0.0
        return Batch(torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(labels, dtype=torch.int64),
                     _params_to_torch(params))

    def evaluate(self, xs, params):
        raise TypeError("gaussian-classes: labels are drawn before the inputs; use sample()")
