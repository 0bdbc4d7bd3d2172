"""RNN, LSTM, GRU and their cells, PackedSequence and nn.utils.rnn, against a NumPy float64
reference of torch's equations (gate order i,f,g,o for LSTM; r,z,n for GRU with
n = tanh(W_in x + b_in + r*(W_hn h + b_hn))), float64 finite-difference gradients, torch's
parameter names, init bounds and error messages."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
from rustensor.nn.utils import rnn as rnn_utils
from test_autograd_gradcheck import check

F64 = torch.float64


def npv(t):
    return t.detach().numpy()


def sig(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# reference

def ref_cell(mode, x, h, c, p):
    gi = x @ p["w_ih"].T + (p["b_ih"] if p.get("b_ih") is not None else 0)
    gh = h @ p["w_hh"].T + (p["b_hh"] if p.get("b_hh") is not None else 0)
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, -1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        if p.get("w_hr") is not None:
            h = h @ p["w_hr"].T
        return h, c
    if mode == "GRU":
        ir, iz, in_ = np.split(gi, 3, -1)
        hr, hz, hn = np.split(gh, 3, -1)
        r, z = sig(ir + hr), sig(iz + hz)
        n = np.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (np.maximum(pre, 0) if mode == "RNN_RELU" else np.tanh(pre)), None


def params_of(m, layer, suffix):
    g = lambda n: (npv(getattr(m, f"{n}_l{layer}{suffix}")) if hasattr(m, f"{n}_l{layer}{suffix}") and getattr(m, f"{n}_l{layer}{suffix}") is not None else None)  # noqa: E731
    return {"w_ih": g("weight_ih"), "w_hh": g("weight_hh"), "b_ih": g("bias_ih"), "b_hh": g("bias_hh"), "w_hr": g("weight_hr")}


def ref_rnn(m, x, h0=None, c0=None, lengths=None):
    """x time-major (T, B, I); returns (output (T, B, D*H'), h_n, c_n), zeros past each length."""
    T, B = x.shape[:2]
    D = 2 if m.bidirectional else 1
    real = m.proj_size if m.proj_size else m.hidden_size
    h0 = np.zeros((m.num_layers * D, B, real)) if h0 is None else h0
    if m.mode == "LSTM":
        c0 = np.zeros((m.num_layers * D, B, m.hidden_size)) if c0 is None else c0
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    inp = x
    hn, cn = [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(D):
            p = params_of(m, layer, "_reverse" if d else "")
            h = h0[layer * D + d]
            c = c0[layer * D + d] if m.mode == "LSTM" else None
            out = np.zeros((T, B, h.shape[-1]))
            for t in (range(T - 1, -1, -1) if d else range(T)):
                nh, nc = ref_cell(m.mode, inp[t], h, c, p)
                valid = (t < lengths)[:, None]
                h = np.where(valid, nh, h)
                if c is not None:
                    c = np.where(valid, nc, c)
                out[t] = np.where(valid, h, 0)
            outs.append(out)
            hn.append(h)
            cn.append(c)
        inp = np.concatenate(outs, -1)
    return inp, np.stack(hn), (np.stack(cn) if m.mode == "LSTM" else None)


def build(cls, *args, seed=0, **kw):
    torch.manual_seed(seed)
    return getattr(nn, cls)(*args, **kw).double()


# ---------------------------------------------------------------------------------------------
# full layers

CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=2, bias=False),
    dict(num_layers=3, bidirectional=True, batch_first=True),
]


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_rnn_layers_match_reference(cls, cfg):
    m = build(cls, 4, 3, **cfg)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 4))
    xin = np.swapaxes(x, 0, 1).copy() if m.batch_first else x
    out, hid = m(torch.tensor(xin))
    ro, rh, rc = ref_rnn(m, x)
    if m.batch_first:
        ro = np.swapaxes(ro, 0, 1)
    np.testing.assert_allclose(npv(out), ro, atol=1e-12)
    if cls == "LSTM":
        np.testing.assert_allclose(npv(hid[0]), rh, atol=1e-12)
        np.testing.assert_allclose(npv(hid[1]), rc, atol=1e-12)
    else:
        np.testing.assert_allclose(npv(hid), rh, atol=1e-12)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_rnn_initial_state_unbatched_and_noncontiguous(cls):
    m = build(cls, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 3))
    h0 = rng.standard_normal((4, 2, 4))
    c0 = rng.standard_normal((4, 2, 4))
    # a transposed (non-contiguous) input
    xt = torch.tensor(np.ascontiguousarray(np.swapaxes(x, 0, 1))).transpose(0, 1)
    hx = (torch.tensor(h0), torch.tensor(c0)) if cls == "LSTM" else torch.tensor(h0)
    out, hid = m(xt, hx)
    ro, rh, rc = ref_rnn(m, x, h0, c0)
    np.testing.assert_allclose(npv(out), ro, atol=1e-12)
    np.testing.assert_allclose(npv(hid[0] if cls == "LSTM" else hid), rh, atol=1e-12)
    # unbatched (T, I): the batch dim is added and removed
    out1, hid1 = m(torch.tensor(x[:, 0]))
    ro1, rh1, _ = ref_rnn(m, x[:, :1])
    np.testing.assert_allclose(npv(out1), ro1[:, 0], atol=1e-12)
    np.testing.assert_allclose(npv(hid1[0] if cls == "LSTM" else hid1), rh1[:, 0], atol=1e-12)


def test_rnn_relu_and_lstm_projection():
    m = build("RNN", 3, 4, num_layers=2, nonlinearity="relu")
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    out, h = m(torch.tensor(x))
    ro, rh, _ = ref_rnn(m, x)
    np.testing.assert_allclose(npv(out), ro, atol=1e-12)
    m = build("LSTM", 3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert tuple(m.weight_hr_l0.shape) == (2, 5) and tuple(m.weight_hh_l1_reverse.shape) == (20, 2)
    assert tuple(m.weight_ih_l1.shape) == (20, 4)
    out, (h, c) = m(torch.tensor(x))
    ro, rh, rc = ref_rnn(m, x)
    assert tuple(out.shape) == (4, 3, 4) and tuple(h.shape) == (4, 3, 2) and tuple(c.shape) == (4, 3, 5)
    np.testing.assert_allclose(npv(out), ro, atol=1e-12)
    np.testing.assert_allclose(npv(c), rc, atol=1e-12)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_packed_sequence(cls, enforce_sorted):
    m = build(cls, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(3)
    lengths = [5, 3, 2] if enforce_sorted else [3, 5, 2]
    x = rng.standard_normal((5, 3, 3))
    h0 = rng.standard_normal((4, 3, 4))
    packed = rnn_utils.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=enforce_sorted)
    hx = (torch.tensor(h0), torch.tensor(h0 * 0.5)) if cls == "LSTM" else torch.tensor(h0)
    out, hid = m(packed, hx)
    assert isinstance(out, rnn_utils.PackedSequence)
    padded, lens = rnn_utils.pad_packed_sequence(out)
    assert lens.tolist() == lengths
    ro, rh, rc = ref_rnn(m, x, h0, h0 * 0.5, lengths)
    np.testing.assert_allclose(npv(padded), ro, atol=1e-12)
    np.testing.assert_allclose(npv(hid[0] if cls == "LSTM" else hid), rh, atol=1e-12)
    if cls == "LSTM":
        np.testing.assert_allclose(npv(hid[1]), rc, atol=1e-12)


def test_rnn_dropout_between_layers_only_in_training():
    m = build("GRU", 3, 8, num_layers=2, dropout=0.5)
    x = torch.tensor(np.random.default_rng(4).standard_normal((4, 2, 3)))
    m.eval()
    ref, _, _ = ref_rnn(m, x.numpy())
    np.testing.assert_allclose(npv(m(x)[0]), ref, atol=1e-12)
    m.train()
    torch.manual_seed(0)
    a = npv(m(x)[0])
    assert not np.allclose(a, ref)  # the layer-0 outputs were dropped before layer 1


# ---------------------------------------------------------------------------------------------
# gradients

def _with_params(m, tensors):
    # the module reads its weights by name; the checker passes fresh leaves each call
    for n, t in zip(m._flat_weights_names, tensors):
        m._parameters[n] = t


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_rnn_gradcheck(cls):
    m = build(cls, 2, 2, bidirectional=True)
    rng = np.random.default_rng(5)
    ws = [torch.tensor(npv(getattr(m, n)), dtype=F64, requires_grad=True) for n in m._flat_weights_names]
    x = torch.tensor(rng.standard_normal((3, 2, 2)), dtype=F64, requires_grad=True)
    h = torch.tensor(rng.standard_normal((2, 2, 2)), dtype=F64, requires_grad=True)

    def f(x, h, *w):
        _with_params(m, w)
        hx = (h, h * 0.5) if cls == "LSTM" else h
        out, hid = m(x, hx)
        return torch.cat([out.reshape(-1), (hid[1] if cls == "LSTM" else hid).reshape(-1)])

    check(f, [x, h] + ws)


def test_packed_lstm_gradcheck():
    m = build("LSTM", 2, 2)
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.standard_normal((3, 2, 2)), dtype=F64, requires_grad=True)

    def f(x):
        out, (h, c) = m(rnn_utils.pack_padded_sequence(x, [3, 2]))
        return torch.cat([out.data.reshape(-1), h.reshape(-1)])

    check(f, [x])


# ---------------------------------------------------------------------------------------------
# cells

@pytest.mark.parametrize("cls,mode", [("RNNCell", "RNN_TANH"), ("LSTMCell", "LSTM"), ("GRUCell", "GRU")])
def test_cells_match_reference(cls, mode):
    m = build(cls, 3, 4)
    rng = np.random.default_rng(7)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    p = {"w_ih": npv(m.weight_ih), "w_hh": npv(m.weight_hh), "b_ih": npv(m.bias_ih), "b_hh": npv(m.bias_hh)}
    rh, rc = ref_cell(mode, x, h, c, p)
    if cls == "LSTMCell":
        y = m(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
        np.testing.assert_allclose(npv(y[0]), rh, atol=1e-12)
        np.testing.assert_allclose(npv(y[1]), rc, atol=1e-12)
        y1 = m(torch.tensor(x[0]))
        assert tuple(y1[0].shape) == (4,)
    else:
        y = m(torch.tensor(x), torch.tensor(h))
        np.testing.assert_allclose(npv(y), rh, atol=1e-12)
        # no state given: zeros
        r0, _ = ref_cell(mode, x[:1], np.zeros((1, 4)), None, p)
        np.testing.assert_allclose(npv(m(torch.tensor(x[0]))), r0[0], atol=1e-12)
    assert [n for n, _ in m.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_cell_gradcheck():
    m = build("GRUCell", 2, 3, bias=False)
    rng = np.random.default_rng(8)
    x = torch.tensor(rng.standard_normal((2, 2)), dtype=F64, requires_grad=True)
    h = torch.tensor(rng.standard_normal((2, 3)), dtype=F64, requires_grad=True)
    check(lambda x, h: m(x, h), [x, h])
    m = build("LSTMCell", 2, 2)
    check(lambda x, h: torch.cat(list(m(x, (h[:, :2], h[:, 1:]))), 1), [x, h])


# ---------------------------------------------------------------------------------------------
# module semantics

def test_rnn_parameter_names_shapes_and_init():
    torch.manual_seed(0)
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    expect = []
    for layer in range(2):
        for sfx in ("", "_reverse"):
            expect += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}", f"bias_ih_l{layer}{sfx}", f"bias_hh_l{layer}{sfx}"]
    assert names == expect
    assert list(m.state_dict().keys()) == expect
    assert tuple(m.weight_ih_l0.shape) == (20, 3) and tuple(m.weight_ih_l1.shape) == (20, 10)
    assert tuple(m.weight_hh_l1_reverse.shape) == (20, 5)
    bound = 1 / math.sqrt(5)
    allv = np.concatenate([npv(p).ravel() for p in m.parameters()])
    assert np.abs(allv).max() <= bound and np.abs(allv).max() > 0.9 * bound
    g = nn.GRU(3, 4, bias=False)
    assert [n for n, _ in g.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert tuple(g.weight_ih_l0.shape) == (12, 3)
    assert len(g.all_weights) == 1 and len(g.all_weights[0]) == 2
    assert tuple(nn.RNN(3, 4).weight_hh_l0.shape) == (4, 4)


def test_rnn_repr():
    assert repr(nn.LSTM(3, 4, 2, bias=False, batch_first=True, dropout=0.1, bidirectional=True, proj_size=2)) == (
        "LSTM(3, 4, proj_size=2, num_layers=2, bias=False, batch_first=True, dropout=0.1, bidirectional=True)"
    )
    assert repr(nn.GRU(3, 4)) == "GRU(3, 4)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu", bias=False)) == "RNNCell(3, 4, bias=False, nonlinearity=relu)"
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"


def test_rnn_errors():
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 4"):
        nn.LSTM(3, 4)(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        nn.LSTM(3, 4)(torch.randn(5, 2, 2, 3))
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor instead"):
        nn.RNN(3, 4)(torch.randn(5, 2, 2, 3))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        nn.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.randn(1, 3, 4), torch.randn(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 5\]"):
        nn.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.randn(1, 2, 4), torch.randn(1, 2, 5)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[2, 2, 4\]"):
        nn.GRU(3, 4)(torch.randn(5, 2, 3), torch.randn(2, 2, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        nn.GRU(3, 4)(torch.randn(5, 3), torch.randn(1, 2, 4))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        nn.GRU(3, 4)(torch.randn(5, 2, 3), torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"RNN input dtype \(rustensor.float64\) does not match weight dtype \(rustensor.float32\)"):
        nn.LSTM(3, 4)(torch.randn(5, 2, 3).double())
    with pytest.raises(ValueError, match="Unknown nonlinearity 'foo'"):
        nn.RNN(3, 4, nonlinearity="foo")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=2)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.LSTM(3, 4, 0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 3"):
        nn.LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.LSTMCell(3, 4)(torch.randn(2, 2, 3))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        nn.GRUCell(3, 4)(torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 5, expected 4"):
        nn.GRUCell(3, 4)(torch.randn(2, 3), torch.randn(2, 5))


# ---------------------------------------------------------------------------------------------
# nn.utils.rnn

def test_pad_sequence():
    rng = np.random.default_rng(9)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 1, 4)]
    y = rnn_utils.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=-1.0)
    ref = np.full((3, 4, 2), -1.0)
    for i, s in enumerate(seqs):
        ref[i, : len(s)] = s
    np.testing.assert_array_equal(npv(y), ref)
    y = rnn_utils.pad_sequence([torch.tensor(s) for s in seqs])
    assert tuple(y.shape) == (4, 3, 2)
    np.testing.assert_array_equal(npv(y)[:, 1, :][1:], 0)
    left = rnn_utils.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(npv(left)[1, -1], seqs[1][0])
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        rnn_utils.pad_sequence([])


def test_pack_and_unpack():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, 3, 2))
    lengths = [2, 4, 1]
    p = rnn_utils.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    # sorted by length: batch 1 (4), batch 0 (2), batch 2 (1)
    assert p.batch_sizes.tolist() == [3, 2, 1, 1]
    assert p.sorted_indices.tolist() == [1, 0, 2] and p.unsorted_indices.tolist() == [1, 0, 2]
    ref = np.concatenate([x[0, [1, 0, 2]], x[1, [1, 0]], x[2, [1]], x[3, [1]]])
    np.testing.assert_array_equal(npv(p.data), ref)
    padded, lens = rnn_utils.pad_packed_sequence(p, batch_first=True, padding_value=9.0, total_length=5)
    assert lens.tolist() == lengths and tuple(padded.shape) == (3, 5, 2)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(npv(padded)[b, :n], x[:n, b])
        assert (npv(padded)[b, n:] == 9.0).all()
    seqs = rnn_utils.unpack_sequence(p)
    assert [tuple(s.shape) for s in seqs] == [(2, 2), (4, 2), (1, 2)]
    ps = rnn_utils.pack_sequence([torch.tensor(x[:4, 1]), torch.tensor(x[:2, 0])])
    assert ps.batch_sizes.tolist() == [2, 2, 1, 1] and ps.sorted_indices is None
    un = rnn_utils.unpad_sequence(torch.tensor(x), torch.tensor(lengths))
    assert [tuple(s.shape) for s in un] == [(2, 2), (4, 2), (1, 2)]
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(torch.tensor(x), lengths)
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 \(batch_size=3\)"):
        rnn_utils.pack_padded_sequence(torch.tensor(x), [2, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn_utils.pack_padded_sequence(torch.tensor(x), [3, 0, 1], enforce_sorted=False)
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest sequence"):
        rnn_utils.pad_packed_sequence(p, total_length=2)


def test_pack_gradients_flow():
    x = torch.tensor(np.random.default_rng(11).standard_normal((3, 2, 2)), dtype=F64, requires_grad=True)
    check(lambda x: rnn_utils.pad_packed_sequence(rnn_utils.pack_padded_sequence(x, [1, 3], enforce_sorted=False))[0], [x])
