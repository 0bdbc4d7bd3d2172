"""``rustensor.amp``: autocast and GradScaler (also reachable as ``rustensor.cuda.amp``)."""

from .autocast_mode import (  # noqa: F401
    _cast_fp32,
    _cast_inputs,
    autocast,
    custom_bwd,
    custom_fwd,
    get_autocast_dtype,
    is_autocast_enabled,
)
from .grad_scaler import GradScaler  # noqa: F401

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "get_autocast_dtype", "is_autocast_enabled"]
