//! Reductions and the normalisations built on them (softmax, log_softmax, logsumexp, var).
use crate::backprop::{record, GradFn, GradModeGuard, Saved};
use crate::cpu_backend::reduce as kr;
use crate::error::wrap_dim;
use crate::op::{BinaryOp, ReduceOp};
use crate::ops::from_storage;
use crate::{bail, DType, Result, Scalar, Tensor};

/// Normalises user dims (None = all) into a sorted, de-duplicated list.
pub fn norm_dims(op: &str, dims: Option<&[i64]>, ndim: usize) -> Result<Vec<usize>> {
    match dims {
        None => Ok((0..ndim).collect()),
        Some(ds) => {
            let mut out = vec![];
            for &d in ds {
                let w = wrap_dim(op, d, ndim)?;
                if out.contains(&w) {
                    bail!(Runtime, "{op}: dim {w} appears multiple times in the list of dims");
                }
                out.push(w);
            }
            if ndim == 0 {
                out.clear();
            }
            out.sort_unstable();
            Ok(out)
        }
    }
}

fn kept_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = vec![];
    for (d, &s) in shape.iter().enumerate() {
        if dims.contains(&d) {
            if keepdim {
                out.push(1);
            }
        } else {
            out.push(s);
        }
    }
    out
}

impl Tensor {
    /// Runs a reduction kernel without recording; output shaped per `keepdim`.
    pub(crate) fn reduce_raw(&self, op: ReduceOp, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        let mask: Vec<bool> = (0..self.ndim()).map(|d| dims.contains(&d)).collect();
        let odt = kr::out_dtype(op, self.dtype());
        let st = crate::kernels::reduce(op, self.dtype(), self.strided(), &mask)?;
        Ok(from_storage(st, odt, &kept_shape(self.shape(), dims, keepdim)))
    }

    pub fn sum_dims(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        let out = self.reduce_raw(ReduceOp::Sum, dims, keepdim)?;
        let (shape, dims) = (self.shape().to_vec(), dims.to_vec());
        Ok(record(out, "SumBackward1", &[self], |_, _| GradFn::Sum { shape, dims, keepdim }))
    }

    pub fn sum(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = norm_dims("sum", dims, self.ndim())?;
        self.sum_dims(&d, keepdim)
    }

    pub fn mean(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(
                Runtime,
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                crate::op::torch_type_name(self.dtype())
            );
        }
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            // torch accumulates and divides half in float32: the sum of two 65504s is no overflow
            return self.to_dtype(DType::F32)?.mean(dims, keepdim)?.to_dtype(self.dtype());
        }
        let d = norm_dims("mean", dims, self.ndim())?;
        let n: usize = d.iter().map(|&i| self.shape()[i]).product();
        let s = self.sum_dims(&d, keepdim)?;
        s.binary_scalar(BinaryOp::Div, Scalar::Float(n as f64), false)
    }

    pub fn prod(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = norm_dims("prod", dims, self.ndim())?;
        let out = self.reduce_raw(ReduceOp::Prod, &d, keepdim)?;
        Ok(record(out, "ProdBackward1", &[self], |out, w| GradFn::Prod {
            x: Saved::input(self),
            out: Saved::output(out, w),
            dims: d,
            keepdim,
        }))
    }

    /// `amax`/`amin` (and full `max()`/`min()`): gradient split evenly among ties.
    pub fn extreme(&self, max: bool, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let name = if max { "amax" } else { "amin" };
        let d = norm_dims(name, dims, self.ndim())?;
        if dims.is_none() && self.numel() == 0 {
            bail!(
                Index,
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            );
        }
        // torch reduces an empty tensor along non-empty dims (giving an empty result)
        if let Some(&z) = d.iter().find(|&&i| self.shape()[i] == 0) {
            bail!(Index, "{name}(): Expected reduction dim {z} to have non-zero size.");
        }
        let op = if max { ReduceOp::Max } else { ReduceOp::Min };
        let out = self.reduce_raw(op, &d, keepdim)?;
        let gname = if max { "AmaxBackward0" } else { "AminBackward0" };
        Ok(record(out, gname, &[self], |out, w| GradFn::Extreme {
            x: Saved::input(self),
            out: Saved::output(out, w),
            dims: d,
            keepdim,
        }))
    }

    /// `max(dim)`/`min(dim)`: (values, indices).
    pub fn extreme_dim(&self, max: bool, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
        let name = if max { "max" } else { "min" };
        let d = wrap_dim(name, dim, self.ndim())?;
        if self.ndim() > 0 && self.shape()[d] == 0 {
            bail!(
                Index,
                "{name}(): Expected reduction dim {d} to have non-zero size."
            );
        }
        let dims: Vec<usize> = if self.ndim() == 0 { vec![] } else { vec![d] };
        let (op, aop) = if max { (ReduceOp::Max, ReduceOp::ArgMax) } else { (ReduceOp::Min, ReduceOp::ArgMin) };
        let values = self.reduce_raw(op, &dims, keepdim)?;
        let indices = self.reduce_raw(aop, &dims, keepdim)?;
        let shape = self.shape().to_vec();
        let idx = indices.clone();
        let gname = if max { "MaxBackward0" } else { "MinBackward0" };
        let values = record(values, gname, &[self], |_, _| GradFn::ExtremeDim { shape, indices: idx, dim: d, keepdim });
        Ok((values, indices))
    }

    pub fn argextreme(&self, max: bool, dim: Option<i64>, keepdim: bool) -> Result<Tensor> {
        let name = if max { "argmax" } else { "argmin" };
        let op = if max { ReduceOp::ArgMax } else { ReduceOp::ArgMin };
        match dim {
            None => {
                if self.numel() == 0 {
                    bail!(Runtime, "{name}(): Expected reduction dim to be specified for input.numel() == 0.");
                }
                let flat = self.reshape(&[self.numel()])?;
                let r = flat.reduce_raw(op, &[0], false)?;
                if keepdim {
                    r.reshape(&vec![1; self.ndim()])
                } else {
                    Ok(r)
                }
            }
            Some(dim) => {
                let d = wrap_dim(name, dim, self.ndim())?;
                if self.ndim() > 0 && self.shape()[d] == 0 {
                    bail!(Index, "{name}(): Expected reduction dim {d} to have non-zero size.");
                }
                let dims: Vec<usize> = if self.ndim() == 0 { vec![] } else { vec![d] };
                self.reduce_raw(op, &dims, keepdim)
            }
        }
    }

    pub fn any_all(&self, any: bool, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let d = norm_dims(if any { "any" } else { "all" }, dims, self.ndim())?;
        self.reduce_raw(if any { ReduceOp::Any } else { ReduceOp::All }, &d, keepdim)
    }

    /// `var(dims, correction, keepdim)` (torch's default correction is 1).
    pub fn var(&self, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(Runtime, "std and var only support floating point and complex dtypes");
        }
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            return self.to_dtype(DType::F32)?.var(dims, correction, keepdim)?.to_dtype(self.dtype());
        }
        let d = norm_dims("var", dims, self.ndim())?;
        let n: usize = d.iter().map(|&i| self.shape()[i]).product();
        let di: Vec<i64> = d.iter().map(|&x| x as i64).collect();
        let mean = self.mean(Some(&di), true)?;
        let diff = self.sub(&mean)?;
        let ss = diff.mul(&diff)?.sum_dims(&d, keepdim)?;
        ss.binary_scalar(BinaryOp::Div, Scalar::Float((n as f64 - correction).max(0.0)), false)
    }

    pub fn std(&self, dims: Option<&[i64]>, correction: f64, keepdim: bool) -> Result<Tensor> {
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            // the variance may overflow half where the deviation does not
            return self.to_dtype(DType::F32)?.std(dims, correction, keepdim)?.to_dtype(self.dtype());
        }
        self.var(dims, correction, keepdim)?.sqrt()
    }

    pub fn logsumexp(&self, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.to_dtype(DType::F32)? };
        let d = norm_dims("logsumexp", dims, x.ndim())?;
        if x.numel() == 0 {
            return x.exp()?.sum_dims(&d, keepdim)?.log();
        }
        let m = {
            let _g = GradModeGuard::new(false);
            let m = x.reduce_raw(ReduceOp::Max, &d, true)?;
            // an all -inf (or inf) slice would give nan from inf - inf: shift by 0 there
            let finite = m.unary(crate::op::UnaryOp::IsFinite)?;
            let zero = Tensor::scalar_operand(Scalar::Float(0.0), m.dtype(), m.device())?;
            Tensor::where_(&finite, &m, &zero)?
        };
        let s = x.sub(&m)?.exp()?.sum_dims(&d, keepdim)?.log()?;
        let m2 = if keepdim { m } else { m.reshape(&kept_shape(x.shape(), &d, false))? };
        s.add(&m2)
    }

    /// Softmax along `dim`; one node whose backward uses the saved output.
    pub fn softmax(&self, dim: i64) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.to_dtype(DType::F32)? };
        let d = wrap_dim("softmax", dim, x.ndim())?;
        let out = {
            let _g = GradModeGuard::new(false);
            if x.ndim() == 0 {
                Tensor::ones_like(&x)?
            } else if x.numel() == 0 {
                x.clone_tensor()?
            } else {
                let m = x.reduce_raw(ReduceOp::Max, &[d], true)?;
                let e = x.sub(&m)?.exp()?;
                let s = e.reduce_raw(ReduceOp::Sum, &[d], true)?;
                e.binary_(BinaryOp::Div, &s)?;
                e
            }
        };
        Ok(record(out, "SoftmaxBackward0", &[&x], |out, w| GradFn::Softmax { out: Saved::output(out, w), dim: d }))
    }

    pub fn log_softmax(&self, dim: i64) -> Result<Tensor> {
        let x = if self.dtype().is_float() { self.clone() } else { self.to_dtype(DType::F32)? };
        let d = wrap_dim("log_softmax", dim, x.ndim())?;
        let out = {
            let _g = GradModeGuard::new(false);
            if x.ndim() == 0 {
                Tensor::zeros(&[], x.dtype(), x.device())?
            } else if x.numel() == 0 {
                x.clone_tensor()?
            } else {
                let m = x.reduce_raw(ReduceOp::Max, &[d], true)?;
                let shifted = x.sub(&m)?;
                let lse = shifted.exp()?.reduce_raw(ReduceOp::Sum, &[d], true)?.log()?;
                shifted.binary_(BinaryOp::Sub, &lse)?;
                shifted
            }
        };
        Ok(record(out, "LogSoftmaxBackward0", &[&x], |out, w| GradFn::LogSoftmax { out: Saved::output(out, w), dim: d }))
    }

    /// p-norm over dims (p = 2 by default; inf and -inf for max/min of |x|).
    pub fn norm(&self, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            bail!(Runtime, "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}", self.dtype().name());
        }
        let a = self.unary(crate::op::UnaryOp::Abs)?;
        if p.is_infinite() {
            return a.extreme(p > 0.0, dims, keepdim);
        }
        if p == 2.0 {
            let d = norm_dims("norm", dims, self.ndim())?;
            return root_zero_grad(self.mul(self)?.sum_dims(&d, keepdim)?, |s| s.sqrt());
        }
        if p == 1.0 {
            return a.sum(dims, keepdim);
        }
        if p == 0.0 {
            let nz = self.binary_scalar(BinaryOp::Ne, Scalar::Float(0.0), false)?.to_dtype(self.dtype())?;
            return nz.sum(dims, keepdim);
        }
        let s = a.binary_scalar(BinaryOp::Pow, Scalar::Float(p), false)?.sum(dims, keepdim)?;
        root_zero_grad(s, |s| s.binary_scalar(BinaryOp::Pow, Scalar::Float(1.0 / p), false))
    }
}

/// `root(s)` for a norm's sum `s >= 0`, with torch's gradient 0 where `s == 0` (the root's
/// derivative is infinite there and 0 * inf gave NaN). Only a recorded graph pays for it.
fn root_zero_grad(s: Tensor, root: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    if !(crate::backprop::is_grad_enabled() && s.requires_grad()) {
        return root(&s);
    }
    let zero = s.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?;
    let one = Tensor::scalar_operand(Scalar::Float(1.0), s.dtype(), s.device())?;
    let nil = Tensor::scalar_operand(Scalar::Float(0.0), s.dtype(), s.device())?;
    Tensor::where_(&zero, &nil, &root(&Tensor::where_(&zero, &one, &s)?)?)
}
