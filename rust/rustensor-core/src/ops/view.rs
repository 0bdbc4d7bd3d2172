//! View ops: new layouts over the same storage, each with its backward.
use crate::backprop::{record, GradFn};
use crate::kernels as ew;
use crate::error::wrap_dim;
use crate::layout::{infer_shape, Layout};
use crate::{bail, Result, Tensor};

/// A layout-to-layout view function that can be replayed on a gradient-shaped zero tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewFn {
    Narrow { dim: usize, start: usize, len: usize, step: usize },
    Select { dim: usize, index: usize },
    Diagonal { offset: i64, d1: i64, d2: i64 },
    /// Reversal along dims: negative strides (only ever materialised by `flip`).
    Flip { dims: Vec<usize> },
}

impl ViewFn {
    pub fn apply(&self, l: &Layout) -> Result<Layout> {
        Ok(match self {
            ViewFn::Narrow { dim, start, len, step } => l.slice(*dim, *start, *len, *step),
            ViewFn::Select { dim, index } => l.select(*dim, *index),
            ViewFn::Diagonal { offset, d1, d2 } => l.diagonal(*offset, *d1, *d2)?,
            ViewFn::Flip { dims } => {
                let mut out = l.clone();
                for &d in dims {
                    if l.shape[d] > 0 {
                        out.offset = (out.offset as isize + (l.shape[d] as isize - 1) * l.strides[d]) as usize;
                    }
                    out.strides[d] = -l.strides[d];
                }
                out
            }
        })
    }
    fn grad_name(&self) -> &'static str {
        match self {
            ViewFn::Narrow { .. } => "SliceBackward0",
            ViewFn::Select { .. } => "SelectBackward0",
            ViewFn::Diagonal { .. } => "DiagonalBackward0",
            ViewFn::Flip { .. } => "FlipBackward0",
        }
    }
}

impl Tensor {
    /// Applies a view function (a differentiable view).
    pub fn apply_view(&self, v: ViewFn) -> Result<Tensor> {
        let l = v.apply(self.layout())?;
        let shape = self.shape().to_vec();
        let name = v.grad_name();
        Ok(record(self.with_layout(l), name, &[self], |_, _| GradFn::View { shape, view: v }))
    }

    /// The adjoint of a view: zeros of `shape` with `self` written through the view.
    pub fn view_scatter(&self, shape: &[usize], v: &ViewFn) -> Result<Tensor> {
        let z = Tensor::zeros(shape, self.dtype(), self.device())?;
        let l = v.apply(z.layout())?;
        let zl = z.strided().relayout(&l);
        let src = self.layout().broadcast_to("view_scatter", &l.shape)?;
        ew::cast(zl, self.dtype(), self.strided().relayout(&src), self.dtype())?;
        let view = v.clone();
        Ok(record(z, "ViewScatterBackward", &[self], |_, _| GradFn::ViewScatter { view }))
    }

    fn reshape_record(&self, out: Tensor) -> Tensor {
        let shape = self.shape().to_vec();
        record(out, "ViewBackward0", &[self], |_, _| GradFn::Reshape { shape })
    }

    /// `reshape`: a view when the strides allow, else a copy.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if n != self.numel() {
            bail!(Runtime, "shape '{:?}' is invalid for input of size {}", shape, self.numel());
        }
        if self.shape() == shape {
            return Ok(self.clone());
        }
        match self.layout().reshape_view(shape) {
            Some(l) => Ok(self.reshape_record(self.with_layout(l))),
            None => {
                let c = self.contiguous_owned()?;
                Ok(self.reshape_record(c.with_layout(Layout::contiguous(shape))))
            }
        }
    }

    /// `reshape` with torch's argument form (one -1 allowed).
    pub fn reshape_i(&self, shape: &[i64]) -> Result<Tensor> {
        let s = infer_shape("reshape", shape, self.numel())?;
        self.reshape(&s)
    }

    /// `view`: like reshape but never copies.
    pub fn view_i(&self, shape: &[i64]) -> Result<Tensor> {
        let s = infer_shape("view", shape, self.numel())?;
        match self.layout().reshape_view(&s) {
            Some(l) => Ok(self.reshape_record(self.with_layout(l))),
            None => bail!(
                Runtime,
                "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ),
        }
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        let l = self.layout().permute(dims)?;
        let n = self.ndim();
        let dims: Vec<usize> = dims.iter().map(|&d| wrap_dim("permute", d, n)).collect::<Result<_>>()?;
        Ok(record(self.with_layout(l), "PermuteBackward0", &[self], |_, _| GradFn::Permute { dims }))
    }

    pub fn transpose(&self, d0: i64, d1: i64) -> Result<Tensor> {
        let n = self.ndim();
        if n < 2 {
            let l = self.layout().transpose(d0, d1)?;
            return Ok(self.reshape_record(self.with_layout(l)));
        }
        let a = wrap_dim("transpose", d0, n)?;
        let b = wrap_dim("transpose", d1, n)?;
        let mut dims: Vec<i64> = (0..n as i64).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// `expand`/`broadcast_to`: stride-0 view.
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let l = self.layout().broadcast_to("expand", shape)?;
        let s = self.shape().to_vec();
        Ok(record(self.with_layout(l), "ExpandBackward0", &[self], |_, _| GradFn::Expand { shape: s }))
    }

    /// `expand` with torch's -1 ("keep this size").
    pub fn expand_i(&self, sizes: &[i64]) -> Result<Tensor> {
        if sizes.len() < self.ndim() {
            bail!(
                Runtime,
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                sizes.len(),
                self.ndim()
            );
        }
        let lead = sizes.len() - self.ndim();
        let mut shape = Vec::with_capacity(sizes.len());
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    bail!(Runtime, "expand: -1 is not allowed in a leading, non-existing dimension {i}");
                }
                shape.push(self.shape()[i - lead]);
            } else if s < 0 {
                bail!(Runtime, "expand: invalid size {s}");
            } else {
                shape.push(s as usize);
            }
        }
        self.expand(&shape)
    }

    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let l = self.layout().unsqueeze(dim)?;
        Ok(self.reshape_record(self.with_layout(l)))
    }

    pub fn squeeze(&self, dims: Option<&[i64]>) -> Result<Tensor> {
        let l = self.layout().squeeze(dims)?;
        Ok(self.reshape_record(self.with_layout(l)))
    }

    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        let n = self.ndim();
        if n == 0 {
            return self.reshape(&[1]);
        }
        let s = wrap_dim("flatten", start, n)?;
        let e = wrap_dim("flatten", end, n)?;
        if s > e {
            bail!(Runtime, "flatten() has invalid args: start_dim cannot come after end_dim");
        }
        let mut shape: Vec<usize> = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// `narrow(dim, start, length)`.
    pub fn narrow(&self, dim: i64, start: i64, length: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!(Runtime, "narrow() cannot be applied to a 0-dim tensor.");
        }
        let d = wrap_dim("narrow", dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        let st = if start < 0 { start + size } else { start };
        if st < 0 || st > size {
            bail!(Index, "start out of range (expected to be in range of [{}, {}], but got {start})", -size, size);
        }
        if length < 0 {
            bail!(Runtime, "narrow(): length must be non-negative (got {length}).");
        }
        if st + length > size {
            bail!(Runtime, "start ({st}) + length ({length}) exceeds dimension size ({size}).");
        }
        self.apply_view(ViewFn::Narrow { dim: d, start: st as usize, len: length as usize, step: 1 })
    }

    /// Python slicing `start:stop:step` along `dim` (positive step), clamped as Python does.
    pub fn slice(&self, dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Result<Tensor> {
        if step <= 0 {
            bail!(Value, "step must be greater than zero");
        }
        let size = self.shape()[dim] as i64;
        let clampi = |v: i64| -> i64 {
            let v = if v < 0 { v + size } else { v };
            v.clamp(0, size)
        };
        let s = start.map(clampi).unwrap_or(0);
        let e = stop.map(clampi).unwrap_or(size).max(s);
        let len = (e - s + step - 1) / step;
        self.apply_view(ViewFn::Narrow { dim, start: s as usize, len: len as usize, step: step as usize })
    }

    /// Integer indexing along `dim` (removes the dim).
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            bail!(Index, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number");
        }
        let d = wrap_dim("select", dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        let i = if index < 0 { index + size } else { index };
        if i < 0 || i >= size {
            bail!(Index, "index {index} is out of bounds for dimension {d} with size {size}");
        }
        self.apply_view(ViewFn::Select { dim: d, index: i as usize })
    }

    pub fn diagonal(&self, offset: i64, d1: i64, d2: i64) -> Result<Tensor> {
        self.apply_view(ViewFn::Diagonal { offset, d1, d2 })
    }

    /// `flip(dims)`: a copy (as torch), made through a negative-stride view.
    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        let n = self.ndim();
        let mut ds = vec![];
        for &d in dims {
            let d = wrap_dim("flip", d, n)?;
            if ds.contains(&d) {
                bail!(Runtime, "flip: dims has duplicates, original flip dims size={}", dims.len());
            }
            if n > 0 {
                ds.push(d);
            }
        }
        self.apply_view(ViewFn::Flip { dims: ds })?.clone_tensor()
    }

    pub fn unbind(&self, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!(Index, "Dimension specified as 0 but tensor has no dimensions");
        }
        let d = wrap_dim("unbind", dim, self.ndim())?;
        (0..self.shape()[d]).map(|i| self.select(d as i64, i as i64)).collect()
    }

    /// `split(sizes, dim)` with explicit section sizes.
    pub fn split_sizes(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!(Runtime, "split expects at least a 1-dimensional tensor");
        }
        let d = wrap_dim("split", dim, self.ndim())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            bail!(
                Runtime,
                "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {d}), but got split_sizes={:?}",
                self.shape()[d],
                sizes
            );
        }
        let mut out = vec![];
        let mut start = 0;
        for &s in sizes {
            out.push(self.apply_view(ViewFn::Narrow { dim: d, start, len: s, step: 1 })?);
            start += s;
        }
        Ok(out)
    }

    /// `split(chunk_size, dim)`: equal chunks, the last one smaller.
    pub fn split_size(&self, size: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            bail!(Runtime, "split expects at least a 1-dimensional tensor");
        }
        let d = wrap_dim("split", dim, self.ndim())?;
        let n = self.shape()[d];
        if size == 0 && n > 0 {
            bail!(Runtime, "split_size can only be 0 if dimension size is 0, but got dimension size of {n}");
        }
        let mut sizes = vec![];
        let mut left = n;
        while left > 0 {
            let s = size.min(left);
            sizes.push(s);
            left -= s;
        }
        if sizes.is_empty() {
            sizes.push(0);
        }
        self.split_sizes(&sizes, d as i64)
    }

    /// `chunk(chunks, dim)`: torch's rule — chunk size ceil(n / chunks).
    pub fn chunk(&self, chunks: i64, dim: i64) -> Result<Vec<Tensor>> {
        if chunks <= 0 {
            bail!(Runtime, "chunk expects `chunks` to be greater than 0, got: {chunks}");
        }
        if self.ndim() == 0 {
            bail!(Runtime, "chunk expects at least a 1-dimensional tensor");
        }
        let d = wrap_dim("chunk", dim, self.ndim())?;
        let n = self.shape()[d];
        let size = n.div_ceil(chunks as usize).max(1);
        if n == 0 {
            return self.split_sizes(&vec![0; chunks as usize], d as i64);
        }
        self.split_size(size, d as i64)
    }

    /// `as_strided`-free `t()` semantics: 0-d and 1-d unchanged, 2-d transposed.
    pub fn t(&self) -> Result<Tensor> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            n => bail!(Runtime, "t() expects a tensor with <= 2 dimensions, but self is {n}D"),
        }
    }
}
