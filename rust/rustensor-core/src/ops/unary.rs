//! Unary elementwise ops (math, activations, predicates) and dtype casts.
use crate::backprop::{record, GradFn, Saved};
use crate::kernels as ew;
use crate::op::{Saves, UnaryOp};
use crate::ops::empty;
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        if op == UnaryOp::Neg && self.dtype() == DType::Bool {
            bail!(
                Runtime,
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            );
        }
        let x = if op.needs_float() && !self.dtype().is_float() { self.to_dtype(DType::F32)? } else { self.clone() };
        // checked here, before dispatch, so that every device raises the same error
        if !op.has_kernel(x.dtype()) {
            return Err(crate::Error::NotImplementedFor { op: op.name(), dtype: x.dtype() });
        }
        let out = empty(self.shape(), op.out_dtype(x.dtype()), self.device())?;
        ew::unary(op, x.dtype(), out.strided(), x.strided())?;
        let Some(name) = op.grad_name() else { return Ok(out) };
        Ok(record(out, name, &[&x], |out, w| GradFn::Unary {
            op,
            x: (op.saves() == Saves::Input).then(|| Saved::input(&x)),
            out: (op.saves() == Saves::Output).then(|| Saved::output(out, w)),
        }))
    }

    /// In-place unary (`exp_`, `neg_`, `relu_`, ...).
    pub fn unary_(&self, op: UnaryOp) -> Result<()> {
        self.check_inplace()?;
        if op.out_dtype(self.dtype()) != self.dtype() {
            bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                op.out_dtype(self.dtype()).name(),
                self.dtype().name()
            );
        }
        if !op.has_kernel(self.dtype()) {
            return Err(crate::Error::NotImplementedFor { op: op.name(), dtype: self.dtype() });
        }
        if crate::backprop::is_grad_enabled() && self.requires_grad() {
            let r = self.snapshot_for_inplace()?.unary(op)?;
            return self.assign_result(&r);
        }
        ew::unary(op, self.dtype(), self.strided(), self.strided())?;
        self.bump_version();
        Ok(())
    }

    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }

    /// `nan_to_num`: NaN, +inf and -inf replaced (by default with 0 and the dtype's extremes).
    /// Composite over `where`, so the gradient is `g` where kept and 0 where replaced.
    pub fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return self.clone_tensor();
        }
        let big = match self.dtype() {
            DType::F16 => 65504.0,
            DType::BF16 => half::bf16::MAX.to_f64(),
            DType::F32 => f32::MAX as f64,
            _ => f64::MAX,
        };
        let fill = |v: f64| Tensor::scalar_operand(crate::Scalar::Float(v), self.dtype(), self.device());
        let isnan = self.unary(UnaryOp::IsNan)?;
        let isinf = self.unary(UnaryOp::IsInf)?;
        let neg = self.unary(UnaryOp::Signbit)?;
        let pinf = isinf.binary(crate::op::BinaryOp::LogicalAnd, &neg.unary(UnaryOp::LogicalNot)?)?;
        let ninf = isinf.binary(crate::op::BinaryOp::LogicalAnd, &neg)?;
        let r = Tensor::where_(&isnan, &fill(nan)?, self)?;
        let r = Tensor::where_(&pinf, &fill(posinf.unwrap_or(big))?, &r)?;
        Tensor::where_(&ninf, &fill(neginf.unwrap_or(-big))?, &r)
    }

    /// Converts to `dt` (a copy; the same tensor when the dtype already matches).
    pub fn to_dtype(&self, dt: DType) -> Result<Tensor> {
        if self.dtype() == dt {
            return Ok(self.clone());
        }
        let out = empty(self.shape(), dt, self.device())?;
        ew::cast(out.strided(), dt, self.strided(), self.dtype())?;
        let from = self.dtype();
        Ok(record(out, "ToCopyBackward0", &[self], |_, _| GradFn::Cast { from }))
    }

    /// A contiguous copy that owns fresh memory (no autograd).
    pub(crate) fn contiguous_owned(&self) -> Result<Tensor> {
        let out = empty(self.shape(), self.dtype(), self.device())?;
        ew::cast(out.strided(), self.dtype(), self.strided(), self.dtype())?;
        Ok(out)
    }

    /// `clone()`: a contiguous copy, differentiable.
    pub fn clone_tensor(&self) -> Result<Tensor> {
        let out = self.contiguous_owned()?;
        Ok(record(out, "CloneBackward0", &[self], |_, _| GradFn::Identity))
    }

    /// `contiguous()`: this tensor when already contiguous, else a differentiable copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            Ok(self.clone())
        } else {
            self.clone_tensor()
        }
    }
}
