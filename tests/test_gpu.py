"""The GPU device: every GPU op against the CPU result, gradients on the GPU against the CPU's,
torch's device semantics, and a training loop that stays on the device.

In CI these run on Mesa's software Vulkan driver (lavapipe) with RUSTENSOR_ALLOW_SOFTWARE_GPU=1;
when CI=true a missing adapter fails the suite instead of skipping it. The CPU results they
are compared with are themselves tested against NumPy in the other suites.
"""

import gc
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import LAYOUTS, broadcastable_shapes, make_tensor, random_array, shapes

if not torch.cuda.is_available():
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "CI=true but no GPU adapter opened: install mesa-vulkan-drivers and set "
            f"RUSTENSOR_ALLOW_SOFTWARE_GPU=1 ({torch.cuda._why_unavailable()})"
        )
    pytest.skip("no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1 to use lavapipe)", allow_module_level=True)

GPU = torch.device("gpu")
GPU_DTYPES = [torch.float32, torch.int32, torch.int64, torch.bool]


def pair(a, layout="contiguous"):
    """(cpu tensor, gpu tensor) holding the values of `a` with the same memory layout."""
    c, _ = make_tensor(a, layout)
    g, _ = make_tensor(a, layout, device=GPU)
    assert g.device.type == "gpu" and g.shape == c.shape and g.stride() == c.stride()
    return c, g


def same(g, c, rtol=1e-4, atol=1e-5):
    """A GPU result equals the CPU one: device, dtype, shape, values (float32 within tolerance)."""
    assert g.device.type == "gpu", g.device
    assert g.dtype == c.dtype, (g.dtype, c.dtype)
    assert tuple(g.shape) == tuple(c.shape)
    gv, cv = g.detach().cpu().numpy(), c.detach().numpy()
    if c.dtype == torch.float32:
        np.testing.assert_allclose(gv, cv, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(gv, cv)


def rnd(shape, dtype=torch.float32, seed=0, **kw):
    return random_array(np.random.default_rng(seed), shape, dtype, **kw)


# ------------------------------------------------------------------------------ device model

def test_device_objects_and_aliases():
    for name in ("gpu", "cuda", "wgpu", "gpu:0", "cuda:0"):
        d = torch.device(name)
        assert d.type == "gpu"
    x = torch.ones(3, device="cuda")
    assert repr(x.device) == "device(type='gpu', index=0)"
    assert x.is_cuda and x.is_gpu and not x.is_cpu
    assert x.cpu().device.type == "cpu"
    assert torch.cuda.device_count() == 1 and isinstance(torch.cuda.get_device_name(), str)
    assert torch.gpu.is_available()


def test_creation_functions_take_device():
    for t in (
        torch.zeros(2, 3, device="gpu"),
        torch.ones(2, device="gpu"),
        torch.full((2,), 7.0, device="gpu"),
        torch.arange(5, device="gpu"),
        torch.linspace(0, 1, 5, device="gpu"),
        torch.eye(3, device="gpu"),
        torch.rand(4, device="gpu"),
        torch.randn(4, device="gpu"),
        torch.randint(0, 5, (4,), device="gpu"),
        torch.tensor([1, 2, 3], device="gpu"),
        torch.zeros_like(torch.ones(2, device="gpu")),
    ):
        assert t.device.type == "gpu"
    same(torch.arange(5, device="gpu"), torch.arange(5))
    same(torch.eye(3, 4, device="gpu"), torch.eye(3, 4))
    same(torch.full((2, 2), 3, device="gpu"), torch.full((2, 2), 3))
    assert torch.tensor([1, 2, 3], device="gpu").dtype == torch.int64


def test_to_forms():
    x = torch.randn(3, 4)
    g = x.to("cuda")
    assert g.device.type == "gpu"
    assert x.cuda().device.type == "gpu" and x.to(GPU).device.type == "gpu"
    assert x.to(g).device.type == "gpu"
    assert g.to("cpu").device.type == "cpu" and g.to(x).device.type == "cpu"
    np.testing.assert_array_equal(g.cpu().numpy(), x.numpy())
    assert g.to(GPU) is g
    assert x.double().to("gpu", torch.float32).dtype == torch.float32


def test_float64_is_a_clear_type_error():
    with pytest.raises(TypeError, match=r"float64.*\.float\(\)"):
        torch.zeros(2, dtype=torch.float64).to("gpu")
    with pytest.raises(TypeError, match="float64"):
        torch.zeros(2, dtype=torch.float64, device="gpu")


def test_numpy_of_gpu_tensor_raises_like_torch():
    with pytest.raises(TypeError, match=r"Use Tensor\.cpu\(\)"):
        torch.ones(2, device="gpu").numpy()


def test_mixing_devices_raises():
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        torch.ones(3, device="gpu") + torch.ones(3)
    with pytest.raises(RuntimeError, match="same device"):
        torch.ones(2, 2, device="gpu") @ torch.ones(2, 2)
    # a CPU 0-d tensor acts as a scalar, as in torch
    same(torch.ones(3, device="gpu") * torch.tensor(2.0), torch.ones(3) * 2)


def test_printing_item_tolist():
    x = torch.tensor([1.5, -2.0], device="gpu")
    assert repr(x) == "tensor([ 1.5000, -2.0000], device='gpu:0')"
    assert x.sum().item() == -0.5
    assert x.tolist() == [1.5, -2.0]
    assert repr(torch.tensor([True, False], device="gpu")) == "tensor([ True, False], device='gpu:0')"


def test_bad_device_index():
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.ones(2).to("cuda:1")


# ------------------------------------------------------------------------------ elementwise

BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2", "eq", "ne", "lt", "le", "gt", "ge",
          "floor_divide", "remainder", "logical_and", "logical_or", "logical_xor", "fmod", "copysign", "hypot",
          "logaddexp", "logaddexp2", "xlogy"]


@pytest.mark.parametrize("name", BINARY)
@given(shapes_=broadcastable_shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_binary_float(name, shapes_, layout, seed):
    s1, s2 = shapes_
    nonzero = name in ("floor_divide", "remainder", "div", "fmod")
    a = rnd(s1, seed=seed, positive=name == "pow")
    b = rnd(s2, seed=seed + 1, nonzero=nonzero)
    (ca, ga), (cb, gb) = pair(a, layout), pair(b)
    f = getattr(torch, name)
    same(f(ga, gb), f(ca, cb), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "maximum", "minimum", "floor_divide", "remainder",
                                  "bitwise_and", "bitwise_or", "bitwise_xor", "eq", "lt", "pow", "fmod",
                                  "bitwise_left_shift", "bitwise_right_shift"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64], ids=str)
@given(shapes_=broadcastable_shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_binary_int(name, dtype, shapes_, layout, seed):
    s1, s2 = shapes_
    a = rnd(s1, dtype, seed=seed)
    b = rnd(s2, dtype, seed=seed + 1, nonzero=True, positive=name in ("pow", "bitwise_left_shift", "bitwise_right_shift"))
    (ca, ga), (cb, gb) = pair(a, layout), pair(b, "transposed")
    f = getattr(torch, name)
    same(f(ga, gb), f(ca, cb))


def test_integer_division_by_zero_raises_on_gpu():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        torch.tensor([1, 2], device="gpu") // torch.tensor([1, 0], device="gpu")


def test_bool_ops_and_promotion():
    a, b = rnd((4, 5), torch.bool, seed=1), rnd((5,), torch.bool, seed=2)
    (ca, ga), (cb, gb) = pair(a), pair(b)
    for f in (torch.logical_and, torch.logical_or, torch.bitwise_xor, torch.add, torch.mul):
        same(f(ga, gb), f(ca, cb))
    same(~ga, ~ca)
    same(ga + 1.5, ca + 1.5)
    same(ga.float() * gb.int(), ca.float() * cb.int())


@pytest.mark.parametrize("name", ["neg", "abs", "exp", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "square",
                                  "sin", "cos", "tan", "tanh", "sigmoid", "relu", "floor", "ceil", "round",
                                  "trunc", "sign", "expm1", "log2", "log10", "isnan", "isinf", "isfinite",
                                  "exp2", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                                  "sinc", "logit", "erf", "erfc", "erfinv", "lgamma", "digamma", "deg2rad",
                                  "rad2deg", "frac", "signbit", "nan_to_num"])
@given(shape=shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_unary_float(name, shape, layout, seed):
    positive = name in ("log", "log1p", "sqrt", "rsqrt", "log2", "log10", "lgamma", "digamma")
    domain = {"asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atanh": (-0.95, 0.95), "erfinv": (-0.95, 0.95),
              "logit": (0.05, 0.95), "acosh": (1.05, 4)}.get(name, (-3, 3))
    a = rnd(shape, seed=seed, positive=positive, nonzero=name == "reciprocal", low=domain[0], high=domain[1])
    c, g = pair(a, layout)
    f = getattr(torch, name)
    same(f(g), f(c), rtol=3e-4, atol=3e-5)


def test_unary_special_values():
    v = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"), 100.0, -100.0, 1e-8]
    c = torch.tensor(v)
    g = c.to("gpu")
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu", "isnan", "isinf", "isfinite", "abs", "neg",
                 "floor", "expm1", "log1p", "exp2", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
                 "atanh", "sinc", "erf", "erfc", "erfinv", "lgamma", "digamma", "frac", "signbit", "nan_to_num"):
        same(getattr(torch, name)(g), getattr(torch, name)(c), rtol=1e-4, atol=1e-6)
    same(torch.maximum(g, g.flip(0)), torch.maximum(c, c.flip(0)))
    same(g.pow(2.0), c.pow(2.0))
    same((-g).pow(3.0), (-c).pow(3.0))


@pytest.mark.parametrize("name", ["neg", "abs", "square", "relu", "sign"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64], ids=str)
def test_unary_int(name, dtype):
    c, g = pair(rnd((3, 4), dtype, seed=3), "transposed")
    same(getattr(torch, name)(g), getattr(torch, name)(c))


@pytest.mark.parametrize("src", GPU_DTYPES, ids=str)
@pytest.mark.parametrize("dst", GPU_DTYPES, ids=str)
def test_casts(src, dst):
    a = rnd((5, 3), src, seed=4) if src != torch.float32 else rnd((5, 3), seed=4) * 3
    c, g = pair(a, "sliced")
    same(g.to(dst), c.to(dst))


def test_int64_values_beyond_32_bits_survive_transfer():
    # int64 computes on its low word on the GPU, but storage and transfers keep all 64 bits
    x = torch.tensor([2**40 + 3, -(2**35)])
    assert x.to("gpu").cpu().tolist() == x.tolist()
    assert x.to("gpu")[1:].cpu().tolist() == [-(2**35)]


@given(shapes_=broadcastable_shapes(num_shapes=3), seed=st.integers(0, 2**16))
def test_where_and_masked_fill(shapes_, seed):
    s1, s2, s3 = shapes_
    (cc, gc), (ca, ga), (cb, gb) = pair(rnd(s1, torch.bool, seed=seed)), pair(rnd(s2, seed=seed)), pair(rnd(s3, seed=seed + 2))
    same(torch.where(gc, ga, gb), torch.where(cc, ca, cb))
    m = rnd(s2, torch.bool, seed=seed + 3)
    same(ga.masked_fill(torch.tensor(m).to("gpu"), -1.0), ca.masked_fill(torch.tensor(m), -1.0))


def test_clamp_and_inplace_ops():
    c, g = pair(rnd((6, 7), seed=5), "transposed")
    same(g.clamp(-0.5, 0.5), c.clamp(-0.5, 0.5))
    c2, g2 = c.clone(), g.clone()
    for op in ("add_", "mul_", "sub_", "div_"):
        getattr(c2, op)(1.5)
        getattr(g2, op)(1.5)
    c2.exp_()
    g2.exp_()
    c2.clamp_(max=3.0)
    g2.clamp_(max=3.0)
    same(g2, c2)
    # in place through a view of itself with another layout
    c3, g3 = torch.tensor(rnd((4, 4))), torch.tensor(rnd((4, 4))).to("gpu")
    c3 = g3.cpu()
    c3.add_(c3.t())
    g3.add_(g3.t())
    same(g3, c3)


def test_setitem_and_copy():
    c, g = pair(rnd((5, 6), seed=6))
    c[1:3, ::2] = 7.0
    g[1:3, ::2] = 7.0
    c[0] = torch.arange(6.0)
    g[0] = torch.arange(6.0).to("gpu")
    c[:, 1] = torch.tensor(-1.0)
    g[:, 1] = torch.tensor(-1.0)
    same(g, c)
    g.copy_(c)
    same(g, c)
    g.zero_()
    same(g, torch.zeros(5, 6))


# ------------------------------------------------------------------------------ reductions

@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "logsumexp", "var", "std"])
@given(shape=shapes(min_dims=1, min_side=1), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16),
       data=st.data())
def test_reductions_float(name, shape, layout, seed, data):
    c, g = pair(rnd(shape, seed=seed, low=0.5 if name == "prod" else -3, high=1.5 if name == "prod" else 3), layout)
    ndim = len(shape)
    dims = data.draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim))
    keep = data.draw(st.booleans())
    f = getattr(torch, name)
    if name == "prod":  # torch.prod takes one dim
        dims = dims[0]
    same(f(g, dim=dims, keepdim=keep), f(c, dim=dims, keepdim=keep), rtol=1e-3, atol=1e-4)
    if name in ("sum", "mean", "prod", "amax", "amin"):
        same(f(g), f(c), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4), (), (1,)])
def test_reductions_empty_and_0d(shape):
    c, g = pair(rnd(shape, seed=7))
    same(g.sum(), c.sum())
    same(g.prod(), c.prod())
    if len(shape) == 2:
        same(g.sum(0), c.sum(0))
        same(g.sum(1), c.sum(1))


def test_large_reductions_use_two_passes():
    a = rnd((1 << 18,), seed=8)
    c, g = pair(a)
    same(g.sum(), c.sum(), rtol=1e-4, atol=1e-2)
    same(g.amax(), c.amax())
    same(g.mean(), c.mean(), rtol=1e-4, atol=1e-6)
    same((g > 2.9).any(), (c > 2.9).any())
    same((g > -3.0).all(), (c > -3.0).all())
    b = rnd((2, 70000), torch.int32, seed=9)
    c2, g2 = pair(b)
    same(g2.sum(1), c2.sum(1))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool], ids=str)
def test_reductions_int_bool(dtype):
    c, g = pair(rnd((4, 5, 3), dtype, seed=10), "transposed")
    for dims in (None, 0, (1, 2)):
        kw = {} if dims is None else {"dim": dims}
        same(g.sum(**kw), c.sum(**kw))
    same(g.any(1), c.any(1))
    same(g.all(0), c.all(0))
    if dtype != torch.bool:
        same(g.amax(2), c.amax(2))
        same(g.argmax(1), c.argmax(1))


def test_argmax_max_min_ties_and_nan():
    c = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, float("nan"), 5.0, float("nan")], [-1.0, -1.0, -2.0, -2.0]])
    g = c.to("gpu")
    same(g.argmax(1), c.argmax(1))
    same(g.argmin(1), c.argmin(1))
    same(g.argmax(), c.argmax())
    vg, ig = g.max(1)
    vc, ic = c.max(1)
    same(vg, vc)
    same(ig, ic)
    same(g.amax(0), c.amax(0))


@given(shape=shapes(min_dims=1, min_side=1, max_side=7), seed=st.integers(0, 2**16), data=st.data())
def test_softmax_family(shape, seed, data):
    c, g = pair(rnd(shape, seed=seed) * 4)
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    same(torch.softmax(g, d), torch.softmax(c, d))
    same(torch.log_softmax(g, d), torch.log_softmax(c, d), rtol=1e-4, atol=1e-4)


def test_cumsum_on_the_device():
    c, g = pair(rnd((4, 6), seed=11), "transposed")
    before = torch.cuda.transfer_counts()["readbacks"]
    r = g.cumsum(1)
    assert torch.cuda.transfer_counts()["readbacks"] == before
    same(r, c.cumsum(1))
    same(g.cumsum(0), c.cumsum(0))
    ci, gi = pair(rnd((3, 5), torch.int32, seed=12), "sliced")
    same(gi.cumsum(1), ci.cumsum(1))
    x = torch.randn(5, requires_grad=True)
    (x.to("gpu").cumsum(0) * torch.arange(5.0, device="gpu")).sum().backward()
    y = torch.tensor(x.detach().numpy(), requires_grad=True)
    (y.cumsum(0) * torch.arange(5.0)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-6)


# ------------------------------------------------------------------------------ matmul

@pytest.mark.parametrize(
    "s1,s2",
    [((5, 7), (7, 3)), ((70, 33), (33, 65)), ((1, 1), (1, 1)), ((3, 0), (0, 4)), ((0, 3), (3, 2)),
     ((4, 5, 6), (4, 6, 7)), ((2, 1, 5, 6), (3, 6, 2)), ((7,), (7, 3)), ((4, 7), (7,)), ((9,), (9,)),
     ((130, 129), (129, 131))],
)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced", "expanded"])
def test_matmul_forms(s1, s2, layout):
    (ca, ga), (cb, gb) = pair(rnd(s1, seed=12), layout), pair(rnd(s2, seed=13), "transposed")
    same(ga @ gb, ca @ cb, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m,k,n", [(68, 36, 44), (4, 8, 4), (1, 16, 8), (132, 20, 200)])
def test_matmul_aligned_layouts_take_the_vec4_kernel(m, k, n, ta, tb):
    # sizes that are multiples of 4 with contiguous or transposed operands are read as vec4s;
    # the result must equal the CPU's whichever kernel runs
    def operand(shape, t, seed):
        a = rnd(shape, seed=seed)
        c, g = pair(np.ascontiguousarray(a.T) if t else a)
        return (c.T, g.T) if t else (c, g)

    ca, ga = operand((m, k), ta, 30)
    cb, gb = operand((k, n), tb, 31)
    same(ga @ gb, ca @ cb, rtol=1e-4, atol=1e-4)


def test_matmul_vec4_batch_offset_and_misaligned_fallbacks():
    (ca, ga), (cb, gb) = pair(rnd((3, 40, 36), seed=32)), pair(rnd((36, 24), seed=33))
    same(ga[:, 4:] @ gb, ca[:, 4:] @ cb, rtol=1e-4, atol=1e-4)      # offset 4*36: aligned
    same(ga[:, :, 1:33] @ gb[2:34], ca[:, :, 1:33] @ cb[2:34], rtol=1e-4, atol=1e-4)  # offset 1: scalar kernel
    same(ga @ gb[:, :23], ca @ cb[:, :23], rtol=1e-4, atol=1e-4)    # n = 23: scalar kernel
    same(ga.unsqueeze(1) @ gb.expand(2, 36, 24), ca.unsqueeze(1) @ cb.expand(2, 36, 24), rtol=1e-4, atol=1e-4)


def test_matmul_int_and_named_forms():
    (ca, ga), (cb, gb) = pair(rnd((3, 4), torch.int32, seed=14)), pair(rnd((4, 2), torch.int32, seed=15))
    same(ga @ gb, ca @ cb)
    (ca, ga), (cb, gb) = pair(rnd((3, 4, 5), seed=16)), pair(rnd((3, 5, 2), seed=17))
    same(torch.bmm(ga, gb), torch.bmm(ca, cb), rtol=1e-4, atol=1e-5)
    same(torch.mm(ga[0], gb[0]), torch.mm(ca[0], cb[0]), rtol=1e-4, atol=1e-5)
    same(torch.mv(ga[0], gb[0, :, 0]), torch.mv(ca[0], cb[0, :, 0]), rtol=1e-4, atol=1e-5)
    same(torch.einsum("bij,bjk->bik", ga, gb), torch.einsum("bij,bjk->bik", ca, cb), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------ indexing

def test_basic_indexing_views_share_the_buffer():
    c, g = pair(rnd((4, 5, 6), seed=18))
    for key in ((1,), (slice(1, 3), 2), (Ellipsis, slice(None, None, 2)), (None, 0), (-1, slice(None), -2)):
        same(g[key], c[key])
    v = g[1:3]
    v.fill_(0.0)
    assert g.cpu()[1:3].abs().sum().item() == 0.0


def test_advanced_indexing_take_and_put():
    c, g = pair(rnd((5, 6, 7), seed=19), "transposed")
    i = torch.tensor([0, 4, -1, 2])
    j = torch.tensor([[1], [3]])
    same(g[i], c[i])
    same(g[i.to("gpu")], c[i])  # index tensors on either device
    same(g[:, j, i], c[:, j, i])
    same(g[j, :, i], c[j, :, i])
    mask = c > 0
    same(g[mask.to("gpu")], c[mask])
    c2, g2 = c.clone(), g.clone()
    c2[i] = 1.0
    g2[i] = 1.0
    same(g2, c2)
    c2[mask] = -5.0
    g2[mask.to("gpu")] = -5.0
    same(g2, c2)
    same(torch.index_select(g, 1, i.to("gpu")), torch.index_select(c, 1, i))


def test_gather_scatter():
    c, g = pair(rnd((4, 6), seed=20))
    idx = torch.tensor(np.random.default_rng(0).integers(0, 6, (4, 3)))
    same(g.gather(1, idx.to("gpu")), c.gather(1, idx))
    src = torch.tensor(rnd((4, 3), seed=21))
    same(g.scatter_add(1, idx.to("gpu"), src.to("gpu")), c.scatter_add(1, idx, src))
    uniq = torch.tensor([[0, 1, 2], [3, 4, 5], [5, 0, 1], [2, 3, 4]])
    same(g.scatter(1, uniq.to("gpu"), src.to("gpu")), c.scatter(1, uniq, src))


def test_out_of_range_index_raises_at_sync():
    g = torch.ones(3, 4, device="gpu")
    idx = torch.tensor([[0, 9]], device="gpu")
    with pytest.raises(IndexError, match="out of bounds"):
        g.gather(1, idx).cpu()
    # the device keeps working afterwards
    assert g.sum().item() == 12.0


def test_cat_stack_split_nonzero():
    (ca, ga), (cb, gb) = pair(rnd((2, 3), seed=22), "transposed"), pair(rnd((4, 3), seed=23))
    same(torch.cat([ga, gb]), torch.cat([ca, cb]))
    same(torch.stack([ga, ga], 1), torch.stack([ca, ca], 1))
    for x, y in zip(gb.split(3), cb.split(3)):
        same(x, y)
    same((ga > 0).nonzero(), (ca > 0).nonzero())


# ------------------------------------------------------------------------------ autograd

def _grads(dev, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((8, 5)).astype(np.float32)).to(dev)
    W = torch.tensor(rng.standard_normal((5, 4)).astype(np.float32), device=dev, requires_grad=True)
    b = torch.tensor(rng.standard_normal(4).astype(np.float32), device=dev, requires_grad=True)
    y = torch.tensor(rng.integers(0, 4, 8)).to(dev)
    h = (x @ W + b).tanh()
    logp = torch.log_softmax(h * 3, dim=1)
    loss = -logp.gather(1, y.unsqueeze(1)).mean() + (W ** 2).sum() * 0.01 + h.amax(1).sigmoid().prod()
    loss = loss + h[:, 1:3].exp().std() + torch.where(h > 0, h, h * 0.1).sum() / 10
    loss.backward()
    return loss, W.grad, b.grad


def test_gradients_on_gpu_match_cpu():
    lc, Wc, bc = _grads("cpu")
    lg, Wg, bg = _grads(GPU)
    assert Wg.device.type == "gpu" and bg.device.type == "gpu"
    same(lg, lc, rtol=1e-4, atol=1e-5)
    same(Wg, Wc, rtol=1e-3, atol=1e-5)
    same(bg, bc, rtol=1e-3, atol=1e-5)


def test_gradient_flows_back_across_devices():
    x = torch.randn(3, 2, requires_grad=True)
    y = (x.to("gpu") * 2).sum()
    y.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 2), 2.0, np.float32))


def _mlp_step_counts(steps, device):
    torch.manual_seed(0)
    X = torch.randn(64, 20, device=device)
    Y = torch.randint(0, 3, (64,), device=device)
    W1 = (torch.randn(20, 32, device=device) * 0.1).requires_grad_()
    W2 = (torch.randn(32, 3, device=device) * 0.1).requires_grad_()
    lr = 0.1

    def step():
        h = (X @ W1).relu()
        logp = torch.log_softmax(h @ W2, dim=1)
        loss = -logp.gather(1, Y.unsqueeze(1)).mean()
        loss.backward()
        with torch.no_grad():
            W1.sub_(lr * W1.grad)
            W2.sub_(lr * W2.grad)
            W1.grad.zero_()
            W2.grad.zero_()
        return loss

    first = step().item()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    gc.collect()
    before, mem0 = torch.cuda.transfer_counts(), torch.cuda.memory_allocated()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    after, mem1 = torch.cuda.transfer_counts(), torch.cuda.memory_allocated()
    return first, loss.item(), before, after, mem0, mem1


def test_training_loop_stays_on_the_device():
    first, last, before, after, mem0, mem1 = _mlp_step_counts(20, GPU)
    assert last < first  # it trains
    # one readback for synchronize(), none per step
    assert after["readbacks"] - before["readbacks"] <= 1, (before, after)
    assert after["uploads"] - before["uploads"] <= 20 * 2, (before, after)  # Python scalars become 0-d fills, not uploads
    assert after["dispatches"] > before["dispatches"]
    assert mem1 <= mem0 + (1 << 20), (mem0, mem1)


def test_no_python_scalar_uploads_in_loop():
    x = torch.ones(100, device="gpu")
    before = torch.cuda.transfer_counts()
    for _ in range(10):
        x = x * 0.5 + 1.0
    torch.cuda.synchronize()
    after = torch.cuda.transfer_counts()
    assert after["uploads"] == before["uploads"]
    assert abs(x[0].item() - 2.0 * (1 - 0.5**10) - 0.5**10) < 1e-5


# ------------------------------------------------------------------------------ memory

def test_buffers_return_to_the_pool():
    torch.cuda.synchronize()
    gc.collect()
    base = torch.cuda.memory_allocated()
    x = torch.zeros(1 << 20, device="gpu")
    assert torch.cuda.memory_allocated() >= base + (4 << 20)
    reserved = torch.cuda.memory_reserved()
    del x
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == base
    y = torch.zeros(1 << 20, device="gpu")  # reuses the pooled buffer
    assert torch.cuda.memory_reserved() == reserved
    del y
    torch.cuda.empty_cache()
    assert torch.cuda.memory_reserved() <= reserved - (4 << 20)


def test_too_large_allocation_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="gpu"):
        torch.zeros(1 << 40, device="gpu")
    assert torch.ones(2, device="gpu").sum().item() == 2.0


def test_host_sorted_helpers_keep_the_device():
    c, g = pair(rnd((3, 5), seed=24))
    same(torch.argsort(g, dim=1), torch.argsort(c, dim=1))
    p = torch.randperm(6, device="gpu")
    assert p.device.type == "gpu" and sorted(p.cpu().tolist()) == list(range(6))
    assert torch.allclose(g, c.to("gpu"))
    same(torch.isclose(g, g + 1e-9), torch.isclose(c, c + 1e-9))


def test_reused_scalar_operands_are_never_written():
    # scalar operands are cached on the device; results and gradients must be fresh tensors
    x = torch.arange(4.0, device="gpu", requires_grad=True)
    y = x * 2.0
    with torch.no_grad():
        y.add_(100.0)
    z = x * 2.0
    assert z.tolist() == [0.0, 2.0, 4.0, 6.0]
    torch.where(x > 1, x, 0.0).sum().backward()
    g = x.grad
    with torch.no_grad():
        g.add_(5.0)
    assert (x * 0.0).tolist() == [0.0] * 4
    assert torch.where(x > 10, x, 0.0).tolist() == [0.0] * 4


# ------------------------------------------------------------------------------ devices agree
# Validation runs in the op layer before dispatch, so both devices give the same result or
# raise the same error (issue 10).

def test_bool_matmul_raises_on_both_devices():
    c = torch.tensor([[True, False], [True, True]])
    g = c.to("gpu")
    msgs = []
    for x in (c, g):
        with pytest.raises(RuntimeError, match="not implemented for 'Bool'") as e:
            x @ x
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("name", ["triu", "tril"])
@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_triu_tril_on_gpu(name, diagonal):
    c, g = pair(rnd((2, 3, 4), seed=5), "transposed")
    same(getattr(g, name)(diagonal), getattr(c, name)(diagonal))
    same(getattr(torch, name)(g, diagonal), getattr(torch, name)(c, diagonal))


def test_scatter_scalar_value_on_gpu():
    c, g = pair(rnd((3, 4), seed=6))
    idx = torch.tensor([[0, 1], [2, 0]])
    same(g.scatter(1, idx.to("gpu"), 2.5), c.scatter(1, idx, 2.5))


@pytest.mark.parametrize("name, args", [("frac", (torch.tensor([1, 2]),)),
                                        ("bitwise_not", (torch.tensor([1.5]),)),
                                        ("hypot", (torch.tensor([1]), torch.tensor([2]))),
                                        ("bitwise_left_shift", (torch.tensor([1.0]), torch.tensor([1.0]))),
                                        ("fmod", (torch.tensor([1]), torch.tensor([0])))])
def test_unsupported_dtypes_raise_the_same_error_on_both_devices(name, args):
    msgs = []
    for dev in ("cpu", "gpu"):
        with pytest.raises(RuntimeError) as e:
            getattr(torch, name)(*[a.to(dev) for a in args])
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_pow_gradient_at_zero_base_on_gpu():
    def grads(dev):
        a = torch.tensor([0.0, 0.0, 0.0, 2.0], device=dev, requires_grad=True)
        b = torch.tensor([-1.0, 2.0, 0.0, -1.0], device=dev, requires_grad=True)
        (a ** b).sum().backward()
        return a.grad, b.grad

    (gc_a, gc_b), (gg_a, gg_b) = grads("cpu"), grads("gpu")
    same(gg_a, gc_a)
    same(gg_b, gc_b)


@pytest.mark.parametrize("name", ["asin", "erf", "erfinv", "lgamma", "digamma", "sinc", "logit", "atanh"])
def test_new_unary_backward_on_gpu(name):
    a = rnd((3, 4), seed=9, low=0.1, high=0.9)

    def grad(dev):
        x = torch.tensor(a, device=dev, requires_grad=True)
        getattr(x, name)().sum().backward()
        return x.grad

    same(grad("gpu"), grad("cpu"), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["fmod", "copysign", "hypot", "logaddexp", "logaddexp2", "xlogy"])
def test_new_binary_backward_on_gpu(name):
    a, b = rnd((3, 4), seed=10, nonzero=True), rnd((4,), seed=11, positive=True)

    def grads(dev):
        x = torch.tensor(a, device=dev, requires_grad=True)
        y = torch.tensor(b, device=dev, requires_grad=True)
        getattr(torch, name)(x, y).sum().backward()
        return x.grad, y.grad

    (cx, cy), (gx, gy) = grads("cpu"), grads("gpu")
    same(gx, cx, rtol=1e-3, atol=1e-4)
    same(gy, cy, rtol=1e-3, atol=1e-4)
