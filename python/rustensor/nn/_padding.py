"""torch.nn.functional.pad: constant, reflect, replicate and circular padding.

Constant padding cats filled blocks; the other modes are one index_select per padded dim."""

from __future__ import annotations

import numpy as np

from ._spatial_util import _full, _idx, _size

__all__ = [
    "pad",
]


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
