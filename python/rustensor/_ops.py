"""Extra reductions (std_mean, var_mean, nansum, nanmean, count_nonzero, aminmax),
round(decimals=), view(dtype), and the Tensor methods for every composite op, with
torch's keyword forms (axis=, keepdims=, out=). The composites themselves live in
_sorting.py and _shape_ops.py; this module re-exports them.

Each composite is differentiable exactly where the core ops it is built from are.
Where the core has no kernel (sorting, unique, searchsorted, multinomial, the non-sum
scatter reductions) the work that cannot be differentiated (finding indices) runs on the
host through NumPy, and values are then taken with ``gather``/``index_select`` on the
input's own device so gradients flow as torch's do.
"""

from __future__ import annotations

import collections

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import _NP_OF, _dtype_name, from_numpy
from ._ops_common import (  # noqa: F401
    _alias_kwargs, _out, _scalar_like, _with_aliases,
)
from ._sorting import (  # noqa: F401 - the torch-named functions are re-exported from here
    argsort, bincount, bucketize, histc, kthvalue, median, mode, msort, nanmedian, searchsorted, sort, topk,
    unique, unique_consecutive,
)
from ._shape_ops import (  # noqa: F401
    atleast_1d, atleast_2d, atleast_3d, block_diag, cartesian_prod, cdist, column_stack,
    cross, diag, diag_embed, diagflat, dstack, hsplit, hstack, index_add, index_copy, index_fill, kron,
    masked_scatter, meshgrid, moveaxis, movedim, repeat_interleave, roll, row_stack, scatter, scatter_reduce,
    swapaxes, swapdims, take, take_along_dim, tensor_split, tensordot, tril_indices, triu_indices, trace,
    unflatten, vsplit, vstack, _unfold,
)

_aminmax_t = collections.namedtuple("aminmax", ["min", "max"])  # type: ignore[name-match]  # torch names the type after the op


# ------------------------------------------------------------------ reductions

def _var_args(args, kwargs, op):
    """torch's var/std argument forms: (dim, unbiased, keepdim) positionally or keywords."""
    kwargs = _alias_kwargs(dict(kwargs))
    names = ["dim", "unbiased", "keepdim"]
    if args and isinstance(args[0], bool):
        names = ["unbiased"]
    for n, a in zip(names, args):
        if n in kwargs:
            raise TypeError(f"{op}() got multiple values for argument '{n}'")
        kwargs[n] = a
    return kwargs


def var_mean(input, *args, **kwargs):
    kw = _var_args(args, kwargs, "var_mean")
    dim, keepdim = kw.get("dim"), kw.get("keepdim", False)
    v = input.var(dim, kw.get("unbiased"), keepdim, correction=kw.get("correction"))
    return v, (input.mean(dim, keepdim) if dim is not None else (input.mean().reshape([1] * input.ndim) if keepdim else input.mean()))


def std_mean(input, *args, **kwargs):
    kw = _var_args(args, kwargs, "std_mean")
    dim, keepdim = kw.get("dim"), kw.get("keepdim", False)
    s = input.std(dim, kw.get("unbiased"), keepdim, correction=kw.get("correction"))
    return s, (input.mean(dim, keepdim) if dim is not None else (input.mean().reshape([1] * input.ndim) if keepdim else input.mean()))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = _C._where(input.isnan(), _scalar_like(0, input), input) if input.is_floating_point() else input
    return x.sum(dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if not input.is_floating_point():
        raise NotImplementedError(f"nanmean(): expected input to have floating point or complex dtype but got {_dtype_name(input.dtype).capitalize()}")
    keep = input.isnan().logical_not()
    x = _C._where(keep, input, _scalar_like(0, input))
    return x.sum(dim, keepdim, dtype=dtype) / keep._to_dtype(input.dtype).sum(dim, keepdim)


def count_nonzero(input, dim=None):
    return (input != 0)._to_dtype(_C.int64).sum(dim)


def aminmax(input, *, dim=None, keepdim=False, out=None):
    if input.numel() == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity.")
    if dim is None:
        lo, hi = input.amin(), input.amax()
        if keepdim:
            lo, hi = lo.reshape([1] * input.ndim), hi.reshape([1] * input.ndim)
    else:
        lo, hi = input.amin(dim, keepdim), input.amax(dim, keepdim)
    return _out(_aminmax_t(lo, hi), out)


def _round(self, *, decimals=0):
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    if decimals == 0:
        return self._unary("round")
    if not self.is_floating_point():
        raise NotImplementedError(f"\"round_cpu\" not implemented for '{_dtype_name(self.dtype).capitalize()}' with decimals={decimals}")
    s = 10.0 ** decimals
    # torch rounds x * 10^d half to even and divides back, as here
    return (self * s)._unary("round") / s


# ------------------------------------------------------------------ dtype reinterpretation

def _view(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], _C.dtype):
        return _view_dtype(self, shape[0])
    return _view_rs(self, *shape)


_view_rs = _C.TensorBase.view


def _view_dtype(self, dtype):
    if dtype == self.dtype:
        return _view_rs(self, *self.shape)
    if self.device.type != "cpu":
        raise RuntimeError(f"view(dtype): reinterpreting {self.dtype} as {dtype} is supported for CPU tensors only, got a {self.device.type} tensor")
    old, new = self.element_size(), np.dtype(_NP_OF[_dtype_name(dtype)]).itemsize
    if self.ndim == 0 and old != new:
        raise RuntimeError(f"self.dim() cannot be 0 to view {self.dtype} as {dtype} (different element sizes)")
    if old != new and self.stride(-1) != 1:
        raise RuntimeError("self.stride(-1) must be 1 to view " f"{self.dtype} as {dtype} (different element sizes)")
    if new > old and (self.shape[-1] * old) % new:
        raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to view {self.dtype} as {dtype} (different element sizes), but got {self.shape[-1]}")
    a = np.asarray(self.detach())
    try:
        r = a.view(_NP_OF[_dtype_name(dtype)])
    except ValueError as e:
        raise RuntimeError(f"view(dtype): cannot view {self.dtype} as {dtype} with strides {list(self.stride())}: {e}") from None
    # from_numpy keeps `r` (and through it this tensor's storage) alive: the same bytes
    return from_numpy(r)


# ------------------------------------------------------------------ Tensor methods

# the module-level reductions take torch's NumPy-style keyword spellings too
nansum, nanmean, count_nonzero, median, nanmedian, mode, kthvalue, aminmax = (
    _with_aliases(f) for f in (nansum, nanmean, count_nonzero, median, nanmedian, mode, kthvalue, aminmax)
)

def _inplace(self, f):
    from ._tensor import _inplace_via

    return _inplace_via(self, f)


def _raise(exc, msg):
    raise exc(msg)


