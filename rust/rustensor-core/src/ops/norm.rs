//! Layer, RMS and group normalisation as core ops: one kernel for a row's statistics and its
//! normalised, scaled output (`cpu_backend/norm.rs`, `wgsl/norm.wgsl`), and one for the
//! backward, recorded as one node that saves the input and the per-row mean and 1/std.
//! Before, each was a Python chain of mean, var, sub, rsqrt, mul and add, with a dozen saved
//! tensors and as many backward nodes.
//!
//! Under `create_graph` the backward is written in differentiable tensor ops instead, so higher
//! order gradients work as elsewhere.
use crate::backend::NormOperands;
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::cpu_backend::norm::NormGeom;
use crate::error::fmt_shape;
use crate::op::UnaryOp;
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// torch's `layer_norm` (or `rms_norm` when `rms`) over the trailing dims, whose sizes
    /// `normalized` gives; `weight` and `bias` have that shape.
    pub fn layer_norm(&self, normalized: &[usize], weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64, rms: bool) -> Result<Tensor> {
        let op = if rms { "rms_norm" } else { "layer_norm" };
        let sh = self.shape();
        let k = normalized.len();
        if k == 0 || sh.len() < k || &sh[sh.len() - k..] != normalized {
            let dims = normalized.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
            bail!(
                Runtime,
                "Given normalized_shape={}, expected input with shape [*, {dims}], but got input of size{}",
                fmt_shape(normalized),
                fmt_shape(sh)
            );
        }
        for (t, what) in [(weight, "weight"), (bias, "bias")] {
            if let Some(t) = t {
                if t.shape() != normalized {
                    bail!(
                        Runtime,
                        "Expected {what} to be of same shape as normalized_shape, but got {what} of shape {} and normalized_shape = {}",
                        fmt_shape(t.shape()),
                        fmt_shape(normalized)
                    );
                }
            }
        }
        let n: usize = normalized.iter().product();
        let rows = sh[..sh.len() - k].iter().product();
        let g = NormGeom::rows(rows, n, 1, 1, rms, eps);
        Ok(norm(op, if rms { "RmsNormBackward0" } else { "NativeLayerNormBackward0" }, self, weight, bias, g, normalized, None, false)?.0)
    }

    /// torch's `group_norm`: `self` is (N, C, *), normalised over each of `groups` groups of
    /// C / groups channels; `weight` and `bias` hold one value per channel.
    pub fn group_norm(&self, groups: usize, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Result<Tensor> {
        let sh = self.shape();
        if sh.len() < 2 {
            bail!(Runtime, "Expected at least 2 dimensions for input tensor but received {}", sh.len());
        }
        let (nb, c) = (sh[0], sh[1]);
        if groups == 0 {
            bail!(Runtime, "Expected num groups to be greater than 0, got 0");
        }
        if !c.is_multiple_of(groups) {
            bail!(
                Runtime,
                "Expected number of channels in input to be divisible by num_groups, but got input of shape {} and num_groups={groups}",
                fmt_shape(sh)
            );
        }
        for (t, what) in [(weight, "weight"), (bias, "bias")] {
            if let Some(t) = t.filter(|t| t.numel() != c || t.ndim() != 1) {
                bail!(
                    Runtime,
                    "Expected {what} to be a vector of size equal to the number of channels in input, but got {what} of shape {} and input of shape {}",
                    fmt_shape(t.shape()),
                    fmt_shape(sh)
                );
            }
        }
        let inner: usize = sh[2..].iter().product();
        let g = NormGeom::rows(nb * groups, c / groups * inner, groups, inner, false, eps);
        Ok(norm("group_norm", "NativeGroupNormBackward0", self, weight, bias, g, &[c], None, false)?.0)
    }

    /// torch's `batch_norm` over (N, C, *) without the running-statistics update: with
    /// `running` = (mean, var) the input is normalised with them (eval mode), else with the
    /// batch's own statistics. Returns (y, mean, biased variance) of each channel (in training
    /// the batch's, from which the caller updates the running statistics).
    pub fn batch_norm(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, running: Option<(&Tensor, &Tensor)>, eps: f64) -> Result<(Tensor, Tensor, Tensor)> {
        let sh = self.shape();
        if sh.len() < 2 {
            bail!(Value, "expected 2D or higher input (got {}D input)", sh.len());
        }
        let (nb, c) = (sh[0], sh[1]);
        let inner: usize = sh[2..].iter().product();
        let mut given: Vec<(Option<&Tensor>, &str)> = vec![(weight, "weight"), (bias, "bias")];
        if let Some((m, v)) = running {
            given.push((Some(m), "running_mean"));
            given.push((Some(v), "running_var"));
        }
        for (t, what) in given {
            if let Some(t) = t {
                if t.numel() != c {
                    bail!(Runtime, "{what} should contain {c} elements not {}", t.numel());
                }
            }
        }
        let g = NormGeom::channels(nb, c, inner, running.is_some(), eps);
        let stats = match running {
            None => None,
            Some((m, v)) => {
                let _ng = crate::backprop::GradModeGuard::new(false);
                let dt = if matches!(self.dtype(), DType::F64) { DType::F64 } else { DType::F32 };
                let mean = m.reshape(&[c])?.to_dtype(dt)?.contiguous_owned()?;
                let rstd = v.reshape(&[c])?.to_dtype(dt)?.add_scalar(eps)?.unary(UnaryOp::Rsqrt)?.contiguous_owned()?;
                Some((mean, rstd))
            }
        };
        let (y, mean, rstd, var) = norm("batch_norm", "NativeBatchNormBackward0", self, weight, bias, g, &[c], stats, true)?;
        let var = match var {
            Some(v) => v,
            // from 1/std where the kernel does not write it (the GPU), never below 0
            None => {
                let _ng = crate::backprop::GradModeGuard::new(false);
                rstd.mul(&rstd)?.unary(UnaryOp::Reciprocal)?.add_scalar(-eps)?.clamp(Some(0.0), None)?
            }
        };
        Ok((y, mean, var))
    }
}

/// `t`, or a contiguous copy of it (no autograd: for handing to a kernel).
fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.contiguous_owned()
    }
}

/// The recorded op: float16/bfloat16 run in float32 (through recorded casts), the weight and
/// bias are cast to the input's dtype. `stats` are the fixed (mean, rstd) of `g.fixed`, in the
/// compute dtype. Returns (y, mean, rstd).
#[allow(clippy::too_many_arguments)]
fn norm(
    op: &str,
    name: &'static str,
    x: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    g: NormGeom,
    wshape: &[usize],
    stats: Option<(Tensor, Tensor)>,
    want_var: bool,
) -> Result<(Tensor, Tensor, Tensor, Option<Tensor>)> {
    let mut all = vec![x];
    all.extend(w);
    all.extend(b);
    same_device(op, &all)?;
    let dt = x.dtype();
    if !dt.is_float() {
        let kernel = match op {
            "group_norm" => "GroupNormKernelImpl",
            "batch_norm" => "batch_norm",
            _ => "LayerNormKernelImpl",
        };
        bail!(Runtime, "\"{kernel}\" not implemented for '{}'", crate::op::torch_type_name(dt));
    }
    let to = |t: Option<&Tensor>, d: DType| t.map(|t| if t.dtype() == d { Ok(t.clone()) } else { t.to_dtype(d) }).transpose();
    if matches!(dt, DType::F16 | DType::BF16) {
        let (xw, ww, bw) = (x.to_dtype(DType::F32)?, to(w, DType::F32)?, to(b, DType::F32)?);
        let (y, m, r, v) = norm(op, name, &xw, ww.as_ref(), bw.as_ref(), g, wshape, stats, want_var)?;
        return Ok((y.to_dtype(dt)?, m, r, v));
    }
    let (w, b) = (to(w, dt)?, to(b, dt)?);
    let dev = x.device();
    let y = empty(x.shape(), dt, dev)?;
    let (mean, rstd) = match stats {
        Some(s) => s,
        None => (empty(&[g.rows], dt, dev)?, empty(&[g.rows], dt, dev)?),
    };
    // batch norm's variance for the running statistics: the CPU kernel writes it
    let var = (want_var && dev == crate::Device::Cpu).then(|| empty(&[g.rows], dt, dev)).transpose()?;
    if g.rows > 0 && g.n == 0 && !g.fixed {
        // the statistics of no elements (torch's mean of nothing)
        for t in [&mean, &rstd].into_iter().chain(var.as_ref()) {
            t.fill_(crate::Scalar::Float(f64::NAN))?;
        }
    }
    if g.rows * g.n > 0 {
        let (xd, wd, bd) = (dense(x)?, w.as_ref().map(dense).transpose()?, b.as_ref().map(dense).transpose()?);
        let a = NormOperands {
            x: xd.strided(),
            w: wd.as_ref().map(|t| t.strided()),
            b: bd.as_ref().map(|t| t.strided()),
            gy: None,
            mean: mean.strided(),
            rstd: rstd.strided(),
            var: var.as_ref().map(|v| v.strided()),
            out: Some(y.strided()),
            dw: None,
            db: None,
        };
        crate::kernels::norm(dt, &a, &g, false)?;
    }
    let mut inputs = vec![x];
    inputs.extend(w.as_ref());
    inputs.extend(b.as_ref());
    let wshape = wshape.to_vec();
    let (m, r) = (mean.clone(), rstd.clone());
    let y = record(y, name, &inputs, |_, _| GradFn::Norm {
        x: Saved::input(x),
        w: w.as_ref().map(Saved::input),
        has_bias: b.is_some(),
        mean: m,
        rstd: r,
        geom: g,
        wshape,
    });
    Ok((y, mean, rstd, var))
}

/// The gradients of a normalisation for (x[, w][, b]); `needs(i)` says which inputs want one.
#[allow(clippy::too_many_arguments)]
pub(crate) fn norm_backward(
    name: &str,
    g: &Tensor,
    x: &Saved,
    w: Option<&Saved>,
    has_bias: bool,
    mean: &Tensor,
    rstd: &Tensor,
    geom: &NormGeom,
    wshape: &[usize],
    needs: impl Fn(usize) -> bool,
) -> Result<Vec<Option<Tensor>>> {
    let x = x.get(name)?;
    let w = w.map(|w| w.get(name)).transpose()?;
    let dt = x.dtype();
    let g = g.to_dtype(dt)?;
    let has_w = w.is_some();
    let (need_x, need_w, need_b) = (needs(0), has_w && needs(1), has_bias && needs(1 + usize::from(has_w)));
    let mut check = vec![&g, &x];
    check.extend(w.as_ref());
    if is_grad_enabled() && check.iter().any(|t| t.requires_grad()) {
        return differentiable_backward(&g, &x, w.as_ref(), has_bias, (mean, rstd), geom, wshape, [need_x, need_w, need_b]);
    }
    let dev = x.device();
    let gx = need_x.then(|| empty(x.shape(), dt, dev)).transpose()?;
    let (dw, db) = if geom.rows * geom.n == 0 {
        (need_w.then(|| Tensor::zeros(wshape, dt, dev)).transpose()?, need_b.then(|| Tensor::zeros(wshape, dt, dev)).transpose()?)
    } else {
        let wl = geom.weight_len();
        let dw = need_w.then(|| empty(&[wl], dt, dev)).transpose()?;
        let db = need_b.then(|| empty(&[wl], dt, dev)).transpose()?;
        let (xd, gd, wd) = (dense(&x)?, dense(&g)?, w.as_ref().map(dense).transpose()?);
        let a = NormOperands {
            x: xd.strided(),
            w: wd.as_ref().map(|t| t.strided()),
            b: None,
            gy: Some(gd.strided()),
            mean: mean.strided(),
            rstd: rstd.strided(),
            var: None,
            out: gx.as_ref().map(|t| t.strided()),
            dw: dw.as_ref().map(|t| t.strided()),
            db: db.as_ref().map(|t| t.strided()),
        };
        crate::kernels::norm(dt, &a, geom, true)?;
        (dw.map(|t| t.reshape(wshape)).transpose()?, db.map(|t| t.reshape(wshape)).transpose()?)
    };
    let mut out = vec![gx];
    if has_w {
        out.push(dw);
    }
    if has_bias {
        out.push(db);
    }
    Ok(out)
}

/// The backward in differentiable ops (for create_graph): the statistics recomputed from x
/// (or the fixed ones), everything seen through a 4-d view whose dims 0 and 3 run over the
/// weights' elements and in which the weights are (1, groups, wl, 1): for rows of contiguous
/// elements (rows / groups, groups, n / inner, inner) with statistics over dims 2 and 3; for
/// batch norm (N, C, 1, H*W) with statistics over dims 0 and 3.
#[allow(clippy::too_many_arguments)]
fn differentiable_backward(
    g: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    has_bias: bool,
    saved: (&Tensor, &Tensor),
    geom: &NormGeom,
    wshape: &[usize],
    need: [bool; 3],
) -> Result<Vec<Option<Tensor>>> {
    let inner = geom.inner.max(1);
    let channels = geom.seg < geom.n;
    let (v, stat): ([usize; 4], [i64; 2]) = if channels {
        ([geom.n / geom.seg.max(1), geom.rows, 1, geom.seg], [0, 3])
    } else {
        ([geom.rows / geom.groups.max(1), geom.groups, geom.n / inner, inner], [2, 3])
    };
    let (x4, g4) = (x.reshape(&v)?, g.reshape(&v)?);
    let wv = [1, v[1], v[2], 1];
    let (xc, rstd) = if geom.fixed {
        let (m, r) = (saved.0.to_dtype(x.dtype())?.reshape(&wv)?, saved.1.to_dtype(x.dtype())?.reshape(&wv)?);
        (x4.sub(&m)?, r)
    } else {
        let xc = if geom.rms { x4.clone() } else { x4.sub(&x4.mean(Some(&stat), true)?)? };
        let rstd = xc.mul(&xc)?.mean(Some(&stat), true)?.add_scalar(geom.eps)?.unary(UnaryOp::Rsqrt)?;
        (xc, rstd)
    };
    let xh = xc.mul(&rstd)?;
    let w4 = w.map(|w| w.reshape(&wv)).transpose()?;
    let mut out = Vec::new();
    let gx = if need[0] {
        let gw = match &w4 {
            Some(w) => g4.mul(w)?,
            None => g4.clone(),
        };
        let mut inner_sum = gw.clone();
        if !geom.fixed {
            inner_sum = inner_sum.sub(&xh.mul(&gw.mul(&xh)?.mean(Some(&stat), true)?)?)?;
            if !geom.rms {
                inner_sum = inner_sum.sub(&gw.mean(Some(&stat), true)?)?;
            }
        }
        Some(rstd.mul(&inner_sum)?.reshape(x.shape())?)
    } else {
        None
    };
    out.push(gx);
    if w.is_some() {
        out.push(need[1].then(|| g4.mul(&xh)?.sum_dims(&[0, 3], false)?.reshape(wshape)).transpose()?);
    }
    if has_bias {
        out.push(need[2].then(|| g4.sum_dims(&[0, 3], false)?.reshape(wshape)).transpose()?);
    }
    Ok(out)
}
