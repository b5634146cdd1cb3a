"""Which modules are figures: discovery by the module contract, and lookup by NAME.

A figure is a public module of this package that defines ``NAME``; it must also define
``DESCRIPTION``, ``PRESETS``, ``compute``, ``plot`` and ``claims`` (the contract is spelt out
in :mod:`figures._framework`). Modules whose names start with ``_`` are the shared
machinery and are never figures. A module that fails to import, or breaks the contract, is
reported by name and does not hide the other figures. What does not live here: building
a figure (:mod:`figures._framework`).
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from pathlib import Path
from typing import Any

__all__ = ["list_figures", "load_figure"]

_REQUIRED = ("NAME", "DESCRIPTION", "PRESETS", "compute", "plot", "claims")
_PACKAGE_DIR = Path(__file__).resolve().parent


def _discover() -> tuple[dict[str, Any], dict[str, str]]:
    """Import every public module of this package; those defining NAME are figures."""
    found: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules([str(_PACKAGE_DIR)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"figures.{info.name}")
        except Exception as exc:  # a broken figure must not hide the others; it is reported
            errors[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        if not hasattr(mod, "NAME"):
            continue
        missing = [a for a in _REQUIRED if not hasattr(mod, a)]
        if missing:
            errors[info.name] = f"missing {', '.join(missing)}"
            continue
        if mod.NAME in found:
            errors[info.name] = f"NAME {mod.NAME!r} already used by {found[mod.NAME].__name__}"
            continue
        found[mod.NAME] = mod
    return found, errors


def list_figures() -> dict[str, str]:
    """Map every figure NAME to its one-line DESCRIPTION (modules that fail to import warn)."""
    found, errors = _discover()
    for mod_name, err in errors.items():
        warnings.warn(f"figures.{mod_name} is not usable: {err}", RuntimeWarning, stacklevel=2)
    return {name: str(mod.DESCRIPTION) for name, mod in sorted(found.items())}


def load_figure(name):
    """The module of figure ``name`` (ValueError naming the available figures otherwise).

    A module object that follows the contract is returned as is, so a figure kept
    outside this package can be built with :func:`make_figure` too.
    """
    if not isinstance(name, str):
        missing = [a for a in _REQUIRED if not hasattr(name, a)]
        if missing:
            raise TypeError(f"make_figure: name must be a figure NAME or module; {name!r} lacks {missing}")
        return name
    found, errors = _discover()
    if name in found:
        return found[name]
    broken = "".join(f"; figures.{m} failed: {e}" for m, e in errors.items())
    raise ValueError(f"make_figure: unknown figure {name!r}; available: {sorted(found)}{broken}")
