"""The composite ops of issue 11 on the GPU device against their CPU results (float32 and
integers), including gradients computed on the device."""

import os

import numpy as np
import pytest

import rustensor as torch
from conftest import random_array

if not torch.cuda.is_available():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but no GPU adapter opened ({torch.cuda._why_unavailable()})")
    pytest.skip("no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1 to use lavapipe)", allow_module_level=True)

GPU = torch.device("gpu")


def rnd(shape, seed=0, dtype=torch.float32, **kw):
    return random_array(np.random.default_rng(seed), shape, dtype, **kw)


def same(g, c, rtol=1e-4, atol=1e-5):
    if isinstance(c, (tuple, list)):
        assert len(g) == len(c)
        for a, b in zip(g, c):
            same(a, b, rtol, atol)
        return
    assert g.device.type == "gpu", g.device
    assert g.dtype == c.dtype and tuple(g.shape) == tuple(c.shape)
    gv, cv = g.detach().cpu().numpy(), c.detach().numpy()
    if c.dtype == torch.float32:
        np.testing.assert_allclose(gv, cv, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(gv, cv)


CASES = {
    "sort": lambda m, x: tuple(m.sort(x, 1, descending=True)),
    "topk": lambda m, x: tuple(m.topk(x, 2, 0)),
    "median": lambda m, x: tuple(m.median(x, 1)),
    "kthvalue": lambda m, x: tuple(x.kthvalue(2, 1)),
    "unique": lambda m, x: m.unique(x.round(), return_inverse=True, return_counts=True),
    "roll": lambda m, x: m.roll(x, (1, -2), (0, 1)),
    "repeat_interleave": lambda m, x: x.repeat_interleave(2, dim=1),
    "diag_embed": lambda m, x: m.diag_embed(x, 1),
    "take_along_dim": lambda m, x: m.take_along_dim(x, m.argsort(x, 1), 1),
    "index_add": lambda m, x: x.index_add(1, m.tensor([0, 2]).to(x.device), x[:, :2] * 2),
    "masked_scatter": lambda m, x: x.masked_scatter(x > 0, x * 10),
    "scatter_reduce_mean": lambda m, x: x.scatter_reduce(1, m.tensor([[0, 1, 1]] * 3).to(x.device), x[:, :3], "mean"),
    "scatter_reduce_amax": lambda m, x: x.scatter_reduce(1, m.tensor([[0, 1, 1]] * 3).to(x.device), x[:, :3], "amax"),
    "unfold": lambda m, x: x.unfold(1, 2, 1),
    "tensordot": lambda m, x: m.tensordot(x, x, ([1], [1])),
    "kron": lambda m, x: m.kron(x[:2, :2], x[:2]),
    "cdist": lambda m, x: m.cdist(x, x[:2] + 1),
    "cross": lambda m, x: m.linalg.cross(x[:, :3], x[:, 1:4]),
    "var_mean": lambda m, x: m.var_mean(x, 1),
    "nansum": lambda m, x: m.nansum(x, axis=0, keepdims=True),
    "aminmax": lambda m, x: tuple(m.aminmax(x, dim=1)),
    "round": lambda m, x: x.round(decimals=1),
    "vector_norm": lambda m, x: m.linalg.vector_norm(x, 3, 1),
    "inv": lambda m, x: m.linalg.inv(x[:, :3] + 3 * m.eye(3, device=x.device)),
    "histc": lambda m, x: m.histc(x, 5, -2, 2),
    "bincount": lambda m, x: m.bincount((x.abs() * 2).long().reshape(-1)),
    "searchsorted": lambda m, x: m.searchsorted(m.tensor([-1.0, 0.0, 1.0]).to(x.device), x),
    "index_fill": lambda m, x: x.index_fill(0, m.tensor([1]).to(x.device), -1.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_on_gpu_matches_cpu(name):
    a = rnd((3, 5), 1)
    c = torch.tensor(a)
    g = c.to(GPU)
    same(CASES[name](torch, g), CASES[name](torch, c))


@pytest.mark.parametrize("name", ["sort", "median", "roll", "diag_embed", "index_add", "masked_scatter", "scatter_reduce_amax",
                                  "unfold", "cdist", "cross", "vector_norm", "inv"])
def test_gradient_on_gpu_matches_cpu(name):
    a = rnd((3, 5), 2)
    grads = []
    for dev in ("cpu", "gpu"):
        x = torch.tensor(a, device=dev, requires_grad=True)
        out = CASES[name](torch, x)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        tot = sum((o * o.detach().cos()).sum() for o in outs if o.is_floating_point())
        tot.backward()
        grads.append(x.grad)
    assert grads[1].device.type == "gpu"
    np.testing.assert_allclose(grads[1].cpu().numpy(), grads[0].numpy(), rtol=1e-4, atol=1e-5)


def test_random_on_gpu_and_distributions():
    g = torch.Generator().manual_seed(0)
    r = torch.rand(4, generator=g, device=GPU)
    assert r.device.type == "gpu"
    assert torch.multinomial(torch.ones(3, device=GPU), 2).device.type == "gpu"
    n = torch.distributions.Normal(torch.zeros(2, device=GPU), torch.ones(2, device=GPU))
    assert n.sample((3,)).device.type == "gpu"
    assert n.log_prob(torch.zeros(2, device=GPU)).device.type == "gpu"
    c = torch.distributions.Categorical(logits=torch.zeros(2, 3, device=GPU))
    assert c.sample().device.type == "gpu" and c.entropy().device.type == "gpu"


def test_integer_and_tensor_index_rule_on_gpu():
    a = np.arange(60, dtype=np.float32).reshape(2, 5, 6)
    c, g = torch.tensor(a), torch.tensor(a, device=GPU)
    i = torch.tensor([0, 2, 4])
    same(g[1, :, i.to(GPU)], c[1, :, i])
