"""nn.functional activations, softmax family, linear, dropout, embedding, one_hot, distances and
normalisation functions against float64 NumPy references, with finite-difference gradients,
bad-input errors and (where torch is installed) torch's values."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn.functional as F
from conftest import LAYOUTS, assert_close
from conftest import make_tensor as _make_tensor


def make_tensor(a, layout="contiguous"):
    """conftest's make_tensor, except that a 0-d array stays 0-d (np.ascontiguousarray there
    turns it into shape (1,))."""
    a = np.asarray(a)
    if a.ndim == 0:
        return torch.tensor(a.copy()), a.copy()
    return _make_tensor(a, layout)

F64 = torch.float64
gradcheck = torch.autograd.gradcheck

try:
    import torch as _real_torch  # noqa: F401 - only when the scratch venv runs the suite

    HAVE_TORCH = _real_torch.__name__ == "torch" and hasattr(_real_torch, "_C")
except ImportError:
    HAVE_TORCH = False

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _sig(x):
    return 1 / (1 + np.exp(-x))


SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name -> (rustensor function, numpy reference)
ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "selu": (F.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0)))),
    "celu": (lambda x: F.celu(x, 0.5), lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * np.expm1(np.minimum(x, 0) / 0.5))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    "silu": (F.silu, lambda x: x * _sig(x)),
    "mish": (F.mish, lambda x: x * np.tanh(_softplus(x))),
    "sigmoid": (F.sigmoid, _sig),
    "tanh": (F.tanh, np.tanh),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "softplus": (F.softplus, lambda x: np.where(x > 20, x, _softplus(x))),
    "softplus_beta": (lambda x: F.softplus(x, beta=2, threshold=3),
                      lambda x: np.where(2 * x > 3, x, _softplus(2 * x) / 2)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0)),
    "logsigmoid": (F.logsigmoid, lambda x: -_softplus(-x)),
    "hardshrink": (F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "softshrink": (F.softshrink, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
}


def _away_from_kinks(rng, shape):
    """Values in ±[0.2, 3.5] avoiding the kinks at 0, ±0.5, 0.3, ±3, 1.5 (finite differences
    across a kink are meaningless)."""
    a = rng.uniform(0.2, 3.5, size=shape) * np.where(rng.random(shape) < 0.5, -1, 1)
    for k in (0.5, 0.3, 3.0, 1.5, 2.5):
        a = np.where(np.abs(np.abs(a) - k) < 0.05, a + 0.11, a)
    return a


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(), (0,), (3, 4), (2, 1, 3)])
def test_activation_forward_matches_numpy(name, shape):
    fn, ref = ACTIVATIONS[name]
    rng = np.random.default_rng(7)
    a = _away_from_kinks(rng, shape)
    for layout in LAYOUTS:
        t, r = make_tensor(a, layout)
        assert tuple(t.shape) == shape
        out = fn(t)
        # the erf used by exact GELU is a 1.2e-7-relative fit: a float64 check at that level
        tol = 3e-7 if name == "gelu" else 1e-12
        assert_close(out, ref(r), rtol=tol, atol=tol)
        out32 = fn(t.float())
        assert_close(out32, ref(r).astype(np.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(name):
    fn, _ = ACTIVATIONS[name]
    a = _away_from_kinks(np.random.default_rng(3), (2, 3))
    x = torch.tensor(a, dtype=F64, requires_grad=True)
    assert gradcheck(fn, (x,))


def test_activations_stable_at_extremes():
    x = torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=F64, requires_grad=True)
    for fn in (F.softplus, F.logsigmoid, F.elu, F.selu, F.celu, F.mish, F.silu, lambda t: F.softplus(t, beta=0.5)):
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.detach().numpy()).all(), fn
        assert np.isfinite(x.grad.numpy()).all(), fn
        x.grad = None
    np.testing.assert_allclose(F.logsigmoid(x).detach().numpy(), [-1000.0, -50.0, -math.log(2), -1.9287498479639178e-22, 0.0], rtol=1e-12)


def test_prelu_channels_and_grad():
    rng = np.random.default_rng(0)
    a = _away_from_kinks(rng, (2, 3, 4))
    w = rng.uniform(0.1, 0.9, 3)
    x = torch.tensor(a, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    assert_close(F.prelu(x, wt), np.where(a > 0, a, a * w.reshape(1, 3, 1)))
    assert gradcheck(F.prelu, (x, wt))
    assert_close(F.prelu(x, torch.tensor([0.25], dtype=F64)), np.where(a > 0, a, 0.25 * a))
    with pytest.raises(RuntimeError, match="channel size = 3"):
        F.prelu(x, torch.ones(4, dtype=F64))


def test_glu():
    a = np.random.default_rng(1).standard_normal((2, 6, 3))
    x = torch.tensor(a, requires_grad=True)
    assert_close(F.glu(x, 1), a[:, :3] * _sig(a[:, 3:]))
    assert gradcheck(lambda t: F.glu(t, -2), (x,))
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 2 is size 3"):
        F.glu(x)
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(torch.tensor(1.0))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(torch.ones(2), approximate="fast")


@pytest.mark.parametrize("fn", [F.relu, F.elu, F.leaky_relu, F.hardtanh, F.silu, F.selu, F.hardswish, F.mish])
def test_inplace_writes_into_input(fn):
    a = np.array([-1.5, -0.2, 0.4, 2.0])
    x = torch.tensor(a)
    expected = fn(torch.tensor(a)).numpy()
    out = fn(x, inplace=True)
    assert out is x
    np.testing.assert_allclose(x.numpy(), expected)


@pytest.mark.parametrize("fn", [F.relu, F.elu, F.selu, F.celu, F.leaky_relu, F.hardtanh, F.relu6, F.silu, F.mish,
                                F.hardswish, F.hardsigmoid, lambda t, inplace: F.threshold(t, 0.1, 5.0, inplace)])
def test_inplace_on_a_graph_tensor_keeps_gradients(fn):
    a = np.array([-1.5, -0.2, 0.4, 2.0])
    ref_x = torch.tensor(a, requires_grad=True)
    fn(ref_x * 1.0, inplace=False).sum().backward()
    x = torch.tensor(a, requires_grad=True)
    y = x * 1.0
    z = fn(y, inplace=True)
    assert z is y
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy())


def _np_softmax(a, d):
    e = np.exp(a - a.max(axis=d, keepdims=True))
    return e / e.sum(axis=d, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(dim):
    a = np.random.default_rng(2).standard_normal((3, 4, 2)) * 30  # large: needs the stable form
    x = torch.tensor(a, requires_grad=True)
    assert_close(F.softmax(x, dim), _np_softmax(a, dim))
    assert_close(F.log_softmax(x, dim), np.log(_np_softmax(a, dim)), rtol=1e-10, atol=1e-10)
    assert_close(F.softmin(x, dim), _np_softmax(-a, dim))
    small = torch.tensor(a[:2, :2] / 30, requires_grad=True)
    for fn in (F.softmax, F.log_softmax, F.softmin):
        assert gradcheck(lambda t: fn(t, dim), (small,))
    assert F.softmax(x.float(), dim, dtype=F64).dtype == F64


def test_softmax_implicit_dim_warns_like_torch():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(torch.ones(2, 3))
    assert_close(out, np.full((2, 3), 1 / 3, dtype=np.float32))


# ------------------------------------------------------------------------------ linear / bilinear
@pytest.mark.parametrize("lead", [(), (4,), (2, 3), (0,)])
def test_linear_matches_numpy(lead):
    rng = np.random.default_rng(4)
    a, w, b = rng.standard_normal(lead + (5,)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    x, wt, bt = (torch.tensor(v, requires_grad=True) for v in (a, w, b))
    assert_close(F.linear(x, wt, bt), a @ w.T + b)
    assert_close(F.linear(x, wt), a @ w.T)
    if 0 not in lead and len(lead) <= 1:
        assert gradcheck(F.linear, (x, wt, bt))


def test_linear_transposed_weight():
    w = np.random.default_rng(0).standard_normal((5, 3))
    a = np.random.default_rng(1).standard_normal((2, 5))
    wt, _ = make_tensor(w, "transposed")  # a (3, 5) view with swapped strides
    assert_close(F.linear(torch.tensor(a), torch.tensor(w.T.copy())), a @ w)
    assert_close(F.linear(torch.tensor(a), torch.tensor(w).t()), a @ w)


def test_linear_shape_mismatch_message():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(8x5 and 6x3\)"):
        F.linear(torch.ones(2, 4, 5), torch.ones(3, 6))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x5 and 6x3\)"):
        F.linear(torch.ones(5), torch.ones(3, 6))


def test_linear_dtype_mismatch_messages():
    x64, w32 = torch.ones(2, 3, dtype=F64), torch.ones(4, 3)
    with pytest.raises(RuntimeError, match="expected m1 and m2 to have the same dtype, but got: double != float"):
        F.linear(x64, w32)
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype, but got Double and Float"):
        F.linear(x64, w32, torch.ones(4))
    with pytest.raises(RuntimeError, match="self and mat2 must have the same dtype, but got Double and Float"):
        F.linear(torch.ones(2, 3), w32, torch.ones(4, dtype=F64))


def test_linear_and_bilinear_follow_autocast():
    lin, bil = torch.nn.Linear(3, 2), torch.nn.Bilinear(2, 3, 4)
    with torch.autocast("cpu", dtype=torch.float16):
        assert lin(torch.randn(4, 3)).dtype == torch.float16
        assert bil(torch.randn(2, 2), torch.randn(2, 3)).dtype == torch.float16
    assert lin(torch.randn(4, 3)).dtype == torch.float32


def test_bilinear_matches_einsum():
    rng = np.random.default_rng(5)
    a1, a2, w, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.standard_normal((5, 3, 2)), rng.standard_normal(5)
    ts = [torch.tensor(v, requires_grad=True) for v in (a1, a2, w, b)]
    assert_close(F.bilinear(*ts), np.einsum("ni,kij,nj->nk", a1, w, a2) + b)
    small = [torch.tensor(v[:2, :2] if v.ndim == 2 else v, requires_grad=True) for v in (a1, a2)]
    assert gradcheck(F.bilinear, (small[0], small[1], torch.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)))
    with pytest.raises(RuntimeError, match=r"bilinear\(\): input2 size does not match weight size: got 3 but expected 2"):
        F.bilinear(ts[0], ts[0], ts[2])
    with pytest.raises(RuntimeError, match=r"bilinear\(\): input batch dimensions do not match at dim 0: got 4 and 2"):
        F.bilinear(ts[0], small[1], ts[2])


# ------------------------------------------------------------------------------ dropout
def test_dropout_statistics_and_scaling():
    torch.manual_seed(0)
    x = torch.ones(20000)
    y = F.dropout(x, 0.3, training=True).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert float(F.dropout(x, 1.0).abs().sum()) == 0.0
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_gradient_is_the_mask():
    torch.manual_seed(1)
    x = torch.ones(50, dtype=F64, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (4, 6, 5)), (F.dropout2d, (4, 6, 3, 3)), (F.dropout3d, (2, 6, 2, 2, 2))])
def test_feature_dropout_zeroes_whole_channels(fn, shape):
    torch.manual_seed(2)
    y = fn(torch.ones(*shape), 0.5).numpy().reshape(shape[0], shape[1], -1)
    assert ((y == 0).all(-1) | (y == 2.0).all(-1)).all()
    assert 0 < (y == 0).mean() < 1


def test_alpha_dropout_keeps_mean_and_variance():
    torch.manual_seed(3)
    x = torch.randn(40000, dtype=F64)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.03 and abs(y.std() - 1) < 0.03
    assert F.alpha_dropout(x, 0.2, training=False) is x


# ------------------------------------------------------------------------------ embedding / one_hot
def test_embedding_lookup_padding_and_grad():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((7, 3))
    idx = np.array([[1, 0, 6], [2, 2, 0]])
    wt = torch.tensor(w, requires_grad=True)
    out = F.embedding(torch.tensor(idx), wt, padding_idx=0)
    assert_close(out, w[idx])
    g = rng.standard_normal(out.shape)
    out.backward(torch.tensor(g))
    ref = np.zeros_like(w)
    np.add.at(ref, idx.reshape(-1), g.reshape(-1, 3))
    ref[0] = 0  # no gradient into the padding row
    assert_close(wt.grad, ref)
    assert gradcheck(lambda t: F.embedding(torch.tensor(idx), t), (torch.tensor(w, requires_grad=True),))
    assert_close(F.embedding(torch.tensor(3), wt), w[3])
    assert tuple(F.embedding(torch.zeros(0, dtype=torch.int64), wt).shape) == (0, 3)


def test_embedding_max_norm_renormalises_rows_in_place():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    wt = torch.tensor(w)
    out = F.embedding(torch.tensor([0, 1]), wt, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), [1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(wt.numpy()[2], [6.0, 8.0])  # rows not looked up are left alone


def test_embedding_errors():
    w = torch.ones(5, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([1, 5]), w)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([-1]), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int"):
        F.embedding(torch.tensor([1.0]), w)


def test_embedding_bag_modes():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((10, 3))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    wt = torch.tensor(w, requires_grad=True)
    s = F.embedding_bag(torch.tensor(idx), wt, torch.tensor([0, 3]), mode="sum")
    assert_close(s, np.stack([w[idx[:3]].sum(0), w[idx[3:]].sum(0)]))
    m = F.embedding_bag(torch.tensor(idx), wt, torch.tensor([0, 3]), mode="mean", padding_idx=2)
    assert_close(m, np.stack([w[[1, 4]].mean(0), w[[5, 4, 3, 9]].mean(0)]))
    mx = F.embedding_bag(torch.tensor(idx.reshape(2, 4)), wt, mode="max")
    assert_close(mx, w[idx.reshape(2, 4)].max(1))
    assert gradcheck(lambda t: F.embedding_bag(torch.tensor(idx), t, torch.tensor([0, 3]), mode="mean"), (wt,))


def test_one_hot():
    assert_close(F.one_hot(torch.tensor([0, 3, 1])), np.eye(4, dtype=np.int64)[[0, 3, 1]])
    assert_close(F.one_hot(torch.tensor([[0], [2]]), 5), np.eye(5, dtype=np.int64)[[[0], [2]]])
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(torch.tensor([0, -1]))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(torch.tensor([0, 3]), 2)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes from empty tensor."):
        F.one_hot(torch.zeros(0, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(torch.tensor([0.0]))


# ------------------------------------------------------------------------------ distances / normalize
def test_normalize_cosine_pairwise():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((1, 4, 2))
    x, y = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    assert_close(F.normalize(x), a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12))
    assert_close(F.normalize(x, p=1, dim=-1), a / np.abs(a).sum(-1, keepdims=True))
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert_close(F.cosine_similarity(x, y), cos)
    d = a - b + 1e-6
    assert_close(F.pairwise_distance(x, y), np.linalg.norm(d, axis=-1))
    assert_close(F.pairwise_distance(x, y, p=1, keepdim=True), np.abs(d).sum(-1, keepdims=True))
    for fn in (F.normalize, F.cosine_similarity, F.pairwise_distance):
        args = (x,) if fn is F.normalize else (x, y)
        assert gradcheck(fn, args)


def test_pdist():
    a = np.random.default_rng(13).standard_normal((4, 3))
    i, j = np.triu_indices(4, 1)
    x = torch.tensor(a, requires_grad=True)
    assert_close(F.pdist(x), np.linalg.norm(a[i] - a[j], axis=1))
    assert_close(F.pdist(x, p=1), np.abs(a[i] - a[j]).sum(1))
    assert gradcheck(F.pdist, (x,))
    assert tuple(F.pdist(torch.ones(1, 3)).shape) == (0,)


def test_norms_have_zero_subgradient_at_zero():
    z = torch.zeros(2, 3, dtype=F64, requires_grad=True)
    F.normalize(z).sum().backward()
    assert np.isfinite(z.grad.numpy()).all()
    z.grad = None
    out = F.cosine_similarity(z, torch.ones(2, 3, dtype=F64))
    out.sum().backward()
    assert_close(out.detach(), np.zeros(2))
    assert np.isfinite(z.grad.numpy()).all()


# ------------------------------------------------------------------------------ normalisation
def _np_bn(a, w, b, eps):
    axes = (0,) + tuple(range(2, a.ndim))
    m, v = a.mean(axes, keepdims=True), a.var(axes, keepdims=True)
    sh = [1, -1] + [1] * (a.ndim - 2)
    return (a - m) / np.sqrt(v + eps) * w.reshape(sh) + b.reshape(sh)


def test_batch_norm_training_eval_and_running_stats():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((4, 3, 5))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = np.zeros(3), np.ones(3)
    rmt, rvt = torch.tensor(rm), torch.tensor(rv)
    out = F.batch_norm(torch.tensor(a), rmt, rvt, torch.tensor(w), torch.tensor(b), training=True, momentum=0.3)
    assert_close(out, _np_bn(a, w, b, 1e-5), rtol=1e-10, atol=1e-10)
    n = a.size // 3
    assert_close(rmt, 0.7 * rm + 0.3 * a.mean((0, 2)))
    assert_close(rvt, 0.7 * rv + 0.3 * a.var((0, 2)) * n / (n - 1))  # unbiased in the running estimate
    ev = F.batch_norm(torch.tensor(a), rmt, rvt, torch.tensor(w), torch.tensor(b), training=False)
    ref = (a - rmt.numpy().reshape(1, 3, 1)) / np.sqrt(rvt.numpy().reshape(1, 3, 1) + 1e-5) * w.reshape(1, 3, 1) + b.reshape(1, 3, 1)
    assert_close(ev, ref)
    args = [torch.tensor(v[:3, :, :2] if v.ndim == 3 else v, requires_grad=True) for v in (a, w, b)]
    assert gradcheck(lambda x, w_, b_: F.batch_norm(x, None, None, w_, b_, training=True), args)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(torch.ones(1, 3), None, None, training=True)


def test_layer_group_rms_instance_norm():
    rng = np.random.default_rng(10)
    a = rng.standard_normal((2, 4, 3))
    x = torch.tensor(a, requires_grad=True)
    w, b = torch.tensor(rng.standard_normal(3), requires_grad=True), torch.tensor(rng.standard_normal(3), requires_grad=True)
    m, v = a.mean(-1, keepdims=True), a.var(-1, keepdims=True)
    assert_close(F.layer_norm(x, (3,), w, b), (a - m) / np.sqrt(v + 1e-5) * w.detach().numpy() + b.detach().numpy())
    m2, v2 = a.mean((1, 2), keepdims=True), a.var((1, 2), keepdims=True)
    assert_close(F.layer_norm(x, (4, 3), eps=1e-3), (a - m2) / np.sqrt(v2 + 1e-3))
    g = a.reshape(2, 2, -1)
    gref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(a.shape)
    assert_close(F.group_norm(x, 2), gref)
    eps = np.finfo(np.float64).eps
    assert_close(F.rms_norm(x, [3], w), a / np.sqrt((a * a).mean(-1, keepdims=True) + eps) * w.detach().numpy())
    iref = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)
    assert_close(F.instance_norm(x), iref)
    assert gradcheck(lambda t, w_, b_: F.layer_norm(t, (3,), w_, b_), (x, w, b))
    assert gradcheck(lambda t: F.group_norm(t, 2), (x,))
    assert gradcheck(lambda t, w_: F.rms_norm(t, (3,), w_), (x, w))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but got input of size\[2, 4, 3\]"):
        F.layer_norm(x, (4,))
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible by num_groups"):
        F.group_norm(x, 3)


def test_local_response_norm_matches_loop():
    a = np.random.default_rng(11).standard_normal((2, 5, 3))
    size, alpha, beta, k = 3, 1e-2, 0.75, 1.0
    sq = np.pad(a * a, ((0, 0), (1, 1), (0, 0)))
    ref = a / (k + alpha / size * np.stack([sq[:, c:c + size].sum(1) for c in range(5)], 1)) ** beta
    assert_close(F.local_response_norm(torch.tensor(a), size, alpha, beta, k), ref)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (differential check only)")
def test_functional_matches_torch():
    import torch as T
    import torch.nn.functional as TF

    rng = np.random.default_rng(12)
    a = rng.standard_normal((3, 4)) * 3
    for name in ("gelu", "silu", "mish", "elu", "selu", "softplus", "logsigmoid", "hardswish"):
        ours = getattr(F, name)(torch.tensor(a)).numpy()
        theirs = getattr(TF, name)(T.tensor(a)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=3e-7, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(F.cosine_similarity(torch.tensor(a * 1e-9), torch.tensor(a)).numpy(),
                               TF.cosine_similarity(T.tensor(a * 1e-9), T.tensor(a)).numpy(), rtol=1e-10)


def test_every_function_rejects_bad_arguments_with_builtin_errors():
    """Random tensors of every dtype and shape (0-d and empty included) and non-tensors, fed
    to each nn.functional function: only the exception types torch raises may come out."""
    import inspect
    import warnings

    allowed = (RuntimeError, IndexError, TypeError, ValueError, NotImplementedError)
    rng = np.random.default_rng(0)
    shapes_ = [(), (0,), (3,), (2, 3), (2, 3, 4), (1, 2, 2, 2), (2, 0, 3)]
    dts = [torch.float32, torch.float64, torch.int64, torch.int32, torch.bool]
    others = [None, "x", 3, 2.5, [1, 2], -1]

    def arg():
        if rng.random() < 0.15:
            return others[rng.integers(len(others))]
        s, d = shapes_[rng.integers(len(shapes_))], dts[rng.integers(len(dts))]
        a = rng.integers(-2, 5, s) if d in (torch.int64, torch.int32) else (rng.random(s) < 0.5 if d == torch.bool else rng.standard_normal(s) * 3)
        return torch.tensor(np.asarray(a)).to(d)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in F._core_all:
            fn = getattr(F, name)
            n = len([p for p in inspect.signature(fn).parameters.values()
                     if p.default is inspect.Parameter.empty and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD])
            for _ in range(25):
                args = [arg() for _ in range(max(n, 1))]
                try:
                    fn(*args)
                except allowed:
                    pass
    with pytest.raises(TypeError, match=r"linear\(\): argument 'weight' \(position 2\) must be Tensor, not str"):
        F.linear(torch.ones(2), "w")
    with pytest.raises(TypeError, match=r"relu\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        F.relu([1.0])
