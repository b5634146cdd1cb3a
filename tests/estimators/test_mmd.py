"""Tests of estimators.mmd: statistics vs double loops, batched permutations, calibration, hyppo, errors."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
import torch
from scipy import stats

from estimators import GaussianKernel, LaplaceKernel
from estimators.mmd import (
    DeepKernel,
    c2st,
    mmd2,
    mmd2_h1_variance,
    mpp,
    mpp_h1_variance,
    permutation_test,
    train_classifier,
    train_kernel,
)
from estimators.mmd._permutation import _permuted_statistics


def _k(kernel, a, b):
    """The kernel written out for one pair (independent of the matrix code)."""
    dist = np.sqrt(np.sum((a - b) ** 2))
    if isinstance(kernel, LaplaceKernel):
        return float(np.exp(-dist / kernel.bandwidth))
    return float(np.exp(-(dist**2) / (2 * kernel.bandwidth**2)))


def _loop_mmd2(X, Y, kernel, unbiased=True, one_sample=False):
    """The textbook double loops (Gretton et al. 2012, eqs. 3 and 5; Liu et al. 2020, eq. 2)."""
    n, m = len(X), len(Y)
    xx = sum(_k(kernel, X[i], X[j]) for i in range(n) for j in range(n) if i != j or not unbiased)
    yy = sum(_k(kernel, Y[i], Y[j]) for i in range(m) for j in range(m) if i != j or not unbiased)
    xy = sum(_k(kernel, X[i], Y[j]) for i in range(n) for j in range(m) if i != j or not one_sample)
    if not unbiased:
        return xx / n**2 + yy / m**2 - 2 * xy / (n * m)
    cross = n * (n - 1) if one_sample else n * m
    return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / cross


def _H(X, Y, kernel):
    n = len(X)
    return np.array(
        [[_k(kernel, X[i], X[j]) + _k(kernel, Y[i], Y[j]) - _k(kernel, X[i], Y[j]) - _k(kernel, Y[i], X[j])
          for j in range(n)] for i in range(n)]
    )


@pytest.mark.parametrize("kernel", [GaussianKernel(1.3), LaplaceKernel(0.7)])
@pytest.mark.parametrize("n,m", [(6, 6), (7, 4), (2, 9)])
def test_mmd2_equals_double_loop(rng, kernel, n, m):
    X, Y = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)) + 0.4
    # the kernel matrices use ||x||^2 + ||y||^2 - 2 x.y, accurate to ~1e-9 under a square root
    for unbiased in (True, False):
        assert float(mmd2(X, Y, kernel, unbiased)) == pytest.approx(_loop_mmd2(X, Y, kernel, unbiased), rel=1e-8, abs=1e-12)
    if n == m:
        got = float(mmd2(X, Y, kernel, one_sample=True))
        assert got == pytest.approx(_loop_mmd2(X, Y, kernel, one_sample=True), rel=1e-8, abs=1e-12)
        # Liu et al.'s formula: (1 / (n (n - 1))) sum_{i != j} H_ij
        H = _H(X, Y, kernel)
        assert got == pytest.approx((H.sum() - np.trace(H)) / (n * (n - 1)), rel=1e-8, abs=1e-12)


def test_h1_variances_match_liu_formula(rng):
    n = 8
    X, Y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) * 1.5
    k = GaussianKernel(0.9)
    H = _H(X, Y, k)
    want = 4 / n**3 * np.sum(H.sum(1) ** 2) - 4 / n**4 * H.sum() ** 2
    assert float(mmd2_h1_variance(X, Y, k)) == pytest.approx(want, rel=1e-9)
    Kyy = np.array([[_k(k, Y[i], Y[j]) for j in range(n)] for i in range(n)])
    Hs = H - Kyy
    want_mp = 4 / n**3 * np.sum(Hs.sum(1) ** 2) - 4 / n**4 * Hs.sum() ** 2
    assert float(mpp_h1_variance(X, Y, k)) == pytest.approx(want_mp, rel=1e-9)


@pytest.mark.parametrize("unbiased,one_sample", [(True, False), (False, False), (True, True)])
def test_mmd2_is_mpp_plus_yy_term(rng, unbiased, one_sample):
    n = 9
    X, Y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
    k = GaussianKernel(1.1)
    Kyy = k(Y, Y)
    yy = (Kyy.sum() - np.trace(Kyy)) / (n * (n - 1)) if unbiased else Kyy.sum() / n**2
    total = float(mpp(X, Y, k, unbiased, one_sample=one_sample)) + yy
    assert total == pytest.approx(float(mmd2(X, Y, k, unbiased, one_sample=one_sample)), rel=1e-12)


def test_unbiased_mmd2_is_unbiased(rng):
    """E MMD^2_u = MMD^2 = 0 under the null: the mean over 4000 null draws is within 4 SE of 0."""
    X, Y = rng.normal(size=(4000, 5, 1)), rng.normal(size=(4000, 5, 1))
    vals = mmd2(X, Y, GaussianKernel(1.0))
    se = vals.std() / np.sqrt(len(vals))
    assert abs(vals.mean()) < 4 * se
    biased = mmd2(X, Y, GaussianKernel(1.0), unbiased=False)
    assert biased.mean() > 10 * se  # the V-statistic is biased upwards


def test_backends_and_batching(backend, rng):
    X, Y = rng.normal(size=(3, 6, 2)), rng.normal(size=(3, 5, 2))
    k = GaussianKernel(1.0)
    want = mmd2(X, Y, k)
    got = mmd2(backend(X), backend(Y), k)
    assert array_api_compat.array_namespace(got) is array_api_compat.array_namespace(backend(X))
    assert tuple(got.shape) == (3,)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=1e-12)
    for b in range(3):
        assert float(want[b]) == pytest.approx(float(mmd2(X[b], Y[b], k)), rel=1e-12)
    # X shared by every test set broadcasts against batched Y
    np.testing.assert_allclose(mmd2(X[0], Y, k), [float(mmd2(X[0], Y[b], k)) for b in range(3)], rtol=1e-12)
    res = permutation_test(backend(X), backend(Y), k, 20, seed=0)
    assert tuple(res.null_distribution.shape) == (3, 20)
    ref = permutation_test(X, Y, k, 20, seed=0)
    np.testing.assert_allclose(backend.numpy(res.pvalue), ref.pvalue)
    np.testing.assert_allclose(backend.numpy(res.null_distribution), ref.null_distribution, rtol=1e-10)


@pytest.mark.parametrize("statistic", ["mmd2", "mmd2-biased", "mmd2-one-sample"])
def test_batched_permutation_statistics_equal_recomputation(rng, statistic):
    n = m = 6
    X, Y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 0.5
    Z = np.concatenate([X, Y])
    k = GaussianKernel(0.8)
    perms = np.argsort(rng.random((30, n + m)), axis=-1)
    got = _permuted_statistics(np, k(Z, Z), n, perms, statistic)
    kw = {"mmd2": {}, "mmd2-biased": {"unbiased": False}, "mmd2-one-sample": {"one_sample": True}}[statistic]
    want = [float(mmd2(Z[p[:n]], Z[p[n:]], k, **kw)) for p in perms]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    # the public test: its null distribution is the same relabelling of its own permutations
    res = permutation_test(X, Y, k, 25, statistic=statistic, seed=3)
    replay = np.argsort(np.random.default_rng(3).random((25, n + m)), axis=-1)
    want = [float(mmd2(Z[p[:n]], Z[p[n:]], k, **kw)) for p in replay]
    np.testing.assert_allclose(res.null_distribution, want, rtol=1e-10, atol=1e-13)
    assert float(res.statistic) == pytest.approx(float(mmd2(X, Y, k, **kw)), rel=1e-12)
    assert float(res.pvalue) == (1 + np.sum(res.null_distribution >= float(res.statistic) - 1e-13)) / 26


def test_pvalues_uniform_under_null():
    """500 independent null test sets: KS test against U(0, 1) at level 0.001 (seeded, not flaky)."""
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(500, 15, 2)), rng.normal(size=(500, 15, 2))
    res = permutation_test(X, Y, GaussianKernel(1.0), 199, seed=11)
    p = res.pvalue
    assert stats.kstest(p, "uniform").pvalue > 1e-3
    # level: rejections at alpha = 0.05 within the 99.9% binomial interval
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 500, 0.05)
    assert lo <= np.sum(p <= 0.05) <= hi
    # and the same data shifted: the test has power
    assert np.mean(permutation_test(X, Y + 1.5, GaussianKernel(1.0), 199, seed=11).pvalue <= 0.05) > 0.9


@pytest.mark.filterwarnings("ignore:The number of replications is low:RuntimeWarning")
@pytest.mark.parametrize("bias", [True, False])
def test_agrees_with_hyppo(rng, bias):
    hyppo_mmd = pytest.importorskip("hyppo.ksample").MMD
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 0.25
    bw = 1.5
    B = 300
    ours = permutation_test(X, Y, GaussianKernel(bw), B, statistic="mmd2-biased" if bias else "mmd2", seed=0)
    # hyppo's "gaussian" kernel is exp(-gamma ||x - y||^2): gamma = 1 / (2 bw^2)
    theirs = hyppo_mmd(compute_kernel="gaussian", bias=bias, gamma=1 / (2 * bw**2)).test(
        X, Y, reps=B, workers=1, auto=False, random_state=1
    )
    p1, p2 = float(ours.pvalue), float(theirs.pvalue)
    assert 0.02 < p1 < 0.98  # a p-value in the interesting range, so the comparison means something
    se = np.sqrt(2 * p1 * (1 - p1) / B)
    assert abs(p1 - p2) < 4 * se + 2 / B


def test_deep_kernel_formula_and_gradients(rng):
    torch.manual_seed(0)
    phi = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softplus()).double()
    k = DeepKernel(phi, bandwidth_phi=0.7, bandwidth_q=2.0, e=0.1)
    X = torch.tensor(rng.normal(size=(5, 3)))
    Y = torch.tensor(rng.normal(size=(4, 3)))
    K = k(X, Y)
    with torch.no_grad():
        d_phi = torch.cdist(phi(X), phi(Y)) ** 2
        d_raw = torch.cdist(X, Y) ** 2
        want = (0.9 * torch.exp(-d_phi / (2 * 0.7**2)) + 0.1) * torch.exp(-d_raw / (2 * 2.0**2))
    torch.testing.assert_close(K.detach(), want, rtol=1e-10, atol=1e-12)
    mmd2(X, Y, k).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in k.parameters())
    # numpy in -> numpy out, same numbers, no graph
    np.testing.assert_allclose(k(X.numpy(), Y.numpy()), want.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="e must be in"):
        DeepKernel(phi, e=1.0)
    with pytest.raises(ValueError, match="bandwidth_q must be > 0"):
        DeepKernel(phi, bandwidth_q=0.0)


@pytest.mark.parametrize("objective", ["mmd-o", "mmd-d", "mmd-mp"])
def test_train_kernel_improves_objective_and_feeds_the_test(objective):
    from estimators.mmd_data import blob

    Xtr, Ytr = blob(45, rng=0)
    kw = {} if objective == "mmd-o" else {"hidden": 16, "n_out": 16, "lr": 2e-3}
    kernel, hist = train_kernel(Xtr, Ytr, objective, n_epochs=150, seed=0, return_history=True, **kw)
    # J = stat / sqrt(var + eps) of the returned kernel, recomputed with the public functions
    stat, var = (mpp, mpp_h1_variance) if objective == "mmd-mp" else (mmd2, mmd2_h1_variance)
    J = float(stat(Xtr, Ytr, kernel, one_sample=True)) / np.sqrt(max(float(var(Xtr, Ytr, kernel)), 0) + 1e-8)
    assert len(hist) == 151 and J == pytest.approx(hist[-1], rel=1e-3)  # float32 training, float64 here
    assert J > hist[0]
    assert isinstance(kernel, GaussianKernel if objective == "mmd-o" else DeepKernel)
    Xte, Yte = blob(45, rng=1, size=4)
    res = permutation_test(Xte, Yte, kernel, 50, seed=0)  # numpy in, any feature dimension
    assert res.pvalue.shape == (4,) and np.all((res.pvalue > 0) & (res.pvalue <= 1))
    res_t = permutation_test(torch.tensor(Xte), torch.tensor(Yte), kernel, 50, seed=0)
    np.testing.assert_allclose(res_t.pvalue.numpy(), res.pvalue)


def test_grid_start_stays_off_the_near_identity_kernel():
    """At 2^-6 x the median the deep kernel's matrix is nearly the identity (mean off-diagonal entry < 0.01):
    each point sees almost no neighbour and J is noise, yet the old 2^-6 .. 2^2 grid picked it on this draw.
    The grid start stays within a factor 4 of the median, off the near-identity matrices."""
    from estimators import median_heuristic
    from estimators.mmd._learned import _grid_start, _mean_offdiag, _ratio, featurizer
    from estimators.mmd_data import blob

    X, Y = blob(90, rng=np.random.default_rng([1, 0]))
    Z = torch.tensor(np.concatenate([X, Y]), dtype=torch.float32)
    phi = featurizer(2, 30, 30, seed=1)
    q = GaussianKernel(float(median_heuristic(Z)))(Z, Z)
    med = float(median_heuristic(phi(Z).detach()))
    e = 1e-3

    def K_of(h):
        return ((1 - e) * GaussianKernel(h)(phi(Z), phi(Z)) + e) * q

    with torch.no_grad():
        old = max((med * 2.0**k for k in range(-6, 3)), key=lambda h: float(_ratio(K_of(h), 90, False, 1e-8)[0]))
        h = _grid_start(K_of, med, 90, 1e-8)
        assert old <= med / 16 and _mean_offdiag(K_of(old)) < 0.01
        assert med / 4 <= h <= 4 * med and _mean_offdiag(K_of(h)) >= 0.05


def test_train_kernel_minibatches_and_validation_selection():
    from estimators.mmd_data import hdgm

    X, Y = hdgm(200, 2, rng=3)
    Xv, Yv = hdgm(100, 2, rng=4)
    kernel, hist = train_kernel(X, Y, "mmd-d", n_epochs=20, hidden=8, n_out=8, lr=2e-3, batch_size=50, seed=0,
                                return_history=True)
    assert hist.shape == (21,) and np.all(np.isfinite(hist))
    # with a validation pair the returned kernel is the checkpoint with the best validation J (of MMD^2)
    J_val = lambda k: float(mmd2(Xv, Yv, k, one_sample=True)) / np.sqrt(  # noqa: E731
        max(float(mmd2_h1_variance(Xv, Yv, k)), 0) + 1e-8)
    picked = train_kernel(X, Y, "mmd-mp", n_epochs=20, hidden=8, n_out=8, lr=2e-3, seed=0, validation=(Xv, Yv),
                          val_every=5)
    for stop in (5, 10, 15, 20):  # every checkpoint the selection saw is no better on the validation pair
        k = train_kernel(X, Y, "mmd-mp", n_epochs=stop, hidden=8, n_out=8, lr=2e-3, seed=0)
        assert J_val(k) <= J_val(picked) + 1e-4
    with pytest.raises(TypeError, match="validation must be a pair"):
        train_kernel(X, Y, "mmd-d", n_epochs=2, validation=Xv)


def test_c2st_statistics_and_calibration(rng):
    X, Y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 1.5
    clf = train_classifier(X, Y, hidden=16, n_epochs=300, lr=1e-2)
    Xte, Yte = rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 1.5
    res = c2st(Xte, Yte, "S", classifier=clf, n_permutations=99)
    acc = (np.sum(clf(Xte) < 0) + np.sum(clf(Yte) > 0)) / 100
    assert float(res.statistic) == pytest.approx(acc) and acc > 0.7 and float(res.pvalue) == 0.01
    res_l = c2st(Xte, Yte, "L", classifier=clf, n_permutations=99)
    assert float(res_l.statistic) == pytest.approx(clf(Yte).mean() - clf(Xte).mean())
    # with the classifier fixed, the permutation p-values of null test sets are uniform
    Xn, Yn = rng.normal(size=(300, 20, 2)), rng.normal(size=(300, 20, 2))
    for kind in ("S", "L"):
        p = c2st(Xn, Yn, kind, classifier=clf, n_permutations=199, seed=5).pvalue
        assert p.shape == (300,)
        assert stats.kstest(p, "uniform").pvalue > 1e-3 if kind == "L" else np.mean(p <= 0.05) <= 0.05 + 0.04
    # without a classifier: split, train, test
    assert float(c2st(X, Y, "L", n_permutations=99, hidden=16, n_epochs=200, lr=1e-2).pvalue) <= 0.05


def test_bad_input_errors(rng):
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    k = GaussianKernel(1.0)
    with pytest.raises(ValueError, match="disagree on the number of features"):
        mmd2(X, rng.normal(size=(5, 3)), k)
    with pytest.raises(ValueError, match="Y must hold at least 2 points, got 1"):
        mmd2(X, Y[:1], k)
    with pytest.raises(ValueError, match="X contains NaN"):
        mmd2(np.where(X > 0, np.nan, X), Y, k)
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        mmd2(X, Y, GaussianKernel(0.0))
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        GaussianKernel(-1.0)
    with pytest.raises(ValueError, match="n_permutations must be >= 1, got 0"):
        permutation_test(X, Y, k, 0)
    with pytest.raises(TypeError, match="n_permutations must be an integer"):
        permutation_test(X, Y, k, 10.5)
    with pytest.raises(ValueError, match="statistic must be one of"):
        permutation_test(X, Y, k, 10, statistic="energy")
    with pytest.raises(ValueError, match="same number of points"):
        mmd2(X, Y[:4], k, one_sample=True)
    with pytest.raises(ValueError, match="same number of points"):
        mmd2_h1_variance(X, Y[:4], k)
    with pytest.raises(TypeError, match="one library"):
        mmd2(X, torch.tensor(Y), k)
    with pytest.raises(TypeError, match="kernel must be callable"):
        mmd2(X, Y, 1.0)
    with pytest.raises(ValueError, match="objective must be one of"):
        train_kernel(X, Y, "mmd-x")
    with pytest.raises(ValueError, match="same number of points"):
        train_kernel(X, Y[:4], "mmd-o")
    with pytest.raises(ValueError, match="kind must be 'S' or 'L'"):
        c2st(X, Y, "Q")
