//! `ctc_loss` per sequence as one core op on CPU float tensors: the recursions and the
//! gradient in one kernel (`cpu_backend/ctc.rs`); the reductions stay in Python.
use crate::backprop::{record, GradFn};
use crate::cpu_backend::ctc::{ctc_loss, CtcArgs};
use crate::error::fmt_shape;
use crate::ops::from_storage;
use crate::storage::{CpuStorage, Device, StorageData};
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// The CTC loss of each sequence of log-probabilities `self` (T, N, C) against padded
    /// `labels` (N, s), shaped (N,); +inf where no alignment exists. Its gradient is the true
    /// gradient with respect to `self` (zero for an impossible sequence).
    pub fn ctc_loss(&self, labels: &[i64], s: usize, input_lengths: &[usize], target_lengths: &[usize], blank: usize) -> Result<Tensor> {
        let sh = self.shape();
        if sh.len() != 3 {
            bail!(Runtime, "ctc_loss: expected log_probs of shape (T, N, C), got {}", fmt_shape(sh));
        }
        if self.device() != Device::Cpu || !matches!(self.dtype(), DType::F32 | DType::F64) {
            bail!(Runtime, "ctc_loss: the kernel takes float32/float64 CPU tensors, got {} on {}", self.dtype().name(), self.device().name());
        }
        let (t, n, c) = (sh[0], sh[1], sh[2]);
        if input_lengths.len() != n || target_lengths.len() != n {
            bail!(Runtime, "ctc_loss: {} input and {} target lengths for a batch of {n}", input_lengths.len(), target_lengths.len());
        }
        if labels.len() != n * s {
            bail!(Runtime, "ctc_loss: {} labels for a batch of {n} padded to {s}", labels.len());
        }
        if blank >= c {
            bail!(Runtime, "blank must be in label range");
        }
        if let Some(&il) = input_lengths.iter().find(|&&il| il > t) {
            bail!(Runtime, "Expected input_lengths to have value at most {t}, but got value {il}");
        }
        if let Some(&tl) = target_lengths.iter().find(|&&tl| tl > s) {
            bail!(Runtime, "ctc_loss: target length {tl} exceeds the padded target size {s}");
        }
        for (b, &tl) in target_lengths.iter().enumerate() {
            if let Some(&l) = labels[b * s..b * s + tl].iter().find(|&&l| l < 0 || l as usize >= c) {
                bail!(Index, "ctc_loss: target {l} is out of bounds for {c} classes");
            }
        }
        let a = CtcArgs { t, n, c, labels, s, input_lengths, target_lengths, blank };
        let (losses, grad) = crate::kernels::guarded("ctc_loss", || {
            Ok(match self.dtype() {
                DType::F64 => {
                    let (l, g) = ctc_loss::<f64>(self.strided(), &a);
                    (CpuStorage::from_vec(l), CpuStorage::from_vec(g))
                }
                _ => {
                    let (l, g) = ctc_loss::<f32>(self.strided(), &a);
                    (CpuStorage::from_vec(l), CpuStorage::from_vec(g))
                }
            })
        })?;
        let out = from_storage(StorageData::Cpu(losses), self.dtype(), &[n]);
        let grad = from_storage(StorageData::Cpu(grad), self.dtype(), &[t, n, c]);
        Ok(record(out, "CtcLossBackward0", &[self], |_, _| GradFn::Ctc { grad }))
    }
}

/// The backward: each sequence's gradient scaled by the incoming gradient of its loss.
pub(crate) fn ctc_backward(g: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let n = grad.shape()[1] as i64;
    g.reshape_i(&[1, n, 1])?.mul(grad)
}
