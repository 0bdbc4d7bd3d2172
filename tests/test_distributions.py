"""torch.distributions: log_prob, entropy, moments and KL against float64 closed forms
written with NumPy, sample shapes and statistics, and gradients through log_prob/rsample."""

import math

import numpy as np
import pytest

import rustensor as torch
from conftest import assert_close
from test_autograd_gradcheck import run

D = torch.distributions
F64 = torch.float64


def t64(x):
    return torch.tensor(np.asarray(x, dtype=np.float64))


def test_normal():
    loc, scale = np.array([0.5, -1.0]), np.array([1.5, 0.3])
    x = np.array([[0.1, 0.2], [1.0, -2.0]])
    n = D.Normal(t64(loc), t64(scale))
    ref = -((x - loc) ** 2) / (2 * scale**2) - np.log(scale) - 0.5 * math.log(2 * math.pi)
    assert_close(n.log_prob(t64(x)), ref)
    assert_close(n.entropy(), 0.5 + 0.5 * math.log(2 * math.pi) + np.log(scale))
    assert_close(n.mean, loc)
    assert_close(n.variance, scale**2)
    assert_close(n.stddev, scale)
    assert n.batch_shape == (2,) and n.event_shape == ()
    q = D.Normal(t64(0.0), t64(2.0))
    ref_kl = np.log(2.0 / scale) + (scale**2 + loc**2) / (2 * 4.0) - 0.5
    assert_close(D.kl_divergence(n, q), ref_kl)
    assert tuple(D.Normal(0.0, 1.0).sample((4, 3)).shape) == (4, 3)
    assert D.Normal(0.0, 1.0).sample().dtype == torch.float32
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    D.Normal(0.0, -1.0, validate_args=False)  # no check when turned off
    run(lambda m, s: D.Normal(m, s).log_prob(t64([[0.3, -0.2], [1.0, 2.0]])), [((2,), "any"), ((2,), "pos")])
    run(lambda m, s: D.kl_divergence(D.Normal(m, s), D.Normal(t64(0.1), t64(1.3))), [((3,), "any"), ((3,), "pos")])


def test_normal_rsample_is_reparameterised():
    g = torch.Generator().manual_seed(0)
    loc = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([0.5, 3.0], dtype=F64, requires_grad=True)
    s = D.Normal(loc, scale).rsample((1000,), generator=g)
    s.sum().backward()
    eps = (s.detach() - loc.detach()) / scale.detach()
    assert loc.grad.tolist() == [1000.0, 1000.0]
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-10)
    m = s.detach().mean(0).numpy()
    assert abs(m[0] - 1.0) < 0.1 and abs(m[1] - 2.0) < 0.5
    assert not D.Normal(loc, scale).sample().requires_grad


def test_uniform():
    lo, hi = np.array([0.0, 1.0]), np.array([2.0, 5.0])
    u = D.Uniform(t64(lo), t64(hi))
    assert_close(u.log_prob(t64([1.0, 4.0])), -np.log(hi - lo))
    assert_close(u.entropy(), np.log(hi - lo))
    assert_close(u.mean, (lo + hi) / 2)
    assert_close(u.variance, (hi - lo) ** 2 / 12)
    assert_close(u.cdf(t64([1.0, 2.0])), np.array([0.5, 0.25]))
    wide = D.Uniform(t64([-1.0, 0.0]), t64([3.0, 6.0]))
    assert_close(D.kl_divergence(u, wide), np.log(np.array([4.0, 6.0]) / (hi - lo)))
    assert np.isinf(D.kl_divergence(wide, u).numpy()).all()
    with pytest.raises(ValueError):
        u.log_prob(t64([1.0, 6.0]))
    s = D.Uniform(-2.0, 3.0).sample((2000,))
    assert s.min().item() >= -2.0 and s.max().item() < 3.0
    run(lambda a, b: D.Uniform(a, a + b).rsample((3,), generator=torch.Generator().manual_seed(1)), [((2,), "any"), ((2,), "pos")])
    with pytest.raises(ValueError):
        D.Uniform(1.0, 0.0)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def test_bernoulli_probs_and_logits():
    p = np.array([0.2, 0.9])
    b = D.Bernoulli(probs=t64(p))
    assert_close(b.log_prob(t64([1.0, 0.0])), np.log(np.array([0.2, 0.1])))
    assert_close(b.entropy(), -(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert_close(b.logits, np.log(p / (1 - p)))
    assert_close(b.mean, p)
    assert_close(b.variance, p * (1 - p))
    lg = np.array([0.3, -2.0])
    bl = D.Bernoulli(logits=t64(lg))
    q = _sig(lg)
    assert_close(bl.probs, q)
    assert_close(bl.log_prob(t64([0.0, 1.0])), np.log(np.array([1 - q[0], q[1]])))
    assert_close(D.kl_divergence(b, bl), p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))
    with pytest.raises(ValueError):
        D.Bernoulli(probs=t64([1.5]))
    with pytest.raises(ValueError):
        D.Bernoulli(probs=t64([0.5]), logits=t64([0.0]))
    with pytest.raises(ValueError):
        b.log_prob(t64([0.5, 1.0]))
    s = D.Bernoulli(probs=torch.full((3000,), 0.3)).sample()
    assert set(s.unique().tolist()) <= {0.0, 1.0} and abs(s.mean().item() - 0.3) < 0.05
    assert tuple(b.sample((5,)).shape) == (5, 2)
    run(lambda lgt: D.Bernoulli(logits=lgt).log_prob(t64([1.0, 0.0, 1.0])) + D.Bernoulli(logits=lgt).entropy(), [((3,), "any")])


def test_categorical():
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.0, 0.9]])
    c = D.Categorical(probs=t64(p * 2))  # unnormalised probs are normalised, as torch does
    assert_close(c.probs, p)
    assert_close(c.log_prob(torch.tensor([2, 0])), np.log(np.array([0.5, 0.1])))
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(p * np.log(p), -1)
    assert_close(c.entropy(), ent)
    assert c.batch_shape == (2,) and c.event_shape == ()
    lg = np.array([1.0, 2.0, 0.5])
    cl = D.Categorical(logits=t64(lg))
    q = np.exp(lg) / np.exp(lg).sum()
    assert_close(cl.probs, q)
    assert_close(cl.log_prob(torch.tensor([[0], [2]])), np.log(q[[[0], [2]]]))
    assert_close(D.kl_divergence(cl, c), np.array([np.sum(q * np.log(q / p[0])), np.inf]))
    assert_close(cl.mode, np.array(1))
    assert_close(c.enumerate_support(), np.array([[0, 0], [1, 1], [2, 2]]))
    g = torch.Generator().manual_seed(4)
    s = c.sample((4000,), generator=g)
    assert tuple(s.shape) == (4000, 2) and s.dtype == torch.int64
    assert not (s[:, 1] == 1).any()
    freq = np.bincount(s[:, 0].numpy(), minlength=3) / 4000
    np.testing.assert_allclose(freq, p[0], atol=0.04)
    with pytest.raises(ValueError):
        c.log_prob(torch.tensor([3, 0]))
    run(lambda lgt: D.Categorical(logits=lgt).log_prob(torch.tensor([1, 0])) + D.Categorical(logits=lgt).entropy(), [((2, 3), "any")])
    run(lambda a, b: D.kl_divergence(D.Categorical(probs=a), D.Categorical(probs=b)), [((2, 3), "pos"), ((2, 3), "pos")])


def _mvn_logpdf(x, mu, cov):
    k = mu.shape[-1]
    d = x - mu
    return -0.5 * (k * math.log(2 * math.pi) + d @ np.linalg.solve(cov, d) + np.log(np.linalg.det(cov)))


def test_multivariate_normal_full_and_diagonal():
    mu = np.array([0.1, 0.2])
    cov = np.array([[2.0, 0.3], [0.3, 0.5]])
    m = D.MultivariateNormal(t64(mu), covariance_matrix=t64(cov))
    xs = np.array([[0.5, -0.5], [1.0, 1.0]])
    assert_close(m.log_prob(t64(xs)), np.array([_mvn_logpdf(x, mu, cov) for x in xs]))
    assert_close(m.entropy(), np.array(0.5 * 2 * (1 + math.log(2 * math.pi)) + 0.5 * np.log(np.linalg.det(cov))))
    assert_close(m.variance, np.diag(cov))
    assert_close(m.covariance_matrix, cov)
    assert_close(m.scale_tril, np.linalg.cholesky(cov))
    assert m.batch_shape == () and m.event_shape == (2,)
    diag = D.MultivariateNormal(t64(np.zeros(2)), covariance_matrix=torch.diag(t64([1.0, 4.0])))
    pm = D.MultivariateNormal(t64(mu), precision_matrix=t64(np.linalg.inv(cov)))
    assert_close(pm.log_prob(t64(xs[0])), np.array(_mvn_logpdf(xs[0], mu, cov)), rtol=1e-10, atol=1e-10)
    # KL between Gaussians: 0.5 (tr(S2^-1 S1) + d^T S2^-1 d - k + ln det S2 - ln det S1)
    s2 = np.diag([1.0, 4.0])
    d = -mu
    ref = 0.5 * (np.trace(np.linalg.solve(s2, cov)) + d @ np.linalg.solve(s2, d) - 2 + np.log(np.linalg.det(s2) / np.linalg.det(cov)))
    assert_close(D.kl_divergence(m, diag), np.array(ref))
    batched = D.MultivariateNormal(t64([[0.0, 1.0], [1.0, 0.0]]), scale_tril=t64([[1.0, 0.0], [0.5, 2.0]]))
    assert batched.batch_shape == (2,) and tuple(batched.sample((7,)).shape) == (7, 2, 2)
    s = m.sample((4000,), generator=torch.Generator().manual_seed(7)).numpy()
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.15)
    with pytest.raises(ValueError):
        D.MultivariateNormal(t64(mu))
    with pytest.raises(ValueError):
        D.MultivariateNormal(t64(mu), covariance_matrix=t64(-cov))

    def f(mu_, a):
        cov_ = a.matmul(a.transpose(0, 1)) + torch.eye(2, dtype=F64)
        return D.MultivariateNormal(mu_, covariance_matrix=cov_).log_prob(t64([[0.3, -0.4], [1.0, 0.5]]))

    run(f, [((2,), "any"), ((2, 2), "any")])


def test_independent():
    base = D.Normal(torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64))
    ind = D.Independent(base, 1)
    assert ind.batch_shape == (3,) and ind.event_shape == (2,)
    x = np.ones((3, 2))
    assert_close(ind.log_prob(t64(x)), (-0.5 * x**2 - 0.5 * math.log(2 * math.pi)).sum(-1))
    assert_close(ind.entropy(), np.full(3, 2 * (0.5 + 0.5 * math.log(2 * math.pi))))
    assert_close(D.kl_divergence(ind, ind), np.zeros(3))
    assert tuple(ind.sample((4,)).shape) == (4, 3, 2)
    with pytest.raises(ValueError):
        D.Independent(base, 3)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(base, D.Bernoulli(probs=t64([0.5])))


def test_register_kl():
    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return p.loc * 0 + 42.0

    a = MyNormal(t64([0.0]), t64([1.0]))
    assert D.kl_divergence(a, a).tolist() == [42.0]
    # a subclass falls back on its base's closed form
    assert D.kl_divergence(a, D.Normal(t64([0.0]), t64([1.0]))).tolist() == [0.0]
