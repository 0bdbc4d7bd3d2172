"""The ``Tensor`` class (``class Tensor(_C.TensorBase)``: the methods written in Python over the
Rust primitives of ``TensorBase``), tensor construction from Python data, indexing and printing.
Every tensor the compiled module returns is a ``Tensor`` (the class is registered with it below),
so subclasses such as ``nn.Parameter`` behave as in torch."""

from __future__ import annotations

import builtins
import collections
import copy as _copy
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union, overload

import numpy as np

from . import _rustensor as _C
from ._tensor_str import format_tensor

if TYPE_CHECKING:
    import numpy.typing as npt
    from typing_extensions import Self

    from ._rustensor import _DeviceLike, _DTypeLike, _Number, _Other, _ValuesIndices

_NP_OF = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
}
# torch's legacy tensor-type names, which `Tensor.type()` returns
_TYPE_NAMES = {"bool": "BoolTensor", "uint8": "ByteTensor", "int8": "CharTensor", "int16": "ShortTensor", "int32": "IntTensor", "int64": "LongTensor", "float16": "HalfTensor",
               "float32": "FloatTensor", "float64": "DoubleTensor"}
_SUPPORTED = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``rustensor.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"rustensor.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r


def _dtype_name(dtype) -> str:
    if isinstance(dtype, _C.dtype):
        return repr(dtype).split(".")[-1]
    if dtype is builtins.bool:
        return "bool"
    if dtype is builtins.int:
        return "int64"
    if dtype is builtins.float:
        return "float64"
    raise TypeError(f"dtype must be a rustensor.dtype (e.g. rustensor.float32), got {dtype!r}")


def _check_np_dtype(a: np.ndarray, op: str) -> None:
    if a.dtype.name not in _SUPPORTED:
        raise TypeError(
            f"{op}: can't convert np.ndarray of type numpy.{a.dtype.name}. "
            "The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )


_TYPESTRS = frozenset(np.dtype(n).str for n in _SUPPORTED)


def from_numpy(a: Any) -> Tensor:
    """A tensor sharing ``a``'s memory (no copy); ``a`` stays alive while the tensor does."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(a).__name__})")
    ai = a.__array_interface__
    typestr = ai["typestr"]
    if typestr not in _TYPESTRS:  # a cheap check first: dtype.name costs microseconds
        _check_np_dtype(a, "from_numpy")
        if not a.dtype.isnative:
            raise TypeError("from_numpy: big-endian arrays are not supported; convert with a.astype(a.dtype.newbyteorder('='))")
    if ai["data"][1]:
        # torch's warning: in-place ops on the tensor would write through the array anyway
        import warnings

        warnings.warn(
            "The given NumPy array is not writable, and PyTorch does not support non-writable tensors. "
            "This means writing to this tensor will result in undefined behavior. You may want to copy the "
            "array to protect its data or make it writable before converting it to a tensor.",
            UserWarning,
            stacklevel=2,
        )
    return _C.from_buffer(ai["data"][0], ai["shape"], ai["strides"], typestr, a)


def _has_huge_int(data: Any) -> bool:
    """Whether nested Python data holds an int outside int64 (walked only when NumPy's
    result says one may be there: uint64, object, or float64 from a list that is not all floats)."""
    stack = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, int) and not isinstance(d, bool):
            if not -(2**63) <= d < 2**63:
                return True
        elif isinstance(d, (list, tuple)):
            stack.extend(d)
    return False


_NARROW_INTS = ("uint8", "int8", "int16")


def _check_narrow(arr: np.ndarray, name: str) -> None:
    """torch's range check of Python numbers going into a narrow integer dtype: a signed type
    takes its own range, an unsigned one also the negatives down to -max (they wrap)."""
    info = np.iinfo(name)
    lo = -int(info.max) if info.min == 0 else int(info.min)
    if arr.min() < lo or arr.max() > info.max:
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")


def _infer_array(data: Any, dtype) -> np.ndarray:
    """Python data (scalars, nested sequences, arrays, tensors) as a NumPy array with
    torch's dtype inference: Python floats default to float32, ints to int64."""
    if isinstance(data, Tensor):
        return data.detach().cpu().numpy()
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        arr = data
    else:
        if isinstance(data, (str, bytes)) or data is None:
            raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
        narrow = dtype is not None and _dtype_name(dtype) in _NARROW_INTS
        try:
            arr = np.array(data, dtype=_NP_OF[_dtype_name(dtype)] if dtype is not None and not narrow else None)
        except ValueError as e:
            raise ValueError(f"tensor(): expected a rectangular sequence of numbers ({e})") from None
        except OverflowError:
            raise ValueError("Overflow when unpacking long") from None
        except TypeError as e:
            raise TypeError(f"tensor(): could not convert data to a tensor: {e}") from None
        if dtype is None and arr.dtype.kind in "ufO" and arr.size and _has_huge_int(data):
            # an int beyond int64 turned the array into uint64, float64 or object: torch refuses it
            raise ValueError("Overflow when unpacking long")
        if narrow and arr.dtype.kind in "iuf" and arr.size:
            _check_narrow(arr, _dtype_name(dtype))
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif dtype is None and arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    if arr.dtype.kind in "OUSV":
        raise TypeError(f"new(): invalid data type '{arr.dtype}': only numbers and booleans can be made into tensors")
    if dtype is not None:
        arr = arr.astype(_NP_OF[_dtype_name(dtype)])
    elif isinstance(data, np.ndarray):
        _check_np_dtype(arr, "tensor")
    return arr


def tensor(data: Any, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """``rustensor.tensor``: always a copy, dtype inferred as torch does."""
    if dtype == _C.bfloat16 and not isinstance(data, Tensor):
        # NumPy has no bfloat16: build float32, round once
        t = tensor(data, dtype=_C.float32, device=device)._to_dtype(_C.bfloat16)
        return t.requires_grad_(True) if requires_grad else t
    if isinstance(data, Tensor):
        t = data.detach().clone()
        if dtype is not None:
            t = t._to_dtype(dtype)
    else:
        arr = _infer_array(data, dtype)
        if not arr.flags.c_contiguous:
            arr = arr.copy()  # np.ascontiguousarray would turn 0-d into 1-d
        t = from_numpy(arr).clone()
    if device is not None:
        t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """Shares memory with NumPy arrays and tensors when no conversion is needed."""
    if isinstance(data, Tensor):
        t = data if dtype is None else data._to_dtype(dtype)
    elif isinstance(data, np.ndarray) and (dtype is None or _dtype_name(dtype) == data.dtype.name) and data.dtype.name in _SUPPORTED:
        t = from_numpy(data)
    else:
        t = tensor(data, dtype=dtype)
    return t if device is None else t.to(device)


def as_tensor_or_none(obj: Any):
    """Operand conversion for operators: lists and arrays become tensors, anything else None."""
    if isinstance(obj, (list, tuple, np.ndarray, np.generic)):
        try:
            return as_tensor(obj)
        except (TypeError, ValueError):
            return None
    return None


# ---------------------------------------------------------------- printing

def tensor_repr(t: Tensor) -> str:
    d = t.detach()
    # bfloat16 prints from its exact float32 widening (NumPy has no bfloat16)
    arr = np.asarray(d.cpu().float() if d.dtype == _C.bfloat16 else d.cpu())
    gf = t.grad_fn
    dev = t.device
    return format_tensor(
        arr,
        dtype_name=_dtype_name(t.dtype),
        is_default_dtype=t.dtype == _C.float32,
        device=None if dev.type == "cpu" else str(dev if dev.index is not None else f"{dev.type}:0"),
        requires_grad=t.requires_grad and t.is_leaf,
        grad_fn=gf.name() if gf is not None else None,
    )


# ---------------------------------------------------------------- indexing

def _as_index_tensor(k: Any) -> Tensor:
    if isinstance(k, Tensor):
        return k
    arr = np.asarray(k)
    if arr.dtype == np.bool_:
        return from_numpy(arr.copy()).clone()
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return from_numpy(arr.astype(np.int64)).clone()


def _is_adv(k: Any) -> bool:
    return isinstance(k, (Tensor, list, np.ndarray)) or (isinstance(k, tuple))


def _parse_key(t: Tensor, key: Any):
    """Applies basic indexing; returns (view, advanced dims, index tensors)."""
    if not isinstance(key, tuple):
        key = (key,)
    consumed = 0
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, bool):
            continue
        if isinstance(k, Tensor) and k.dtype == _C.bool:
            consumed += max(k.ndim, 0)
        elif isinstance(k, (list, np.ndarray)) and np.asarray(k).dtype == np.bool_:
            consumed += np.asarray(k).ndim
        else:
            consumed += 1
    if consumed > t.ndim:
        raise IndexError(f"too many indices for tensor of dimension {t.ndim}")
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    result, dim = t, 0
    adv_dims, adv_idx = [], []
    for k in key:
        if k is None:
            result = result.unsqueeze(dim)
            dim += 1
        elif k is Ellipsis:
            dim += t.ndim - consumed
        elif isinstance(k, bool):
            result = result.unsqueeze(dim)
            adv_dims.append(dim)
            adv_idx.append(tensor([0] if k else [], dtype=_C.int64))
            dim += 1
        elif isinstance(k, (int, np.integer)) or (isinstance(k, Tensor) and k.ndim == 0 and k.dtype in (_C.int64, _C.int32)):
            # torch applies integers (and 0-d integer tensors) as basic selects before the
            # advanced indices, so x[1, :, idx] is x[1][:, idx]; NumPy would count the 1 as
            # an advanced index and move the index dims to the front (issue 11)
            k = int(k)
            if dim >= result.ndim:
                raise IndexError(f"too many indices for tensor of dimension {t.ndim}")
            result = result.select(dim, k)
        elif isinstance(k, slice):
            step = 1 if k.step is None else int(k.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            start = None if k.start is None else int(k.start)
            stop = None if k.stop is None else int(k.stop)
            result = result._slice(dim, start, stop, step)
            dim += 1
        elif _is_adv(k):
            it = _as_index_tensor(k)
            if it.dtype == _C.bool:
                if it.ndim == 0:
                    result = result.unsqueeze(dim)
                    adv_dims.append(dim)
                    adv_idx.append(tensor([0] if bool(it) else [], dtype=_C.int64))
                    dim += 1
                    continue
                for i in range(it.ndim):
                    if it.shape[i] != result.shape[dim + i]:
                        raise IndexError(
                            f"The shape of the mask {list(it.shape)} at index {i} does not match the shape "
                            f"of the indexed tensor {list(t.shape)} at index {dim + i}"
                        )
                nz = it.nonzero()
                for i in range(it.ndim):
                    adv_dims.append(dim + i)
                    adv_idx.append(nz[:, i].contiguous())
                dim += it.ndim
            else:
                adv_dims.append(dim)
                adv_idx.append(it)
                dim += 1
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                f"Variables are valid indices (got {type(k).__name__})"
            )
    return result, adv_dims, adv_idx


def _adv_position(adv_dims):
    """Where the index dims land: at the first indexed dim when the indexed dims are
    adjacent, else in front (NumPy's rule, which torch follows)."""
    consecutive = all(b == a + 1 for a, b in zip(adv_dims, adv_dims[1:]))
    return adv_dims[0] if consecutive else 0


def _record_basic_setitem(t: Tensor, key: Any, value: Tensor) -> None:
    """``t[key] = value`` on a tensor in a graph: recorded as an index put over the
    coordinates the basic key selects, so gradients skip the overwritten elements and
    reach ``value`` (torch's CopySlices)."""
    coords = []
    for d in range(t.ndim):
        shape = [1] * t.ndim
        shape[d] = t.shape[d]
        grid = _C._arange(0, t.shape[d], 1, _C.int64).reshape(shape).expand(*t.shape)
        coords.append(getitem(grid, key).contiguous())
    region = list(coords[0].shape) if coords else []
    v = value._to_dtype(t.dtype) if value.dtype != t.dtype else value
    t._index_put(list(range(t.ndim)), coords, v.expand(*region), False)


def getitem(t: Tensor, key: Any) -> Tensor:
    result, adv_dims, adv_idx = _parse_key(t, key)
    if not adv_dims:
        return result
    out = result._index_take(adv_dims, adv_idx)
    pos = _adv_position(adv_dims)
    if pos == 0:
        return out
    k = out.ndim - (result.ndim - len(adv_dims))  # number of index dims
    rest = list(range(k, out.ndim))
    perm = rest[:pos] + list(range(k)) + rest[pos:]
    return out.permute(perm)


def setitem(t: Tensor, key: Any, value: Any) -> None:
    result, adv_dims, adv_idx = _parse_key(t, key)
    if not isinstance(value, Tensor):
        value = tensor(value, dtype=t.dtype) if not isinstance(value, np.ndarray) else tensor(value)
    if not adv_dims:
        while value.ndim > result.ndim and value.shape[0] == 1:
            value = value.squeeze(0)
        if _C.is_grad_enabled() and (t.requires_grad or value.requires_grad) and not (t.requires_grad and t.is_leaf):
            _record_basic_setitem(t, key, value)
            return
        result.copy_(value)
        return
    # shape of t[key] in the user's order, then back to canonical (index dims first)
    shapes = [i.shape for i in adv_idx]
    ishape = list(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    rest = [result.shape[d] for d in range(result.ndim) if d not in adv_dims]
    pos = _adv_position(adv_dims)
    user = rest[:pos] + ishape + rest[pos:]
    if pos and value.ndim > 0:
        v = value.expand(*user) if list(value.shape) != user else value
        k = len(ishape)
        perm = list(range(pos, pos + k)) + list(range(pos)) + list(range(pos + k, len(user)))
        value = v.permute(perm)
    result._index_put(adv_dims, adv_idx, value, False)


# ---------------------------------------------------------------- methods

_return_types: Dict[str, Any] = {
    "max": collections.namedtuple("max", ["values", "indices"]),
    "min": collections.namedtuple("min", ["values", "indices"]),
    "cummax": collections.namedtuple("cummax", ["values", "indices"]),
    "cummin": collections.namedtuple("cummin", ["values", "indices"]),
}


def _polygamma(self, n):
    if isinstance(n, Tensor) or not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return self._binary("_polygamma", n, False)


def _extreme(self, name: str, is_max: bool, dim=None, keepdim=False):
    if dim is None:
        if self.numel() == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                "Specify the reduction dim with the 'dim' argument."
            )
        return self.amax() if is_max else self.amin()
    if isinstance(dim, Tensor):
        return self.maximum(dim) if is_max else self.minimum(dim)
    v, i = self._extreme_dim(is_max, int(dim), keepdim)
    return _return_types[name](v, i)


def _max(self, dim=None, keepdim=False):
    return _extreme(self, "max", True, dim, keepdim)


def _min(self, dim=None, keepdim=False):
    return _extreme(self, "min", False, dim, keepdim)


def _aliased(f, self, args, kwargs):
    """``f(self, ...)`` with NumPy's ``axis=``/``keepdims=`` spellings and ``out=``, as torch's
    reductions take them."""
    out = kwargs.pop("out", None)
    return _ops_common._out(f(self, *args, **_ops_common._alias_kwargs(kwargs)), out)


def _to(self, *args, **kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {list(kwargs)}")
    for a in args:
        if isinstance(a, _C.dtype) or a in (float, int, bool):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, _C.device)):
            device = a
        elif a is None:
            continue
        else:
            raise TypeError(f"to() received an invalid combination of arguments: {a!r}")
    r = self
    dev = None
    if device is not None:
        dev = _C.device(device) if not isinstance(device, _C.device) else device
        here = self.device
        if dev.type == here.type and (dev.index or 0) == (here.index or 0):
            dev = None
        elif dev.type == "gpu":
            from . import cuda

            if not cuda.is_available():
                raise RuntimeError(
                    "rustensor: no GPU adapter is available (device 'gpu', aliases 'cuda'/'wgpu'): "
                    f"{cuda._why_unavailable()}"
                )
            cuda._check_ordinal(dev)
    # convert the dtype where it is cheapest and legal: float64 cannot live on the GPU
    if dtype is not None and self.device.type == "cpu":
        r = r._to_dtype(dtype)
    if dev is not None:
        r = r._to_device(dev)
    if dtype is not None and self.device.type != "cpu":
        r = r._to_dtype(dtype)
    if copy and r is self:
        r = r.clone()
    return r


def _numpy(self, force: bool = False):
    if self.requires_grad and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    if self.device.type != "cpu":
        raise TypeError(
            f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."
        )
    return np.asarray(self.detach() if force else self)


def _array(self, dtype=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    a = np.asarray(self.detach())
    if dtype is not None:
        a = a.astype(dtype)
    return a.copy() if copy else a


def _tolist(self):
    if self.ndim == 0:
        return self.item()
    d = self.detach().cpu()
    return np.asarray(d.float() if d.dtype == _C.bfloat16 else d).tolist()


def _var_std(self, std, dim, unbiased, keepdim, correction):
    if not (isinstance(unbiased, bool) or unbiased is None):
        raise TypeError("unbiased must be a bool")
    if isinstance(dim, bool):  # var(True) means unbiased=True in torch's old signature
        unbiased, dim = dim, None
    c = 1.0 if correction is None else float(correction)
    if unbiased is not None and correction is None:
        c = 1.0 if unbiased else 0.0
    return self._var(dim, c, keepdim, std)


def _var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_std(self, False, dim, unbiased, keepdim, correction)


def _std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_std(self, True, dim, unbiased, keepdim, correction)


def _norm(self, p="fro", dim=None, keepdim=False, dtype=None):
    if p in ("fro", None):
        p = 2.0
    elif p == "nuc":
        raise RuntimeError("norm: nuclear norm is not supported")
    return self._norm(float(p), dim, keepdim)


def _repeat(self, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < self.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    if any(r < 0 for r in sizes):
        # the reshape below would report a shape the user never wrote
        raise RuntimeError(f"repeat: repeats can not be negative, got {tuple(sizes)}")
    x = self.reshape((1,) * (len(sizes) - self.ndim) + tuple(self.shape))
    inter, target = [], []
    for r, s in zip(sizes, x.shape):
        inter += [1, s]
        target += [r, s]
    out = x.reshape(inter).expand(*target).reshape([r * s for r, s in zip(sizes, x.shape)])
    return out.contiguous()


def _tri(self, upper: bool, diagonal: int):
    if self.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 dimensions")
    n, m = self.shape[-2], self.shape[-1]
    r = _C._arange(0, n, 1, _C.int64).unsqueeze(1)
    c = _C._arange(0, m, 1, _C.int64).unsqueeze(0)
    keep = (c - r >= diagonal) if upper else (c - r <= diagonal)
    # the mask lives where the input does: a CPU mask with a GPU input is a device mismatch
    keep = keep._to_device(self.device)
    zero = _C._scalar_tensor(0, self.dtype)
    return _C._where(keep, self, zero)


def _new(self, fill, size, dtype, device, requires_grad):
    from . import full

    return full(size, fill, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _inplace_via(self, f):
    """An in-place op written out of place: recorded on a copy when autograd needs it."""
    self._check_inplace()
    if _C.is_grad_enabled() and self.requires_grad:
        self._assign_result(f(self.clone()))
    else:
        with _no_grad():
            self.copy_(f(self))
    return self


class _no_grad:
    def __enter__(self):
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


def _deepcopy(self, memo):
    r = self.detach().clone()
    if self.requires_grad and self.is_leaf:
        r.requires_grad_(True)
    if self.grad is not None:
        r.grad = self.grad.detach().clone()
    memo[id(self)] = r
    return r


def _rebuild(arr, requires_grad):
    return tensor(arr, requires_grad=requires_grad)


def _div(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return self._binary("div", other, False)
    if rounding_mode == "floor":
        return self._binary("floor_divide", other, False)
    if rounding_mode == "trunc":
        q = self._binary("div", other, False)
        o = other if isinstance(other, Tensor) else None
        ints = not self.is_floating_point() and not isinstance(other, float) and (o is None or not o.is_floating_point())
        if not ints:
            return q.trunc()
        # integers stay integers: floor division, corrected where floor and trunc differ
        fq = self._binary("floor_divide", other, False)
        r = self._binary("remainder", other, False)
        neg = (self < 0).logical_xor(other < 0) if o is not None else (self < 0).logical_xor(_C._scalar_tensor(other < 0, _C.bool))
        return fq + ((r != 0).logical_and(neg))._to_dtype(fq.dtype)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


_clamp_rs = _C.TensorBase.clamp


def _clamp(self, min=None, max=None):
    tensors = [b for b in (min, max) if isinstance(b, Tensor) and b.numel() != 1]
    if not tensors:
        return _clamp_rs(self, min, max)
    r = self
    if min is not None:
        r = r.maximum(min if isinstance(min, Tensor) else _C._scalar_tensor(min, self.dtype))
    if max is not None:
        r = r.minimum(max if isinstance(max, Tensor) else _C._scalar_tensor(max, self.dtype))
    return r


class _RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` turns the hook off."""

    def __init__(self):
        self.active = True

    def remove(self):
        self.active = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_register_hook_rs = _C.TensorBase.register_hook


def _register_hook(self, hook):
    handle = _RemovableHandle()

    def call(g):
        return hook(g) if handle.active else None

    # torch's messages name the user's hook ("hook 'scale' has changed the size of value")
    call.__name__ = getattr(hook, "__name__", type(hook).__name__)
    _register_hook_rs(self, call)
    return handle


def _autocast_on() -> bool:
    """Whether an autocast region is open (one attribute lookup outside one)."""
    return bool(_amp._state.__dict__.get("stack"))


def _times(other, alpha):
    return other if alpha == 1 else other * alpha


def _value(v):
    # torch's `value` is a Number; numpy scalars and the like convert too
    if isinstance(v, Tensor) or not hasattr(v, "__float__"):
        raise TypeError(f"argument 'value' must be Number, not {type(v).__name__}")
    return float(v)


def _lerp(self, end, weight, inplace):
    f = self._ternary_ if inplace else self._ternary
    if isinstance(weight, Tensor):
        return f("lerp", end, weight, 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise TypeError(f"lerp(): argument 'weight' (position 2) must be Tensor or Number, not {type(weight).__name__}")
    return f("lerp", end, None, float(weight))


def _add_scaled(inp, prod, beta, alpha, name):
    """``beta * inp + alpha * prod`` (torch's addmm/baddbmm; beta 0 ignores inp, NaN included)."""
    from .amp import autocast_mode as _ac

    if _ac._state.__dict__.get("stack"):
        (inp,) = _ac._cast_lower(inp)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod
    return prod + (inp if beta == 1 else inp * beta)


def _raise(exc, msg):
    raise exc(msg)


def _dot(self, other):
    if self.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {self.ndim}D and {other.ndim}D tensors")
    if self.shape[0] != other.shape[0]:
        # matmul would call this a (1x2) @ (3x1) product, which the user never wrote
        raise RuntimeError(
            f"dot: inconsistent tensor size, expected tensor [{self.shape[0]}] and src [{other.shape[0]}] to have "
            f"the same number of elements, but got {self.shape[0]} and {other.shape[0]} elements respectively"
        )
    # the raw product: dot is not on autocast's lists
    return _C.TensorBase.matmul(self, other)


def _broadcast_shape(op: str, a, b) -> tuple:
    """torch's broadcast rule and RuntimeError (NumPy's ValueError text names no tensor)."""
    a, b = tuple(a), tuple(b)
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"{op}: The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton dimension {max(len(a), len(b)) - i}"
            )
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def _masked_select(self, mask):
    shape = _broadcast_shape("masked_select", self.shape, mask.shape)
    return getitem(self.expand(*shape), mask.expand(*shape))


# ---------------------------------------------------------------- the class

class Tensor(_C.TensorBase):
    """A multi-dimensional array on the CPU or the GPU, with autograd: torch.Tensor's API.

    The hot paths (operators, views, reductions, autograd) are ``TensorBase``'s, in Rust; the
    methods here are written in Python over them. Every result comes back as this class.
    """

    __module__ = "rustensor"

    # ---- elementwise ops of the Rust op tables (tests/test_optable.py checks these against them)
    def abs(self) -> Tensor:
        return self._unary("abs")

    def neg(self) -> Tensor:
        return self._unary("neg")

    def negative(self) -> Tensor:
        return self._unary("negative")

    def sign(self) -> Tensor:
        return self._unary("sign")

    def square(self) -> Tensor:
        return self._unary("square")

    def expm1(self) -> Tensor:
        return self._unary("expm1")

    def log1p(self) -> Tensor:
        return self._unary("log1p")

    def log2(self) -> Tensor:
        return self._unary("log2")

    def log10(self) -> Tensor:
        return self._unary("log10")

    def rsqrt(self) -> Tensor:
        return self._unary("rsqrt")

    def reciprocal(self) -> Tensor:
        return self._unary("reciprocal")

    def sin(self) -> Tensor:
        return self._unary("sin")

    def cos(self) -> Tensor:
        return self._unary("cos")

    def tan(self) -> Tensor:
        return self._unary("tan")

    def floor(self) -> Tensor:
        return self._unary("floor")

    def ceil(self) -> Tensor:
        return self._unary("ceil")

    def trunc(self) -> Tensor:
        return self._unary("trunc")

    def fix(self) -> Tensor:
        return self._unary("fix")

    def isnan(self) -> Tensor:
        return self._unary("isnan")

    def isinf(self) -> Tensor:
        return self._unary("isinf")

    def isfinite(self) -> Tensor:
        return self._unary("isfinite")

    def logical_not(self) -> Tensor:
        return self._unary("logical_not")

    def bitwise_not(self) -> Tensor:
        return self._unary("bitwise_not")

    def absolute(self) -> Tensor:
        return self._unary("absolute")

    def exp2(self) -> Tensor:
        return self._unary("exp2")

    def asin(self) -> Tensor:
        return self._unary("asin")

    def arcsin(self) -> Tensor:
        return self._unary("arcsin")

    def acos(self) -> Tensor:
        return self._unary("acos")

    def arccos(self) -> Tensor:
        return self._unary("arccos")

    def atan(self) -> Tensor:
        return self._unary("atan")

    def arctan(self) -> Tensor:
        return self._unary("arctan")

    def sinh(self) -> Tensor:
        return self._unary("sinh")

    def cosh(self) -> Tensor:
        return self._unary("cosh")

    def asinh(self) -> Tensor:
        return self._unary("asinh")

    def arcsinh(self) -> Tensor:
        return self._unary("arcsinh")

    def acosh(self) -> Tensor:
        return self._unary("acosh")

    def arccosh(self) -> Tensor:
        return self._unary("arccosh")

    def atanh(self) -> Tensor:
        return self._unary("atanh")

    def arctanh(self) -> Tensor:
        return self._unary("arctanh")

    def erf(self) -> Tensor:
        return self._unary("erf")

    def erfc(self) -> Tensor:
        return self._unary("erfc")

    def erfinv(self) -> Tensor:
        return self._unary("erfinv")

    def lgamma(self) -> Tensor:
        return self._unary("lgamma")

    def digamma(self) -> Tensor:
        return self._unary("digamma")

    def sinc(self) -> Tensor:
        return self._unary("sinc")

    def deg2rad(self) -> Tensor:
        return self._unary("deg2rad")

    def rad2deg(self) -> Tensor:
        return self._unary("rad2deg")

    def frac(self) -> Tensor:
        return self._unary("frac")

    def signbit(self) -> Tensor:
        return self._unary("signbit")

    def abs_(self) -> Tensor:
        return self._unary_("abs")

    def neg_(self) -> Tensor:
        return self._unary_("neg")

    def negative_(self) -> Tensor:
        return self._unary_("negative")

    def sign_(self) -> Tensor:
        return self._unary_("sign")

    def square_(self) -> Tensor:
        return self._unary_("square")

    def expm1_(self) -> Tensor:
        return self._unary_("expm1")

    def log1p_(self) -> Tensor:
        return self._unary_("log1p")

    def log2_(self) -> Tensor:
        return self._unary_("log2")

    def log10_(self) -> Tensor:
        return self._unary_("log10")

    def rsqrt_(self) -> Tensor:
        return self._unary_("rsqrt")

    def reciprocal_(self) -> Tensor:
        return self._unary_("reciprocal")

    def sin_(self) -> Tensor:
        return self._unary_("sin")

    def cos_(self) -> Tensor:
        return self._unary_("cos")

    def tan_(self) -> Tensor:
        return self._unary_("tan")

    def floor_(self) -> Tensor:
        return self._unary_("floor")

    def ceil_(self) -> Tensor:
        return self._unary_("ceil")

    def trunc_(self) -> Tensor:
        return self._unary_("trunc")

    def fix_(self) -> Tensor:
        return self._unary_("fix")

    def logical_not_(self) -> Tensor:
        return self._unary_("logical_not")

    def bitwise_not_(self) -> Tensor:
        return self._unary_("bitwise_not")

    def absolute_(self) -> Tensor:
        return self._unary_("absolute")

    def exp2_(self) -> Tensor:
        return self._unary_("exp2")

    def asin_(self) -> Tensor:
        return self._unary_("asin")

    def arcsin_(self) -> Tensor:
        return self._unary_("arcsin")

    def acos_(self) -> Tensor:
        return self._unary_("acos")

    def arccos_(self) -> Tensor:
        return self._unary_("arccos")

    def atan_(self) -> Tensor:
        return self._unary_("atan")

    def arctan_(self) -> Tensor:
        return self._unary_("arctan")

    def sinh_(self) -> Tensor:
        return self._unary_("sinh")

    def cosh_(self) -> Tensor:
        return self._unary_("cosh")

    def asinh_(self) -> Tensor:
        return self._unary_("asinh")

    def arcsinh_(self) -> Tensor:
        return self._unary_("arcsinh")

    def acosh_(self) -> Tensor:
        return self._unary_("acosh")

    def arccosh_(self) -> Tensor:
        return self._unary_("arccosh")

    def atanh_(self) -> Tensor:
        return self._unary_("atanh")

    def arctanh_(self) -> Tensor:
        return self._unary_("arctanh")

    def erf_(self) -> Tensor:
        return self._unary_("erf")

    def erfc_(self) -> Tensor:
        return self._unary_("erfc")

    def erfinv_(self) -> Tensor:
        return self._unary_("erfinv")

    def lgamma_(self) -> Tensor:
        return self._unary_("lgamma")

    def digamma_(self) -> Tensor:
        return self._unary_("digamma")

    def sinc_(self) -> Tensor:
        return self._unary_("sinc")

    def deg2rad_(self) -> Tensor:
        return self._unary_("deg2rad")

    def rad2deg_(self) -> Tensor:
        return self._unary_("rad2deg")

    def frac_(self) -> Tensor:
        return self._unary_("frac")

    def round_(self) -> Tensor:
        return self._unary_("round")

    def logit_(self) -> Tensor:
        return self._unary_("logit")

    def exp_(self) -> Tensor:
        return self._unary_("exp")

    def log_(self) -> Tensor:
        return self._unary_("log")

    def relu_(self) -> Tensor:
        return self._unary_("relu")

    def sigmoid_(self) -> Tensor:
        return self._unary_("sigmoid")

    def tanh_(self) -> Tensor:
        return self._unary_("tanh")

    def sqrt_(self) -> Tensor:
        return self._unary_("sqrt")

    def mul(self, other: _Other) -> Tensor:
        return self._binary("mul", other, False)

    def mul_(self, other: _Other) -> Tensor:
        return self._binary_("mul", other)

    def multiply(self, other: _Other) -> Tensor:
        return self._binary("multiply", other, False)

    def multiply_(self, other: _Other) -> Tensor:
        return self._binary_("multiply", other)

    def true_divide(self, other: _Other) -> Tensor:
        return self._binary("true_divide", other, False)

    def true_divide_(self, other: _Other) -> Tensor:
        return self._binary_("true_divide", other)

    def floor_divide(self, other: _Other) -> Tensor:
        return self._binary("floor_divide", other, False)

    def floor_divide_(self, other: _Other) -> Tensor:
        return self._binary_("floor_divide", other)

    def remainder(self, other: _Other) -> Tensor:
        return self._binary("remainder", other, False)

    def remainder_(self, other: _Other) -> Tensor:
        return self._binary_("remainder", other)

    def pow(self, other: _Other) -> Tensor:
        return self._binary("pow", other, False)

    def pow_(self, other: _Other) -> Tensor:
        return self._binary_("pow", other)

    def maximum(self, other: _Other) -> Tensor:
        return self._binary("maximum", other, False)

    def maximum_(self, other: _Other) -> Tensor:
        return self._binary_("maximum", other)

    def minimum(self, other: _Other) -> Tensor:
        return self._binary("minimum", other, False)

    def minimum_(self, other: _Other) -> Tensor:
        return self._binary_("minimum", other)

    def atan2(self, other: _Other) -> Tensor:
        return self._binary("atan2", other, False)

    def atan2_(self, other: _Other) -> Tensor:
        return self._binary_("atan2", other)

    def arctan2(self, other: _Other) -> Tensor:
        return self._binary("arctan2", other, False)

    def arctan2_(self, other: _Other) -> Tensor:
        return self._binary_("arctan2", other)

    def eq(self, other: _Other) -> Tensor:
        return self._binary("eq", other, False)

    def eq_(self, other: _Other) -> Tensor:
        return self._binary_("eq", other)

    def ne(self, other: _Other) -> Tensor:
        return self._binary("ne", other, False)

    def ne_(self, other: _Other) -> Tensor:
        return self._binary_("ne", other)

    def lt(self, other: _Other) -> Tensor:
        return self._binary("lt", other, False)

    def lt_(self, other: _Other) -> Tensor:
        return self._binary_("lt", other)

    def le(self, other: _Other) -> Tensor:
        return self._binary("le", other, False)

    def le_(self, other: _Other) -> Tensor:
        return self._binary_("le", other)

    def gt(self, other: _Other) -> Tensor:
        return self._binary("gt", other, False)

    def gt_(self, other: _Other) -> Tensor:
        return self._binary_("gt", other)

    def ge(self, other: _Other) -> Tensor:
        return self._binary("ge", other, False)

    def ge_(self, other: _Other) -> Tensor:
        return self._binary_("ge", other)

    def greater(self, other: _Other) -> Tensor:
        return self._binary("greater", other, False)

    def greater_(self, other: _Other) -> Tensor:
        return self._binary_("greater", other)

    def less(self, other: _Other) -> Tensor:
        return self._binary("less", other, False)

    def less_(self, other: _Other) -> Tensor:
        return self._binary_("less", other)

    def greater_equal(self, other: _Other) -> Tensor:
        return self._binary("greater_equal", other, False)

    def greater_equal_(self, other: _Other) -> Tensor:
        return self._binary_("greater_equal", other)

    def less_equal(self, other: _Other) -> Tensor:
        return self._binary("less_equal", other, False)

    def less_equal_(self, other: _Other) -> Tensor:
        return self._binary_("less_equal", other)

    def not_equal(self, other: _Other) -> Tensor:
        return self._binary("not_equal", other, False)

    def not_equal_(self, other: _Other) -> Tensor:
        return self._binary_("not_equal", other)

    def logical_and(self, other: _Other) -> Tensor:
        return self._binary("logical_and", other, False)

    def logical_and_(self, other: _Other) -> Tensor:
        return self._binary_("logical_and", other)

    def logical_or(self, other: _Other) -> Tensor:
        return self._binary("logical_or", other, False)

    def logical_or_(self, other: _Other) -> Tensor:
        return self._binary_("logical_or", other)

    def logical_xor(self, other: _Other) -> Tensor:
        return self._binary("logical_xor", other, False)

    def logical_xor_(self, other: _Other) -> Tensor:
        return self._binary_("logical_xor", other)

    def bitwise_and(self, other: _Other) -> Tensor:
        return self._binary("bitwise_and", other, False)

    def bitwise_and_(self, other: _Other) -> Tensor:
        return self._binary_("bitwise_and", other)

    def bitwise_or(self, other: _Other) -> Tensor:
        return self._binary("bitwise_or", other, False)

    def bitwise_or_(self, other: _Other) -> Tensor:
        return self._binary_("bitwise_or", other)

    def bitwise_xor(self, other: _Other) -> Tensor:
        return self._binary("bitwise_xor", other, False)

    def bitwise_xor_(self, other: _Other) -> Tensor:
        return self._binary_("bitwise_xor", other)

    def fmod(self, other: _Other) -> Tensor:
        return self._binary("fmod", other, False)

    def fmod_(self, other: _Other) -> Tensor:
        return self._binary_("fmod", other)

    def copysign(self, other: _Other) -> Tensor:
        return self._binary("copysign", other, False)

    def copysign_(self, other: _Other) -> Tensor:
        return self._binary_("copysign", other)

    def hypot(self, other: _Other) -> Tensor:
        return self._binary("hypot", other, False)

    def hypot_(self, other: _Other) -> Tensor:
        return self._binary_("hypot", other)

    def logaddexp(self, other: _Other) -> Tensor:
        return self._binary("logaddexp", other, False)

    def logaddexp_(self, other: _Other) -> Tensor:
        return self._binary_("logaddexp", other)

    def logaddexp2(self, other: _Other) -> Tensor:
        return self._binary("logaddexp2", other, False)

    def logaddexp2_(self, other: _Other) -> Tensor:
        return self._binary_("logaddexp2", other)

    def xlogy(self, other: _Other) -> Tensor:
        return self._binary("xlogy", other, False)

    def xlogy_(self, other: _Other) -> Tensor:
        return self._binary_("xlogy", other)

    def bitwise_left_shift(self, other: _Other) -> Tensor:
        return self._binary("bitwise_left_shift", other, False)

    def bitwise_left_shift_(self, other: _Other) -> Tensor:
        return self._binary_("bitwise_left_shift", other)

    def bitwise_right_shift(self, other: _Other) -> Tensor:
        return self._binary("bitwise_right_shift", other, False)

    def bitwise_right_shift_(self, other: _Other) -> Tensor:
        return self._binary_("bitwise_right_shift", other)

    # ---- arithmetic with torch's keyword forms
    def add(self, other: _Other, *, alpha: _Number = 1) -> Tensor:
        return self._binary("add", _times(other, alpha), False)

    def sub(self, other: _Other, *, alpha: _Number = 1) -> Tensor:
        return self._binary("sub", _times(other, alpha), False)

    def subtract(self, other: _Other, *, alpha: _Number = 1) -> Tensor:
        return self._binary("sub", _times(other, alpha), False)

    def add_(self, other: _Other, *, alpha: _Number = 1) -> Tensor:
        return self._binary_("add", _times(other, alpha))

    def sub_(self, other: _Other, *, alpha: _Number = 1) -> Tensor:
        return self._binary_("sub", _times(other, alpha))

    def div(self, other: _Other, *, rounding_mode: Optional[str] = None) -> Tensor:
        return _div(self, other, rounding_mode=rounding_mode)

    def divide(self, other: _Other, *, rounding_mode: Optional[str] = None) -> Tensor:
        return _div(self, other, rounding_mode=rounding_mode)

    def div_(self, other: _Other) -> Tensor:
        return self._binary_("div", other)

    def addcmul(self, tensor1: Tensor, tensor2: Tensor, *, value: _Number = 1) -> Tensor:
        return self._ternary("addcmul", tensor1, tensor2, _value(value))

    def addcmul_(self, tensor1: Tensor, tensor2: Tensor, *, value: _Number = 1) -> Tensor:
        return self._ternary_("addcmul", tensor1, tensor2, _value(value))

    def addcdiv(self, tensor1: Tensor, tensor2: Tensor, *, value: _Number = 1) -> Tensor:
        return self._ternary("addcdiv", tensor1, tensor2, _value(value))

    def addcdiv_(self, tensor1: Tensor, tensor2: Tensor, *, value: _Number = 1) -> Tensor:
        return self._ternary_("addcdiv", tensor1, tensor2, _value(value))

    def lerp(self, end: Tensor, weight: Union[Tensor, _Number]) -> Tensor:
        return _lerp(self, end, weight, False)

    def lerp_(self, end: Tensor, weight: Union[Tensor, _Number]) -> Tensor:
        return _lerp(self, end, weight, True)

    def logit(self, eps: Optional[float] = None) -> Tensor:
        # torch.logit(x, eps): the input clamped to [eps, 1 - eps] first (gradient 0 outside)
        return (self if eps is None else self.clamp(eps, 1 - eps))._unary("logit")

    def polygamma(self, n: int) -> Tensor:
        return _polygamma(self, n)

    def polygamma_(self, n: int) -> Tensor:
        return _inplace_via(self, lambda s: _polygamma(s, n))

    def round(self, *, decimals: int = 0) -> Tensor:  # type: ignore[override]
        return _ops._round(self, decimals=decimals)

    def clamp(self, min: Optional[Union[_Number, Tensor]] = None, max: Optional[Union[_Number, Tensor]] = None) -> Tensor:
        return _clamp(self, min, max)

    clip = clamp

    def clamp_(self, min: Optional[Union[_Number, Tensor]] = None, max: Optional[Union[_Number, Tensor]] = None) -> Tensor:
        return _inplace_via(self, lambda s: s.clamp(min, max))

    clip_ = clamp_

    def masked_fill_(self, mask: Tensor, value: Union[_Number, Tensor]) -> Tensor:
        return _inplace_via(self, lambda s: s.masked_fill(mask, value))

    def masked_select(self, mask: Tensor) -> Tensor:
        return _masked_select(self, mask)

    def where(self, condition: Tensor, y: Any) -> Tensor:
        from . import where

        return where(condition, self, y)

    # ---- reductions: torch's `axis=`, `keepdims=` and `out=` spellings on every one
    def sum(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.sum(self, *args) if not kwargs else _aliased(_C.TensorBase.sum, self, args, kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.mean(self, *args) if not kwargs else _aliased(_C.TensorBase.mean, self, args, kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.prod(self, *args) if not kwargs else _aliased(_C.TensorBase.prod, self, args, kwargs)

    def amax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.amax(self, *args) if not kwargs else _aliased(_C.TensorBase.amax, self, args, kwargs)

    def amin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.amin(self, *args) if not kwargs else _aliased(_C.TensorBase.amin, self, args, kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.argmax(self, *args) if not kwargs else _aliased(_C.TensorBase.argmax, self, args, kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.argmin(self, *args) if not kwargs else _aliased(_C.TensorBase.argmin, self, args, kwargs)

    def all(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.all(self, *args) if not kwargs else _aliased(_C.TensorBase.all, self, args, kwargs)

    def any(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.any(self, *args) if not kwargs else _aliased(_C.TensorBase.any, self, args, kwargs)

    def logsumexp(self, *args: Any, **kwargs: Any) -> Tensor:
        return _C.TensorBase.logsumexp(self, *args) if not kwargs else _aliased(_C.TensorBase.logsumexp, self, args, kwargs)

    @overload
    def max(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def max(self, dim: Tensor, keepdim: bool = False) -> Tensor: ...
    @overload
    def max(self, dim: int, keepdim: bool = False) -> _ValuesIndices: ...

    def max(self, *args: Any, **kwargs: Any) -> Any:
        return _max(self, *args) if not kwargs else _aliased(_max, self, args, kwargs)

    @overload
    def min(self, dim: None = None, keepdim: bool = False) -> Tensor: ...
    @overload
    def min(self, dim: Tensor, keepdim: bool = False) -> Tensor: ...
    @overload
    def min(self, dim: int, keepdim: bool = False) -> _ValuesIndices: ...

    def min(self, *args: Any, **kwargs: Any) -> Any:
        return _min(self, *args) if not kwargs else _aliased(_min, self, args, kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Tensor:
        return _var(self, *args) if not kwargs else _aliased(_var, self, args, kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Tensor:
        return _std(self, *args) if not kwargs else _aliased(_std, self, args, kwargs)

    def norm(self, *args: Any, **kwargs: Any) -> Tensor:
        return _norm(self, *args) if not kwargs else _aliased(_norm, self, args, kwargs)

    def cummax(self, dim: int) -> _ValuesIndices:
        v, i = self._cum_extreme(True, int(dim))
        return _return_types["cummax"](v, i)

    def cummin(self, dim: int) -> _ValuesIndices:
        v, i = self._cum_extreme(False, int(dim))
        return _return_types["cummin"](v, i)

    def aminmax(self, *, dim: Optional[int] = None, keepdim: bool = False) -> Any:
        return _ops.aminmax(self, dim=dim, keepdim=keepdim)

    def nansum(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.nansum(self, *args, **kwargs)

    def nanmean(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.nanmean(self, *args, **kwargs)

    def count_nonzero(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.count_nonzero(self, *args, **kwargs)

    def median(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.median(self, *args, **kwargs)

    def nanmedian(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.nanmedian(self, *args, **kwargs)

    def mode(self, *args: Any, **kwargs: Any) -> _ValuesIndices:
        return _ops.mode(self, *args, **kwargs)

    def kthvalue(self, *args: Any, **kwargs: Any) -> _ValuesIndices:
        return _ops.kthvalue(self, *args, **kwargs)

    def trace(self) -> Tensor:
        return _ops.trace(self)

    # ---- torch.linalg's square-matrix functions as methods (torch.det and friends)
    def det(self) -> Tensor:
        from . import linalg

        return linalg.det(self)

    def inverse(self) -> Tensor:
        from . import linalg

        return linalg.inv(self)

    def slogdet(self) -> Any:
        from . import linalg

        return linalg.slogdet(self)

    def logdet(self) -> Tensor:
        from . import logdet

        return logdet(self)

    def matrix_power(self, n: int) -> Tensor:
        from . import linalg

        return linalg.matrix_power(self, n)

    def matrix_exp(self) -> Tensor:
        from . import linalg

        return linalg.matrix_exp(self)

    # ---- linear algebra (autocast casts the operands of the matrix products inside a region)
    def matmul(self, other: Tensor) -> Tensor:
        if _autocast_on():
            self, other = _amp._cast_lower(self, other)
        return _C.TensorBase.matmul(self, other)

    def __matmul__(self, other: Tensor, /) -> Tensor:
        if _autocast_on():
            self, other = _amp._cast_lower(self, other)
        return _C.TensorBase.__matmul__(self, other)

    def __rmatmul__(self, other: Tensor, /) -> Tensor:
        if _autocast_on():
            self, other = _amp._cast_lower(self, other)
        return _C.TensorBase.__rmatmul__(self, other)

    def mm(self, other: Tensor) -> Tensor:
        if self.ndim != 2 or other.ndim != 2:
            raise RuntimeError(f"mm: expected 2-D tensors, got {self.ndim}-D and {other.ndim}-D")
        return self.matmul(other)

    def bmm(self, other: Tensor) -> Tensor:
        if self.ndim != 3 or other.ndim != 3 or self.shape[0] != other.shape[0]:
            raise RuntimeError(f"bmm: expected 3-D tensors with equal batch sizes, got shapes {list(self.shape)} and {list(other.shape)}")
        return self.matmul(other)

    def mv(self, vec: Tensor) -> Tensor:
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got {self.ndim}-D and {vec.ndim}-D")
        if _autocast_on():
            # torch's CPU list leaves mv out
            self, vec = _amp._cast_lower(self, vec, gpu_only=True)
        return _C.TensorBase.matmul(self, vec)

    def dot(self, other: Tensor) -> Tensor:
        return _dot(self, other)

    def outer(self, other: Tensor) -> Tensor:
        if self.ndim != 1 or other.ndim != 1:
            raise RuntimeError(f"outer: expected 1-D vectors, got {self.ndim}-D and {other.ndim}-D")
        return self.reshape(-1, 1) * other.reshape(1, -1)

    def addmm(self, mat1: Tensor, mat2: Tensor, *, beta: _Number = 1, alpha: _Number = 1) -> Tensor:
        return _add_scaled(self, mat1.mm(mat2), beta, alpha, "addmm")

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: _Number = 1, alpha: _Number = 1) -> Tensor:
        return _add_scaled(self, batch1.bmm(batch2), beta, alpha, "baddbmm")

    def kron(self, other: Tensor) -> Tensor:
        return _ops.kron(self, other)

    def cross(self, other: Tensor, dim: Optional[int] = None) -> Tensor:
        return _ops.cross(self, other, dim)

    def softmax(self, dim: int, dtype: Any = None) -> Tensor:
        if dtype is None and _autocast_on():
            # torch's CUDA autocast runs softmax in float32 (a CPU region keeps the lower dtype)
            (self,) = _amp._cast_fp32(self, devices=("cuda",))
        return _C.TensorBase.softmax(self, dim, dtype)

    def log_softmax(self, dim: int, dtype: Any = None) -> Tensor:
        if dtype is None and _autocast_on():
            (self,) = _amp._cast_fp32(self, devices=("cuda",))
        return _C.TensorBase.log_softmax(self, dim, dtype)

    # ---- devices, dtypes, conversion
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        return _to(self, *args, **kwargs)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: Optional[_DeviceLike] = None, non_blocking: bool = False) -> Tensor:
        return self.to("gpu" if device is None else f"gpu:{device}" if isinstance(device, int) else device)

    gpu = cuda

    def bfloat16(self, memory_format: Any = None) -> Tensor:
        return self._to_dtype(_C.bfloat16)

    def byte(self, memory_format: Any = None) -> Tensor:
        return self._to_dtype(_C.uint8)

    def char(self, memory_format: Any = None) -> Tensor:
        return self._to_dtype(_C.int8)

    def short(self, memory_format: Any = None) -> Tensor:
        return self._to_dtype(_C.int16)

    def type_as(self, other: Tensor) -> Tensor:
        return self._to_dtype(other.dtype)

    @overload
    def type(self, dtype: None = None) -> str: ...
    @overload
    def type(self, dtype: _DTypeLike) -> Tensor: ...

    def type(self, dtype: Any = None) -> Any:
        return f"rustensor.{_TYPE_NAMES[_dtype_name(self.dtype)]}" if dtype is None else self._to_dtype(dtype)

    def numpy(self, force: bool = False) -> npt.NDArray[Any]:
        return _numpy(self, force)

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> npt.NDArray[Any]:
        return _array(self, dtype, copy)

    def tolist(self) -> Any:
        return _tolist(self)

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(repr(self), spec)

    def __contains__(self, item: Any) -> bool:
        return bool((self == item).any())

    def __deepcopy__(self, memo: Dict[int, Any]) -> Tensor:
        return _deepcopy(self, memo)

    def __copy__(self) -> Self:
        return self

    def __reduce_ex__(self, proto: Any) -> Any:
        return (_rebuild, (np.asarray(self.detach().cpu()).copy(), self.requires_grad))

    def __dlpack__(self, *, stream: Any = None, max_version: Optional[Tuple[int, int]] = None, dl_device: Optional[Tuple[int, int]] = None, copy: Optional[bool] = None) -> Any:
        from .utils import dlpack

        return dlpack.__dlpack__(self, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)

    def __dlpack_device__(self) -> Tuple[int, int]:
        from .utils import dlpack

        return dlpack.__dlpack_device__(self)

    # ---- autograd
    def register_hook(self, hook: Callable[[Tensor], Optional[Tensor]]) -> _RemovableHandle:
        return _register_hook(self, hook)

    # ---- shape and indexing
    def view(self, *shape: Any) -> Tensor:
        return _ops._view(self, *shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(*other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(*other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return self.expand(*shape)

    def repeat(self, *sizes: Any) -> Tensor:
        return _repeat(self, *sizes)

    def tile(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _repeat(self, *((1,) * (self.ndim - len(dims)) + tuple(dims)))

    def triu(self, diagonal: int = 0) -> Tensor:
        return _tri(self, True, diagonal)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _tri(self, False, diagonal)

    @property
    def H(self) -> Tensor:
        if self.ndim != 2:
            raise RuntimeError("tensor.H is only supported on matrices (2-D tensors)")
        return self.mT

    def new_zeros(self, *size: Any, dtype: Optional[_DTypeLike] = None, device: Optional[_DeviceLike] = None, requires_grad: bool = False) -> Tensor:
        return _new(self, 0, size, dtype, device, requires_grad)

    def new_ones(self, *size: Any, dtype: Optional[_DTypeLike] = None, device: Optional[_DeviceLike] = None, requires_grad: bool = False) -> Tensor:
        return _new(self, 1, size, dtype, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Optional[_DTypeLike] = None, device: Optional[_DeviceLike] = None, requires_grad: bool = False) -> Tensor:
        return _new(self, 0, size, dtype, device, requires_grad)

    def new_full(self, size: Sequence[int], fill_value: _Number, dtype: Optional[_DTypeLike] = None, device: Optional[_DeviceLike] = None, requires_grad: bool = False) -> Tensor:
        return _new(self, fill_value, tuple(size), dtype, device, requires_grad)

    def new_tensor(self, data: Any, dtype: Optional[_DTypeLike] = None, device: Optional[_DeviceLike] = None, requires_grad: bool = False) -> Tensor:
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    # ---- sorting, selection, shape and index ops (python/rustensor/_ops.py)
    def sort(self, *args: Any, **kwargs: Any) -> _ValuesIndices:
        return _ops.sort(self, *args, **kwargs)

    def argsort(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.argsort(self, *args, **kwargs)

    def msort(self) -> Tensor:
        return _ops.msort(self)

    def topk(self, *args: Any, **kwargs: Any) -> _ValuesIndices:
        return _ops.topk(self, *args, **kwargs)

    def unique(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.unique(self, *args, **kwargs)

    def unique_consecutive(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.unique_consecutive(self, *args, **kwargs)

    def bincount(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.bincount(self, *args, **kwargs)

    def histc(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.histc(self, *args, **kwargs)

    def roll(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.roll(self, *args, **kwargs)

    def repeat_interleave(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.repeat_interleave(self, *args, **kwargs)

    def unflatten(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.unflatten(self, *args, **kwargs)

    def movedim(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.movedim(self, *args, **kwargs)

    def moveaxis(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.moveaxis(self, *args, **kwargs)

    def swapaxes(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.swapaxes(self, *args, **kwargs)

    def swapdims(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.swapdims(self, *args, **kwargs)

    def diag(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.diag(self, *args, **kwargs)

    def diag_embed(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.diag_embed(self, *args, **kwargs)

    def diagflat(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.diagflat(self, *args, **kwargs)

    def take(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.take(self, *args, **kwargs)

    def take_along_dim(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.take_along_dim(self, *args, **kwargs)

    def tensor_split(self, *args: Any, **kwargs: Any) -> Tuple[Tensor, ...]:
        return _ops.tensor_split(self, *args, **kwargs)

    def hsplit(self, *args: Any, **kwargs: Any) -> Tuple[Tensor, ...]:
        return _ops.hsplit(self, *args, **kwargs)

    def vsplit(self, *args: Any, **kwargs: Any) -> Tuple[Tensor, ...]:
        return _ops.vsplit(self, *args, **kwargs)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        return _ops._unfold(self, dimension, size, step)

    def index_add(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.index_add(self, *args, **kwargs)

    def index_copy(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.index_copy(self, *args, **kwargs)

    def index_fill(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.index_fill(self, *args, **kwargs)

    def masked_scatter(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.masked_scatter(self, *args, **kwargs)

    def scatter_reduce(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.scatter_reduce(self, *args, **kwargs)

    def scatter(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.scatter(self, *args, **kwargs)

    def index_add_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.index_add(s, *args, **kwargs))

    def index_copy_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.index_copy(s, *args, **kwargs))

    def index_fill_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.index_fill(s, *args, **kwargs))

    def masked_scatter_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.masked_scatter(s, *args, **kwargs))

    def scatter_reduce_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.scatter_reduce(s, *args, **kwargs))

    def scatter_(self, *args: Any, **kwargs: Any) -> Tensor:
        return _inplace_via(self, lambda s: _ops.scatter(s, *args, **kwargs))

    # ---- random fills (python/rustensor/_random.py)
    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
        return _random.uniform_(self, a, b, generator=generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        return _random.normal_(self, mean, std, generator=generator)

    def bernoulli_(self, p: Union[float, Tensor] = 0.5, *, generator: Any = None) -> Tensor:
        return _random.bernoulli_(self, p, generator=generator)

    def exponential_(self, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
        return _random.exponential_(self, lambd, generator=generator)

    def random_(self, from_: int = 0, to: Optional[int] = None, *, generator: Any = None) -> Tensor:
        return _random.random_(self, from_, to, generator=generator)

    def bernoulli(self, p: Union[float, Tensor, None] = None, *, generator: Any = None) -> Tensor:
        return _random.bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Tensor:
        return _random.multinomial(self, num_samples, replacement, generator=generator)


_C._set_tensor_class(Tensor)

# the method bodies above call into these; they import this module's names, so they come last
from . import _ops, _ops_common, _random  # noqa: E402
from .amp import autocast_mode as _amp  # noqa: E402
