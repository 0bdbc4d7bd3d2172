"""nn layers as modules: default initialisation (statistically, seeded), BatchNorm/InstanceNorm
running statistics, train vs eval, Embedding, Flatten/Unflatten, activation wrappers, weight and
spectral norm, gradient clipping and parameter vectors; GPU results against the CPU's."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn.functional as F
from rustensor import nn
from conftest import assert_close

F64 = torch.float64
gradcheck = torch.autograd.gradcheck


def _ks_uniform(values, lo, hi):
    """Kolmogorov–Smirnov distance of samples from U(lo, hi)."""
    v = np.sort((np.asarray(values, dtype=np.float64).ravel() - lo) / (hi - lo))
    n = v.size
    cdf = np.arange(1, n + 1) / n
    return max(np.max(cdf - v), np.max(v - (cdf - 1 / n)))


# ------------------------------------------------------------------------------ default init
def test_linear_default_init_is_torchs_uniform():
    torch.manual_seed(0)
    lin = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=√5) and the bias rule give the same bound
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert _ks_uniform(w, -bound, bound) < 0.02
    assert _ks_uniform(b, -bound, bound) < 0.1
    assert lin.weight.shape == (400, 50) and lin.weight.requires_grad
    assert nn.Linear(3, 2, bias=False).bias is None


def test_other_default_inits():
    torch.manual_seed(1)
    e = nn.Embedding(2000, 8, padding_idx=3).weight.detach().numpy()
    assert abs(e.mean()) < 0.03 and abs(e.std() - 1) < 0.03 and (e[3] == 0).all()
    bil = nn.Bilinear(16, 3, 50).weight.detach().numpy()
    assert np.abs(bil).max() <= 0.25 and _ks_uniform(bil, -0.25, 0.25) < 0.03
    for m in (nn.LayerNorm(4), nn.BatchNorm2d(4), nn.GroupNorm(2, 4), nn.InstanceNorm1d(4, affine=True)):
        assert (m.weight.detach().numpy() == 1).all() and (m.bias.detach().numpy() == 0).all()
    assert (nn.RMSNorm(3).weight.detach().numpy() == 1).all()
    assert np.allclose(nn.PReLU(3).weight.detach().numpy(), 0.25)
    bn = nn.BatchNorm1d(3)
    assert (bn.running_mean.numpy() == 0).all() and (bn.running_var.numpy() == 1).all()
    assert bn.num_batches_tracked.dtype == torch.int64 and int(bn.num_batches_tracked) == 0


def test_factory_kwargs():
    lin = nn.Linear(2, 3, dtype=F64)
    assert lin.weight.dtype == F64 and lin.bias.dtype == F64
    assert nn.LayerNorm(3, dtype=F64).weight.dtype == F64
    assert nn.BatchNorm1d(3, dtype=F64).running_mean.dtype == F64


# ------------------------------------------------------------------------------ Linear / Bilinear / Identity / Lazy
def test_linear_module_forward_and_gradcheck():
    lin = nn.Linear(4, 3).double()
    a = np.random.default_rng(0).standard_normal((2, 5, 4))
    x = torch.tensor(a, requires_grad=True)
    assert_close(lin(x), a @ lin.weight.detach().numpy().T + lin.bias.detach().numpy())
    assert gradcheck(lambda t, w, b: F.linear(t, w, b), (x[0], lin.weight, lin.bias))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(10x4 and 5x3\)"):
        nn.Linear(5, 3).double()(x)


def test_identity_and_lazy_linear():
    x = torch.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x
    lazy = nn.LazyLinear(4)
    out = lazy(torch.randn(2, 7))
    assert tuple(out.shape) == (2, 4) and type(lazy) is nn.Linear and lazy.in_features == 7
    assert tuple(lazy.weight.shape) == (4, 7)


def test_lazy_modules_take_their_size_and_dtype_from_use():
    lazy = nn.LazyLinear(3).double()
    assert isinstance(lazy.weight, nn.UninitializedParameter)
    lazy(torch.randn(2, 5, dtype=F64))
    assert type(lazy) is nn.Linear and lazy.weight.dtype == F64 and tuple(lazy.weight.shape) == (3, 5)
    bn = nn.LazyBatchNorm2d()
    assert repr(bn) == "LazyBatchNorm2d(0, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    bn(torch.randn(2, 4, 3, 3))
    assert type(bn) is nn.BatchNorm2d and bn.num_features == 4 and int(bn.num_batches_tracked) == 1
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    inorm = nn.LazyInstanceNorm1d(affine=True)
    inorm(torch.randn(6, 5))  # unbatched: the channels are dim 0
    assert type(inorm) is nn.InstanceNorm1d and tuple(inorm.weight.shape) == (6,)


# ------------------------------------------------------------------------------ BatchNorm
def _steps(bn, batches):
    for b in batches:
        bn(torch.tensor(b))


def test_batchnorm_running_stats_after_n_steps():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3, 4)) * (i + 1) + i for i in range(4)]
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    _steps(bn, batches)
    rm, rv = np.zeros(3), np.ones(3)
    for b in batches:
        n = b.size // 3
        rm = 0.8 * rm + 0.2 * b.mean((0, 2))
        rv = 0.8 * rv + 0.2 * b.var((0, 2)) * n / (n - 1)
    assert_close(bn.running_mean, rm)
    assert_close(bn.running_var, rv)
    assert int(bn.num_batches_tracked) == 4
    # momentum=None: the cumulative average of every batch's statistics
    cum = nn.BatchNorm1d(3, momentum=None).double()
    _steps(cum, batches)
    means = np.stack([b.mean((0, 2)) for b in batches])
    vars_ = np.stack([b.var((0, 2), ddof=1) for b in batches])
    assert_close(cum.running_mean, means.mean(0))
    assert_close(cum.running_var, vars_.mean(0))


def test_batchnorm_eval_uses_running_stats_and_no_tracking_uses_batch():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((8, 2, 3, 3))
    bn = nn.BatchNorm2d(2).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0], dtype=F64))
        bn.running_var.copy_(torch.tensor([2.0, 0.5], dtype=F64))
        bn.weight.copy_(torch.tensor([1.5, 0.5], dtype=F64))
    bn.eval()
    ref = (a - np.array([0.5, -1.0]).reshape(1, 2, 1, 1)) / np.sqrt(np.array([2.0, 0.5]).reshape(1, 2, 1, 1) + 1e-5)
    assert_close(bn(torch.tensor(a)), ref * np.array([1.5, 0.5]).reshape(1, 2, 1, 1))
    assert int(bn.num_batches_tracked) == 0
    free = nn.BatchNorm2d(2, affine=False, track_running_stats=False).double().eval()
    m, v = a.mean((0, 2, 3), keepdims=True), a.var((0, 2, 3), keepdims=True)
    assert_close(free(torch.tensor(a)), (a - m) / np.sqrt(v + 1e-5))
    assert free.running_mean is None and list(free.state_dict()) == []


def test_batchnorm_gradcheck_and_input_checks():
    bn = nn.BatchNorm1d(2).double()
    x = torch.tensor(np.random.default_rng(5).standard_normal((4, 2)), requires_grad=True)
    assert gradcheck(lambda t, w, b: F.batch_norm(t, None, None, w, b, True), (x, bn.weight, bn.bias))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        bn(torch.ones(2, 2, 2, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(2)(torch.ones(2, 2))
    with pytest.raises(ValueError, match=r"expected 5D input \(got 4D input\)"):
        nn.BatchNorm3d(2)(torch.ones(2, 2, 2, 2))


def test_instance_norm_modules():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 2, 5))
    inorm = nn.InstanceNorm1d(2, affine=True, track_running_stats=True, momentum=0.5).double()
    out = inorm(torch.tensor(a))
    m, v = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    assert_close(out, (a - m) / np.sqrt(v + 1e-5))
    assert_close(inorm.running_mean, 0.5 * a.mean(-1).mean(0))
    assert_close(inorm.running_var, 0.5 + 0.5 * a.var(-1, ddof=1).mean(0))
    unbatched = nn.InstanceNorm1d(2).double()(torch.tensor(a[0]))
    assert_close(unbatched, ((a[0] - a[0].mean(-1, keepdims=True)) / np.sqrt(a[0].var(-1, keepdims=True) + 1e-5)))
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm2d(3, affine=True)(torch.ones(2, 2, 3, 3))
    assert list(nn.InstanceNorm2d(3).state_dict()) == []


# ------------------------------------------------------------------------------ other norms, dropout, shapes
def test_layernorm_groupnorm_rmsnorm_modules():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 4, 3))
    ln = nn.LayerNorm([4, 3], elementwise_affine=False).double()
    m, v = a.mean((1, 2), keepdims=True), a.var((1, 2), keepdims=True)
    assert_close(ln(torch.tensor(a)), (a - m) / np.sqrt(v + 1e-5))
    assert ln.weight is None and list(ln.state_dict()) == []
    assert nn.LayerNorm(3, bias=False).bias is None
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    rms = nn.RMSNorm(3, eps=1e-3).double()
    assert_close(rms(torch.tensor(a)), a / np.sqrt((a * a).mean(-1, keepdims=True) + 1e-3))


def test_dropout_modules_follow_training_flag():
    torch.manual_seed(0)
    x = torch.ones(1000)
    d = nn.Dropout(0.5)
    assert float((d(x) == 0).float().mean()) > 0.4
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"):
        nn.Dropout(-0.1)
    d2 = nn.Dropout2d(0.5)
    y = d2(torch.ones(4, 8, 2, 2)).numpy().reshape(32, 4)
    assert ((y == 0).all(1) | (y == 2).all(1)).all()


def test_flatten_unflatten():
    x = torch.randn(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(torch.randn(2, 3)).shape) == (2, 3, 1)
    assert tuple(nn.Unflatten(-1, (2, -1))(torch.randn(2, 6)).shape) == (2, 2, 3)
    with pytest.raises(RuntimeError, match="don't multiply up to the size of dim 1"):
        nn.Unflatten(1, (4, 2))(torch.randn(2, 6))


def test_activation_modules_wrap_functional():
    a = np.random.default_rng(8).standard_normal((3, 4))
    x = torch.tensor(a)
    pairs = [
        (nn.ReLU(), F.relu(x)), (nn.GELU("tanh"), F.gelu(x, approximate="tanh")), (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
        (nn.ELU(0.4), F.elu(x, 0.4)), (nn.Softplus(2, 5), F.softplus(x, 2, 5)), (nn.Softmax(1), F.softmax(x, 1)),
        (nn.LogSoftmax(0), F.log_softmax(x, 0)), (nn.Softmin(1), F.softmin(x, 1)), (nn.GLU(), F.glu(x)),
        (nn.Hardtanh(-0.5, 0.5), F.hardtanh(x, -0.5, 0.5)), (nn.Threshold(0.1, 9.0), F.threshold(x, 0.1, 9.0)),
        (nn.Mish(), F.mish(x)), (nn.SiLU(), F.silu(x)), (nn.Tanh(), x.tanh()), (nn.Sigmoid(), x.sigmoid()),
    ]
    for mod, ref in pairs:
        assert_close(mod(x), ref.numpy())
    x4 = torch.tensor(np.random.default_rng(9).standard_normal((2, 3, 2, 2)))
    assert_close(nn.Softmax2d()(x4), F.softmax(x4, -3).numpy())
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(x)
    y = torch.tensor(a.copy())
    assert nn.ReLU(inplace=True)(y) is y and float(y.min()) >= 0


def test_embedding_module_and_from_pretrained():
    w = torch.tensor(np.arange(12.0).reshape(4, 3))
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    assert_close(e(torch.tensor([[3, 0]])), np.arange(12.0).reshape(4, 3)[[[3, 0]]])
    e2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    out = e2(torch.tensor([1, 2, 1]))
    out.sum().backward()
    assert (e2.weight.grad.numpy()[1] == 0).all() and (e2.weight.grad.numpy()[2] == 1).all()
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


# ------------------------------------------------------------------------------ nn.utils
def test_clip_grad_norm_and_value():
    a, b = nn.Parameter(torch.zeros(3, dtype=F64)), nn.Parameter(torch.zeros(2, dtype=F64))
    a.grad = torch.tensor([3.0, 0.0, 4.0], dtype=F64)
    b.grad = torch.tensor([0.0, 12.0], dtype=F64)
    total = nn.utils.clip_grad_norm_([a, b], 1.3)
    assert float(total) == pytest.approx(13.0)
    np.testing.assert_allclose(a.grad.numpy(), np.array([3.0, 0.0, 4.0]) * 1.3 / (13 + 1e-6))
    total_inf = nn.utils.clip_grad_norm_([a, b], 100.0, norm_type="inf")
    assert float(total_inf) == pytest.approx(12 * 1.3 / (13 + 1e-6))
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 1.2], rtol=1e-5)  # under max_norm: unchanged
    nn.utils.clip_grad_value_([a, b], 0.5)
    assert float(b.grad.abs().max()) == 0.5
    b.grad = torch.tensor([float("nan"), 1.0], dtype=F64)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_([b], 1.0, error_if_nonfinite=True)


def test_parameters_to_vector_round_trip():
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    v = nn.utils.parameters_to_vector(net.parameters())
    assert tuple(v.shape) == (13,)
    nn.utils.vector_to_parameters(torch.arange(13.0), net.parameters())
    np.testing.assert_array_equal(net[0].weight.detach().numpy().ravel(), np.arange(6.0))
    np.testing.assert_array_equal(net[1].bias.detach().numpy(), [12.0])
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], net.parameters())


def test_weight_norm_and_spectral_norm():
    torch.manual_seed(2)
    lin = nn.utils.weight_norm(nn.Linear(3, 4).double())
    assert sorted(n for n, _ in lin.named_parameters()) == ["bias", "weight_g", "weight_v"]
    v, g = lin.weight_v.detach().numpy(), lin.weight_g.detach().numpy()
    assert g.shape == (4, 1)
    x = torch.randn(2, 3, dtype=F64)
    w = v * g / np.linalg.norm(v, axis=1, keepdims=True)
    assert_close(lin(x), x.numpy() @ w.T + lin.bias.detach().numpy())
    lin(x).sum().backward()
    assert lin.weight_g.grad is not None and lin.weight_v.grad is not None
    nn.utils.remove_weight_norm(lin)
    assert sorted(n for n, _ in lin.named_parameters()) == ["bias", "weight"]
    sn = nn.utils.spectral_norm(nn.Linear(5, 4).double(), n_power_iterations=30)
    assert list(sn.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    sn(torch.randn(1, 5, dtype=F64))
    sigma = np.linalg.svd(sn.weight.detach().numpy(), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-4)


# ------------------------------------------------------------------------------ GPU
def _gpu():
    return torch.cuda.is_available()


@pytest.mark.skipif(not _gpu(), reason="no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1 to use lavapipe)")
def test_layers_on_gpu_match_cpu():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.SiLU(), nn.Linear(8, 4), nn.LogSoftmax(1))
    gpu_net = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.SiLU(), nn.Linear(8, 4), nn.LogSoftmax(1))
    gpu_net.load_state_dict(net.state_dict())
    gpu_net.to("cuda")
    assert all(p.device.type == "gpu" for p in gpu_net.parameters())
    assert gpu_net[2].running_mean.device.type == "gpu"
    x = torch.randn(5, 6)
    t = torch.tensor([0, 1, 2, 3, 0])
    lc = F.cross_entropy(net(x), t, label_smoothing=0.1)
    lg = F.cross_entropy(gpu_net(x.cuda()), t.cuda(), label_smoothing=0.1)
    lc.backward(), lg.backward()
    np.testing.assert_allclose(lg.cpu().item(), lc.item(), rtol=1e-4)
    for p, q in zip(net.parameters(), gpu_net.parameters()):
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(gpu_net[2].running_var.cpu().numpy(), net[2].running_var.numpy(), rtol=1e-4)
    e = nn.Embedding(10, 3, padding_idx=0)
    ref = e(torch.tensor([[0, 4, 9]])).detach().numpy()
    np.testing.assert_allclose(e.cuda()(torch.tensor([[0, 4, 9]]).cuda()).detach().cpu().numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(F.mse_loss(x.cuda(), x.cuda() * 2).cpu().item(), F.mse_loss(x, x * 2).item(), rtol=1e-5)
    net.cpu()
    assert net[0].weight.device.type == "cpu"
    assert nn.Linear(2, 2).cuda(0).weight.device.type == "gpu"
    logits, tgt = torch.randn(4, 5), torch.tensor([1, -100, 3, 0])
    np.testing.assert_allclose(F.cross_entropy(logits.cuda(), tgt.cuda(), label_smoothing=0.1).cpu().item(),
                               F.cross_entropy(logits, tgt, label_smoothing=0.1).item(), rtol=1e-5)
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.cross_entropy(logits.cuda(), torch.tensor([1, 7, 3, 0]).cuda())
    for fn in (lambda t: F.group_norm(t.reshape(2, 2, 5), 2), F.gelu, F.normalize, F.pdist, lambda t: F.layer_norm(t, (5,))):
        np.testing.assert_allclose(fn(logits.cuda()).cpu().numpy(), fn(logits).numpy(), rtol=1e-4, atol=1e-5)
    cpu_lin = nn.Linear(2, 2)
    w = cpu_lin.weight
    assert cpu_lin.cpu().weight is w  # already there: the same Parameter
    torch.manual_seed(5)
    kept = F.dropout(torch.ones(4000, device="gpu"), 0.25)
    assert kept.device.type == "gpu"
    k = kept.cpu().numpy()
    assert abs((k != 0).mean() - 0.75) < 0.04 and np.allclose(k[k != 0], 1 / 0.75)
