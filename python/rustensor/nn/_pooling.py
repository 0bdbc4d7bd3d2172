"""Max, average, power-average and adaptive pooling, and max unpooling.

Pools compare or add the kernel offsets' strided views elementwise (no reduction over a
stacked window dim: see _spatial_util._running_max); adaptive average pooling is one small
matmul per spatial dim."""

from __future__ import annotations

import builtins

import numpy as np

from .. import _rustensor as _C
from ._spatial_util import (
    _batchify,
    _const,
    _full,
    _idx,
    _mix_dim,
    _running_max,
    _size,
    _tuple,
    _type_word,
    _window_views,
)
from ._padding import pad

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
]


# ---------------------------------------------------------------------------------------------
# pooling

def _pool_out(n, k, s, p, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_args(kernel_size, stride, padding, dilation, nd, op):
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _tuple(stride, nd, "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride must be greater than zero, but got {list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got {list(dilation)}")
    return kernel, stride, padding, dilation


def _pool_input(input, nd, op):
    # the channel and spatial dims must be non-empty; only the batch may be 0
    if input.dim() not in (nd + 1, nd + 2) or builtins.any(n == 0 for n in input.shape[input.dim() - nd - 1:]):
        if nd == 1:
            raise RuntimeError(
                f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
                f"but got:{_size(input)}"
            )
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for input")
    return _batchify(input, nd, op)


def _check_out(spatial, out, c):
    if any(o < 1 for o in out):
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, [c, *spatial]))}). Calculated output size: "
            f"({'x'.join(map(str, [c, *out]))}). Output size is too small"
        )


def _empty_window(spatial, kernel, stride, padding, dilation, out):
    """Whether a dilated window holds no input element (every tap in the padding or past the
    end): torch returns -inf there with an index past the plane; the composite path keeps
    the index inside it."""
    if all(d == 1 for d in dilation):
        return False  # pad <= kernel/2 keeps an undilated window on the input
    return any(
        not any(0 <= o * s - p + j * d < n for j in range(k))
        for n, k, s, p, d, oc in zip(spatial, kernel, stride, padding, dilation, out)
        for o in range(oc)
    )


def _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, op):
    x, unbatched = _pool_input(input, nd, op)
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding, dilation, nd, op)
    for k, p, d in zip(kernel, padding, dilation):
        if p < 0 or p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={d}"
            )
    spatial = tuple(x.shape[2:])
    out = tuple(_pool_out(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation))
    _check_out(spatial, out, x.shape[1])
    if nd in (1, 2) and x.is_floating_point() and not _empty_window(spatial, kernel, stride, padding, dilation, out):
        # the core op: one kernel (either device) finds each window's maximum and its index;
        # the values carry the gradient of a gather at those indices
        lift = (lambda v: [1, v[0]]) if nd == 1 else list
        x2 = x.unsqueeze(2) if nd == 1 else x
        values, idx = _C._max_pool2d(x2, lift(kernel), lift(stride), [0, padding[0]] if nd == 1 else list(padding),
                                     lift(dilation), lift(out))
        if nd == 1:
            values, idx = values.squeeze(2), idx.squeeze(2)
        if unbatched:
            values, idx = values.squeeze(0), idx.squeeze(0)
        return (values, idx) if return_indices else values
    flat = []
    for n, k, s, p, d, o in reversed(list(zip(spatial, kernel, stride, padding, dilation, out))):
        right = max((o - 1) * s + d * (k - 1) + 1 - n - p, 0)
        flat += [p, right]
    if any(flat):
        lowest = float("-inf") if x.is_floating_point() else (-(2**31) if x.dtype == _C.int32 else -(2**63))
        x = pad(x, flat, value=lowest)
    values, arg = _running_max(_window_views(x, kernel, dilation, stride, out), return_indices)
    if unbatched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    # flat input index of each window element: sum_i (o_i*s_i - p_i + k_i*d_i) * prod(spatial[i+1:])
    grids = np.meshgrid(*[np.arange(k) for k in kernel], indexing="ij")
    pos = np.zeros((int(np.prod(kernel)),) + out, dtype=np.int64)
    mult = 1
    for i in reversed(range(nd)):
        shp = [1] * nd
        shp[i] = out[i]
        o_i = np.arange(out[i]).reshape(shp) * stride[i] - padding[i]
        k_i = grids[i].reshape((-1,) + (1,) * nd) * dilation[i]
        pos += (o_i[None] + k_i) * mult
        mult *= spatial[i]
    table = _idx(pos, x.device).unsqueeze(0).unsqueeze(0).expand(x.shape[0], x.shape[1], *pos.shape)
    indices = table.gather(2, arg.unsqueeze(2)).squeeze(2)
    if unbatched:
        indices = indices.squeeze(0)
    return values, indices


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3, "max_pool3d")


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _unpool_output_size(input, kernel, stride, padding, output_size, nd):
    default = [(input.shape[input.dim() - nd + i] - 1) * stride[i] - 2 * padding[i] + kernel[i] for i in range(nd)]
    if output_size is None:
        return default
    given = output_size
    output_size = [int(o) for o in output_size]
    if len(output_size) in (nd + 1, nd + 2):
        output_size = output_size[-nd:]
    if len(output_size) != nd:
        raise ValueError(
            f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a length of "
            f"'{len(output_size)}'"
        )
    for d in range(nd):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{given}" (dim {d} must be between {lo} and {hi})')
    return output_size


def _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, nd, op):
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: Expected {nd + 1}D or {nd + 2}D input, but got input of size: {_size(input)}")
    if indices.dtype != _C.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {_type_word(indices.dtype).capitalize()}")
    if list(indices.shape) != list(input.shape):
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor ({_size(input)}) but got "
            f"indices tensor with shape: {_size(indices)}"
        )
    out = _unpool_output_size(input, kernel, stride, padding, output_size, nd)
    x, unbatched = _batchify(input, nd, op)
    idx = indices.unsqueeze(0) if unbatched else indices
    n, c = x.shape[0], x.shape[1]
    size = int(np.prod(out))
    flat_i = idx.reshape(n, c, -1)
    if flat_i.numel():
        lo, hi = int(flat_i.amin()), int(flat_i.amax())
        if lo < 0 or hi >= size:
            raise RuntimeError(
                f"Found an invalid max index: {hi if hi >= size else lo} (output volumes are of size "
                f"{'x'.join(map(str, out))})"
            )
    y = _full([n, c, size], 0, x).scatter(2, flat_i, x.reshape(n, c, -1)).reshape([n, c] + out)
    return y.squeeze(0) if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpoolnd(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd, op):
    x, unbatched = _pool_input(input, nd, op)
    kernel, stride, padding, _ = _pool_args(kernel_size, stride, padding, 1, nd, op)
    for k, p in zip(kernel, padding):
        if p < 0 or p > k // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation=1"
            )
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    spatial = tuple(x.shape[2:])
    out = tuple(_pool_out(n, k, s, p, 1, ceil_mode) for n, k, s, p in zip(spatial, kernel, stride, padding))
    _check_out(spatial, out, x.shape[1])
    flat = []
    for n, k, s, p, o in reversed(list(zip(spatial, kernel, stride, padding, out))):
        flat += [p, max((o - 1) * s + k - n - p, 0)]
    if any(flat):
        x = pad(x, flat)
    # a chain of adds over the window views, not a reduction over a stacked dim (see _running_max)
    views = _window_views(x, kernel, (1,) * nd, stride, out)
    total = views[0].clone()
    for v in views[1:]:
        total = total + v
    if divisor_override is not None:
        y = total / divisor_override
    else:
        # torch's divisor per output: the window clipped to the padded input, or to the input
        # itself without count_include_pad
        div = np.ones(out, dtype=np.float64)
        for i in range(nd):
            start = np.arange(out[i]) * stride[i] - padding[i]
            end = np.minimum(start + kernel[i], spatial[i] + padding[i])
            size = end - start
            if not count_include_pad:
                size = np.minimum(end, spatial[i]) - np.maximum(start, 0)
            shp = [1] * nd
            shp[i] = out[i]
            div = div * size.reshape(shp)
        if not total.is_floating_point() and np.all(div == div.flat[0]):
            y = total.div(int(div.flat[0]), rounding_mode="trunc")  # torch keeps integer pools integer
        elif np.all(div == div.flat[0]):
            y = total / float(div.flat[0])
        else:
            y = total / _const(div, total)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2, "avg_pool2d")


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3, "avg_pool3d")


def _lp_poolnd(input, norm_type, kernel_size, stride, ceil_mode, nd, op):
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    p = float(norm_type)
    x = input.pow(p)
    y = _avg_poolnd(x, kernel, stride, 0, ceil_mode, True, None, nd, op)
    # torch: (sign(y) * relu(|y|)) * prod(kernel), then the 1/p power
    return (y.sign() * y.abs().relu()).mul(float(np.prod(kernel))).pow(1.0 / p)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_poolnd(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_poolnd(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def _adaptive_bounds(n, o):
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)  # ceil((i+1)*n/o)
    return start, end


def _adaptive_args(input, output_size, nd, op):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {_size(input)}")
    for d in range(1 if input.dim() == nd + 2 else 0, input.dim()):
        if input.shape[d] == 0:
            raise RuntimeError(
                f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                f"sizes {_size(input)} with dimension {d} being empty"
            )
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{op}: output_size must be {nd}")
    spatial = tuple(input.shape[-nd:])
    return tuple(n if o is None else int(o) for n, o in zip(spatial, output_size)), spatial


def _adaptive_avg_poolnd(input, output_size, nd, op):
    out, spatial = _adaptive_args(input, output_size, nd, op)
    y = input
    # one averaging matrix per spatial dim (torch's variable windows), applied by matmul
    for i in range(nd):
        n, o = spatial[i], out[i]
        if n == o:
            continue
        start, end = _adaptive_bounds(n, o)
        m = np.zeros((o, n))
        for r in range(o):
            m[r, start[r]:end[r]] = 1.0 / (end[r] - start[r])
        d = y.dim() - nd + i
        y = _mix_dim(y, d, m)
    return y


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg_poolnd(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg_poolnd(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg_poolnd(input, output_size, 3, "adaptive_avg_pool3d")


def _adaptive_max_poolnd(input, output_size, return_indices, nd, op):
    out, spatial = _adaptive_args(input, output_size, nd, op)
    x, unbatched = _batchify(input, nd, op)
    n, c = x.shape[0], x.shape[1]
    # gather every window padded to the widest one by repeating its last element (a repeat
    # cannot change a max), then one reduction
    widths, idx_per_dim = [], []
    for i in range(nd):
        start, end = _adaptive_bounds(spatial[i], out[i])
        kmax = int((end - start).max())
        j = start[:, None] + np.arange(kmax)[None, :]
        j = np.minimum(j, end[:, None] - 1)
        widths.append(kmax)
        idx_per_dim.append(j)
    y = x
    for i in range(nd):
        d = 2 + 2 * i
        y = y.index_select(d, _idx(idx_per_dim[i].reshape(-1), x.device))
        shp = list(y.shape)
        y = y.reshape(shp[:d] + [out[i], widths[i]] + shp[d + 1:])
    # (N, C, o0, k0, o1, k1, ...) -> (N, C, o0, o1, ..., k0*k1*...)
    perm = [0, 1] + [2 + 2 * i for i in range(nd)] + [3 + 2 * i for i in range(nd)]
    y = y.permute(perm).reshape([n, c, *out, int(np.prod(widths))])
    values, arg = _running_max([y.select(-1, j) for j in range(y.shape[-1])], return_indices)
    if unbatched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    pos = np.zeros(tuple(out) + tuple(widths), dtype=np.int64)
    mult = 1
    for i in reversed(range(nd)):
        shp = [1] * (2 * nd)
        shp[i] = out[i]
        shp[nd + i] = widths[i]
        pos += idx_per_dim[i].reshape(shp) * mult
        mult *= spatial[i]
    table = _idx(pos.reshape(tuple(out) + (-1,)), x.device).expand(*y.shape)
    indices = table.gather(-1, arg.unsqueeze(-1)).squeeze(-1)
    if unbatched:
        indices = indices.squeeze(0)
    return values, indices


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max_poolnd(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)
