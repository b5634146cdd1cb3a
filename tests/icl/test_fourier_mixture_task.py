"""The fourier-mixture task draws Panwar et al.'s Fourier series: no constant term, coefficient variance 1/N."""

from __future__ import annotations

import numpy as np
import pytest

from estimators.bayes import fourier_mixture_prior
from icl.errors import ConfigError
from icl.tasks import eval_generator, get_task


def test_default_prior_is_panwars_standardised_series_without_constant():
    task = get_task("fourier-mixture", d=1, max_freq=5, length=5.0)
    b = task.sample(40000, 9, eval_generator(3))
    coefs = b.params.double().numpy()  # (B, 11): constant, cos_1..cos_5, sin_1..sin_5
    assert np.all(coefs[:, 0] == 0)
    n_top = (coefs[:, 1:6] != 0).sum(1)  # N of each prompt (a N(0, v) draw is never exactly 0)
    assert set(np.unique(n_top)) == {1, 2, 3, 4, 5}
    for N in range(1, 6):
        sel = coefs[n_top == N][:, 1:]
        # every active coefficient has variance 1/N (4 standard errors of a variance estimate)
        var = sel[:, np.r_[0:N, 5:5 + N]].var(0)
        assert np.all(np.abs(var - 1 / N) < 4 * np.sqrt(2 / len(sel)) / N), (N, var)
        # so E[f(x)^2] = 1 whatever N is
        assert abs(float((b.ys.double().numpy()[n_top == N] ** 2).mean()) - 1.0) < 0.06, N
    assert task.f_second_moment() == pytest.approx(1.0)


def test_switches_reproduce_the_earlier_unit_variance_prior_with_constant():
    old = get_task("fourier-mixture", d=1, max_freq=3, length=2.0, intercept=True, standardize=False)
    ref = fourier_mixture_prior(3, period_length=2.0)
    for c, r in zip(old.prior.prior.components, ref.prior.components):
        np.testing.assert_array_equal(c.cov, r.cov)
    assert old.f_second_moment() == pytest.approx(1.0 + (3 + 1) / 2)
    both = get_task("fourier-mixture", d=1, max_freq=3, length=2.0, intercept=True)
    np.testing.assert_allclose(np.diag(both.prior.prior.components[1].cov), [0.5, 0.5, 0.5, 0, 0.5, 0.5, 0])


def test_posterior_over_n_recovers_the_drawn_n():
    task = get_task("fourier-mixture", d=1, max_freq=4, length=5.0)
    b = task.sample(300, 30, eval_generator(2))
    w = np.asarray(task.prior.weights_prefixes(b.xs.double().numpy(), b.ys.double().numpy(), 1e-6))  # (B, n, 4)
    n_true = (b.params.numpy()[:, 1:5] != 0).sum(axis=1)
    assert (w[:, -1].argmax(-1) + 1 == n_true).mean() > 0.95


@pytest.mark.parametrize("key", ["intercept", "standardize"])
def test_switches_must_be_booleans(key):
    with pytest.raises(ConfigError, match=f"task.kwargs.{key}: must be true or false, got 1"):
        get_task("fourier-mixture", d=1, **{key: 1})
