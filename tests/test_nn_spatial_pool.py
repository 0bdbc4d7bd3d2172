"""Pooling, padding, interpolation and pixel shuffle (functional and modules) against NumPy
float64 loop references, float64 finite-difference gradients and torch's error messages."""

import itertools
import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F
from conftest import make_tensor
from test_autograd_gradcheck import check

F64 = torch.float64


def T(a, layout="contiguous"):
    return make_tensor(np.asarray(a, dtype=np.float64), layout)[0]


def npv(t):
    return t.detach().numpy()


def out_size(n, k, s, p, d, ceil):
    eff = d * (k - 1) + 1
    o = (n + 2 * p - eff + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


# ---------------------------------------------------------------------------------------------
# references

def ref_max_pool(x, k, s, p, d, ceil):
    nd = len(k)
    sp = x.shape[2:]
    out = [out_size(sp[i], k[i], s[i], p[i], d[i], ceil) for i in range(nd)]
    y = np.full(x.shape[:2] + tuple(out), -np.inf)
    idx = np.zeros(x.shape[:2] + tuple(out), dtype=np.int64)
    for pos in itertools.product(*[range(o) for o in out]):
        for kk in itertools.product(*[range(kq) for kq in k]):
            at = [pos[i] * s[i] - p[i] + kk[i] * d[i] for i in range(nd)]
            if any(a < 0 or a >= sp[i] for i, a in enumerate(at)):
                continue
            v = x[(slice(None), slice(None)) + tuple(at)]
            flat = int(np.ravel_multi_index(at, sp))
            better = v > y[(slice(None), slice(None)) + pos]
            y[(slice(None), slice(None)) + pos] = np.where(better, v, y[(slice(None), slice(None)) + pos])
            idx[(slice(None), slice(None)) + pos] = np.where(better, flat, idx[(slice(None), slice(None)) + pos])
    return y, idx


def ref_avg_pool(x, k, s, p, ceil, count_include_pad, divisor_override=None):
    nd = len(k)
    sp = x.shape[2:]
    out = [out_size(sp[i], k[i], s[i], p[i], 1, ceil) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(out))
    for pos in itertools.product(*[range(o) for o in out]):
        starts = [pos[i] * s[i] - p[i] for i in range(nd)]
        ends = [min(starts[i] + k[i], sp[i] + p[i]) for i in range(nd)]
        pool = int(np.prod([e - b for b, e in zip(starts, ends)]))
        cs = [max(b, 0) for b in starts]
        ce = [min(e, sp[i]) for i, e in enumerate(ends)]
        win = x[(slice(None), slice(None)) + tuple(slice(b, e) for b, e in zip(cs, ce))]
        total = win.sum(axis=tuple(range(2, win.ndim)))
        if divisor_override:
            div = divisor_override
        elif count_include_pad:
            div = pool
        else:
            div = int(np.prod([e - b for b, e in zip(cs, ce)]))
        y[(slice(None), slice(None)) + pos] = total / div
    return y


def ref_adaptive(x, out, reduce):
    nd = len(out)
    sp = x.shape[-nd:]
    y = np.zeros(x.shape[:-nd] + tuple(out))
    idx = np.zeros(x.shape[:-nd] + tuple(out), dtype=np.int64)
    for pos in itertools.product(*[range(o) for o in out]):
        st = [(pos[i] * sp[i]) // out[i] for i in range(nd)]
        en = [math.ceil((pos[i] + 1) * sp[i] / out[i]) for i in range(nd)]
        win = x[(Ellipsis,) + tuple(slice(a, b) for a, b in zip(st, en))]
        flat = win.reshape(win.shape[:-nd] + (int(np.prod(win.shape[-nd:])),))
        key = (Ellipsis,) + pos
        if reduce == "mean":
            y[key] = flat.mean(-1)
        else:
            y[key] = flat.max(-1)
            local = np.unravel_index(flat.argmax(-1), win.shape[-nd:])
            idx[key] = np.ravel_multi_index([local[i] + st[i] for i in range(nd)], sp)
    return y, idx


def ref_linear_weights(n, o, scale, align_corners):
    w = np.zeros((o, n))
    for j in range(o):
        if align_corners:
            src = j * (n - 1) / (o - 1) if o > 1 else 0.0
        else:
            src = max((j + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n - 1)
        i1 = min(i0 + 1, n - 1)
        lam = src - i0
        w[j, i0] += 1 - lam
        w[j, i1] += lam
    return w


def ref_cubic_weights(n, o, scale, align_corners, A=-0.75):
    def k(t):
        t = abs(t)
        if t <= 1:
            return ((A + 2) * t - (A + 3)) * t * t + 1
        if t < 2:
            return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A
        return 0.0

    w = np.zeros((o, n))
    for j in range(o):
        src = j * (n - 1) / (o - 1) if align_corners and o > 1 else ((j + 0.5) * scale - 0.5 if not align_corners else 0.0)
        i = math.floor(src)
        t = src - i
        for off in range(-1, 3):
            w[j, min(max(i + off, 0), n - 1)] += k(off - t)
    return w


def ref_separable(x, mats):
    """Apply one (out, in) matrix per spatial dim."""
    y = x
    for i, m in enumerate(mats):
        d = x.ndim - len(mats) + i
        y = np.moveaxis(np.tensordot(y, m, axes=([d], [1])), -1, d)
    return y


# ---------------------------------------------------------------------------------------------
# pooling forward

MAX_CASES = [
    # shape, kernel, stride, padding, dilation, ceil
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((2, 3, 7, 6), (3, 2), (2, 2), (1, 0), (1, 2), True),
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), (1, 1), True),
    ((1, 2, 8, 5), (2, 3), (3, 1), (1, 1), (2, 1), False),
]


@pytest.mark.parametrize("case", MAX_CASES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_max_pool2d_matches_reference(case, layout):
    shape, k, s, p, d, ceil = case
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    y, i = F.max_pool2d(T(x, layout), k, s, p, d, ceil_mode=ceil, return_indices=True)
    ry, ri = ref_max_pool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(npv(y), ry)
    np.testing.assert_array_equal(i.numpy(), ri)
    assert i.dtype == torch.int64
    np.testing.assert_array_equal(npv(F.max_pool2d(T(x), k, s, p, d, ceil_mode=ceil)), ry)


def test_max_pool1d_and_unbatched_and_default_stride():
    x = np.random.default_rng(1).standard_normal((2, 3, 10))
    y, i = F.max_pool1d(T(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    ry, ri = ref_max_pool(x, (3,), (2,), (1,), (1,), True)
    np.testing.assert_array_equal(npv(y), ry)
    np.testing.assert_array_equal(i.numpy(), ri)
    x = np.random.default_rng(2).standard_normal((3, 6, 4))
    y = F.max_pool2d(T(x), 2)  # stride defaults to the kernel
    np.testing.assert_array_equal(npv(y), ref_max_pool(x[None], (2, 2), (2, 2), (0, 0), (1, 1), False)[0][0])
    xi = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4).astype(np.int64)
    yi = F.max_pool2d(torch.tensor(xi), 2, padding=1)
    assert yi.dtype == torch.int64
    np.testing.assert_array_equal(yi.numpy(), ref_max_pool(xi.astype(np.float64), (2, 2), (2, 2), (1, 1), (1, 1), False)[0])


AVG_CASES = [
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), False, True, None),
    ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), True, False, None),
    ((2, 3, 7, 6), (3, 2), (2, 3), (1, 1), True, True, None),
    ((1, 2, 5, 4), (2, 2), (1, 2), (1, 0), False, True, 3),
]


@pytest.mark.parametrize("case", AVG_CASES)
def test_avg_pool2d_matches_reference(case):
    shape, k, s, p, ceil, cip, div = case
    x = np.random.default_rng(3).standard_normal(shape)
    y = F.avg_pool2d(T(x, "sliced"), k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
    np.testing.assert_allclose(npv(y), ref_avg_pool(x, k, s, p, ceil, cip, div), atol=1e-12)


def test_avg_pool1d_matches_reference():
    x = np.random.default_rng(4).standard_normal((2, 3, 10))
    for ceil, cip in itertools.product([False, True], [False, True]):
        y = F.avg_pool1d(T(x), 4, 3, 2, ceil_mode=ceil, count_include_pad=cip)
        np.testing.assert_allclose(npv(y), ref_avg_pool(x, (4,), (3,), (2,), ceil, cip), atol=1e-12)


def test_lp_pool2d():
    x = np.abs(np.random.default_rng(5).standard_normal((2, 3, 6, 6))) + 0.1
    y = F.lp_pool2d(T(x), 2, 3, 2)
    ref = np.sqrt(ref_avg_pool(x ** 2, (3, 3), (2, 2), (0, 0), False, True) * 9)
    np.testing.assert_allclose(npv(y), ref, rtol=1e-12)


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 6), (3, 4)), ((3, 5, 3), (7, 4)), ((2, 3, 4, 4), (4, 4)), ((1, 1, 5, 6), (1, 1))])
def test_adaptive_pools_match_reference(shape, out):
    x = np.random.default_rng(6).standard_normal(shape)
    np.testing.assert_allclose(npv(F.adaptive_avg_pool2d(T(x, "transposed"), out)), ref_adaptive(x, out, "mean")[0], atol=1e-12)
    y, i = F.adaptive_max_pool2d(T(x), out, return_indices=True)
    ry, ri = ref_adaptive(x, out, "max")
    np.testing.assert_array_equal(npv(y), ry)
    np.testing.assert_array_equal(i.numpy(), ri)


def test_adaptive_pool_1d_and_none_sizes():
    x = np.random.default_rng(7).standard_normal((2, 3, 7))
    np.testing.assert_allclose(npv(F.adaptive_avg_pool1d(T(x), 5)), ref_adaptive(x, (5,), "mean")[0], atol=1e-12)
    y, i = F.adaptive_max_pool1d(T(x), 3, return_indices=True)
    np.testing.assert_array_equal(i.numpy(), ref_adaptive(x, (3,), "max")[1])
    x = np.random.default_rng(8).standard_normal((2, 3, 7, 6))
    y = F.adaptive_avg_pool2d(T(x), (None, 4))
    np.testing.assert_allclose(npv(y), ref_adaptive(x, (7, 4), "mean")[0], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# pad

@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes_match_numpy(mode, np_mode):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 4, 5))
    y = F.pad(T(x, "transposed"), (1, 2, 3, 0), mode=mode)
    np.testing.assert_array_equal(npv(y), np.pad(x, [(0, 0), (0, 0), (3, 0), (1, 2)], mode=np_mode))
    x1 = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(npv(F.pad(T(x1), (3, 2), mode=mode)), np.pad(x1, [(0, 0), (0, 0), (3, 2)], mode=np_mode))
    x3 = rng.standard_normal((1, 2, 3, 3, 4))
    y = F.pad(T(x3), (1, 1, 2, 0, 0, 1), mode=mode)
    np.testing.assert_array_equal(npv(y), np.pad(x3, [(0, 0), (0, 0), (0, 1), (2, 0), (1, 1)], mode=np_mode))


def test_pad_constant_value_negative_and_any_rank():
    x = np.random.default_rng(10).standard_normal((2, 3, 4, 5))
    y = F.pad(T(x), (-1, 2, 0, -2), value=3.5)
    ref = np.pad(x[:, :, :2, 1:], [(0, 0), (0, 0), (0, 0), (0, 2)], constant_values=3.5)
    np.testing.assert_array_equal(npv(y), ref)
    y = F.pad(T(x), (1, 1, 0, 1, 2, 0, 1, 1))  # every dim, zeros
    np.testing.assert_array_equal(npv(y), np.pad(x, [(1, 1), (2, 0), (0, 1), (1, 1)]))
    assert tuple(F.pad(torch.zeros(0, 3), (1, 1)).shape) == (0, 5)
    b = F.pad(torch.tensor([[True]]), (1, 0), value=False)
    assert b.dtype == torch.bool and b.tolist() == [[False, True]]


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(torch.randn(2, 3), (1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two times the input dimension"):
        F.pad(torch.randn(2, 3), (1, 1, 1, 1, 1, 1))
    with pytest.raises(RuntimeError, match=r"Padding size should be less than the corresponding input dimension, but got: padding \(3, 3\) at dimension 1 of input \[2, 3\]"):
        F.pad(torch.randn(2, 3), (3, 3), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"):
        F.pad(torch.randn(3), (1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(torch.randn(1, 2, 3), (4, 4), mode="circular")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(torch.randn(1, 2, 3), (1, 1), mode="foo")


# ---------------------------------------------------------------------------------------------
# interpolate, pixel shuffle

@pytest.mark.parametrize("size,sf", [((7, 3), None), (None, 1.7), (None, 2), ((5, 4), None)])
def test_interpolate_nearest_and_area(size, sf):
    x = np.random.default_rng(11).standard_normal((2, 3, 5, 4))
    y = F.interpolate(T(x), size=size, scale_factor=sf)
    out = size or (int(5 * sf), int(4 * sf))
    scales = [n / o if size else 1 / sf for n, o in zip((5, 4), out)]
    ih = [min(int(math.floor(j * scales[0])), 4) for j in range(out[0])]
    iw = [min(int(math.floor(j * scales[1])), 3) for j in range(out[1])]
    np.testing.assert_array_equal(npv(y), x[:, :, ih][:, :, :, iw])
    ye = F.interpolate(T(x), size=size, scale_factor=sf, mode="nearest-exact")
    ih = [min(int(math.floor((j + 0.5) * scales[0])), 4) for j in range(out[0])]
    iw = [min(int(math.floor((j + 0.5) * scales[1])), 3) for j in range(out[1])]
    np.testing.assert_array_equal(npv(ye), x[:, :, ih][:, :, :, iw])
    ya = F.interpolate(T(x), size=out, mode="area")
    np.testing.assert_allclose(npv(ya), ref_adaptive(x, out, "mean")[0], atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size,sf", [((7, 3), None), (None, 1.5), ((8, 9), None)])
def test_interpolate_bilinear_bicubic(mode, align_corners, size, sf):
    x = np.random.default_rng(12).standard_normal((2, 3, 5, 4))
    y = F.interpolate(T(x, "transposed"), size=size, scale_factor=sf, mode=mode, align_corners=align_corners)
    out = size or (int(5 * sf), int(4 * sf))
    scales = [n / o if size else 1 / sf for n, o in zip((5, 4), out)]
    mk = ref_linear_weights if mode == "bilinear" else ref_cubic_weights
    mats = [mk(n, o, s, align_corners) for n, o, s in zip((5, 4), out, scales)]
    np.testing.assert_allclose(npv(y), ref_separable(x, mats), atol=1e-12)


def test_interpolate_linear_trilinear_and_modules():
    x = np.random.default_rng(13).standard_normal((2, 3, 5))
    y = F.interpolate(T(x), scale_factor=2, mode="linear")
    np.testing.assert_allclose(npv(y), ref_separable(x, [ref_linear_weights(5, 10, 0.5, False)]), atol=1e-12)
    x3 = np.random.default_rng(14).standard_normal((1, 2, 3, 4, 3))
    y = F.interpolate(T(x3), size=(5, 3, 4), mode="trilinear", align_corners=True)
    mats = [ref_linear_weights(n, o, 0, True) for n, o in zip((3, 4, 3), (5, 3, 4))]
    np.testing.assert_allclose(npv(y), ref_separable(x3, mats), atol=1e-12)
    x4 = np.random.default_rng(15).standard_normal((1, 2, 3, 4))
    up = nn.UpsamplingBilinear2d(scale_factor=2)
    mats = [ref_linear_weights(n, 2 * n, 0, True) for n in (3, 4)]
    np.testing.assert_allclose(npv(up(T(x4))), ref_separable(x4, mats), atol=1e-12)
    np.testing.assert_array_equal(npv(nn.UpsamplingNearest2d(scale_factor=2)(T(x4))), x4.repeat(2, 2).repeat(2, 3))
    assert repr(nn.Upsample(scale_factor=2, mode="bilinear")) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(3, 4))) == "Upsample(size=(3, 4), mode='nearest')"


def test_interpolate_errors():
    x = torch.randn(1, 3, 4, 4)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D input"):
        F.interpolate(torch.randn(1, 3, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(RuntimeError, match=r"Input and output sizes should be greater than 0, but got input \(H: 4, W: 4\) output \(H: 0, W: 0\)"):
        F.interpolate(x, scale_factor=0.1)


def test_pixel_shuffle_and_unshuffle():
    x = np.random.default_rng(16).standard_normal((2, 8, 3, 4))
    y = F.pixel_shuffle(T(x), 2)
    ref = np.zeros((2, 2, 6, 8))
    for c, i, j, h, w in itertools.product(range(2), range(2), range(2), range(3), range(4)):
        ref[:, c, h * 2 + i, w * 2 + j] = x[:, c * 4 + i * 2 + j, h, w]
    np.testing.assert_array_equal(npv(y), ref)
    np.testing.assert_array_equal(npv(F.pixel_unshuffle(y, 2)), x)
    assert tuple(nn.PixelShuffle(2)(torch.randn(5, 3, 8, 2, 2)).shape) == (5, 3, 2, 4, 4)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=3 is not divisible by 4"):
        F.pixel_shuffle(torch.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-2\)=3 is not divisible by 2"):
        F.pixel_unshuffle(torch.randn(1, 3, 3, 2), 2)


# ---------------------------------------------------------------------------------------------
# gradients

def _leaf(rng, shape):
    return torch.tensor(rng.standard_normal(shape), dtype=F64, requires_grad=True)


def test_pool_gradcheck():
    rng = np.random.default_rng(17)
    x = _leaf(rng, (1, 2, 5, 4))
    check(lambda x: F.max_pool2d(x, (3, 2), 2, 1, dilation=(1, 2), ceil_mode=True), [x])
    check(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [x])
    check(lambda x: F.adaptive_avg_pool2d(x, (3, 3)), [x])
    check(lambda x: F.adaptive_max_pool2d(x, (2, 3)), [x])
    x1 = _leaf(rng, (2, 2, 6))
    check(lambda x: F.max_pool1d(x.transpose(1, 2).transpose(1, 2), 2, 1), [x1])
    check(lambda x: F.avg_pool1d(x, 3, 2, 1), [x1])


def test_pad_interpolate_shuffle_gradcheck():
    rng = np.random.default_rng(18)
    x = _leaf(rng, (1, 2, 4, 3))
    for mode in ["constant", "reflect", "replicate", "circular"]:
        check(lambda x: F.pad(x, (2, 1, 1, 3), mode=mode), [x])
    check(lambda x: F.interpolate(x, size=(5, 6), mode="bilinear"), [x])
    check(lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=True), [x])
    check(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [x])
    y = _leaf(rng, (1, 4, 2, 3))
    check(lambda y: F.pixel_shuffle(y, 2), [y])


# ---------------------------------------------------------------------------------------------
# errors and modules

def test_pool_errors():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"):
        F.max_pool2d(torch.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"Given input size: \(1x1x1\). Calculated output size: \(1x0x0\). Output size is too small"):
        F.max_pool2d(torch.randn(1, 1, 1, 1), 2)
    with pytest.raises(RuntimeError, match="non-empty 3D or 4D"):
        F.avg_pool2d(torch.randn(2, 3), 2)
    with pytest.raises(RuntimeError, match=r"max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim batch size for input, but got:\[2\]"):
        F.max_pool1d(torch.randn(2), 2)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d\(\): Expected 3D or 4D tensor, but got \[2\]"):
        F.adaptive_avg_pool2d(torch.randn(2), 2)
    with pytest.raises(RuntimeError, match="with dimension 2 being empty"):
        F.adaptive_avg_pool2d(torch.randn(1, 2, 0, 3), 2)


def test_pool_and_pad_modules():
    x = torch.randn(2, 3, 6, 5)
    m = nn.MaxPool2d(3, 2, 1, return_indices=True)
    y, i = m(x)
    ry, ri = ref_max_pool(x.numpy().astype(np.float64), (3, 3), (2, 2), (1, 1), (1, 1), False)
    np.testing.assert_allclose(y.numpy(), ry, rtol=1e-6)
    np.testing.assert_array_equal(i.numpy(), ri)
    assert repr(m) == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(nn.ZeroPad2d(2)) == "ZeroPad2d((2, 2, 2, 2))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    assert repr(nn.ReflectionPad2d((1, 0, 2, 1))) == "ReflectionPad2d((1, 0, 2, 1))"
    xn = np.random.default_rng(19).standard_normal((2, 3, 4, 5))
    for cls, np_mode in [(nn.ReflectionPad2d, "reflect"), (nn.ReplicationPad2d, "edge"), (nn.CircularPad2d, "wrap"), (nn.ZeroPad2d, "constant")]:
        np.testing.assert_array_equal(npv(cls((1, 2, 0, 3))(T(xn))), np.pad(xn, [(0, 0), (0, 0), (0, 3), (1, 2)], mode=np_mode))
    np.testing.assert_array_equal(npv(nn.ReplicationPad1d(2)(T(xn[0]))), np.pad(xn[0], [(0, 0), (0, 0), (2, 2)], mode="edge"))
    np.testing.assert_allclose(npv(nn.AdaptiveAvgPool2d(1)(T(xn))), xn.mean((2, 3), keepdims=True), atol=1e-12)
    np.testing.assert_allclose(npv(nn.AvgPool2d(2, ceil_mode=True)(T(xn))), ref_avg_pool(xn, (2, 2), (2, 2), (0, 0), True, True), atol=1e-12)
    assert [n for n, _ in nn.MaxPool2d(2).named_parameters()] == []


# ---------------------------------------------------------------------------------------------
# random configurations

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import LAYOUTS  # noqa: E402


@given(
    n=st.integers(0, 2), c=st.integers(1, 2), h=st.integers(1, 7), w=st.integers(1, 7),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    p=st.tuples(st.integers(0, 1), st.integers(0, 1)), d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    ceil=st.booleans(), cip=st.booleans(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16),
)
def test_pools_random_configurations(n, c, h, w, k, s, p, d, ceil, cip, layout, seed):
    assume(all(pp <= kk // 2 for pp, kk in zip(p, k)))
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    xt, xref = make_tensor(x, layout)
    if all(out_size(nn_, kk, ss, pp, dd, ceil) >= 1 for nn_, kk, ss, pp, dd in zip((h, w), k, s, p, d)) and all(
        pp <= ((kk - 1) * dd + 1) // 2 for pp, kk, dd in zip(p, k, d)
    ):
        y, i = F.max_pool2d(xt, k, s, p, d, ceil_mode=ceil, return_indices=True)
        ry, ri = ref_max_pool(xref, k, s, p, d, ceil)
        np.testing.assert_array_equal(npv(y), ry)
        # a dilated window can lie wholly in the padding: -inf, and an index torch leaves arbitrary
        seen = np.isfinite(ry)
        np.testing.assert_array_equal(i.numpy()[seen], ri[seen])
    if all(out_size(nn_, kk, ss, pp, 1, ceil) >= 1 for nn_, kk, ss, pp in zip((h, w), k, s, p)):
        y = F.avg_pool2d(xt, k, s, p, ceil_mode=ceil, count_include_pad=cip)
        np.testing.assert_allclose(npv(y), ref_avg_pool(xref, k, s, p, ceil, cip), atol=1e-12)
    oh, ow = 1 + seed % 4, 1 + (seed // 4) % 5
    if h and w:
        np.testing.assert_allclose(npv(F.adaptive_avg_pool2d(xt, (oh, ow))), ref_adaptive(xref, (oh, ow), "mean")[0], atol=1e-12)


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)),
    pads=st.tuples(*[st.integers(0, 3)] * 4), mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
    layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16),
)
def test_pad_random_configurations(shape, pads, mode, layout, seed):
    h, w = shape[2:]
    if mode == "reflect":
        assume(max(pads[:2]) < w and max(pads[2:]) < h)
    if mode == "circular":
        assume(max(pads[:2]) <= w and max(pads[2:]) <= h)
    x = np.random.default_rng(seed).standard_normal(shape)
    xt, xref = make_tensor(x, layout)
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    ref = np.pad(xref, [(0, 0), (0, 0), (pads[2], pads[3]), (pads[0], pads[1])], mode=np_mode)
    np.testing.assert_array_equal(npv(F.pad(xt, pads, mode=mode)), ref)


def test_max_unpool_inverts_max_pool_positions():
    x = np.random.default_rng(20).standard_normal((2, 3, 5, 4))
    y, i = F.max_pool2d(T(x), 2, return_indices=True)
    u = F.max_unpool2d(y, i, 2, output_size=(5, 4))
    ref = np.zeros((2, 3, 20))
    ry, ri = ref_max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    for b, ch in itertools.product(range(2), range(3)):
        ref[b, ch, ri[b, ch].ravel()] = ry[b, ch].ravel()
    np.testing.assert_array_equal(npv(u), ref.reshape(2, 3, 5, 4))
    assert tuple(nn.MaxUnpool2d(2)(y, i).shape) == (2, 3, 4, 4)
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    y1, i1 = F.max_pool1d(T(x[0]), 2, return_indices=True)  # unbatched (C, L)
    assert tuple(F.max_unpool1d(y1, i1, 2).shape) == (3, 5, 4)
    leaf = torch.tensor(npv(y), dtype=F64, requires_grad=True)
    check(lambda v: F.max_unpool2d(v, i, 2, output_size=(5, 4)), [leaf])
    y5, i5 = F.max_pool2d(torch.arange(25.0).reshape(1, 1, 5, 5), 2, return_indices=True)
    with pytest.raises(RuntimeError, match="Found an invalid max index: 18 \\(output volumes are of size 4x4\\)"):
        F.max_unpool2d(y5, i5, 2)  # the default output size (4, 4) is smaller than the pooled 5x5
    with pytest.raises(ValueError, match='invalid output_size "\\(7, 7\\)" \\(dim 0 must be between 2 and 6\\)'):
        F.max_unpool2d(y, i, 2, output_size=(7, 7))
    with pytest.raises(RuntimeError, match="elements in indices should be type int64 but got: Int"):
        F.max_unpool2d(y, i.int(), 2)


def test_channel_shuffle():
    x = torch.arange(8.0).reshape(1, 8, 1, 1)
    assert F.channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    assert nn.ChannelShuffle(4)(x).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert repr(nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 3 channels and 2 groups."):
        F.channel_shuffle(torch.randn(1, 3, 2), 2)


# ---------------------------------------------------------------------------------------------
# affine_grid, grid_sample

def ref_reflect(x, lo2, hi2):
    if lo2 == hi2:
        return 0.0
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    x = abs(x - lo)
    flips = math.floor(x / span)
    extra = x - flips * span
    return extra + lo if flips % 2 == 0 else span - extra + lo


def ref_grid_sample(x, grid, mode, padding_mode, align_corners):
    n, c, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:3])

    def src(g, size):
        v = (g + 1) / 2 * (size - 1) if align_corners else ((g + 1) * size - 1) / 2
        if padding_mode == "border":
            v = min(max(v, 0), size - 1)
        elif padding_mode == "reflection":
            v = ref_reflect(v, 0, 2 * (size - 1)) if align_corners else ref_reflect(v, -1, 2 * size - 1)
            v = min(max(v, 0), size - 1)
        return v

    def at(b, yi, xi):
        return x[b, :, yi, xi] if 0 <= yi < h and 0 <= xi < w else np.zeros(c)

    for b, i, j in itertools.product(range(n), range(grid.shape[1]), range(grid.shape[2])):
        sx, sy = src(grid[b, i, j, 0], w), src(grid[b, i, j, 1], h)
        if mode == "nearest":
            out[b, :, i, j] = at(b, int(np.rint(sy)), int(np.rint(sx)))
            continue
        x0, y0 = math.floor(sx), math.floor(sy)
        fx, fy = sx - x0, sy - y0
        out[b, :, i, j] = (at(b, y0, x0) * (1 - fx) * (1 - fy) + at(b, y0, x0 + 1) * fx * (1 - fy)
                           + at(b, y0 + 1, x0) * (1 - fx) * fy + at(b, y0 + 1, x0 + 1) * fx * fy)
    return out


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_reference(mode, padding_mode, align_corners):
    rng = np.random.default_rng(21)
    x = rng.standard_normal((2, 3, 5, 4))
    grid = rng.uniform(-1.4, 1.4, (2, 4, 6, 2))  # some samples fall outside the input
    y = F.grid_sample(T(x, "transposed"), T(grid), mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    np.testing.assert_allclose(npv(y), ref_grid_sample(x, grid, mode, padding_mode, align_corners), atol=1e-12)


def test_affine_grid_and_gradients():
    theta = np.array([[[0.8, -0.3, 0.1], [0.2, 1.1, -0.2]]])
    for ac in (False, True):
        g = npv(F.affine_grid(T(theta), (1, 2, 3, 4), align_corners=ac))
        xs = np.linspace(-1, 1, 4) * (1 if ac else 3 / 4)
        ys = np.linspace(-1, 1, 3) * (1 if ac else 2 / 3)
        base = np.stack(np.broadcast_arrays(xs[None], ys[:, None], np.ones((3, 4))), -1)
        np.testing.assert_allclose(g[0], base @ theta[0].T, atol=1e-12)
    assert tuple(F.affine_grid(torch.randn(2, 3, 4), (2, 1, 2, 3, 4), align_corners=False).shape) == (2, 2, 3, 4, 3)
    rng = np.random.default_rng(22)
    x = torch.tensor(rng.standard_normal((1, 2, 4, 3)), dtype=F64, requires_grad=True)
    th = torch.tensor(theta * 0.9, dtype=F64, requires_grad=True)
    check(lambda x, th: F.grid_sample(x, F.affine_grid(th, (1, 2, 3, 5), align_corners=False), align_corners=False,
                                      padding_mode="border"), [x, th])
    with pytest.raises(ValueError, match="Expected a batch of 2D affine matrices of shape Nx2x3 for size"):
        F.affine_grid(torch.randn(2, 2, 2), (2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="expected grid to have size 2 in last dimension"):
        F.grid_sample(torch.randn(1, 2, 3, 3), torch.randn(1, 4, 4, 3))
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection', but got: 'foo'"):
        F.grid_sample(torch.randn(1, 2, 3, 3), torch.randn(1, 4, 4, 2), padding_mode="foo")
