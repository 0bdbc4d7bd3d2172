//! GPU layer/RMS/group/batch normalisation (see `wgsl/norm.wgsl`): a workgroup per row for the
//! forward and the input gradient, a workgroup per weight for the weight and bias gradients.
use super::{bindings, gpu, grid, i32_word, render, NormOps, Operand};
use crate::cpu_backend::norm::NormGeom;
use crate::{bail, DType, Result};

/// The workgroup sums shared with the other row kernels.
pub(super) const WSUM: &str = include_str!("wgsl/wsum.wgsl");
const TEMPLATE: &str = include_str!("wgsl/norm.wgsl");

/// One pass over the operands `ops` (six bindings, absent ones standing in as `x`).
fn pass(key: &str, entry: &str, ops: [Option<Operand>; 6], x: Operand, g: &NormGeom, flags: u32, threads: usize) -> Result<()> {
    let op = "norm (gpu)";
    let ops: Vec<Operand> = ops.iter().map(|o| o.unwrap_or(x)).collect();
    if ops.iter().any(|o| o.dtype != DType::F32) {
        bail!(Runtime, "internal: {op} expects float32 operands");
    }
    let mut p = vec![
        i32_word(op, g.rows as isize)?,
        i32_word(op, g.n as isize)?,
        i32_word(op, g.groups as isize)?,
        i32_word(op, g.inner.max(1) as isize)?,
        flags | (u32::from(g.fixed) << 3),
        (g.eps as f32).to_bits(),
        i32_word(op, g.row_stride as isize)?,
        i32_word(op, g.seg.max(1) as isize)?,
        i32_word(op, g.seg_stride as isize)?,
    ];
    for o in &ops {
        p.push(i32_word(op, o.layout.offset as isize)?);
    }
    let gp = gpu()?;
    let pipe = gp.pipeline(key, || render(TEMPLATE, &[("WSUM", WSUM.to_string()), ("BINDINGS", bindings(&[DType::F32; 6], false)), ("ENTRY", entry.to_string())]))?;
    let bufs: Vec<_> = ops.iter().map(|o| o.buf).collect();
    gp.dispatch(pipe, &bufs, &p, grid(threads)?)
}

/// The forward (`backward == false`: y, mean, rstd) or the backward (gx when asked, dw and db
/// when asked) of a normalisation launch over float32 operands.
pub fn norm(a: &NormOps, g: &NormGeom, backward: bool) -> Result<()> {
    if g.rows * g.n == 0 {
        return Ok(());
    }
    let rms = u32::from(g.rms);
    let row_entry = |f: &str| format!("    if (wid >= P[0]) {{ return; }}\n    {f}(wid, lid);");
    if !backward {
        let flags = rms | (u32::from(a.w.is_some()) << 1) | (u32::from(a.b.is_some()) << 2);
        let Some(y) = a.out else { bail!(Runtime, "internal: norm forward without an output") };
        return pass("norm:fwd", &row_entry("forward"), [Some(a.x), a.w, a.b, Some(y), Some(a.mean), Some(a.rstd)], a.x, g, flags, g.rows * 256);
    }
    let Some(gy) = a.gy else { bail!(Runtime, "internal: norm backward without a gradient") };
    if let Some(gx) = a.out {
        let flags = rms | (u32::from(a.w.is_some()) << 1);
        pass("norm:bwd", &row_entry("backward"), [Some(a.x), a.w, Some(gy), Some(a.mean), Some(a.rstd), Some(gx)], a.x, g, flags, g.rows * 256)?;
    }
    if a.dw.is_some() || a.db.is_some() {
        let flags = rms | (u32::from(a.dw.is_some()) << 1) | (u32::from(a.db.is_some()) << 2);
        let entry = "    if (wid >= P[2] * (P[1] / P[3])) { return; }\n    weight_grads(wid, lid);";
        pass("norm:wgrad", entry, [Some(a.x), Some(gy), Some(a.mean), Some(a.rstd), a.dw, a.db], a.x, g, flags, g.weight_len() * 256)?;
    }
    Ok(())
}
