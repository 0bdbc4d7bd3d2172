"""nn.init: torch's gains and fans, each initialiser's distribution checked statistically with a
seeded generator, in-place semantics under no_grad, and torch's errors."""

import math

import numpy as np
import pytest

import rustensor as torch
from rustensor import nn
from rustensor.nn import init

F64 = torch.float64


def _param(*shape):
    return nn.Parameter(torch.zeros(*shape, dtype=F64))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans():
    assert init._calculate_fan_in_and_fan_out(torch.zeros(3, 4)) == (4, 3)
    assert init._calculate_fan_in_and_fan_out(torch.zeros(8, 2, 3, 3)) == (18, 72)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(torch.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported, please use one of"):
        init.kaiming_uniform_(torch.zeros(2, 2), mode="fan_avg")


def test_uniform_normal_constant_work_in_place_on_parameters():
    torch.manual_seed(0)
    p = _param(300, 100)
    out = init.uniform_(p, -2.0, 3.0)
    assert out is p and p.requires_grad and p.grad_fn is None
    v = p.detach().numpy()
    assert v.min() >= -2 and v.max() <= 3 and abs(v.mean() - 0.5) < 0.03
    init.normal_(p, 1.0, 0.5)
    v = p.detach().numpy()
    assert abs(v.mean() - 1) < 0.01 and abs(v.std() - 0.5) < 0.01
    init.constant_(p, 0.25)
    assert (p.detach().numpy() == 0.25).all()
    init.ones_(p)
    assert (p.detach().numpy() == 1).all()
    init.zeros_(p)
    assert (p.detach().numpy() == 0).all()
    init.eye_(p)
    np.testing.assert_array_equal(p.detach().numpy(), np.eye(300, 100))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(torch.zeros(2, 2, 2))


@pytest.mark.parametrize("fn,std_of", [
    (lambda t: init.xavier_normal_(t, gain=2.0), lambda fi, fo: 2.0 * math.sqrt(2 / (fi + fo))),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), lambda fi, fo: math.sqrt(2) / math.sqrt(fi)),
    (lambda t: init.kaiming_normal_(t, a=0.1, mode="fan_out"), lambda fi, fo: math.sqrt(2 / 1.01) / math.sqrt(fo)),
])
def test_normal_family_std(fn, std_of):
    torch.manual_seed(1)
    t = torch.zeros(200, 50, 3, dtype=F64)
    fn(t)
    fi, fo = 150, 600
    assert t.numpy().std() == pytest.approx(std_of(fi, fo), rel=0.02)
    assert abs(t.numpy().mean()) < 0.01 * std_of(fi, fo) * 10


@pytest.mark.parametrize("fn,bound_of", [
    (lambda t: init.xavier_uniform_(t), lambda fi, fo: math.sqrt(6 / (fi + fo))),
    (lambda t: init.kaiming_uniform_(t), lambda fi, fo: math.sqrt(3) * math.sqrt(2) / math.sqrt(fi)),  # a=0 is the slope, not 0.01
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), lambda fi, fo: 1 / math.sqrt(fi)),
])
def test_uniform_family_bounds(fn, bound_of):
    torch.manual_seed(2)
    t = torch.zeros(300, 40, dtype=F64)
    fn(t)
    b = bound_of(40, 300)
    v = t.numpy()
    assert np.abs(v).max() <= b and np.abs(v).max() > 0.98 * b
    assert v.std() == pytest.approx(b / math.sqrt(3), rel=0.03)


def test_zero_element_init_warns_and_is_a_no_op():
    t = torch.zeros(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(t) is t


def test_trunc_normal_stays_in_range_with_the_truncated_moments():
    torch.manual_seed(3)
    t = torch.zeros(40000, dtype=F64)
    init.trunc_normal_(t, mean=0.5, std=1.0, a=-0.5, b=2.0)
    v = t.numpy()
    assert v.min() >= -0.5 and v.max() <= 2.0
    # moments of N(0.5, 1) truncated to [-1, 1.5] standard units
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    alpha, beta = -1.0, 1.5
    zed = cdf(beta) - cdf(alpha)
    mean = 0.5 + (phi(alpha) - phi(beta)) / zed
    var = 1 + (alpha * phi(alpha) - beta * phi(beta)) / zed - ((phi(alpha) - phi(beta)) / zed) ** 2
    assert v.mean() == pytest.approx(mean, abs=0.01)
    assert v.var() == pytest.approx(var, rel=0.03)


def test_orthogonal_and_dirac():
    torch.manual_seed(4)
    for shape in [(6, 4), (3, 8), (4, 2, 3)]:
        t = torch.zeros(*shape, dtype=F64)
        init.orthogonal_(t, gain=2.0)
        m = t.numpy().reshape(shape[0], -1)
        small = min(m.shape)
        gram = m @ m.T if m.shape[0] == small else m.T @ m
        np.testing.assert_allclose(gram, 4 * np.eye(small), atol=1e-10)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(torch.zeros(3))
    w = torch.zeros(4, 2, 3, 3)
    init.dirac_(w, groups=2)
    a = w.numpy()
    assert a.sum() == 4 and a[0, 0, 1, 1] == 1 and a[1, 1, 1, 1] == 1 and a[2, 0, 1, 1] == 1 and a[3, 1, 1, 1] == 1
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(torch.zeros(2, 2))


def test_seeded_init_is_reproducible_and_accepts_generator():
    torch.manual_seed(5)
    a = init.normal_(torch.zeros(5), generator=None).numpy().copy()
    torch.manual_seed(5)
    b = init.normal_(torch.zeros(5)).numpy()
    np.testing.assert_array_equal(a, b)
    torch.manual_seed(6)
    l1 = nn.Linear(3, 3)
    torch.manual_seed(6)
    l2 = nn.Linear(3, 3)
    np.testing.assert_array_equal(l1.weight.detach().numpy(), l2.weight.detach().numpy())


def test_init_records_nothing_for_autograd():
    p = _param(3, 3)
    init.kaiming_normal_(p)
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((3, 3), 2.0))
