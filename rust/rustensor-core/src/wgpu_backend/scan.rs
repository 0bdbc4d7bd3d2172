//! GPU scans along a dim (cumsum, cumprod, logcumsumexp, cummax/cummin): one template,
//! `wgsl/scan.wgsl`, filled with each op's identity and combine; one thread per block of a line.
use super::{bindings, conv, gpu, grid, i32_word, load, render, store, Operand};
use crate::op::ScanOp;
use crate::{DType, Result};

const TEMPLATE: &str = include_str!("wgsl/scan.wgsl");

/// Elements one thread folds in a row: far below the 65,535 loop iterations some drivers allow.
const BLOCK: usize = 4096;

/// The op's identity and its associative combine of two `Acc`s (`a` before `b`), in WGSL.
fn combine(op: ScanOp, float: bool) -> (&'static str, &'static str) {
    match (op, float) {
        (ScanOp::Sum, true) => ("0.0", "return Acc(a.v + b.v, b.i);"),
        (ScanOp::Sum, false) => ("0", "return Acc(a.v + b.v, b.i);"),
        (ScanOp::Prod, true) => ("1.0", "return Acc(a.v * b.v, b.i);"),
        (ScanOp::Prod, false) => ("1", "return Acc(a.v * b.v, b.i);"),
        (ScanOp::LogSumExp, _) => ("bitcast<f32>(0xff800000u)", "return Acc(lae(a.v, b.v), b.i);"),
        // NaN beats every number and a later NaN takes over; ties go to the later index
        (ScanOp::Max, true) => ("bitcast<f32>(0xff800000u)", "if (isnan_f(b.v) || (!isnan_f(a.v) && b.v >= a.v)) { return b; } return a;"),
        (ScanOp::Max, false) => ("bitcast<i32>(0x80000000u)", "if (b.v >= a.v) { return b; } return a;"),
        (ScanOp::Min, true) => ("bitcast<f32>(0x7f800000u)", "if (isnan_f(b.v) || (!isnan_f(a.v) && b.v <= a.v)) { return b; } return a;"),
        (ScanOp::Min, false) => ("2147483647", "if (b.v <= a.v) { return b; } return a;"),
    }
}

/// `out = op(a, dim)`; `out` (and `indices`, for cummax/cummin) have `a`'s shape, any strides.
/// Ints compute on their low 32 bits, as every integer GPU kernel here does.
pub fn scan(op: ScanOp, out: Operand, indices: Option<Operand>, a: Operand, dim: usize) -> Result<()> {
    let g = gpu()?;
    let shape = &a.layout.shape;
    let len = shape[dim];
    let lines: usize = shape.iter().enumerate().filter(|&(d, _)| d != dim).map(|(_, &s)| s).product();
    if lines == 0 || len == 0 {
        return Ok(());
    }
    let name = "scan (gpu)";
    let nb = len.div_ceil(BLOCK);
    let mut p = vec![
        i32_word(name, lines as isize)?,
        i32_word(name, len as isize)?,
        (shape.len() - 1) as u32,
        i32_word(name, a.layout.offset as isize)?,
        i32_word(name, a.layout.strides[dim])?,
        i32_word(name, out.layout.offset as isize)?,
        i32_word(name, out.layout.strides[dim])?,
        0,
        i32_word(name, nb as isize)?,
        BLOCK as u32,
    ];
    let kept = |v: &[isize]| -> Vec<isize> { v.iter().enumerate().filter(|&(d, _)| d != dim).map(|(_, &s)| s).collect() };
    for (d, &s) in shape.iter().enumerate() {
        if d != dim {
            p.push(s as u32);
        }
    }
    for s in kept(&a.layout.strides).into_iter().chain(kept(&out.layout.strides)) {
        p.push(i32_word(name, s)?);
    }
    let float = a.dtype.is_float();
    let cdt = if float { DType::F32 } else { DType::I32 };
    let (init, comb) = combine(op, float);
    let key = format!("scan:{op:?}:{:?}:{:?}", a.dtype, out.dtype);
    let pipe = g.pipeline(&key, || {
        render(
            TEMPLATE,
            &[
                ("BINDINGS", bindings(&[out.dtype, a.dtype], false)),
                (
                    "INDEX_BINDING",
                    if indices.is_some() { "@group(0) @binding(4) var<storage, read_write> IX: array<u32>;".into() } else { String::new() },
                ),
                ("CT", super::ctype(cdt).into()),
                ("INIT", init.into()),
                ("COMBINE", comb.into()),
                ("FROM_WORD", format!("bitcast<{}>", super::ctype(cdt))),
                ("LOAD", conv(a.dtype, cdt, &load(a.dtype, "B2", "off"))),
                ("STORE", store(out.dtype, "B1", "o", &conv(cdt, out.dtype, "v"))),
                ("STORE_INDEX", if indices.is_some() { store(DType::I64, "IX", "o", "acc.i") } else { String::new() }),
            ],
        )
    })?;
    let blocks = lines.checked_mul(nb).filter(|&n| i32::try_from(n).is_ok());
    let Some(blocks) = blocks else {
        crate::bail!(Runtime, "{name}: {lines} lines of {len} elements exceed the gpu kernels' 2^31 blocks");
    };
    // one block per line: a single pass; the scratch binding is a stand-in
    let scratch = if nb == 1 { None } else { Some(g.alloc(blocks as u64 * 8)?) };
    let s = scratch.as_ref().unwrap_or(out.buf);
    let mut bufs = vec![out.buf, a.buf, s];
    if let Some(ix) = &indices {
        bufs.push(ix.buf);
    }
    if nb == 1 {
        return g.dispatch(pipe, &bufs, &p, grid(lines)?);
    }
    for (phase, threads) in [(1u32, blocks), (2, lines), (0, blocks)] {
        p[7] = phase;
        g.dispatch(pipe.clone(), &bufs, &p, grid(threads)?)?;
    }
    Ok(())
}
