//! Views built from an explicit (size, stride, offset) over a tensor's storage, for
//! serialization: a checkpoint names each tensor by its storage and layout, and loading must
//! rebuild the views so that tensors which shared storage when saved share it again.
use crate::errors::IntoPy;
use crate::tensor::wrap;
use crate::types::tensor_arg;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rustensor_core::layout::Layout;
use rustensor_core::Tensor;

/// Checks that `(size, stride, offset)` stays inside a storage of `capacity` elements,
/// with checked arithmetic: the numbers come from files and must not overflow.
fn checked_layout(size: &[i64], stride: &[i64], offset: i64, capacity: usize) -> PyResult<Layout> {
    if size.len() != stride.len() {
        return Err(PyRuntimeError::new_err(format!(
            "as_strided: mismatch in length of strides and shape ({} vs {})",
            stride.len(),
            size.len()
        )));
    }
    if offset < 0 {
        return Err(PyRuntimeError::new_err(format!("as_strided: Negative storage offset ({offset}) is not supported")));
    }
    if let Some(s) = stride.iter().find(|s| **s < 0) {
        return Err(PyRuntimeError::new_err(format!(
            "as_strided: Negative strides are not supported at the moment, got strides: {stride:?} (stride {s})"
        )));
    }
    if let Some(d) = size.iter().find(|d| **d < 0) {
        return Err(PyRuntimeError::new_err(format!("as_strided: Trying to create tensor with negative dimension {d}: {size:?}")));
    }
    let overflow = || PyRuntimeError::new_err(format!("as_strided: size {size:?} with strides {stride:?} overflows"));
    let mut numel: u64 = 1;
    let mut last: u64 = offset as u64;
    for (&d, &s) in size.iter().zip(stride) {
        numel = numel.checked_mul(d as u64).ok_or_else(overflow)?;
        if d > 0 {
            let ext = (d as u64 - 1).checked_mul(s as u64).ok_or_else(overflow)?;
            last = last.checked_add(ext).ok_or_else(overflow)?;
        }
    }
    if numel > 0 && last >= capacity as u64 {
        return Err(PyRuntimeError::new_err(format!(
            "setStorage: sizes {size:?}, strides {stride:?}, storage offset {offset}, and itemsize requiring a storage size of {} are out of bounds for storage of {capacity} elements",
            last + 1
        )));
    }
    let to_usize = |v: i64| usize::try_from(v).map_err(|_| overflow());
    let to_isize = |v: i64| isize::try_from(v).map_err(|_| overflow());
    Ok(Layout {
        shape: size.iter().map(|&d| to_usize(d)).collect::<PyResult<_>>()?,
        strides: stride.iter().map(|&s| to_isize(s)).collect::<PyResult<_>>()?,
        offset: to_usize(offset)?,
    })
}

/// A view of `t`'s storage with the given layout, outside any autograd graph (it is the
/// loader's raw material, like torch's `set_()` on a fresh tensor).
#[pyfunction]
#[pyo3(signature = (t, size, stride, storage_offset))]
pub fn _as_strided(py: Python<'_>, t: &Bound<'_, PyAny>, size: Vec<i64>, stride: Vec<i64>, storage_offset: i64) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_as_strided", || {
        let t = tensor_arg(t, "_as_strided")?;
        let layout = checked_layout(&size, &stride, storage_offset, t.storage().capacity())?;
        wrap(py, Tensor::from_storage_layout(t.storage().clone(), layout).py_err()?)
    })
}

/// The whole storage under `t` as a 1-D tensor (what a checkpoint writes once per storage).
#[pyfunction]
pub fn _storage_flat(py: Python<'_>, t: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_storage_flat", || {
        let t = tensor_arg(t, "_storage_flat")?;
        let n = t.storage().capacity();
        let layout = Layout::contiguous(&[n]);
        if n > isize::MAX as usize {
            return Err(PyValueError::new_err("_storage_flat: storage too large"));
        }
        wrap(py, Tensor::from_storage_layout(t.storage().clone(), layout).py_err()?)
    })
}
