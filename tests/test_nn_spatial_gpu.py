"""The spatial, recurrent and attention layers on the GPU device (float32): forward values and
input/parameter gradients against the CPU result, which the other test_nn_spatial_* files
check against NumPy. Skipped without an adapter (CI runs lavapipe, see tests/test_gpu.py)."""

import os

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F
from rustensor.nn.utils import rnn as rnn_utils

if not torch.cuda.is_available():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but no GPU adapter opened ({torch.cuda._why_unavailable()})")
    pytest.skip("no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1 to use lavapipe)", allow_module_level=True)

GPU = torch.device("gpu")


def _pairs(shapes, seed):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s).astype(np.float32)
        out.append((torch.tensor(a, requires_grad=True), torch.tensor(a).to(GPU).requires_grad_(True)))
    return out


def _same(c, g, tol=1e-4):
    assert g.device.type == "gpu"
    np.testing.assert_allclose(g.detach().cpu().numpy(), c.detach().numpy(), rtol=tol, atol=tol)


def _check(f, shapes, seed=0):
    ps = _pairs(shapes, seed)
    yc = f(*[c for c, _ in ps])
    yg = f(*[g for _, g in ps])
    _same(yc, yg)
    w = np.cos(np.arange(yc.numel())).reshape(tuple(yc.shape)).astype(np.float32)
    (yc * torch.tensor(w)).sum().backward()
    (yg * torch.tensor(w).to(GPU)).sum().backward()
    for c, g in ps:
        assert g.grad is not None and g.grad.device.type == "gpu"
        _same(c.grad, g.grad)


FUNCTIONAL = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), [(2, 4, 7, 6), (6, 2, 3, 3), (6,)]),
    "conv1d_same": (lambda x, w: F.conv1d(x, w, padding="same", dilation=2), [(2, 3, 9), (4, 3, 3)]),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), [(2, 4, 5, 4), (4, 3, 3, 3)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 7, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 7, 6)]),
    "adaptive_avg": (lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [(2, 3, 7, 6)]),
    "adaptive_max": (lambda x: F.adaptive_max_pool2d(x, (3, 4)), [(2, 3, 7, 6)]),
    "pad_reflect": (lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [(2, 3, 4, 5)]),
    "pad_circular": (lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), [(2, 3, 4, 5)]),
    "pad_constant": (lambda x: F.pad(x, (1, 2, 2, 1), value=0.5), [(2, 3, 4, 5)]),
    "bilinear": (lambda x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True), [(2, 3, 4, 5)]),
    "nearest": (lambda x: F.interpolate(x, scale_factor=2), [(2, 3, 4, 5)]),
    "fold": (lambda x: F.fold(x, (4, 5), 2), [(2, 12, 12)]),
    "unfold": (lambda x: F.unfold(x, 2, padding=1), [(2, 3, 4, 5)]),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), [(2, 8, 3, 4)]),
    "grid_sample": (lambda x, g: F.grid_sample(x, g * 0.7, padding_mode="reflection", align_corners=False), [(2, 3, 5, 4), (2, 4, 6, 2)]),
    "sdpa_causal": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 2, 4, 8)] * 3),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_on_gpu_matches_cpu(name):
    f, shapes = FUNCTIONAL[name]
    _check(f, shapes)


def test_max_pool_indices_on_gpu():
    (c, g), = _pairs([(2, 3, 6, 6)], 1)
    _, ic = F.max_pool2d(c, 2, return_indices=True)
    _, ig = F.max_pool2d(g, 2, return_indices=True)
    np.testing.assert_array_equal(ig.cpu().numpy(), ic.numpy())


def _twin(ctor):
    torch.manual_seed(0)
    mc = ctor()
    mg = ctor()
    mg.load_state_dict(mc.state_dict())
    return mc, mg.to(GPU)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_rnn_on_gpu_matches_cpu(cls):
    mc, mg = _twin(lambda: getattr(nn, cls)(4, 3, num_layers=2, bidirectional=True))
    _check(lambda x: (mc if x.device.type == "cpu" else mg)(x)[0], [(5, 2, 4)])
    packed = lambda x: rnn_utils.pad_packed_sequence(  # noqa: E731
        (mc if x.device.type == "cpu" else mg)(rnn_utils.pack_padded_sequence(x, [3, 5, 2], enforce_sorted=False))[0])[0]
    _check(packed, [(5, 3, 4)])
    for (n, pc), (_, pg) in zip(mc.named_parameters(), mg.named_parameters()):
        assert pg.device.type == "gpu"
        _same(pc.grad, pg.grad)


def test_modules_on_gpu_match_cpu():
    mc, mg = _twin(lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"))
    _check(lambda x: (mc if x.device.type == "cpu" else mg)(x), [(2, 3, 5, 5)])
    _same(mc.weight.grad, mg.weight.grad)
    mc, mg = _twin(lambda: nn.MultiheadAttention(8, 2))
    kpm = [[False, False, True, True], [False] * 4]

    def mha(q):
        m = mc if q.device.type == "cpu" else mg
        return m(q, q, q, key_padding_mask=torch.tensor(kpm).to(q.device))[0]

    _check(mha, [(4, 2, 8)])
    _same(mc.in_proj_weight.grad, mg.in_proj_weight.grad)
    mc, mg = _twin(lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True))
    _check(lambda x: (mc if x.device.type == "cpu" else mg)(x), [(2, 5, 8)])
