"""The transformer side of icl-toolkit: tasks, a small GPT, configs, training, evaluation.

Submodules (imported on use, so ``import icl`` stays light), from the bottom up; each imports
only modules listed before it (and ``estimators``), so there are no import cycles:

- ``icl.errors``: ConfigError, CheckpointError, NonFiniteLossError
- ``icl.checkpoint``: atomic writes, SHA-256 manifests, provenance, checkpoint files
- ``icl.metrics``: error curves with intervals, SPD, ILWD, probes (numpy only)
- ``icl.tasks``: function classes with their exact priors and baselines
- ``icl.config``: frozen dataclass configs, TOML presets, dotted-key overrides
- ``icl.heads``: read-out heads (mean, Gaussian, bar) and their predictive distributions
- ``icl.model``: a small GPT reading (x, y) prompts (``GPT.predict_prefixes``)
- ``icl.distributed``: torchrun's environment and the process group
- ``icl.run``: a run folder and the model it holds (``build_model``, ``load_model``)
- ``icl.train``: the training loop (schedules, curriculum, checkpoints, DDP)
- ``icl.evaluate``: a trained model against every baseline (``icl eval``)

The ``icl`` command itself lives in ``icl_toolkit.cli``, above this package and ``figures``.
"""

__version__ = "0.1.0"
