//! rustensor-core: strided tensors over shared storage, CPU kernels, and a tape autograd.
//!
//! A [`Tensor`] is a handle on reference-counted [`storage::Storage`] plus a
//! [`layout::Layout`]; view ops change only the layout. Ops live in [`ops`], kernels in
//! [`cpu_backend`], and gradients in [`backprop`] (the engine) and `grad_fn` (the formulas).
pub mod backend;
pub mod backprop;
pub mod cpu_backend;
pub mod dtype;
pub mod error;
pub mod fork;
pub mod kernels;
mod grad_fn;
pub mod layout;
pub mod op;
pub mod ops;
pub mod random;
pub mod storage;
pub mod tensor;
#[cfg(feature = "gpu")]
pub mod wgpu_backend;
#[cfg(not(feature = "gpu"))]
#[path = "wgpu_backend/stub.rs"]
pub mod wgpu_backend;

pub use dtype::{DType, Element, Scalar};
/// The float16 element type (IEEE binary16), as the `half` crate defines it.
pub use half::{bf16, f16};
pub use error::{Error, Result};
pub use storage::Device;
pub use tensor::Tensor;

pub fn set_num_threads(n: usize) {
    cpu_backend::parallel::set_num_threads(n)
}
pub fn get_num_threads() -> usize {
    cpu_backend::parallel::num_threads()
}
