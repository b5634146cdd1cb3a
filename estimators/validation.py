"""Array-namespace dispatch and the one input-validation module of ``estimators``.

Every public estimator starts with ``xp = namespace(...)`` and a few ``check_*``
calls from here, so that every backend (numpy, torch on CPU or CUDA, jax) is handled
the same way and every error message has the same wording:

    ``ValueError("ridge: lam must be >= 0, got -0.1")``
    ``ValueError("ridge_prefixes: xs and ys disagree on the number of points: xs has 40, ys has 39")``

Decisions made here once, for every estimator:

- **float16 is refused** by name (``TypeError``): half precision has 11 significant bits, too few
  for the solves and log-sums below, and upcasting silently would break the rule that the output
  has the input's dtype. Convert with ``.astype(np.float32)`` first.
- **Magnitudes**: a floating array whose largest entry exceeds :func:`max_magnitude` (about
  ``sqrt(finfo.max) / 1024``: ``1.3e151`` in float64, ``1.8e16`` in float32) is refused by name,
  since the Gram matrices, squared distances and quadratic forms every estimator forms would
  overflow to inf; estimators that rescale their inputs themselves (the lasso) opt out.
- **Labels are values**, never sizes: :func:`check_labels` range-checks them against
  ``n_classes`` (given, or ``max + 1``) and refuses a class count whose one-hot codes would not
  fit :data:`LABEL_MEMORY_BUDGET` before anything is allocated.
- **Scalars**: strings, bools and ``None`` are refused with a ``TypeError`` naming the parameter
  (``float("1")`` would accept ``lam="1"``); NaN and inf with a ``ValueError``.
- **torch-only code** (deep kernels, training loops, KRR-ST) validates with :func:`check_tensor`,
  the same checks on a torch tensor, and builds its parameters in the input's dtype.

What does not live here: any estimator logic. The small linear-algebra helpers at the
bottom (:func:`matrix_transpose`, :func:`solve`, :func:`solve_triangular`)
exist because the array API standard has no triangular solve and leaves the batched
matrix-vector ``solve`` ambiguous; they dispatch to numpy/scipy, torch or jax.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "namespace",
    "library_name",
    "check_array",
    "check_prompt",
    "check_pair_shapes",
    "check_fit_data",
    "check_queries",
    "check_point_sets",
    "check_nonnegative",
    "check_positive",
    "check_int",
    "check_probability_vector",
    "check_finite",
    "check_magnitude",
    "max_magnitude",
    "check_labels",
    "check_tensor",
    "LABEL_MEMORY_BUDGET",
    "matrix_transpose",
    "solve",
    "solve_triangular",
    "to_numpy",
]


def library_name(x: Any) -> str:
    """Name of the array library of ``x``: ``"numpy"``, ``"torch"`` or ``"jax"`` (else its module)."""
    if array_api_compat.is_torch_array(x):
        return "torch"
    if array_api_compat.is_jax_array(x):
        return "jax"
    if array_api_compat.is_numpy_array(x):
        return "numpy"
    return type(x).__module__.split(".")[0]


def namespace(*arrays: Any, fn: str = "estimator", **named: Any):
    """The array namespace shared by ``arrays`` (``None`` and Python scalars are ignored).

    Arrays passed by keyword (``namespace(X=X, y=y, fn="ridge")``) are named in the errors.

    Raises
    ------
    TypeError
        If the arrays come from different libraries (e.g. numpy and torch), or an
        argument is not an array at all (a list, a string).
    """
    pairs = [(None, a) for a in arrays] + list(named.items())
    pairs = [(k, a) for k, a in pairs if a is not None and not isinstance(a, (numbers.Number, bool))]
    for k, a in pairs:
        if not array_api_compat.is_array_api_obj(a):
            what = f"{k} must be an array: " if k else ""
            raise TypeError(
                f"{fn}: {what}expected numpy, torch or jax arrays, got {type(a).__name__}; "
                "wrap lists with numpy.asarray first"
            )
    libraries = sorted({library_name(a) for _, a in pairs})
    if len(libraries) > 1:
        who = {library_name(a): k for k, a in pairs if k}
        detail = ", ".join(f"{k} is {lib}" for lib, k in sorted(who.items()))
        raise TypeError(
            f"{fn}: all arrays must come from one library, got a mix of {', '.join(libraries)}"
            + (f" ({detail})" if detail else "") + "; convert them to one library first"
        )
    return array_api_compat.array_namespace(*[a for _, a in pairs])


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy (or view) of any supported array, moved to the CPU."""
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _is_traced(x: Any) -> bool:
    """True for a jax tracer (inside ``jit``/``grad``), whose values cannot be inspected."""
    return type(x).__module__.startswith("jax") and "Tracer" in type(x).__name__


def check_finite(x: Any, name: str, fn: str) -> None:
    """Raise ``ValueError`` if ``x`` holds a NaN or an infinity (skipped for jax tracers)."""
    if _is_traced(x):
        return
    xp = array_api_compat.array_namespace(x)
    if math.prod(x.shape) > 0 and not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")


def check_array(
    x: Any,
    name: str,
    fn: str,
    *,
    min_ndim: int = 1,
    ndim: int | None = None,
    floating: bool = True,
    finite: bool = True,
    allow_empty: bool = False,
    bounded: bool = True,
) -> Any:
    """Validate one array argument and return it unchanged.

    Checks, in order: it is an array; its number of dimensions (``ndim`` exactly,
    or at least ``min_ndim``); its dtype is real floating (when ``floating``); it is
    non-empty (unless ``allow_empty``); all values are finite (when ``finite``) and, for floating
    arrays, at most :func:`max_magnitude` in absolute value (unless ``bounded=False``).
    """
    namespace(fn=fn, **{name: x})
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if x.ndim < min_ndim:
        raise ValueError(
            f"{fn}: {name} must have at least {min_ndim} dimension(s), got shape {tuple(x.shape)}"
        )
    if floating:
        xp = array_api_compat.array_namespace(x)
        if not xp.isdtype(x.dtype, "real floating") or _is_half(x.dtype):
            raise TypeError(
                f"{fn}: {name} must have a real floating dtype (float32 or float64), got {x.dtype}; "
                "convert it with .astype(float) / .double() first"
            )
    if not allow_empty and any(int(s) == 0 for s in x.shape):
        raise ValueError(f"{fn}: {name} is empty (shape {tuple(x.shape)})")
    if finite:
        check_finite(x, name, fn)
        if bounded and floating:
            check_magnitude(x, name, fn)
    return x


def _is_half(dtype: Any) -> bool:
    """float16 / bfloat16 in any library (refused: see the module docstring)."""
    return str(dtype).rsplit(".", 1)[-1] in ("float16", "bfloat16", "half")


def max_magnitude(dtype: Any) -> float:
    """The largest entry an input of ``dtype`` may hold: ``sqrt(finfo.max) / 1024``.

    Squares and sums of up to a million squares of such entries stay finite, so every Gram
    matrix, squared distance and quadratic form of a valid input does.
    """
    return math.sqrt(float(np.finfo(np.float32 if "32" in str(dtype) else np.float64).max)) / 1024.0


def check_magnitude(x: Any, name: str, fn: str) -> None:
    """Raise ``ValueError`` if ``|x|`` exceeds :func:`max_magnitude` (skipped for jax tracers)."""
    if _is_traced(x) or math.prod(x.shape) == 0:
        return
    xp = array_api_compat.array_namespace(x)
    top = float(xp.max(xp.abs(x.detach() if hasattr(x, "detach") else x)))
    limit = max_magnitude(x.dtype)
    if top > limit:
        raise ValueError(
            f"{fn}: {name} has entries up to {top:.3g}, beyond {limit:.3g} for {x.dtype}: its squares and "
            f"Gram matrices would overflow; rescale {name} (e.g. divide by its largest entry) first"
        )


#: Bytes that one-hot codes of labels (``n_labels * n_classes`` float64 entries) may take before a
#: class count is refused as a mistake (a label of 2**40 would otherwise allocate terabytes).
LABEL_MEMORY_BUDGET = 2**30


def check_labels(y: Any, name: str, fn: str, *, n_classes: Any = None, min_classes: int = 2, resolve: bool = True):
    """Validate integer class labels as values and return ``(labels as int64, n_classes)``.

    ``y`` holds integers, or floats with whole values (in-context prompts carry labels as floats),
    in ``0..n_classes - 1``; ``n_classes`` is the given one (an integer >= ``min_classes``) or
    ``max(y) + 1``, which must then reach ``min_classes``. A class count whose one-hot codes of
    ``y`` would exceed :data:`LABEL_MEMORY_BUDGET` is refused before anything is allocated.
    Jax tracers skip the value checks (and need ``n_classes``). With ``resolve=False`` only the
    dtype and values are checked and ``(labels, None)`` returned (the class count is resolved later).
    """
    xp = namespace(fn=fn, **{name: y})
    if y.dtype == xp.bool:
        raise TypeError(f"{fn}: {name} must hold integer class labels, got a boolean array; use y.astype(int)")
    if xp.isdtype(y.dtype, "integral"):
        check_array(y, name, fn, min_ndim=1, floating=False, finite=False)
    elif xp.isdtype(y.dtype, "real floating"):
        check_array(y, name, fn, min_ndim=1, floating=True, finite=True, bounded=False)
        if not _is_traced(y) and not bool(xp.all(y == xp.round(y))):
            raise ValueError(f"{fn}: {name} must hold whole-number class labels 0, 1, ..., got non-integer values")
    else:
        raise TypeError(f"{fn}: {name} must hold integer class labels, got dtype {y.dtype}")
    if not resolve:
        return xp.astype(y, xp.int64), None
    traced = _is_traced(y)
    if n_classes is None:
        if traced:
            raise ValueError(f"{fn}: n_classes is required for traced (jit) inputs; pass n_classes=C")
        n_classes = int(xp.max(y)) + 1
        if n_classes < min_classes:
            raise ValueError(
                f"{fn}: {name} must contain at least {min_classes} classes, got only class 0; "
                "pass n_classes=C if the other classes exist but are absent here"
            )
    else:
        n_classes = check_int(n_classes, "n_classes", fn, minimum=min_classes)
    size = 8 * math.prod(y.shape) * n_classes
    if size > LABEL_MEMORY_BUDGET:
        raise ValueError(
            f"{fn}: {name} implies {n_classes} classes, whose one-hot codes of {math.prod(y.shape)} labels would "
            f"take {size / 2**30:.3g} GiB (budget {LABEL_MEMORY_BUDGET / 2**30:.3g} GiB); labels must be "
            "0..C-1 class indices, not arbitrary values"
        )
    if not traced:
        lo, hi = float(xp.min(y)), float(xp.max(y))
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{fn}: {name} must hold labels in 0..{n_classes - 1} (n_classes={n_classes}), got label {bad:.0f}"
            )
    return xp.astype(y, xp.int64), n_classes


def check_tensor(x: Any, name: str, fn: str, **checks: Any) -> Any:
    """:func:`check_array` for torch-only code: ``x`` must be a torch tensor (numpy is refused by name)."""
    import torch

    if not isinstance(x, torch.Tensor):
        kind = "a floating torch tensor" if checks.get("floating", True) else "a torch tensor"
        raise TypeError(f"{fn}: {name} must be {kind}, got {type(x).__name__}; convert it with torch.as_tensor first")
    return check_array(x, name, fn, **checks)


def check_pair_shapes(xs: Any, ys: Any, fn: str, *, xs_name: str = "xs", ys_name: str = "ys") -> None:
    """Shapes (..., n, d) and (..., n) with the same leading axes, or a ValueError naming both."""
    if xs.ndim != ys.ndim + 1:
        raise ValueError(
            f"{fn}: {xs_name} must have exactly one more dimension than {ys_name} "
            f"(shapes (..., n, d) and (..., n)), got {tuple(xs.shape)} and {tuple(ys.shape)}"
        )
    if xs.shape[-2] != ys.shape[-1]:
        raise ValueError(
            f"{fn}: {xs_name} and {ys_name} disagree on the number of points: "
            f"{xs_name} has {xs.shape[-2]}, {ys_name} has {ys.shape[-1]}"
        )
    if tuple(xs.shape[:-2]) != tuple(ys.shape[:-1]):
        raise ValueError(
            f"{fn}: {xs_name} and {ys_name} disagree on the batch shape: "
            f"{tuple(xs.shape[:-2])} and {tuple(ys.shape[:-1])}"
        )


def check_prompt(xs: Any, ys: Any, fn: str, *, xs_name: str = "xs", ys_name: str = "ys", bounded: bool = True):
    """Validate a prompt for the all-prefix seam and return its namespace.

    ``xs`` has shape (..., n, d) and ``ys`` shape (..., n) with the same leading
    axes; both real floating, finite (and within :func:`max_magnitude` unless ``bounded=False``),
    of one library and one dtype.
    """
    xp = namespace(fn=fn, **{xs_name: xs, ys_name: ys})
    check_array(xs, xs_name, fn, min_ndim=2, bounded=bounded)
    check_array(ys, ys_name, fn, min_ndim=1, bounded=bounded)
    check_pair_shapes(xs, ys, fn, xs_name=xs_name, ys_name=ys_name)
    if xs.dtype != ys.dtype:
        raise TypeError(f"{fn}: {xs_name} and {ys_name} must share a dtype, got {xs.dtype} and {ys.dtype}")
    return xp


def check_fit_data(X: Any, y: Any, fn: str, *, bounded: bool = True):
    """Validate a single (batched) fit: ``X`` of shape (..., k, d), ``y`` of shape (..., k)."""
    return check_prompt(X, y, fn, xs_name="X", ys_name="y", bounded=bounded)


def check_queries(Xq: Any, X: Any, fn: str, name: str = "Xq") -> Any:
    """Validate query points (..., m, d) against training inputs (..., k, d)."""
    namespace(fn=fn, X=X, **{name: Xq})
    check_array(Xq, name, fn, min_ndim=2)
    if Xq.shape[-1] != X.shape[-1]:
        raise ValueError(
            f"{fn}: {name} and X disagree on the number of features: {name} has {Xq.shape[-1]}, X has {X.shape[-1]}"
        )
    if Xq.dtype != X.dtype:
        raise TypeError(f"{fn}: {name} and X must share a dtype, got {Xq.dtype} and {X.dtype}")
    return Xq


def check_point_sets(X: Any, Y: Any, fn: str, *, x_name: str = "X", y_name: str = "Y"):
    """Validate two point sets (..., n, d) and (..., m, d): one library, finite floats, same d and dtype.

    Returns the namespace. Used wherever two samples meet (kernel matrices, two-sample tests).
    """
    xp = namespace(fn=fn, **{x_name: X, y_name: Y})
    check_array(X, x_name, fn, min_ndim=2)
    check_array(Y, y_name, fn, min_ndim=2)
    if X.shape[-1] != Y.shape[-1]:
        raise ValueError(
            f"{fn}: {x_name} and {y_name} disagree on the number of features: "
            f"{x_name} has {X.shape[-1]}, {y_name} has {Y.shape[-1]}"
        )
    if X.dtype != Y.dtype:
        raise TypeError(f"{fn}: {x_name} and {y_name} must share a dtype, got {X.dtype} and {Y.dtype}")
    return xp


def _as_real(value: Any, name: str, fn: str) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__} {value!r}")
    if not isinstance(value, numbers.Real):
        if getattr(value, "shape", None) != () or str(getattr(value, "dtype", "")).endswith("bool"):
            raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
        try:
            value = float(value)  # 0-d arrays
        except (TypeError, ValueError):
            raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}") from None
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value}")
    return value


def check_nonnegative(value: Any, name: str, fn: str) -> float:
    """A finite real number >= 0, returned as ``float``."""
    value = _as_real(value, name, fn)
    if value < 0:
        raise ValueError(f"{fn}: {name} must be >= 0, got {value}")
    return value


def check_positive(value: Any, name: str, fn: str) -> float:
    """A finite real number > 0, returned as ``float``."""
    value = _as_real(value, name, fn)
    if value <= 0:
        raise ValueError(f"{fn}: {name} must be > 0, got {value}")
    return value


def check_int(value: Any, name: str, fn: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum], returned as ``int`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{fn}: {name} must be <= {maximum}, got {value}")
    return value


def check_probability_vector(p: Any, name: str, fn: str, *, atol: float = 1e-8) -> np.ndarray:
    """A 1-d numpy vector of non-negative weights summing to one (within ``atol``)."""
    p = np.asarray(to_numpy(p), dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{fn}: {name} must be a non-empty 1-d vector, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")
    if np.any(p < 0):
        raise ValueError(f"{fn}: {name} must be non-negative, got min {p.min()}")
    if abs(p.sum() - 1.0) > atol:
        raise ValueError(f"{fn}: {name} must sum to 1, got {p.sum()!r}")
    return p


# ----------------------------------------------------------------------------------------
# Linear-algebra helpers the array API standard lacks or leaves ambiguous.


def matrix_transpose(a: Any) -> Any:
    """Swap the last two axes (a batched transpose) of a numpy, torch or jax array."""
    return a.mT if hasattr(a, "mT") else a.swapaxes(-1, -2)


def solve(xp, A: Any, b: Any) -> Any:
    """Solve ``A x = b`` for a batch of vectors: A (..., d, d), b (..., d) -> x (..., d).

    The array API standard treats a 1-d right-hand side specially, so the vector is
    always passed as a column and squeezed back.
    """
    return xp.linalg.solve(A, b[..., None])[..., 0]


def solve_triangular(xp, L: Any, B: Any, *, lower: bool = True, transpose: bool = False) -> Any:
    """Solve ``L X = B`` (or ``L^T X = B``) for triangular L (..., n, n), B (..., n, m); batches broadcast.

    numpy batches run through torch's batched triangular solve on zero-copy CPU views (torch is a
    runtime dependency): numpy has no batched triangular solve, and its stacked LU solve is 4-10x
    slower for the small matrices of all-prefix estimators (``benchmarks/prefix_baselines.py``).
    The result is a numpy array of numpy's result dtype.
    """
    name = library_name(L)
    if name == "jax":
        import jax.scipy.linalg as jsl

        return jsl.solve_triangular(L, B, lower=lower, trans=1 if transpose else 0)
    import torch

    if name == "torch":
        A = L.mT if transpose else L
        return torch.linalg.solve_triangular(A, B, upper=(lower == transpose))
    dtype = np.result_type(L, B)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    A_t, B_t = (_torch_view(np.asarray(a, dtype=dtype)) for a in (L, B))
    if transpose:
        A_t = A_t.mT
    return torch.linalg.solve_triangular(A_t, B_t, upper=(lower == transpose)).numpy()


def _torch_view(a: np.ndarray) -> Any:
    """A torch tensor sharing memory with a C-contiguous, writeable copy-if-needed of ``a``."""
    import torch

    a = np.ascontiguousarray(a)
    if not a.flags.writeable:
        a = a.copy()
    return torch.from_numpy(a)

