"""Resampling: interpolate/upsample, pixel and channel shuffles, affine_grid and grid_sample."""

from __future__ import annotations

import math

import numpy as np

from .. import _rustensor as _C
from ._spatial_util import _const, _idx, _mix_dim, _size
from ._pooling import _adaptive_avg_poolnd

__all__ = [
    "channel_shuffle", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "pixel_shuffle", "pixel_unshuffle", "affine_grid", "grid_sample",
]


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


def _antialias_matrix(n, o, scale, cubic):
    """(o, n) weights of torch's antialiased resize (PIL's): when shrinking, the triangle or
    cubic (a = -0.5) filter is stretched by the scale, and each row is normalised."""
    support = (2.0 if cubic else 1.0) * (scale if scale >= 1.0 else 1.0)
    inv = 1.0 / scale if scale >= 1.0 else 1.0
    a = -0.5
    m = np.zeros((o, n))
    for i in range(o):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n)
        t = np.abs((np.arange(lo, hi) - center + 0.5) * inv)
        if cubic:
            w = np.where(t < 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                         np.where(t < 2, (((t - 5) * t + 8) * t - 4) * a, 0.0))
        else:
            w = np.maximum(1 - t, 0.0)
        total = w.sum()
        if total:
            m[i, lo:hi] = w / total
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
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D tensor as input")
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
            if antialias:
                aa_scale = ((n - 1) / (o - 1) if o > 1 else 0.0) if align_corners else sc
                m = _antialias_matrix(n, o, aa_scale, mode == "bicubic")
            else:
                mk = _cubic_matrix if mode == "bicubic" else _linear_matrix
                m = mk(n, o, sc, align_corners, ft)
            y = _mix_dim(y, d, m)
    return y.contiguous() if y is not input else y.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _shuffle_factor(op, input, factor, factor_name):
    """The checks pixel_shuffle and pixel_unshuffle share, in torch's order and wording."""
    r = int(factor)
    if input.dim() < 3:
        raise RuntimeError(
            f"{op} expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    if r <= 0:
        raise RuntimeError(f"{op} expects a positive {factor_name}, but got {r}")
    return r


def pixel_shuffle(input, upscale_factor):
    r = _shuffle_factor("pixel_shuffle", input, upscale_factor, "upscale_factor")
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
    r = _shuffle_factor("pixel_unshuffle", input, downscale_factor, "downscale_factor")
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


def _grid_bicubic(grid, w, h, padding_mode, align_corners, tap):
    """torch's bicubic grid_sample: 4x4 taps around the unpadded source point, each tap's
    integer position padded on its own, cubic weights with A = -0.75."""
    def unnorm(g, size):
        return (g + 1) * ((size - 1) / 2) if align_corners else ((g + 1) * size - 1) / 2

    def bounded(c, size):
        if padding_mode == "border":
            return c.clamp(0, size - 1)
        if padding_mode == "reflection":
            r = _reflect_coords(c, 0, 2 * (size - 1)) if align_corners else _reflect_coords(c, -1, 2 * size - 1)
            return r.clamp(0, size - 1).round()
        return c

    A = -0.75

    def weights(t):
        def c1(x):
            return ((A + 2) * x - (A + 3)) * x * x + 1

        def c2(x):
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

        return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]

    ix, iy = unnorm(grid[..., 0], w), unnorm(grid[..., 1], h)
    x0, y0 = ix.detach().floor(), iy.detach().floor()
    wx, wy = weights(ix - x0), weights(iy - y0)
    out = None
    for a in range(4):
        yy = bounded(y0 + (a - 1), h)
        for b in range(4):
            v, ok = tap(yy, bounded(x0 + (b - 1), w))
            term = v * (ok * (wy[a] * wx[b]).unsqueeze(1))
            out = term if out is None else out + term
    return out


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
    if mode == "bicubic":
        return _grid_bicubic(grid, w, h, padding_mode, align_corners, tap)
    x0, y0 = ix.detach().floor(), iy.detach().floor()
    wx1, wy1 = ix - x0, iy - y0
    wx0, wy0 = 1 - wx1, 1 - wy1
    out = None
    for yi, xi, wgt in ((y0, x0, wy0 * wx0), (y0, x0 + 1, wy0 * wx1), (y0 + 1, x0, wy1 * wx0), (y0 + 1, x0 + 1, wy1 * wx1)):
        v, ok = tap(yi, xi)
        term = v * (ok * wgt.unsqueeze(1))
        out = term if out is None else out + term
    return out
