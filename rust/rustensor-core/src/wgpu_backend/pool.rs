//! GPU max pooling: values and indices (see `wgsl/pool.wgsl`).
use super::{bindings, gpu, grid, i32_word, render, Operand};
use crate::cpu_backend::pool::PoolGeom;
use crate::{bail, DType, Result};

const TEMPLATE: &str = include_str!("wgsl/pool.wgsl");

/// Each window's maximum of float32 `x` into `vals` and its int64 index into `out` (both contiguous).
pub fn max_pool2d(x: Operand, vals: Operand, out: Operand, g: &PoolGeom) -> Result<()> {
    let op = "max_pool2d (gpu)";
    if x.layout.strides.len() != 4 {
        bail!(Runtime, "internal: max_pool2d kernel expects a 4-d input");
    }
    let threads = g.n * g.c * g.oh * g.ow;
    if threads == 0 {
        return Ok(());
    }
    let geo = [g.n, g.c, g.h, g.w, g.oh, g.ow, g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.pad[0], g.pad[1], g.dilation[0], g.dilation[1]];
    let mut p = vec![i32_word(op, threads as isize)?];
    for v in geo {
        p.push(i32_word(op, v as isize)?);
    }
    p.push(i32_word(op, x.layout.offset as isize)?);
    for &s in &x.layout.strides {
        p.push(i32_word(op, s)?);
    }
    let g_ = gpu()?;
    let pipe = g_.pipeline("pool:max2d", || render(TEMPLATE, &[("BINDINGS", bindings(&[DType::F32, DType::I64, DType::F32], false))]))?;
    g_.dispatch(pipe, &[x.buf, out.buf, vals.buf], &p, grid(threads)?)
}
