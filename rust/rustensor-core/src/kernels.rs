//! Device dispatch: each kernel entry sends its operands to the CPU or the GPU backend.
//!
//! Ops call these with `Strided` operands; a GPU tensor's `Strided` carries its buffer, and
//! `same_device` has already checked that all operands live on one device.
use crate::cpu_backend::{conv as kc, elementwise as ew, index as ki, matmul as km, reduce as kr, Strided};
use crate::op::{BinaryOp, ReduceOp, UnaryOp};
use crate::storage::StorageData;
use crate::wgpu_backend::{self as gk, GpuStorage, Operand};
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

fn gop<'a>(s: &Strided<'a>, dtype: DType) -> Result<Operand<'a>> {
    match s.gpu {
        Some(buf) => Ok(Operand { buf, layout: s.layout, dtype }),
        None => bail!(Runtime, "internal: a CPU operand reached a GPU kernel"),
    }
}

pub fn binary(op: BinaryOp, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("binary", || {
        if out.gpu.is_none() {
            return ew::binary(op, dt, out, a, b);
        }
        gk::binary(op, dt, gop(&out, op.out_dtype(dt))?, gop(&a, dt)?, gop(&b, dt)?)
    })
}

pub fn unary(op: UnaryOp, dt: DType, out: Strided, a: Strided) -> Result<()> {
    guarded("unary", || {
        if out.gpu.is_none() {
            return ew::unary(op, dt, out, a);
        }
        gk::unary(op, dt, gop(&out, op.out_dtype(dt))?, gop(&a, dt)?)
    })
}

pub fn cast(out: Strided, dst: DType, a: Strided, src: DType) -> Result<()> {
    guarded("cast", || {
        if out.gpu.is_none() {
            ew::cast(out, dst, a, src);
            return Ok(());
        }
        gk::cast(gop(&out, dst)?, gop(&a, src)?)
    })
}

pub fn fill(out: Strided, dt: DType, v: Scalar) -> Result<()> {
    guarded("fill", || {
        if out.gpu.is_none() {
            ew::fill(out, dt, v);
            return Ok(());
        }
        gk::fill(gop(&out, dt)?, v)
    })
}

/// `out = c ? a : b`; `c` is bool, the rest of dtype `dt`.
pub fn where_(dt: DType, out: Strided, c: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("where_", || {
        if out.gpu.is_none() {
            crate::with_dtype!(dt, T, ew::map_where::<T>(out, c, a, b));
            return Ok(());
        }
        gk::where_(gop(&out, dt)?, gop(&c, DType::Bool)?, gop(&a, dt)?, gop(&b, dt)?)
    })
}

/// Reduces over the flagged dims into fresh contiguous storage of dtype `odt`.
pub fn reduce(op: ReduceOp, dt: DType, a: Strided, mask: &[bool]) -> Result<StorageData> {
    guarded("reduce", || {
        if a.gpu.is_none() {
            return Ok(StorageData::Cpu(kr::reduce(op, dt, a, mask)?));
        }
        let odt = kr::out_dtype(op, dt);
        let m: usize = a.layout.shape.iter().zip(mask).filter(|(_, &r)| !r).map(|(&s, _)| s).product();
        let buf = gk::reduce(op, gop(&a, dt)?, mask, odt)?;
        Ok(StorageData::Gpu(GpuStorage { buf, bytes: (m * gk::elem_bytes(odt)?) as u64 }))
    })
}

pub fn matmul(dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    guarded("matmul", || {
        if out.gpu.is_none() {
            return km::matmul(dt, out, a, b);
        }
        gk::matmul(gop(&out, dt)?, gop(&a, dt)?, gop(&b, dt)?)
    })
}

/// `out = a.gather(dim, idx)` into fresh storage shaped as `idx`.
pub fn gather(dt: DType, a: Strided, dim: usize, idx: Strided, idt: DType) -> Result<StorageData> {
    guarded("gather", || {
        if a.gpu.is_none() {
            return Ok(StorageData::Cpu(ki::gather(dt, a, dim, idx)?));
        }
        let n = idx.layout.numel();
        let bytes = (n * gk::elem_bytes(dt)?) as u64;
        let buf = gk::gpu()?.alloc(bytes)?;
        let l = crate::layout::Layout::contiguous(&idx.layout.shape);
        gk::gather(Operand { buf: &buf, layout: &l, dtype: dt }, gop(&a, dt)?, dim, gop(&idx, idt)?)?;
        Ok(StorageData::Gpu(GpuStorage { buf, bytes }))
    })
}

pub fn scatter(dt: DType, dst: Strided, dim: usize, idx: Strided, idt: DType, src: Strided, acc: bool) -> Result<()> {
    guarded("scatter", || {
        if dst.gpu.is_none() {
            return ki::scatter(dt, dst, dim, idx, src, acc);
        }
        gk::scatter(gop(&dst, dt)?, dim, gop(&idx, idt)?, gop(&src, dt)?, acc)
    })
}

/// Whether any element compares `op` against zero (integer division and pow checks). On the
/// GPU this waits for the device: only integer `//`, `%` and `**` pay it.
fn any_vs_zero(a: Strided, dt: DType, op: BinaryOp) -> Result<bool> {
    let g = gk::gpu()?;
    let shape = &a.layout.shape;
    let l = crate::layout::Layout::contiguous(shape);
    let n = l.numel();
    let cmp = g.alloc((n.max(1) * 4) as u64)?;
    let zl = crate::layout::Layout { shape: shape.clone(), strides: vec![0; shape.len()], offset: 0 };
    let zero = g.alloc(8)?;
    gk::fill(Operand { buf: &zero, layout: &crate::layout::Layout::contiguous(&[]), dtype: dt }, Scalar::Int(0))?;
    let out = Operand { buf: &cmp, layout: &l, dtype: DType::Bool };
    gk::binary(op, dt, out, gop(&a, dt)?, Operand { buf: &zero, layout: &zl, dtype: dt })?;
    let mask = vec![true; shape.len()];
    let r = gk::reduce(ReduceOp::Any, out, &mask, DType::Bool)?;
    let bytes = g.readback(&r, 0, 4)?;
    Ok(bytes.iter().any(|&b| b != 0))
}

pub fn any_zero(a: Strided, dt: DType) -> Result<bool> {
    guarded("any_zero", || {
        if a.gpu.is_none() {
            return Ok(ew::any_zero(a, dt));
        }
        any_vs_zero(a, dt, BinaryOp::Eq)
    })
}

pub fn any_negative(a: Strided, dt: DType) -> Result<bool> {
    guarded("any_negative", || {
        if a.gpu.is_none() {
            return Ok(ew::any_negative(a, dt));
        }
        any_vs_zero(a, dt, BinaryOp::Lt)
    })
}

/// GPU advanced-index take: `out = a[indices]` in canonical order (indices broadcast to `ishape`).
pub fn take_gpu(dt: DType, out: Strided, a: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)]) -> Result<()> {
    guarded("take_gpu", || {
        let idx = indices.iter().map(|(s, d)| gop(s, *d)).collect::<Result<Vec<_>>>()?;
        gk::take(gop(&out, dt)?, gop(&a, dt)?, dims, ishape, &idx)
    })
}

/// GPU advanced-index put: `dst[indices] (+)= values` (values broadcast to the canonical shape).
pub fn put_gpu(dt: DType, dst: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)], values: Strided, acc: bool) -> Result<()> {
    guarded("put_gpu", || {
        let idx = indices.iter().map(|(s, d)| gop(s, *d)).collect::<Result<Vec<_>>>()?;
        gk::put(gop(&dst, dt)?, dims, ishape, &idx, gop(&values, dt)?, acc)
    })
}

/// `out = cumsum(a, dim)` on the GPU (`a` in `dt`, `out` in `odt`).
pub fn cumsum_gpu(dt: DType, odt: DType, out: Strided, a: Strided, dim: usize) -> Result<()> {
    guarded("cumsum", || gk::cumsum(gop(&out, odt)?, gop(&a, dt)?, dim))
}

fn cpu_only(name: &str, ts: &[&Strided]) -> Result<()> {
    if ts.iter().any(|s| s.gpu.is_some()) {
        bail!(Runtime, "{name}: the kernel runs on the CPU only");
    }
    Ok(())
}

/// `out = conv2d(x, w) (+ bias)` on the CPU (the op sends GPU tensors elsewhere).
pub fn conv2d(dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d", || {
        cpu_only("conv2d", &[&x, &w, &out])?;
        kc::conv2d(dt, x, w, bias, out, g)
    })
}

pub fn conv2d_grad_input(dt: DType, w: Strided, gout: Strided, gx: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_input", || {
        cpu_only("conv2d backward", &[&w, &gout, &gx])?;
        kc::conv2d_grad_input(dt, w, gout, gx, g)
    })
}

pub fn conv2d_grad_weight(dt: DType, x: Strided, gout: Strided, gw: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_weight", || {
        cpu_only("conv2d backward", &[&x, &gout, &gw])?;
        kc::conv2d_grad_weight(dt, x, gout, gw, g)
    })
}

pub fn conv2d_grad_bias(dt: DType, gout: Strided, gb: Strided, g: &kc::Geom) -> Result<()> {
    guarded("conv2d_grad_bias", || {
        cpu_only("conv2d backward", &[&gout, &gb])?;
        kc::conv2d_grad_bias(dt, gout, gb, g)
    })
}
