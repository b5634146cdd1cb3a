"""The ``icl`` command: one dispatcher above the three packages it drives.

``icl_toolkit.cli`` imports ``icl`` (train, eval, tasks, presets), ``figures`` (``icl figure``)
and ``proofs`` (``icl proofs``) with plain imports. It lives in its own package, above all
three, so that none of them needs to know about the others: ``icl`` never imports
``figures``, and the dependency order stays estimators <- icl <- figures <- icl_toolkit.
"""

__all__ = ["main"]

from icl_toolkit.cli import main
