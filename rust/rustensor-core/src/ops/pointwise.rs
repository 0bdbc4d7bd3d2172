//! `addcmul`, `addcdiv` and `lerp`: three tensors (broadcast together) and a scalar, one
//! kernel launch, out of place and in place, with torch's dtype rules for each.
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::dtype::{result_type, Operand};
use crate::kernels as ew;
use crate::layout::broadcast_shapes;
use crate::op::{torch_type_name, TernaryOp};
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Scalar, Tensor};

fn operand(t: &Tensor) -> Operand {
    if t.ndim() == 0 {
        Operand::ZeroDim(t.dtype())
    } else {
        Operand::Dim(t.dtype())
    }
}

/// c10's lower-case dtype name, which lerp's messages use.
fn c10_name(dt: DType) -> String {
    torch_type_name(dt).to_lowercase()
}

/// The dtype `op` computes in, or torch's refusal.
fn compute_dtype(op: TernaryOp, a: &Tensor, b: &Tensor, c: &Tensor, scalar_weight: bool) -> Result<DType> {
    let dt = match op {
        TernaryOp::Addcmul | TernaryOp::Addcdiv => {
            if op == TernaryOp::Addcdiv && !b.dtype().is_float() && !c.dtype().is_float() {
                bail!(
                    Runtime,
                    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all dtypes."
                );
            }
            result_type(&[operand(a), operand(b), operand(c)])
        }
        // lerp does not promote: end (and a weight with dims) must match self
        TernaryOp::Lerp => {
            if b.dtype() != a.dtype() {
                bail!(Runtime, "expected dtype {} for `end` but got dtype {}", c10_name(a.dtype()), c10_name(b.dtype()));
            }
            if !scalar_weight && c.ndim() > 0 && c.dtype() != a.dtype() {
                bail!(Runtime, "expected dtype {} for `weight` but got dtype {}", c10_name(a.dtype()), c10_name(c.dtype()));
            }
            a.dtype()
        }
    };
    if !op.has_kernel(dt) {
        bail!(Runtime, "\"{}\" not implemented for '{}'", op.kernel_name(scalar_weight), torch_type_name(dt));
    }
    Ok(dt)
}

/// CPU 0-d operands join a GPU op as scalars, as in torch.
fn co_locate3(a: &Tensor, b: &Tensor, c: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let target = [a, b, c].iter().map(|t| t.device()).find(|d| *d != crate::Device::Cpu);
    let mv = |t: &Tensor| match target {
        Some(d) if t.device() == crate::Device::Cpu && t.ndim() == 0 => t.to_device(d),
        _ => Ok(t.clone()),
    };
    Ok((mv(a)?, mv(b)?, mv(c)?))
}

impl Tensor {
    /// `op(self, b, c; value)` with broadcasting over the three tensors.
    pub fn ternary(&self, op: TernaryOp, b: &Tensor, c: &Tensor, value: f64) -> Result<Tensor> {
        self.ternary_in(op, b, c, value, false)
    }

    /// `self.lerp(end, weight)` with a number weight.
    pub fn lerp_scalar(&self, end: &Tensor, weight: f64) -> Result<Tensor> {
        let w = self.lerp_weight(weight)?;
        self.ternary_in(TernaryOp::Lerp, end, &w, 0.0, true)
    }

    fn lerp_weight(&self, weight: f64) -> Result<Tensor> {
        let dt = if self.dtype().is_float() { self.dtype() } else { DType::F32 };
        Tensor::scalar_operand(Scalar::Float(weight), dt, self.device())
    }

    fn ternary_in(&self, op: TernaryOp, b: &Tensor, c: &Tensor, value: f64, scalar_weight: bool) -> Result<Tensor> {
        let (a, b, c) = co_locate3(self, b, c)?;
        let device = same_device(op.name(), &[&a, &b, &c])?;
        let shape = broadcast_shapes(op.name(), &broadcast_shapes(op.name(), a.shape(), b.shape())?, c.shape())?;
        let dt = compute_dtype(op, &a, &b, &c, scalar_weight)?;
        let (a, b, c) = (a.cast_raw(dt)?, b.cast_raw(dt)?, c.cast_raw(dt)?);
        let out = empty(&shape, dt, device)?;
        {
            let (la, lb, lc) =
                (a.layout().broadcast_to(op.name(), &shape)?, b.layout().broadcast_to(op.name(), &shape)?, c.layout().broadcast_to(op.name(), &shape)?);
            ew::ternary(op, dt, value, out.strided(), a.strided().relayout(&la), b.strided().relayout(&lb), c.strided().relayout(&lc))?;
        }
        Ok(record(out, op.grad_name(scalar_weight), &[&a, &b, &c], |_, _| GradFn::Ternary {
            op,
            value,
            a: Saved::input(&a),
            b: Saved::input(&b),
            c: Saved::input(&c),
        }))
    }

    /// In place: `self = op(self, b, c; value)`; the result must cast to self's dtype and
    /// the broadcast shape must be self's.
    pub fn ternary_(&self, op: TernaryOp, b: &Tensor, c: &Tensor, value: f64) -> Result<()> {
        self.ternary_in_(op, b, c, value, false)
    }

    pub fn lerp_scalar_(&self, end: &Tensor, weight: f64) -> Result<()> {
        let w = self.lerp_weight(weight)?;
        self.ternary_in_(TernaryOp::Lerp, end, &w, 0.0, true)
    }

    fn ternary_in_(&self, op: TernaryOp, b: &Tensor, c: &Tensor, value: f64, scalar_weight: bool) -> Result<()> {
        self.check_inplace()?;
        let (_, b, c) = co_locate3(self, b, c)?;
        same_device(op.name(), &[self, &b, &c])?;
        let shape = broadcast_shapes(op.name(), &broadcast_shapes(op.name(), self.shape(), b.shape())?, c.shape())?;
        let dt = compute_dtype(op, self, &b, &c, scalar_weight)?;
        if dt != self.dtype() && dt.category() > self.dtype().category() {
            bail!(Runtime, "result type {} can't be cast to the desired output type {}", torch_type_name(dt), torch_type_name(self.dtype()));
        }
        if shape != self.shape() {
            bail!(Runtime, "output with shape {:?} doesn't match the broadcast shape {:?}", self.shape(), shape);
        }
        if (is_grad_enabled() && (self.requires_grad() || b.requires_grad() || c.requires_grad())) || dt != self.dtype() {
            let snapshot = if is_grad_enabled() && self.requires_grad() { self.snapshot_for_inplace()? } else { self.clone() };
            let r = snapshot.ternary_in(op, &b, &c, value, scalar_weight)?;
            return self.assign_result(&r);
        }
        // reading another view of our own storage while writing it would see half-updated data
        let own = |t: Tensor| if t.same_storage(self) && t.layout() != self.layout() { t.contiguous_owned() } else { Ok(t) };
        let (b, c) = (own(b.cast_raw(dt)?)?, own(c.cast_raw(dt)?)?);
        let (lb, lc) = (b.layout().broadcast_to(op.name(), &shape)?, c.layout().broadcast_to(op.name(), &shape)?);
        ew::ternary(op, dt, value, self.strided(), self.strided(), b.strided().relayout(&lb), c.strided().relayout(&lc))?;
        self.bump_version();
        Ok(())
    }
}

/// The backward of [`GradFn::Ternary`]: gradients for (a, b, c), each of the output's shape
/// (the engine sums them down to the inputs' shapes).
pub(crate) fn ternary_backward(op: TernaryOp, value: f64, g: &Tensor, s: [&Saved; 3], name: &str, needs: [bool; 3]) -> Result<Vec<Option<Tensor>>> {
    let get = |k: usize| s[k].get(name);
    Ok(match op {
        TernaryOp::Addcmul => vec![
            needs[0].then(|| g.clone()),
            if needs[1] { Some(g.mul(&get(2)?)?.mul_scalar(value)?) } else { None },
            if needs[2] { Some(g.mul(&get(1)?)?.mul_scalar(value)?) } else { None },
        ],
        TernaryOp::Addcdiv => {
            let c = get(2)?;
            vec![
                needs[0].then(|| g.clone()),
                if needs[1] { Some(g.div(&c)?.mul_scalar(value)?) } else { None },
                if needs[2] { Some(g.mul(&get(1)?)?.div(&c.mul(&c)?)?.mul_scalar(-value)?) } else { None },
            ]
        }
        TernaryOp::Lerp => {
            let w = get(2)?;
            vec![
                if needs[0] { Some(g.mul(&w.neg()?.add_scalar(1.0)?)?) } else { None },
                if needs[1] { Some(g.mul(&w)?) } else { None },
                if needs[2] { Some(g.mul(&get(1)?.sub(&get(0)?)?)?) } else { None },
            ]
        }
    })
}
