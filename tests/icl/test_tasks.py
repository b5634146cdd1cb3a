"""Tasks: registry, shapes, determinism and stream separation, Monte Carlo moments against the priors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from icl.config import TaskConfig
from icl.errors import ConfigError
from icl.tasks import (
    TASKS,
    Streams,
    as_streams,
    eval_generator,
    get_task,
    make_task,
    train_streams,
)

D_FOR = {"fourier": 1, "fourier-mixture": 1, "haar": 1, "low-rank": 4}
REGRESSION = [n for n, c in TASKS.items() if not c.is_classification]


def build(name, **kw):
    return get_task(name, d=kw.pop("d", D_FOR.get(name, 5)), **kw)


def test_registry_lists_every_reference_class():
    expected = {"linear", "sparse-linear", "sign-vector", "low-rank", "gaussian-mixture", "finite-pool",
                "fourier", "fourier-mixture", "haar", "monomials", "relu-net", "decision-tree", "task-mixture",
                "linear-classification", "gaussian-classes"}
    assert expected <= set(TASKS)
    assert all(cls.description and "\n" not in cls.description for cls in TASKS.values())


def test_unknown_task_and_kwargs_errors_list_valid_names():
    with pytest.raises(ConfigError, match=r"unknown task 'lineer'; valid tasks: linear, sparse-linear"):
        get_task("lineer", d=3)
    with pytest.raises(ConfigError, match=r"task\.kwargs\.kk: unknown argument of task 'sparse-linear'; valid: d, noise, k"):
        get_task("sparse-linear", d=3, kk=1)
    with pytest.raises(ConfigError, match=r"task\.kwargs\.k: must be <= task\.d=3"):
        get_task("sparse-linear", d=3, k=4)
    with pytest.raises(ConfigError, match=r"task\.d: fourier needs d = 1"):
        get_task("fourier", d=2)
    with pytest.raises(ConfigError, match=r"task\.d: low-rank needs a square d"):
        get_task("low-rank", d=5)
    with pytest.raises(ConfigError, match=r"task\.noise"):
        get_task("linear", d=3, noise=-1.0)
    with pytest.raises(ConfigError, match=r"task\.kwargs\.d: set task\.d instead"):
        make_task(TaskConfig(name="linear", d=3, kwargs={"d": 4}))


@pytest.mark.parametrize("name", list(TASKS))
def test_shapes_dtypes_and_determinism(name):
    task = build(name)
    a = task.sample(6, 7, eval_generator(3))
    b = task.sample(6, 7, eval_generator(3))
    assert a.xs.shape == (6, 7, task.d) and a.ys.shape == (6, 7) and a.xs.dtype == torch.float32
    assert a.ys.dtype == (torch.int64 if task.is_classification else torch.float32)
    assert torch.equal(a.xs, b.xs) and torch.equal(a.ys, b.ys)
    c = task.sample(6, 7, eval_generator(4))
    assert not torch.equal(a.xs, c.xs)


@pytest.mark.parametrize("name", REGRESSION)
def test_baselines_have_the_prefix_shape(name):
    task = build(name, noise=0.1)
    batch = task.sample(3, 6, eval_generator(0))
    base = task.baselines()
    assert {"ols", "averaging", "3-nn", "gd", "ridge"} <= set(base)
    assert ("bayes" in base) == (task.prior is not None)
    for fname, fn in base.items():
        preds = fn(batch.xs, batch.ys)
        assert isinstance(preds, torch.Tensor) and preds.shape == (3, 6), fname
        assert torch.all(torch.isfinite(preds)), fname


def test_streams_are_separate():
    """Changing only the noise stream changes the noise, not the inputs or the functions."""
    task = get_task("linear", d=4, noise=0.5)
    s1 = Streams.from_key(1, 2, 3)
    s2 = Streams(Streams.from_key(1, 2, 3).task, Streams.from_key(1, 2, 3).inputs, np.random.default_rng(99))
    a, b = task.sample(5, 6, s1), task.sample(5, 6, s2)
    assert torch.equal(a.xs, b.xs) and torch.equal(a.params, b.params) and not torch.equal(a.ys, b.ys)
    resid = a.ys - torch.einsum("bnd,bd->bn", a.xs, a.params)
    assert 0.1 < float(resid.var()) < 2.0  # the noise is there, with variance about 0.5


def test_train_and_eval_seeds_are_disjoint_and_pure():
    t = train_streams(0, 0).inputs.standard_normal(4)
    assert np.array_equal(t, train_streams(0, 0).inputs.standard_normal(4))
    assert not np.array_equal(t, eval_generator(0).inputs.standard_normal(4))
    assert not np.array_equal(t, train_streams(0, 1).inputs.standard_normal(4))
    assert not np.array_equal(train_streams(0, 0).task.random(3), train_streams(0, 0).inputs.random(3))


def test_as_streams_accepts_generators_and_rejects_others():
    assert isinstance(as_streams(np.random.default_rng(0)), Streams)
    assert isinstance(as_streams(torch.Generator().manual_seed(0)), Streams)
    assert isinstance(as_streams(5), Streams)
    with pytest.raises(TypeError, match="generator must be"):
        as_streams("seed")


def test_curriculum_zeroes_inactive_coordinates():
    task = get_task("linear", d=5)
    b = task.sample(4, 6, eval_generator(0), d_active=2)
    assert torch.all(b.xs[..., 2:] == 0) and torch.all(b.xs[..., :2] != 0)
    torch.testing.assert_close(b.ys, torch.einsum("bnd,bd->bn", b.xs, b.params))
    with pytest.raises(ValueError, match="d_active must be in"):
        task.sample(1, 1, eval_generator(0), d_active=6)


# ----------------------------------------------------------------------------------------
# Monte Carlo checks against the priors (fixed seeds; tolerances are 5 standard errors)


def _mean_with_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-prompt means (prompts are independent)."""
    per_prompt = values.reshape(values.shape[0], -1).mean(axis=1)
    return float(per_prompt.mean()), float(per_prompt.std(ddof=1) / math.sqrt(len(per_prompt)))


@pytest.mark.parametrize("name", REGRESSION)
def test_second_moment_matches_closed_form(name):
    task = build(name, noise=0.25)
    batch = task.sample(4000, 8, eval_generator(11))
    mean, se = _mean_with_se(batch.ys.double().numpy() ** 2)
    assert abs(mean - task.y_second_moment) < 5 * se + 1e-3, (mean, se, task.y_second_moment)


def test_sparse_support_size_and_scale():
    task = get_task("sparse-linear", d=8, k=3, scale=2.0)
    w = task.sample(3000, 1, eval_generator(0)).params.numpy()
    assert np.all((w != 0).sum(axis=1) == 3)
    support_freq = (w != 0).mean(axis=0)  # each coordinate is in the support with probability k/d
    assert np.all(np.abs(support_freq - 3 / 8) < 5 * math.sqrt(3 / 8 * 5 / 8 / 3000))
    assert abs(w[w != 0].std() - 2.0) < 0.1


def test_sign_vector_entries_and_balance():
    task = get_task("sign-vector", d=6)
    w = task.sample(2000, 1, eval_generator(0)).params.numpy()
    assert np.allclose(np.abs(w), 1 / math.sqrt(6), atol=1e-6)
    assert abs((w > 0).mean() - 0.5) < 0.02


def test_gaussian_mixture_components_and_means():
    task = get_task("gaussian-mixture", d=3, mean_scale=3.0)
    w = task.sample(4000, 1, eval_generator(0)).params.numpy()
    assert abs((w[:, 0] > 0).mean() - 0.5) < 0.03
    assert abs(np.abs(w[:, 0]).mean() - 3.0) < 0.05  # |N(3,1)| ~ 3 (P(sign flip) ~ 0.001)
    assert abs(w[:, 1:].var() - 1.0) < 0.06


def test_finite_pool_usage_is_uniform():
    task = get_task("finite-pool", d=4, pool_size=8, pool_seed=1)
    w = task.sample(8000, 1, eval_generator(0)).params.numpy()
    idx = task.pool_index(w)
    assert np.allclose(task.pool[idx], w, atol=1e-6)  # every task comes from the pool
    counts = np.bincount(idx, minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-3
    again = get_task("finite-pool", d=4, pool_size=8, pool_seed=1)
    assert np.array_equal(again.pool, task.pool)
    assert not np.array_equal(get_task("finite-pool", d=4, pool_size=8, pool_seed=2).pool, task.pool)


def test_task_mixture_per_prompt_and_per_batch():
    per_prompt = get_task("task-mixture", d=6, components=["linear", "sparse-linear"], weights=[0.5, 0.5],
                          component_kwargs={"sparse-linear": {"k": 2}})
    w = per_prompt.sample(2000, 1, eval_generator(0)).params.numpy()
    sparse = (w != 0).sum(axis=1) == 2
    assert abs(sparse.mean() - 0.5) < 0.05
    per_batch = get_task("task-mixture", d=6, per="batch", components=["linear", "sparse-linear"])
    for seed in range(4):
        nnz = (per_batch.sample(50, 1, eval_generator(seed)).params.numpy() != 0).sum(axis=1)
        assert np.all(nnz == 3) or np.all(nnz == 6)
    gauss = get_task("task-mixture", d=3, components=["linear", "gaussian-mixture"])
    assert gauss.prior is not None and "bayes" in gauss.baselines()
    assert per_prompt.prior is not None and per_prompt.prior.n_components == 1 + 15  # dense + C(6, 2) supports
    b = per_prompt.sample(300, 12, eval_generator(1))
    comps = per_prompt.components
    err = {k: float(((f(b.xs, b.ys) - b.ys) ** 2)[:, 3:].mean()) for k, f in
           (("joint", per_prompt.bayes_prefixes), ("dense", comps[0].bayes_prefixes), ("sparse", comps[1].bayes_prefixes))}
    assert err["joint"] < min(err["dense"], err["sparse"])  # BMA over both classes beats either alone
    lowrank = get_task("task-mixture", d=4, components=["linear", "low-rank"])
    assert lowrank.prior is None and "bayes-linear" in lowrank.baselines()
    with pytest.raises(ConfigError, match=r"task\.kwargs\.components: 'relu-net' cannot be mixed"):
        get_task("task-mixture", d=3, components=["relu-net"])


def test_bayes_baseline_uses_the_sampling_prior():
    """On its own prompts the exact posterior mean beats OLS (noisy) and equals it in the noiseless dense case."""
    noisy = get_task("linear", d=4, noise=1.0)
    b = noisy.sample(2000, 10, eval_generator(5))
    base = noisy.baselines()
    err = {k: float(((base[k](b.xs, b.ys) - b.ys) ** 2)[:, 4:].mean()) for k in ("bayes", "ols", "ridge")}
    assert err["bayes"] < err["ols"] and abs(err["bayes"] - err["ridge"]) < 1e-3
    clean = get_task("linear", d=4)
    c = clean.sample(50, 10, eval_generator(6))
    xs, ys = c.xs.double(), c.ys.double()
    torch.testing.assert_close(clean.bayes_prefixes(xs, ys), clean.baselines()["ols"](xs, ys), atol=1e-5, rtol=1e-5)


def test_fourier_mixture_posterior_over_frequency():
    task = get_task("fourier-mixture", d=1, max_freq=4, length=5.0)
    b = task.sample(200, 30, eval_generator(2))
    w = task.prior.weights_prefixes(b.xs.double(), b.ys.double(), 1e-4)  # (B, n, 4)
    n_true = (b.params.numpy()[:, 1:5] != 0).sum(axis=1)  # nonzero cosine coefficients = N
    picked = w[:, -1].argmax(-1).numpy() + 1
    assert (picked == n_true).mean() > 0.95


def test_decision_tree_and_relu_structure():
    tree = get_task("decision-tree", d=4, depth=3)
    b = tree.sample(5, 20, eval_generator(0))
    leaves = b.params["leaves"]
    assert all(set(b.ys[i].tolist()) <= set(leaves[i].tolist()) for i in range(5))
    relu = get_task("relu-net", d=3, hidden=7)
    r = relu.sample(2, 4, eval_generator(0))
    h = torch.relu(torch.einsum("bnd,bhd->bnh", r.xs.double(), r.params["W1"].double()))
    manual = math.sqrt(2 / 7) * torch.einsum("bnh,bh->bn", h, r.params["W2"].double())
    torch.testing.assert_close(r.ys.double(), manual, rtol=1e-5, atol=1e-5)


def test_haar_features_are_orthonormal():
    task = get_task("haar", d=1, levels=3)
    x = np.random.default_rng(0).uniform(0, 1, size=(1, 200000, 1))
    phi = task.prior.features(x)[0]
    gram = phi.T @ phi / phi.shape[0]
    assert np.allclose(gram, np.eye(8), atol=0.03)
    torch.testing.assert_close(task.prior.features(torch.as_tensor(x[:, :5])), torch.as_tensor(phi[None, :5]))


def test_classification_tasks():
    lin = get_task("linear-classification", d=4)
    b = lin.sample(500, 10, eval_generator(0))
    assert set(b.ys.unique().tolist()) == {0, 1} and abs(b.ys.float().mean() - 0.5) < 0.05
    torch.testing.assert_close(b.ys, (torch.einsum("bnd,bd->bn", b.xs, b.params) > 0).long())
    assert lin.y_second_moment is None and lin.n_classes == 2
    gc = get_task("gaussian-classes", d=3, n_classes=3)
    g = gc.sample(400, 12, eval_generator(0))
    assert set(g.ys.unique().tolist()) == {0, 1, 2}
    v = g.params["vars"]
    assert torch.equal(v[:, 0], v[:, 1])  # shared covariance
    resid = g.xs - g.params["means"][torch.arange(400)[:, None], g.ys]
    z = resid / v[torch.arange(400)[:, None], g.ys].sqrt()
    assert abs(float(z.var()) - 1.0) < 0.05
    assert not torch.equal(get_task("gaussian-classes", d=3, shared=False).sample(5, 2, 0).params["vars"][:, 0],
                           get_task("gaussian-classes", d=3, shared=False).sample(5, 2, 0).params["vars"][:, 1])
    with pytest.raises(ConfigError, match=r"task\.noise: linear-classification has no observation noise"):
        get_task("linear-classification", d=3, noise=0.1)


@pytest.mark.parametrize("name", ["linear", "fourier", "haar"])
def test_input_second_moment_and_stable_gd_baseline(name):
    task = build(name)
    b = task.sample(2000, 12, eval_generator(8))
    mean, se = _mean_with_se((b.xs.double() ** 2).sum(-1).numpy())
    assert abs(mean - task.x_second_moment()) < 5 * se
    preds = task.baselines()["gd"](b.xs.double(), b.ys.double())
    err = ((preds - b.ys.double()) ** 2).mean(0) / task.y_second_moment
    assert float(err.max()) < 3.0  # gradient descent does not blow up at any prefix length


# ----------------------------------------------------------------------------------------
# Gaussian-process task: its prior draws the data and is the exact Bayes predictive


def test_gp_task_draws_from_its_kernel_and_is_deterministic():
    task = get_task("gp", d=2, noise=0.0, lengthscale=0.5)
    xs = np.random.default_rng(0).uniform(-1, 1, size=(1, 3, 2)).repeat(20000, axis=0)
    f = task.prior.sample_f(xs, np.arange(20000))
    # 20000 draws: the sample covariance's sd is about sqrt(2 / 20000) = 0.01 per entry
    np.testing.assert_allclose(np.cov(f.T), task.prior.kernel(xs[0]) + 1e-6 * np.eye(3), atol=0.05)
    a, b = task.sample(4, 6, eval_generator(3)), task.sample(4, 6, eval_generator(3))
    assert torch.equal(a.ys, b.ys) and a.params.dtype == torch.int64 and tuple(a.params.shape) == (4,)
    assert float(a.xs.abs().max()) <= 1.0
    assert task.y_second_moment == pytest.approx(1.0 + 1e-6)


def test_gp_bayes_predictive_is_calibrated_on_its_own_prompts():
    """z = (y_k - mean_k) / sd_k under the exact predictive is N(0, 1) at every k (2000 prompts: the
    variance of z has sd about 0.03, so a 0.12 band is 4 sd)."""
    task = get_task("gp", d=2, noise=0.1)
    batch = task.sample(2000, 8, eval_generator(0))
    xs, ys = batch.xs.double().numpy(), batch.ys.double().numpy()
    mean, var = task.prior.predictive_moments_prefixes(xs, ys, task.noise)
    z = (ys - mean) / np.sqrt(var)
    assert np.all(np.abs(z.var(0) - 1) < 0.12) and np.all(np.abs(z.mean(0)) < 0.1)
    np.testing.assert_allclose(mean, task.bayes_prefixes(xs, ys), atol=1e-10)
    lp = task.prior.log_predictive_prefixes(xs, ys, task.noise)
    np.testing.assert_allclose(lp, -0.5 * (np.log(2 * np.pi * var) + z**2), atol=1e-8)


def test_gp_task_kwargs_are_checked():
    with pytest.raises(ConfigError, match=r"task\.kwargs\.lengthscale: must be a number > 0"):
        get_task("gp", d=1, lengthscale=0.0)
