"""Convolution (im2col and one GEMM per group), transposed convolution, and unfold/fold.

The batch sits in the GEMM's column dim, so the weight gradient is one GEMM; transposed
convolution is one matmul and col2im (fold), which spreads, shifts and adds per spatial dim."""

from __future__ import annotations

import numpy as np

from ._spatial_util import _autocast, _batchify, _full, _size, _stack, _tuple, _type_word, _window_views, _windows
from ._padding import pad

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold",
]


# ---------------------------------------------------------------------------------------------
# convolution


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
    if nd in (1, 2):
        # float tensors on one device: the core op (its own kernels and backward)
        from ._conv_kernel import conv2d_core

        y = conv2d_core(x, weight, bias, stride, pads, dilation, groups)
        if y is not None:
            return y.squeeze(0) if unbatched else y
    if any(a or b for a, b in pads):
        flat = []
        for a, b in reversed(pads):
            flat += [a, b]
        x = pad(x, flat)
    n, c = x.shape[0], x.shape[1]
    o = weight.shape[0]
    k = int(np.prod(kernel))
    # The batch goes into the GEMM's column dim: cols (C, K, N, *out), one (O/G x CK) @ (CK x N*L)
    # product per group, so the weight gradient is a single GEMM too. Batched over N instead, the
    # weight gradient was N products summed by a reduction, which on the GPU takes a workgroup
    # per weight element (2 s for the digits CNN's second conv on lavapipe).
    views = _window_views(x.transpose(0, 1), kernel, dilation, stride, out)
    cols = views[0].unsqueeze(1) if k == 1 else _stack(views, 1)
    L = int(np.prod(out))
    cols = cols.reshape(groups, (c // groups) * k, n * L)
    w = weight.reshape(groups, o // groups, (c // groups) * k)
    y = (w @ cols).reshape([o, n, *out]).transpose(0, 1).contiguous()
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
