# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Naive Bayes vs logistic regression: learning curves on real data
#
# Ng & Jordan (2001) compare a *generative-discriminative pair*: Gaussian naive Bayes with one
# variance per feature shared by the classes, whose log-odds are linear in x,
#
# $$\log\frac{p(y=1\mid x)}{p(y=0\mid x)} = \sum_j \frac{\mu_{1j}-\mu_{0j}}{\sigma_j^2}\,x_j + b ,$$
#
# and logistic regression, which fits a linear rule of the same form directly. Their analysis
# says naive Bayes reaches *its* asymptotic error after O(log d) samples, logistic
# regression after O(d), and logistic regression's asymptotic error is no higher. Zheng et al.
# (2023) revisit the comparison with multiclass data.
#
# Here: the breast-cancer data shipped with scikit-learn (569 tumours, d = 30 features, no
# download), 100 random stratified training sets per size m, one held-out test set, all 100 fits
# of a size in one batched call (`gaussian_nb_fit`, `logistic_fit` take a leading batch axis).

# %%
import numpy as np
from sklearn.datasets import load_breast_cancer

from estimators import gaussian_nb_fit, gaussian_nb_predict, logistic_fit, logistic_predict

X, y = load_breast_cancer(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
n_rows, d = X.shape
rng = np.random.default_rng(0)
rows = rng.permutation(n_rows)
test, pool = rows[: n_rows // 3], rows[n_rows // 3:]
print(f"{n_rows} rows, d = {d}; {len(pool)} to train from, {len(test)} to test on")


# %%
def training_sets(m: int, B: int, rng: np.random.Generator) -> np.ndarray:
    """B stratified random training sets of size m from the pool (both classes present), (B, m) row indices."""
    pos, neg = pool[y[pool] == 1], pool[y[pool] == 0]
    m1 = min(max(round(m * len(pos) / len(pool)), 1), m - 1)
    return np.stack([np.concatenate([rng.choice(neg, m - m1, replace=False), rng.choice(pos, m1, replace=False)])
                     for _ in range(B)])


sizes = [4, 6, 10, 20, 40, 80, 160, 350]
B = 100
err_nb, err_lr = {}, {}
for m in sizes:
    idx = training_sets(m, B, rng)
    nb = gaussian_nb_fit(X[idx], y[idx], n_classes=2, shared_variance=True)  # the linear naive Bayes
    lr = logistic_fit(X[idx], y[idx], C=1.0, n_classes=2)  # L2-penalised, scikit-learn's C
    X_test = np.broadcast_to(X[test], (B, len(test), d))
    err_nb[m] = (gaussian_nb_predict(nb, X_test) != y[test]).mean(1)  # (B,) test error of each fit
    err_lr[m] = (logistic_predict(lr, X_test) != y[test]).mean(1)
    print(f"m = {m:3d}: naive Bayes {err_nb[m].mean():.3f}   logistic regression {err_lr[m].mean():.3f}")


# %% [markdown]
# ## What holds on this data
#
# Intervals are 95% bootstrap intervals over the 100 training sets of a size.


# %%
def interval(values: np.ndarray, seed: int = 0, n_boot: int = 2000) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean."""
    boot = np.random.default_rng(seed).integers(0, len(values), (n_boot, len(values)))
    lo, hi = np.percentile(values[boot].mean(1), [2.5, 97.5])
    return float(lo), float(hi)


big = sizes[-1]
# 1. naive Bayes is already near its asymptote at m = 40: it gains under 0.03 from m = 40 to m = 350
nb_gain = err_nb[40].mean() - err_nb[big].mean()
# 2. logistic regression keeps improving: it gains more than 0.03 over the same range
lr_gain = err_lr[40].mean() - err_lr[big].mean()
print(f"gain from m = 40 to {big}: naive Bayes {nb_gain:.3f}, logistic regression {lr_gain:.3f}")
assert nb_gain < 0.03 < lr_gain

# 3. logistic regression's asymptotic error is lower (paired: same training rows for both)
lo, hi = interval(err_nb[big] - err_lr[big])
print(f"m = {big}: error(NB) - error(LR) in [{lo:.3f}, {hi:.3f}]")
assert lo > 0

# %% [markdown]
# ## What does not show here
#
# The textbook picture also has naive Bayes *ahead* at small m. On this data it is not: at m = 10
# the two errors are within 0.03 of each other (and at m = 4 logistic regression is ahead). The
# penalty $\frac12\|w\|^2$ (C = 1) shrinks logistic regression when m < d, which gives it the
# same head start; Ng & Jordan's comparison is with plain, unpenalised logistic regression.
# The figure `generative-vs-discriminative` of this toolkit (`icl figure generative-vs-discriminative`)
# runs the comparison on synthetic data where the theory's assumptions hold.

# %%
lo10, hi10 = interval(err_nb[10] - err_lr[10])
print(f"m = 10: error(NB) - error(LR) in [{lo10:.3f}, {hi10:.3f}]")
assert -0.03 < lo10 and hi10 < 0.03
assert err_lr[4].mean() < err_nb[4].mean()

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 4))
for name, err in (("naive Bayes (shared variance)", err_nb), ("logistic regression (C = 1)", err_lr)):
    ax.plot(sizes, [err[m].mean() for m in sizes], marker="o", label=name)
ax.set(xscale="log", xlabel="training set size m", ylabel="test error", title="breast cancer: learning curves")
ax.legend()
fig.tight_layout()
