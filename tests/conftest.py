"""Shared fixtures: array backends, seeds, and hypothesis profiles.

Hypothesis profiles: ``dev`` (default, fast), ``ci`` (more examples, derandomized).
Choose with ``HYPOTHESIS_PROFILE=ci``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

try:  # jax defaults to float32; the estimators are checked in float64.
    import jax

    jax.config.update("jax_enable_x64", True)
except ImportError:  # pragma: no cover - jax is in the test extra
    jax = None


class Backend:
    """Converts numpy arrays to one library and back, for backend-parametrised tests."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, a):
        a = np.asarray(a)
        if self.name == "numpy":
            return a
        if self.name == "torch":
            import torch

            return torch.from_numpy(a.copy())
        import jax.numpy as jnp

        return jnp.asarray(a)

    def numpy(self, a):
        from estimators.validation import to_numpy

        return to_numpy(a)

    def __repr__(self):
        return self.name


@pytest.fixture(params=["numpy", "torch", "jax"])
def backend(request) -> Backend:
    """The same test on numpy, torch (CPU) and jax; convert inputs with ``backend(a)``."""
    return Backend(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)
