//! Maps engine errors to the built-in Python exceptions torch raises.
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use rustensor_core::Error;

thread_local! {
    static RAISED: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}
const RAISED_MARK: &str = "a Python callback raised an exception";

/// An exception raised by Python code the engine called back (a custom backward), kept until
/// the engine's error reaches [`to_py`], which raises the exception itself (its type, its
/// traceback), as torch does.
pub fn from_callback(e: PyErr) -> Error {
    RAISED.with(|r| *r.borrow_mut() = Some(e));
    Error::Runtime(RAISED_MARK.into())
}

pub fn to_py(e: Error) -> PyErr {
    if let Error::Runtime(m) = &e {
        if m == RAISED_MARK {
            if let Some(p) = RAISED.with(|r| r.borrow_mut().take()) {
                return p;
            }
        }
    }
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

/// Runs the body of a Python-facing function, turning a Rust panic (a bug: user input is
/// validated before it reaches anything that can panic) into a `RuntimeError` naming the
/// function, instead of pyo3's `PanicException`, which derives from `BaseException` and
/// slips past `except Exception`. On the non-panicking path this costs nothing.
pub fn guard<T>(name: &str, f: impl FnOnce() -> pyo3::PyResult<T>) -> pyo3::PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(PyRuntimeError::new_err(format!(
            "rustensor internal error in {name} (please report): {}",
            rustensor_core::kernels::panic_message(p.as_ref())
        )))
    })
}
