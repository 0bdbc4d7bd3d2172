"""The fused multi-tensor optimizer kernels (_fused_adam_, _fused_sgd_): the optimizers use
them when the tensors allow, they give the per-parameter path's results step for step, the
per-parameter path still runs otherwise, the GPU agrees with the CPU, and bad input raises."""

import numpy as np
import pytest

import rustensor as torch

_C = torch._rustensor

ADAM_CASES = [
    ("Adam", {}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.05}),
    ("Adam", {"maximize": True, "betas": (0.3, 0.9)}),
    ("AdamW", {}),
    ("AdamW", {"amsgrad": True, "maximize": True, "weight_decay": 0.2}),
]
SGD_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
]
CASES = ADAM_CASES + SGD_CASES


def _train(name, kw, dtype, differentiable=False, device=None, steps=5, skip_grad_of=None):
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (5,), (), (0, 3), (300, 130)]
    ps = [torch.tensor(rng.standard_normal(s), dtype=dtype, device=device).requires_grad_(True) for s in shapes]
    kw = dict(kw, lr=kw.get("lr", 0.01))
    opt = getattr(torch.optim, name)(ps, differentiable=differentiable, **kw)
    for k in range(steps):
        for i, p in enumerate(ps):
            if skip_grad_of is not None and i == skip_grad_of and k % 2 == 1:
                p.grad = None  # this parameter misses every other step: its own step count
                continue
            g = rng.standard_normal(p.shape)
            p.grad = torch.tensor(g * (1 + k), dtype=dtype, device=device)
        opt.step()
    return [p.detach().cpu().numpy().astype(np.float64) for p in ps], opt


@pytest.fixture
def spy(monkeypatch):
    calls = {"adam": 0, "sgd": 0}
    adam, sgd = _C._fused_adam_, _C._fused_sgd_

    def a(*args):
        calls["adam"] += 1
        return adam(*args)

    def s(*args):
        calls["sgd"] += 1
        return sgd(*args)

    monkeypatch.setattr(_C, "_fused_adam_", a)
    monkeypatch.setattr(_C, "_fused_sgd_", s)
    return calls


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name,kw", CASES)
def test_fused_equals_per_parameter_path(name, kw, dtype, spy):
    fused, _ = _train(name, kw, dtype, skip_grad_of=1)
    assert spy["sgd" if name == "SGD" else "adam"] == 5
    n = sum(spy.values())
    ref, _ = _train(name, kw, dtype, differentiable=True, skip_grad_of=1)
    assert sum(spy.values()) == n, "differentiable=True must take the per-parameter path"
    tol = dict(rtol=1e-13, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    for f, r in zip(fused, ref):
        np.testing.assert_allclose(f, r, **tol)


def test_state_after_fused_steps_is_torchs_layout(spy):
    _, opt = _train("Adam", {"amsgrad": True}, torch.float32, steps=3, skip_grad_of=1)
    st = opt.state_dict()["state"]
    assert set(st[0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert st[0]["step"].item() == 3.0 and st[1]["step"].item() == 2.0
    _, sgd = _train("SGD", {"momentum": 0.9}, torch.float32, steps=2)
    assert set(sgd.state_dict()["state"][0]) == {"momentum_buffer"}


def test_non_contiguous_or_differentiable_grads_fall_back(spy):
    p = torch.tensor(np.arange(12.0).reshape(3, 4), dtype=torch.float32).t().detach().requires_grad_(True)
    p.grad = torch.ones(4, 3)
    opt = torch.optim.Adam([p], lr=0.1)
    opt.step()
    assert spy["adam"] == 0
    q = torch.ones(3, requires_grad=True)
    q.grad = torch.ones(3, requires_grad=True)
    torch.optim.SGD([q], lr=0.1).step()
    assert spy["sgd"] == 0
    np.testing.assert_allclose(q.detach().numpy(), 0.9, rtol=1e-6)


@pytest.mark.parametrize("name,kw", CASES)
def test_gpu_matches_cpu(gpu, name, kw):
    cpu, _ = _train(name, kw, torch.float32, skip_grad_of=1)
    dev, _ = _train(name, kw, torch.float32, device=gpu, skip_grad_of=1)
    for c, g in zip(cpu, dev):
        np.testing.assert_allclose(g, c, rtol=2e-5, atol=2e-6)


def test_raw_kernel_rejects_bad_input():
    p, g = torch.zeros(3), torch.ones(3)
    m, v = torch.zeros(3), torch.zeros(3)
    args = (0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"_fused_adam_: grads of shape \[4\] does not match"):
        _C._fused_adam_([p], [torch.ones(4)], [m], [v], [], [1.0], *args)
    with pytest.raises(RuntimeError, match="_fused_adam_: expected grads on cpu of dtype float32"):
        _C._fused_adam_([p], [g.double()], [m], [v], [], [1.0], *args)
    with pytest.raises(RuntimeError, match="1 steps for 2 params"):
        _C._fused_adam_([p, p], [g, g], [m, m], [v, v], [], [1.0], *args)
    with pytest.raises(RuntimeError, match="must be contiguous"):
        _C._fused_adam_([torch.zeros(2, 2)], [torch.zeros(2, 2).t()], [torch.zeros(2, 2)], [torch.zeros(2, 2)], [], [1.0], *args)
    with pytest.raises(RuntimeError, match="overlaps"):
        _C._fused_adam_([p], [g], [p], [v], [], [1.0], *args)
    with pytest.raises(RuntimeError, match="not supported"):
        _C._fused_sgd_([torch.zeros(2, dtype=torch.int64)], [torch.zeros(2, dtype=torch.int64)], [], [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError):
        _C._fused_sgd_([p], [1.0], [], [], 0.1, 0.0, 0.0, 0.0, False, False)
    # nothing was written by the refused calls
    assert p.tolist() == [0.0, 0.0, 0.0] and m.tolist() == [0.0, 0.0, 0.0]


def test_disjoint_views_of_one_buffer_are_allowed():
    flat = torch.zeros(10)
    a, b = flat[:4], flat[4:]
    ga, gb = torch.ones(4), torch.ones(6)
    _C._fused_sgd_([a, b], [ga, gb], [], [], 0.5, 0.0, 0.0, 0.0, False, False)
    assert flat.tolist() == [-0.5] * 10
