"""The GPU backend's WGSL compute kernels, run on their own through wgpu-py and checked against NumPy.

The Rust GPU backend (rust/rustensor-core/src/wgpu_backend/) builds each kernel from a template
in wgsl/: the source is common.wgsl followed by the template, with every `{{KEY}}` placeholder
replaced by dtype-specific WGSL (loads, stores, the expression, the reduction merge...), and
binding 0 holding the kernel's parameter words. This module mirrors that renderer and the
parameter layouts in a few lines of Python (just for the cases tested), dispatches the kernels
with wgpu-py on whatever adapter is there (lavapipe, Mesa's software Vulkan, in CI), and compares
the results with NumPy. So the kernels can be checked without rebuilding the wheel: it needs
wgpu-py and NumPy only, not rustensor.

Covered: elementwise (binary with transposed / negative-stride / broadcast stride-0 inputs and a
strided output, unary exp and sigmoid, a comparison to bool, casts, fill, the 2-D workgroup grid),
reductions (sum over the last dim and over everything, including the two-pass chunked path, max
propagating NaN, argmax), tiled matmul (ragged tiles, transposed B, batches, a broadcast batch)
and gather along a dim with an int32 index tensor (negative indices, out-of-range flag).

When wgpu-py or an adapter is missing the module is skipped, except under CI=true, where it fails.

If a helper here disagrees with the Rust side (mod.rs: load/store/conv/bindings/render/grid/
collapse; elementwise.rs, reduce.rs, matmul.rs, index.rs), the Rust side is the reference.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

WGSL_DIR = Path(__file__).resolve().parents[1] / "rust" / "rustensor-core" / "src" / "wgpu_backend" / "wgsl"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str):
    if IN_CI:
        raise RuntimeError(f"CI=true but the WGSL kernel tests cannot run: {reason}")
    pytest.skip(reason, allow_module_level=True)


try:
    import wgpu
except Exception as e:  # ImportError, or a wgpu-native library that fails to load
    _unavailable(f"wgpu-py is not importable ({e!r})")

try:
    ADAPTER = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
except Exception as e:
    ADAPTER = None
    _why = repr(e)
else:
    _why = "request_adapter_sync returned None"
if ADAPTER is None:
    _unavailable(f"no wgpu adapter ({_why})")
DEVICE = ADAPTER.request_device_sync()
# What grid() in mod.rs reads from the adapter (the device gets the default limits, which have
# the same 65535 here); tests pass a small value instead to exercise the 2-D grid.
MAX_GROUPS = DEVICE.limits["max-compute-workgroups-per-dimension"]


# ---------------------------------------------------------------------------------------------
# the renderer: mirrors mod.rs
# ---------------------------------------------------------------------------------------------

COMMON = (WGSL_DIR / "common.wgsl").read_text()
# elementwise.rs prepends special.wgsl (the op table's special functions) to its template
PREFIX = {"elementwise.wgsl": (WGSL_DIR / "special.wgsl").read_text()}


def render(template: str, **subs) -> str:
    """`render` in mod.rs: common.wgsl + the template, then each {{KEY}} replaced."""
    s = COMMON + PREFIX.get(template, "") + (WGSL_DIR / template).read_text()
    for k, v in subs.items():
        key = "{{" + k + "}}"
        assert key in s, f"{template} has no placeholder {key}: the renderer here is out of date"
        s = s.replace(key, str(v))
    assert "{{" not in s, f"{template}: placeholders left unfilled: the renderer here is out of date"
    return s


FLOAT = {"f32"}


def ctype(dt: str) -> str:
    return "f32" if dt in FLOAT else "i32"


def load(dt: str, b: str, off: str) -> str:
    return {
        "f32": f"bitcast<f32>({b}[u32({off})])",
        "i32": f"bitcast<i32>({b}[u32({off})])",
        "bool": f"i32({b}[u32({off})] != 0u)",
    }[dt]


def store(dt: str, b: str, off: str, v: str) -> str:
    if dt == "bool":
        return f"{b}[u32({off})] = u32({v} != 0);"
    return f"{b}[u32({off})] = bitcast<u32>({v});"


def conv(frm: str, to: str, e: str) -> str:
    """WGSL converting `e` from ctype(frm) to ctype(to) (torch's cast rules)."""
    if to == "bool":
        return f"i32(({e}) != 0.0)" if frm in FLOAT else f"i32(({e}) != 0)"
    if (frm in FLOAT) == (to in FLOAT):
        return e
    return f"i32({e})" if frm in FLOAT else f"f32({e})"


def bindings(n: int) -> str:
    return "".join(f"@group(0) @binding({i}) var<storage, read_write> B{i}: array<u32>;\n" for i in range(1, n + 1))


def grid(n: int, maxx: int = MAX_GROUPS) -> tuple:
    """`grid` in mod.rs: 256-thread workgroups covering n threads, spilling into y."""
    groups = -(-n // 256)
    if groups <= maxx:
        return (groups, 1, 1)
    y = -(-groups // maxx)
    assert y <= maxx
    return (maxx, y, 1)


def collapse(shape, strides):
    """`collapse` in mod.rs: merges dims every operand steps through as one, drops size-1 dims."""
    out_shape, out_strides = [], [[] for _ in strides]
    for d, s in enumerate(shape):
        if s == 1:
            continue
        if out_shape and all(os_[-1] == st[d] * s for os_, st in zip(out_strides, strides)):
            out_shape[-1] *= s
            for os_, st in zip(out_strides, strides):
                os_[-1] = st[d]
            continue
        out_shape.append(s)
        for os_, st in zip(out_strides, strides):
            os_.append(st[d])
    return out_shape, out_strides


# ---------------------------------------------------------------------------------------------
# operands and the wgpu runner
# ---------------------------------------------------------------------------------------------

NP_DTYPE = {"f32": np.float32, "i32": np.int32, "bool": np.bool_}
DT_NAME = {np.dtype(v): k for k, v in NP_DTYPE.items()}


def to_words(a: np.ndarray) -> np.ndarray:
    """A contiguous array as the GPU's 32-bit words: f32/i32 bit patterns, bool as 0/1."""
    a = np.ascontiguousarray(a).reshape(-1)
    return a.astype(np.uint32) if a.dtype == np.bool_ else a.view(np.uint32).copy()


def from_words(w: np.ndarray, dt: str) -> np.ndarray:
    return (w != 0) if dt == "bool" else w.view(NP_DTYPE[dt])


@dataclass
class Arr:
    """A kernel operand: a whole word buffer and the layout (in elements) read through it."""

    words: np.ndarray
    dtype: str
    shape: tuple
    strides: tuple
    offset: int = 0


def operand(base: np.ndarray, view: np.ndarray | None = None) -> Arr:
    """`view` (a NumPy view of the C-contiguous `base`: slices, transposes, broadcast_to...)
    as an operand over base's buffer, with the same offset and element strides."""
    assert base.flags.c_contiguous
    view = base if view is None else view
    item = base.itemsize
    off = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    assert off % item == 0 and all(s % item == 0 for s in view.strides)
    return Arr(to_words(base), DT_NAME[base.dtype], view.shape, tuple(s // item for s in view.strides), off // item)


_PIPELINES: dict = {}


def run(source: str, buffers: list, params: list, groups: tuple) -> list:
    """Dispatches `source`'s `main` once with binding 0 = params and bindings 1.. = buffers
    (uint32 arrays); returns every buffer read back as uint32."""
    pipe = _PIPELINES.get(source)
    if pipe is None:
        module = DEVICE.create_shader_module(code=source)
        pipe = DEVICE.create_compute_pipeline(layout="auto", compute={"module": module, "entry_point": "main"})
        _PIPELINES[source] = pipe
    usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
    words = np.array([int(p) & 0xFFFFFFFF for p in params] or [0], dtype=np.uint32)
    bufs = [DEVICE.create_buffer_with_data(data=words, usage=wgpu.BufferUsage.STORAGE)]
    for b in buffers:
        b = np.ascontiguousarray(b, dtype=np.uint32)
        bufs.append(DEVICE.create_buffer_with_data(data=b if b.size else np.zeros(1, np.uint32), usage=usage))
    bind_group = DEVICE.create_bind_group(
        layout=pipe.get_bind_group_layout(0),
        entries=[{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}} for i, b in enumerate(bufs)],
    )
    encoder = DEVICE.create_command_encoder()
    cpass = encoder.begin_compute_pass()
    cpass.set_pipeline(pipe)
    cpass.set_bind_group(0, bind_group)
    cpass.dispatch_workgroups(*groups)
    cpass.end()
    DEVICE.queue.submit([encoder.finish()])
    out = []
    for b, src in zip(bufs[1:], buffers):
        w = np.frombuffer(DEVICE.queue.read_buffer(b), dtype=np.uint32).copy()
        out.append(w[: len(src)])
    return out


def strided(words: np.ndarray, dt: str, shape, strides, offset: int) -> np.ndarray:
    """The view of a read-back buffer through a layout."""
    flat = from_words(words, dt)
    item = flat.itemsize
    return np.lib.stride_tricks.as_strided(flat[offset:], shape=shape, strides=[s * item for s in strides])


class Out:
    """An output: a base buffer filled with a sentinel and a view of it the kernel writes, so
    a test can check that nothing outside the view was touched."""

    def __init__(self, dt: str, base_shape, view=lambda x: x, sentinel=-7):
        self.dt, self.view = dt, view
        self.base = np.full(base_shape, sentinel, dtype=NP_DTYPE[dt])
        self.arr = operand(self.base, view(self.base))

    def result(self, words: np.ndarray) -> np.ndarray:
        got = from_words(words, self.dt).reshape(self.base.shape)
        inside = np.zeros(self.base.shape, bool)
        self.view(inside)[...] = True
        np.testing.assert_array_equal(got[~inside], self.base[~inside], err_msg="wrote outside the output view")
        return self.view(got)


def rng(seed: int = 0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# elementwise.wgsl (mirrors `launch` in elementwise.rs)
# ---------------------------------------------------------------------------------------------


def ew_launch(body: str, out: Arr, ins: list, scalar: int = 0, maxx: int = MAX_GROUPS) -> np.ndarray:
    n = math.prod(out.shape)
    nops = len(ins) + 1
    ops = [out] + ins
    shape, cs = collapse(out.shape, [x.strides for x in ops])
    rank = len(shape)
    mask = 0
    for k, s in enumerate(cs):
        if rank == 0 or (rank == 1 and s[0] == 1):
            mask |= 1 << k
    p = [n, rank, mask, scalar] + list(shape)
    for x, s in zip(ops, cs):
        p += [x.offset] + list(s)
    src = render("elementwise.wgsl", BINDINGS=bindings(nops), NOPS=nops, ALLMASK=(1 << nops) - 1, BODY=body)
    return run(src, [x.words for x in ops], p, grid(n, maxx))[0]


def ew_loads(ins) -> str:
    return "".join(f"    let {name} = {load(dt, f'B{k + 2}', f'offs[{k + 1}]')};\n" for k, (dt, name) in enumerate(ins))


def ew_binary(expr: str, cdt: str, out: Arr, a: Arr, b: Arr, result_bool=False, **kw) -> np.ndarray:
    """`binary` in elementwise.rs, given binary_expr's expression."""
    e = conv("i32" if result_bool else cdt, out.dtype, expr)
    return ew_launch(f"{ew_loads([(cdt, 'a'), (cdt, 'b')])}    {store(out.dtype, 'B1', 'o', e)}\n", out, [a, b], **kw)


def ew_unary(expr: str, dt: str, out: Arr, a: Arr) -> np.ndarray:
    e = conv(dt, out.dtype, expr)
    return ew_launch(f"{ew_loads([(dt, 'a')])}    {store(out.dtype, 'B1', 'o', e)}\n", out, [a])


def ew_cast(out: Arr, a: Arr) -> np.ndarray:
    e = conv(a.dtype, out.dtype, "a")
    return ew_launch(f"{ew_loads([(a.dtype, 'a')])}    {store(out.dtype, 'B1', 'o', e)}\n", out, [a])


def ew_fill(out: Arr, value) -> np.ndarray:
    if out.dtype in FLOAT:
        bits, v = int(np.float32(value).view(np.uint32)), "bitcast<f32>(P[3])"
    else:
        i = int(value)
        i = int(i != 0) if out.dtype == "bool" else i
        bits, v = i & 0xFFFFFFFF, "bitcast<i32>(P[3])"
    return ew_launch(f"    {store(out.dtype, 'B1', 'o', v)}\n", out, [], scalar=bits)


def _f32(r, shape, lo=-3.0, hi=3.0):
    return r.uniform(lo, hi, size=shape).astype(np.float32)


# (name, out shape, a(rng) -> (base, view), b(rng) -> (base, view))
ADD_CASES = {
    # rank 1, unit strides: every operand takes the `offset + i` fast path (mask == ALLMASK)
    "contiguous-1d": lambda r: ((x := _f32(r, 1000)), x, (y := _f32(r, 1000)), y),
    # a transposed, b a row broadcast down the columns (stride 0)
    "transposed+row-broadcast": lambda r: ((x := _f32(r, (45, 33))), x.T, (y := _f32(r, 45)), np.broadcast_to(y, (33, 45))),
    # a a column broadcast along the rows, b reversed and stepped (negative stride, offset)
    "col-broadcast+reversed": lambda r: (
        (x := _f32(r, (17, 1))),
        np.broadcast_to(x, (17, 29)),
        (y := _f32(r, (17, 58))),
        y[:, ::-2],
    ),
    # a permuted 3-D, b one element (at an offset) broadcast everywhere
    "permuted-3d+scalar": lambda r: (
        (x := _f32(r, (6, 4, 5))),
        x.transpose(1, 2, 0),
        (y := _f32(r, 10)),
        np.broadcast_to(y[3:4].reshape(()), (4, 5, 6)),
    ),
    # size-1 dims and a sliced block with an offset
    "sliced+size1": lambda r: ((x := _f32(r, (9, 1, 30))), x[2:7, :, 5:25], (y := _f32(r, (5, 1, 20))), y),
}


@pytest.mark.parametrize("case", list(ADD_CASES))
def test_add_f32_strided_and_broadcast(case):
    abase, a, bbase, b = ADD_CASES[case](rng(1))
    out = Out("f32", a.shape)
    got = out.result(ew_binary("a + b", "f32", out.arr, operand(abase, a), operand(bbase, b)))
    np.testing.assert_allclose(got, a + b, rtol=1e-6, atol=1e-6)


def test_add_into_strided_output():
    """The output itself a view (every other column of a bigger buffer, at an offset)."""
    r = rng(2)
    a, b = _f32(r, (18, 20)), _f32(r, (20, 18))
    out = Out("f32", (20, 41), view=lambda x: x[2:, 1::2])
    got = out.result(ew_binary("a * b", "f32", out.arr, operand(a), operand(b, b.T)))
    np.testing.assert_allclose(got, a * b.T, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("maxx", [5, 7])
def test_elementwise_2d_grid(maxx):
    """More workgroups than the adapter allows in x spill into y (i = gid.x + gid.y*nwg.x*256);
    a small cap stands in for a huge tensor. The strided input forces the coordinate path."""
    r = rng(3)
    x = _f32(r, (100, 57))
    y = _f32(r, 57)
    out = Out("f32", (57, 100))
    got = out.result(ew_binary("a - b", "f32", out.arr, operand(x, x.T), operand(y, np.broadcast_to(y[:, None], (57, 100))), maxx=maxx))
    np.testing.assert_allclose(got, x.T - y[:, None], rtol=1e-6, atol=1e-6)


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


@pytest.mark.parametrize(
    "expr,ref",
    [("exp_f(a)", lambda x: np.exp(x.astype(np.float64)).astype(np.float32)), ("sigmoid_f(a)", _sigmoid)],
    ids=["exp", "sigmoid"],
)
def test_unary_f32(expr, ref):
    r = rng(4)
    base = _f32(r, (40, 66), -12.0, 12.0)
    # extremes: exp saturates to inf above 88.8 and to 0 below -104; sigmoid must not overflow
    base[0, :8] = [-200.0, -105.0, -90.0, -50.0, 50.0, 88.0, 89.0, 300.0]
    base[1, :2] = [0.0, -0.0]
    view = base[:, ::3]  # a stepped, non-contiguous input
    out = Out("f32", view.shape)
    got = out.result(ew_unary(expr, "f32", out.arr, operand(base, view)))
    with np.errstate(over="ignore"):
        want = ref(view)
    # WGSL allows exp an error of 3 + 2|x| ULP (about 1.1e-5 relative at x = 88; lavapipe does
    # ~1.7e-6 there), and the GPU may flush float32 denormals (exp(-90)) to zero: the tiny atol
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-37)


@pytest.mark.parametrize("expr,ref", [("i32(a < b)", np.less), ("i32(a == b)", np.equal), ("i32(a >= b)", np.greater_equal)], ids=["lt", "eq", "ge"])
def test_compare_f32_to_bool(expr, ref):
    """Comparisons store 0/1 words into a bool output; NaN compares false (true for !=)."""
    r = rng(5)
    a = np.round(_f32(r, (31, 12)))  # rounded so that equality happens
    a[3, 4] = np.nan
    b = np.round(_f32(r, 31))
    b[7] = np.nan
    bv = np.broadcast_to(b[:, None], (31, 12))
    out = Out("bool", (12, 31), view=lambda x: x.T, sentinel=True)
    # the result sentinel is True, so a store of 0 must really clear the word
    got_words = ew_binary(expr, "f32", out.arr, operand(a), operand(b, bv), result_bool=True)
    assert set(np.unique(got_words)) <= {0, 1}, "bool outputs must be 0/1 words"
    got = out.result(got_words)
    np.testing.assert_array_equal(got, ref(a, bv))


@pytest.mark.parametrize("frm,to", [("f32", "i32"), ("i32", "f32"), ("bool", "f32"), ("f32", "bool")])
def test_cast(frm, to):
    r = rng(6)
    if frm == "f32":
        base = r.uniform(-1000, 1000, size=(23, 19)).astype(np.float32)
        base[0, :6] = [-2.5, -0.5, 0.0, -0.0, 0.7, 2.9999]  # truncation toward zero
    elif frm == "i32":
        base = r.integers(-(2**24), 2**24, size=(23, 19), dtype=np.int32)  # exact in float32
    else:
        base = r.random((23, 19)) < 0.5
    view = base.T  # a transposed copy
    out = Out(to, view.shape, sentinel=1)
    got = out.result(ew_cast(out.arr, operand(base, view)))
    np.testing.assert_array_equal(got, view.astype(NP_DTYPE[to]))


@pytest.mark.parametrize("dt,value", [("f32", -2.5), ("f32", 1e-3), ("i32", -123456), ("bool", 5), ("bool", 0)])
def test_fill(dt, value):
    out = Out(dt, (13, 50), view=lambda x: x[1:12, 3::4], sentinel=7)
    got = out.result(ew_fill(out.arr, value))
    np.testing.assert_array_equal(got, np.full(got.shape, value).astype(NP_DTYPE[dt]))


def test_fill_contiguous_multi_workgroup():
    out = Out("f32", 1000)
    got = out.result(ew_fill(out.arr, 3.25))
    np.testing.assert_array_equal(got, np.full(1000, 3.25, np.float32))


# ---------------------------------------------------------------------------------------------
# reduce.wgsl (mirrors reduce.rs)
# ---------------------------------------------------------------------------------------------

CHUNK = 4096


def red_identity(op: str, dt: str) -> str:
    f = dt in FLOAT
    return {
        "sum": "0.0" if f else "0",
        "max": "-inf_f()" if f else "i32(-2147483647 - 1)",
        "argmax": "-inf_f()" if f else "i32(-2147483647 - 1)",
        "min": "inf_f()" if f else "2147483647",
        "argmin": "inf_f()" if f else "2147483647",
    }[op]


def red_merge(op: str, dt: str) -> str:
    f = dt in FLOAT

    def pick(cmp):
        if f:
            return (
                f"    let take = (isnan_f(bv) && !isnan_f(av)) || (!isnan_f(av) && bv {cmp} av) || "
                f"((bv == av || (isnan_f(av) && isnan_f(bv))) && bi < ai);\n    if (take) {{ return b; }}\n    return a;"
            )
        return f"    if (bv {cmp} av || (bv == av && bi < ai)) {{ return b; }}\n    return a;"

    return {
        "sum": "    return Pair(av + bv, 0);",
        "max": "    return Pair(fmax_nan(av, bv), 0);" if f else "    return Pair(max(av, bv), 0);",
        "min": "    return Pair(fmin_nan(av, bv), 0);" if f else "    return Pair(min(av, bv), 0);",
        "argmax": pick(">"),
        "argmin": pick("<"),
    }[op]


def red_pass(op: str, a: Arr, kept, red, chunks: int, odt: str, maxx: int) -> np.ndarray:
    """`pass` in reduce.rs: M * chunks outputs, written contiguously."""
    m, r = math.prod(kept[0]), math.prod(red[0])
    chunk = max(-(-r // chunks), 1)
    p = [m, r, chunks, chunk, len(kept[0]), len(red[0]), a.offset]
    p += list(kept[0]) + list(kept[1]) + list(red[0]) + list(red[1])
    arg = op in ("argmax", "argmin")
    st = store(odt, "B1", "o", "idx") if arg else store(odt, "B1", "o", conv(a.dtype, odt, "v"))
    src = render(
        "reduce.wgsl",
        BINDINGS=bindings(2),
        T=ctype(a.dtype),
        MERGE=red_merge(op, a.dtype),
        IDENTITY=red_identity(op, a.dtype),
        LOAD=load(a.dtype, "B2", "off"),
        STORE="        " + st,
    )
    groups = m * chunks
    gx, gy = (groups, 1) if groups <= maxx else (maxx, -(-groups // maxx))
    out = np.zeros(max(m * chunks, 1), np.uint32)
    return run(src, [out, a.words], p, (gx, gy, 1))[0]


def gpu_reduce(op: str, a: Arr, dims, odt: str, maxx: int = MAX_GROUPS) -> np.ndarray:
    """`reduce` in reduce.rs: the kept dims' result, contiguous (two passes when few outputs
    each reduce many elements)."""
    kept = ([s for d, s in enumerate(a.shape) if d not in dims], [s for d, s in enumerate(a.strides) if d not in dims])
    red = ([s for d, s in enumerate(a.shape) if d in dims], [s for d, s in enumerate(a.strides) if d in dims])
    m, r = math.prod(kept[0]), math.prod(red[0])
    arg = op in ("argmax", "argmin")
    chunks = min(-(-r // CHUNK), 1024) if (not arg and m < 256 and r >= 4 * CHUNK) else 1
    if chunks == 1:
        words = red_pass(op, a, kept, red, 1, odt, maxx)
    else:
        part = red_pass(op, a, kept, red, chunks, odt, maxx)
        p = Arr(part, odt, (m, chunks), (chunks, 1))
        words = red_pass(op, p, ([m], [chunks]), ([chunks], [1]), 1, odt, maxx)
    return from_words(words[:m], odt).reshape(kept[0])


def _check_sum(got, x, axis):
    want = x.astype(np.float64).sum(axis=axis)
    # float32 accumulation in a different order: the error scales with the sum of |x|
    scale = np.abs(x.astype(np.float64)).sum(axis=axis)
    np.testing.assert_allclose(got, want, rtol=0, atol=float(np.max(scale)) * 1e-6 + 1e-6)


REDUCE_INPUTS = {
    "contiguous": lambda x: x,
    "transposed": lambda x: x.T,
    "sliced-reversed": lambda x: x[1:-1, ::-3],
}


@pytest.mark.parametrize("layout", list(REDUCE_INPUTS))
@pytest.mark.parametrize("shape", [(37, 1000), (5, 3), (3, 20000)], ids=["37x1000", "5x3", "3x20000-two-pass"])
def test_sum_last_dim(shape, layout):
    base = _f32(rng(7), shape if layout != "transposed" else shape[::-1])
    x = REDUCE_INPUTS[layout](base)
    got = gpu_reduce("sum", operand(base, x), [1], "f32")
    _check_sum(got, x, 1)


@pytest.mark.parametrize("shape", [(13, 17), (300, 200)], ids=["single-pass", "two-pass"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_sum_all(shape, layout):
    base = _f32(rng(8), shape)
    x = REDUCE_INPUTS[layout](base)
    got = gpu_reduce("sum", operand(base, x), [0, 1], "f32")
    assert got.shape == ()
    _check_sum(got, x, None)


def test_sum_2d_grid():
    """More outputs than the x grid allows: workgroups spill into y (wid = x + y * nwg.x)."""
    base = _f32(rng(9), (300, 50))
    got = gpu_reduce("sum", operand(base), [1], "f32", maxx=64)
    _check_sum(got, base, 1)


@pytest.mark.parametrize("shape,dims", [((20, 300), [1]), ((20, 300), [0]), ((200, 130), [0, 1])], ids=["last", "first", "all-two-pass"])
def test_max_propagates_nan(shape, dims):
    r = rng(10)
    x = _f32(r, shape)
    x[3, 17] = np.nan
    x[11, -1] = np.nan
    got = gpu_reduce("max", operand(x), dims, "f32")
    want = np.max(x, axis=tuple(dims))  # NumPy's max propagates NaN too
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got, want)


def test_max_without_nan_all_negative():
    """The -inf identity must not leak into the result."""
    x = _f32(rng(11), (9, 700), -50.0, -1.0)
    got = gpu_reduce("max", operand(x, x.T), [0], "f32")
    np.testing.assert_array_equal(got, x.T.max(axis=0))


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_argmax_last_dim(layout):
    r = rng(12)
    base = _f32(r, (64, 1000) if layout == "contiguous" else (1000, 64))
    x = REDUCE_INPUTS[layout](base)
    # ties: the first index wins (numpy and torch agree); NaN wins over any number
    x[0, :] = 1.0
    x[1, [5, 700, 900]] = 10.0
    x[2, [600, 40]] = np.nan
    x[3, :] = -np.inf
    got = gpu_reduce("argmax", operand(base, x), [1], "i32")
    np.testing.assert_array_equal(got, np.argmax(x, axis=1).astype(np.int32))


def test_argmax_all():
    x = _f32(rng(13), (130, 210))
    got = gpu_reduce("argmax", operand(x), [0, 1], "i32")
    assert int(got) == int(np.argmax(x))


# ---------------------------------------------------------------------------------------------
# matmul.wgsl (mirrors matmul.rs)
# ---------------------------------------------------------------------------------------------


def gpu_matmul(a: Arr, b: Arr, out_dt: str = "f32") -> np.ndarray:
    nd = len(a.shape)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = list(a.shape[:-2])
    assert list(b.shape[:-2]) == batch
    nb = math.prod(batch)
    p = [m, n, k, len(batch), a.offset, a.strides[nd - 2], a.strides[nd - 1], b.offset, b.strides[nd - 2], b.strides[nd - 1], 0]
    p += batch + list(a.strides[: nd - 2]) + list(b.strides[: nd - 2])
    src = render(
        "matmul.wgsl",
        BINDINGS=bindings(3),
        T=ctype(a.dtype),
        ZERO="0.0" if a.dtype in FLOAT else "0",
        LOADA=load(a.dtype, "B2", "off"),
        LOADB=load(b.dtype, "B3", "off"),
        STORE=store(out_dt, "B1", "o", "v"),
    )
    out = np.zeros(nb * m * n, np.uint32)
    words = run(src, [out, a.words, b.words], p, (-(-n // 64), -(-m // 64), nb))[0]
    return from_words(words, out_dt).reshape(batch + [m, n])


def _check_mm(got, a, b):
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    scale = np.matmul(np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64)))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=float(scale.max()) * 1e-6 + 1e-6)


@pytest.mark.parametrize("m,k,n", [(70, 33, 45), (1, 1, 1), (64, 16, 64), (130, 20, 150), (5, 100, 3)])
def test_matmul_2d(m, k, n):
    r = rng(14)
    a, b = _f32(r, (m, k)), _f32(r, (k, n))
    _check_mm(gpu_matmul(operand(a), operand(b)), a, b)


def test_matmul_transposed_b():
    r = rng(15)
    a, bt = _f32(r, (70, 33)), _f32(r, (45, 33))
    _check_mm(gpu_matmul(operand(a), operand(bt, bt.T)), a, bt.T)


def test_matmul_transposed_a_sliced_b():
    r = rng(16)
    at, bb = _f32(r, (33, 70)), _f32(r, (40, 100))
    a, b = at.T, bb[3:36, 10:55:1]  # b at an offset with a row stride wider than its width
    _check_mm(gpu_matmul(operand(at, a), operand(bb, b)), a, b)


def test_matmul_batch():
    r = rng(17)
    a, b = _f32(r, (3, 70, 33)), _f32(r, (3, 33, 45))
    _check_mm(gpu_matmul(operand(a), operand(b)), a, b)


def test_matmul_broadcast_batch():
    """A batch of 2x3 against one B broadcast over it (batch strides 0), A's batch permuted."""
    r = rng(18)
    abase, b1 = _f32(r, (3, 2, 20, 66)), _f32(r, (66, 70))
    a = abase.transpose(1, 0, 2, 3)
    b = np.broadcast_to(b1, (2, 3, 66, 70))
    _check_mm(gpu_matmul(operand(abase, a), operand(b1, b)), a, b)


def gpu_matmul_vec4(a: Arr, b: Arr) -> np.ndarray:
    """matmul_vec4.wgsl, with the layout checks of `vec4_layout` in matmul.rs."""
    nd = len(a.shape)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = list(a.shape[:-2])
    nb = math.prod(batch)

    def axis(x: Arr, rows: int, cols: int):
        base = x.offset % 4 == 0 and all(s % 4 == 0 for s in x.strides[: nd - 2])
        rs, cs = x.strides[nd - 2], x.strides[nd - 1]
        if base and cs == 1 and cols % 4 == 0 and (rows == 1 or rs % 4 == 0):
            return "cols"
        if base and rs == 1 and rows % 4 == 0 and (cols == 1 or cs % 4 == 0):
            return "rows"
        return None

    ak, bk = axis(a, m, k), axis(b, k, n)
    assert ak and bk, "operands not aligned for the vec4 kernel"
    p = [m, n, k, len(batch), a.offset, a.strides[nd - 2], a.strides[nd - 1], b.offset, b.strides[nd - 2], b.strides[nd - 1], 0]
    p += batch + list(a.strides[: nd - 2]) + list(b.strides[: nd - 2])
    src = render("matmul_vec4.wgsl", A_ALONG_K=str(ak == "cols").lower(), B_ALONG_N=str(bk == "cols").lower())
    out = np.zeros(nb * m * n, np.uint32)
    words = run(src, [out, a.words, b.words], p, (-(-n // 64), -(-m // 64), nb))[0]
    return from_words(words, "f32").reshape(batch + [m, n])


@pytest.mark.parametrize("m,k,n", [(68, 36, 44), (4, 4, 4), (64, 16, 64), (132, 20, 152), (1, 100, 8)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_vec4(m, k, n, ta, tb):
    """Every pairing of the two load directions, over ragged tiles (sizes that are multiples
    of 4 but not of 64 or 16)."""
    r = rng(19)
    if ta and m % 4:
        pytest.skip("a transposed A needs m % 4 == 0")
    if tb and k % 4:
        pytest.skip("a transposed B needs k % 4 == 0")
    a = _f32(r, (m, k))
    b = _f32(r, (k, n))
    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    oa = operand(at, at.T) if ta else operand(a)
    ob = operand(bt, bt.T) if tb else operand(b)
    _check_mm(gpu_matmul_vec4(oa, ob), a, b)


def test_matmul_vec4_batch_and_offsets():
    """A batch with an A view at an offset of 4 elements and a broadcast B (batch stride 0)."""
    r = rng(20)
    abig = _f32(r, (3, 36, 40))
    a = abig[:, 4:36, :]  # offset 160 elements, row stride 40
    b1 = _f32(r, (40, 24))
    b = np.broadcast_to(b1, (3, 40, 24))
    _check_mm(gpu_matmul_vec4(operand(abig, a), operand(b1, b)), a, b)


# ---------------------------------------------------------------------------------------------
# index.wgsl (mirrors `launch` and `gather` in index.rs)
# ---------------------------------------------------------------------------------------------


def gpu_gather(a: Arr, dim: int, idx: Arr, out: Arr):
    """`out[c] = a[c with c[dim] = idx[c]]`; returns (out words, error flag)."""
    shape = list(idx.shape)
    n, rank = math.prod(shape), len(shape)
    assert rank <= 12
    xs = [0 if d == dim else a.strides[d] for d in range(rank)]
    p = [n, rank, 1, a.offset, out.offset] + shape + xs + list(out.strides)
    p += [idx.offset, a.shape[dim], a.strides[dim]] + list(idx.strides)
    b = bindings(3) + "@group(0) @binding(4) var<storage, read_write> FLAG: array<atomic<u32>>;\n"
    ind = (
        "    {\n        let base = 5u + 3u * R + 0u * (3u + R);\n        var ioff = pi(base + 0u);\n"
        "        for (var d = 0u; d < R; d = d + 1u) { ioff = ioff + i32(c[d]) * pi(base + 3u + d); }\n"
        f"        var v = {load(idx.dtype, 'B3', 'ioff')};\n        let size = pi(base + 1u);\n"
        "        if (v < 0) { v = v + size; }\n"
        "        if (v < 0 || v >= size) { bad = true; } else { xoff = xoff + v * pi(base + 2u); }\n    }\n"
    )
    body = f"    let v = {load(a.dtype, 'B1', 'xoff')};\n    {store(out.dtype, 'B2', 'yoff', 'v')}"
    src = render("index.wgsl", BINDINGS=b, INDICES=ind, BODY=body)
    _, ow, _, flag = run(src, [a.words, out.words, idx.words, np.zeros(1, np.uint32)], p, grid(n))
    return ow, int(flag[0])


GATHER_CASES = {
    "contiguous": ((6, 8), lambda x: x, (6, 5)),
    "transposed-src": ((8, 6), lambda x: x.T, (6, 5)),
    "3d-sliced": ((4, 9, 7), lambda x: x[:, 1:, ::2], (3, 11, 4)),
}


@pytest.mark.parametrize("case", list(GATHER_CASES))
def test_gather_dim1_int32(case):
    r = rng(19)
    base_shape, view_fn, ishape = GATHER_CASES[case]
    base = _f32(r, base_shape)
    x = view_fn(base)
    size = x.shape[1]
    # idx may be smaller than x in the other dims (torch.gather); negative values wrap
    idx = r.integers(-size, size, size=ishape, dtype=np.int32)
    xs = x[tuple(slice(0, s) if d != 1 else slice(None) for d, s in enumerate(ishape))]
    out = Out("f32", ishape)
    words, flag = gpu_gather(operand(base, x), 1, operand(idx), out.arr)
    assert flag == 0
    np.testing.assert_array_equal(out.result(words), np.take_along_axis(xs, idx % size, axis=1))


def test_gather_transposed_index():
    """The index tensor itself a transposed view."""
    r = rng(20)
    x = _f32(r, (7, 10))
    ibase = r.integers(0, 10, size=(12, 7), dtype=np.int32)
    idx = ibase.T
    out = Out("f32", idx.shape)
    words, flag = gpu_gather(operand(x), 1, operand(ibase, idx), out.arr)
    assert flag == 0
    np.testing.assert_array_equal(out.result(words), np.take_along_axis(x, idx, axis=1))


@pytest.mark.parametrize("bad", [10, -11])
def test_gather_out_of_range_sets_flag(bad):
    r = rng(21)
    x = _f32(r, (4, 10))
    idx = r.integers(0, 10, size=(4, 3), dtype=np.int32)
    idx[2, 1] = bad
    out = Out("f32", idx.shape)
    _, flag = gpu_gather(operand(x), 1, operand(idx), out.arr)
    assert flag == 1
