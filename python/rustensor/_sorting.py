"""Sorting and selection: sort, argsort, topk, kthvalue, median, mode, unique, bincount,
histc, searchsorted, bucketize. The core has no sort kernel, so indices are found on the
host through NumPy; values are gathered from the input on its own device, so gradients flow."""

from __future__ import annotations

import builtins
import collections

import numpy as np

from . import _rustensor as _C
from ._tensor import Tensor
from ._tensor import _dtype_name
from ._ops_common import (  # noqa: F401
    _check_tensor, _host, _long, _on, _out, _scalar_like, _wrap_dim, _zeros,
)

_b = builtins


def _nt(name, fields):
    return collections.namedtuple(name, fields)


_sort_t = _nt("sort", ["values", "indices"])
_topk_t = _nt("topk", ["values", "indices"])
_kth_t = _nt("kthvalue", ["values", "indices"])
_median_t = _nt("median", ["values", "indices"])
_mode_t = _nt("mode", ["values", "indices"])


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
    if input.is_floating_point() or input.dtype == _C.bool:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_dtype_name(input.dtype).capitalize()}'")
    if input.ndim != 1:
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
