//! GPU matmul: a tiled, register-blocked kernel over any strides and broadcast batches.
use super::{bindings, ctype, gpu, i32_word, load, render, store, Operand};
use crate::layout::Layout;
use crate::{bail, DType, Result};

const TEMPLATE: &str = include_str!("wgsl/matmul.wgsl");
const TEMPLATE_VEC4: &str = include_str!("wgsl/matmul_vec4.wgsl");

/// Which of a matrix operand's two dims `matmul_vec4.wgsl` may read four at a time: the
/// one with stride 1 whose length is a multiple of 4, when the offset, the other stride and
/// the batch strides are multiples of 4 too (so every vec4 starts on a 16-byte boundary).
/// `Some(true)`: along the columns; `Some(false)`: along the rows; `None`: not aligned.
fn vec4_axis(l: &Layout, rows: usize, cols: usize) -> Option<bool> {
    let nd = l.strides.len();
    let (rs, cs) = (l.strides[nd - 2], l.strides[nd - 1]);
    if !l.offset.is_multiple_of(4) || l.strides[..nd - 2].iter().any(|s| s % 4 != 0) {
        return None;
    }
    if cs == 1 && cols.is_multiple_of(4) && (rows == 1 || rs % 4 == 0) {
        Some(true)
    } else if rs == 1 && rows.is_multiple_of(4) && (cols == 1 || cs % 4 == 0) {
        Some(false)
    } else {
        None
    }
}

/// `out[..., m, n] = a[..., m, k] @ b[..., k, n]`; batch dims already broadcast to `out`'s.
pub fn matmul(out: Operand, a: Operand, b: Operand) -> Result<()> {
    let g = gpu()?;
    let nd = out.layout.shape.len();
    let (m, n) = (out.layout.shape[nd - 2], out.layout.shape[nd - 1]);
    let k = a.layout.shape[nd - 1];
    let batch = &out.layout.shape[..nd - 2];
    let nb: usize = batch.iter().product();
    if m == 0 || n == 0 || nb == 0 {
        return Ok(());
    }
    if k == 0 {
        return super::fill(out, crate::Scalar::Int(0));
    }
    let name = "matmul (gpu)";
    let (la, lb) = (a.layout, b.layout);
    let mut p = vec![
        i32_word(name, m as isize)?,
        i32_word(name, n as isize)?,
        i32_word(name, k as isize)?,
        batch.len() as u32,
        i32_word(name, la.offset as isize)?,
        i32_word(name, la.strides[nd - 2])?,
        i32_word(name, la.strides[nd - 1])?,
        i32_word(name, lb.offset as isize)?,
        i32_word(name, lb.strides[nd - 2])?,
        i32_word(name, lb.strides[nd - 1])?,
        i32_word(name, out.layout.offset as isize)?,
    ];
    p.extend(batch.iter().map(|&s| s as u32));
    for l in [la, lb] {
        for d in 0..batch.len() {
            p.push(i32_word(name, l.strides[d])?);
        }
    }
    let dt = a.dtype;
    let f32s = [out.dtype, a.dtype, b.dtype].iter().all(|&d| d == DType::F32);
    let vec4 = if f32s { vec4_axis(la, m, k).zip(vec4_axis(lb, k, n)) } else { None };
    let zero = if dt.is_float() { "0.0" } else { "0" };
    let key = match vec4 {
        Some((ak, bn)) => format!("mm4:{ak}:{bn}"),
        None => format!("mm:{dt:?}:{:?}", out.dtype),
    };
    let pipe = g.pipeline(&key, || {
        if let Some((ak, bn)) = vec4 {
            return render(TEMPLATE_VEC4, &[("A_ALONG_K", ak.to_string()), ("B_ALONG_N", bn.to_string())]);
        }
        render(
            TEMPLATE,
            &[
                ("BINDINGS", bindings(&[out.dtype, a.dtype, b.dtype], false)),
                ("T", ctype(dt).into()),
                ("ZERO", zero.into()),
                ("LOADA", load(dt, "B2", "off")),
                ("LOADB", load(b.dtype, "B3", "off")),
                ("STORE", store(out.dtype, "B1", "o", "v")),
            ],
        )
    })?;
    let maxz = g.limits.max_compute_workgroups_per_dimension as usize;
    if nb > maxz {
        bail!(Runtime, "matmul (gpu): a batch of {nb} matrices exceeds the adapter's {maxz} per launch");
    }
    g.dispatch(pipe, &[out.buf, a.buf, b.buf], &p, [n.div_ceil(64) as u32, m.div_ceil(64) as u32, nb as u32])
}
