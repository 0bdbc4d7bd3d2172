"""``rustensor.optim``: optimizers and learning-rate schedulers (owner: train)."""

from . import lr_scheduler  # noqa: F401
