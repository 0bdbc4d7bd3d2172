//! Cross-entropy of class logits against class indices as one core op: per row the loss
//! (with class weights, an ignored index and label smoothing) from one kernel that also keeps
//! the row's log-sum-exp, and a backward that writes softmax - one-hot directly
//! (`cpu_backend/xent.rs`, `wgsl/xent.wgsl`). Before, it was log_softmax, gather, a scatter
//! into a zero matrix and log_softmax's backward: three (N, C) temporaries and four passes.
//!
//! The reduction stays with the caller (a sum, or a weighted mean of the rows).
use crate::backend::XentOperands;
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::cpu_backend::xent::XentGeom;
use crate::error::fmt_shape;
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Tensor};

/// `t`, or a contiguous copy (no autograd).
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.contiguous_owned()
    }
}

impl Tensor {
    /// The cross-entropy of each row of `self` (N, C) against `target` (N, int64): 0 where the
    /// target is `ignore_index`, class weights `weight` (C) and label smoothing `smoothing`
    /// as torch defines them. Returns the (N) losses; `weight` gets no gradient (as in torch).
    pub fn cross_entropy_rows(&self, target: &Tensor, weight: Option<&Tensor>, ignore_index: i64, smoothing: f64) -> Result<Tensor> {
        let op = "cross_entropy";
        let mut all = vec![self, target];
        all.extend(weight);
        same_device(op, &all)?;
        let dt = self.dtype();
        if !dt.is_float() || self.ndim() != 2 {
            bail!(Runtime, "{op}: expected 2-d floating-point logits, got {} {}", dt.name(), fmt_shape(self.shape()));
        }
        let (n, c) = (self.shape()[0], self.shape()[1]);
        if target.dtype() != DType::I64 || target.shape() != [n] {
            bail!(Runtime, "{op}: expected an int64 target of shape [{n}], got {} {}", target.dtype().name(), fmt_shape(target.shape()));
        }
        if let Some(w) = weight {
            if w.shape() != [c] {
                bail!(Runtime, "weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {}", fmt_shape(w.shape()));
            }
        }
        if matches!(dt, DType::F16 | DType::BF16) {
            let w32 = weight.map(|w| w.to_dtype(DType::F32)).transpose()?;
            return self.to_dtype(DType::F32)?.cross_entropy_rows(target, w32.as_ref(), ignore_index, smoothing)?.to_dtype(dt);
        }
        if c == 0 && n > 0 {
            bail!(Runtime, "{op}: expected at least one class, got logits of shape {}", fmt_shape(self.shape()));
        }
        let w = weight.map(|w| if w.dtype() == dt { dense(w) } else { w.to_dtype(dt)?.contiguous_owned() }).transpose()?;
        let w = w.map(|w| w.detach());
        let dev = self.device();
        // per row the maximum and log Σ exp(x - max) (their sum is the log-sum-exp)
        let (loss, lse) = (empty(&[n], dt, dev)?, empty(&[n, 2], dt, dev)?);
        let geom = XentGeom { rows: n, classes: c, ignore_index, smoothing };
        let (x, t) = (dense(self)?, dense(target)?);
        if n > 0 {
            let a = XentOperands {
                x: x.strided(),
                target: t.strided(),
                w: w.as_ref().map(|w| w.strided()),
                lse: lse.strided(),
                loss: Some(loss.strided()),
                g: None,
                gx: None,
            };
            crate::kernels::xent(dt, &a, &geom, false)?;
        }
        Ok(record(loss, "CrossEntropyBackward0", &[self], |_, _| GradFn::Xent { x: Saved::input(self), target: t, w, lse, geom }))
    }
}

/// The gradient of [`Tensor::cross_entropy_rows`] for the incoming per-row gradient `g`.
pub(crate) fn xent_backward(name: &str, g: &Tensor, x: &Saved, target: &Tensor, w: Option<&Tensor>, lse: &Tensor, geom: &XentGeom) -> Result<Vec<Option<Tensor>>> {
    let x = x.get(name)?;
    let dt = x.dtype();
    let g = g.to_dtype(dt)?;
    if is_grad_enabled() && (g.requires_grad() || x.requires_grad()) {
        return Ok(vec![Some(differentiable_backward(&g, &x, target, w, geom)?)]);
    }
    let gx = empty(x.shape(), dt, x.device())?;
    if geom.rows > 0 {
        let (xd, gd) = (dense(&x)?, dense(&g)?);
        let a = XentOperands {
            x: xd.strided(),
            target: target.strided(),
            w: w.map(|w| w.strided()),
            lse: lse.strided(),
            loss: None,
            g: Some(gd.strided()),
            gx: Some(gx.strided()),
        };
        crate::kernels::xent(dt, &a, geom, true)?;
    }
    Ok(vec![Some(gx)])
}

/// The backward in differentiable ops (create_graph): g (K softmax(x) - Q) with the constants
/// K (N, 1) and Q (N, C) built from the targets and weights.
fn differentiable_backward(g: &Tensor, x: &Tensor, target: &Tensor, w: Option<&Tensor>, geom: &XentGeom) -> Result<Tensor> {
    let (n, c) = (geom.rows, geom.classes);
    let ts = target.to_vec::<i64>()?;
    let ws: Vec<f64> = match w {
        Some(w) => w.to_dtype(DType::F64)?.to_vec::<f64>()?,
        None => vec![1.0; c],
    };
    let total: f64 = ws.iter().sum();
    let eps = geom.smoothing;
    let (mut k, mut q) = (vec![0.0f64; n], vec![0.0f64; n * c]);
    for (r, &t) in ts.iter().enumerate() {
        if t == geom.ignore_index || t < 0 || t as usize >= c {
            continue;
        }
        let (cw, sv) = ((1.0 - eps) * ws[t as usize], eps / c as f64);
        k[r] = cw + sv * total;
        for (j, wj) in ws.iter().enumerate() {
            q[r * c + j] = sv * wj;
        }
        q[r * c + t as usize] += cw;
    }
    let dev = x.device();
    let k = Tensor::from_vec(k, &[n, 1])?.to_dtype(x.dtype())?.to_device(dev)?;
    let q = Tensor::from_vec(q, &[n, c])?.to_dtype(x.dtype())?.to_device(dev)?;
    g.unsqueeze(1)?.mul(&x.softmax(1)?.mul(&k)?.sub(&q)?)
}
