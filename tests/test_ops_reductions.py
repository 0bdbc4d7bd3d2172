"""Extra reductions (std_mean, var_mean, nansum, nanmean, count_nonzero, aminmax) and the
keyword forms torch accepts: axis=/keepdims= on every reduction, round(decimals=), out=."""

import numpy as np
import pytest

import rustensor as torch
from conftest import LAYOUTS, assert_close, random_array
from test_autograd_gradcheck import run
from test_ops_sorting import make_tensor

SHAPES = [(), (0,), (4,), (3, 5), (2, 0, 3), (2, 3, 4)]


def _a(shape, seed=0, dtype=torch.float32):
    return random_array(np.random.default_rng(seed), shape, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_var_mean_std_mean(shape, layout):
    a = _a(shape)
    t, ref = make_tensor(a, layout)
    r64 = ref.astype(np.float64)
    with np.errstate(all="ignore"):
        if ref.size > 1:
            v, m = torch.var_mean(t)
            assert_close(v, np.array(r64.var(ddof=1), np.float32), rtol=1e-5, atol=1e-5)
            assert_close(m, np.array(r64.mean(), np.float32), rtol=1e-5, atol=1e-5)
        for d in range(len(shape)):
            if shape[d] < 2:
                continue
            v, m = torch.var_mean(t, d, keepdim=True)
            assert_close(v, r64.var(d, ddof=1, keepdims=True).astype(np.float32), rtol=1e-5, atol=1e-5)
            assert_close(m, r64.mean(d, keepdims=True).astype(np.float32), rtol=1e-5, atol=1e-5)
            s, m = torch.std_mean(t, dim=d, correction=0)
            assert_close(s, r64.std(d).astype(np.float32), rtol=1e-5, atol=1e-5)
            s, m = torch.std_mean(t, d, unbiased=False, keepdims=True)
            assert_close(s, r64.std(d, keepdims=True).astype(np.float32), rtol=1e-5, atol=1e-5)
    run(lambda x: torch.var_mean(x, 1), [((3, 4), "any")], "transposed")
    run(lambda x: torch.std_mean(x), [((3, 4), "any")])


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_nansum_nanmean(shape):
    a = _a(shape, 1)
    a.reshape(-1)[::3] = np.nan
    t, ref = make_tensor(a, "transposed" if len(shape) > 1 else "contiguous")
    assert_close(torch.nansum(t), np.array(np.nansum(ref), np.float32), rtol=1e-5, atol=1e-5)
    assert_close(t.nanmean(), np.array(np.nanmean(ref), np.float32), rtol=1e-5, atol=1e-5)
    for d in range(len(shape)):
        assert_close(torch.nansum(t, d), np.nansum(ref, d), rtol=1e-5, atol=1e-5)
        with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            assert_close(torch.nanmean(t, d, keepdim=True), np.nanmean(ref, d, keepdims=True), rtol=1e-5, atol=1e-5)
    assert torch.nansum(torch.tensor([1, 2])).dtype == torch.int64
    with pytest.raises(NotImplementedError):  # torch: "not implemented for 'Long'"
        torch.nanmean(torch.tensor([1, 2]))
    mask = torch.tensor([[True, False, False], [False, False, True]])

    def f(x):
        x = torch.where(mask, torch.tensor(float("nan"), dtype=torch.float64), x)
        return torch.nansum(x, 1) + torch.nanmean(x, 0).sum()

    run(f, [((2, 3), "any")])


def test_count_nonzero_and_aminmax():
    a = np.array(np.random.default_rng(3).integers(-1, 2, size=(3, 4)), dtype=np.int64)
    t = torch.tensor(a)
    assert_close(torch.count_nonzero(t), np.array(np.count_nonzero(a)))
    assert_close(t.count_nonzero(0), np.count_nonzero(a, 0))
    assert_close(torch.count_nonzero(t, (0, 1)), np.array(np.count_nonzero(a)))
    lo, hi = torch.aminmax(t)
    assert_close(lo, np.array(a.min())) and None
    assert_close(hi, np.array(a.max()))
    r = torch.aminmax(t, dim=1, keepdim=True)
    assert_close(r.min, a.min(1, keepdims=True))
    assert_close(r.max, a.max(1, keepdims=True))
    with pytest.raises(RuntimeError):
        torch.aminmax(torch.zeros(0))
    run(lambda x: torch.aminmax(x, dim=0).max + x.aminmax(dim=1).min.sum(), [((3, 4), "any")])


# ------------------------------------------------------------------ keyword forms

@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "amin", "std", "var", "logsumexp", "nansum", "all", "any"])
def test_axis_and_keepdims_aliases(name):
    a = _a((3, 4), 4)
    t = torch.tensor(a) if name not in ("all", "any") else torch.tensor(a > 0)
    want = getattr(t, name)(dim=1, keepdim=True)
    for got in (getattr(t, name)(axis=1, keepdims=True), getattr(torch, name)(t, axis=1, keepdims=True),
                getattr(t, name)(dim=1, keepdims=True)):
        assert_close(got, want.numpy())
    with pytest.raises(TypeError):
        getattr(t, name)(dim=1, axis=1)


def test_axis_on_max_min_argmax_median_norm():
    a = _a((3, 4), 5)
    t = torch.tensor(a)
    v, i = t.max(axis=1, keepdims=True)
    assert_close(v, a.max(1, keepdims=True))
    assert_close(torch.min(t, axis=0).indices, a.argmin(0))
    assert_close(t.argmax(axis=1), a.argmax(1))
    assert_close(torch.argmin(t, axis=0, keepdims=True), a.argmin(0)[None])
    assert_close(t.median(axis=0).values, np.sort(a, 0)[1])
    assert_close(t.norm(dim=1), np.linalg.norm(a.astype(np.float64), axis=1).astype(np.float32), rtol=1e-5, atol=1e-6)
    assert_close(torch.norm(t, axis=1, keepdims=True), np.linalg.norm(a.astype(np.float64), axis=1, keepdims=True).astype(np.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("decimals", [-1, 0, 1, 2, 3])
def test_round_decimals(decimals):
    a = np.array(np.random.default_rng(6).uniform(-50, 50, size=(4, 5)), dtype=np.float64)
    t = torch.tensor(a)
    ref = np.round(a * 10.0 ** decimals) / 10.0 ** decimals
    assert_close(t.round(decimals=decimals), ref)
    assert_close(torch.round(t, decimals=decimals), ref)
    run(lambda x: x.round(decimals=decimals) + x, [((3,), "any")])
    with pytest.raises(TypeError):
        t.round(decimals=1.5)


def test_out_argument():
    a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[5.0, 6.0], [7.0, 8.0]])
    out = torch.zeros(2, 2)
    assert torch.add(a, b, out=out) is out
    assert out.tolist() == [[6.0, 8.0], [10.0, 12.0]]
    assert torch.matmul(a, b, out=out) is out and out.tolist() == (a @ b).tolist()
    s = torch.zeros(2)
    torch.sum(a, 1, out=s)
    assert s.tolist() == [3.0, 7.0]
    vals, idx = torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.int64)
    r = torch.sort(b, descending=True, out=(vals, idx))
    assert r.values is vals and idx.tolist() == [[1, 0], [1, 0]]
    torch.exp(a, out=out)
    np.testing.assert_allclose(out.numpy(), np.exp(a.numpy()), rtol=1e-6)
    torch.clamp(a, 2, 3, out=out)
    assert out.tolist() == [[2.0, 2.0], [3.0, 3.0]]
    with pytest.raises(RuntimeError, match="shape"):
        torch.add(a, b, out=torch.zeros(3))
    with pytest.raises(RuntimeError, match="out="):
        torch.add(a, b, out=torch.zeros(2, 2, requires_grad=True))


def test_cat_stack_out_axis_and_matmul_precision():
    o = torch.zeros(4)
    assert torch.cat([torch.ones(2), torch.full((2,), 2.0)], out=o) is o and o.tolist() == [1.0, 1.0, 2.0, 2.0]
    assert tuple(torch.cat((torch.ones(1, 2), torch.ones(1, 3)), axis=1).shape) == (1, 5)
    s = torch.zeros(2, 2)
    torch.stack([torch.ones(2), torch.zeros(2)], 1, out=s)
    assert s.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    assert torch.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision(old)
    with pytest.raises(RuntimeError):
        torch.set_float32_matmul_precision("fastest")


# ------------------------------------------------------------------ random shapes and layouts (hypothesis)

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import tensors  # noqa: E402


@given(tensors(torch.float32), st.data())
def test_nan_reductions_random_shapes(pair, data):
    t, ref = pair
    if ref.ndim == 0:
        return
    d = data.draw(st.integers(-ref.ndim, ref.ndim - 1))
    keep = data.draw(st.booleans())
    nanned = torch.where(t > 1, torch.tensor(float("nan")), t)
    rn = np.where(ref > 1, np.float32(np.nan), ref)
    assert_close(torch.nansum(nanned, axis=d, keepdims=keep), np.nansum(rn, axis=d, keepdims=keep), rtol=1e-5, atol=1e-5)
    assert_close(torch.count_nonzero(t, d), np.count_nonzero(ref, axis=d).astype(np.int64))
    if ref.shape[d]:
        r = torch.aminmax(t, dim=d, keepdim=keep)
        assert_close(r.min, ref.min(axis=d, keepdims=keep))
        assert_close(r.max, ref.max(axis=d, keepdims=keep))
