"""The fused normalization core ops behind F.layer_norm / F.rms_norm / F.group_norm and
nn.LayerNorm / nn.RMSNorm / nn.GroupNorm (`_C._layer_norm`, `_C._group_norm`: statistics,
normalization and affine in one kernel, with a one-kernel backward that turns into
differentiable ops under create_graph): against a float64 NumPy reference (values and
gradients) on random shapes, row lengths around the kernel's 16-lane sums, empty batches and
strided inputs and upstream gradients, finite-difference gradient checks (first and second
order), launches big enough to be split over threads, float16/bfloat16, the argument errors
(torch's types and messages), the modules, the GPU against the CPU, and real torch when it is
importable."""

import math

import numpy as np
import pytest

import rustensor as torch
from conftest import gpu, make_tensor  # noqa: F401  (gpu is a fixture)
from rustensor import _rustensor as _C

F = torch.nn.functional

LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")
ROW_LENGTHS = (1, 15, 16, 17, 33, 600)  # around the 16-lane sums: under, at, over, two and a bit, many
AFFINE = ("both", "weight", "bias", "none")
BATCHES = ((), (1,), (0,), (5,), (2, 3), (7,))


# --------------------------------------------------------------------------- NumPy references

def np_norm(x, k, w=None, b=None, eps=1e-5, rms=False):
    """layer_norm (rms=False) or rms_norm over the trailing k dims of x, in float64."""
    axes = tuple(range(x.ndim - k, x.ndim))
    if rms:
        y = x / np.sqrt((x * x).mean(axes, keepdims=True) + eps)
    else:
        mu = x.mean(axes, keepdims=True)
        y = (x - mu) / np.sqrt(((x - mu) ** 2).mean(axes, keepdims=True) + eps)  # biased variance
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def np_norm_grad(x, k, w, g, eps=1e-5, rms=False):
    """(d input, d weight, d bias) of sum(np_norm(x, k, w, b) * g), by the analytic formula."""
    nshape = x.shape[x.ndim - k:]
    n = math.prod(nshape)
    rows, gr = x.reshape(-1, n), g.reshape(-1, n)
    if rms:
        rstd = 1.0 / np.sqrt((rows * rows).mean(1, keepdims=True) + eps)
        xhat = rows * rstd
    else:
        mu = rows.mean(1, keepdims=True)
        rstd = 1.0 / np.sqrt(((rows - mu) ** 2).mean(1, keepdims=True) + eps)
        xhat = (rows - mu) * rstd
    gh = gr * (w.reshape(-1) if w is not None else 1.0)
    dx = gh - xhat * (gh * xhat).mean(1, keepdims=True)
    if not rms:
        dx = dx - gh.mean(1, keepdims=True)
    dx = rstd * dx
    return dx.reshape(x.shape), (gr * xhat).sum(0).reshape(nshape), gr.sum(0).reshape(nshape)


def _cshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def np_group_norm(x, groups, w=None, b=None, eps=1e-5):
    n, c = x.shape[:2]
    r = x.reshape(n, groups, (c // groups) * math.prod(x.shape[2:]))
    mu = r.mean(-1, keepdims=True)
    y = ((r - mu) / np.sqrt(((r - mu) ** 2).mean(-1, keepdims=True) + eps)).reshape(x.shape)
    if w is not None:
        y = y * w.reshape(_cshape(x))
    if b is not None:
        y = y + b.reshape(_cshape(x))
    return y


def np_group_norm_grad(x, groups, w, g, eps=1e-5):
    n, c = x.shape[:2]
    m = (c // groups) * math.prod(x.shape[2:])
    r = x.reshape(n, groups, m)
    mu = r.mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(((r - mu) ** 2).mean(-1, keepdims=True) + eps)
    xhat = (r - mu) * rstd
    gh = (g * (w.reshape(_cshape(x)) if w is not None else 1.0)).reshape(n, groups, m)
    dx = rstd * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    red = (0,) + tuple(range(2, x.ndim))
    return dx.reshape(x.shape), (g * xhat.reshape(x.shape)).sum(red), g.sum(red)


def numeric_grad(f, arrays, gout, k, eps=1e-6):
    """Central differences of sum(f(*arrays) * gout) with respect to arrays[k]."""
    a = arrays[k]
    out = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        old = a[idx]
        a[idx] = old + eps
        hi = (f(*arrays) * gout).sum()
        a[idx] = old - eps
        lo = (f(*arrays) * gout).sum()
        a[idx] = old
        out[idx] = (hi - lo) / (2 * eps)
    return out


def affine_params(rng, nshape, affine, layout="contiguous"):
    """(weight tensor or None, its ndarray or None, bias tensor or None, its ndarray or None)."""
    res = []
    for part in ("weight", "bias"):
        if affine in ("both", part):
            a = rng.normal(loc=1.0 if part == "weight" else 0.0, size=nshape)
            t, a = make_tensor(a, layout) if layout != "expanded" else make_tensor(a)
            res += [t.requires_grad_(), a]
        else:
            res += [None, None]
    return res


def close(actual, ref, rtol=1e-10, atol=1e-11):
    np.testing.assert_allclose(actual, ref, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- forward and backward

def _check_norm(seed, batch, nshape, affine, rms, eps):
    rng = np.random.default_rng(seed)
    layout = LAYOUTS[seed % 4]
    x = rng.normal(loc=rng.normal() * 3, scale=2.0, size=batch + nshape)
    xt, xref = make_tensor(x, layout)
    xt.requires_grad_()
    wt, w, bt, b = affine_params(rng, nshape, affine, "sliced" if seed % 3 == 0 else "contiguous")
    if rms:
        y = F.rms_norm(xt, nshape, wt, eps=eps)
        eps_ref = np.finfo(np.float64).eps if eps is None else eps
    else:
        y = F.layer_norm(xt, nshape, wt, bt, eps=eps)
        eps_ref = eps
    assert y.dtype == torch.float64 and tuple(y.shape) == xref.shape
    close(y.detach().numpy(), np_norm(xref, len(nshape), w, b, eps_ref, rms))
    gout = rng.normal(size=xref.shape)
    gt, gref = make_tensor(gout, LAYOUTS[(seed + 1) % 4])  # a strided upstream gradient too
    y.backward(gt)
    dx, dw, db = np_norm_grad(xref, len(nshape), w, gref, eps_ref, rms)
    assert tuple(xt.grad.shape) == xref.shape
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    if wt is not None:
        assert tuple(wt.grad.shape) == nshape
        close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    if bt is not None:
        assert tuple(bt.grad.shape) == nshape
        close(bt.grad.numpy(), db, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_layer_norm_matches_numpy(n, affine):
    i = ROW_LENGTHS.index(n) * len(AFFINE) + AFFINE.index(affine)
    _check_norm(i, BATCHES[i % len(BATCHES)], (n,), affine, False, (1e-5, 1e-3)[i % 2])


@pytest.mark.parametrize("affine", ["weight", "none"])
@pytest.mark.parametrize("n", ROW_LENGTHS)
def test_rms_norm_matches_numpy(n, affine):
    i = 100 + ROW_LENGTHS.index(n) * 2 + (affine == "none")
    _check_norm(i, BATCHES[i % len(BATCHES)], (n,), affine, True, (None, 1e-4)[i % 2])


@pytest.mark.parametrize("rms", [False, True])
@pytest.mark.parametrize("batch,nshape", [((3,), (4, 5)), ((2,), (1, 17)), ((0,), (3, 11)), ((), (6, 100)),
                                          ((2, 2), (2, 8)), ((1,), (15, 1))])
def test_two_dim_normalized_shape(batch, nshape, rms):
    i = 200 + 7 * len(batch) + nshape[0] + nshape[1] + rms
    for affine in ("both", "none") if not rms else ("weight", "none"):
        _check_norm(i, batch, nshape, affine, rms, None if rms else 1e-5)
        i += 1


def test_one_row_and_constant_rows():
    # a single row, and rows whose values are all equal (variance 0: the output is just the bias)
    rng = np.random.default_rng(20)
    b = rng.normal(size=17)
    x = np.full((3, 17), 2.5)
    y = F.layer_norm(torch.tensor(x), (17,), None, torch.tensor(b))
    close(y.numpy(), np.broadcast_to(b, (3, 17)), atol=1e-9)
    x1 = rng.normal(size=(1, 33))
    close(F.layer_norm(torch.tensor(x1), (33,)).numpy(), np_norm(x1, 1))
    close(F.layer_norm(torch.tensor(x1[0]), (33,)).numpy(), np_norm(x1[0], 1))


def test_broadcast_expanded_inputs():
    # a stride-0 batch dim and a stride-0 normalized dim
    rng = np.random.default_rng(21)
    row = rng.normal(size=(1, 33))
    xt = torch.tensor(row).expand(6, 33).requires_grad_()
    w = rng.normal(size=33)
    y = F.layer_norm(xt, (33,), torch.tensor(w))
    ref = np.broadcast_to(row, (6, 33)).copy()
    close(y.detach().numpy(), np_norm(ref, 1, w))
    g = rng.normal(size=(6, 33))
    y.backward(torch.tensor(g))
    close(xt.grad.numpy(), np_norm_grad(ref, 1, w, g)[0], rtol=1e-9, atol=1e-10)
    col = rng.normal(size=(4, 1, 5))
    xt = torch.tensor(col).expand(4, 3, 5)  # normalized over (3, 5): every row of 3 repeats
    ref = np.broadcast_to(col, (4, 3, 5)).copy()
    close(F.rms_norm(xt, (3, 5)).numpy(), np_norm(ref, 2, eps=np.finfo(np.float64).eps, rms=True))
    close(F.layer_norm(xt, (3, 5)).numpy(), np_norm(ref, 2))


def test_finite_differences():
    rng = np.random.default_rng(22)
    for rms, nshape in ((False, (3, 4)), (True, (5,)), (False, (17,))):
        x = rng.normal(size=(2,) + nshape)
        w = rng.normal(size=nshape)
        b = rng.normal(size=nshape)
        eps = 1e-3
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        if rms:
            y = F.rms_norm(ts[0], nshape, ts[1], eps=eps)
            f = lambda x_, w_, b_: np_norm(x_, len(nshape), w_, None, eps, True)  # noqa: E731
        else:
            y = F.layer_norm(ts[0], nshape, ts[1], ts[2], eps=eps)
            f = lambda x_, w_, b_: np_norm(x_, len(nshape), w_, b_, eps, False)  # noqa: E731
        g = rng.normal(size=x.shape)
        y.backward(torch.tensor(g))
        arrays = [x.copy(), w.copy(), b.copy()]
        for k in range(2 if rms else 3):
            close(ts[k].grad.numpy(), numeric_grad(f, arrays, g, k), rtol=1e-6, atol=1e-8)
        if rms:
            assert ts[2].grad is None
    # group norm, a 3-d input
    x, w, b = rng.normal(size=(2, 4, 3)), rng.normal(size=4), rng.normal(size=4)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.group_norm(ts[0], 2, ts[1], ts[2], eps=1e-3)
    g = rng.normal(size=x.shape)
    y.backward(torch.tensor(g))
    f = lambda x_, w_, b_: np_group_norm(x_, 2, w_, b_, 1e-3)  # noqa: E731
    for k in range(3):
        close(ts[k].grad.numpy(), numeric_grad(f, [x.copy(), w.copy(), b.copy()], g, k), rtol=1e-6, atol=1e-8)


def test_non_contiguous_upstream_gradients():
    rng = np.random.default_rng(23)
    x, w, b = rng.normal(size=(7, 33)), rng.normal(size=33), rng.normal(size=33)
    ones = np.ones((7, 33))
    for kind in ("sum", "transposed", "expanded", "sliced"):
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.layer_norm(ts[0], (33,), ts[1], ts[2])
        if kind == "sum":
            y.sum().backward()  # the upstream gradient is an expanded 0-d one
            g = ones
        elif kind == "transposed":
            g = rng.normal(size=(7, 33))
            gt = torch.tensor(g).t().contiguous().t()
            assert not gt.is_contiguous()
            y.backward(gt)
        elif kind == "expanded":
            grow = rng.normal(size=(1, 33))
            g = np.broadcast_to(grow, (7, 33)).copy()
            y.backward(torch.tensor(grow).expand(7, 33))
        else:
            g = rng.normal(size=(7, 33))
            big = np.zeros((14, 33))
            big[::2] = g
            y.backward(torch.tensor(big)[::2])
        dx, dw, db = np_norm_grad(x, 1, w, g)
        close(ts[0].grad.numpy(), dx, rtol=1e-9, atol=1e-10)
        close(ts[1].grad.numpy(), dw, rtol=1e-9, atol=1e-10)
        close(ts[2].grad.numpy(), db, rtol=1e-9, atol=1e-10)
    # without weight, a sum's gradient through layer_norm is zero (every row sums to a constant)
    xt = torch.tensor(x, requires_grad=True)
    F.layer_norm(xt, (33,)).sum().backward()
    close(xt.grad.numpy(), np.zeros_like(x), atol=1e-10)
    # rms_norm and group_norm under y.sum().backward()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.rms_norm(xt, (33,), wt).sum().backward()
    dx, dw, _ = np_norm_grad(x, 1, w, ones, np.finfo(np.float64).eps, True)
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    x4 = rng.normal(size=(2, 6, 3, 4))
    w6 = rng.normal(size=6)
    xt, wt = torch.tensor(x4, requires_grad=True), torch.tensor(w6, requires_grad=True)
    F.group_norm(xt, 3, wt).sum().backward()
    dx, dw, _ = np_group_norm_grad(x4, 3, w6, np.ones_like(x4))
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)


def test_empty_batch_gives_zero_parameter_gradients():
    for rms in (False, True):
        xt = torch.zeros(0, 17, dtype=torch.float64, requires_grad=True)
        wt = torch.ones(17, dtype=torch.float64, requires_grad=True)
        bt = torch.ones(17, dtype=torch.float64, requires_grad=True)
        y = F.rms_norm(xt, (17,), wt) if rms else F.layer_norm(xt, (17,), wt, bt)
        assert tuple(y.shape) == (0, 17)
        y.backward(torch.zeros(0, 17, dtype=torch.float64))
        assert tuple(xt.grad.shape) == (0, 17)
        np.testing.assert_array_equal(wt.grad.numpy(), np.zeros(17))
        if not rms:
            np.testing.assert_array_equal(bt.grad.numpy(), np.zeros(17))
    xt = torch.zeros(0, 6, 5, dtype=torch.float64, requires_grad=True)
    wt = torch.ones(6, dtype=torch.float64, requires_grad=True)
    bt = torch.ones(6, dtype=torch.float64, requires_grad=True)
    y = F.group_norm(xt, 3, wt, bt)
    assert tuple(y.shape) == (0, 6, 5)
    y.sum().backward()
    np.testing.assert_array_equal(wt.grad.numpy(), np.zeros(6))
    np.testing.assert_array_equal(bt.grad.numpy(), np.zeros(6))


# --------------------------------------------------------------------------- group_norm

GROUP_CASES = [
    ((3, 6), 3),           # 2-d (N, C)
    ((2, 6), 1),           # one group
    ((2, 6), 6),           # groups = C, 2-d: groups of one element
    ((2, 4, 5), 2),        # 3-d (N, C, L)
    ((2, 5, 7), 5),        # groups = C, 3-d
    ((2, 6, 3, 5), 3),     # 4-d
    ((1, 4, 2, 2), 1),     # one sample, one group
    ((0, 4, 3), 2),        # empty batch
    ((2, 8, 17), 4),       # groups of 34
    ((1, 2, 300), 1),      # a group of 600
    ((3, 3, 5, 1), 3),     # groups of 5, a trailing 1
]


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("case", range(len(GROUP_CASES)))
def test_group_norm_matches_numpy(case, affine):
    shape, groups = GROUP_CASES[case]
    seed = 300 + case * 4 + AFFINE.index(affine)
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=rng.normal() * 3, scale=2.0, size=shape)
    xt, xref = make_tensor(x, LAYOUTS[seed % 4])
    xt.requires_grad_()
    wt, w, bt, b = affine_params(rng, (shape[1],), affine, "sliced" if seed % 2 else "contiguous")
    eps = (1e-5, 1e-2)[seed % 2]
    y = F.group_norm(xt, groups, wt, bt, eps)
    assert y.dtype == torch.float64 and tuple(y.shape) == shape
    close(y.detach().numpy(), np_group_norm(xref, groups, w, b, eps))
    g = rng.normal(size=shape)
    gt, gref = make_tensor(g, LAYOUTS[(seed + 2) % 4])
    y.backward(gt)
    dx, dw, db = np_group_norm_grad(xref, groups, w, gref, eps)
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    if wt is not None:
        close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    if bt is not None:
        close(bt.grad.numpy(), db, rtol=1e-9, atol=1e-10)


# --------------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize("affine", AFFINE)
def test_layer_norm_gradcheck_and_gradgradcheck(affine):
    rng = np.random.default_rng(30 + AFFINE.index(affine))
    x = torch.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    w = torch.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = torch.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    args, f = {
        "both": ((x, w, b), lambda x_, w_, b_: F.layer_norm(x_, (3, 4), w_, b_, eps=1e-3)),
        "weight": ((x, w), lambda x_, w_: F.layer_norm(x_, (3, 4), w_, None, eps=1e-3)),
        "bias": ((x, b), lambda x_, b_: F.layer_norm(x_, (3, 4), None, b_, eps=1e-3)),
        "none": ((x,), lambda x_: F.layer_norm(x_, (4,), eps=1e-3)),
    }[affine]
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_gradcheck_and_gradgradcheck(with_weight):
    rng = np.random.default_rng(35 + with_weight)
    x = torch.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    w = torch.tensor(rng.normal(size=5), requires_grad=True)
    if with_weight:
        args, f = (x, w), lambda x_, w_: F.rms_norm(x_, (5,), w_)
    else:
        args, f = (x,), lambda x_: F.rms_norm(x_, (5,), eps=1e-4)
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("affine", AFFINE)
def test_group_norm_gradcheck_and_gradgradcheck(affine):
    rng = np.random.default_rng(40 + AFFINE.index(affine))
    x = torch.tensor(rng.normal(size=(2, 4, 3)), requires_grad=True)
    w = torch.tensor(rng.normal(size=4), requires_grad=True)
    b = torch.tensor(rng.normal(size=4), requires_grad=True)
    args, f = {
        "both": ((x, w, b), lambda x_, w_, b_: F.group_norm(x_, 2, w_, b_, eps=1e-3)),
        "weight": ((x, w), lambda x_, w_: F.group_norm(x_, 2, w_, None, eps=1e-3)),
        "bias": ((x, b), lambda x_, b_: F.group_norm(x_, 4, None, b_, eps=1e-3)),
        "none": ((x,), lambda x_: F.group_norm(x_, 1, eps=1e-3)),
    }[affine]
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


def test_double_backward_matches_numpy():
    # d/dx of sum((d loss / dx) * v): the create_graph path against finite differences of the
    # analytic first derivative
    rng = np.random.default_rng(45)
    x, w, g, v = rng.normal(size=(3, 6)), rng.normal(size=6), rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (dx,) = torch.autograd.grad(F.layer_norm(xt, (6,), wt), xt, torch.tensor(g), create_graph=True)
    close(dx.detach().numpy(), np_norm_grad(x, 1, w, g)[0], rtol=1e-9, atol=1e-10)
    ddx, ddw = torch.autograd.grad((dx * torch.tensor(v)).sum(), (xt, wt))
    f = lambda x_, w_: np_norm_grad(x_, 1, w_, g)[0]  # noqa: E731
    close(ddx.numpy(), numeric_grad(f, [x.copy(), w.copy()], v, 0), rtol=1e-6, atol=1e-7)
    close(ddw.numpy(), numeric_grad(f, [x.copy(), w.copy()], v, 1), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- big launches

def _close32(actual, ref):
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(actual, ref, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("nshape", [(256,), (128, 256)])
def test_large_layer_norm_split_over_threads(nshape):
    rng = np.random.default_rng(50)
    x = rng.normal(loc=0.5, size=(64, 128, 256)).astype(np.float32)
    w = rng.normal(size=nshape).astype(np.float32)
    b = rng.normal(size=nshape).astype(np.float32)
    g = rng.normal(size=x.shape).astype(np.float32)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.layer_norm(ts[0], nshape, ts[1], ts[2])
    assert y.dtype == torch.float32
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _close32(y.detach().numpy(), np_norm(x64, len(nshape), w64, b.astype(np.float64)))
    y.backward(torch.tensor(g))
    dx, dw, db = np_norm_grad(x64, len(nshape), w64, g.astype(np.float64))
    for t, ref in zip(ts, (dx, dw, db)):
        assert t.grad.dtype == torch.float32
        _close32(t.grad.numpy(), ref)


def test_large_rms_norm_split_over_threads():
    rng = np.random.default_rng(51)
    x = rng.normal(size=(64, 128, 256)).astype(np.float32)
    w = rng.normal(size=256).astype(np.float32)
    g = rng.normal(size=x.shape).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = F.rms_norm(xt, (256,), wt)
    eps = float(np.finfo(np.float32).eps)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _close32(y.detach().numpy(), np_norm(x64, 1, w64, eps=eps, rms=True))
    y.backward(torch.tensor(g))
    dx, dw, _ = np_norm_grad(x64, 1, w64, g.astype(np.float64), eps, True)
    _close32(xt.grad.numpy(), dx)
    _close32(wt.grad.numpy(), dw)


def test_large_group_norm_split_over_threads():
    rng = np.random.default_rng(52)
    x = rng.normal(loc=-1.0, size=(16, 32, 32, 32)).astype(np.float32)
    w = rng.normal(size=32).astype(np.float32)
    b = rng.normal(size=32).astype(np.float32)
    g = rng.normal(size=x.shape).astype(np.float32)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.group_norm(ts[0], 8, ts[1], ts[2])
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _close32(y.detach().numpy(), np_group_norm(x64, 8, w64, b.astype(np.float64)))
    y.backward(torch.tensor(g))
    dx, dw, db = np_group_norm_grad(x64, 8, w64, g.astype(np.float64))
    for t, ref in zip(ts, (dx, dw, db)):
        _close32(t.grad.numpy(), ref)


# --------------------------------------------------------------------------- reduced precision

@pytest.mark.parametrize("dt,tol", [("float16", 2e-3), ("bfloat16", 1.6e-2)])
def test_float16_and_bfloat16_compute_in_float32(dt, tol):
    dt = getattr(torch, dt)
    rng = np.random.default_rng(60)
    x = rng.normal(size=(5, 33)).astype(np.float32)
    w = rng.normal(size=33).astype(np.float32)
    b = rng.normal(size=33).astype(np.float32)
    xt = torch.tensor(x).to(dt)
    # weight and bias are cast to the input's dtype: the float32 result to compare with uses
    # the same rounded values
    w_r, b_r = torch.tensor(w).to(dt).float(), torch.tensor(b).to(dt).float()
    for f in (lambda x_, w_, b_: F.layer_norm(x_, (33,), w_, b_),
              lambda x_, w_, b_: F.rms_norm(x_, (33,), w_, eps=1e-6)):
        y = f(xt, torch.tensor(w), torch.tensor(b))
        assert y.dtype == dt and tuple(y.shape) == (5, 33)
        ref = f(xt.float(), w_r, b_r).numpy()
        np.testing.assert_allclose(y.float().numpy(), ref, rtol=tol, atol=tol)
    # the input's dtype is kept with no weight or bias too, and group norm
    y = F.layer_norm(xt, (33,))
    assert y.dtype == dt
    np.testing.assert_allclose(y.float().numpy(), F.layer_norm(xt.float(), (33,)).numpy(), rtol=tol, atol=tol)
    x4 = torch.tensor(rng.normal(size=(2, 4, 3, 5)).astype(np.float32)).to(dt)
    w4 = rng.normal(size=4).astype(np.float32)
    y = F.group_norm(x4, 2, torch.tensor(w4), torch.tensor(w4))
    assert y.dtype == dt
    w4r = torch.tensor(w4).to(dt).float()
    np.testing.assert_allclose(y.float().numpy(), F.group_norm(x4.float(), 2, w4r, w4r).numpy(), rtol=tol, atol=tol)
    # backward: the input's gradient has the input's dtype and is close to the float32 one
    xg = xt.detach().requires_grad_()
    gout = rng.normal(size=(5, 33)).astype(np.float32)
    F.layer_norm(xg, (33,), torch.tensor(w)).backward(torch.tensor(gout).to(dt))
    assert xg.grad.dtype == dt
    x32 = xt.float().requires_grad_()
    F.layer_norm(x32, (33,), w_r).backward(torch.tensor(gout).to(dt).float())
    scale = float(np.abs(x32.grad.numpy()).max())
    np.testing.assert_allclose(xg.grad.float().numpy(), x32.grad.numpy(), rtol=4 * tol, atol=4 * tol * scale)


def test_float32_input_with_float64_weight():
    rng = np.random.default_rng(61)
    x = rng.normal(size=(4, 17)).astype(np.float32)
    w, b = rng.normal(size=17), rng.normal(size=17)
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    assert wt.dtype == torch.float64
    y = F.layer_norm(xt, (17,), wt, bt)
    assert y.dtype == torch.float32
    w32, b32 = w.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y.detach().numpy(), np_norm(x64, 1, w32, b32), rtol=1e-5, atol=1e-5)
    g = rng.normal(size=(4, 17)).astype(np.float32)
    y.backward(torch.tensor(g))
    dx, dw, db = np_norm_grad(x64, 1, w32, g.astype(np.float64))
    assert xt.grad.dtype == torch.float32 and wt.grad.dtype == torch.float64 and bt.grad.dtype == torch.float64
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wt.grad.numpy(), dw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bt.grad.numpy(), db, rtol=1e-4, atol=1e-5)
    y = F.rms_norm(torch.tensor(x), (17,), wt)
    assert y.dtype == torch.float32
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(y.detach().numpy(), np_norm(x64, 1, w32, eps=eps, rms=True), rtol=1e-5, atol=1e-5)
    x4 = rng.normal(size=(2, 4, 5)).astype(np.float32)
    w4 = rng.normal(size=4)
    y = F.group_norm(torch.tensor(x4), 2, torch.tensor(w4), torch.tensor(w4))
    assert y.dtype == torch.float32
    w4r = w4.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(y.numpy(), np_group_norm(x4.astype(np.float64), 2, w4r, w4r), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- errors

def test_argument_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3\]"):
        F.layer_norm(x, (4,))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[2, 3, 1\]"):
        F.layer_norm(x, (2, 3, 1))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(x, (3,), torch.ones(4))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(x, (3,), torch.ones(3, 1))
    with pytest.raises(RuntimeError, match="Expected bias to be of same shape as normalized_shape"):
        F.layer_norm(x, (3,), None, torch.ones(4))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.rms_norm(x, (3,), torch.ones(4))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.layer_norm(x.long(), (3,))
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.group_norm(torch.zeros(2, 4, 3).long(), 2)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups"):
        F.group_norm(torch.zeros(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups"):
        F.group_norm(torch.zeros(2, 4), 8)
    with pytest.raises(RuntimeError, match="Expected num groups to be greater than 0, got -1"):
        F.group_norm(torch.zeros(2, 4, 4), -1)
    with pytest.raises(RuntimeError, match="Expected weight to be a vector of size equal to the number of channels"
                                           " in input"):
        F.group_norm(torch.zeros(2, 4, 4), 2, torch.ones(3))
    with pytest.raises(RuntimeError, match="Expected weight to be a vector of size equal to the number of channels"):
        F.group_norm(torch.zeros(2, 4, 3), 2, torch.ones(2, 2))
    with pytest.raises(RuntimeError, match="Expected at least 2 dimensions for input tensor but received 1"):
        F.group_norm(torch.zeros(4), 2)
    # the core ops check their arguments themselves too (no crash when called directly)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\]"):
        _C._layer_norm(x, [4], None, None, 1e-5, False)
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        _C._layer_norm(x, [3], torch.ones(2), None, 1e-5, True)
    with pytest.raises(RuntimeError, match="Expected num groups to be greater than 0"):
        _C._group_norm(torch.zeros(2, 4, 3), 0, None, None, 1e-5)
    with pytest.raises(RuntimeError):
        _C._group_norm(torch.zeros(4), 2, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        _C._group_norm(torch.zeros(2, 4, 3), 3, None, None, 1e-5)
    with pytest.raises(TypeError):
        _C._layer_norm(x, [3], "w", None, 1e-5, False)
    # the process is still fine
    close(F.layer_norm(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64), (3,)).numpy(),
          np_norm(np.array([[1.0, 2.0, 3.0]]), 1))


def test_group_norm_bias_error_names_the_bias():
    # torch: "Expected bias to be a vector of size equal to the number of channels in input, but
    # got bias of shape [3] and input of shape [2, 4, 4]"
    with pytest.raises(RuntimeError, match="Expected bias to be a vector of size equal to the number of channels"):
        F.group_norm(torch.zeros(2, 4, 4), 2, None, torch.ones(3))


def test_rms_norm_integer_input_error():
    # torch: NotImplementedError (a RuntimeError) '"rms_norm" not implemented for 'Long''
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.rms_norm(torch.zeros(2, 3).long(), (3,))


# --------------------------------------------------------------------------- modules

def _set(p, a):
    with torch.no_grad():
        p.copy_(torch.tensor(a))


def test_modules_match_the_functional_forms():
    rng = np.random.default_rng(70)
    x = rng.normal(size=(3, 4, 5))
    xt = torch.tensor(x)
    m = torch.nn.LayerNorm((4, 5), eps=1e-4).double()
    w, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    _set(m.weight, w)
    _set(m.bias, b)
    y = m(xt)
    np.testing.assert_array_equal(y.detach().numpy(), F.layer_norm(xt, (4, 5), m.weight, m.bias, 1e-4).detach().numpy())
    close(y.detach().numpy(), np_norm(x, 2, w, b, 1e-4))
    g = rng.normal(size=x.shape)
    y.backward(torch.tensor(g))
    _, dw, db = np_norm_grad(x, 2, w, g, 1e-4)
    close(m.weight.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    close(m.bias.grad.numpy(), db, rtol=1e-9, atol=1e-10)
    m = torch.nn.LayerNorm(5, elementwise_affine=False).double()
    np.testing.assert_array_equal(m(xt).numpy(), F.layer_norm(xt, (5,)).numpy())
    m = torch.nn.LayerNorm(5, bias=False).double()
    assert m.bias is None
    _set(m.weight, w[0])
    np.testing.assert_array_equal(m(xt).detach().numpy(), F.layer_norm(xt, (5,), m.weight).detach().numpy())
    close(m(xt).detach().numpy(), np_norm(x, 1, w[0]))

    for eps in (None, 1e-3):
        m = torch.nn.RMSNorm(5, eps=eps).double()
        _set(m.weight, w[1])
        y = m(xt)
        np.testing.assert_array_equal(y.detach().numpy(), F.rms_norm(xt, (5,), m.weight, eps).detach().numpy())
        close(y.detach().numpy(), np_norm(x, 1, w[1], eps=np.finfo(np.float64).eps if eps is None else eps, rms=True))
    m = torch.nn.RMSNorm((4, 5), elementwise_affine=False)
    x32 = torch.tensor(x.astype(np.float32))
    np.testing.assert_array_equal(m(x32).numpy(), F.rms_norm(x32, (4, 5)).numpy())

    x4 = rng.normal(size=(2, 6, 3, 2))
    x4t = torch.tensor(x4)
    m = torch.nn.GroupNorm(3, 6).double()
    w6, b6 = rng.normal(size=6), rng.normal(size=6)
    _set(m.weight, w6)
    _set(m.bias, b6)
    y = m(x4t)
    np.testing.assert_array_equal(y.detach().numpy(), F.group_norm(x4t, 3, m.weight, m.bias).detach().numpy())
    close(y.detach().numpy(), np_group_norm(x4, 3, w6, b6))
    g = rng.normal(size=x4.shape)
    y.backward(torch.tensor(g))
    _, dw, db = np_group_norm_grad(x4, 3, w6, g)
    close(m.weight.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    close(m.bias.grad.numpy(), db, rtol=1e-9, atol=1e-10)
    m = torch.nn.GroupNorm(2, 6, eps=1e-3, affine=False).double()
    np.testing.assert_array_equal(m(x4t).numpy(), F.group_norm(x4t, 2, eps=1e-3).numpy())
    close(m(x4t).numpy(), np_group_norm(x4, 2, eps=1e-3))


# --------------------------------------------------------------------------- GPU

def _gpu_close(b, a):
    scale = max(1.0, float(np.abs(a).max())) if a.size else 1.0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * scale)


def _run_on(dev, fn, arrays, gout, layout="contiguous"):
    """fn(*tensors) on dev, backward with gout; the output and every gradient, on the CPU."""
    ts = []
    for k, a in enumerate(arrays):
        if a is None:
            ts.append(None)
        elif k == 0:
            ts.append(make_tensor(a, layout, device=dev)[0].detach().requires_grad_())
        else:
            ts.append(torch.tensor(a).to(dev).requires_grad_())
    out = fn(*ts)
    assert out.device.type == torch.device(dev).type and out.dtype == torch.float32
    out.backward(torch.tensor(gout).to(dev))
    return [out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts if t is not None]


def test_gpu_layer_norm_and_rms_norm_match_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(80)
    cases = [(3, (1,)), (4, (33,)), (2, (300,)), (5, (1000,)), (300, (33,)), (0, (33,)), (3, (10, 30)), (1, (17,))]
    for i, (rows, nshape) in enumerate(cases):
        x = rng.normal(loc=1.0, size=(rows,) + nshape).astype(np.float32)
        w = rng.normal(size=nshape).astype(np.float32)
        b = rng.normal(size=nshape).astype(np.float32)
        g = rng.normal(size=x.shape).astype(np.float32)
        layout = ("contiguous", "transposed", "sliced")[i % 3] if rows > 1 else "contiguous"
        for affine in ("both", "none", "weight"):
            ww = w if affine != "none" else None
            bb = b if affine == "both" else None
            ln = lambda x_, w_=None, b_=None: F.layer_norm(x_, nshape, w_, b_)  # noqa: E731
            res = [_run_on(dev, ln, [x, ww, bb], g, layout) for dev in ("cpu", gpu)]
            for a, bgpu in zip(*res):
                _gpu_close(bgpu, a)
            if affine != "both":
                rn = lambda x_, w_=None: F.rms_norm(x_, nshape, w_)  # noqa: E731
                res = [_run_on(dev, rn, [x, ww], g, layout) for dev in ("cpu", gpu)]
                for a, bgpu in zip(*res):
                    _gpu_close(bgpu, a)


def test_gpu_group_norm_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(81)
    cases = [((2, 4, 1), 4), ((2, 6, 11), 2), ((2, 6, 100), 2), ((1, 4, 2, 250), 2), ((0, 4, 3), 2),
             ((20, 32, 5), 16), ((3, 6), 3)]
    for i, (shape, groups) in enumerate(cases):
        x = rng.normal(loc=-0.5, size=shape).astype(np.float32)
        w = rng.normal(size=shape[1]).astype(np.float32)
        b = rng.normal(size=shape[1]).astype(np.float32)
        g = rng.normal(size=shape).astype(np.float32)
        layout = ("contiguous", "transposed")[i % 2]
        for ww, bb in ((w, b), (None, None), (w, None)):
            gn = lambda x_, w_=None, b_=None: F.group_norm(x_, groups, w_, b_)  # noqa: E731
            res = [_run_on(dev, gn, [x, ww, bb], g, layout) for dev in ("cpu", gpu)]
            for a, bgpu in zip(*res):
                _gpu_close(bgpu, a)


def test_gpu_double_backward(gpu):  # noqa: F811
    rng = np.random.default_rng(82)
    x0 = rng.normal(size=(3, 6)).astype(np.float32)
    w0 = rng.normal(size=6).astype(np.float32)
    x4 = rng.normal(size=(2, 4, 3)).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        x = torch.tensor(x0).to(dev).requires_grad_()
        w = torch.tensor(w0).to(dev).requires_grad_()
        (dx,) = torch.autograd.grad((F.layer_norm(x, (6,), w) ** 2).sum(), x, create_graph=True)
        (ddw,) = torch.autograd.grad((dx ** 2).sum(), w)
        xg = torch.tensor(x4).to(dev).requires_grad_()
        (dxg,) = torch.autograd.grad((F.group_norm(xg, 2) ** 3).sum(), xg, create_graph=True)
        (ddxg,) = torch.autograd.grad(dxg.sum(), xg)
        res.append([ddw.cpu().numpy(), ddxg.cpu().numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(a).max())))


# --------------------------------------------------------------------------- against real torch

def test_against_torch():
    th = pytest.importorskip("torch")
    rng = np.random.default_rng(90)
    x = rng.normal(size=(3, 4, 17))
    w, b = rng.normal(size=(4, 17)), rng.normal(size=(4, 17))
    g = rng.normal(size=x.shape)
    x4 = rng.normal(size=(2, 6, 3, 5))
    w6, b6 = rng.normal(size=6), rng.normal(size=6)
    g4 = rng.normal(size=x4.shape)
    cases = [
        (lambda m, x_, w_, b_: m.nn.functional.layer_norm(x_, (4, 17), w_, b_, 1e-4), (x, w, b), g),
        (lambda m, x_, w_, b_: m.nn.functional.layer_norm(x_, (17,), None, b_[0]), (x, w, b), g),
        (lambda m, x_, w_, b_: m.nn.functional.rms_norm(x_, (17,), w_[1]) + b_.sum() * 0, (x, w, b), g),
        (lambda m, x_, w_, b_: m.nn.functional.rms_norm(x_, (4, 17), w_, 1e-3) + b_.sum() * 0, (x, w, b), g),
        (lambda m, x_, w_, b_: m.nn.functional.group_norm(x_, 3, w_, b_), (x4, w6, b6), g4),
        (lambda m, x_, w_, b_: m.nn.functional.group_norm(x_, 6, w_, None, 1e-3) + b_.sum() * 0, (x4, w6, b6), g4),
    ]
    for f, arrays, gout in cases:
        outs = []
        for m in (th, torch):
            ts = [m.tensor(a, requires_grad=True) for a in arrays]
            y = f(m, *ts)
            y.backward(m.tensor(gout))
            outs.append([y.detach().numpy()] + [None if t.grad is None else t.grad.numpy() for t in ts])
        for a, r in zip(*outs):
            assert (a is None) == (r is None)
            if a is not None:
                np.testing.assert_allclose(r, a, rtol=1e-10, atol=1e-11)


# --------------------------------------------------------------------------- batch_norm / instance_norm

def _red(x):
    """The dims batch norm reduces over: all but the channel dim 1."""
    return (0,) + tuple(range(2, x.ndim))


def np_batch_norm(x, w=None, b=None, eps=1e-5, mean=None, var=None):
    """batch_norm in float64: with the batch's statistics (biased variance) when mean/var are
    None (training), with the given running statistics otherwise (eval)."""
    if mean is None:
        mean, var = x.mean(_red(x)), x.var(_red(x))
    cs = _cshape(x)
    y = (x - mean.reshape(cs)) / np.sqrt(var.reshape(cs) + eps)
    if w is not None:
        y = y * w.reshape(cs)
    if b is not None:
        y = y + b.reshape(cs)
    return y


def np_batch_norm_grad(x, w, g, eps=1e-5, mean=None, var=None):
    """(d input, d weight, d bias) of sum(np_batch_norm(x, w, b, eps, mean, var) * g)."""
    red, cs = _red(x), _cshape(x)
    training = mean is None
    if training:
        mean, var = x.mean(red), x.var(red)
    rstd = (1.0 / np.sqrt(var + eps)).reshape(cs)
    xhat = (x - mean.reshape(cs)) * rstd
    gh = g * (w.reshape(cs) if w is not None else 1.0)
    if training:
        dx = rstd * (gh - gh.mean(red, keepdims=True) - xhat * (gh * xhat).mean(red, keepdims=True))
    else:
        dx = gh * rstd  # the statistics are constants
    return dx, (g * xhat).sum(red), g.sum(red)


def np_running_update(rm, rv, x, momentum):
    """torch's running-stat update: the batch mean, and the unbiased batch variance."""
    red = _red(x)
    return (1 - momentum) * rm + momentum * x.mean(red), (1 - momentum) * rv + momentum * x.var(red, ddof=1)


BN_LAYOUTS = ("contiguous", "transposed", "sliced", "permuted")


def bn_tensor(a, layout):
    """make_tensor, plus "permuted": a channels-last buffer seen as (N, C, ...) (for 2-d
    inputs: transposed)."""
    if layout != "permuted":
        return make_tensor(a, layout)
    if a.ndim == 2:
        return make_tensor(a, "transposed")
    base = torch.tensor(np.ascontiguousarray(np.moveaxis(a, 1, -1)))
    t = base.permute(0, a.ndim - 1, *range(1, a.ndim - 1))
    assert tuple(t.shape) == a.shape
    assert not t.is_contiguous() or a.shape[1] == 1 or math.prod(a.shape[2:]) == 1
    return t, a.copy()


BN_SHAPES = [
    (8, 5),            # BatchNorm1d on features
    (5, 33),           # (N, C), more channels than 16 lanes
    (3, 5, 7),         # (N, C, L)
    (2, 1, 17),        # one channel
    (3, 5, 7, 9),      # odd sizes
    (4, 3, 1, 1),      # H*W = 1
    (2, 16, 3, 3),
    (2, 3, 4, 5, 6),   # (N, C, D, H, W)
    (3, 2, 5, 1, 4),
]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("case", range(len(BN_SHAPES)))
def test_batch_norm_matches_numpy(case, affine, training):
    shape = BN_SHAPES[case]
    seed = 1000 + case * 8 + AFFINE.index(affine) * 2 + training
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(loc=rng.normal(size=c).reshape((1, c) + (1,) * (len(shape) - 2)) * 3, scale=2.0, size=shape)
    xt, xref = bn_tensor(x, BN_LAYOUTS[seed % 4])
    xt.requires_grad_()
    wt, w, bt, b = affine_params(rng, (c,), affine, "sliced" if seed % 3 == 0 else "contiguous")
    eps = (1e-5, 1e-3)[(case + training) % 2]
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    rmt, rvt = torch.tensor(rm0), torch.tensor(rv0)
    y = F.batch_norm(xt, rmt, rvt, wt, bt, training=training, momentum=0.1, eps=eps)
    assert y.dtype == torch.float64 and tuple(y.shape) == shape
    if training:
        ref = np_batch_norm(xref, w, b, eps)
        rm, rv = np_running_update(rm0, rv0, xref, 0.1)
    else:
        ref = np_batch_norm(xref, w, b, eps, rm0, rv0)
        rm, rv = rm0, rv0
    close(y.detach().numpy(), ref)
    close(rmt.numpy(), rm)
    close(rvt.numpy(), rv)
    g = rng.normal(size=shape)
    gt, gref = make_tensor(g, LAYOUTS[(seed + 1) % 4])  # a strided upstream gradient too
    y.backward(gt)
    dx, dw, db = np_batch_norm_grad(xref, w, gref, eps, *((None, None) if training else (rm0, rv0)))
    assert tuple(xt.grad.shape) == shape
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    if wt is not None:
        assert tuple(wt.grad.shape) == (c,)
        close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    if bt is not None:
        close(bt.grad.numpy(), db, rtol=1e-9, atol=1e-10)
    # the running stats take no gradient
    assert rmt.grad is None and rvt.grad is None


def test_batch_norm_training_without_running_stats_and_upstream_layouts():
    rng = np.random.default_rng(1100)
    x = rng.normal(loc=2.0, size=(6, 4, 5))
    w, b = rng.normal(size=4), rng.normal(size=4)
    for kind in ("sum", "transposed", "expanded", "sliced", "permuted"):
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
        close(y.detach().numpy(), np_batch_norm(x, w, b))
        if kind == "sum":
            y.sum().backward()
            g = np.ones_like(x)
        elif kind == "permuted":
            g = rng.normal(size=x.shape)
            gt, g = bn_tensor(g, "permuted")
            y.backward(gt)
        else:
            gt, g = make_tensor(rng.normal(size=x.shape), kind)
            assert not gt.is_contiguous()
            y.backward(gt)
        dx, dw, db = np_batch_norm_grad(x, w, g)
        close(ts[0].grad.numpy(), dx, rtol=1e-9, atol=1e-10)
        close(ts[1].grad.numpy(), dw, rtol=1e-9, atol=1e-10)
        close(ts[2].grad.numpy(), db, rtol=1e-9, atol=1e-10)
    # without weight the gradient of a sum is zero: every channel's output sums to a constant
    xt = torch.tensor(x, requires_grad=True)
    F.batch_norm(xt, None, None, training=True).sum().backward()
    close(xt.grad.numpy(), np.zeros_like(x), atol=1e-10)
    # a (N, C) input that is a column slice of a wider one
    big = rng.normal(size=(7, 12))
    xt = torch.tensor(big)[:, 2:9]
    assert not xt.is_contiguous()
    close(F.batch_norm(xt, None, None, training=True).numpy(), np_batch_norm(big[:, 2:9]))


# --------------------------------------------------------------------------- running statistics

@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_running_stats_over_several_steps(momentum):
    rng = np.random.default_rng(1110 + int(momentum * 10))
    c = 3
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    rm32t, rv32t = torch.tensor(rm.astype(np.float32)), torch.tensor(rv.astype(np.float32))
    rm32, rv32 = rm.astype(np.float32).astype(np.float64), rv.astype(np.float32).astype(np.float64)
    w, b = rng.normal(size=c), rng.normal(size=c)
    for shape in ((4, c, 5), (2, c, 3), (7, c, 1), (2, c, 2), (5, c, 6)):  # counts 20, 6, 7, 4, 30
        x = rng.normal(loc=rng.normal() * 4, scale=rng.uniform(0.5, 3.0), size=shape)
        y = F.batch_norm(torch.tensor(x), rmt, rvt, torch.tensor(w), torch.tensor(b), True, momentum)
        close(y.numpy(), np_batch_norm(x, w, b))  # the output uses the batch's statistics only
        rm, rv = np_running_update(rm, rv, x, momentum)
        close(rmt.numpy(), rm)
        close(rvt.numpy(), rv)
        x32 = x.astype(np.float32)
        F.batch_norm(torch.tensor(x32), rm32t, rv32t, None, None, True, momentum)
        assert rm32t.dtype == torch.float32 and rv32t.dtype == torch.float32
        rm32, rv32 = np_running_update(rm32, rv32, x32.astype(np.float64), momentum)
        np.testing.assert_allclose(rm32t.numpy(), rm32, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv32t.numpy(), rv32, rtol=1e-5, atol=1e-6)
    # eval mode leaves them as they are and normalises with them
    x = rng.normal(size=(4, c, 3))
    y = F.batch_norm(torch.tensor(x), rmt, rvt, torch.tensor(w), torch.tensor(b), False, momentum)
    close(y.numpy(), np_batch_norm(x, w, b, 1e-5, rm, rv))
    close(rmt.numpy(), rm)
    close(rvt.numpy(), rv)


def test_batch_norm_running_var_of_a_near_constant_channel():
    # torch computes the batch variance itself (in double on the CPU): a float32 channel with
    # a variance far below eps, and a constant channel, keep a precise (and non-negative)
    # running_var
    rng = np.random.default_rng(1115)
    x = rng.normal(size=(8, 3, 5)).astype(np.float32)
    x[:, 1] = (1.0 + 1e-4 * rng.normal(size=(8, 5))).astype(np.float32)  # variance ~1e-8
    x[:, 2] = 0.5  # variance 0
    rm, rv = torch.zeros(3), torch.ones(3)
    F.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=1.0)
    ref = x.astype(np.float64).var(_red(x), ddof=1)
    got = rv.numpy().astype(np.float64)
    assert got[2] >= 0.0
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-14)


def test_batch_norm_module_running_stats_and_eval():
    rng = np.random.default_rng(1120)
    m = torch.nn.BatchNorm2d(3, eps=1e-4, momentum=0.1).double()
    w, b = rng.normal(size=3), rng.normal(size=3)
    _set(m.weight, w)
    _set(m.bias, b)
    rm, rv = np.zeros(3), np.ones(3)
    assert int(m.num_batches_tracked) == 0
    for step in range(4):
        x = rng.normal(loc=step - 1.0, scale=1.0 + step, size=(3, 3, 4, 5))
        xt = torch.tensor(x, requires_grad=True)
        y = m(xt)
        close(y.detach().numpy(), np_batch_norm(x, w, b, 1e-4))
        g = rng.normal(size=x.shape)
        y.backward(torch.tensor(g))
        dx, dw, db = np_batch_norm_grad(x, w, g, 1e-4)
        close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
        close(m.weight.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
        close(m.bias.grad.numpy(), db, rtol=1e-9, atol=1e-10)
        m.zero_grad()
        rm, rv = np_running_update(rm, rv, x, 0.1)
        assert int(m.num_batches_tracked) == step + 1
        close(m.running_mean.numpy(), rm)
        close(m.running_var.numpy(), rv)
    m.eval()
    x = rng.normal(size=(2, 3, 4, 5))
    xt = torch.tensor(x, requires_grad=True)
    y = m(xt)
    close(y.detach().numpy(), np_batch_norm(x, w, b, 1e-4, rm, rv))
    g = rng.normal(size=x.shape)
    y.backward(torch.tensor(g))
    dx, dw, db = np_batch_norm_grad(x, w, g, 1e-4, rm, rv)
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
    close(m.weight.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
    close(m.bias.grad.numpy(), db, rtol=1e-9, atol=1e-10)
    assert int(m.num_batches_tracked) == 4
    close(m.running_mean.numpy(), rm)
    close(m.running_var.numpy(), rv)
    # an eval-mode batch of one sample is fine
    x1 = rng.normal(size=(1, 3, 1, 1))
    close(m(torch.tensor(x1)).detach().numpy(), np_batch_norm(x1, w, b, 1e-4, rm, rv))


def test_batch_norm_module_cumulative_average_and_no_tracking():
    rng = np.random.default_rng(1125)
    m = torch.nn.BatchNorm2d(4, momentum=None, affine=False).double()
    xs = [rng.normal(loc=k, scale=1.0 + k, size=(2 + k, 4, 3, 2)) for k in range(4)]
    for k, x in enumerate(xs):
        close(m(torch.tensor(x)).numpy(), np_batch_norm(x))
        assert int(m.num_batches_tracked) == k + 1
        # momentum=None: the plain average of the batches' statistics so far
        close(m.running_mean.numpy(), np.mean([a.mean(_red(a)) for a in xs[:k + 1]], 0))
        close(m.running_var.numpy(), np.mean([a.var(_red(a), ddof=1) for a in xs[:k + 1]], 0))
    m.eval()
    x = rng.normal(size=(2, 4, 3, 2))
    rm = np.mean([a.mean(_red(a)) for a in xs], 0)
    rv = np.mean([a.var(_red(a), ddof=1) for a in xs], 0)
    close(m(torch.tensor(x)).numpy(), np_batch_norm(x, None, None, 1e-5, rm, rv))
    # track_running_stats=False: batch statistics in eval mode too, and no buffers
    m = torch.nn.BatchNorm1d(4, track_running_stats=False).double()
    assert m.running_mean is None and m.running_var is None and m.num_batches_tracked is None
    m.eval()
    x = rng.normal(size=(5, 4))
    close(m(torch.tensor(x)).detach().numpy(), np_batch_norm(x))
    # BatchNorm1d on (N, C, L) and BatchNorm3d
    for mod, shape in ((torch.nn.BatchNorm1d(4), (3, 4, 7)), (torch.nn.BatchNorm3d(4), (2, 4, 3, 2, 3))):
        mod = mod.double()
        x = rng.normal(loc=1.0, size=shape)
        close(mod(torch.tensor(x)).detach().numpy(), np_batch_norm(x))
        rm, rv = np_running_update(np.zeros(4), np.ones(4), x, 0.1)
        close(mod.running_mean.numpy(), rm)
        close(mod.running_var.numpy(), rv)
        mod.eval()
        close(mod(torch.tensor(x)).detach().numpy(), np_batch_norm(x, None, None, 1e-5, rm, rv))


# --------------------------------------------------------------------------- batch_norm gradcheck

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", AFFINE)
def test_batch_norm_gradcheck_and_gradgradcheck(affine, training):
    rng = np.random.default_rng(1130 + AFFINE.index(affine) * 2 + training)
    x = torch.tensor(rng.normal(size=(3, 2, 4)), requires_grad=True)
    w = torch.tensor(rng.normal(size=2), requires_grad=True)
    b = torch.tensor(rng.normal(size=2), requires_grad=True)
    rm, rv = (None, None) if training else (torch.tensor(rng.normal(size=2)), torch.tensor(rng.uniform(0.5, 2, 2)))
    args, f = {
        "both": ((x, w, b), lambda x_, w_, b_: F.batch_norm(x_, rm, rv, w_, b_, training, 0.1, 1e-3)),
        "weight": ((x, w), lambda x_, w_: F.batch_norm(x_, rm, rv, w_, None, training, 0.1, 1e-3)),
        "bias": ((x, b), lambda x_, b_: F.batch_norm(x_, rm, rv, None, b_, training, 0.1, 1e-3)),
        "none": ((x,), lambda x_: F.batch_norm(x_, rm, rv, None, None, training, 0.1, 1e-3)),
    }[affine]
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_2d_and_4d_gradgradcheck(training):
    rng = np.random.default_rng(1140 + training)
    for shape in ((4, 3), (2, 2, 2, 3)):
        c = shape[1]
        x = torch.tensor(rng.normal(size=shape), requires_grad=True)
        w = torch.tensor(rng.normal(size=c), requires_grad=True)
        b = torch.tensor(rng.normal(size=c), requires_grad=True)
        rm, rv = (None, None) if training else (torch.tensor(rng.normal(size=c)), torch.tensor(rng.uniform(0.5, 2, c)))
        f = lambda x_, w_, b_: F.batch_norm(x_, rm, rv, w_, b_, training, 0.1, 1e-4)  # noqa: E731
        assert torch.autograd.gradcheck(f, (x, w, b))
        assert torch.autograd.gradgradcheck(f, (x, w, b))


def test_instance_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(1145)
    x = torch.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    w = torch.tensor(rng.normal(size=3), requires_grad=True)
    b = torch.tensor(rng.normal(size=3), requires_grad=True)
    rm, rv = torch.tensor(rng.normal(size=3)), torch.tensor(rng.uniform(0.5, 2, 3))
    for f in (lambda x_, w_, b_: F.instance_norm(x_, None, None, w_, b_, eps=1e-3),
              lambda x_, w_, b_: F.instance_norm(x_, rm, rv, w_, b_, use_input_stats=False)):
        assert torch.autograd.gradcheck(f, (x, w, b))
        assert torch.autograd.gradgradcheck(f, (x, w, b))
    assert torch.autograd.gradgradcheck(lambda x_: F.instance_norm(x_), (x,))


# --------------------------------------------------------------------------- batch_norm big launches

@pytest.mark.parametrize("shape", [(32, 16, 32, 32), (256, 64)])
def test_large_batch_norm_split_over_threads(shape):
    rng = np.random.default_rng(1150)
    c = shape[1]
    x = rng.normal(loc=rng.normal(size=c).reshape(_cshape(np.empty(shape))) * 2, size=shape).astype(np.float32)
    w = rng.normal(size=c).astype(np.float32)
    b = rng.normal(size=c).astype(np.float32)
    g = rng.normal(size=shape).astype(np.float32)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    rm, rv = torch.zeros(c), torch.ones(c)
    y = F.batch_norm(ts[0], rm, rv, ts[1], ts[2], training=True)
    assert y.dtype == torch.float32
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    _close32(y.detach().numpy(), np_batch_norm(x64, w64, b.astype(np.float64)))
    rm_ref, rv_ref = np_running_update(np.zeros(c), np.ones(c), x64, 0.1)
    _close32(rm.numpy(), rm_ref)
    _close32(rv.numpy(), rv_ref)
    y.backward(torch.tensor(g))
    dx, dw, db = np_batch_norm_grad(x64, w64, g.astype(np.float64))
    for t, ref in zip(ts, (dx, dw, db)):
        assert t.grad.dtype == torch.float32
        _close32(t.grad.numpy(), ref)
    # eval mode over the same launch
    xe = torch.tensor(x, requires_grad=True)
    y = F.batch_norm(xe, rm, rv, ts[1].detach(), ts[2].detach())
    _close32(y.detach().numpy(), np_batch_norm(x64, w64, b.astype(np.float64), 1e-5, rm_ref, rv_ref))
    y.backward(torch.tensor(g))
    _close32(xe.grad.numpy(), np_batch_norm_grad(x64, w64, g.astype(np.float64), 1e-5, rm_ref, rv_ref)[0])


# --------------------------------------------------------------------------- batch_norm reduced precision

@pytest.mark.parametrize("dt,tol", [("float16", 2e-3), ("bfloat16", 1.6e-2)])
def test_batch_norm_float16_and_bfloat16(dt, tol):
    dt = getattr(torch, dt)
    rng = np.random.default_rng(1160)
    x = rng.normal(loc=0.5, size=(6, 4, 5)).astype(np.float32)
    w = rng.normal(size=4).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    xt = torch.tensor(x).to(dt)
    x32 = xt.float()  # the same (rounded) values in float32
    for training in (True, False):
        rm, rv = torch.tensor(rng.normal(size=4).astype(np.float32)), torch.ones(4) * 2.0
        rm32, rv32 = rm.clone(), rv.clone()
        xg, xg32 = xt.detach().requires_grad_(), x32.detach().requires_grad_()
        wt, w32 = torch.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        y = F.batch_norm(xg, rm, rv, wt, torch.tensor(b), training)
        ref = F.batch_norm(xg32, rm32, rv32, w32, torch.tensor(b), training)
        assert y.dtype == dt and tuple(y.shape) == (6, 4, 5)
        np.testing.assert_allclose(y.detach().float().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)
        # the running stats stay float32, updated from the float32 statistics
        assert rm.dtype == torch.float32 and rv.dtype == torch.float32
        np.testing.assert_allclose(rm.numpy(), rm32.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rv.numpy(), rv32.numpy(), rtol=1e-5, atol=1e-6)
        gout = torch.tensor(rng.normal(size=(6, 4, 5)).astype(np.float32)).to(dt)
        y.backward(gout)
        ref.backward(gout.float())
        assert xg.grad.dtype == dt and wt.grad.dtype == torch.float32
        scale = float(np.abs(xg32.grad.numpy()).max())
        np.testing.assert_allclose(xg.grad.float().numpy(), xg32.grad.numpy(), rtol=4 * tol, atol=4 * tol * scale)
        scale = float(np.abs(w32.grad.numpy()).max())
        np.testing.assert_allclose(wt.grad.numpy(), w32.grad.numpy(), rtol=4 * tol, atol=4 * tol * scale)
    # the module (float32 parameters and buffers) on a reduced-precision input
    m = torch.nn.BatchNorm1d(4)
    y = m(xt)
    assert y.dtype == dt and m.running_mean.dtype == torch.float32 and m.running_var.dtype == torch.float32
    np.testing.assert_allclose(y.detach().float().numpy(), np_batch_norm(x32.numpy().astype(np.float64)),
                               rtol=tol, atol=tol)
    rm_ref, rv_ref = np_running_update(np.zeros(4), np.ones(4), x32.numpy().astype(np.float64), 0.1)
    np.testing.assert_allclose(m.running_mean.numpy(), rm_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.running_var.numpy(), rv_ref, rtol=1e-5, atol=1e-6)
    # the core op returns the statistics in float32
    out, mean, invstd = _C._batch_norm(xt, None, None, None, None, 1e-5)
    assert out.dtype == dt and mean.dtype == torch.float32 and invstd.dtype == torch.float32
    np.testing.assert_allclose(mean.numpy(), x32.numpy().astype(np.float64).mean((0, 2)), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- instance_norm

IN_SHAPES = [(2, 3, 5), (3, 4, 2, 3), (1, 2, 17), (2, 5, 3, 1), (2, 3, 2, 2, 3)]


@pytest.mark.parametrize("affine", AFFINE)
@pytest.mark.parametrize("case", range(len(IN_SHAPES)))
def test_instance_norm_matches_numpy(case, affine):
    shape = IN_SHAPES[case]
    seed = 1200 + case * 4 + AFFINE.index(affine)
    rng = np.random.default_rng(seed)
    n, c = shape[:2]
    x = rng.normal(loc=rng.normal() * 3, scale=2.0, size=shape)
    xt, xref = bn_tensor(x, BN_LAYOUTS[seed % 4])
    xt.requires_grad_()
    wt, w, bt, b = affine_params(rng, (c,), affine)
    eps = (1e-5, 1e-3)[seed % 2]
    rm0, rv0 = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    dims = tuple(range(2, len(shape)))
    m = np.prod(shape[2:])
    for stats in (False, True):
        rmt, rvt = (torch.tensor(rm0), torch.tensor(rv0)) if stats else (None, None)
        y = F.instance_norm(xt, rmt, rvt, wt, bt, use_input_stats=True, momentum=0.3, eps=eps)
        assert y.dtype == torch.float64 and tuple(y.shape) == shape
        close(y.detach().numpy(), np_group_norm(xref, c, w, b, eps))  # a group per channel
        if stats:
            # the running stats average the instances' statistics over the batch
            close(rmt.numpy(), 0.7 * rm0 + 0.3 * xref.mean(dims).mean(0))
            close(rvt.numpy(), 0.7 * rv0 + 0.3 * xref.var(dims).mean(0) * m / (m - 1))
        g = rng.normal(size=shape)
        gt, gref = make_tensor(g, LAYOUTS[(seed + stats) % 4])
        xt.grad = None
        for t in (wt, bt):
            if t is not None:
                t.grad = None
        y.backward(gt)
        dx, dw, db = np_group_norm_grad(xref, c, w, gref, eps)
        close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
        if wt is not None:
            close(wt.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
        if bt is not None:
            close(bt.grad.numpy(), db, rtol=1e-9, atol=1e-10)
    # use_input_stats=False: every instance normalised with the running stats
    rmt, rvt = torch.tensor(rm0), torch.tensor(rv0)
    xt.grad = None
    y = F.instance_norm(xt, rmt, rvt, wt, bt, use_input_stats=False, eps=eps)
    close(y.detach().numpy(), np_batch_norm(xref, w, b, eps, rm0, rv0))
    close(rmt.numpy(), rm0)
    close(rvt.numpy(), rv0)
    g = rng.normal(size=shape)
    y.backward(torch.tensor(g))
    close(xt.grad.numpy(), np_batch_norm_grad(xref, w, g, eps, rm0, rv0)[0], rtol=1e-9, atol=1e-10)


def test_instance_norm_module_train_then_eval():
    rng = np.random.default_rng(1220)
    m = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()
    w, b = rng.normal(size=3), rng.normal(size=3)
    _set(m.weight, w)
    _set(m.bias, b)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = rng.normal(loc=step, scale=1.0 + step, size=(2 + step, 3, 4, 3))
        xt = torch.tensor(x, requires_grad=True)
        y = m(xt)
        close(y.detach().numpy(), np_group_norm(x, 3, w, b))
        g = rng.normal(size=x.shape)
        y.backward(torch.tensor(g))
        dx, dw, db = np_group_norm_grad(x, 3, w, g)
        close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-10)
        close(m.weight.grad.numpy(), dw, rtol=1e-9, atol=1e-10)
        close(m.bias.grad.numpy(), db, rtol=1e-9, atol=1e-10)
        m.zero_grad()
        rm = 0.9 * rm + 0.1 * x.mean((2, 3)).mean(0)
        rv = 0.9 * rv + 0.1 * x.var((2, 3), ddof=1).mean(0)
        close(m.running_mean.numpy(), rm)
        close(m.running_var.numpy(), rv)
    m.eval()
    x = rng.normal(size=(2, 3, 4, 3))
    close(m(torch.tensor(x)).detach().numpy(), np_batch_norm(x, w, b, 1e-5, rm, rv))
    # unbatched (C, H, W)
    close(m(torch.tensor(x[1])).detach().numpy(), np_batch_norm(x[1:], w, b, 1e-5, rm, rv)[0])
    close(m.running_mean.numpy(), rm)
    # without running stats an eval-mode module still uses the instance statistics
    m2 = torch.nn.InstanceNorm1d(3).double()
    m2.eval()
    x3 = rng.normal(size=(2, 3, 6))
    close(m2(torch.tensor(x3)).numpy(), np_group_norm(x3, 3))
    close(m2(torch.tensor(x3[0])).numpy(), np_group_norm(x3[:1], 3)[0])


# --------------------------------------------------------------------------- batch_norm errors

def test_batch_norm_argument_errors():
    x = torch.zeros(2, 3)
    rm, rv = torch.zeros(3), torch.ones(3)
    # torch: nn.BatchNorm1d raises ValueError "expected 2D or 3D input (got 1D input)"; F.batch_norm on a
    # 1-d input fails on its channel dim (a RuntimeError or IndexError in torch)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 1D input\)"):
        torch.nn.BatchNorm1d(3)(torch.zeros(3))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        torch.nn.BatchNorm2d(3)(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        torch.nn.BatchNorm3d(3)(torch.zeros(2, 3, 4, 4))
    for training in (True, False):
        with pytest.raises((ValueError, RuntimeError, IndexError)):
            F.batch_norm(torch.zeros(3), rm, rv, training=training)
        with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
            F.batch_norm(x, torch.zeros(4), rv, training=training)
        with pytest.raises(RuntimeError, match="running_var should contain 3 elements not 4"):
            F.batch_norm(x, rm, torch.ones(4), training=training)
        with pytest.raises(RuntimeError, match="weight should contain 3 elements not 4"):
            F.batch_norm(x, rm, rv, torch.ones(4), training=training)
        with pytest.raises(RuntimeError, match="bias should contain 3 elements not 2"):
            F.batch_norm(x, rm, rv, None, torch.ones(2), training=training)
    with pytest.raises(RuntimeError, match="weight should contain 3 elements not 4"):
        F.batch_norm(x, None, None, torch.ones(4), training=True)
    for shape in ((1, 3), (1, 3, 1), (1, 3, 1, 1)):
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
            F.batch_norm(torch.zeros(shape), rm, rv, training=True)
        mod = torch.nn.BatchNorm1d(3) if len(shape) < 4 else torch.nn.BatchNorm2d(3)
        with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
            mod(torch.zeros(shape))
    np.testing.assert_array_equal(rm.numpy(), np.zeros(3))  # nothing was updated
    np.testing.assert_array_equal(rv.numpy(), np.ones(3))
    # torch: "running_mean must be defined in evaluation mode" / "running_var must be ..."
    with pytest.raises(RuntimeError, match="running_mean .*must be defined in evaluation mode"):
        F.batch_norm(x, None, None)
    with pytest.raises(RuntimeError, match="running_var must be defined in evaluation mode"):
        F.batch_norm(x, rm, None)
    with pytest.raises(RuntimeError, match="must be defined in evaluation mode"):
        F.batch_norm(x, None, rv)
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.batch_norm(x.long(), None, None, training=True)
    with pytest.raises(ValueError):
        F.instance_norm(x)  # torch: ValueError too (it needs a spatial dim)
    with pytest.raises(RuntimeError):
        F.instance_norm(torch.zeros(2, 3, 4), None, None, torch.ones(4))
    with pytest.raises(RuntimeError):
        F.instance_norm(torch.zeros(2, 3, 4), torch.zeros(4), torch.ones(4))
    # the core op checks its arguments itself (no crash when called directly)
    with pytest.raises((ValueError, RuntimeError)):
        _C._batch_norm(torch.zeros(3), None, None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        _C._batch_norm(x, None, None, torch.zeros(4), torch.ones(4), 1e-5)
    with pytest.raises(RuntimeError, match="weight should contain 3 elements not 4"):
        _C._batch_norm(x, torch.ones(4), None, None, None, 1e-5)
    with pytest.raises(RuntimeError, match="bias should contain 3 elements not 4"):
        _C._batch_norm(x, None, torch.ones(4), None, None, 1e-5)
    with pytest.raises(RuntimeError):
        _C._batch_norm(x, None, None, rm, None, 1e-5)
    with pytest.raises(RuntimeError):
        _C._batch_norm(x, None, None, None, rv, 1e-5)
    with pytest.raises(TypeError):
        _C._batch_norm(x, "w", None, None, None, 1e-5)
    # the process is still fine
    xs = np.array([[1.0, 2.0], [3.0, 5.0]])
    close(F.batch_norm(torch.tensor(xs), None, None, training=True).numpy(), np_batch_norm(xs))


def test_batch_norm_training_needs_both_running_stats_or_neither():
    # torch: ValueError "running_mean and running_var must either both be None or neither be None"
    rm = torch.zeros(3)
    with pytest.raises(ValueError, match="running_mean and running_var must either both be None or neither be None"):
        F.batch_norm(torch.ones(4, 3), rm, None, training=True)
    with pytest.raises(ValueError, match="must either both be None or neither be None"):
        F.batch_norm(torch.ones(4, 3), None, torch.ones(3), training=True)


def test_instance_norm_without_input_stats_needs_running_stats():
    # torch: RuntimeError "Expected running_mean and running_var to be defined when use_input_stats is false"
    with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be defined when use_input_stats"):
        F.instance_norm(torch.randn(2, 3, 4), None, None, use_input_stats=False)


def test_instance_norm_needs_more_than_one_spatial_element():
    # torch: ValueError "Expected more than 1 spatial element when training, got input size [2, 3, 1]"
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        torch.nn.InstanceNorm2d(3)(torch.randn(2, 3, 1, 1))


def test_batch_norm_empty_batch():
    # torch: an empty batch in training mode gives an empty output and leaves the running stats
    rm, rv = torch.zeros(3), torch.ones(3)
    for training in (True, False):
        xt = torch.zeros(0, 3, 4, requires_grad=True)
        y = F.batch_norm(xt, rm, rv, training=training)
        assert tuple(y.shape) == (0, 3, 4)
    np.testing.assert_array_equal(rm.numpy(), np.zeros(3))
    np.testing.assert_array_equal(rv.numpy(), np.ones(3))


# --------------------------------------------------------------------------- batch_norm on the GPU

def _bn_run_on(dev, x, w, b, g, training, rm=None, rv=None, layout="contiguous", fn=None):
    """batch_norm (or fn) on dev with backward gout g: [out, x.grad, w.grad, b.grad, running_mean,
    running_var] on the CPU (None where absent)."""
    xt = make_tensor(x, layout, device=dev)[0].detach().requires_grad_()
    wt = None if w is None else torch.tensor(w).to(dev).requires_grad_()
    bt = None if b is None else torch.tensor(b).to(dev).requires_grad_()
    rmt = None if rm is None else torch.tensor(rm).to(dev)
    rvt = None if rv is None else torch.tensor(rv).to(dev)
    if fn is None:
        out = F.batch_norm(xt, rmt, rvt, wt, bt, training, 0.2, 1e-5)
    else:
        out = fn(xt, rmt, rvt, wt, bt)
    assert out.device.type == torch.device(dev).type and out.dtype == torch.float32
    out.backward(torch.tensor(g).to(dev))
    res = [out.detach(), xt.grad] + [None if t is None else t.grad for t in (wt, bt)] + [rmt, rvt]
    for t in res[2:]:
        if t is not None:
            assert t.device.type == torch.device(dev).type
    return [None if t is None else t.cpu().numpy() for t in res]


def test_gpu_batch_norm_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(1300)
    for i, shape in enumerate([(4, 3), (8, 16, 9, 9), (2, 5, 300), (6, 300), (3, 4, 1, 1)]):
        c = shape[1]
        x = rng.normal(loc=rng.normal(size=c).reshape(_cshape(np.empty(shape))), size=shape).astype(np.float32)
        w = rng.normal(size=c).astype(np.float32)
        b = rng.normal(size=c).astype(np.float32)
        g = rng.normal(size=shape).astype(np.float32)
        rm = rng.normal(size=c).astype(np.float32)
        rv = rng.uniform(0.5, 2.0, size=c).astype(np.float32)
        layout = ("contiguous", "transposed", "sliced")[i % 3]
        for training in (True, False):
            for ww, bb in ((w, b), (None, None), (w, None)):
                res = [_bn_run_on(dev, x, ww, bb, g, training, rm, rv, layout) for dev in ("cpu", gpu)]
                for a, bgpu in zip(*res):
                    assert (a is None) == (bgpu is None)
                    if a is not None:
                        _gpu_close(bgpu, a)
        # training without running stats
        res = [_bn_run_on(dev, x, w, b, g, True) for dev in ("cpu", gpu)]
        for a, bgpu in zip(*res[:4]):
            if a is not None:
                _gpu_close(bgpu, a)
    # and against NumPy, with the module's buffers on the GPU
    x = rng.normal(loc=1.0, size=(8, 16, 9, 9)).astype(np.float32)
    m = torch.nn.BatchNorm2d(16).to(gpu)
    y = m(torch.tensor(x).to(gpu))
    x64 = x.astype(np.float64)
    _close32(y.detach().cpu().numpy(), np_batch_norm(x64))
    rm_ref, rv_ref = np_running_update(np.zeros(16), np.ones(16), x64, 0.1)
    _close32(m.running_mean.cpu().numpy(), rm_ref)
    _close32(m.running_var.cpu().numpy(), rv_ref)
    assert int(m.num_batches_tracked.cpu()) == 1
    m.eval()
    _close32(m(torch.tensor(x).to(gpu)).detach().cpu().numpy(), np_batch_norm(x64, None, None, 1e-5, rm_ref, rv_ref))


def test_gpu_instance_norm_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(1310)
    for i, shape in enumerate([(2, 3, 5), (4, 16, 9, 9), (2, 5, 300), (1, 300, 4)]):
        c = shape[1]
        x = rng.normal(loc=1.0, size=shape).astype(np.float32)
        w = rng.normal(size=c).astype(np.float32)
        b = rng.normal(size=c).astype(np.float32)
        g = rng.normal(size=shape).astype(np.float32)
        rm = rng.normal(size=c).astype(np.float32)
        rv = rng.uniform(0.5, 2.0, size=c).astype(np.float32)
        layout = ("contiguous", "transposed", "sliced")[i % 3]
        for use_input_stats in (True, False):
            def fn(x_, rm_, rv_, w_, b_, u=use_input_stats):
                return F.instance_norm(x_, rm_, rv_, w_, b_, u, 0.2)
            for ww, bb in ((w, b), (None, None)):
                res = [_bn_run_on(dev, x, ww, bb, g, None, rm, rv, layout, fn) for dev in ("cpu", gpu)]
                for a, bgpu in zip(*res):
                    assert (a is None) == (bgpu is None)
                    if a is not None:
                        _gpu_close(bgpu, a)
    res = [_bn_run_on(dev, x, w, b, g, None, None, None, "contiguous",
                      lambda x_, rm_, rv_, w_, b_: F.instance_norm(x_, None, None, w_, b_)) for dev in ("cpu", gpu)]
    for a, bgpu in zip(*res[:4]):
        if a is not None:
            _gpu_close(bgpu, a)


def test_gpu_batch_norm_double_backward(gpu):  # noqa: F811
    rng = np.random.default_rng(1320)
    x0 = rng.normal(size=(4, 3, 5)).astype(np.float32)
    w0 = rng.normal(size=3).astype(np.float32)
    rm0, rv0 = rng.normal(size=3).astype(np.float32), rng.uniform(0.5, 2, 3).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        out = []
        for training in (True, False):
            x = torch.tensor(x0).to(dev).requires_grad_()
            w = torch.tensor(w0).to(dev).requires_grad_()
            rm, rv = (None, None) if training else (torch.tensor(rm0).to(dev), torch.tensor(rv0).to(dev))
            y = F.batch_norm(x, rm, rv, w, None, training)
            (dx,) = torch.autograd.grad((y ** 3).sum(), x, create_graph=True)
            ddx, ddw = torch.autograd.grad((dx ** 2).sum(), (x, w))
            out += [ddx.cpu().numpy(), ddw.cpu().numpy()]
        res.append(out)
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(a).max())))


# --------------------------------------------------------------------------- batch_norm against real torch

def test_batch_norm_against_torch():
    th = pytest.importorskip("torch")
    rng = np.random.default_rng(1400)
    x = rng.normal(loc=1.0, size=(4, 3, 5, 2))
    w, b = rng.normal(size=3), rng.normal(size=3)
    rm0, rv0 = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    g = rng.normal(size=x.shape)
    cases = [
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.batch_norm(x_, rm_, rv_, w_, b_, True, 0.3, 1e-4),
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.batch_norm(x_, rm_, rv_, w_, b_, False, 0.3, 1e-4),
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.batch_norm(x_, None, None, None, b_, True) + w_.sum() * 0,
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.instance_norm(x_, rm_, rv_, w_, b_, True, 0.3),
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.instance_norm(x_, rm_, rv_, w_, b_, False),
        lambda m, x_, w_, b_, rm_, rv_: m.nn.functional.instance_norm(x_, None, None, None, None) + (w_ + b_).sum() * 0,
    ]
    for f in cases:
        outs = []
        for m in (th, torch):
            ts = [m.tensor(a, requires_grad=True) for a in (x, w, b)]
            rm, rv = m.tensor(rm0), m.tensor(rv0)
            y = f(m, *ts, rm, rv)
            y.backward(m.tensor(g))
            outs.append([y.detach().numpy(), rm.numpy(), rv.numpy()] + [t.grad.numpy() for t in ts])
        for a, r in zip(*outs):
            np.testing.assert_allclose(r, a, rtol=1e-10, atol=1e-11)
