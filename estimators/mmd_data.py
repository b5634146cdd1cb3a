"""The MMD benchmark samplers under their stable path; they live in :mod:`estimators.mmd.data`."""

from .mmd.data import BLOB_CORRELATIONS, blob, hdgm, multi_population, multi_population_rho, separated_populations

__all__ = ["blob", "hdgm", "multi_population", "multi_population_rho", "separated_populations", "BLOB_CORRELATIONS"]
