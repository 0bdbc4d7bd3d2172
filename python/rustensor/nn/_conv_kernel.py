"""The fast path of ``F.conv1d``/``F.conv2d``: the core conv2d op (on the CPU an im2col + gemm
kernel, on the GPU an im2col kernel and the tiled matmul; either with its own three-kernel
backward) in place of the composite im2col-from-views path."""

from __future__ import annotations

from .. import _rustensor as _C


def conv2d_core(input, weight, bias, stride, padding, dilation, groups):
    """conv1d/conv2d of a batched input through the core op, or None where it does not apply
    (a non-float dtype, mixed dtypes or devices), so the caller keeps its own path.

    ``input`` is (N, C, L) or (N, C, H, W) and ``weight`` has the same rank; ``stride`` and
    ``dilation`` hold one int per spatial dim; ``padding`` holds one int per spatial dim
    (symmetric) or one (before, after) pair per spatial dim (``padding='same'`` with an even
    kernel). The caller has already checked the arguments with torch's messages.
    """
    nd = input.dim() - 2
    if nd not in (1, 2) or weight.dim() != nd + 2:
        return None
    ts = [input, weight] + ([bias] if bias is not None else [])
    if any(t.device != input.device or not t.is_floating_point() or t.dtype != input.dtype for t in ts):
        return None
    pads = []
    for p in padding:
        pads += [int(p), int(p)] if isinstance(p, int) else [int(p[0]), int(p[1])]
    stride, dilation = [int(s) for s in stride], [int(d) for d in dilation]
    if nd == 1:
        # a 1-d convolution is a 2-d one over a height-1 image with a height-1 kernel
        y = _C._conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, [1] + stride, [0, 0] + pads,
                       [1] + dilation, int(groups))
        return y.squeeze(2)
    return _C._conv2d(input, weight, bias, stride, pads, dilation, int(groups))
