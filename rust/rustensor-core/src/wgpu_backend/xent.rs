//! GPU cross-entropy (see `wgsl/xent.wgsl`): a workgroup per row, forward and backward.
use super::{bindings, gpu, grid, i32_word, render, Operand, XentOps};
use super::norm::WSUM;
use crate::cpu_backend::xent::XentGeom;
use crate::{bail, DType, Result};

const TEMPLATE: &str = include_str!("wgsl/xent.wgsl");

/// The forward (lse, loss) or the backward (gx) of a launch over float32 logits.
pub fn xent(a: &XentOps, g: &XentGeom, backward: bool) -> Result<()> {
    let op = "cross_entropy (gpu)";
    if g.rows == 0 || g.classes == 0 {
        return Ok(());
    }
    let ops: [Option<Operand>; 6] = if backward {
        [Some(a.x), Some(a.target), a.w, Some(a.lse), a.g, a.gx]
    } else {
        [Some(a.x), Some(a.target), a.w, Some(a.lse), a.loss, None]
    };
    let ops: Vec<Operand> = ops.iter().map(|o| o.unwrap_or(a.x)).collect();
    if a.target.dtype != DType::I64 || ops.iter().enumerate().any(|(k, o)| k != 1 && o.dtype != DType::F32) {
        bail!(Runtime, "internal: {op} expects float32 logits and an int64 target");
    }
    let ig = g.ignore_index as u64;
    let mut p = vec![
        i32_word(op, g.rows as isize)?,
        i32_word(op, g.classes as isize)?,
        ig as u32,
        (ig >> 32) as u32,
        u32::from(a.w.is_some()),
        (g.smoothing as f32).to_bits(),
    ];
    for o in &ops {
        p.push(i32_word(op, o.layout.offset as isize)?);
    }
    let (key, entry) = if backward { ("xent:bwd", "    backward(wid, lid);") } else { ("xent:fwd", "    forward(wid, lid);") };
    let gp = gpu()?;
    let dts = [DType::F32, DType::I64, DType::F32, DType::F32, DType::F32, DType::F32];
    let pipe = gp.pipeline(key, || render(TEMPLATE, &[("WSUM", WSUM.to_string()), ("BINDINGS", bindings(&dts, false)), ("ENTRY", entry.to_string())]))?;
    let bufs: Vec<_> = ops.iter().map(|o| o.buf).collect();
    gp.dispatch(pipe, &bufs, &p, grid(g.rows * 256)?)
}
