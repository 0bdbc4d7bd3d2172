"""NumPy interop: from_numpy and numpy() share memory, __array__, tolist, item, Python scalars."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given

import rustensor as torch
from conftest import ALL_DTYPES, LAYOUTS, assert_close, np_dtype, rand_tensor, shapes, tensors, to_np

SUPPORTED_NP = [np.bool_, np.int32, np.int64, np.float32, np.float64]


# ---------------------------------------------------------------------------------------------
# from_numpy

@pytest.mark.parametrize("npd", SUPPORTED_NP)
def test_from_numpy_keeps_dtype_shape_values(npd):
    a = np.arange(12).reshape(3, 4).astype(npd)
    t = torch.from_numpy(a)
    assert_close(t, a)


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = torch.from_numpy(a)
    a[0, 0] = 100.0
    assert to_np(t)[0, 0] == 100.0
    t.mul_(2)
    np.testing.assert_array_equal(a, np.array([[200, 2, 4], [6, 8, 10]], np.float32))
    t[1, 2] = -5.0
    assert a[1, 2] == -5.0


def test_from_numpy_is_zero_copy():
    a = np.zeros(1000, dtype=np.float64)
    t = torch.from_numpy(a)
    assert t.data_ptr() == a.ctypes.data


def test_from_numpy_int_tensor_shares():
    a = np.array([1, 2, 3], dtype=np.int64)
    t = torch.from_numpy(a)
    t.add_(1)
    np.testing.assert_array_equal(a, [2, 3, 4])


def test_from_numpy_keeps_array_alive():
    a = np.arange(1000, dtype=np.float64)
    ref = weakref.ref(a)
    t = torch.from_numpy(a)
    del a
    gc.collect()
    assert ref() is not None, "the tensor must keep its numpy array alive"
    assert_close(t, np.arange(1000, dtype=np.float64))
    t.add_(1)
    assert_close(t, np.arange(1, 1001, dtype=np.float64))
    del t
    gc.collect()
    assert ref() is None, "dropping the tensor must release the array (no leak)"


def test_from_numpy_view_of_tensor_keeps_array_alive():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = torch.from_numpy(a)[1:].t()
    del a
    gc.collect()
    assert_close(v, np.arange(12, dtype=np.float32).reshape(3, 4)[1:].T)


def test_from_numpy_non_contiguous_array_shares():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    a = base[:, ::2]
    t = torch.from_numpy(a)
    assert_close(t, a)
    assert t.stride() == (6, 2)
    t.fill_(-1)
    assert (base[:, ::2] == -1).all()
    assert (base[:, 1::2] != -1).all()


def test_from_numpy_transposed_array():
    base = np.arange(6, dtype=np.int32).reshape(2, 3)
    t = torch.from_numpy(base.T)
    assert_close(t, base.T)
    assert t.stride() == (1, 3)
    assert not t.is_contiguous()


def test_from_numpy_0d_and_empty():
    assert_close(torch.from_numpy(np.array(3.5)), np.array(3.5))
    assert_close(torch.from_numpy(np.zeros((2, 0), np.float32)), np.zeros((2, 0), np.float32))


def test_from_numpy_readonly_array_reads():
    a = np.arange(4, dtype=np.float32)
    a.flags.writeable = False
    t = torch.from_numpy(a)
    assert_close(t, np.arange(4, dtype=np.float32))
    assert_close(t * 2, np.arange(4, dtype=np.float32) * 2)


def test_from_numpy_negative_strides_is_value_error():
    with pytest.raises(ValueError):
        torch.from_numpy(np.arange(4.0)[::-1])


def test_from_numpy_rejects_non_arrays():
    with pytest.raises(TypeError):
        torch.from_numpy([1, 2, 3])


@pytest.mark.parametrize("npd", [object, np.complex64, np.complex128, np.uint16, np.uint32, np.uint64, "U3"])
def test_from_numpy_unsupported_dtype_is_type_error(npd):
    with pytest.raises(TypeError):
        torch.from_numpy(np.zeros(3, dtype=npd))


@pytest.mark.parametrize("npd", [np.float16, np.int8, np.uint8, np.int16])
def test_from_numpy_other_dtypes_work_or_type_error(npd):
    # rustensor may not support these yet; if it does, the values must be right.
    a = np.array([1, 2, 3], dtype=npd)
    try:
        t = torch.from_numpy(a)
    except TypeError:
        return
    np.testing.assert_array_equal(np.asarray(t.tolist()), a)


@pytest.mark.parametrize("npd", [object, np.complex128])
def test_tensor_of_unsupported_numpy_dtype_is_an_error(npd):
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        torch.tensor(np.zeros(3, dtype=npd) if npd is not object else np.array(["a", None], dtype=object))


# ---------------------------------------------------------------------------------------------
# numpy()

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_numpy_dtype_and_values(dtype):
    a = np.array([[0, 1, 2], [3, 0, 5]]).astype(np_dtype(dtype))
    n = torch.tensor(a).numpy()
    assert isinstance(n, np.ndarray)
    assert n.dtype == np_dtype(dtype)
    np.testing.assert_array_equal(n, a)


def test_numpy_shares_memory_both_ways():
    t = torch.zeros(3)
    n = t.numpy()
    n[0] = 5.0
    assert t.tolist() == [5.0, 0.0, 0.0]
    t.add_(1)
    np.testing.assert_array_equal(n, [6.0, 1.0, 1.0])


def test_numpy_of_view_shares_with_base():
    t = torch.arange(6.0).reshape(2, 3)
    n = t.t().numpy()
    np.testing.assert_array_equal(n, np.arange(6.0).reshape(2, 3).T)
    n[0, 1] = 100.0
    assert t.tolist()[1][0] == 100.0
    s = t[:, 1:].numpy()
    s[:] = -1
    assert t.tolist() == [[0.0, -1.0, -1.0], [100.0, -1.0, -1.0]]


def test_numpy_of_expanded_has_zero_stride():
    t = torch.tensor([[1.0], [2.0], [3.0]]).expand(3, 4)
    n = t.numpy()
    np.testing.assert_array_equal(n, np.broadcast_to([[1.0], [2.0], [3.0]], (3, 4)))
    assert n.strides[1] == 0


def test_numpy_keeps_storage_alive():
    n = torch.arange(10).numpy()
    gc.collect()
    np.testing.assert_array_equal(n, np.arange(10))
    n2 = torch.arange(10.0)[2:].numpy()
    gc.collect()
    np.testing.assert_array_equal(n2, np.arange(2.0, 10.0))


def test_numpy_round_trip_through_from_numpy():
    t = torch.arange(5.0)
    u = torch.from_numpy(t.numpy())
    u.mul_(3)
    assert t.tolist() == [0.0, 3.0, 6.0, 9.0, 12.0]


def test_numpy_of_requires_grad_is_runtime_error():
    t = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        t.numpy()
    np.testing.assert_array_equal(t.detach().numpy(), [1.0])


@given(data=tensors(torch.float64))
def test_numpy_matches_tolist_any_layout(data):
    t, ref = data
    n = t.numpy()
    np.testing.assert_array_equal(n, ref)
    assert n.shape == ref.shape
    np.testing.assert_array_equal(np.asarray(t.tolist(), dtype=np.float64).reshape(ref.shape), ref)


# ---------------------------------------------------------------------------------------------
# __array__

def test_np_asarray_and_array():
    t = torch.arange(6).reshape(2, 3)
    a = np.asarray(t)
    assert a.dtype == np.int64
    np.testing.assert_array_equal(a, np.arange(6).reshape(2, 3))
    f = np.array(t, dtype=np.float64)
    assert f.dtype == np.float64
    np.testing.assert_array_equal(f, np.arange(6.0).reshape(2, 3))


def test_np_asarray_shares_memory():
    t = torch.zeros(3)
    a = np.asarray(t)
    a[1] = 2.0
    assert t.tolist() == [0.0, 2.0, 0.0]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_np_asarray_of_views(layout):
    t, ref = rand_tensor((3, 4), torch.float32, layout)
    np.testing.assert_array_equal(np.asarray(t), ref)


def test_numpy_functions_accept_tensors():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.sum(np.asarray(t)) == 10.0
    np.testing.assert_allclose(np.array(t) @ np.array(t), [[7.0, 10.0], [15.0, 22.0]])


# ---------------------------------------------------------------------------------------------
# tolist / item / Python scalars

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@given(shape=shapes(max_dims=3))
def test_tolist_matches_numpy(dtype, shape):
    a = np.random.default_rng(0).integers(-3, 4, size=shape).astype(np_dtype(dtype))
    got = torch.tensor(a).tolist()
    assert got == a.tolist()


def test_tolist_python_types():
    assert type(torch.tensor([1.5]).tolist()[0]) is float
    assert type(torch.tensor([1]).tolist()[0]) is int
    assert type(torch.tensor([True]).tolist()[0]) is bool
    assert torch.tensor(3).tolist() == 3
    assert torch.tensor(2.5).tolist() == 2.5
    assert torch.zeros(2, 0).tolist() == [[], []]
    assert torch.zeros(0).tolist() == []


def test_tolist_float32_is_exact_widening():
    assert torch.tensor([0.1]).tolist() == [float(np.float32(0.1))]


def test_tolist_of_views():
    t = torch.arange(6).reshape(2, 3)
    assert t.t().tolist() == [[0, 3], [1, 4], [2, 5]]
    assert t[:, ::2].tolist() == [[0, 2], [3, 5]]
    assert torch.tensor([[1], [2]]).expand(2, 3).tolist() == [[1, 1, 1], [2, 2, 2]]


@pytest.mark.parametrize(
    "value, dtype, expected_type",
    [(2.5, "float32", float), (2.5, "float64", float), (7, "int32", int), (7, "int64", int), (True, "bool", bool)],
)
def test_item_types(value, dtype, expected_type):
    t = torch.tensor(value, dtype=getattr(torch, dtype))
    assert type(t.item()) is expected_type
    assert t.item() == value
    assert torch.tensor([[value]], dtype=getattr(torch, dtype)).item() == value


def test_item_of_view_element():
    t = torch.arange(12).reshape(3, 4).t()
    assert t[2, 1].item() == 6


@pytest.mark.parametrize("shape", [(2,), (0,), (2, 2)])
def test_item_of_not_one_element_is_runtime_error(shape):
    with pytest.raises(RuntimeError):
        torch.zeros(shape).item()


def test_python_number_conversions():
    assert float(torch.tensor(2.5)) == 2.5
    assert int(torch.tensor(3.7)) == 3
    assert int(torch.tensor([[-3]])) == -3
    assert float(torch.tensor([4])) == 4.0
    assert bool(torch.tensor([0])) is False
    assert bool(torch.tensor(1.5)) is True


def test_index_protocol_for_int_tensors():
    assert [10, 20, 30][torch.tensor(1)] == 20
    assert list(range(10))[torch.tensor(2): torch.tensor(4)] == [2, 3]


def test_bool_of_many_elements_is_runtime_error():
    with pytest.raises(RuntimeError):
        bool(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        if torch.zeros(3) > 0:
            pass
