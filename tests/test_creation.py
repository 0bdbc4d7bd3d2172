"""Tensor creation: tensor(), factories, random generators and seeding, dtypes and attributes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import (ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, NUMERIC_DTYPES, assert_close, np_dtype,
                      shapes, to_np)


# ---------------------------------------------------------------------------------------------
# dtypes

def test_dtype_aliases():
    assert torch.float == torch.float32
    assert torch.double == torch.float64
    assert torch.long == torch.int64
    assert torch.int == torch.int32
    assert torch.float32 != torch.float64
    assert torch.int32 != torch.int64
    assert torch.bool != torch.int64


def test_dtypes_are_hashable_and_distinct():
    assert len({torch.bool, torch.int32, torch.int64, torch.float32, torch.float64}) == 5
    assert {torch.float: 1}[torch.float32] == 1


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_dtype_kwarg_gives_that_dtype(dtype):
    t = torch.tensor([0, 1, 2], dtype=dtype)
    assert_close(t, np.array([0, 1, 2]).astype(np_dtype(dtype)), dtype)


def test_is_floating_point():
    assert torch.zeros(2).is_floating_point()
    assert torch.zeros(2, dtype=torch.float64).is_floating_point()
    assert not torch.zeros(2, dtype=torch.int64).is_floating_point()
    assert not torch.zeros(2, dtype=torch.bool).is_floating_point()


# ---------------------------------------------------------------------------------------------
# tensor(): inference from Python data

@pytest.mark.parametrize(
    "data, dtype_name",
    [
        ([1, 2, 3], "int64"),
        ([1.0, 2.0], "float32"),
        ([1, 2.5], "float32"),
        ([True, False], "bool"),
        ([True, 2], "int64"),
        ([True, 2.5], "float32"),
        ([[1, 2], [3, 4]], "int64"),
        ([[[1.5]], [[2.5]]], "float32"),
    ],
)
def test_tensor_infers_dtype_from_lists(data, dtype_name):
    t = torch.tensor(data)
    ref = np.array(data).astype(dtype_name)
    assert_close(t, ref, getattr(torch, dtype_name))


@pytest.mark.parametrize(
    "value, dtype_name",
    [(3, "int64"), (-7, "int64"), (3.5, "float32"), (True, "bool"), (False, "bool")],
)
def test_tensor_from_python_scalar_is_0d(value, dtype_name):
    t = torch.tensor(value)
    assert t.shape == ()
    assert t.dim() == 0
    assert t.numel() == 1
    assert t.dtype == getattr(torch, dtype_name)
    assert t.item() == value
    assert type(t.item()) is type(value)


def test_tensor_of_empty_lists():
    t = torch.tensor([])
    assert t.shape == (0,)
    assert t.dtype == torch.float32
    t2 = torch.tensor([[]])
    assert t2.shape == (1, 0)
    assert t2.dtype == torch.float32
    t3 = torch.tensor([[], []], dtype=torch.int64)
    assert t3.shape == (2, 0)
    assert t3.dtype == torch.int64


def test_tensor_from_tuples():
    assert_close(torch.tensor(((1, 2), (3, 4))), np.array([[1, 2], [3, 4]]))


def test_tensor_converts_with_dtype_kwarg():
    assert_close(torch.tensor([1.7, -1.7, 0.2], dtype=torch.int64), np.array([1, -1, 0]))
    assert_close(torch.tensor([0, 2, -1], dtype=torch.bool), np.array([False, True, True]))
    assert_close(torch.tensor([1, 2], dtype=torch.float64), np.array([1.0, 2.0]))
    assert_close(torch.tensor(3, dtype=torch.float32), np.float32(3.0))


def test_tensor_float_values_round_to_float32():
    t = torch.tensor([0.1, 1 / 3])
    assert_close(t, np.array([0.1, 1 / 3], dtype=np.float32), rtol=0, atol=0)


def test_tensor_keeps_nan_and_inf():
    t = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    a = to_np(t)
    assert np.isnan(a[0]) and a[1] == np.inf and a[2] == -np.inf and a[3] == 1.0


def test_tensor_from_list_of_0d_tensors():
    t = torch.tensor([torch.tensor(1.5), torch.tensor(2.5)])
    assert_close(t, np.array([1.5, 2.5], dtype=np.float32))


def test_tensor_large_int64_values_exact():
    big = 2**62 + 1
    t = torch.tensor([big, -big])
    assert t.tolist() == [big, -big]


# ---------------------------------------------------------------------------------------------
# tensor(): from numpy and from tensors

@pytest.mark.parametrize("npd", [np.bool_, np.int32, np.int64, np.float32, np.float64])
def test_tensor_from_numpy_keeps_dtype_and_copies(npd):
    a = np.arange(6).reshape(2, 3).astype(npd)
    t = torch.tensor(a)
    assert_close(t, a)
    a[0, 0] = 1 - a[0, 0]
    assert to_np(t)[0, 0] != a[0, 0], "torch.tensor(ndarray) must copy"


def test_tensor_from_non_contiguous_numpy():
    a = np.arange(24, dtype=np.float64).reshape(4, 6)
    assert_close(torch.tensor(a[:, ::2]), a[:, ::2])
    assert_close(torch.tensor(a.T), a.T)


def test_tensor_from_readonly_numpy():
    a = np.arange(4.0)
    a.flags.writeable = False
    assert_close(torch.tensor(a), a)


def test_tensor_from_numpy_scalars():
    assert_close(torch.tensor(np.float64(1.5)), np.float64(1.5))
    assert_close(torch.tensor(np.float32(2.5)), np.float32(2.5))
    assert_close(torch.tensor(np.array(7)), np.array(7))


def test_tensor_from_numpy_with_dtype():
    a = np.array([1.5, 2.5])
    assert_close(torch.tensor(a, dtype=torch.float32), a.astype(np.float32))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch suggests clone().detach()
def test_tensor_from_tensor_copies():
    src = torch.tensor([1.0, 2.0, 3.0])
    t = torch.tensor(src)
    assert_close(t, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    src.add_(10)
    assert_close(t, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert_close(torch.tensor(src, dtype=torch.int64), np.array([11, 12, 13]))


def test_tensor_kwargs_device_and_requires_grad():
    t = torch.tensor([1.0, 2.0], device="cpu", requires_grad=True)
    assert t.requires_grad
    assert t.device.type == "cpu"
    assert str(t.device) == "cpu"
    assert not torch.tensor([1.0]).requires_grad


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1], [2, 3]], [[[1, 2]], [[3]]]])
def test_tensor_ragged_is_value_error(data):
    with pytest.raises(ValueError):
        torch.tensor(data)


def test_tensor_scalar_mixed_with_list_is_an_error():
    # torch says TypeError here ('list' cannot be interpreted as a number).
    with pytest.raises((TypeError, ValueError)):
        torch.tensor([1, [2]])


@pytest.mark.parametrize("data", ["abc", ["a", "b"], [1, "a"], None, [None], object(), {}, [1, object()]])
def test_tensor_non_numeric_is_a_clear_error(data):
    # torch raises TypeError, ValueError or RuntimeError depending on the input; never a panic.
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        torch.tensor(data)


# ---------------------------------------------------------------------------------------------
# factories

FACTORIES = [
    (torch.zeros, np.zeros),
    (torch.ones, np.ones),
]


@pytest.mark.parametrize("rt_fn, np_fn", FACTORIES, ids=["zeros", "ones"])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 2, 3, 4)])
def test_zeros_ones_shapes_as_varargs_tuple_list(rt_fn, np_fn, shape):
    ref = np_fn(shape, dtype=np.float32)
    if shape:
        assert_close(rt_fn(*shape), ref)
    assert_close(rt_fn(shape), ref)
    assert_close(rt_fn(list(shape)), ref)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_zeros_ones_dtype_kwarg(dtype):
    assert_close(torch.zeros(2, 3, dtype=dtype), np.zeros((2, 3), np_dtype(dtype)), dtype)
    assert_close(torch.ones((2, 3), dtype=dtype), np.ones((2, 3), np_dtype(dtype)), dtype)


def test_zeros_accepts_a_shape_object():
    x = torch.zeros(2, 3)
    assert_close(torch.zeros(x.shape), np.zeros((2, 3), np.float32))
    assert_close(torch.ones(x.size()), np.ones((2, 3), np.float32))


def test_full_infers_dtype_from_fill_value():
    assert_close(torch.full((2, 3), 1.5), np.full((2, 3), 1.5, np.float32))
    assert_close(torch.full((2,), 7), np.full((2,), 7, np.int64))
    assert_close(torch.full((2,), True), np.full((2,), True))
    assert_close(torch.full((2, 2), 7, dtype=torch.float64), np.full((2, 2), 7.0))
    assert_close(torch.full((), -2.0), np.float32(-2.0))


def test_empty_shape_and_dtype():
    t = torch.empty(2, 3)
    assert t.shape == (2, 3) and t.dtype == torch.float32
    t = torch.empty((4,), dtype=torch.int64)
    assert t.shape == (4,) and t.dtype == torch.int64
    assert torch.empty(0).numel() == 0


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_like_factories_keep_shape_and_dtype(dtype):
    x = torch.zeros(2, 3, dtype=dtype).t()
    npd = np_dtype(dtype)
    assert_close(torch.zeros_like(x), np.zeros((3, 2), npd), dtype)
    assert_close(torch.ones_like(x), np.ones((3, 2), npd), dtype)
    assert_close(torch.full_like(x, 1), np.full((3, 2), 1, npd), dtype)
    e = torch.empty_like(x)
    assert e.shape == (3, 2) and e.dtype == dtype


def test_like_factories_dtype_override():
    x = torch.zeros(2, 3)
    assert_close(torch.zeros_like(x, dtype=torch.int64), np.zeros((2, 3), np.int64))
    assert_close(torch.ones_like(x, dtype=torch.float64), np.ones((2, 3)))
    assert torch.empty_like(x, dtype=torch.bool).dtype == torch.bool


def test_full_like_truncates_into_int_dtype():
    x = torch.tensor([1, 2])
    assert_close(torch.full_like(x, 3.7), np.array([3, 3]))


def test_like_factories_do_not_share_memory():
    x = torch.ones(3)
    z = torch.zeros_like(x)
    z.fill_(5.0)
    assert_close(x, np.ones(3, np.float32))


def test_rand_like_randn_like():
    x = torch.zeros(4, 5, dtype=torch.float64)
    r = torch.rand_like(x)
    assert r.shape == (4, 5) and r.dtype == torch.float64
    a = to_np(r)
    assert (a >= 0).all() and (a < 1).all()
    n = torch.randn_like(x)
    assert n.shape == (4, 5) and n.dtype == torch.float64


# ---------------------------------------------------------------------------------------------
# ranges

@pytest.mark.parametrize(
    "args",
    [(5,), (0,), (1, 5), (0, 10, 3), (10, 0, -2), (-3, 3), (5, 5), (0, -5, -1)],
)
def test_arange_int(args):
    assert_close(torch.arange(*args), np.arange(*args, dtype=np.int64))


@pytest.mark.parametrize(
    "args",
    [(5.0,), (0, 1, 0.25), (0.5, 3), (1, 0, -0.5), (-1.0, 1.0, 0.5)],
)
def test_arange_float_gives_float32(args):
    assert_close(torch.arange(*args), np.arange(*args).astype(np.float32))


def test_arange_length_with_fractional_step():
    # ceil((end - start) / step) elements, as torch and numpy count them.
    assert torch.arange(0, 1, 0.1).shape == (10,)
    assert torch.arange(0, 1, 0.3).shape == (4,)


def test_arange_dtype_kwarg():
    assert_close(torch.arange(0, 5, dtype=torch.float64), np.arange(0, 5, dtype=np.float64))
    assert_close(torch.arange(4, dtype=torch.int32), np.arange(4, dtype=np.int32))
    assert_close(torch.arange(start=1, end=4), np.arange(1, 4))


@pytest.mark.parametrize("args", [(0, 1, 0), (0, 10, -1), (10, 0, 1)])
def test_arange_bad_step_is_runtime_error(args):
    with pytest.raises(RuntimeError):
        torch.arange(*args)


@pytest.mark.parametrize("start, end, steps", [(0, 1, 5), (-1, 1, 7), (0, 10, 5), (3, 3, 4), (0, 1, 1), (0, 1, 0), (1, -1, 3)])
def test_linspace(start, end, steps):
    assert_close(torch.linspace(start, end, steps), np.linspace(start, end, steps, dtype=np.float32))


def test_linspace_float64_and_kwarg():
    assert_close(torch.linspace(-1, 1, steps=9, dtype=torch.float64), np.linspace(-1, 1, 9))


@pytest.mark.parametrize("args", [(3,), (1,), (0,), (2, 3), (4, 2)])
def test_eye(args):
    assert_close(torch.eye(*args), np.eye(*args, dtype=np.float32))


def test_eye_dtype():
    assert_close(torch.eye(3, dtype=torch.int64), np.eye(3, dtype=np.int64))
    assert_close(torch.eye(2, 3, dtype=torch.bool), np.eye(2, 3, dtype=bool))


# ---------------------------------------------------------------------------------------------
# random generators

def test_rand_shape_dtype_range():
    for t in (torch.rand(100, 50), torch.rand((100, 50))):
        assert t.shape == (100, 50) and t.dtype == torch.float32
        a = to_np(t)
        assert (a >= 0).all() and (a < 1).all()
        assert 0.45 < a.mean() < 0.55
        assert len(np.unique(a)) > 4000
    assert torch.rand(3, dtype=torch.float64).dtype == torch.float64
    assert torch.rand(()).shape == ()
    assert torch.rand(0, 3).shape == (0, 3)


def test_randn_moments():
    t = torch.randn(200, 100)
    assert t.shape == (200, 100) and t.dtype == torch.float32
    a = to_np(t).astype(np.float64)
    assert abs(a.mean()) < 0.05
    assert 0.95 < a.std() < 1.05
    assert np.isfinite(a).all()
    assert torch.randn(4, dtype=torch.float64).dtype == torch.float64


def test_randint_forms():
    t = torch.randint(0, 10, (1000,))
    assert t.dtype == torch.int64 and t.shape == (1000,)
    a = to_np(t)
    assert a.min() >= 0 and a.max() <= 9
    assert len(np.unique(a)) == 10
    t2 = torch.randint(5, (3, 4))
    assert t2.shape == (3, 4) and t2.dtype == torch.int64
    a2 = to_np(t2)
    assert a2.min() >= 0 and a2.max() < 5
    t3 = torch.randint(-3, 3, (500,), dtype=torch.int32)
    assert t3.dtype == torch.int32
    assert to_np(t3).min() >= -3 and to_np(t3).max() < 3


@pytest.mark.parametrize(
    "make",
    [lambda: torch.rand(5, 3), lambda: torch.randn(7), lambda: torch.randint(0, 100, (20,))],
    ids=["rand", "randn", "randint"],
)
def test_manual_seed_reproducible(make):
    torch.manual_seed(1234)
    a = to_np(make())
    b = to_np(make())
    torch.manual_seed(1234)
    a2 = to_np(make())
    b2 = to_np(make())
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b), "successive draws must differ"
    torch.manual_seed(4321)
    assert not np.array_equal(to_np(make()), a), "different seeds must give different draws"


def test_manual_seed_covers_all_generators_in_sequence():
    torch.manual_seed(7)
    seq1 = [to_np(torch.rand(3)), to_np(torch.randn(3)), to_np(torch.randint(0, 1000, (3,)))]
    torch.manual_seed(7)
    seq2 = [to_np(torch.rand(3)), to_np(torch.randn(3)), to_np(torch.randint(0, 1000, (3,)))]
    for x, y in zip(seq1, seq2):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------------------------------------
# attributes

@given(shape=shapes())
def test_shape_size_dim_numel(shape):
    t = torch.zeros(shape)
    assert t.shape == shape
    assert isinstance(t.shape, tuple)
    assert t.size() == shape
    assert t.dim() == len(shape) == t.ndim
    assert t.numel() == int(np.prod(shape))
    for d in range(len(shape)):
        assert t.size(d) == shape[d]
        assert t.size(d - len(shape)) == shape[d]
        assert t.shape[d] == shape[d]
    if shape:
        assert len(t) == shape[0]


def test_len_of_0d_is_type_error():
    with pytest.raises(TypeError):
        len(torch.tensor(1.0))


def test_isinstance_tensor():
    assert isinstance(torch.zeros(1), torch.Tensor)
    assert isinstance(torch.tensor(1), torch.Tensor)
    assert isinstance(torch.arange(3)[1:], torch.Tensor)


# ---------------------------------------------------------------------------------------------
# dtype conversions

@pytest.mark.parametrize("src", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("dst", ALL_DTYPES, ids=str)
def test_to_dtype(src, dst):
    a = np.array([[0, 1, -2], [3, 0, 5]]).astype(np_dtype(src))
    t = torch.tensor(a)
    assert_close(t.to(dst), a.astype(np_dtype(dst)), dst)
    assert_close(t.to(dtype=dst), a.astype(np_dtype(dst)), dst)


def test_float_to_int_truncates_toward_zero():
    t = torch.tensor([1.7, -1.7, 2.5, -0.5])
    assert_close(t.to(torch.int64), np.array([1, -1, 2, 0]))
    assert_close(t.long(), np.array([1, -1, 2, 0]))
    assert_close(t.int(), np.array([1, -1, 2, 0], np.int32))


def test_conversion_shorthands():
    t = torch.tensor([0, 1, 2])
    assert t.float().dtype == torch.float32
    assert t.double().dtype == torch.float64
    assert t.long().dtype == torch.int64
    assert t.int().dtype == torch.int32
    assert_close(t.bool(), np.array([False, True, True]))


def test_to_same_dtype_and_device():
    t = torch.tensor([1.0, 2.0])
    assert_close(t.to(torch.float32), np.array([1.0, 2.0], np.float32))
    assert_close(t.to("cpu"), np.array([1.0, 2.0], np.float32))
    assert t.cpu().device.type == "cpu"


def test_to_of_non_contiguous():
    t = torch.arange(12).reshape(3, 4).t()
    assert_close(t.to(torch.float64), np.arange(12).reshape(3, 4).T.astype(np.float64))


def test_clone_is_a_copy():
    t = torch.tensor([1.0, 2.0])
    c = t.clone()
    c.add_(1)
    assert_close(t, np.array([1.0, 2.0], np.float32))
    assert_close(c, np.array([2.0, 3.0], np.float32))


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(shape=shapes(max_dims=3))
def test_zeros_ones_any_shape(dtype, shape):
    assert_close(torch.zeros(shape, dtype=dtype), np.zeros(shape, np_dtype(dtype)), dtype)
    assert_close(torch.ones(shape, dtype=dtype), np.ones(shape, np_dtype(dtype)), dtype)


@given(n=st.integers(0, 50), start=st.integers(-20, 20), step=st.integers(1, 5))
def test_arange_matches_numpy(n, start, step):
    end = start + n
    assert_close(torch.arange(start, end, step), np.arange(start, end, step))
    assert_close(torch.arange(end, start, -step), np.arange(end, start, -step))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=str)
def test_full_with_dtype(dtype):
    assert_close(torch.full((2, 2), 3, dtype=dtype), np.full((2, 2), 3, np_dtype(dtype)), dtype)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_numpy(name):
    fi, ref = torch.finfo(getattr(torch, name)), np.finfo(name)
    assert (fi.bits, fi.eps, fi.max, fi.min, fi.tiny) == (ref.bits, float(ref.eps), float(ref.max), float(ref.min), float(ref.smallest_normal))
    assert fi.smallest_normal == fi.tiny and fi.resolution == 10.0 ** -ref.precision and fi.dtype == name
    assert isinstance(fi.eps, float) and isinstance(fi.bits, int)


def test_finfo_default_and_iinfo():
    assert torch.finfo().eps == float(np.finfo(np.float32).eps)
    assert (torch.iinfo(torch.int64).max, torch.iinfo(torch.int64).min) == (2**63 - 1, -(2**63))
    assert (torch.iinfo(torch.int32).bits, torch.iinfo(torch.int32).max) == (32, 2**31 - 1)
    with pytest.raises(TypeError, match="floating point"):
        torch.finfo(torch.int32)
    with pytest.raises(TypeError, match="integer"):
        torch.iinfo(torch.float32)


def test_legacy_tensor_constructor_forms():
    # torch.Tensor(...) is the legacy constructor: sizes or data, always the default float dtype
    t = torch.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype == torch.float32
    d = torch.Tensor([1, 2])
    assert d.dtype == torch.float32 and d.tolist() == [1.0, 2.0]
    assert torch.Tensor(np.array([1.5, 2.5])).dtype == torch.float32
    assert torch.Tensor().shape == (0,)
    assert torch.Tensor(torch.Size([4])).shape == (4,)
    base = torch.ones(3)
    alias = torch.Tensor(base)  # shares storage, as torch
    alias.add_(1)
    assert base.tolist() == [2.0, 2.0, 2.0]
