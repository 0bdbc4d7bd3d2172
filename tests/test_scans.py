"""Scans along a dim (cumsum, cumprod, cummax, cummin, logcumsumexp) against NumPy, their
gradients in float64, the GPU against the CPU; and polygamma against SciPy."""

import numpy as np
import pytest
import scipy.special

import rustensor as torch
from conftest import FLOAT_DTYPES, INT_DTYPES, LAYOUTS, BOOL, assert_close, make_tensor, random_array

SHAPES = [(), (0,), (5,), (3, 0), (4, 6), (2, 3, 5), (1, 7, 1)]


def _along(f, a, dim):
    """`f` (a NumPy accumulate) along `dim`, a 0-d array taken as one element."""
    if a.ndim == 0:
        return f(a.reshape(1), 0).reshape(())
    return f(a, dim)


def _cum_extreme_ref(a, dim, is_max):
    """torch's cummax/cummin: NaN wins and stays, ties go to the later index."""
    if a.ndim == 0:
        return a.copy(), np.zeros((), np.int64)
    x = np.moveaxis(a, dim, -1)
    vals, idx = np.empty_like(x), np.zeros(x.shape, np.int64)
    for pos in np.ndindex(x.shape[:-1]):
        best, at = None, 0
        for i, v in enumerate(x[pos]):
            if best is None or v != v or (best == best and (v >= best if is_max else v <= best)):
                best, at = v, i
            vals[pos + (i,)], idx[pos + (i,)] = best, at
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


def _dims(shape):
    return [0, -1] if len(shape) <= 1 else list(range(len(shape))) + [-1]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES + [BOOL], ids=str)
def test_cumsum_and_cumprod_match_numpy(shape, layout, dtype, rng):
    a = random_array(rng, shape, dtype, low=-2, high=2)
    t, ref = make_tensor(a, layout)
    for dim in _dims(shape):
        out_np = ref.dtype if ref.dtype.kind == "f" else np.int64
        assert_close(t.cumsum(dim), _along(lambda x, d: np.cumsum(x, d, dtype=out_np), ref, dim))
        assert_close(torch.cumprod(t, dim), _along(lambda x, d: np.cumprod(x, d, dtype=out_np), ref, dim))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES + [BOOL], ids=str)
def test_cummax_cummin_match_numpy_with_torchs_indices(shape, layout, dtype, rng):
    a = random_array(rng, shape, dtype, low=-2, high=2)
    if dtype in FLOAT_DTYPES and a.size > 2:
        a = np.round(a)  # ties
        a.flat[1] = np.nan
    t, ref = make_tensor(a, layout)
    for dim in _dims(shape):
        for name, is_max, acc in [("cummax", True, np.maximum.accumulate), ("cummin", False, np.minimum.accumulate)]:
            r = getattr(torch, name)(t, dim)
            assert type(r).__name__ == name and r._fields == ("values", "indices")
            assert_close(r.values, _along(acc, ref, dim))
            v, i = _cum_extreme_ref(ref, dim if ref.ndim else 0, is_max)
            assert_close(r.indices, i)
            m = getattr(t, name)(dim)
            assert_close(m.values, v)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_logcumsumexp_matches_numpy(shape, layout, dtype, rng):
    a = random_array(rng, shape, dtype, low=-30, high=30)
    t, ref = make_tensor(a, layout)
    for dim in _dims(shape):
        assert_close(torch.logcumsumexp(t, dim), _along(np.logaddexp.accumulate, ref, dim), rtol=1e-5 if dtype == torch.float32 else None)


def test_logcumsumexp_infinities_and_nan():
    x = torch.tensor([float("-inf"), float("-inf"), 1.0, float("inf"), 2.0, float("nan"), 3.0], dtype=torch.float64)
    with np.errstate(invalid="ignore"):
        ref = np.logaddexp.accumulate(x.numpy())
    assert_close(x.logcumsumexp(0), ref)


def test_dtype_keyword_and_int_promotion():
    x = torch.tensor([1, 2, 3], dtype=torch.int32)
    assert x.cumprod(0).dtype == torch.int64 and x.cumsum(0).dtype == torch.int64
    r = torch.cumprod(x, 0, dtype=torch.float64)
    assert_close(r, np.array([1.0, 2.0, 6.0]))
    assert torch.cummax(x, 0).values.dtype == torch.int32
    assert torch.cumprod(torch.tensor([1.0, 2.0], dtype=torch.float16), 0).dtype == torch.float16


def test_out_and_errors():
    x = torch.tensor([3.0, 1.0, 2.0])
    v, i = torch.empty(3), torch.empty(3, dtype=torch.int64)
    r = torch.cummax(x, 0, out=(v, i))
    assert r.values is v and np.array_equal(i.numpy(), [0, 0, 0])
    o = torch.empty(3)
    assert torch.cumprod(x, 0, out=o) is o
    with pytest.raises(RuntimeError, match=r"logcumsumexp_out_cpu\" not implemented for 'Long'"):
        torch.logcumsumexp(torch.tensor([1, 2]), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.cumprod(1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.tensor(1.0).cummax(2)


# ---------------------------------------------------------------------------------------------
# gradients

def _f64(a, requires_grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


@pytest.mark.parametrize("values", [
    [[2.0, 0.5, 3.0, -1.5, 1.2]],
    [[2.0, 0.0, 3.0, 0.0, 4.0], [0.0, 1.5, -2.0, 0.7, 1.1]],  # zeros, two in one line
    [[0.0, 0.0, 0.0]],
])
def test_cumprod_gradcheck_and_gradgradcheck_with_zeros(values):
    x = _f64(values)
    assert torch.autograd.gradcheck(lambda t: t.cumprod(-1), (x,))
    assert torch.autograd.gradgradcheck(lambda t: t.cumprod(-1), (x,))
    xt = _f64(np.array(values).T.copy())
    assert torch.autograd.gradcheck(lambda t: t.cumprod(0), (xt,))


def test_cumprod_gradient_at_zeros_is_torchs():
    # d/dx_k sum_j prod_{i<=j} x_i, written out: the products that skip x_k
    x = np.array([2.0, 0.0, 3.0, 0.0, 4.0])
    t = _f64(x)
    t.cumprod(0).sum().backward()
    ref = [sum(np.prod([x[i] for i in range(j + 1) if i != k]) for j in range(k, 5)) for k in range(5)]
    np.testing.assert_allclose(t.grad.numpy(), ref)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=str)
def test_scan_gradchecks(shape, rng):
    # distinct values: cummax/cummin are not differentiable at ties
    a = rng.permutation(int(np.prod(shape)) or 1)[: int(np.prod(shape))].reshape(shape) * 0.37 - 1.0
    x = _f64(a)
    for f in [lambda t: t.cumsum(-1), lambda t: t.logcumsumexp(-1), lambda t: t.cummax(-1).values,
              lambda t: t.cummin(-1).values, lambda t: t.cumprod(-1)]:
        assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(lambda t: t.logcumsumexp(-1), (x,))


def test_scan_grad_fn_names():
    x = torch.ones(3, requires_grad=True)
    assert x.cumprod(0).grad_fn.name() == "CumprodBackward0"
    assert x.logcumsumexp(0).grad_fn.name() == "LogcumsumexpBackward0"
    assert x.cummax(0).values.grad_fn.name() == "CummaxBackward0"
    assert x.cummin(0).values.grad_fn.name() == "CumminBackward0"


# ---------------------------------------------------------------------------------------------
# GPU against CPU (a line longer than one 4096-element block takes the three-pass path)

@pytest.mark.parametrize("shape, dim", [((), 0), ((0, 3), 1), ((5, 7), 1), ((6, 5), 0), ((3, 9000), 1), ((2, 3, 4), 1)], ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.int64, BOOL], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_gpu_scans_match_cpu(gpu, shape, dim, dtype, layout, rng):
    a = random_array(rng, shape, dtype, low=-2, high=2)
    if dtype == torch.float32:
        a = np.round(a * 2) / 2
        if a.size > 3:
            a.flat[3] = np.nan
    c, _ = make_tensor(a, layout)
    g, _ = make_tensor(a, layout, device=gpu)
    for name in ["cumsum", "cummax", "cummin"] + (["logcumsumexp"] if dtype == torch.float32 else []):
        rc, rg = getattr(c, name)(dim), getattr(g, name)(dim)
        if name in ("cummax", "cummin"):
            assert rg.values.device.type == "gpu"
            assert_close(rg.values.cpu(), to_np_(rc.values))
            assert_close(rg.indices.cpu(), to_np_(rc.indices))
        else:
            assert rg.device.type == "gpu"
            assert_close(rg.cpu(), to_np_(rc), dtype=rc.dtype, rtol=1e-4, atol=1e-3)
    # products of long lines overflow (and int32 wraps on the GPU): keep them short
    small = c[..., :6] if c.ndim else c
    gs = small.to(gpu)
    d = dim if small.ndim else 0
    assert_close(gs.cumprod(d).cpu(), to_np_(small.cumprod(d)), dtype=small.cumprod(d).dtype, rtol=1e-5, atol=1e-5)


def to_np_(t):
    return np.array(t.numpy(), copy=True)


def test_gpu_scan_backward_matches_cpu(gpu, rng):
    a = rng.standard_normal((3, 6)).astype(np.float32)
    a[1, 2] = 0.0
    for name in ["cumprod", "logcumsumexp", "cummax"]:
        grads = []
        for dev in [None, gpu]:
            x = torch.tensor(a) if dev is None else torch.tensor(a).to(dev)
            x.requires_grad_(True)
            y = getattr(x, name)(1)
            (y.values if name == "cummax" else y).sum().backward()
            grads.append(x.grad.cpu().numpy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# polygamma

X_POLY = np.array([0.3, 0.5, 1.0, 2.5, 7.0, 23.0, -0.5, -1.5, -2.7])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 6])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
def test_polygamma_matches_scipy(n, layout):
    a = np.stack([X_POLY, X_POLY[::-1] + 0.11])
    t, ref = make_tensor(a, layout)
    expect = scipy.special.polygamma(n, ref)
    assert_close(torch.polygamma(n, t), expect, rtol=1e-10, atol=1e-12)
    assert_close(torch.special.polygamma(n, t.float()), expect, dtype=torch.float32, rtol=2e-5, atol=1e-5)
    assert_close(t.polygamma(n), expect, rtol=1e-10, atol=1e-12)


def test_polygamma_forms_dtypes_and_errors():
    x = torch.tensor([1, 2, 3])
    assert torch.polygamma(2, x).dtype == torch.float32
    assert_close(torch.polygamma(2, torch.tensor(3.0, dtype=torch.float64)), np.array(scipy.special.polygamma(2, 3.0)))
    assert torch.polygamma(1, torch.zeros(0, 3)).shape == (0, 3)
    y = torch.tensor([0.5, 2.0], dtype=torch.float64)
    y.polygamma_(1)
    assert_close(y, scipy.special.polygamma(1, np.array([0.5, 2.0])))
    assert_close(torch.special.digamma(torch.tensor([0.5])), scipy.special.digamma(np.array([0.5], np.float32)))
    assert torch.special.psi is torch.special.digamma
    with pytest.raises(RuntimeError, match="does not support negative n"):
        torch.polygamma(-1, y)
    with pytest.raises(TypeError, match="must be int"):
        torch.polygamma(1.5, y)


def test_polygamma_digamma_lgamma_higher_derivatives():
    x = _f64([0.4, 1.3, 2.2, 5.5, -0.6])
    for f in [lambda t: t.digamma(), lambda t: t.lgamma(), lambda t: t.polygamma(2), lambda t: torch.special.polygamma(0, t)]:
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))
    assert x.polygamma(3).grad_fn.name() == "PolygammaBackward0"


def test_gpu_polygamma_matches_cpu(gpu):
    a = np.stack([X_POLY, X_POLY + 0.25]).astype(np.float32)
    for n in range(5):
        c = torch.tensor(a).polygamma(n)
        g = torch.tensor(a).to(gpu).polygamma(n)
        assert_close(g.cpu(), c.numpy(), rtol=2e-4, atol=1e-4)


@pytest.mark.parametrize("dt", ["bfloat16", "float16", "uint8", "int8", "int16"])
def test_scans_on_the_narrow_dtypes_match_numpy_and_the_gpu(dt, gpu):
    # bfloat16 once fell through to the float64 kernel and wrote past its buffer
    dtype = getattr(torch, dt)
    a = (np.arange(24).reshape(4, 6) % 5 + 1).astype(np.float64)
    x = torch.tensor(a).to(dtype)
    wide = np.float64 if dtype.is_floating_point else np.int64
    np.testing.assert_allclose(x.cumsum(1).double().numpy(), np.cumsum(a, 1).astype(wide))
    np.testing.assert_allclose(x[:, :3].cumprod(1).double().numpy(), np.cumprod(a[:, :3], 1).astype(wide))
    np.testing.assert_allclose(x.cummax(1).values.double().numpy(), np.maximum.accumulate(a, 1))
    outs = [x.cumsum(1), x[:, :3].cumprod(1), x.cummax(1).values, x.cummin(0).indices]
    if dtype.is_floating_point:
        ref = np.logaddexp.accumulate(a, 1)
        np.testing.assert_allclose(x.logcumsumexp(1).double().numpy(), ref, rtol=2e-2)
        outs.append(x.logcumsumexp(1))
    if gpu is not None:
        y = x.to(gpu)
        got = [y.cumsum(1), y[:, :3].cumprod(1), y.cummax(1).values, y.cummin(0).indices]
        if dtype.is_floating_point:
            got.append(y.logcumsumexp(1))
        for r, g in zip(outs, got):
            assert g.dtype == r.dtype
            np.testing.assert_allclose(g.cpu().double().numpy(), r.double().numpy(), rtol=1e-2)
