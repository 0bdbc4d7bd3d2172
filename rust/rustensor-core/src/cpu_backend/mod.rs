//! The CPU backend: strided iteration, elementwise, reductions, matmul and indexing kernels.
pub mod conv;
pub mod ctc;
pub mod elementwise;
pub mod index;
pub mod math;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod parallel;
pub mod pool;
pub mod rnn;
pub mod reduce;
pub mod scan;
pub mod strided;
pub mod xent;

pub use elementwise::Strided;
