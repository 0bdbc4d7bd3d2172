"""Issue 11's silent differences (torch's integer-index rule, linspace(bool), scatter dtypes,
div rounding_mode), legacy tensor types, constants, view(dtype), and torch.Generator."""

import math

import numpy as np
import pytest

import rustensor as torch
from conftest import assert_close

try:  # real torch is optional: CI has none, the NumPy references below still run
    import importlib

    _real_torch = importlib.import_module("torch")
    if _real_torch is torch:  # pragma: no cover - only when the suite runs on torch itself
        _real_torch = None
except ImportError:
    _real_torch = None


# ------------------------------------------------------------------ torch's advanced-indexing rule

def _torch_rule_reference(a, key):
    """torch's rule: integers are applied as selects first, then the tensor indices follow
    NumPy's rule on what remains (so x[1, :, idx] is x[1][:, idx])."""
    sel = a
    rest = []
    dim = 0
    for k in key:
        if isinstance(k, int):
            sel = np.take(sel, k, axis=dim)
        else:
            rest.append(k)
            if k is not Ellipsis:
                dim += 1
    return sel[tuple(rest)]


@pytest.mark.parametrize("key_fn", [
    lambda i: (1, slice(None), i),
    lambda i: (i, slice(None), 1),
    lambda i: (1, i, slice(None)),
    lambda i: (slice(None), 1, i),
    lambda i: (0, slice(1, None), i, ),
    lambda i: (i, 2, i),
])
def test_integer_and_tensor_indices_follow_torch(key_fn):
    a = np.arange(3 * 5 * 6, dtype=np.float32).reshape(3, 5, 6)
    idx = np.array([0, 2, 1])
    key_np = key_fn(idx)
    ref = _torch_rule_reference(a, list(key_np))
    t = torch.tensor(a)
    key_t = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key_np)
    assert_close(t[key_t], ref)
    # assignment places values the same way (no repeated indices here, so a read-back matches)
    t2 = torch.zeros(3, 5, 6)
    t2[key_t] = torch.tensor(ref) + 1
    assert_close(t2[key_t], ref + 1)
    assert float(t2.sum()) == pytest.approx(float((ref + 1).sum()))


def test_zero_d_integer_tensor_index_is_a_select():
    x = torch.arange(60).reshape(2, 5, 6)
    assert tuple(x[torch.tensor(1), :, torch.tensor([0, 2, 4])].shape) == (5, 3)
    assert x[torch.tensor(1)].tolist() == x[1].tolist()


@pytest.mark.skipif(_real_torch is None, reason="real torch not importable")
def test_indexing_matches_real_torch():
    a = np.arange(3 * 5 * 6 * 3).reshape(3, 5, 6, 3)
    x, y = torch.tensor(a), _real_torch.tensor(a)
    i = [0, 2, 1]
    keys = [(1, slice(None), i), (i, slice(None), 1), (slice(None), 0, slice(None), i), (1, i, slice(None), i),
            (i, 1, slice(None), i), (Ellipsis, 1, i), (None, 1, slice(None), i), (slice(None), i, 1, i)]
    for key in keys:
        kx = tuple(torch.tensor(k) if isinstance(k, list) else k for k in key)
        ky = tuple(_real_torch.tensor(k) if isinstance(k, list) else k for k in key)
        np.testing.assert_array_equal(x[kx].numpy(), y[ky].numpy())
        xs, ys = torch.zeros(*a.shape, dtype=torch.int64), _real_torch.zeros(*a.shape, dtype=_real_torch.int64)
        v = np.arange(int(np.prod(tuple(y[ky].shape)))).reshape(tuple(y[ky].shape))
        xs[kx] = torch.tensor(v)
        ys[ky] = _real_torch.tensor(v)
        np.testing.assert_array_equal(xs.numpy(), ys.numpy())


def test_linspace_bool_scatter_dtype_and_div_mode_raise_like_torch():
    with pytest.raises(RuntimeError, match="linspace"):
        torch.linspace(0, 1, 5, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="dtype"):
        torch.zeros(3).scatter(0, torch.tensor([0]), torch.ones(1, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="rounding_mode"):
        torch.ones(2).div(2, rounding_mode="typo")
    with pytest.raises(RuntimeError, match="rounding_mode"):
        torch.div(torch.ones(2), 2, rounding_mode="typo")


# ------------------------------------------------------------------ legacy types, constants, view(dtype)

@pytest.mark.parametrize("name,dtype", [("FloatTensor", "float32"), ("DoubleTensor", "float64"), ("HalfTensor", "float16"),
                                        ("LongTensor", "int64"), ("IntTensor", "int32"), ("BoolTensor", "bool")])
def test_legacy_constructors(name, dtype):
    cls = getattr(torch, name)
    dt = getattr(torch, dtype)
    t = cls(2, 3)
    assert t.dtype == dt and tuple(t.shape) == (2, 3)
    d = cls([1, 0, 1])
    assert d.dtype == dt and d.tolist() == [v if dtype != "bool" else bool(v) for v in [1, 0, 1]]
    e = cls()
    assert tuple(e.shape) == (0,) and e.dtype == dt
    assert isinstance(d, cls) and not isinstance(torch.zeros(2, dtype=torch.float64 if dtype != "float64" else torch.float32), cls)
    assert d.type() == f"rustensor.{name}"
    with pytest.raises(TypeError):
        cls("x", 2)


def test_constants():
    assert torch.pi == math.pi and torch.e == math.e
    assert math.isinf(torch.inf) and torch.inf > 0 and math.isnan(torch.nan)


def test_view_dtype_reinterprets_bytes():
    a = np.array([[1.0, -2.5], [3.0, 0.0]], dtype=np.float32)
    t = torch.tensor(a)
    v = t.view(torch.int32)
    assert v.dtype == torch.int32 and v.numpy().tolist() == a.view(np.int32).tolist()
    v[0, 0] = 0  # same bytes: writing through the view changes the original
    assert t[0, 0].item() == 0.0
    w = torch.tensor(np.arange(4, dtype=np.float32)).view(torch.float64)
    assert tuple(w.shape) == (2,) and w.numpy().tolist() == np.arange(4, dtype=np.float32).view(np.float64).tolist()
    h = torch.ones(4).view(torch.float16)
    assert tuple(h.shape) == (8,)
    assert t.view(torch.float32).dtype == torch.float32 and t.view(4).shape == (4,)
    with pytest.raises(RuntimeError):
        torch.ones(3).view(torch.float64)
    with pytest.raises(RuntimeError):
        torch.ones(2, 4).t().view(torch.float64)


# ------------------------------------------------------------------ Generator

def test_generator_reproducible_and_independent():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.rand(3, generator=g1).tolist() == torch.rand(3, generator=g2).tolist()
    assert torch.randn(2, 2, generator=g1).tolist() == torch.randn(2, 2, generator=g2).tolist()
    assert torch.randint(0, 10, (5,), generator=g1).tolist() == torch.randint(0, 10, (5,), generator=g2).tolist()
    p1, p2 = torch.randperm(8, generator=g1), torch.randperm(8, generator=g2)
    assert p1.tolist() == p2.tolist() and sorted(p1.tolist()) == list(range(8))
    assert g1.initial_seed() == 5 and torch.Generator().initial_seed() == 67280421310721
    state = g1.get_state()
    a = torch.rand(4, generator=g1)
    g1.set_state(state)
    assert torch.rand(4, generator=g1).tolist() == a.tolist()
    # the global stream is untouched by a private generator
    torch.manual_seed(1)
    x = torch.rand(3)
    torch.manual_seed(1)
    torch.rand(3, generator=torch.Generator().manual_seed(9))
    assert torch.rand(3).tolist() == x.tolist()
    s = torch.Generator().seed()
    assert isinstance(s, int)
    assert torch.Generator(device="cpu").device.type == "cpu"


def test_generator_in_fills_and_sampling():
    g = torch.Generator().manual_seed(2)
    a = torch.empty(1000).uniform_(-1, 3, generator=g)
    assert -1 <= a.min().item() and a.max().item() < 3
    n = torch.empty(2000).normal_(2.0, 0.5, generator=g)
    assert abs(n.mean().item() - 2.0) < 0.1 and abs(n.std().item() - 0.5) < 0.1
    b = torch.bernoulli(torch.full((2000,), 0.3), generator=g)
    assert set(b.unique().tolist()) <= {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.06
    e = torch.empty(2000).exponential_(2.0, generator=g)
    assert e.min().item() >= 0 and abs(e.mean().item() - 0.5) < 0.08
    r = torch.normal(torch.zeros(3), torch.ones(3), generator=g)
    assert tuple(r.shape) == (3,)
    r = torch.normal(1.0, 2.0, size=(2, 3), generator=g)
    assert tuple(r.shape) == (2, 3)
    pz = torch.poisson(torch.full((500,), 4.0), generator=g)
    assert abs(pz.mean().item() - 4.0) < 0.5
    with pytest.raises(TypeError):
        torch.rand(2, generator=123)
    with pytest.raises(RuntimeError):
        torch.randint(5, 5, (2,))
    with pytest.raises(RuntimeError):
        torch.bernoulli(torch.tensor([1.5]))


def test_manual_seed_drives_every_sampler():
    def draw():
        torch.manual_seed(123)
        return (torch.rand(3).tolist(), torch.randn(2).tolist(), torch.randperm(5).tolist(),
                torch.bernoulli(torch.full((6,), 0.5)).tolist(), torch.multinomial(torch.ones(4), 2).tolist(),
                torch.empty(3).normal_().tolist())

    assert draw() == draw()
    assert torch.initial_seed() == 123
    assert torch.default_generator.initial_seed() == 123


def test_random_argument_rules_match_torch():
    with pytest.raises(NotImplementedError):
        torch.rand(2, dtype=torch.int64)
    assert torch.Generator().manual_seed(-1).initial_seed() == 2**64 - 1
    assert torch.randint(0, 3, (2,), dtype=torch.float32).dtype == torch.float32
    assert torch.randperm(4, dtype=torch.int32).dtype == torch.int32
    assert torch.randint_like(torch.zeros(2), 5).dtype == torch.float32
    assert torch.rand_like(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64
    r = torch.empty(50, dtype=torch.int64).random_(3, 7)
    assert r.min().item() >= 3 and r.max().item() < 7
    for bad in (lambda: torch.randperm(-1), lambda: torch.multinomial(torch.zeros(3), 1), lambda: torch.normal(0.0, -1.0, (2,))):
        with pytest.raises(RuntimeError):
            bad()
