"""optim.lr_scheduler: each scheduler's lr sequence against its hand-written closed form (two param
groups), momentum cycling, state_dict round trips, torch's warnings and errors, and (where torch
is importable) the same sequences as torch."""

import copy
import math
import os
import warnings
from bisect import bisect_right

import numpy as np
import pytest

import rustensor as torch

try:
    import torch as _real_torch

    if getattr(_real_torch, "__file__", "").startswith(os.path.dirname(torch.__file__)):
        _real_torch = None
except Exception:
    _real_torch = None

needs_torch = pytest.mark.skipif(_real_torch is None, reason="torch not importable")

S = torch.optim.lr_scheduler
BASES = (0.1, 0.3)
N = 16


def _opt(lib=torch, name="SGD"):
    p = lib.zeros(2, requires_grad=True)
    q = lib.zeros(2, requires_grad=True)
    kw = dict(momentum=0.9) if name == "SGD" else {}
    return getattr(lib.optim, name)([{"params": [p]}, {"params": [q], "lr": BASES[1]}], lr=BASES[0], **kw)


def _sequence(opt, sched, n=N):
    """[lrs at epoch 0, 1, ..., n] as the training loop sees them (optimizer.step, then scheduler.step)."""
    out = [list(sched.get_last_lr())]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append(list(sched.get_last_lr()))
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return np.array(out)


def _cos(lo, hi, frac):
    return lo + (hi - lo) * (1 + math.cos(math.pi * frac)) / 2


def _warm_restarts(e, T0, mult):
    Ti, start = T0, 0
    while e >= start + Ti:
        start += Ti
        Ti *= mult
    return e - start, Ti


def _onecycle(e, max_lr, total, pct=0.3, div=25.0, final_div=1e4):
    init = max_lr / div
    low = init / final_div
    end1 = pct * total - 1
    if e <= end1:
        return _cos_anneal(init, max_lr, e / end1)
    return _cos_anneal(max_lr, low, (e - end1) / (total - 1 - end1))


def _cos_anneal(start, end, pct):
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def _cyclic_tri2(e, base, hi, up):
    cycle = math.floor(1 + e / (2 * up))
    x = 1 + e / (2 * up) - cycle
    scale = x / 0.5 if x <= 0.5 else (x - 1) / (0.5 - 1)
    return base + (hi - base) * scale / 2 ** (cycle - 1)


# (name, constructor(scheduler module, optimizer), closed form lr(base, epoch))
CASES = [
    ("StepLR", lambda L, o: L.StepLR(o, 3, 0.5), lambda b, e: b * 0.5 ** (e // 3)),
    ("MultiStepLR", lambda L, o: L.MultiStepLR(o, [2, 5, 5, 9], 0.3), lambda b, e: b * 0.3 ** bisect_right([2, 5, 5, 9], e)),
    ("ExponentialLR", lambda L, o: L.ExponentialLR(o, 0.9), lambda b, e: b * 0.9**e),
    ("CosineAnnealingLR", lambda L, o: L.CosineAnnealingLR(o, 4, 0.01), lambda b, e: _cos(0.01, b, e / 4)),
    ("CosineAnnealingWarmRestarts", lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, 2, 0.001),
     lambda b, e: _cos(0.001, b, _warm_restarts(e, 3, 2)[0] / _warm_restarts(e, 3, 2)[1])),
    ("LambdaLR", lambda L, o: L.LambdaLR(o, lambda e: 0.95**e + 0.01 * e), lambda b, e: b * (0.95**e + 0.01 * e)),
    ("MultiplicativeLR", lambda L, o: L.MultiplicativeLR(o, lambda e: 0.9), lambda b, e: b * 0.9**e),
    ("LinearLR", lambda L, o: L.LinearLR(o, 0.2, 0.9, 6), lambda b, e: b * (0.2 + 0.7 * min(e, 6) / 6)),
    ("ConstantLR", lambda L, o: L.ConstantLR(o, 0.25, 4), lambda b, e: b * (0.25 if e < 4 else 1.0)),
    ("PolynomialLR", lambda L, o: L.PolynomialLR(o, 7, 2.0), lambda b, e: b * (1 - min(e, 7) / 7) ** 2),
    ("OneCycleLR", lambda L, o: L.OneCycleLR(o, 0.5, total_steps=N + 1), lambda b, e: _onecycle(e, 0.5, N + 1)),
    ("CyclicLR", lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2"),
     lambda b, e: _cyclic_tri2(e, 0.01, 0.1, 3)),
    ("SequentialLR", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 3), L.CosineAnnealingLR(o, 6)], [3]),
     lambda b, e: b * (0.1 + 0.9 * e / 3) if e < 3 else _cos(0.0, b, (e - 3) / 6)),
    ("ChainedScheduler", lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.5, 3), L.ExponentialLR(o, 0.8)]),
     lambda b, e: b * 0.8**e * (0.5 if e < 3 else 1.0)),
]


@pytest.mark.parametrize("name,make,closed", CASES, ids=[c[0] for c in CASES])
def test_lr_sequence_matches_closed_form(name, make, closed):
    opt = _opt()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the usual loop order must not warn
        got = _sequence(opt, make(S, opt))
    want = np.array([[closed(b, e) for b in BASES] for e in range(N + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_closed_form_through_step_epoch():
    opt = _opt()
    s = S.StepLR(opt, 2, 0.1)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(5)
    np.testing.assert_allclose(s.get_last_lr(), [b * 0.01 for b in BASES])
    assert s.last_epoch == 5


def test_cyclic_and_onecycle_cycle_momentum_or_beta1():
    opt = _opt()
    s = S.CyclicLR(opt, 0.01, 0.1, step_size_up=2, base_momentum=0.8, max_momentum=0.9)
    moms = [opt.param_groups[0]["momentum"]]
    for _ in range(4):
        opt.step()
        s.step()
        moms.append(opt.param_groups[0]["momentum"])
    np.testing.assert_allclose(moms, [0.9, 0.85, 0.8, 0.85, 0.9])
    adam = _opt(name="Adam")
    s = S.OneCycleLR(adam, 0.5, total_steps=10, base_momentum=0.85, max_momentum=0.95)
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)
    for _ in range(3):
        adam.step()
        s.step()
    b1 = adam.param_groups[0]["betas"][0]
    assert 0.85 < b1 < 0.95 and adam.param_groups[0]["betas"][1] == 0.999
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(torch.optim.Adagrad([torch.zeros(1, requires_grad=True)]), 0.01, 0.1)


def test_onecycle_errors():
    opt = _opt()
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(opt, 0.1)
    s = S.OneCycleLR(opt, 0.1, total_steps=2)
    opt.step()
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        s.step()


def test_reduce_lr_on_plateau_sequence():
    opt = _opt()
    s = S.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5, min_lr=0.05)
    seq = []
    for m in [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3]:
        opt.step()
        s.step(m)
        seq.append(s.get_last_lr())
    # bad epochs: after 3 non-improving epochs the lr halves, one epoch of cooldown, and min_lr caps group 0 (0.1)
    assert [x[1] for x in seq] == [0.3] * 4 + [0.15] * 4 + [0.075] * 4 + [0.05] * 2
    assert [x[0] for x in seq] == [0.1] * 4 + [0.05] * 10
    mx = S.ReduceLROnPlateau(_opt(), mode="max", threshold_mode="abs", threshold=0.5, patience=0)
    mx.step(1.0)
    mx.step(1.4)  # not better by 0.5: reduce at once
    assert mx.get_last_lr() == pytest.approx([0.01, 0.03])
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        S.ReduceLROnPlateau(opt, mode="avg")


@pytest.mark.parametrize("name,make,closed", CASES, ids=[c[0] for c in CASES])
def test_state_dict_round_trip(name, make, closed):
    o1 = _opt()
    s1 = make(S, o1)
    _sequence(o1, s1, 5)
    sd_o, sd_s = copy.deepcopy(o1.state_dict()), copy.deepcopy(s1.state_dict())
    assert "optimizer" not in sd_s
    o2 = _opt()
    s2 = make(S, o2)
    o2.load_state_dict(sd_o)
    s2.load_state_dict(sd_s)
    assert getattr(s2, "last_epoch", None) == getattr(s1, "last_epoch", None)
    np.testing.assert_allclose(_sequence(o2, s2, 6), _sequence(o1, s1, 6), rtol=1e-15)


def test_scheduler_before_optimizer_step_warns():
    opt = _opt()
    s = S.StepLR(opt, 2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        s.step()


def test_get_lr_outside_step_warns_and_errors():
    opt = _opt()
    s = S.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([], 1)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
        S.StepLR(_opt(), 1, last_epoch=3)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        S.CosineAnnealingWarmRestarts(opt, 0)
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 1), S.StepLR(_opt(), 1)], [2])
    with pytest.raises(ValueError, match="number of milestones to be equal to 2"):
        S.SequentialLR(opt, [S.StepLR(opt, 1), S.StepLR(opt, 1)], [2, 3])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(opt, [lambda e: 1.0])


@needs_torch
@pytest.mark.parametrize("optname", ["SGD", "Adam"])
@pytest.mark.parametrize("name,make,closed", CASES, ids=[c[0] for c in CASES])
def test_same_sequence_as_torch(name, make, closed, optname):
    T = _real_torch
    mine, theirs = _opt(torch, optname), _opt(T, optname)
    a = _sequence(mine, make(S, mine))
    b = _sequence(theirs, make(T.optim.lr_scheduler, theirs))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-16)
    key = "momentum" if optname == "SGD" else "betas"
    assert mine.param_groups[0][key] == pytest.approx(theirs.param_groups[0][key], abs=1e-15)


@needs_torch
def test_reduce_lr_on_plateau_same_as_torch():
    T = _real_torch
    out = []
    for lib in (torch, T):
        o = _opt(lib)
        s = lib.optim.lr_scheduler.ReduceLROnPlateau(o, patience=1, cooldown=2, factor=0.3, threshold=0.1, min_lr=[0.0, 0.02])
        seq = []
        for m in [5, 4.9, 4.8, 4.0, 4.0, 3.9, 3.9, 3.9, 1.0, 1.0, 1.0, 1.0]:
            o.step()
            s.step(m)
            seq.append(s.get_last_lr())
        out.append(seq)
    np.testing.assert_allclose(out[0], out[1], rtol=0, atol=1e-16)
