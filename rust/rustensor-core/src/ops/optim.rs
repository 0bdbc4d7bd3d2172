//! Fused optimizer steps: the update of every parameter of a step as one multi-tensor
//! kernel (CPU: one parallel pass over all elements; GPU: one kernel per parameter in a
//! single submission), instead of a dozen elementwise ops per parameter.
use crate::cpu_backend::math::Float;
use crate::cpu_backend::optim as ko;
use crate::backend::StepOperands;
use crate::storage::Device;
use crate::{bail, DType, Result, Tensor};

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

/// Adam's per-parameter constants in `T` (the backends' kernels read these).
pub(crate) fn adam_consts<T: Float>(c: &AdamConfig, step: f64) -> ko::AdamK<T> {
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

/// 0: no weight decay, 1: decay added to the gradient (Adam), 2: decoupled (AdamW).
pub(crate) fn adam_wd_mode(c: &AdamConfig) -> u8 {
    if c.weight_decay == 0.0 {
        0
    } else if c.decoupled {
        2
    } else {
        1
    }
}

/// SGD's constants in `T`.
pub(crate) fn sgd_consts<T: Float>(c: &SgdConfig) -> ko::SgdK<T> {
    ko::SgdK {
        sign: T::from_f64(if c.maximize { -1.0 } else { 1.0 }),
        wd: T::from_f64(c.weight_decay),
        momentum: T::from_f64(c.momentum),
        one_minus_dampening: T::from_f64(1.0 - c.dampening),
        neg_lr: T::from_f64(-c.lr),
    }
}

/// The backend operands of one parameter: the parameter, its gradient and its state buffers.
fn operands<'a>(p: &'a Tensor, g: &'a Tensor, bufs: [Option<&'a Tensor>; 3]) -> StepOperands<'a> {
    StepOperands { p: p.strided(), g: g.strided(), bufs: bufs.map(|b| b.map(|t| t.strided())) }
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
        // validated once here; the backend of the parameters' device runs the step
        let (_, dtype) = validate(op, params, &groups)?;
        let ts: Vec<StepOperands> = (0..params.len())
            .map(|i| {
                let mx = if c.amsgrad { Some(&max_exp_avg_sqs[i]) } else { None };
                operands(&params[i], &grads[i], [Some(&exp_avgs[i]), Some(&exp_avg_sqs[i]), mx])
            })
            .collect();
        crate::kernels::fused_adam(op, dtype, &ts, steps, c)?;
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
        // validated once here; the backend of the parameters' device runs the step
        let (_, dtype) = validate(op, params, &groups)?;
        let ts: Vec<StepOperands> =
            (0..params.len()).map(|i| operands(&params[i], &grads[i], [if mom { Some(&momentum_buffers[i]) } else { None }, None, None])).collect();
        crate::kernels::fused_sgd(op, dtype, &ts, first, c)?;
        bump(&[params]);
        if mom {
            bump(&[momentum_buffers]);
        }
        Ok(())
    }
}
