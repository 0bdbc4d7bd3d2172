//! GPU reductions over any set of dims: workgroup tree reductions, two passes when few
//! outputs each reduce many elements (a full `sum()` would otherwise run on one workgroup).
use super::{bindings, conv, ctype, gpu, i32_word, load, render, store, Buffer, Operand};
use crate::layout::Layout;
use crate::op::ReduceOp;
use crate::{bail, DType, Result};
use std::sync::Arc;

const TEMPLATE: &str = include_str!("wgsl/reduce.wgsl");
const CHUNK: usize = 4096;

fn identity(op: ReduceOp, dt: DType) -> &'static str {
    use ReduceOp::*;
    let f = dt.is_float() && !matches!(op, Any | All);
    match op {
        Sum | Any if f => "0.0",
        Sum | Any => "0",
        Prod | All if f => "1.0",
        Prod | All => "1",
        Max | ArgMax if f => "-inf_f()",
        Max | ArgMax => "i32(-2147483647 - 1)",
        Min | ArgMin if f => "inf_f()",
        Min | ArgMin => "2147483647",
    }
}

fn merge(op: ReduceOp, dt: DType) -> String {
    use ReduceOp::*;
    let f = dt.is_float();
    let pick = |cmp: &str| {
        if f {
            format!(
                "    let take = (isnan_f(bv) && !isnan_f(av)) || (!isnan_f(av) && bv {cmp} av) || ((bv == av || (isnan_f(av) && isnan_f(bv))) && bi < ai);\n    if (take) {{ return b; }}\n    return a;"
            )
        } else {
            format!("    if (bv {cmp} av || (bv == av && bi < ai)) {{ return b; }}\n    return a;")
        }
    };
    match op {
        Sum => "    return Pair(av + bv, 0);".into(),
        Prod => "    return Pair(av * bv, 0);".into(),
        Max if f => "    return Pair(fmax_nan(av, bv), 0);".into(),
        Min if f => "    return Pair(fmin_nan(av, bv), 0);".into(),
        Max => "    return Pair(max(av, bv), 0);".into(),
        Min => "    return Pair(min(av, bv), 0);".into(),
        Any => "    return Pair(i32(av != 0 || bv != 0), 0);".into(),
        All => "    return Pair(i32(av != 0 && bv != 0), 0);".into(),
        ArgMax => pick(">"),
        ArgMin => pick("<"),
    }
}

/// One pass: `M * C` outputs written contiguously into `out`.
#[allow(clippy::too_many_arguments)]
fn pass(
    op: ReduceOp,
    a: Operand,
    kept: (&[usize], &[isize]),
    red: (&[usize], &[isize]),
    chunks: usize,
    out: &Arc<Buffer>,
    odt: DType,
) -> Result<()> {
    let g = gpu()?;
    let m: usize = kept.0.iter().product();
    let r: usize = red.0.iter().product();
    let chunk = r.div_ceil(chunks).max(1);
    let name = "gpu reduce";
    let mut p = vec![
        i32_word(name, m as isize)?,
        i32_word(name, r as isize)?,
        chunks as u32,
        chunk as u32,
        kept.0.len() as u32,
        red.0.len() as u32,
        i32_word(name, a.layout.offset as isize)?,
    ];
    p.extend(kept.0.iter().map(|&s| s as u32));
    for &s in kept.1 {
        p.push(i32_word(name, s)?);
    }
    p.extend(red.0.iter().map(|&s| s as u32));
    for &s in red.1 {
        p.push(i32_word(name, s)?);
    }
    let logical = matches!(op, ReduceOp::Any | ReduceOp::All);
    let cdt = if logical { DType::I32 } else { a.dtype };
    let ld = load(a.dtype, "B2", "off");
    let ld = if logical { conv(a.dtype, DType::Bool, &ld) } else { ld };
    let st = if matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) {
        store(odt, "B1", "o", "idx")
    } else {
        store(odt, "B1", "o", &conv(cdt, odt, "v"))
    };
    let key = format!("red:{op:?}:{:?}:{odt:?}", a.dtype);
    let pipe = g.pipeline(&key, || {
        render(
            TEMPLATE,
            &[
                ("BINDINGS", bindings(&[odt, a.dtype], false)),
                ("T", ctype(cdt).into()),
                ("MERGE", merge(op, cdt)),
                ("IDENTITY", identity(op, cdt).into()),
                ("LOAD", ld),
                ("STORE", format!("        {st}")),
            ],
        )
    })?;
    let groups = m * chunks;
    let maxx = g.limits.max_compute_workgroups_per_dimension as usize;
    let (gx, gy) = if groups <= maxx { (groups, 1) } else { (maxx, groups.div_ceil(maxx)) };
    if gy > maxx {
        bail!(Runtime, "gpu reduce: {groups} outputs exceed the largest launch this adapter allows");
    }
    g.dispatch(pipe, &[out, a.buf], &p, [gx as u32, gy as u32, 1])
}

/// Reduces `a` over the dims flagged in `mask`; returns a contiguous buffer shaped as the
/// kept dims, of dtype `odt`.
pub fn reduce(op: ReduceOp, a: Operand, mask: &[bool], odt: DType) -> Result<Arc<Buffer>> {
    let g = gpu()?;
    let (ks, kst, rs, rst) = a.layout.split_dims(mask);
    let m: usize = ks.iter().product();
    let r: usize = rs.iter().product();
    let out = g.alloc((m.max(1) * super::elem_bytes(odt)?) as u64)?;
    if m == 0 {
        return Ok(out);
    }
    let arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
    let chunks = if !arg && m < 256 && r >= 4 * CHUNK { r.div_ceil(CHUNK).min(1024) } else { 1 };
    if chunks == 1 {
        pass(op, a, (&ks, &kst), (&rs, &rst), 1, &out, odt)?;
        return Ok(out);
    }
    // pass 1 leaves (m, chunks) partials in the output dtype (float32 for float16, whose
    // partial sums would lose digits); pass 2 reduces them with the same op
    let pdt = if matches!(odt, DType::F16 | DType::BF16) { DType::F32 } else { odt };
    let part = g.alloc((m * chunks * super::elem_bytes(pdt)?) as u64)?;
    pass(op, a, (&ks, &kst), (&rs, &rst), chunks, &part, pdt)?;
    let pl = Layout::contiguous(&[m, chunks]);
    let p = Operand { buf: &part, layout: &pl, dtype: pdt };
    pass(op, p, (&[m], &[chunks as isize]), (&[chunks], &[1]), 1, &out, odt)?;
    Ok(out)
}
