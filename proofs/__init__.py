"""Symbolic proofs (sympy) of the closed forms the toolkit relies on, one lemma per module.

Each module states its lemma and source in its docstring and has ``check()`` returning a
:class:`~proofs._lemma.Result`: the lemma is *proved* when ``lhs - rhs`` reduces to exactly
zero with sympy **and** a numeric cross-check through the ``estimators`` function it backs
stays within tolerance. ``python -m proofs`` (or ``icl proofs``) runs them all and prints a
table; it exits non-zero if any lemma fails.

What does not live here: the estimators themselves (``estimators/``) and their property
tests (``tests/``).

Example
-------
>>> from proofs import LEMMA_MODULES
>>> LEMMA_MODULES[0]
'ridge_posterior'
"""

from __future__ import annotations

import importlib

__all__ = ["LEMMA_MODULES", "Lemma", "Result", "lemmas", "run_all", "format_table", "add_arguments", "run_from_args", "main"]

# Table order: linear predictors, attention as GD, Bayes and BMA, classifiers, MMD, Kalman evidence;
# each name is a module ``proofs.<name>`` with LEMMA and check().
LEMMA_MODULES = [
    "ridge_posterior",
    "push_through",
    "sherman_morrison_rls",
    "ridge_limit",
    "ols_error",
    "attention_gd",
    "mixture_posterior",
    "bma_regret",
    "naive_bayes_logistic",
    "mmd_unbiased",
    "kalman_evidence",
    "mixture_predictive",
]


def lemmas(names=None) -> list:
    """The :class:`Lemma` records, in table order (all of them, or those whose module is in ``names``)."""
    chosen = LEMMA_MODULES if names is None else [n for n in LEMMA_MODULES if n in set(names)]
    if names is not None:
        unknown = sorted(set(names) - set(LEMMA_MODULES))
        if unknown:
            raise ValueError(f"lemmas: unknown lemma module(s) {', '.join(unknown)}; choose from {', '.join(LEMMA_MODULES)}")
    return [importlib.import_module(f"{__name__}.{name}").LEMMA for name in chosen]


def run_all(names=None, progress=None) -> list:
    """Check every lemma (or those named); returns a list of :class:`Result`.

    ``progress``, if given, is called with each result as soon as it is ready.
    """
    for topic in ("linear", "bayes", "classify", "kernels", "mmd"):  # loaded up front: no lemma's time includes an import
        importlib.import_module(f"estimators.{topic}")

    results = []
    for lemma in lemmas(names):
        result = lemma.check()
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def _row(index: int, r: Result) -> list:
    symbolic = "proved" if r.symbolic else "FAILED"
    numeric = f"{r.numeric_error:.1e} <= {r.tolerance:.0e}" if r.numeric_ok else f"FAILED ({r.numeric_error:.1e} > {r.tolerance:.0e})"
    return [str(index), r.name, r.source, symbolic, numeric, f"{r.seconds:.1f} s"]


def format_table(results: list) -> str:
    """A plain-text table: lemma, source, symbolic result, numeric cross-check, time.

    Failures are followed by their error messages and the estimators function each numeric
    check calls is listed under the table.
    """
    header = ["#", "lemma", "source", "symbolic", "numeric max |error|", "time"]
    rows = [header] + [_row(i + 1, r) for i, r in enumerate(results)]
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_ok = sum(r.proved for r in results)
    total = sum(r.seconds for r in results)
    lines.append("")
    lines.append(f"{n_ok}/{len(results)} lemmas proved with passing numeric cross-checks ({total:.1f} s)")
    lines.append("numeric cross-checks call:")
    lines += [f"  {i + 1}. {r.backed_by}" for i, r in enumerate(results)]
    for i, r in enumerate(results):
        if r.error:
            lines.append(f"lemma {i + 1} raised {r.error}")
    return "\n".join(lines)


def add_arguments(parser) -> None:
    """Declare the arguments of ``python -m proofs`` / ``icl proofs`` on an argparse parser."""
    parser.add_argument("names", nargs="*", metavar="LEMMA",
                        help=f"lemma modules to run (default: all): {', '.join(LEMMA_MODULES)}")


def run_from_args(args) -> int:
    """Run the lemmas named in ``args.names`` (all if none), print the table; 0 iff all are proved.

    An unknown lemma name prints one error line to stderr and returns 2.
    """
    import sys

    unknown = sorted(set(args.names) - set(LEMMA_MODULES))
    if unknown:
        print(f"proofs: error: unknown lemma(s) {', '.join(unknown)}; choose from {', '.join(LEMMA_MODULES)}", file=sys.stderr)
        return 2
    results = run_all(args.names or None)
    print(format_table(results))
    return 0 if all(r.proved for r in results) else 1


def main(argv=None) -> int:
    """Entry point of ``python -m proofs [LEMMA ...]``: print the table, return the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m proofs", description="Check the symbolic lemmas behind the estimators.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def __getattr__(name):
    # Lemma and Result are loaded on first use, so that building the ``icl`` parser
    # (which calls add_arguments) does not import sympy.
    if name in ("Lemma", "Result"):
        from . import _lemma

        return getattr(_lemma, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
