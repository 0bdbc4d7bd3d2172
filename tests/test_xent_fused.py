"""The fused class-index cross-entropy (`_rustensor._cross_entropy`, reached through
F.cross_entropy): losses against a float64 NumPy reference with class weights, ignored rows,
label smoothing and every reduction; gradients by gradcheck/gradgradcheck; argument errors;
the GPU kernel against the CPU one."""
import numpy as np
import pytest

import rustensor as torch
from conftest import gpu  # noqa: F401  (a fixture)
from rustensor import _rustensor as _C

F = torch.nn.functional


def reference(x, t, w, ignore, eps, reduction):
    """torch's cross-entropy in float64 NumPy over rows of x (N, C)."""
    n, c = x.shape
    m = x.max(1, keepdims=True)
    lse = (m + np.log(np.exp(x - m).sum(1, keepdims=True)))[:, 0]
    ww = np.ones(c) if w is None else w
    loss, tw = np.zeros(n), np.zeros(n)
    for r in range(n):
        if t[r] == ignore:
            continue
        loss[r] = (1 - eps) * ww[t[r]] * (lse[r] - x[r, t[r]]) + eps / c * (ww * (lse[r] - x[r])).sum()
        tw[r] = ww[t[r]]
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / tw.sum() if tw.sum() else np.nan


@pytest.mark.parametrize("n,c", [(5, 3), (17, 40), (1, 1000), (64, 10), (0, 4), (3, 1), (7, 16), (7, 17)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_values_match_numpy(n, c, weighted, eps):
    rng = np.random.default_rng(n * 100 + c)
    x = rng.standard_normal((n, c))
    t = rng.integers(0, c, n)
    if n > 2:
        t[1] = -100
    w = rng.random(c) + 0.5 if weighted else None
    for reduction in ("mean", "sum", "none"):
        got = F.cross_entropy(torch.tensor(x), torch.tensor(t), weight=None if w is None else torch.tensor(w),
                              label_smoothing=eps, reduction=reduction)
        want = reference(x, t, w, -100, eps, reduction)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_strided_logits_custom_ignore_index_and_kdim():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 9))
    xt = torch.tensor(x.T.copy()).t()[::2]  # a transposed, sliced view
    t = rng.integers(0, 9, 12)[::2]
    got = F.cross_entropy(xt, torch.tensor(t), ignore_index=int(t[0]), reduction="none")
    np.testing.assert_allclose(got.numpy(), reference(x[::2], t, None, int(t[0]), 0.0, "none"), rtol=1e-10)
    # (N, C, d1, d2): the classes along dim 1
    x4 = rng.standard_normal((2, 4, 3, 5))
    t4 = rng.integers(0, 4, (2, 3, 5))
    got = F.cross_entropy(torch.tensor(x4), torch.tensor(t4), reduction="none")
    rows = np.moveaxis(x4, 1, -1).reshape(-1, 4)
    np.testing.assert_allclose(got.numpy(), reference(rows, t4.reshape(-1), None, -100, 0.0, "none").reshape(2, 3, 5), rtol=1e-10)
    # one unbatched row and a 0-d target
    v = rng.standard_normal(6)
    got = F.cross_entropy(torch.tensor(v), torch.tensor(4))
    np.testing.assert_allclose(got.numpy(), reference(v[None], np.array([4]), None, -100, 0.0, "mean"), rtol=1e-10)


def test_gradients_match_softmax_minus_one_hot():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5))
    t = rng.integers(0, 5, 6)
    t[2] = -100
    w = rng.random(5) + 0.5
    g = rng.standard_normal(6)
    xt = torch.tensor(x, requires_grad=True)
    F.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w), label_smoothing=0.1, reduction="none").backward(torch.tensor(g))
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = np.zeros_like(x)
    for r in range(6):
        if t[r] == -100:
            continue
        onehot = np.eye(5)[t[r]]
        want[r] = g[r] * (0.9 * w[t[r]] * (p[r] - onehot) + 0.1 / 5 * (w.sum() * p[r] - w))
    np.testing.assert_allclose(xt.grad.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_gradcheck_and_gradgradcheck(shape):
    rng = np.random.default_rng(5)
    c = shape[1]
    x = torch.tensor(rng.standard_normal(shape), requires_grad=True)
    t = rng.integers(0, c, (shape[0],) + shape[2:])
    t.reshape(-1)[0] = -100
    t, w = torch.tensor(t), torch.tensor(rng.random(c) + 0.5)

    def f(x):
        return F.cross_entropy(x, t, weight=w, label_smoothing=0.15)

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))
    assert torch.autograd.gradcheck(lambda x: F.cross_entropy(x, t, reduction="none"), (x,))


def test_large_launch_split_over_threads():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4096, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 4096)
    xt = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, torch.tensor(t))
    loss.backward()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(loss.item(), reference(x64, t, None, -100, 0.0, "mean"), rtol=1e-5)
    p = np.exp(x64 - x64.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(4096), t] -= 1
    np.testing.assert_allclose(xt.grad.numpy(), p / 4096, rtol=1e-4, atol=1e-9)


def test_extreme_logits():
    big = torch.tensor([[1e30, 0.0, -1e30], [0.0, float("-inf"), 1.0], [0.0, float("nan"), 1.0]], dtype=torch.float64)
    got = F.cross_entropy(big, torch.tensor([0, 2, 0]), reduction="none").numpy()
    assert got[0] == 0.0
    np.testing.assert_allclose(got[1], np.log(1 + np.e) - 1.0, rtol=1e-12)
    assert np.isnan(got[2])


@pytest.mark.parametrize("dt", [torch.float16, torch.bfloat16])
def test_half_precision_computes_in_float32(dt):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 11)).astype(np.float32)
    t = torch.tensor(rng.integers(0, 11, 8))
    xh = torch.tensor(x).to(dt).requires_grad_(True)
    got = F.cross_entropy(xh, t, label_smoothing=0.1)
    assert got.dtype == dt
    want = F.cross_entropy(xh.detach().float(), t, label_smoothing=0.1)
    np.testing.assert_allclose(got.float().item(), want.item(), rtol=1e-2)
    got.backward()
    assert xh.grad.dtype == dt


def test_argument_errors():
    x = torch.zeros(3, 4)
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        F.cross_entropy(x, torch.tensor([0, 5, 1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.cross_entropy(x, torch.tensor([0, 1, 1]), weight=torch.ones(3))
    with pytest.raises(RuntimeError):
        F.cross_entropy(x, torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="2-d"):
        _C._cross_entropy(torch.zeros(2, 3, 4), torch.tensor([0, 1]), None, -100, 0.0)
    with pytest.raises(RuntimeError, match="int64 target"):
        _C._cross_entropy(x, torch.tensor([0, 1, 1], dtype=torch.int32), None, -100, 0.0)
    with pytest.raises(RuntimeError, match="int64 target"):
        _C._cross_entropy(x, torch.tensor([0, 1]), None, -100, 0.0)
    # the kernel itself gives an out-of-range target no loss rather than reading outside the row
    assert _C._cross_entropy(x, torch.tensor([0, 9, 1]), None, -100, 0.0).numpy()[1] == 0.0


def test_module_matches_functional():
    rng = np.random.default_rng(8)
    x = torch.tensor(rng.standard_normal((9, 6)))
    t = torch.tensor(rng.integers(0, 6, 9))
    w = torch.tensor(rng.random(6) + 0.5)
    m = torch.nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.05, reduction="sum")
    np.testing.assert_allclose(m(x, t).item(), F.cross_entropy(x, t, weight=w, ignore_index=2, label_smoothing=0.05, reduction="sum").item())


@pytest.mark.parametrize("shape", [(5, 3), (300, 1000), (1, 7), (2, 4, 6)])
def test_gpu_matches_cpu(gpu, shape):  # noqa: F811
    rng = np.random.default_rng(9)
    c = shape[1]
    x = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, c, (shape[0],) + shape[2:])
    if t.size > 1:
        t.reshape(-1)[0] = -100
    w = (rng.random(c) + 0.5).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        xt = torch.tensor(x, device=dev, requires_grad=True)
        loss = F.cross_entropy(xt, torch.tensor(t, device=dev), weight=torch.tensor(w, device=dev), label_smoothing=0.1, reduction="none")
        loss.backward(torch.ones_like(loss))
        res.append((loss.detach().cpu().numpy(), xt.grad.cpu().numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-5, atol=1e-6)
