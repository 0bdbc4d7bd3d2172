//! Scans along one dim: cumsum, cumprod, logcumsumexp, and cummax/cummin with their indices.
//!
//! Each line along the dim is folded left to right and every partial result written, so a
//! scan is a fold that stores as it goes; the output is fresh and contiguous.
use super::elementwise::Strided;
use super::strided::offsets;
use crate::op::ScanOp;
use crate::storage::CpuStorage;
use crate::{bf16, f16, DType, Element, Result};

/// The lines of `a` along `dim`: input and output base offsets, length and steps.
struct Lines {
    len: usize,
    st: isize,
    ost: isize,
    ins: Vec<isize>,
    outs: Vec<isize>,
}

fn lines(a: &Strided, dim: usize) -> Lines {
    let l = a.layout;
    let mut oshape = l.shape.clone();
    oshape.remove(dim);
    let mut istr = l.strides.clone();
    istr.remove(dim);
    let ocontig = crate::layout::contiguous_strides(&l.shape);
    let mut ostr = ocontig.clone();
    ostr.remove(dim);
    Lines { len: l.shape[dim], st: l.strides[dim], ost: ocontig[dim], ins: offsets(&oshape, &istr), outs: offsets(&oshape, &ostr) }
}

/// Writes `fin(acc)` after folding each element into `acc` with `step`.
fn fold<T: Element, A: Copy, O: Element>(a: Strided, dim: usize, out: &CpuStorage, init: A, step: impl Fn(A, T) -> A, fin: impl Fn(A) -> O) {
    let ls = lines(&a, dim);
    let base = (a.ptr as *const T).wrapping_add(a.layout.offset);
    let po = out.as_ptr() as *mut O;
    for (oi, oo) in ls.ins.iter().zip(&ls.outs) {
        let mut acc = init;
        for i in 0..ls.len as isize {
            // SAFETY: input offsets come from the validated layout, output offsets from the
            // contiguous shape of `out`, which holds numel elements of O.
            unsafe {
                acc = step(acc, *base.offset(oi + i * ls.st));
                *po.offset(oo + i * ls.ost) = fin(acc);
            }
        }
    }
}

/// cummax (`MAX`) or cummin: torch's rule, the latest index wins a tie and NaN beats every
/// number (each later NaN takes over the index).
#[allow(clippy::eq_op)]
fn extreme<T: Element, const MAX: bool>(a: Strided, dim: usize, out: &CpuStorage, idx: &CpuStorage) {
    let ls = lines(&a, dim);
    let base = (a.ptr as *const T).wrapping_add(a.layout.offset);
    let (po, pi) = (out.as_ptr() as *mut T, idx.as_ptr() as *mut i64);
    for (oi, oo) in ls.ins.iter().zip(&ls.outs) {
        let (mut best, mut at) = (T::default(), 0i64);
        for i in 0..ls.len as isize {
            // SAFETY: as in `fold`; `idx` has `out`'s shape.
            unsafe {
                let x = *base.offset(oi + i * ls.st);
                let wins = i == 0 || x != x || (best == best && if MAX { x >= best } else { x <= best });
                if wins {
                    best = x;
                    at = i as i64;
                }
                *po.offset(oo + i * ls.ost) = best;
                *pi.offset(oo + i * ls.ost) = at;
            }
        }
    }
}

/// log(exp(a) + exp(b)) without overflow; -inf is the identity.
pub fn logaddexp(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    if a == b {
        // also inf + inf, where a - b would be NaN
        return a + std::f64::consts::LN_2;
    }
    m + (-(a - b).abs()).exp().ln_1p()
}

/// `op` along `dim` of `a` (dtype `dt`): the values (dtype `op.out_dtype(dt)`) and, for
/// cummax/cummin, the int64 indices. The op layer has rejected dtypes the op lacks.
pub fn scan(op: ScanOp, dt: DType, a: Strided, dim: usize) -> Result<(CpuStorage, Option<CpuStorage>)> {
    let n = a.layout.numel();
    let out = CpuStorage::zeros(n, op.out_dtype(dt))?;
    let idx = if op.has_indices() { Some(CpuStorage::zeros(n, DType::I64)?) } else { None };
    if n == 0 {
        return Ok((out, idx));
    }
    macro_rules! float {
        // float16 accumulates in float32, as torch does
        ($init:expr, $step:expr) => {
            match dt {
                DType::F16 => fold::<f16, f32, f16>(a, dim, &out, $init as f32, |c, x| $step(c, x.to_f64() as f32), |c| f16::from_f32(c)),
                DType::BF16 => fold::<bf16, f32, bf16>(a, dim, &out, $init as f32, |c, x| $step(c, x.to_f64() as f32), |c| bf16::from_f32(c)),
                DType::F32 => fold::<f32, f32, f32>(a, dim, &out, $init as f32, $step, |c| c),
                DType::F64 => fold::<f64, f64, f64>(a, dim, &out, $init, $step, |c| c),
                DType::Bool | DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => {
                    crate::bail!(Runtime, "internal error: float scan on {} (please report)", dt.name())
                }
            }
        };
    }
    macro_rules! int {
        ($init:expr, $step:expr) => {
            crate::with_dtype!(dt, T, fold::<T, i64, i64>(a, dim, &out, $init, |c, x: T| $step(c, x.to_i64()), |c| c))
        };
    }
    match op {
        ScanOp::Sum if dt.is_float() => float!(0.0, |c, x| c + x),
        ScanOp::Sum => int!(0, i64::wrapping_add),
        ScanOp::Prod if dt.is_float() => float!(1.0, |c, x| c * x),
        ScanOp::Prod => int!(1, i64::wrapping_mul),
        ScanOp::LogSumExp => match dt {
            DType::F16 => fold::<f16, f64, f16>(a, dim, &out, f64::NEG_INFINITY, |c, x| logaddexp(c, x.to_f64()), f16::from_f64),
            DType::BF16 => fold::<bf16, f64, bf16>(a, dim, &out, f64::NEG_INFINITY, |c, x| logaddexp(c, x.to_f64()), bf16::from_f64),
            DType::F32 => fold::<f32, f64, f32>(a, dim, &out, f64::NEG_INFINITY, |c, x| logaddexp(c, x as f64), |c| c as f32),
            DType::F64 => fold::<f64, f64, f64>(a, dim, &out, f64::NEG_INFINITY, logaddexp, |c| c),
            // the op layer rejects logcumsumexp on integers and bool before dispatch
            DType::Bool | DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => {
                crate::bail!(Runtime, "internal error: logcumsumexp on {} (please report)", dt.name())
            }
        },
        ScanOp::Max | ScanOp::Min => {
            let Some(ix) = &idx else { crate::bail!(Runtime, "internal error: scan without its index buffer") };
            if op == ScanOp::Max {
                crate::with_dtype!(dt, T, extreme::<T, true>(a, dim, &out, ix))
            } else {
                crate::with_dtype!(dt, T, extreme::<T, false>(a, dim, &out, ix))
            }
        }
    }
    Ok((out, idx))
}
