"""The exceptions of the ``icl`` package: user errors that the command line reports in one line.

Every module of ``icl`` raises these and nothing imports them from anywhere else, so this
module sits at the bottom of the package and imports nothing. The ``icl`` command turns each
into one line ``icl <cmd>: error: ...`` and an exit code (2 for a bad config, a damaged
checkpoint or a run folder held by another process, 1 for a diverged run);
:class:`TrainingInterrupted` (SIGINT / SIGTERM, after the final checkpoint) becomes one line
``icl <cmd>: interrupted ...`` and exit code 128 + the signal number (130, 143).

What does not live here: validation itself (``icl.config``, ``icl.tasks``) and checkpoint
verification (``icl.checkpoint``).
"""

__all__ = ["ConfigError", "CheckpointError", "NonFiniteLossError", "RunLockedError", "TrainingInterrupted"]


class ConfigError(ValueError):
    """A configuration error with a one-line message that names the offending key."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupted or belongs to another run."""


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left intact."""


class RunLockedError(RuntimeError):
    """Another process holds the run folder's lock (its pid, host and start time are in the message)."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run after the current step, with a final checkpoint written.

    A ``KeyboardInterrupt`` so that code which stops on Ctrl-C keeps doing so; ``signum`` is the
    signal and ``exit_code`` (128 + signum: 130 for SIGINT, 143 for SIGTERM) the shell's convention.
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

    def __reduce__(self):  # pickles (a worker process of figures' train_many re-raises it in the parent)
        return type(self), (str(self), self.signum)
