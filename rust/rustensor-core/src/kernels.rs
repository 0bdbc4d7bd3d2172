//! Kernel entry points for the ops: each builds the launch for the [`crate::backend`] seam
//! and runs it behind a panic guard.
//!
//! Ops call these with `Strided` operands; a GPU tensor's `Strided` carries its buffer, and
//! `same_device` has already checked that all operands live on one device.
use crate::backend::{backend_of, Desc, Kernel};
use crate::cpu_backend::Strided;
use crate::cpu_backend::conv as kc;
use crate::op::{BinaryOp, ReduceOp, ScanOp, TernaryOp, UnaryOp};
use crate::storage::StorageData;
use crate::{bail, DType, Result, Scalar};

/// Runs a kernel, turning a panic (a bug: kernels validate nothing a user controls) into
/// a `RuntimeError` naming the kernel, so no panic crosses into Python.
pub(crate) fn guarded<R>(name: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => bail!(Runtime, "internal error in the {name} kernel (please report): {}", panic_message(p.as_ref())),
    }
}

/// The text a panic was raised with (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn ew(kernel: Kernel, compute: DType, out: Strided, out_dtype: DType, ins: &[(Strided, DType)]) -> Result<()> {
    backend_of(&out).elementwise(&Desc { kernel, compute, out, out_dtype, ins })
}

pub fn binary(op: BinaryOp, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("binary", || ew(Kernel::Binary(op), dt, out, op.out_dtype(dt), &[(a, dt), (b, dt)]))
}

pub fn unary(op: UnaryOp, dt: DType, out: Strided, a: Strided) -> Result<()> {
    guarded("unary", || ew(Kernel::Unary(op), dt, out, op.out_dtype(dt), &[(a, dt)]))
}

pub fn cast(out: Strided, dst: DType, a: Strided, src: DType) -> Result<()> {
    guarded("cast", || ew(Kernel::Cast, dst, out, dst, &[(a, src)]))
}

pub fn fill(out: Strided, dt: DType, v: Scalar) -> Result<()> {
    guarded("fill", || ew(Kernel::Fill(v), dt, out, dt, &[]))
}

/// `out = c ? a : b`; `c` is bool, the rest of dtype `dt`.
pub fn where_(dt: DType, out: Strided, c: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("where_", || ew(Kernel::Where, dt, out, dt, &[(c, DType::Bool), (a, dt), (b, dt)]))
}

/// `out = op(a, b, c; v)`, every operand of dtype `dt`.
#[allow(clippy::too_many_arguments)]
pub fn ternary(op: TernaryOp, dt: DType, v: f64, out: Strided, a: Strided, b: Strided, c: Strided) -> Result<()> {
    guarded("ternary", || ew(Kernel::Ternary(op, v), dt, out, dt, &[(a, dt), (b, dt), (c, dt)]))
}

/// Reduces over the flagged dims into fresh contiguous storage of dtype `odt`.
pub fn reduce(op: ReduceOp, dt: DType, a: Strided, mask: &[bool]) -> Result<StorageData> {
    guarded("reduce", || backend_of(&a).reduce(op, dt, a, mask))
}

pub fn matmul(dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("matmul", || backend_of(&out).matmul(dt, out, a, b))
}

/// `out = a.gather(dim, idx)` into fresh storage shaped as `idx`.
pub fn gather(dt: DType, a: Strided, dim: usize, idx: Strided, idt: DType) -> Result<StorageData> {
    guarded("gather", || backend_of(&a).gather(dt, a, dim, idx, idt))
}

pub fn scatter(dt: DType, dst: Strided, dim: usize, idx: Strided, idt: DType, src: Strided, acc: bool) -> Result<()> {
    guarded("scatter", || backend_of(&dst).scatter(dt, dst, dim, idx, idt, src, acc))
}

pub fn any_zero(a: Strided, dt: DType) -> Result<bool> {
    guarded("any_zero", || backend_of(&a).any_vs_zero(a, dt, BinaryOp::Eq))
}

pub fn any_negative(a: Strided, dt: DType) -> Result<bool> {
    guarded("any_negative", || backend_of(&a).any_vs_zero(a, dt, BinaryOp::Lt))
}

/// Advanced-index take `a[indices]` in canonical order (indices broadcast to `ishape`).
pub fn take(dt: DType, a: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)]) -> Result<StorageData> {
    guarded("index", || backend_of(&a).take(dt, a, dims, ishape, indices))
}

/// Advanced-index put: `dst[indices] (+)= values` (values broadcast to the canonical shape).
pub fn put(dt: DType, dst: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)], values: Strided, acc: bool) -> Result<()> {
    guarded("index_put_", || backend_of(&dst).put(dt, dst, dims, ishape, indices, values, acc))
}

/// `op` along `dim` (`a` in `dt`): values of dtype `op.out_dtype(dt)`, indices for cummax/cummin.
pub fn scan(op: ScanOp, dt: DType, a: Strided, dim: usize) -> Result<(StorageData, Option<StorageData>)> {
    guarded(op.name(), || backend_of(&a).scan(op, dt, a, dim))
}

/// Coordinates of the nonzero elements: (count, int64 storage of count * ndim).
pub fn nonzero(dt: DType, a: Strided) -> Result<(usize, StorageData)> {
    guarded("nonzero", || backend_of(&a).nonzero(dt, a))
}

/// One fused Adam/AdamW step over all parameters, on their device.
pub fn fused_adam(op: &str, dt: DType, ts: &[crate::backend::StepOperands], steps: &[f64], c: &crate::ops::optim::AdamConfig) -> Result<()> {
    match ts.first() {
        None => Ok(()),
        Some(t) => guarded(op, || backend_of(&t.p).fused_adam(dt, ts, steps, c)),
    }
}

/// One fused SGD step over all parameters, on their device.
pub fn fused_sgd(op: &str, dt: DType, ts: &[crate::backend::StepOperands], first: &[bool], c: &crate::ops::optim::SgdConfig) -> Result<()> {
    match ts.first() {
        None => Ok(()),
        Some(t) => guarded(op, || backend_of(&t.p).fused_sgd(dt, ts, first, c)),
    }
}

/// The max-pool window maxima and their flat input indices, on the input's device.
pub fn max_pool2d(dt: DType, x: Strided, g: &crate::cpu_backend::pool::PoolGeom) -> Result<(StorageData, StorageData)> {
    guarded("max_pool2d", || backend_of(&x).max_pool2d(dt, x, g))
}

/// One fused recurrent-cell pass (`cpu_backend/rnn.rs`) on the operands' device.
pub fn rnn_cell(dt: DType, kind: crate::cpu_backend::rnn::CellKind, ins: &[Strided], outs: &[Strided], rows: usize, h: usize) -> Result<()> {
    guarded("rnn_cell", || backend_of(&outs[0]).rnn_cell(dt, kind, ins, outs, rows, h))
}

/// A fused cross-entropy pass (`cpu_backend/xent.rs`) on the operands' device.
pub fn xent(dt: DType, a: &crate::backend::XentOperands, g: &crate::cpu_backend::xent::XentGeom, backward: bool) -> Result<()> {
    let be = backend_of(&a.x);
    guarded("cross_entropy", || be.xent(dt, a, g, backward))
}

/// A fused normalisation pass (`cpu_backend/norm.rs`) on the operands' device.
pub fn norm(dt: DType, a: &crate::backend::NormOperands, g: &crate::cpu_backend::norm::NormGeom, backward: bool) -> Result<()> {
    let be = backend_of(&a.x);
    if backward {
        guarded("norm_backward", || be.norm_backward(dt, a, g))
    } else {
        guarded("norm", || be.norm_forward(dt, a, g))
    }
}

/// `out = conv2d(x, w) (+ bias)` on the operands' device.
pub fn conv2d(dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d", || backend_of(&out).conv2d(dt, x, w, bias, out, g))
}

pub fn conv2d_grad_input(dt: DType, w: Strided, gout: Strided, gx: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_input", || backend_of(&gx).conv2d_grad_input(dt, w, gout, gx, g))
}

pub fn conv2d_grad_weight(dt: DType, x: Strided, gout: Strided, gw: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_weight", || backend_of(&gw).conv2d_grad_weight(dt, x, gout, gw, g))
}

pub fn conv2d_grad_bias(dt: DType, gout: Strided, gb: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_bias", || backend_of(&gb).conv2d_grad_bias(dt, gout, gb, g))
}
