"""Hypothesis strategies that draw the data itself, not only its shape and seed.

Every prompt strategy draws the values (bounded floats, representable in float32), then a scale
``2**e`` with 2**e in about [1e-8, 1e8], a dtype (float32 or float64) and optional structure:
duplicated points, collinear columns. :func:`with_nan` puts one NaN into a drawn argument.
Property tests built on them live in ``test_edges.py``; the shrunk counterexample is then a
concrete array, not a seed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = (np.float32, np.float64)
SCALE_EXPONENTS = st.integers(-26, 26)  # 2**-26 ~ 1.5e-8, 2**26 ~ 6.7e7
POWERS_OF_TWO = st.integers(-20, 20).map(lambda e: 2.0**e)  # exact multipliers for equivariance checks


def values(shape):
    """Arrays of ``shape`` with entries 0 or 2^-20 <= |v| <= 1 that float32 represents exactly.

    Entries are bounded away from 0 so that the drawn scale, not a denormal entry, sets the
    dynamic range (a prompt with x = 1e-38 next to x = 4 has predictions beyond float32's range).
    """
    entry = st.floats(-1.0, 1.0, allow_nan=False, width=32).map(lambda v: v if abs(v) >= 2.0**-20 else 0.0)
    return hnp.arrays(np.float64, shape, elements=entry)


@st.composite
def prompts(draw, max_batch=2, min_points=1, max_points=8, max_dim=4, structure=True):
    """``(xs (B, n, d), ys (B, n))`` with drawn values, scale, dtype and structure.

    Structure (when ``structure``): some point repeated (a duplicate), and / or one column a
    multiple of another (collinear features). ``ys`` are drawn independently of ``xs``
    (noisy data), or as ``xs @ w`` (noiseless) with a drawn w.
    """
    B = draw(st.integers(1, max_batch))
    n = draw(st.integers(min_points, max_points))
    d = draw(st.integers(1, max_dim))
    xs = draw(values((B, n, d)))
    if draw(st.booleans()):
        ys = np.einsum("bnd,bd->bn", xs, draw(values((B, d))))
    else:
        ys = draw(values((B, n)))
    if structure and n >= 2 and draw(st.booleans()):  # a duplicated point
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        xs[:, j], ys[:, j] = xs[:, i], ys[:, i]
    if structure and d >= 2 and draw(st.booleans()):  # collinear columns
        i, j = draw(st.integers(0, d - 1)), draw(st.integers(0, d - 1))
        xs[:, :, j] = draw(st.sampled_from([-2.0, 0.5, 1.0])) * xs[:, :, i]
    scale = 2.0 ** draw(SCALE_EXPONENTS)
    dtype = draw(st.sampled_from(DTYPES))
    return (xs * scale).astype(dtype), (ys * scale).astype(dtype)


@st.composite
def labelled_prompts(draw, n_classes=2, max_batch=2, min_points=2, max_points=8, max_dim=4):
    """``(xs (B, n, d), labels (B, n) int64)``: drawn inputs (as :func:`prompts`) and drawn labels."""
    xs, _ = draw(prompts(max_batch=max_batch, min_points=min_points, max_points=max_points, max_dim=max_dim))
    labels = draw(hnp.arrays(np.int64, xs.shape[:-1], elements=st.integers(0, n_classes - 1)))
    return xs, labels


@st.composite
def with_nan(draw, arrays, names=("xs", "ys")):
    """``(arrays with one NaN, the name of the argument that holds it)``; integer arrays are skipped."""
    candidates = [i for i, a in enumerate(arrays) if np.issubdtype(a.dtype, np.floating)]
    which = draw(st.sampled_from(candidates))
    out = [a.copy() for a in arrays]
    flat = out[which].reshape(-1)
    flat[draw(st.integers(0, flat.size - 1))] = np.nan
    return tuple(out), names[which]
