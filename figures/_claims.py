"""A figure's claims: one measured number, its threshold and its verdict, and their table.

:class:`Claim` is what a figure's ``claims(results, params)`` returns, one per statement the
figure makes about its measurement; :func:`format_claims` prints the stored dicts as the
table ``icl figure`` shows. A claim that does not hold is reported as not holding, never
dropped. What does not live here: computing the numbers (each figure module) and writing
them (:mod:`figures._framework`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Claim", "format_claims"]


@dataclass(frozen=True)
class Claim:
    """One measured claim of a figure: a number, a threshold and a verdict.

    ``holds`` is the measured verdict (True/False); a claim that does not hold is
    written and printed as not holding. ``statement`` is one line of plain text.

    Example
    -------
    >>> c = Claim("err_at_2d", 0.01, 0.05, 0.01 <= 0.05, "error at k = 2d is within 0.05 of OLS")
    >>> c.to_dict()["holds"]
    True
    """

    name: str
    value: float
    threshold: float
    holds: bool
    statement: str

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Claim: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.statement, str) or not self.statement or "\n" in self.statement:
            raise ValueError(f"Claim: statement must be one non-empty line, got {self.statement!r}")
        for field in ("value", "threshold"):
            raw = getattr(self, field)
            try:
                object.__setattr__(self, field, float(raw))
            except (TypeError, ValueError):
                raise TypeError(f"Claim: {field} must be a real number, got {raw!r}") from None
        if not isinstance(self.holds, (bool, np.bool_)):
            raise TypeError(f"Claim: holds must be a bool, got {self.holds!r}")
        object.__setattr__(self, "holds", bool(self.holds))

    def to_dict(self) -> dict:
        """JSON-able dict with keys name, value, threshold, holds, statement (NaN -> None)."""
        return {
            "name": self.name,
            "value": _finite_or_none(self.value),
            "threshold": _finite_or_none(self.threshold),
            "holds": self.holds,
            "statement": self.statement,
        }


def _finite_or_none(v: float):
    return v if math.isfinite(v) else None


def format_claims(claims: list[dict]) -> str:
    """A plain-text table of claims: name, value, threshold, verdict, statement."""
    rows = [("claim", "value", "threshold", "verdict", "statement")]
    for c in claims:
        fmt = lambda v: "nan" if v is None else f"{v:.4g}"  # noqa: E731
        rows.append((c["name"], fmt(c["value"]), fmt(c["threshold"]), "HOLDS" if c["holds"] else "DOES NOT HOLD",
                     c["statement"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, len(lines[0])))
    return "\n".join(lines)
