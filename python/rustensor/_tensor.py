"""Tensor construction from Python data, indexing, printing, and the Tensor methods
that are conveniences over the Rust primitives (added onto the compiled class here)."""

from __future__ import annotations

import builtins
import collections
import copy as _copy
from typing import Any

import numpy as np

from . import _rustensor as _C
from ._rustensor import Tensor
from ._tensor_str import format_tensor

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

_return_types = {
    "max": collections.namedtuple("max", ["values", "indices"]),
    "min": collections.namedtuple("min", ["values", "indices"]),
    "cummax": collections.namedtuple("cummax", ["values", "indices"]),
    "cummin": collections.namedtuple("cummin", ["values", "indices"]),
}


def _cum_extreme(name: str, is_max: bool):
    def f(self, dim):
        v, i = self._cum_extreme(is_max, int(dim))
        return _return_types[name](v, i)

    f.__name__ = name
    return f


def _polygamma(self, n):
    if isinstance(n, Tensor) or not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return self._binary("_polygamma", n, False)


def _extreme(name: str, is_max: bool):
    def f(self, dim=None, keepdim=False):
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

    f.__name__ = name
    return f


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


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(self.unbind(0))


def _format(self, spec):
    if self.ndim == 0:
        return format(self.item(), spec)
    return object.__format__(repr(self), spec)


def _var_like(std: bool):
    def f(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        if isinstance(unbiased, bool) or unbiased is None:
            pass
        else:  # var(dim_as_positional_int, ...) already covered; unbiased given positionally as dim
            raise TypeError("unbiased must be a bool")
        if isinstance(dim, bool):  # var(True) means unbiased=True in torch's old signature
            unbiased, dim = dim, None
        c = 1.0 if correction is None else float(correction)
        if unbiased is not None and correction is None:
            c = 1.0 if unbiased else 0.0
        return self._var(dim, c, keepdim, std)

    f.__name__ = "std" if std else "var"
    return f


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


def _tri(upper: bool):
    def f(self, diagonal=0):
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

    f.__name__ = "triu" if upper else "tril"
    return f


def _where_m(self, condition, y):
    from . import where

    return where(condition, self, y)


def _new(fill):
    def f(self, *size, dtype=None, device=None, requires_grad=False):
        from . import full

        return full(size, fill, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    return f


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


def _reduce_ex(self, proto):
    return (_rebuild, (np.asarray(self.detach().cpu()).copy(), self.requires_grad))


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


def _install() -> None:
    T = Tensor
    unary = [
        "abs", "neg", "negative", "sign", "square", "expm1", "log1p", "log2", "log10", "rsqrt",
        "reciprocal", "sin", "cos", "tan", "floor", "ceil", "round", "trunc", "fix", "isnan", "isinf",
        "isfinite", "logical_not", "bitwise_not", "absolute", "exp2", "asin", "arcsin", "acos",
        "arccos", "atan", "arctan", "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh", "atanh",
        "arctanh", "logit", "erf", "erfc", "erfinv", "lgamma", "digamma", "sinc", "deg2rad",
        "rad2deg", "frac", "signbit",
    ]
    for n in unary:
        setattr(T, n, (lambda n: lambda self: self._unary(n))(n))
    # torch.logit(x, eps): the input clamped to [eps, 1 - eps] first (gradient 0 outside)
    T.logit = lambda self, eps=None: (self if eps is None else self.clamp(eps, 1 - eps))._unary("logit")
    for n in unary + ["exp", "log", "relu", "sigmoid", "tanh", "sqrt"]:
        if n in ("isnan", "isinf", "isfinite", "signbit"):
            continue
        setattr(T, n + "_", (lambda n: lambda self: self._unary_(n))(n))
    binary = [
        "mul", "multiply", "true_divide", "floor_divide", "remainder", "pow", "maximum", "minimum",
        "atan2", "arctan2", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal",
        "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor", "bitwise_and",
        "bitwise_or", "bitwise_xor", "fmod", "copysign", "hypot", "logaddexp", "logaddexp2", "xlogy",
        "bitwise_left_shift", "bitwise_right_shift",
    ]
    for n in binary:
        setattr(T, n, (lambda n: lambda self, other: self._binary(n, other, False))(n))
        setattr(T, n + "_", (lambda n: lambda self, other: self._binary_(n, other))(n))

    def add(self, other, *, alpha=1):
        return self._binary("add", other if alpha == 1 else other * alpha, False)

    def sub(self, other, *, alpha=1):
        return self._binary("sub", other if alpha == 1 else other * alpha, False)

    def add_(self, other, *, alpha=1):
        return self._binary_("add", other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        return self._binary_("sub", other if alpha == 1 else other * alpha)

    T.add, T.sub, T.subtract, T.add_, T.sub_ = add, sub, sub, add_, sub_

    def _value(v):
        # torch's `value` is a Number; numpy scalars and the like convert too
        if isinstance(v, T) or not hasattr(v, "__float__"):
            raise TypeError(f"argument 'value' must be Number, not {type(v).__name__}")
        return float(v)

    def _weight(self, end, weight, inplace):
        f = self._ternary_ if inplace else self._ternary
        if isinstance(weight, T):
            return f("lerp", end, weight, 0.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TypeError(f"lerp(): argument 'weight' (position 2) must be Tensor or Number, not {type(weight).__name__}")
        return f("lerp", end, None, float(weight))

    T.addcmul = lambda self, tensor1, tensor2, *, value=1: self._ternary("addcmul", tensor1, tensor2, _value(value))
    T.addcmul_ = lambda self, tensor1, tensor2, *, value=1: self._ternary_("addcmul", tensor1, tensor2, _value(value))
    T.addcdiv = lambda self, tensor1, tensor2, *, value=1: self._ternary("addcdiv", tensor1, tensor2, _value(value))
    T.addcdiv_ = lambda self, tensor1, tensor2, *, value=1: self._ternary_("addcdiv", tensor1, tensor2, _value(value))
    T.lerp = lambda self, end, weight: _weight(self, end, weight, False)
    T.lerp_ = lambda self, end, weight: _weight(self, end, weight, True)
    T.div = T.divide = _div
    T.div_ = lambda self, other: self._binary_("div", other)
    T.max = _extreme("max", True)
    T.min = _extreme("min", False)
    T.cummax = _cum_extreme("cummax", True)
    T.cummin = _cum_extreme("cummin", False)
    T.polygamma = _polygamma
    T.polygamma_ = lambda self, n: _inplace_via(self, lambda s: _polygamma(s, n))
    T.var = _var_like(False)
    T.std = _var_like(True)
    T.norm = _norm
    T.to = _to
    T.cpu = lambda self: self.to("cpu")
    T.cuda = lambda self, device=None, non_blocking=False: self.to("gpu" if device is None else f"gpu:{device}" if isinstance(device, int) else device)
    T.gpu = T.cuda
    T.numpy = _numpy
    T.__array__ = _array
    T.tolist = _tolist
    T.__iter__ = _iter
    T.__format__ = _format
    T.__deepcopy__ = _deepcopy
    T.__copy__ = lambda self: self
    T.__reduce_ex__ = _reduce_ex
    T.repeat = _repeat
    T.tile = lambda self, *dims: _repeat(self, *((1,) * (self.ndim - len(dims)) + tuple(dims if not (len(dims) == 1 and isinstance(dims[0], (tuple, list))) else dims[0])))
    T.triu = _tri(True)
    T.tril = _tri(False)
    T.where = _where_m
    T.expand_as = lambda self, other: self.expand(*other.shape)
    T.view_as = lambda self, other: self.view(*other.shape)
    T.reshape_as = lambda self, other: self.reshape(*other.shape)
    T.broadcast_to = lambda self, shape: self.expand(*shape)
    T.type_as = lambda self, other: self._to_dtype(other.dtype)
    T.mm = lambda self, other: self.matmul(other) if self.ndim == 2 and other.ndim == 2 else _raise(RuntimeError, f"mm: expected 2-D tensors, got {self.ndim}-D and {other.ndim}-D")
    T.bmm = lambda self, other: self.matmul(other) if self.ndim == 3 and other.ndim == 3 and self.shape[0] == other.shape[0] else _raise(RuntimeError, f"bmm: expected 3-D tensors with equal batch sizes, got shapes {list(self.shape)} and {list(other.shape)}")
    T.mv = lambda self, vec: self.matmul(vec) if self.ndim == 2 and vec.ndim == 1 else _raise(RuntimeError, f"mv: expected a 2-D matrix and a 1-D vector, got {self.ndim}-D and {vec.ndim}-D")
    T.dot = _dot
    _install_matmul_autocast(T)
    T.outer = lambda self, other: self.reshape(-1, 1) * other.reshape(1, -1) if self.ndim == 1 and other.ndim == 1 else _raise(RuntimeError, f"outer: expected 1-D vectors, got {self.ndim}-D and {other.ndim}-D")
    T.masked_select = _masked_select
    T.round = _round
    T.masked_fill_ = lambda self, mask, value: _inplace_via(self, lambda s: s.masked_fill(mask, value))
    T.clamp = _clamp
    T.register_hook = _register_hook
    T.clamp_ = lambda self, min=None, max=None: _inplace_via(self, lambda s: s.clamp(min, max))
    T.clip = T.clamp
    T.clip_ = T.clamp_
    T.new_zeros = _new(0)
    T.new_ones = _new(1)
    T.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: _new(fill_value)(self, *size, dtype=dtype, device=device, requires_grad=requires_grad)
    T.new_empty = _new(0)
    T.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)
    T.byte = lambda self, memory_format=None: self._to_dtype(_C.uint8)
    T.char = lambda self, memory_format=None: self._to_dtype(_C.int8)
    T.short = lambda self, memory_format=None: self._to_dtype(_C.int16)
    T.bfloat16 = lambda self, memory_format=None: self._to_dtype(_C.bfloat16)
    T.type = lambda self, dtype=None: (f"rustensor.{_TYPE_NAMES[_dtype_name(self.dtype)]}" if dtype is None else self._to_dtype(dtype))
    T.__contains__ = lambda self, item: bool((self == item).any())
    T.H = property(lambda self: self.mT if self.ndim == 2 else _raise(RuntimeError, "tensor.H is only supported on matrices (2-D tensors)"))


_clamp_rs = Tensor.clamp


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


_register_hook_rs = Tensor.register_hook


def _register_hook(self, hook):
    handle = _RemovableHandle()

    def call(g):
        return hook(g) if handle.active else None

    # torch's messages name the user's hook ("hook 'scale' has changed the size of value")
    call.__name__ = getattr(hook, "__name__", type(hook).__name__)
    _register_hook_rs(self, call)
    return handle


_raw_matmul = None


def _install_matmul_autocast(T) -> None:
    """matmul, ``@``, mm and bmm (and the addmm/baddbmm built on them) cast their inputs to
    the autocast dtype inside a region, as torch's CPU and CUDA policies do; mv only on the
    GPU (torch's CPU list leaves it out). Outside a region the cost is one attribute lookup."""
    from .amp import autocast_mode as _ac

    global _raw_matmul
    raw = {n: getattr(T, n) for n in ("matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "mv")}
    _raw_matmul = raw["matmul"]

    def on():
        return _ac._state.__dict__.get("stack")

    def matmul(self, other):
        if on():
            self, other = _ac._cast_lower(self, other)
        return raw["matmul"](self, other)

    def __matmul__(self, other, /):
        if on():
            self, other = _ac._cast_lower(self, other)
        return raw["__matmul__"](self, other)

    def __rmatmul__(self, other, /):
        if on():
            self, other = _ac._cast_lower(self, other)
        return raw["__rmatmul__"](self, other)

    def mm(self, other):
        if on():
            self, other = _ac._cast_lower(self, other)
        return raw["mm"](self, other)

    def bmm(self, other):
        if on():
            self, other = _ac._cast_lower(self, other)
        return raw["bmm"](self, other)

    def mv(self, vec):
        if self.ndim != 2 or vec.ndim != 1:
            raise RuntimeError(f"mv: expected a 2-D matrix and a 1-D vector, got {self.ndim}-D and {vec.ndim}-D")
        if on():
            self, vec = _ac._cast_lower(self, vec, gpu_only=True)
        return _raw_matmul(self, vec)

    T.matmul, T.__matmul__, T.__rmatmul__, T.mm, T.bmm, T.mv = matmul, __matmul__, __rmatmul__, mm, bmm, mv

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _add_scaled(self, mat1.mm(mat2), beta, alpha, "addmm")

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _add_scaled(self, batch1.bmm(batch2), beta, alpha, "baddbmm")

    T.addmm, T.baddbmm = addmm, baddbmm


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
    return _raw_matmul(self, other)


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


def _round(self, *, decimals=0):
    if decimals == 0:
        return self._unary("round")
    # torch's formula: scale, round half to even, unscale
    if decimals > 0:
        s = 10.0 ** decimals
        return (self * s)._unary("round") / s
    s = 10.0 ** (-decimals)
    return (self / s)._unary("round") * s


_install()


def _autocast_softmax() -> None:
    # torch's CUDA autocast runs softmax/log_softmax in float32 (a CPU region keeps the lower
    # dtype); an explicit dtype= makes the call ineligible, as in torch
    from .amp.autocast_mode import _cast_fp32, _current

    def wrap(name):
        base = getattr(Tensor, name)

        def f(self, dim, dtype=None):
            if dtype is None and _current() is not None:
                (self,) = _cast_fp32(self, devices=("cuda",))
            return base(self, dim, dtype)

        f.__name__ = name
        return f

    for name in ("softmax", "log_softmax"):
        setattr(Tensor, name, wrap(name))


_autocast_softmax()
