//! Maps engine errors to the built-in Python exceptions torch raises.
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use rustensor_core::Error;

pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Runtime(m) => PyRuntimeError::new_err(m),
        Error::Index(m) => PyIndexError::new_err(m),
        Error::Type(m) => PyTypeError::new_err(m),
        Error::Value(m) => PyValueError::new_err(m),
    }
}

/// `?`-friendly conversion of engine results.
pub trait IntoPy<T> {
    fn py_err(self) -> pyo3::PyResult<T>;
}
impl<T> IntoPy<T> for rustensor_core::Result<T> {
    fn py_err(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
