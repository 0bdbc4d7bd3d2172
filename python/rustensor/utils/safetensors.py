"""``rustensor.utils.safetensors``: safetensors files with ``safetensors.torch``'s API.

``save_file``, ``load_file``, ``save``, ``load`` and ``safe_open``, on the ``safetensors`` crate.

Files are memory-mapped privately: CPU tensors from ``load_file``/``get_tensor`` are views of the
mapped pages (no read, no copy); writing to one copies just that page and never the file."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

import numpy as np

from .. import _rustensor as _C
from .._tensor import Tensor

__all__ = ["save_file", "load_file", "save", "load", "safe_open"]

_PathLike = Union[str, "os.PathLike[str]"]


def _prepare(tensors: Dict[str, Tensor]) -> List[tuple]:
    """Checks what safetensors.torch checks, then gives (name, contiguous CPU tensor) pairs."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise ValueError(f"Key `{k!r}` is invalid, expected str but received {type(k)}")
        if not isinstance(v, Tensor):
            raise ValueError(f"Key `{k}` is invalid, expected torch.Tensor but received {type(v)}")
    by_storage: Dict[Any, list] = {}
    for k, v in tensors.items():
        start = v.storage_offset() * v.element_size()
        end = start + v.numel() * v.element_size()
        by_storage.setdefault((str(v.device), v._storage_id()), []).append((start, end, k))
    failing = []
    for group in by_storage.values():
        group.sort()
        shared: set = set()
        for (s0, e0, k0), (s1, e1, k1) in zip(group, group[1:]):
            if s1 < e0 and e0 > s0 and e1 > s1:  # overlapping, non-empty byte ranges
                shared |= {k0, k1}
        if shared:
            failing.append(shared)
    if failing:
        raise RuntimeError(
            "Some tensors share memory, this will lead to duplicate memory on disk and potential differences "
            f"when loading them again: {failing}. Save each storage once (e.g. clone() the views).")
    out = []
    for k, v in tensors.items():
        if not v.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{k}` which is not allowed. It either means you "
                "are trying to save tensors which are reference of each other in which case it's recommended to save "
                "only the full tensors, and reslice at load time, or simply call `.contiguous()` on your tensor to "
                "pack it before saving.")
        v = v.detach()
        out.append((k, v.cpu() if v.is_cuda else v))
    return out


def _check_metadata(metadata: Optional[Dict[str, str]]) -> Optional[Dict[str, str]]:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of str to str, got {type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must be a dict of str to str, got the entry {k!r}: {v!r}")
    return metadata


def save_file(tensors: Dict[str, Tensor], filename: _PathLike, metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes ``tensors`` to ``filename`` (through a temporary file and a rename, so tensors
    still mapped from an older version of the file stay valid)."""
    _C._safetensors_write(_prepare(tensors), _check_metadata(metadata), os.fspath(filename))


def save(tensors: Dict[str, Tensor], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """The safetensors bytes of ``tensors``."""
    out = _C._safetensors_write(_prepare(tensors), _check_metadata(metadata), None)
    assert out is not None
    return out


def _device(device: Any) -> Optional[str]:
    if device is None:
        return None
    if isinstance(device, int) and not isinstance(device, bool):
        return f"gpu:{device}"
    d = str(device)
    return None if d == "cpu" else d


class _Slice:
    """``safe_open(...).get_slice(name)``: shape and dtype without reading, then ``[...]``."""

    def __init__(self, f: "safe_open", name: str):
        self._f, self._name = f, name
        self._dtype, self._shape = f._file.info_of(name)

    def get_shape(self) -> List[int]:
        return list(self._shape)

    def get_dtype(self) -> str:
        return self._dtype

    def __getitem__(self, index) -> Any:
        t = self._f._file.get_tensor(self._name)[index]
        return self._f._finish(t)


class safe_open:
    """Lazy, per-tensor access to a safetensors file: ``keys()``, ``get_tensor(name)``,
    ``get_slice(name)``, ``metadata()``; usable as a context manager (as the package's)."""

    def __init__(self, filename: _PathLike, framework: str = "pt", device: Any = "cpu"):
        fw = str(framework).lower()
        if fw not in ("pt", "torch", "rustensor", "np", "numpy"):
            raise ValueError(f"framework {framework} is not supported (use 'pt' for rustensor tensors or 'np' for NumPy arrays)")
        self._numpy = fw in ("np", "numpy")
        self._device = _device(device)
        if self._numpy and self._device is not None:
            raise ValueError("safe_open: framework='np' loads to the CPU only")
        self._file = _C._safetensors_open(os.fspath(filename))

    @classmethod
    def _from_bytes(cls, data: bytes) -> "safe_open":
        self = cls.__new__(cls)
        self._numpy, self._device = False, None
        self._file = _C._safetensors_from_bytes(data)
        return self

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def _finish(self, t: Tensor) -> Any:
        if self._numpy:
            return np.asarray(t)
        return t if self._device is None else t.to(self._device)

    def keys(self) -> List[str]:
        return self._file.keys()

    def offset_keys(self) -> List[str]:
        return self._file.offset_keys()

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._file.metadata()

    def get_tensor(self, name: str) -> Any:
        return self._finish(self._file.get_tensor(name))

    def get_slice(self, name: str) -> _Slice:
        return _Slice(self, name)

    def get_tensors(self) -> Dict[str, Any]:
        return {k: self.get_tensor(k) for k in self.offset_keys()}


def load_file(filename: _PathLike, device: Any = "cpu") -> Dict[str, Tensor]:
    """All tensors of a safetensors file, on ``device`` (CPU ones share the file's mapped pages)."""
    with safe_open(filename, framework="pt", device=device) as f:
        return f.get_tensors()


def load(data: bytes) -> Dict[str, Tensor]:
    """All tensors of safetensors bytes (one copy of ``data``, which the tensors then share)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load: expected bytes, got {type(data).__name__}")
    return safe_open._from_bytes(bytes(data)).get_tensors()
