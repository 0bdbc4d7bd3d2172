"""``rustensor.save`` / ``rustensor.load``: checkpoints in PyTorch's own zip format.

Loading goes through a restricted unpickler (``weights_only``), so files move between torch and
rustensor both ways and a checkpoint cannot run code."""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import collections
import contextlib
import io
import os
import pickle
import random
import struct
import sys
import zipfile
import zlib
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import Size, _dtype_name, from_numpy

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals"]

# torch's legacy (pre-1.6) files start with this number, pickled.
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_ALIGNMENT = 64
_ZIP_MAGIC = b"PK\x03\x04"

# bfloat16 has no NumPy type: its records are read and written as their uint16 bit patterns
_NP = {"bfloat16": np.uint16, "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64, "float16": np.float16,
       "float32": np.float32, "float64": np.float64}
_STORAGE_OF = {"bfloat16": "BFloat16Storage", "bool": "BoolStorage", "uint8": "ByteStorage", "int8": "CharStorage", "int16": "ShortStorage", "int32": "IntStorage", "int64": "LongStorage",
               "float16": "HalfStorage", "float32": "FloatStorage", "float64": "DoubleStorage"}
_DTYPE_OF_STORAGE = {v: k for k, v in _STORAGE_OF.items()}
# torch storages and dtypes rustensor has no counterpart for: a file using one fails naming it.
_OTHER_STORAGES = {"ComplexFloatStorage": "complex64",
                   "ComplexDoubleStorage": "complex128", "QUInt8Storage": "quint8",
                   "QInt8Storage": "qint8", "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2",
                   "QUInt2x4Storage": "quint2x4", "UntypedStorage": None}
_TORCH_DTYPES = {"bfloat16": "bfloat16", "bool": "bool", "uint8": "uint8", "int8": "int8", "int16": "int16", "short": "int16", "int32": "int32", "int": "int32", "int64": "int64", "long": "int64",
                 "float16": "float16", "half": "float16", "float32": "float32", "float": "float32",
                 "float64": "float64", "double": "float64"}
_OTHER_DTYPES = ("uint16", "uint32", "uint64",
                 "complex32", "complex64", "complex128", "cfloat", "cdouble", "chalf",
                 "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8",
                 "quint8", "qint32", "quint4x2")


def _rt_dtype(name: str):
    return getattr(_C, name)


# ------------------------------------------------------------------------------------ save


class _TorchGlobal:
    """A name in torch's namespace, written into the pickle as a GLOBAL without importing torch."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):  # pickle requires reduce callables to be callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for torch's function of that name")

    def __reduce__(self):
        raise pickle.PicklingError("torch globals are written by rustensor.save's pickler only")


_GLOBALS: Dict[Tuple[str, str], _TorchGlobal] = {}


def _g(module: str, name: str) -> _TorchGlobal:
    key = (module, name)
    if key not in _GLOBALS:
        _GLOBALS[key] = _TorchGlobal(module, name)
    return _GLOBALS[key]


class _SavedStorage:
    """One storage in the archive: its key, the flat tensor over all of it, where it lived."""

    def __init__(self, key: str, flat: Tensor, location: str):
        self.key, self.flat, self.location = key, flat, location


def _parameter_class():
    try:
        from .nn.parameter import Parameter
    except ImportError:
        return None
    return Parameter if isinstance(Parameter, type) and issubclass(Parameter, Tensor) else None


class _Pickler(pickle._Pickler):  # type: ignore[name-defined, misc]
    """The pure-Python pickler, because it lets us write GLOBAL opcodes for names (torch's)
    that are not importable here; objects themselves are pickled as torch pickles them."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, file, protocol: int):
        super().__init__(file, protocol=protocol)
        self.storages: Dict[int, _SavedStorage] = {}
        # the tensors whose storage ids we keyed on: alive until the end, so no id is reused
        self._keep: list = []
        self._parameter = _parameter_class()

    def _write_global(self, module: str, name: str, obj: Any) -> None:
        if self.proto >= 4:  # type: ignore[attr-defined]
            self.save(module)  # type: ignore[attr-defined]
            self.save(name)  # type: ignore[attr-defined]
            self.write(pickle.STACK_GLOBAL)  # type: ignore[attr-defined]
        else:
            self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")  # type: ignore[attr-defined]
        self.memoize(obj)  # type: ignore[attr-defined]

    def _save_torch_global(self, obj: _TorchGlobal) -> None:
        self._write_global(obj.module, obj.name, obj)

    def _save_dtype(self, obj) -> None:
        self._write_global("torch", _dtype_name(obj), obj)

    dispatch[_TorchGlobal] = _save_torch_global  # type: ignore[assignment]
    dispatch[_C.dtype] = _save_dtype  # type: ignore[assignment]

    def persistent_id(self, obj):
        if isinstance(obj, _SavedStorage):
            storage_type = _g("torch", _STORAGE_OF[_dtype_name(obj.flat.dtype)])
            return ("storage", storage_type, obj.key, obj.location, obj.flat.numel())
        return None

    def _storage_of(self, t: Tensor) -> _SavedStorage:
        sid = t._storage_id()
        s = self.storages.get(sid)
        if s is None:
            location = "cuda:0" if t.is_cuda else "cpu"
            s = _SavedStorage(str(len(self.storages)), _C._storage_flat(t), location)
            self.storages[sid] = s
            self._keep.append(t)
        return s

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            if self._parameter is not None and isinstance(obj, self._parameter):
                return (_g("torch._utils", "_rebuild_parameter"),
                        (obj.detach(), obj.requires_grad, collections.OrderedDict()))
            storage = self._storage_of(obj)
            args = (storage, obj.storage_offset(), tuple(obj.shape), tuple(obj.stride()),
                    obj.requires_grad, collections.OrderedDict())
            return (_g("torch._utils", "_rebuild_tensor_v2"), args)
        if isinstance(obj, _C.device):
            return (_g("torch", "device"), ("cuda", 0) if obj.type != "cpu" else ("cpu",))
        if isinstance(obj, Size):
            return (_g("torch", "Size"), (tuple(obj),))
        return NotImplemented


def _aligned_extra(offset: int, name: str, zip64: bool) -> bytes:
    """A zip extra field that pads the local header so the record's data starts on a
    64-byte boundary (torch aligns storages so that mmap'd tensors are aligned)."""
    base = offset + 30 + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = -base % _ALIGNMENT
    return struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB", as torch's writer names it


def _write_record(zf: zipfile.ZipFile, name: str, data) -> None:
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = len(data)
    zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule in open('w')
    info.extra = _aligned_extra(zf.fp.tell(), name, zip64)  # type: ignore[union-attr]
    with zf.open(info, "w", force_zip64=zip64) as w:
        w.write(data)


def _is_path(f) -> bool:
    return isinstance(f, (str, os.PathLike))


def save(obj: object, f, pickle_module: Any = pickle, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Writes ``obj`` to ``f`` (a path or a binary file object) as ``torch.save`` does: a zip
    archive with ``data.pkl`` (tensors as persistent references to storages) and one record per
    storage. Views keep their storage, offset and strides, so sharing survives a round trip."""
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("rustensor.save writes only the zip format (_use_new_zipfile_serialization=True)")
    if pickle_module is not pickle:
        raise NotImplementedError("rustensor.save supports only the standard pickle module")
    buf = io.BytesIO()
    pickler = _Pickler(buf, pickle_protocol)
    pickler.dump(obj)
    if _is_path(f):
        prefix = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        with open(f, "wb") as fh:
            _write_archive(fh, prefix, buf.getvalue(), pickler.storages.values(), _disable_byteorder_record)
    else:
        if not hasattr(f, "write"):
            raise AttributeError(f"save: expected a path or a file object with write(), got {type(f).__name__}")
        _write_archive(f, "archive", buf.getvalue(), pickler.storages.values(), _disable_byteorder_record)


def _write_archive(fh, prefix: str, pkl: bytes, storages: Iterable[_SavedStorage], no_byteorder: bool) -> None:
    # characters outside [A-Za-z0-9_.-] in a record prefix confuse nobody, but torch restricts them
    prefix = "".join(c if c.isalnum() or c in "_-." else "_" for c in prefix)
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_record(zf, f"{prefix}/data.pkl", pkl)
        _write_record(zf, f"{prefix}/.format_version", b"1")
        _write_record(zf, f"{prefix}/.storage_alignment", str(_ALIGNMENT).encode())
        if not no_byteorder:
            _write_record(zf, f"{prefix}/byteorder", sys.byteorder.encode())
        for s in storages:
            flat = s.flat.detach()
            if flat.is_cuda:
                flat = flat.cpu()
            _write_record(zf, f"{prefix}/data/{s.key}", _bytes_of(flat))
        _write_record(zf, f"{prefix}/version", b"3\n")
        _write_record(zf, f"{prefix}/.data/serialization_id", "".join(random.choice("0123456789") for _ in range(40)).encode())


# ------------------------------------------------------------------------------------ load


class _StorageType:
    """What unpickling ``torch.FloatStorage`` (etc.) gives: the dtype its records hold."""

    def __init__(self, name: str, dtype: Optional[str]):
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _LoadedStorage:
    """A storage read from the archive: one flat tensor that every view of it is built on."""

    def __init__(self, flat: Tensor):
        self.flat = flat


class _LoadedUntypedStorage:
    """An UntypedStorage (raw bytes); ``_rebuild_tensor_v3`` gives it a dtype."""

    def __init__(self, raw: np.ndarray, restore: Callable[[Tensor], Tensor]):
        self.raw, self.restore = raw, restore
        self.typed: Dict[str, Tensor] = {}

    def as_dtype(self, name: str) -> Tensor:
        if name not in self.typed:
            isz = np.dtype(_NP[name]).itemsize
            if self.raw.nbytes % isz:
                raise RuntimeError(f"load: an untyped storage of {self.raw.nbytes} bytes cannot hold {name} elements")
            self.typed[name] = self.restore(_flat_from_bytes(self.raw, name))
        return self.typed[name]


def _bytes_of(flat: Tensor) -> np.ndarray:
    if flat.dtype == _C.bfloat16:
        # the upper half of each (exactly widened) float32 is the bfloat16's bit pattern
        return (np.asarray(flat.float()).view(np.uint32) >> 16).astype(np.uint16)
    return np.asarray(flat)


def _flat_from_bytes(raw: np.ndarray, dtype_name: str, swap: bool = False) -> Tensor:
    arr: Any = raw.view(_NP[dtype_name])
    if swap and arr.itemsize > 1:
        arr = arr.byteswap()
    if dtype_name == "bfloat16":
        # a copy through float32 (exact both ways): NumPy cannot hold bfloat16 for sharing
        return from_numpy((arr.astype(np.uint32) << 16).view(np.float32))._to_dtype(_C.bfloat16)
    if dtype_name == "bool" and arr.size and raw.max() > 1:
        # a bool byte other than 0/1 is not a valid bool for the kernels: normalise (a copy)
        arr = raw != 0
    try:
        return from_numpy(arr)
    except ValueError:  # not aligned for its dtype: a record from an unaligning writer
        return from_numpy(arr.copy())


def _rebuild_tensor(storage, storage_offset, size, stride):
    if isinstance(storage, _LoadedStorage):
        flat = storage.flat
    elif isinstance(storage, Tensor):
        flat = storage
    else:
        raise pickle.UnpicklingError(f"load: _rebuild_tensor expected a storage, got {type(storage).__name__}")
    return _C._as_strided(flat, [int(s) for s in size], [int(s) for s in stride], int(storage_offset))


def _set_requires_grad(t: Tensor, requires_grad) -> Tensor:
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _set_requires_grad(_rebuild_tensor(storage, storage_offset, size, stride), requires_grad)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    if isinstance(storage, _LoadedUntypedStorage):
        storage = _LoadedStorage(storage.as_dtype(_dtype_name(dtype)))
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)


def _make_parameter(data: Tensor, requires_grad) -> Tensor:
    P = _parameter_class()
    if P is not None:
        try:
            return P(data, requires_grad)
        except TypeError:
            pass
    return _set_requires_grad(data.detach(), requires_grad)


def _set_state(obj, state) -> Any:
    if not state:
        return obj
    if isinstance(state, tuple) and len(state) == 2:  # (dict state, slots state)
        items = list((state[0] or {}).items()) + list((state[1] or {}).items())
    elif isinstance(state, dict):
        items = list(state.items())
    else:
        raise pickle.UnpicklingError(f"load: unexpected tensor state of type {type(state).__name__}")
    for k, v in items:
        if not isinstance(k, str) or k.startswith("__"):
            raise pickle.UnpicklingError(f"load: refusing to set attribute {k!r} on a loaded tensor")
        setattr(obj, k, v)
    return obj


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return _make_parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_make_parameter(data, requires_grad), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in _REBUILDERS:
        raise pickle.UnpicklingError(f"load: _rebuild_from_type_v2 got an unexpected function {func!r}")
    ret = func(*args)
    P = _parameter_class()
    if P is not None and new_type is P and not isinstance(ret, P):
        ret = _make_parameter(ret.detach(), ret.requires_grad)
    return _set_state(ret, state)


_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
               _rebuild_parameter_with_state)


def _torch_device(type_or_str, index=None):
    s = str(type_or_str) if index is None else f"{type_or_str}:{index}"
    try:
        return _C.device(s)
    except (RuntimeError, ValueError, TypeError):
        return s  # a device rustensor has no counterpart for (e.g. 'meta'): kept as its name


def _unsupported_dtype(name: str):
    raise RuntimeError(f"load: the checkpoint uses dtype torch.{name}, which rustensor does not support "
                       "(bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)")


def _torch_global(module: str, name: str):
    """rustensor's stand-in for a torch name in a checkpoint's pickle, or None."""
    if module == "torch._utils":
        return {"_rebuild_tensor": _rebuild_tensor, "_rebuild_tensor_v2": _rebuild_tensor_v2,
                "_rebuild_tensor_v3": _rebuild_tensor_v3, "_rebuild_parameter": _rebuild_parameter,
                "_rebuild_parameter_with_state": _rebuild_parameter_with_state}.get(name)
    if module == "torch._tensor" and name == "_rebuild_from_type_v2":
        return _rebuild_from_type_v2
    if module == "torch.nn.parameter" and name == "Parameter":
        return _parameter_class() or Tensor
    if module == "torch":
        if name in _DTYPE_OF_STORAGE:
            return _StorageType(name, _DTYPE_OF_STORAGE[name])
        if name in _OTHER_STORAGES:
            return _StorageType(name, None if name == "UntypedStorage" else "!" + str(_OTHER_STORAGES[name]))
        if name in _TORCH_DTYPES:
            return _rt_dtype(_TORCH_DTYPES[name])
        if name in _OTHER_DTYPES:
            _unsupported_dtype(name)
        if name == "Size":
            return Size
        if name == "device":
            return _torch_device
        if name == "Tensor":
            return Tensor
    if module == "torch.storage" and name == "UntypedStorage":
        return _StorageType(name, None)
    return None


_SAFE_BUILTINS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("_codecs", "encode"): codecs.encode,  # how protocol 2 pickles bytes
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "complex"): complex,
}

# globals a user allowed with add_safe_globals: "module.qualname" -> object
_USER_SAFE: Dict[str, Any] = {}


def add_safe_globals(safe_globals: Iterable[Any]) -> None:
    """Allows these classes/functions in ``weights_only`` loads (as ``torch.serialization``)."""
    for g in safe_globals:
        if isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], str):
            obj, name = g
        else:
            obj, name = g, f"{g.__module__}.{g.__qualname__}"
        _USER_SAFE[name] = obj


def get_safe_globals() -> list:
    return list(_USER_SAFE.values())


def clear_safe_globals() -> None:
    _USER_SAFE.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: Iterable[Any]) -> Iterator[None]:
    before = dict(_USER_SAFE)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _USER_SAFE.clear()
        _USER_SAFE.update(before)


def _weights_only_error(what: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(
        "Weights only load failed. Re-running `rustensor.load` with `weights_only` set to `False` will "
        "likely succeed, but it can result in arbitrary code execution. Do it only if you got the file "
        f"from a trusted source.\n\nWeightsUnpickler error: {what}\n\nOnly tensors, containers (dict, "
        "OrderedDict, list, tuple, set), numbers, strings, bytes and None are allowed by default; "
        "rustensor.serialization.add_safe_globals([...]) allowlists more if you trust them.")


class _Resolver:
    """find_class/persistent_load shared by both unpicklers: torch's names resolve to
    rustensor's rebuilders; with ``weights_only`` nothing outside the allowlist resolves (it is
    checked on every GLOBAL/STACK_GLOBAL/INST/OBJ/EXT opcode before anything is looked up, so a
    refused name is never imported, let alone called)."""

    _weights_only: bool
    _storage_loader: Callable[[tuple], Any]

    def find_class(self, module, name):
        if isinstance(module, str) and isinstance(name, str):
            # protocol 2 pickles name builtins by their Python 2 names (__builtin__.set)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
            g = _torch_global(module, name)
            if g is not None:
                return g
            if (module, name) in _SAFE_BUILTINS:
                return _SAFE_BUILTINS[(module, name)]
            if f"{module}.{name}" in _USER_SAFE:
                return _USER_SAFE[f"{module}.{name}"]
        if self._weights_only:
            raise _weights_only_error(f"Unsupported global: GLOBAL {module}.{name} was not an allowed global by default.")
        return super().find_class(module, name)  # type: ignore[misc]

    def persistent_load(self, pid):
        return self._storage_loader(pid)


class _Unpickler(_Resolver, pickle.Unpickler):
    """``weights_only=False``: the C unpickler, any global (the caller trusts the file)."""

    def __init__(self, file, storage_loader: Callable[[tuple], Any], **kwargs):
        super().__init__(file, **kwargs)
        self._weights_only = False
        self._storage_loader = storage_loader


class _WeightsOnlyUnpickler(_Resolver, pickle._Unpickler):  # type: ignore[name-defined, misc]
    """``weights_only=True``: the pure-Python unpickler, because its opcode table can be
    narrowed: BUILD (which sets attributes) applies only to loaded tensors and OrderedDicts,
    never to the allowed classes and functions themselves, so a file cannot patch them."""

    dispatch = pickle._Unpickler.dispatch.copy()  # type: ignore[attr-defined]

    def __init__(self, file, storage_loader: Callable[[tuple], Any], **kwargs):
        super().__init__(file, **kwargs)
        self._weights_only = True
        self._storage_loader = storage_loader

    def _load_build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if not (isinstance(inst, Tensor) or type(inst) in (collections.OrderedDict, collections.Counter)):
            raise _weights_only_error(f"BUILD (setting state) on an object of type {type(inst).__name__} is not allowed")
        parts = state if isinstance(state, tuple) and len(state) == 2 else (state, None)
        for part in parts:
            if part is None:
                continue
            if not isinstance(part, dict):
                raise _weights_only_error(f"BUILD with a state of type {type(part).__name__} is not allowed")
            for k in part:
                if not isinstance(k, str) or k.startswith("__"):
                    raise _weights_only_error(f"BUILD may not set the attribute {k!r}")
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    dispatch[pickle.BUILD[0]] = _load_build  # type: ignore[assignment]


class _Restore:
    """map_location, applied to each flat storage tensor (torch applies it per storage)."""

    def __init__(self, map_location):
        self.map_location = map_location

    @staticmethod
    def _to(flat: Tensor, location: str) -> Tensor:
        loc = str(location)
        if loc.startswith("cpu"):
            return flat
        dev_type = loc.split(":")[0]
        if dev_type in ("cuda", "gpu", "wgpu"):
            from . import cuda

            if not cuda.is_available():
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but rustensor.cuda.is_available() is False. "
                    "If you are running on a CPU-only machine, please use rustensor.load with "
                    "map_location=rustensor.device('cpu') to map your storages to the CPU.")
            return flat.to("gpu")
        raise RuntimeError(f"don't know how to restore data location of a storage saved on '{loc}' "
                           "(rustensor has the devices 'cpu' and 'gpu'/'cuda'); pass map_location='cpu'")

    def __call__(self, flat: Tensor, location: str) -> Tensor:
        m = self.map_location
        if m is None:
            return self._to(flat, location)
        if isinstance(m, dict):
            return self._to(flat, m.get(location, location))
        if isinstance(m, (str, _C.device)):
            return self._to(flat, str(m))
        if callable(m):
            r = m(flat, location)
            if r is None:
                return self._to(flat, location)
            if not isinstance(r, Tensor):
                raise TypeError(f"load: map_location returned {type(r).__name__}, expected the storage (a tensor) or None")
            return r
        raise TypeError(f"load: map_location must be None, a str, a device, a dict or a callable, got {type(m).__name__}")


def _corrupt(msg: str) -> RuntimeError:
    return RuntimeError(f"PytorchStreamReader failed reading zip archive: {msg}. The checkpoint file is likely "
                        "corrupted (not saved completely, or truncated in transfer).")


class _Archive:
    """The zip records of a checkpoint: ``prefix/data.pkl``, ``prefix/data/<key>``, ..."""

    def __init__(self, fh, path: Optional[str], mmap: bool):
        try:
            self.zf = zipfile.ZipFile(fh)
            names = self.zf.namelist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error) as e:
            raise _corrupt(f"failed finding central directory ({e})") from None
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            if any(n.endswith("constants.pkl") for n in names):
                raise RuntimeError("load: this is a TorchScript archive (torch.jit.save); rustensor reads torch.save checkpoints only")
            raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
        self.prefix = pkl[0][: -len("data.pkl")]
        self.fh, self.path, self.mmap = fh, path, mmap

    def has(self, name: str) -> bool:
        try:
            self.zf.getinfo(self.prefix + name)
            return True
        except KeyError:
            return False

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.zf.getinfo(self.prefix + name)
        except KeyError:
            raise RuntimeError(f"PytorchStreamReader failed locating file {name}: file not found") from None

    def read(self, name: str) -> bytes:
        try:
            return self.zf.read(self._info(name))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, NotImplementedError) as e:
            raise _corrupt(f"failed reading record {name} ({e})") from None

    def _data_start(self, info: zipfile.ZipInfo, name: str) -> int:
        """Where a record's bytes start in the file (after its local header)."""
        self.fh.seek(info.header_offset)
        hdr = self.fh.read(30)
        if len(hdr) != 30 or hdr[:4] != _ZIP_MAGIC:
            raise _corrupt(f"bad local header for record {name}")
        n_name, n_extra = struct.unpack("<HH", hdr[26:30])
        return info.header_offset + 30 + n_name + n_extra

    def read_array(self, name: str, nbytes: int) -> np.ndarray:
        """The first ``nbytes`` of a record as a writable uint8 array (mapped when mmap)."""
        info = self._info(name)
        if info.file_size < nbytes:
            raise RuntimeError(f"load: record {name} holds {info.file_size} bytes but its storage needs {nbytes}; the file is corrupt")
        if nbytes == 0:
            return np.zeros(0, np.uint8)
        if self.mmap and info.compress_type == zipfile.ZIP_STORED and self.path is not None:
            start = self._data_start(info, name)
            # mode 'c': a private mapping, so writes to loaded tensors never reach the file
            return np.memmap(self.path, dtype=np.uint8, mode="c", offset=start, shape=(nbytes,))
        out = np.empty(nbytes, np.uint8)
        got = -1
        if info.compress_type == zipfile.ZIP_STORED and hasattr(self.fh, "readinto"):
            # straight from the file into the array: no intermediate bytes object
            self.fh.seek(self._data_start(info, name))
            got = self.fh.readinto(memoryview(out))  # type: ignore[arg-type]
        else:
            try:
                with self.zf.open(info) as r:
                    chunk = r.read(nbytes)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error, NotImplementedError) as e:
                raise _corrupt(f"failed reading record {name} ({e})") from None
            got = len(chunk)
            out[:got] = np.frombuffer(chunk, np.uint8)
        if got != nbytes:
            raise _corrupt(f"record {name} is truncated ({got} of {nbytes} bytes)")
        if nbytes == info.file_size and zlib.crc32(out) != info.CRC:  # type: ignore[arg-type]
            raise _corrupt(f"CRC-32 mismatch in record {name}")
        return out


def _open_for_read(f) -> Tuple[Any, Optional[str], bool]:
    """(binary file object, its path if any, whether we opened it)."""
    if _is_path(f):
        return open(f, "rb"), os.fspath(f), True
    if not hasattr(f, "read"):
        raise AttributeError(f"load: expected a path or a file object with read(), got {type(f).__name__}")
    seekable = getattr(f, "seekable", lambda: False)()
    return (f if seekable else io.BytesIO(f.read())), None, False


def load(f, map_location=None, pickle_module: Any = None, *, weights_only: Optional[bool] = None,
         mmap: Optional[bool] = None, **pickle_load_args) -> Any:
    """Reads a checkpoint written by ``torch.save`` (zip format) or ``rustensor.save``.

    ``weights_only=True`` (the default, as in torch >= 2.6) allows only tensors, containers and
    plain values; any other global raises ``pickle.UnpicklingError`` naming it, and is never
    imported or called. ``mmap=True`` maps the storages privately instead of reading them."""
    if weights_only is None:
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError("rustensor.load supports only the standard pickle module")
    if mmap and not _is_path(f):
        raise ValueError("f must be a file path in order to use the mmap argument")
    pickle_load_args.setdefault("encoding", "utf-8")
    fh, path, opened = _open_for_read(f)
    try:
        start = fh.tell()
        head = fh.read(4)
        fh.seek(start)
        if head != _ZIP_MAGIC:
            if mmap:
                raise RuntimeError("mmap can only be used with files saved with `torch.save(_use_new_zipfile_serialization=True), "
                                   "please torch.save your checkpoint with this option in order to use mmap.")
            _not_zip(fh, head)
        return _load_zip(_Archive(fh, path, bool(mmap)), _Restore(map_location), weights_only, pickle_load_args)
    finally:
        if opened:
            fh.close()


class _NoGlobals(pickle.Unpickler):
    """Reads the first object of a non-zip file, to tell torch's legacy header from junk."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"load: not a checkpoint (its header names the global {module}.{name})")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("load: not a checkpoint (a persistent id in its header)")


def _not_zip(fh, head: bytes) -> None:
    """Explains why a non-zip file is not loaded (torch's legacy format is not read)."""
    if not head:
        raise EOFError("Ran out of input")

    try:
        magic = _NoGlobals(fh).load()
    except pickle.UnpicklingError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure of junk bytes means the same
        raise pickle.UnpicklingError(f"load: not a checkpoint: {type(e).__name__}: {e}") from None
    if magic == _MAGIC_NUMBER:
        raise RuntimeError("load: this checkpoint is in torch's legacy (pre-1.6) format, which rustensor does not read; "
                           "re-save it with a current torch.save")
    raise RuntimeError("Invalid magic number; corrupt file?")


def _load_zip(ar: _Archive, restore: _Restore, weights_only: bool, pickle_load_args: dict) -> Any:
    swap = False
    if ar.has("byteorder"):
        order = ar.read("byteorder")
        if order not in (b"little", b"big"):
            raise ValueError("Unknown endianness type: " + order.decode("utf-8", "replace"))
        swap = order.decode() != sys.byteorder
    loaded: Dict[str, Any] = {}

    def storage(pid):
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError(f"load: unexpected persistent id {pid!r}")
        typename = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
        if typename != "storage":
            raise pickle.UnpicklingError(f"Unknown typename for persistent_load, expected 'storage' but got '{typename}'")
        if len(pid) != 5:
            raise pickle.UnpicklingError(f"load: a storage reference has {len(pid)} fields, expected 5")
        _, stype, key, location, numel = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"load: expected a storage type, got {stype!r}")
        if not isinstance(key, str) or not isinstance(location, str) or isinstance(numel, builtins.bool) or not isinstance(numel, builtins.int) or numel < 0:
            raise pickle.UnpicklingError(f"load: malformed storage reference {pid!r}")
        if stype.dtype is not None and stype.dtype.startswith("!"):
            _unsupported_dtype(stype.dtype[1:])
        cache_key = (key, stype.dtype)
        if cache_key in loaded:
            return loaded[cache_key]
        if stype.dtype is None:  # untyped: numel counts bytes
            raw = ar.read_array(f"data/{key}", numel)
            s: Any = _LoadedUntypedStorage(raw, lambda flat, loc=location: restore(flat, loc))
        else:
            isz = np.dtype(_NP[stype.dtype]).itemsize
            raw = ar.read_array(f"data/{key}", numel * isz)
            s = _LoadedStorage(restore(_flat_from_bytes(raw, stype.dtype, swap), location))
        loaded[cache_key] = s
        return s

    data = ar.read("data.pkl")
    if not weights_only:
        return _Unpickler(io.BytesIO(data), storage, **pickle_load_args).load()
    try:
        return _WeightsOnlyUnpickler(io.BytesIO(data), storage, **pickle_load_args).load()
    except (pickle.UnpicklingError, RuntimeError, TypeError):
        raise
    except EOFError as e:
        raise pickle.UnpicklingError(f"load: data.pkl is truncated ({e})") from None
    except Exception as e:  # noqa: BLE001 - a malformed pickle can fail in many ways; all mean "corrupt"
        raise pickle.UnpicklingError(f"load: data.pkl is corrupt ({type(e).__name__}: {e})") from None
