//! The `dtype` and `device` objects, and conversions of Python arguments to engine values.
use crate::tensor::PyTensor;
use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple, PyType};
use rustensor_core::{DType, Device, Scalar, Tensor};
use std::sync::OnceLock;

#[pyclass(name = "dtype", module = "rustensor", frozen)]
pub struct PyDType {
    pub dt: DType,
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("rustensor.{}", self.dt.name())
    }
    fn __str__(&self) -> String {
        self.__repr__()
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyDType>().map(|o| o.get().dt == self.dt).unwrap_or(false)
    }
    fn __hash__(&self) -> u64 {
        self.dt as u64 + 1000
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dt.is_float()
    }
    #[getter]
    fn is_signed(&self) -> bool {
        self.dt.is_signed()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.dt.size()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    fn __reduce__(&self) -> String {
        self.dt.name().to_string()
    }
}

static DTYPES: OnceLock<Vec<Py<PyDType>>> = OnceLock::new();

pub fn dtype_obj(py: Python<'_>, dt: DType) -> Py<PyDType> {
    let v = DTYPES.get_or_init(|| {
        DType::ALL.iter().map(|&dt| Py::new(py, PyDType { dt }).expect("dtype object")).collect()
    });
    let i = DType::ALL.iter().position(|&d| d == dt).unwrap_or(0);
    v[i].clone_ref(py)
}

/// Accepts rustensor dtypes, Python's `float`/`int`/`bool`, numpy dtypes and names.
pub fn extract_dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().dt);
    }
    let py = obj.py();
    if let Ok(t) = obj.cast::<PyType>() {
        if t.is(py.get_type::<PyBool>()) {
            return Ok(DType::Bool);
        }
        if t.is(py.get_type::<PyInt>()) {
            return Ok(DType::I64);
        }
        if t.is(py.get_type::<PyFloat>()) {
            return Ok(DType::F64);
        }
    }
    Err(PyTypeError::new_err(format!(
        "dtype must be a rustensor.dtype (e.g. rustensor.float32), got {}",
        obj.repr()?
    )))
}

#[pyclass(name = "device", module = "rustensor", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash, Clone)]
pub struct PyDevice {
    pub dev: DeviceKey,
}

#[derive(PartialEq, Eq, Hash, Clone, Copy)]
pub struct DeviceKey {
    pub gpu: bool,
    pub index: Option<usize>,
}

impl PyDevice {
    pub fn device(&self) -> Device {
        if self.dev.gpu {
            Device::Gpu(self.dev.index.unwrap_or(0))
        } else {
            Device::Cpu
        }
    }
}

fn parse_device_str(s: &str) -> PyResult<DeviceKey> {
    let (kind, idx) = match s.split_once(':') {
        Some((k, i)) => {
            let i: usize = i.parse().map_err(|_| PyRuntimeError::new_err(format!("Invalid device string: '{s}'")))?;
            (k, Some(i))
        }
        None => (s, None),
    };
    match kind {
        "cpu" => Ok(DeviceKey { gpu: false, index: idx }),
        "gpu" | "cuda" | "wgpu" => Ok(DeviceKey { gpu: true, index: idx }),
        _ => Err(PyRuntimeError::new_err(format!(
            "Expected one of cpu, gpu (aliases cuda, wgpu) device type at start of device string: {s}"
        ))),
    }
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (type_or_str, index=None))]
    fn new(type_or_str: &Bound<'_, PyAny>, index: Option<usize>) -> PyResult<Self> {
        crate::errors::guard("new", || {
            if let Ok(d) = type_or_str.cast::<PyDevice>() {
                return Ok(d.get().clone());
            }
            let s: String = type_or_str.extract()?;
            let mut k = parse_device_str(&s)?;
            if index.is_some() {
                if k.index.is_some() {
                    return Err(PyRuntimeError::new_err("type (string) must not include an index because index was passed explicitly"));
                }
                k.index = index;
            }
            Ok(PyDevice { dev: k })
        })
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        if self.dev.gpu {
            "gpu"
        } else {
            "cpu"
        }
    }
    #[getter]
    fn index(&self) -> Option<usize> {
        self.dev.index
    }
    fn __repr__(&self) -> String {
        match self.dev.index {
            Some(i) => format!("device(type='{}', index={i})", self.r#type()),
            None => format!("device(type='{}')", self.r#type()),
        }
    }
    fn __str__(&self) -> String {
        match self.dev.index {
            Some(i) => format!("{}:{i}", self.r#type()),
            None => self.r#type().to_string(),
        }
    }
}

pub fn device_obj(d: Device) -> PyDevice {
    match d {
        Device::Cpu => PyDevice { dev: DeviceKey { gpu: false, index: None } },
        Device::Gpu(i) => PyDevice { dev: DeviceKey { gpu: true, index: Some(i) } },
    }
}

/// Accepts a device object, a string ('cpu', 'cuda', 'gpu:0', ...) or None.
pub fn extract_device(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match obj {
        None => Ok(Device::Cpu),
        Some(o) if o.is_none() => Ok(Device::Cpu),
        Some(o) => {
            if let Ok(d) = o.cast::<PyDevice>() {
                return Ok(d.get().device());
            }
            if let Ok(s) = o.extract::<String>() {
                return Ok(PyDevice { dev: parse_device_str(&s)? }.device());
            }
            if let Ok(i) = o.extract::<usize>() {
                return Ok(Device::Gpu(i));
            }
            Err(PyTypeError::new_err(format!("expected a device, got {}", o.repr()?)))
        }
    }
}

/// A Python number as an engine scalar (bool before int: bool subclasses int).
pub fn extract_scalar(obj: &Bound<'_, PyAny>) -> Option<PyResult<Scalar>> {
    if obj.is_instance_of::<PyBool>() {
        return Some(obj.extract::<bool>().map(Scalar::Bool));
    }
    if obj.is_instance_of::<PyInt>() {
        return Some(obj.extract::<i64>().map(Scalar::Int).map_err(|_| {
            PyOverflowError::new_err(format!("value cannot be converted to type int64 without overflow: {}", obj))
        }));
    }
    if obj.is_instance_of::<PyFloat>() {
        return Some(obj.extract::<f64>().map(Scalar::Float));
    }
    // numpy scalars: integers expose __index__, floats __float__
    let ty = obj.get_type();
    let tname = ty.name().map(|n| n.to_string()).unwrap_or_default();
    if tname.starts_with("bool") {
        return Some(obj.extract::<bool>().map(Scalar::Bool));
    }
    if tname.starts_with("int") || tname.starts_with("uint") {
        return Some(obj.extract::<i64>().map(Scalar::Int));
    }
    if tname.starts_with("float") {
        return Some(obj.extract::<f64>().map(Scalar::Float));
    }
    None
}

pub fn scalar_to_py(py: Python<'_>, s: Scalar) -> PyResult<Py<PyAny>> {
    Ok(match s {
        Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any().unbind(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Scalar::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
    })
}

/// A shape given as varargs (`zeros(2, 3)`) or one sequence (`zeros((2, 3))`).
pub fn shape_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>()
            && (a.is_instance_of::<PyTuple>() || a.is_instance_of::<PyList>() || a.cast::<PySequence>().is_ok())
            && a.cast::<PyTensor>().is_err()
        {
            return int_list(&a);
        }
    }
    args.iter().map(|a| extract_int(&a)).collect()
}

pub fn extract_int(a: &Bound<'_, PyAny>) -> PyResult<i64> {
    if a.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err(format!("expected an integer, got float {}", a)));
    }
    if a.is_instance_of::<PyInt>() {
        // a Python int that exists but does not fit: say so, instead of "expected an integer"
        if let Err(e) = a.extract::<i64>() {
            return Err(PyTypeError::new_err(format!("integer {a} does not fit in 64 bits (Overflow when unpacking long: {e})")));
        }
    }
    a.extract::<i64>().map_err(|_| PyTypeError::new_err(format!("expected an integer, got {}", a.get_type().name().map(|n| n.to_string()).unwrap_or_default())))
}

pub fn int_list(a: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    if let Ok(i) = extract_int(a) {
        return Ok(vec![i]);
    }
    let seq = a.cast::<PySequence>().map_err(|_| PyTypeError::new_err(format!("expected a sequence of integers, got {}", a)))?;
    let mut v = vec![];
    for i in 0..seq.len()? {
        v.push(extract_int(&seq.get_item(i)?)?);
    }
    Ok(v)
}

/// Sizes must be non-negative.
pub fn to_shape(op: &str, v: &[i64]) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&d| {
            if d < 0 {
                Err(PyRuntimeError::new_err(format!("{op}: Trying to create tensor with negative dimension {d}: {:?}", v)))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// Optional dims argument: None, an int, or a sequence of ints.
pub fn dims_arg(a: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match a {
        None => Ok(None),
        Some(x) if x.is_none() => Ok(None),
        Some(x) => Ok(Some(int_list(x)?)),
    }
}

/// The engine tensor behind a Python argument that must be a tensor.
pub fn tensor_arg(a: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    match a.cast::<PyTensor>() {
        Ok(t) => Ok(t.get().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what}: expected a Tensor, got {}",
            a.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))),
    }
}
