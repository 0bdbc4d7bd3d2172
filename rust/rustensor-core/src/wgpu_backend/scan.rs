//! GPU cumulative sums along a dim (one thread per line).
use super::{bindings, conv, gpu, grid, i32_word, load, render, store, Operand};
use crate::{DType, Result};

const TEMPLATE: &str = include_str!("wgsl/scan.wgsl");

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
    let mut p = vec![
        i32_word(name, lines as isize)?,
        i32_word(name, len as isize)?,
        (shape.len() - 1) as u32,
        i32_word(name, a.layout.offset as isize)?,
        i32_word(name, a.layout.strides[dim])?,
        i32_word(name, out.layout.offset as isize)?,
        i32_word(name, out.layout.strides[dim])?,
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
                ("LOAD", ld),
                ("STORE", store(out.dtype, "B1", "o", &conv(cdt, out.dtype, "acc"))),
            ],
        )
    })?;
    g.dispatch(pipe, &[out.buf, a.buf], &p, grid(lines)?)
}
