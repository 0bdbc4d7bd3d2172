"""conv, pooling, padding, interpolation, pixel shuffle, fold and attention functions of
``rustensor.nn.functional`` (owner: nn-spatial).

Every heavy function is a handful of core ops whose count does not grow with the spatial
size: convolution is im2col (one strided-slice view per kernel offset, stacked once) and one
batched matmul; transposed convolution is one matmul and col2im (fold), which spreads,
shifts and adds per spatial dim; pooling stacks the same window views and reduces once;
resampling and adaptive average pooling are one small matmul per spatial dim.
Gradients come from autograd through those ops.
"""

from __future__ import annotations

import builtins
import itertools
import math
import numbers

import numpy as np

from .. import _rustensor as _C
from .._rustensor import Tensor

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "channel_shuffle",
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "affine_grid", "grid_sample",
    "scaled_dot_product_attention", "multi_head_attention_forward",
]


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


def _autocast(*ts):
    from ..amp.autocast_mode import _cast_inputs

    return _cast_inputs(*ts)


# ---------------------------------------------------------------------------------------------
# convolution

def _type_word(dtype) -> str:
    """torch's C type name in messages: double, float, half, long, int, bool."""
    return {"float64": "double", "float32": "float", "float16": "half", "int64": "long", "int32": "int",
            "bool": "bool"}.get(str(dtype).split(".")[-1], str(dtype))


def _conv_checks(input, weight, bias, stride, padding, dilation, groups, nd, op, transposed=False):
    if weight.dim() != nd + 2:
        raise RuntimeError(
            f"{op}: expected weight to be {nd + 2}-dimensional (out_channels, in_channels/groups, kernel...), "
            f"but got weight of size {_size(weight)}"
        )
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if not isinstance(padding, str) and any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    c = input.shape[1]
    if transposed:
        if c != weight.shape[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {_size(weight)}, expected input{_size(input)} "
                f"to have {weight.shape[0]} channels, but got {c} channels instead"
            )
        if weight.shape[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                f"but got weight of size {_size(weight)} instead"
            )
        out_ch = weight.shape[1] * groups
    else:
        if weight.shape[0] < groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, "
                f"but got weight of size {_size(weight)} instead"
            )
        if weight.shape[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                f"but got weight of size {_size(weight)} instead"
            )
        if c != weight.shape[1] * groups:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {_size(weight)}, expected input{_size(input)} "
                f"to have {weight.shape[1] * groups} channels, but got {c} channels instead"
            )
        out_ch = weight.shape[0]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_ch):
        raise RuntimeError(
            f"Given weight of size {_size(weight)}, expected bias to be 1-dimensional with {out_ch} "
            f"elements, but got bias of size {_size(bias)} instead"
        )
    if input.device != weight.device or (bias is not None and bias.device != weight.device):
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{input.device} and {weight.device}!"
        )
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"expected scalar type {_type_word(input.dtype).capitalize()} but found {_type_word(weight.dtype).capitalize()}"
            f" ({op}: input {_size(input)} and weight {_size(weight)})"
        )
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(
            f"Input type ({_type_word(input.dtype)}) and bias type ({_type_word(bias.dtype)}) should be the same"
        )


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd, op):
    input, weight, bias = _autocast(input, weight, bias)
    x, unbatched = _batchify(input, nd, op)
    stride = _tuple(stride, nd, "stride", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
    else:
        padding = _tuple(padding, nd, "padding", op)
    _conv_checks(x, weight, bias, stride, padding, dilation, groups, nd, op)
    kernel = tuple(weight.shape[2:])
    spatial = tuple(x.shape[2:])
    if padding == "valid":
        pads = [(0, 0)] * nd
    elif padding == "same":
        # torch puts the odd element of an even total on the right
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for d, k in zip(dilation, kernel)]
    else:
        pads = [(p, p) for p in padding]
    padded = tuple(n + a + b for n, (a, b) in zip(spatial, pads))
    eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(e > p for e, p in zip(eff, padded)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input size"
        )
    out = tuple((p - e) // s + 1 for p, e, s in zip(padded, eff, stride))
    if any(a or b for a, b in pads):
        flat = []
        for a, b in reversed(pads):
            flat += [a, b]
        x = pad(x, flat)
    n, c = x.shape[0], x.shape[1]
    o = weight.shape[0]
    k = int(np.prod(kernel))
    cols = _windows(x, kernel, dilation, stride, out)  # (N, C, K, *out)
    L = int(np.prod(out))
    cols = cols.reshape(n, groups, (c // groups) * k, L)
    w = weight.reshape(groups, o // groups, (c // groups) * k)
    y = (w @ cols).reshape([n, o, *out])
    if bias is not None:
        y = y + bias.reshape([1, o] + [1] * nd)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, op):
    input, weight, bias = _autocast(input, weight, bias)
    x, unbatched = _batchify(input, nd, op)
    stride = _tuple(stride, nd, "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    output_padding = _tuple(output_padding, nd, "output_padding", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    _conv_checks(x, weight, bias, stride, padding, dilation, groups, nd, op, transposed=True)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ < 0:
            raise RuntimeError("negative output_padding is not supported")
        if op_ >= s and op_ >= d:
            names = ["height", "width"] if nd == 2 else (["width"] if nd == 1 else ["depth", "height", "width"])
            desc = " ".join(
                [f"output_padding_{nm}: {v}" for nm, v in zip(names, output_padding)]
                + [f"stride_{nm}: {v}" for nm, v in zip(names, stride)]
                + [f"dilation_{nm}: {v}" for nm, v in zip(names, dilation)]
            )
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got {desc}")
    kernel = tuple(weight.shape[2:])
    outsz = [(n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
             for n, s, p, d, k, op_ in zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)]
    if any(v <= 0 for v in outsz):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). "
            f"Calculated output size per channel: ({' x '.join(map(str, outsz))}). Output size is too small"
        )
    # the gradient of a conv with respect to its input: one matmul gives every (output
    # channel, kernel offset) contribution of each input position, col2im sums them in place
    n, cin = x.shape[0], x.shape[1]
    cog = weight.shape[1]
    k = int(np.prod(kernel))
    spatial = list(x.shape[2:])
    L = int(np.prod(spatial))
    w = weight.reshape(groups, cin // groups, cog * k).transpose(1, 2)  # (G, Cout/G*K, Cin/G)
    cols = w @ x.reshape(n, groups, cin // groups, L)  # (N, G, Cout/G*K, L)
    y = _col2im(cols.reshape(n, groups * cog, k, L), spatial, kernel, dilation, stride, padding, outsz)
    if bias is not None:
        y = y + bias.reshape([1, groups * cog] + [1] * nd)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3, "conv_transpose3d")


# ---------------------------------------------------------------------------------------------
# padding

def _pad_index(n, lo, hi, mode):
    j = np.arange(-lo, n + hi)
    if mode == "reflect":
        j = np.abs(j)
        j = np.where(j >= n, 2 * (n - 1) - j, j)
    elif mode == "replicate":
        j = np.clip(j, 0, n - 1)
    else:  # circular
        j = np.mod(j, n)
    return j


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: `pad` pairs (left, right) from the last dim backwards;
    negative amounts crop."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    npairs = len(pad) // 2
    nd = input.dim()
    if npairs > nd:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got "
            f"padding length {len(pad)} and input of dimension {nd}"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode == "constant":
        from .. import cat

        v = 0 if value is None else value
        x = input
        for i in range(npairs):
            d = nd - 1 - i
            lo, hi = pad[2 * i], pad[2 * i + 1]
            if lo < 0:
                x = x._slice(d, -lo, None, 1)
            if hi < 0:
                x = x._slice(d, 0, x.shape[d] + hi, 1)
            lo, hi = max(lo, 0), max(hi, 0)
            if lo or hi:
                if x.shape[d] + lo + hi < 0:
                    raise RuntimeError(f"pad: resulting padded dimension {d} is negative")
                parts = []
                shp = list(x.shape)
                if lo:
                    shp[d] = lo
                    parts.append(_full(shp, v, x))
                parts.append(x)
                if hi:
                    shp[d] = hi
                    parts.append(_full(shp, v, x))
                x = cat(parts, d)
        return x
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if not (npairs <= 3 and nd in (npairs + 1, npairs + 2)):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {nd}D input tensor.")
    x = input
    for i in range(npairs):
        d = nd - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if not (lo or hi):
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({lo}, {hi}) at dimension {d} of input {_size(input)}"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0:
            raise RuntimeError(f"padding size {d} of input {_size(input)} is empty: replicate needs a value")
        x = x.index_select(d, _idx(_pad_index(n, lo, hi, mode), x.device))
    return x


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
    flat = []
    for n, k, s, p, d, o in reversed(list(zip(spatial, kernel, stride, padding, dilation, out))):
        right = max((o - 1) * s + d * (k - 1) + 1 - n - p, 0)
        flat += [p, right]
    if any(flat):
        lowest = float("-inf") if x.is_floating_point() else (-(2**31) if x.dtype == _C.int32 else -(2**63))
        x = pad(x, flat, value=lowest)
    win = _windows(x, kernel, dilation, stride, out)
    values, arg = win.max(2)
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
    table = _idx(pos, x.device).unsqueeze(0).unsqueeze(0).expand(*win.shape)
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
    total = _windows(x, kernel, (1,) * nd, stride, out).sum(2)
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
        y = (y.transpose(d, -1) @ _const(m.T, y)).transpose(d, -1)
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
    values, arg = y.max(-1)
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


# ---------------------------------------------------------------------------------------------
# resampling

_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _source_index(scale, dst, align_corners, cubic):
    if align_corners:
        return dst * scale
    half = dst.dtype.type(0.5)
    src = (dst + half) * scale - half
    return src if cubic else np.maximum(src, dst.dtype.type(0))


def _linear_matrix(n, o, scale, align_corners, ft):
    """(o, n) matrix of torch's linear-interpolation weights along one dim; coordinates in
    `ft` (the input's precision, as torch computes them)."""
    if align_corners:
        sc = ft((n - 1) / (o - 1)) if o > 1 else ft(0)
    else:
        sc = ft(scale)
    src = _source_index(sc, np.arange(o, dtype=ft), align_corners, False)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = (src - i0).astype(np.float64)
    m = np.zeros((o, n))
    np.add.at(m, (np.arange(o), i0), 1.0 - lam)
    np.add.at(m, (np.arange(o), i1), lam)
    return m


def _cubic_matrix(n, o, scale, align_corners, ft):
    """(o, n) matrix of torch's bicubic weights (A = -0.75, borders clamped) along one dim."""
    A = -0.75
    if align_corners:
        sc = ft((n - 1) / (o - 1)) if o > 1 else ft(0)
    else:
        sc = ft(scale)
    src = _source_index(sc, np.arange(o, dtype=ft), align_corners, True).astype(np.float64)
    i = np.floor(src).astype(np.int64)
    t = src - i

    def c1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    ws = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]
    m = np.zeros((o, n))
    for off, w in zip(range(-1, 3), ws):
        np.add.at(m, (np.arange(o), np.clip(i + off, 0, n - 1)), w)
    return m


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    modes = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
    nd = input.dim() - 2
    if mode not in modes:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
            f"nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})"
        )
    if mode in _MODE_DIMS and nd != _MODE_DIMS[mode]:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_MODE_DIMS[mode] + 2}D input")
    if nd < 1 or nd > 3:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: "
            f"nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})"
        )
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = tuple(input.shape[2:])
    if size is not None:
        out = tuple(int(s) for s in size) if isinstance(size, (list, tuple)) else (int(size),) * nd
        if len(out) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(spatial)} and output size of {list(out)}. Please provide input tensor in "
                "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
            )
        scales = [n / o if o else 0.0 for n, o in zip(spatial, out)]
    elif scale_factor is not None:
        sf = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (list, tuple)) else (float(scale_factor),) * nd
        if len(sf) != nd:
            raise ValueError(
                f"Input and scale_factor must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(spatial)} and scale_factor of shape {list(sf)}. Please provide input tensor in "
                "(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
            )
        out = tuple(int(math.floor(n * s)) for n, s in zip(spatial, sf))
        scales = [(n / o if recompute_scale_factor else 1.0 / s) if o > 0 else 0.0 for n, o, s in zip(spatial, out, sf)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if any(o <= 0 for o in out) or any(n <= 0 for n in spatial):
        names = ["D", "H", "W"][3 - nd:]
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input "
            f"({', '.join(f'{a}: {n}' for a, n in zip(names, spatial))}) output "
            f"({', '.join(f'{a}: {o}' for a, o in zip(names, out))})"
        )
    if mode == "area":
        return _adaptive_avg_poolnd(input, out, nd, f"adaptive_avg_pool{nd}d")
    y = input
    for i in range(nd):
        n, o, sc = spatial[i], out[i], scales[i]
        d = 2 + i
        if mode in ("nearest", "nearest-exact"):
            if n == o and sc == 1.0:
                continue
            dst = np.arange(o, dtype=np.float32)
            s32 = np.float32(sc)
            src = np.floor((dst + np.float32(0.5)) * s32 if mode == "nearest-exact" else dst * s32)
            j = np.minimum(src.astype(np.int64), n - 1)
            y = y.index_select(d, _idx(j, y.device))
        else:
            ft = np.float64 if input.dtype == _C.float64 else np.float32
            mk = _cubic_matrix if mode == "bicubic" else _linear_matrix
            m = mk(n, o, sc, align_corners, ft)
            y = (y.transpose(d, -1) @ _const(m.T, y)).transpose(d, -1)
    return y.contiguous() if y is not input else y.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    oc = c // (r * r)
    b = len(lead)
    y = input.reshape(lead + [oc, r, r, h, w])
    y = y.permute(list(range(b)) + [b, b + 3, b + 1, b + 4, b + 2])
    return y.reshape(lead + [oc, h * r, w * r])


def pixel_unshuffle(input, downscale_factor):
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h} is not divisible by {r}"
        )
    if w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w} is not divisible by {r}"
        )
    b = len(lead)
    y = input.reshape(lead + [c, h // r, r, w // r, r])
    y = y.permute(list(range(b)) + [b, b + 2, b + 4, b + 1, b + 3])
    return y.reshape(lead + [c * r * r, h // r, w // r])


def channel_shuffle(input, groups):
    g = int(groups)
    if input.dim() < 3:
        raise RuntimeError(
            f"channel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    n, c = input.shape[0], input.shape[1]
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    rest = list(input.shape[2:])
    return input.reshape([n, g, c // g] + rest).transpose(1, 2).reshape([n, c] + rest)


def _base_coords(n, align_corners):
    """torch's normalised sample positions along one dim: -1..1 at pixel corners or centres."""
    if n <= 1:
        return np.zeros(max(n, 0))
    v = np.linspace(-1.0, 1.0, n)
    return v if align_corners else v * (n - 1) / n


def affine_grid(theta, size, align_corners=None):
    align_corners = bool(align_corners)
    size = [int(v) for v in size]
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (2, 3):
            raise ValueError(
                f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {tuple(size)}. Got {theta.shape}."
            )
        n, _, h, w = size
        xs, ys = _base_coords(w, align_corners), _base_coords(h, align_corners)
        base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((h, w))), -1).reshape(1, h * w, 3)
        out = [n, h, w, 2]
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta.shape[1:]) != (3, 4):
            raise ValueError(
                f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {tuple(size)}. Got {theta.shape}."
            )
        n, _, d, h, w = size
        xs, ys, zs = _base_coords(w, align_corners), _base_coords(h, align_corners), _base_coords(d, align_corners)
        base = np.stack(np.broadcast_arrays(xs[None, None, :], ys[None, :, None], zs[:, None, None], np.ones((d, h, w))), -1)
        base = base.reshape(1, d * h * w, 4)
        out = [n, d, h, w, 3]
    else:
        raise NotImplementedError(
            f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. Got size {size}."
        )
    if min(size[2:]) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != n:
        raise RuntimeError(
            f"affine_grid: theta's batch size {theta.shape[0]} does not match size[0]={n} (theta {_size(theta)})"
        )
    return (_const(base, theta) @ theta.transpose(1, 2)).reshape(out)


def _reflect_coords(x, twice_low, twice_high):
    if twice_low == twice_high:
        return x * 0
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = (x - lo).abs()
    flips = (x / span).detach().floor()
    extra = x - flips * span
    odd = (flips.remainder(2) == 1)
    return (span - extra + lo).where(odd, extra + lo)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
            f"but got: '{padding_mode}'"
        )
    if input.dim() != 4:
        raise NotImplementedError(f"grid_sample: only 4-D input (N, C, H, W) is supported, got {_size(input)}")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported")
    if grid.dim() != 4 or grid.shape[-1] != 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size 2 in last dimension, but got grid with sizes {_size(grid)}"
        )
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
            f"{_size(input)} and grid with sizes {_size(grid)}"
        )
    align_corners = bool(align_corners)
    n, c, h, w = input.shape
    ho, wo = grid.shape[1], grid.shape[2]

    def source(g, size):
        x = (g + 1) * ((size - 1) / 2) if align_corners else ((g + 1) * size - 1) / 2
        if padding_mode == "border":
            x = x.clamp(0, size - 1)
        elif padding_mode == "reflection":
            x = _reflect_coords(x, 0, 2 * (size - 1)) if align_corners else _reflect_coords(x, -1, 2 * size - 1)
            x = x.clamp(0, size - 1)
        return x

    ix, iy = source(grid[..., 0], w), source(grid[..., 1], h)
    flat = input.reshape(n, c, h * w)

    def tap(yi, xi):
        """Values at integer positions (N, Ho, Wo), zero outside the input."""
        valid = (xi >= 0).logical_and(xi <= w - 1).logical_and(yi >= 0).logical_and(yi <= h - 1)
        lin = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).to(_C.int64)
        v = flat.gather(2, lin.reshape(n, 1, ho * wo).expand(n, c, ho * wo)).reshape(n, c, ho, wo)
        return v, valid.to(input.dtype).unsqueeze(1)

    if mode == "nearest":
        v, ok = tap(iy.detach().round(), ix.detach().round())
        return v * ok
    x0, y0 = ix.detach().floor(), iy.detach().floor()
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for yi, xi, wgt in ((y0, x0, wy0 * wx0), (y0, x0 + 1, wy0 * wx1), (y0 + 1, x0, wy1 * wx0), (y0 + 1, x0 + 1, wy1 * wx1)):
        v, ok = tap(yi, xi)
        term = v * (ok * wgt.unsqueeze(1))
        out = term if out is None else out + term
    return out


# ---------------------------------------------------------------------------------------------
# im2col / col2im

def _im2col_checks(kernel, dilation, padding, stride):
    def bad(what, vals, names=("height", "width")):
        return ", ".join(f"{what}_{n}: {v}" for n, v in zip(names, vals)).replace(", ", " ")

    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel size should be greater than zero, but got {bad('kernel', kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should be greater than zero, but got {bad('stride', stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {bad('dilation', dilation)}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"padding should be non-negative, but got {bad('pad', padding)}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    op = "unfold"
    kernel = _tuple(kernel_size, 2, "kernel_size", op)
    dilation = _tuple(dilation, 2, "dilation", op)
    padding = _tuple(padding, 2, "padding", op)
    stride = _tuple(stride, 2, "stride", op)
    _im2col_checks(kernel, dilation, padding, stride)
    x, unbatched = _batchify(input, 2, op)
    spatial = tuple(x.shape[2:])
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s in zip(spatial, kernel, dilation, padding, stride))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input with spatial size ({', '.join(map(str, spatial))}), kernel_size=({', '.join(map(str, kernel))}), "
            f"dilation=({', '.join(map(str, dilation))}), padding=({', '.join(map(str, padding))}), calculated shape of "
            f"the array of sliding blocks as ({', '.join(map(str, out))}), but its components must be at least one."
        )
    if any(padding):
        x = pad(x, [padding[1], padding[1], padding[0], padding[0]])
    cols = _windows(x, kernel, dilation, stride, out)
    y = cols.reshape(x.shape[0], x.shape[1] * kernel[0] * kernel[1], out[0] * out[1])
    return y.squeeze(0) if unbatched else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    op = "fold"
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero dimensions "
            f"for input, but got: {_size(input)}"
        )
    osz = _tuple(output_size, 2, "output_size", op)
    kernel = _tuple(kernel_size, 2, "kernel_size", op)
    dilation = _tuple(dilation, 2, "dilation", op)
    padding = _tuple(padding, 2, "padding", op)
    stride = _tuple(stride, 2, "stride", op)
    _im2col_checks(kernel, dilation, padding, stride)
    if any(o <= 0 for o in osz):
        raise RuntimeError(f"output size should be greater than zero, but got output_height: {osz[0]} output_width: {osz[1]}")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    k = kernel[0] * kernel[1]
    if x.shape[1] % k:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={x.shape[1]} and kernel_size=({kernel[0]}, {kernel[1]})"
        )
    blocks = [(o + 2 * p - d * (kk - 1) - 1) // s + 1 for o, kk, d, p, s in zip(osz, kernel, dilation, padding, stride)]
    L = blocks[0] * blocks[1]
    if x.shape[2] != L or any(b <= 0 for b in blocks):
        raise RuntimeError(
            f"Given output_size=({osz[0]}, {osz[1]}), kernel_size=({kernel[0]}, {kernel[1]}), "
            f"dilation=({dilation[0]}, {dilation[1]}), padding=({padding[0]}, {padding[1]}), "
            f"stride=({stride[0]}, {stride[1]}), expected size of input's dimension 2 to match the calculated number "
            f"of sliding blocks {blocks[0]} * {blocks[1]} = {L}, but got input.size(2)={x.shape[2]}."
        )
    y = _col2im(x.reshape(x.shape[0], x.shape[1] // k, k, L), blocks, kernel, dilation, stride, padding, osz)
    return y.squeeze(0) if unbatched else y


def _col2im(cols, blocks, kernel, dilation, stride, padding, out):
    """cols (N, C, prod(kernel), prod(blocks)) summed into (N, C, *out): block b's kernel
    offset k lands at b*s + k*d - p (positions outside [0, out) are dropped).

    The sum is separable over the spatial dims, so it runs one dim at a time: spread the
    blocks by the stride (zeros between), shift each kernel offset's copy by k*d with a
    constant pad, add them. Every step is a view, a cat or an add (no scatter, whose
    serial kernel is slow), so the op count depends on the kernel size only."""
    from .. import cat

    nd = len(kernel)
    n, c = cols.shape[0], cols.shape[1]
    full = [max((b - 1) * st + d * (k - 1) + 1, p + o) for b, st, d, k, p, o in zip(blocks, stride, dilation, kernel, padding, out)]
    # (N, C, K0..K_{nd-1}, B0..B_{nd-1}); at step i the shape is
    # (N, C, K_i..K_{nd-1}, O_0..O_{i-1}, B_i..B_{nd-1})
    y = cols.reshape([n, c] + list(kernel) + list(blocks))
    for i in range(nd):
        b, st, d, k = blocks[i], stride[i], dilation[i], kernel[i]
        ab = 2 + nd  # the B_i axis
        if st > 1 and b > 1:
            shp = list(y.shape)
            z = _full(shp[: ab + 1] + [st - 1] + shp[ab + 1:], 0, y)
            y = cat([y.unsqueeze(ab + 1), z], ab + 1)
            shp[ab] = b * st
            y = y.reshape(shp)._slice(ab, 0, (b - 1) * st + 1, 1)
        span = (b - 1) * st + 1
        total = None
        for kk in range(k):
            piece = y.select(2, kk)  # the B_i axis is now ab - 1
            lo = kk * d
            hi = full[i] - span - lo
            flat = [0, 0] * (piece.dim() - ab) + [lo, hi]
            piece = pad(piece, flat) if lo or hi else piece
            total = piece if total is None else total + piece
        y = total
    for i in range(nd):
        if padding[i] or out[i] != full[i]:
            y = y._slice(2 + i, padding[i], padding[i] + out[i], 1)
    return y


# ---------------------------------------------------------------------------------------------
# attention

def _dropout(x, p, training=True):
    if p == 0.0 or not training:
        return x
    if p == 1.0:
        return x * 0
    from .. import rand

    keep = rand(list(x.shape), dtype=x.dtype if x.is_floating_point() else _C.float32)
    if x.device.type != "cpu":
        keep = keep.to(x.device)
    return x * ((keep >= p).to(x.dtype) * (1.0 / (1.0 - p)))


def _repeat_heads(t, n):
    """(..., H, S, E) -> (..., H*n, S, E), each head repeated n times in place (repeat_interleave)."""
    shp = list(t.shape)
    return t.unsqueeze(-3).expand(*shp[:-2], n, *shp[-2:]).reshape(shp[:-3] + [shp[-3] * n] + shp[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    query, key, value = _autocast(query, key, value)
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "scaled_dot_product_attention: expected query, key and value to have at least 2 dims, got "
            f"{_size(query)}, {_size(key)} and {_size(value)}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query's last dim {query.shape[-1]} must match key's {key.shape[-1]} "
            f"(query {_size(query)}, key {_size(key)})"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key and value must have the same sequence length, got key "
            f"{_size(key)} and value {_size(value)}"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk:
            raise RuntimeError(
                f"scaled_dot_product_attention: number of heads in key/value ({hk}) must divide the number of "
                f"heads in query ({hq})"
            )
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    # with E == 0 every score is 0 whatever the scale (torch then averages the values)
    sc = (1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0) if scale is None else float(scale)
    scores = (query * sc) @ key.transpose(-2, -1)
    masked = None
    if is_causal:
        # built on the host: Tensor.tril makes its index grids on the CPU
        from .._tensor import tensor

        allowed = tensor(np.tril(np.ones((L, S), dtype=np.bool_)))
        if query.device.type != "cpu":
            allowed = allowed.to(query.device)
        scores = scores.masked_fill(allowed.logical_not(), float("-inf"))
        masked = allowed
    elif attn_mask is not None:
        if attn_mask.dtype == _C.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
            masked = attn_mask
        else:
            scores = scores + attn_mask
            masked = False
    attn = scores.softmax(-1)
    if masked is not None:
        # torch's math path: a row with every key masked attends to nothing (zeros, not NaN)
        if masked is False:
            dead = scores.amax(-1, keepdim=True) == float("-inf")
        else:
            dead = masked.any(-1, keepdim=True).logical_not()
        attn = attn.masked_fill(dead, 0.0)
    attn = _dropout(attn, dropout_p)
    return attn @ value


def _canonical_mask(mask, name, target_dtype):
    """torch's MHA masks as additive float masks: a bool True means 'not allowed' (-inf)."""
    if mask is None:
        return None
    if mask.dtype == _C.bool:
        zero = _C._full(list(mask.shape), 0.0, target_dtype)
        if mask.device.type != "cpu":
            zero = zero.to(mask.device)
        return zero.masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _linear(x, w, b):
    x, w, b = _autocast(x, w, b)
    y = x @ w.t()
    return y if b is None else y + b


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    from .. import cat

    if query.dim() not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor")
    batched = query.dim() == 3
    if batched and (key.dim() != 3 or value.dim() != 3):
        raise AssertionError(
            f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found {key.dim()}-D and "
            f"{value.dim()}-D tensors respectively"
        )
    if not batched and (key.dim() != 2 or value.dim() != 2):
        raise AssertionError(
            f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found {key.dim()}-D and "
            f"{value.dim()}-D tensors respectively"
        )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {_size(key)} does not match value shape {_size(value)}")
    query, key, value = _autocast(query, key, value)

    if not use_separate_proj_weight:
        if query is key and key is value:
            q, k, v = _linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            wq, wk, wv = in_proj_weight.chunk(3, 0)
            bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3, 0)
            if key is value:
                q = _linear(query, wq, bq)
                k, v = _linear(key, cat([wk, wv], 0), None if bk is None else cat([bk, bv], 0)).chunk(2, -1)
            else:
                q, k, v = _linear(query, wq, bq), _linear(key, wk, bk), _linear(value, wv, bv)
    else:
        bq, bk, bv = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3, 0)
        q, k, v = _linear(query, q_proj_weight, bq), _linear(key, k_proj_weight, bk), _linear(value, v_proj_weight, bv)

    ref = q
    attn_mask = _canonical_mask(attn_mask, "attn_mask", ref.dtype)
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", ref.dtype)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {_size(attn_mask)}, but should be {[tgt_len, src_len]}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {_size(attn_mask)}, but should be "
                    f"{[bsz * num_heads, tgt_len, src_len]}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k)
    v = (v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v)
    if add_zero_attn:
        k = cat([k, _full([bsz * num_heads, 1, head_dim], 0.0, k)], 1)
        v = cat([v, _full([bsz * num_heads, 1, head_dim], 0.0, v)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but got {tuple(key_padding_mask.shape)}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if not need_weights:
        # torch goes through SDPA here, whose rows with every key masked give zeros (with
        # need_weights=True they are NaN, from a plain softmax, as below)
        out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        return (out if batched else out.squeeze(1)), None
    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(-2, -1)  # (N*H, L, S)
    if attn_mask is not None:
        scores = scores + attn_mask
    w = scores.softmax(-1)
    w = _dropout(w, dropout_p)
    out = w @ v  # (N*H, L, hd)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    w = w.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        w = w.mean(1)
    if not batched:
        w = w.squeeze(0)
    return out, w
