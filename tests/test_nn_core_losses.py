"""Every loss (functional and module) against a float64 NumPy reference for each reduction,
with finite-difference gradients, numerically extreme inputs and torch's bad-input errors."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn.functional as F
from rustensor import nn
from conftest import assert_close

F64 = torch.float64
gradcheck = torch.autograd.gradcheck
REDUCTIONS = ["mean", "sum", "none"]


def _red(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def _log_softmax(a, axis):
    m = a.max(axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis, keepdims=True))


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
Y = RNG.standard_normal((4, 5))


# ------------------------------------------------------------------------------ regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_regression_losses(reduction):
    d = X - Y
    refs = {
        "mse_loss": (F.mse_loss, d * d, {}),
        "l1_loss": (F.l1_loss, np.abs(d), {}),
        "smooth_l1_loss": (F.smooth_l1_loss, np.where(np.abs(d) < 0.7, 0.5 * d * d / 0.7, np.abs(d) - 0.35), {"beta": 0.7}),
        "huber_loss": (F.huber_loss, np.where(np.abs(d) < 0.7, 0.5 * d * d, 0.7 * (np.abs(d) - 0.35)), {"delta": 0.7}),
    }
    for name, (fn, ref, kw) in refs.items():
        x, y = _t(X, True), _t(Y, True)
        assert_close(fn(x, y, reduction=reduction, **kw), _red(ref, reduction), rtol=1e-12, atol=1e-12)
        assert gradcheck(lambda a, b: fn(a, b, reduction=reduction, **kw), (x, y)), name


def test_regression_loss_modules_and_broadcast_warning():
    x, y = _t(X), _t(Y)
    assert_close(nn.MSELoss(reduction="sum")(x, y), ((X - Y) ** 2).sum())
    assert_close(nn.L1Loss()(x, y), np.abs(X - Y).mean())
    assert_close(nn.SmoothL1Loss(beta=0.0)(x, y), np.abs(X - Y).mean())
    assert_close(nn.HuberLoss(delta=2.0)(x, y), np.where(np.abs(X - Y) < 2, 0.5 * (X - Y) ** 2, 2 * (np.abs(X - Y) - 1)).mean())
    with pytest.warns(UserWarning, match="that is different to the input size"):
        F.mse_loss(x, y[:1])
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.mse_loss(x, y, reduction="bogus")
    assert_close(F.mse_loss(x, y, size_average=False), ((X - Y) ** 2).sum())  # the legacy arguments
    empty = F.mse_loss(torch.zeros(0, dtype=F64), torch.zeros(0, dtype=F64))
    assert math.isnan(float(empty))


# ------------------------------------------------------------------------------ cross entropy / nll
def _ce_ref(x, t, w=None, ignore=-100, reduction="mean", ls=0.0):
    """Cross entropy with class indices, class dim 1 (any trailing dims), torch's formulas."""
    logp = _log_softmax(x, 1)
    c = x.shape[1]
    w = np.ones(c) if w is None else w
    valid = t != ignore
    safe = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wt = w[safe] * valid
    nll = -picked * wt
    smooth = -(logp * w.reshape([1, c] + [1] * (x.ndim - 2))).sum(1) * valid
    if reduction == "none":
        return (1 - ls) * nll + ls / c * smooth
    if reduction == "sum":
        return (1 - ls) * nll.sum() + ls / c * smooth.sum()
    den = wt.sum()
    return (1 - ls) * nll.sum() / den + ls / c * smooth.sum() / den


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(reduction, ls, weighted):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4)) * 3
    t = rng.integers(0, 4, 6)
    t[2] = -100
    w = rng.uniform(0.5, 2, 4) if weighted else None
    xt = _t(x, True)
    wt = None if w is None else _t(w)
    out = F.cross_entropy(xt, _t(t), weight=wt, reduction=reduction, label_smoothing=ls)
    assert_close(out, _ce_ref(x, t, w, reduction=reduction, ls=ls), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a: F.cross_entropy(a, _t(t), weight=wt, reduction=reduction, label_smoothing=ls), (xt,))
    mod = nn.CrossEntropyLoss(weight=wt, reduction=reduction, label_smoothing=ls)
    assert_close(mod(xt, _t(t)), _ce_ref(x, t, w, reduction=reduction, ls=ls), rtol=1e-12, atol=1e-12)


def test_cross_entropy_k_dim_ignore_index_and_unbatched():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 2))
    t = rng.integers(0, 3, (2, 4, 2))
    t[0, 1, 1] = 1
    w = rng.uniform(0.5, 2, 3)
    out = F.cross_entropy(_t(x, True), _t(t), weight=_t(w), ignore_index=1, label_smoothing=0.1)
    assert_close(out, _ce_ref(x, t, w, ignore=1, ls=0.1), rtol=1e-12, atol=1e-12)
    assert_close(F.cross_entropy(_t(x), _t(t), reduction="none"), _ce_ref(x, t, reduction="none"), rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(5)
    assert_close(F.cross_entropy(_t(v), _t(np.array(3))), -_log_softmax(v[None], 1)[0, 3])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 2))
    p = rng.random((4, 3, 2))
    p /= p.sum(1, keepdims=True)
    w = rng.uniform(0.5, 2, 3)
    ls = 0.1
    q = p * (1 - ls) + ls / 3
    per = -(_log_softmax(x, 1) * q * w.reshape(1, 3, 1)).sum(1)
    ref = {"mean": per.sum() / (x.size // 3), "sum": per.sum(), "none": per}[reduction]
    xt = _t(x, True)
    assert_close(F.cross_entropy(xt, _t(p), weight=_t(w), reduction=reduction, label_smoothing=ls), ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, reduction=reduction), (xt, _t(p, True)))


def test_cross_entropy_is_stable_for_huge_logits():
    x = _t(np.array([[1000.0, 0.0, -1000.0], [-500.0, 500.0, 0.0]]), True)
    out = F.cross_entropy(x, _t(np.array([0, 0])))
    assert float(out) == pytest.approx(500.0)
    out.backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_cross_entropy_errors():
    x = torch.randn(3, 4)
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.cross_entropy(x, torch.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds."):
        F.nll_loss(x, torch.tensor([0, -2, 1]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        F.cross_entropy(x, torch.tensor([0, 1, 2], dtype=torch.int32))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.cross_entropy(x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)."):
        F.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2, 4\]"):
        F.cross_entropy(torch.randn(2, 4, 3), torch.zeros(2, 4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities, got Long"):
        F.cross_entropy(x, torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        F.nll_loss(x, torch.zeros(3, 2, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes or no classes"):
        F.cross_entropy(x, torch.tensor([0, 1, 2]), weight=torch.ones(3))


def test_all_ignored_gives_nan_with_zero_gradient():
    x = _t(np.random.default_rng(4).standard_normal((3, 4)), True)
    out = F.cross_entropy(x, torch.full((3,), -100, dtype=torch.int64))
    assert math.isnan(float(out))
    out.backward()
    assert (x.grad.numpy() == 0).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    rng = np.random.default_rng(5)
    lp = _log_softmax(rng.standard_normal((5, 3)), 1)
    t = np.array([0, 2, 1, 2, 0])
    w = np.array([0.5, 1.0, 2.0])
    wt = w[t]
    per = -lp[np.arange(5), t] * wt
    ref = {"mean": per.sum() / wt.sum(), "sum": per.sum(), "none": per}[reduction]
    x = _t(lp, True)
    assert_close(F.nll_loss(x, _t(t), _t(w), reduction=reduction), ref, rtol=1e-12, atol=1e-12)
    assert_close(nn.NLLLoss(_t(w), reduction=reduction)(x, _t(t)), ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a: F.nll_loss(a, _t(t), _t(w), reduction=reduction), (x,))


# ------------------------------------------------------------------------------ binary losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_and_bce_with_logits(reduction):
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, (3, 4))
    t = rng.random((3, 4))
    w = rng.uniform(0.5, 1.5, 4)
    ref = -(t * np.log(p) + (1 - t) * np.log(1 - p)) * w
    pt = _t(p, True)
    assert_close(F.binary_cross_entropy(pt, _t(t), _t(w), reduction=reduction), _red(ref, reduction), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a: F.binary_cross_entropy(a, _t(t), reduction=reduction), (pt,))
    z = rng.standard_normal((3, 4)) * 4
    pw = rng.uniform(0.5, 3, 4)
    lref = ((1 - t) * z + (1 + (pw - 1) * t) * _softplus(-z)) * w
    zt = _t(z, True)
    out = F.binary_cross_entropy_with_logits(zt, _t(t), _t(w), reduction=reduction, pos_weight=_t(pw))
    assert_close(out, _red(lref, reduction), rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=_t(pw), reduction=reduction), (zt, _t(t, True)))
    assert_close(nn.BCEWithLogitsLoss(pos_weight=_t(pw), reduction=reduction)(zt, _t(t)),
                 _red((1 - t) * z + (1 + (pw - 1) * t) * _softplus(-z), reduction), rtol=1e-12, atol=1e-12)
    assert_close(nn.BCELoss(reduction=reduction)(pt, _t(t)), _red(ref / w, reduction), rtol=1e-12, atol=1e-12)


def test_binary_losses_at_the_extremes():
    out = F.binary_cross_entropy(_t(np.array([0.0, 1.0, 1.0])), _t(np.array([1.0, 0.0, 1.0])), reduction="none")
    np.testing.assert_allclose(out.numpy(), [100.0, 100.0, 0.0])  # logs clamped at -100, as torch
    z = _t(np.array([-800.0, 800.0, 0.0]), True)
    out = F.binary_cross_entropy_with_logits(z, _t(np.array([1.0, 0.0, 0.5])), reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), [800.0, 800.0, math.log(2)])
    out.sum().backward()
    assert np.isfinite(z.grad.numpy()).all()
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(_t(np.array([1.5])), _t(np.array([1.0])))
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(_t(np.array([0.5, 0.5])), _t(np.array([1.0])))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(_t(np.array([0.5, 0.5])), _t(np.array([1.0])))


# ------------------------------------------------------------------------------ divergences and margins
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(reduction):
    rng = np.random.default_rng(7)
    lp = _log_softmax(rng.standard_normal((3, 4)), 1)
    q = rng.random((3, 4))
    q[0, 0] = 0.0  # 0·log 0 = 0
    ref = np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0) - q * lp
    expect = ref.sum() / 3 if reduction == "batchmean" else _red(ref, reduction)
    x = _t(lp, True)
    with pytest.warns(UserWarning) if reduction == "mean" else _nothing():
        out = F.kl_div(x, _t(q), reduction=reduction)
    assert_close(out, expect, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a: F.kl_div(a, _t(q), reduction="sum"), (x,))
    lq = np.log(q[1:] + 0.1)
    assert_close(nn.KLDivLoss(reduction="sum", log_target=True)(x[1:], _t(lq)), (np.exp(lq) * (lq - lp[1:])).sum())


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_embedding_losses(reduction):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    y = np.where(rng.random(5) < 0.5, 1.0, -1.0)
    cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
    ref = np.where(y == 1, 1 - cos, np.maximum(cos - 0.1, 0))
    at, bt = _t(a, True), _t(b, True)
    assert_close(F.cosine_embedding_loss(at, bt, _t(y), 0.1, reduction=reduction), _red(ref, reduction))
    assert gradcheck(lambda u, v: F.cosine_embedding_loss(u, v, _t(y), 0.1, reduction=reduction), (at, bt))
    x1, x2 = a[:, 0], b[:, 0]
    assert_close(nn.MarginRankingLoss(0.2, reduction=reduction)(_t(x1), _t(x2), _t(y)),
                 _red(np.maximum(-y * (x1 - x2) + 0.2, 0), reduction))
    yy = np.where(rng.random((5, 3)) < 0.5, 1.0, -1.0)
    assert_close(F.hinge_embedding_loss(at, _t(yy), 0.5, reduction=reduction),
                 _red(np.where(yy == 1, a, np.maximum(0.5 - a, 0)), reduction))
    assert_close(F.soft_margin_loss(at, _t(yy), reduction=reduction), _red(_softplus(-yy * a), reduction))
    n = rng.standard_normal((5, 3))
    dp = np.linalg.norm(a - b + 1e-6, axis=1)
    dn = np.linalg.norm(a - n + 1e-6, axis=1)
    ds = np.linalg.norm(b - n + 1e-6, axis=1)
    assert_close(F.triplet_margin_loss(at, bt, _t(n), reduction=reduction), _red(np.maximum(dp - dn + 1, 0), reduction))
    assert_close(nn.TripletMarginLoss(margin=0.5, swap=True, reduction=reduction)(at, bt, _t(n)),
                 _red(np.maximum(dp - np.minimum(dn, ds) + 0.5, 0), reduction))
    assert gradcheck(lambda u, v: F.triplet_margin_loss(u, v, _t(n), reduction=reduction), (at, bt))
    tgt = (rng.random((5, 3)) < 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2, 3)
    ml = -(tgt * -_softplus(-a) + (1 - tgt) * -_softplus(a)) * w
    assert_close(F.multilabel_soft_margin_loss(at, _t(tgt), _t(w), reduction=reduction), _red(ml.mean(1), reduction))
    ti = rng.integers(0, 3, 5)
    z = np.maximum(a - a[np.arange(5), ti][:, None] + 1, 0)
    z[np.arange(5), ti] = 0
    assert_close(F.multi_margin_loss(at, _t(ti), reduction=reduction), _red(z.sum(1) / 3, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_and_poisson_nll(reduction):
    rng = np.random.default_rng(9)
    mu, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    var = rng.uniform(0.2, 2, (4, 3))
    ref = 0.5 * (np.log(var) + (mu - y) ** 2 / var) + 0.5 * math.log(2 * math.pi)
    mt, vt = _t(mu, True), _t(var, True)
    assert_close(F.gaussian_nll_loss(mt, _t(y), vt, full=True, reduction=reduction), _red(ref, reduction))
    assert gradcheck(lambda m, v: F.gaussian_nll_loss(m, _t(y), v, reduction=reduction), (mt, vt))
    v1 = rng.uniform(0.2, 2, 4)  # one variance per sample, broadcast over the last dim
    ref1 = 0.5 * (np.log(v1[:, None]) + (mu - y) ** 2 / v1[:, None])
    assert_close(nn.GaussianNLLLoss(reduction=reduction)(mt, _t(y), _t(v1)), _red(ref1, reduction))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(mt, _t(y), _t(np.ones(3)))
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(mt, _t(y), _t(-var))
    counts = rng.integers(0, 5, (4, 3)).astype(np.float64)
    lam = rng.standard_normal((4, 3))
    stir = np.where(counts > 1, counts * np.log(np.maximum(counts, 1)) - counts + 0.5 * np.log(2 * math.pi * np.maximum(counts, 1)), 0)
    pref = np.exp(lam) - counts * lam + stir
    lt = _t(lam, True)
    assert_close(F.poisson_nll_loss(lt, _t(counts), full=True, reduction=reduction), _red(pref, reduction))
    assert gradcheck(lambda a: F.poisson_nll_loss(a, _t(counts), reduction=reduction), (lt,))
    rate = np.exp(lam)
    assert_close(nn.PoissonNLLLoss(log_input=False, reduction=reduction)(_t(rate), _t(counts)),
                 _red(rate - counts * np.log(rate + 1e-8), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4))
    t = np.array([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 0, 0, 0]])
    per = []
    for r in range(3):
        listed = []
        for v in t[r]:
            if v < 0:
                break
            listed.append(v)
        others = [j for j in range(4) if j not in listed]
        per.append(sum(max(0.0, 1 - (x[r, k] - x[r, j])) for k in listed for j in others) / 4)
    xt = _t(x, True)
    assert_close(nn.MultiLabelMarginLoss(reduction=reduction)(xt, _t(t)), _red(np.array(per), reduction))
    assert gradcheck(lambda a: F.multilabel_margin_loss(a, _t(t), reduction=reduction), (xt,))


def test_remaining_gradchecks():
    rng = np.random.default_rng(11)
    a = _t(rng.standard_normal((4, 3)), True)
    b = _t(rng.standard_normal((4, 3)), True)
    y = _t(np.where(rng.random(4) < 0.5, 1.0, -1.0))
    yy = _t(np.where(rng.random((4, 3)) < 0.5, 1.0, -1.0))
    ti = _t(rng.integers(0, 3, 4))
    tgt = _t((rng.random((4, 3)) < 0.5).astype(np.float64))
    assert gradcheck(lambda u, v: F.margin_ranking_loss(u[:, 0], v[:, 0], y, 0.1), (a, b))
    assert gradcheck(lambda u: F.hinge_embedding_loss(u, yy, 0.5), (a,))
    assert gradcheck(lambda u: F.soft_margin_loss(u, yy), (a,))
    assert gradcheck(lambda u: F.multilabel_soft_margin_loss(u, tgt, _t(np.array([0.5, 1.0, 2.0]))), (a,))
    assert gradcheck(lambda u: F.multi_margin_loss(u, ti, p=2, margin=0.7), (a,))
    xk = _t(rng.standard_normal((2, 3, 2, 2)), True)
    tk = _t(rng.integers(0, 3, (2, 2, 2)))
    assert gradcheck(lambda u: F.cross_entropy(u, tk, label_smoothing=0.1, ignore_index=2), (xk,))
    assert gradcheck(lambda u: F.instance_norm(u), (xk,))
    assert gradcheck(lambda u: F.local_response_norm(u, 2, 0.1), (xk,))


@pytest.mark.parametrize("shape", [(), (0,), (3, 4), (2, 0, 3)])
def test_pointwise_losses_on_0d_empty_and_strided_inputs(shape):
    from conftest import LAYOUTS
    from conftest import make_tensor as _make_tensor

    def make_tensor(a, layout):
        # conftest's helper turns a 0-d array into shape (1,) (np.ascontiguousarray)
        return (torch.tensor(a.copy()), a.copy()) if a.ndim == 0 else _make_tensor(a, layout)

    rng = np.random.default_rng(12)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    p, q = rng.uniform(0.05, 0.95, shape), rng.random(shape)
    cases = [
        (F.mse_loss, a, b, (a - b) ** 2),
        (F.l1_loss, a, b, np.abs(a - b)),
        (F.huber_loss, a, b, np.where(np.abs(a - b) < 1, 0.5 * (a - b) ** 2, np.abs(a - b) - 0.5)),
        (F.binary_cross_entropy, p, q, -(q * np.log(p) + (1 - q) * np.log(1 - p))),
        (F.binary_cross_entropy_with_logits, a, q, (1 - q) * a + _softplus(-a)),
        (F.soft_margin_loss, a, np.sign(b), _softplus(-np.sign(b) * a)),
    ]
    for fn, x, y, ref in cases:
        for layout in LAYOUTS:
            xt, xr = make_tensor(x, layout)
            yt, yr = make_tensor(y, layout)
            assert tuple(xt.shape) == shape
            if layout == "expanded":  # an expanded view repeats rows: recompute the reference on them
                ref_l = fn(torch.tensor(xr), torch.tensor(yr), reduction="none").numpy()
            else:
                ref_l = ref
            assert_close(fn(xt, yt, reduction="none"), ref_l, rtol=1e-12, atol=1e-12)
            assert_close(fn(xt, yt, reduction="sum"), np.asarray(ref_l).sum(), rtol=1e-12, atol=1e-12)
            mean = fn(xt, yt)
            if np.asarray(ref_l).size == 0:
                assert math.isnan(float(mean))  # torch: the mean of nothing is nan
            else:
                assert_close(mean, np.asarray(ref_l).mean(), rtol=1e-12, atol=1e-12)


def test_broadcast_target_warns_and_broadcasts():
    x = _t(np.arange(6.0).reshape(2, 3))
    y = _t(np.array([1.0, 2.0, 3.0]))
    with pytest.warns(UserWarning, match="This will likely lead to incorrect results due to broadcasting"):
        out = F.mse_loss(x, y, reduction="none")
    assert_close(out, (np.arange(6.0).reshape(2, 3) - np.array([1.0, 2.0, 3.0])) ** 2)
