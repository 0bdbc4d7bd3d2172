//! `max_pool2d` as one core op: each window's maximum and its index, one kernel on the input's
//! device. The values are recorded as a gather of the input at the indices, so the gradient is
//! the gather's (a scatter-add) and double backward works on both devices.
use crate::cpu_backend::pool::PoolGeom;
use crate::error::fmt_shape;
use crate::backprop::{is_grad_enabled, record, GradFn};
use crate::ops::from_storage;
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// Each window's maximum of a 4-d float input and its flat (y * W + x) input index (int64),
    /// both shaped (N, C, out[0], out[1]). `out` is the output size the caller computed
    /// (torch's ceil_mode rule lives there); every window must hold an input element.
    pub fn max_pool2d(&self, kernel: [usize; 2], stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], out: [usize; 2]) -> Result<(Tensor, Tensor)> {
        let s = self.shape();
        if s.len() != 4 {
            bail!(Runtime, "max_pool2d: expected a 4-d (N, C, H, W) input, got {}", fmt_shape(s));
        }
        if !self.dtype().is_float() {
            bail!(Type, "max_pool2d: the index kernel takes float tensors, got {}", self.dtype().name());
        }
        if matches!(self.dtype(), DType::F16 | DType::BF16) {
            // widening keeps every comparison (and NaN) as it was
            let (v, i) = self.to_dtype(DType::F32)?.max_pool2d(kernel, stride, padding, dilation, out)?;
            return Ok((v.to_dtype(self.dtype())?, i));
        }
        for d in 0..2 {
            let (k, st, p, dl, o, n) = (kernel[d], stride[d], padding[d], dilation[d], out[d], s[2 + d]);
            if k == 0 || st == 0 || dl == 0 {
                bail!(Runtime, "max_pool2d: kernel_size, stride and dilation must be positive, got {kernel:?}, {stride:?}, {dilation:?}");
            }
            let span = (k - 1).saturating_mul(dl).saturating_add(1);
            if p.saturating_mul(2) > span {
                bail!(Runtime, "pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} and dilation={dl}");
            }
            if o > 0 && ((o - 1).saturating_mul(st) >= n.saturating_add(p) || n == 0) {
                bail!(Runtime, "max_pool2d: output size {o} leaves a window outside the input of size {n} (stride {st}, padding {p})");
            }
            // with dilation every tap of a window may fall in the padding or past the end:
            // such a window has no input element to index (torch reports one past its plane)
            let empty = (0..o).any(|oi| {
                let start = (oi * st) as isize - p as isize;
                !(0..k).any(|j| (0..n as isize).contains(&(start + (j * dl) as isize)))
            });
            if empty {
                bail!(Runtime, "max_pool2d: a window of size {k} with dilation {dl} holds no element of the input of size {n} (padding {p})");
            }
        }
        let g = PoolGeom { n: s[0], c: s[1], h: s[2], w: s[3], oh: out[0], ow: out[1], kernel, stride, pad: padding, dilation };
        let (vs, is) = crate::kernels::max_pool2d(self.dtype(), self.strided(), &g)?;
        let (per, plane) = (g.oh * g.ow, g.h * g.w);
        let vals = from_storage(vs, self.dtype(), &[g.n, g.c, per]);
        let idx = from_storage(is, DType::I64, &[g.n, g.c, per]);
        let vals = if self.requires_grad() && is_grad_enabled() {
            // the values are `x.reshape(N, C, H*W).gather(2, idx)`: that gather's backward
            let flat = self.reshape(&[g.n, g.c, plane])?;
            let index = idx.clone();
            record(vals, "MaxPool2DWithIndicesBackward0", &[&flat], |_, _| GradFn::Gather { shape: vec![g.n, g.c, plane], dim: 2, index })
        } else {
            vals
        };
        let shape = [g.n, g.c, g.oh, g.ow];
        Ok((vals.reshape(&shape)?, idx.reshape(&shape)?))
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn indices_of_a_2x2_pool() {
        // a 1x1x3x4 input; 2x2 windows with stride 2 (ceil-mode size 2x2)
        let v: Vec<f64> = vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 9.0, 9.0, 7.0, 8.0, f64::NAN, 1.0];
        let x = Tensor::from_vec(v, &[1, 1, 3, 4]).expect("tensor");
        let (v, i) = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], [2, 2]).expect("pool");
        // ties keep the first maximum; a NaN wins its window
        assert_eq!(i.to_vec::<i64>().expect("vec"), vec![1, 6, 9, 10]);
        let v = v.to_vec::<f64>().expect("vec");
        assert_eq!(&v[..3], &[5.0, 9.0, 8.0]);
        assert!(v[3].is_nan());
        assert!(x.max_pool2d([2, 2], [2, 2], [2, 0], [1, 1], [1, 1]).is_err());
        assert!(x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], [3, 1]).is_err());
    }
}
