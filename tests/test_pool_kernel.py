"""The core max-pool index op (`_C._max_pool2d`, one kernel per device) behind
F.max_pool1d/2d for float tensors: against the NumPy loop reference of test_nn_spatial_pool on
strided inputs, the GPU against the CPU (values, indices, gradients, NaN), double backward,
float16, and the op's own argument checks."""

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn.functional as F
from conftest import assert_close, gpu, make_tensor  # noqa: F401  (gpu is a fixture)
from rustensor import _rustensor as _C
from rustensor.nn._pooling import _empty_window
from test_nn_spatial_pool import out_size, ref_max_pool

LAYOUTS = ("contiguous", "transposed", "sliced")


def random_config(rng):
    while True:
        k = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        s = [int(rng.integers(1, 4)), int(rng.integers(1, 3))]
        d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        p = [int(rng.integers(0, (k[i] - 1) * d[i] // 2 + 2)) for i in range(2)]
        if any(2 * p[i] > (k[i] - 1) * d[i] + 1 for i in range(2)):
            continue
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        ceil = bool(rng.random() < 0.5)
        outs = [out_size(n, k[i], s[i], p[i], d[i], ceil) for i, n in enumerate((h, w))]
        if any(o < 1 for o in outs) or _empty_window((h, w), k, s, p, d, outs):
            continue  # a window with no input element: see test_core_op_argument_errors
        return dict(n=int(rng.choice([0, 1, 3])), c=int(rng.integers(1, 4)), h=h, w=w, k=k, s=s, p=p, d=d, ceil=ceil)


def data(rng, cfg, nan=False):
    # small integers: many ties, so the first-maximum rule is exercised
    a = rng.integers(-3, 4, size=(cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(np.float64)
    if nan and a.size:
        a.flat[rng.integers(0, a.size, size=max(1, a.size // 7))] = np.nan
    return a


@pytest.mark.parametrize("seed", range(30))
def test_strided_inputs_match_the_loop_reference(seed):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    a = data(rng, cfg)
    x, ref = make_tensor(a, LAYOUTS[seed % 3])
    y, i = F.max_pool2d(x, cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"], return_indices=True)
    ry, ri = ref_max_pool(ref, cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"])
    assert i.dtype == torch.int64 and y.dtype == torch.float64
    np.testing.assert_array_equal(y.numpy(), ry)
    np.testing.assert_array_equal(i.numpy(), ri)


def test_gradient_double_backward_and_float16():
    rng = np.random.default_rng(1)
    a = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float64)  # no ties
    x = torch.tensor(a, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: F.max_pool2d(t, (3, 2), (2, 1), (1, 1), (1, 2), True), (x,))
    assert torch.autograd.gradgradcheck(lambda t: F.max_pool2d(t, 2, 1, 1), (x,))
    # float16 pools through float32 and keeps its dtype; its gradient comes back as float16
    h = torch.tensor(a.astype(np.float16), requires_grad=True)
    y = F.max_pool2d(h, 2)
    assert y.dtype == torch.float16
    np.testing.assert_array_equal(y.detach().float().numpy(), ref_max_pool(a.astype(np.float16).astype(np.float64), [2, 2], [2, 2], [0, 0], [1, 1], False)[0])
    y.sum().backward()
    assert h.grad.dtype == torch.float16 and float(h.grad.sum()) == y.numel()


def test_max_pool1d_goes_through_the_same_op():
    rng = np.random.default_rng(2)
    a = rng.integers(-3, 4, size=(2, 3, 11)).astype(np.float64)
    y, i = F.max_pool1d(torch.tensor(a), 3, 2, 1, 2, True, return_indices=True)
    ry, ri = ref_max_pool(a, [3], [2], [1], [2], True)
    np.testing.assert_array_equal(y.numpy(), ry)
    np.testing.assert_array_equal(i.numpy(), ri)


def test_core_op_argument_errors():
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        _C._max_pool2d(x, [2, 2], [2, 2], [2, 0], [1, 1], [2, 2])
    with pytest.raises(RuntimeError, match="outside the input"):
        _C._max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], [3, 2])
    with pytest.raises(RuntimeError, match="holds no element"):
        _C._max_pool2d(torch.zeros(1, 1, 1, 1), [2, 3], [1, 1], [1, 1], [2, 1], [1, 1])
    # F.max_pool2d gives torch's -inf there (through the composite path)
    y = F.max_pool2d(torch.tensor([[[[2.0]]]]), (2, 3), 1, 1, (2, 1), True)
    assert y.item() == float("-inf")
    with pytest.raises(RuntimeError, match="positive"):
        _C._max_pool2d(x, [0, 2], [2, 2], [0, 0], [1, 1], [2, 2])
    with pytest.raises(RuntimeError, match="4-d"):
        _C._max_pool2d(torch.zeros(4, 4), [2, 2], [2, 2], [0, 0], [1, 1], [2, 2])
    with pytest.raises(TypeError, match="float"):
        _C._max_pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.int64), [2, 2], [2, 2], [0, 0], [1, 1], [2, 2])
    with pytest.raises(RuntimeError, match="two non-negative ints"):
        _C._max_pool2d(x, [2], [2, 2], [0, 0], [1, 1], [2, 2])
    # integer inputs keep the composite path
    yi = F.max_pool2d(torch.arange(16).reshape(1, 1, 4, 4), 2)
    np.testing.assert_array_equal(yi.numpy(), [[[[5, 7], [13, 15]]]])


@pytest.mark.parametrize("seed", range(12))
def test_gpu_matches_cpu(gpu, seed):  # noqa: F811
    rng = np.random.default_rng(100 + seed)
    cfg = random_config(rng)
    a = data(rng, cfg, nan=seed % 2 == 1).astype(np.float32)
    res = {}
    for dev in ("cpu", gpu):
        x = make_tensor(a, LAYOUTS[seed % 3], device=dev)[0].detach().requires_grad_()
        y, i = F.max_pool2d(x, cfg["k"], cfg["s"], cfg["p"], cfg["d"], cfg["ceil"], return_indices=True)
        assert y.device.type == torch.device(dev).type
        g = torch.tensor(np.arange(y.numel(), dtype=np.float32).reshape(tuple(y.shape))).to(dev)
        y.backward(g)
        res[str(dev)] = (y.detach().cpu().numpy(), i.cpu().numpy(), x.grad.cpu().numpy())
    (cy, ci, cg), (gy, gi, gg) = res.values()
    np.testing.assert_array_equal(gi, ci)
    np.testing.assert_array_equal(gy, cy)  # NaN where the CPU has NaN
    assert_close(torch.tensor(gg), cg, rtol=1e-6, atol=1e-6)
