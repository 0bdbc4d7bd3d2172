"""DLPack: zero-copy round trips with NumPy (and torch where installed) on every dtype and
layout, legacy and versioned capsules, producer lifetimes checked with weak references, the
read-only flag, copy=, and the errors (GPU tensors, consumed capsules, unsupported dtypes)."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from rustensor.utils import dlpack as rdl
from conftest import ALL_DTYPES, np_dtype, random_array, shapes, tensors

DTYPES = ALL_DTYPES + [torch.float16]


def capsule_name(c):
    return repr(c).split('"')[1]


@given(data=st.data())
def test_rustensor_to_numpy_shares_memory(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    t, ref = data.draw(tensors(dtype))
    a = np.from_dlpack(t)
    assert a.dtype == ref.dtype and a.shape == ref.shape
    np.testing.assert_array_equal(a, ref)
    if t.numel():
        assert a.__array_interface__["data"][0] == t.data_ptr()
        assert a.strides == tuple(s * t.element_size() for s in t.stride())


@given(data=st.data())
def test_numpy_to_rustensor_shares_memory(data):
    dtype = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(shapes(max_dims=3))
    a = random_array(np.random.default_rng(data.draw(st.integers(0, 2**31))), shape, dtype)
    if a.ndim >= 2 and data.draw(st.booleans()):
        a = a.swapaxes(0, 1)  # non-contiguous
    elif a.ndim >= 1 and data.draw(st.booleans()):
        a = a[::2]
    t = torch.from_dlpack(a)
    assert t.dtype == torch.from_numpy(np.ascontiguousarray(a)).dtype and tuple(t.shape) == a.shape
    np.testing.assert_array_equal(t.numpy(), a)
    if a.size:
        assert t.data_ptr() == a.__array_interface__["data"][0]
        assert tuple(s * t.element_size() for s in t.stride()) == a.strides


def test_writes_are_seen_both_ways():
    a = np.zeros(4, np.float32)
    t = torch.from_dlpack(a)
    t[1] = 5.0
    assert a[1] == 5.0
    b = np.from_dlpack(t)
    b[2] = 7.0
    assert t[2].item() == 7.0 and a[2] == 7.0
    # rustensor -> rustensor through the protocol shares too
    u = torch.from_dlpack(t)
    u[3] = 1.0
    assert a[3] == 1.0


def test_capsule_kinds_and_names():
    t = torch.arange(3)
    legacy = t.__dlpack__()
    assert capsule_name(legacy) == "dltensor"
    versioned = t.__dlpack__(max_version=(1, 0))
    assert capsule_name(versioned) == "dltensor_versioned"
    assert capsule_name(t.__dlpack__(max_version=(0, 8))) == "dltensor"
    assert capsule_name(rdl.to_dlpack(t)) == "dltensor"
    for c in (legacy, versioned):
        u = rdl.from_dlpack(c)
        assert u.tolist() == [0, 1, 2] and u.data_ptr() == t.data_ptr()
        assert capsule_name(c).startswith("used_")
        with pytest.raises(RuntimeError, match="consumed only once"):
            rdl.from_dlpack(c)
    assert t.__dlpack_device__() == (rdl.DLDeviceType.kDLCPU, 0)


def test_export_keeps_producer_alive_exactly_as_long_as_needed():
    base = np.arange(8, dtype=np.float64)
    ref = weakref.ref(base)
    t = torch.from_numpy(base)  # the tensor's storage holds `base`
    exported = np.from_dlpack(t)
    del base, t
    gc.collect()
    assert ref() is not None  # numpy's array still reads the memory
    assert exported.sum() == 28.0
    view = exported[2:]
    del exported
    gc.collect()
    assert ref() is not None and view[0] == 2.0
    del view
    gc.collect()
    assert ref() is None  # the deleter ran (once: a second run would have crashed)


def test_import_keeps_producer_alive_exactly_as_long_as_needed():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    ref = weakref.ref(a)
    t = torch.from_dlpack(a)
    v = t.t()[1:]  # a view of the imported tensor
    del a, t
    gc.collect()
    assert ref() is not None and v.tolist() == [[1, 4], [2, 5]]
    del v
    gc.collect()
    assert ref() is None


def test_unconsumed_capsules_free_their_tensor():
    for max_version in (None, (1, 0)):
        base = np.ones(3)
        ref = weakref.ref(base)
        cap = torch.from_numpy(base).__dlpack__(max_version=max_version)
        del base
        gc.collect()
        assert ref() is not None
        del cap
        gc.collect()
        assert ref() is None


def test_read_only_producer_is_copied_not_shared():
    a = np.arange(4, dtype=np.float32)
    a.flags.writeable = False
    t = torch.from_dlpack(a)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and t.data_ptr() != a.ctypes.data
    t[0] = 9.0
    assert a[0] == 0.0
    with pytest.raises(BufferError, match="read-only"):
        torch.from_dlpack(a, copy=False)


def test_copy_argument():
    a = np.arange(4, dtype=np.float32)
    c = torch.from_dlpack(a, copy=True)
    c[0] = 5.0
    assert a[0] == 0.0
    s = torch.from_dlpack(a, copy=False)
    assert s.data_ptr() == a.ctypes.data
    t = torch.arange(3.0)
    b = np.from_dlpack(t, copy=True)
    b[0] = 4.0
    assert t[0].item() == 0.0


def test_export_errors():
    with pytest.raises(BufferError, match="detach"):
        np.from_dlpack(torch.ones(2, requires_grad=True))
    t = torch.ones(2)
    with pytest.raises(BufferError, match="device"):
        t.__dlpack__(dl_device=(2, 0))
    assert capsule_name(t.__dlpack__(dl_device=(1, 0))) == "dltensor"
    with pytest.raises(BufferError, match="stream"):
        t.__dlpack__(stream=1)
    with pytest.raises(TypeError):
        t.__dlpack__(stream="x")
    with pytest.raises(TypeError):
        rdl.to_dlpack([1, 2])


def test_import_errors():
    with pytest.raises(TypeError, match="dtype"):
        torch.from_dlpack(np.ones(3, np.uint16))
    with pytest.raises(TypeError, match="dtype"):
        torch.from_dlpack(np.ones(3, np.complex64))
    with pytest.raises(ValueError, match="negative strides"):
        torch.from_dlpack(np.arange(5.0)[::-1])
    with pytest.raises(TypeError, match="__dlpack__"):
        torch.from_dlpack([1, 2, 3])

    class OnGpu:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, **kw):
            raise AssertionError("must not be asked to export")

    with pytest.raises(BufferError, match="CPU"):
        torch.from_dlpack(OnGpu())


def test_old_producers_without_max_version():
    class Old:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, stream=None):
            return self.a.__dlpack__()

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    a = np.arange(3.0)
    t = torch.from_dlpack(Old(a))
    assert t.data_ptr() == a.ctypes.data
    c = torch.from_dlpack(Old(a), copy=True)
    assert c.data_ptr() != a.ctypes.data and c.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
def test_gpu_tensor_raises_buffer_error_telling_to_call_cpu():
    g = torch.ones(3, device="gpu")
    assert g.__dlpack_device__() == (rdl.DLDeviceType.kDLWebGPU, 0)
    with pytest.raises(BufferError, match=r"\.cpu\(\)"):
        g.__dlpack__()
    with pytest.raises(BufferError, match=r"\.cpu\(\)"):
        np.from_dlpack(g)
    np.testing.assert_array_equal(np.from_dlpack(g.cpu()), np.ones(3, np.float32))
    assert torch.from_dlpack(np.arange(3.0), device="cpu").device.type == "cpu"
    assert torch.from_dlpack(np.arange(3, dtype=np.float32), device="cuda").device.type == "gpu"


def test_with_torch_where_installed():
    real = pytest.importorskip("torch")
    if real is torch:
        pytest.skip("the suite runs on rustensor")
    for dt in (real.float32, real.float64, real.int64, real.int32, real.bool, real.float16):
        x = real.arange(6).to(dt).reshape(2, 3).t()
        t = torch.from_dlpack(x)
        assert t.data_ptr() == x.data_ptr() and t.stride() == x.stride()
        np.testing.assert_array_equal(t.numpy(), x.numpy())
        back = real.from_dlpack(t)
        assert back.data_ptr() == t.data_ptr()
        np.testing.assert_array_equal(back.numpy(), x.numpy())
