"""Reductions: sum mean prod max min amax amin argmax argmin var std norm logsumexp cumsum softmax."""

import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
from conftest import (ALL_DTYPES, FLOAT_DTYPES, LAYOUTS, NUMERIC_DTYPES, assert_close, dtype_name, is_float,
                      make_tensor, np_dtype, rand_tensor, shapes, tensors, to_np)

F32, F64, I32, I64, BOOL = torch.float32, torch.float64, torch.int32, torch.int64, torch.bool


def sum_tol(dtype, n):
    """Summation error grows with the number of terms; values are O(1)."""
    if dtype_name(dtype) == "float32":
        return dict(rtol=1e-5, atol=4e-6 * max(n, 1))
    if dtype_name(dtype) == "float64":
        return dict(rtol=1e-12, atol=1e-13 * max(n, 1))
    return {}


@st.composite
def reduce_dims(draw, ndim):
    """None (all dims), one dim or a tuple of distinct dims, each written positive or negative."""
    if ndim == 0:
        return draw(st.sampled_from([None, 0, -1]))
    kind = draw(st.sampled_from(["all", "one", "several"]))
    if kind == "all":
        return None
    if kind == "one":
        d = draw(st.integers(0, ndim - 1))
        return d - ndim if draw(st.booleans()) else d
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(d - ndim if draw(st.booleans()) else d for d in dims)


def np_axis(dim, ndim):
    if dim is None:
        return None
    if ndim == 0:
        return None  # dim 0 / -1 of a 0-d tensor is the tensor itself
    return dim


def n_reduced(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


def call_reduce(t, name, dim, keepdim, **kw):
    if dim is None:
        return getattr(t, name)(**kw)
    return getattr(t, name)(dim, keepdim=keepdim, **kw)


@contextlib.contextmanager
def quiet():
    """numpy warns on empty slices and zero degrees of freedom; the NaN it returns is the reference."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------------------------------------
# sum / mean / prod

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_sum(dtype, data, keepdim):
    t, a = data.draw(tensors(dtype))
    dim = data.draw(reduce_dims(a.ndim))
    axis = np_axis(dim, a.ndim)
    rd = dtype if is_float(dtype) else I64
    ref = np.sum(a.astype(np.float64 if is_float(dtype) else np.int64), axis=axis, keepdims=keepdim and dim is not None)
    got = call_reduce(t, "sum", dim, keepdim)
    assert_close(got, np.asarray(ref).astype(np_dtype(rd)), rd, **sum_tol(rd, n_reduced(a.shape, axis)))
    if dim is not None:
        assert_close(torch.sum(t, dim, keepdim=keepdim), np.asarray(ref).astype(np_dtype(rd)), rd,
                     **sum_tol(rd, n_reduced(a.shape, axis)))


def test_sum_forms_and_dtype_kwarg():
    t, a = rand_tensor((3, 4), I32, seed=1)
    assert_close(torch.sum(t), np.sum(a, dtype=np.int64))
    assert_close(t.sum(dim=1), np.sum(a, axis=1, dtype=np.int64))
    assert_close(t.sum(dim=(0, 1), keepdim=True), np.sum(a, axis=(0, 1), keepdims=True, dtype=np.int64))
    assert_close(t.sum(dtype=torch.float64), np.sum(a, dtype=np.float64))
    assert_close(t.sum([0, 1]), np.sum(a, dtype=np.int64))
    assert_close(torch.tensor([True, True, False]).sum(), np.int64(2))


def test_sum_empty():
    assert_close(torch.zeros(0).sum(), np.float32(0))
    assert_close(torch.zeros(0, 3).sum(0), np.zeros(3, np.float32))
    assert_close(torch.zeros(0, 3).sum(1), np.zeros(0, np.float32))
    assert_close(torch.zeros(0, 3, dtype=torch.int32).sum(), np.int64(0))


def test_sum_large_float32_accuracy():
    # A naive running sum loses ~1e-3 relative here; torch and numpy use pairwise/blocked sums.
    a = np.full(1 << 22, 0.1, np.float32)
    got = torch.tensor(a).sum().item()
    assert abs(got - 0.1 * (1 << 22)) / (0.1 * (1 << 22)) < 1e-5


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_mean(dtype, data, keepdim):
    t, a = data.draw(tensors(dtype))
    dim = data.draw(reduce_dims(a.ndim))
    axis = np_axis(dim, a.ndim)
    with quiet():
        ref = np.mean(a.astype(np.float64), axis=axis, keepdims=keepdim and dim is not None)
    got = call_reduce(t, "mean", dim, keepdim)
    assert_close(got, np.asarray(ref).astype(np_dtype(dtype)), dtype, **sum_tol(dtype, 1))
    if dim is not None:
        assert_close(torch.mean(t, dim, keepdim), np.asarray(ref).astype(np_dtype(dtype)), dtype, **sum_tol(dtype, 1))


def test_mean_empty_is_nan_and_int_is_error():
    assert np.isnan(torch.zeros(0).mean().item())
    assert_close(torch.zeros(0, 2).mean(0), np.full(2, np.nan, np.float32))
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).mean()
    assert_close(torch.tensor([1.0, 2.0]).mean(dtype=torch.float64), np.float64(1.5))


@pytest.mark.parametrize("dtype", [F32, F64, I64, I32], ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_prod(dtype, data, keepdim):
    shape = data.draw(shapes(max_dims=3, max_side=4))
    seed = data.draw(st.integers(0, 2**16))
    layout = data.draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(seed)
    a = (rng.uniform(0.5, 1.5, size=shape) if is_float(dtype) else rng.integers(-3, 4, size=shape))
    t, a = make_tensor(np.array(a, dtype=np_dtype(dtype)), layout)
    rd = dtype if is_float(dtype) else I64
    if a.ndim and data.draw(st.booleans()):
        dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
        ref = np.prod(a.astype(np_dtype(rd)), axis=dim, keepdims=keepdim)
        assert_close(t.prod(dim, keepdim=keepdim), ref, rd)
        assert_close(torch.prod(t, dim, keepdim), ref, rd)
    else:
        assert_close(t.prod(), np.prod(a.astype(np_dtype(rd))), rd)
        assert_close(torch.prod(t), np.prod(a.astype(np_dtype(rd))), rd)


def test_prod_empty_is_one():
    assert_close(torch.zeros(0).prod(), np.float32(1))
    assert_close(torch.zeros(0, 2).prod(0), np.ones(2, np.float32))


# ---------------------------------------------------------------------------------------------
# max / min (with and without dim), amax / amin, argmax / argmin

@pytest.mark.parametrize("name, npval, npidx", [("max", np.max, np.argmax), ("min", np.min, np.argmin)])
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_max_min_with_dim(name, npval, npidx, dtype, data, keepdim):
    t, a = data.draw(tensors(dtype, shape=shapes(min_dims=1, min_side=1)))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    res = getattr(t, name)(dim, keepdim=keepdim)
    ref_v = npval(a, axis=dim, keepdims=keepdim)
    ref_i = npidx(a, axis=dim)
    if keepdim:
        ref_i = np.expand_dims(ref_i, dim)
    assert isinstance(res, tuple) and len(res) == 2
    values, indices = res
    assert_close(values, ref_v, dtype)
    assert_close(indices, ref_i.astype(np.int64), I64)
    assert_close(res.values, ref_v, dtype)
    assert_close(res.indices, ref_i.astype(np.int64), I64)
    assert_close(res[0], ref_v, dtype)
    r2 = getattr(torch, name)(t, dim=dim, keepdim=keepdim)
    assert_close(r2.values, ref_v, dtype)


@pytest.mark.parametrize("name, npfn", [("max", np.max), ("min", np.min)])
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@given(data=st.data())
def test_max_min_all(name, npfn, dtype, data):
    t, a = data.draw(tensors(dtype, shape=shapes(min_side=1)))
    assert_close(getattr(t, name)(), npfn(a), dtype)
    assert_close(getattr(torch, name)(t), npfn(a), dtype)


def test_max_min_ties_give_first_index():
    t = torch.tensor([3, 1, 3, 1])
    assert t.max(0).indices.item() == 0
    assert t.min(0).indices.item() == 1
    assert t.argmax().item() == 0
    assert t.argmin().item() == 1
    e = torch.tensor([[2.0], [2.0]]).expand(2, 5)
    assert e.max(1).indices.tolist() == [0, 0]
    assert e.argmax(0).tolist() == [0] * 5


def test_max_propagates_nan():
    t = torch.tensor([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    assert np.isnan(t.max().item())
    assert np.isnan(t.min().item())
    r = t.max(1)
    assert np.isnan(r.values[0].item()) and r.indices[0].item() == 1
    assert r.values[1].item() == 6.0
    assert t.argmax().item() == 1
    assert np.isnan(t.amax(1)[0].item())


def test_max_of_two_tensors_is_maximum():
    a = torch.tensor([1.0, 5.0])
    b = torch.tensor([3.0, 2.0])
    assert_close(torch.max(a, b), np.array([3.0, 5.0], np.float32))
    assert_close(torch.min(a, b), np.array([1.0, 2.0], np.float32))


def test_max_min_empty():
    with pytest.raises(RuntimeError):
        torch.zeros(0).max()
    with pytest.raises((IndexError, RuntimeError)):
        torch.zeros(0, 3).max(0)
    r = torch.zeros(0, 3).max(1)
    assert r.values.shape == (0,) and r.indices.shape == (0,) and r.indices.dtype == I64


def test_max_min_0d():
    t = torch.tensor(3.5)
    assert_close(t.max(), np.float32(3.5))
    r = t.max(0)
    assert_close(r.values, np.float32(3.5))
    assert_close(r.indices, np.int64(0))


@pytest.mark.parametrize("name, npfn", [("amax", np.max), ("amin", np.min)])
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES + [BOOL], ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_amax_amin(name, npfn, dtype, data, keepdim):
    t, a = data.draw(tensors(dtype, shape=shapes(min_side=1)))
    dim = data.draw(reduce_dims(a.ndim))
    axis = np_axis(dim, a.ndim)
    ref = npfn(a, axis=axis, keepdims=keepdim and dim is not None)
    if dim is None:
        got = getattr(t, name)()
    else:
        got = getattr(t, name)(dim, keepdim=keepdim)
        assert_close(getattr(torch, name)(t, dim=dim, keepdim=keepdim), ref, dtype)
    assert_close(got, ref, dtype)


@pytest.mark.parametrize("name, npfn", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_argmax_argmin(name, npfn, dtype, data, keepdim):
    t, a = data.draw(tensors(dtype, shape=shapes(min_side=1)))
    # Flat index over the logical (row-major) order, whatever the memory layout.
    assert_close(getattr(t, name)(), np.int64(npfn(a)), I64)
    assert_close(getattr(torch, name)(t), np.int64(npfn(a)), I64)
    if a.ndim:
        dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
        ref = npfn(a, axis=dim)
        if keepdim:
            ref = np.expand_dims(ref, dim)
        assert_close(getattr(t, name)(dim, keepdim=keepdim), ref.astype(np.int64), I64)
        assert_close(getattr(torch, name)(t, dim=dim, keepdim=keepdim), ref.astype(np.int64), I64)


def test_argmax_empty_is_error():
    with pytest.raises((RuntimeError, IndexError)):
        torch.zeros(0).argmax()


def test_max_keeps_int_dtype():
    t = torch.tensor([1, 5, 2], dtype=torch.int32)
    assert t.max().dtype == I32
    assert t.amax(0).dtype == I32
    assert t.max(0).values.dtype == I32


# ---------------------------------------------------------------------------------------------
# var / std

@pytest.mark.filterwarnings("ignore:.*degrees of freedom")
@pytest.mark.parametrize("name, npfn", [("var", np.var), ("std", np.std)])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("how", ["default", "unbiased=True", "unbiased=False", "correction=0", "correction=1",
                                 "correction=2"])
@given(data=st.data(), keepdim=st.booleans())
def test_var_std(name, npfn, dtype, how, data, keepdim):
    t, a = data.draw(tensors(dtype, shape=shapes(max_dims=3)))
    dim = data.draw(reduce_dims(a.ndim))
    axis = np_axis(dim, a.ndim)
    ddof = {"default": 1, "unbiased=True": 1, "unbiased=False": 0}.get(how) if "correction" not in how \
        else int(how.split("=")[1])
    kw = {} if how == "default" else {how.split("=")[0]: (how.endswith("True") if "unbiased" in how
                                                          else int(how.split("=")[1]))}
    with quiet():
        ref = npfn(a.astype(np.float64), axis=axis, ddof=ddof, keepdims=keepdim and dim is not None)
    ref = np.asarray(ref).astype(np_dtype(dtype))
    if dim is None:
        got = getattr(t, name)(**kw)
    else:
        got = getattr(t, name)(dim, keepdim=keepdim, **kw)
    assert_close(got, ref, dtype, rtol=1e-4 if dtype == F32 else 1e-10, atol=1e-5 if dtype == F32 else 1e-12)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom")
def test_var_std_known_values():
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert_close(t.var(), np.float32(np.var([1, 2, 3, 4], ddof=1)))
    assert_close(t.std(unbiased=False), np.float32(np.std([1, 2, 3, 4])))
    assert_close(torch.var(t, correction=0), np.float32(1.25))
    assert_close(torch.std(t.view(2, 2), dim=0), np.float32([np.sqrt(2), np.sqrt(2)]))
    assert np.isnan(torch.tensor([1.0]).var().item())


def test_var_of_int_is_error():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).var()


# ---------------------------------------------------------------------------------------------
# norm / logsumexp

def np_norm(a, p, axis, keepdims):
    a = np.abs(a.astype(np.float64))
    if p == float("inf"):
        return np.max(a, axis=axis, keepdims=keepdims, initial=0.0)
    return np.sum(a**p, axis=axis, keepdims=keepdims) ** (1.0 / p)


@pytest.mark.parametrize("p", [None, 2, 1, 3, float("inf")], ids=repr)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_norm(p, dtype, data, keepdim):
    # The inf norm of an empty tensor has no identity: torch raises.
    t, a = data.draw(tensors(dtype, shape=shapes(max_dims=3, min_side=1 if p == float("inf") else 0)))
    # With p=None (Frobenius) torch takes at most two dims.
    dim = data.draw(reduce_dims(a.ndim).filter(lambda d: p is not None or not isinstance(d, tuple) or len(d) <= 2))
    axis = np_axis(dim, a.ndim)
    ref = np.asarray(np_norm(a, 2 if p is None else p, axis, keepdim and dim is not None)).astype(np_dtype(dtype))
    kw = {} if p is None else {"p": p}
    got = t.norm(**kw) if dim is None else t.norm(dim=dim, keepdim=keepdim, **kw)
    assert_close(got, ref, dtype, rtol=1e-5 if dtype == F32 else 1e-11)
    if dim is None:
        assert_close(torch.norm(t, **kw), ref, dtype, rtol=1e-5 if dtype == F32 else 1e-11)


def test_norm_fro_and_known_values():
    t = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert_close(t.norm(), np.float32(5.0))
    assert_close(t.norm(p="fro"), np.float32(5.0))
    assert_close(t.norm(p=1), np.float32(7.0))
    assert_close(t.norm(dim=1), np.float32([5.0, 0.0]))
    assert_close(torch.zeros(0).norm(), np.float32(0.0))


def np_logsumexp(a, axis, keepdims):
    a = a.astype(np.float64)
    if a.size == 0:
        return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data(), keepdim=st.booleans())
def test_logsumexp(dtype, data, keepdim):
    t, a = data.draw(tensors(dtype, shape=shapes(min_dims=1, max_dims=3), low=-50, high=50))
    dim = data.draw(reduce_dims(a.ndim).filter(lambda d: d is not None))
    with quiet():
        ref = np.asarray(np_logsumexp(a, dim, keepdim)).astype(np_dtype(dtype))
    assert_close(t.logsumexp(dim, keepdim=keepdim), ref, dtype)
    assert_close(torch.logsumexp(t, dim, keepdim=keepdim), ref, dtype)


def test_logsumexp_is_stable():
    assert_close(torch.tensor([1000.0, 1000.0]).logsumexp(0), np.float32(1000 + np.log(2)))
    assert_close(torch.tensor([-1000.0, -1000.0]).logsumexp(0), np.float32(-1000 + np.log(2)))
    assert_close(torch.tensor([-np.inf, -np.inf]).logsumexp(0), np.float32(-np.inf))
    assert_close(torch.zeros(0, 3).logsumexp(0), np.full(3, -np.inf, np.float32))


# ---------------------------------------------------------------------------------------------
# cumsum / softmax / log_softmax

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@given(data=st.data())
def test_cumsum(dtype, data):
    t, a = data.draw(tensors(dtype, shape=shapes(min_dims=1)))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    rd = dtype if is_float(dtype) else I64
    ref = np.cumsum(a.astype(np_dtype(rd)), axis=dim)
    tol = sum_tol(rd, a.shape[dim])
    assert_close(t.cumsum(dim), ref, rd, **tol)
    assert_close(torch.cumsum(t, dim=dim), ref, rd, **tol)


def test_cumsum_0d_and_dtype_kwarg():
    assert_close(torch.tensor(3.0).cumsum(0), np.float32(3.0))
    assert_close(torch.tensor([1, 2, 3], dtype=torch.int32).cumsum(0), np.array([1, 3, 6], np.int64))
    assert_close(torch.tensor([1, 2]).cumsum(0, dtype=torch.float64), np.array([1.0, 3.0]))


def np_softmax(a, axis):
    a = a.astype(np.float64)
    if a.size == 0:
        return a
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def np_log_softmax(a, axis):
    a = a.astype(np.float64)
    if a.size == 0:
        return a
    m = np.max(a, axis=axis, keepdims=True)
    return a - m - np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@given(data=st.data())
def test_softmax_log_softmax(dtype, data):
    t, a = data.draw(tensors(dtype, shape=shapes(min_dims=1), low=-20, high=20))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    sm = np_softmax(a, dim).astype(np_dtype(dtype))
    lsm = np_log_softmax(a, dim).astype(np_dtype(dtype))
    assert_close(torch.softmax(t, dim), sm, dtype)
    assert_close(t.softmax(dim), sm, dtype)
    assert_close(torch.softmax(t, dim=dim), sm, dtype)
    assert_close(torch.log_softmax(t, dim), lsm, dtype, atol=1e-5 if dtype == F32 else None)
    assert_close(t.log_softmax(dim=dim), lsm, dtype, atol=1e-5 if dtype == F32 else None)


def test_softmax_is_stable_and_sums_to_one():
    t = torch.tensor([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    assert_close(t.softmax(1), np_softmax(to_np(t), 1).astype(np.float32))
    assert_close(t.log_softmax(1), np_log_softmax(to_np(t), 1).astype(np.float32))
    s = torch.randn(7, 9).softmax(-1).sum(-1)
    assert_close(s, np.ones(7, np.float32))


def test_softmax_0d():
    assert_close(torch.tensor(3.0).softmax(0), np.float32(1.0))
    assert_close(torch.tensor(3.0).log_softmax(0), np.float32(0.0))


# ---------------------------------------------------------------------------------------------
# dims

@pytest.mark.parametrize(
    "fn",
    [lambda t: t.sum(2), lambda t: t.sum(-3), lambda t: t.mean((0, 2)), lambda t: t.max(2), lambda t: t.amax(5),
     lambda t: t.argmax(2), lambda t: t.var(2), lambda t: t.cumsum(2), lambda t: t.softmax(2),
     lambda t: t.logsumexp(-3), lambda t: t.prod(2), lambda t: t.norm(dim=2)],
)
def test_reduction_dim_out_of_range_is_index_error(fn):
    with pytest.raises(IndexError):
        fn(torch.zeros(2, 3))


def test_reduction_repeated_dim_is_runtime_error():
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).sum((0, 0))
    with pytest.raises(RuntimeError):
        torch.zeros(2, 3).sum((1, -1))


def test_reductions_on_large_strided_input():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 500)).astype(np.float32)
    t = torch.tensor(a)
    assert_close(t.t().sum(0), a.T.astype(np.float64).sum(0).astype(np.float32), rtol=1e-4, atol=1e-3)
    assert_close(t[:, ::3].amax(1), a[:, ::3].max(1))
    assert_close(t.t().argmax(1), a.T.argmax(1).astype(np.int64))
    assert_close(t.t().softmax(0), np_softmax(a.T, 0).astype(np.float32))
    assert_close(t.t().cumsum(1), np.cumsum(a.T.astype(np.float64), 1).astype(np.float32), rtol=1e-4, atol=1e-3)
