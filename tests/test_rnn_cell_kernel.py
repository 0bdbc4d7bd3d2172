"""The fused recurrent-cell core ops behind nn.LSTM/GRU and their cells (`_C._lstm_cell`,
`_C._gru_cell`: the gate math and state update of one step as one kernel, with a one-kernel
backward): against a float64 NumPy reference (values and gradients) on random shapes and
strided inputs, finite-difference gradient checks (first and second order), float16, the GPU
against the CPU, the op's argument errors, and whole LSTM/GRU layers against a NumPy loop."""

import numpy as np
import pytest

import rustensor as torch
from conftest import gpu, make_tensor  # noqa: F401  (gpu is a fixture)
from rustensor import _rustensor as _C

LAYOUTS = ("contiguous", "transposed", "sliced", "expanded")


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_lstm(g, c):
    h = c.shape[1]
    i, f, gg, o = (g[:, k * h:(k + 1) * h] for k in range(4))
    cn = sig(f) * c + sig(i) * np.tanh(gg)
    return np.concatenate([sig(o) * np.tanh(cn), cn], 1)


def ref_lstm_grad(g, c, gout):
    """(d gates, d c) by the chain rule, written out independently of the kernel's form."""
    h = c.shape[1]
    i, f, gg, o = (g[:, k * h:(k + 1) * h] for k in range(4))
    si, sf, tg, so = sig(i), sig(f), np.tanh(gg), sig(o)
    cn = sf * c + si * tg
    gh, gc = gout[:, :h], gout[:, h:]
    dcn = gc + gh * so * (1 - np.tanh(cn) ** 2)
    dgates = np.concatenate([dcn * tg * si * (1 - si), dcn * c * sf * (1 - sf), dcn * si * (1 - tg ** 2),
                             gh * np.tanh(cn) * so * (1 - so)], 1)
    return dgates, dcn * sf


def ref_gru(x, hg, hp):
    h = hp.shape[1]
    r = sig(x[:, :h] + hg[:, :h])
    z = sig(x[:, h:2 * h] + hg[:, h:2 * h])
    n = np.tanh(x[:, 2 * h:] + r * hg[:, 2 * h:])
    return (1 - z) * n + z * hp


def numeric_grad(f, arrays, gout, k, eps=1e-6):
    """Central differences of sum(f(*arrays) * gout) with respect to arrays[k]."""
    a = arrays[k]
    out = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        old = a[idx]
        a[idx] = old + eps
        hi = (f(*arrays) * gout).sum()
        a[idx] = old - eps
        lo = (f(*arrays) * gout).sum()
        a[idx] = old
        out[idx] = (hi - lo) / (2 * eps)
    return out


def shape(rng):
    return int(rng.choice([0, 1, 3, 7])), int(rng.choice([1, 2, 5, 16]))


@pytest.mark.parametrize("seed", range(12))
def test_lstm_cell_matches_the_reference_on_strided_inputs(seed):
    rng = np.random.default_rng(seed)
    rows, h = shape(rng)
    g = rng.normal(scale=2.0, size=(rows, 4 * h))
    c = rng.normal(size=(rows, h))
    gt, gref = make_tensor(g, LAYOUTS[seed % 4])
    ct, cref = make_tensor(c, LAYOUTS[(seed + 1) % 4])
    gt.requires_grad_()
    ct.requires_grad_()
    out = _C._lstm_cell(gt, ct)
    assert out.dtype == torch.float64 and tuple(out.shape) == (rows, 2 * h)
    np.testing.assert_allclose(out.detach().numpy(), ref_lstm(gref, cref), rtol=1e-12, atol=1e-12)
    gout = rng.normal(size=(rows, 2 * h))
    out.backward(torch.tensor(gout))
    dg, dc = ref_lstm_grad(gref, cref, gout)
    np.testing.assert_allclose(gt.grad.numpy(), dg, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ct.grad.numpy(), dc, rtol=1e-10, atol=1e-12)
    assert out.grad_fn.name() == "LstmCellBackward0"


@pytest.mark.parametrize("seed", range(12))
def test_gru_cell_matches_the_reference_on_strided_inputs(seed):
    rng = np.random.default_rng(50 + seed)
    rows, h = shape(rng)
    arrays = [rng.normal(scale=2.0, size=(rows, 3 * h)), rng.normal(size=(rows, 3 * h)), rng.normal(size=(rows, h))]
    ts, refs = zip(*(make_tensor(a, LAYOUTS[(seed + k) % 4]) for k, a in enumerate(arrays)))
    for t in ts:
        t.requires_grad_()
    out = _C._gru_cell(*ts)
    assert out.dtype == torch.float64 and tuple(out.shape) == (rows, h)
    np.testing.assert_allclose(out.detach().numpy(), ref_gru(*refs), rtol=1e-12, atol=1e-12)
    gout = rng.normal(size=(rows, h))
    out.backward(torch.tensor(gout))
    refs = [np.array(r) for r in refs]
    for k, t in enumerate(ts):
        np.testing.assert_allclose(t.grad.numpy(), numeric_grad(ref_gru, refs, gout, k), rtol=1e-6, atol=1e-8)


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(3)
    g = torch.tensor(rng.normal(size=(3, 8)), requires_grad=True)
    c = torch.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(_C._lstm_cell, (g, c))
    assert torch.autograd.gradgradcheck(_C._lstm_cell, (g, c))
    x = torch.tensor(rng.normal(size=(2, 9)), requires_grad=True)
    hg = torch.tensor(rng.normal(size=(2, 9)), requires_grad=True)
    hp = torch.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(_C._gru_cell, (x, hg, hp))
    assert torch.autograd.gradgradcheck(_C._gru_cell, (x, hg, hp))


def test_only_the_inputs_that_need_it_get_gradients():
    rng = np.random.default_rng(4)
    g = torch.tensor(rng.normal(size=(2, 8)), requires_grad=True)
    c = torch.tensor(rng.normal(size=(2, 2)))
    hc = _C._lstm_cell(g, c)
    hc[:, :2].sum().backward()  # only h' reaches the loss: c' gets a zero gradient
    dg, _ = ref_lstm_grad(g.detach().numpy(), c.numpy(), np.concatenate([np.ones((2, 2)), np.zeros((2, 2))], 1))
    np.testing.assert_allclose(g.grad.numpy(), dg, rtol=1e-12)
    assert c.grad is None


def test_float16_and_bfloat16_compute_in_float32():
    rng = np.random.default_rng(5)
    g = rng.normal(size=(4, 12)).astype(np.float32)
    c = rng.normal(size=(4, 3)).astype(np.float32)
    for dt in (torch.float16, torch.bfloat16):
        gt, ct = torch.tensor(g).to(dt), torch.tensor(c).to(dt)
        out = _C._lstm_cell(gt, ct)
        assert out.dtype == dt
        ref = ref_lstm(gt.double().numpy(), ct.double().numpy())
        np.testing.assert_allclose(out.double().numpy(), ref, rtol=2e-2, atol=1e-2)
        hg = torch.tensor(g[:, :9]).to(dt)
        out = _C._gru_cell(hg, hg * 0.5, ct)
        ref = ref_gru(hg.double().numpy(), (hg * 0.5).double().numpy(), ct.double().numpy())
        assert out.dtype == dt
        np.testing.assert_allclose(out.double().numpy(), ref, rtol=2e-2, atol=1e-2)


def test_float32_matches_float64():
    rng = np.random.default_rng(6)
    g = rng.normal(scale=3.0, size=(64, 512))
    c = rng.normal(size=(64, 128))
    out = _C._lstm_cell(torch.tensor(g, dtype=torch.float32), torch.tensor(c, dtype=torch.float32))
    np.testing.assert_allclose(out.numpy(), ref_lstm(g, c), rtol=1e-5, atol=1e-6)


def test_large_launches_split_over_threads_match():
    # rows * h above the parallel threshold: the row split must cover every row once
    rng = np.random.default_rng(7)
    g = rng.normal(size=(513, 4 * 100))
    c = rng.normal(size=(513, 100))
    gt, ct = torch.tensor(g, requires_grad=True), torch.tensor(c, requires_grad=True)
    out = _C._lstm_cell(gt, ct)
    np.testing.assert_allclose(out.detach().numpy(), ref_lstm(g, c), rtol=1e-12, atol=1e-12)
    gout = rng.normal(size=(513, 200))
    out.backward(torch.tensor(gout))
    dg, dc = ref_lstm_grad(g, c, gout)
    np.testing.assert_allclose(gt.grad.numpy(), dg, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ct.grad.numpy(), dc, rtol=1e-10, atol=1e-12)


def test_argument_errors():
    g, c = torch.zeros(2, 8), torch.zeros(2, 2)
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected cx of shape \[2, 2\], got \[2, 3\]"):
        _C._lstm_cell(g, torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="lstm_cell: gates has 7 columns, not a multiple of 4"):
        _C._lstm_cell(torch.zeros(2, 7), c)
    with pytest.raises(RuntimeError, match="lstm_cell: expected gates to be 2-d"):
        _C._lstm_cell(torch.zeros(8), c)
    with pytest.raises(RuntimeError, match="lstm_cell: expected cx of dtype float32, got float64"):
        _C._lstm_cell(g, c.double())
    with pytest.raises(TypeError, match="lstm_cell: expected floating-point tensors, got int64"):
        _C._lstm_cell(g.long(), c.long())
    with pytest.raises(RuntimeError, match=r"gru_cell: expected hidden gates of shape \[2, 6\], got \[2, 8\]"):
        _C._gru_cell(torch.zeros(2, 6), torch.zeros(2, 8), c)
    with pytest.raises(TypeError):
        _C._lstm_cell(g, "c")


def test_gpu_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(8)
    for rows, h in ((0, 3), (1, 1), (5, 7), (33, 64)):
        g = rng.normal(scale=2.0, size=(rows, 4 * h)).astype(np.float32)
        c = rng.normal(size=(rows, h)).astype(np.float32)
        x3 = rng.normal(size=(rows, 3 * h)).astype(np.float32)
        gout = rng.normal(size=(rows, 2 * h)).astype(np.float32)
        res = {}
        for dev in ("cpu", gpu):
            gt = make_tensor(g, "transposed", device=dev)[0].detach().requires_grad_()
            ct = torch.tensor(c).to(dev).requires_grad_()
            out = _C._lstm_cell(gt, ct)
            assert out.device.type == torch.device(dev).type
            out.backward(torch.tensor(gout).to(dev))
            xt = torch.tensor(x3).to(dev).requires_grad_()
            ht = torch.tensor(x3[:, ::-1].copy()).to(dev).requires_grad_()
            hp = torch.tensor(c).to(dev).requires_grad_()
            hn = _C._gru_cell(xt, ht, hp)
            hn.backward(torch.tensor(gout[:, :h].copy()).to(dev))
            res[str(dev)] = [t.detach().cpu().numpy() for t in (out, gt.grad, ct.grad, hn, xt.grad, ht.grad, hp.grad)]
        for a, b in zip(*res.values()):
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)


def test_gpu_double_backward(gpu):  # noqa: F811
    rng = np.random.default_rng(9)
    g0 = rng.normal(size=(3, 8)).astype(np.float32)
    c0 = rng.normal(size=(3, 2)).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        g = torch.tensor(g0).to(dev).requires_grad_()
        c = torch.tensor(c0).to(dev).requires_grad_()
        (dg,) = torch.autograd.grad((_C._lstm_cell(g, c) ** 2).sum(), g, create_graph=True)
        (ddc,) = torch.autograd.grad(dg.sum(), c)
        res.append(ddc.cpu().numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=1e-4, atol=1e-5)


def np_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """A single-direction layer as a NumPy loop over time (x: (T, B, I))."""
    h, c, ys = h0, c0, []
    for t in range(x.shape[0]):
        xg = x[t] @ w_ih.T + b_ih
        hg = h @ w_hh.T + b_hh
        if mode == "LSTM":
            hc = ref_lstm(xg + hg, c)
            H = h.shape[1]
            h, c = hc[:, :H], hc[:, H:]
        else:
            h = ref_gru(xg, hg, h)
        ys.append(h)
    return np.stack(ys), h, c


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_layers_match_a_numpy_loop(mode):
    torch.manual_seed(0)
    m = getattr(torch.nn, mode)(5, 6, num_layers=1, batch_first=True).double()
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3, 7, 5))
    xt = torch.tensor(x, requires_grad=True)
    out, st = m(xt)
    w = {n: p.detach().numpy() for n, p in m.named_parameters()}
    h0 = np.zeros((3, 6))
    ys, h, c = np_layer(mode, x.transpose(1, 0, 2), h0, h0, w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"],
                        w["bias_hh_l0"])
    np.testing.assert_allclose(out.detach().numpy(), ys.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    hn = st[0] if mode == "LSTM" else st
    np.testing.assert_allclose(hn[0].detach().numpy(), h, rtol=1e-10, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(st[1][0].detach().numpy(), c, rtol=1e-10, atol=1e-12)
    # the whole layer's gradient against finite differences
    small = getattr(torch.nn, mode)(2, 3).double()
    inp = torch.tensor(rng.normal(size=(4, 2, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: small(t)[0], (inp,))


def np_lstm_layer(xp, h0, c0, w, reverse):
    """(T, B, 2h) of [h_t | c_t] for one direction, as a NumPy loop."""
    T, H = xp.shape[0], h0.shape[1]
    out = np.zeros((T, xp.shape[1], 2 * H))
    h, c = h0, c0
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        hc = ref_lstm(xp[t] + h @ w.T, c)
        out[t] = hc
        h, c = hc[:, :H], hc[:, H:]
    return out


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_lstm_layer_op_matches_a_numpy_loop(seed, reverse):
    rng = np.random.default_rng(200 + seed)
    T, B, H = int(rng.integers(1, 6)), int(rng.choice([0, 1, 3])), int(rng.choice([1, 4]))
    xp, h0, c0 = rng.normal(size=(T, B, 4 * H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    w = rng.normal(size=(4 * H, H))
    ts = [torch.tensor(a, requires_grad=True) for a in (xp, h0, c0)]
    wt = torch.tensor(w.T.copy(), requires_grad=True)  # the op reads a transposed view as it is
    out = _C._lstm_layer(*ts, wt.t(), reverse)
    assert out.grad_fn.name() == "LstmBackward0"
    np.testing.assert_allclose(out.detach().numpy(), np_lstm_layer(xp, h0, c0, w, reverse), rtol=1e-12, atol=1e-12)
    gout = rng.normal(size=out.shape)
    out.backward(torch.tensor(gout))
    f = lambda a, b, c, d: np_lstm_layer(a, b, c, d, reverse)  # noqa: E731
    arrays = [xp.copy(), h0.copy(), c0.copy(), w.copy()]
    for k, t in enumerate(ts):
        np.testing.assert_allclose(t.grad.numpy(), numeric_grad(f, arrays, gout, k), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(wt.grad.numpy().T, numeric_grad(f, arrays, gout, 3), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_gradcheck_and_gradgradcheck(reverse):
    rng = np.random.default_rng(11)
    args = [torch.tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 2, 8), (2, 2), (2, 2), (8, 2))]
    f = lambda xp, h, c, w: _C._lstm_layer(xp, h, c, w, reverse)  # noqa: E731
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


def test_lstm_layer_argument_errors():
    xp, h, w = torch.zeros(3, 2, 8), torch.zeros(2, 2), torch.zeros(8, 2)
    with pytest.raises(RuntimeError, match=r"lstm_layer: expected input projections of shape \(T > 0, B, 4h\)"):
        _C._lstm_layer(torch.zeros(0, 2, 8), h, h, w, False)
    with pytest.raises(RuntimeError, match=r"lstm_layer: expected weight_hh of shape \[8, 2\], got \[2, 8\]"):
        _C._lstm_layer(xp, h, h, w.t(), False)
    with pytest.raises(RuntimeError, match="lstm_layer: expected cx of dtype float32, got float64"):
        _C._lstm_layer(xp, h, h.double(), w, False)
    with pytest.raises(TypeError, match="lstm_layer: expected float32 or float64 tensors, got float16"):
        _C._lstm_layer(xp.half(), h.half(), h.half(), w.half(), False)


def test_bidirectional_two_layer_lstm_matches_numpy_and_the_step_path():
    torch.manual_seed(1)
    m = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(12)
    x = rng.normal(size=(5, 2, 3))
    out, (hn, cn) = m(torch.tensor(x))
    assert out.is_contiguous() and tuple(out.shape) == (5, 2, 8)
    w = {n: p.detach().numpy() for n, p in m.named_parameters()}
    inp, hs, cs = x, [], []
    for layer in range(2):
        dirs = []
        for sfx, rev in (("", False), ("_reverse", True)):
            k = f"l{layer}{sfx}"
            xp = inp @ w[f"weight_ih_{k}"].T + w[f"bias_ih_{k}"] + w[f"bias_hh_{k}"]
            z = np.zeros((2, 4))
            hc = np_lstm_layer(xp, z, z, w[f"weight_hh_{k}"], rev)
            dirs.append(hc[..., :4])
            last = hc[0 if rev else -1]
            hs.append(last[:, :4])
            cs.append(last[:, 4:])
        inp = np.concatenate(dirs, -1)
    np.testing.assert_allclose(out.detach().numpy(), inp, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hn.detach().numpy(), np.stack(hs), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cn.detach().numpy(), np.stack(cs), rtol=1e-10, atol=1e-12)


def test_lstm_layer_gpu_matches_cpu(gpu):  # noqa: F811
    rng = np.random.default_rng(13)
    arrays = [rng.normal(size=s).astype(np.float32) for s in ((6, 3, 20), (3, 5), (3, 5), (20, 5))]
    gout = rng.normal(size=(6, 3, 10)).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        ts = [torch.tensor(a).to(dev).requires_grad_() for a in arrays]
        out = _C._lstm_layer(*ts, True)
        out.backward(torch.tensor(gout).to(dev))
        res.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def np_gru_layer(xp, h0, w, b, reverse):
    T = xp.shape[0]
    out = np.zeros((T,) + h0.shape)
    h = h0
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h = ref_gru(xp[t], h @ w.T + b, h)
        out[t] = h
    return out


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_gru_layer_op_matches_a_numpy_loop(seed, reverse):
    rng = np.random.default_rng(300 + seed)
    T, B, H = int(rng.integers(1, 6)), int(rng.choice([0, 1, 3])), int(rng.choice([1, 4]))
    arrays = [rng.normal(size=(T, B, 3 * H)), rng.normal(size=(B, H)), rng.normal(size=(3 * H, H)), rng.normal(size=3 * H)]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = _C._gru_layer(*ts, reverse)
    assert out.grad_fn.name() == "GruBackward0"
    f = lambda *a: np_gru_layer(*a, reverse)  # noqa: E731
    np.testing.assert_allclose(out.detach().numpy(), f(*arrays), rtol=1e-12, atol=1e-12)
    gout = rng.normal(size=out.shape)
    out.backward(torch.tensor(gout))
    for k, t in enumerate(ts):
        np.testing.assert_allclose(t.grad.numpy(), numeric_grad(f, [a.copy() for a in arrays], gout, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_layer_gradcheck_and_gradgradcheck(reverse):
    rng = np.random.default_rng(14)
    args = [torch.tensor(rng.normal(size=s), requires_grad=True) for s in ((3, 2, 6), (2, 2), (6, 2), (6,))]
    assert torch.autograd.gradcheck(lambda *a: _C._gru_layer(*a, reverse), args)
    assert torch.autograd.gradgradcheck(lambda *a: _C._gru_layer(*a, reverse), args)
    # without the hidden bias
    assert torch.autograd.gradcheck(lambda x, h, w: _C._gru_layer(x, h, w, None, reverse), args[:3])


def test_gru_layer_errors_and_gpu_parity(gpu):  # noqa: F811
    with pytest.raises(RuntimeError, match=r"gru_layer: expected bias_hh of dtype float32 and shape \[6\]"):
        _C._gru_layer(torch.zeros(3, 2, 6), torch.zeros(2, 2), torch.zeros(6, 2), torch.zeros(4), False)
    rng = np.random.default_rng(15)
    arrays = [rng.normal(size=s).astype(np.float32) for s in ((5, 3, 12), (3, 4), (12, 4), (12,))]
    gout = rng.normal(size=(5, 3, 4)).astype(np.float32)
    res = []
    for dev in ("cpu", gpu):
        ts = [torch.tensor(a).to(dev).requires_grad_() for a in arrays]
        out = _C._gru_layer(*ts, False)
        out.backward(torch.tensor(gout).to(dev))
        res.append([out.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_bidirectional_two_layer_gru_matches_numpy():
    torch.manual_seed(2)
    m = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(16)
    x = rng.normal(size=(2, 5, 3))
    out, hn = m(torch.tensor(x))
    w = {n: p.detach().numpy() for n, p in m.named_parameters()}
    inp, hs = x.transpose(1, 0, 2), []
    for layer in range(2):
        dirs = []
        for sfx, rev in (("", False), ("_reverse", True)):
            k = f"l{layer}{sfx}"
            xp = inp @ w[f"weight_ih_{k}"].T + w[f"bias_ih_{k}"]
            ys = np_gru_layer(xp, np.zeros((2, 4)), w[f"weight_hh_{k}"], w[f"bias_hh_{k}"], rev)
            dirs.append(ys)
            hs.append(ys[0 if rev else -1])
        inp = np.concatenate(dirs, -1)
    np.testing.assert_allclose(out.detach().numpy(), inp.transpose(1, 0, 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hn.detach().numpy(), np.stack(hs), rtol=1e-10, atol=1e-12)
