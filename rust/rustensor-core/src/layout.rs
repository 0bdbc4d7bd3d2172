//! A view's geometry: shape, strides (in elements) and start offset over shared storage.
//! Every view op is a function from one Layout to another; none touches the data.
use crate::error::{fmt_shape, wrap_dim};
use crate::{bail, Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
    pub offset: usize,
}

/// Row-major strides for a shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1) as isize);
    }
    strides
}

/// The element count of a shape, or an error when it overflows.
pub fn checked_numel(op: &str, shape: &[usize]) -> Result<usize> {
    let mut n: usize = 1;
    for &d in shape {
        n = n.checked_mul(d).ok_or_else(|| {
            Error::Runtime(format!("{op}: the shape {} has too many elements", fmt_shape(shape)))
        })?;
    }
    if n > (isize::MAX as usize) / 8 {
        bail!(Runtime, "{op}: the shape {} has too many elements", fmt_shape(shape));
    }
    Ok(n)
}

/// The broadcast of two shapes, NumPy/torch style (align right, 1 stretches).
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            bail!(
                Runtime,
                "{op}: The size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {i}; shapes {} and {}",
                fmt_shape(a),
                fmt_shape(b)
            );
        };
    }
    Ok(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout { shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 }
    }
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1isize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] == 0 {
                return true;
            }
            if self.shape[i] != 1 {
                if self.strides[i] != acc {
                    return false;
                }
                acc *= self.shape[i] as isize;
            }
        }
        true
    }
    /// The range of storage elements this view may touch: [min, max] offsets (inclusive).
    pub fn span(&self) -> Option<(isize, isize)> {
        if self.numel() == 0 {
            return None;
        }
        let mut lo = self.offset as isize;
        let mut hi = lo;
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let ext = (d as isize - 1) * s;
            if ext < 0 {
                lo += ext
            } else {
                hi += ext
            }
        }
        Some((lo, hi))
    }

    /// Broadcasts this layout to `shape` with stride 0 along stretched dims (a view).
    pub fn broadcast_to(&self, op: &str, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.ndim() {
            bail!(
                Runtime,
                "{op}: the shape {} cannot be expanded to the smaller-rank shape {}",
                fmt_shape(&self.shape),
                fmt_shape(shape)
            );
        }
        let lead = shape.len() - self.ndim();
        let mut strides = vec![0isize; shape.len()];
        for i in 0..shape.len() {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            if d == shape[i] {
                strides[i] = s;
            } else if d == 1 {
                strides[i] = 0;
            } else {
                bail!(
                    Runtime,
                    "{op}: The expanded size of the tensor ({}) must match the existing size ({d}) at non-singleton dimension {i}.  Target sizes: {}.  Tensor sizes: {}",
                    shape[i],
                    fmt_shape(shape),
                    fmt_shape(&self.shape)
                );
            }
        }
        Ok(Layout { shape: shape.to_vec(), strides, offset: self.offset })
    }

    pub fn transpose(&self, d0: i64, d1: i64) -> Result<Layout> {
        let n = self.ndim();
        if n == 0 {
            wrap_dim("transpose", d0, 0)?;
            wrap_dim("transpose", d1, 0)?;
            return Ok(self.clone());
        }
        let a = wrap_dim("transpose", d0, n)?;
        let b = wrap_dim("transpose", d1, n)?;
        let mut l = self.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        Ok(l)
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Layout> {
        let n = self.ndim();
        if dims.len() != n {
            bail!(
                Runtime,
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {}",
                dims.len()
            );
        }
        let mut seen = vec![false; n];
        let mut l = Layout { shape: Vec::with_capacity(n), strides: Vec::with_capacity(n), offset: self.offset };
        for &d in dims {
            let d = wrap_dim("permute", d, n)?;
            if seen[d] {
                bail!(Runtime, "permute(): duplicate dims are not allowed.");
            }
            seen[d] = true;
            l.shape.push(self.shape[d]);
            l.strides.push(self.strides[d]);
        }
        Ok(l)
    }

    pub fn unsqueeze(&self, dim: i64) -> Result<Layout> {
        let d = wrap_dim("unsqueeze", dim, self.ndim() + 1)?;
        let mut l = self.clone();
        let stride = if d < self.ndim() { self.strides[d] * self.shape[d] as isize } else { 1 };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(l)
    }

    /// Splits the dims into (kept shape, kept strides, reduced shape, reduced strides) by
    /// `mask` (true: reduced), each in dim order: the geometry every reduction kernel walks.
    pub fn split_dims(&self, mask: &[bool]) -> (Vec<usize>, Vec<isize>, Vec<usize>, Vec<isize>) {
        let (mut ks, mut kst, mut rs, mut rst) = (vec![], vec![], vec![], vec![]);
        for ((&s, &st), &red) in self.shape.iter().zip(&self.strides).zip(mask) {
            if red {
                rs.push(s);
                rst.push(st);
            } else {
                ks.push(s);
                kst.push(st);
            }
        }
        (ks, kst, rs, rst)
    }

    pub fn squeeze(&self, dims: Option<&[i64]>) -> Result<Layout> {
        let n = self.ndim();
        let mut drop = vec![false; n];
        match dims {
            None => {
                for (dr, &s) in drop.iter_mut().zip(&self.shape) {
                    *dr = s == 1;
                }
            }
            Some(ds) => {
                for &d in ds {
                    let d = wrap_dim("squeeze", d, n)?;
                    if n > 0 && self.shape[d] == 1 {
                        drop[d] = true;
                    }
                }
            }
        }
        let mut l = Layout { shape: vec![], strides: vec![], offset: self.offset };
        for (i, &dr) in drop.iter().enumerate() {
            if !dr {
                l.shape.push(self.shape[i]);
                l.strides.push(self.strides[i]);
            }
        }
        Ok(l)
    }

    /// `narrow`/slicing with a positive step along one dim.
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Layout {
        let mut l = self.clone();
        if len > 0 {
            l.offset = (self.offset as isize + start as isize * self.strides[dim]) as usize;
        }
        l.shape[dim] = len;
        l.strides[dim] = self.strides[dim] * step as isize;
        l
    }

    /// Integer indexing along a dim removes it.
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset = (self.offset as isize + index as isize * self.strides[dim]) as usize;
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    pub fn diagonal(&self, offset: i64, d1: i64, d2: i64) -> Result<Layout> {
        let n = self.ndim();
        if n < 2 {
            bail!(Runtime, "diagonal: expected a tensor with at least 2 dimensions, got {n}");
        }
        let a = wrap_dim("diagonal", d1, n)?;
        let b = wrap_dim("diagonal", d2, n)?;
        if a == b {
            bail!(Runtime, "diagonal dimensions cannot be identical {d1}, {d2}");
        }
        let (sa, sb) = (self.shape[a] as i64, self.shape[b] as i64);
        let (len, start) = if offset >= 0 {
            ((sa.min(sb - offset)).max(0), offset * self.strides[b] as i64)
        } else {
            ((sa + offset).min(sb).max(0), -offset * self.strides[a] as i64)
        };
        let mut l = Layout { shape: vec![], strides: vec![], offset: self.offset };
        for i in 0..n {
            if i != a && i != b {
                l.shape.push(self.shape[i]);
                l.strides.push(self.strides[i]);
            }
        }
        if len > 0 {
            l.offset = (self.offset as i64 + start) as usize;
        }
        l.shape.push(len as usize);
        l.strides.push(self.strides[a] + self.strides[b]);
        Ok(l)
    }

    /// A view with a new shape when the strides allow one (torch's `computeStride`), else None.
    pub fn reshape_view(&self, new_shape: &[usize]) -> Option<Layout> {
        let old_numel = self.numel();
        if old_numel == 0 || self.shape.is_empty() {
            return Some(Layout { shape: new_shape.to_vec(), strides: contiguous_strides(new_shape), offset: self.offset });
        }
        let mut new_strides = vec![0isize; new_shape.len()];
        let mut view_d = new_shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last()?;
        let mut tensor_numel: usize = 1;
        let mut view_numel: usize = 1;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            if tensor_d == 0
                || (self.shape[tensor_d - 1] != 1
                    && self.strides[tensor_d - 1] != tensor_numel as isize * chunk_base_stride)
            {
                while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel as isize * chunk_base_stride;
                    view_numel *= new_shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout { shape: new_shape.to_vec(), strides: new_strides, offset: self.offset })
    }
}

/// Resolves a requested shape with at most one -1 against a numel (`view`/`reshape` args).
pub fn infer_shape(op: &str, requested: &[i64], numel: usize) -> Result<Vec<usize>> {
    let mut infer = None;
    let mut known: usize = 1;
    for (i, &d) in requested.iter().enumerate() {
        if d == -1 {
            if infer.is_some() {
                bail!(Runtime, "{op}: only one dimension can be inferred");
            }
            infer = Some(i);
        } else if d < 0 {
            bail!(Runtime, "{op}: invalid shape dimension {d}");
        } else {
            known = known.checked_mul(d as usize).ok_or_else(|| Error::Runtime(format!("{op}: shape is too large")))?;
        }
    }
    let mut out: Vec<usize> = requested.iter().map(|&d| d.max(0) as usize).collect();
    let shown = || format!("[{}]", requested.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                bail!(Runtime, "{op}: shape '{}' is invalid for input of size {numel}", shown());
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                bail!(Runtime, "{op}: shape '{}' is invalid for input of size {numel}", shown());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_and_transpose() {
        let l = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(l.strides, vec![12, 4, 1]);
        assert!(l.is_contiguous());
        let t = l.transpose(0, 2).unwrap();
        assert_eq!(t.shape, vec![4, 3, 2]);
        assert_eq!(t.strides, vec![1, 4, 12]);
        assert!(!t.is_contiguous());
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shapes("add", &[3, 1], &[3]).unwrap(), vec![3, 3]);
        assert_eq!(broadcast_shapes("add", &[], &[2, 0]).unwrap(), vec![2, 0]);
        assert!(broadcast_shapes("add", &[3], &[4]).is_err());
        let b = Layout::contiguous(&[3, 1]).broadcast_to("expand", &[2, 3, 4]).unwrap();
        assert_eq!(b.strides, vec![0, 1, 0]);
    }

    #[test]
    fn reshape_views_when_possible() {
        let l = Layout::contiguous(&[4, 6]);
        assert_eq!(l.reshape_view(&[2, 2, 6]).unwrap().strides, vec![12, 6, 1]);
        let t = l.transpose(0, 1).unwrap();
        assert!(t.reshape_view(&[24]).is_none());
        // splitting a transposed dim is still a view
        assert_eq!(t.reshape_view(&[2, 3, 4]).unwrap().strides, vec![3, 1, 6]);
    }

    #[test]
    fn infer() {
        assert_eq!(infer_shape("view", &[-1, 3], 12).unwrap(), vec![4, 3]);
        assert!(infer_shape("view", &[-1, 5], 12).is_err());
        assert!(infer_shape("view", &[-1, -1], 12).is_err());
    }

    #[test]
    fn diagonal_and_select() {
        let l = Layout::contiguous(&[3, 4]);
        let d = l.diagonal(1, 0, 1).unwrap();
        assert_eq!((d.shape.clone(), d.strides.clone(), d.offset), (vec![3], vec![5], 1));
        let s = l.select(1, 2);
        assert_eq!((s.shape, s.strides, s.offset), (vec![3], vec![4], 2));
    }
}
