//! Maps engine errors to the built-in Python exceptions torch raises.
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;
use rustensor_core::error::ErrorKind;
use rustensor_core::Error;

const HOOK_RAISED: &str = "hook raised: ";

thread_local! {
    /// The Python exception a gradient hook or a custom backward (`autograd.Function`) raised,
    /// kept while the engine unwinds with an `Error` (which cannot hold a `PyErr`); backward
    /// runs both on the calling thread.
    static HOOK_ERROR: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Keeps a callback's exception so that `to_py` re-raises it unchanged, as torch does.
pub fn stash_hook_error(e: PyErr) -> Error {
    let msg = format!("{HOOK_RAISED}{e}");
    HOOK_ERROR.with(|h| *h.borrow_mut() = Some(e));
    Error::Runtime(msg)
}

pub fn to_py(e: Error) -> PyErr {
    if let Error::Runtime(m) = &e {
        if m.starts_with(HOOK_RAISED) {
            let m = m.clone();
            return HOOK_ERROR.with(|h| h.borrow_mut().take()).unwrap_or_else(|| PyRuntimeError::new_err(m));
        }
    }
    let m = e.to_string();
    match e.kind() {
        ErrorKind::Runtime => PyRuntimeError::new_err(m),
        ErrorKind::Index => PyIndexError::new_err(m),
        ErrorKind::Type => PyTypeError::new_err(m),
        ErrorKind::Value => PyValueError::new_err(m),
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
