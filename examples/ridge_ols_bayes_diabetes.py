# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Ridge, least squares and the exact Bayes predictor on real data
#
# In-context learning papers compare a transformer, prefix by prefix, with least squares (OLS)
# and with ridge regression (Garg et al. 2022, section 3; Akyurek et al. 2023, section 2). Under a
# Gaussian prior $w \sim \mathcal N(0, \tau^2 I)$ and Gaussian noise of variance $\sigma^2$, the
# Bayes-optimal prediction is the posterior mean, and that is ridge with $\lambda = \sigma^2/\tau^2$:
#
# $$\hat w = (X^\top X + \lambda I)^{-1} X^\top y, \qquad \lambda = \sigma^2 / \tau^2 .$$
#
# Here the "prompts" are random orderings of rows of scikit-learn's diabetes data (442 patients,
# d = 10 features; shipped with scikit-learn, no download). Every predictor sees the first k rows
# of a prompt and predicts row k, for every k at once (the all-prefix functions of `estimators`).
# We choose $\tau^2, \sigma^2$ by maximising the marginal likelihood (empirical Bayes) on rows
# kept apart from the prompts, then check three facts:
#
# 1. `ridge_prefixes` with $\lambda = \sigma^2/\tau^2$ and `GaussianPrior.predict_prefixes` give the same numbers;
# 2. for k up to d + 5, the Bayes predictor's error is below OLS's (OLS interpolates at k = d);
# 3. with many rows (k = 40) the gap is much smaller, and Bayes is still better.

# %%
import numpy as np
from sklearn.datasets import load_diabetes

from estimators import GaussianPrior, ols_prefixes, ridge_prefixes

X, y = load_diabetes(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)  # standardised features and target: the isotropic prior is then sensible
y = (y - y.mean()) / y.std()
n_rows, d = X.shape
rng = np.random.default_rng(0)
rows = rng.permutation(n_rows)
calibration, pool = rows[:150], rows[150:]  # hyperparameters from 150 rows, prompts from the other 292
print(f"{n_rows} rows, d = {d}")

# %% [markdown]
# ## Empirical Bayes: τ² and σ² from the log evidence
#
# `GaussianPrior(...).posterior(X, y, noise).log_evidence` is
# $\log \mathcal N(y;\, 0,\, \tau^2 X X^\top + \sigma^2 I)$ (Rasmussen & Williams 2006, eq. 2.30).

# %%
grid_tau2 = np.geomspace(0.005, 1.0, 15)
grid_noise = np.linspace(0.2, 1.0, 17)
evidence = np.array([[float(GaussianPrior.isotropic(d, t2).posterior(X[calibration], y[calibration], s2).log_evidence)
                      for s2 in grid_noise] for t2 in grid_tau2])
i, j = np.unravel_index(np.argmax(evidence), evidence.shape)
tau2, noise = float(grid_tau2[i]), float(grid_noise[j])
lam = noise / tau2
print(f"tau^2 = {tau2:.4f}, sigma^2 = {noise:.3f}  ->  Bayes ridge penalty lambda = {lam:.1f}")

# %% [markdown]
# ## Prompts and all-prefix predictions
#
# 400 prompts of 41 rows each, drawn from the pool. `preds[b, k]` predicts `ys[b, k]` from the
# first k rows of prompt b only.

# %%
B, n = 400, 41
idx = np.stack([rng.choice(pool, n, replace=False) for _ in range(B)])
xs, ys = X[idx], y[idx]  # (B, n, d), (B, n)

prior = GaussianPrior.isotropic(d, tau2)
preds = {
    "OLS (min-norm)": ols_prefixes(xs, ys),
    "ridge, lambda = 1": ridge_prefixes(xs, ys, lam=1.0),
    "ridge, Bayes lambda": ridge_prefixes(xs, ys, lam=lam),
    "exact Bayes (posterior mean)": prior.predict_prefixes(xs, ys, noise),
}
errors = {name: (p - ys) ** 2 for name, p in preds.items()}  # (B, n) squared errors

gap = np.abs(preds["ridge, Bayes lambda"] - preds["exact Bayes (posterior mean)"]).max()
print(f"max |ridge(Bayes lambda) - posterior mean| over all prompts and prefixes: {gap:.1e}")
assert gap < 1e-8, "fact 1: ridge with lambda = sigma^2/tau^2 is the posterior mean"

# %%
ks = [1, 3, 5, 8, 10, 12, 15, 20, 40]
print("mean squared error (target variance 1) at k =", ks)
for name, e in errors.items():
    print(f"{name:30s}", " ".join(f"{e[:, k].mean():8.3f}" for k in ks))

# %% [markdown]
# ## Is the difference real? A paired bootstrap over prompts
#
# Every predictor is scored on the same prompts, so we resample prompts and recompute the mean
# difference OLS − Bayes; the 95% interval must lie above 0.


# %%
def paired_interval(diff: np.ndarray, seed: int = 0, n_boot: int = 2000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of per-prompt differences."""
    boot = np.random.default_rng(seed).integers(0, len(diff), (n_boot, len(diff)))
    lo, hi = np.percentile(diff[boot].mean(1), [2.5, 97.5])
    return float(lo), float(hi)


e_ols, e_bayes = errors["OLS (min-norm)"], errors["exact Bayes (posterior mean)"]
small_k = np.arange(1, d + 6)
lo, hi = paired_interval(e_ols[:, small_k].mean(1) - e_bayes[:, small_k].mean(1))
print(f"k = 1..{d + 5}: error(OLS) - error(Bayes) in [{lo:.3f}, {hi:.3f}] (95%)")
assert lo > 0, "fact 2: Bayes beats OLS at small k"

lo40, hi40 = paired_interval(e_ols[:, 40] - e_bayes[:, 40])
print(f"k = 40: error(OLS) - error(Bayes) in [{lo40:.3f}, {hi40:.3f}] (95%)")
assert lo40 > 0, "fact 3: Bayes is still better than OLS with many rows"

# %% [markdown]
# ## The curves
#
# OLS's spike at k = d is the interpolation peak: with as many rows as features, $X$ is square and
# its inverse amplifies the noise. The posterior mean never interpolates. (Medians over prompts;
# the mean of OLS at k = d is dominated by a few prompts with nearly singular $X$.)

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
k_all = np.arange(1, n)
for name, e in errors.items():
    ax.plot(k_all, np.median(e[:, 1:], axis=0), label=name)
ax.axvline(d, color="0.5", ls=":")
ax.set(yscale="log", xlabel="rows seen in context (k)", ylabel="median squared error",
       title="diabetes: all-prefix predictions")
ax.legend()
fig.tight_layout()
