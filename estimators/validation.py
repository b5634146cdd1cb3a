"""Array-namespace dispatch and the one input-validation module of ``estimators``.

Every public estimator starts with ``xp = namespace(...)`` and a few ``check_*``
calls from here, so that every backend (numpy, torch on CPU or CUDA, jax) is handled
the same way and every error message has the same wording:

    ``ValueError("ridge: lam must be >= 0, got -0.1")``
    ``ValueError("ridge_prefixes: xs and ys disagree on the number of points: xs has 40, ys has 39")``

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


def namespace(*arrays: Any, fn: str = "estimator"):
    """The array namespace shared by ``arrays`` (``None`` and Python scalars are ignored).

    Raises
    ------
    TypeError
        If the arrays come from different libraries (e.g. numpy and torch), or an
        argument is not an array at all (a list, a string).
    """
    arrays_only = [a for a in arrays if a is not None and not isinstance(a, (numbers.Number, bool))]
    for a in arrays_only:
        if not array_api_compat.is_array_api_obj(a):
            raise TypeError(
                f"{fn}: expected numpy, torch or jax arrays, got {type(a).__name__}; "
                "wrap lists with numpy.asarray first"
            )
    libraries = sorted({library_name(a) for a in arrays_only})
    if len(libraries) > 1:
        raise TypeError(
            f"{fn}: all arrays must come from one library, got a mix of {', '.join(libraries)}; "
            "convert them to one library first"
        )
    return array_api_compat.array_namespace(*arrays_only)


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
) -> Any:
    """Validate one array argument and return it unchanged.

    Checks, in order: it is an array; its number of dimensions (``ndim`` exactly,
    or at least ``min_ndim``); its dtype is real floating (when ``floating``); it is
    non-empty (unless ``allow_empty``); all values are finite (when ``finite``).
    """
    namespace(x, fn=fn)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if x.ndim < min_ndim:
        raise ValueError(
            f"{fn}: {name} must have at least {min_ndim} dimension(s), got shape {tuple(x.shape)}"
        )
    if floating:
        xp = array_api_compat.array_namespace(x)
        if not xp.isdtype(x.dtype, "real floating"):
            raise TypeError(
                f"{fn}: {name} must have a real floating dtype (float32 or float64), got {x.dtype}; "
                "convert it with .astype(float) / .double() first"
            )
    if not allow_empty and any(int(s) == 0 for s in x.shape):
        raise ValueError(f"{fn}: {name} is empty (shape {tuple(x.shape)})")
    if finite:
        check_finite(x, name, fn)
    return x


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


def check_prompt(xs: Any, ys: Any, fn: str, *, xs_name: str = "xs", ys_name: str = "ys"):
    """Validate a prompt for the all-prefix seam and return its namespace.

    ``xs`` has shape (..., n, d) and ``ys`` shape (..., n) with the same leading
    axes; both real floating, finite, of one library and one dtype.
    """
    xp = namespace(xs, ys, fn=fn)
    check_array(xs, xs_name, fn, min_ndim=2)
    check_array(ys, ys_name, fn, min_ndim=1)
    check_pair_shapes(xs, ys, fn, xs_name=xs_name, ys_name=ys_name)
    if xs.dtype != ys.dtype:
        raise TypeError(f"{fn}: {xs_name} and {ys_name} must share a dtype, got {xs.dtype} and {ys.dtype}")
    return xp


def check_fit_data(X: Any, y: Any, fn: str):
    """Validate a single (batched) fit: ``X`` of shape (..., k, d), ``y`` of shape (..., k)."""
    return check_prompt(X, y, fn, xs_name="X", ys_name="y")


def check_queries(Xq: Any, X: Any, fn: str, name: str = "Xq") -> Any:
    """Validate query points (..., m, d) against training inputs (..., k, d)."""
    namespace(X, Xq, fn=fn)
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
    xp = namespace(X, Y, fn=fn)
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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
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

