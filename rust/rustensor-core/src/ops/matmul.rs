//! `torch.matmul` semantics: 1-D operands are promoted and the added dims removed again,
//! batch dims broadcast, any strides accepted (transposed views go straight to gemm).
use crate::backprop::{record, GradFn, Saved};
use crate::layout::broadcast_shapes;
use crate::ops::{empty, same_device};
use crate::{bail, Result, Tensor};

impl Tensor {
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        same_device("matmul", &[self, other])?;
        let (na, nb) = (self.ndim(), other.ndim());
        if na == 0 || nb == 0 {
            bail!(
                Runtime,
                "both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
            );
        }
        if self.dtype() != other.dtype() {
            bail!(
                Runtime,
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                self.dtype().name(),
                other.dtype().name()
            );
        }
        // checked before dispatch: the GPU kernel would otherwise multiply bool words
        if self.dtype() == crate::DType::Bool {
            bail!(Runtime, "\"addmm_impl_cpu_\" not implemented for 'Bool'");
        }
        if self.dtype() == crate::DType::BF16 {
            // gemm has no bfloat16 kernels: float32 products and sums, one rounding at the end
            let f = crate::DType::F32;
            return self.to_dtype(f)?.matmul(&other.to_dtype(f)?)?.to_dtype(crate::DType::BF16);
        }
        let a = if na == 1 { self.unsqueeze(0)? } else { self.clone() };
        let b = if nb == 1 { other.unsqueeze(1)? } else { other.clone() };
        let out = a.matmul_nd(&b, self.shape(), other.shape())?;
        // remove the dims that 1-D operands gained
        let mut shape = out.shape().to_vec();
        if nb == 1 {
            shape.pop();
        }
        if na == 1 {
            let n = shape.len();
            shape.remove(n - if nb == 1 { 1 } else { 2 });
        }
        if shape.as_slice() != out.shape() {
            out.reshape(&shape)
        } else {
            Ok(out)
        }
    }

    /// Both operands at least 2-D.
    fn matmul_nd(&self, other: &Tensor, sa: &[usize], sb: &[usize]) -> Result<Tensor> {
        let (na, nb) = (self.ndim(), other.ndim());
        let (m, k) = (self.shape()[na - 2], self.shape()[na - 1]);
        let (k2, n) = (other.shape()[nb - 2], other.shape()[nb - 1]);
        if k != k2 {
            let fmt = |s: &[usize]| s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x");
            if sa.len() <= 2 && sb.len() <= 2 {
                bail!(Runtime, "matmul: mat1 and mat2 shapes cannot be multiplied ({} and {})", fmt(self.shape()), fmt(other.shape()));
            }
            bail!(
                Runtime,
                "matmul: Expected size for first two dimensions of batch2 tensor to be: [{k}] but got: [{k2}]; shapes {:?} and {:?}",
                sa,
                sb
            );
        }
        let batch = broadcast_shapes("matmul", &self.shape()[..na - 2], &other.shape()[..nb - 2])?;
        let mut ashape = batch.clone();
        ashape.extend([m, k]);
        let mut bshape = batch.clone();
        bshape.extend([k, n]);
        let mut oshape = batch.clone();
        oshape.extend([m, n]);
        let la = self.layout().broadcast_to("matmul", &ashape)?;
        let lb = other.layout().broadcast_to("matmul", &bshape)?;
        let out = empty(&oshape, self.dtype(), self.device())?;
        crate::kernels::matmul(
            self.dtype(),
            out.strided(),
            self.strided().relayout(&la),
            other.strided().relayout(&lb),
        )?;
        let name = if batch.is_empty() { "MmBackward0" } else { "BmmBackward0" };
        Ok(record(out, name, &[self, other], |_, _| GradFn::Matmul { a: Saved::input(self), b: Saved::input(other) }))
    }

    /// The last two dims swapped (`mT`).
    pub fn mt(&self) -> Result<Tensor> {
        if self.ndim() < 2 {
            bail!(Runtime, "tensor.mT is only supported on matrices or batches of matrices. Got {}-D tensor.", self.ndim());
        }
        self.transpose(-2, -1)
    }
}
