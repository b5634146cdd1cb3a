"""The exceptions of the ``icl`` package: user errors that the command line reports in one line.

Every module of ``icl`` raises these three and nothing imports them from anywhere else, so
this module sits at the bottom of the package and imports nothing. The ``icl`` command turns
each into one line ``icl <cmd>: error: ...`` and an exit code (2 for a bad config or a damaged
checkpoint, 1 for a diverged run).

What does not live here: validation itself (``icl.config``, ``icl.tasks``) and checkpoint
verification (``icl.checkpoint``).
"""

__all__ = ["ConfigError", "CheckpointError", "NonFiniteLossError"]


class ConfigError(ValueError):
    """A configuration error with a one-line message that names the offending key."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupted or belongs to another run."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left intact."""
