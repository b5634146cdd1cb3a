"""The transformer side of icl-toolkit: tasks, a small GPT, configs, training, evaluation.

Submodules (imported on use, so ``import icl`` stays light):

- ``icl.tasks``: function classes with their exact priors and baselines (REFERENCE.md section 3)
- ``icl.model``: a small GPT reading (x, y) prompts (``GPT.predict_prefixes``)
- ``icl.config``: frozen dataclass configs, TOML presets, ``--set`` overrides
- ``icl.train``: the training loop (schedules, curriculum, checkpoints, DDP)
- ``icl.cli``: the ``icl`` command (``icl train | tasks | presets | ...``)
"""

__version__ = "0.1.0"
