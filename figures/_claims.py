"""A figure's claims as evidence: a measured value with its interval, controls, and one of four verdicts.

A claim compares a statistic of a *subject* (the trained transformer, a learned test) with a
threshold. It is evidence only when (Cumming 2014 on intervals; the controls follow the logic of
negative controls in experimental design):

* its 95% interval, not the point estimate, clears the threshold: a **paired bootstrap** over
  the evaluation unit (prompts, seeds, test sets; Efron & Tibshirani 1993, chapter 13) or an
  exact binomial interval for rates (Clopper & Pearson 1934), Bonferroni-corrected when one
  claim pools many tests;
* every **control** -- the same statistic, in the same run and on the same bootstrap resamples,
  for a predictor or test that lacks the property (the zero predictor, OLS, a single mixture
  component, an untrained model, the competing test) -- fails it.

Verdicts: ``holds`` (the subject's interval clears the threshold and every control's interval
fails it), ``fails`` (the subject's interval is on the wrong side), ``undetermined`` (the
subject's interval straddles the threshold) and ``uninformative`` (the subject passes but so
does, or may, a control: the test cannot tell the property apart). A claim of ``kind="check"``
is a mathematical identity measured as a check of the code, not evidence about a model; a
claim with ``scale="paper"`` is expected only at the paper's scale, says why, and is not
counted as holding at a smaller preset.

A figure's ``claims(results, params)`` returns :class:`Claim` objects; the framework evaluates
them (:meth:`Claim.evaluate`) and writes the records into ``NAME.json``; :func:`format_claims`
prints them. What does not live here: computing the numbers (each figure module) and writing
files (:mod:`figures._framework`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

__all__ = ["Claim", "VERDICTS", "compare", "paired_bootstrap", "binomial_interval", "format_claims"]

VERDICTS = ("holds", "fails", "undetermined", "uninformative")
_DIRECTIONS = ("<=", ">=")
_KINDS = ("evidence", "check")
_SCALES = ("quick", "paper")

Statistic = Callable[[str, np.ndarray], float]


def compare(interval: tuple[float, float], threshold: float, direction: str) -> str:
    """``"holds"`` if the whole interval is on the passing side of ``threshold``, ``"fails"`` if the
    whole interval is on the other side, else ``"undetermined"`` (a NaN bound is undetermined).

    >>> compare((0.01, 0.03), 0.05, "<="), compare((0.04, 0.07), 0.05, "<="), compare((0.9, 1.2), 0.5, "<=")
    ('holds', 'undetermined', 'fails')
    """
    lo, hi = (float(v) for v in interval)
    if math.isnan(lo) or math.isnan(hi):
        return "undetermined"
    if direction == "<=":
        return "holds" if hi <= threshold else "fails" if lo > threshold else "undetermined"
    return "holds" if lo >= threshold else "fails" if hi < threshold else "undetermined"


def paired_bootstrap(statistic: Statistic, labels: list[str], n_units: int, *, n_boot: int = 1000,
                     seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float, float]]:
    """Value and percentile interval of ``statistic(label, idx)`` for every label, on shared resamples.

    ``idx`` is an integer array of evaluation units (prompts, seeds, test sets) drawn with
    replacement; every label sees the same draws, so differences between labels are paired.
    Returns ``{label: (value on all units, lo, hi)}``.

    >>> x = np.arange(100.0)
    >>> v, lo, hi = paired_bootstrap(lambda label, idx: x[idx].mean(), ["a"], 100)["a"]
    >>> v, bool(lo < 49.5 < hi), bool(hi - lo < 25)
    (49.5, True, True)
    """
    if n_units < 1:
        raise ValueError(f"paired_bootstrap: n_units must be >= 1, got {n_units}")
    everything = np.arange(n_units)
    values = {label: float(statistic(label, everything)) for label in labels}
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(labels)))
    for b in range(n_boot):
        idx = rng.integers(0, n_units, size=n_units)
        draws[b] = [statistic(label, idx) for label in labels]
    tail = 100 * (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanpercentile(draws, [tail, 100 - tail], axis=0) if np.isfinite(draws).any() else (
            np.full(len(labels), np.nan), np.full(len(labels), np.nan))
    return {label: (values[label], float(lo[i]), float(hi[i])) for i, label in enumerate(labels)}


def binomial_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper & Pearson 1934) interval of a rate; pass ``level = 1 - alpha / m`` for a
    Bonferroni-corrected interval over m tests.

    >>> lo, hi = binomial_interval(5, 100)
    >>> round(lo, 4), round(hi, 4)
    (0.0164, 0.1128)
    """
    from scipy.stats import beta

    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"binomial_interval: need 0 <= successes <= trials and trials >= 1, got {successes}/{trials}")
    a = 1 - level
    lo = 0.0 if successes == 0 else float(beta.ppf(a / 2, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - a / 2, successes + 1, trials - successes))
    return lo, hi


@dataclass(frozen=True)
class Claim:
    """One claim of a figure: a statistic of ``subject`` against a threshold, with named controls.

    Give either ``statistic`` and ``n_units`` (the value and its interval then come from a paired
    bootstrap over the units, the controls on the same resamples), or ``estimates``: a mapping
    ``label -> (value, lo, hi)`` computed by the figure (exact binomial intervals, say) that
    holds the subject and every control.

    Parameters
    ----------
    name, statement : str
        An identifier and one line of plain text saying what must be true.
    threshold : float
    direction : {"<=", ">="}
        The subject passes when its whole interval is ``<= threshold`` (or ``>=``).
    subject : str
        The label of what the claim is about (e.g. ``"transformer"``).
    controls : tuple of str
        Labels that lack the property; each must fail for the claim to hold (at least one).
    statistic : callable ``(label, idx) -> float``, optional
        The statistic of ``label`` on the evaluation units ``idx`` (an int array).
    n_units : int
        Number of evaluation units (for ``statistic``).
    unit : str
        What a unit is (``"prompts"``, ``"seeds"``, ``"test sets"``).
    estimates : mapping, optional
    kind : {"evidence", "check"}
        ``"check"``: a mathematical identity, measured as a check of the code.
    scale : {"quick", "paper"}
        ``"paper"``: expected only at the paper's scale; ``scale_reason`` says why, from a measurement.
    """

    name: str
    statement: str
    threshold: float
    direction: str
    subject: str
    controls: tuple
    statistic: Statistic | None = None
    n_units: int = 0
    unit: str = "prompts"
    estimates: Mapping[str, tuple] | None = None
    kind: str = "evidence"
    scale: str = "quick"
    scale_reason: str = ""
    n_boot: int = 1000
    seed: int = field(default=0)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Claim: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.statement, str) or not self.statement or "\n" in self.statement:
            raise ValueError(f"Claim: statement must be one non-empty line, got {self.statement!r}")
        try:
            object.__setattr__(self, "threshold", float(self.threshold))
        except (TypeError, ValueError):
            raise TypeError(f"Claim {self.name}: threshold must be a real number, got {self.threshold!r}") from None
        for attr, allowed in (("direction", _DIRECTIONS), ("kind", _KINDS), ("scale", _SCALES)):
            if getattr(self, attr) not in allowed:
                raise ValueError(f"Claim {self.name}: {attr} must be one of {allowed}, got {getattr(self, attr)!r}")
        controls = tuple(self.controls)
        if not controls or not all(isinstance(c, str) and c for c in controls):
            raise ValueError(f"Claim {self.name}: controls must name at least one control, got {self.controls!r}")
        if self.subject in controls:
            raise ValueError(f"Claim {self.name}: the subject {self.subject!r} cannot be its own control")
        object.__setattr__(self, "controls", controls)
        if (self.statistic is None) == (self.estimates is None):
            raise ValueError(f"Claim {self.name}: give exactly one of statistic (with n_units) and estimates")
        if self.statistic is not None and (not isinstance(self.n_units, int) or self.n_units < 1):
            raise ValueError(f"Claim {self.name}: n_units must be a positive int with a statistic, got {self.n_units!r}")
        if self.estimates is not None:
            missing = [lab for lab in (self.subject, *controls) if lab not in self.estimates]
            if missing:
                raise ValueError(f"Claim {self.name}: estimates lack {missing}")
        if self.scale == "paper" and not self.scale_reason:
            raise ValueError(f"Claim {self.name}: a paper-scale claim must say why (scale_reason)")

    def with_subject(self, label: str) -> "Claim":
        """The same claim about ``label`` instead (the subject becomes a control): a control must not hold."""
        controls = tuple(c for c in self.controls if c != label) + (self.subject,)
        return dataclasses.replace(self, subject=label, controls=controls)

    def _estimates(self) -> dict[str, tuple[float, float, float]]:
        labels = [self.subject, *self.controls]
        if self.estimates is not None:
            return {lab: tuple(float(v) for v in self.estimates[lab]) for lab in labels}
        return paired_bootstrap(self.statistic, labels, self.n_units, n_boot=self.n_boot, seed=self.seed)

    def evaluate(self) -> dict:
        """The JSON record: name, statement, value, interval, threshold, verdict, scale, controls, ..."""
        est = self._estimates()
        value, lo, hi = est[self.subject]
        own = compare((lo, hi), self.threshold, self.direction)
        controls = [{"name": c, "value": _finite_or_none(est[c][0]),
                     "interval": [_finite_or_none(est[c][1]), _finite_or_none(est[c][2])],
                     "verdict": compare(est[c][1:], self.threshold, self.direction)} for c in self.controls]
        if own == "holds" and any(c["verdict"] != "fails" for c in controls):
            verdict = "uninformative"
        else:
            verdict = own
        return {
            "name": self.name,
            "statement": self.statement,
            "kind": self.kind,
            "subject": self.subject,
            "value": _finite_or_none(value),
            "interval": [_finite_or_none(lo), _finite_or_none(hi)],
            "threshold": self.threshold,
            "direction": self.direction,
            "verdict": verdict,
            "holds": verdict == "holds",
            "scale": {"expected_at": self.scale, "reason": self.scale_reason},
            "unit": self.unit if self.statistic is not None else "precomputed",
            "n_units": self.n_units,
            "controls": controls,
        }


def _finite_or_none(v: float):
    v = float(v)
    return v if math.isfinite(v) else None


def _fmt(v) -> str:
    return "nan" if v is None else f"{v:.3g}"


def format_claims(claims: list[dict]) -> str:
    """A plain-text table of evaluated claims: value [interval], threshold, verdict, controls."""
    rows = [("claim", "value [95% interval]", "threshold", "verdict", "controls (value: verdict)")]
    for c in claims:
        lo, hi = c["interval"]
        verdict = c["verdict"].upper() + (" (check)" if c.get("kind") == "check" else "")
        if c.get("scale", {}).get("expected_at") == "paper":
            verdict += " (paper scale)"
        ctrl = "; ".join(f"{k['name']} {_fmt(k['value'])}: {k['verdict']}" for k in c["controls"])
        rows.append((c["name"], f"{_fmt(c['value'])} [{_fmt(lo)}, {_fmt(hi)}]",
                     f"{c['direction']} {c['threshold']:.3g}", verdict, ctrl))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    lines.insert(1, "-" * min(120, len(lines[0])))
    return "\n".join(lines)
