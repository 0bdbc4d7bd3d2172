"""Mixed precision: autocast regions and the dtypes of the ops they cast, the cast hooks' contract,
GradScaler's scaling, inf/NaN step skipping, growth and backoff, state_dict, errors, the
torch.cuda.amp spellings, and a short float16 training loop."""

import math
import os
import warnings

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F
from rustensor.amp import GradScaler, _cast_fp32, _cast_inputs

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available() and os.environ.get("CI") != "true",
                               reason="no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1)")


# ---------------------------------------------------------------------------- autocast

def test_autocast_casts_linear_and_conv_inputs_to_float16():
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    conv = nn.Conv2d(2, 3, 3)
    x = torch.randn(5, 4)
    img = torch.randn(1, 2, 5, 5)
    with torch.autocast("cpu", dtype=torch.float16):
        assert torch.amp.is_autocast_enabled("cpu") and not torch.amp.is_autocast_enabled("cuda")
        y = lin(x)
        z = conv(img)
        assert y.dtype == torch.float16 and z.dtype == torch.float16
        assert F.linear(x, lin.weight, lin.bias).dtype == torch.float16
        assert lin.weight.dtype == torch.float32  # the master weights are not touched
        ref = x.numpy().astype(np.float16).astype(np.float32) @ lin.weight.detach().numpy().astype(np.float16).astype(np.float32).T
        np.testing.assert_allclose(y.float().detach().numpy(), ref + lin.bias.detach().numpy(), rtol=2e-3, atol=2e-3)
        with torch.autocast("cpu", enabled=False):
            assert lin(x).dtype == torch.float32 and not torch.amp.is_autocast_enabled("cpu")
        assert lin(x).dtype == torch.float16
    assert lin(x).dtype == torch.float32 and not torch.amp.is_autocast_enabled()


def test_gradients_reach_float32_weights_through_the_cast():
    lin = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    with torch.autocast("cpu", dtype=torch.float16):
        out = lin(x)
    out.float().sum().backward()
    assert lin.weight.grad.dtype == torch.float32 and lin.bias.grad.dtype == torch.float32
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)), rtol=2e-3, atol=2e-3)


def test_autocast_as_decorator_and_via_amp_module():
    @torch.amp.autocast("cpu", dtype=torch.float16)
    def f(a, w):
        return F.linear(a, w)

    assert f(torch.randn(2, 3), torch.randn(4, 3)).dtype == torch.float16
    assert torch.autocast is torch.amp.autocast


def test_cast_hooks_contract():
    a32, a64, i = torch.randn(2), torch.randn(2, dtype=torch.float64), torch.tensor([1, 2])
    h = torch.randn(2).half()
    assert _cast_inputs(a32, None, i) == (a32, None, i)  # no region: unchanged, same objects
    with torch.autocast("cpu", dtype=torch.float16):
        c = _cast_inputs(a32, a64, i, None)
        assert [t.dtype if t is not None else None for t in c] == [torch.float16, torch.float16, torch.int64, None]
        back = _cast_fp32(h, a32, i)
        assert [t.dtype for t in back] == [torch.float32, torch.float32, torch.int64]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without a GPU the region disables itself, with torch's warning
        with torch.autocast("cuda", dtype=torch.float16):
            # a CPU tensor is not cast by a GPU region
            assert _cast_inputs(a32)[0].dtype == torch.float32
    assert _cast_fp32(h)[0].dtype == torch.float16


def test_cuda_region_without_gpu_disables_itself():
    if torch.cuda.is_available():
        pytest.skip("a GPU adapter is available")
    with pytest.warns(UserWarning, match="User provided device_type of 'cuda', but CUDA is not available. Disabling"):
        region = torch.autocast("cuda")
    with region:
        assert not torch.amp.is_autocast_enabled("cuda")


# torch 2.x's output dtypes for a float16 input inside a float16 region (checked against torch
# 2.15 on the CPU and its documented CUDA list): losses float32 on both devices; softmax, the
# norms and the distances float32 in CUDA regions only.
_FP32_ON_BOTH = {
    "cross_entropy": lambda h, t: F.cross_entropy(h, t),
    "cross_entropy_weight": lambda h, t: F.cross_entropy(h, t, weight=h[0].detach().abs() + 1, label_smoothing=0.1),
    "nll_loss": lambda h, t: F.nll_loss(F.log_softmax(h, -1), t),
    "mse_loss": lambda h, t: F.mse_loss(h, h.detach() * 0.5),
    "l1_loss": lambda h, t: F.l1_loss(h, h.detach() * 0.5),
    "smooth_l1_loss": lambda h, t: F.smooth_l1_loss(h, h.detach() * 0.5),
    "huber_loss": lambda h, t: F.huber_loss(h, h.detach() * 0.5),
    "kl_div": lambda h, t: F.kl_div(F.log_softmax(h, -1), F.softmax(h.detach(), -1), reduction="batchmean"),
    "bce_with_logits": lambda h, t: F.binary_cross_entropy_with_logits(h, h.detach().sigmoid()),
    "cosine_embedding_loss": lambda h, t: F.cosine_embedding_loss(h, h.detach().flip(0), torch.ones(4)),
    "triplet_margin_loss": lambda h, t: F.triplet_margin_loss(h, h.detach() * 0.5, h.detach().flip(0)),
    "poisson_nll_loss": lambda h, t: F.poisson_nll_loss(h, h.detach().abs()),
    "soft_margin_loss": lambda h, t: F.soft_margin_loss(h, h.detach().sign()),
    "multi_margin_loss": lambda h, t: F.multi_margin_loss(h, t),
    "hinge_embedding_loss": lambda h, t: F.hinge_embedding_loss(h, h.detach().sign()),
    "multilabel_soft_margin_loss": lambda h, t: F.multilabel_soft_margin_loss(h, (h.detach() > 0).float()),
}
_FP32_ON_CUDA = {
    "softmax": lambda h: F.softmax(h, -1),
    "log_softmax": lambda h: F.log_softmax(h, -1),
    "softmin": lambda h: F.softmin(h, -1),
    "layer_norm": lambda h: F.layer_norm(h, (5,)),
    "group_norm": lambda h: F.group_norm(h.reshape(4, 5, 1), 5),
    "normalize": lambda h: F.normalize(h),
    "cosine_similarity": lambda h: F.cosine_similarity(h, h.detach().flip(0)),
    "Tensor.softmax": lambda h: h.softmax(-1),
    "Tensor.log_softmax": lambda h: h.log_softmax(-1),
    "torch.softmax": lambda h: torch.softmax(h, -1),
}


def _half_logits(device="cpu"):
    torch.manual_seed(0)
    x, w = torch.randn(4, 3).to(device), torch.randn(5, 3).to(device)
    return F.linear(x, w), torch.tensor([0, 1, 2, 3]).to(device)


@pytest.mark.parametrize("name", list(_FP32_ON_BOTH))
def test_losses_run_in_float32_under_cpu_autocast(name):
    with torch.autocast("cpu", dtype=torch.float16):
        h, t = _half_logits()
        assert h.dtype == torch.float16
        assert _FP32_ON_BOTH[name](h, t).dtype == torch.float32
        assert F.binary_cross_entropy(h.sigmoid(), h.detach().sigmoid()).dtype == torch.float32


@pytest.mark.parametrize("name", list(_FP32_ON_CUDA))
def test_softmax_and_norms_keep_the_lower_dtype_under_cpu_autocast_as_torch(name):
    with torch.autocast("cpu", dtype=torch.float16):
        h, _ = _half_logits()
        assert _FP32_ON_CUDA[name](h).dtype == torch.float16


def test_float32_loss_under_autocast_matches_the_float32_computation_and_backprops():
    # the float16 logits are widened once, so the loss equals the float32 loss of those same
    # (rounded) logits, and the gradient comes back to the float16 tensor in float16
    with torch.autocast("cpu", dtype=torch.float16):
        h, t = _half_logits()
    h = h.detach().requires_grad_()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(h, t)
    loss.backward()
    a = h.detach().float().numpy().astype(np.float64)
    lse = np.log(np.exp(a - a.max(1, keepdims=True)).sum(1)) + a.max(1)
    want = (lse - a[np.arange(4), t.numpy()]).mean()
    assert loss.dtype == torch.float32 and abs(loss.item() - want) < 1e-5
    assert h.grad.dtype == torch.float16
    p = np.exp(a - lse[:, None])
    p[np.arange(4), t.numpy()] -= 1
    np.testing.assert_allclose(h.grad.float().numpy(), p / 4, atol=2e-3)


def test_top_level_autocast_queries_follow_torch():
    assert not torch.is_autocast_enabled()
    with torch.autocast("cpu", dtype=torch.float16):
        # torch: no argument asks about CUDA only
        assert not torch.is_autocast_enabled() and torch.is_autocast_enabled("cpu")
        assert torch.is_autocast_cpu_enabled() and not torch.is_autocast_enabled("cuda")
        with pytest.raises(TypeError, match=r"argument 'device_type' \(position 1\) must be str, not device"):
            torch.is_autocast_enabled(torch.device("cpu"))
    assert not torch.is_autocast_cpu_enabled()
    assert torch.get_autocast_dtype("cuda") == torch.float16 == torch.get_autocast_gpu_dtype()
    assert torch.get_autocast_cpu_dtype() == torch.bfloat16  # torch's CPU default


@needs_gpu
@pytest.mark.parametrize("name", list(_FP32_ON_CUDA) + ["cross_entropy", "mse_loss", "kl_div"])
def test_gpu_autocast_runs_softmax_norms_and_losses_in_float32(name):
    with torch.autocast("cuda", dtype=torch.float16):
        assert torch.is_autocast_enabled()
        h, t = _half_logits("gpu")
        assert h.dtype == torch.float16 and h.device.type == "gpu"
        f = _FP32_ON_CUDA.get(name)
        y = f(h) if f is not None else _FP32_ON_BOTH[name](h, t)
        assert y.dtype == torch.float32
        hc = h.detach().cpu().float()
    # and the value is the float32 op on the same (rounded) inputs
    if f is not None:
        ref = f(hc)
    else:
        ref = _FP32_ON_BOTH[name](hc, t.cpu())
    np.testing.assert_allclose(y.cpu().numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)


@needs_gpu
def test_explicit_softmax_dtype_is_not_autocast():
    with torch.autocast("cuda", dtype=torch.float16):
        h, _ = _half_logits("gpu")
        assert h.softmax(-1, dtype=torch.float16).dtype == torch.float16
        assert F.log_softmax(h, -1, dtype=torch.float16).dtype == torch.float16


@needs_gpu
def test_binary_cross_entropy_refuses_cuda_autocast_like_torch():
    with torch.autocast("cuda", dtype=torch.float16):
        h, _ = _half_logits("gpu")
        with pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast"):
            F.binary_cross_entropy(h.sigmoid(), h.detach().sigmoid())
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            nn.BCELoss()(h.sigmoid(), h.detach().sigmoid())


def test_autocast_dtype_rules():
    # torch's defaults: bfloat16 on the CPU, float16 on CUDA; both dtypes accepted on both
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        region = torch.autocast("cpu")
        assert region.fast_dtype == torch.bfloat16
        assert torch.autocast("cpu", dtype=torch.float16).fast_dtype == torch.float16
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently."):
        off = torch.autocast("cpu", dtype=torch.float32)
    with off:
        assert not torch.amp.is_autocast_enabled("cpu")
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        torch.autocast("tpu")
    assert torch.amp.get_autocast_dtype("cpu") == torch.bfloat16
    assert torch.amp.get_autocast_dtype("cuda") == torch.float16


def test_cuda_amp_spellings_warn_deprecated():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ac = torch.cuda.amp.autocast()
    assert any(issubclass(x.category, FutureWarning) and "torch.cuda.amp.autocast(args...)` is deprecated" in str(x.message)
               for x in w)
    assert ac.device_type == "cuda" and ac.fast_dtype == torch.float16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = torch.cuda.amp.GradScaler(init_scale=8.0)
    assert isinstance(s, torch.amp.GradScaler)
    assert s.is_enabled() == torch.cuda.is_available()


# ---------------------------------------------------------------------------- GradScaler

def _setup(values=(1.0, 2.0)):
    p = torch.tensor(list(values), requires_grad=True)
    return p, torch.optim.SGD([p], lr=0.1)


def test_scale_step_skips_on_inf_and_nan_and_backs_off():
    s = GradScaler("cpu", init_scale=4.0, growth_interval=2)
    p, opt = _setup()
    history = []
    for poison in [None, math.inf, None, None, math.nan, None]:
        opt.zero_grad()
        loss = (p * p).sum()
        scaled = s.scale(loss)
        assert scaled.item() == pytest.approx(loss.item() * s.get_scale())
        scaled.backward()
        if poison is not None:
            p.grad[0] = poison
        before = p.detach().numpy().copy()
        s.step(opt)
        s.update()
        skipped = np.array_equal(before, p.detach().numpy())
        history.append((skipped, s.get_scale(), s._get_growth_tracker()))
    # growth every 2 clean steps (x2), backoff on a bad one (x0.5) with the tracker reset
    assert history == [(False, 4.0, 1), (True, 2.0, 0), (False, 2.0, 1), (False, 4.0, 0), (True, 2.0, 0), (False, 2.0, 1)]


def test_unscaled_gradients_equal_true_gradients():
    s = GradScaler("cpu", init_scale=1024.0)
    p, opt = _setup((0.5, -1.5))
    s.scale((p**3).sum()).backward()
    np.testing.assert_allclose(p.grad.numpy(), 1024 * 3 * np.array([0.25, 2.25]))
    s.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), 3 * np.array([0.25, 2.25]))
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer since the last update\(\)."):
        s.unscale_(opt)
    s.step(opt)  # uses the already-unscaled gradients
    np.testing.assert_allclose(p.detach().numpy(), [0.5 - 0.1 * 0.75, -1.5 - 0.1 * 6.75], rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)."):
        s.step(opt)
    s.update()
    assert s.get_scale() == 1024.0


def test_scale_of_iterables_and_errors():
    s = GradScaler("cpu", init_scale=2.0)
    a, b = torch.tensor(1.0), torch.tensor(3.0)
    out = s.scale([a, (b, a)])
    assert isinstance(out, list) and out[0].item() == 2.0 and isinstance(out[1], tuple) and out[1][0].item() == 6.0
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update."):
        s.update()
    p, opt = _setup()
    s.scale(p.sum()).backward()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported if GradScaler is enabled."):
        s.step(opt, closure=lambda: 0)
    with pytest.raises(ValueError, match="The growth factor must be > 1.0."):
        GradScaler("cpu", growth_factor=1.0)
    h = torch.tensor([1.0, 2.0]).half().requires_grad_(True)
    o = torch.optim.SGD([h], lr=0.1)
    s.scale(h.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        s.unscale_(o)


def test_state_dict_round_trip_and_disabled_passthrough():
    s = GradScaler("cpu", init_scale=16.0, growth_interval=3)
    p, opt = _setup()
    for _ in range(2):
        opt.zero_grad()
        s.scale(p.sum()).backward()
        s.step(opt)
        s.update()
    sd = s.state_dict()
    assert sd == {"scale": 16.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 3, "_growth_tracker": 2}
    t = GradScaler("cpu")
    t.load_state_dict(sd)
    assert t.get_scale() == 16.0 and t._get_growth_tracker() == 2 and t.get_growth_interval() == 3
    off = GradScaler("cpu", enabled=False)
    x = torch.tensor(3.0)
    assert off.scale(x) is x and off.get_scale() == 1.0 and off.state_dict() == {}
    p, opt = _setup()
    off.scale((p * p).sum()).backward()
    off.step(opt)
    off.update()
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        GradScaler("cpu").load_state_dict({})


def test_float16_training_loop_with_autocast_and_scaler():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.standard_normal((64, 4)).astype(np.float32))
    y = torch.tensor((rng.standard_normal(64) > 0).astype(np.int64))
    X = X + (y.float() * 2 - 1).unsqueeze(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    scaler = GradScaler("cpu", init_scale=2.0**12)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            out = model(X)
            assert out.dtype == torch.float16
        loss = F.cross_entropy(out.float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]


@needs_gpu
def test_gpu_autocast_and_scaler():
    lin = nn.Linear(4, 3).to("cuda")
    x = torch.randn(5, 4, device="cuda")
    scaler = torch.amp.GradScaler("cuda", init_scale=256.0)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    with torch.autocast("cuda", dtype=torch.float16):
        out = lin(x)
    assert out.dtype == torch.float16 and out.device.type == "gpu"
    scaler.scale(out.float().sum()).backward()
    assert lin.weight.grad.device.type == "gpu"
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 256.0
    opt.zero_grad()
    scaler.scale(lin(x).sum()).backward()
    lin.bias.grad[0] = math.inf
    w = lin.weight.detach().cpu().numpy().copy()
    scaler.step(opt)
    scaler.update()
    np.testing.assert_array_equal(lin.weight.detach().cpu().numpy(), w)
    assert scaler.get_scale() == 128.0


# ---------------------------------------------------------------------------- matmul family
# torch's CPU policy (checked against torch 2.x): matmul, @, mm, bmm, addmm, baddbmm run in the
# lower dtype; float64 inputs are not cast; mv and dot are not on the CPU list.

def _mm_family(a, b, m3, c, v):
    return {
        "matmul": torch.matmul(a, b), "Tmatmul": a.matmul(b), "@": a @ b, "mm": torch.mm(a, b), "Tmm": a.mm(b),
        "bmm": torch.bmm(m3, m3), "addmm": torch.addmm(c, a, b), "Taddmm": c.addmm(a, b, beta=0.5, alpha=2),
        "baddbmm": torch.baddbmm(m3, m3, m3), "mv": torch.mv(b.t(), v), "dot": torch.dot(v, v),
    }


def test_matmul_family_dtypes_under_cpu_autocast():
    rng = np.random.default_rng(0)
    a, b = torch.tensor(rng.standard_normal((2, 3)), dtype=torch.float32), torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float32)
    m3 = torch.tensor(rng.standard_normal((2, 3, 3)), dtype=torch.float32)
    c, v = torch.tensor(rng.standard_normal((2, 4)), dtype=torch.float32), torch.tensor(rng.standard_normal(3), dtype=torch.float32)
    plain = _mm_family(a, b, m3, c, v)
    assert all(r.dtype == torch.float32 for r in plain.values())
    with torch.autocast("cpu", dtype=torch.float16):
        cast = _mm_family(a, b, m3, c, v)
        assert torch.matmul(a.double(), b.double()).dtype == torch.float64
        assert torch.mm(a.half(), b).dtype == torch.float16
        assert torch.matmul(torch.ones(2, 2, dtype=torch.int64), torch.ones(2, 2, dtype=torch.int64)).dtype == torch.int64
    lower = {"matmul", "Tmatmul", "@", "mm", "Tmm", "bmm", "addmm", "Taddmm", "baddbmm"}
    for k, r in cast.items():
        assert r.dtype == (torch.float16 if k in lower else torch.float32), k
        np.testing.assert_allclose(r.float().numpy(), plain[k].numpy(), rtol=2e-2, atol=2e-2)
    # outside the region nothing is cast
    assert (a @ b).dtype == torch.float32


def test_addmm_and_baddbmm_values():
    rng = np.random.default_rng(1)
    c, a, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    r = torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=0.5, alpha=-2)
    np.testing.assert_allclose(r.numpy(), 0.5 * c + -2 * (a @ b), rtol=1e-12)
    nan = torch.full((2, 4), float("nan"), dtype=torch.float64)
    np.testing.assert_allclose(torch.addmm(nan, torch.tensor(a), torch.tensor(b), beta=0).numpy(), a @ b, rtol=1e-12)
    x, y, z = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    r = torch.baddbmm(torch.tensor(x), torch.tensor(y), torch.tensor(z), alpha=3)
    np.testing.assert_allclose(r.numpy(), x + 3 * (y @ z), rtol=1e-12)


def test_matmul_autocast_backprops_to_float32_leaves():
    w = torch.randn(3, 4, requires_grad=True)
    x = torch.randn(2, 3)
    with torch.autocast("cpu", dtype=torch.float16):
        y = x @ w
    assert y.dtype == torch.float16
    y.float().sum().backward()
    assert w.grad.dtype == torch.float32 and w.grad.shape == (3, 4)


@needs_gpu
def test_matmul_family_under_gpu_autocast():
    g = torch.device("gpu")
    if not torch.cuda.is_available():
        pytest.fail("CI=true but no GPU adapter")
    a, b, v = torch.randn(2, 3).to(g), torch.randn(3, 4).to(g), torch.randn(3).to(g)
    try:
        torch.zeros(1, dtype=torch.float16, device=g)
    except TypeError:
        pytest.skip("adapter without shader-f16")
    with torch.autocast("cuda", dtype=torch.float16):
        assert (a @ b).dtype == torch.float16 and torch.mm(a, b).dtype == torch.float16
        assert torch.mv(b.t(), v).dtype == torch.float16  # mv is on torch's CUDA list
        assert (a.cpu() @ b.cpu()).dtype == torch.float32  # a CPU product is not cast by a GPU region


def test_cpu_autocast_bfloat16_follows_torchs_policy():
    # checked against torch 2.15: matmul/linear/softmax stay in bfloat16 on the CPU, losses and
    # cross-entropy run in float32, and a plain add promotes with the float32 operand
    rng = np.random.default_rng(5)
    a = torch.tensor(rng.standard_normal((3, 3)).astype(np.float32))
    with torch.autocast("cpu"):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        h = a @ a
        assert h.dtype == torch.bfloat16
        assert F.linear(a, a).dtype == torch.bfloat16
        assert torch.softmax(h, -1).dtype == torch.bfloat16
        assert F.mse_loss(h, a).dtype == torch.float32
        assert F.cross_entropy(h, torch.tensor([0, 1, 2])).dtype == torch.float32
        assert (h + a).dtype == torch.float32
    ref = a.double().numpy() @ a.double().numpy()
    np.testing.assert_allclose(h.float().numpy(), ref, rtol=2e-2, atol=2e-2)
