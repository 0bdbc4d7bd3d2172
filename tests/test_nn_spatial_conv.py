"""Convolution, transposed convolution, unfold and fold (functional and modules) against
NumPy float64 references, float64 finite-difference gradients, torch's error messages, and
module semantics (parameter names and shapes, default init bounds, padding modes)."""

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


# ---------------------------------------------------------------------------------------------
# references

def ref_conv(x, w, b, stride, padding, dilation, groups):
    """Direct correlation: sliding windows of the zero-padded input, summed against w."""
    nd = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, q) for p, q in padding])
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    k = w.shape[2:]
    out = [(xp.shape[2 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    y = np.zeros((n, o, *out))
    og = o // groups
    for pos in itertools.product(*[range(s) for s in out]):
        for kk in itertools.product(*[range(s) for s in k]):
            idx = tuple(pos[i] * stride[i] + kk[i] * dilation[i] for i in range(nd))
            patch = xp[(slice(None), slice(None)) + idx]  # (n, c)
            for g in range(groups):
                y[(slice(None), slice(g * og, (g + 1) * og)) + pos] += (
                    patch[:, g * cg:(g + 1) * cg] @ w[(slice(g * og, (g + 1) * og), slice(None)) + kk].T
                )
    if b is not None:
        y += b.reshape((1, -1) + (1,) * nd)
    return y


def ref_conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter definition: each input element adds x * w at i*s + k*d, then the padding is cropped."""
    nd = x.ndim - 2
    n, cin = x.shape[:2]
    cog = w.shape[1]
    k = w.shape[2:]
    sp = x.shape[2:]
    full = [(sp[i] - 1) * stride[i] + dilation[i] * (k[i] - 1) + 1 + output_padding[i] for i in range(nd)]
    y = np.zeros((n, cog * groups, *full))
    cg = cin // groups
    for pos in itertools.product(*[range(s) for s in sp]):
        for kk in itertools.product(*[range(s) for s in k]):
            at = tuple(pos[i] * stride[i] + kk[i] * dilation[i] for i in range(nd))
            for g in range(groups):
                xg = x[(slice(None), slice(g * cg, (g + 1) * cg)) + pos]  # (n, cg)
                wg = w[(slice(g * cg, (g + 1) * cg), slice(None)) + kk]  # (cg, cog)
                y[(slice(None), slice(g * cog, (g + 1) * cog)) + at] += xg @ wg
    out = [(sp[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k[i] - 1) + output_padding[i] + 1 for i in range(nd)]
    crop = (slice(None), slice(None)) + tuple(slice(padding[i], padding[i] + out[i]) for i in range(nd))
    y = y[crop]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


# ---------------------------------------------------------------------------------------------
# conv forward

CONV2D_CASES = [
    # (N, C, H, W), (O, C/g, kh, kw), stride, padding, dilation, groups
    ((2, 3, 6, 5), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
    ((2, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2),
    ((1, 4, 5, 5), (4, 1, 2, 2), (1, 2), (1, 0), (2, 1), 4),
    ((3, 2, 4, 4), (5, 2, 1, 1), (2, 2), (0, 0), (1, 1), 1),
    ((0, 2, 4, 4), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1),
]


@pytest.mark.parametrize("case", CONV2D_CASES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_conv2d_matches_reference(case, layout):
    xs, ws, s, p, d, g = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(T(x, layout), T(w), T(b), stride=s, padding=p, dilation=d, groups=g)
    ref = ref_conv(x, w, b, s, [(q, q) for q in p], d, g)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(npv(y), ref, rtol=1e-12, atol=1e-12)


def test_conv1d_and_conv3d_match_reference():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    y = F.conv1d(T(x), T(w), T(b), stride=2, padding=2, dilation=2, groups=2)
    np.testing.assert_allclose(npv(y), ref_conv(x, w, b, (2,), [(2, 2)], (2,), 2), atol=1e-12)
    x, w = rng.standard_normal((1, 2, 4, 3, 4)), rng.standard_normal((3, 2, 2, 2, 3))
    y = F.conv3d(T(x), T(w), None, padding=1, stride=(1, 2, 1))
    np.testing.assert_allclose(npv(y), ref_conv(x, w, None, (1, 2, 1), [(1, 1)] * 3, (1, 1, 1), 1), atol=1e-12)


def test_conv_same_valid_and_unbatched():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 4, 3))
    # 'same' with an even kernel: torch puts the extra padding on the right/bottom
    y = F.conv2d(T(x), T(w), padding="same", dilation=(1, 2))
    np.testing.assert_allclose(npv(y), ref_conv(x, w, None, (1, 1), [(1, 2), (2, 2)], (1, 2), 1), atol=1e-12)
    assert tuple(y.shape) == (2, 2, 6, 5)
    y = F.conv2d(T(x), T(w), padding="valid")
    np.testing.assert_allclose(npv(y), ref_conv(x, w, None, (1, 1), [(0, 0)] * 2, (1, 1), 1), atol=1e-12)
    y = F.conv2d(T(x[0]), T(w), stride=2)
    np.testing.assert_allclose(npv(y), ref_conv(x[:1], w, None, (2, 2), [(0, 0)] * 2, (1, 1), 1)[0], atol=1e-12)
    y = F.conv1d(T(x[0, :, 0]), T(w[:, :, 0]))
    assert tuple(y.shape) == (2, 3)


def test_conv_dtype_float32_and_expanded_weight():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 3, 5, 5)).astype(np.float32), rng.standard_normal((1, 3, 3, 3)).astype(np.float32)
    wt = torch.tensor(w).expand(4, 3, 3, 3)  # a stride-0 weight
    y = F.conv2d(torch.tensor(x), wt, padding=1)
    assert y.dtype == torch.float32
    ref = ref_conv(x.astype(np.float64), np.repeat(w, 4, 0).astype(np.float64), None, (1, 1), [(1, 1)] * 2, (1, 1), 1)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)


CONVT_CASES = [
    # (N, Cin, H, W), (Cin, Cout/g, kh, kw), stride, padding, output_padding, groups, dilation
    ((2, 4, 4, 3), (4, 3, 3, 2), (1, 1), (0, 0), (0, 0), 1, (1, 1)),
    ((2, 4, 4, 3), (4, 3, 3, 3), (2, 3), (1, 1), (1, 2), 1, (1, 1)),
    ((1, 4, 3, 4), (4, 2, 3, 2), (2, 2), (2, 1), (1, 0), 2, (2, 1)),
    ((2, 2, 3, 3), (2, 1, 2, 2), (1, 2), (0, 1), (0, 1), 2, (1, 1)),
]


@pytest.mark.parametrize("case", CONVT_CASES)
def test_conv_transpose2d_matches_reference(case):
    xs, ws, s, p, op, g, d = case
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * g)
    y = F.conv_transpose2d(T(x, "transposed"), T(w), T(b), stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    ref = ref_conv_transpose(x, w, b, s, p, op, g, d)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)


def test_conv_transpose1d_matches_reference():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3))
    y = F.conv_transpose1d(T(x), T(w), stride=3, padding=1, output_padding=2)
    np.testing.assert_allclose(npv(y), ref_conv_transpose(x, w, None, (3,), (1,), (2,), 1, (1,)), atol=1e-12)
    y = F.conv_transpose1d(T(x[0]), T(w))
    np.testing.assert_allclose(npv(y), ref_conv_transpose(x[:1], w, None, (1,), (0,), (0,), 1, (1,))[0], atol=1e-12)


def test_unfold_and_fold_match_reference():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 6, 5))
    k, d, p, s = (2, 3), (1, 2), (1, 1), (2, 1)
    cols = F.unfold(T(x, "sliced"), k, dilation=d, padding=p, stride=s)
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    oh = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    ref = np.zeros((2, 3 * k[0] * k[1], oh * ow))
    for i, j in itertools.product(range(oh), range(ow)):
        patch = xp[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0], j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
        ref[:, :, i * ow + j] = patch.reshape(2, -1)
    np.testing.assert_allclose(npv(cols), ref, atol=0)
    # fold is unfold's adjoint: <fold(c), x> == <c, unfold(x)>
    c = rng.standard_normal(ref.shape)
    folded = F.fold(T(c), (6, 5), k, dilation=d, padding=p, stride=s)
    assert tuple(folded.shape) == (2, 3, 6, 5)
    np.testing.assert_allclose((npv(folded) * x).sum(), (c * ref).sum(), rtol=1e-12)
    # a direct col2im for the plain case
    c = rng.standard_normal((12, 9))
    y = F.fold(T(c), (4, 4), 2)
    ref = np.zeros((3, 4, 4))
    cc = c.reshape(3, 2, 2, 3, 3)
    for ki, kj, i, j in itertools.product(range(2), range(2), range(3), range(3)):
        ref[:, i + ki, j + kj] += cc[:, ki, kj, i, j]
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# gradients (float64 finite differences)

def _leaves(rng, *shapes):
    return [torch.tensor(rng.standard_normal(s), dtype=F64, requires_grad=True) for s in shapes]


def test_conv2d_gradcheck():
    rng = np.random.default_rng(10)
    x, w, b = _leaves(rng, (2, 4, 5, 4), (4, 2, 2, 3), (4,))
    check(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), [x, w, b])


def test_conv1d_gradcheck_non_contiguous():
    rng = np.random.default_rng(11)
    x, w = _leaves(rng, (2, 6, 3), (4, 3, 2))
    check(lambda x, w: F.conv1d(x.transpose(1, 2), w, padding="same"), [x, w])


def test_conv_transpose_gradcheck():
    rng = np.random.default_rng(12)
    x, w, b = _leaves(rng, (1, 4, 3, 3), (4, 1, 3, 2), (2,))
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2), [x, w, b])
    x, w = _leaves(rng, (2, 2, 4), (2, 3, 3))
    check(lambda x, w: F.conv_transpose1d(x, w, stride=2, dilation=2), [x, w])


def test_fold_unfold_gradcheck():
    rng = np.random.default_rng(13)
    (x,) = _leaves(rng, (1, 2, 4, 4))
    check(lambda x: F.unfold(x, 2, padding=1, stride=2), [x])
    (c,) = _leaves(rng, (1, 8, 6))
    check(lambda c: F.fold(c, (3, 4), 2, stride=(1, 1), padding=(0, 0)), [c])


# ---------------------------------------------------------------------------------------------
# errors (torch's types and messages)

def test_conv_errors():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[2, 3\]"):
        F.conv2d(torch.randn(2, 3), torch.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[2, 3, 3, 3\], expected input\[1, 4, 5, 5\] to have 3 channels, but got 4 channels instead"):
        F.conv2d(x, torch.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"):
        F.conv1d(x, torch.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(torch.randn(1, 3, 2, 2), torch.randn(2, 3, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Invalid padding string: 'foo'"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), padding="foo")
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 2 elements, but got bias of size \[3\]"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), torch.randn(3))
    with pytest.raises(RuntimeError, match="non-positive stride is not supported"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), stride=0)
    with pytest.raises(RuntimeError, match="negative padding is not supported"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), padding=-1)
    with pytest.raises(RuntimeError, match="expected weight to be at least 3 at dimension 0"):
        F.conv2d(torch.randn(1, 6, 5, 5), torch.randn(2, 2, 3, 3), groups=3)
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 5, 5\] to have 4 channels, but got 3 channels instead"):
        F.conv_transpose2d(torch.randn(1, 3, 5, 5), torch.randn(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(x, torch.randn(4, 2, 3, 3), output_padding=1)
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        F.conv2d(x.double(), torch.randn(2, 4, 3, 3))
    with pytest.raises(RuntimeError, match=r"Input type \(float\) and bias type \(double\) should be the same"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), torch.randn(2).double())
    with pytest.raises(RuntimeError, match=r"a list of 2 values to match the convolution dimensions, but got stride=\[1, 2, 3\]"):
        F.conv2d(x, torch.randn(2, 4, 3, 3), stride=[1, 2, 3])
    with pytest.raises(RuntimeError, match="conv2d: expected weight to be 4-dimensional"):
        F.conv2d(x, torch.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0"):
        F.unfold(torch.randn(1, 2, 3, 3), 0)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.fold(torch.randn(1, 4, 4), 3, 2, stride=0)
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 3 \\* 3 = 9, but got input.size\\(2\\)=8"):
        F.fold(torch.randn(1, 12, 8), (4, 4), 2)


def test_conv_module_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="foo")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")


# ---------------------------------------------------------------------------------------------
# modules

def test_conv_module_parameters_and_init_bounds():
    torch.manual_seed(0)
    m = nn.Conv2d(6, 8, (3, 2), groups=2)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["weight", "bias"]
    assert tuple(m.weight.shape) == (8, 3, 3, 2) and tuple(m.bias.shape) == (8,)
    bound = 1 / math.sqrt(3 * 3 * 2)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    t = nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False)
    assert tuple(t.weight.shape) == (4, 3, 3, 3) and t.bias is None
    assert [n for n, _ in t.named_parameters()] == ["weight"]
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / math.sqrt(3 * 9)
    assert nn.Conv1d(2, 3, 4).weight.shape == (3, 2, 4)
    assert nn.Conv3d(2, 3, 2).weight.shape == (3, 2, 2, 2, 2)
    assert m.weight.requires_grad and isinstance(m.weight, nn.Parameter)
    assert m.kernel_size == (3, 2) and m.stride == (1, 1) and m.padding == (0, 0)


def test_conv_module_repr():
    assert repr(nn.Conv2d(4, 6, 3)) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode="reflect")) == (
        "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=2, bias=False, "
        "padding_mode=reflect)"
    )
    assert repr(nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1)) == (
        "ConvTranspose1d(2, 3, kernel_size=(3,), stride=(2,), output_padding=(1,))"
    )


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv2d_padding_modes(mode, np_mode):
    rng = np.random.default_rng(14)
    m = nn.Conv2d(3, 2, 3, padding=(1, 2), padding_mode=mode).double()
    x = rng.standard_normal((2, 3, 5, 6))
    y = m(T(x))
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=np_mode)
    ref = ref_conv(xp, npv(m.weight), npv(m.bias), (1, 1), [(0, 0)] * 2, (1, 1), 1)
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)
    m = nn.Conv2d(3, 2, 4, padding="same", padding_mode=mode).double()
    xp = np.pad(x, [(0, 0), (0, 0), (1, 2), (1, 2)], mode=np_mode)
    ref = ref_conv(xp, npv(m.weight), npv(m.bias), (1, 1), [(0, 0)] * 2, (1, 1), 1)
    np.testing.assert_allclose(npv(m(T(x))), ref, atol=1e-12)


def test_conv_transpose_module_output_size():
    rng = np.random.default_rng(15)
    m = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1).double()
    x = rng.standard_normal((1, 4, 5, 4))
    y = m(T(x), output_size=[10, 8])
    assert tuple(y.shape) == (1, 2, 10, 8)
    ref = ref_conv_transpose(x, npv(m.weight), npv(m.bias), (2, 2), (1, 1), (1, 1), 1, (1, 1))
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)
    assert tuple(m(T(x)).shape) == (1, 2, 9, 7)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(T(x), output_size=[12, 8])


def test_conv_module_backward_and_state_dict():
    torch.manual_seed(1)
    m = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(2, 2, 4, 4)
    m(x).sum().backward()
    assert tuple(m.weight.grad.shape) == (3, 2, 3, 3)
    # d(sum y)/d bias = number of output positions
    np.testing.assert_allclose(m.bias.grad.numpy(), np.full(3, 2 * 16.0), rtol=1e-6)
    sd = m.state_dict()
    assert list(sd.keys()) == ["weight", "bias"]
    m2 = nn.Conv2d(2, 3, 3, padding=1)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())


def test_autocast_lowers_conv_recurrent_and_attention_inputs():
    x = torch.randn(1, 3, 5, 5)
    with torch.autocast("cpu", dtype=torch.float16):
        assert F.conv2d(x, torch.randn(2, 3, 3, 3)).dtype == torch.float16
        assert nn.ConvTranspose2d(3, 2, 3)(x).dtype == torch.float16
        assert nn.LSTM(3, 4)(torch.randn(5, 2, 3))[0].dtype == torch.float16
        assert nn.GRUCell(3, 4)(torch.randn(2, 3)).dtype == torch.float16
        q = torch.randn(3, 2, 8)
        assert nn.MultiheadAttention(8, 2)(q, q, q)[0].dtype == torch.float16
        assert F.scaled_dot_product_attention(q, q, q).dtype == torch.float16
        assert F.max_pool2d(x, 2).dtype == torch.float32  # pooling is not on autocast's list
    assert F.conv2d(x, torch.randn(2, 3, 3, 3)).dtype == torch.float32


def test_integer_and_empty_edge_cases():
    xi = torch.arange(6).reshape(1, 2, 3)
    y = F.avg_pool1d(xi, 2)
    assert y.dtype == torch.int64 and y.tolist() == [[[0], [3]]]  # torch truncates integer averages
    assert tuple(F.max_pool2d(torch.randn(0, 3, 4, 4), 2).shape) == (0, 3, 2, 2)
    assert tuple(F.conv_transpose2d(torch.randn(0, 3, 4, 4), torch.randn(3, 2, 3, 3), stride=2).shape) == (0, 2, 9, 9)
    assert tuple(nn.LSTM(3, 4)(torch.randn(5, 0, 3))[0].shape) == (5, 0, 4)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        nn.GRU(3, 4)(torch.randn(0, 2, 3))


# ---------------------------------------------------------------------------------------------
# random configurations

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import LAYOUTS  # noqa: E402


@given(
    n=st.integers(0, 2), groups=st.sampled_from([1, 2]), cin=st.integers(1, 2), cout=st.integers(1, 2),
    h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 3), kw=st.integers(1, 3),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), bias=st.booleans(), layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**16),
)
def test_conv2d_random_configurations(n, groups, cin, cout, h, w, kh, kw, stride, padding, dilation, bias, layout, seed):
    assume(dilation[0] * (kh - 1) + 1 <= h + 2 * padding[0] and dilation[1] * (kw - 1) + 1 <= w + 2 * padding[1])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin * groups, h, w))
    wt = rng.standard_normal((cout * groups, cin, kh, kw))
    b = rng.standard_normal(cout * groups) if bias else None
    xt, xref = make_tensor(x, layout)
    y = F.conv2d(xt, T(wt), None if b is None else T(b), stride, padding, dilation, groups)
    ref = ref_conv(xref, wt, b, stride, [(p, p) for p in padding], dilation, groups)
    assert tuple(y.shape) == ref.shape
    np.testing.assert_allclose(npv(y), ref, atol=1e-11)
    yt = F.conv_transpose2d(T(ref), T(np.ascontiguousarray(wt)), None, stride, 0, 0, groups, dilation)
    rt_ref = ref_conv_transpose(ref, wt, None, stride, (0, 0), (0, 0), groups, dilation)
    np.testing.assert_allclose(npv(yt), rt_ref, atol=1e-11)
