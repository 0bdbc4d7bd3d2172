"""addcmul, addcdiv and lerp: values against a float64 NumPy reference over random shapes
(0-d, empty, broadcast, non-contiguous), torch's dtype and in-place rules and errors,
float64 gradcheck, and the GPU against the CPU."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rustensor as torch
from conftest import LAYOUTS, assert_close, broadcastable_shapes, make_tensor, random_array, to_np

OPS = ["addcmul", "addcdiv", "lerp"]


def ref(name, a, b, c, value=1.0):
    a, b, c = (np.asarray(x, dtype=np.float64) for x in (a, b, c))
    if name == "addcmul":
        return a + value * b * c
    if name == "addcdiv":
        return a + value * b / c
    return np.where(np.abs(c) < 0.5, a + c * (b - a), b - (b - a) * (1 - c))


def call(name, a, b, c, value):
    if name == "lerp":
        return torch.lerp(a, b, c)
    return getattr(torch, name)(a, b, c, value=value)


@settings(deadline=None, max_examples=60)
@given(name=st.sampled_from(OPS), shapes=broadcastable_shapes(3), dtype=st.sampled_from([torch.float32, torch.float64]),
       layouts=st.tuples(*[st.sampled_from(LAYOUTS)] * 3), seed=st.integers(0, 2**31), value=st.sampled_from([1.0, -0.5, 3.0]))
def test_values_match_reference(name, shapes, dtype, layouts, seed, value):
    rng = np.random.default_rng(seed)
    s1, s2, s3 = shapes
    a, ra = make_tensor(random_array(rng, s1, dtype), layouts[0])
    b, rb = make_tensor(random_array(rng, s2, dtype), layouts[1])
    c, rc = make_tensor(random_array(rng, s3, dtype, nonzero=True, low=-1.5, high=1.5), layouts[2])
    out = call(name, a, b, c, value)
    assert_close(out, ref(name, ra, rb, rc, value).astype(np.dtype(str(dtype).rsplit(".", 1)[-1])))


@pytest.mark.parametrize("w", [0.0, 0.3, 0.5, 0.7, 1.0, -0.25, 1.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lerp_scalar_weight_and_exact_end_points(w, dtype):
    a, ra = make_tensor(random_array(np.random.default_rng(1), (5, 7), dtype), "transposed")
    b, rb = make_tensor(random_array(np.random.default_rng(2), (7,), dtype), "sliced")
    r = a.lerp(b, w)
    assert_close(r, ref("lerp", ra, rb, np.full((5, 7), w)).astype(to_np(a).dtype))
    if w == 1.0:
        np.testing.assert_array_equal(to_np(r), np.broadcast_to(rb, (5, 7)))
    if w == 0.0:
        np.testing.assert_array_equal(to_np(r), ra)


def test_float16_computes_in_float32():
    rng = np.random.default_rng(3)
    a, b, c = (random_array(rng, (9,), torch.float16, nonzero=True) for _ in range(3))
    for name in OPS:
        r = call(name, torch.tensor(a), torch.tensor(b), torch.tensor(c), 0.5)
        assert r.dtype == torch.float16
        exp = ref(name, a.astype(np.float32), b.astype(np.float32), c.astype(np.float32), 0.5)
        assert_close(r, exp.astype(np.float16))


def test_dtype_promotion_and_integers():
    i = torch.tensor([1, 2, 3])
    f = torch.tensor([0.5, 1.5, 2.5])
    d = f.double()
    assert torch.addcmul(i, i, i, value=2).dtype == torch.int64
    assert torch.addcmul(i, i, i, value=2).tolist() == [3, 10, 21]
    assert torch.addcmul(f, i, i).dtype == torch.float32
    assert torch.addcmul(i, f, i).dtype == torch.float32
    assert torch.addcmul(f, d, f).dtype == torch.float64
    # a 0-d tensor of a wider float type does not widen the result
    assert torch.addcmul(f, torch.tensor(2.0, dtype=torch.float64), f).dtype == torch.float32
    assert torch.addcdiv(i, i, f).dtype == torch.float32
    assert torch.addcdiv(i, i, f).tolist() == pytest.approx([3.0, 3.3333333, 4.2])
    assert torch.lerp(f, f, torch.tensor(0.5, dtype=torch.float64)).dtype == torch.float32


def test_errors_as_torch():
    b, i, f, d = torch.tensor([True]), torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]).double()
    with pytest.raises(RuntimeError, match='"addcmul_cpu_out" not implemented for \'Bool\''):
        torch.addcmul(b, b, b)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        torch.addcdiv(f, i, i)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        torch.lerp(f, d, 0.5)
    with pytest.raises(RuntimeError, match="expected dtype float for `weight` but got dtype double"):
        torch.lerp(f, f, d)
    with pytest.raises(RuntimeError, match='"lerp_kernel_scalar" not implemented for \'Long\''):
        torch.lerp(i, i, 0.5)
    with pytest.raises(RuntimeError, match="must match the size"):
        torch.addcmul(f, torch.zeros(3), f)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.addcmul_(f, f)
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the broadcast shape \[3, 2\]"):
        torch.zeros(2).addcmul_(torch.zeros(3, 2), f)
    with pytest.raises(TypeError, match="tensor1"):
        f.addcmul(2.0, f)
    with pytest.raises(TypeError):
        torch.addcmul(f, f, f, 2)  # value is keyword-only


@pytest.mark.parametrize("name", OPS)
def test_inplace_writes_self_and_keeps_dtype(name):
    rng = np.random.default_rng(4)
    a, b, c = (random_array(rng, (4, 3), torch.float32, nonzero=True) for _ in range(3))
    t = torch.tensor(a)
    base = t
    kw = {} if name == "lerp" else {"value": 0.25}
    r = getattr(t, name + "_")(torch.tensor(b), torch.tensor(c[0]), **kw)
    assert r is base
    assert_close(t, ref(name, a, b, c[0], 0.25).astype(np.float32))
    # float64 operands compute in float64 and are written back as float32
    t2 = torch.tensor(a)
    if name != "lerp":
        getattr(t2, name + "_")(torch.tensor(b).double(), torch.tensor(c).double(), value=0.25)
        assert t2.dtype == torch.float32
        assert_close(t2, ref(name, a, b, c, 0.25).astype(np.float32))


def test_inplace_reads_its_own_other_views_before_writing():
    a = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    t = torch.tensor(a)
    t.addcmul_(t.flip(1), t.flip(0), value=1.0)
    assert_close(t, a + a[:, ::-1] * a[::-1, :])


@pytest.mark.parametrize("name", OPS)
def test_gradcheck_float64(name):
    rng = np.random.default_rng(5)
    a = torch.tensor(random_array(rng, (3, 1), torch.float64), requires_grad=True)
    b = torch.tensor(random_array(rng, (4,), torch.float64), requires_grad=True)
    c = torch.tensor(random_array(rng, (3, 4), torch.float64, positive=True), requires_grad=True)
    if name == "lerp":
        # weights on both sides of 0.5, where the formula switches
        c = torch.tensor(rng.uniform(-1, 2, (3, 4)), requires_grad=True)
        f = torch.lerp
    else:
        f = lambda a, b, c: getattr(torch, name)(a, b, c, value=-0.7)  # noqa: E731
    assert torch.autograd.gradcheck(f, (a, b, c))


def test_lerp_scalar_weight_gradcheck_and_node_names():
    rng = np.random.default_rng(6)
    a = torch.tensor(random_array(rng, (2, 3), torch.float64), requires_grad=True)
    b = torch.tensor(random_array(rng, (3,), torch.float64), requires_grad=True)
    for w in (0.2, 0.8):
        assert torch.autograd.gradcheck(lambda a, b: a.lerp(b, w), (a, b))
    assert a.lerp(b, 0.3).grad_fn.name() == "LerpBackward0"
    assert a.lerp(b, torch.tensor(0.3, dtype=torch.float64)).grad_fn.name() == "LerpBackward1"
    assert a.addcmul(b, b).grad_fn.name() == "AddcmulBackward0"
    assert a.addcdiv(b, b).grad_fn.name() == "AddcdivBackward0"


def test_inplace_with_grad_records_and_backpropagates():
    a = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    y = a * 1
    y.addcmul_(b, b, value=0.5)
    y.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    assert b.grad.tolist() == [3.0, 4.0]
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a.addcmul_(b, b)


def test_out_keyword():
    f = torch.tensor([1.0, 2.0])
    out = torch.empty(2)
    r = torch.addcmul(f, f, f, value=2, out=out)
    assert r is out and out.tolist() == [3.0, 10.0]


@pytest.mark.parametrize("name", OPS)
def test_gpu_matches_cpu(gpu, name):
    rng = np.random.default_rng(7)
    a = random_array(rng, (5, 1, 3), torch.float32)
    b = random_array(rng, (4, 3), torch.float32)
    c = random_array(rng, (5, 4, 1), torch.float32, nonzero=True, low=-1.5, high=1.5)
    cpu = call(name, torch.tensor(a), torch.tensor(b), torch.tensor(c), -0.3)
    g = call(name, torch.tensor(a).to(gpu), torch.tensor(b).to(gpu).t().contiguous().t(), torch.tensor(c).to(gpu), -0.3)
    assert g.device.type == "gpu"
    np.testing.assert_allclose(g.cpu().numpy(), cpu.numpy(), rtol=1e-6, atol=1e-6)
    # in place on the GPU, and the scalar-weight lerp
    t = torch.tensor(a[:, 0]).to(gpu)
    if name == "lerp":
        t.lerp_(torch.tensor(b[0]).to(gpu), 0.7)
        exp = torch.tensor(a[:, 0]).lerp(torch.tensor(b[0]), 0.7)
    else:
        getattr(t, name + "_")(torch.tensor(b[0]).to(gpu), torch.tensor(c[0, 0]).to(gpu), value=2.0)
        exp = getattr(torch.tensor(a[:, 0]), name)(torch.tensor(b[0]), torch.tensor(c[0, 0]), value=2.0)
    np.testing.assert_allclose(t.cpu().numpy(), exp.numpy(), rtol=1e-6, atol=1e-6)


def test_gpu_int_addcmul(gpu):
    i = torch.tensor([1, 2, 3])
    assert torch.addcmul(i.to(gpu), i.to(gpu), i.to(gpu), value=2).cpu().tolist() == [3, 10, 21]
