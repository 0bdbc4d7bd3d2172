//! `TensorBase`, the compiled base of the Python `Tensor` class: hot paths (operators, views,
//! reductions, autograd) in Rust. `python/rustensor/_tensor.py` defines
//! `class Tensor(_C.TensorBase)` with the methods written in Python, registers it with
//! `_set_tensor_class`, and from then on every tensor the bindings return is a `Tensor`.
use crate::errors::{to_py, IntoPy};
use crate::types::*;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::{PyDict, PyTuple};
use rustensor_core::op::{BinaryOp, TernaryOp, UnaryOp};
use rustensor_core::{backprop, DType, Device, Scalar, Tensor};
use std::sync::{Arc, OnceLock};

#[pyclass(name = "TensorBase", module = "rustensor._rustensor", subclass, weakref, dict, frozen)]
pub struct PyTensor {
    pub t: Tensor,
}

/// The Python class results are made as (`rustensor.Tensor`), once `_tensor.py` registers it.
static TENSOR_CLASS: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();

thread_local! {
    /// The tensor `wrap` hands to `TensorBase.__new__` (called with no arguments) while it
    /// builds an instance of the registered Python class.
    static PENDING: std::cell::Cell<Option<Tensor>> = const { std::cell::Cell::new(None) };
}

/// Registers the Python subclass every result is made as.
#[pyfunction]
pub fn _set_tensor_class(py: Python<'_>, cls: Bound<'_, pyo3::types::PyType>) -> PyResult<()> {
    if !cls.is_subclass_of::<PyTensor>()? {
        return Err(PyTypeError::new_err("_set_tensor_class: expected a subclass of TensorBase"));
    }
    if let Err(prev) = TENSOR_CLASS.set(py, cls.clone().unbind()) {
        if !prev.bind(py).is(&cls) && !TENSOR_CLASS.get(py).is_some_and(|c| c.bind(py).is(&cls)) {
            return Err(PyRuntimeError::new_err("_set_tensor_class: the tensor class is already registered"));
        }
    }
    // The checks CPython makes before `obj.__class__ = cls` (same size, same dict and weakref
    // slots): when they hold, `wrap` may retype a TensorBase instance instead of calling tp_new.
    let base = py.get_type::<PyTensor>();
    let same = |attr: &str| -> PyResult<bool> { cls.getattr(attr)?.eq(base.getattr(attr)?) };
    let compatible = same("__basicsize__")? && same("__dictoffset__")? && same("__weakrefoffset__")? && same("__itemsize__")?;
    RETYPE.store(compatible, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// Whether the registered class has TensorBase's memory layout (see `_set_tensor_class`).
static RETYPE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Work above this many elements runs with the GIL released.
const DETACH_MIN: usize = 1 << 15;

pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    use pyo3::type_object::PyTypeInfo;
    let Some(cls) = TENSOR_CLASS.get(py) else {
        return Ok(Py::new(py, PyTensor { t })?.into_any());
    };
    if RETYPE.load(std::sync::atomic::Ordering::Relaxed) {
        // What `obj.__class__ = cls` does, without the attribute machinery: a TensorBase
        // instance made the fast way, then given the subclass (a heap type, so the instance
        // holds a reference to it; the reference to TensorBase is dropped). tp_new through
        // PyO3 (argument parsing, the hand-over) cost about 0.1 us per op result.
        let obj = Py::new(py, PyTensor { t })?.into_any();
        // SAFETY: `_set_tensor_class` checked that `cls` is a subclass of TensorBase with the
        // same size, dict, weakref and item layout, the conditions under which CPython itself
        // allows the assignment; the object is new and unshared, and the GIL is held.
        unsafe {
            let raw = obj.as_ptr();
            let old = pyo3::ffi::Py_TYPE(raw);
            pyo3::ffi::Py_INCREF(cls.as_ptr());
            (*raw).ob_type = cls.as_ptr().cast();
            pyo3::ffi::Py_DECREF(old.cast());
        }
        return Ok(obj);
    }
    // TensorBase's own tp_new, called with the subclass: PyO3 allocates an instance of
    // `cls` and `new` below takes the pending tensor. A Python-level `Tensor(...)` call would
    // cost a type call, argument parsing and `__init__` on every op result.
    static TP_NEW: OnceLock<usize> = OnceLock::new();
    let tp_new = *TP_NEW.get_or_init(|| {
        // SAFETY: PyO3 classes are heap types, whose slots PyType_GetSlot reads on every version.
        unsafe { pyo3::ffi::PyType_GetSlot(PyTensor::type_object_raw(py), pyo3::ffi::Py_tp_new) as usize }
    });
    if tp_new == 0 {
        return Err(PyRuntimeError::new_err("TensorBase has no tp_new"));
    }
    PENDING.with(|p| p.set(Some(t)));
    let empty = PyTuple::empty(py);
    // SAFETY: the slot holds a `newfunc`; `cls` is a live subtype of TensorBase (checked when it
    // was registered) and `empty` a live tuple; a null result carries a Python exception.
    let obj = unsafe {
        let f: pyo3::ffi::newfunc = std::mem::transmute::<usize, pyo3::ffi::newfunc>(tp_new);
        let raw = f(cls.as_ptr().cast(), empty.as_ptr(), std::ptr::null_mut());
        Bound::from_owned_ptr_or_err(py, raw)
    };
    PENDING.with(|p| p.take());
    Ok(obj?.unbind())
}

/// Runs `f` with the GIL released when the work is large.
/// `t` converted to the `dtype=` argument when one is given (torch casts before the op).
fn cast_arg(t: &Tensor, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Tensor> {
    match dtype {
        Some(dt) if !dt.is_none() => t.to_dtype(extract_dtype(dt)?).py_err(),
        _ => Ok(t.clone()),
    }
}

fn heavy<R: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> R + Send) -> R {
    if work >= DETACH_MIN {
        py.detach(f)
    } else {
        f()
    }
}

pub enum Operand {
    T(Tensor),
    S(Scalar),
}

/// Tensor or Python number; anything else goes through `rustensor._tensor.as_tensor`
/// (lists, NumPy arrays), and None when even that fails (operators then return NotImplemented).
pub fn operand(other: &Bound<'_, PyAny>) -> PyResult<Option<Operand>> {
    if let Ok(t) = other.cast::<PyTensor>() {
        return Ok(Some(Operand::T(t.get().t.clone())));
    }
    if let Some(s) = extract_scalar(other) {
        return s.map(|s| Some(Operand::S(s)));
    }
    let py = other.py();
    let helper = py.import("rustensor._tensor")?.getattr("as_tensor_or_none")?;
    let r = helper.call1((other,))?;
    if r.is_none() {
        return Ok(None);
    }
    Ok(Some(Operand::T(tensor_arg(&r, "operand")?)))
}

/// One key item of basic indexing: a plain int (not a bool, which torch reads as a new dim) or
/// a slice whose fields are ints or None with a positive step.
enum BasicKey {
    Int(i64),
    Slice(Option<i64>, Option<i64>, i64),
}

fn basic_key(k: &Bound<'_, PyAny>) -> Option<BasicKey> {
    use pyo3::types::{PyBool, PyInt, PySlice};
    let opt = |v: Bound<'_, PyAny>| -> Option<Option<i64>> {
        if v.is_none() {
            Some(None)
        } else if v.cast::<PyInt>().is_ok() && v.cast::<PyBool>().is_err() {
            v.extract::<i64>().ok().map(Some)
        } else {
            None
        }
    };
    if let Ok(sl) = k.cast::<PySlice>() {
        let start = opt(sl.getattr("start").ok()?)?;
        let stop = opt(sl.getattr("stop").ok()?)?;
        let step = opt(sl.getattr("step").ok()?)?.unwrap_or(1);
        // a zero or negative step gets torch's error from the Python path
        return (step > 0).then_some(BasicKey::Slice(start, stop, step));
    }
    opt(k.clone())?.map(BasicKey::Int)
}

/// `t[key]` when the key is an int, a slice, or a tuple of them no longer than `t.ndim`; None
/// when the general path has to handle it.
fn basic_index(t: &Tensor, key: &Bound<'_, PyAny>) -> PyResult<Option<rustensor_core::Result<Tensor>>> {
    let items: Vec<BasicKey> = if let Ok(tup) = key.cast::<PyTuple>() {
        let mut v = Vec::with_capacity(tup.len());
        for k in tup.iter() {
            match basic_key(&k) {
                Some(b) => v.push(b),
                None => return Ok(None),
            }
        }
        v
    } else {
        match basic_key(key) {
            Some(b) => vec![b],
            None => return Ok(None),
        }
    };
    if items.len() > t.ndim() {
        return Ok(None);
    }
    let mut r = t.clone();
    let mut dim = 0usize;
    for k in items {
        let next = match k {
            BasicKey::Int(i) => r.select(dim as i64, i),
            BasicKey::Slice(a, b, step) => {
                dim += 1;
                r.slice(dim - 1, a, b, step)
            }
        };
        match next {
            Ok(n) => r = n,
            Err(e) => return Ok(Some(Err(e))),
        }
    }
    Ok(Some(Ok(r)))
}

fn binop(py: Python<'_>, a: &Tensor, other: &Bound<'_, PyAny>, op: BinaryOp, reversed: bool) -> PyResult<Py<PyAny>> {
    let r = match operand(other)? {
        None => return Ok(py.NotImplemented()),
        Some(Operand::T(o)) => {
            let work = a.numel().max(o.numel());
            heavy(py, work, || if reversed { o.binary(op, a) } else { a.binary(op, &o) })
        }
        Some(Operand::S(s)) => heavy(py, a.numel(), || a.binary_scalar(op, s, reversed)),
    };
    wrap(py, r.map_err(to_py)?)
}

fn inplace(py: Python<'_>, a: &Tensor, other: &Bound<'_, PyAny>, op: BinaryOp) -> PyResult<()> {
    match operand(other)? {
        None => Err(PyTypeError::new_err(format!(
            "unsupported operand type for in-place {}: 'Tensor' and '{}'",
            op.name(),
            other.get_type().name()?
        ))),
        Some(Operand::T(o)) => heavy(py, a.numel(), || a.binary_(op, &o)).map_err(to_py),
        Some(Operand::S(s)) => heavy(py, a.numel(), || a.binary_scalar_(op, s)).map_err(to_py),
    }
}

pub fn binary_name(name: &str) -> PyResult<BinaryOp> {
    BinaryOp::from_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown binary op '{name}'")))
}

pub fn unary_name(name: &str) -> PyResult<UnaryOp> {
    UnaryOp::from_name(name).ok_or_else(|| PyValueError::new_err(format!("unknown unary op '{name}'")))
}

fn helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("rustensor._tensor")?.getattr(name)
}

/// NumPy's typestr; None for bfloat16, which NumPy lacks (torch's `.numpy()` refuses it too).
fn typestr(dt: DType) -> Option<&'static str> {
    Some(match dt {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::BF16 => return None,
    })
}

#[pymethods]
impl PyTensor {
    /// `Tensor(t)` and `Parameter(t, requires_grad)` share `t`'s storage; otherwise the legacy
    /// constructor's forms, as torch: `Tensor(2, 3)` sizes, `Tensor([1, 2])` data, both float32.
    #[new]
    #[pyo3(signature = (*args, requires_grad=None))]
    fn new(py: Python<'_>, args: &Bound<'_, PyTuple>, requires_grad: Option<bool>) -> PyResult<Self> {
        if args.is_empty() && requires_grad.is_none() {
            if let Some(t) = PENDING.with(|p| p.take()) {
                return Ok(PyTensor { t });
            }
        }
        crate::errors::guard("new", || {
            let first = if args.is_empty() { None } else { Some(args.get_item(0)?) };
            let (t, rg) = match first.as_ref().map(|f| f.cast::<PyTensor>()) {
                Some(Ok(f)) if args.len() <= 2 => {
                    let rg = if args.len() == 2 { Some(args.get_item(1)?.extract::<bool>()?) } else { None };
                    (f.get().t.detach(), requires_grad.or(rg))
                }
                _ => {
                    let legacy = py.import("rustensor._legacy")?.getattr("FloatTensor")?;
                    (tensor_arg(&legacy.call1(args.clone())?, "Tensor")?.detach(), requires_grad)
                }
            };
            if let Some(rg) = rg {
                t.set_requires_grad(rg).py_err()?;
            }
            Ok(PyTensor { t })
        })
    }

    // ---------- metadata ----------
    #[getter]
    fn shape(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("shape", || {
            static SIZE: OnceLock<Py<PyAny>> = OnceLock::new();
            let size = match SIZE.get() {
                Some(s) => s,
                None => {
                    let s = helper(py, "Size")?.unbind();
                    SIZE.get_or_init(|| s)
                }
            };
            Ok(size.bind(py).call1((PyTuple::new(py, self.t.shape())?,))?.unbind())
        })
    }
    #[pyo3(signature = (dim=None))]
    fn size(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("size", || {
            match dim {
                None => self.shape(py),
                Some(d) => {
                    let d = rustensor_core::error::wrap_dim("size", d, self.t.ndim()).py_err()?;
                    if self.t.ndim() == 0 {
                        return Err(pyo3::exceptions::PyIndexError::new_err("dimension specified as 0 but tensor has no dimensions"));
                    }
                    Ok(self.t.shape()[d].into_pyobject(py)?.into_any().unbind())
                }
            }
        })
    }
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyDType> {
        dtype_obj(py, self.t.dtype())
    }
    #[getter]
    fn device(&self) -> PyDevice {
        device_obj(self.t.device())
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn nelement(&self) -> usize {
        self.t.numel()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.dtype().size() * self.t.numel()
    }
    #[pyo3(signature = (dim=None))]
    fn stride(&self, py: Python<'_>, dim: Option<i64>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("stride", || {
            match dim {
                None => Ok(PyTuple::new(py, self.t.strides())?.into_any().unbind()),
                Some(d) => {
                    let d = rustensor_core::error::wrap_dim("stride", d, self.t.ndim()).py_err()?;
                    Ok(self.t.strides()[d].into_pyobject(py)?.into_any().unbind())
                }
            }
        })
    }
    fn storage_offset(&self) -> usize {
        self.t.storage_offset()
    }
    fn data_ptr(&self) -> usize {
        self.t.data_ptr()
    }
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        matches!(self.t.device(), Device::Gpu(_))
    }
    #[getter]
    fn is_gpu(&self) -> bool {
        self.is_cuda()
    }
    #[getter]
    fn is_cpu(&self) -> bool {
        !self.is_cuda()
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    /// Identity of the underlying storage (for tests of sharing).
    fn _storage_id(&self) -> usize {
        Arc::as_ptr(self.t.storage()) as usize
    }
    fn _is_view_of(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        crate::errors::guard("_is_view_of", || {
            Ok(self.t.same_storage(&tensor_arg(other, "_is_view_of")?))
        })
    }

    // ---------- autograd ----------
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, v: bool) -> PyResult<()> {
        crate::errors::guard("set_requires_grad", || {
            self.t.set_requires_grad(v).py_err()
        })
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: &Bound<'_, Self>, requires_grad: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("requires_grad_", || {
            slf.get().t.set_requires_grad(requires_grad).py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        crate::errors::guard("get_grad", || {
            match self.t.grad() {
                None => Ok(None),
                Some(g) => Ok(Some(wrap(py, g)?)),
            }
        })
    }
    #[setter]
    fn set_grad(&self, g: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        crate::errors::guard("set_grad", || {
            let g = match g {
                None => None,
                Some(x) if x.is_none() => None,
                Some(x) => Some(tensor_arg(x, "grad")?),
            };
            self.t.set_grad(g).py_err()
        })
    }
    #[getter]
    fn grad_fn(&self) -> Option<PyNode> {
        self.t.grad_fn().map(|n| PyNode { n })
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }
    fn retain_grad(&self) -> PyResult<()> {
        crate::errors::guard("retain_grad", || {
            self.t.retain_grad().py_err()
        })
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }
    #[getter]
    fn get_data(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("get_data", || {
            wrap(py, self.t.data())
        })
    }
    fn detach(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("detach", || {
            wrap(py, self.t.detach())
        })
    }
    fn detach_(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("detach_", || {
            slf.get().t.detach_().py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<&Bound<'_, PyAny>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        crate::errors::guard("backward", || {
            if inputs.is_some_and(|i| !i.is_none()) {
                return Err(PyRuntimeError::new_err("backward(inputs=...) is not supported; use rustensor.autograd.grad"));
            }
            let g = match gradient {
                None => None,
                Some(x) if x.is_none() => None,
                Some(x) => Some(match operand(x)? {
                    Some(Operand::T(t)) => t,
                    Some(Operand::S(s)) => Tensor::scalar_tensor(s, self.t.dtype(), self.t.device()).py_err()?,
                    None => return Err(PyTypeError::new_err("gradient must be a Tensor")),
                }),
            };
            let retain = retain_graph.unwrap_or(create_graph);
            let t = self.t.clone();
            py.detach(move || backprop::backward(&t, g, retain, create_graph)).py_err()
        })
    }
    fn register_hook(&self, hook: Py<PyAny>) -> PyResult<()> {
        crate::errors::guard("register_hook", || {
            let name: String = Python::attach(|py| {
                hook.bind(py).getattr("__name__").and_then(|n| n.extract()).unwrap_or_else(|_| "hook".to_string())
            });
            let h: backprop::Hook = Arc::new(move |g: &Tensor| {
                Python::attach(|py| {
                    // the original exception (KeyboardInterrupt included) is re-raised by to_py
                    let r = hook.call1(py, (wrap(py, g.clone()).map_err(crate::errors::stash_hook_error)?,)).map_err(crate::errors::stash_hook_error)?;
                    if r.is_none(py) {
                        return Ok(None);
                    }
                    let t = match r.bind(py).cast::<PyTensor>() {
                        Ok(t) => t.get().t.clone(),
                        Err(_) => return Err(rustensor_core::Error::Runtime("hook must return None or a Tensor".into())),
                    };
                    // torch's checks: a gradient of another shape, dtype or device would land in .grad
                    if t.shape() != g.shape() {
                        return Err(rustensor_core::Error::Runtime(format!(
                            "hook '{name}' has changed the size of value (was {:?} got {:?})",
                            g.shape(),
                            t.shape()
                        )));
                    }
                    if t.dtype() != g.dtype() {
                        return Err(rustensor_core::Error::Runtime(format!(
                            "hook '{name}' has changed the type of value (was {} got {})",
                            g.dtype().name(),
                            t.dtype().name()
                        )));
                    }
                    if t.device() != g.device() {
                        return Err(rustensor_core::Error::Runtime(format!(
                            "hook '{name}' has changed the device of value (was {} got {})",
                            g.device().name(),
                            t.device().name()
                        )));
                    }
                    Ok(Some(t))
                })
            });
            self.t.register_hook(h).py_err()
        })
    }

    // ---------- operators ----------
    fn __add__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__add__", || {
            binop(py, &self.t, o, BinaryOp::Add, false)
        })
    }
    fn __radd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__radd__", || {
            binop(py, &self.t, o, BinaryOp::Add, true)
        })
    }
    fn __sub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__sub__", || {
            binop(py, &self.t, o, BinaryOp::Sub, false)
        })
    }
    fn __rsub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rsub__", || {
            binop(py, &self.t, o, BinaryOp::Sub, true)
        })
    }
    fn __mul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__mul__", || {
            binop(py, &self.t, o, BinaryOp::Mul, false)
        })
    }
    fn __rmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rmul__", || {
            binop(py, &self.t, o, BinaryOp::Mul, true)
        })
    }
    fn __truediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__truediv__", || {
            binop(py, &self.t, o, BinaryOp::Div, false)
        })
    }
    fn __rtruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rtruediv__", || {
            binop(py, &self.t, o, BinaryOp::Div, true)
        })
    }
    fn __floordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__floordiv__", || {
            binop(py, &self.t, o, BinaryOp::FloorDiv, false)
        })
    }
    fn __rfloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rfloordiv__", || {
            binop(py, &self.t, o, BinaryOp::FloorDiv, true)
        })
    }
    fn __mod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__mod__", || {
            binop(py, &self.t, o, BinaryOp::Rem, false)
        })
    }
    fn __rmod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rmod__", || {
            binop(py, &self.t, o, BinaryOp::Rem, true)
        })
    }
    fn __pow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__pow__", || {
            // x ** 2 is the lesson's hottest op: square directly (same value, cheaper backward)
            if let Some(Ok(Scalar::Int(2))) = extract_scalar(o) {
                if self.t.dtype().is_float() {
                    return wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Square)).py_err()?);
                }
            }
            binop(py, &self.t, o, BinaryOp::Pow, false)
        })
    }
    fn __rpow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rpow__", || {
            binop(py, &self.t, o, BinaryOp::Pow, true)
        })
    }
    fn __and__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__and__", || {
            binop(py, &self.t, o, BinaryOp::BitAnd, false)
        })
    }
    fn __rand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rand__", || {
            binop(py, &self.t, o, BinaryOp::BitAnd, true)
        })
    }
    fn __or__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__or__", || {
            binop(py, &self.t, o, BinaryOp::BitOr, false)
        })
    }
    fn __ror__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__ror__", || {
            binop(py, &self.t, o, BinaryOp::BitOr, true)
        })
    }
    fn __xor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__xor__", || {
            binop(py, &self.t, o, BinaryOp::BitXor, false)
        })
    }
    fn __rxor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rxor__", || {
            binop(py, &self.t, o, BinaryOp::BitXor, true)
        })
    }
    fn __lshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__lshift__", || {
            binop(py, &self.t, o, BinaryOp::Shl, false)
        })
    }
    fn __rlshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rlshift__", || {
            binop(py, &self.t, o, BinaryOp::Shl, true)
        })
    }
    fn __rshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rshift__", || {
            binop(py, &self.t, o, BinaryOp::Shr, false)
        })
    }
    fn __rrshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rrshift__", || {
            binop(py, &self.t, o, BinaryOp::Shr, true)
        })
    }
    fn __matmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__matmul__", || {
            let Ok(ot) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
            let b = ot.get().t.clone();
            let work = self.t.numel().max(b.numel());
            wrap(py, heavy(py, work, || self.t.matmul(&b)).py_err()?)
        })
    }
    fn __rmatmul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__rmatmul__", || {
            let Ok(ot) = o.cast::<PyTensor>() else { return Ok(py.NotImplemented()) };
            wrap(py, ot.get().t.matmul(&self.t).py_err()?)
        })
    }
    fn __iadd__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__iadd__", || {
            inplace(py, &self.t, o, BinaryOp::Add)
        })
    }
    fn __isub__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__isub__", || {
            inplace(py, &self.t, o, BinaryOp::Sub)
        })
    }
    fn __imul__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__imul__", || {
            inplace(py, &self.t, o, BinaryOp::Mul)
        })
    }
    fn __itruediv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__itruediv__", || {
            inplace(py, &self.t, o, BinaryOp::Div)
        })
    }
    fn __ifloordiv__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__ifloordiv__", || {
            inplace(py, &self.t, o, BinaryOp::FloorDiv)
        })
    }
    fn __imod__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__imod__", || {
            inplace(py, &self.t, o, BinaryOp::Rem)
        })
    }
    fn __ipow__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        crate::errors::guard("__ipow__", || {
            inplace(py, &self.t, o, BinaryOp::Pow)
        })
    }
    fn __iand__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__iand__", || {
            inplace(py, &self.t, o, BinaryOp::BitAnd)
        })
    }
    fn __ior__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__ior__", || {
            inplace(py, &self.t, o, BinaryOp::BitOr)
        })
    }
    fn __ixor__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__ixor__", || {
            inplace(py, &self.t, o, BinaryOp::BitXor)
        })
    }
    fn __ilshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__ilshift__", || {
            inplace(py, &self.t, o, BinaryOp::Shl)
        })
    }
    fn __irshift__(&self, py: Python<'_>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__irshift__", || {
            inplace(py, &self.t, o, BinaryOp::Shr)
        })
    }
    fn __richcmp__(&self, py: Python<'_>, o: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__richcmp__", || {
            let bop = match op {
                CompareOp::Eq => BinaryOp::Eq,
                CompareOp::Ne => BinaryOp::Ne,
                CompareOp::Lt => BinaryOp::Lt,
                CompareOp::Le => BinaryOp::Le,
                CompareOp::Gt => BinaryOp::Gt,
                CompareOp::Ge => BinaryOp::Ge,
            };
            if o.is_none() {
                return Ok(match op {
                    CompareOp::Eq => false.into_pyobject(py)?.to_owned().into_any().unbind(),
                    CompareOp::Ne => true.into_pyobject(py)?.to_owned().into_any().unbind(),
                    _ => py.NotImplemented(),
                });
            }
            binop(py, &self.t, o, bop, false)
        })
    }
    fn __hash__(&self) -> u64 {
        self.t.id() as u64
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__neg__", || {
            wrap(py, self.t.neg().py_err()?)
        })
    }
    fn __pos__(slf: &Bound<'_, Self>) -> Py<PyAny> {
        slf.clone().into_any().unbind()
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__abs__", || {
            wrap(py, self.t.unary(UnaryOp::Abs).py_err()?)
        })
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__invert__", || {
            let op = if self.t.dtype() == DType::Bool { UnaryOp::LogicalNot } else { UnaryOp::BitNot };
            wrap(py, self.t.unary(op).py_err()?)
        })
    }
    fn __bool__(&self) -> PyResult<bool> {
        crate::errors::guard("__bool__", || {
            if self.t.numel() != 1 {
                return Err(PyRuntimeError::new_err(format!(
                    "Boolean value of Tensor with {} values is ambiguous",
                    if self.t.numel() == 0 { "no".to_string() } else { "more than one".to_string() }
                )));
            }
            Ok(self.t.item_f64().py_err()? != 0.0)
        })
    }
    fn __len__(&self) -> PyResult<usize> {
        crate::errors::guard("__len__", || {
            match self.t.shape().first() {
                Some(&n) => Ok(n),
                None => Err(PyTypeError::new_err("len() of a 0-d tensor")),
            }
        })
    }
    fn __float__(&self) -> PyResult<f64> {
        crate::errors::guard("__float__", || {
            self.t.item_f64().py_err()
        })
    }
    fn __int__(&self) -> PyResult<i64> {
        crate::errors::guard("__int__", || {
            Ok(self.t.item().py_err()?.to_i64())
        })
    }
    fn __index__(&self) -> PyResult<i64> {
        crate::errors::guard("__index__", || {
            if self.t.dtype().is_float() || self.t.numel() != 1 {
                return Err(PyTypeError::new_err("only integer tensors of a single element can be converted to an index"));
            }
            Ok(self.t.item().py_err()?.to_i64())
        })
    }
    fn __getitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("__getitem__", || {
            let py = slf.py();
            // basic indexing by ints and slices is a view built here; everything else (None,
            // Ellipsis, bools, tensors, lists) takes the Python path
            if let Some(r) = basic_index(&slf.get().t, key)? {
                return wrap(py, r.py_err()?);
            }
            Ok(helper(py, "getitem")?.call1((slf, key))?.unbind())
        })
    }
    fn __setitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("__setitem__", || {
            helper(slf.py(), "setitem")?.call1((slf, key, value))?;
            Ok(())
        })
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        crate::errors::guard("__repr__", || {
            helper(slf.py(), "tensor_repr")?.call1((slf,))?.extract()
        })
    }
    #[classattr]
    fn __array_priority__() -> i64 {
        1000
    }
    /// NumPy's array interface: `np.asarray(t)` is a view of this tensor's memory.
    #[getter]
    fn __array_interface__(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        crate::errors::guard("__array_interface__", || {
            if self.t.requires_grad() {
                return Err(PyRuntimeError::new_err(
                    "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
                ));
            }
            if self.t.device() != Device::Cpu {
                return Err(PyTypeError::new_err(format!(
                    "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
                    self.t.device().name()
                )));
            }
            let Some(ts) = typestr(self.t.dtype()) else {
                return Err(PyTypeError::new_err(format!(
                    "Got unsupported ScalarType {}",
                    rustensor_core::op::torch_type_name(self.t.dtype())
                )));
            };
            let d = PyDict::new(py);
            let isz = self.t.dtype().size() as isize;
            let strides: Vec<isize> = self.t.strides().iter().map(|s| s * isz).collect();
            d.set_item("shape", PyTuple::new(py, self.t.shape())?)?;
            d.set_item("typestr", ts)?;
            d.set_item("data", (self.t.data_ptr(), false))?;
            d.set_item("strides", PyTuple::new(py, strides)?)?;
            d.set_item("version", 3)?;
            Ok(d.unbind())
        })
    }
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("item", || {
            scalar_to_py(py, self.t.item().py_err()?)
        })
    }

    // ---------- views ----------
    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("view", || {
            if shape.len() == 1 {
                if let Ok(dt) = shape.get_item(0)?.cast::<PyDType>() {
                    if dt.get().dt == self.t.dtype() {
                        return wrap(py, self.t.detach());
                    }
                    return Err(PyRuntimeError::new_err("view(dtype) reinterpretation is not supported"));
                }
            }
            wrap(py, self.t.view_i(&shape_args(shape)?).py_err()?)
        })
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("reshape", || {
            let s = shape_args(shape)?;
            wrap(py, heavy(py, self.t.numel(), || self.t.reshape_i(&s)).py_err()?)
        })
    }
    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("transpose", || {
            wrap(py, self.t.transpose(dim0, dim1).py_err()?)
        })
    }
    fn t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("t", || {
            wrap(py, self.t.t().py_err()?)
        })
    }
    #[getter(T)]
    fn big_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("big_t", || {
            let n = self.t.ndim() as i64;
            let dims: Vec<i64> = (0..n).rev().collect();
            wrap(py, self.t.permute(&dims).py_err()?)
        })
    }
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("m_t", || {
            wrap(py, self.t.mt().py_err()?)
        })
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("permute", || {
            wrap(py, self.t.permute(&shape_args(dims)?).py_err()?)
        })
    }
    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("unsqueeze", || {
            wrap(py, self.t.unsqueeze(dim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("squeeze", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.squeeze(d.as_deref()).py_err()?)
        })
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("expand", || {
            wrap(py, self.t.expand_i(&shape_args(sizes)?).py_err()?)
        })
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("flatten", || {
            wrap(py, self.t.flatten(start_dim, end_dim).py_err()?)
        })
    }
    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("narrow", || {
            wrap(py, self.t.narrow(dim, start, length).py_err()?)
        })
    }
    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("select", || {
            wrap(py, self.t.select(dim, index).py_err()?)
        })
    }
    /// Basic slice along one dim (used by indexing).
    fn _slice(&self, py: Python<'_>, dim: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_slice", || {
            if dim >= self.t.ndim() {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!("too many indices for tensor of dimension {}", self.t.ndim())));
            }
            wrap(py, self.t.slice(dim, start, stop, step).py_err()?)
        })
    }
    #[pyo3(signature = (offset=0, dim1=0, dim2=1))]
    fn diagonal(&self, py: Python<'_>, offset: i64, dim1: i64, dim2: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("diagonal", || {
            wrap(py, self.t.diagonal(offset, dim1, dim2).py_err()?)
        })
    }
    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("unbind", || {
            let v = self.t.unbind(dim).py_err()?;
            let items: Vec<Py<PyAny>> = v.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        })
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: i64, dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("chunk", || {
            let v = self.t.chunk(chunks, dim).py_err()?;
            let items: Vec<Py<PyAny>> = v.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        })
    }
    #[pyo3(signature = (split_size_or_sections, dim=0))]
    fn split(&self, py: Python<'_>, split_size_or_sections: &Bound<'_, PyAny>, dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("split", || {
            let v = if let Ok(n) = extract_int(split_size_or_sections) {
                if n < 0 {
                    return Err(PyRuntimeError::new_err(format!("split expects split_size be non-negative, but got split_size={n}")));
                }
                self.t.split_size(n as usize, dim).py_err()?
            } else {
                let s = to_shape("split", &int_list(split_size_or_sections)?)?;
                self.t.split_sizes(&s, dim).py_err()?
            };
            let items: Vec<Py<PyAny>> = v.into_iter().map(|t| wrap(py, t)).collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        })
    }
    #[pyo3(signature = (*dims))]
    fn flip(&self, py: Python<'_>, dims: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("flip", || {
            wrap(py, self.t.flip(&shape_args(dims)?).py_err()?)
        })
    }
    fn contiguous(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("contiguous", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.contiguous()).py_err()?)
        })
    }
    #[pyo3(signature = (memory_format=None))]
    fn clone(&self, py: Python<'_>, memory_format: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("clone", || {
            let _ = memory_format;
            wrap(py, heavy(py, self.t.numel(), || self.t.clone_tensor()).py_err()?)
        })
    }
    /// Dtype conversion (used by `to`, `float()`, `double()`, ...).
    /// `.to(device)`: differentiable; the GIL is released while data moves.
    fn _to_device(&self, py: Python<'_>, device: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_to_device", || {
            let d = extract_device(Some(device))?;
            let t = self.t.clone();
            wrap(py, py.detach(move || t.to_device(d)).py_err()?)
        })
    }
    fn _to_dtype(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_to_dtype", || {
            let dt = extract_dtype(dtype)?;
            wrap(py, heavy(py, self.t.numel(), || self.t.to_dtype(dt)).py_err()?)
        })
    }
    fn float(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("float", || {
            wrap(py, self.t.to_dtype(DType::F32).py_err()?)
        })
    }
    fn half(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("half", || {
            wrap(py, self.t.to_dtype(DType::F16).py_err()?)
        })
    }
    fn double(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("double", || {
            wrap(py, self.t.to_dtype(DType::F64).py_err()?)
        })
    }
    fn long(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("long", || {
            wrap(py, self.t.to_dtype(DType::I64).py_err()?)
        })
    }
    fn int(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("int", || {
            wrap(py, self.t.to_dtype(DType::I32).py_err()?)
        })
    }
    fn bool(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("bool", || {
            wrap(py, self.t.to_dtype(DType::Bool).py_err()?)
        })
    }

    // ---------- elementwise ----------
    fn _unary(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_unary", || {
            let op = unary_name(name)?;
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(op)).py_err()?)
        })
    }
    fn _unary_(slf: &Bound<'_, Self>, name: &str) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_unary_", || {
            let op = unary_name(name)?;
            let t = &slf.get().t;
            heavy(slf.py(), t.numel(), || t.unary_(op)).py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    fn _binary(&self, py: Python<'_>, name: &str, other: &Bound<'_, PyAny>, reversed: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_binary", || {
            let op = binary_name(name)?;
            let r = binop(py, &self.t, other, op, reversed)?;
            if r.is(py.NotImplemented()) {
                return Err(PyTypeError::new_err(format!(
                    "{name}(): argument 'other' must be Tensor or Number, not {}",
                    other.get_type().name()?
                )));
            }
            Ok(r)
        })
    }
    fn _binary_(slf: &Bound<'_, Self>, name: &str, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_binary_", || {
            inplace(slf.py(), &slf.get().t, other, binary_name(name)?)?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    /// addcmul/addcdiv(`b`, `c`, value) and lerp(`b`, weight): a tensor weight comes in
    /// `c`, a number weight in `value` with `c` None.
    #[pyo3(signature = (name, b, c, value))]
    fn _ternary(&self, py: Python<'_>, name: &str, b: &Bound<'_, PyAny>, c: Option<&Bound<'_, PyAny>>, value: f64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_ternary", || {
            let (op, b, c) = ternary_args(name, b, c)?;
            let t = &self.t;
            let r = heavy(py, t.numel(), || match &c {
                Some(c) => t.ternary(op, &b, c, value),
                None => t.lerp_scalar(&b, value),
            });
            wrap(py, r.py_err()?)
        })
    }
    #[pyo3(signature = (name, b, c, value))]
    fn _ternary_(slf: &Bound<'_, Self>, name: &str, b: &Bound<'_, PyAny>, c: Option<&Bound<'_, PyAny>>, value: f64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_ternary_", || {
            let (op, b, c) = ternary_args(name, b, c)?;
            let t = &slf.get().t;
            heavy(slf.py(), t.numel(), || match &c {
                Some(c) => t.ternary_(op, &b, c, value),
                None => t.lerp_scalar_(&b, value),
            })
            .py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    #[pyo3(signature = (nan=0.0, posinf=None, neginf=None))]
    fn nan_to_num(&self, py: Python<'_>, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("nan_to_num", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.nan_to_num(nan, posinf, neginf)).py_err()?)
        })
    }
    fn exp(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("exp", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Exp)).py_err()?)
        })
    }
    fn log(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("log", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Log)).py_err()?)
        })
    }
    fn relu(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("relu", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Relu)).py_err()?)
        })
    }
    fn sigmoid(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("sigmoid", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Sigmoid)).py_err()?)
        })
    }
    fn tanh(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("tanh", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Tanh)).py_err()?)
        })
    }
    fn sqrt(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("sqrt", || {
            wrap(py, heavy(py, self.t.numel(), || self.t.unary(UnaryOp::Sqrt)).py_err()?)
        })
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(&self, py: Python<'_>, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("clamp", || {
            let f = |x: Option<&Bound<'_, PyAny>>| -> PyResult<Option<f64>> {
                match x {
                    None => Ok(None),
                    Some(v) if v.is_none() => Ok(None),
                    Some(v) => match v.cast::<PyTensor>() {
                        Ok(t) => Ok(Some(t.get().t.item_f64().py_err()?)),
                        Err(_) => Ok(Some(v.extract::<f64>()?)),
                    },
                }
            };
            let (lo, hi) = (f(min)?, f(max)?);
            wrap(py, heavy(py, self.t.numel(), || self.t.clamp(lo, hi)).py_err()?)
        })
    }
    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("zero_", || {
            slf.get().t.fill_(Scalar::Int(0)).py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    fn fill_(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("fill_", || {
            let s = match extract_scalar(value) {
                Some(s) => s?,
                None => {
                    let v = tensor_arg(value, "fill_")?;
                    if v.ndim() != 0 {
                        return Err(PyRuntimeError::new_err(format!(
                            "fill_ only supports 0-dimension value tensor but got tensor with {} dimensions.",
                            v.ndim()
                        )));
                    }
                    v.item().py_err()?
                }
            };
            slf.get().t.fill_(s).py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_(slf: &Bound<'_, Self>, src: &Bound<'_, PyAny>, non_blocking: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("copy_", || {
            let _ = non_blocking;
            let s = match operand(src)? {
                Some(Operand::T(t)) => t,
                _ => return Err(PyTypeError::new_err("copy_(): argument 'src' must be Tensor")),
            };
            let t = &slf.get().t;
            heavy(slf.py(), t.numel(), || t.copy_(&s)).py_err()?;
            Ok(slf.clone().into_any().unbind())
        })
    }
    fn masked_fill(&self, py: Python<'_>, mask: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("masked_fill", || {
            let m = tensor_arg(mask, "masked_fill")?;
            let v = match extract_scalar(value) {
                Some(s) => s?,
                None => tensor_arg(value, "masked_fill")?.item().py_err()?,
            };
            wrap(py, self.t.masked_fill(&m, v).py_err()?)
        })
    }

    // ---------- reductions ----------
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("sum", || {
            let d = dims_arg(dim)?;
            let x = match dtype {
                Some(dt) if !dt.is_none() => self.t.to_dtype(extract_dtype(dt)?).py_err()?,
                _ => self.t.clone(),
            };
            wrap(py, heavy(py, x.numel(), || x.sum(d.as_deref(), keepdim)).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("mean", || {
            let d = dims_arg(dim)?;
            let x = match dtype {
                Some(dt) if !dt.is_none() => self.t.to_dtype(extract_dtype(dt)?).py_err()?,
                _ => self.t.clone(),
            };
            wrap(py, heavy(py, x.numel(), || x.mean(d.as_deref(), keepdim)).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("prod", || {
            let x = match dtype {
                Some(dt) if !dt.is_none() => self.t.to_dtype(extract_dtype(dt)?).py_err()?,
                _ => self.t.clone(),
            };
            let d = dim.map(|d| vec![d]);
            wrap(py, x.prod(d.as_deref(), keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("amax", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.extreme(true, d.as_deref(), keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("amin", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.extreme(false, d.as_deref(), keepdim).py_err()?)
        })
    }
    /// (values, indices) of max/min along a dim.
    fn _extreme_dim(&self, py: Python<'_>, max: bool, dim: i64, keepdim: bool) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        crate::errors::guard("_extreme_dim", || {
            let (v, i) = self.t.extreme_dim(max, dim, keepdim).py_err()?;
            Ok((wrap(py, v)?, wrap(py, i)?))
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("argmax", || {
            wrap(py, self.t.argextreme(true, dim, keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("argmin", || {
            wrap(py, self.t.argextreme(false, dim, keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("any", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.any_all(true, d.as_deref(), keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("all", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.any_all(false, d.as_deref(), keepdim).py_err()?)
        })
    }
    fn _var(&self, py: Python<'_>, dim: Option<&Bound<'_, PyAny>>, correction: f64, keepdim: bool, std: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_var", || {
            let d = dims_arg(dim)?;
            let r = if std { self.t.std(d.as_deref(), correction, keepdim) } else { self.t.var(d.as_deref(), correction, keepdim) };
            wrap(py, r.py_err()?)
        })
    }
    #[pyo3(signature = (p=None, dim=None, keepdim=false))]
    fn _norm(&self, py: Python<'_>, p: Option<f64>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_norm", || {
            let d = dims_arg(dim)?;
            wrap(py, self.t.norm(p.unwrap_or(2.0), d.as_deref(), keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, py: Python<'_>, dim: &Bound<'_, PyAny>, keepdim: bool) -> PyResult<Py<PyAny>> {
        crate::errors::guard("logsumexp", || {
            let d = int_list(dim)?;
            wrap(py, self.t.logsumexp(Some(&d), keepdim).py_err()?)
        })
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("cumsum", || {
            let x = cast_arg(&self.t, dtype)?;
            wrap(py, heavy(py, x.numel(), || x.cumsum(dim)).py_err()?)
        })
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("cumprod", || {
            let x = cast_arg(&self.t, dtype)?;
            wrap(py, heavy(py, x.numel(), || x.cumprod(dim)).py_err()?)
        })
    }
    fn logcumsumexp(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        crate::errors::guard("logcumsumexp", || {
            let x = self.t.clone();
            wrap(py, heavy(py, x.numel(), || x.logcumsumexp(dim)).py_err()?)
        })
    }
    /// (values, indices) of cummax (`max`) or cummin along `dim`.
    fn _cum_extreme(&self, py: Python<'_>, max: bool, dim: i64) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        crate::errors::guard(if max { "cummax" } else { "cummin" }, || {
            let x = self.t.clone();
            let (v, i) = heavy(py, x.numel(), || x.cum_extreme(max, dim)).py_err()?;
            Ok((wrap(py, v)?, wrap(py, i)?))
        })
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn softmax(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("softmax", || {
            let x = match dtype {
                Some(dt) if !dt.is_none() => self.t.to_dtype(extract_dtype(dt)?).py_err()?,
                _ => self.t.clone(),
            };
            wrap(py, heavy(py, x.numel(), || x.softmax(dim)).py_err()?)
        })
    }
    #[pyo3(signature = (dim, dtype=None))]
    fn log_softmax(&self, py: Python<'_>, dim: i64, dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("log_softmax", || {
            let x = match dtype {
                Some(dt) if !dt.is_none() => self.t.to_dtype(extract_dtype(dt)?).py_err()?,
                _ => self.t.clone(),
            };
            wrap(py, heavy(py, x.numel(), || x.log_softmax(dim)).py_err()?)
        })
    }

    // ---------- matmul & indexing ----------
    fn matmul(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("matmul", || {
            let b = tensor_arg(other, "matmul")?;
            let work = self.t.numel().max(b.numel());
            wrap(py, heavy(py, work, || self.t.matmul(&b)).py_err()?)
        })
    }
    fn gather(&self, py: Python<'_>, dim: i64, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("gather", || {
            wrap(py, self.t.gather(dim, &tensor_arg(index, "gather")?).py_err()?)
        })
    }
    fn scatter_add(&self, py: Python<'_>, dim: i64, index: &Bound<'_, PyAny>, src: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("scatter_add", || {
            wrap(py, self.t.scatter_add(dim, &tensor_arg(index, "scatter_add")?, &tensor_arg(src, "scatter_add")?).py_err()?)
        })
    }
    fn _scatter(&self, py: Python<'_>, dim: i64, index: &Bound<'_, PyAny>, src: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_scatter", || {
            wrap(py, self.t.scatter(dim, &tensor_arg(index, "scatter")?, &tensor_arg(src, "scatter")?).py_err()?)
        })
    }
    fn index_select(&self, py: Python<'_>, dim: i64, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("index_select", || {
            wrap(py, self.t.index_select(dim, &tensor_arg(index, "index_select")?).py_err()?)
        })
    }
    fn nonzero(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("nonzero", || {
            wrap(py, self.t.nonzero().py_err()?)
        })
    }
    /// Advanced-index gather over `dims` (canonical order result).
    fn _index_take(&self, py: Python<'_>, dims: Vec<usize>, indices: Vec<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("_index_take", || {
            let idx: Vec<Tensor> = indices.iter().map(|i| tensor_arg(i, "index")).collect::<PyResult<_>>()?;
            wrap(py, self.t.index_take(&dims, &idx).py_err()?)
        })
    }
    /// In place: take `r`'s values and autograd history (in-place ops recorded out of place).
    fn _assign_result(&self, r: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::errors::guard("_assign_result", || {
            let r = tensor_arg(r, "_assign_result")?;
            self.t.check_inplace().py_err()?;
            self.t.assign_result(&r).py_err()
        })
    }
    /// Whether this tensor is a view of a leaf that requires grad (in-place writes refused).
    fn _check_inplace(&self) -> PyResult<()> {
        crate::errors::guard("_check_inplace", || {
            self.t.check_inplace().py_err()
        })
    }
    fn _index_put(&self, dims: Vec<usize>, indices: Vec<Bound<'_, PyAny>>, values: &Bound<'_, PyAny>, accumulate: bool) -> PyResult<()> {
        crate::errors::guard("_index_put", || {
            let idx: Vec<Tensor> = indices.iter().map(|i| tensor_arg(i, "index_put_")).collect::<PyResult<_>>()?;
            self.t.index_put_(&dims, &idx, &tensor_arg(values, "index_put_")?, accumulate).py_err()
        })
    }
}

/// A graph node as Python sees it (`tensor.grad_fn`).
#[pyclass(name = "Node", module = "rustensor.autograd", frozen)]
pub struct PyNode {
    pub n: Arc<backprop::Node>,
}

#[pymethods]
impl PyNode {
    fn name(&self) -> &'static str {
        self.n.type_name()
    }
    fn __repr__(&self) -> String {
        format!("<{} object at {:#x}>", self.n.type_name(), Arc::as_ptr(&self.n) as usize)
    }
    #[getter]
    fn next_functions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::errors::guard("next_functions", || {
            let items: Vec<Py<PyAny>> = self
                .n
                .next
                .iter()
                .map(|m| -> PyResult<Py<PyAny>> {
                    let node: Py<PyAny> = match m {
                        Some(m) => Py::new(py, PyNode { n: m.clone() })?.into_any(),
                        None => py.None(),
                    };
                    Ok(PyTuple::new(py, [node, 0i64.into_pyobject(py)?.into_any().unbind()])?.into_any().unbind())
                })
                .collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        })
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNode>().map(|o| Arc::ptr_eq(&o.get().n, &self.n)).unwrap_or(false)
    }
    fn __hash__(&self) -> u64 {
        Arc::as_ptr(&self.n) as u64
    }
}

fn ternary_args(name: &str, b: &Bound<'_, PyAny>, c: Option<&Bound<'_, PyAny>>) -> PyResult<(TernaryOp, Tensor, Option<Tensor>)> {
    let Some(op) = TernaryOp::ALL.iter().copied().find(|o| o.name() == name) else {
        return Err(PyValueError::new_err(format!("unknown ternary op {name:?}")));
    };
    let (bn, cn) = if op == TernaryOp::Lerp { ("end", "weight") } else { ("tensor1", "tensor2") };
    let arg = |x: &Bound<'_, PyAny>, what: &str, pos: usize| -> PyResult<Tensor> {
        match x.cast::<PyTensor>() {
            Ok(t) => Ok(t.get().t.clone()),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{name}(): argument '{what}' (position {pos}) must be Tensor, not {}",
                x.get_type().name()?
            ))),
        }
    };
    let b = arg(b, bn, 1)?;
    let c = match c {
        Some(c) => Some(arg(c, cn, 2)?),
        None if op == TernaryOp::Lerp => None,
        None => return Err(PyTypeError::new_err(format!("{name}(): missing required argument '{cn}'"))),
    };
    Ok((op, b, c))
}
