"""Paper figures as a build: one module per figure, cached computing, measured claims.

``make_figure("linear-regression", preset="quick")`` trains (or reuses) the runs a
figure needs, computes, plots, and writes ``NAME.png``, ``NAME.pdf`` and ``NAME.json``
(claims + provenance) into ``figures/out``. See :mod:`figures._framework` for the
contract a figure module follows. Command line: ``icl figure NAME --preset quick``,
``icl figure --list``, ``icl figure all`` (:func:`add_arguments` and :func:`run_from_args`
serve it).
"""

from ._claims import Claim, format_claims
from ._discovery import list_figures, load_figure
from ._framework import Context, add_arguments, make_all, make_figure, params_hash, run_from_args

__all__ = ["Claim", "Context", "list_figures", "load_figure", "make_figure", "make_all", "format_claims", "params_hash",
           "add_arguments", "run_from_args"]
