"""``rustensor.cuda`` (also ``rustensor.gpu``): the GPU device namespace.

rustensor drives one GPU through wgpu (Vulkan, Metal or DX12), whatever its vendor; the
device is called ``gpu``, with ``cuda`` and ``wgpu`` accepted as aliases so torch code runs
unchanged. Software adapters (Mesa's lavapipe) count only when the environment sets
``RUSTENSOR_ALLOW_SOFTWARE_GPU=1``, so a user never gets CPU emulation by surprise.

Work is recorded and submitted in batches; the host waits only when it reads a result
(``.cpu()``, ``.item()``, printing) or calls :func:`synchronize`.
"""

from __future__ import annotations

from typing import Dict, Optional

from . import _rustensor as _C

_available: Optional[bool] = None


def is_available() -> bool:
    """Whether a GPU adapter opens (the answer is cached after the first call)."""
    global _available
    if _available is None:
        _available = bool(_C._gpu_available())
    return _available


def _why_unavailable() -> str:
    return _C._gpu_error() or "no error"


def device_count() -> int:
    return 1 if is_available() else 0


def current_device() -> int:
    _require()
    return 0


def set_device(device) -> None:
    d = _C.device(device) if not isinstance(device, (int, _C.device)) else device
    index = d if isinstance(d, int) else (d.index or 0)
    if index != 0:
        raise RuntimeError(f"CUDA error: invalid device ordinal (rustensor drives one GPU, gpu:0; got {index})")


def _check_ordinal(device) -> None:
    """torch's error for a device index this machine lacks (rustensor drives one GPU)."""
    if device is None:
        return
    if isinstance(device, str):
        device = _C.device(device)
    index = device if isinstance(device, int) else (getattr(device, "index", None) or 0)
    if index != 0:
        raise RuntimeError(f"CUDA error: invalid device ordinal (rustensor drives one GPU, gpu:0; got {index})")


def _require() -> None:
    if not is_available():
        raise RuntimeError(f"rustensor: no GPU adapter is available: {_why_unavailable()}")


def get_device_name(device=None) -> str:
    _require()
    _check_ordinal(device)
    return _C._gpu_info()[0]


def get_device_properties(device=None):
    """The adapter's name, backend (Vulkan/Metal/Dx12), type and driver."""
    _require()
    _check_ordinal(device)
    name, backend, kind, driver = _C._gpu_info()

    class _Props:
        def __repr__(self) -> str:
            return f"_GpuDeviceProperties(name='{self.name}', backend='{self.backend}', type='{self.type}')"  # type: ignore[attr-defined]

    p = _Props()
    p.name, p.backend, p.type, p.driver = name, backend, kind, driver
    return p


def synchronize(device=None) -> None:
    """Blocks until every recorded GPU op has finished (and raises a deferred kernel error)."""
    if is_available():
        _C._gpu_synchronize()


def manual_seed(seed: int) -> None:
    from . import manual_seed as _ms

    _ms(seed)


manual_seed_all = manual_seed


# One engine stream draws for both devices (GPU tensors are drawn on the host and
# uploaded), so the CUDA state is the global one.
def get_rng_state(device="cuda"):
    from ._random import get_rng_state as _get

    return _get()


def set_rng_state(new_state, device="cuda") -> None:
    from ._random import set_rng_state as _set

    _set(new_state)


def get_rng_state_all():
    return [get_rng_state()]


def set_rng_state_all(new_states) -> None:
    for s in new_states:
        set_rng_state(s)


def _stats() -> Dict[str, int]:
    return dict(_C._gpu_stats()) if is_available() else {}


def memory_allocated(device=None) -> int:
    """Bytes held by live GPU tensors (pool size classes, as torch reports blocks)."""
    return _stats().get("allocated", 0)


def memory_reserved(device=None) -> int:
    """Bytes the pool holds: live tensors plus freed buffers kept for reuse."""
    return _stats().get("reserved", 0)


def empty_cache() -> None:
    """Returns the pool's unused buffers to the driver."""
    if is_available():
        _C._gpu_empty_cache()


def transfer_counts() -> Dict[str, int]:
    """rustensor-specific: device-to-host readbacks, host-to-device uploads, kernel
    dispatches and queue submissions so far (for checking a loop stays on the GPU)."""
    s = _stats()
    return {k: s.get(k, 0) for k in ("readbacks", "uploads", "dispatches", "submits")}


# torch.cuda.amp: autocast and GradScaler with the device fixed to the GPU
from .amp import cuda_amp as amp  # noqa: E402
