"""Where the training loop's metrics go besides ``metrics.jsonl``: the log sinks of ``train.log``.

``metrics.jsonl`` (one JSON object per line) is the run's record: resume truncates it, ``icl runs``
and the figures read it, so ``train.log`` always holds ``"jsonl"``, and ``icl.train`` writes that
file itself. The other sinks mirror the same records elsewhere:

- ``"tensorboard"``: event files in ``<run folder>/tensorboard`` through
  ``torch.utils.tensorboard.SummaryWriter`` (the ``tensorboard`` package, the
  ``icl-toolkit[tensorboard]`` extra, is imported only when this sink is asked for). Training
  records become scalars ``train/loss`` and ``train/lr`` at their step; an evaluation record's
  error per prefix length k becomes ``eval/error_k<k>`` (and ``eval/nll_k<k>``) at its step.
  View with ``tensorboard --logdir runs``.

A resumed run appends to the same event folder; TensorBoard shows the latest value written for a
step. What does not live here: the loop (``icl.train``) and the run folder (``icl.run``).
"""

from __future__ import annotations

from pathlib import Path

from icl.errors import ConfigError

__all__ = ["SINKS", "open_sinks", "TensorBoardSink"]

SINKS = ("jsonl", "tensorboard")  # the values train.log may hold; "jsonl" is written by icl.train itself


class TensorBoardSink:
    """Scalars of the metrics records in ``run_dir/tensorboard`` (``SummaryWriter``)."""

    def __init__(self, run_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # torch raises ImportError when the tensorboard package is missing
            raise ConfigError(f"train.log: 'tensorboard' needs the tensorboard package ({err}); "
                              "pip install 'icl-toolkit[tensorboard]'") from None
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def write(self, record: dict) -> None:
        """One metrics record: a training line (loss, lr) or an evaluation line (error / nll per k)."""
        step = int(record["step"])
        if record.get("kind") == "eval":
            for name in ("error", "nll"):
                for k, value in enumerate(record.get(name) or ()):
                    self.writer.add_scalar(f"eval/{name}_k{k}", value, step)
        else:
            for name in ("loss", "lr"):
                if name in record:
                    self.writer.add_scalar(f"train/{name}", record[name], step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def open_sinks(names, run_dir: str | Path) -> list:
    """The sinks of ``train.log`` other than ``"jsonl"`` for ``run_dir``, each with ``write(record)`` and ``close()``.

    >>> open_sinks(("jsonl",), "runs/x")
    []
    """
    out = []
    for name in names:
        if name == "tensorboard":
            out.append(TensorBoardSink(run_dir))
        elif name != "jsonl":
            raise ConfigError(f"train.log: unknown sink {name!r}; known: {', '.join(SINKS)}")
    return out
