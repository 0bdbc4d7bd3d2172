"""``torch.cuda.amp``: the deprecated CUDA spellings of autocast and GradScaler (device fixed to cuda)."""

from __future__ import annotations

import functools
import warnings

from . import autocast_mode as _am
from .grad_scaler import GradScaler as _GradScaler


class autocast(_am.autocast):
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        from .. import float16

        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)` "
                      "instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", dtype=float16 if dtype is None else dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000, enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)


custom_fwd = functools.partial(_am.custom_fwd, device_type="cuda")
custom_bwd = functools.partial(_am.custom_bwd, device_type="cuda")
