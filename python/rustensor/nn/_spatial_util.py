"""Shared helpers of the spatial functions: argument checks, window views, host constants.

Also the first-maximum running max of the pools and _mix_dim, the one-GEMM-per-dim resampling."""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .. import _rustensor as _C
from .._tensor import Tensor


# ---------------------------------------------------------------------------------------------
# argument helpers

def _tuple(x, n, name, op):
    """An int or a sequence of n ints as a tuple of n ints (torch's _ntuple, with its message)."""
    if isinstance(x, (numbers.Integral, Tensor)) and not isinstance(x, bool):
        return (int(x),) * n
    x = tuple(int(v) for v in x)
    if len(x) == 1:
        return x * n
    if len(x) != n:
        if op.startswith("conv"):
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {n} values to match the "
                f"convolution dimensions, but got {name}={list(x)}"
            )
        raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of {n} ints, but got {list(x)}")
    return x


def _idx(values, device) -> Tensor:
    """A small int64 index tensor built on the host, on `device`."""
    from .._tensor import tensor

    r = tensor(np.ascontiguousarray(values, dtype=np.int64))
    return r if device.type == "cpu" else r.to(device)


def _const(values, like: Tensor) -> Tensor:
    """A float host array as a tensor of `like`'s dtype and device (interpolation weights)."""
    from .._tensor import tensor

    r = tensor(np.ascontiguousarray(values), dtype=like.dtype if like.is_floating_point() else _C.float32)
    return r if like.device.type == "cpu" else r.to(like.device)


def _full(shape, value, like: Tensor) -> Tensor:
    r = _C._full(list(shape), value, like.dtype)
    return r if like.device.type == "cpu" else r.to(like.device)


def _size(t: Tensor) -> list:
    return list(t.shape)


def _batchify(input: Tensor, nd: int, op: str, what=None):
    """(batched input, was_unbatched): `nd` spatial dims plus a channel dim, and an optional batch dim."""
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            what or f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, "
            f"but got input of size: {_size(input)}"
        )
    if input.dim() == nd + 1:
        return input.unsqueeze(0), True
    return input, False


def _windows(x: Tensor, kernel, dilation, stride, out) -> Tensor:
    """(N, C, prod(kernel), *out): every kernel offset's strided view of x (N, C, *spatial),
    stacked once. The views share x's storage; only the stack copies."""
    nd = len(kernel)
    views = []
    for offs in itertools.product(*[range(k) for k in kernel]):
        v = x
        for i in range(nd):
            start = offs[i] * dilation[i]
            v = v._slice(2 + i, start, start + (out[i] - 1) * stride[i] + 1, stride[i])
        views.append(v)
    if len(views) == 1:
        return views[0].unsqueeze(2)
    from .. import stack

    return stack(views, 2)


def _window_views(x: Tensor, kernel, dilation, stride, out) -> list:
    """Every kernel offset's strided view of x (N, C, *spatial), each shaped (N, C, *out)."""
    views = []
    for offs in itertools.product(*[range(k) for k in kernel]):
        v = x
        for i in range(len(kernel)):
            start = offs[i] * dilation[i]
            v = v._slice(2 + i, start, start + (out[i] - 1) * stride[i] + 1, stride[i])
        views.append(v)
    return views


def _stack(views, dim):
    from .. import stack

    return stack(views, dim)


def _running_max(views, want_arg):
    """(max, offset of the max) over same-shaped views, picked as torch's pooling kernels pick:
    the first maximum, a NaN always winning. Elementwise compare-and-select instead of a
    reduction over a stacked window dim: the GPU reduction kernel spends a 256-thread workgroup
    per output, which made a (32, 32, 8, 8) 2x2 pool take seconds on lavapipe. `where` routes
    the gradient to the chosen element only, so ties do not split it (as maximum() would)."""
    from .. import where, zeros_like

    best = views[0] if len(views) > 1 else views[0].clone()
    arg = zeros_like(best, dtype=_C.int64) if want_arg else None
    floating = best.is_floating_point()
    for k, v in enumerate(views[1:], 1):
        take = v > best
        if floating:
            take = take | v.isnan()
        best = where(take, v, best)
        if want_arg:
            arg = where(take, k, arg)
    return best, arg


def _mix_dim(y: Tensor, d: int, m) -> Tensor:
    """y with dim d replaced by the host matrix m (o, n) applied along it, as one 2-D matmul:
    a batched matmul over broadcast batch dims runs a mostly empty tile per batch on the GPU
    (1.6 s for a (32, 32, 8, 8) adaptive pool on lavapipe)."""
    t = y.transpose(d, -1)
    shp = list(t.shape)
    r = t.reshape(-1, shp[-1]) @ _const(m.T, y)
    return r.reshape(shp[:-1] + [m.shape[0]]).transpose(d, -1)

def _type_word(dtype) -> str:
    """torch's C type name in messages: double, float, half, long, int, bool."""
    return {"float64": "double", "float32": "float", "float16": "half", "int64": "long", "int32": "int",
            "bool": "bool"}.get(str(dtype).split(".")[-1], str(dtype))


def _autocast(*ts):
    from ..amp.autocast_mode import _cast_inputs

    return _cast_inputs(*ts)
