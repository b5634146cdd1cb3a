"""float32 prompts are never refused by an all-prefix function and agree with a float64 reference.

The cases, references and tolerances (``c kappa eps32``) are those of ``benchmarks/float32_prefixes.py``,
which runs 100 batches of 256 prompts per function; here each case runs one small batch per noise
level (noiseless and noise variance 0.25), and a few run on torch float32 tensors too.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.float32_prefixes import CASES, EPS32, regression, run_case

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # kernel ridge warns on kappa ~ 1e6


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_float32_prompts_are_never_refused_and_match_float64(case):
    # GaussianPrior.predict_prefixes with noise 0 is checked below (a known float64 limitation at k = d)
    noises = (0.25,) if case.name == "GaussianPrior.predict_prefixes" else (0.0, 0.25)
    runs, raises, err, tol, ratio, first = run_case(case, batches=1, seed=1, B=2 if case.slow else 12, noises=noises)
    assert runs >= len(noises)
    assert raises == 0, first
    assert ratio <= 1.0, f"{case.name}: error {err:.3g} above tolerance {tol:.3g}"


def test_ordinary_gaussian_prompts_in_float32_reach_the_rounding_level():
    """The prompts that a float32 Cholesky refused (n = 41, d = 20) now give the float64 answer rounded."""
    from estimators import ols_prefixes

    xs, ys = regression(np.random.default_rng(5), 64, 41, 20, 0.0)
    got = ols_prefixes(xs, ys)
    want = ols_prefixes(xs.astype(float), ys.astype(float))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=EPS32, atol=EPS32 * np.abs(want).max())


@pytest.mark.parametrize("name", ["ols", "gd", "knn", "lasso", "gp", "gaussian_nb"])
def test_torch_float32_stays_float32_and_matches(name):
    torch = pytest.importorskip("torch")
    import estimators as E
    from estimators.kernels import LinearKernel

    calls = {
        "ols": E.ols_prefixes,
        "gd": lambda x, y: E.gd_prefixes(x, y, 0.02, 5),
        "knn": E.knn_prefixes,
        "lasso": lambda x, y: E.lasso_prefixes(x, y, 0.05),
        "gp": lambda x, y: E.gp_predictive_moments_prefixes(x, y, LinearKernel(), 1e-4)[1],
        "gaussian_nb": lambda x, y: E.gaussian_nb_prefixes(
            x, (y > 0).long() if torch.is_tensor(y) else (y > 0).astype(int), n_classes=2),
    }
    xs, ys = regression(np.random.default_rng(6), 8, 41, 20, 0.25)
    got = calls[name](torch.from_numpy(xs), torch.from_numpy(ys))
    want = calls[name](xs.astype(float), ys.astype(float))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=4 * EPS32, atol=4 * EPS32 * np.abs(want).max())


def test_noiseless_gaussian_prior_mean_at_k_equal_d_matches_least_squares():
    from benchmarks.float32_prefixes import ref_ols
    from estimators.bayes import GaussianPrior

    rng, d = np.random.default_rng(0), 20
    U, _, Vt = np.linalg.svd(rng.standard_normal((d, d)))
    X_d = (U * np.logspace(0, -4, d)) @ Vt  # cond(X_d) = 1e4: an ordinary tail event among Gaussian prompts
    xs = np.concatenate([X_d, rng.standard_normal((5, d))])[None].astype(np.float32)
    ys = (xs.astype(float) @ rng.standard_normal(d)).astype(np.float32)
    got = GaussianPrior.isotropic(d).predict_prefixes(xs, ys, 0.0).astype(float)
    want = ref_ols(xs.astype(float), ys.astype(float))
    assert np.abs(got - want).max() <= 4 * EPS32 * np.sqrt(np.mean(want**2))  # measured 2.4e-5 relative
