//! safetensors files through the `safetensors` crate: a memory-mapped reader whose CPU
//! tensors are views of the mapped pages (copy-on-write, so writing to a loaded tensor never
//! changes the file), and a writer that streams tensor memory to disk with the GIL released.
use crate::tensor::wrap;
use crate::types::tensor_arg;
use memmap2::MmapOptions;
use pyo3::exceptions::{PyIOError, PyKeyError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rustensor_core::layout::Layout;
use rustensor_core::storage::{CpuStorage, Storage};
use rustensor_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, Metadata, TensorInfo};
use safetensors::{SafeTensorError, SafeTensors, View};
use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

fn st_err(e: SafeTensorError) -> PyErr {
    match e {
        SafeTensorError::IoError(e) => PyIOError::new_err(format!("safetensors: {e}")),
        e => PyRuntimeError::new_err(format!("Error while deserializing header: {e}")),
    }
}

fn to_dtype(d: Dtype, name: &str) -> PyResult<DType> {
    Ok(match d {
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        other => {
            return Err(PyTypeError::new_err(format!(
                "safetensors: tensor '{name}' has dtype {other:?}, which rustensor does not support (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)"
            )))
        }
    })
}

fn st_dtype(d: DType) -> Dtype {
    match d {
        DType::Bool => Dtype::BOOL,
        DType::U8 => Dtype::U8,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// The bytes of a whole safetensors file (a private mapping, or an owned copy of `bytes`).
struct Bytes {
    base: *mut u8,
    len: usize,
}

// SAFETY: plain memory owned by `SafeFile::owner`; concurrent writes through aliasing
// tensors are the user's race, as with any shared tensor memory.
unsafe impl Send for Bytes {}
// SAFETY: as above.
unsafe impl Sync for Bytes {}

/// An opened safetensors file: the parsed header over memory that tensors may borrow.
#[pyclass(name = "_SafetensorsFile", module = "rustensor._rustensor", frozen)]
pub struct SafeFile {
    bytes: Bytes,
    /// Keeps the mapping (or buffer) alive; each returned tensor's storage holds a clone.
    owner: Arc<dyn Any + Send + Sync>,
    data_start: usize,
    meta: Metadata,
}

impl SafeFile {
    fn parse(bytes: Bytes, owner: Arc<dyn Any + Send + Sync>) -> PyResult<SafeFile> {
        // SAFETY: `base` is valid for `len` bytes while `owner` lives, which outlives this borrow.
        let buf = unsafe { std::slice::from_raw_parts(bytes.base as *const u8, bytes.len) };
        let (n, meta) = SafeTensors::read_metadata(buf).map_err(st_err)?;
        Ok(SafeFile { bytes, owner, data_start: 8 + n, meta })
    }

    fn info(&self, name: &str) -> PyResult<&TensorInfo> {
        self.meta.info(name).ok_or_else(|| PyKeyError::new_err(format!("File does not contain tensor {name}")))
    }

    fn tensor(&self, name: &str) -> PyResult<Tensor> {
        let info = self.info(name)?;
        let dt = to_dtype(info.dtype, name)?;
        let (start, end) = info.data_offsets;
        // read_metadata validated offsets against shapes and the file's length
        let len = end.saturating_sub(start);
        let ptr = self.bytes.base.wrapping_add(self.data_start + start);
        let numel: usize = info.shape.iter().product();
        // SAFETY: [data_start + start, data_start + end) lies inside the buffer (validated).
        let src = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        let bad_bool = dt == DType::Bool && src.iter().any(|&b| b > 1);
        if numel > 0 && (!(ptr as usize).is_multiple_of(dt.size()) || bad_bool) {
            // A writer that did not align, or bools that are not 0/1 (reading those as `bool`
            // would be undefined): copy into fresh memory.
            let out = CpuStorage::uninit(numel, dt).map_err(crate::errors::to_py)?;
            // SAFETY: `out` holds exactly `len` = numel * size bytes, freshly allocated.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.as_ptr(), len) };
            if dt == DType::Bool {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = (s != 0) as u8;
                }
            } else {
                dst.copy_from_slice(src);
            }
            return Ok(Tensor::from_cpu_storage(out, dt, &info.shape));
        }
        // SAFETY: the range is valid and aligned while the owner lives; the storage keeps a
        // clone of the owner.
        let cpu = unsafe { CpuStorage::from_external(ptr, len, Box::new(self.owner.clone())) };
        Tensor::from_storage_layout(Arc::new(Storage::cpu(cpu, dt)), Layout::contiguous(&info.shape)).map_err(crate::errors::to_py)
    }
}

#[pymethods]
impl SafeFile {
    /// Tensor names, sorted (as the `safetensors` package lists them).
    fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = self.meta.tensors().into_keys().collect();
        k.sort();
        k
    }
    /// Tensor names in file order.
    fn offset_keys(&self) -> Vec<String> {
        self.meta.offset_keys()
    }
    fn metadata(&self) -> Option<HashMap<String, String>> {
        self.meta.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    /// (dtype name as in the file, shape) of one tensor, without reading it.
    fn info_of(&self, name: &str) -> PyResult<(String, Vec<usize>)> {
        let info = self.info(name)?;
        Ok((format!("{:?}", info.dtype), info.shape.clone()))
    }
    fn get_tensor(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        crate::errors::guard("get_tensor", || wrap(py, self.tensor(name)?))
    }
}

/// Opens a safetensors file as a private (copy-on-write) mapping.
#[pyfunction]
pub fn _safetensors_open(py: Python<'_>, path: std::path::PathBuf) -> PyResult<SafeFile> {
    crate::errors::guard("safe_open", || {
        let file = std::fs::File::open(&path).map_err(|e| PyIOError::new_err(format!("safe_open: {}: {e}", path.display())))?;
        let size = file.metadata().map_err(|e| PyIOError::new_err(format!("safe_open: {}: {e}", path.display())))?.len();
        if size < 8 {
            return Err(PyRuntimeError::new_err(format!(
                "Error while deserializing header: header too small ({} is {size} bytes)",
                path.display()
            )));
        }
        // SAFETY: a private mapping: writes through tensors go to private pages. Another process
        // truncating the file while it is mapped would fault, as with every mmap reader
        // (NumPy's memmap, the safetensors package); our own writer replaces files by rename.
        let mut map = unsafe { MmapOptions::new().map_copy(&file) }
            .map_err(|e| PyIOError::new_err(format!("safe_open: cannot map {}: {e}", path.display())))?;
        let bytes = Bytes { base: map.as_mut_ptr(), len: map.len() };
        py.detach(move || SafeFile::parse(bytes, Arc::new(map)))
    })
}

/// Parses safetensors bytes held in memory (copied once into a buffer the tensors then share).
#[pyfunction]
pub fn _safetensors_from_bytes(data: &[u8]) -> PyResult<SafeFile> {
    crate::errors::guard("safetensors.load", || {
        // u64 words: the buffer is 8-byte aligned, as the format's tensor offsets assume
        let mut words = vec![0u64; data.len().div_ceil(8)];
        let base = words.as_mut_ptr() as *mut u8;
        // SAFETY: `words` holds at least data.len() bytes and does not overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), base, data.len()) };
        SafeFile::parse(Bytes { base, len: data.len() }, Arc::new(words))
    })
}

/// A contiguous CPU tensor as the crate's `View`.
struct TensorBytes {
    dtype: Dtype,
    shape: Vec<usize>,
    ptr: usize,
    len: usize,
    _keep: Tensor,
}

impl View for &TensorBytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        if self.len == 0 {
            return Cow::Borrowed(&[]);
        }
        // SAFETY: `_keep` (contiguous, on the CPU, checked in `_safetensors_write`) owns
        // these `len` bytes for as long as `self` lives.
        Cow::Borrowed(unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) })
    }
    fn data_len(&self) -> usize {
        self.len
    }
}

/// Writes `tensors` (name, contiguous CPU tensor) to `path`, or returns the bytes when
/// `path` is None. The Python wrapper checks types, sharing and contiguity first.
#[pyfunction]
#[pyo3(signature = (tensors, metadata, path))]
pub fn _safetensors_write(
    py: Python<'_>,
    tensors: Vec<(String, Bound<'_, PyAny>)>,
    metadata: Option<HashMap<String, String>>,
    path: Option<std::path::PathBuf>,
) -> PyResult<Option<Py<PyBytes>>> {
    crate::errors::guard("safetensors.save", || {
        let mut views = Vec::with_capacity(tensors.len());
        for (name, t) in tensors {
            let t = tensor_arg(&t, "save_file")?;
            if t.device() != Device::Cpu || !t.is_contiguous() {
                return Err(PyValueError::new_err(format!("save_file: tensor '{name}' must be a contiguous CPU tensor")));
            }
            let len = t.numel() * t.dtype().size();
            views.push((name, TensorBytes { dtype: st_dtype(t.dtype()), shape: t.shape().to_vec(), ptr: t.data_ptr(), len, _keep: t }));
        }
        let refs = || views.iter().map(|(n, v)| (n.as_str(), v));
        match path {
            Some(p) => {
                py.detach(|| safetensors::serialize_to_file(refs(), metadata, &p)).map_err(st_err)?;
                Ok(None)
            }
            None => {
                let out = py.detach(|| safetensors::serialize(refs(), metadata)).map_err(st_err)?;
                Ok(Some(PyBytes::new(py, &out).unbind()))
            }
        }
    })
}
