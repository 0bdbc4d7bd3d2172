"""Helpers shared by the composite ops: dims, host round trips, ``out=`` and keyword aliases."""

from __future__ import annotations

import builtins
import functools

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import from_numpy
from .autograd import no_grad as _NoGrad

_b = builtins


def _wrap_dim(dim: int, ndim: int, op: str) -> int:
    n = _b.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _host(t: Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu())


def _on(arr: np.ndarray, like: Tensor, dtype=None) -> Tensor:
    """A fresh tensor of ``arr`` on ``like``'s device."""
    # a private C-ordered copy (np.ascontiguousarray would turn 0-d into 1-d)
    t = from_numpy(np.array(arr, order="C", copy=True))
    if dtype is not None:
        t = t._to_dtype(dtype)
    return t if like.device.type == "cpu" else t.to(like.device)


def _long(arr: np.ndarray, like: Tensor) -> Tensor:
    return _on(np.asarray(arr, dtype=np.int64), like)


def _scalar_like(v, like: Tensor) -> Tensor:
    t = _C._scalar_tensor(v, like.dtype)
    return t if like.device.type == "cpu" else t.to(like.device)


def _zeros(shape, dtype, device) -> Tensor:
    return _C._full(list(shape), 0, dtype, device)


def _arange(n: int, device=None) -> Tensor:
    return _C._arange(0, n, 1, _C.int64, device)


def _dims_arg(dims):
    if dims is None:
        return None
    if isinstance(dims, (int, np.integer)):
        return [int(dims)]
    return [int(d) for d in dims]


def _check_tensor(x, op: str, arg: str = "input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(x).__name__}")


def _out(result, out):
    """torch's ``out=``: the result is written into ``out`` (of the result's shape) and
    ``out`` is returned. rustensor cannot resize a tensor in place, so a shape mismatch raises."""
    if out is None:
        return result
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"out= expects a tuple of {len(result)} tensors")
        for o, r in zip(out, result):
            _out(r, o)
        return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a Tensor, not {type(out).__name__}")
    if tuple(out.shape) != tuple(result.shape):
        raise RuntimeError(
            f"out=: the output tensor has shape {list(out.shape)} but the result has shape "
            f"{list(result.shape)}; rustensor does not resize out= tensors"
        )
    if out.requires_grad and _C.is_grad_enabled():
        raise RuntimeError("out=... arguments don't support automatic differentiation, but one of the arguments requires grad.")
    with _NoGrad():
        out.copy_(result)
    return out



def _alias_kwargs(kwargs: dict) -> dict:
    """NumPy's spellings torch also accepts: ``axis`` for ``dim``, ``keepdims`` for ``keepdim``."""
    if "axis" in kwargs:
        if "dim" in kwargs:
            raise TypeError("got both 'dim' and its alias 'axis'")
        kwargs["dim"] = kwargs.pop("axis")
    if "keepdims" in kwargs:
        if "keepdim" in kwargs:
            raise TypeError("got both 'keepdim' and its alias 'keepdims'")
        kwargs["keepdim"] = kwargs.pop("keepdims")
    return kwargs


def _with_aliases(f):
    """Wraps a reduction so it accepts ``axis=``, ``keepdims=`` and ``out=``."""

    @functools.wraps(f)
    def g(*args, **kwargs):
        if not kwargs:  # the common call costs one extra frame, nothing more
            return f(*args)
        out = kwargs.pop("out", None)
        return _out(f(*args, **_alias_kwargs(kwargs)), out)

    del g.__wrapped__  # the signature users see is the permissive one
    return g
