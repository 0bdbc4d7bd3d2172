"""nn.CTCLoss / F.ctc_loss and nn.AdaptiveLogSoftmaxWithLoss: values against NumPy float64
references written here (a plain per-sequence dynamic programme for CTC, the module's own
weights for the adaptive softmax), gradients against finite differences, torch's argument
errors; then the same against real torch when it is importable, and GPU against CPU when an
adapter is."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F

# a tail whose hidden width rounds to 0 warns here exactly as in torch
pytestmark = pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")


# --------------------------------------------------------------------------- CTC reference
def _ctc_ref_one(lp, labels, blank):
    """-log p(labels | lp) for one sequence, lp (T, C) float64, by the textbook recursion
    over the extended labelling (blank, l1, blank, ..., lS, blank)."""
    ext = [blank]
    for c in labels:
        ext += [int(c), blank]
    n_ext, n_t = len(ext), lp.shape[0]
    if n_t == 0:
        return 0.0 if len(labels) == 0 else math.inf
    alpha = np.full(n_ext, -np.inf)
    alpha[0] = lp[0, ext[0]]
    if n_ext > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, n_t):
        prev = alpha.copy()
        for s in range(n_ext):
            a = prev[s]
            if s >= 1:
                a = np.logaddexp(a, prev[s - 1])
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a = np.logaddexp(a, prev[s - 2])
            alpha[s] = a + lp[t, ext[s]]
    end = alpha[-1] if n_ext == 1 else np.logaddexp(alpha[-1], alpha[-2])
    return -float(end)


def _ctc_ref(lp, targets, il, tl, blank=0, reduction="mean", zero_infinity=False):
    lp = np.asarray(lp, dtype=np.float64)
    targets = np.asarray(targets)
    losses, off = [], 0
    for n in range(lp.shape[1]):
        if targets.ndim == 1:
            lab = targets[off:off + tl[n]]
            off += tl[n]
        else:
            lab = targets[n, :tl[n]]
        losses.append(_ctc_ref_one(lp[:il[n], n], lab, blank))
    out = np.array(losses)
    if zero_infinity:
        out = np.where(np.isinf(out), 0.0, out)
    if reduction == "mean":
        return (out / np.maximum(np.asarray(tl, dtype=np.float64), 1)).mean()
    if reduction == "sum":
        return out.sum()
    return out


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _ctc_case(seed, t=12, n=4, c=6, s=4, blank=0):
    """log-probs (T, N, C), padded targets (N, S) without blanks, lengths with one short input,
    one empty target and one target that repeats a label."""
    rng = np.random.default_rng(seed)
    lp = _log_softmax(rng.standard_normal((t, n, c)), 2)
    labels = [v for v in range(c) if v != blank]
    tg = rng.choice(labels, size=(n, s))
    tg[0, 1] = tg[0, 0]  # a repeated label needs a blank between the two
    il = np.full(n, t)
    il[-1] = t - 3
    tl = rng.integers(1, s + 1, n)
    tl[0] = s
    if n > 2:
        tl[2] = 0
    return lp, tg, il, tl


def _concat(tg, tl):
    return np.concatenate([tg[i, :tl[i]] for i in range(len(tl))]).astype(np.int64)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("lengths", ["tensor", "tuple", "list"])
def test_ctc_matches_reference(reduction, layout, lengths):
    lp, tg, il, tl = _ctc_case(1)
    targets = tg if layout == "padded" else _concat(tg, tl)
    want = _ctc_ref(lp, targets, il, tl, reduction=reduction)
    conv = {"tensor": torch.tensor, "tuple": lambda a: tuple(int(v) for v in a), "list": lambda a: [int(v) for v in a]}[lengths]
    got = F.ctc_loss(torch.tensor(lp), torch.tensor(targets), conv(il), conv(tl), reduction=reduction)
    assert got.dtype == torch.float64
    assert tuple(got.shape) == (() if reduction != "none" else (lp.shape[1],))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("blank", [0, 3, 5])
def test_ctc_blank_index_and_float32(blank):
    lp, tg, il, tl = _ctc_case(2, blank=blank)
    want = _ctc_ref(lp, tg, il, tl, blank=blank, reduction="none")
    got = F.ctc_loss(torch.tensor(lp.astype(np.float32)), torch.tensor(tg), torch.tensor(il), torch.tensor(tl),
                     blank=blank, reduction="none")
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_ctc_module_equals_functional():
    lp, tg, il, tl = _ctc_case(3)
    m = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert (m.blank, m.reduction, m.zero_infinity) == (0, "sum", True)
    a = m(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
    b = F.ctc_loss(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="sum", zero_infinity=True)
    assert float(a) == float(b)
    assert nn.CTCLoss().reduction == "mean" and nn.CTCLoss().blank == 0


def test_ctc_repeated_labels_need_the_blank_frame():
    # "1 1 2": the shortest alignment is 1 _ 1 2, four frames; three frames cannot emit it
    rng = np.random.default_rng(4)
    lp = _log_softmax(rng.standard_normal((4, 2, 3)), 2)
    tg = np.array([[1, 1, 2], [1, 2, 2]])
    got = F.ctc_loss(torch.tensor(lp), torch.tensor(tg), [4, 3], [3, 3], reduction="none").numpy()
    want = _ctc_ref(lp, tg, [4, 3], [3, 3], reduction="none")
    assert np.isfinite(got[0]) and got[1] == math.inf and want[1] == math.inf
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # with exactly four frames the only alignment is forced: the loss is -Σ of its log-probs
    assert got[0] == pytest.approx(-(lp[0, 0, 1] + lp[1, 0, 0] + lp[2, 0, 1] + lp[3, 0, 2]), rel=1e-12)


def test_ctc_empty_target_and_zero_length_input():
    rng = np.random.default_rng(5)
    lp = _log_softmax(rng.standard_normal((5, 3, 4)), 2)
    got = F.ctc_loss(torch.tensor(lp), torch.tensor(np.array([1, 2])), [5, 0, 0], [0, 0, 2], reduction="none").numpy()
    assert got[0] == pytest.approx(-lp[:, 0, 0].sum(), rel=1e-12)
    assert got[1] == 0.0 and got[2] == math.inf


def test_ctc_infinite_loss_and_zero_infinity():
    lp, tg, il, tl = _ctc_case(6)
    il, tl = il.copy(), tl.copy()
    il[1], tl[1] = 2, 4  # two frames cannot emit four labels: no alignment
    x = torch.tensor(lp, requires_grad=True)
    inf = F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none")
    assert inf.detach().numpy()[1] == math.inf
    assert float(F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="mean")) == math.inf
    zi = F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none", zero_infinity=True)
    want = _ctc_ref(lp, tg, il, tl, reduction="none", zero_infinity=True)
    np.testing.assert_allclose(zi.detach().numpy(), want, rtol=1e-12)
    assert want[1] == 0.0
    F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="mean", zero_infinity=True).backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    assert (g[:, 1] == 0).all()  # the infinite loss contributes no gradient
    assert (np.abs(g[:il[0], 0]) > 0).any()


def test_ctc_unbatched():
    lp, tg, il, tl = _ctc_case(7, n=1)
    lab = tg[0, :tl[0]]
    for red in ["none", "mean", "sum"]:
        got = F.ctc_loss(torch.tensor(lp[:, 0]), torch.tensor(lab), torch.tensor(int(il[0])), torch.tensor(int(tl[0])),
                         reduction=red)
        assert tuple(got.shape) == ()
        want = _ctc_ref(lp, lab, il, tl, reduction=red)
        np.testing.assert_allclose(got.numpy(), np.asarray(want).reshape(()), rtol=1e-12)
    # lengths as one-element sequences, and a padded (1, S) target, work the same
    got = F.ctc_loss(torch.tensor(lp[:, 0]), torch.tensor(tg[:1]), [int(il[0])], [int(tl[0])], reduction="none")
    assert tuple(got.shape) == ()
    np.testing.assert_allclose(got.numpy(), _ctc_ref(lp, tg, il, tl, reduction="none")[0], rtol=1e-12)


def test_ctc_frames_past_the_input_length_get_no_gradient():
    lp, tg, il, tl = _ctc_case(8)
    x = torch.tensor(lp, requires_grad=True)
    F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="sum").backward()
    assert (x.grad.numpy()[il[-1]:, -1] == 0).all()


def test_ctc_gradcheck_float64():
    lp, tg, il, tl = _ctc_case(9, t=6, n=3, c=4, s=3)
    x = torch.tensor(lp, requires_grad=True)
    targets, ilt, tlt = torch.tensor(tg), torch.tensor(il), torch.tensor(tl)
    for red in ["none", "mean", "sum"]:
        assert torch.autograd.gradcheck(lambda v: F.ctc_loss(v, targets, ilt, tlt, reduction=red), (x,), eps=1e-6, atol=1e-7)


def test_ctc_gradient_matches_finite_differences_of_the_reference():
    # the gradient is that of the loss as a function of log_probs themselves (no softmax
    # assumed), so it must match differences of the NumPy reference, entry by entry
    lp, tg, il, tl = _ctc_case(10, t=5, n=2, c=4, s=2)
    x = torch.tensor(lp, requires_grad=True)
    F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="mean").backward()
    num = np.zeros_like(lp)
    eps = 1e-6
    for i in np.ndindex(lp.shape):
        up, dn = lp.copy(), lp.copy()
        up[i] += eps
        dn[i] -= eps
        num[i] = (_ctc_ref(up, tg, il, tl) - _ctc_ref(dn, tg, il, tl)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, atol=1e-7)


@given(st.integers(1, 7), st.integers(1, 3), st.integers(2, 5), st.integers(0, 4), st.integers(0, 2**31 - 1))
def test_ctc_random_shapes_against_reference(t, n, c, s, seed):
    rng = np.random.default_rng(seed)
    lp = _log_softmax(rng.standard_normal((t, n, c)), 2)
    blank = int(rng.integers(0, c))
    # the labels are any classes but the blank (torch documents a blank target as invalid)
    tg = rng.integers(0, c - 1, (n, s))
    tg = tg + (tg >= blank)
    il = rng.integers(0, t + 1, n)
    tl = rng.integers(0, s + 1, n)
    want = _ctc_ref(lp, tg, il, tl, blank=blank, reduction="none")
    got = F.ctc_loss(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), blank=blank, reduction="none")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_ctc_non_contiguous_log_probs():
    lp, tg, il, tl = _ctc_case(11)
    # (N, T, C) storage transposed to (T, N, C): a strided view
    x = torch.tensor(np.ascontiguousarray(lp.transpose(1, 0, 2))).transpose(0, 1)
    assert not x.is_contiguous()
    got = F.ctc_loss(x, torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="none")
    np.testing.assert_allclose(got.numpy(), _ctc_ref(lp, tg, il, tl, reduction="none"), rtol=1e-12)


def _ctc_err(lp=None, tg=None, il=(6, 5), tl=(3, 2), **kw):
    lp = torch.tensor(_log_softmax(np.random.default_rng(0).standard_normal((6, 2, 5)), 2)) if lp is None else lp
    tg = torch.tensor([[1, 2, 2], [3, 1, 0]]) if tg is None else tg
    return F.ctc_loss(lp, tg, list(il) if isinstance(il, tuple) else il, list(tl) if isinstance(tl, tuple) else tl, **kw)


CTX = re.escape(" (while checking arguments for ctc_loss_allocate_outputs)")
CTC_ERRORS = [
    (dict(reduction="bad"), ValueError, "bad is not a valid value for reduction"),
    (dict(il=(6, 5, 1)), RuntimeError, "input_lengths must be of size batch_size"),
    (dict(tl=(3,)), RuntimeError, "target_lengths must be of size batch_size"),
    (dict(il=(7, 5)), RuntimeError, "Expected input_lengths to have value at most 6, but got value 7" + CTX),
    (dict(il=(-1, 5)), RuntimeError, "Expected input_lengths to have value at least 0, but got value -1" + CTX),
    (dict(tl=(-1, 2)), RuntimeError, "Expected target_lengths to have value at least 0, but got value -1" + CTX),
    (dict(tl=(4, 2)), RuntimeError, re.escape("Expected tensor to have size at least 4 at dimension 1, but got size 3 "
                                              "for argument #2 'targets'") + CTX),
    (dict(tg=torch.tensor([[1, 2, 2]])), RuntimeError,
     re.escape("Expected tensor to have size 2 at dimension 0, but got size 1 for argument #2 'targets'") + CTX),
    (dict(tg=torch.tensor([1, 2, 2, 3])), RuntimeError,
     re.escape("Expected tensor to have size 5 at dimension 0, but got size 4 for argument #2 'targets'") + CTX),
    (dict(tg=torch.zeros(2, 3, 1, dtype=torch.int64)), RuntimeError,
     re.escape("Expected 1 to 2 dimensions, but got 3-dimensional tensor for argument #2 'targets'") + CTX),
    (dict(tg=torch.tensor(1)), RuntimeError, "Expected 1 to 2 dimensions, but got 0-dimensional tensor"),
    (dict(lp=torch.zeros(6, 2, 5, 1)), RuntimeError,
     re.escape("Expected 3-dimensional tensor, but got 5-dimensional tensor for argument #1 'log_probs'") + CTX),
    (dict(lp=torch.zeros(0, 2, 5)), RuntimeError, "log_probs tensor must not be empty"),
    (dict(lp=torch.zeros(6, 2, 5, dtype=torch.int64)), NotImplementedError, "\"ctc_loss_cpu\" not implemented for 'Long'"),
    (dict(blank=5), RuntimeError, "blank must be in label range"),
    (dict(blank=-1), RuntimeError, "blank must be in label range"),
    (dict(il=torch.tensor([6.0, 5.0]), tl=torch.tensor([3, 2])), RuntimeError, "input_lengths must be integral"),
    (dict(il=torch.tensor([6, 5]), tl=torch.tensor([3.0, 2.0])), RuntimeError, "target_lengths must be integral"),
    (dict(il=(6, 5), tl=torch.tensor([3, 2])), TypeError, "invalid combination of arguments"),
    (dict(il=6, tl=3), TypeError, "invalid combination of arguments"),
    (dict(il=(6.0, 5.0)), TypeError, "invalid combination of arguments"),
    (dict(tg=torch.tensor([[1, 2, 9], [3, 1, 0]])), IndexError, "out of bounds"),
]


@pytest.mark.parametrize("kw,exc,msg", CTC_ERRORS, ids=[str(i) for i in range(len(CTC_ERRORS))])
def test_ctc_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        _ctc_err(**kw)


def test_ctc_target_dtypes_and_non_tensor_input():
    lp = torch.tensor(_log_softmax(np.random.default_rng(0).standard_normal((6, 2, 5)), 2))
    base = F.ctc_loss(lp, torch.tensor([[1, 2, 2], [3, 1, 0]]), [6, 5], [3, 2], reduction="none").numpy()
    for dt in (torch.int32, torch.int16, torch.float32):
        got = F.ctc_loss(lp, torch.tensor([[1, 2, 2], [3, 1, 0]]).to(dt), [6, 5], [3, 2], reduction="none").numpy()
        np.testing.assert_array_equal(got, base)
    got = F.ctc_loss(lp, torch.tensor([[1, 2, 2], [3, 1, 0]]), torch.tensor([6, 5], dtype=torch.int32),
                     torch.tensor([3, 2], dtype=torch.int32), reduction="none").numpy()
    np.testing.assert_array_equal(got, base)
    with pytest.raises(TypeError):
        F.ctc_loss([1.0], torch.tensor([1]), [1], [1])
    with pytest.raises(TypeError):
        F.ctc_loss(lp, [1], [6, 5], [1, 0])


# --------------------------------------------------------------------------- adaptive softmax
def _asm_ref(m, x):
    """Full log-probabilities (N, n_classes) from the module's weights, in float64 NumPy."""
    w = {k: v.detach().numpy().astype(np.float64) for k, v in m.state_dict().items()}
    head = x @ w["head.weight"].T + (w["head.bias"] if "head.bias" in w else 0.0)
    head_lp = _log_softmax(head, 1)
    parts = [head_lp[:, :m.shortlist_size]]
    for i in range(m.n_clusters):
        h = x @ w[f"tail.{i}.0.weight"].T @ w[f"tail.{i}.1.weight"].T
        parts.append(_log_softmax(h, 1) + head_lp[:, m.shortlist_size + i:m.shortlist_size + i + 1])
    return np.concatenate(parts, 1)


ASM_CONFIGS = [
    dict(in_features=8, n_classes=10, cutoffs=[2, 5], div_value=2.0, head_bias=True),
    dict(in_features=8, n_classes=10, cutoffs=[2, 5]),  # the second tail has a zero-width hidden layer
    dict(in_features=6, n_classes=7, cutoffs=(3,), div_value=1.0),
    dict(in_features=5, n_classes=12, cutoffs=[1, 4, 11], div_value=1.5, head_bias=True),
]


def _asm(cfg, seed=0):
    torch.manual_seed(seed)
    return nn.AdaptiveLogSoftmaxWithLoss(**cfg).double()


@pytest.mark.parametrize("cfg", ASM_CONFIGS)
def test_asm_forward_log_prob_predict_against_reference(cfg):
    m = _asm(cfg)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, cfg["in_features"])) * 2
    t = rng.integers(0, cfg["n_classes"], 9)
    t[:2] = [0, cfg["n_classes"] - 1]
    full = _asm_ref(m, x)
    out = m(torch.tensor(x), torch.tensor(t))
    assert type(out).__name__ == "_ASMoutput" and out._fields == ("output", "loss")
    np.testing.assert_allclose(out.output.detach().numpy(), full[np.arange(9), t], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(out.loss), -full[np.arange(9), t].mean(), rtol=1e-12)
    output, loss = out  # a tuple, as torch's namedtuple
    assert output is out.output and loss is out.loss
    lp = m.log_prob(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(lp, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(m.predict(torch.tensor(x)).numpy(), full.argmax(1))


def test_asm_predict_takes_both_branches():
    # a head whose cluster logits dominate some rows and the shortlist others
    cfg = dict(in_features=4, n_classes=9, cutoffs=[3, 6], div_value=1.0, head_bias=True)
    m = _asm(cfg, seed=3)
    with torch.no_grad():
        m.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 3.0, -3.0]))
    x = np.random.default_rng(2).standard_normal((40, 4)) * 3
    want = _asm_ref(m, x).argmax(1)
    assert (want < 3).any() and (want >= 3).any()
    np.testing.assert_array_equal(m.predict(torch.tensor(x)).numpy(), want)
    np.testing.assert_array_equal(m.predict(torch.tensor(x[want < 3])).numpy(), want[want < 3])
    np.testing.assert_array_equal(m.predict(torch.tensor(x[want >= 3])).numpy(), want[want >= 3])


def test_asm_gradcheck_float64():
    m = _asm(dict(in_features=4, n_classes=6, cutoffs=[2, 4], div_value=1.0, head_bias=True))
    x = torch.tensor(np.random.default_rng(4).standard_normal((5, 4)), requires_grad=True)
    t = torch.tensor([0, 2, 5, 3, 1])
    assert torch.autograd.gradcheck(lambda v: m(v, t).loss, (x,))
    assert torch.autograd.gradcheck(lambda v: m(v, t).output, (x,))
    out = m(x, t)
    out.loss.backward()
    assert all(p.grad is not None for p in m.parameters())


def test_asm_unbatched_and_empty():
    m = _asm(ASM_CONFIGS[0])
    x = np.random.default_rng(5).standard_normal((3, 8))
    full = _asm_ref(m, x)
    out = m(torch.tensor(x[1]), torch.tensor(7))
    assert tuple(out.output.shape) == () and tuple(out.loss.shape) == ()
    assert float(out.output) == pytest.approx(full[1, 7], rel=1e-12)
    assert float(out.loss) == pytest.approx(-full[1, 7], rel=1e-12)
    # log_prob/predict of one example (torch raises here; see the docstrings)
    np.testing.assert_allclose(m.log_prob(torch.tensor(x[1])).detach().numpy(), full[1], rtol=1e-12)
    assert int(m.predict(torch.tensor(x[1]))) == full[1].argmax()
    empty = m(torch.zeros(0, 8, dtype=torch.float64), torch.zeros(0, dtype=torch.int64))
    assert tuple(empty.output.shape) == (0,) and math.isnan(float(empty.loss))


def test_asm_state_dict_names_and_attributes():
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2, 5], div_value=2.0, head_bias=True)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == [
        ("head.weight", (4, 8)), ("head.bias", (4,)), ("tail.0.0.weight", (4, 8)), ("tail.0.1.weight", (3, 4)),
        ("tail.1.0.weight", (2, 8)), ("tail.1.1.weight", (5, 2))]
    assert (m.cutoffs, m.shortlist_size, m.n_clusters, m.head_size) == ([2, 5, 10], 2, 2, 4)
    assert (m.in_features, m.n_classes, m.div_value, m.head_bias) == (8, 10, 2.0, True)
    assert isinstance(m.head, nn.Linear) and isinstance(m.tail, nn.ModuleList)
    assert all(isinstance(s, nn.Sequential) and len(s) == 2 for s in m.tail)
    assert "head.bias" not in nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2, 5]).state_dict()
    m2 = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2, 5], div_value=2.0, head_bias=True)
    m2.load_state_dict(m.state_dict())
    x = torch.randn(3, 8)
    np.testing.assert_array_equal(m2.log_prob(x).detach().numpy(), m.log_prob(x).detach().numpy())
    assert nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2], dtype=torch.float64).head.weight.dtype == torch.float64


BAD_CUTOFFS = [[5, 2], [2, 2], [0, 5], [2, 10], [2.5, 5], [-1]]


@pytest.mark.parametrize("cutoffs", BAD_CUTOFFS, ids=[str(c) for c in BAD_CUTOFFS])
def test_asm_bad_cutoffs(cutoffs):
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers sorted in an "
                                         "increasing order, where each value is between 1 and n_classes-1"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)


def test_asm_argument_errors():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    with pytest.raises(TypeError):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, 3)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [2, 5])
    x, t = torch.randn(4, 8), torch.tensor([0, 3, 9, 6])
    with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension."):
        m(x, t[:3])
    with pytest.raises(RuntimeError, match="Input and target should have the same size in the batch dimension."):
        m(x[0], t[:1])
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        m(x.unsqueeze(1), t)
    with pytest.raises(RuntimeError, match="0D target tensor expects 1D input tensors"):
        m(x, t[0])
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        m(x, t.unsqueeze(0))
    with pytest.raises(RuntimeError, match=re.escape("Target values should be in [0, 9], but values in range [0, 10] were found. ")):
        m(x, torch.tensor([0, 3, 10, 6]))
    with pytest.raises(RuntimeError, match=re.escape("Target values should be in [0, 9], but values in range [-1, 6] were found. ")):
        m(x, torch.tensor([0, 3, -1, 6]))
    with pytest.raises(RuntimeError, match="gather\\(\\): Expected dtype int32/int64 for index"):
        m(x, t.float())
    with pytest.raises(RuntimeError):
        m(x[:, :7], t)
    np.testing.assert_array_equal(m(x, t.to(torch.int32)).output.detach().numpy(), m(x, t).output.detach().numpy())


# --------------------------------------------------------------------------- against real torch
def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_against_torch(reduction, layout, zero_infinity):
    th = _torch()
    rng = np.random.default_rng(12)
    t_, n, c, s = 14, 5, 7, 5
    logits = rng.standard_normal((t_, n, c))
    tg = rng.integers(1, c, (n, s))
    tg[0, :3] = 2
    il = np.array([14, 13, 9, 14, 3])
    tl = np.array([5, 2, 0, 4, 5])  # the last one cannot fit: an infinite loss
    targets = tg if layout == "padded" else _concat(tg, tl)
    xt = th.tensor(logits, requires_grad=True)
    xr = torch.tensor(logits, requires_grad=True)
    lt = th.nn.functional.ctc_loss(xt.log_softmax(2), th.tensor(targets), th.tensor(il), th.tensor(tl), blank=0,
                                   reduction=reduction, zero_infinity=zero_infinity)
    lr = F.ctc_loss(xr.log_softmax(2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl), blank=0,
                    reduction=reduction, zero_infinity=zero_infinity)
    np.testing.assert_allclose(lr.detach().numpy(), lt.detach().numpy(), rtol=1e-12, atol=1e-12)
    if not zero_infinity:
        return  # torch's gradient of an infinite loss is nan; rustensor's is 0 for that sequence
    w = np.cos(np.arange(lt.numel())).reshape(tuple(lt.shape))
    (lt * th.tensor(w)).sum().backward()
    (lr * torch.tensor(w)).sum().backward()
    # through log_softmax the two gradients agree (torch's own, taken w.r.t. log_probs, carries an
    # extra exp(log_probs) term that log_softmax's backward removes)
    np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_ctc_blank_inside_targets_against_torch():
    # torch documents a blank target as invalid but computes it: the same recursion, unchanged
    th = _torch()
    lp = _log_softmax(np.random.default_rng(17).standard_normal((6, 5, 4)), 2)
    tg = np.array([[0, 2, 0], [2, 0, 0], [0, 0, 0], [1, 0, 1], [3, 3, 0]])
    lt = th.nn.functional.ctc_loss(th.tensor(lp), th.tensor(tg), [6] * 5, [2, 2, 3, 3, 3], reduction="none")
    lr = F.ctc_loss(torch.tensor(lp), torch.tensor(tg), [6] * 5, [2, 2, 3, 3, 3], reduction="none")
    np.testing.assert_allclose(lr.numpy(), lt.numpy(), rtol=1e-12)


def test_ctc_against_torch_unbatched_float32_and_module():
    th = _torch()
    rng = np.random.default_rng(13)
    logits = rng.standard_normal((10, 6)).astype(np.float32)
    lab = np.array([1, 1, 3, 5])
    xt, xr = th.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    lt = th.nn.CTCLoss(blank=2)(xt.log_softmax(1), th.tensor(lab), th.tensor(10), th.tensor(4))
    lr = nn.CTCLoss(blank=2)(xr.log_softmax(1), torch.tensor(lab), torch.tensor(10), torch.tensor(4))
    assert tuple(lr.shape) == tuple(lt.shape) == ()
    np.testing.assert_allclose(float(lr.detach()), float(lt.detach()), rtol=1e-5)
    lt.backward()
    lr.backward()
    np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cfg", ASM_CONFIGS)
def test_asm_against_torch(cfg):
    th = _torch()
    tm = th.nn.AdaptiveLogSoftmaxWithLoss(**cfg).double()
    rm = nn.AdaptiveLogSoftmaxWithLoss(**cfg).double()
    sd = {k: torch.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    assert list(sd) == list(rm.state_dict())
    rm.load_state_dict(sd)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((11, cfg["in_features"])) * 2
    t = rng.integers(0, cfg["n_classes"], 11)
    xt, xr = th.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ot, orr = tm(xt, th.tensor(t)), rm(xr, torch.tensor(t))
    np.testing.assert_allclose(orr.output.detach().numpy(), ot.output.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(orr.loss.detach()), float(ot.loss.detach()), rtol=1e-12)
    w = np.cos(np.arange(11))
    ((ot.output * th.tensor(w)).sum() + ot.loss).backward()
    ((orr.output * torch.tensor(w)).sum() + orr.loss).backward()
    np.testing.assert_allclose(xr.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (kt, pt), (kr, pr) in zip(tm.named_parameters(), rm.named_parameters()):
        assert kt == kr
        np.testing.assert_allclose(pr.grad.numpy(), pt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm.log_prob(xr).detach().numpy(), tm.log_prob(xt).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(rm.predict(xr).numpy(), tm.predict(xt).numpy())
    ut, ur = tm(xt[3], th.tensor(t[3])), rm(xr[3], torch.tensor(t[3]))
    assert tuple(ur.output.shape) == tuple(ut.output.shape)
    np.testing.assert_allclose(float(ur.loss.detach()), float(ut.loss.detach()), rtol=1e-12)


# --------------------------------------------------------------------------- GPU against CPU
def test_ctc_gpu_matches_cpu(gpu):  # the conftest fixture: skips without an adapter, fails so under CI=true
    lp, tg, il, tl = _ctc_case(15)
    logits = lp.astype(np.float32)
    xc = torch.tensor(logits, requires_grad=True)
    xg = torch.tensor(logits).to(gpu).requires_grad_(True)
    for red in ["none", "mean"]:
        lc = F.ctc_loss(xc.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction=red)
        lg = F.ctc_loss(xg.log_softmax(2), torch.tensor(tg).to(gpu), torch.tensor(il), torch.tensor(tl), reduction=red)
        assert lg.device.type == "gpu"
        np.testing.assert_allclose(lg.detach().cpu().numpy(), lc.detach().numpy(), rtol=1e-4, atol=1e-4)
    lc.backward()
    lg.backward()
    assert xg.grad is not None and xg.grad.device.type == "gpu"
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_asm_gpu_matches_cpu(gpu):
    cfg = dict(in_features=8, n_classes=10, cutoffs=[2, 5], div_value=2.0, head_bias=True)
    torch.manual_seed(0)
    mc = nn.AdaptiveLogSoftmaxWithLoss(**cfg)
    mg = nn.AdaptiveLogSoftmaxWithLoss(**cfg)
    mg.load_state_dict(mc.state_dict())
    mg = mg.to(gpu)
    rng = np.random.default_rng(16)
    x = rng.standard_normal((7, 8)).astype(np.float32)
    t = np.array([0, 1, 2, 4, 5, 9, 7])
    oc = mc(torch.tensor(x), torch.tensor(t))
    og = mg(torch.tensor(x).to(gpu), torch.tensor(t).to(gpu))
    assert og.output.device.type == "gpu"
    np.testing.assert_allclose(og.output.detach().cpu().numpy(), oc.output.detach().numpy(), rtol=1e-4, atol=1e-5)
    oc.loss.backward()
    og.loss.backward()
    for (k, pc), (_, pg) in zip(mc.named_parameters(), mg.named_parameters()):
        np.testing.assert_allclose(pg.grad.cpu().numpy(), pc.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(mg.log_prob(torch.tensor(x).to(gpu)).detach().cpu().numpy(),
                               mc.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(mg.predict(torch.tensor(x).to(gpu)).cpu().numpy(), mc.predict(torch.tensor(x)).numpy())

