"""Differential tests against real torch (skipped when torch is not importable, as in CI): the
same inputs and torch's own weights (loaded through state_dict) give torch's outputs and
gradients, in float64, for the functional forms and the modules of nn-spatial."""

import numpy as np
import pytest

import rustensor as rt
import rustensor.nn.functional as RF
from rustensor.nn.utils import rnn as ru

torch = pytest.importorskip("torch")
TF = torch.nn.functional
tu = torch.nn.utils.rnn


def _R(seed, *s):
    return np.random.default_rng(seed).standard_normal(s)


def _both(arrs):
    ta = [torch.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a for a in arrs]
    ra = [rt.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a for a in arrs]
    return ta, ra


def _flat(y):
    if isinstance(y, (tuple, list)):
        return [e for part in y for e in _flat(part)]
    return [] if y is None else [y]


def _compare_outputs(yt, yr, atol):
    yt, yr = _flat(yt), _flat(yr)
    assert len(yt) == len(yr)
    for a, b in zip(yt, yr):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=atol, rtol=1e-7, equal_nan=True)
    # one scalar from the float outputs, so every output's gradient path is exercised
    lt = sum((y * torch.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))).sum() for y in yt if y.dtype.is_floating_point and y.requires_grad)
    lr = sum((y * rt.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))).sum() for y in yr if y.dtype.is_floating_point and y.requires_grad)
    return lt, lr


FUNCTIONAL = [
    ("conv2d", RF.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 4, 3, 3), (6,)], {}),
    ("conv2d_s2p1", RF.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 4, 3, 3), (6,)], dict(stride=2, padding=1)),
    ("conv2d_dil", RF.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 4, 3, 3), (6,)], dict(dilation=(2, 1), padding=(1, 2), stride=(1, 2))),
    ("conv2d_groups", RF.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 2, 3, 2), (6,)], dict(groups=2)),
    ("conv2d_same", RF.conv2d, TF.conv2d, [(2, 4, 7, 6), (6, 4, 4, 3), (6,)], dict(padding="same", dilation=2)),
    ("conv1d", RF.conv1d, TF.conv1d, [(2, 4, 9), (6, 2, 3), (6,)], dict(groups=2, stride=2, padding=2, dilation=2)),
    ("conv3d", RF.conv3d, TF.conv3d, [(1, 2, 4, 5, 4), (3, 2, 2, 3, 2), (3,)], dict(padding=1)),
    ("conv_transpose2d", RF.conv_transpose2d, TF.conv_transpose2d, [(2, 4, 5, 4), (4, 3, 3, 3), (6,)],
     dict(stride=(2, 3), padding=(2, 1), groups=2, dilation=2, output_padding=(1, 0))),
    ("conv_transpose1d", RF.conv_transpose1d, TF.conv_transpose1d, [(2, 4, 5), (4, 3, 3)], dict(stride=3, padding=1, output_padding=2)),
    ("max_pool2d", RF.max_pool2d, TF.max_pool2d, [(2, 3, 7, 6)], dict(kernel_size=(3, 2), stride=2, padding=(1, 0), dilation=(1, 2), ceil_mode=True, return_indices=True)),
    ("max_pool1d", RF.max_pool1d, TF.max_pool1d, [(2, 3, 10)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
    ("avg_pool2d", RF.avg_pool2d, TF.avg_pool2d, [(2, 3, 7, 6)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d_div", RF.avg_pool2d, TF.avg_pool2d, [(2, 3, 7, 6)], dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ("avg_pool1d", RF.avg_pool1d, TF.avg_pool1d, [(2, 3, 10)], dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
    ("adaptive_avg_pool2d", RF.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, [(2, 3, 7, 6)], dict(output_size=(3, 4))),
    ("adaptive_max_pool2d", RF.adaptive_max_pool2d, TF.adaptive_max_pool2d, [(3, 5, 3)], dict(output_size=(7, 2), return_indices=True)),
    ("lp_pool2d", RF.lp_pool2d, TF.lp_pool2d, [(2, 3, 6, 6)], dict(norm_type=3, kernel_size=3, stride=2)),
    ("pad_reflect", RF.pad, TF.pad, [(2, 3, 4, 5)], dict(pad=(1, 2, 3, 0), mode="reflect")),
    ("pad_replicate", RF.pad, TF.pad, [(2, 3, 4, 5)], dict(pad=(1, 2, 3, 0), mode="replicate")),
    ("pad_circular", RF.pad, TF.pad, [(2, 3, 4)], dict(pad=(3, 2), mode="circular")),
    ("pad_negative", RF.pad, TF.pad, [(2, 3, 4, 5)], dict(pad=(-1, 2, 0, -2), value=3.0)),
    ("interp_bilinear", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(scale_factor=1.7, mode="bilinear")),
    ("interp_bilinear_ac", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(size=(8, 9), mode="bilinear", align_corners=True)),
    ("interp_bicubic", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(size=(7, 3), mode="bicubic")),
    ("interp_nearest", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(scale_factor=1.7)),
    ("interp_recompute", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(scale_factor=(1.7, 0.6), mode="bilinear", recompute_scale_factor=True)),
    ("interp_nearest_recompute", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(scale_factor=2.6, recompute_scale_factor=True)),
    ("interp_linear_down", RF.interpolate, TF.interpolate, [(2, 3, 9)], dict(size=4, mode="linear")),
    ("interp_nearest_exact", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(size=(7, 3), mode="nearest-exact")),
    ("interp_area", RF.interpolate, TF.interpolate, [(2, 3, 5, 4)], dict(size=(3, 3), mode="area")),
    ("interp_trilinear", RF.interpolate, TF.interpolate, [(1, 2, 3, 4, 3)], dict(size=(5, 3, 4), mode="trilinear")),
    ("pixel_shuffle", RF.pixel_shuffle, TF.pixel_shuffle, [(2, 8, 3, 4)], dict(upscale_factor=2)),
    ("affine_grid", RF.affine_grid, TF.affine_grid, [(2, 2, 3)], dict(size=(2, 3, 4, 5), align_corners=False)),
    ("grid_sample", RF.grid_sample, TF.grid_sample, [(2, 3, 5, 4), (2, 4, 6, 2)], dict(padding_mode="reflection", align_corners=False)),
    ("grid_sample_ac", RF.grid_sample, TF.grid_sample, [(2, 3, 5, 4), (2, 4, 6, 2)], dict(padding_mode="zeros", align_corners=True)),
    ("unfold", RF.unfold, TF.unfold, [(2, 3, 6, 5)], dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))),
    ("fold", RF.fold, TF.fold, [(2, 12, 12)], dict(output_size=(5, 6), kernel_size=(2, 2), padding=1, stride=2)),
    ("sdpa", RF.scaled_dot_product_attention, TF.scaled_dot_product_attention, [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], {}),
    ("sdpa_causal", RF.scaled_dot_product_attention, TF.scaled_dot_product_attention, [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], dict(is_causal=True)),
    ("sdpa_mask", RF.scaled_dot_product_attention, TF.scaled_dot_product_attention, [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), (4, 6)], {}),
    ("sdpa_gqa", RF.scaled_dot_product_attention, TF.scaled_dot_product_attention, [(2, 6, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], dict(enable_gqa=True)),
]


@pytest.mark.parametrize("name,fr,ft,shapes,kw", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_functional_matches_torch(name, fr, ft, shapes, kw):
    arrs = [_R(i, *s) for i, s in enumerate(shapes)]
    if name == "lp_pool2d":
        arrs = [np.abs(a) + 0.1 for a in arrs]
    ta, ra = _both(arrs)
    lt, lr = _compare_outputs(ft(*ta, **kw), fr(*ra, **kw), 1e-10)
    lt.backward()
    lr.backward()
    for a, b in zip(ta, ra):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-10)


def test_sdpa_bool_mask_with_dead_rows_matches_torch():
    m = np.random.default_rng(0).random((2, 1, 4, 6)) < 0.5
    m[0, 0, 1] = False
    q, k, v = _R(1, 2, 3, 4, 5), _R(2, 2, 3, 6, 5), _R(3, 2, 3, 6, 7)
    yt = TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(m))
    yr = RF.scaled_dot_product_attention(rt.tensor(q), rt.tensor(k), rt.tensor(v), attn_mask=rt.tensor(m))
    np.testing.assert_allclose(yr.numpy(), yt.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# modules with torch's weights

def _module_pair(ctor):
    tm = ctor(torch.nn).double()
    rm = ctor(rt.nn).double()
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in rm.named_parameters()]
    assert [(k, tuple(v.shape)) for k, v in tm.state_dict().items()] == [(k, tuple(v.shape)) for k, v in rm.state_dict().items()]
    rm.load_state_dict({k: rt.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, rm


def _pk(m, x, lens=(3, 5, 2), sorted_=False):
    U = tu if isinstance(x, torch.Tensor) else ru
    p = U.pack_padded_sequence(x, list(lens), enforce_sorted=sorted_)
    out, h = m(p)
    return U.pad_packed_sequence(out, padding_value=-1.0)[0], h, p.data


def _ev(m, *a):
    m.eval()
    return m(*a)


def _masked_mha(m, q, k, v):
    T = torch if isinstance(q, torch.Tensor) else rt
    kpm = np.zeros((3, 6), bool)
    kpm[0, 4:] = True
    am = np.triu(np.ones((4, 6), bool), 3)
    return m(q, k, v, key_padding_mask=T.tensor(kpm), attn_mask=T.tensor(am))


def _enc_masked(m, s):
    m.eval()
    T = torch if isinstance(s, torch.Tensor) else rt
    mask = (torch.nn if T is torch else rt.nn).Transformer.generate_square_subsequent_mask(5).double()
    kp = np.zeros((3, 5), bool)
    kp[1, 3:] = True
    return m(s, mask=mask, src_key_padding_mask=T.tensor(kp.astype(float) * -1e9))


def _transformer(m, s, t):
    m.eval()
    return m(s, t, tgt_mask=type(m).generate_square_subsequent_mask(4).double())


X4 = (2, 4, 7, 6)
MODULES = [
    ("Conv2d", lambda nn: nn.Conv2d(4, 6, 3), [X4], None),
    ("Conv2d_full", lambda nn: nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=False), [X4], None),
    ("Conv2d_reflect_same", lambda nn: nn.Conv2d(4, 6, 4, padding="same", padding_mode="reflect"), [X4], None),
    ("Conv2d_circular", lambda nn: nn.Conv2d(4, 6, 3, padding=1, padding_mode="circular"), [X4], None),
    ("Conv1d_replicate", lambda nn: nn.Conv1d(4, 6, 3, padding=2, padding_mode="replicate"), [(2, 4, 9)], None),
    ("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), [X4], None),
    ("ConvTranspose2d_output_size", lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1), [X4], lambda m, a: m(a, output_size=[14, 12])),
    ("MaxPool2d", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True, return_indices=True), [X4], None),
    ("AvgPool2d", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False), [X4], None),
    ("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((1, 1)), [X4], None),
    ("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((2, 3)), [X4], None),
    ("Upsample", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), [X4], None),
    ("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(4, 9)), [X4], None),
    ("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), [(2, 2, 4, 6)], None),
    ("ReflectionPad2d", lambda nn: nn.ReflectionPad2d((1, 2, 0, 1)), [X4], None),
    ("Fold", lambda nn: nn.Fold((4, 5), 2), [(2, 12, 12)], None),
    ("RNN_relu", lambda nn: nn.RNN(4, 3, nonlinearity="relu", num_layers=2), [(5, 3, 4)], None),
    ("LSTM_bi2", lambda nn: nn.LSTM(4, 3, num_layers=2, bidirectional=True), [(5, 3, 4)], None),
    ("LSTM_proj", lambda nn: nn.LSTM(4, 3, num_layers=2, bidirectional=True, proj_size=2), [(5, 3, 4)], None),
    ("LSTM_state", lambda nn: nn.LSTM(4, 3, num_layers=2, bidirectional=True), [(5, 3, 4), (4, 3, 3), (4, 3, 3)], lambda m, x, h, c: m(x, (h, c))),
    ("GRU_bf", lambda nn: nn.GRU(4, 3, batch_first=True, bias=False, num_layers=2), [(3, 5, 4)], None),
    ("GRU_unbatched", lambda nn: nn.GRU(4, 3, num_layers=2, bidirectional=True), [(5, 4)], None),
    ("LSTM_packed", lambda nn: nn.LSTM(4, 3, num_layers=2, bidirectional=True), [(5, 3, 4)], _pk),
    ("GRU_packed", lambda nn: nn.GRU(4, 3, bidirectional=True), [(5, 3, 4)], _pk),
    ("RNN_packed_sorted", lambda nn: nn.RNN(4, 3, bidirectional=True), [(5, 3, 4)], lambda m, x: _pk(m, x, (5, 3, 2), True)),
    ("LSTMCell", lambda nn: nn.LSTMCell(4, 3), [(2, 4), (2, 3), (2, 3)], lambda m, x, h, c: m(x, (h, c))),
    ("GRUCell", lambda nn: nn.GRUCell(4, 3), [(2, 4), (2, 3)], None),
    ("RNNCell", lambda nn: nn.RNNCell(4, 3, nonlinearity="relu"), [(4,)], None),
    ("MHA_self", lambda nn: nn.MultiheadAttention(8, 2), [(4, 3, 8)], lambda m, x: m(x, x, x)),
    ("MHA_kdim", lambda nn: nn.MultiheadAttention(8, 2, kdim=5, vdim=3), [(4, 3, 8), (6, 3, 5), (6, 3, 3)], None),
    ("MHA_bias_kv", lambda nn: nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True), [(4, 3, 8), (6, 3, 8), (6, 3, 8)], None),
    ("MHA_masks", lambda nn: nn.MultiheadAttention(8, 2), [(4, 3, 8), (6, 3, 8), (6, 3, 8)], _masked_mha),
    ("MHA_batch_first", lambda nn: nn.MultiheadAttention(8, 2, batch_first=True), [(3, 4, 8)], lambda m, x: m(x, x, x, average_attn_weights=False)),
    ("EncoderLayer", lambda nn: nn.TransformerEncoderLayer(8, 2, 16), [(5, 3, 8)], _ev),
    ("EncoderLayer_norm_first", lambda nn: nn.TransformerEncoderLayer(8, 2, 16, norm_first=True, batch_first=True), [(5, 3, 8)], _ev),
    ("Encoder_masked", lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8)), [(5, 3, 8)], _enc_masked),
    ("DecoderLayer", lambda nn: nn.TransformerDecoderLayer(8, 2, 16, norm_first=True), [(4, 3, 8), (5, 3, 8)], _ev),
    ("Transformer", lambda nn: nn.Transformer(8, 2, 2, 2, 16), [(5, 3, 8), (4, 3, 8)], _transformer),
]


@pytest.mark.parametrize("name,ctor,shapes,fwd", MODULES, ids=[c[0] for c in MODULES])
def test_module_with_torch_weights_matches_torch(name, ctor, shapes, fwd):
    torch.manual_seed(0)
    tm, rm = _module_pair(ctor)
    ta, ra = _both([_R(i + 10, *s) for i, s in enumerate(shapes)])
    f = fwd or (lambda m, *a: m(*a))
    lt, lr = _compare_outputs(f(tm, *ta), f(rm, *ra), 1e-9)
    lt.backward()
    lr.backward()
    for (n, p), (_, q) in zip(tm.named_parameters(), rm.named_parameters()):
        if p.grad is None:
            assert q.grad is None or not q.grad.numpy().any(), n
            continue
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), atol=1e-9, err_msg=n)
    for a, b in zip(ta, ra):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-9)


@pytest.mark.parametrize("name,ctor", [
    ("Conv2d", lambda nn: nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode="reflect")),
    ("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1)),
    ("MaxPool2d", lambda nn: nn.MaxPool2d(3, 2, 1)),
    ("AvgPool1d", lambda nn: nn.AvgPool1d(3)),
    ("LPPool2d", lambda nn: nn.LPPool2d(2, 3)),
    ("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d(3)),
    ("ConstantPad2d", lambda nn: nn.ConstantPad2d((1, 2, 0, 1), 2.5)),
    ("ZeroPad1d", lambda nn: nn.ZeroPad1d(2)),
    ("Upsample", lambda nn: nn.Upsample(size=(3, 4), mode="nearest")),
    ("Fold", lambda nn: nn.Fold((4, 5), 2)),
    ("Unfold", lambda nn: nn.Unfold(2, padding=1)),
    ("PixelShuffle", lambda nn: nn.PixelShuffle(3)),
    ("LSTM", lambda nn: nn.LSTM(3, 4, 2, bias=False, batch_first=True, dropout=0.1, bidirectional=True, proj_size=2)),
    ("RNN", lambda nn: nn.RNN(3, 4, nonlinearity="relu")),
    ("GRUCell", lambda nn: nn.GRUCell(3, 4, bias=False)),
    ("MHA", lambda nn: nn.MultiheadAttention(8, 2, kdim=4, vdim=4)),
])
def test_repr_matches_torch(name, ctor):
    assert repr(ctor(rt.nn)) == repr(ctor(torch.nn))


def test_inference_edge_cases_match_torch():
    """MHA rows with every key masked (NaN with weights, zeros without) and the encoder's
    nested-tensor inference path (padded positions zeroed)."""
    torch.manual_seed(0)
    tm, rm = _module_pair(lambda nn: nn.MultiheadAttention(8, 2))
    q = _R(0, 4, 2, 8)
    kpm = np.array([[True] * 4, [False] * 4])
    for nw in (True, False):
        a = tm(torch.tensor(q), torch.tensor(q), torch.tensor(q), key_padding_mask=torch.tensor(kpm), need_weights=nw)[0]
        b = rm(rt.tensor(q), rt.tensor(q), rt.tensor(q), key_padding_mask=rt.tensor(kpm), need_weights=nw)[0]
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-12, equal_nan=True)
    tm, rm = _module_pair(lambda nn: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, norm=nn.LayerNorm(8)))
    tm.eval()
    rm.eval()
    x = _R(1, 2, 5, 8)
    kp = np.zeros((2, 5), bool)
    kp[1, 3:] = True
    with torch.no_grad():
        a = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kp)).numpy()
    with rt.no_grad():
        b = rm(rt.tensor(x), src_key_padding_mask=rt.tensor(kp)).numpy()
    np.testing.assert_allclose(b, a, atol=1e-10)


def _cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding="same", padding_mode="reflect"), nn.ReLU(), nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(), nn.Linear(32, 3),
    )


def _gpt_blocks(nn):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, 2)


@pytest.mark.parametrize("train", [True, False])
def test_small_models_with_torch_weights_match_torch(train):
    torch.manual_seed(0)
    tm, rm = _module_pair(_cnn)
    tm.train(train)
    rm.train(train)
    x = _R(0, 4, 1, 8, 8)
    a, b = tm(torch.tensor(x)), rm(rt.tensor(x))
    np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-9)
    tm, rm = _module_pair(_gpt_blocks)
    tm.train(train)
    rm.train(train)
    x = _R(1, 2, 6, 8)
    mask = np.triu(np.full((6, 6), -np.inf), 1)
    a = tm(torch.tensor(x), mask=torch.tensor(mask), is_causal=True)
    b = rm(rt.tensor(x), mask=rt.tensor(mask), is_causal=True)
    # F.gelu's erf is a polynomial approximation in rustensor (about 1e-7 absolute)
    np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=1e-6)


def test_every_exported_name_is_torchs():
    from rustensor.nn import _functional_spatial
    from rustensor.nn.modules import conv, fold, padding, pixelshuffle, pooling, rnn, transformer, upsampling

    for name in _functional_spatial.__all__:
        assert hasattr(torch.nn.functional, name), name
        assert getattr(RF, name) is getattr(_functional_spatial, name)
    for mod in (conv, fold, padding, pixelshuffle, pooling, rnn, transformer, upsampling):
        for name in mod.__all__:
            assert hasattr(torch.nn, name), name
            assert hasattr(rt.nn, name), name
    for name in ru.__all__:
        assert hasattr(tu, name), name


def test_max_unpool_and_channel_shuffle_match_torch():
    x = _R(3, 2, 3, 6, 5)
    ty, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    ry, ri = RF.max_pool2d(rt.tensor(x), 2, return_indices=True)
    a = TF.max_unpool2d(ty, ti, 2, output_size=(6, 5))
    b = RF.max_unpool2d(ry, ri, 2, output_size=(6, 5))
    np.testing.assert_array_equal(b.numpy(), a.numpy())
    np.testing.assert_array_equal(RF.channel_shuffle(rt.tensor(x), 3).numpy(), TF.channel_shuffle(torch.tensor(x), 3).numpy())
