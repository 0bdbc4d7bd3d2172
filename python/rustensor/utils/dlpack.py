"""DLPack interchange (``torch.utils.dlpack``): ``__dlpack__``, ``from_dlpack``, ``to_dlpack``.

``Tensor.__dlpack__`` / ``__dlpack_device__`` (methods of the class in _tensor.py) call the functions here; ``from_dlpack``
takes any object with ``__dlpack__`` or a capsule.

The capsules and the C structs are made in Rust (``rust/rustensor-py/src/dlpack.rs``); this
module holds the protocol's Python surface: argument checks and the version negotiation."""

from __future__ import annotations

import enum
from typing import Any, Optional, Tuple

from .. import _rustensor as _C
from .._tensor import Tensor

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """dlpack.h's device types (the first element of ``__dlpack_device__()``)."""

    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


def _is_capsule(obj: Any) -> bool:
    return type(obj).__name__ == "PyCapsule"


def __dlpack__(self: Tensor, *, stream: Any = None, max_version: Optional[Tuple[int, int]] = None,
               dl_device: Optional[Tuple[int, int]] = None, copy: Optional[bool] = None) -> Any:
    """A DLPack capsule sharing this CPU tensor's memory: versioned (``dltensor_versioned``)
    when the consumer's ``max_version`` is 1.0 or later, legacy (``dltensor``) otherwise."""
    if stream is not None and stream != -1:
        if isinstance(stream, bool) or not isinstance(stream, int):
            raise TypeError("stream must be ``int`` or ``none``")
        raise BufferError("stream should be None on cpu.")
    if dl_device is not None:
        want = (int(dl_device[0]), int(dl_device[1]))
        if want != (int(DLDeviceType.kDLCPU), 0):
            raise BufferError(f"__dlpack__: cannot export to DLPack device {want}; rustensor exports CPU tensors only (kDLCPU, 0)")
    versioned = max_version is not None and int(max_version[0]) >= 1
    return _C._to_dlpack(self, versioned, bool(copy))


def __dlpack_device__(self: Tensor) -> Tuple[DLDeviceType, int]:
    dev_type, index = _C._dlpack_device(self)
    return DLDeviceType(dev_type), index


def to_dlpack(tensor: Tensor) -> Any:
    """A legacy (``dltensor``) capsule, as ``torch.utils.dlpack.to_dlpack`` returns."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack: expected a Tensor, got {type(tensor).__name__}")
    return _C._to_dlpack(tensor, False, False)


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: Optional[bool] = None) -> Tensor:
    """A tensor over the memory of ``ext_tensor`` (an object with ``__dlpack__``, or a DLPack
    capsule), without copying on the CPU. The producer stays alive while the tensor (or any view
    of it) does. Read-only producer memory is copied, since rustensor tensors are writable;
    ``copy=False`` then raises ``BufferError``. ``copy=True`` always copies."""
    producer_copied = False
    if _is_capsule(ext_tensor):
        capsule = ext_tensor
    elif hasattr(ext_tensor, "__dlpack__"):
        if hasattr(ext_tensor, "__dlpack_device__"):
            dev = ext_tensor.__dlpack_device__()
            if int(dev[0]) != int(DLDeviceType.kDLCPU):
                raise BufferError(
                    f"from_dlpack: the producer's data is on DLPack device {tuple(int(d) for d in dev)}; "
                    "rustensor imports CPU memory only: move it to the CPU first")
        kwargs: dict = {"max_version": (1, 0)}
        if copy is not None:
            kwargs["copy"] = copy
        try:
            capsule = ext_tensor.__dlpack__(**kwargs)
            producer_copied = bool(copy)
        except TypeError:
            # a producer from before the 2023 protocol revision: no max_version, no copy
            capsule = ext_tensor.__dlpack__()
    else:
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got {type(ext_tensor).__name__}")
    t = _C._from_dlpack(capsule, copy is not False)
    if copy and not producer_copied:
        t = t.clone()
    if device is not None:
        t = t.to(device)
    return t

