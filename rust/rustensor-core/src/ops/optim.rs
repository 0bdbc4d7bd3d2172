//! Fused optimizer steps: the update of every parameter of a step as one multi-tensor
//! kernel (CPU: one parallel pass over all elements; GPU: one kernel per parameter in a
//! single submission), instead of a dozen elementwise ops per parameter.
use crate::cpu_backend::math::Float;
use crate::cpu_backend::optim as ko;
use crate::storage::Device;
use crate::{bail, DType, Element, Result, Tensor};

/// Adam/AdamW's hyper-parameters (torch's names).
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: the decay multiplies the parameter instead of joining the gradient.
    pub decoupled: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// Checks that every group of tensors matches its parameter and that no written element is
/// also read or written through another tensor of the step; returns the device and dtype.
fn validate(op: &str, params: &[Tensor], others: &[(&str, &[Tensor], bool)]) -> Result<(Device, DType)> {
    let Some(first) = params.first() else { return Ok((Device::Cpu, DType::F32)) };
    let (device, dtype) = (first.device(), first.dtype());
    let ok_dtype = match device {
        Device::Cpu => matches!(dtype, DType::F32 | DType::F64),
        Device::Gpu(_) => dtype == DType::F32,
    };
    if !ok_dtype {
        bail!(Runtime, "{op}: parameters of dtype {} on {} are not supported", dtype.name(), device.name());
    }
    // (storage, first element, end, written) of every operand, for the overlap check
    let mut spans: Vec<(usize, usize, usize, bool)> = vec![];
    let mut check = |what: &str, t: &Tensor, p: &Tensor, written: bool| -> Result<()> {
        if t.device() != device || t.dtype() != dtype {
            bail!(
                Runtime,
                "{op}: expected {what} on {} of dtype {}, got {} of dtype {}",
                device.name(),
                dtype.name(),
                t.device().name(),
                t.dtype().name()
            );
        }
        if t.shape() != p.shape() {
            bail!(Runtime, "{op}: {what} of shape {:?} does not match its parameter's shape {:?}", t.shape(), p.shape());
        }
        if !t.is_contiguous() {
            bail!(Runtime, "{op}: {what} must be contiguous");
        }
        if t.numel() > 0 {
            let off = t.storage_offset();
            spans.push((std::sync::Arc::as_ptr(t.storage()) as usize, off, off + t.numel(), written));
        }
        Ok(())
    };
    for p in params {
        check("params", p, p, true)?;
    }
    for (what, ts, written) in others {
        if ts.len() != params.len() {
            bail!(Runtime, "{op}: {} {what} for {} params", ts.len(), params.len());
        }
        for (t, p) in ts.iter().zip(params) {
            check(what, t, p, *written)?;
        }
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        let ((s0, _, e0, w0), (s1, b1, _, w1)) = (w[0], w[1]);
        if s0 == s1 && b1 < e0 && (w0 || w1) {
            bail!(Runtime, "{op}: a tensor the step writes overlaps another tensor of the step");
        }
    }
    Ok((device, dtype))
}

fn ptr<T: Element>(t: &Tensor) -> *mut T {
    // SAFETY: the offset is within the storage (the layout was validated when the tensor was made).
    unsafe { (t.strided().ptr as *mut T).add(t.storage_offset()) }
}

fn adam_consts<T: Float>(c: &AdamConfig, step: f64) -> ko::AdamK<T> {
    let w1 = 1.0 - c.beta1;
    let bc1 = 1.0 - c.beta1.powf(step);
    let bc2 = 1.0 - c.beta2.powf(step);
    ko::AdamK {
        sign: T::from_f64(if c.maximize { -1.0 } else { 1.0 }),
        wd: T::from_f64(c.weight_decay),
        decay: T::from_f64(1.0 - c.lr * c.weight_decay),
        coeff: T::from_f64(if w1.abs() < 0.5 { w1 } else { w1 - 1.0 }),
        small: w1.abs() < 0.5,
        beta2: T::from_f64(c.beta2),
        one_minus_beta2: T::from_f64(1.0 - c.beta2),
        bc2_sqrt: T::from_f64(bc2.sqrt()),
        eps: T::from_f64(c.eps),
        neg_step_size: T::from_f64(-(c.lr / bc1)),
    }
}

fn bump(ts: &[&[Tensor]]) {
    for group in ts {
        for t in group.iter() {
            t.bump_version();
        }
    }
}

impl Tensor {
    /// One Adam (AdamW with `decoupled`) step over all parameters, in place: torch's
    /// single-tensor update of each parameter, `steps[i]` being parameter i's step count
    /// after this step. `max_exp_avg_sqs` is used (and must be given) with amsgrad only.
    pub fn fused_adam_(
        params: &[Tensor],
        grads: &[Tensor],
        exp_avgs: &[Tensor],
        exp_avg_sqs: &[Tensor],
        max_exp_avg_sqs: &[Tensor],
        steps: &[f64],
        c: &AdamConfig,
    ) -> Result<()> {
        let op = "_fused_adam_";
        if steps.len() != params.len() {
            bail!(Runtime, "{op}: {} steps for {} params", steps.len(), params.len());
        }
        let mut groups: Vec<(&str, &[Tensor], bool)> = vec![("grads", grads, false), ("exp_avgs", exp_avgs, true), ("exp_avg_sqs", exp_avg_sqs, true)];
        if c.amsgrad {
            groups.push(("max_exp_avg_sqs", max_exp_avg_sqs, true));
        }
        let (device, dtype) = validate(op, params, &groups)?;
        let wd_mode = if c.weight_decay == 0.0 { 0 } else if c.decoupled { 2 } else { 1 };
        crate::kernels::guarded(op, || {
            if let Device::Gpu(_) = device {
                for (i, p) in params.iter().enumerate() {
                    let k = adam_consts::<f32>(c, steps[i]);
                    let mx = if c.amsgrad { Some(&max_exp_avg_sqs[i]) } else { None };
                    crate::wgpu_backend::fused_adam(&k, wd_mode, p.strided(), grads[i].strided(), exp_avgs[i].strided(), exp_avg_sqs[i].strided(), mx.map(|t| t.strided()))?;
                }
                return Ok(());
            }
            #[allow(clippy::too_many_arguments)]
            fn run<T: Float>(params: &[Tensor], g: &[Tensor], m: &[Tensor], v: &[Tensor], mx: &[Tensor], steps: &[f64], c: &AdamConfig, wd_mode: u8) {
                let ts: Vec<_> = (0..params.len())
                    .map(|i| {
                        let t = ko::AdamPtrs {
                            p: ptr::<T>(&params[i]),
                            g: ptr::<T>(&g[i]) as *const T,
                            m: ptr::<T>(&m[i]),
                            v: ptr::<T>(&v[i]),
                            mx: if c.amsgrad { ptr::<T>(&mx[i]) } else { std::ptr::null_mut() },
                            n: params[i].numel(),
                        };
                        (adam_consts::<T>(c, steps[i]), t)
                    })
                    .collect();
                // SAFETY: validate() checked shapes, dtypes, contiguity and that no written
                // element is reachable through another operand; the tensors outlive the call.
                unsafe { ko::adam::<T>(&ts, wd_mode, c.amsgrad) }
            }
            match dtype {
                DType::F64 => run::<f64>(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, c, wd_mode),
                _ => run::<f32>(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, c, wd_mode),
            }
            Ok(())
        })?;
        bump(&[params, exp_avgs, exp_avg_sqs]);
        if c.amsgrad {
            bump(&[max_exp_avg_sqs]);
        }
        Ok(())
    }

    /// One SGD step over all parameters, in place. With momentum, `momentum_buffers[i]` is
    /// parameter i's buffer and `first[i]` says it is new (it takes the gradient as is).
    pub fn fused_sgd_(params: &[Tensor], grads: &[Tensor], momentum_buffers: &[Tensor], first: &[bool], c: &SgdConfig) -> Result<()> {
        let op = "_fused_sgd_";
        let mom = c.momentum != 0.0;
        let mut groups: Vec<(&str, &[Tensor], bool)> = vec![("grads", grads, false)];
        if mom {
            if first.len() != params.len() {
                bail!(Runtime, "{op}: {} first-step flags for {} params", first.len(), params.len());
            }
            groups.push(("momentum_buffers", momentum_buffers, true));
        }
        let (device, dtype) = validate(op, params, &groups)?;
        let wd = c.weight_decay != 0.0;
        crate::kernels::guarded(op, || {
            fn consts<T: Float>(c: &SgdConfig) -> ko::SgdK<T> {
                ko::SgdK {
                    sign: T::from_f64(if c.maximize { -1.0 } else { 1.0 }),
                    wd: T::from_f64(c.weight_decay),
                    momentum: T::from_f64(c.momentum),
                    one_minus_dampening: T::from_f64(1.0 - c.dampening),
                    neg_lr: T::from_f64(-c.lr),
                }
            }
            if let Device::Gpu(_) = device {
                let k = consts::<f32>(c);
                for (i, p) in params.iter().enumerate() {
                    let buf = if mom { Some((momentum_buffers[i].strided(), first[i])) } else { None };
                    crate::wgpu_backend::fused_sgd(&k, wd, c.nesterov, p.strided(), grads[i].strided(), buf)?;
                }
                return Ok(());
            }
            fn run<T: Float>(params: &[Tensor], g: &[Tensor], b: &[Tensor], first: &[bool], c: &SgdConfig, wd: bool) {
                let mom = c.momentum != 0.0;
                let ts: Vec<_> = (0..params.len())
                    .map(|i| ko::SgdPtrs {
                        p: ptr::<T>(&params[i]),
                        g: ptr::<T>(&g[i]) as *const T,
                        buf: if mom { ptr::<T>(&b[i]) } else { std::ptr::null_mut() },
                        first: mom && first[i],
                        n: params[i].numel(),
                    })
                    .collect();
                // SAFETY: as in fused_adam_.
                unsafe { ko::sgd::<T>(&consts::<T>(c), &ts, wd, mom, c.nesterov) }
            }
            match dtype {
                DType::F64 => run::<f64>(params, grads, momentum_buffers, first, c, wd),
                _ => run::<f32>(params, grads, momentum_buffers, first, c, wd),
            }
            Ok(())
        })?;
        bump(&[params]);
        if mom {
            bump(&[momentum_buffers]);
        }
        Ok(())
    }
}
