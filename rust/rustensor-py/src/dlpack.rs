//! DLPack: zero-copy exchange of CPU tensors with NumPy, torch, JAX, ... through PyCapsules,
//! legacy (`dltensor`, DLManagedTensor) and 1.x (`dltensor_versioned`, DLManagedTensorVersioned).
//!
//! Struct layouts follow dlpack.h (v1.0). Ownership: an exported capsule owns a
//! heap context holding a clone of the tensor (so its storage outlives every consumer); the
//! consumer that renames the capsule to `used_*` takes over and calls the deleter exactly once.
//! An unconsumed capsule calls the deleter from its destructor. On import we rename the capsule
//! and the new storage's owner calls the producer's deleter when the last view of it is dropped.
use crate::tensor::wrap;
use crate::types::tensor_arg;
use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use rustensor_core::layout::{contiguous_strides, Layout};
use rustensor_core::storage::{CpuStorage, Storage};
use rustensor_core::{DType, Device, Tensor};
use std::ffi::{c_void, CStr};
use std::sync::Arc;

const LEGACY: &CStr = c"dltensor";
const LEGACY_USED: &CStr = c"used_dltensor";
const VERSIONED: &CStr = c"dltensor_versioned";
const VERSIONED_USED: &CStr = c"used_dltensor_versioned";

const KDL_CPU: i32 = 1;
/// dlpack.h's kDLWebGPU: where a wgpu buffer lives (it cannot be exported, but it can be named).
const KDL_WEBGPU: i32 = 15;
const KDL_INT: u8 = 0;
const KDL_UINT: u8 = 1;
const KDL_FLOAT: u8 = 2;
const KDL_BFLOAT: u8 = 4;
const KDL_BOOL: u8 = 6;
const FLAG_READ_ONLY: u64 = 1;
const FLAG_IS_COPIED: u64 = 1 << 1;

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct DLPackVersion {
    major: u32,
    minor: u32,
}

#[repr(C)]
struct DLManagedTensorVersioned {
    version: DLPackVersion,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    flags: u64,
    dl_tensor: DLTensor,
}

fn dl_dtype(dt: DType) -> DLDataType {
    let (code, bits) = match dt {
        DType::Bool => (KDL_BOOL, 8),
        DType::U8 => (KDL_UINT, 8),
        DType::I8 => (KDL_INT, 8),
        DType::I16 => (KDL_INT, 16),
        DType::I32 => (KDL_INT, 32),
        DType::I64 => (KDL_INT, 64),
        DType::F16 => (KDL_FLOAT, 16),
        DType::BF16 => (KDL_BFLOAT, 16),
        DType::F32 => (KDL_FLOAT, 32),
        DType::F64 => (KDL_FLOAT, 64),
    };
    DLDataType { code, bits, lanes: 1 }
}

fn from_dl_dtype(d: DLDataType) -> PyResult<DType> {
    let dt = match (d.code, d.bits, d.lanes) {
        (KDL_BOOL, 8, 1) => DType::Bool,
        (KDL_UINT, 8, 1) => DType::U8,
        (KDL_INT, 8, 1) => DType::I8,
        (KDL_INT, 16, 1) => DType::I16,
        (KDL_INT, 32, 1) => DType::I32,
        (KDL_INT, 64, 1) => DType::I64,
        (KDL_FLOAT, 16, 1) => DType::F16,
        (KDL_BFLOAT, 16, 1) => DType::BF16,
        (KDL_FLOAT, 32, 1) => DType::F32,
        (KDL_FLOAT, 64, 1) => DType::F64,
        _ => {
            return Err(PyTypeError::new_err(format!(
                "from_dlpack: unsupported DLPack dtype (code {}, bits {}, lanes {}); rustensor supports bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32 and float64",
                d.code, d.bits, d.lanes
            )))
        }
    };
    Ok(dt)
}

// ------------------------------------------------------------------------------------ export

/// What an exported capsule points at: the managed struct first (its address is the
/// context's), then the arrays it points into and the tensor that keeps the memory alive.
#[repr(C)]
struct Export<M> {
    managed: M,
    shape: Vec<i64>,
    strides: Vec<i64>,
    tensor: Tensor,
}

unsafe extern "C" fn delete_legacy(m: *mut DLManagedTensor) {
    if m.is_null() {
        return;
    }
    // SAFETY: `m` came from Box::into_raw of an Export<DLManagedTensor> in `to_dlpack`, whose
    // first field (repr(C)) it is; DLPack's contract is that the deleter runs once.
    let b = unsafe { Box::from_raw(m as *mut Export<DLManagedTensor>) };
    release(b);
}

/// Drops an export's context attached to the interpreter: its tensor may own Python objects
/// (a NumPy array under `from_numpy`), and pyo3 defers their release to its next own entry
/// when the caller (C code holding the GIL, which pyo3 cannot see) is not attached through it.
fn release<M>(b: Box<Export<M>>) {
    // a panic must not unwind into the C caller
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        // when the interpreter is gone, the closure (and `b`) is dropped unrun: pyo3 then
        // queues the release instead
        let _ = Python::try_attach(move |_| drop(b));
    }));
}

unsafe extern "C" fn delete_versioned(m: *mut DLManagedTensorVersioned) {
    if m.is_null() {
        return;
    }
    // SAFETY: as in `delete_legacy`, for the versioned struct.
    let b = unsafe { Box::from_raw(m as *mut Export<DLManagedTensorVersioned>) };
    release(b);
}

/// A capsule nobody consumed still owns its tensor: free it.
unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // SAFETY: Python calls this with the GIL held on the capsule being destroyed.
    // PyCapsule_IsValid does not set an exception; GetPointer is only called with the name that
    // IsValid just confirmed, so it cannot fail either.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, LEGACY.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(capsule, LEGACY.as_ptr()) as *mut DLManagedTensor;
            if let Some(d) = m.as_ref().and_then(|m| m.deleter) {
                d(m)
            }
        } else if ffi::PyCapsule_IsValid(capsule, VERSIONED.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(capsule, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
            if let Some(d) = m.as_ref().and_then(|m| m.deleter) {
                d(m)
            }
        }
    }
}

fn dl_tensor(t: &Tensor, shape: &mut [i64], strides: &mut [i64]) -> DLTensor {
    DLTensor {
        data: t.data_ptr() as *mut c_void,
        device: DLDevice { device_type: KDL_CPU, device_id: 0 },
        ndim: shape.len() as i32,
        dtype: dl_dtype(t.dtype()),
        shape: if shape.is_empty() { std::ptr::null_mut() } else { shape.as_mut_ptr() },
        strides: if strides.is_empty() { std::ptr::null_mut() } else { strides.as_mut_ptr() },
        byte_offset: 0,
    }
}

fn new_capsule(py: Python<'_>, ptr: *mut c_void, name: &'static CStr) -> PyResult<Py<PyAny>> {
    // SAFETY: `ptr` is a live managed tensor; `name` is 'static, as PyCapsule requires.
    let cap = unsafe { ffi::PyCapsule_New(ptr, name.as_ptr(), Some(capsule_destructor)) };
    if cap.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: PyCapsule_New returned a new (owned) reference.
    Ok(unsafe { Bound::from_owned_ptr(py, cap) }.unbind())
}

/// `Tensor.__dlpack__`'s work: a capsule over `t`'s memory (a copy first when `copy`).
#[pyfunction]
#[pyo3(signature = (t, versioned, copy))]
pub fn _to_dlpack(py: Python<'_>, t: &Bound<'_, PyAny>, versioned: bool, copy: bool) -> PyResult<Py<PyAny>> {
    crate::errors::guard("__dlpack__", || {
        let t = tensor_arg(t, "__dlpack__")?;
        if t.device() != Device::Cpu {
            return Err(PyBufferError::new_err(format!(
                "__dlpack__: a {} tensor cannot be exported through DLPack (wgpu buffers cannot be shared); call .cpu() first",
                t.device().name()
            )));
        }
        if t.requires_grad() {
            return Err(PyBufferError::new_err("Can't export tensors that require gradient, use tensor.detach()"));
        }
        let t = if copy { t.clone_tensor().map_err(crate::errors::to_py)? } else { t.detach() };
        let shape: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
        let strides: Vec<i64> = t.strides().iter().map(|&s| s as i64).collect();
        if versioned {
            let flags = if copy { FLAG_IS_COPIED } else { 0 };
            let mut b = Box::new(Export {
                managed: DLManagedTensorVersioned {
                    version: DLPackVersion { major: 1, minor: 0 },
                    manager_ctx: std::ptr::null_mut(),
                    deleter: Some(delete_versioned),
                    flags,
                    dl_tensor: dl_tensor(&t, &mut [], &mut []),
                },
                shape,
                strides,
                tensor: t,
            });
            let Export { managed, shape, strides, tensor } = &mut *b;
            managed.dl_tensor = dl_tensor(tensor, shape, strides);
            let raw = Box::into_raw(b);
            // SAFETY: `raw` is the live box just leaked; its context is itself.
            unsafe { (*raw).managed.manager_ctx = raw as *mut c_void };
            new_capsule(py, raw as *mut c_void, VERSIONED).inspect_err(|_| {
                // SAFETY: the capsule was not created, so nobody else holds `raw`.
                unsafe { delete_versioned(raw as *mut DLManagedTensorVersioned) }
            })
        } else {
            let mut b = Box::new(Export {
                managed: DLManagedTensor {
                    dl_tensor: dl_tensor(&t, &mut [], &mut []),
                    manager_ctx: std::ptr::null_mut(),
                    deleter: Some(delete_legacy),
                },
                shape,
                strides,
                tensor: t,
            });
            let Export { managed, shape, strides, tensor } = &mut *b;
            managed.dl_tensor = dl_tensor(tensor, shape, strides);
            let raw = Box::into_raw(b);
            // SAFETY: as above.
            unsafe { (*raw).managed.manager_ctx = raw as *mut c_void };
            new_capsule(py, raw as *mut c_void, LEGACY).inspect_err(|_| {
                // SAFETY: as above.
                unsafe { delete_legacy(raw as *mut DLManagedTensor) }
            })
        }
    })
}

/// `Tensor.__dlpack_device__`: (kDLCPU, 0) or (kDLWebGPU, index).
#[pyfunction]
pub fn _dlpack_device(t: &Bound<'_, PyAny>) -> PyResult<(i32, i32)> {
    crate::errors::guard("__dlpack_device__", || {
        let t = tensor_arg(t, "__dlpack_device__")?;
        Ok(match t.device() {
            Device::Cpu => (KDL_CPU, 0),
            Device::Gpu(i) => (KDL_WEBGPU, i as i32),
        })
    })
}

// ------------------------------------------------------------------------------------ import

/// The producer's managed tensor, owned by the storage built over its memory: dropping the
/// storage calls the producer's deleter, once.
struct Imported {
    ptr: *mut c_void,
    versioned: bool,
}

// SAFETY: DLPack deleters may be called from any thread (NumPy's takes the GIL itself, torch's
// only decrements a C++ refcount); the pointer is used for nothing but that call.
unsafe impl Send for Imported {}
// SAFETY: as above; no method reads through the pointer.
unsafe impl Sync for Imported {}

impl Drop for Imported {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the managed tensor whose capsule we renamed to `used_*`, so nobody
        // else calls its deleter; this drop runs once.
        unsafe {
            if self.versioned {
                let m = self.ptr as *mut DLManagedTensorVersioned;
                if let Some(d) = (*m).deleter {
                    d(m)
                }
            } else {
                let m = self.ptr as *mut DLManagedTensor;
                if let Some(d) = (*m).deleter {
                    d(m)
                }
            }
        }
    }
}

/// Shape, element strides and byte extent of a DLTensor, validated.
struct Described {
    dtype: DType,
    data: *mut u8,
    shape: Vec<usize>,
    strides: Vec<isize>,
    bytes: usize,
}

/// Reads and checks a DLTensor's fields without taking ownership.
///
/// # Safety
/// `t` must point to a live DLTensor whose shape/strides arrays hold `ndim` entries.
unsafe fn describe(t: &DLTensor) -> PyResult<Described> {
    if t.device.device_type != KDL_CPU {
        return Err(PyBufferError::new_err(format!(
            "from_dlpack: rustensor imports only CPU memory (DLPack device type 1), got device type {} (index {}); copy it to the CPU first",
            t.device.device_type, t.device.device_id
        )));
    }
    let dtype = from_dl_dtype(t.dtype)?;
    let ndim = usize::try_from(t.ndim).map_err(|_| PyValueError::new_err(format!("from_dlpack: negative ndim {}", t.ndim)))?;
    if ndim > 0 && t.shape.is_null() {
        return Err(PyValueError::new_err("from_dlpack: the DLTensor has no shape"));
    }
    // SAFETY: the caller guarantees `ndim` readable entries when the pointers are non-null.
    let shape_i: &[i64] = if ndim == 0 { &[] } else { unsafe { std::slice::from_raw_parts(t.shape, ndim) } };
    let mut shape = Vec::with_capacity(ndim);
    for &d in shape_i {
        shape.push(usize::try_from(d).map_err(|_| PyValueError::new_err(format!("from_dlpack: negative dimension in shape {shape_i:?}")))?);
    }
    let strides_i: Vec<i64> = if ndim == 0 || t.strides.is_null() {
        contiguous_strides(&shape).iter().map(|&s| s as i64).collect()
    } else {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(t.strides, ndim) }.to_vec()
    };
    let overflow = || PyValueError::new_err(format!("from_dlpack: shape {shape_i:?} with strides {strides_i:?} overflows"));
    let mut numel: usize = 1;
    let mut span: usize = 0;
    let mut strides = Vec::with_capacity(ndim);
    for (&d, &s) in shape.iter().zip(&strides_i) {
        numel = numel.checked_mul(d).ok_or_else(overflow)?;
        strides.push(isize::try_from(s).map_err(|_| overflow())?);
    }
    if numel > 0 {
        for (&d, &s) in shape.iter().zip(&strides_i) {
            if s < 0 {
                return Err(PyValueError::new_err(format!(
                    "from_dlpack: negative strides {strides_i:?} are not supported (copy the array first)"
                )));
            }
            span = ((d - 1) as u64).checked_mul(s as u64).and_then(|e| usize::try_from(e).ok()).and_then(|e| span.checked_add(e)).ok_or_else(overflow)?;
        }
    }
    let isz = dtype.size();
    let bytes = if numel == 0 { 0 } else { span.checked_add(1).and_then(|n| n.checked_mul(isz)).ok_or_else(overflow)? };
    let offset = usize::try_from(t.byte_offset).map_err(|_| overflow())?;
    let data = (t.data as *mut u8).wrapping_add(offset);
    if numel > 0 && (t.data.is_null() || !(data as usize).is_multiple_of(isz)) {
        return Err(PyBufferError::new_err("from_dlpack: the DLTensor's data is null or not aligned for its dtype"));
    }
    Ok(Described { dtype, data, shape, strides, bytes })
}

/// Consumes a DLPack capsule (legacy or versioned) into a tensor sharing its memory; a
/// read-only one is copied (rustensor tensors are writable), or refused when `allow_copy` is false.
#[pyfunction]
#[pyo3(signature = (capsule, allow_copy=true))]
pub fn _from_dlpack(py: Python<'_>, capsule: &Bound<'_, PyAny>, allow_copy: bool) -> PyResult<Py<PyAny>> {
    crate::errors::guard("from_dlpack", || {
        let cap = capsule.as_ptr();
        // SAFETY: `cap` is a live object (borrowed from `capsule`); the capsule calls do not
        // raise when IsValid said yes.
        unsafe {
            if ffi::PyCapsule_CheckExact(cap) == 0 {
                return Err(PyTypeError::new_err(format!(
                    "from_dlpack: expected a DLPack capsule or an object with __dlpack__, got {}",
                    capsule.get_type().name()?
                )));
            }
            let versioned = if ffi::PyCapsule_IsValid(cap, VERSIONED.as_ptr()) == 1 {
                true
            } else if ffi::PyCapsule_IsValid(cap, LEGACY.as_ptr()) == 1 {
                false
            } else {
                return Err(PyRuntimeError::new_err(
                    "from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only once, so you might have already constructed a tensor from it once.",
                ));
            };
            let (ptr, desc, read_only) = if versioned {
                let m = ffi::PyCapsule_GetPointer(cap, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
                let Some(mr) = m.as_ref() else { return Err(PyErr::fetch(py)) };
                if mr.version.major != 1 {
                    return Err(PyBufferError::new_err(format!(
                        "from_dlpack: DLPack version {}.{} is not supported (rustensor reads 1.x)",
                        mr.version.major, mr.version.minor
                    )));
                }
                (m as *mut c_void, describe(&mr.dl_tensor)?, mr.flags & FLAG_READ_ONLY != 0)
            } else {
                let m = ffi::PyCapsule_GetPointer(cap, LEGACY.as_ptr()) as *mut DLManagedTensor;
                let Some(mr) = m.as_ref() else { return Err(PyErr::fetch(py)) };
                (m as *mut c_void, describe(&mr.dl_tensor)?, false)
            };
            if read_only && !allow_copy {
                return Err(PyBufferError::new_err(
                    "from_dlpack: the producer's memory is read-only and rustensor tensors are writable, so it must be copied, but copy=False",
                ));
            }
            // From here on we own the managed tensor; the renamed capsule no longer frees it.
            let used = if versioned { VERSIONED_USED } else { LEGACY_USED };
            if ffi::PyCapsule_SetName(cap, used.as_ptr()) != 0 {
                return Err(PyErr::fetch(py));
            }
            let owner = Imported { ptr, versioned };
            let Described { dtype, data, shape, strides, bytes } = desc;
            // SAFETY: `describe` checked that `bytes` bytes from `data` cover every element the
            // layout reaches, and the producer keeps them valid until its deleter runs, which
            // `owner` (held by the storage) calls when the storage is dropped.
            let cpu = CpuStorage::from_external(data, bytes, Box::new(owner));
            let layout = Layout { shape, strides, offset: 0 };
            let t = Tensor::from_storage_layout(Arc::new(Storage::cpu(cpu, dtype)), layout).map_err(crate::errors::to_py)?;
            let t = if read_only { t.clone_tensor().map_err(crate::errors::to_py)? } else { t };
            wrap(py, t)
        }
    })
}
