//! The GPU backend when the crate is built without its `gpu` feature: the same interface,
//! where opening the device fails with a clear error, so the rest of the engine needs no cfg.
use crate::layout::Layout;
use crate::op::{BinaryOp, ReduceOp, UnaryOp};
use crate::{bail, DType, Result, Scalar};
use std::sync::Arc;

/// No value of these types can exist without the feature.
pub enum Buffer {}
pub enum Gpu {}

include!("operand.rs");

pub fn gpu() -> Result<&'static Gpu> {
    bail!(Runtime, "GPU is not available: rustensor was built without its `gpu` feature")
}
pub fn is_available() -> bool {
    false
}
pub fn elem_bytes(dt: DType) -> Result<usize> {
    Ok(dt.size().max(4))
}

impl Gpu {
    pub fn alloc(&self, _bytes: u64) -> Result<Arc<Buffer>> {
        match *self {}
    }
    pub fn upload(&self, _data: &[u8]) -> Result<Arc<Buffer>> {
        match *self {}
    }
    pub fn readback(&self, _buf: &Buffer, _offset: u64, _bytes: u64) -> Result<Vec<u8>> {
        match *self {}
    }
    pub fn synchronize(&self) -> Result<()> {
        match *self {}
    }
    pub fn empty_cache(&self) {
        match *self {}
    }
    pub fn adapter_info(&self) -> (String, String, String, String) {
        match *self {}
    }
    pub fn stats_snapshot(&self) -> [(&'static str, u64); 6] {
        match *self {}
    }
}

fn none<T>(o: Operand) -> Result<T> {
    match **o.buf {}
}

pub fn binary(_: BinaryOp, _: DType, out: Operand, _: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn unary(_: UnaryOp, _: DType, out: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn cast(out: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn fill(out: Operand, _: Scalar) -> Result<()> {
    none(out)
}
pub fn where_(out: Operand, _: Operand, _: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn ternary(_: crate::op::TernaryOp, _: DType, _: f64, out: Operand, _: Operand, _: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn reduce(_: ReduceOp, a: Operand, _: &[bool], _: DType) -> Result<Arc<Buffer>> {
    none(a)
}
pub fn scan(_: crate::op::ScanOp, out: Operand, _: Option<Operand>, _: Operand, _: usize) -> Result<()> {
    none(out)
}
pub fn matmul(out: Operand, _: Operand, _: Operand) -> Result<()> {
    none(out)
}
pub fn gather(out: Operand, _: Operand, _: usize, _: Operand) -> Result<()> {
    none(out)
}
pub fn scatter(dst: Operand, _: usize, _: Operand, _: Operand, _: bool) -> Result<()> {
    none(dst)
}
pub fn take(out: Operand, _: Operand, _: &[usize], _: &[usize], _: &[Operand]) -> Result<()> {
    none(out)
}
pub fn put(dst: Operand, _: &[usize], _: &[usize], _: &[Operand], _: Operand, _: bool) -> Result<()> {
    none(dst)
}

pub fn conv2d(_: Operand, _: Operand, _: Option<Operand>, y: Operand, _: &crate::cpu_backend::conv::Geom) -> Result<()> {
    none(y)
}
pub fn conv2d_grad_input(_: Operand, _: Operand, dx: Operand, _: &crate::cpu_backend::conv::Geom) -> Result<()> {
    none(dx)
}
pub fn conv2d_grad_weight(_: Operand, _: Operand, dw: Operand, _: &crate::cpu_backend::conv::Geom) -> Result<()> {
    none(dw)
}
pub fn conv2d_grad_bias(_: Operand, db: Operand, _: &crate::cpu_backend::conv::Geom) -> Result<()> {
    none(db)
}

pub fn max_pool2d(_: Operand, vals: Operand, _: Operand, _: &crate::cpu_backend::pool::PoolGeom) -> Result<()> {
    none(vals)
}

pub fn rnn_cell(_: crate::cpu_backend::rnn::CellKind, _: &[Operand], _: &[Operand], _: usize, _: usize) -> Result<()> {
    bail!(Runtime, "rustensor was built without GPU support")
}
pub fn xent(_: &XentOps, _: &crate::cpu_backend::xent::XentGeom, _: bool) -> Result<()> {
    bail!(Runtime, "rustensor was built without GPU support")
}
pub fn norm(_: &NormOps, _: &crate::cpu_backend::norm::NormGeom, _: bool) -> Result<()> {
    bail!(Runtime, "rustensor was built without GPU support")
}
pub fn fused_adam(_: &crate::cpu_backend::optim::AdamK<f32>, _: u8, _: crate::cpu_backend::Strided, _: crate::cpu_backend::Strided, _: crate::cpu_backend::Strided, _: crate::cpu_backend::Strided, _: Option<crate::cpu_backend::Strided>) -> Result<()> {
    bail!(Runtime, "rustensor was built without GPU support")
}
pub fn fused_sgd(_: &crate::cpu_backend::optim::SgdK<f32>, _: bool, _: bool, _: crate::cpu_backend::Strided, _: crate::cpu_backend::Strided, _: Option<(crate::cpu_backend::Strided, bool)>) -> Result<()> {
    bail!(Runtime, "rustensor was built without GPU support")
}
