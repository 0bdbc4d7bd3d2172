"""Composite torch functions written over the core ops: sorting and selection, shape and
index helpers, extra reductions, keyword aliases (axis=, keepdims=, out=), and the
Tensor methods that expose them.

Each function here is differentiable exactly where the core ops it is built from are.
Where the core has no kernel (sorting, unique, searchsorted, multinomial, the non-sum
scatter reductions) the work that cannot be differentiated (finding indices) runs on the
host through NumPy, and values are then taken with ``gather``/``index_select`` on the
input's own device so gradients flow as torch's do.
"""

from __future__ import annotations

import builtins
import collections
import functools
import math
from typing import Any

import numpy as np

from . import _rustensor as _C
from ._rustensor import Tensor
from ._tensor import from_numpy, tensor, _NP_OF, _dtype_name

_b = builtins


def _nt(name, fields):
    return collections.namedtuple(name, fields)


_sort_t = _nt("sort", ["values", "indices"])
_topk_t = _nt("topk", ["values", "indices"])
_kth_t = _nt("kthvalue", ["values", "indices"])
_median_t = _nt("median", ["values", "indices"])
_mode_t = _nt("mode", ["values", "indices"])
_aminmax_t = _nt("aminmax", ["min", "max"])
_cummax_t = _nt("cummax", ["values", "indices"])


# ------------------------------------------------------------------ small helpers

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


class _NoGrad:
    def __enter__(self):
        self.prev = _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


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


# ------------------------------------------------------------------ sorting and selection

def _argsort_np(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort with torch's NaN placement (NaN counts as the largest value)."""
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    # a stable ascending sort of the reversed array, read backwards, is a stable
    # descending sort that keeps ties in their original order and puts NaN first
    n = a.shape[axis]
    rev = np.flip(a, axis=axis)
    order = np.argsort(rev, axis=axis, kind="stable")
    return (n - 1) - np.flip(order, axis=axis)


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    _check_tensor(input, "sort")
    if input.ndim == 0:
        return _out(_sort_t(input.clone(), _long(np.array(0), input)), out)
    d = _wrap_dim(int(dim), input.ndim, "sort")
    idx = _long(_argsort_np(_host(input), d, bool(descending)), input)
    return _out(_sort_t(input.gather(d, idx), idx), out)


def argsort(input, dim=-1, descending=False, stable=False):
    _check_tensor(input, "argsort")
    if input.ndim == 0:
        return _long(np.array(0), input)
    d = _wrap_dim(int(dim), input.ndim, "argsort")
    return _long(_argsort_np(_host(input), d, bool(descending)), input)


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):  # noqa: A002 - torch's name
    _check_tensor(input, "topk")
    d = _wrap_dim(int(dim), input.ndim, "topk")
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k out of range (k = {k}, size of dim {d} = {n})")
    v, i = sort(input, d, descending=largest)
    if input.ndim == 0:
        return _out(_topk_t(v, i), out)
    return _out(_topk_t(v.narrow(d, 0, k), i.narrow(d, 0, k)), out)


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    _check_tensor(input, "kthvalue")
    d = _wrap_dim(int(dim), input.ndim, "kthvalue")
    n = input.shape[d] if input.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} (k = {k}, size {n})")
    v, i = sort(input, d)
    if input.ndim == 0:
        return _out(_kth_t(v, i), out)
    v, i = v.narrow(d, k - 1, 1), i.narrow(d, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return _out(_kth_t(v, i), out)


def _median_impl(input, dim, keepdim, ignore_nan, name):
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            return _scalar_like(float("nan"), input) if input.is_floating_point() else _scalar_like(0, input)
        return _median_impl(flat, 0, False, ignore_nan, name).values
    if input.ndim == 0:
        return _median_t(input.clone(), _long(np.array(0), input))
    d = _wrap_dim(int(dim), input.ndim, name)
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    a = _host(input)
    order = _argsort_np(a, d, False)
    if a.dtype.kind == "f":
        nans = np.isnan(a).sum(axis=d, keepdims=True)
    else:
        nans = np.zeros(a.shape[:d] + (1,) + a.shape[d + 1:], dtype=np.int64)
    if ignore_nan:
        # the lower median of the non-NaN values; all-NaN lines give NaN (index 0 there)
        cnt = n - nans
        pos = np.where(cnt > 0, (cnt - 1) // 2, 0)
    else:
        # torch's median is NaN where the line holds a NaN, indexed at the first NaN
        pos = np.where(nans > 0, n - nans, (n - 1) // 2)
    idx = np.take_along_axis(order, pos, axis=d)
    it = _long(idx, input)
    v = input.gather(d, it)
    if not keepdim:
        v, it = v.squeeze(d), it.squeeze(d)
    return _median_t(v, it)


def median(input, dim=None, keepdim=False, *, out=None):
    _check_tensor(input, "median")
    return _out(_median_impl(input, dim, keepdim, False, "median"), out)


def nanmedian(input, dim=None, keepdim=False, *, out=None):
    _check_tensor(input, "nanmedian")
    return _out(_median_impl(input, dim, keepdim, True, "nanmedian"), out)


def mode(input, dim=-1, keepdim=False, *, out=None):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and
    the index of its last occurrence, as torch's CPU kernel returns."""
    _check_tensor(input, "mode")
    if input.ndim == 0:
        return _out(_mode_t(input.clone(), _long(np.array(0), input)), out)
    d = _wrap_dim(int(dim), input.ndim, "mode")
    if input.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    a = np.moveaxis(_host(input), d, -1)
    lines = a.reshape(-1, a.shape[-1])
    idx = np.empty(lines.shape[0], dtype=np.int64)
    for r, line in enumerate(lines):
        vals, inv, counts = np.unique(line, return_inverse=True, return_counts=True)
        best = int(np.argmax(counts))  # argmax takes the first, i.e. smallest, of the ties
        idx[r] = int(np.nonzero(inv.reshape(-1) == best)[0][-1])
    it = _long(np.moveaxis(idx.reshape(a.shape[:-1] + (1,)), -1, d), input)
    v = input.gather(d, it)
    if not keepdim:
        v, it = v.squeeze(d), it.squeeze(d)
    return _out(_mode_t(v, it), out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    _check_tensor(input, "unique")
    a = _host(input)
    if dim is None:
        vals, inv, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = _wrap_dim(int(dim), a.ndim, "unique")
        if a.shape[d] == 0:
            vals, inv, counts = np.moveaxis(a, d, 0)[:0], np.zeros(0, np.int64), np.zeros(0, np.int64)
            vals = np.moveaxis(vals, 0, d)
        else:
            vals, inv, counts = np.unique(a, axis=d, return_inverse=True, return_counts=True)
            inv = inv.reshape(-1)
    res = [_on(vals.astype(a.dtype), input)]
    if return_inverse:
        res.append(_long(inv, input))
    if return_counts:
        res.append(_long(counts, input))
    return res[0] if len(res) == 1 else tuple(res)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    _check_tensor(input, "unique_consecutive")
    a = _host(input)
    if dim is None:
        flat = a.reshape(-1)
        change = np.ones(flat.shape[0], dtype=bool)
        if flat.shape[0] > 1:
            change[1:] = flat[1:] != flat[:-1]
        vals = flat[change]
        inv = (np.cumsum(change) - 1).reshape(a.shape)
    else:
        d = _wrap_dim(int(dim), a.ndim, "unique_consecutive")
        m = np.moveaxis(a, d, 0)
        n = m.shape[0]
        change = np.ones(n, dtype=bool)
        if n > 1:
            change[1:] = (m[1:] != m[:-1]).reshape(n - 1, -1).any(axis=1)
        vals = np.moveaxis(m[change], 0, d)
        inv = np.cumsum(change) - 1
    starts = np.nonzero(change)[0]
    counts = np.diff(np.append(starts, change.shape[0]))
    res = [_on(np.ascontiguousarray(vals), input)]
    if return_inverse:
        res.append(_long(inv, input))
    if return_counts:
        res.append(_long(counts, input))
    return res[0] if len(res) == 1 else tuple(res)


def bincount(input, weights=None, minlength=0):
    _check_tensor(input, "bincount")
    if input.ndim != 1 or input.is_floating_point() or input.dtype == _C.bool:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got a {input.ndim}-d {input.dtype} tensor")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    a = _host(input)
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    n = _b.max(int(a.max()) + 1 if a.size else 0, int(minlength))
    idx = input._to_dtype(_C.int64)
    if weights is None:
        return _zeros([n], _C.int64, input.device).scatter_add(0, idx, _C._full([1], 1, _C.int64, input.device).expand(input.shape[0]))
    if tuple(weights.shape) != tuple(input.shape):
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got {list(weights.shape)} and {list(input.shape)}")
    w = weights if weights.is_floating_point() else weights._to_dtype(_C.float64)
    return _zeros([n], w.dtype, input.device).scatter_add(0, idx, w)


def histc(input, bins=100, min=0, max=0, *, out=None):  # noqa: A002
    _check_tensor(input, "histc")
    if not input.is_floating_point():
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_dtype_name(input.dtype).capitalize()}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for bins")
    lo, hi = float(min), float(max)
    if lo == hi and input.numel():
        a = _host(input)
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise RuntimeError(f"torch.histc: max must be larger than min, got min={lo} and max={hi}")
    x = input.detach().reshape(-1)
    inside = (x >= lo).logical_and(x <= hi)
    b = ((x - lo) * (bins / (hi - lo))).floor()._to_dtype(_C.int64).clamp(0, bins - 1)
    b = _C._where(inside, b, _scalar_like(0, b))
    counts = _zeros([bins], input.dtype, input.device).scatter_add(0, b, inside._to_dtype(input.dtype))
    return _out(counts, out)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    _check_tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left while right was True")
        right = side == "right"
    scalar = not isinstance(input, Tensor)
    vals = np.asarray(input) if scalar else _host(input)
    seq = _host(sorted_sequence)
    if sorter is not None:
        seq = np.take_along_axis(seq, _host(sorter), axis=-1)
    s = "right" if right else "left"
    if seq.ndim <= 1:
        res = np.searchsorted(seq.reshape(-1), vals, side=s)
    else:
        if vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                f"boundaries tensor and input value tensor must match, but we got boundaries tensor {list(seq.shape)} "
                f"and input value tensor {list(vals.shape)}"
            )
        s2 = seq.reshape(-1, seq.shape[-1])
        v2 = vals.reshape(-1, vals.shape[-1])
        res = np.stack([np.searchsorted(a, v, side=s) for a, v in zip(s2, v2)]).reshape(vals.shape) if s2.shape[0] else np.zeros(vals.shape, np.int64)
    r = _long(np.asarray(res), sorted_sequence)
    if out_int32:
        r = r._to_dtype(_C.int32)
    return _out(r, out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    _check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    r = searchsorted(boundaries, input, out_int32=out_int32, right=right)
    if not isinstance(input, Tensor):
        r = r.reshape(())
    return _out(r, out)


# ------------------------------------------------------------------ shape and index

def roll(input, shifts, dims=None):
    _check_tensor(input, "roll")
    sh = _dims_arg(shifts)
    ds = _dims_arg(dims)
    if ds is None:
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims: 0")
        return roll(input.reshape(-1), sh, [0]).reshape(*input.shape)
    if len(sh) != len(ds):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}")
    r = input
    for s, d in zip(sh, ds):
        d = _wrap_dim(d, input.ndim, "roll")
        n = r.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            r = _C.cat([r.narrow(d, n - s, s), r.narrow(d, 0, n - s)], d)
    return r if r is not input else input.clone()


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats): indices repeated by their counts
        _check_tensor(input, "repeat_interleave")
        rep = _host(input)
        if rep.ndim > 1 or (rep.size and rep.min() < 0):
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor with non-negative entries")
        return _long(np.repeat(np.arange(rep.size), rep.reshape(-1)), input)
    _check_tensor(input, "repeat_interleave")
    x = input
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        if input.ndim == 0:
            raise IndexError(f"repeat_interleave: dim {dim} given for a 0-d tensor (Dimension out of range)")
        d = _wrap_dim(int(dim), input.ndim, "repeat_interleave")
    n = x.shape[d]
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.reshape(-1)[0])
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise RuntimeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
        shape = list(x.shape)
        y = x.unsqueeze(d + 1).expand(*(shape[:d + 1] + [int(repeats)] + shape[d + 1:]))
        return y.reshape(*(shape[:d] + [n * int(repeats)] + shape[d + 1:]))
    rep = _host(repeats) if isinstance(repeats, Tensor) else np.asarray(repeats)
    if rep.ndim != 1 or rep.shape[0] != n:
        raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got repeats.size(0) = {rep.shape[0] if rep.ndim else 0} and input.size({d}) = {n}")
    if rep.size and rep.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    return x.index_select(d, _long(np.repeat(np.arange(n), rep), x))


def unflatten(input, dim, sizes):
    _check_tensor(input, "unflatten")
    d = _wrap_dim(int(dim), input.ndim, "unflatten")
    sizes = list(sizes)
    shape = list(input.shape)
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes[sizes.index(-1)] = shape[d] // known if known else 0
    if math.prod(sizes) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {sizes} don't multiply up to the size of dim {dim} ({shape[d]}) in the input tensor")
    return input.reshape(*(shape[:d] + sizes + shape[d + 1:]))


def movedim(input, source, destination):
    _check_tensor(input, "movedim")
    src = _dims_arg(source)
    dst = _dims_arg(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain the same number of dims as destination ({dst} dims)")
    n = input.ndim
    src = [_wrap_dim(s, n, "movedim") for s in src]
    dst = [_wrap_dim(s, n, "movedim") for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src}) or `destination` ({dst})")
    if n == 0:
        return input.view(())
    order = [None] * n
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(n) if d not in src)
    perm = [o if o is not None else next(rest) for o in order]
    return input.permute(*perm)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    return input.transpose(axis0, axis1)


swapdims = swapaxes


def atleast_1d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = tuple(t.reshape(1) if t.ndim == 0 else t for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def atleast_2d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    r = tuple(t.reshape(1, 1) if t.ndim == 0 else (t.unsqueeze(0) if t.ndim == 1 else t) for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def atleast_3d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors

    def f(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, t.shape[0], 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t

    r = tuple(f(t) for t in ts)
    return r[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else r


def _seq(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return list(tensors)


def hstack(tensors, *, out=None):
    ts = atleast_1d(*_seq(tensors, "hstack"))
    return _out(_C.cat(list(ts), 0 if ts[0].ndim == 1 else 1), out)


def vstack(tensors, *, out=None):
    return _out(_C.cat(list(atleast_2d(*_seq(tensors, "vstack"))), 0), out)


row_stack = vstack


def dstack(tensors, *, out=None):
    return _out(_C.cat(list(atleast_3d(*_seq(tensors, "dstack"))), 2), out)


def column_stack(tensors, *, out=None):
    ts = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _seq(tensors, "column_stack")]
    return _out(_C.cat(ts, 1), out)


def tensor_split(input, indices_or_sections, dim=0):
    _check_tensor(input, "tensor_split")
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap_dim(int(dim), input.ndim, "tensor_split")
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.ndim == 0:
            ios = int(ios)
        else:
            ios = [int(v) for v in _host(ios).reshape(-1)]
    if isinstance(ios, (int, np.integer)):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds, s = [], 0
        for i in range(k - 1):
            s += q + (1 if i < r else 0)
            bounds.append(s)
    else:
        bounds = [int(v) for v in ios]
    out, start = [], 0
    for b in bounds + [n]:
        b = _b.min(_b.max(b if b >= 0 else b + n, 0), n)
        st = _b.min(start, n)
        out.append(input.narrow(d, st, _b.max(b - st, 0)))
        start = _b.max(b, st)
    return tuple(out)


def hsplit(input, sections):
    return tensor_split(input, sections, 1 if input.ndim > 1 else 0)


def vsplit(input, sections):
    return tensor_split(input, sections, 0)


def meshgrid(*tensors, indexing=None):
    ts = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.ndim}-D")
    ts = [t.reshape(-1) for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.shape[0] for t in ts]
    out = []
    for i, t in enumerate(ts):
        v = [1] * len(ts)
        v[i] = shape[i]
        out.append(t.reshape(*v).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return _C.stack([g.reshape(-1) for g in grids], 1)


def _tri_indices(lower, row, col, offset, dtype, device):
    r, c = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    t = from_numpy(np.stack([r, c]).astype(np.int64).reshape(2, -1))._to_dtype(dtype or _C.int64)
    return t if device is None else t.to(device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(True, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(False, row, col, offset, dtype, device)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    _check_tensor(input, "diag_embed")
    if input.ndim == 0:
        raise IndexError("diag_embed: Dimension out of range: the input must have at least 1 dimension, got a 0-d tensor")
    n = input.shape[-1]
    x = input
    m = n + _b.abs(offset)
    batch = list(x.shape[:-1])
    nb = math.prod(batch)
    k = _arange(n, x.device)
    r, c = (k, k + offset) if offset >= 0 else (k - offset, k)
    flat = (r * m + c).reshape(1, n).expand(nb, n)
    out = _zeros([nb, m * m], x.dtype, x.device).scatter_add(1, flat, x.reshape(nb, n))
    out = out.reshape(*(batch + [m, m]))
    nd = out.ndim
    d1, d2 = _wrap_dim(dim1, nd, "diag_embed"), _wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return movedim(out, [nd - 2, nd - 1], [d1, d2])


def diag(input, diagonal=0, *, out=None):
    _check_tensor(input, "diag")
    if input.ndim == 1:
        r = diag_embed(input, diagonal)
    elif input.ndim == 2:
        r = input.diagonal(diagonal)
    else:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return _out(r, out)


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def take(input, index):
    _check_tensor(input, "take")
    n = input.numel()
    i = index._to_dtype(_C.int64)
    h = _host(i)
    if h.size and (h.min() < -n or h.max() >= n):
        bad = int(h[(h < -n) | (h >= n)].reshape(-1)[0])
        raise IndexError(f"take(): index {bad} out of range for tensor of size {list(input.shape)}.")
    i = _C._where(i < 0, i + n, i)
    return input.reshape(-1).index_select(0, i.reshape(-1)).reshape(*index.shape)


def take_along_dim(input, indices, dim=None, *, out=None):
    _check_tensor(input, "take_along_dim")
    if dim is None:
        return _out(input.reshape(-1).gather(0, indices.reshape(-1)), out)
    d = _wrap_dim(int(dim), input.ndim, "take_along_dim")
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    si, sx = list(indices.shape), list(input.shape)
    si[d] = sx[d] = 1
    b = list(np.broadcast_shapes(tuple(si), tuple(sx)))
    bi, bx = list(b), list(b)
    bi[d], bx[d] = indices.shape[d], input.shape[d]
    return _out(input.expand(*bx).gather(d, indices.expand(*bi)), out)


def _index_along(index: Tensor, dim: int, shape) -> Tensor:
    """``index`` (1-D, along ``dim``) as a full scatter index of ``shape``."""
    v = [1] * len(shape)
    if shape:
        v[dim] = -1
    return index._to_dtype(_C.int64).reshape(*v).expand(*shape)


def _check_index_op(op, input, dim, index, source=None):
    if index.ndim > 1:
        raise RuntimeError(f"{op}_(): Index has to be a vector/scalar, got a {index.ndim}-d tensor")
    if index.is_floating_point() or index.dtype == _C.bool:
        raise IndexError(f"{op}_(): Expected dtype int32/int64 for index, got {index.dtype}")
    d = _wrap_dim(int(dim), input.ndim, op)
    if source is not None:
        if source.ndim != input.ndim and not (source.ndim <= 1 and input.ndim <= 1):
            raise IndexError(f"{op}_(): source has {source.ndim} dims but self has {input.ndim}")
        n = source.shape[d] if source.ndim else 1
        if n != index.numel():
            raise RuntimeError(f"{op}_(): Number of indices ({index.numel()}) should be equal to source.size(dim) ({n})")
        if source.dtype != input.dtype:
            raise RuntimeError(f"{op}_(): self ({input.dtype}) and source ({source.dtype}) must have the same scalar type")
    size = input.shape[d] if input.ndim else 1
    h = _host(index).reshape(-1)
    if h.size and (h.min() < -size or h.max() >= size):
        # torch's index_add reports this as a RuntimeError, index_copy/index_fill as IndexError
        exc = RuntimeError if op == "index_add" else IndexError
        raise exc(f"{op}_(): index {int(h[(h < -size) | (h >= size)][0])} is out of bounds for dimension {d} with size {size}")
    i = index.reshape(-1)._to_dtype(_C.int64)
    return d, _C._where(i < 0, i + size, i) if h.size and h.min() < 0 else i


def index_add(input, dim, index, source, *, alpha=1):
    d, i = _check_index_op("index_add", input, dim, index, source)
    if input.ndim == 0:
        return input + (source.reshape(()) * alpha if alpha != 1 else source.reshape(())) if i.numel() else input.clone()
    return input.scatter_add(d, _index_along(i, d, list(source.shape)), source * alpha if alpha != 1 else source)


def index_copy(input, dim, index, source):
    d, i = _check_index_op("index_copy", input, dim, index, source)
    if input.ndim == 0:
        return source.reshape(()).clone() if i.numel() else input.clone()
    return input._scatter(d, _index_along(i, d, list(source.shape)), source)


def index_fill(input, dim, index, value):
    d, i = _check_index_op("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise IndexError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s).")
        v = value._to_dtype(input.dtype)
    else:
        v = _scalar_like(value, input)
    if input.ndim == 0:
        return v.clone() if i.numel() else input.clone()
    shape = list(input.shape)
    shape[d] = i.numel()
    return input._scatter(d, _index_along(i, d, shape), v.expand(*shape))


def masked_scatter(input, mask, source):
    _check_tensor(input, "masked_scatter")
    if mask.dtype != _C.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {input.dtype} and {source.dtype}")
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(mask.shape)))
    m = mask.expand(*shape)
    x = input.expand(*shape)
    flat = m.reshape(-1)._to_dtype(_C.int64)
    k = int(flat.sum()) if flat.numel() else 0
    if k > source.numel():
        raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask ({source.numel()} < {k})")
    if k == 0:
        return x.clone()
    pos = (flat.cumsum(0) - 1).clamp(0, None)
    picked = source.reshape(-1).index_select(0, pos).reshape(*shape)
    return _C._where(m, picked, x)


def _scatter_host(reduce, base, dim, index, src, include_self):
    """Forward of the prod/amax/amin scatter reductions on the host."""
    out = base.copy()
    idx = [np.indices(index.shape)[k] for k in range(index.ndim)]
    idx[dim] = index
    tgt = tuple(idx)
    sv = src[tuple(slice(0, s) for s in index.shape)]
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    if not include_self:
        hit = np.zeros(base.shape, dtype=bool)
        hit[tgt] = True
        fill = {"prod": 1, "amax": -np.inf if base.dtype.kind == "f" else np.iinfo(base.dtype).min,
                "amin": np.inf if base.dtype.kind == "f" else np.iinfo(base.dtype).max}[reduce]
        out[hit] = fill
    ufunc.at(out, tgt, sv)
    return out


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    _check_tensor(input, "scatter_reduce")
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got {input.dtype} and {src.dtype}")
    d = _wrap_dim(int(dim), input.ndim, "scatter_reduce")
    if index.numel() == 0:
        return input.clone()
    srcv = src
    if tuple(src.shape) != tuple(index.shape):
        srcv = src[tuple(slice(0, s) for s in index.shape)]
    ones = _C._full(list(index.shape), 1, input.dtype, input.device)
    hit = _zeros(list(input.shape), input.dtype, input.device).scatter_add(d, index, ones)
    if reduce in ("sum", "mean"):
        base = input if include_self else _C._where(hit > 0, _scalar_like(0, input), input)
        s = base.scatter_add(d, index, srcv)
        if reduce == "sum":
            return s
        cnt = hit + (1 if include_self else 0)
        cnt = _C._where(cnt > 0, cnt, _scalar_like(1, cnt))
        if input.is_floating_point():
            return s / cnt
        return s.div(cnt, rounding_mode="floor")
    exact = _on(_scatter_host(reduce, _host(input), d, _host(index), _host(src), include_self), input)
    if not (_C.is_grad_enabled() and (input.requires_grad or src.requires_grad)):
        return exact
    # Gradients through a straight-through surrogate whose value is 0 and whose derivative
    # is torch's: for amax/amin an even split among the elements equal to the result, for
    # prod the product of the others.
    eg = exact.detach().gather(d, index)
    sd, xd = srcv.detach(), input.detach()
    if reduce in ("amax", "amin"):
        ws = (sd == eg)._to_dtype(input.dtype)
        wx = (xd == exact.detach())._to_dtype(input.dtype) if include_self else _scalar_like(0, input).expand(*input.shape)
        if not include_self:
            wx = _C._where(hit > 0, wx, _scalar_like(1, input))
        ties = wx.scatter_add(d, index, ws)
        ties = _C._where(ties > 0, ties, _scalar_like(1, ties))
        ws = ws / ties.gather(d, index)
        wx = wx / ties
        sur = (input - xd) * wx
        sur = sur.scatter_add(d, index, (srcv - sd) * ws)
        return exact + sur
    # prod: d out / d v = product of the other factors of that output
    others_s = _on(_prod_others(_host(input), d, _host(index), _host(srcv), include_self, True), input)
    others_x = _on(_prod_others(_host(input), d, _host(index), _host(srcv), include_self, False), input)
    sur = (input - xd) * others_x
    sur = sur.scatter_add(d, index, (srcv - sd) * others_s)
    return exact + sur


def _prod_others(base, dim, index, src, include_self, for_src):
    """For each factor of a scatter product, the product of the other factors of its output
    (zeros handled exactly: no division by a zero factor)."""
    idx = [np.indices(index.shape)[k] for k in range(index.ndim)]
    idx[dim] = index
    tgt = tuple(idx)
    nz = np.where(src == 0, 1, src)
    zeros = np.zeros(base.shape, dtype=np.int64)
    np.add.at(zeros, tgt, (src == 0).astype(np.int64))
    prod_nz = np.ones(base.shape, dtype=base.dtype)
    np.multiply.at(prod_nz, tgt, nz)
    hit = np.zeros(base.shape, dtype=bool)
    hit[tgt] = True
    if include_self:
        zeros = zeros + (base == 0)
        prod_nz = prod_nz * np.where(base == 0, 1, base)
    if for_src:
        z, p, v = zeros[tgt], prod_nz[tgt], src
    else:
        if not include_self:
            return np.where(hit, 0, 1).astype(base.dtype)
        z, p, v = zeros, prod_nz, base
    own_zero = v == 0
    others_zero = z - own_zero
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(own_zero, p, p / np.where(own_zero, 1, v))
    return np.where(others_zero > 0, 0, val).astype(base.dtype)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    _check_tensor(input, "scatter")
    if src is None and value is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if index.is_floating_point() or index.dtype == _C.bool:
        raise RuntimeError(f"scatter(): Expected dtype int64 for index, got {index.dtype}")
    if src is not None:
        if src.dtype != input.dtype:
            raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype, got {input.dtype} and {src.dtype}")
        s = src
        if tuple(src.shape) != tuple(index.shape):
            s = src[tuple(slice(0, k) for k in index.shape)]
    else:
        v = value.item() if isinstance(value, Tensor) else value
        s = _C._full(list(index.shape), v, input.dtype, input.device)
    if reduce is None:
        return input._scatter(dim, index, s)
    if reduce == "add":
        return input.scatter_add(dim, index, s)
    if reduce == "multiply":
        return scatter_reduce(input, dim, index, s, "prod")
    raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")


def _unfold(self, dimension, size, step):
    d = _wrap_dim(int(dimension), self.ndim, "unfold")
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    x = self.reshape(1) if self.ndim == 0 else self
    w = (n - size) // step + 1
    idx = (_arange(w, x.device) * step).reshape(w, 1) + _arange(size, x.device).reshape(1, size)
    y = x.index_select(d, idx.reshape(-1))
    shape = list(x.shape)
    y = y.reshape(*(shape[:d] + [w, size] + shape[d + 1:]))
    y = movedim(y, d + 1, y.ndim - 1)
    return y.reshape(w, size).squeeze(0) if self.ndim == 0 else y


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, (int, np.integer)):
        k = int(dims)
        if k < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={k}")
        da, db = list(range(a.ndim - k, a.ndim)), list(range(k))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, _host(dims).tolist())
    else:
        da, db = dims
        da, db = _dims_arg(da), _dims_arg(db)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and {len(db)}")
    da = [_wrap_dim(x, a.ndim, "tensordot") for x in da]
    db = [_wrap_dim(x, b.ndim, "tensordot") for x in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}")
    fa = [x for x in range(a.ndim) if x not in da]
    fb = [y for y in range(b.ndim) if y not in db]
    ka = math.prod(a.shape[x] for x in da)
    A = a.permute(*(fa + da)).reshape(math.prod(a.shape[x] for x in fa), ka)
    B = b.permute(*(db + fb)).reshape(ka, math.prod(b.shape[y] for y in fb))
    r = A.matmul(B).reshape(*([a.shape[x] for x in fa] + [b.shape[y] for y in fb]))
    return _out(r, out)


def kron(input, other, *, out=None):
    n = _b.max(input.ndim, other.ndim)
    a = input.reshape(*([1] * (n - input.ndim) + list(input.shape)))
    b = other.reshape(*([1] * (n - other.ndim) + list(other.shape)))
    ia, ib = [], []
    for k in range(n):
        ia += [a.shape[k], 1]
        ib += [1, b.shape[k]]
    r = a.reshape(*ia) * b.reshape(*ib)
    return _out(r.reshape(*[a.shape[k] * b.shape[k] for k in range(n)]), out)


def trace(input):
    _check_tensor(input, "trace")
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    s = input.diagonal().sum()
    return s if input.is_floating_point() else s._to_dtype(_C.int64)


def _safe_root(s: Tensor, p: float) -> Tensor:
    """s ** (1/p) with a zero gradient where s == 0 (torch's cdist/norm convention)."""
    pos = s > 0
    one = _scalar_like(1, s)
    r = _C._where(pos, s, one) ** (1.0 / p)
    return _C._where(pos, r, _scalar_like(0, s))


def cdist(x1, x2, p=2.0, compute_mode=None):
    _check_tensor(x1, "cdist", "x1")
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if not x1.is_floating_point():
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {x1.dtype}")
    diff = (x1.unsqueeze(-2) - x2.unsqueeze(-3)).abs()
    if p == 0:
        return (diff != 0)._to_dtype(x1.dtype).sum(-1)
    if math.isinf(p):
        return diff.amax(-1) if diff.shape[-1] else diff.sum(-1)
    if p == 1:
        return diff.sum(-1)
    return _safe_root((diff * diff).sum(-1) if p == 2 else (diff ** p).sum(-1), p)


def cross(input, other, dim=None, *, out=None):
    if dim is None:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        cands = [k for k, s in enumerate(shape) if s == 3]
        if not cands:
            raise RuntimeError(f"no dimension of size 3 in input: shapes {list(input.shape)} and {list(other.shape)}")
        dim = cands[0]
    return _out(_cross(input, other, dim), out)


def _cross(a, b, dim):
    if a.ndim != b.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got {a.ndim} and {b.ndim}")
    shape = tuple(np.broadcast_shapes(tuple(a.shape), tuple(b.shape)))
    d = _wrap_dim(int(dim), len(shape), "cross")
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {a.shape[d]} and {b.shape[d]}")
    a, b = a.expand(*shape), b.expand(*shape)
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    return _C.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def block_diag(*tensors):
    ts = [t.reshape(1, 1) if t.ndim == 0 else (t.reshape(1, -1) if t.ndim == 1 else t) for t in tensors]
    for t in ts:
        if t.ndim != 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input has {t.ndim} dimensions")
    if not ts:
        return _zeros([1, 0], _C.float32, None)
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = _promote(dt, t.dtype)
    cols = builtins.sum(t.shape[1] for t in ts)
    rows, left = [], 0
    dev = ts[0].device
    for t in ts:
        t = t._to_dtype(dt)
        parts = [_zeros([t.shape[0], left], dt, dev), t, _zeros([t.shape[0], cols - left - t.shape[1]], dt, dev)]
        rows.append(_C.cat(parts, 1))
        left += t.shape[1]
    return _C.cat(rows, 0)


_RANK = {"bool": 0, "int32": 1, "int64": 2, "float16": 3, "float32": 4, "float64": 5}


def _promote(a, b):
    return a if _RANK[_dtype_name(a)] >= _RANK[_dtype_name(b)] else b


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


_view_rs = Tensor.view


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

def _install() -> None:
    T = Tensor

    def meth(f):
        return lambda self, *a, **k: f(self, *a, **k)

    for name, f in {
        "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue,
        "median": median, "nanmedian": nanmedian, "mode": mode, "unique": unique,
        "unique_consecutive": unique_consecutive, "bincount": bincount, "histc": histc,
        "roll": roll, "repeat_interleave": repeat_interleave, "unflatten": unflatten,
        "movedim": movedim, "moveaxis": moveaxis, "swapaxes": swapaxes, "swapdims": swapdims,
        "diag": diag, "diag_embed": diag_embed, "diagflat": diagflat, "take": take,
        "take_along_dim": take_along_dim, "index_add": index_add, "index_copy": index_copy,
        "index_fill": index_fill, "masked_scatter": masked_scatter, "scatter_reduce": scatter_reduce,
        "tensor_split": tensor_split, "hsplit": hsplit, "vsplit": vsplit, "kron": kron,
        "trace": trace, "cross": cross, "nansum": nansum, "nanmean": nanmean,
        "count_nonzero": count_nonzero, "aminmax": aminmax, "scatter": scatter,
    }.items():
        setattr(T, name, meth(f))
    for name in ("index_add", "index_copy", "index_fill", "masked_scatter", "scatter_reduce", "scatter"):
        setattr(T, name + "_", (lambda f: lambda self, *a, **k: _inplace(self, lambda s: f(s, *a, **k)))(getattr(T, name)))
    T.aminmax = lambda self, *, dim=None, keepdim=False: aminmax(self, dim=dim, keepdim=keepdim)
    T.msort = lambda self: msort(self)
    T.trace = lambda self: trace(self)
    T.unfold = _unfold
    T.round = _round
    T.view = _view
    # axis=/keepdims=/out= on the reductions, over whatever method is installed now
    for name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any",
                 "std", "var", "logsumexp", "norm"):
        setattr(T, name, _with_aliases(getattr(T, name)))


def _inplace(self, f):
    from ._tensor import _inplace_via

    return _inplace_via(self, f)


def _raise(exc, msg):
    raise exc(msg)


_install()
