"""Shared pieces of the classifiers in :mod:`estimators.classify`: labels, one-hot codes, log-space helpers.

Labels are integer arrays with values in ``{0, ..., n_classes - 1}`` (a floating array
holding whole numbers is accepted as well, since in-context prompts carry their labels as
floats). ``n_classes`` is inferred from concrete arrays as ``max(y) + 1`` over the whole
batch; it must be passed explicitly for jax tracers, whose values cannot be read.

Nothing here is public: the estimators themselves live in :mod:`estimators.classify` and
:mod:`estimators.classify._logistic`; validation of arrays and numbers is :mod:`estimators.validation`.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

from ..validation import _is_traced, check_array, check_pair_shapes, check_probability_vector, library_name, namespace
from ..validation import check_labels as _check_labels

__all__: list[str] = []


def check_labels(y: Any, fn: str, *, name: str = "y") -> Any:
    """Validate a label array and return it as integers (int64), keeping its library and device.

    The range check against the class count is :func:`resolve_n_classes`.
    """
    return _check_labels(y, name, fn, resolve=False)[0]


def resolve_n_classes(xp, y: Any, n_classes: Any, fn: str, *, name: str = "y") -> int:
    """The number of classes: ``n_classes`` if given, else ``max(y) + 1``; labels are range-checked as
    values, and a class count whose one-hot codes would not fit the memory budget is refused
    (:func:`estimators.validation.check_labels`)."""
    return _check_labels(y, name, fn, n_classes=n_classes)[1]


def one_hot(xp, y: Any, n_classes: int, dtype: Any) -> Any:
    """One-hot code of integer labels: (...,) -> (..., n_classes) in ``dtype``."""
    classes = xp.arange(n_classes, dtype=y.dtype, device=getattr(y, "device", None))
    return xp.astype(y[..., None] == classes, dtype)


def logsumexp(xp, a: Any, axis: int = -1, keepdims: bool = False) -> Any:
    r"""Stable :math:`\log \sum_j e^{a_j}` along ``axis``; entries of ``-inf`` contribute zero.

    At least one entry along ``axis`` must be finite (true of every call in this package).
    """
    m = xp.max(a, axis=axis, keepdims=True)
    out = xp.log(xp.sum(xp.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


def log_normalize(xp, joint: Any) -> Any:
    """Log-probabilities from joint log-likelihoods (..., C): ``joint - logsumexp(joint)``.

    Computed as ``(joint - max) - log sum exp(joint - max)``: the shift first, so that joint
    log-likelihoods of size 1e40 (an extreme feature) keep the O(1) differences between classes
    that ``joint - logsumexp(joint)`` would round away.
    """
    shifted = joint - xp.max(joint, axis=-1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def safe_log(xp, a: Any) -> Any:
    """``log(a)`` with ``log(0) = -inf`` and no floating-point warning."""
    positive = a > 0
    return xp.where(positive, xp.log(xp.where(positive, a, xp.ones_like(a))), xp.full_like(a, -math.inf))


def softplus(xp, z: Any) -> Any:
    r"""Stable :math:`\log(1 + e^{z})`."""
    return xp.maximum(z, xp.zeros_like(z)) + xp.log1p(xp.exp(-xp.abs(z)))


def check_labelled_data(X: Any, y: Any, fn: str, *, x_name: str = "X", y_name: str = "y"):
    """Validate inputs (..., m, d) (real floating) and labels (..., m); return ``(xp, y_int64)``."""
    xp = namespace(fn=fn, **{x_name: X, y_name: y})
    check_array(X, x_name, fn, min_ndim=2)
    yi = check_labels(y, fn, name=y_name)
    check_pair_shapes(X, yi, fn, xs_name=x_name, ys_name=y_name)
    return xp, yi


def check_predict_X(X: Any, n_features: int, dtype: Any, fn: str) -> Any:
    """Validate query points (..., m, d) against a fitted model with ``n_features`` features."""
    check_array(X, "X", fn, min_ndim=2)
    if X.shape[-1] != n_features:
        raise ValueError(
            f"{fn}: X and the fitted model disagree on the number of features: X has {X.shape[-1]}, "
            f"the model has {n_features}"
        )
    if X.dtype != dtype:
        raise TypeError(f"{fn}: X and the fitted model must share a dtype, got {X.dtype} and {dtype}")
    return X


def jax_jit(*static: str):
    """Decorator: run ``fn(xp, *arrays, **static)`` under one ``jax.jit`` when called eagerly on jax arrays.

    Eager jax compiles every operation separately on first use; compiling the whole helper
    instead costs one compilation per shape. The keyword arguments named in ``static`` (class
    counts, flags) are compile-time constants; other libraries and jax tracers call ``fn`` as is.
    """

    def decorate(fn):
        compiled = None

        @functools.wraps(fn)
        def wrapper(xp, *args, **kwargs):
            nonlocal compiled
            first = next(a for a in args if hasattr(a, "shape"))
            if library_name(first) != "jax" or _is_traced(first):
                return fn(xp, *args, **kwargs)
            if compiled is None:
                import jax

                params = [q for q in inspect.signature(fn).parameters.values() if q.kind == q.POSITIONAL_OR_KEYWORD]
                positional = tuple(i for i, q in enumerate(params) if i == 0 or q.name in static)
                compiled = jax.jit(fn, static_argnums=positional, static_argnames=static)
            return compiled(xp, *args, **kwargs)

        return wrapper

    return decorate


def fixed_log_prior(xp, priors, n_classes, fn, like):
    """log of validated fixed class priors, shape (C,), in ``like``'s dtype and device (``None`` stays ``None``)."""
    if priors is None:
        return None
    p = check_probability_vector(priors, "priors", fn)
    if p.shape[0] != n_classes:
        raise ValueError(f"{fn}: priors must have one entry per class ({n_classes}), got {p.shape[0]}")
    return safe_log(xp, xp.asarray(p, dtype=like.dtype, device=getattr(like, "device", None)))


def class_log_prior(xp, counts, total, fixed):
    """log class priors (..., C): ``fixed`` if given, else empirical ``counts / total`` (uniform where total = 0)."""
    if fixed is not None:
        return xp.broadcast_to(fixed, counts.shape)
    C = counts.shape[-1]
    empirical = safe_log(xp, counts / xp.where(total > 0, total, xp.ones_like(total)))
    return xp.where(total > 0, empirical, xp.full_like(empirical, -math.log(C)))


def exclusive_prefix_sum(xp, a, axis):
    """Entry k sums items 0..k-1 along ``axis`` (entry 0 is zero)."""
    n = a.shape[axis]
    return xp.take(xp.cumulative_sum(a, axis=axis, include_initial=True), xp.arange(n), axis=axis)
