"""The bad-input battery (``tests/estimators/battery.py``) over every public name of :mod:`estimators`.

Every public name must have an entry; every call must end in a finite answer or a ``ValueError`` /
``TypeError``, never another exception, a silent NaN/inf or a modified input; the calls that must work
(read-only, strided and Fortran-ordered arrays, torch and float32 versions of a valid call) must work.
"""

from __future__ import annotations

import numpy as np
import pytest

import estimators
from tests.estimators import battery

#: Known failures in modules this battery does not fix, each a strict xfail: fixing one makes its
#: test XPASS and fail, so the entry must then be removed here.
KNOWN: dict[str, str] = {}


@pytest.fixture(scope="module")
def results():
    return battery.run_all()


def test_every_public_name_has_an_entry():
    covered = {spec.name for spec in battery.SPECS}
    assert set(estimators.__all__) - covered == set(), "add a battery.Spec for each new public name"
    assert covered - set(estimators.__all__) == set()


def test_the_battery_calls_every_kind_of_bad_input(results):
    labels = {r.label.split(":")[-1] for r in results}
    for needed in ("nan", "inf", "empty", "ndim-1", "wrong d", "n-1", "dtype object", "dtype str", "dtype complex128",
                   "dtype bool", "dtype float16", "list", "torch mix", "numpy mix", "read-only", "strided",
                   "scale 1e-300", "scale 1e+300", "duplicate points", "one class", "label -1", "label 2**40"):
        assert needed in labels, needed
    for scalar in ("nan", "-1", "str", "bool"):
        assert any(r.label.endswith(f"={scalar}") for r in results), scalar


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN[n])) if n in KNOWN else n
     for n in estimators.__all__],
)
def test_no_unexpected_exception_silent_nan_or_modified_input(results, name):
    bad = [line for line in battery.failures([r for r in results if r.spec.name == name],
                                             ("unexpected", "silent", "modified"))]
    assert bad == []


def test_valid_calls_are_ok_and_refusals_name_the_argument(results):
    """Spot checks of the classification itself: a valid call is ok, a NaN is refused by name."""
    by = {(r.spec.name, r.spec.label, r.label): r for r in results}
    assert by[("ridge", "", "valid")].category == "ok"
    assert by[("ridge", "", "X:read-only")].category == "ok"
    assert by[("ridge", "", "X:nan")].category == "named"
    assert by[("ridge", "", "lam=str")].category == "named"
    assert by[("gaussian_nb_fit", "", "y:label 2**40")].category == "named"
    assert by[("krr_st", "", "torch float64")].category == "ok"


def test_table_counts_every_call(results):
    text = battery.table(results)
    total = text.splitlines()[-1].split("|")
    assert int(total[2]) == len(results)
    assert sum(int(c) for c in total[3:-1]) == len(results)


def test_validation_decisions():
    """float16 refused by name, strings and bools refused as numbers, labels range-checked as values."""
    from estimators import gaussian_nb_fit, ridge

    X, y = np.eye(3), np.ones(3)
    with pytest.raises(TypeError, match="X must have a real floating dtype"):
        ridge(X.astype(np.float16), y, 1.0)
    with pytest.raises(TypeError, match="lam must be a real number"):
        ridge(X, y, "1")
    with pytest.raises(TypeError, match="lam must be a real number"):
        ridge(X, y, True)
    with pytest.raises(ValueError, match="y implies 1099511627777 classes"):
        gaussian_nb_fit(np.ones((4, 2)), np.array([0, 1, 0, 2**40]))


# ----------------------------------------------------------------------------- the fixes the battery found


def test_ridge_is_scale_aware_like_scikit_learn_svd():
    """A timestamp-sized feature (1.7e9) and 1e8-scaled data: no 'linearly dependent', no LinAlgError."""
    from sklearn.linear_model import Ridge

    from estimators import ridge

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50)
    X[:, 0] = 1.7e9 + 1e3 * rng.standard_normal(50)
    for A in (X, 1e8 * rng.standard_normal((20, 4))):
        b = y[: A.shape[0]]
        ref = Ridge(alpha=1.0, fit_intercept=False, solver="svd").fit(A, b).coef_
        np.testing.assert_allclose(ridge(A, b, 1.0), ref, rtol=1e-7, atol=0)


def test_gaussian_kernel_tiny_bandwidth_is_the_identity():
    from estimators import GaussianKernel

    X = np.random.default_rng(0).standard_normal((4, 2))
    for h in (1e-300, 1e-170, 1e-100):
        np.testing.assert_array_equal(GaussianKernel(h)(X), np.eye(4))


def test_lasso_is_scale_equivariant_at_extreme_scales():
    """lasso(X, y, alpha) = (s / t) lasso(X / t, y / s, alpha / (s t)), solved at unit scale."""
    import warnings

    from estimators import lasso, lasso_prefixes

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    w = lasso(X, y, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no non-convergence warning at any scale
        for s in (1e-300, 1e-150, 1e150, 1e300):
            np.testing.assert_allclose(lasso(X, y * s, 0.1 * s) / s, w, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(lasso(X * s, y, 0.1 * s) * s, w, rtol=1e-9, atol=1e-12)
        xs, ys = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6))
        np.testing.assert_allclose(lasso_prefixes(xs, ys * 1e300, 0.1e300) / 1e300, lasso_prefixes(xs, ys, 0.1),
                                   rtol=1e-9, atol=1e-12)


def test_torch_only_code_trains_in_the_inputs_float64():
    import torch

    from estimators import krr_st, pretrain

    X = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = krr_st(X, torch.nn.Linear(3, 2).double(), lambda: torch.nn.Linear(3, 4), m=3, steps=2, pool_size=1,
                 reinit_every=2)
    assert out.X.dtype == out.Y.dtype == torch.float64
    net = pretrain(torch.nn.Linear(3, 2).double(), X, torch.ones(10, 1, dtype=torch.float64), steps=2)
    assert next(net.parameters()).dtype == torch.float64
    with pytest.raises(TypeError, match="pretrain: X has dtype torch.float64 but the model's parameters are"):
        pretrain(torch.nn.Linear(3, 2), X, torch.ones(10, 1, dtype=torch.float64), steps=2)
