//! The one error type of the engine; each variant maps to the Python exception torch raises.
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
