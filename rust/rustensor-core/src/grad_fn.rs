//! The backward formulas: one match over [`GradFn`], written with differentiable tensor ops
//! so that `create_graph=True` records them and higher-order gradients work.
use crate::backprop::{GradFn, Node};
use crate::op::BinaryOp;
use crate::{DType, Result, Scalar, Tensor};

fn scalar_like(t: &Tensor, v: f64) -> Result<Tensor> {
    Tensor::scalar_operand(Scalar::Float(v), t.dtype(), t.device())
}

/// Re-inserts reduced dims (size 1) so a reduced gradient broadcasts against the input.
fn unsqueeze_dims(g: &Tensor, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    if keepdim {
        return Ok(g.clone());
    }
    let mut g = g.clone();
    for &d in dims {
        g = g.unsqueeze(d as i64)?;
    }
    Ok(g)
}

/// `flip(cumsum(flip(t)))` along `dim`: each position sums itself and everything after it.
fn rev_cumsum(t: &Tensor, dim: usize) -> Result<Tensor> {
    if t.ndim() == 0 {
        return Ok(t.clone());
    }
    let d = dim as i64;
    t.flip(&[d])?.cumsum(d)?.flip(&[d])
}

/// cumprod's input gradient, zeros included. Without zeros it is `rev_cumsum(g * out) / x`.
/// With zeros, per line with its first zero at z:
/// - before z that form still holds (x[k] != 0 there);
/// - at z it is `sum_{j >= z} g[j] prod_{i <= j, i != z} x[i]`, i.e. `rev_cumsum(g * cumprod(y))`
///   at z for `y` = x with that zero replaced by 1;
/// - after z it is x[z] times y's own cumprod gradient: 0 in value, but with create_graph its
///   derivative in x[z] is not, so only then is it built (one recursion per further zero).
///
/// Every piece is a differentiable op, so double backward holds at zeros too.
fn cumprod_backward(g: &Tensor, x: &Tensor, out: &Tensor, dim: usize) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Ok(g.clone());
    }
    let is_zero = x.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?;
    let any = is_zero.numel() > 0 && is_zero.any_all(true, None, false)?.item_f64()? != 0.0;
    if !any {
        return rev_cumsum(&g.mul(out)?, dim)?.div(x);
    }
    let (one, nil) = (scalar_like(x, 1.0)?, scalar_like(g, 0.0)?);
    let zeros_so_far = is_zero.cumsum(dim as i64)?;
    let before = zeros_so_far.binary_scalar(BinaryOp::Eq, Scalar::Int(0), false)?;
    let first = is_zero.binary(BinaryOp::LogicalAnd, &zeros_so_far.binary_scalar(BinaryOp::Eq, Scalar::Int(1), false)?)?;
    let head = rev_cumsum(&g.mul(out)?, dim)?.div(&Tensor::where_(&before, x, &one)?)?;
    let mut grad = Tensor::where_(&before, &head, &nil)?;
    let y = Tensor::where_(&first, &one, x)?;
    let cp = y.cumprod(dim as i64)?;
    let at_zero = rev_cumsum(&Tensor::where_(&before, &nil, &g.mul(&cp)?)?, dim)?;
    grad = grad.add(&Tensor::where_(&first, &at_zero, &nil)?)?;
    if crate::backprop::is_grad_enabled() {
        let after = zeros_so_far.binary_scalar(BinaryOp::Gt, Scalar::Int(0), false)?.binary(BinaryOp::LogicalAnd, &first.unary(crate::op::UnaryOp::LogicalNot)?)?;
        let xz = Tensor::where_(&first, x, &nil)?.sum_dims(&[dim], true)?;
        let tail = xz.mul(&cumprod_backward(g, &y, &cp, dim)?)?;
        grad = grad.add(&Tensor::where_(&after, &tail, &nil)?)?;
    }
    Ok(grad)
}

/// logcumsumexp's input gradient `sum_{j >= k} g[j] exp(x[k] - out[j])`, in log space so
/// that nothing overflows: the positive and negative parts of `g` separately (torch's form).
fn logcumsumexp_backward(g: &Tensor, x: &Tensor, out: &Tensor, dim: usize) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Ok(g.clone());
    }
    let lowest = match g.dtype() {
        DType::F64 => f64::MIN,
        DType::F16 => -65504.0,
        // bfloat16's lowest finite value: f32::MIN would round to -inf there
        DType::BF16 => -3.389_531_389_251_535_5e38,
        _ => f32::MIN as f64,
    };
    let low = scalar_like(g, lowest)?;
    let log_abs = g.unary(crate::op::UnaryOp::Abs)?.log()?;
    let d = dim as i64;
    let part = |cmp: BinaryOp| -> Result<Tensor> {
        let lg = Tensor::where_(&g.binary_scalar(cmp, Scalar::Float(0.0), false)?, &log_abs, &low)?;
        lg.sub(out)?.flip(&[d])?.logcumsumexp(d)?.flip(&[d])?.add(x)?.exp()
    };
    part(BinaryOp::Gt)?.sub(&part(BinaryOp::Lt)?)
}

impl GradFn {
    /// Gradients for each recorded input, in record order (None: no gradient flows).
    pub fn backward(&self, name: &str, g: &Tensor, node: &Node) -> Result<Vec<Option<Tensor>>> {
        let needs = |i: usize| node.next.get(i).map(|n| n.is_some()).unwrap_or(false);
        Ok(match self {
            GradFn::Binary { op, a, b, out } => {
                let c = crate::op::BinCtx { g, a, b, out, name, need_a: needs(0), need_b: needs(1) };
                crate::op::binary_backward(*op, &c)?.into_iter().collect()
            }
            GradFn::Unary { op, x, out } => {
                vec![Some(crate::op::unary_backward(*op, &crate::op::UnCtx { g, x, out, name })?)]
            }
            GradFn::Ternary { op, value, a, b, c } => {
                crate::ops::pointwise::ternary_backward(*op, *value, g, [a, b, c], name, [needs(0), needs(1), needs(2)])?
            }
            GradFn::Clamp { x, min, max } => {
                let xv = x.get(name)?;
                let mut mask = Tensor::ones_like(&xv)?.to_dtype(DType::Bool)?;
                if let Some(lo) = min {
                    mask = mask.binary(BinaryOp::LogicalAnd, &xv.binary_scalar(BinaryOp::Gt, Scalar::Float(*lo), false)?)?;
                }
                if let Some(hi) = max {
                    mask = mask.binary(BinaryOp::LogicalAnd, &xv.binary_scalar(BinaryOp::Lt, Scalar::Float(*hi), false)?)?;
                }
                vec![Some(Tensor::where_(&mask, g, &scalar_like(g, 0.0)?)?)]
            }
            GradFn::Where { cond, .. } => {
                let z = scalar_like(g, 0.0)?;
                vec![Some(Tensor::where_(cond, g, &z)?), Some(Tensor::where_(cond, &z, g)?)]
            }
            GradFn::Cast { from } => vec![Some(g.to_dtype(*from)?)],
            GradFn::Identity => vec![Some(g.clone())],
            GradFn::Custom { f, inputs, outputs } => {
                let outs = crate::backprop::lock(outputs)
                    .iter()
                    .map(|s| s.as_ref().map(|s| s.get(name)).transpose())
                    .collect::<Result<Vec<_>>>()?;
                let gs = f(g, &outs)?;
                if gs.len() != *inputs {
                    crate::bail!(Runtime, "{name}: backward returned {} gradients for {inputs} inputs", gs.len());
                }
                gs
            }
            GradFn::ToDevice { device } => vec![Some(g.to_device(*device)?)],
            GradFn::ZeroGrad => vec![Some(g.mul_scalar(0.0)?)],
            GradFn::Scatter { dim, index } => {
                // positions overwritten by src get no gradient through self
                let keep = Tensor::ones_like(g)?;
                let zeros = Tensor::zeros(index.shape(), g.dtype(), g.device())?;
                let keep = {
                    let _ng = crate::backprop::GradModeGuard::new(false);
                    keep.scatter(*dim as i64, index, &zeros)?
                };
                vec![Some(g.mul(&keep)?), Some(g.gather(*dim as i64, index)?)]
            }
            GradFn::Sum { shape, dims, keepdim } => vec![Some(unsqueeze_dims(g, dims, *keepdim)?.expand(shape)?)],
            GradFn::Prod { x, out, dims, keepdim } => {
                let xv = x.get(name)?;
                let o = unsqueeze_dims(&out.get(name)?, dims, *keepdim)?;
                let ge = unsqueeze_dims(g, dims, *keepdim)?;
                let has_zero = xv.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?.any_all(true, None, false)?.item_f64()? != 0.0;
                if !has_zero {
                    vec![Some(ge.mul(&o)?.div(&xv)?)]
                } else {
                    vec![Some(ge.mul(&prod_others(&xv, dims)?)?)]
                }
            }
            GradFn::Extreme { x, out, dims, keepdim } => {
                let xv = x.get(name)?;
                let o = unsqueeze_dims(&out.get(name)?, dims, *keepdim)?;
                let mask = xv.binary(BinaryOp::Eq, &o)?.to_dtype(g.dtype())?;
                let count = mask.sum_dims(dims, true)?;
                let ge = unsqueeze_dims(g, dims, *keepdim)?;
                vec![Some(ge.mul(&mask)?.div(&count)?)]
            }
            GradFn::ExtremeDim { shape, indices, dim, keepdim } => {
                if shape.is_empty() {
                    return Ok(vec![Some(g.clone())]);
                }
                let gi = unsqueeze_dims(g, &[*dim], *keepdim)?;
                let ii = unsqueeze_dims(indices, &[*dim], *keepdim)?;
                let z = Tensor::zeros(shape, g.dtype(), g.device())?;
                vec![Some(z.scatter_add(*dim as i64, &ii.contiguous()?, &gi)?)]
            }
            GradFn::Softmax { out, dim } => {
                let o = out.get(name)?;
                let s = g.mul(&o)?.sum_dims(&[*dim], true)?;
                vec![Some(o.mul(&g.sub(&s)?)?)]
            }
            GradFn::LogSoftmax { out, dim } => {
                let o = out.get(name)?;
                let s = g.sum_dims(&[*dim], true)?;
                vec![Some(g.sub(&o.exp()?.mul(&s)?)?)]
            }
            GradFn::Cumsum { dim } => vec![Some(rev_cumsum(g, *dim)?)],
            GradFn::Cumprod { x, out, dim } => vec![Some(cumprod_backward(g, &x.get(name)?, &out.get(name)?, *dim)?)],
            GradFn::Logcumsumexp { x, out, dim } => vec![Some(logcumsumexp_backward(g, &x.get(name)?, &out.get(name)?, *dim)?)],
            GradFn::CumExtreme { shape, indices, dim } => {
                if shape.is_empty() {
                    return Ok(vec![Some(g.clone())]);
                }
                let z = Tensor::zeros(shape, g.dtype(), g.device())?;
                vec![Some(z.scatter_add(*dim as i64, indices, g)?)]
            }
            GradFn::Matmul { a, b } => {
                let ga = if needs(0) { Some(g.matmul(&b.get(name)?.mt()?)?) } else { None };
                let gb = if needs(1) { Some(a.get(name)?.mt()?.matmul(g)?) } else { None };
                vec![ga, gb]
            }
            GradFn::Reshape { shape } => vec![Some(g.reshape(shape)?)],
            GradFn::Permute { dims } => {
                let mut inv = vec![0i64; dims.len()];
                for (i, &d) in dims.iter().enumerate() {
                    inv[d] = i as i64;
                }
                vec![Some(g.permute(&inv)?)]
            }
            GradFn::Expand { shape } => vec![Some(g.sum_to(shape)?)],
            GradFn::View { shape, view } => vec![Some(g.view_scatter(shape, view)?)],
            GradFn::ViewScatter { view } => vec![Some(g.apply_view(view.clone())?)],
            GradFn::Index { shape, dims, indices } => vec![Some(Tensor::index_put_acc(shape, dims, indices, g)?)],
            GradFn::IndexPutAcc { dims, indices } => vec![Some(g.index_take(dims, indices)?)],
            GradFn::IndexPut { dims, indices, values_shape } => {
                let keep = Tensor::ones_like(g)?;
                let zeros = Tensor::zeros(values_shape, g.dtype(), g.device())?;
                {
                    let _ng = crate::backprop::GradModeGuard::new(false);
                    keep.index_put_(dims, indices, &zeros, false)?;
                }
                vec![Some(g.mul(&keep)?), Some(g.index_take(dims, indices)?)]
            }
            GradFn::Gather { shape, dim, index } => {
                let z = Tensor::zeros(shape, g.dtype(), g.device())?;
                vec![Some(z.scatter_add(*dim as i64, index, g)?)]
            }
            GradFn::ScatterAdd { dim, index } => vec![Some(g.clone()), Some(g.gather(*dim as i64, index)?)],
            GradFn::Cat { dim, sizes } => {
                let parts = g.split_sizes(sizes, *dim as i64)?;
                parts.into_iter().map(Some).collect()
            }
            GradFn::LstmCell { gates, c, out } => crate::ops::rnn::lstm_cell_backward(name, g, gates, c, out)?,
            GradFn::LstmLayer { xp, h0, c0, w, hc, gates, reverse } => {
                crate::ops::rnn::lstm_layer_backward(name, g, xp, h0, c0, w, hc, gates, *reverse)?
            }
            GradFn::GruLayer { xp, h0, w, b, hs, hg, reverse } => {
                crate::ops::rnn::gru_layer_backward(name, g, xp, h0, w, b.as_ref(), hs, hg, *reverse)?
            }
            GradFn::Norm { x, w, has_bias, mean, rstd, geom, wshape } => {
                crate::ops::norm::norm_backward(name, g, x, w.as_ref(), *has_bias, mean, rstd, geom, wshape, needs)?
            }
            GradFn::Xent { x, target, w, lse, geom } => crate::ops::xent::xent_backward(name, g, x, target, w.as_ref(), lse, geom)?,
            GradFn::GruCell { xg, hg, hx } => crate::ops::rnn::gru_cell_backward(name, g, xg, hg, hx)?,
            GradFn::Ctc { grad } => vec![Some(crate::ops::ctc::ctc_backward(g, grad)?)],
            GradFn::Conv2d { input, weight, has_bias, geom } => {
                crate::ops::conv::conv2d_backward(name, g, input, weight, *has_bias, geom, [needs(0), needs(1), needs(2)])?
            }
            GradFn::Conv2dGradInput { weight, grad, geom } => {
                crate::ops::conv::grad_input_backward(name, g, weight, grad, geom, [needs(0), needs(1)])?
            }
            GradFn::Conv2dGradWeight { input, grad, geom } => {
                crate::ops::conv::grad_weight_backward(name, g, input, grad, geom, [needs(0), needs(1)])?
            }
        })
    }
}

/// For each element, the product of the others in its reduced slice (prod's gradient
/// when zeros are present): exclusive prefix times exclusive suffix products.
fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let _ng = crate::backprop::GradModeGuard::new(false);
    let nd = x.ndim();
    // move reduced dims last, flatten to (kept, r)
    let mut perm: Vec<i64> = (0..nd).filter(|d| !dims.contains(d)).map(|d| d as i64).collect();
    perm.extend(dims.iter().map(|&d| d as i64));
    let xp = x.permute(&perm)?.to_dtype(DType::F64)?.contiguous_owned()?;
    let r: usize = dims.iter().map(|&d| x.shape()[d]).product();
    let v: Vec<f64> = xp.to_vec::<f64>()?;
    let mut out = vec![0.0; v.len()];
    if r > 0 {
        for (row, orow) in v.chunks(r).zip(out.chunks_mut(r)) {
            let mut acc = 1.0;
            for i in 0..r {
                orow[i] = acc;
                acc *= row[i];
            }
            acc = 1.0;
            for i in (0..r).rev() {
                orow[i] *= acc;
                acc *= row[i];
            }
        }
    }
    let t = Tensor::from_vec(out, xp.shape())?;
    let mut inv = vec![0i64; nd];
    for (i, &p) in perm.iter().enumerate() {
        inv[p as usize] = i as i64;
    }
    t.permute(&inv)?.to_dtype(x.dtype())?.to_device_raw(x.device())
}
