"""torch.optim: every optimizer against a NumPy float64 transcription of torch's update rule over
several steps (each option), parameter groups, zero_grad, state_dict round trips, errors, and
(where torch is importable) step-for-step equality with torch itself."""

import copy
import os
import warnings

import numpy as np
import pytest

import rustensor as torch

try:
    import torch as _real_torch  # noqa: F401

    if getattr(_real_torch, "__file__", "").startswith(os.path.dirname(torch.__file__)):
        _real_torch = None
except Exception:  # torch absent (CI) or broken
    _real_torch = None

needs_torch = pytest.mark.skipif(_real_torch is None, reason="torch not importable")
needs_gpu = pytest.mark.skipif(not torch.cuda.is_available() and os.environ.get("CI") != "true",
                               reason="no GPU adapter (set RUSTENSOR_ALLOW_SOFTWARE_GPU=1)")

STEPS = 6


# ---------------------------------------------------------------------------- the objective
# f(p) = sum(a * p**4 / 4 + c * p): grad = a * p**3 + c, simple to write in NumPy and non-linear
# enough that every step's gradient differs.

def _problem(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (), (4, 3), (0, 2)]
    ps = [rng.uniform(-1, 1, s) for s in shapes]
    a = [rng.uniform(0.5, 1.5, s) for s in shapes]
    c = [rng.uniform(-1, 1, s) for s in shapes]
    return ps, a, c


def _grad_np(p, a, c):
    return a * p**3 + c


def _leaf(arr, layout):
    if layout == "transposed" and arr.ndim == 2:
        # a leaf whose memory is transposed: the update must respect strides
        t = torch.tensor(np.ascontiguousarray(arr.T)).t().detach()
        assert not t.is_contiguous()
    else:
        t = torch.tensor(arr)
    return t.requires_grad_(True)


def _run_rustensor(cls, kw, steps=STEPS, layout="contiguous"):
    ps0, a, c = _problem()
    ps = [_leaf(p, layout if i == 2 else "contiguous") for i, p in enumerate(ps0)]
    at = [torch.tensor(x) for x in a]
    ct = [torch.tensor(x) for x in c]
    opt = cls(ps, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(((ai * p**4) / 4 + ci * p).sum() for p, ai, ci in zip(ps, at, ct))
        loss.backward()
        opt.step()
    return [p.detach().numpy() for p in ps], opt


# ---------------------------------------------------------------------------- NumPy references
# Written from torch's documented algorithms (torch/optim/*.py, _single_tensor_* functions).

def _lerp(a, b, w):
    return a + w * (b - a)


def ref_sgd(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    def init(p):
        return {"buf": None}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            s["buf"] = g.copy() if s["buf"] is None else momentum * s["buf"] + (1 - dampening) * g
            g = g + momentum * s["buf"] if nesterov else s["buf"]
        return p - lr * g

    return init, step


def ref_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False, decoupled=False):
    b1, b2 = betas

    def init(p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "vmax": np.zeros_like(p)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        s["m"] = _lerp(s["m"], g, 1 - b1)
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        v = s["v"]
        if amsgrad:
            s["vmax"] = np.maximum(s["vmax"], s["v"])
            v = s["vmax"]
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
        return p - lr / (1 - b1**t) * s["m"] / denom

    return init, step


def ref_rmsprop(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, maximize=False):
    def init(p):
        return {"sq": np.zeros_like(p), "ga": np.zeros_like(p), "buf": np.zeros_like(p)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["sq"] = alpha * s["sq"] + (1 - alpha) * g * g
        if centered:
            s["ga"] = _lerp(s["ga"], g, 1 - alpha)
            avg = np.sqrt(s["sq"] - s["ga"] ** 2) + eps
        else:
            avg = np.sqrt(s["sq"]) + eps
        if momentum > 0:
            s["buf"] = momentum * s["buf"] + g / avg
            return p - lr * s["buf"]
        return p - lr * g / avg

    return init, step


def ref_adagrad(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, maximize=False):
    def init(p):
        return {"sum": np.full_like(p, initial_accumulator_value)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s["sum"] = s["sum"] + g * g
        return p - clr * g / (np.sqrt(s["sum"]) + eps)

    return init, step


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    def init(p):
        return {"sq": np.zeros_like(p), "acc": np.zeros_like(p)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["sq"] = rho * s["sq"] + (1 - rho) * g * g
        delta = np.sqrt(s["acc"] + eps) / np.sqrt(s["sq"] + eps) * g
        s["acc"] = rho * s["acc"] + (1 - rho) * delta * delta
        return p - lr * delta

    return init, step


def ref_adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas

    def init(p):
        return {"m": np.zeros_like(p), "u": np.zeros_like(p)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            g = g + weight_decay * p
        s["m"] = _lerp(s["m"], g, 1 - b1)
        s["u"] = np.maximum(b2 * s["u"], np.abs(g) + eps)
        return p - lr / (1 - b1**t) * s["m"] / s["u"]

    return init, step


def ref_nadam(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3, decoupled=False,
              maximize=False):
    b1, b2 = betas

    def init(p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p), "mu_prod": 1.0}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        # torch keeps the product in a float32 scalar tensor: the multiply happens in float32
        s["mu_prod"] = float(np.float32(s["mu_prod"]) * np.float32(mu))
        s["m"] = _lerp(s["m"], g, 1 - b1)
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        denom = np.sqrt(s["v"] / (1 - b2**t)) + eps
        p = p - lr * (1 - mu) / (1 - s["mu_prod"]) * g / denom
        return p - lr * mu_next / (1 - s["mu_prod"] * mu_next) * s["m"] / denom

    return init, step


def ref_radam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled=False, maximize=False):
    b1, b2 = betas

    def init(p):
        return {"m": np.zeros_like(p), "v": np.zeros_like(p)}

    def step(p, g, s, t):
        g = -g if maximize else g
        if weight_decay:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        s["m"] = _lerp(s["m"], g, 1 - b1)
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > 5:
            rect = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            return p - lr * m_hat * rect * np.sqrt(1 - b2**t) / (np.sqrt(s["v"]) + eps)
        return p - lr * m_hat

    return init, step


def _run_reference(ref, steps=STEPS):
    init, step = ref
    ps, a, c = _problem()
    states = [init(p) for p in ps]
    for t in range(1, steps + 1):
        ps = [step(p, _grad_np(p, ai, ci), s, t) for p, ai, ci, s in zip(ps, a, c, states)]
    return ps


O = torch.optim
CASES = [
    (O.SGD, dict(lr=0.1), ref_sgd(lr=0.1)),
    (O.SGD, dict(lr=0.1, momentum=0.9), ref_sgd(lr=0.1, momentum=0.9)),
    (O.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
     ref_sgd(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (O.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
     ref_sgd(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (O.SGD, dict(lr=0.05, momentum=0.5, maximize=True), ref_sgd(lr=0.05, momentum=0.5, maximize=True)),
    (O.Adam, dict(lr=0.05), ref_adam(lr=0.05)),
    (O.Adam, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1), ref_adam(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    (O.Adam, dict(lr=0.05, amsgrad=True), ref_adam(lr=0.05, amsgrad=True)),
    (O.Adam, dict(lr=0.05, maximize=True, weight_decay=0.1), ref_adam(lr=0.05, maximize=True, weight_decay=0.1)),
    (O.AdamW, dict(lr=0.05), ref_adam(lr=0.05, weight_decay=1e-2, decoupled=True)),
    (O.AdamW, dict(lr=0.05, weight_decay=0.3, amsgrad=True), ref_adam(lr=0.05, weight_decay=0.3, amsgrad=True, decoupled=True)),
    (O.RMSprop, dict(lr=0.01), ref_rmsprop(lr=0.01)),
    (O.RMSprop, dict(lr=0.01, centered=True, weight_decay=0.1), ref_rmsprop(lr=0.01, centered=True, weight_decay=0.1)),
    (O.RMSprop, dict(lr=0.01, momentum=0.7, centered=True, maximize=True),
     ref_rmsprop(lr=0.01, momentum=0.7, centered=True, maximize=True)),
    (O.Adagrad, dict(lr=0.1), ref_adagrad(lr=0.1)),
    (O.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3),
     ref_adagrad(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3)),
    (O.Adadelta, dict(), ref_adadelta()),
    (O.Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True), ref_adadelta(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    (O.Adamax, dict(lr=0.05, weight_decay=0.1), ref_adamax(lr=0.05, weight_decay=0.1)),
    (O.NAdam, dict(lr=0.05), ref_nadam(lr=0.05)),
    (O.NAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True), ref_nadam(lr=0.05, weight_decay=0.1, decoupled=True)),
    (O.RAdam, dict(lr=0.05, weight_decay=0.1), ref_radam(lr=0.05, weight_decay=0.1)),
    (O.RAdam, dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
     ref_radam(lr=0.05, weight_decay=0.1, decoupled=True, maximize=True)),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for c, kw, _ in CASES]


@pytest.mark.parametrize("cls,kw,ref", CASES, ids=IDS)
def test_update_rule_matches_numpy_reference(cls, kw, ref):
    got, _ = _run_rustensor(cls, kw, layout="transposed")
    want = _run_reference(ref)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_radam_reference_covers_both_branches():
    # rho_t passes 5 only after a few steps with beta2 = 0.999: the case list must see both sides
    b2 = 0.999
    rho_inf = 2 / (1 - b2) - 1
    rho = [rho_inf - 2 * t * b2**t / (1 - b2**t) for t in range(1, STEPS + 1)]
    assert min(rho) <= 5 < max(rho)


@pytest.mark.parametrize("cls,kw", [(O.SGD, dict(lr=0.1, momentum=0.9)), (O.Adam, dict(lr=0.05, amsgrad=True)),
                                    (O.RMSprop, dict(centered=True, momentum=0.5))])
def test_float32_parameters_stay_float32_and_track_float64(cls, kw):
    ps0, a, c = _problem()
    p32 = [torch.tensor(p.astype(np.float32), requires_grad=True) for p in ps0]
    opt = cls(p32, **kw)
    for _ in range(STEPS):
        opt.zero_grad()
        sum(((torch.tensor(ai.astype(np.float32)) * p**4) / 4 + torch.tensor(ci.astype(np.float32)) * p).sum()
            for p, ai, ci in zip(p32, a, c)).backward()
        opt.step()
    want, _ = _run_rustensor(cls, kw)
    for p, w in zip(p32, want):
        assert p.dtype == torch.float32 and p.is_leaf and p.requires_grad
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-4, atol=1e-5)


def test_lbfgs_minimises_a_quadratic_exactly():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((5, 5))
    A = m @ m.T + 5 * np.eye(5)
    b = rng.standard_normal(5)
    x_star = np.linalg.solve(A, b)
    for ls in (None, "strong_wolfe"):
        x = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        At, bt = torch.tensor(A), torch.tensor(b)
        opt = O.LBFGS([x], lr=1 if ls else 0.5, max_iter=50, history_size=10, line_search_fn=ls,
                      tolerance_grad=1e-12, tolerance_change=1e-14)

        def closure():
            opt.zero_grad()
            loss = 0.5 * (x @ (At @ x)) - bt @ x
            loss.backward()
            return loss

        for _ in range(4):
            loss = opt.step(closure)
        assert isinstance(loss, torch.Tensor)
        np.testing.assert_allclose(x.detach().numpy(), x_star, rtol=1e-6, atol=1e-8)
        assert opt.state[x]["func_evals"] >= 2 and opt.state[x]["n_iter"] >= 1


def test_lbfgs_rejects_groups_and_unknown_line_search():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        O.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = O.LBFGS([a], line_search_fn="armijo")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# ---------------------------------------------------------------------------- groups and API

def test_param_groups_use_their_own_options():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = O.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    (a.sum() + 2 * b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), 1 - 0.1)
    np.testing.assert_allclose(b.detach().numpy(), 1 - 0.5 * 2)
    c = torch.ones(2, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_groups[2]["momentum"] == 0 and opt.param_groups[2]["nesterov"] is False
    c.sum().backward()
    opt.step()
    np.testing.assert_allclose(c.detach().numpy(), 0.0)


def test_parameter_without_grad_is_skipped_and_gets_no_state():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = O.Adam([a, b], lr=0.1)
    a.sum().backward()
    opt.step()
    assert b.grad is None and len(opt.state[b]) == 0
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert set(opt.state[a]) == {"step", "exp_avg", "exp_avg_sq"}
    assert opt.state[a]["step"].dtype == torch.float32 and opt.state[a]["step"].item() == 1.0


def test_zero_grad():
    a = torch.ones(2, requires_grad=True)
    opt = O.SGD([a], lr=0.1)
    (a * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_constructor_errors_match_torch():
    a = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got torch.Tensor"):
        O.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        O.Adam([])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        O.SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        O.SGD([1], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        O.SGD([{"params": [a]}, {"params": [a]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        O.Adam([a], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        O.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid epsilon value: -0.1"):
        O.RMSprop([a], eps=-0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        O.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid rho value: 1.5"):
        O.Adadelta([a], rho=1.5)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together."):
        O.Adam([a], fused=True, foreach=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        O.SGD([a, a], lr=0.1)
    assert any("duplicate parameters" in str(x.message) for x in w)


def test_foreach_fused_capturable_differentiable_are_accepted():
    a = torch.ones(2, requires_grad=True)
    for cls in (O.Adam, O.AdamW):
        opt = cls([a], foreach=True, capturable=True)
        assert opt.defaults["foreach"] is True
        opt = cls([a], fused=True)
        a.sum().backward()
        opt.step()
        a.grad = None
    assert O.SGD([a], lr=0.1, fused=True, differentiable=False).defaults["fused"] is True


def test_named_parameters_give_param_names():
    a, b = torch.ones(2, requires_grad=True), torch.ones(1, requires_grad=True)
    opt = O.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_repr_lists_group_options_sorted():
    opt = O.SGD([torch.ones(1, requires_grad=True)], lr=0.1)
    r = repr(opt)
    assert r.startswith("SGD (\nParameter Group 0\n    dampening: 0\n") and "    lr: 0.1\n" in r and r.endswith(")")


def test_step_hooks_run_and_can_be_removed():
    a = torch.ones(1, requires_grad=True)
    opt = O.SGD([a], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, args, kw: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kw: calls.append("post"))
    opt.step()
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]


def test_closure_is_evaluated_with_grad_enabled():
    a = torch.ones(2, requires_grad=True)
    opt = O.SGD([a], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(a.detach().numpy(), [0.0, 0.0])


# ---------------------------------------------------------------------------- state_dict

STATEFUL = [(O.SGD, dict(lr=0.1, momentum=0.9)), (O.Adam, dict(lr=0.05, amsgrad=True)), (O.AdamW, dict(lr=0.05)),
            (O.RMSprop, dict(momentum=0.5, centered=True)), (O.Adagrad, dict(lr=0.1)), (O.Adadelta, dict()),
            (O.Adamax, dict()), (O.NAdam, dict()), (O.RAdam, dict())]


@pytest.mark.parametrize("cls,kw", STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_state_dict_round_trip_continues_identically(cls, kw):
    ps0, a, c = _problem()
    at, ct = [torch.tensor(x) for x in a], [torch.tensor(x) for x in c]

    def steps(ps, opt, n):
        for _ in range(n):
            opt.zero_grad()
            sum(((ai * p**4) / 4 + ci * p).sum() for p, ai, ci in zip(ps, at, ct)).backward()
            opt.step()

    p1 = [torch.tensor(p, requires_grad=True) for p in ps0]
    o1 = cls([{"params": p1[:2]}, {"params": p1[2:], "lr": 0.01}], **kw)
    steps(p1, o1, 3)
    saved = copy.deepcopy(o1.state_dict())
    assert sorted(saved["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert saved["param_groups"][1]["lr"] == 0.01

    p2 = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in p1]
    o2 = cls([{"params": p2[:2]}, {"params": p2[2:]}], **kw)
    o2.load_state_dict(saved)
    assert o2.param_groups[1]["lr"] == 0.01 and o2.param_groups[1]["params"][0] is p2[2]
    # the loaded state is a copy: stepping o2 leaves `saved` as it was
    before = copy.deepcopy(saved)
    steps(p1, o1, 3)
    steps(p2, o2, 3)
    # (NAdam's float32 mu_product comes back in the parameter's dtype, as in torch: last-bit changes)
    for x, y in zip(p1, p2):
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-8, atol=1e-10)
    for k, st in before["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                np.testing.assert_array_equal(v.numpy(), saved["state"][k][name].numpy())


def test_load_state_dict_checks_group_shapes_and_casts_to_param_dtype():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, dtype=torch.float64, requires_grad=True)
    o = O.Adam([a], lr=0.1)
    a.sum().backward()
    o.step()
    sd = o.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        O.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        O.Adam([a, b]).load_state_dict(sd)
    o2 = O.Adam([b])
    o2.load_state_dict(sd)
    assert o2.state[b]["exp_avg"].dtype == torch.float64
    assert o2.state[b]["step"].dtype == torch.float32


@needs_torch
@pytest.mark.parametrize("cls,kw", STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_state_dict_layout_matches_torch(cls, kw):
    T = _real_torch
    mine = cls([torch.ones(2, requires_grad=True)], **kw)
    theirs = getattr(T.optim, cls.__name__)([T.ones(2, requires_grad=True)], **kw)
    for o, lib in ((mine, torch), (theirs, T)):
        o.param_groups[0]["params"][0].sum().backward()
        o.step()
    sm, st = mine.state_dict(), theirs.state_dict()
    assert set(sm["param_groups"][0]) == set(st["param_groups"][0])
    assert {k: v for k, v in sm["param_groups"][0].items()} == {k: v for k, v in st["param_groups"][0].items()}
    assert set(sm["state"]) == set(st["state"])
    assert set(sm["state"][0]) == set(st["state"][0])
    for k, v in st["state"][0].items():
        if isinstance(v, T.Tensor):
            np.testing.assert_allclose(sm["state"][0][k].numpy(), v.numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------- against torch

TORCH_CASES = [(c.__name__, kw) for c, kw, _ in CASES]


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", TORCH_CASES, ids=IDS)
def test_step_for_step_equal_to_torch(name, kw, dtype):
    T = _real_torch

    def run(lib):
        rng = np.random.default_rng(0)
        w0, b0, x = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((5, 3))
        dt = getattr(lib, dtype)
        w = lib.tensor(w0, dtype=dt, requires_grad=True)
        b = lib.tensor(b0, dtype=dt, requires_grad=True)
        X = lib.tensor(x, dtype=dt)
        opt = getattr(lib.optim, name)([w, b], **kw)
        out = []
        for _ in range(STEPS):
            opt.zero_grad()
            (((X @ w + b).tanh() ** 2).sum() + (b**3).sum() * 0.1).backward()
            opt.step()
            out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]).astype(np.float64))
        return np.array(out)

    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(run(torch), run(T), **tol)


@needs_torch
@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_lbfgs_equal_to_torch(ls):
    T = _real_torch
    out = []
    for lib in (torch, T):
        p = lib.tensor(np.random.default_rng(1).standard_normal(5), dtype=lib.float64, requires_grad=True)
        opt = lib.optim.LBFGS([p], lr=0.5, max_iter=10, history_size=4, line_search_fn=ls)
        w = lib.arange(1, 6, dtype=lib.float64)

        def closure():
            opt.zero_grad()
            loss = ((p - 1) ** 2 * w).sum() + (p**4).sum() * 0.1
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        out.append(p.detach().numpy().copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- GPU

@needs_gpu
@pytest.mark.parametrize("cls,kw", [(O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)), (O.Adam, dict(lr=0.05, amsgrad=True)),
                                    (O.AdamW, dict(lr=0.05)), (O.RMSprop, dict(centered=True, momentum=0.5))],
                         ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_gpu_update_matches_cpu(cls, kw):
    rng = np.random.default_rng(0)
    p0 = rng.uniform(-1, 1, (4, 5)).astype(np.float32)
    out = []
    for dev in ("cpu", "gpu"):
        p = torch.tensor(p0, device=dev, requires_grad=True)
        opt = cls([p], **kw)
        for _ in range(4):
            opt.zero_grad()
            (p**4 / 4 - p).sum().backward()
            opt.step()
        assert p.device.type == dev
        assert all(v.device.type == dev for k, v in opt.state[p].items() if k != "step" and isinstance(v, torch.Tensor))
        out.append(p.detach().cpu().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)
