"""float16 (torch.half): creation, NumPy interop, type promotion, every op family against
NumPy's float16 (which, like torch and rustensor, computes each op in float32 and rounds
once), autograd, and on the GPU (adapters with shader-f16, lavapipe included) against the CPU.

Reductions and matmul accumulate in float32 (torch does the same), so their reference is the
float32 result rounded to float16.
"""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import LAYOUTS, assert_close, broadcastable_shapes, make_tensor, random_array, shapes

H = torch.float16
RTOL, ATOL = 2e-3, 2e-3


def rnd(shape, seed=0, **kw):
    return random_array(np.random.default_rng(seed), shape, H, **kw)


def test_dtype_objects_and_names():
    assert torch.half is torch.float16
    assert repr(torch.float16) == "rustensor.float16"
    assert torch.float16.is_floating_point and torch.float16.itemsize == 2
    x = torch.tensor([1.5, 2.25], dtype=torch.half)
    assert x.dtype == torch.float16 and x.element_size() == 2
    assert torch.ones(3).half().dtype == torch.float16
    assert torch.zeros(2, 3, dtype=torch.float16).tolist() == [[0.0] * 3] * 2
    assert x.float().dtype == torch.float32 and x.float().tolist() == [1.5, 2.25]
    assert torch.randn(4, 5, dtype=torch.float16).dtype == torch.float16
    assert torch.arange(5, dtype=torch.float16).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_values_round_like_numpy():
    vals = [0.1, 1 / 3, 65504.0, 70000.0, 6e-8, -2.5e-5, float("inf"), float("nan")]
    with np.errstate(over="ignore"):
        t = torch.tensor(vals, dtype=torch.float16)
        np.testing.assert_array_equal(t.numpy(), np.array(vals, dtype=np.float16))
    assert torch.tensor(1 / 3, dtype=torch.half).item() == float(np.float16(1 / 3))


def test_numpy_interop_shares_memory():
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    t = torch.from_numpy(a)
    assert t.dtype == torch.float16
    t.add_(1)
    np.testing.assert_array_equal(a, np.arange(1, 7, dtype=np.float16).reshape(2, 3))
    b = t.numpy()
    assert b.dtype == np.float16 and np.shares_memory(a, b)
    # a transposed, offset view keeps its strides
    tv = torch.from_numpy(a.T[1:])
    np.testing.assert_array_equal(tv.numpy(), a.T[1:])
    assert torch.tensor(a).dtype == torch.float16


@pytest.mark.parametrize(
    "other, expected",
    [
        (lambda: torch.ones(2), torch.float32),
        (lambda: torch.ones(2, dtype=torch.float64), torch.float64),
        (lambda: torch.ones(2, dtype=torch.int64), torch.float16),
        (lambda: torch.ones(2, dtype=torch.bool), torch.float16),
        (lambda: 2.5, torch.float16),
        (lambda: 3, torch.float16),
        (lambda: torch.tensor(2.0), torch.float16),  # a 0-d float32 does not widen a dimensioned half
    ],
)
def test_promotion_follows_torch(other, expected):
    x = torch.ones(2, dtype=torch.float16)
    assert (x + other()).dtype == expected
    assert (other() * x).dtype == expected


def test_int_tensor_with_0d_half_is_half():
    assert (torch.ones(3, dtype=torch.int64) + torch.tensor(1.0, dtype=torch.half)).dtype == torch.float16


BINARY = {
    "add": (np.add, lambda a, b: a + b),
    "sub": (np.subtract, lambda a, b: a - b),
    "mul": (np.multiply, lambda a, b: a * b),
    "div": (np.divide, lambda a, b: a / b),
    "maximum": (np.maximum, torch.maximum),
    "minimum": (np.minimum, torch.minimum),
    "lt": (np.less, lambda a, b: a < b),
    "eq": (np.equal, lambda a, b: a == b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes_=broadcastable_shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_binary(name, shapes_, layout, seed):
    ref_fn, fn = BINARY[name]
    a, ra = make_tensor(rnd(shapes_[0], seed), layout)
    b, rb = make_tensor(rnd(shapes_[1], seed + 1, nonzero=True), layout)
    with np.errstate(all="ignore"):
        ref = ref_fn(ra, rb)
    assert_close(fn(a, b), ref)


UNARY = {
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "tanh": np.tanh, "sin": np.sin, "floor": np.floor, "reciprocal": np.reciprocal,
    "sigmoid": lambda x: (1 / (1 + np.exp(-x.astype(np.float32)))).astype(np.float16),
    "relu": lambda x: np.maximum(x, np.float16(0)),
}
POSITIVE = {"log", "sqrt", "reciprocal"}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_unary(name, shape, layout, seed):
    a, ra = make_tensor(rnd(shape, seed, positive=name in POSITIVE), layout)
    with np.errstate(all="ignore"):
        ref = UNARY[name](ra)
    assert_close(getattr(torch, name)(a), ref)


def test_special_values():
    x = torch.tensor([float("nan"), float("inf"), -1.0, 0.0], dtype=torch.half)
    assert x.isnan().tolist() == [True, False, False, False]
    assert x.isinf().tolist() == [False, True, False, False]
    assert x.isfinite().tolist() == [False, False, True, True]
    assert (torch.tensor([60000.0], dtype=torch.half) * 2).isinf().item()  # overflows as half does


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "cumsum"])
@given(shape=shapes(min_dims=1, min_side=1), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16), data=st.data())
def test_reductions_accumulate_in_float32(name, shape, layout, seed, data):
    a, ra = make_tensor(rnd(shape, seed, low=0.5, high=1.5), layout)
    dim = data.draw(st.integers(0, len(shape) - 1))
    r32 = ra.astype(np.float32)
    ref = {
        "sum": lambda: r32.sum(axis=dim),
        "mean": lambda: r32.mean(axis=dim),
        "prod": lambda: r32.prod(axis=dim),
        "amax": lambda: r32.max(axis=dim),
        "amin": lambda: r32.min(axis=dim),
        "cumsum": lambda: np.cumsum(r32, axis=dim),
    }[name]().astype(np.float16)
    got = getattr(torch, name)(a, dim)
    assert_close(got, ref, rtol=RTOL, atol=ATOL)


def test_long_sum_is_accurate():
    # 4096 ones: float16 accumulation would stop at 2048
    assert torch.ones(4096, dtype=torch.half).sum().item() == 4096.0
    assert torch.ones(4096, dtype=torch.half).cumsum(0)[-1].item() == 4096.0
    assert torch.ones(4096, dtype=torch.half).argmax().item() == 0


@pytest.mark.parametrize("shapes_", [((3, 4), (4, 5)), ((2, 3, 8), (8, 2)), ((5,), (5,)), ((0, 3), (3, 2)), ((6, 7), (7, 0))])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_matmul(shapes_, layout):
    a, ra = make_tensor(rnd(shapes_[0], 1), layout)
    b, rb = make_tensor(rnd(shapes_[1], 2), layout)
    ref = (ra.astype(np.float32) @ rb.astype(np.float32)).astype(np.float16)
    assert_close(a @ b, ref, rtol=RTOL, atol=1e-2)


def test_indexing_and_views():
    a = rnd((4, 5), 3)
    t = torch.tensor(a)
    np.testing.assert_array_equal(t[1:, ::2].numpy(), a[1:, ::2])
    np.testing.assert_array_equal(t[torch.tensor([3, 0])].numpy(), a[[3, 0]])
    np.testing.assert_array_equal(t.T.contiguous().numpy(), a.T)
    t[t > 0] = 0
    b = a.copy()
    b[b > 0] = 0
    np.testing.assert_array_equal(t.numpy(), b)
    g = torch.zeros(3, dtype=torch.half).index_add(0, torch.tensor([0, 0, 2]), torch.ones(3, dtype=torch.half)) \
        if hasattr(torch.Tensor, "index_add") else torch.zeros(3, dtype=torch.half).scatter_add(0, torch.tensor([0, 0, 2]), torch.ones(3, dtype=torch.half))
    assert g.tolist() == [2.0, 0.0, 1.0]


def test_autograd_in_half():
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.half, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert x.grad.dtype == torch.float16
    assert x.grad.tolist() == [1.0, -2.0, 4.0]
    w = torch.randn(4, 3, dtype=torch.half, requires_grad=True)
    (torch.ones(2, 4, dtype=torch.half) @ w).relu().sum().backward()
    assert w.grad.dtype == torch.float16 and tuple(w.grad.shape) == (4, 3)


def test_printing():
    assert repr(torch.tensor([1.5, 2.0], dtype=torch.half)) == "tensor([1.5000, 2.0000], dtype=rustensor.float16)"


# ------------------------------------------------------------------------------ on the GPU

HAS_GPU = torch.cuda.is_available()
if os.environ.get("CI") == "true" and not HAS_GPU:
    raise RuntimeError("CI=true but no GPU adapter: the float16 GPU tests must run")
gpu = pytest.mark.skipif(not HAS_GPU, reason="no GPU adapter")


def _gpu_has_f16():
    try:
        torch.ones(1, dtype=torch.half, device="gpu")
        return True
    except TypeError:
        return False


@gpu
def test_gpu_half_or_clear_error():
    if _gpu_has_f16():
        x = torch.tensor([1.0, 2.5, -3.0], dtype=torch.half).cuda()
        assert x.dtype == torch.float16 and x.is_cuda
        assert x.cpu().tolist() == [1.0, 2.5, -3.0]
    else:
        with pytest.raises(TypeError, match="shader-f16"):
            torch.ones(1, dtype=torch.half).cuda()


def _pair(a, layout):
    c, _ = make_tensor(a, layout)
    g, _ = make_tensor(a, layout, device="gpu")
    return c, g


def _same(g, c, rtol=RTOL, atol=ATOL):
    assert g.device.type == "gpu" and g.dtype == c.dtype and tuple(g.shape) == tuple(c.shape)
    np.testing.assert_allclose(g.cpu().numpy().astype(np.float64), c.numpy().astype(np.float64), rtol=rtol, atol=atol, equal_nan=True)


@gpu
@pytest.mark.parametrize("name", ["add", "mul", "div", "maximum"])
@given(shapes_=broadcastable_shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_gpu_binary(name, shapes_, layout, seed):
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    (ca, ga), (cb, gb) = _pair(rnd(shapes_[0], seed), layout), _pair(rnd(shapes_[1], seed + 1, nonzero=True), layout)
    f = getattr(torch, name)
    _same(f(ga, gb), f(ca, cb))
    _same(ga * 2.5 + 1, ca * 2.5 + 1)


@gpu
@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "sqrt", "neg"])
@given(shape=shapes(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16))
def test_gpu_unary(name, shape, layout, seed):
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    c, g = _pair(rnd(shape, seed, positive=name == "sqrt"), layout)
    _same(getattr(torch, name)(g), getattr(torch, name)(c))


@gpu
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "argmax", "cumsum", "softmax", "logsumexp"])
@given(shape=shapes(min_dims=1, min_side=1), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**16), data=st.data())
def test_gpu_reductions(name, shape, layout, seed, data):
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    c, g = _pair(rnd(shape, seed, low=0.5, high=1.5), layout)
    dim = data.draw(st.integers(0, len(shape) - 1))
    f = getattr(torch, name)
    rg, rc = f(g, dim), f(c, dim)
    if name == "argmax":
        # ties between equal halves may pick different positions only if values differ
        assert rg.dtype == torch.int64
        np.testing.assert_array_equal(np.take_along_axis(c.numpy(), np.expand_dims(rg.cpu().numpy(), dim), dim),
                                      np.take_along_axis(c.numpy(), np.expand_dims(rc.numpy(), dim), dim))
    else:
        _same(rg, rc, rtol=4e-3, atol=4e-3)


@gpu
def test_gpu_large_sum_and_odd_sizes():
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    x = torch.ones(30_001, dtype=torch.half, device="gpu")
    assert x.sum().item() == pytest.approx(30_001, rel=1e-3)  # chunked two-pass sum, float32 partials
    assert torch.ones(70_000, dtype=torch.half, device="gpu").sum().isinf().item()  # past 65504, as torch
    a = rnd((7,), 4)
    g = torch.tensor(a).cuda()
    np.testing.assert_array_equal(g[1:].cpu().numpy(), a[1:])  # a readback starting mid-word
    np.testing.assert_array_equal(g[3:6].cpu().numpy(), a[3:6])


@gpu
@pytest.mark.parametrize("shapes_", [((3, 4), (4, 5)), ((2, 33, 70), (70, 65)), ((0, 3), (3, 2))])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_gpu_matmul(shapes_, layout):
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    ca, ga = _pair(rnd(shapes_[0], 1), layout)
    cb, gb = _pair(rnd(shapes_[1], 2), layout)
    _same(ga @ gb, ca @ cb, rtol=1e-2, atol=5e-2)


@gpu
def test_gpu_indexing_and_scatter_add():
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    a = rnd((5, 4), 5)
    c, g = torch.tensor(a), torch.tensor(a).cuda()
    idx = torch.tensor([4, 0, 0, 2])
    _same(g[idx.cuda()], c[idx])
    _same(g.gather(1, torch.tensor([[1], [0], [3], [2], [0]]).cuda()), c.gather(1, torch.tensor([[1], [0], [3], [2], [0]])))
    # accumulation into neighbouring halves of one 32-bit word, from many threads
    src = torch.ones(1000, dtype=torch.half)
    where = torch.arange(1000) % 3
    got = torch.zeros(3, dtype=torch.half, device="gpu").scatter_add(0, where.cuda(), src.cuda())
    assert got.cpu().tolist() == [334.0, 333.0, 333.0]
    m = g.clone()
    m[m > 0] = 0
    c2 = c.clone()
    c2[c2 > 0] = 0
    _same(m, c2)


@gpu
def test_gpu_training_step_in_half():
    if not _gpu_has_f16():
        pytest.skip("adapter without shader-f16")
    torch.manual_seed(0)
    w_cpu = torch.randn(8, 3, dtype=torch.half)
    x_cpu = torch.randn(5, 8, dtype=torch.half)
    grads = []
    for dev in ["cpu", "gpu"]:
        w = w_cpu.detach().to(dev).requires_grad_()
        loss = (x_cpu.to(dev) @ w).tanh().square().mean()
        loss.backward()
        assert w.grad.dtype == torch.float16 and w.grad.device.type == dev
        grads.append(w.grad.cpu().numpy().astype(np.float32))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-2, atol=1e-3)
