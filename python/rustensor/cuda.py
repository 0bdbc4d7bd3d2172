"""``rustensor.cuda`` (also ``rustensor.gpu``): the GPU device namespace.

The GPU backend (WGSL through wgpu) is not built yet, so no adapter is ever available;
code written as ``if torch.cuda.is_available(): ...`` takes its CPU branch.
"""

from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def current_device() -> int:
    raise RuntimeError("rustensor: no GPU adapter is available")


def get_device_name(device=None) -> str:
    raise RuntimeError("rustensor: no GPU adapter is available")


def synchronize(device=None) -> None:
    return None


def manual_seed(seed: int) -> None:
    from . import manual_seed as _ms

    _ms(seed)


manual_seed_all = manual_seed


def memory_allocated(device=None) -> int:
    return 0


def memory_reserved(device=None) -> int:
    return 0


def empty_cache() -> None:
    return None
