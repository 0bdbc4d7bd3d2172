//! Binary elementwise ops with broadcasting and torch's promotion, out-of-place and in-place.
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::kernels as ew;
use crate::dtype::{result_type, Operand};
use crate::layout::broadcast_shapes;
use crate::op::{saves, BinaryOp};
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Scalar, Tensor};

fn operand(t: &Tensor) -> Operand {
    if t.ndim() == 0 {
        Operand::ZeroDim(t.dtype())
    } else {
        Operand::Dim(t.dtype())
    }
}

/// Rejections torch makes before computing, and the integer checks a kernel cannot make.
/// Run before dispatch so that every device raises the same error.
fn validate(op: BinaryOp, cdt: DType, b: &Tensor) -> Result<()> {
    use BinaryOp::*;
    if op == Sub && cdt == DType::Bool {
        bail!(
            Runtime,
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."
        );
    }
    if !op.has_kernel(cdt) {
        return Err(crate::Error::NotImplementedFor { op: op.name(), dtype: cdt });
    }
    if matches!(op, FloorDiv | Rem | Fmod) && cdt.is_int() && ew::any_zero(b.strided(), b.dtype())? {
        return Err(crate::Error::ZeroDivision { op: op.name() });
    }
    if op == Pow && cdt.is_int() && ew::any_negative(b.strided(), b.dtype())? {
        bail!(Runtime, "Integers to negative integer powers are not allowed.");
    }
    Ok(())
}

impl Tensor {
    /// `a op b` with broadcasting; the result dtype follows torch's promotion.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        let cdt = op.compute_dtype(result_type(&[operand(self), operand(other)]));
        self.binary_in(op, other, cdt)
    }

    /// `a op scalar` (or `scalar op a` when `reversed`): the scalar widens only the category.
    pub fn binary_scalar(&self, op: BinaryOp, s: Scalar, reversed: bool) -> Result<Tensor> {
        let cdt = op.compute_dtype(result_type(&[operand(self), Operand::Scalar(s.category())]));
        if op == BinaryOp::Pow && !reversed && cdt.is_int() && s.to_f64() < 0.0 {
            // checked before the scalar becomes the tensor's dtype: -1 would wrap to 255 in uint8
            bail!(Runtime, "Integers to negative integer powers are not allowed.");
        }
        let st = Tensor::scalar_operand(s, cdt, self.device())?;
        let r = if reversed { st.binary_in(op, self, cdt)? } else { self.binary_in(op, &st, cdt)? };
        if op == BinaryOp::Pow && !reversed {
            if let Some(n) = r.grad_fn() {
                n.rename("PowBackward0");
            }
        }
        Ok(r)
    }

    fn binary_in(&self, op: BinaryOp, other: &Tensor, cdt: DType) -> Result<Tensor> {
        if self.device() != other.device() {
            let (a, b) = crate::ops::co_locate(op.name(), self, other)?;
            return a.binary_in(op, &b, cdt);
        }
        let device = self.device();
        if op == BinaryOp::Sub && (self.dtype() == DType::Bool || other.dtype() == DType::Bool) {
            bail!(
                Runtime,
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            );
        }
        let shape = broadcast_shapes(op.name(), self.shape(), other.shape())?;
        let a = self.cast_raw(cdt)?;
        let b = other.cast_raw(cdt)?;
        validate(op, cdt, &b)?;
        let out = empty(&shape, op.out_dtype(cdt), device)?;
        {
            // operands already of the output's shape need no broadcast layout (the common case)
            let la = if a.shape() == shape.as_slice() { None } else { Some(a.layout().broadcast_to(op.name(), &shape)?) };
            let lb = if b.shape() == shape.as_slice() { None } else { Some(b.layout().broadcast_to(op.name(), &shape)?) };
            let sa = a.strided().relayout(la.as_ref().unwrap_or(a.layout()));
            let sb = b.strided().relayout(lb.as_ref().unwrap_or(b.layout()));
            ew::binary(op, cdt, out.strided(), sa, sb)?;
        }
        let Some(name) = op.grad_name() else { return Ok(out) };
        let m = op.saves();
        Ok(record(out, name, &[&a, &b], |out, w| GradFn::Binary {
            op,
            a: (m & saves::A != 0).then(|| Saved::input(&a)),
            b: (m & saves::B != 0).then(|| Saved::input(&b)),
            out: (m & saves::OUT != 0).then(|| Saved::output(out, w)),
        }))
    }

    /// Casts for computation; differentiable so saved inputs keep their graph.
    pub(crate) fn cast_raw(&self, dt: DType) -> Result<Tensor> {
        if self.dtype() == dt {
            Ok(self.clone())
        } else {
            self.to_dtype(dt)
        }
    }

    pub fn add(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, o)
    }
    pub fn sub(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, o)
    }
    pub fn mul(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, o)
    }
    pub fn div(&self, o: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, o)
    }
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Mul, Scalar::Float(s), false)
    }
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        self.binary_scalar(BinaryOp::Add, Scalar::Float(s), false)
    }

    /// In-place `self op= other` (`add_`, `+=`, ...). With autograd on, the op is recorded
    /// out of place and `self` takes over the result's grad_fn, as torch rebases in-place ops.
    pub fn binary_(&self, op: BinaryOp, other: &Tensor) -> Result<()> {
        self.check_inplace()?;
        let cdt = op.compute_dtype(result_type(&[operand(self), operand(other)]));
        let odt = op.out_dtype(cdt);
        if odt != self.dtype() && odt.category() > self.dtype().category() {
            bail!(
                Runtime,
                "result type {} can't be cast to the desired output type {}",
                odt.name(),
                self.dtype().name()
            );
        }
        let shape = broadcast_shapes(op.name(), self.shape(), other.shape())?;
        if shape != self.shape() {
            bail!(
                Runtime,
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                shape
            );
        }
        if is_grad_enabled() && (self.requires_grad() || other.requires_grad()) {
            let snapshot = self.snapshot_for_inplace()?;
            let r = snapshot.binary_in(op, other, cdt)?;
            return self.assign_result(&r);
        }
        let (_, other) = &crate::ops::co_locate(op.name(), self, other)?;
        same_device(op.name(), &[self, other])?;
        let b = other.cast_raw(cdt)?;
        // reading a different view of our own storage while writing it would see half-updated data
        let b = if b.same_storage(self) && b.layout() != self.layout() { b.contiguous_owned()? } else { b };
        validate(op, cdt, &b)?;
        if cdt == self.dtype() && odt == cdt {
            let lb = b.layout().broadcast_to(op.name(), &shape)?;
            let sb = b.strided().relayout(&lb);
            ew::binary(op, cdt, self.strided(), self.strided(), sb)?;
        } else {
            let r = self.binary_in(op, &b, cdt)?;
            ew::cast(self.strided(), self.dtype(), r.strided(), r.dtype())?;
        }
        self.bump_version();
        Ok(())
    }

    pub fn binary_scalar_(&self, op: BinaryOp, s: Scalar) -> Result<()> {
        let cdt = op.compute_dtype(result_type(&[operand(self), Operand::Scalar(s.category())]));
        let st = Tensor::scalar_operand(s, cdt, self.device())?;
        self.binary_(op, &st)
    }

    /// Torch refuses in-place writes to leaves that require grad while recording.
    pub fn check_inplace(&self) -> Result<()> {
        if is_grad_enabled() && self.requires_grad() && self.is_leaf() {
            bail!(Runtime, "a leaf Variable that requires grad is being used in an in-place operation.");
        }
        if is_grad_enabled() && self.0.view_of_grad_leaf {
            bail!(Runtime, "a view of a leaf Variable that requires grad is being used in an in-place operation.");
        }
        if self.shape().iter().zip(self.strides()).any(|(&d, &s)| d > 1 && s == 0) {
            bail!(
                Runtime,
                "unsupported operation: more than one element of the written-to tensor (shape {:?}, strides {:?}) refers to a single memory location. Please clone() the tensor before performing the operation.",
                self.shape(),
                self.strides()
            );
        }
        Ok(())
    }

    /// A copy of this tensor's values that stands in its place in the graph, so an op
    /// recorded on it keeps valid saved values after `self` is overwritten.
    pub(crate) fn snapshot_for_inplace(&self) -> Result<Tensor> {
        let _g = crate::backprop::GradModeGuard::new(false);
        let c = self.contiguous_owned()?;
        drop(_g);
        if let Some(f) = self.grad_fn() {
            c.set_grad_fn(f);
        }
        Ok(c)
    }

    /// Writes `r` into this tensor's memory and takes over its autograd history.
    pub fn assign_result(&self, r: &Tensor) -> Result<()> {
        let lr = r.layout().broadcast_to("copy_", self.shape())?;
        ew::cast(self.strided(), self.dtype(), r.strided().relayout(&lr), r.dtype())?;
        self.bump_version();
        if let Some(f) = r.grad_fn() {
            self.set_grad_fn(f);
        }
        Ok(())
    }

    /// The history of a non-leaf about to be overwritten by a constant: its old inputs
    /// now receive zero gradient (torch's FillBackward0).
    fn rebase_constant(&self) -> Result<()> {
        let snap = self.snapshot_for_inplace()?;
        let r = record(snap.detach(), "FillBackward0", &[&snap], |_, _| GradFn::ZeroGrad);
        if let Some(f) = r.grad_fn() {
            self.set_grad_fn(f);
        }
        Ok(())
    }

    /// `self += other` without autograd checks (gradient accumulation).
    pub(crate) fn add_inplace_raw(&self, other: &Tensor) -> Result<()> {
        let other = other.cast_raw(self.dtype())?;
        let lb = other.layout().broadcast_to("add_", self.shape())?;
        let sb = other.strided().relayout(&lb);
        ew::binary(BinaryOp::Add, self.dtype(), self.strided(), self.strided(), sb)?;
        self.bump_version();
        Ok(())
    }

    /// `copy_(src)`: broadcast and cast `src` into this tensor's memory.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        self.check_inplace()?;
        // copy_ crosses devices in torch (it is how data moves into an existing tensor)
        let moved;
        let src = if src.device() != self.device() {
            moved = src.to_device(self.device())?;
            &moved
        } else {
            src
        };
        if is_grad_enabled() && src.requires_grad() {
            let r = src.to_dtype(self.dtype())?.expand(self.shape())?;
            let r = record(r.detach(), "CopyBackwards", &[&r], |_, _| GradFn::Identity);
            return self.assign_result(&r);
        }
        if is_grad_enabled() && self.requires_grad() {
            self.rebase_constant()?;
        }
        let src = if src.same_storage(self) { src.contiguous_owned()? } else { src.clone() };
        let l = src.layout().broadcast_to("copy_", self.shape())?;
        ew::cast(self.strided(), self.dtype(), src.strided().relayout(&l), src.dtype())?;
        self.bump_version();
        Ok(())
    }

    pub fn fill_(&self, v: Scalar) -> Result<()> {
        self.check_inplace()?;
        if is_grad_enabled() && self.requires_grad() {
            self.rebase_constant()?;
        }
        ew::fill(self.strided(), self.dtype(), v)?;
        self.bump_version();
        Ok(())
    }

    /// `torch.where(cond, a, b)` with broadcasting over all three.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        // CPU 0-d operands join a GPU op as scalars, as in torch
        let target = [cond, a, b].iter().map(|t| t.device()).find(|d| *d != crate::Device::Cpu);
        if let Some(d) = target {
            let mv = |t: &Tensor| if t.device() == crate::Device::Cpu && t.ndim() == 0 { t.to_device(d) } else { Ok(t.clone()) };
            let (c2, a2, b2) = (mv(cond)?, mv(a)?, mv(b)?);
            if c2.device() != cond.device() || a2.device() != a.device() || b2.device() != b.device() {
                return Tensor::where_(&c2, &a2, &b2);
            }
        }
        let device = same_device("where", &[cond, a, b])?;
        if cond.dtype() != DType::Bool {
            bail!(Runtime, "where expected condition to be a boolean tensor, but got a tensor with dtype {}", cond.dtype().name());
        }
        let shape = broadcast_shapes("where", &broadcast_shapes("where", cond.shape(), a.shape())?, b.shape())?;
        let dt = result_type(&[operand(a), operand(b)]);
        let (ac, bc) = (a.cast_raw(dt)?, b.cast_raw(dt)?);
        let out = empty(&shape, dt, device)?;
        {
            let (lc, la, lb) = (
                cond.layout().broadcast_to("where", &shape)?,
                ac.layout().broadcast_to("where", &shape)?,
                bc.layout().broadcast_to("where", &shape)?,
            );
            ew::where_(dt, out.strided(), cond.strided().relayout(&lc), ac.strided().relayout(&la), bc.strided().relayout(&lb))?;
        }
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        Ok(record(out, "WhereBackward0", &[&ac, &bc], |_, _| GradFn::Where { cond: cond.detach(), a: sa, b: sb }))
    }

    pub fn masked_fill(&self, mask: &Tensor, value: Scalar) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            bail!(Runtime, "masked_fill_ only supports boolean masks, but got mask with dtype {}", mask.dtype().name());
        }
        let v = Tensor::scalar_operand(value, self.dtype(), self.device())?;
        let r = Tensor::where_(mask, &v, self)?;
        if r.shape() != self.shape() {
            bail!(Runtime, "masked_fill: mask of shape {:?} cannot broadcast to {:?}", mask.shape(), self.shape());
        }
        Ok(r)
    }

    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            bail!(Runtime, "torch.clamp: At least one of 'min' or 'max' must not be None");
        }
        let mut r = self.detach();
        let _g = crate::backprop::GradModeGuard::new(false);
        let as_scalar = |v: f64| if self.dtype().is_float() { Scalar::Float(v) } else { Scalar::Int(v as i64) };
        if let Some(lo) = min {
            r = r.binary_scalar(BinaryOp::Maximum, as_scalar(lo), false)?;
        }
        if let Some(hi) = max {
            r = r.binary_scalar(BinaryOp::Minimum, as_scalar(hi), false)?;
        }
        drop(_g);
        Ok(record(r, "ClampBackward1", &[self], |_, _| GradFn::Clamp { x: Saved::input(self), min, max }))
    }
}
