"""KRR-ST and the distillation baselines: inner solve, gradients, loops, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from estimators import (
    DistilledSet,
    GaussianKernel,
    LinearKernel,
    kernel_ridge_fit,
    kernel_ridge_predict,
    kip,
    kmeans_coreset,
    krr_predict,
    krr_st,
    pretrain,
    random_subset,
)
from estimators.distill import pretrain_supervised


def _problem(n=200, d=6, r=3, seed=0):
    """Real inputs from a few clusters and a fixed nonlinear target model g."""
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(5, d, generator=gen)
    X = centres[torch.randint(5, (n,), generator=gen)] + 0.5 * torch.randn(n, d, generator=gen)
    torch.manual_seed(seed)
    g = torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.Tanh(), torch.nn.Linear(16, r))
    return X, g


def _factory():
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())


def test_krr_inner_solve_gradcheck():
    gen = torch.Generator().manual_seed(1)
    # lam = lam_scale tr(K_ss) is part of the graph. With lam_scale = 1e-6 (KRR-ST's value) the
    # features have full row rank (h > m) so K_ss is well conditioned; a rank-deficient K_ss
    # (h < m, as in KRR-ST with a large distilled set) is checked with a larger lam_scale, since
    # finite differences on a near-singular system are not accurate enough to compare.
    for m, h, scale in [(5, 8, 1e-6), (6, 3, 1e-2)]:
        F_s = torch.randn(m, h, dtype=torch.float64, generator=gen, requires_grad=True)
        F_r = torch.randn(7, h, dtype=torch.float64, generator=gen, requires_grad=True)
        Y_s = torch.randn(m, 2, dtype=torch.float64, generator=gen, requires_grad=True)
        fn = lambda Fs, Fr, Ys: krr_predict(Fs @ Fs.T, Fr @ Fs.T, Ys, scale)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (F_s, F_r, Y_s))


def test_krr_inner_solve_is_kernel_ridge_with_trace_scaled_lam(rng):
    F_s, F_r, Y_s = rng.normal(size=(6, 3)), rng.normal(size=(4, 3)), rng.normal(size=(6, 2))
    K = F_s @ F_s.T
    lam = 1e-3 * np.trace(K)
    out = krr_predict(torch.from_numpy(K), torch.from_numpy(F_r @ F_s.T), torch.from_numpy(Y_s), 1e-3).numpy()
    for j in range(2):
        ref = kernel_ridge_predict(kernel_ridge_fit(F_s, Y_s[:, j], LinearKernel(), lam), F_r)
        np.testing.assert_allclose(out[:, j], ref, rtol=1e-7, atol=1e-9)
    out32 = krr_predict(*(torch.from_numpy(a).float() for a in (K, F_r @ F_s.T, Y_s)), 1e-3)
    assert out32.dtype == torch.float32


def test_krr_st_lowers_its_outer_loss_and_is_deterministic():
    X, g = _problem()
    calls = []

    def factory():
        calls.append(1)
        return _factory()

    kw = dict(steps=120, batch_size=64, lr=0.03, pool_size=3, reinit_every=30, online_lr=1e-2, seed=3)
    out = krr_st(X, g, factory, 8, **kw)
    assert isinstance(out, DistilledSet) and out.X.shape == (8, 6) and out.Y.shape == (8, 3)
    assert not out.X.requires_grad and len(out.losses) == 120
    assert np.mean(out.losses[-20:]) < 0.7 * np.mean(out.losses[:20])
    calls.clear()
    krr_st(X, g, factory, 4, steps=40, pool_size=1, reinit_every=10)
    # one model, pre-trained for a in [1, 9] steps, then re-initialised whenever it reaches 10 steps:
    # after 10 - a online steps and every 10 after that, 4 times in 40 steps whatever a is
    assert len(calls) == 1 + 4
    again = krr_st(X, g, _factory, 8, **kw)
    assert torch.equal(out.X, again.X) and torch.equal(out.Y, again.Y)


def test_krr_st_detaches_lam_and_augments_the_real_batch():
    gen = torch.Generator().manual_seed(2)
    F_s = torch.randn(4, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    F_r, Y_s = torch.randn(3, 6, dtype=torch.float64, generator=gen), torch.randn(4, 2, dtype=torch.float64)
    lam = 1e-2 * torch.trace(F_s @ F_s.T).detach()
    by_hand = F_r @ F_s.T @ torch.linalg.solve(F_s @ F_s.T + lam * torch.eye(4, dtype=torch.float64), Y_s)
    (g1,) = torch.autograd.grad(by_hand.sum(), F_s)
    (g2,) = torch.autograd.grad(krr_predict(F_s @ F_s.T, F_r @ F_s.T, Y_s, 1e-2, detach_lam=True).sum(), F_s)
    (g3,) = torch.autograd.grad(krr_predict(F_s @ F_s.T, F_r @ F_s.T, Y_s, 1e-2).sum(), F_s)
    torch.testing.assert_close(g2, g1)
    assert not torch.allclose(g3, g1)  # the trace term is part of the other gradient
    X, g = _problem()
    seen = []

    def augment(xb, generator):
        seen.append(xb.shape[0])
        return xb + 0.1 * torch.randn(xb.shape, generator=generator)

    out = krr_st(X, g, _factory, 5, steps=7, batch_size=32, pool_size=2, reinit_every=5, augment=augment)
    assert seen == [32] * 7 and len(out.losses) == 7
    with pytest.raises(TypeError, match="augment must be callable"):
        krr_st(X, g, _factory, 5, steps=2, augment=1.0)


def test_pretrain_supervised_fits_the_labels():
    X, _ = _problem(n=120)
    y = (X[:, 0] > X[:, 0].median()).long() + 2 * (X[:, 1] > X[:, 1].median()).long()  # 4 classes
    torch.manual_seed(0)
    net = _factory()
    assert pretrain_supervised(net, X, y, steps=300, lr=1e-2) is net
    head = torch.nn.Linear(16, 4)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    with torch.no_grad():
        feats = net(X)
    for _ in range(300):  # a linear read-out of the pretrained features separates the classes
        opt.zero_grad()
        torch.nn.functional.cross_entropy(head(feats), y).backward()
        opt.step()
    assert float((head(feats).argmax(1) == y).float().mean()) > 0.9
    with pytest.raises(ValueError, match="labels must be an integer tensor of shape"):
        pretrain_supervised(net, X, y.float())


def test_kip_lowers_its_outer_loss():
    X, g = _problem()
    out = kip(X, g, 8, steps=100, batch_size=64, lr=0.03, seed=1)
    assert out.X.shape == (8, 6) and len(out.losses) == 100
    assert np.mean(out.losses[-20:]) < 0.7 * np.mean(out.losses[:20])
    fixed = kip(X, g, 8, kernel=GaussianKernel(2.0), steps=5, seed=1)
    assert fixed.Y.shape == (8, 3)


def test_random_subset_rows_and_targets():
    X, g = _problem()
    out = random_subset(X, g, 10, seed=4)
    rows = {tuple(r.tolist()) for r in X}
    assert all(tuple(r.tolist()) in rows for r in out.X) and len({tuple(r.tolist()) for r in out.X}) == 10
    with torch.no_grad():
        torch.testing.assert_close(out.Y, g(out.X))


def test_kmeans_coreset_matches_sklearn_quality():
    X, g = _problem(n=300)
    out = kmeans_coreset(X, g, 5, seed=0)
    Z = X.numpy().astype(np.float64)
    C = out.X.numpy().astype(np.float64)
    assign = ((Z[:, None] - C[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_allclose(C, np.stack([Z[assign == j].mean(0) for j in range(5)]), atol=1e-5)  # Lloyd fixed point
    inertia = ((Z - C[assign]) ** 2).sum()
    ref = KMeans(5, n_init=10, random_state=0).fit(Z).inertia_
    assert inertia <= 1.05 * ref
    with torch.no_grad():
        torch.testing.assert_close(out.Y, g(out.X))


def test_pretrain_fits_the_targets():
    X, g = _problem(n=64)
    with torch.no_grad():
        Y = g(X)
    torch.manual_seed(0)
    net = torch.nn.Sequential(_factory(), torch.nn.Linear(16, 3))  # 3 features: random ones fit Y badly

    def readout_error():  # mean squared error of the best linear read-out of net's features
        with torch.no_grad():
            feats = torch.cat([net(X), torch.ones(64, 1)], 1)
        W = torch.linalg.lstsq(feats, Y).solution
        return float(((feats @ W - Y) ** 2).sum(1).mean())

    before = readout_error()
    assert pretrain(net, X, Y, steps=300, lr=1e-2) is net
    assert readout_error() < 0.1 * before


def test_bad_input_errors():
    X, g = _problem(n=20)
    with pytest.raises(ValueError, match="krr_st: m must be <= 20, got 21"):
        krr_st(X, g, _factory, 21)
    with pytest.raises(ValueError, match="kip: m must be >= 1, got 0"):
        kip(X, g, 0)
    with pytest.raises(TypeError, match="random_subset: X_real must be a floating torch tensor"):
        random_subset(X.numpy(), g, 3)
    with pytest.raises(ValueError, match="krr_st: lr must be > 0"):
        krr_st(X, g, _factory, 3, lr=0.0)
    with pytest.raises(ValueError, match="krr_predict: lam_scale must be > 0"):
        krr_predict(torch.eye(2), torch.eye(2), torch.ones(2, 1), 0.0)
    with pytest.raises(ValueError, match="krr_predict: expected K_ss"):
        krr_predict(torch.eye(2), torch.eye(3), torch.ones(2, 1))
    with pytest.raises(ValueError, match="not positive definite"):
        krr_predict(-torch.eye(2) * 1e6 + torch.ones(2, 2), torch.eye(2), torch.ones(2, 1), 1e-6)
    with pytest.raises(ValueError, match="krr_st: X_real contains NaN"):
        krr_st(torch.full((5, 2), float("nan")), g, _factory, 2)
    with pytest.raises(ValueError, match="pretrain: X"):
        pretrain(_factory(), X, torch.ones(3, 2))
