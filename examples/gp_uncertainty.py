# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Kernel ridge regression is a Gaussian-process posterior mean, and the GP adds error bars
#
# Kernel ridge regression fits $\alpha = (K + \lambda I)^{-1} y$ and predicts
# $f(x) = k(x, X)\,\alpha$ (Saunders, Gammerman & Vovk 1998). Put a Gaussian-process prior on the
# function, $f \sim \mathcal{GP}(0, k)$, with noise variance $s^2$: the posterior of $f$ at query
# points is Gaussian with (Rasmussen & Williams 2006, section 2.2, Algorithm 2.1)
#
# $$\mu_* = K_{*}(K + s^2 I)^{-1} y, \qquad \Sigma_* = K_{**} - K_{*}(K + s^2 I)^{-1} K_{*}^\top .$$
#
# The mean is kernel ridge with $\lambda = s^2$; the variance is what kernel ridge does not give
# you. Here: 1-d regression with a gap in the data, the bandwidth chosen by the marginal
# likelihood, and a check that the 95% predictive band covers about 95% of fresh observations.

# %%
import numpy as np

from estimators import GaussianKernel, gp_log_marginal_likelihood, gp_posterior, kernel_ridge_fit, kernel_ridge_predict

rng = np.random.default_rng(0)


def f(x):
    return np.sin(3 * x) + 0.3 * x


noise_var = 0.1**2
x = rng.uniform(-2, 2, 40)
x = x[(x < 0.2) | (x > 1.0)]  # no data in (0.2, 1.0)
X, y = x[:, None], f(x) + np.sqrt(noise_var) * rng.standard_normal(len(x))
print(f"{len(x)} noisy observations on [-2, 2], none in (0.2, 1.0)")

# %% [markdown]
# ## The bandwidth by maximum marginal likelihood
#
# $\log p(y \mid X) = -\tfrac12 y^\top (K + s^2 I)^{-1} y - \tfrac12 \log|K + s^2 I| - \tfrac n2 \log 2\pi$
# (Rasmussen & Williams 2006, eq. 2.30), over a grid of bandwidths ℓ of
# $k(x, x') = \exp(-\|x - x'\|^2 / (2\ell^2))$.

# %%
bandwidths = np.geomspace(0.05, 3.0, 40)
log_ml = [float(gp_log_marginal_likelihood(X, y, GaussianKernel(b), noise_var)) for b in bandwidths]
bandwidth = float(bandwidths[int(np.argmax(log_ml))])
kernel = GaussianKernel(bandwidth)
print(f"bandwidth = {bandwidth:.3f}")

# %% [markdown]
# ## Fact 1: the GP posterior mean is kernel ridge with λ = s²

# %%
grid = np.linspace(-2, 2, 401)[:, None]
post = gp_posterior(X, y, kernel, noise_var, grid)
krr = kernel_ridge_predict(kernel_ridge_fit(X, y, kernel, lam=noise_var), grid)
print(f"max |GP mean - kernel ridge| = {np.abs(post.mean - krr).max():.1e}")
assert np.allclose(post.mean, krr, atol=1e-10)

# %% [markdown]
# ## Fact 2: the band is calibrated; fact 3: it widens where there is no data
#
# A new observation at $x_*$ has predictive variance $\Sigma_{**} + s^2$ (`post.var` is the
# latent function's variance). Over 2000 fresh observations the 95% band should cover close to
# 95% of them (the data do not come from the GP prior, so not exactly; we allow 90%-99%).

# %%
x_new = rng.uniform(-2, 2, 2000)
y_new = f(x_new) + np.sqrt(noise_var) * rng.standard_normal(2000)
p_new = gp_posterior(X, y, kernel, noise_var, x_new[:, None])
z = np.abs(y_new - p_new.mean) / np.sqrt(p_new.var + noise_var)
coverage = float((z <= 1.96).mean())
print(f"coverage of the 95% predictive band: {coverage:.3f}")
assert 0.90 <= coverage <= 0.99

sd = np.sqrt(post.var)
sd_gap, sd_typical = float(sd[np.argmin(np.abs(grid[:, 0] - 0.6))]), float(np.median(sd))
print(f"posterior sd of f: {sd_gap:.3f} in the middle of the gap, {sd_typical:.3f} median over [-2, 2]")
assert sd_gap > 3 * sd_typical

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(grid[:, 0], f(grid[:, 0]), "k--", lw=1, label="truth")
ax.plot(grid[:, 0], post.mean, label="GP mean = kernel ridge")
band = 1.96 * np.sqrt(post.var + noise_var)
ax.fill_between(grid[:, 0], post.mean - band, post.mean + band, alpha=0.25, label="95% predictive band")
ax.scatter(x, y, s=10, color="k", zorder=3, label="data")
ax.set(xlabel="x", ylabel="y", title=f"GP regression, bandwidth {bandwidth:.2f} (max. marginal likelihood)")
ax.legend(loc="lower right")
fig.tight_layout()
