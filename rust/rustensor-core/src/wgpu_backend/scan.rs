//! GPU cumulative sums along a dim: one thread per block of a line (see `wgsl/scan.wgsl`).
use super::{bindings, conv, gpu, grid, i32_word, load, render, store, Operand};
use crate::{DType, Result};

const TEMPLATE: &str = include_str!("wgsl/scan.wgsl");

/// Elements one thread sums in a row: far below the 65,535 loop iterations some drivers allow.
const BLOCK: usize = 4096;

/// `out = cumsum(a, dim)`; `out` has `a`'s shape (any strides), int inputs sum into int64.
pub fn cumsum(out: Operand, a: Operand, dim: usize) -> Result<()> {
    let g = gpu()?;
    let shape = &a.layout.shape;
    let len = shape[dim];
    let lines: usize = shape.iter().enumerate().filter(|&(d, _)| d != dim).map(|(_, &s)| s).product();
    if lines == 0 || len == 0 {
        return Ok(());
    }
    let name = "cumsum (gpu)";
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
    let cdt = if a.dtype.is_float() { a.dtype } else { DType::I32 };
    let ld = conv(if a.dtype.is_float() { a.dtype } else { DType::I32 }, cdt, &load(a.dtype, "B2", "off"));
    let key = format!("scan:{:?}:{:?}", a.dtype, out.dtype);
    let pipe = g.pipeline(&key, || {
        render(
            TEMPLATE,
            &[
                ("BINDINGS", bindings(&[out.dtype, a.dtype], false)),
                ("ZERO", if cdt.is_float() { "0.0".into() } else { "0".into() }),
                ("FROM_WORD", if cdt.is_float() { "bitcast<f32>".into() } else { "bitcast<i32>".into() }),
                ("LOAD", ld),
                ("STORE", store(out.dtype, "B1", "o", &conv(cdt, out.dtype, "acc"))),
            ],
        )
    })?;
    if nb == 1 {
        // one block per line: a single pass; the scratch binding is a stand-in
        return g.dispatch(pipe, &[out.buf, a.buf, out.buf], &p, grid(lines)?);
    }
    let blocks = lines.checked_mul(nb).filter(|&n| i32::try_from(n).is_ok());
    let Some(blocks) = blocks else {
        crate::bail!(Runtime, "{name}: {lines} lines of {len} elements exceed the gpu kernels' 2^31 blocks");
    };
    let scratch = g.alloc(blocks as u64 * 4)?;
    for (phase, threads) in [(1u32, blocks), (2, lines), (0, blocks)] {
        p[7] = phase;
        g.dispatch(pipe.clone(), &[out.buf, a.buf, &scratch], &p, grid(threads)?)?;
    }
    Ok(())
}
