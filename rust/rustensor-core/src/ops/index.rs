//! Indexing ops: advanced take/put, gather/scatter, cat, nonzero.
use crate::backprop::{is_grad_enabled, record, GradFn};
use crate::cpu_backend::Strided;
use crate::error::wrap_dim;
use crate::layout::broadcast_shapes;
use crate::ops::{empty, from_storage, same_device};
use crate::{bail, DType, Result, Tensor};

/// Index tensors broadcast to one shape (layouts only: the backend reads the values).
fn broadcast_indices(indices: &[Tensor]) -> Result<(Vec<usize>, Vec<crate::layout::Layout>)> {
    let mut shape: Vec<usize> = vec![];
    for (i, t) in indices.iter().enumerate() {
        if !t.dtype().is_int() {
            bail!(Index, "tensors used as indices must be long, int, byte or bool tensors");
        }
        shape = if i == 0 { t.shape().to_vec() } else { broadcast_shapes("index", &shape, t.shape())? };
    }
    let ls = indices.iter().map(|t| t.layout().broadcast_to("index", &shape)).collect::<Result<Vec<_>>>()?;
    Ok((shape, ls))
}

/// Index tensors on `device`: torch lets CPU index tensors index a GPU tensor.
fn indices_on(device: crate::Device, indices: &[Tensor]) -> Result<Vec<Tensor>> {
    indices.iter().map(|t| if t.device() == device { Ok(t.clone()) } else { t.to_device_raw(device) }).collect()
}

/// The index operands of an index op: each tensor's storage under its broadcast layout.
fn index_operands<'a>(indices: &'a [Tensor], ls: &'a [crate::layout::Layout]) -> Vec<(Strided<'a>, DType)> {
    indices.iter().zip(ls).map(|(t, l)| (t.strided().relayout(l), t.dtype())).collect()
}

impl Tensor {
    /// Advanced indexing over `dims` with integer index tensors (broadcast together).
    /// Output in canonical order: [index shape..., remaining dims in order].
    pub fn index_take(&self, dims: &[usize], indices: &[Tensor]) -> Result<Tensor> {
        let device = self.device();
        let moved = indices_on(device, indices)?;
        let indices = moved.as_slice();
        let out_shape = |ishape: &[usize]| {
            let mut shape = ishape.to_vec();
            for d in 0..self.ndim() {
                if !dims.contains(&d) {
                    shape.push(self.shape()[d]);
                }
            }
            shape
        };
        let (ishape, ls) = broadcast_indices(indices)?;
        let st = crate::kernels::take(self.dtype(), self.strided(), dims, &ishape, &index_operands(indices, &ls))?;
        let out = from_storage(st, self.dtype(), &out_shape(&ishape));
        let (s, ds, is) = (self.shape().to_vec(), dims.to_vec(), indices.to_vec());
        Ok(record(out, "IndexBackward0", &[self], |_, _| GradFn::Index { shape: s, dims: ds, indices: is }))
    }

    /// Out of place `zeros(shape)[indices] += values` (the backward of indexing).
    pub fn index_put_acc(shape: &[usize], dims: &[usize], indices: &[Tensor], values: &Tensor) -> Result<Tensor> {
        let out = Tensor::zeros(shape, values.dtype(), values.device())?;
        out.put_raw(dims, indices, values, true)?;
        let (ds, is) = (dims.to_vec(), indices.to_vec());
        Ok(record(out, "IndexPutBackward0", &[values], |_, _| GradFn::IndexPutAcc { dims: ds, indices: is }))
    }

    /// In place `self[indices] = values` (or `+=`), values in canonical order.
    pub fn index_put_(&self, dims: &[usize], indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<()> {
        self.check_inplace()?;
        let (_, values) = &crate::ops::co_locate("index_put_", self, values)?;
        let (ishape, _) = broadcast_indices(indices)?;
        let vshape = canonical_shape(&ishape, self.shape(), dims);
        let v = values.to_dtype(self.dtype())?;
        v.layout().broadcast_to("index_put_", &vshape).map_err(|_| {
            crate::Error::Runtime(format!(
                "shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                values.shape(),
                vshape
            ))
        })?;
        if is_grad_enabled() && (self.requires_grad() || values.requires_grad()) {
            // record out of place: result = self with the indexed entries replaced
            let snap = self.snapshot_for_inplace()?;
            let r = snap.contiguous_owned()?;
            r.put_raw(dims, indices, &v, accumulate)?;
            let (ds, is) = (dims.to_vec(), indices.to_vec());
            let r = record(r, "IndexPutBackward0", &[&snap, &v], |_, _| GradFn::IndexPut {
                dims: ds,
                indices: is,
                values_shape: vshape.clone(),
            });
            return self.assign_result(&r);
        }
        let v = if v.same_storage(self) { v.contiguous_owned()? } else { v };
        self.put_raw(dims, indices, &v, accumulate)?;
        self.bump_version();
        Ok(())
    }

    /// `self[indices] (+)= values` in this tensor's memory, no checks or recording.
    fn put_raw(&self, dims: &[usize], indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<()> {
        let device = same_device("index_put_", &[self, values])?;
        let moved = indices_on(device, indices)?;
        let indices = moved.as_slice();
        let values = values.cast_raw(self.dtype())?;
        let (ishape, ls) = broadcast_indices(indices)?;
        let vshape = canonical_shape(&ishape, self.shape(), dims);
        let l = values.layout().broadcast_to("index_put_", &vshape)?;
        let ops = index_operands(indices, &ls);
        crate::kernels::put(self.dtype(), self.strided(), dims, &ishape, &ops, values.strided().relayout(&l), accumulate)
    }

    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if index.ndim() > 1 {
            bail!(Index, "index_select(): Index is supposed to be a vector");
        }
        let d = wrap_dim("index_select", dim, self.ndim())?;
        let idx = if index.ndim() == 0 { index.reshape(&[1])? } else { index.clone() };
        let t = self.index_take(&[d], &[idx])?;
        // canonical order puts the index dim first; move it back to `d`
        if d == 0 {
            return Ok(t);
        }
        let mut perm: Vec<i64> = (1..t.ndim() as i64).collect();
        perm.insert(d, 0);
        t.permute(&perm)
    }

    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if index.dtype() != DType::I64 {
            bail!(Runtime, "gather(): Expected dtype int64 for index");
        }
        let d = wrap_dim("gather", dim, self.ndim())?;
        same_device("gather", &[self, index])?;
        let st = crate::kernels::gather(self.dtype(), self.strided(), d, index.strided(), index.dtype())?;
        let out = from_storage(st, self.dtype(), index.shape());
        let (shape, idx) = (self.shape().to_vec(), index.detach());
        Ok(record(out, "GatherBackward0", &[self], |_, _| GradFn::Gather { shape, dim: d, index: idx }))
    }

    /// Out of place `self.scatter_add(dim, index, src)`.
    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, true)
    }
    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, false)
    }
    fn scatter_impl(&self, dim: i64, index: &Tensor, src: &Tensor, acc: bool) -> Result<Tensor> {
        if index.dtype() != DType::I64 {
            bail!(Runtime, "scatter(): Expected dtype int64 for index");
        }
        let d = wrap_dim("scatter", dim, self.ndim())?;
        let out = self.contiguous_owned()?;
        let s = src.to_dtype(self.dtype())?;
        same_device("scatter", &[self, index, &s])?;
        crate::kernels::scatter(self.dtype(), out.strided(), d, index.strided(), index.dtype(), s.strided(), acc)?;
        let idx = index.detach();
        if acc {
            Ok(record(out, "ScatterAddBackward0", &[self, &s], |_, _| GradFn::ScatterAdd { dim: d, index: idx }))
        } else {
            Ok(record(out, "ScatterBackward0", &[self, &s], |_, _| GradFn::Scatter { dim: d, index: idx }))
        }
    }

    pub fn nonzero(&self) -> Result<Tensor> {
        let (n, st) = crate::kernels::nonzero(self.dtype(), self.strided())?;
        Ok(from_storage(st, DType::I64, &[n, self.ndim()]))
    }

    /// `x[mask]`: the selected elements as a 1-D tensor (more dims kept after the mask's).
    pub fn masked_index(&self, mask: &Tensor, first_dim: usize) -> Result<Tensor> {
        let (dims, idx) = self.mask_to_indices(mask, first_dim)?;
        self.index_take(&dims, &idx)
    }

    pub(crate) fn mask_to_indices(&self, mask: &Tensor, first_dim: usize) -> Result<(Vec<usize>, Vec<Tensor>)> {
        let k = mask.ndim();
        if first_dim + k > self.ndim() {
            bail!(Index, "too many indices for tensor of dimension {}", self.ndim());
        }
        for i in 0..k {
            if mask.shape()[i] != self.shape()[first_dim + i] {
                bail!(
                    Index,
                    "The shape of the mask {:?} at index {i} does not match the shape of the indexed tensor {:?} at index {}",
                    mask.shape(),
                    self.shape(),
                    first_dim + i
                );
            }
        }
        let nz = mask.nonzero()?;
        let cols = if k == 0 { vec![] } else { nz.unbind(1)? };
        let dims: Vec<usize> = (first_dim..first_dim + k).collect();
        if k == 0 {
            bail!(Index, "a 0-d boolean mask must be expanded by the caller");
        }
        Ok((dims, cols.into_iter().map(|c| c.contiguous_owned()).collect::<Result<Vec<_>>>()?))
    }

    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let Some(first) = tensors.iter().find(|t| !(t.ndim() == 1 && t.numel() == 0)) else {
            return match tensors.first() {
                Some(t) => Ok(t.clone()),
                None => bail!(Runtime, "torch.cat(): expected a non-empty list of Tensors"),
            };
        };
        let refs: Vec<&Tensor> = tensors.iter().collect();
        let device = same_device("cat", &refs)?;
        let nd = first.ndim();
        if nd == 0 {
            bail!(Runtime, "zero-dimensional tensor (at position 0) cannot be concatenated");
        }
        let d = wrap_dim("cat", dim, nd)?;
        let mut dt = first.dtype();
        let mut total = 0;
        let parts: Vec<&Tensor> = tensors.iter().filter(|t| !(t.ndim() == 1 && t.numel() == 0)).collect();
        for (i, t) in parts.iter().enumerate() {
            if t.ndim() != nd {
                bail!(
                    Runtime,
                    "cat(): Tensors must have same number of dimensions: got {nd} and {}",
                    t.ndim()
                );
            }
            for j in 0..nd {
                if j != d && t.shape()[j] != first.shape()[j] {
                    bail!(
                        Runtime,
                        "cat(): Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for tensor number {i} in the list.",
                        first.shape()[j],
                        t.shape()[j]
                    );
                }
            }
            dt = dt.promote(t.dtype());
            total += t.shape()[d];
        }
        let mut shape = first.shape().to_vec();
        shape[d] = total;
        let out = empty(&shape, dt, device)?;
        let mut start = 0;
        let mut sizes = vec![];
        for t in &parts {
            let n = t.shape()[d];
            let l = out.layout().slice(d, start, n, 1);
            crate::kernels::cast(out.strided().relayout(&l), dt, t.strided(), t.dtype())?;
            sizes.push(n);
            start += n;
        }
        let casted: Vec<Tensor> = parts.iter().map(|t| t.cast_raw(dt)).collect::<Result<_>>()?;
        let crefs: Vec<&Tensor> = casted.iter().collect();
        Ok(record(out, "CatBackward0", &crefs, |_, _| GradFn::Cat { dim: d, sizes }))
    }

    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let Some(first) = tensors.first() else {
            bail!(Runtime, "stack expects a non-empty TensorList");
        };
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != first.shape() {
                bail!(
                    Runtime,
                    "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}",
                    first.shape(),
                    t.shape()
                );
            }
        }
        let d = wrap_dim("stack", dim, first.ndim() + 1)?;
        let us: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d as i64)).collect::<Result<_>>()?;
        Tensor::cat(&us, d as i64)
    }
}

/// Shape of values for a put in canonical order: [index shape..., remaining dims].
pub(crate) fn canonical_shape(ishape: &[usize], shape: &[usize], dims: &[usize]) -> Vec<usize> {
    let mut v = ishape.to_vec();
    for (d, &s) in shape.iter().enumerate() {
        if !dims.contains(&d) {
            v.push(s);
        }
    }
    v
}

