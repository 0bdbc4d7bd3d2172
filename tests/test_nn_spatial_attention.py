"""scaled_dot_product_attention, MultiheadAttention and the Transformer family against NumPy
float64 references of torch's definitions (masks, causal, padding, head averaging, pre/post
norm), float64 finite-difference gradients, parameter names and init, and errors."""

import math

import numpy as np
import pytest

import rustensor as torch
import rustensor.nn as nn
import rustensor.nn.functional as F
from test_autograd_gradcheck import check

F64 = torch.float64


def npv(t):
    return t.detach().numpy()


def softmax(x):
    m = np.max(x, -1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(-1, keepdims=True)


def ref_sdpa(q, k, v, mask=None, causal=False, scale=None):
    s = (q @ np.swapaxes(k, -1, -2)) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    L, S = q.shape[-2], k.shape[-2]
    if causal:
        mask = np.tril(np.ones((L, S), bool))
    if mask is not None and mask.dtype == bool:
        dead = ~mask.any(-1, keepdims=True)
        s = np.where(mask, s, -np.inf)
        with np.errstate(invalid="ignore"):
            w = np.where(dead, 0.0, softmax(np.where(dead, 0.0, s)))
        return w @ v
    if mask is not None:
        s = s + mask
    return softmax(s) @ v


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention

@pytest.mark.parametrize("case", ["plain", "causal", "scale", "float_mask", "bool_mask", "3d", "causal_rect"])
def test_sdpa_matches_reference(case):
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 6, 7))
    kw, ref_kw = {}, {}
    if case == "causal":
        k, v = k[:, :, :4], v[:, :, :4]
        kw = ref_kw = {"is_causal": True}
        ref_kw = {"causal": True}
    elif case == "causal_rect":
        kw, ref_kw = {"is_causal": True}, {"causal": True}
    elif case == "scale":
        kw = ref_kw = {"scale": 0.3}
    elif case == "float_mask":
        m = rng.standard_normal((4, 6))
        kw, ref_kw = {"attn_mask": torch.tensor(m)}, {"mask": m}
    elif case == "bool_mask":
        m = rng.random((2, 1, 4, 6)) < 0.6
        m[0, 0, 1] = False  # a fully masked row: torch's math path gives zeros, not NaN
        kw, ref_kw = {"attn_mask": torch.tensor(m)}, {"mask": m}
    elif case == "3d":
        q, k, v = q[0], k[0], v[0]
    y = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), **kw)
    np.testing.assert_allclose(npv(y), ref_sdpa(q, k, v, **ref_kw), atol=1e-12)


def test_sdpa_gqa_noncontiguous_and_dropout():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((2, 6, 4, 5)), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 2, 6, 5))
    y = F.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), enable_gqa=True)
    ref = ref_sdpa(q, np.repeat(k, 3, 1), np.repeat(v, 3, 1))
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)
    # (B, L, H, E) storage viewed as (B, H, L, E), as multi-head code does
    qt = torch.tensor(np.ascontiguousarray(np.swapaxes(q, 1, 2))).transpose(1, 2)
    y = F.scaled_dot_product_attention(qt, torch.tensor(np.repeat(k, 3, 1)), torch.tensor(np.repeat(v, 3, 1)))
    np.testing.assert_allclose(npv(y), ref, atol=1e-12)
    ones = torch.ones(1, 1, 3, 3)
    torch.manual_seed(0)
    yd = F.scaled_dot_product_attention(torch.zeros(1, 1, 4, 3), torch.zeros(1, 1, 3, 3), ones, dropout_p=0.5)
    vals = set(np.round(yd.numpy().astype(np.float64).ravel(), 4).tolist())
    assert vals <= {0.0, 0.6667, 1.3333, 2.0} and len(vals) > 1  # kept weights 1/3, scaled by 1/(1-p)


def test_sdpa_gradcheck():
    rng = np.random.default_rng(2)
    q, k, v = (torch.tensor(rng.standard_normal(s), dtype=F64, requires_grad=True) for s in [(1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3)])
    mask = torch.tensor(rng.standard_normal((3, 4)))
    check(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), [q, k, v])
    check(lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :, :3], v[:, :, :3], is_causal=True), [q, k, v])


def test_sdpa_errors():
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(torch.randn(2, 3, 4), torch.randn(2, 5, 4), torch.randn(2, 5, 4),
                                       attn_mask=torch.ones(3, 5, dtype=torch.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="query's last dim 4 must match key's 3"):
        F.scaled_dot_product_attention(torch.randn(2, 3, 4), torch.randn(2, 5, 3), torch.randn(2, 5, 4))


# ---------------------------------------------------------------------------------------------
# MultiheadAttention

def mha_params(m):
    E = m.embed_dim
    if m.in_proj_weight is not None:
        w = npv(m.in_proj_weight)
        wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
    else:
        wq, wk, wv = npv(m.q_proj_weight), npv(m.k_proj_weight), npv(m.v_proj_weight)
    b = npv(m.in_proj_bias) if m.in_proj_bias is not None else np.zeros(3 * E)
    ob = npv(m.out_proj.bias) if m.out_proj.bias is not None else np.zeros(E)
    return wq, wk, wv, b[:E], b[E:2 * E], b[2 * E:], npv(m.out_proj.weight), ob


def ref_mha(m, q, k, v, kpm=None, am=None, average=True):
    """torch's MHA on (L, N, E) inputs; masks: bool True = not allowed, or additive floats."""
    wq, wk, wv, bq, bk, bv, wo, bo = mha_params(m)
    H, E = m.num_heads, m.embed_dim
    hd = E // H
    L, N, _ = q.shape
    S = k.shape[0]
    Q, K, V = q @ wq.T + bq, k @ wk.T + bk, v @ wv.T + bv
    if m.bias_k is not None:
        K = np.concatenate([K, np.broadcast_to(npv(m.bias_k), (1, N, E))])
        V = np.concatenate([V, np.broadcast_to(npv(m.bias_v), (1, N, E))])
        S += 1
        am = None if am is None else np.pad(am, [(0, 0)] * (am.ndim - 1) + [(0, 1)])
        kpm = None if kpm is None else np.pad(kpm, [(0, 0), (0, 1)])
    heads = lambda X: X.reshape(X.shape[0], N * H, hd).transpose(1, 0, 2)  # noqa: E731
    Q, K, V = heads(Q), heads(K), heads(V)
    if m.add_zero_attn:
        K = np.concatenate([K, np.zeros((N * H, 1, hd))], 1)
        V = np.concatenate([V, np.zeros((N * H, 1, hd))], 1)
        S += 1
        am = None if am is None else np.pad(am, [(0, 0)] * (am.ndim - 1) + [(0, 1)])
        kpm = None if kpm is None else np.pad(kpm, [(0, 0), (0, 1)])
    s = Q @ K.transpose(0, 2, 1) / math.sqrt(hd)
    add = np.zeros((N * H, L, S))
    if am is not None:
        add = add + (np.where(am, -np.inf, 0.0) if am.dtype == bool else am)
    if kpm is not None:
        kp = np.where(kpm, -np.inf, 0.0) if kpm.dtype == bool else kpm
        add = add + np.repeat(kp[:, None, :], H, 0)
    w = softmax(s + add)
    out = (w @ V).transpose(1, 0, 2).reshape(L, N, E) @ wo.T + bo
    w = w.reshape(N, H, L, S)
    return out, (w.mean(1) if average else w)


def make_mha(*args, seed=0, **kw):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(*args, **kw).double()
    # non-zero biases so that they are exercised (torch initialises them to zero)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.copy_(torch.randn(*p.shape, dtype=F64) * 0.1)
    return m


MHA_CASES = {
    "self": dict(),
    "kdim_vdim": dict(kdim=5, vdim=3),
    "no_bias": dict(bias=False),
    "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True),
}


@pytest.mark.parametrize("name", list(MHA_CASES))
def test_mha_matches_reference(name):
    kw = MHA_CASES[name]
    m = make_mha(8, 2, **kw)
    rng = np.random.default_rng(3)
    q = rng.standard_normal((4, 3, 8))
    k = rng.standard_normal((6, 3, kw.get("kdim", 8)))
    v = rng.standard_normal((6, 3, kw.get("vdim", 8)))
    out, w = m(torch.tensor(q), torch.tensor(k), torch.tensor(v))
    ro, rw = ref_mha(m, q, k, v)
    np.testing.assert_allclose(npv(out), ro, atol=1e-12)
    np.testing.assert_allclose(npv(w), rw, atol=1e-12)
    if name == "self":
        t = torch.tensor(q)
        out, w = m(t, t, t, average_attn_weights=False)
        ro, rw = ref_mha(m, q, q, q, average=False)
        np.testing.assert_allclose(npv(out), ro, atol=1e-12)
        assert tuple(w.shape) == (3, 2, 4, 4)
        np.testing.assert_allclose(npv(w), rw, atol=1e-12)
        out, w = m(t, t, t, need_weights=False)
        assert w is None
        np.testing.assert_allclose(npv(out), ro, atol=1e-12)


def test_mha_masks_batch_first_and_unbatched():
    m = make_mha(8, 4, batch_first=True)
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((4, 3, 8)), rng.standard_normal((6, 3, 8))
    kpm = np.zeros((3, 6), bool)
    kpm[0, 4:] = True
    kpm[2, 0] = True
    am = np.triu(np.ones((4, 6), bool), 3)
    qb, kb = torch.tensor(np.swapaxes(q, 0, 1).copy()), torch.tensor(np.swapaxes(k, 0, 1).copy())
    out, w = m(qb, kb, kb, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am))
    ro, rw = ref_mha(m, q, k, k, kpm=kpm, am=am)
    np.testing.assert_allclose(npv(out), np.swapaxes(ro, 0, 1), atol=1e-12)
    np.testing.assert_allclose(npv(w), rw, atol=1e-12)
    fm = rng.standard_normal((3 * 4, 4, 6))  # a 3-D additive mask, one per (batch, head)
    out, _ = m(qb, kb, kb, attn_mask=torch.tensor(fm))
    np.testing.assert_allclose(npv(out), np.swapaxes(ref_mha(m, q, k, k, am=fm)[0], 0, 1), atol=1e-12)
    out, w = m(torch.tensor(q[:, 0]), torch.tensor(k[:, 0]), torch.tensor(k[:, 0]))
    ro, rw = ref_mha(m, q[:, :1], k[:, :1], k[:, :1])
    np.testing.assert_allclose(npv(out), ro[:, 0], atol=1e-12)
    np.testing.assert_allclose(npv(w), rw[0], atol=1e-12)


def test_mha_parameters_and_init():
    torch.manual_seed(0)
    m = nn.MultiheadAttention(8, 2)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert tuple(m.in_proj_weight.shape) == (24, 8)
    bound = math.sqrt(6 / (24 + 8))  # xavier_uniform_ on the (3E, E) matrix
    w = npv(m.in_proj_weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not npv(m.in_proj_bias).any() and not npv(m.out_proj.bias).any()
    assert type(m.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(m.out_proj, nn.Linear)
    m = nn.MultiheadAttention(8, 2, kdim=4, vdim=3, add_bias_kv=True, bias=False)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k", "bias_v", "out_proj.weight"]
    assert tuple(m.k_proj_weight.shape) == (8, 4) and tuple(m.bias_k.shape) == (1, 1, 8)
    assert m.in_proj_weight is None
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 7"):
        nn.MultiheadAttention(8, 2)(torch.randn(3, 2, 7), torch.randn(3, 2, 8), torch.randn(3, 2, 8))


def test_mha_gradcheck():
    m = make_mha(4, 2)
    rng = np.random.default_rng(5)
    q = torch.tensor(rng.standard_normal((3, 1, 4)), dtype=F64, requires_grad=True)
    k = torch.tensor(rng.standard_normal((2, 1, 4)), dtype=F64, requires_grad=True)
    kpm = torch.tensor([[False, True]])
    check(lambda q, k: torch.cat([o.reshape(-1) for o in m(q, k, k, key_padding_mask=kpm)]), [q, k])


# ---------------------------------------------------------------------------------------------
# Transformer layers

def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + (0 if b is None else b)


def ln(mod, x):
    return layer_norm(x, npv(mod.weight), None if mod.bias is None else npv(mod.bias), mod.eps)


def lin(mod, x):
    return x @ npv(mod.weight).T + (0 if mod.bias is None else npv(mod.bias))


def ref_ff(layer, x, act):
    return lin(layer.linear2, act(lin(layer.linear1, x)))


def ref_encoder_layer(layer, x, act, am=None, kpm=None):
    sa = lambda y: ref_mha(layer.self_attn, y, y, y, kpm=kpm, am=am)[0]  # noqa: E731
    if layer.norm_first:
        x = x + sa(ln(layer.norm1, x))
        return x + ref_ff(layer, ln(layer.norm2, x), act)
    x = ln(layer.norm1, x + sa(x))
    return ln(layer.norm2, x + ref_ff(layer, x, act))


def ref_decoder_layer(layer, x, mem, act, tgt_mask=None):
    sa = lambda y: ref_mha(layer.self_attn, y, y, y, am=tgt_mask)[0]  # noqa: E731
    ca = lambda y: ref_mha(layer.multihead_attn, y, mem, mem)[0]  # noqa: E731
    if layer.norm_first:
        x = x + sa(ln(layer.norm1, x))
        x = x + ca(ln(layer.norm2, x))
        return x + ref_ff(layer, ln(layer.norm3, x), act)
    x = ln(layer.norm1, x + sa(x))
    x = ln(layer.norm2, x + ca(x))
    return ln(layer.norm3, x + ref_ff(layer, x, act))


def relu(x):
    return np.maximum(x, 0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_and_stack_match_reference(norm_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, norm_first=norm_first).double().eval()
    x = np.random.default_rng(6).standard_normal((5, 3, 8))
    np.testing.assert_allclose(npv(layer(torch.tensor(x))), ref_encoder_layer(layer, x, relu), atol=1e-10)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)).double().eval()
    mask = nn.Transformer.generate_square_subsequent_mask(5).double()
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    y = enc(torch.tensor(x), mask=mask, src_key_padding_mask=torch.tensor(kpm))
    r = x
    for lay in enc.layers:
        r = ref_encoder_layer(lay, r, relu, am=npv(mask), kpm=kpm)
    np.testing.assert_allclose(npv(y), ln(enc.norm, r), atol=1e-10)


def test_decoder_layer_and_transformer_match_reference():
    torch.manual_seed(1)
    model = nn.Transformer(8, 2, 2, 1, 16, activation="gelu", batch_first=True).double().eval()
    rng = np.random.default_rng(7)
    src, tgt = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 4, 8))
    mask = model.generate_square_subsequent_mask(4, dtype=F64)
    y = model(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask)
    from math import erf

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))))
    s, t = np.swapaxes(src, 0, 1), np.swapaxes(tgt, 0, 1)
    for lay in model.encoder.layers:
        s = ref_encoder_layer(lay, s, gelu)
    mem = ln(model.encoder.norm, s)
    for lay in model.decoder.layers:
        t = ref_decoder_layer(lay, t, mem, gelu, tgt_mask=npv(mask))
    # F.gelu's erf is a polynomial approximation (about 1e-7 absolute), hence the tolerance
    np.testing.assert_allclose(npv(y), np.swapaxes(ln(model.decoder.norm, t), 0, 1), atol=1e-6)
    torch.manual_seed(2)
    dec = nn.TransformerDecoderLayer(8, 2, 16, norm_first=True).double().eval()
    x, m = rng.standard_normal((4, 2, 8)), rng.standard_normal((5, 2, 8))
    np.testing.assert_allclose(npv(dec(torch.tensor(x), torch.tensor(m))), ref_decoder_layer(dec, x, m, relu), atol=1e-10)


def test_transformer_structure_init_and_mask():
    torch.manual_seed(0)
    model = nn.Transformer(8, 2, 1, 1, 16)
    names = [n for n, _ in model.named_parameters()]
    assert names[:4] == ["encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
                         "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias"]
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in names and "decoder.norm.weight" in names
    assert len(names) == 12 + 18 + 4
    w = npv(model.encoder.layers[0].linear1.weight)  # re-initialised with xavier_uniform_
    assert np.abs(w).max() <= math.sqrt(6 / (8 + 16))
    m = nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(m.numpy(), np.array([[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]], np.float32))
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation=nn.GELU())
    assert isinstance(layer.activation, nn.GELU)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not foo"):
        nn.TransformerEncoderLayer(8, 2, activation="foo")
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(torch.randn(3, 2, 8), torch.randn(3, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(torch.randn(3, 2, 8), torch.randn(3, 2, 4))


def test_encoder_layer_trains():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1)
    x = torch.randn(5, 2, 8)
    layer(x).pow(2).sum().backward()
    grads = {n: p.grad for n, p in layer.named_parameters()}
    assert all(g is not None and tuple(g.shape) == tuple(p.shape) for (n, p), g in zip(layer.named_parameters(), grads.values()))
    assert float(grads["self_attn.in_proj_weight"].abs().sum()) > 0


def test_fully_masked_rows_follow_torch():
    # need_weights=True is a plain softmax (NaN rows); need_weights=False goes through SDPA (zeros)
    m = make_mha(8, 2)
    q = torch.tensor(np.random.default_rng(8).standard_normal((4, 2, 8)))
    kpm = torch.tensor([[True] * 4, [False] * 4])
    out, _ = m(q, q, q, key_padding_mask=kpm)
    assert np.isnan(npv(out)[:, 0]).all() and np.isfinite(npv(out)[:, 1]).all()
    out, _ = m(q, q, q, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(npv(out)[:, 0], np.broadcast_to(npv(m.out_proj.bias), (4, 8)), atol=1e-12)
    ro, _ = ref_mha(m, npv(q)[:, 1:], npv(q)[:, 1:], npv(q)[:, 1:])
    np.testing.assert_allclose(npv(out)[:, 1:], ro, atol=1e-12)


def test_encoder_inference_zeroes_padded_positions_like_torchs_nested_fast_path():
    torch.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2).double().eval()
    x = torch.tensor(np.random.default_rng(9).standard_normal((2, 5, 8)))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    with torch.no_grad():
        y = npv(enc(x, src_key_padding_mask=torch.tensor(kpm)))
    r = np.swapaxes(npv(x), 0, 1)
    for lay in enc.layers:
        r = ref_encoder_layer(lay, r, relu, kpm=kpm)
    r = np.swapaxes(r, 0, 1)
    np.testing.assert_allclose(y[~kpm], r[~kpm], atol=1e-10)
    assert (y[kpm] == 0).all()
    # with autograd recording (training code) torch keeps the padded rows' values
    y = npv(enc(x, src_key_padding_mask=torch.tensor(kpm)))
    np.testing.assert_allclose(y, r, atol=1e-10)
