//! GPU kernels against the CPU result. Skipped (with a note) when no adapter is available,
//! unless CI=true, where a missing adapter fails: CI installs lavapipe for these.
use rustensor_core::op::{BinaryOp, UnaryOp};
use rustensor_core::{DType, Device, Tensor};

fn gpu() -> Option<Device> {
    if rustensor_core::wgpu_backend::is_available() {
        return Some(Device::Gpu(0));
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("CI=true but no GPU adapter: {:?}", rustensor_core::wgpu_backend::gpu().err());
    }
    eprintln!("no GPU adapter; skipping");
    None
}

fn close(a: &Tensor, b: &Tensor, tol: f32) {
    let a = a.to_device_raw(Device::Cpu).unwrap().to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap();
    let b = b.to_device_raw(Device::Cpu).unwrap().to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()) || (x.is_nan() && y.is_nan()), "{x} vs {y}");
    }
}

#[test]
fn elementwise_reduce_matmul_match_cpu() {
    let Some(g) = gpu() else { return };
    let a = Tensor::randn(&[33, 70], DType::F32, Device::Cpu).unwrap();
    let b = Tensor::randn(&[70], DType::F32, Device::Cpu).unwrap();
    let (ga, gb) = (a.to_device_raw(g).unwrap(), b.to_device_raw(g).unwrap());
    close(&ga.binary(BinaryOp::Add, &gb).unwrap(), &a.binary(BinaryOp::Add, &b).unwrap(), 1e-6);
    close(&ga.t().unwrap().unary(UnaryOp::Exp).unwrap(), &a.t().unwrap().unary(UnaryOp::Exp).unwrap(), 1e-5);
    close(&ga.sum(None, false).unwrap(), &a.sum(None, false).unwrap(), 1e-4);
    close(&ga.sum(Some(&[0]), false).unwrap(), &a.sum(Some(&[0]), false).unwrap(), 1e-4);
    close(&ga.argextreme(true, Some(1), false).unwrap(), &a.argextreme(true, Some(1), false).unwrap(), 0.0);
    let m = ga.matmul(&ga.t().unwrap()).unwrap();
    close(&m, &a.matmul(&a.t().unwrap()).unwrap(), 1e-4);
    let big = Tensor::randn(&[1 << 16], DType::F32, Device::Cpu).unwrap();
    close(&big.to_device_raw(g).unwrap().sum(None, false).unwrap(), &big.sum(None, false).unwrap(), 1e-3);
}
