//! `conv2d` as one core op: torch's argument checks once, the im2col + gemm kernel, and a
//! backward made of three kernels (input, weight and bias gradients), not a chain of ops.
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::cpu_backend::conv::Geom;
use crate::error::fmt_shape;
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Tensor};

/// Stride, padding, dilation and groups of a 2-d convolution, already checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dArgs {
    pub stride: [usize; 2],
    /// (before, after) zeros per spatial dim: torch's symmetric padding, or the uneven split
    /// that `padding='same'` needs for even kernels.
    pub padding: [[usize; 2]; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

/// One value per spatial dim from torch's "an int or a list of 2" argument.
fn pair(name: &str, v: &[i64]) -> Result<[i64; 2]> {
    match v {
        [a] => Ok([*a, *a]),
        [a, b] => Ok([*a, *b]),
        _ => bail!(
            Runtime,
            "expected {name} to be a single integer value or a list of 2 values to match the convolution dimensions, but got {name}={v:?}"
        ),
    }
}

impl Conv2dArgs {
    /// torch's checks and messages. `padding` holds 1 or 2 values (symmetric, as torch's
    /// `conv2d`) or 4: (top, bottom, left, right).
    pub fn new(stride: &[i64], padding: &[i64], dilation: &[i64], groups: i64) -> Result<Conv2dArgs> {
        let s = pair("stride", stride)?;
        let d = pair("dilation", dilation)?;
        let p: [i64; 4] = match padding {
            [a, b, c, e] => [*a, *b, *c, *e],
            _ => {
                let [h, w] = pair("padding", padding)?;
                [h, h, w, w]
            }
        };
        if s.iter().any(|&v| v <= 0) {
            bail!(Runtime, "non-positive stride is not supported");
        }
        if p.iter().any(|&v| v < 0) {
            bail!(Runtime, "negative padding is not supported");
        }
        if d.iter().any(|&v| v <= 0) {
            bail!(Runtime, "non-positive dilation is not supported");
        }
        if groups <= 0 {
            bail!(Runtime, "non-positive groups is not supported");
        }
        let u = |v: i64| v as usize;
        Ok(Conv2dArgs {
            stride: [u(s[0]), u(s[1])],
            padding: [[u(p[0]), u(p[1])], [u(p[2]), u(p[3])]],
            dilation: [u(d[0]), u(d[1])],
            groups: u(groups),
        })
    }
}

/// torch's legacy tensor-type words in the input/weight mismatch message.
fn tensor_type(dt: DType) -> &'static str {
    match dt {
        DType::F16 => "torch.HalfTensor",
        DType::BF16 => "torch.BFloat16Tensor",
        DType::F32 => "torch.FloatTensor",
        DType::F64 => "torch.DoubleTensor",
        DType::U8 => "torch.ByteTensor",
        DType::I8 => "torch.CharTensor",
        DType::I16 => "torch.ShortTensor",
        DType::I32 => "torch.IntTensor",
        DType::I64 => "torch.LongTensor",
        DType::Bool => "torch.BoolTensor",
    }
}

fn c_type(dt: DType) -> &'static str {
    match dt {
        DType::F16 => "c10::Half",
        DType::BF16 => "c10::BFloat16",
        DType::F32 => "float",
        DType::F64 => "double",
        DType::U8 => "unsigned char",
        DType::I8 => "signed char",
        DType::I16 => "short int",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::Bool => "bool",
    }
}

/// Validates a batched (4-d) call and returns its geometry.
fn geometry(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, a: &Conv2dArgs) -> Result<Geom> {
    let (xs, ws) = (x.shape(), w.shape());
    if ws.len() != 4 {
        bail!(
            Runtime,
            "conv2d: expected weight to be 4-dimensional (out_channels, in_channels/groups, kH, kW), but got weight of size {}",
            fmt_shape(ws)
        );
    }
    let g = a.groups;
    if ws[0] < g {
        bail!(Runtime, "Given groups={g}, expected weight to be at least {g} at dimension 0, but got weight of size {} instead", fmt_shape(ws));
    }
    if ws[0] % g != 0 {
        bail!(Runtime, "Given groups={g}, expected weight to be divisible by {g} at dimension 0, but got weight of size [{}] instead", fmt_shape(ws));
    }
    if xs[1] != ws[1] * g {
        bail!(
            Runtime,
            "Given groups={g}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_shape(ws),
            fmt_shape(xs),
            ws[1] * g,
            xs[1]
        );
    }
    if let Some(b) = bias {
        if b.ndim() != 1 || b.shape()[0] != ws[0] {
            bail!(
                Runtime,
                "Given weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                fmt_shape(ws),
                ws[0],
                fmt_shape(b.shape())
            );
        }
    }
    let mut padded = [0usize; 2];
    let mut eff = [0usize; 2];
    let mut out = [0usize; 2];
    for i in 0..2 {
        padded[i] = xs[2 + i].saturating_add(a.padding[i][0]).saturating_add(a.padding[i][1]);
        eff[i] = a.dilation[i].saturating_mul(ws[2 + i].saturating_sub(1)).saturating_add(1);
    }
    if eff[0] > padded[0] || eff[1] > padded[1] {
        bail!(
            Runtime,
            "Calculated padded input size per channel: ({} x {}). Kernel size: ({} x {}). Kernel size can't be greater than actual input size",
            padded[0],
            padded[1],
            eff[0],
            eff[1]
        );
    }
    for i in 0..2 {
        out[i] = (padded[i] - eff[i]) / a.stride[i] + 1;
    }
    Ok(Geom {
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        o: ws[0],
        kh: ws[2],
        kw: ws[3],
        oh: out[0],
        ow: out[1],
        stride: a.stride,
        pad: [a.padding[0][0], a.padding[1][0]],
        dilation: a.dilation,
        groups: g,
    })
}

impl Tensor {
    /// `torch.nn.functional.conv2d` on a (C, H, W) or (N, C, H, W) input, weight
    /// (O, C/groups, kH, kW), optional bias (O). CPU only, float16/32/64 (float16 computes
    /// in float32); a GPU tensor gets a `RuntimeError` saying so.
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, args: &Conv2dArgs) -> Result<Tensor> {
        match self.ndim() {
            4 => {}
            3 => return self.unsqueeze(0)?.conv2d(weight, bias, args)?.squeeze(Some(&[0i64][..])),
            _ => bail!(
                Runtime,
                "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {}",
                fmt_shape(self.shape())
            ),
        }
        let mut all = vec![self, weight];
        all.extend(bias);
        same_device("conv2d", &all)?;
        if self.dtype() != weight.dtype() {
            bail!(
                Runtime,
                "Input type ({}) and weight type ({}) should be the same or input should be a MKLDNN tensor and weight is a dense tensor",
                tensor_type(self.dtype()),
                tensor_type(weight.dtype())
            );
        }
        if let Some(b) = bias {
            if b.dtype() != self.dtype() {
                bail!(Runtime, "Input type ({}) and bias type ({}) should be the same", c_type(self.dtype()), c_type(b.dtype()));
            }
        }
        let geom = geometry(self, weight, bias, args)?;
        if !self.dtype().is_float() {
            bail!(Type, "conv2d: the conv2d kernel takes float16, float32 or float64 tensors, got {}", self.dtype().name());
        }
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            // float16 widens to float32 once; the casts carry the gradient back
            let b = bias.map(|b| b.to_dtype(DType::F32)).transpose()?;
            let y = self.to_dtype(DType::F32)?.conv2d(&weight.to_dtype(DType::F32)?, b.as_ref(), args)?;
            return y.to_dtype(self.dtype());
        }
        conv2d_geom(self, weight, bias, &geom)
    }
}

fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        t.contiguous_owned()
    }
}

/// The forward kernel on checked CPU float32/float64 operands of geometry `geom`, recorded.
fn conv2d_geom(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, geom: &Geom) -> Result<Tensor> {
    let dt = x.dtype();
    let w = contiguous(weight)?;
    let out = empty(&[geom.n, geom.o, geom.oh, geom.ow], dt, x.device())?;
    crate::kernels::conv2d(dt, x.strided(), w.strided(), bias.map(|b| b.strided()), out.strided(), geom)?;
    let mut all = vec![x, weight];
    all.extend(bias);
    let has_bias = bias.is_some();
    let geom = *geom;
    Ok(record(out, "ConvolutionBackward0", &all, |_, _| GradFn::Conv2d { input: Saved::input(x), weight: Saved::input(weight), has_bias, geom }))
}

/// The input gradient `col2im(Wᵀ·g)`, shaped as the input; recorded, so that it has a
/// gradient of its own (double backward).
fn grad_input(w: &Tensor, g: &Tensor, geom: &Geom) -> Result<Tensor> {
    let dt = g.dtype();
    let (wc, gc) = (contiguous(w)?, contiguous(g)?);
    let t = empty(&[geom.n, geom.c, geom.h, geom.w], dt, g.device())?;
    crate::kernels::conv2d_grad_input(dt, wc.strided(), gc.strided(), t.strided(), geom)?;
    let geom = *geom;
    Ok(record(t, "ConvolutionBackwardBackward0", &[w, g], |_, _| GradFn::Conv2dGradInput { weight: Saved::input(w), grad: Saved::input(g), geom }))
}

/// The weight gradient `Σₙ g·colsᵀ`, shaped as the weight; recorded like [`grad_input`].
fn grad_weight(x: &Tensor, g: &Tensor, geom: &Geom) -> Result<Tensor> {
    let dt = g.dtype();
    let gc = contiguous(g)?;
    let t = empty(&[geom.o, geom.c / geom.groups, geom.kh, geom.kw], dt, g.device())?;
    crate::kernels::conv2d_grad_weight(dt, x.strided(), gc.strided(), t.strided(), geom)?;
    let geom = *geom;
    Ok(record(t, "ConvolutionBackwardBackward0", &[x, g], |_, _| GradFn::Conv2dGradWeight { input: Saved::input(x), grad: Saved::input(g), geom }))
}

fn check_grad(g: &Tensor, like: &Tensor) -> Result<()> {
    if g.device() != like.device() || g.dtype() != like.dtype() {
        bail!(
            Runtime,
            "conv2d backward: expected a {} gradient on {}, got {} on {}",
            like.dtype().name(),
            like.device().name(),
            g.dtype().name(),
            g.device().name()
        );
    }
    Ok(())
}

/// The gradients of [`Tensor::conv2d`] for (input, weight[, bias]) where `needs` asks.
pub(crate) fn conv2d_backward(
    name: &str,
    g: &Tensor,
    input: &Saved,
    weight: &Saved,
    has_bias: bool,
    geom: &Geom,
    needs: [bool; 3],
) -> Result<Vec<Option<Tensor>>> {
    let x = input.get(name)?;
    let w = weight.get(name)?;
    check_grad(g, &x)?;
    let gi = if needs[0] { Some(grad_input(&w, g, geom)?) } else { None };
    let gw = if needs[1] { Some(grad_weight(&x, g, geom)?) } else { None };
    let mut out = vec![gi, gw];
    if has_bias {
        out.push(if !needs[2] {
            None
        } else if is_grad_enabled() && g.requires_grad() {
            // create_graph: a differentiable sum (its backward is a broadcast)
            Some(g.sum_dims(&[0, 2, 3], false)?)
        } else {
            let gc = contiguous(g)?;
            let t = empty(&[geom.o], g.dtype(), g.device())?;
            crate::kernels::conv2d_grad_bias(g.dtype(), gc.strided(), t.strided(), geom)?;
            Some(t)
        });
    }
    Ok(out)
}

/// Backward of [`grad_input`] (bilinear in W and g): for a cotangent `u` shaped as the input,
/// d<u, gi>/dW = grad_weight(u, g) and d<u, gi>/dg = conv2d(u, W).
pub(crate) fn grad_input_backward(name: &str, u: &Tensor, weight: &Saved, grad: &Saved, geom: &Geom, needs: [bool; 2]) -> Result<Vec<Option<Tensor>>> {
    let (w, g) = (weight.get(name)?, grad.get(name)?);
    check_grad(u, &w)?;
    let dw = if needs[0] { Some(grad_weight(u, &g, geom)?) } else { None };
    let dg = if needs[1] { Some(conv2d_geom(u, &w, None, geom)?) } else { None };
    Ok(vec![dw, dg])
}

/// Backward of [`grad_weight`] (bilinear in x and g): for a cotangent `v` shaped as the
/// weight, d<v, gw>/dx = grad_input(v, g) and d<v, gw>/dg = conv2d(x, v).
pub(crate) fn grad_weight_backward(name: &str, v: &Tensor, input: &Saved, grad: &Saved, geom: &Geom, needs: [bool; 2]) -> Result<Vec<Option<Tensor>>> {
    let (x, g) = (input.get(name)?, grad.get(name)?);
    check_grad(v, &x)?;
    let dx = if needs[0] { Some(grad_input(v, &g, geom)?) } else { None };
    let dg = if needs[1] { Some(conv2d_geom(&x, v, None, geom)?) } else { None };
    Ok(vec![dx, dg])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(v, shape).expect("tensor")
    }

    #[test]
    fn conv2d_matches_a_hand_computed_sum() {
        // 1x1x3x3 input 0..9, 2x2 kernel of ones, stride 1: each output sums a 2x2 window
        let x = t((0..9).map(|v| v as f64).collect(), &[1, 1, 3, 3]);
        let w = t(vec![1.0; 4], &[1, 1, 2, 2]);
        let b = t(vec![0.5], &[1]);
        let a = Conv2dArgs::new(&[1], &[0], &[1], 1).expect("args");
        let y = x.conv2d(&w, Some(&b), &a).expect("conv");
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.to_vec::<f64>().expect("vec"), vec![8.5, 12.5, 20.5, 24.5]);
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        assert!(Conv2dArgs::new(&[0], &[0], &[1], 1).is_err());
        assert!(Conv2dArgs::new(&[1, 2, 3], &[0], &[1], 1).is_err());
        assert!(Conv2dArgs::new(&[1], &[-1], &[1], 1).is_err());
        let a = Conv2dArgs::new(&[1], &[0], &[1], 1).expect("args");
        let x = t(vec![0.0; 9], &[1, 1, 3, 3]);
        assert!(x.conv2d(&t(vec![0.0; 16], &[1, 1, 4, 4]), None, &a).is_err());
        assert!(x.conv2d(&t(vec![0.0; 8], &[1, 2, 2, 2]), None, &a).is_err());
        assert!(x.conv2d(&t(vec![0.0; 4], &[1, 1, 2, 2]), Some(&t(vec![0.0; 2], &[2])), &a).is_err());
    }
}
