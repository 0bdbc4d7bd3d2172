"""``rustensor.amp``: autocast and GradScaler (owner: train)."""

from .autocast_mode import autocast, is_autocast_enabled, _cast_inputs  # noqa: F401
