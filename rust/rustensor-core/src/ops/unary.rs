//! Unary elementwise ops (math, activations, predicates) and dtype casts.
use crate::backprop::{record, GradFn, Saved};
use crate::kernels as ew;
use crate::op::UnaryOp;
use crate::ops::empty;
use crate::{bail, DType, Result, Tensor};

fn grad_name(op: UnaryOp) -> &'static str {
    use UnaryOp::*;
    match op {
        Neg => "NegBackward0",
        Abs => "AbsBackward0",
        Sign => "SignBackward0",
        Square => "PowBackward0",
        Relu => "ReluBackward0",
        Exp => "ExpBackward0",
        Expm1 => "Expm1Backward0",
        Log => "LogBackward0",
        Log1p => "Log1PBackward0",
        Log2 => "Log2Backward0",
        Log10 => "Log10Backward0",
        Sqrt => "SqrtBackward0",
        Rsqrt => "RsqrtBackward0",
        Reciprocal => "ReciprocalBackward0",
        Sin => "SinBackward0",
        Cos => "CosBackward0",
        Tan => "TanBackward0",
        Tanh => "TanhBackward0",
        Sigmoid => "SigmoidBackward0",
        Floor => "FloorBackward0",
        Ceil => "CeilBackward0",
        Round => "RoundBackward0",
        Trunc => "TruncBackward0",
        _ => "NotDifferentiable",
    }
}

/// Whether the backward formula reads the input (else it reads the output).
fn saves_input(op: UnaryOp) -> bool {
    use UnaryOp::*;
    matches!(op, Abs | Square | Relu | Log | Log1p | Log2 | Log10 | Sin | Cos)
}

impl Tensor {
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let odt = op.out_dtype(self.dtype());
        if op == UnaryOp::BitNot && self.dtype().is_float() {
            bail!(Runtime, "\"bitwise_not_cpu\" not implemented for '{}'", self.dtype().name());
        }
        if op == UnaryOp::Neg && self.dtype() == DType::Bool {
            bail!(
                Runtime,
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            );
        }
        let x = if op.needs_float() && !self.dtype().is_float() { self.to_dtype(DType::F32)? } else { self.clone() };
        let out = empty(self.shape(), odt, self.device())?;
        ew::unary(op, x.dtype(), out.strided(), x.strided())?;
        if odt == DType::Bool || matches!(op, UnaryOp::BitNot | UnaryOp::LogicalNot) {
            return Ok(out);
        }
        Ok(record(out, grad_name(op), &[&x], |out, w| GradFn::Unary {
            op,
            x: Saved::input(&x),
            out: if saves_input(op) { Saved::input(&x) } else { Saved::output(out, w) },
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
