"""Storage of figure results: the params hash and the array-aware JSON cache.

``compute`` results are stored as ``<hash>.json`` with every numpy array replaced by a
reference into ``<hash>.npz`` (loaded with ``allow_pickle=False``); both files are written
atomically by ``icl.checkpoint.atomic_write_bytes`` (temporary file, fsync, rename), so an
interrupted build never leaves a half-written cache. The hash is of the canonical JSON of the
parameters, never of file times.

What does not live here: provenance (package versions, git commit, machine) and atomic writes,
shared with training runs (``icl.checkpoint``); discovery, plotting and claims
(:mod:`figures._framework`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from icl.checkpoint import atomic_write_bytes, atomic_write_text


# ----------------------------------------------------------------------------- cache


def _canonical(obj: Any) -> Any:
    """A JSON-able, deterministic form of params (tuples -> lists, numpy scalars -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise TypeError(f"make_figure: params must be JSON-able, got {type(obj).__name__} ({obj!r})")


def params_hash(name: str, params: dict, version: int = 1) -> str:
    """sha256 (16 hex digits) of the canonical JSON of ``(name, params, version)``.

    >>> params_hash("x", {"b": 1, "a": [1, 2]}) == params_hash("x", {"a": (1, 2), "b": 1})
    True
    """
    blob = json.dumps({"figure": name, "params": _canonical(params), "version": version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _split_arrays(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace arrays in a nested result by ``{"__npz__": key}`` and collect them."""
    if isinstance(obj, dict):
        return {str(k): _split_arrays(v, f"{path}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_arrays(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__npz__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise TypeError(f"compute must return JSON-able values or arrays; got {type(obj).__name__} at {path or '/'}")


def _join_arrays(obj: Any, arrays) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__npz__"}:
            return np.asarray(arrays[obj["__npz__"]])
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def _save_cache(cache_dir: Path, key: str, record: dict, results: dict) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    record = dict(record, results=_split_arrays(results, "", arrays))
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(cache_dir / f"{key}.npz", buf.getvalue())
    atomic_write_text(cache_dir / f"{key}.json", json.dumps(record, indent=1))


def _load_cache(cache_dir: Path, key: str, name: str, params: dict) -> tuple[dict, dict] | None:
    meta_path = cache_dir / f"{key}.json"
    if not meta_path.exists():
        return None
    try:
        record = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return None
    if record.get("name") != name or record.get("params") != _canonical(params):
        return None  # a hash collision or a hand-edited file: recompute
    npz_path = cache_dir / f"{key}.npz"
    if npz_path.exists():
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    else:
        arrays = {}
    try:
        results = _join_arrays(record.pop("results"), arrays)
    except KeyError:
        return None
    return record, results
