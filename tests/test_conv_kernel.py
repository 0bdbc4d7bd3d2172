"""The core conv2d op (`_C._conv2d`: im2col + gemm kernel, three-kernel backward) against a
NumPy float64 loop reference, float64 finite differences, torch's errors, and real torch when
it is importable; plus the `nn._conv_kernel.conv2d_core` hook that F.conv1d/conv2d call."""

import numpy as np
import pytest

import rustensor as torch
from conftest import assert_close, make_tensor
from rustensor import _rustensor as _C
from rustensor.nn._conv_kernel import conv2d_core

F64 = torch.float64

try:
    import torch as real_torch  # noqa: F401  (only with /work/torchvenv-style installs)

    HAVE_TORCH = real_torch.__name__ == "torch" and hasattr(real_torch, "nn")
except ImportError:
    HAVE_TORCH = False


def conv_ref(x, w, b, stride, pads, dilation, groups):
    """float64 loop reference: pads = (top, bottom, left, right)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + pads[0] + pads[1], wd + pads[2] + pads[3]))
    xp[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + wd] = x
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    oh = (xp.shape[2] - eh) // stride[0] + 1
    ow = (xp.shape[3] - ew) // stride[1] + 1
    og = o // groups
    y = np.zeros((n, o, oh, ow))
    for g in range(groups):
        wg = w[g * og:(g + 1) * og].reshape(og, -1)
        for i in range(oh):
            for j in range(ow):
                y0, x0 = i * stride[0], j * stride[1]
                patch = xp[:, g * cg:(g + 1) * cg, y0:y0 + eh:dilation[0], x0:x0 + ew:dilation[1]]
                y[:, g * og:(g + 1) * og, i, j] = patch.reshape(n, wg.shape[1]) @ wg.T
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def random_config(rng):
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        cg, og = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = [int(rng.integers(1, 4)), int(rng.integers(1, 3))]
        dilation = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        pads = [int(v) for v in rng.integers(0, 3, size=4)]
        if rng.random() < 0.5:  # torch's symmetric form
            pads = [pads[0], pads[0], pads[2], pads[2]]
        h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        if dilation[0] * (kh - 1) + 1 > h + pads[0] + pads[1] or dilation[1] * (kw - 1) + 1 > w + pads[2] + pads[3]:
            continue
        n = int(rng.choice([0, 1, 3]))
        return dict(n=n, c=groups * cg, h=h, w=w, o=groups * og, kh=kh, kw=kw, stride=stride, pads=pads,
                    dilation=dilation, groups=groups, bias=bool(rng.random() < 0.6))


LAYOUTS = ("contiguous", "transposed", "sliced")


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_matches_loop_reference(seed, dtype):
    rng = np.random.default_rng(seed)
    cfg = random_config(rng)
    npd = np.float32 if dtype == torch.float32 else np.float64
    xa = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(npd)
    wa = rng.standard_normal((cfg["o"], cfg["c"] // cfg["groups"], cfg["kh"], cfg["kw"])).astype(npd)
    ba = rng.standard_normal(cfg["o"]).astype(npd) if cfg["bias"] else None
    # the input and weight in a layout that the kernel must read through strides
    x, xr = make_tensor(xa, LAYOUTS[seed % 3])
    w, wr = make_tensor(wa, LAYOUTS[(seed // 3) % 3])
    b = None if ba is None else make_tensor(ba, "sliced" if seed % 2 else "contiguous")[0]
    y = _C._conv2d(x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"])
    ref = conv_ref(xr, wr, ba, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"])
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    assert_close(y, ref.astype(npd), **tol)
    assert y.is_contiguous()


def test_float16_widens_to_float32():
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((2, 4, 6, 5)).astype(np.float16)
    wa = rng.standard_normal((6, 2, 3, 3)).astype(np.float16)
    ba = rng.standard_normal(6).astype(np.float16)
    y = _C._conv2d(torch.tensor(xa), torch.tensor(wa), torch.tensor(ba), [2, 1], [1, 1], [1, 1], 2)
    ref = conv_ref(xa, wa, ba, (2, 1), (1, 1, 1, 1), (1, 1), 2)
    assert_close(y, ref.astype(np.float16), rtol=1e-2, atol=1e-2)


def test_unbatched_input_and_empty_channels():
    rng = np.random.default_rng(2)
    xa, wa = rng.standard_normal((3, 5, 5)), rng.standard_normal((2, 3, 2, 2))
    y = _C._conv2d(torch.tensor(xa), torch.tensor(wa), None, 1, 1, 1, 1)
    assert_close(y, conv_ref(xa[None], wa, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)[0])
    # no input channels: the output is the bias alone
    b = torch.tensor([1.5, -2.0], dtype=F64)
    y = _C._conv2d(torch.zeros(2, 0, 4, 4, dtype=F64), torch.zeros(2, 0, 3, 3, dtype=F64), b)
    assert_close(y, np.broadcast_to(np.array([1.5, -2.0])[None, :, None, None], (2, 2, 2, 2)))


# ---------------------------------------------------------------------------------------------
# gradients

GRAD_CONFIGS = [
    # (n, c, h, w, o, kh, kw, stride, padding, dilation, groups)
    (2, 2, 5, 4, 3, 3, 2, [1, 1], [1, 1], [1, 1], 1),
    (1, 4, 6, 6, 2, 2, 3, [2, 1], [0, 2], [1, 2], 2),
    (2, 3, 5, 5, 3, 3, 3, [2, 2], [1, 0, 2, 1], [2, 1], 3),
    (3, 1, 4, 3, 2, 1, 1, [1, 2], [0, 0], [1, 1], 1),
]


def _leaves(cfg, seed, layouts=("contiguous", "contiguous")):
    n, c, h, w, o, kh, kw, stride, padding, dilation, groups = cfg
    rng = np.random.default_rng(seed)
    x, _ = make_tensor(rng.standard_normal((n, c, h, w)), layouts[0])
    wt, _ = make_tensor(rng.standard_normal((o, c // groups, kh, kw)), layouts[1])
    b = torch.tensor(rng.standard_normal(o))
    for t in (x, wt, b):
        t.requires_grad_(True)
    return x, wt, b, (stride, padding, dilation, groups)


@pytest.mark.parametrize("i", range(len(GRAD_CONFIGS)))
def test_gradcheck_input_weight_bias(i):
    cfg = GRAD_CONFIGS[i]
    layouts = [("contiguous", "contiguous"), ("transposed", "sliced"), ("sliced", "transposed")][i % 3]
    x, w, b, (s, p, d, g) = _leaves(cfg, i, layouts)
    assert torch.autograd.gradcheck(lambda x, w, b: _C._conv2d(x, w, b, s, p, d, g) * 1, (x, w, b))
    # without bias, and with only some inputs requiring grad
    assert torch.autograd.gradcheck(lambda w: _C._conv2d(x.detach(), w, None, s, p, d, g) * 1, (w,))


@pytest.mark.parametrize("i", [0, 2])
def test_gradgradcheck(i):
    x, w, b, (s, p, d, g) = _leaves(GRAD_CONFIGS[i], 10 + i)
    assert torch.autograd.gradgradcheck(lambda x, w, b: _C._conv2d(x, w, b, s, p, d, g) * 1, (x, w, b))


def test_backward_node_and_grads_against_reference_vjp():
    """grad_input/grad_weight/grad_bias against the transposed reference (a VJP by finite
    differences of the float64 loop reference along the cotangent)."""
    x, w, b, (s, p, d, g) = _leaves(GRAD_CONFIGS[1], 5)
    y = _C._conv2d(x, w, b, s, p, d, g)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    ct = np.random.default_rng(0).standard_normal(tuple(y.shape))
    y.backward(torch.tensor(ct))
    pads = p if len(p) == 4 else [p[0], p[0], p[1], p[1]]
    xa, wa, ba = (t.detach().numpy().copy() for t in (x, w, b))

    def f(xa, wa, ba):
        return float((conv_ref(xa, wa, ba, s, pads, d, g) * ct).sum())

    for arr, grad, which in ((xa, x.grad, 0), (wa, w.grad, 1), (ba, b.grad, 2)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            args = [xa, wa, ba]
            hi, lo = arr.copy(), arr.copy()
            hi[idx] += 1e-6
            lo[idx] -= 1e-6
            args[which] = hi
            fp = f(*args)
            args[which] = lo
            num[idx] = (fp - f(*args)) / 2e-6
        assert_close(grad, num, rtol=1e-6, atol=1e-6)


def test_float32_gradients_match_float64():
    x, w, b, (s, p, d, g) = _leaves(GRAD_CONFIGS[2], 7)
    grads64 = torch.autograd.grad(_C._conv2d(x, w, b, s, p, d, g).square().sum(), (x, w, b))
    x32, w32, b32 = (t.detach().float().requires_grad_(True) for t in (x, w, b))
    grads32 = torch.autograd.grad(_C._conv2d(x32, w32, b32, s, p, d, g).square().sum(), (x32, w32, b32))
    for a, r in zip(grads32, grads64):
        assert_close(a, r.numpy().astype(np.float32), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# errors: torch's types and messages

def _raises(exc, match, *args, **kwargs):
    with pytest.raises(exc, match=match):
        _C._conv2d(*args, **kwargs)


def test_errors():
    x, w = torch.zeros(2, 4, 5, 5), torch.zeros(6, 4, 3, 3)
    _raises(RuntimeError, r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[4, 5\]",
            torch.zeros(4, 5), w)
    _raises(RuntimeError, r"expected weight to be 4-dimensional", x, torch.zeros(6, 4, 3))
    _raises(RuntimeError, r"Given groups=1, weight of size \[6, 3, 3, 3\], expected input\[2, 4, 5, 5\] to have 3 "
            r"channels, but got 4 channels instead", x, torch.zeros(6, 3, 3, 3))
    _raises(RuntimeError, r"Given groups=4, expected weight to be divisible by 4 at dimension 0, but got weight of size "
            r"\[\[6, 1, 3, 3\]\] instead", x, torch.zeros(6, 1, 3, 3), groups=4)
    _raises(RuntimeError, r"Given groups=1, expected weight to be at least 1 at dimension 0", x, torch.zeros(0, 4, 3, 3))
    _raises(RuntimeError, r"expected bias to be 1-dimensional with 6 elements, but got bias of size \[5\]",
            x, w, torch.zeros(5))
    _raises(RuntimeError, "non-positive stride is not supported", x, w, stride=0)
    _raises(RuntimeError, "negative padding is not supported", x, w, padding=-1)
    _raises(RuntimeError, "non-positive dilation is not supported", x, w, dilation=0)
    _raises(RuntimeError, "non-positive groups is not supported", x, w, groups=0)
    _raises(RuntimeError, r"expected stride to be a single integer value or a list of 2 values", x, w, stride=[1, 2, 3])
    _raises(RuntimeError, r"Calculated padded input size per channel: \(5 x 5\). Kernel size: \(7 x 7\). Kernel size "
            r"can't be greater than actual input size", x, torch.zeros(6, 4, 7, 7))
    _raises(RuntimeError, r"Input type \(torch.FloatTensor\) and weight type \(torch.DoubleTensor\) should be the same",
            x, w.double())
    _raises(RuntimeError, r"Input type \(float\) and bias type \(double\) should be the same",
            x, w, torch.zeros(6, dtype=F64))
    _raises(TypeError, r"conv2d: .*float.*got int64", x.long(), w.long())
    _raises(TypeError, r"expected a Tensor", np.zeros((2, 4, 5, 5)), w)


# ---------------------------------------------------------------------------------------------
# the hook F.conv1d / F.conv2d call

def test_hook_conv2d_and_conv1d():
    rng = np.random.default_rng(3)
    xa, wa, ba = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    x, w, b = torch.tensor(xa), torch.tensor(wa), torch.tensor(ba)
    y = conv2d_core(x, w, b, (2, 1), ((1, 2), (0, 1)), (1, 2), 2)
    assert_close(y, conv_ref(xa, wa, ba, (2, 1), (1, 2, 0, 1), (1, 2), 2))
    y = conv2d_core(x, w, None, (1, 1), (1, 0), (1, 1), 2)
    assert_close(y, conv_ref(xa, wa, None, (1, 1), (1, 1, 0, 0), (1, 1), 2))
    # conv1d: a height-1 conv2d
    xa1, wa1 = rng.standard_normal((3, 2, 9)), rng.standard_normal((5, 2, 3))
    y = conv2d_core(torch.tensor(xa1), torch.tensor(wa1), None, (2,), (1,), (2,), 1)
    ref = conv_ref(xa1[:, :, None], wa1[:, :, None], None, (1, 2), (0, 0, 1, 1), (1, 2), 1)[:, :, 0]
    assert_close(y, ref)
    # where the core op does not apply the hook declines, so the caller keeps its own path
    assert conv2d_core(x.long(), w.long(), None, (1, 1), (0, 0), (1, 1), 2) is None
    assert conv2d_core(x, w.float(), None, (1, 1), (0, 0), (1, 1), 2) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
@pytest.mark.parametrize("seed", range(10))
def test_gpu_matches_cpu_forward_and_backward(seed):
    """The GPU kernels (forward, input, weight and bias gradients) against the CPU op, on
    random geometries and strided operands."""
    rng = np.random.default_rng(300 + seed)
    cfg = random_config(rng)
    xa = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(np.float32)
    wa = rng.standard_normal((cfg["o"], cfg["c"] // cfg["groups"], cfg["kh"], cfg["kw"])).astype(np.float32)
    ba = rng.standard_normal(cfg["o"]).astype(np.float32) if cfg["bias"] else None
    outs, ga = {}, None
    for dev in ("cpu", "cuda"):
        x = make_tensor(xa, LAYOUTS[seed % 3])[0].to(dev).requires_grad_()
        w = make_tensor(wa, LAYOUTS[(seed // 3) % 3])[0].to(dev).requires_grad_()
        b = None if ba is None else torch.tensor(ba, device=dev, requires_grad=True)
        if seed % 3 == 1:  # an operand that stays non-contiguous on the device
            x = x.detach().transpose(2, 3).contiguous().transpose(2, 3).requires_grad_()
        y = _C._conv2d(x, w, b, cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"])
        assert y.device.type == torch.device(dev).type
        if ga is None:  # one cotangent for both devices
            ga = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(torch.tensor(ga).to(dev))
        outs[dev] = [y, x.grad, w.grad] + ([b.grad] if b is not None else [])
    for c, gpu in zip(outs["cpu"], outs["cuda"]):
        assert gpu.device.type == torch.device("cuda").type
        assert_close(gpu.cpu(), c.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
def test_gpu_double_backward_and_functional_path():
    rng = np.random.default_rng(7)
    xa, wa = rng.standard_normal((2, 4, 6, 5)).astype(np.float32), rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    res = {}
    for dev in ("cpu", "cuda"):
        x = torch.tensor(xa, device=dev, requires_grad=True)
        w = torch.tensor(wa, device=dev, requires_grad=True)
        y = torch.nn.functional.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        gx.sum().backward()
        res[dev] = [y, gx, w.grad]
    for c, gpu in zip(res["cpu"], res["cuda"]):
        assert gpu.device.type == torch.device("cuda").type
        assert_close(gpu.cpu(), c.detach().numpy(), rtol=1e-4, atol=1e-4)
    # conv1d goes through the same op
    x1, w1 = torch.tensor(xa[:, :, 0]), torch.tensor(wa[:, :, 0])
    y_cpu = torch.nn.functional.conv1d(x1, w1, padding=2, groups=2)
    y_gpu = torch.nn.functional.conv1d(x1.cuda(), w1.cuda(), padding=2, groups=2)
    assert_close(y_gpu.cpu(), y_cpu.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU adapter")
def test_gpu_errors_match_cpu():
    x, w = torch.zeros(1, 2, 4, 4), torch.zeros(3, 3, 3, 3)
    msgs = []
    for dev in ("cpu", "cuda"):
        with pytest.raises(RuntimeError) as e:
            _C._conv2d(x.to(dev), w.to(dev))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]
    with pytest.raises(RuntimeError, match="device"):
        _C._conv2d(x.cuda(), torch.zeros(3, 2, 3, 3))


# ---------------------------------------------------------------------------------------------
# against real torch (skipped where torch is not installed, as in CI)

@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
@pytest.mark.parametrize("seed", range(6))
def test_against_torch(seed):
    import torch as tt
    import torch.nn.functional as TF

    rng = np.random.default_rng(100 + seed)
    cfg = random_config(rng)
    cfg["n"] = max(cfg["n"], 1)
    sym = [cfg["pads"][0], cfg["pads"][2]]
    xa = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    wa = rng.standard_normal((cfg["o"], cfg["c"] // cfg["groups"], cfg["kh"], cfg["kw"]))
    ba = rng.standard_normal(cfg["o"])
    args = (cfg["stride"], sym, cfg["dilation"], cfg["groups"])
    tx, tw, tb = (tt.tensor(a, requires_grad=True) for a in (xa, wa, ba))
    ty = TF.conv2d(tx, tw, tb, *args)
    ct = rng.standard_normal(tuple(ty.shape))
    ty.backward(tt.tensor(ct))
    x, w, b = (torch.tensor(a).requires_grad_(True) for a in (xa, wa, ba))
    y = _C._conv2d(x, w, b, *args)
    y.backward(torch.tensor(ct))
    assert_close(y, ty.detach().numpy())
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        assert_close(ours.grad, theirs.grad.numpy())
