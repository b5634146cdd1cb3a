"""Extending the toolkit, 2: a new estimator on the prefix seam (shown on the docs page "Extending").

The seam (docs/design.md, "The prefix seam"): ``xs (..., n, d)``, ``ys (..., n)`` -> ``preds (..., n)``,
where ``preds[..., k]`` predicts ``ys[..., k]`` from the first k pairs only. Here: Nadaraya-Watson
kernel regression (Nadaraya 1964; Watson 1964),

    preds[k] = sum_{i<k} w_ki y_i / sum_{i<k} w_ki,   w_ki = exp(-||x_k - x_i||^2 / (2 h^2)),   preds[0] = 0,

for every prefix at once with a strictly lower-triangular mask: no loop over prompts or prefixes.
It follows the estimators' conventions: the array namespace of the inputs (numpy, torch or jax
in, the same out), input checks and error wording from ``estimators.validation``, log-space
weights (a shift by the row maximum, so far-away points cannot underflow to 0 / 0).
"""

import numpy as np
import torch

from estimators import ols_prefixes
from estimators.kernels import squared_distances
from estimators.validation import check_positive, check_prompt
from icl.tasks import eval_generator, get_task


def nadaraya_watson_prefixes(xs, ys, bandwidth: float = 1.0):
    """Nadaraya-Watson prediction of every prefix: ``xs (..., n, d)``, ``ys (..., n)`` -> ``(..., n)``."""
    fn = "nadaraya_watson_prefixes"
    xp = check_prompt(xs, ys, fn)  # shapes, dtype, finiteness; the namespace of the inputs
    h = check_positive(bandwidth, "bandwidth", fn)  # ValueError("...: bandwidth must be > 0, got ...")
    n = xs.shape[-2]
    past = xp.astype(xp.tril(xp.ones((n, n), dtype=xs.dtype), k=-1), xp.bool)  # (n, n): i < k
    logw = -squared_distances(xs) / (2 * h * h)  # (..., n, n): row k = query x_k, column i = pair i
    logw = xp.where(past, logw, -xp.inf)
    shift = xp.max(logw, axis=-1, keepdims=True)  # (..., n, 1); -inf on row 0 (no past pairs)
    shift = xp.where(xp.isfinite(shift), shift, xp.zeros_like(shift))
    w = xp.where(past, xp.exp(logw - shift), xp.zeros_like(logw))
    num = xp.sum(w * ys[..., None, :], axis=-1)
    den = xp.sum(w, axis=-1)
    return xp.where(den > 0, num / xp.where(den > 0, den, xp.ones_like(den)), xp.zeros_like(den))


# 1. The seam's defining property: preds[..., k] uses the first k pairs only. Changing pair j
#    changes no prediction at k <= j, and the all-prefix result equals a loop over prefixes.
rng = np.random.default_rng(0)
xs, ys = rng.standard_normal((4, 12, 3)), rng.standard_normal((4, 12))
preds = nadaraya_watson_prefixes(xs, ys, 0.7)
ys2 = ys.copy()
ys2[:, 6:] += 100.0
assert np.array_equal(nadaraya_watson_prefixes(xs, ys2, 0.7)[:, :7], preds[:, :7])
for k in range(1, 12):
    w = np.exp(-((xs[:, :k] - xs[:, k:k + 1]) ** 2).sum(-1) / (2 * 0.7**2))
    assert np.allclose(preds[:, k], (w * ys[:, :k]).sum(-1) / w.sum(-1))
assert np.all(preds[:, 0] == 0)

# 2. Same numbers on torch, and the output stays torch (library, dtype and device of the input).
t = nadaraya_watson_prefixes(torch.as_tensor(xs), torch.as_tensor(ys), 0.7)
assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and np.allclose(t.numpy(), preds)

# 3. Errors name the parameter.
try:
    nadaraya_watson_prefixes(xs, ys, bandwidth=-1.0)
except ValueError as err:
    assert "bandwidth" in str(err)
    print("error message:", err)

# 4. As a baseline on a task's prompts: a local method is far worse than least squares on
#    linear functions once k >= d (OLS is exact there, noiseless).
task = get_task("linear", d=3)
batch = task.sample(500, 16, eval_generator(0))
bx, by = batch.xs.double().numpy(), batch.ys.double().numpy()
err_nw = ((nadaraya_watson_prefixes(bx, by, 1.0) - by) ** 2).mean(0) / task.y_second_moment
err_ols = ((ols_prefixes(bx, by) - by) ** 2).mean(0) / task.y_second_moment
print(f"k = 2d = 6: Nadaraya-Watson {err_nw[6]:.3f}, OLS {err_ols[6]:.1e}")
assert err_nw[6] > 0.1 > err_ols[6]
