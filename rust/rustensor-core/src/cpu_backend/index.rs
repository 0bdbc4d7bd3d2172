//! Indexing kernels: advanced-index take/put, gather/scatter, nonzero.
use super::elementwise::Strided;
use super::strided::offsets;
use crate::layout::Layout;
use crate::storage::CpuStorage;
use crate::{bail, with_dtype, DType, Element, Result};


/// Reads every element of an integer (or bool) strided view as int64.
pub fn read_index(s: Strided, dt: DType) -> Vec<i64> {
    let offs = offsets(&s.layout.shape, &s.layout.strides);
    with_dtype!(dt, T, {
        let p = s.ptr as *const T;
        // SAFETY: offsets lie in the validated layout.
        offs.iter().map(|&o| unsafe { *p.offset(s.layout.offset as isize + o) }.to_i64()).collect()
    })
}

/// Reads every element of an int64 strided view.
pub fn read_i64(s: Strided) -> Vec<i64> {
    let offs = offsets(&s.layout.shape, &s.layout.strides);
    let p = s.ptr as *const i64;
    // SAFETY: offsets lie in the validated layout.
    offs.iter().map(|&o| unsafe { *p.offset(s.layout.offset as isize + o) }).collect()
}

fn wrap_index(op: &str, i: i64, size: usize, dim: usize) -> Result<isize> {
    let s = size as i64;
    let j = if i < 0 { i + s } else { i };
    if j < 0 || j >= s {
        bail!(Index, "{op}: index {i} is out of bounds for dimension {dim} with size {size}");
    }
    Ok(j as isize)
}

/// Base offsets (into `a`'s storage) of each index position for advanced indexing over `dims`.
fn advanced_bases(op: &str, a: &Layout, dims: &[usize], indices: &[Vec<i64>]) -> Result<Vec<isize>> {
    let n = indices.first().map(|v| v.len()).unwrap_or(0);
    let mut bases = vec![a.offset as isize; n];
    for (k, &d) in dims.iter().enumerate() {
        for (s, b) in bases.iter_mut().enumerate() {
            *b += wrap_index(op, indices[k][s], a.shape[d], d)? * a.strides[d];
        }
    }
    Ok(bases)
}

/// The layout of `a` without the advanced dims (the copied "rest").
fn rest_layout(a: &Layout, dims: &[usize]) -> (Vec<usize>, Vec<isize>) {
    let mut shape = vec![];
    let mut strides = vec![];
    for d in 0..a.ndim() {
        if !dims.contains(&d) {
            shape.push(a.shape[d]);
            strides.push(a.strides[d]);
        }
    }
    (shape, strides)
}

/// Advanced-index gather in canonical order: output is [index shape..., remaining dims...],
/// contiguous. `indices` are flattened index values, one vector per dim in `dims`.
pub fn take(dt: DType, a: Strided, dims: &[usize], indices: &[Vec<i64>]) -> Result<CpuStorage> {
    let bases = advanced_bases("index", a.layout, dims, indices)?;
    let (rs, rst) = rest_layout(a.layout, dims);
    let roffs = offsets(&rs, &rst);
    let r = roffs.len();
    let out = CpuStorage::zeros(bases.len() * r, dt)?;
    with_dtype!(dt, T, {
        let (src, dst) = (a.ptr as *const T, out.as_ptr() as *mut T);
        for (s, &b) in bases.iter().enumerate() {
            for (j, &o) in roffs.iter().enumerate() {
                // SAFETY: bases were bounds-checked and rest offsets lie in the layout.
                unsafe { *dst.add(s * r + j) = *src.offset(b + o) };
            }
        }
    });
    Ok(out)
}

/// Advanced-index put: `dst[indices] = values` (or `+=` when `accumulate`), with values
/// given in canonical order [index shape..., remaining dims...] (already broadcast).
pub fn put(dt: DType, dst: Strided, dims: &[usize], indices: &[Vec<i64>], values: Strided, accumulate: bool) -> Result<()> {
    let bases = advanced_bases("index_put_", dst.layout, dims, indices)?;
    let (rs, rst) = rest_layout(dst.layout, dims);
    let roffs = offsets(&rs, &rst);
    let voffs = offsets(&values.layout.shape, &values.layout.strides);
    let r = roffs.len();
    if voffs.len() != bases.len() * r {
        bail!(Runtime, "index_put_: values do not match the indexed shape");
    }
    with_dtype!(dt, T, {
        let (d, v) = (dst.ptr as *mut T, values.ptr as *const T);
        let vb = values.layout.offset as isize;
        for (s, &b) in bases.iter().enumerate() {
            for (j, &o) in roffs.iter().enumerate() {
                // SAFETY: bounds-checked bases; offsets within validated layouts.
                unsafe {
                    let x = *v.offset(vb + voffs[s * r + j]);
                    let p = d.offset(b + o);
                    *p = if accumulate { add_any(*p, x) } else { x };
                }
            }
        }
    });
    Ok(())
}

#[inline(always)]
fn add_any<T: Element>(a: T, b: T) -> T {
    match T::DTYPE {
        DType::F16 | DType::F32 | DType::F64 => T::from_f64(a.to_f64() + b.to_f64()),
        DType::Bool => T::from_bool(a.to_bool() | b.to_bool()),
        _ => T::from_i64(a.to_i64().wrapping_add(b.to_i64())),
    }
}

/// For each index position of `idx` (shape S), the offset into `a` replacing coordinate
/// `dim` by the index value: shared by gather and scatter.
fn along_dim_offsets(op: &str, a: &Layout, dim: usize, idx: Strided) -> Result<(Vec<isize>, Vec<usize>)> {
    let il = idx.layout;
    check_along_dim(op, &a.shape, dim, &il.shape, None)?;
    let vals = read_i64(idx);
    let pos = offsets(&il.shape, &crate::layout::contiguous_strides(&il.shape));
    let mut out = Vec::with_capacity(vals.len());
    let mut lin = Vec::with_capacity(vals.len());
    let cs = crate::layout::contiguous_strides(&il.shape);
    for (n, &v) in vals.iter().enumerate() {
        let size = a.shape.get(dim).copied().unwrap_or(1);
        if v < 0 || v >= size as i64 {
            bail!(Runtime, "{op}(): index {v} is out of bounds for dimension {dim} with size {size}");
        }
        // decompose the linear position into coordinates
        let mut rem = pos[n] as usize;
        let mut off = a.offset as isize;
        for (d, &csd) in cs.iter().enumerate().take(il.ndim()) {
            let c = rem / csd as usize;
            rem %= csd as usize;
            let c = if d == dim { v as usize } else { c };
            off += c as isize * a.strides[d];
        }
        out.push(off);
        lin.push(n);
    }
    Ok((out, lin))
}

/// torch's shape rules for gather / scatter, shared by both devices (the GPU kernel reads
/// wherever these shapes point, so they must hold before it runs): the index has the input's
/// rank and fits in it apart from `dim`, and (scatter) fits in `src` in every dim.
pub(crate) fn check_along_dim(op: &str, a: &[usize], dim: usize, il: &[usize], src: Option<&[usize]>) -> Result<()> {
    if il.len() != a.len() {
        bail!(
            Runtime,
            "{op}(): Index tensor must have the same number of dimensions as input tensor ({} vs {})",
            il.len(),
            a.len()
        );
    }
    for d in 0..a.len() {
        if d != dim && il[d] > a[d] {
            bail!(
                Runtime,
                "{op}(): Size does not match at dimension {d} expected index {il:?} to be no larger than self {a:?} apart from dimension {dim}"
            );
        }
    }
    if let Some(src) = src {
        if src.len() != il.len() {
            bail!(
                Runtime,
                "{op}(): Index tensor must have the same number of dimensions as src tensor ({} vs {})",
                il.len(),
                src.len()
            );
        }
        if il.iter().zip(src).any(|(i, s)| i > s) {
            bail!(Runtime, "{op}(): Expected index {il:?} to be no larger size than src {src:?}");
        }
    }
    Ok(())
}

/// out[i][j] = a[idx[i][j]][j] (dim 0), contiguous with idx's shape.
pub fn gather(dt: DType, a: Strided, dim: usize, idx: Strided) -> Result<CpuStorage> {
    let (offs, _) = along_dim_offsets("gather", a.layout, dim, idx)?;
    let out = CpuStorage::zeros(offs.len(), dt)?;
    with_dtype!(dt, T, {
        let (src, dst) = (a.ptr as *const T, out.as_ptr() as *mut T);
        for (i, &o) in offs.iter().enumerate() {
            // SAFETY: offsets bounds-checked against a's shape.
            unsafe { *dst.add(i) = *src.offset(o) };
        }
    });
    Ok(out)
}

/// dst[idx[i][j]][j] (+)= src[i][j] (dim 0); `src` is read at idx's positions.
pub fn scatter(dt: DType, dst: Strided, dim: usize, idx: Strided, src: Strided, accumulate: bool) -> Result<()> {
    let op = if accumulate { "scatter_add" } else { "scatter" };
    check_along_dim(op, &dst.layout.shape, dim, &idx.layout.shape, Some(&src.layout.shape))?;
    let (offs, _) = along_dim_offsets(op, dst.layout, dim, idx)?;
    // src positions at idx's coordinates
    let soffs = offsets(&idx.layout.shape, &src.layout.strides[..idx.layout.ndim()]);
    with_dtype!(dt, T, {
        let (d, s) = (dst.ptr as *mut T, src.ptr as *const T);
        for (i, &o) in offs.iter().enumerate() {
            // SAFETY: offsets bounds-checked against dst and src shapes.
            unsafe {
                let x = *s.offset(src.layout.offset as isize + soffs[i]);
                let p = d.offset(o);
                *p = if accumulate { add_any(*p, x) } else { x };
            }
        }
    });
    Ok(())
}

/// Coordinates of the nonzero elements, row-major: (count, flattened [count * ndim]).
pub fn nonzero(dt: DType, a: Strided) -> (usize, Vec<i64>) {
    let l = a.layout;
    let offs = offsets(&l.shape, &l.strides);
    let cs = crate::layout::contiguous_strides(&l.shape);
    let mut coords = Vec::new();
    let mut count = 0;
    with_dtype!(dt, T, {
        let p = a.ptr as *const T;
        for (n, &o) in offs.iter().enumerate() {
            // SAFETY: offsets lie in the validated layout.
            if unsafe { *p.offset(l.offset as isize + o) }.to_bool() {
                count += 1;
                let mut rem = n;
                for &c in &cs {
                    coords.push((rem / c as usize) as i64);
                    rem %= c as usize;
                }
            }
        }
    });
    (count, coords)
}
