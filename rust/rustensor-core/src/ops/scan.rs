//! Scans along one dim: cumsum, cumprod, logcumsumexp, cummax and cummin.
use crate::backprop::{record, GradFn, Saved};
use crate::error::wrap_dim;
use crate::layout::Layout;
use crate::op::ScanOp;
use crate::ops::from_storage;
use crate::{DType, Error, Result, Tensor};

impl Tensor {
    /// Runs the scan kernel without recording: (values, indices for cummax/cummin).
    fn scan_raw(&self, op: ScanOp, dim: i64) -> Result<(Tensor, Option<Tensor>, usize)> {
        let d = wrap_dim(op.name(), dim, self.ndim())?;
        if !op.has_kernel(self.dtype()) {
            return Err(Error::NotImplementedFor { op: "logcumsumexp_out", dtype: self.dtype() });
        }
        // a 0-d tensor scans as one element
        let one = Layout { shape: vec![1], strides: vec![1], offset: self.layout().offset };
        let a = if self.ndim() == 0 { self.strided().relayout(&one) } else { self.strided() };
        let (v, i) = crate::kernels::scan(op, self.dtype(), a, if self.ndim() == 0 { 0 } else { d })?;
        let v = from_storage(v, op.out_dtype(self.dtype()), self.shape());
        let i = i.map(|i| from_storage(i, DType::I64, self.shape()));
        Ok((v, i, d))
    }

    pub fn cumsum(&self, dim: i64) -> Result<Tensor> {
        let (out, _, d) = self.scan_raw(ScanOp::Sum, dim)?;
        Ok(record(out, "CumsumBackward0", &[self], |_, _| GradFn::Cumsum { dim: d }))
    }

    pub fn cumprod(&self, dim: i64) -> Result<Tensor> {
        let (out, _, d) = self.scan_raw(ScanOp::Prod, dim)?;
        Ok(record(out, "CumprodBackward0", &[self], |out, w| GradFn::Cumprod { x: Saved::input(self), out: Saved::output(out, w), dim: d }))
    }

    pub fn logcumsumexp(&self, dim: i64) -> Result<Tensor> {
        let (out, _, d) = self.scan_raw(ScanOp::LogSumExp, dim)?;
        Ok(record(out, "LogcumsumexpBackward0", &[self], |out, w| GradFn::Logcumsumexp {
            x: Saved::input(self),
            out: Saved::output(out, w),
            dim: d,
        }))
    }

    /// `cummax(dim)` (`max`) or `cummin(dim)`: (values, int64 indices); the gradient goes
    /// to the element each index names.
    pub fn cum_extreme(&self, max: bool, dim: i64) -> Result<(Tensor, Tensor)> {
        let op = if max { ScanOp::Max } else { ScanOp::Min };
        let (values, indices, d) = self.scan_raw(op, dim)?;
        let Some(indices) = indices else {
            crate::bail!(Runtime, "internal error: {} returned no indices (please report)", op.name());
        };
        let (shape, idx) = (self.shape().to_vec(), indices.clone());
        let gname = if max { "CummaxBackward0" } else { "CumminBackward0" };
        let values = record(values, gname, &[self], |_, _| GradFn::CumExtreme { shape, indices: idx, dim: d });
        Ok((values, indices))
    }
}
