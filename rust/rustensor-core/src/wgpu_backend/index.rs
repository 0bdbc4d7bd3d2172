//! GPU indexing: gather / scatter along a dim, and advanced-index take / put, as one kernel
//! family that maps each point of an iteration space to a position found through index tensors.
use super::{gpu, grid, i32_word, load, render, store, Operand};
use crate::layout::Layout;
use crate::{DType, Result};

const TEMPLATE: &str = include_str!("wgsl/index.wgsl");

/// One index tensor: its layout over the iteration space (stride 0 where it does not vary),
/// and the dim of X it selects along.
struct Index<'a> {
    op: Operand<'a>,
    strides: Vec<isize>,
    size: usize,
    xstride: isize,
}

enum Mode {
    Read,
    Write,
    Accumulate,
}

/// The shared launcher: `shape` is the iteration space, `xs`/`ys` the strides of X and Y over it.
///
/// `wrap` lets negative indices count from the end (advanced indexing); gather and scatter
/// refuse them, as torch does.
#[allow(clippy::too_many_arguments)]
fn launch(mode: Mode, wrap: bool, x: Operand, xs: &[isize], y: Operand, ys: &[isize], shape: &[usize], idx: &[Index]) -> Result<()> {
    let g = gpu()?;
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let name = "gpu index";
    let r = shape.len();
    if r > 12 {
        crate::bail!(Runtime, "{name}: at most 12 dims are supported on the gpu");
    }
    let mut p = vec![i32_word(name, n as isize)?, r as u32, idx.len() as u32];
    p.push(i32_word(name, x.layout.offset as isize)?);
    p.push(i32_word(name, y.layout.offset as isize)?);
    p.extend(shape.iter().map(|&s| s as u32));
    for s in xs.iter().chain(ys) {
        p.push(i32_word(name, *s)?);
    }
    for ix in idx {
        p.push(i32_word(name, ix.op.layout.offset as isize)?);
        p.push(i32_word(name, ix.size as isize)?);
        p.push(i32_word(name, ix.xstride)?);
        for &s in &ix.strides {
            p.push(i32_word(name, s)?);
        }
    }
    let nidx = idx.len();
    let atomic = matches!(mode, Mode::Accumulate);
    let dts: Vec<DType> = [x.dtype, y.dtype].into_iter().chain(idx.iter().map(|i| i.op.dtype)).collect();
    let mut b = super::bindings(&dts, atomic);
    b.push_str(&format!("@group(0) @binding({}) var<storage, read_write> FLAG: array<atomic<u32>>;\n", nidx + 3));
    let mut ind = String::new();
    for (j, ix) in idx.iter().enumerate() {
        let b = format!("B{}", j + 3);
        // int64 kernels compute on the low word; an index is in range only if the high word
        // is the low word's sign extension (2^32 + 1 must not read element 1)
        let high = if ix.op.dtype == DType::I64 {
            format!("        if (bitcast<i32>({b}[2u * u32(ioff) + 1u]) != (v >> 31u)) {{ bad = true; }}\n")
        } else {
            String::new()
        };
        let neg = if wrap { "        if (v < 0) { v = v + size; }\n" } else { "" };
        ind.push_str(&format!(
            "    {{\n        let base = 5u + 3u * R + {j}u * (3u + R);\n        var ioff = pi(base + 0u);\n        for (var d = 0u; d < R; d = d + 1u) {{ ioff = ioff + i32(c[d]) * pi(base + 3u + d); }}\n        var v = {};\n        let size = pi(base + 1u);\n{high}{neg}        if (v < 0 || v >= size) {{ bad = true; }} else {{ xoff = xoff + v * pi(base + 2u); }}\n    }}\n",
            load(ix.op.dtype, &b, "ioff")
        ));
    }
    let dt = x.dtype;
    let body = match mode {
        Mode::Read => format!("    let v = {};\n    {}", load(dt, "B1", "xoff"), store(y.dtype, "B2", "yoff", "v")),
        Mode::Write => format!("    let v = {};\n    {}", load(y.dtype, "B2", "yoff"), store(dt, "B1", "xoff", "v")),
        Mode::Accumulate => {
            let v = load(y.dtype, "B2", "yoff");
            let w = if dt == DType::I64 { "2u * u32(xoff)" } else { "u32(xoff)" };
            match dt {
                // no 16-bit atomics: swap the whole word, changing only this element's half
                DType::F16 => format!(
                    "    let v = {v};\n    let wi = u32(xoff) >> 1u;\n    let sh = (u32(xoff) & 1u) * 16u;\n    var old = atomicLoad(&B1[wi]);\n    loop {{\n        let pair = unpack2x16float(old);\n        let h = select(pair.x, pair.y, sh != 0u) + v;\n        let nw = (old & ~(0xffffu << sh)) | ((pack2x16float(vec2<f32>(h, 0.0)) & 0xffffu) << sh);\n        let r = atomicCompareExchangeWeak(&B1[wi], old, nw);\n        if (r.exchanged) {{ break; }}\n        old = r.old_value;\n    }}"
                ),
                DType::F32 | DType::F64 => format!(
                    "    let v = {v};\n    var old = atomicLoad(&B1[{w}]);\n    loop {{\n        let r = atomicCompareExchangeWeak(&B1[{w}], old, bitcast<u32>(bitcast<f32>(old) + v));\n        if (r.exchanged) {{ break; }}\n        old = r.old_value;\n    }}"
                ),
                DType::Bool => format!("    if ({v} != 0) {{ atomicOr(&B1[{w}], 1u); }}"),
                // the word must stay wrapped to the narrow width: a compare-exchange of the sum
                DType::U8 | DType::I8 | DType::I16 | DType::BF16 => format!(
                    "    let v = {v};\n    var old = atomicLoad(&B1[{w}]);\n    loop {{\n        let r = atomicCompareExchangeWeak(&B1[{w}], old, {});\n        if (r.exchanged) {{ break; }}\n        old = r.old_value;\n    }}",
                    super::word(dt, if dt == DType::BF16 { "bitcast<f32>(old) + v" } else { "bitcast<i32>(old) + v" })
                ),
                _ => format!("    atomicAdd(&B1[{w}], bitcast<u32>({v}));"),
            }
        }
    };
    let key = format!(
        "idx:{}{}:{dt:?}:{:?}:{}",
        if wrap { "w" } else { "" },
        match mode {
            Mode::Read => "r",
            Mode::Write => "w",
            Mode::Accumulate => "a",
        },
        y.dtype,
        idx.iter().map(|i| format!("{:?}", i.op.dtype)).collect::<Vec<_>>().join(",")
    );
    let pipe = g.pipeline(&key, || render(TEMPLATE, &[("BINDINGS", b), ("INDICES", ind), ("BODY", body)]))?;
    let mut bufs = vec![x.buf, y.buf];
    bufs.extend(idx.iter().map(|i| i.op.buf));
    bufs.push(&g.flag);
    g.dispatch(pipe, &bufs, &p, grid(n)?)
}

fn along(shape: &[usize], l: &Layout, dim: usize) -> Vec<isize> {
    (0..shape.len()).map(|d| if d == dim { 0 } else { l.strides[d] }).collect()
}

/// `out[c] = a[c with c[dim] = idx[c]]`; `out` is contiguous, shaped as `idx`.
pub fn gather(out: Operand, a: Operand, dim: usize, idx: Operand) -> Result<()> {
    let shape = &idx.layout.shape;
    crate::cpu_backend::index::check_along_dim("gather", &a.layout.shape, dim, shape, None)?;
    let ix = Index { op: idx, strides: idx.layout.strides.clone(), size: a.layout.shape[dim], xstride: a.layout.strides[dim] };
    launch(Mode::Read, false, a, &along(shape, a.layout, dim), out, &out.layout.strides, shape, &[ix])
}

/// `dst[c with c[dim] = idx[c]] (+)= src[c]` for every c in idx's shape.
pub fn scatter(dst: Operand, dim: usize, idx: Operand, src: Operand, accumulate: bool) -> Result<()> {
    let shape = &idx.layout.shape;
    let op = if accumulate { "scatter_add" } else { "scatter" };
    crate::cpu_backend::index::check_along_dim(op, &dst.layout.shape, dim, shape, Some(&src.layout.shape))?;
    let ix = Index { op: idx, strides: idx.layout.strides.clone(), size: dst.layout.shape[dim], xstride: dst.layout.strides[dim] };
    let mode = if accumulate { Mode::Accumulate } else { Mode::Write };
    launch(mode, false, dst, &along(shape, dst.layout, dim), src, &src.layout.strides, shape, &[ix])
}

/// The iteration space and strides of advanced indexing: [index shape..., the other dims].
fn advanced<'a>(x: Operand, dims: &[usize], ishape: &[usize], indices: &[Operand<'a>]) -> (Vec<usize>, Vec<isize>, Vec<Index<'a>>) {
    let mut shape = ishape.to_vec();
    let mut xs = vec![0isize; ishape.len()];
    for d in 0..x.layout.shape.len() {
        if !dims.contains(&d) {
            shape.push(x.layout.shape[d]);
            xs.push(x.layout.strides[d]);
        }
    }
    let rest = shape.len() - ishape.len();
    let idx = indices
        .iter()
        .zip(dims)
        .map(|(op, &d)| {
            let mut strides = op.layout.strides.clone();
            strides.extend(std::iter::repeat_n(0, rest));
            Index { op: *op, strides, size: x.layout.shape[d], xstride: x.layout.strides[d] }
        })
        .collect();
    (shape, xs, idx)
}

/// `out = a[indices]` in canonical order; each index layout is broadcast to `ishape`.
pub fn take(out: Operand, a: Operand, dims: &[usize], ishape: &[usize], indices: &[Operand]) -> Result<()> {
    let (shape, xs, idx) = advanced(a, dims, ishape, indices);
    let ys = Layout::contiguous(&shape).strides;
    launch(Mode::Read, true, a, &xs, out, &ys, &shape, &idx)
}

/// `dst[indices] (+)= values`, values broadcast to the canonical shape.
pub fn put(dst: Operand, dims: &[usize], ishape: &[usize], indices: &[Operand], values: Operand, accumulate: bool) -> Result<()> {
    let (shape, xs, idx) = advanced(dst, dims, ishape, indices);
    let mode = if accumulate { Mode::Accumulate } else { Mode::Write };
    launch(mode, true, dst, &xs, values, &values.layout.strides, &shape, &idx)
}
