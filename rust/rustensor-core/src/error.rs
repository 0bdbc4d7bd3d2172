//! The one error type of the engine; each variant maps to the Python exception torch raises.
use crate::{DType, Device};
use thiserror::Error;

/// Every fallible engine call returns this. The message always names the op and the
/// shapes or values at fault; the variant decides the Python exception type.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Shape mismatches, impossible views, wrong devices: `RuntimeError` in torch.
    #[error("{0}")]
    Runtime(String),
    /// Out-of-range dims or indices: `IndexError`.
    #[error("{0}")]
    Index(String),
    /// Wrong dtype or argument kind: `TypeError`.
    #[error("{0}")]
    Type(String),
    /// A bad argument value (negative size, bad step): `ValueError`.
    #[error("{0}")]
    Value(String),
    /// An op has no kernel for a dtype (torch's NotImplementedError, a `RuntimeError`).
    #[error("\"{op}_cpu\" not implemented for '{}'", crate::op::torch_type_name(*dtype))]
    NotImplementedFor { op: &'static str, dtype: DType },
    /// Operands on two devices (a `RuntimeError`).
    #[error("Expected all tensors to be on the same device, but found at least two devices, {} and {}! (when checking argument for {op})", a.name(), b.name())]
    DeviceMismatch { op: String, a: Device, b: Device },
    /// Integer `//`, `%` or fmod by zero (torch's message, a `RuntimeError`).
    #[error("ZeroDivisionError")]
    ZeroDivision { op: &'static str },
}

/// The Python exception class an [`Error`] becomes (the bindings map on this alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Runtime,
    Index,
    Type,
    Value,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Runtime(_) | Error::NotImplementedFor { .. } | Error::DeviceMismatch { .. } | Error::ZeroDivision { .. } => {
                ErrorKind::Runtime
            }
            Error::Index(_) => ErrorKind::Index,
            Error::Type(_) => ErrorKind::Type,
            Error::Value(_) => ErrorKind::Value,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::Error::$kind(format!($($arg)*)))
    };
}

/// Wraps a non-negative dim (possibly negative, Python style) into `0..ndim`.
pub fn wrap_dim(op: &str, dim: i64, ndim: usize) -> Result<usize> {
    // torch treats a 0-d tensor as having one addressable dim (-1 or 0).
    let n = ndim.max(1) as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(Error::Index(format!(
            "{op}: Dimension out of range (expected to be in range of [{}, {}], but got {dim})",
            -n,
            n - 1
        )));
    }
    Ok(d as usize)
}

/// Formats a shape the way torch prints it in messages: `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    let inner: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}
