"""The narrow dtypes (uint8, int8, int16; bfloat16 where built): promotion against torch's own
table, creation, casts, NumPy sharing, printing, kernels against NumPy in the same dtype
(integer overflow wraps in both), serialization, and the GPU against the CPU."""

import io
import json
import os

import numpy as np
import pytest

import rustensor as torch
from conftest import LAYOUTS, make_tensor

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "promotion.json")) as f:
    PROMOTION = json.load(f)
with open(os.path.join(DATA, "small_dtypes.json")) as f:
    SMALL = json.load(f)

ALL_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
HAVE = [n for n in ALL_NAMES if hasattr(torch, n)]
NARROW = [torch.uint8, torch.int8, torch.int16]
NP = {"uint8": np.uint8, "int8": np.int8, "int16": np.int16}


def name(dt):
    return str(dt).rsplit(".", 1)[-1]


def rand(rng, shape, dt, low=None, high=None, nonzero=False):
    info = np.iinfo(NP[name(dt)])
    lo = info.min if low is None else low
    hi = info.max if high is None else high
    a = np.array(rng.integers(lo, hi + 1, size=shape), dtype=NP[name(dt)])
    if nonzero:
        a[a == 0] = 1
    return a


def check(t, ref):
    ref = np.asarray(ref)
    assert name(t.dtype) == ref.dtype.name, (t.dtype, ref.dtype)
    assert tuple(t.shape) == ref.shape
    np.testing.assert_array_equal(t.numpy(), ref)


# ------------------------------------------------------------------------------ promotion

def _pairs():
    return [(a, b) for a in HAVE for b in HAVE]


@pytest.mark.parametrize("a,b", _pairs())
def test_promote_types_matches_torch(a, b):
    assert name(torch.promote_types(getattr(torch, a), getattr(torch, b))) == PROMOTION["promote_types"][f"{a},{b}"]


def _one(n, kind):
    return torch.ones(() if kind == "zerodim" else (2,), dtype=getattr(torch, n))


@pytest.mark.parametrize("a,b", _pairs())
def test_result_type_matches_torch(a, b):
    for ka in ("dim", "zerodim"):
        for kb in ("dim", "zerodim"):
            want = PROMOTION["result_type"][f"{ka}:{a},{kb}:{b}"]
            x, y = _one(a, ka), _one(b, kb)
            assert name(torch.result_type(x, y)) == want, (ka, a, kb, b)
            if "bool" not in (a, b) or a == b == "bool":
                # the op computes in that dtype too (sub refuses bool, so add)
                assert name((x + y).dtype) == want, (ka, a, kb, b)


@pytest.mark.parametrize("a", HAVE)
def test_result_type_with_python_scalars_matches_torch(a):
    for ka in ("dim", "zerodim"):
        for s, v in {"bool": True, "int": 3, "float": 2.5}.items():
            want = PROMOTION["result_type"][f"{ka}:{a},scalar:{s}"]
            x = _one(a, ka)
            assert name(torch.result_type(x, v)) == want, (ka, a, s)
            assert name((x * v).dtype) == want, (ka, a, s)


# ------------------------------------------------------------------------------ dtype objects

@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_dtype_attributes_and_iinfo(dt):
    npd = np.dtype(NP[name(dt)])
    assert dt.itemsize == npd.itemsize
    assert not dt.is_floating_point and not torch.is_floating_point(torch.zeros(1, dtype=dt))
    assert dt.is_signed == (npd.kind == "i")
    i = torch.iinfo(dt)
    assert (i.min, i.max, i.bits) == (np.iinfo(npd).min, np.iinfo(npd).max, np.iinfo(npd).bits)
    assert torch.zeros(3, dtype=dt).element_size() == npd.itemsize
    assert getattr(torch, name(dt)) is dt


def test_aliases_and_legacy_types():
    assert torch.short == torch.int16
    assert torch.zeros(2, dtype=torch.uint8).type() == "rustensor.ByteTensor"
    assert torch.zeros(2, dtype=torch.int8).type() == "rustensor.CharTensor"
    assert torch.zeros(2, dtype=torch.int16).type() == "rustensor.ShortTensor"
    assert torch.ByteTensor([1, 2]).dtype == torch.uint8


# ------------------------------------------------------------------------------ creation

@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_creation_functions(dt):
    npd = NP[name(dt)]
    check(torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=dt), np.array([[1, 2, 3], [4, 5, 6]], npd))
    check(torch.tensor(7, dtype=dt), np.array(7, npd))
    check(torch.zeros(2, 3, dtype=dt), np.zeros((2, 3), npd))
    check(torch.ones(0, 3, dtype=dt), np.ones((0, 3), npd))
    check(torch.arange(10, dtype=dt), np.arange(10, dtype=npd))
    check(torch.arange(2, 20, 3, dtype=dt), np.arange(2, 20, 3, dtype=npd))
    check(torch.full((2, 2), 9, dtype=dt), np.full((2, 2), 9, npd))
    assert torch.empty(4, dtype=dt).dtype == dt
    r = torch.randint(3, 10, (200,), dtype=dt)
    assert r.dtype == dt and int(r.min()) >= 3 and int(r.max()) < 10
    check(torch.zeros_like(r), np.zeros(200, npd))


def test_tensor_of_python_ints_checks_range_as_torch():
    # torch: an unsigned type takes -max..max (negatives wrap), a signed one its own range
    check(torch.tensor([-1, 255], dtype=torch.uint8), np.array([255, 255], np.uint8))
    for dt, bad in [(torch.uint8, 256), (torch.uint8, -256), (torch.int8, 128), (torch.int16, -32769)]:
        with pytest.raises(RuntimeError, match=f"value cannot be converted to type {name(dt)} without overflow"):
            torch.tensor([bad], dtype=dt)


# ------------------------------------------------------------------------------ casts

@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_float_to_narrow_int_truncates(dt):
    rng = np.random.default_rng(1)
    info = np.iinfo(NP[name(dt)])
    x = rng.uniform(info.min, info.max, size=(5, 7)).astype(np.float32)
    t = torch.from_numpy(x)
    check(t.to(dt), x.astype(NP[name(dt)]))
    check(t.t().to(dt), x.T.astype(NP[name(dt)]))
    check(torch.from_numpy(x.astype(np.float64)).to(dt), x.astype(np.float64).astype(NP[name(dt)]))


def test_int_casts_wrap_and_methods():
    a = np.array([-300, -129, -1, 0, 127, 128, 255, 256, 40000], np.int64)
    t = torch.from_numpy(a)
    check(t.byte(), a.astype(np.uint8))
    check(t.char(), a.astype(np.int8))
    check(t.short(), a.astype(np.int16))
    check(t.to(torch.uint8).to(torch.int64), a.astype(np.uint8).astype(np.int64))
    check(t.byte().float(), a.astype(np.uint8).astype(np.float32))
    check(t.char().bool(), a.astype(np.int8).astype(bool))
    check(t.short().half(), a.astype(np.int16).astype(np.float16))


# ------------------------------------------------------------------------------ numpy sharing

@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_numpy_shares_memory_both_ways(dt):
    npd = NP[name(dt)]
    img = np.arange(24, dtype=npd).reshape(2, 3, 4)
    t = torch.from_numpy(img)
    assert t.dtype == dt and t.shape == (2, 3, 4)
    img[0, 0, 0] = 99
    assert int(t[0, 0, 0]) == 99
    back = t.numpy()
    assert back.dtype == npd and np.shares_memory(back, img)
    t[1, 2, 3] = 7
    assert img[1, 2, 3] == 7
    # a strided NumPy view (an image channel) is shared too
    ch = torch.from_numpy(img[:, :, 1])
    img[1, 1, 1] = 42
    assert int(ch[1, 1]) == 42
    check(torch.as_tensor(img), img)


def test_image_pipeline_uint8_to_normalised_float():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(8, 6, 3), dtype=np.uint8)
    t = torch.from_numpy(img).permute(2, 0, 1).float().div(255)
    np.testing.assert_allclose(t.numpy(), img.transpose(2, 0, 1).astype(np.float32) / 255, rtol=1e-6)


# ------------------------------------------------------------------------------ printing

@pytest.mark.parametrize("case", sorted(SMALL["repr"]))
def test_repr_matches_torch(case):
    c = SMALL["repr"][case]
    if "bfloat16" in c["src"] and not hasattr(torch, "bfloat16"):
        pytest.skip("no bfloat16 in this build")
    t = eval(c["src"], {"torch": torch})
    assert repr(t).replace("rustensor.", "torch.") == c["repr"]


# ------------------------------------------------------------------------------ kernels

BINARY = {
    "add": (lambda a, b: a + b, np.add, {}),
    "sub": (lambda a, b: a - b, np.subtract, {}),
    "mul": (lambda a, b: a * b, np.multiply, {}),
    "floor_divide": (lambda a, b: a // b, np.floor_divide, {"nonzero": True}),
    "remainder": (lambda a, b: a % b, np.remainder, {"nonzero": True}),
    "fmod": (torch.fmod, np.fmod, {"nonzero": True}),
    "bitwise_and": (lambda a, b: a & b, np.bitwise_and, {}),
    "bitwise_or": (lambda a, b: a | b, np.bitwise_or, {}),
    "bitwise_xor": (lambda a, b: a ^ b, np.bitwise_xor, {}),
    "maximum": (torch.maximum, np.maximum, {}),
    "minimum": (torch.minimum, np.minimum, {}),
    "eq": (lambda a, b: a == b, np.equal, {}),
    "lt": (lambda a, b: a < b, np.less, {}),
    "ge": (lambda a, b: a >= b, np.greater_equal, {}),
    "div": (lambda a, b: a / b, None, {"nonzero": True}),
}


def _np_binary(op, x, y):
    if op == "div":
        return (x.astype(np.float64) / y.astype(np.float64)).astype(np.float32)
    with np.errstate(over="ignore"):
        return BINARY[op][1](x, y)


SHAPES = [((3, 4), (3, 4)), ((), ()), ((0, 3), (1, 3)), ((2, 1, 4), (3, 1)), ((5,), ())]


@pytest.mark.parametrize("dt", NARROW, ids=str)
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_against_numpy_same_dtype(dt, op):
    rng = np.random.default_rng(hash((name(dt), op)) % 2**32)
    f, _, kw = BINARY[op]
    for sa, sb in SHAPES:
        for layout in LAYOUTS:
            x = rand(rng, sa, dt)
            y = rand(rng, sb, dt, nonzero=kw.get("nonzero", False))
            if op in ("floor_divide", "remainder", "fmod") and dt != torch.uint8:
                # -min // -1 overflows: torch and NumPy disagree there (NumPy warns and gives 0)
                y[y == -1] = 3
            ta, ra = make_tensor(x, layout)
            r = f(ta, torch.from_numpy(y))
            want = _np_binary(op, ra, y)
            check(r, want)


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_scalar_operands_keep_the_narrow_dtype_and_wrap(dt):
    npd = NP[name(dt)]
    x = rand(np.random.default_rng(5), (6,), dt)
    t = torch.from_numpy(x)
    with np.errstate(over="ignore"):
        check(t + 300, (x.astype(np.int64) + 300).astype(npd))
        check(t * 7, (x.astype(np.int64) * 7).astype(npd))
        check(-t, (-x.astype(np.int64)).astype(npd))
        check(~t, np.invert(x))
    check(t * 2.5, (x.astype(np.float32) * np.float32(2.5)))
    check(t.abs(), np.abs(x.astype(np.int64)).astype(npd))
    check(t.sign(), np.sign(x))
    check(t.exp(), np.exp(x.astype(np.float32)))


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_shifts_and_pow(dt):
    bits = np.iinfo(NP[name(dt)]).bits
    rng = np.random.default_rng(6)
    x = rand(rng, (4, 5), dt)
    s = rand(rng, (4, 5), dt, low=0, high=bits - 1)
    tx, ts = torch.from_numpy(x), torch.from_numpy(s)
    check(tx << ts, np.left_shift(x, s))
    check(tx >> ts, np.right_shift(x, s))
    # shifting everything out: zero, or the sign for >> of a negative
    check(tx << bits + 1, np.zeros_like(x))
    check(tx >> bits + 1, np.where(x < 0, -1, 0).astype(x.dtype))
    e = rand(rng, (4, 5), dt, low=0, high=5)
    with np.errstate(over="ignore"):
        check(tx ** torch.from_numpy(e), np.power(x, e))
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        tx ** -1


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_reductions(dt):
    rng = np.random.default_rng(7)
    x = rand(rng, (4, 6), dt)
    for layout in ("contiguous", "transposed", "sliced"):
        t, r = make_tensor(x, layout)
        check(t.sum(), r.sum(dtype=np.int64))
        check(t.sum(1), r.sum(1, dtype=np.int64))
        with np.errstate(over="ignore"):
            check(t.prod(0), r.prod(0, dtype=np.int64))
        check(t.max(), r.max())
        check(t.amin(1), r.min(1))
        check(t.argmax(), np.array(r.argmax()))
        check(t.argmin(0), r.argmin(0))
        check(t.cumsum(1), r.cumsum(1, dtype=np.int64))
        check(t.any(), np.array(r.any()))
    check(torch.zeros(0, dtype=dt).sum(), np.int64(0))
    with pytest.raises(RuntimeError, match=f"Got: {dict(uint8='Byte', int8='Char', int16='Short')[name(dt)]}"):
        torch.from_numpy(x).mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        torch.from_numpy(x).var()


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_indexing_and_matmul(dt):
    rng = np.random.default_rng(8)
    x = rand(rng, (5, 4), dt)
    t = torch.from_numpy(x.copy())
    idx = np.array([4, 0, 2, 2])
    check(t[torch.from_numpy(idx)], x[idx])
    check(t[1:, ::2], x[1:, ::2])
    check(t[t > 0], x[x > 0])
    g = rng.integers(0, 5, size=(3, 4))
    check(torch.gather(t, 0, torch.from_numpy(g)), np.take_along_axis(x, g, 0))
    check(t.masked_fill(t < 0, 3), np.where(x < 0, 3, x).astype(x.dtype))
    check(torch.where(t > 0, t, torch.zeros_like(t)), np.where(x > 0, x, 0).astype(x.dtype))
    acc = torch.zeros(5, dtype=dt)
    vals = rand(rng, (12,), dt)
    pos = rng.integers(0, 5, size=12)
    acc = acc.scatter_add(0, torch.from_numpy(pos), torch.from_numpy(vals))
    want = np.zeros(5, np.int64)
    np.add.at(want, pos, vals.astype(np.int64))
    check(acc, want.astype(x.dtype))
    s = t.clone()
    s[0] = 9
    want = x.copy()
    want[0] = 9
    check(s, want)
    y = rand(rng, (4, 3), dt)
    with np.errstate(over="ignore"):
        check(t @ torch.from_numpy(y), (x.astype(np.int64) @ y.astype(np.int64)).astype(x.dtype))
    check(t.sort(0).values, np.sort(x, 0))


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_float_only_ops_refuse_as_torch(dt):
    t = torch.ones(3, dtype=dt)
    with pytest.raises(RuntimeError, match=f"not implemented for '{dict(uint8='Byte', int8='Char', int16='Short')[name(dt)]}'"):
        t.frac()


# ------------------------------------------------------------------------------ serialization

def test_torch_checkpoint_with_small_dtypes_loads():
    if "bfloat16" not in HAVE:
        pytest.skip("the checkpoint holds a bfloat16 tensor too")
    d = torch.load(os.path.join(DATA, "torch_small_dtypes.pt"))
    for k, v in SMALL["values"].items():
        if v["dtype"] not in HAVE:
            continue
        t = d[k]
        assert name(t.dtype) == v["dtype"] and list(t.shape) == v["shape"]
        np.testing.assert_array_equal(t.float().numpy(), np.array(v["values"], np.float32))
    assert d["u8_t"].stride() == (1, 3)


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_save_load_roundtrip(dt):
    x = rand(np.random.default_rng(9), (3, 4), dt)
    buf = io.BytesIO()
    t = torch.from_numpy(x)
    torch.save({"a": t, "v": t[:, 1]}, buf)
    buf.seek(0)
    d = torch.load(buf)
    check(d["a"], x)
    check(d["v"], x[:, 1])


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_safetensors_and_dlpack_roundtrip(dt, tmp_path):
    from rustensor.utils import safetensors as rst  # noqa: F401 - skip if absent
    x = rand(np.random.default_rng(10), (3, 4), dt)
    p = str(tmp_path / "w.safetensors")
    rst.save_file({"w": torch.from_numpy(x)}, p)
    with rst.safe_open(p, "pt") as f:
        check(f.get_tensor("w"), x)
    code = {"uint8": "U8", "int8": "I8", "int16": "I16"}[name(dt)]
    with open(p, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        assert json.loads(fh.read(n))["w"]["dtype"] == code
    check(torch.from_dlpack(x), x)
    assert np.from_dlpack(torch.from_numpy(x)).dtype == x.dtype


# ------------------------------------------------------------------------------ gpu

GPU_UNARY = ["neg", "abs", "sign", "bitwise_not", "exp", "sqrt", "logical_not", "isnan", "floor"]


@pytest.mark.parametrize("dt", NARROW, ids=str)
def test_gpu_matches_cpu(dt, gpu):
    rng = np.random.default_rng(11)
    for sa, sb in SHAPES:
        x, y = rand(rng, sa, dt), rand(rng, sb, dt, nonzero=True)
        if dt != torch.uint8:
            y[y == -1] = 3
        for layout in LAYOUTS:
            c, _ = make_tensor(x, layout)
            g, _ = make_tensor(x, layout, device=gpu)
            cy, gy = torch.from_numpy(y), torch.from_numpy(y).to(gpu)
            for op in sorted(BINARY):
                f = BINARY[op][0]
                rc, rg = f(c, cy), f(g, gy)
                assert rg.device.type == "gpu" and rg.dtype == rc.dtype, op
                np.testing.assert_array_equal(rg.cpu().numpy(), rc.numpy(), err_msg=op)
            for op in GPU_UNARY:
                rc, rg = getattr(c, op)(), getattr(g, op)()
                assert rg.dtype == rc.dtype, op
                np.testing.assert_allclose(rg.cpu().numpy(), rc.numpy(), rtol=1e-4, atol=1e-30, err_msg=op)
            for r in (lambda t: t + 300, lambda t: t * 7, lambda t: t << 3, lambda t: t >> 2, lambda t: t * 2.5):
                np.testing.assert_allclose(r(g).cpu().numpy(), r(c).numpy(), rtol=1e-6)
    x = rand(rng, (6, 70), dt)
    c, g = torch.from_numpy(x), torch.from_numpy(x).to(gpu)
    for r in (lambda t: t.sum(), lambda t: t.sum(1), lambda t: t.max(0).values, lambda t: t.argmin(1),
              lambda t: t.cumsum(1), lambda t: t.to(torch.float32), lambda t: t.t().contiguous(),
              lambda t: t[torch.tensor([5, 0, 2])], lambda t: t.masked_fill(t < 0, 1),
              lambda t: t[:, :4] @ t[:4, :].t()[:4], lambda t: t.to(torch.int64)):
        rc, rg = r(c), r(g)
        assert rg.dtype == rc.dtype
        np.testing.assert_array_equal(rg.cpu().numpy(), rc.numpy())
    f = rng.uniform(-100, 100, size=(50,)).astype(np.float32)
    if dt == torch.uint8:
        f = np.abs(f)
    np.testing.assert_array_equal(torch.from_numpy(f).to(gpu).to(dt).cpu().numpy(), torch.from_numpy(f).to(dt).numpy())
    acc_c, acc_g = torch.zeros(5, dtype=dt), torch.zeros(5, dtype=dt, device=gpu)
    pos, vals = rng.integers(0, 5, size=40), rand(rng, (40,), dt)
    acc_c = acc_c.scatter_add(0, torch.from_numpy(pos), torch.from_numpy(vals))
    acc_g = acc_g.scatter_add(0, torch.from_numpy(pos).to(gpu), torch.from_numpy(vals).to(gpu))
    acc_c[torch.from_numpy(pos)] += torch.from_numpy(vals)
    acc_g[torch.from_numpy(pos).to(gpu)] += torch.from_numpy(vals).to(gpu)
    np.testing.assert_array_equal(acc_g.cpu().numpy(), acc_c.numpy())
    # a wrapped value survives later ops on the device: 250 + 10 is 4 on both
    full = torch.full((3,), int(np.iinfo(NP[name(dt)]).max), dtype=dt)
    np.testing.assert_array_equal(((full.to(gpu) + 10) // 2).cpu().numpy(), ((full + 10) // 2).numpy())


# ------------------------------------------------------------------------------ bfloat16

BF = getattr(torch, "bfloat16", None)
needs_bf16 = pytest.mark.skipif(BF is None, reason="no bfloat16 in this build")


def bf16_round(x):
    """float32 -> the nearest bfloat16 (ties to even), as float32: torch's rounding."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def bcheck(t, ref):
    assert t.dtype == BF, t.dtype
    assert tuple(t.shape) == np.shape(ref)
    np.testing.assert_array_equal(t.float().numpy(), bf16_round(ref))


@needs_bf16
def test_bfloat16_dtype_creation_and_rounding():
    assert BF.itemsize == 2 and BF.is_floating_point and BF.is_signed
    fi = torch.finfo(BF)
    assert (fi.bits, fi.eps, fi.tiny) == (16, 2.0**-7, 2.0**-126)
    assert fi.max == -fi.min == float(np.array([0x7F7F0000], np.uint32).view(np.float32)[0])
    x = np.random.default_rng(12).normal(size=(4, 5)).astype(np.float32) * 100
    bcheck(torch.tensor(x.tolist(), dtype=BF), x)
    bcheck(torch.from_numpy(x).bfloat16(), x)
    bcheck(torch.from_numpy(x).t().to(BF), x.T)
    bcheck(torch.zeros(2, 3, dtype=BF), np.zeros((2, 3), np.float32))
    bcheck(torch.arange(0, 300, 7, dtype=BF), np.arange(0, 300, 7).astype(np.float32))
    bcheck(torch.full((3,), 3.3, dtype=BF), np.full(3, 3.3, np.float32))
    assert torch.randn(3, 4, dtype=BF).dtype == BF
    assert torch.tensor([1.0, 2.5], dtype=BF).tolist() == [1.0, 2.5]
    assert torch.tensor(3.3, dtype=BF).item() == float(bf16_round(np.float32(3.3)))
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        torch.ones(2, dtype=BF).numpy()


@needs_bf16
def test_bfloat16_kernels_compute_in_float32_and_round():
    rng = np.random.default_rng(13)
    a = bf16_round(rng.normal(size=(3, 4)).astype(np.float32))
    b = bf16_round(rng.normal(size=(4,)).astype(np.float32))
    ta, tb = torch.from_numpy(a).to(BF), torch.from_numpy(b).to(BF)
    bcheck(ta + tb, a + b)
    bcheck(ta * tb, a * b)
    bcheck(ta / tb, a / b)
    bcheck(ta.exp(), np.exp(a))
    bcheck(ta * 2.5, a * np.float32(2.5))
    bcheck(ta.t() - 1, a.T - 1)
    np.testing.assert_array_equal((ta < tb).numpy(), a < b)
    bcheck(ta @ tb.reshape(4, 1), (a.astype(np.float32) @ b.reshape(4, 1)))
    bcheck(ta.sum(1), a.astype(np.float64).sum(1).astype(np.float32))
    np.testing.assert_allclose(ta.mean().float().item(), bf16_round(np.float32(a.mean())), rtol=1e-2)
    assert (ta + torch.ones(4, dtype=torch.float16)).dtype == torch.float32
    assert (ta + torch.ones(4, dtype=torch.uint8)).dtype == BF
    with pytest.raises(RuntimeError, match="not implemented for 'BFloat16'"):
        ta.bitwise_not()


@needs_bf16
def test_bfloat16_gradients_flow_through_casts():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x.bfloat16() * 2).float().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


@needs_bf16
def test_bfloat16_serialization(tmp_path):
    x = bf16_round(np.random.default_rng(14).normal(size=(3, 4)).astype(np.float32))
    t = torch.from_numpy(x).to(BF)
    buf = io.BytesIO()
    torch.save({"a": t, "v": t[:, 1]}, buf)
    buf.seek(0)
    d = torch.load(buf)
    bcheck(d["a"], x)
    bcheck(d["v"], x[:, 1])
    from rustensor.utils import safetensors as rst
    p = str(tmp_path / "b.safetensors")
    rst.save_file({"w": t}, p)
    with rst.safe_open(p, "pt") as f:
        bcheck(f.get_tensor("w"), x)
    with open(p, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        assert json.loads(fh.read(n))["w"]["dtype"] == "BF16"


@needs_bf16
def test_bfloat16_gpu_matches_cpu(gpu):
    rng = np.random.default_rng(15)
    a = rng.normal(size=(5, 6)).astype(np.float32) * 10
    c = torch.from_numpy(a).to(BF)
    g = c.to(gpu)
    assert g.dtype == BF
    for f in (lambda t: t + 1.3, lambda t: t * t, lambda t: t.exp(), lambda t: t.t() / 3, lambda t: t.sum(0),
              lambda t: t.max(1).values, lambda t: t.cumsum(1), lambda t: t @ t.t(), lambda t: t.float(),
              lambda t: t.to(torch.int32), lambda t: torch.from_numpy(a).to(t.device).to(BF), lambda t: t < 0.5,
              lambda t: t[torch.tensor([4, 0]).to(t.device)]):
        rc, rg = f(c), f(g)
        assert rg.dtype == rc.dtype
        if rc.dtype == BF:
            # both round to bfloat16; float32 intermediates may differ in the last bit
            np.testing.assert_allclose(rg.cpu().float().numpy(), rc.float().numpy(), rtol=2**-7)
        else:
            np.testing.assert_allclose(rg.cpu().numpy(), rc.numpy(), rtol=1e-5)
    np.testing.assert_array_equal((g + 1.3).cpu().float().numpy(), (c + 1.3).float().numpy())
    acc_c = torch.zeros(3, dtype=BF).scatter_add(0, torch.tensor([0, 2, 0]), torch.ones(3, dtype=BF))
    acc_g = torch.zeros(3, dtype=BF, device=gpu).scatter_add(0, torch.tensor([0, 2, 0]).to(gpu), torch.ones(3, dtype=BF).to(gpu))
    np.testing.assert_array_equal(acc_g.cpu().float().numpy(), acc_c.float().numpy())
