//! The dispatch seam: an op validates its arguments, builds a descriptor, and hands it to the
//! [`Backend`] of its device (CPU or GPU).
//!
//! Everything above this line is device-independent (argument checks, dtype rules, autograd
//! recording in `backprop::record`); everything below it runs kernels. A layer that wants to
//! see every kernel launch implements `Backend` itself and forwards to the real one: a
//! compile tracer records the [`Desc`]s (op, operand layouts, dtypes) and fuses them, a vmap
//! layer rewrites the layouts with a batch dim. `backend_of` is the one place that picks the
//! backend, so such a layer plugs in there. See CONTRIBUTING.md.
use crate::cpu_backend::{elementwise as ew, index as ki, matmul as km, reduce as kr, Strided};
use crate::cpu_backend::scan as ks;
use crate::cpu_backend::conv::{self as kc, Geom};
use crate::cpu_backend::pool::{self as kp, PoolGeom};
use crate::cpu_backend::math::Float;
use crate::cpu_backend::rnn::{self as krnn, CellKind};
use crate::cpu_backend::norm::{self as knorm, NormGeom};
use crate::cpu_backend::xent::{self as kxent, XentGeom};
use crate::cpu_backend::optim as ko;
use crate::ops::optim::{adam_consts, adam_wd_mode, sgd_consts, AdamConfig, SgdConfig};
use crate::op::{BinaryOp, ReduceOp, ScanOp, TernaryOp, UnaryOp};
use crate::storage::StorageData;
use crate::wgpu_backend::{self as gk, GpuStorage, Operand};
use crate::{bail, DType, Result, Scalar};

/// The elementwise kernel families (one descriptor type serves them all).
#[derive(Clone, Copy, Debug)]
pub enum Kernel {
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// A copy converting to the output's dtype (also the plain strided copy).
    Cast,
    Fill(Scalar),
    /// `out = c ? a : b`; inputs in that order, `c` bool.
    Where,
    /// `addcmul`/`addcdiv`/`lerp` of three inputs and a scalar, all in the compute dtype.
    Ternary(TernaryOp, f64),
}

/// One elementwise launch: the op, its output, and its inputs already broadcast to the
/// output's shape (stride 0), each with the dtype it is read as.
pub struct Desc<'a> {
    pub kernel: Kernel,
    /// The dtype unary/binary ops compute in (the op layer chose it from the op table).
    pub compute: DType,
    pub out: Strided<'a>,
    pub out_dtype: DType,
    pub ins: &'a [(Strided<'a>, DType)],
}

impl<'a> Desc<'a> {
    fn input(&self, k: usize) -> Result<(Strided<'a>, DType)> {
        match self.ins.get(k) {
            Some(x) => Ok(*x),
            None => bail!(Runtime, "internal error: {:?} launched with {} inputs (please report)", self.kernel, self.ins.len()),
        }
    }
}

/// What a device implements. Arguments are validated before any of these run.
pub trait Backend: Sync {
    fn name(&self) -> &'static str;
    fn elementwise(&self, d: &Desc) -> Result<()>;
    /// Reduces over the flagged dims into fresh contiguous storage.
    fn reduce(&self, op: ReduceOp, dt: DType, a: Strided, mask: &[bool]) -> Result<StorageData>;
    fn matmul(&self, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()>;
    /// `a.gather(dim, idx)` into fresh storage shaped as `idx`.
    fn gather(&self, dt: DType, a: Strided, dim: usize, idx: Strided, idt: DType) -> Result<StorageData>;
    #[allow(clippy::too_many_arguments)]
    fn scatter(&self, dt: DType, dst: Strided, dim: usize, idx: Strided, idt: DType, src: Strided, acc: bool) -> Result<()>;
    /// Whether any element compares `op` (Eq or Lt) against zero: integer `//`, `%` and `**`
    /// check their divisors and exponents before dispatch.
    fn any_vs_zero(&self, a: Strided, dt: DType, op: BinaryOp) -> Result<bool>;
    /// `op` along `dim` of `a` (in `dt`) into fresh contiguous storage of dtype
    /// `op.out_dtype(dt)`, with int64 indices for cummax/cummin.
    fn scan(&self, op: ScanOp, dt: DType, a: Strided, dim: usize) -> Result<(StorageData, Option<StorageData>)>;
    /// Advanced-index take `a[indices]` over `dims` into fresh storage in canonical order
    /// ([index shape..., remaining dims...]); each index operand is broadcast to `ishape`.
    fn take(&self, dt: DType, a: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)]) -> Result<StorageData>;
    /// `dst[indices] (+)= values`, values broadcast to the canonical shape.
    #[allow(clippy::too_many_arguments)]
    fn put(&self, dt: DType, dst: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)], values: Strided, acc: bool) -> Result<()>;
    /// The coordinates of `a`'s nonzero elements: (count, int64 storage of count * ndim).
    fn nonzero(&self, dt: DType, a: Strided) -> Result<(usize, StorageData)>;
    /// `out = conv2d(x, w) (+ bias)` of geometry `g` (float32/float64 on the CPU, float32 on
    /// the GPU; the op widens float16 first); `out` is contiguous.
    fn conv2d(&self, dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &Geom) -> Result<()>;
    /// The input gradient of [`Backend::conv2d`] into `gx` (contiguous, shaped as the input).
    fn conv2d_grad_input(&self, dt: DType, w: Strided, gout: Strided, gx: Strided, g: &Geom) -> Result<()>;
    /// The weight gradient into `gw` (contiguous, shaped as the weight).
    fn conv2d_grad_weight(&self, dt: DType, x: Strided, gout: Strided, gw: Strided, g: &Geom) -> Result<()>;
    /// The bias gradient into `gb` (one value per output channel).
    fn conv2d_grad_bias(&self, dt: DType, gout: Strided, gb: Strided, g: &Geom) -> Result<()>;
    /// Each max-pool window's maximum and its flat input index: (values in `dt`, int64), each
    /// N*C*OH*OW contiguous (float32/float64 on the CPU, float32 on the GPU).
    fn max_pool2d(&self, dt: DType, x: Strided, g: &PoolGeom) -> Result<(StorageData, StorageData)>;
    /// One fused LSTM/GRU cell pass over `rows` rows of `h` units: 2-d operands of the widths
    /// [`CellKind::widths`] gives, unit stride inside a row, any row stride (float32/float64
    /// on the CPU, float32 on the GPU).
    fn rnn_cell(&self, dt: DType, kind: CellKind, ins: &[Strided], outs: &[Strided], rows: usize, h: usize) -> Result<()>;
    /// Layer/RMS/group normalisation forward over `g.rows` contiguous rows: `a.out` (y),
    /// `a.mean` and `a.rstd` from x, w and b (float32/float64 on the CPU, float32 on the GPU).
    fn norm_forward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()>;
    /// Its backward from x, w, gy and the saved statistics: `a.out` (gx), `a.dw`, `a.db`,
    /// each only when present.
    fn norm_backward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()>;
    /// Cross-entropy of logit rows against int64 targets: forward (`a.lse`, `a.loss`) or,
    /// with `backward`, `a.gx` from the saved lse and the per-row gradient `a.g`.
    fn xent(&self, dt: DType, a: &XentOperands, g: &XentGeom, backward: bool) -> Result<()>;
    /// One Adam/AdamW step over every parameter in place (`steps[i]`: parameter i's step
    /// count after it); the buffers are exp_avg, exp_avg_sq and, with amsgrad, max_exp_avg_sq.
    fn fused_adam(&self, dt: DType, ts: &[StepOperands], steps: &[f64], c: &AdamConfig) -> Result<()>;
    /// One SGD step over every parameter in place; the first buffer is the momentum buffer
    /// (with momentum), new where `first[i]`.
    fn fused_sgd(&self, dt: DType, ts: &[StepOperands], first: &[bool], c: &SgdConfig) -> Result<()>;
}

/// One parameter's tensors in a fused optimizer step: the parameter, its gradient and up to
/// three state buffers, checked by the op (same shape, dtype and device, contiguous, no
/// written element reachable through another operand).
pub struct StepOperands<'a> {
    pub p: Strided<'a>,
    pub g: Strided<'a>,
    pub bufs: [Option<Strided<'a>>; 3],
}

/// The operands of a normalisation launch (`cpu_backend/norm.rs`), all contiguous: x, the
/// optional weight and bias, the incoming gradient (backward), the per-row statistics, the
/// output (y forward, gx backward) and the weight and bias gradients (backward).
pub struct NormOperands<'a> {
    pub x: Strided<'a>,
    pub w: Option<Strided<'a>>,
    pub b: Option<Strided<'a>>,
    pub gy: Option<Strided<'a>>,
    pub mean: Strided<'a>,
    pub rstd: Strided<'a>,
    /// The biased variance per row (forward; the CPU writes it, the GPU leaves it).
    pub var: Option<Strided<'a>>,
    pub out: Option<Strided<'a>>,
    pub dw: Option<Strided<'a>>,
    pub db: Option<Strided<'a>>,
}

/// The operands of a cross-entropy launch (`cpu_backend/xent.rs`), all contiguous.
pub struct XentOperands<'a> {
    pub x: Strided<'a>,
    pub target: Strided<'a>,
    pub w: Option<Strided<'a>>,
    pub lse: Strided<'a>,
    pub loss: Option<Strided<'a>>,
    pub g: Option<Strided<'a>>,
    pub gx: Option<Strided<'a>>,
}

fn cpu_xent<T: Float>(a: &XentOperands, g: &XentGeom, backward: bool) {
    let p = kxent::XentPtrs {
        x: data::<T>(&a.x) as *const T,
        target: data::<i64>(&a.target) as *const i64,
        w: buf_or_null::<T>(a.w) as *const T,
        lse: data::<T>(&a.lse),
        loss: buf_or_null::<T>(a.loss),
        g: buf_or_null::<T>(a.g) as *const T,
        gx: buf_or_null::<T>(a.gx),
    };
    // SAFETY: the op made every operand contiguous with the sizes the geometry gives, and the
    // outputs fresh buffers.
    unsafe {
        if backward {
            kxent::backward::<T>(&p, g)
        } else {
            kxent::forward::<T>(&p, g)
        }
    }
}

fn cpu_norm<T: Float>(a: &NormOperands, g: &NormGeom, backward: bool) {
    let c = |s: Option<Strided>| buf_or_null::<T>(s) as *const T;
    let p = knorm::NormPtrs {
        x: data::<T>(&a.x) as *const T,
        w: c(a.w),
        b: c(a.b),
        gy: c(a.gy),
        mean: data::<T>(&a.mean),
        rstd: data::<T>(&a.rstd),
        var: buf_or_null::<T>(a.var),
        out: buf_or_null::<T>(a.out),
        dw: buf_or_null::<T>(a.dw),
        db: buf_or_null::<T>(a.db),
    };
    // SAFETY: the op made every operand contiguous with the sizes the geometry gives, and the
    // outputs fresh buffers.
    unsafe {
        if backward {
            knorm::backward::<T>(&p, g)
        } else {
            knorm::forward::<T>(&p, g)
        }
    }
}

/// The first element of a contiguous CPU operand.
fn data<T>(s: &Strided) -> *mut T {
    // SAFETY: the offset lies within the storage (checked when the tensor was made).
    unsafe { (s.ptr as *mut T).add(s.layout.offset) }
}

fn buf_or_null<T>(s: Option<Strided>) -> *mut T {
    s.map(|s| data::<T>(&s)).unwrap_or(std::ptr::null_mut())
}

fn cpu_adam<T: Float>(ts: &[StepOperands], steps: &[f64], c: &AdamConfig) {
    let v: Vec<_> = ts
        .iter()
        .zip(steps)
        .map(|(t, &step)| {
            let ptrs = ko::AdamPtrs {
                p: data::<T>(&t.p),
                g: data::<T>(&t.g) as *const T,
                m: buf_or_null::<T>(t.bufs[0]),
                v: buf_or_null::<T>(t.bufs[1]),
                mx: buf_or_null::<T>(t.bufs[2]),
                n: t.p.layout.numel(),
            };
            (adam_consts::<T>(c, step), ptrs)
        })
        .collect();
    // SAFETY: the op validated shapes, dtypes, contiguity and aliasing; the tensors outlive the call.
    unsafe { ko::adam::<T>(&v, adam_wd_mode(c), c.amsgrad) }
}

fn cpu_sgd<T: Float>(ts: &[StepOperands], first: &[bool], c: &SgdConfig) {
    let mom = c.momentum != 0.0;
    let v: Vec<_> = ts
        .iter()
        .enumerate()
        .map(|(i, t)| ko::SgdPtrs {
            p: data::<T>(&t.p),
            g: data::<T>(&t.g) as *const T,
            buf: if mom { buf_or_null::<T>(t.bufs[0]) } else { std::ptr::null_mut() },
            first: mom && first.get(i).copied().unwrap_or(false),
            n: t.p.layout.numel(),
        })
        .collect();
    // SAFETY: as in cpu_adam.
    unsafe { ko::sgd::<T>(&sgd_consts::<T>(c), &v, c.weight_decay != 0.0, mom, c.nesterov) }
}

fn cpu_cell<T: Float>(kind: CellKind, ins: &[Strided], outs: &[Strided], rows: usize, h: usize) {
    let row = |s: &Strided| s.layout.strides[0] as usize;
    let p = krnn::CellPtrs {
        ins: ins.iter().map(|s| (data::<T>(s) as *const T, row(s))).collect(),
        outs: outs.iter().map(|s| (data::<T>(s), row(s))).collect(),
    };
    // SAFETY: the op checked every operand's rows (widths, unit inner stride, non-negative row
    // stride) and that the outputs overlap nothing else.
    unsafe { krnn::run::<T>(kind, &p, rows, h) }
}

pub struct CpuBackend;
pub struct GpuBackend;

/// The backend that owns `s`'s memory.
pub fn backend_of(s: &Strided) -> &'static dyn Backend {
    if s.gpu.is_some() {
        &GpuBackend
    } else {
        &CpuBackend
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn elementwise(&self, d: &Desc) -> Result<()> {
        match d.kernel {
            Kernel::Unary(op) => ew::unary(op, d.compute, d.out, d.input(0)?.0),
            Kernel::Binary(op) => ew::binary(op, d.compute, d.out, d.input(0)?.0, d.input(1)?.0),
            Kernel::Cast => {
                let (a, src) = d.input(0)?;
                ew::cast(d.out, d.out_dtype, a, src);
                Ok(())
            }
            Kernel::Fill(v) => {
                ew::fill(d.out, d.out_dtype, v);
                Ok(())
            }
            Kernel::Where => {
                let (c, a, b) = (d.input(0)?.0, d.input(1)?.0, d.input(2)?.0);
                crate::with_dtype!(d.out_dtype, T, ew::map_where::<T>(d.out, c, a, b));
                Ok(())
            }
            Kernel::Ternary(op, v) => ew::ternary(op, d.compute, v, d.out, d.input(0)?.0, d.input(1)?.0, d.input(2)?.0),
        }
    }
    fn reduce(&self, op: ReduceOp, dt: DType, a: Strided, mask: &[bool]) -> Result<StorageData> {
        Ok(StorageData::Cpu(kr::reduce(op, dt, a, mask)?))
    }
    fn matmul(&self, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
        km::matmul(dt, out, a, b)
    }
    fn gather(&self, dt: DType, a: Strided, dim: usize, idx: Strided, _idt: DType) -> Result<StorageData> {
        Ok(StorageData::Cpu(ki::gather(dt, a, dim, idx)?))
    }
    fn scatter(&self, dt: DType, dst: Strided, dim: usize, idx: Strided, _idt: DType, src: Strided, acc: bool) -> Result<()> {
        ki::scatter(dt, dst, dim, idx, src, acc)
    }
    fn any_vs_zero(&self, a: Strided, dt: DType, op: BinaryOp) -> Result<bool> {
        match op {
            BinaryOp::Eq => Ok(ew::any_zero(a, dt)),
            BinaryOp::Lt => Ok(ew::any_negative(a, dt)),
            other => bail!(Runtime, "internal error: any_vs_zero with {} (please report)", other.name()),
        }
    }
    fn scan(&self, op: ScanOp, dt: DType, a: Strided, dim: usize) -> Result<(StorageData, Option<StorageData>)> {
        let (v, i) = ks::scan(op, dt, a, dim)?;
        Ok((StorageData::Cpu(v), i.map(StorageData::Cpu)))
    }
    fn take(&self, dt: DType, a: Strided, dims: &[usize], _ishape: &[usize], indices: &[(Strided, DType)]) -> Result<StorageData> {
        let vals: Vec<Vec<i64>> = indices.iter().map(|&(s, idt)| ki::read_index(s, idt)).collect();
        Ok(StorageData::Cpu(ki::take(dt, a, dims, &vals)?))
    }
    fn put(&self, dt: DType, dst: Strided, dims: &[usize], _ishape: &[usize], indices: &[(Strided, DType)], values: Strided, acc: bool) -> Result<()> {
        let vals: Vec<Vec<i64>> = indices.iter().map(|&(s, idt)| ki::read_index(s, idt)).collect();
        ki::put(dt, dst, dims, &vals, values, acc)
    }
    fn nonzero(&self, dt: DType, a: Strided) -> Result<(usize, StorageData)> {
        let (n, coords) = ki::nonzero(dt, a);
        Ok((n, StorageData::Cpu(crate::storage::CpuStorage::from_vec(coords))))
    }
    fn conv2d(&self, dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &Geom) -> Result<()> {
        kc::conv2d(dt, x, w, bias, out, g)
    }
    fn conv2d_grad_input(&self, dt: DType, w: Strided, gout: Strided, gx: Strided, g: &Geom) -> Result<()> {
        kc::conv2d_grad_input(dt, w, gout, gx, g)
    }
    fn conv2d_grad_weight(&self, dt: DType, x: Strided, gout: Strided, gw: Strided, g: &Geom) -> Result<()> {
        kc::conv2d_grad_weight(dt, x, gout, gw, g)
    }
    fn conv2d_grad_bias(&self, dt: DType, gout: Strided, gb: Strided, g: &Geom) -> Result<()> {
        kc::conv2d_grad_bias(dt, gout, gb, g)
    }
    fn max_pool2d(&self, dt: DType, x: Strided, g: &PoolGeom) -> Result<(StorageData, StorageData)> {
        let (v, i) = kp::max_pool2d(dt, x, g)?;
        Ok((StorageData::Cpu(v), StorageData::Cpu(i)))
    }
    fn rnn_cell(&self, dt: DType, kind: CellKind, ins: &[Strided], outs: &[Strided], rows: usize, h: usize) -> Result<()> {
        match dt {
            DType::F64 => cpu_cell::<f64>(kind, ins, outs, rows, h),
            DType::F32 => cpu_cell::<f32>(kind, ins, outs, rows, h),
            other => bail!(Runtime, "internal: rnn_cell got {}", other.name()),
        }
        Ok(())
    }
    fn norm_forward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()> {
        match dt {
            DType::F64 => cpu_norm::<f64>(a, g, false),
            DType::F32 => cpu_norm::<f32>(a, g, false),
            other => bail!(Runtime, "internal: norm got {}", other.name()),
        }
        Ok(())
    }
    fn norm_backward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()> {
        match dt {
            DType::F64 => cpu_norm::<f64>(a, g, true),
            DType::F32 => cpu_norm::<f32>(a, g, true),
            other => bail!(Runtime, "internal: norm got {}", other.name()),
        }
        Ok(())
    }
    fn xent(&self, dt: DType, a: &XentOperands, g: &XentGeom, backward: bool) -> Result<()> {
        match dt {
            DType::F64 => cpu_xent::<f64>(a, g, backward),
            DType::F32 => cpu_xent::<f32>(a, g, backward),
            other => bail!(Runtime, "internal: cross_entropy got {}", other.name()),
        }
        Ok(())
    }
    fn fused_adam(&self, dt: DType, ts: &[StepOperands], steps: &[f64], c: &AdamConfig) -> Result<()> {
        match dt {
            DType::F64 => cpu_adam::<f64>(ts, steps, c),
            DType::F32 => cpu_adam::<f32>(ts, steps, c),
            other => bail!(Runtime, "internal: fused Adam got {}", other.name()),
        }
        Ok(())
    }
    fn fused_sgd(&self, dt: DType, ts: &[StepOperands], first: &[bool], c: &SgdConfig) -> Result<()> {
        match dt {
            DType::F64 => cpu_sgd::<f64>(ts, first, c),
            DType::F32 => cpu_sgd::<f32>(ts, first, c),
            other => bail!(Runtime, "internal: fused SGD got {}", other.name()),
        }
        Ok(())
    }
}

fn gop<'a>(s: &Strided<'a>, dtype: DType) -> Result<Operand<'a>> {
    match s.gpu {
        Some(buf) => Ok(Operand { buf, layout: s.layout, dtype }),
        None => bail!(Runtime, "internal: a CPU operand reached a GPU kernel"),
    }
}

/// A normalisation launch's operands as GPU operands.
fn gpu_norm<'a>(a: &NormOperands<'a>, dt: DType) -> Result<gk::NormOps<'a>> {
    let o = |s: &Option<Strided<'a>>| s.as_ref().map(|s| gop(s, dt)).transpose();
    Ok(gk::NormOps {
        x: gop(&a.x, dt)?,
        w: o(&a.w)?,
        b: o(&a.b)?,
        gy: o(&a.gy)?,
        mean: gop(&a.mean, dt)?,
        rstd: gop(&a.rstd, dt)?,
        out: o(&a.out)?,
        dw: o(&a.dw)?,
        db: o(&a.db)?,
    })
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "gpu"
    }
    fn elementwise(&self, d: &Desc) -> Result<()> {
        let out = gop(&d.out, d.out_dtype)?;
        let arg = |k: usize| d.input(k).and_then(|(s, dt)| gop(&s, dt));
        match d.kernel {
            Kernel::Unary(op) => gk::unary(op, d.compute, out, arg(0)?),
            Kernel::Binary(op) => gk::binary(op, d.compute, out, arg(0)?, arg(1)?),
            Kernel::Cast => gk::cast(out, arg(0)?),
            Kernel::Fill(v) => gk::fill(out, v),
            Kernel::Where => gk::where_(out, arg(0)?, arg(1)?, arg(2)?),
            Kernel::Ternary(op, v) => gk::ternary(op, d.compute, v, out, arg(0)?, arg(1)?, arg(2)?),
        }
    }
    fn reduce(&self, op: ReduceOp, dt: DType, a: Strided, mask: &[bool]) -> Result<StorageData> {
        let odt = kr::out_dtype(op, dt);
        let m: usize = a.layout.shape.iter().zip(mask).filter(|(_, &r)| !r).map(|(&s, _)| s).product();
        let buf = gk::reduce(op, gop(&a, dt)?, mask, odt)?;
        Ok(StorageData::Gpu(GpuStorage { buf, bytes: (m * gk::elem_bytes(odt)?) as u64 }))
    }
    fn matmul(&self, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
        gk::matmul(gop(&out, dt)?, gop(&a, dt)?, gop(&b, dt)?)
    }
    fn gather(&self, dt: DType, a: Strided, dim: usize, idx: Strided, idt: DType) -> Result<StorageData> {
        let n = idx.layout.numel();
        let bytes = (n * gk::elem_bytes(dt)?) as u64;
        let buf = gk::gpu()?.alloc(bytes)?;
        let l = crate::layout::Layout::contiguous(&idx.layout.shape);
        gk::gather(Operand { buf: &buf, layout: &l, dtype: dt }, gop(&a, dt)?, dim, gop(&idx, idt)?)?;
        Ok(StorageData::Gpu(GpuStorage { buf, bytes }))
    }
    fn scatter(&self, dt: DType, dst: Strided, dim: usize, idx: Strided, idt: DType, src: Strided, acc: bool) -> Result<()> {
        gk::scatter(gop(&dst, dt)?, dim, gop(&idx, idt)?, gop(&src, dt)?, acc)
    }
    /// Waits for the device: only integer `//`, `%`, fmod and `**` pay it.
    fn any_vs_zero(&self, a: Strided, dt: DType, op: BinaryOp) -> Result<bool> {
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
    fn scan(&self, op: ScanOp, dt: DType, a: Strided, dim: usize) -> Result<(StorageData, Option<StorageData>)> {
        let odt = op.out_dtype(dt);
        let n = a.layout.numel();
        let g = gk::gpu()?;
        let bytes = (n * gk::elem_bytes(odt)?) as u64;
        let buf = g.alloc(bytes)?;
        let ibytes = (n * 8) as u64;
        let ibuf = if op.has_indices() { Some(g.alloc(ibytes)?) } else { None };
        let l = crate::layout::Layout::contiguous(&a.layout.shape);
        let ix = ibuf.as_ref().map(|b| Operand { buf: b, layout: &l, dtype: DType::I64 });
        gk::scan(op, Operand { buf: &buf, layout: &l, dtype: odt }, ix, gop(&a, dt)?, dim)?;
        Ok((StorageData::Gpu(GpuStorage { buf, bytes }), ibuf.map(|buf| StorageData::Gpu(GpuStorage { buf, bytes: ibytes }))))
    }
    fn take(&self, dt: DType, a: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)]) -> Result<StorageData> {
        let mut shape = ishape.to_vec();
        shape.extend((0..a.layout.ndim()).filter(|d| !dims.contains(d)).map(|d| a.layout.shape[d]));
        let l = crate::layout::Layout::contiguous(&shape);
        let bytes = (l.numel() * gk::elem_bytes(dt)?) as u64;
        let buf = gk::gpu()?.alloc(bytes)?;
        let idx = indices.iter().map(|(s, d)| gop(s, *d)).collect::<Result<Vec<_>>>()?;
        gk::take(Operand { buf: &buf, layout: &l, dtype: dt }, gop(&a, dt)?, dims, ishape, &idx)?;
        Ok(StorageData::Gpu(GpuStorage { buf, bytes }))
    }
    fn put(&self, dt: DType, dst: Strided, dims: &[usize], ishape: &[usize], indices: &[(Strided, DType)], values: Strided, acc: bool) -> Result<()> {
        let idx = indices.iter().map(|(s, d)| gop(s, *d)).collect::<Result<Vec<_>>>()?;
        gk::put(gop(&dst, dt)?, dims, ishape, &idx, gop(&values, dt)?, acc)
    }
    /// The output's size depends on the data, so this waits for the device (torch's CUDA
    /// nonzero synchronises too): the input is read back as bool words, scanned on the host,
    /// and the coordinates uploaded.
    fn nonzero(&self, dt: DType, a: Strided) -> Result<(usize, StorageData)> {
        let g = gk::gpu()?;
        let l = crate::layout::Layout::contiguous(&a.layout.shape);
        let n = l.numel();
        let mask = g.alloc((n.max(1) * 4) as u64)?;
        gk::cast(Operand { buf: &mask, layout: &l, dtype: DType::Bool }, gop(&a, dt)?)?;
        let words = g.readback(&mask, 0, (n * 4) as u64)?;
        let host: Vec<bool> = words.chunks_exact(4).map(|w| w.iter().any(|&b| b != 0)).collect();
        let hs = crate::storage::CpuStorage::from_vec(host);
        let (count, coords) = ki::nonzero(DType::Bool, Strided { ptr: hs.as_ptr(), layout: &l, gpu: None });
        let bytes: Vec<u8> = coords.iter().flat_map(|c| c.to_le_bytes()).collect();
        let buf = g.upload(&bytes)?;
        Ok((count, StorageData::Gpu(GpuStorage { buf, bytes: bytes.len() as u64 })))
    }
    fn conv2d(&self, dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &Geom) -> Result<()> {
        let b = bias.as_ref().map(|b| gop(b, dt)).transpose()?;
        gk::conv2d(gop(&x, dt)?, gop(&w, dt)?, b, gop(&out, dt)?, g)
    }
    fn conv2d_grad_input(&self, dt: DType, w: Strided, gout: Strided, gx: Strided, g: &Geom) -> Result<()> {
        gk::conv2d_grad_input(gop(&w, dt)?, gop(&gout, dt)?, gop(&gx, dt)?, g)
    }
    fn conv2d_grad_weight(&self, dt: DType, x: Strided, gout: Strided, gw: Strided, g: &Geom) -> Result<()> {
        gk::conv2d_grad_weight(gop(&x, dt)?, gop(&gout, dt)?, gop(&gw, dt)?, g)
    }
    fn conv2d_grad_bias(&self, dt: DType, gout: Strided, gb: Strided, g: &Geom) -> Result<()> {
        gk::conv2d_grad_bias(gop(&gout, dt)?, gop(&gb, dt)?, g)
    }
    fn max_pool2d(&self, dt: DType, x: Strided, g: &PoolGeom) -> Result<(StorageData, StorageData)> {
        let l = crate::layout::Layout::contiguous(&[g.n, g.c, g.oh, g.ow]);
        let (vb, ib) = ((l.numel().max(1) * 4) as u64, (l.numel().max(1) * 8) as u64);
        let (vals, idx) = (gk::gpu()?.alloc(vb)?, gk::gpu()?.alloc(ib)?);
        gk::max_pool2d(gop(&x, dt)?, Operand { buf: &vals, layout: &l, dtype: DType::F32 }, Operand { buf: &idx, layout: &l, dtype: DType::I64 }, g)?;
        Ok((StorageData::Gpu(GpuStorage { buf: vals, bytes: vb }), StorageData::Gpu(GpuStorage { buf: idx, bytes: ib })))
    }
    fn rnn_cell(&self, dt: DType, kind: CellKind, ins: &[Strided], outs: &[Strided], rows: usize, h: usize) -> Result<()> {
        let i = ins.iter().map(|s| gop(s, dt)).collect::<Result<Vec<_>>>()?;
        let o = outs.iter().map(|s| gop(s, dt)).collect::<Result<Vec<_>>>()?;
        gk::rnn_cell(kind, &i, &o, rows, h)
    }
    fn norm_forward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()> {
        gk::norm(&gpu_norm(a, dt)?, g, false)
    }
    fn norm_backward(&self, dt: DType, a: &NormOperands, g: &NormGeom) -> Result<()> {
        gk::norm(&gpu_norm(a, dt)?, g, true)
    }
    fn xent(&self, dt: DType, a: &XentOperands, g: &XentGeom, backward: bool) -> Result<()> {
        fn o<'a>(s: &Option<Strided<'a>>, dt: DType) -> Result<Option<Operand<'a>>> {
            s.as_ref().map(|s| gop(s, dt)).transpose()
        }
        let ops = gk::XentOps {
            x: gop(&a.x, dt)?,
            target: gop(&a.target, DType::I64)?,
            w: o(&a.w, dt)?,
            lse: gop(&a.lse, dt)?,
            loss: o(&a.loss, dt)?,
            g: o(&a.g, dt)?,
            gx: o(&a.gx, dt)?,
        };
        gk::xent(&ops, g, backward)
    }
    /// One kernel per parameter, all in the same submission (float32 only: the op checked).
    fn fused_adam(&self, _dt: DType, ts: &[StepOperands], steps: &[f64], c: &AdamConfig) -> Result<()> {
        let wd_mode = adam_wd_mode(c);
        for (t, &step) in ts.iter().zip(steps) {
            let [m, v, mx] = t.bufs;
            let (Some(m), Some(v)) = (m, v) else { bail!(Runtime, "internal: fused Adam without its state buffers") };
            gk::fused_adam(&adam_consts::<f32>(c, step), wd_mode, t.p, t.g, m, v, mx)?;
        }
        Ok(())
    }
    fn fused_sgd(&self, _dt: DType, ts: &[StepOperands], first: &[bool], c: &SgdConfig) -> Result<()> {
        let k = sgd_consts::<f32>(c);
        let mom = c.momentum != 0.0;
        for (i, t) in ts.iter().enumerate() {
            let buf = if mom { t.bufs[0].map(|b| (b, first.get(i).copied().unwrap_or(false))) } else { None };
            gk::fused_sgd(&k, c.weight_decay != 0.0, c.nesterov, t.p, t.g, buf)?;
        }
        Ok(())
    }
}
