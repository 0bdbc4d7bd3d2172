"""The fused cross-entropy core op behind F.cross_entropy / nn.CrossEntropyLoss with class-index
targets (`_C._cross_entropy`: per-row losses with class weights, an ignored index and label
smoothing from one kernel, a one-kernel backward softmax - one-hot that turns into
differentiable ops under create_graph): against a float64 NumPy reference (values and
gradients) over class counts around the kernel's 16-lane sums, empty batches, 1-d and K-dim
inputs, strided logits and targets, every reduction; finite-difference gradient checks (first
and second order); extreme logits (huge, -inf, NaN) as torch treats them; a launch big enough
to be split over threads; float16/bfloat16; the argument errors (torch's types and messages);
the module; the GPU against the CPU; and real torch when it is importable."""

import numpy as np
import pytest

import rustensor as torch
from conftest import gpu, make_tensor  # noqa: F401  (gpu is a fixture)
from rustensor import _rustensor as _C

F = torch.nn.functional

LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")
CLASSES = (1, 2, 15, 16, 17, 1000)  # one class, two, around the 16-lane sums, many
ROWS = (0, 1, 7, 300)
SMOOTHING = (0.0, 0.1, 1.0)
REDUCTIONS = ("none", "sum", "mean")
IGNORE_MODES = ("default-none-ignored", "default-some-ignored", "custom")


# --------------------------------------------------------------------------- NumPy references

def _rows(x, t):
    """(N, C) logits and (N,) targets from a (C,), (N, C) or (N, C, d1, ...) input."""
    if x.ndim == 1:
        return x.reshape(1, -1), np.asarray(t).reshape(1)
    if x.ndim == 2:
        return x, np.asarray(t).reshape(-1)
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]), np.asarray(t).reshape(-1)


def _unrows(g, shape):
    """The inverse of _rows for a gradient of the logits."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g.reshape(moved), -1, 1)


def _neg_logp(x):
    """-log_softmax of each row (lse - x_c), computed as (m - x_c) + log Σ exp(x - m)."""
    with np.errstate(invalid="ignore", over="ignore"):
        m = x.max(1, keepdims=True) if x.shape[0] else np.zeros((0, 1))
        return (m - x) + np.log(np.exp(x - m).sum(1, keepdims=True))


def np_row_losses(x, t, w=None, ignore_index=-100, eps=0.0):
    """torch's per-row cross-entropy of (N, C) float64 logits: (1-ε) w_t (lse - x_t) +
    ε/C Σ_c w_c (lse - x_c), 0 for ignored rows."""
    n, c = x.shape
    wv = np.ones(c) if w is None else np.asarray(w, dtype=np.float64)
    nlp = _neg_logp(x)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    loss = np.zeros(n)
    with np.errstate(invalid="ignore"):
        if eps != 1.0:
            loss = loss + (1 - eps) * wv[safe] * nlp[np.arange(n), safe]
        if eps != 0.0:
            loss = loss + eps / c * (nlp * wv).sum(1)
    return np.where(valid, loss, 0.0)


def np_row_grads(x, t, w, ignore_index, eps, g):
    """d Σ_r g_r loss_r / d x: g_r ((1-ε) w_t (p - onehot_t) + ε/C (W p - w)), 0 for ignored rows."""
    n, c = x.shape
    wv = np.ones(c) if w is None else np.asarray(w, dtype=np.float64)
    p = np.exp(-_neg_logp(x))
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    a = (1 - eps) * wv[safe]
    with np.errstate(invalid="ignore", over="ignore"):
        gx = (a + eps / c * wv.sum())[:, None] * p - eps / c * wv[None, :]
        gx[np.arange(n), safe] -= a
        gx = gx * np.asarray(g, dtype=np.float64).reshape(n, 1)
    gx[~valid] = 0.0
    return gx


def np_cross_entropy(x, t, w=None, ignore_index=-100, eps=0.0, reduction="mean", gout=None):
    """(the loss, d Σ(loss · gout) / d x) in float64, with torch's reductions: the mean divides
    by Σ w_t over the rows that are not ignored (nan when that is 0)."""
    x2, t2 = _rows(x, t)
    losses = np_row_losses(x2, t2, w, ignore_index, eps)
    n, c = x2.shape
    wv = np.ones(c) if w is None else np.asarray(w, dtype=np.float64)
    valid = t2 != ignore_index
    if reduction == "none":
        value = losses.reshape(np.shape(t))
        g = np.ones(n) if gout is None else np.asarray(gout, dtype=np.float64).reshape(-1)
    else:
        g0 = 1.0 if gout is None else float(gout)
        if reduction == "sum":
            value, g = losses.sum(), np.full(n, g0)
        else:
            denom = (wv[np.where(valid, t2, 0)] * valid).sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                value = losses.sum() / denom
                g = np.full(n, g0 / denom)
    return np.asarray(value), _unrows(np_row_grads(x2, t2, w, ignore_index, eps, g), x.shape)


def np_hvp(x, t, w, ignore_index, eps, g, v):
    """d/dx Σ (dx · v) for dx = d Σ_r g_r loss_r / dx (2-d): g_r K_r p (v - Σ_c v_c p_c) with
    K_r = (1-ε) w_t + ε/C W; 0 for ignored rows."""
    n, c = x.shape
    wv = np.ones(c) if w is None else w
    p = np.exp(-_neg_logp(x))
    valid = t != ignore_index
    k = (1 - eps) * wv[np.where(valid, t, 0)] + eps / c * wv.sum()
    out = (g * k)[:, None] * p * (v - (v * p).sum(1, keepdims=True))
    out[~valid] = 0.0
    return out


def close(actual, ref, rtol=1e-10, atol=1e-11):
    np.testing.assert_allclose(actual, ref, rtol=rtol, atol=atol, equal_nan=True)


def _close32(actual, ref, rtol=1e-4):
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(actual, ref, rtol=rtol, atol=0.1 * rtol * scale, equal_nan=True)


def _targets(rng, shape, c, mode):
    """(int64 targets, ignore_index) for an ignore mode: nothing ignored, some rows at the
    default -100, or a custom index that is a valid class (some rows hit it)."""
    t = rng.integers(0, c, size=shape).astype(np.int64)
    if mode == "default-none-ignored":
        return t, -100
    ii = -100 if mode == "default-some-ignored" else min(2, c - 1)
    if t.size:
        mask = rng.random(shape) < 0.3
        mask.reshape(-1)[0] = True  # at least one ignored element
        t[mask] = ii
    return t, ii


def _weight(rng, c, present, layout="contiguous"):
    if not present:
        return None, None
    w = rng.uniform(0.2, 2.0, size=c)
    wt, w = make_tensor(w, layout)
    return wt, w


def _check(x, t, w, wt, ii, eps, reduction, rng, layout="contiguous", tlayout="contiguous"):
    """F.cross_entropy on make_tensor layouts of x and t against np_cross_entropy: value, dtype,
    shape and the gradient of the logits for a random upstream gradient."""
    xt, xref = make_tensor(x, layout)
    xt.requires_grad_()
    tt, tref = make_tensor(t, tlayout)
    assert tt.dtype == torch.int64
    y = F.cross_entropy(xt, tt, weight=wt, ignore_index=ii, reduction=reduction, label_smoothing=eps)
    gout = rng.normal(size=tref.shape) if reduction == "none" else np.array(rng.normal())
    val, dx = np_cross_entropy(xref, tref, w, ii, eps, reduction, gout)
    assert y.dtype == torch.float64
    assert tuple(y.shape) == val.shape, (tuple(y.shape), val.shape)
    close(y.detach().numpy(), val)
    y.backward(torch.tensor(gout))
    assert tuple(xt.grad.shape) == xref.shape
    close(xt.grad.numpy(), dx, rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- values and gradients

@pytest.mark.parametrize("c", CLASSES)
@pytest.mark.parametrize("n", ROWS)
def test_two_dim_matches_numpy(n, c):
    idx = ROWS.index(n) * len(CLASSES) + CLASSES.index(c)
    rng = np.random.default_rng(idx)
    for k, reduction in enumerate(REDUCTIONS):
        for j, eps in enumerate(SMOOTHING):
            i = idx + k + j
            x = rng.normal(loc=rng.normal(), scale=2.0, size=(n, c))
            t, ii = _targets(rng, (n,), c, IGNORE_MODES[(idx + j) % 3])
            wt, w = _weight(rng, c, (i + k) % 2 == 0, "sliced" if i % 3 == 0 else "contiguous")
            _check(x, t, w, wt, ii, eps, reduction, rng, LAYOUTS[i % 4], LAYOUTS[(i + 1) % 3])


@pytest.mark.parametrize("c", [1, 5, 17])
def test_one_dim_input_with_zero_dim_target(c):
    rng = np.random.default_rng(100 + c)
    for k, reduction in enumerate(REDUCTIONS):
        for j, eps in enumerate(SMOOTHING):
            x = rng.normal(size=c)
            wt, w = _weight(rng, c, (k + j) % 2 == 0)
            _check(x, np.array(int(rng.integers(0, c)), dtype=np.int64), w, wt, -100, eps, reduction, rng,
                   LAYOUTS[(k + j) % 3])
            # the one target ignored: none → 0, sum → 0, mean → nan (0 / 0, as torch)
            ii = c - 1
            _check(x, np.array(ii, dtype=np.int64), w, wt, ii, eps, reduction, rng)
            _check(x, np.array(-100, dtype=np.int64), w, wt, -100, eps, reduction, rng)


def test_one_dim_input_with_one_element_target():
    # torch: a (C,) input with a (1,) target is the same as with a 0-d one; reduction='none'
    # gives a 0-d loss (torch.Size([])), as the log_softmax + nll_loss path also does
    rng = np.random.default_rng(110)
    x = rng.normal(size=5)
    for reduction in REDUCTIONS:
        y = F.cross_entropy(torch.tensor(x), torch.tensor([3]), reduction=reduction, label_smoothing=0.1)
        assert tuple(y.shape) == (), f"reduction={reduction}: shape {tuple(y.shape)}, torch gives ()"
        close(y.numpy(), np_cross_entropy(x, np.array(3), None, -100, 0.1, reduction)[0])


@pytest.mark.parametrize("shape", [(2, 4, 3, 5), (2, 4, 7)])
def test_k_dim_matches_numpy(shape):
    rng = np.random.default_rng(120 + len(shape))
    c = shape[1]
    tshape = (shape[0],) + shape[2:]
    for k, reduction in enumerate(REDUCTIONS):
        for j, eps in enumerate(SMOOTHING):
            x = rng.normal(scale=2.0, size=shape)
            t, ii = _targets(rng, tshape, c, IGNORE_MODES[(k + j) % 3])
            wt, w = _weight(rng, c, (k + j) % 2 == 1)
            _check(x, t, w, wt, ii, eps, reduction, rng, LAYOUTS[(k + j) % 4], LAYOUTS[(k + 2 * j) % 3])
            # classes last in memory: the (N, C, ...) view is the permuted one
            xp = torch.tensor(np.ascontiguousarray(np.moveaxis(x, 1, -1))).movedim(-1, 1).requires_grad_()
            assert not xp.is_contiguous()
            y = F.cross_entropy(xp, torch.tensor(t), weight=wt, ignore_index=ii, reduction=reduction, label_smoothing=eps)
            gout = rng.normal(size=tshape) if reduction == "none" else np.array(1.5)
            val, dx = np_cross_entropy(x, t, w, ii, eps, reduction, gout)
            close(y.detach().numpy(), val)
            y.backward(torch.tensor(gout))
            close(xp.grad.numpy(), dx, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("with_weight", [False, True])
def test_all_rows_ignored(with_weight):
    # torch: mean → nan (0 / 0) with a zero gradient; sum → 0; none → zeros
    rng = np.random.default_rng(130 + with_weight)
    for shape, ii in (((6, 5), -100), ((6, 5), 2), ((2, 5, 3), 4)):
        x = rng.normal(size=shape)
        tshape = (shape[0],) + shape[2:]
        wt, w = _weight(rng, 5, with_weight)
        for eps in SMOOTHING:
            for reduction in REDUCTIONS:
                t = np.full(tshape, ii, dtype=np.int64)
                xt = torch.tensor(x, requires_grad=True)
                y = F.cross_entropy(xt, torch.tensor(t), weight=wt, ignore_index=ii, reduction=reduction,
                                    label_smoothing=eps)
                if reduction == "mean":
                    assert np.isnan(float(y.detach()))
                else:
                    np.testing.assert_array_equal(y.detach().numpy(), np.zeros(tshape if reduction == "none" else ()))
                y.sum().backward()
                np.testing.assert_array_equal(xt.grad.numpy(), np.zeros(shape))


def test_empty_batch():
    # torch: (0, C) → none (0,), sum 0, mean nan (with or without weight); the gradient is (0, C)
    for wt in (None, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)):
        for eps in (0.0, 0.1):
            for reduction, expected in (("none", np.zeros(0)), ("sum", np.array(0.0)), ("mean", np.array(np.nan))):
                xt = torch.zeros(0, 3, dtype=torch.float64, requires_grad=True)
                y = F.cross_entropy(xt, torch.zeros(0, dtype=torch.int64), weight=wt, reduction=reduction,
                                    label_smoothing=eps)
                assert tuple(y.shape) == expected.shape
                close(y.detach().numpy(), expected)
                y.sum().backward()
                assert tuple(xt.grad.shape) == (0, 3)
    # K-dim with an empty spatial dim: torch gives (2, 0) for none and nan for the mean
    x0 = torch.zeros(2, 3, 0, dtype=torch.float64)
    t0 = torch.zeros(2, 0, dtype=torch.int64)
    assert tuple(F.cross_entropy(x0, t0, reduction="none").shape) == (2, 0)
    assert np.isnan(float(F.cross_entropy(x0, t0)))
    assert float(F.cross_entropy(x0, t0, reduction="sum")) == 0.0


def test_non_contiguous_upstream_gradients():
    rng = np.random.default_rng(140)
    x = rng.normal(size=(12, 17))
    t, ii = _targets(rng, (12,), 17, "custom")
    w = rng.uniform(0.5, 2.0, size=17)
    for layout in LAYOUTS:
        g = rng.normal(size=12)
        gt, gref = make_tensor(g, layout)
        xt = torch.tensor(x, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), torch.tensor(w), ignore_index=ii, reduction="none", label_smoothing=0.1)
        y.backward(gt)
        close(xt.grad.numpy(), np_cross_entropy(x, t, w, ii, 0.1, "none", gref)[1], rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_and_gradgradcheck_two_dim(reduction):
    rng = np.random.default_rng(150 + REDUCTIONS.index(reduction))
    x = torch.tensor(rng.normal(size=(5, 4)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 2.0, size=4))
    for t, ii in ((torch.tensor([0, -100, 3, 1, -100]), -100), (torch.tensor([2, 0, 2, 3, 1]), 2)):
        def f(x_, t=t, ii=ii):
            return F.cross_entropy(x_, t, weight=w, ignore_index=ii, reduction=reduction, label_smoothing=0.1)
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_and_gradgradcheck_k_dim(reduction):
    rng = np.random.default_rng(160 + REDUCTIONS.index(reduction))
    x = torch.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 2.0, size=3))
    t = torch.tensor([[0, 2, -100, 1], [2, -100, 1, 0]])

    def f(x_):
        return F.cross_entropy(x_, t, weight=w, reduction=reduction, label_smoothing=0.2)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))
    # 1-d input with a 0-d target
    x1 = torch.tensor(rng.normal(size=5), requires_grad=True)
    w1 = torch.tensor(rng.uniform(0.5, 2.0, size=5))
    f1 = lambda x_: F.cross_entropy(x_, torch.tensor(3), weight=w1, reduction=reduction, label_smoothing=0.3)  # noqa: E731
    assert torch.autograd.gradcheck(f1, (x1,))
    assert torch.autograd.gradgradcheck(f1, (x1,))


def test_double_backward_matches_numpy():
    # the create_graph path: dx itself against NumPy, then d/dx Σ(dx · v) against the analytic
    # Hessian-vector product
    rng = np.random.default_rng(170)
    x, v = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))
    w = rng.uniform(0.5, 2.0, size=7)
    t, ii = _targets(rng, (6,), 7, "custom")
    g = rng.normal(size=6)
    for eps in SMOOTHING:
        xt = torch.tensor(x, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), torch.tensor(w), ignore_index=ii, reduction="none", label_smoothing=eps)
        (dx,) = torch.autograd.grad(y, xt, torch.tensor(g), create_graph=True)
        close(dx.detach().numpy(), np_row_grads(x, t, w, ii, eps, g), rtol=1e-9, atol=1e-11)
        (ddx,) = torch.autograd.grad((dx * torch.tensor(v)).sum(), xt)
        close(ddx.numpy(), np_hvp(x, t, w, ii, eps, g, v), rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------------------- extreme logits

def _extreme_check(x, t, eps, dtype, rtol, atol, weight=None):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    wt = None if weight is None else torch.tensor(weight, dtype=dtype)
    y = F.cross_entropy(xt, torch.tensor(t), wt, reduction="none", label_smoothing=eps)
    y.sum().backward()
    x64 = np.asarray(x, dtype=np.float64)
    val, dx = np_cross_entropy(x64, np.asarray(t), weight, -100, eps, "none")
    np.testing.assert_allclose(y.detach().numpy(), val, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=f"losses, label_smoothing={eps}, logits {x}")
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=f"gradient, label_smoothing={eps}, logits {x}")


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_huge_logits_float64(eps):
    # torch subtracts the row's maximum before anything else: [1e30, 1e30, 0] with target 0 gives
    # log 2 and the gradient [-0.5, 0.5, 0]; [1e30, 0, -1e30] gives 0 (1e29 with ε = 0.1)
    x = np.array([[1e30, 0.0, -1e30], [1e30, 1e30, 0.0], [-1e30, 1e30, 1e30], [1e30, 1e30 * (1 + 2 ** -50), 1e30]])
    _extreme_check(x, [0, 0, 2, 1], eps, torch.float64, 1e-12, 1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_huge_logits_float32(eps):
    # values exactly representable in float32; torch gives log 2 for [1e4, 1e4, 0] with target 0
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0], [10001.0, 10000.0, 9998.0], [-1e4, 1e4, 1e4]], dtype=np.float32)
    _extreme_check(x, [1, 0, 1, 2], eps, torch.float32, 1e-5, 1e-5)


def test_shift_invariance():
    # loss(x + c) == loss(x) for any constant c exactly representable with x
    rng = np.random.default_rng(180)
    base = rng.integers(-4, 5, size=(5, 17)).astype(np.float64)
    t = rng.integers(0, 17, size=5)
    for dtype, shift, tol in ((torch.float64, 2.0 ** 40, 1e-9), (torch.float32, 2.0 ** 12, 1e-5)):
        ref = F.cross_entropy(torch.tensor(base, dtype=dtype), torch.tensor(t), reduction="none").numpy()
        shifted = F.cross_entropy(torch.tensor(base + shift, dtype=dtype), torch.tensor(t), reduction="none").numpy()
        np.testing.assert_allclose(shifted, ref, rtol=tol, atol=tol, err_msg=f"{dtype}, shift {shift}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_minus_inf_entries(dtype):
    # torch: -inf logits that are not the target: a finite loss without smoothing (inf with it,
    # since ε/C w_c (lse - (-inf)) = inf) and a finite gradient either way
    dt = getattr(torch, dtype)
    ninf = -np.inf
    x = np.array([[ninf, 1.0, 2.0], [0.0, ninf, ninf], [ninf, ninf, 3.0], [1.0, ninf, 1.0]])
    t = [1, 0, 2, 0]
    tol = 1e-12 if dtype == "float64" else 1e-6
    for eps in (0.0, 0.1):
        _extreme_check(x, t, eps, dt, tol, tol)
        _extreme_check(x, t, eps, dt, tol, tol, weight=np.array([0.5, 2.0, 1.5]))
        xt = torch.tensor(x, dtype=dt, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), reduction="none", label_smoothing=eps)
        y.sum().backward()
        assert np.isfinite(xt.grad.numpy()).all()
        assert np.isfinite(y.detach().numpy()).all() == (eps == 0.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_rows(dtype):
    # torch: a NaN anywhere in a row gives that row a NaN loss and NaN gradient; the other rows
    # are untouched; a mean or sum over a NaN row is NaN; an ignored NaN row's loss is 0
    dt = getattr(torch, dtype)
    nan = np.nan
    x = np.array([[nan, 1.0, 2.0], [0.0, 1.0, 2.0], [3.0, 1.0, nan], [1.0, -1.0, 0.5]])
    tol = 1e-12 if dtype == "float64" else 1e-6
    for eps in (0.0, 0.1):
        for w in (None, np.array([1.0, 2.0, 0.5])):
            t = [1, 0, 2, 0]
            _extreme_check(x, t, eps, dt, tol, tol, weight=w)
            wt = None if w is None else torch.tensor(w, dtype=dt)
            for reduction in ("sum", "mean"):
                y = F.cross_entropy(torch.tensor(x, dtype=dt), torch.tensor(t), wt, reduction=reduction, label_smoothing=eps)
                assert np.isnan(float(y))
            # the NaN rows ignored: their losses are 0 and the others' are unchanged
            ti = [-100, 0, -100, 0]
            xt = torch.tensor(x, dtype=dt, requires_grad=True)
            y = F.cross_entropy(xt, torch.tensor(ti), wt, reduction="none", label_smoothing=eps)
            ref, dx = np_cross_entropy(x, np.array(ti), w, -100, eps, "none")
            np.testing.assert_allclose(y.detach().numpy(), ref, rtol=tol, atol=tol)
            y.sum().backward()
            # (torch's own gradient for an ignored NaN row is NaN, from log_softmax's backward:
            # only the rows that are not ignored are compared)
            np.testing.assert_allclose(xt.grad.numpy()[[1, 3]], dx[[1, 3]], rtol=tol, atol=tol)


# --------------------------------------------------------------------------- big launch

def test_large_float32_split_over_threads():
    rng = np.random.default_rng(190)
    n, c = 4096, 1000
    x = rng.normal(loc=0.5, scale=3.0, size=(n, c)).astype(np.float32)
    t, ii = _targets(rng, (n,), c, "default-some-ignored")
    w = rng.uniform(0.5, 2.0, size=c).astype(np.float32)
    g = rng.normal(size=n).astype(np.float32)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    for wt, wr, eps in ((None, None, 0.0), (torch.tensor(w), w64, 0.1)):
        xt = torch.tensor(x, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), wt, ignore_index=ii, reduction="none", label_smoothing=eps)
        assert y.dtype == torch.float32 and tuple(y.shape) == (n,)
        val, dx = np_cross_entropy(x64, t, wr, ii, eps, "none", g.astype(np.float64))
        _close32(y.detach().numpy(), val)
        y.backward(torch.tensor(g))
        assert xt.grad.dtype == torch.float32
        _close32(xt.grad.numpy(), dx)
        xt = torch.tensor(x, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), wt, ignore_index=ii, label_smoothing=eps)
        val, dx = np_cross_entropy(x64, t, wr, ii, eps, "mean")
        _close32(y.detach().numpy(), val)
        y.backward()
        _close32(xt.grad.numpy(), dx)


# --------------------------------------------------------------------------- reduced precision

@pytest.mark.parametrize("dt,tol", [("float16", 2e-3), ("bfloat16", 1.6e-2)])
def test_float16_and_bfloat16(dt, tol):
    dt = getattr(torch, dt)
    rng = np.random.default_rng(200)
    for shape in ((7, 17), (2, 5, 3)):
        c = shape[1]
        x = rng.normal(size=shape).astype(np.float32)
        tshape = (shape[0],) + shape[2:]
        t, ii = _targets(rng, tshape, c, "custom")
        w = rng.uniform(0.5, 2.0, size=c).astype(np.float32)
        xh = torch.tensor(x).to(dt)
        x32 = xh.float()  # the same rounded values, in float32
        for wt in (None, torch.tensor(w), torch.tensor(w.astype(np.float64)), torch.tensor(w).to(dt)):
            wr = None if wt is None else wt.to(dt).float()
            for reduction in REDUCTIONS:
                for eps in (0.0, 0.1):
                    y = F.cross_entropy(xh, torch.tensor(t), wt, ignore_index=ii, reduction=reduction, label_smoothing=eps)
                    assert y.dtype == dt and tuple(y.shape) == (tshape if reduction == "none" else ())
                    ref = F.cross_entropy(x32, torch.tensor(t), wr, ignore_index=ii, reduction=reduction,
                                          label_smoothing=eps).numpy()
                    np.testing.assert_allclose(y.float().numpy(), ref, rtol=tol, atol=tol)
        # the gradient has the input's dtype and is close to the float32 one
        xg = xh.detach().requires_grad_()
        F.cross_entropy(xg, torch.tensor(t), torch.tensor(w), ignore_index=ii, label_smoothing=0.1).backward()
        assert xg.grad.dtype == dt
        xf = x32.detach().requires_grad_()
        F.cross_entropy(xf, torch.tensor(t), torch.tensor(w).to(dt).float(), ignore_index=ii, label_smoothing=0.1).backward()
        scale = float(np.abs(xf.grad.numpy()).max())
        np.testing.assert_allclose(xg.grad.float().numpy(), xf.grad.numpy(), rtol=4 * tol, atol=4 * tol * scale)


def test_float32_input_with_float64_weight():
    # rustensor accepts a weight of another dtype (torch requires the input's); the result keeps
    # the input's dtype and equals the weight cast to it
    rng = np.random.default_rng(210)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    t = np.array([0, 1, 2, 3, 4, -100])
    w = rng.uniform(0.5, 2.0, size=5)
    for reduction in REDUCTIONS:
        xt = torch.tensor(x, requires_grad=True)
        y = F.cross_entropy(xt, torch.tensor(t), torch.tensor(w), reduction=reduction, label_smoothing=0.1)
        assert y.dtype == torch.float32
        w32 = w.astype(np.float32).astype(np.float64)
        val, dx = np_cross_entropy(x.astype(np.float64), t, w32, -100, 0.1, reduction)
        np.testing.assert_allclose(y.detach().numpy(), val, rtol=1e-5, atol=1e-6)
        y.sum().backward()
        assert xt.grad.dtype == torch.float32
        np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- errors

def test_argument_errors():
    x = torch.zeros(3, 5)
    # torch's types and messages
    with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
        F.cross_entropy(x, torch.tensor([0, 5, 1]))
    with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.$"):
        F.cross_entropy(x, torch.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match=r"^Target 7 is out of bounds\.$"):
        F.cross_entropy(torch.zeros(5), torch.tensor(7))
    with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
        F.cross_entropy(torch.zeros(2, 5, 3), torch.tensor([[0, 1, 2], [1, 5, 0]]))
    with pytest.raises(IndexError, match=r"^Target -100 is out of bounds\.$"):
        F.cross_entropy(x, torch.tensor([0, -100, 1]), ignore_index=2)
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.cross_entropy(x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 classes or no classes "
                                           r"but got weight tensor of shape: \[4\]"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), weight=torch.ones(4))
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all .*\[5, 1\]"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), weight=torch.ones(5, 1))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all"):
        F.cross_entropy(torch.zeros(2, 5, 3), torch.zeros(2, 3).long(), weight=torch.ones(3))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2, 2\]"):
        F.cross_entropy(torch.zeros(2, 5, 3), torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2\]"):
        F.cross_entropy(torch.zeros(2, 5, 3), torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        F.cross_entropy(x, torch.tensor([[0, 1], [1, 2], [0, 0]]))
    # torch: a batch mismatch is a ValueError
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)\."):
        F.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="For 1D input, 1D target must have size 1, but got target size: 2"):
        F.cross_entropy(torch.zeros(5), torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), reduction="avg")


def test_core_op_checks_its_arguments():
    # called directly, the core op raises rather than crashing
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(RuntimeError):
        _C._cross_entropy(torch.zeros(2, 3, 4), t, None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(torch.zeros(3), torch.tensor([0]), None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(x, t.to(torch.int32), None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(x, torch.tensor([0.0, 1.0]), None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(x, torch.tensor([0, 1, 2]), None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(x, torch.tensor([[0, 1]]), None, -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(x.long(), t, None, -100, 0.0)
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        _C._cross_entropy(x, t, torch.ones(4), -100, 0.0)
    with pytest.raises(RuntimeError):
        _C._cross_entropy(torch.zeros(2, 0), t, None, -100, 0.0)
    with pytest.raises(TypeError):
        _C._cross_entropy(x, t, "w", -100, 0.0)
    # the process is still fine, and the op's rows match the reference
    xs = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    w = np.array([0.5, 1.0, 2.0])
    out = _C._cross_entropy(torch.tensor(xs), torch.tensor([2, 0]), torch.tensor(w), -100, 0.1)
    close(out.numpy(), np_row_losses(xs, np.array([2, 0]), w, -100, 0.1))


# --------------------------------------------------------------------------- module

def test_module_matches_functional():
    rng = np.random.default_rng(220)
    for shape in ((9, 6), (3, 6, 4), (6,)):
        x = rng.normal(size=shape)
        tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
        t, ii = _targets(rng, tshape, 6, "custom")
        w = torch.tensor(rng.uniform(0.5, 2.0, size=6))
        for reduction in REDUCTIONS:
            for eps in SMOOTHING:
                for kw in ({}, {"weight": w}, {"weight": w, "ignore_index": ii}, {"ignore_index": ii}):
                    m = torch.nn.CrossEntropyLoss(**kw, reduction=reduction, label_smoothing=eps)
                    xa = torch.tensor(x, requires_grad=True)
                    xb = torch.tensor(x, requires_grad=True)
                    ya = m(xa, torch.tensor(t))
                    yb = F.cross_entropy(xb, torch.tensor(t), **kw, reduction=reduction, label_smoothing=eps)
                    np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
                    ya.sum().backward()
                    yb.sum().backward()
                    np.testing.assert_array_equal(xa.grad.numpy(), xb.grad.numpy())
                    wr = None if "weight" not in kw else w.numpy()
                    close(ya.detach().numpy(), np_cross_entropy(x, t, wr, kw.get("ignore_index", -100), eps, reduction)[0])
    m = torch.nn.CrossEntropyLoss()
    assert m.ignore_index == -100 and m.label_smoothing == 0.0 and m.reduction == "mean"


# --------------------------------------------------------------------------- GPU

def _gpu_close(b, a):
    finite = np.isfinite(a)
    scale = max(1.0, float(np.abs(a[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * scale, equal_nan=True)


def _xent_on(dev, x, t, w, ii, eps, reduction, gout, layout="contiguous"):
    """cross_entropy on dev with backward gout: [loss, x.grad] on the CPU."""
    xt = make_tensor(x, layout, device=dev)[0].detach().requires_grad_()
    tt = torch.tensor(t).to(dev)
    wt = None if w is None else torch.tensor(w).to(dev)
    y = F.cross_entropy(xt, tt, wt, ignore_index=ii, reduction=reduction, label_smoothing=eps)
    assert y.device.type == torch.device(dev).type and y.dtype == torch.float32
    y.backward(torch.tensor(gout).to(dev))
    assert xt.grad.device.type == torch.device(dev).type
    return [y.detach().cpu().numpy(), xt.grad.cpu().numpy()]


def test_gpu_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(300)
    for i, shape in enumerate([(5, 3), (300, 1000), (1, 7), (2, 4, 3, 5), (2, 4, 7), (0, 5)]):
        c = shape[1]
        tshape = (shape[0],) + shape[2:]
        x = rng.normal(scale=2.0, size=shape).astype(np.float32)
        w = rng.uniform(0.5, 2.0, size=c).astype(np.float32)
        for j, (ww, mode, eps) in enumerate(((w, "default-some-ignored", 0.1), (None, "custom", 0.0),
                                             (w, "custom", 1.0), (None, "default-none-ignored", 0.1))):
            t, ii = _targets(rng, tshape, c, mode)
            for reduction in REDUCTIONS:
                gout = rng.normal(size=tshape).astype(np.float32) if reduction == "none" else np.array(0.7, np.float32)
                layout = ("contiguous", "transposed", "sliced")[(i + j) % 3]
                res = [_xent_on(dev, x, t, ww, ii, eps, reduction, gout, layout) for dev in ("cpu", gpu)]
                for a, b in zip(*res):
                    assert a.shape == b.shape
                    _gpu_close(b, a)
    # every row ignored: nan mean with a zero gradient, as on the CPU
    x = rng.normal(size=(4, 6)).astype(np.float32)
    t = np.full(4, 3)
    res = [_xent_on(dev, x, t, w[:6] if w.size >= 6 else None, 3, 0.1, "mean", np.array(1.0, np.float32))
           for dev in ("cpu", gpu)]
    assert np.isnan(res[0][0]) and np.isnan(res[1][0])
    np.testing.assert_array_equal(res[1][1], np.zeros((4, 6), np.float32))
    # a target out of range on the GPU: torch's IndexError
    with pytest.raises(IndexError, match=r"^Target 6 is out of bounds\.$"):
        F.cross_entropy(torch.tensor(x).to(gpu), torch.tensor([0, 6, 1, 2]).to(gpu))


def test_gpu_matches_numpy_and_extreme_rows(gpu):  # noqa: F811
    rng = np.random.default_rng(310)
    x = rng.normal(size=(64, 257)).astype(np.float32)
    t, ii = _targets(rng, (64,), 257, "default-some-ignored")
    w = rng.uniform(0.5, 2.0, size=257).astype(np.float32)
    g = rng.normal(size=64).astype(np.float32)
    loss, grad = _xent_on(gpu, x, t, w, ii, 0.1, "none", g)
    val, dx = np_cross_entropy(x.astype(np.float64), t, w.astype(np.float64), ii, 0.1, "none", g.astype(np.float64))
    _close32(loss, val)
    _close32(grad, dx)
    # -inf entries, a NaN row, and huge logits (torch: log 2 and [-0.5, 0.5, 0] for [1e4, 1e4, 0])
    xe = np.array([[-np.inf, 1.0, 2.0], [np.nan, 0.0, 1.0], [1e4, 0.0, -1e4], [1e4, 1e4, 0.0]], dtype=np.float32)
    te = np.array([1, 0, 1, 0])
    loss, grad = _xent_on(gpu, xe, te, None, -100, 0.0, "none", np.ones(4, np.float32))
    val, dx = np_cross_entropy(xe.astype(np.float64), te, None, -100, 0.0, "none")
    np.testing.assert_allclose(loss, val, rtol=1e-5, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(grad, dx, rtol=1e-5, atol=1e-5, equal_nan=True)


# --------------------------------------------------------------------------- against real torch

def test_against_torch():
    th = pytest.importorskip("torch")
    rng = np.random.default_rng(400)
    cases = [((7, 17), False), ((7, 17), True), ((2, 4, 3, 5), True), ((2, 4, 7), False), ((5,), True), ((0, 4), True)]
    for k, (shape, with_w) in enumerate(cases):
        c = shape[0] if len(shape) == 1 else shape[1]
        tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
        x = rng.normal(scale=2.0, size=shape)
        t, ii = _targets(rng, tshape, c, IGNORE_MODES[k % 3])
        w = rng.uniform(0.5, 2.0, size=c) if with_w else None
        for reduction in REDUCTIONS:
            for eps in SMOOTHING:
                g = rng.normal(size=tshape) if reduction == "none" else np.array(1.3)
                outs = []
                for m in (th, torch):
                    xt = m.tensor(x, requires_grad=True)
                    y = m.nn.functional.cross_entropy(xt, m.tensor(t), None if w is None else m.tensor(w), ignore_index=ii,
                                                      reduction=reduction, label_smoothing=eps)
                    y.backward(m.tensor(g))
                    outs.append([y.detach().numpy(), xt.grad.numpy()])
                for a, r in zip(*outs):
                    assert a.shape == r.shape
                    np.testing.assert_allclose(r, a, rtol=1e-10, atol=1e-11, equal_nan=True)
    # -inf entries and NaN rows (not ignored) as torch
    x = np.array([[-np.inf, 1.0, 2.0], [0.0, -np.inf, -np.inf], [np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]])
    t = np.array([1, 0, 1, 2])
    for eps in (0.0, 0.1):
        outs = []
        for m in (th, torch):
            xt = m.tensor(x, requires_grad=True)
            y = m.nn.functional.cross_entropy(xt, m.tensor(t), reduction="none", label_smoothing=eps)
            y.sum().backward()
            outs.append([y.detach().numpy(), xt.grad.numpy()])
        for a, r in zip(*outs):
            np.testing.assert_allclose(r, a, rtol=1e-10, atol=1e-11, equal_nan=True)
