//! Criterion benches of the core kernels: elementwise, reduction, matmul.
use criterion::{criterion_group, criterion_main, Criterion};
use rustensor_core::{DType, Device, Tensor};

fn kernels(c: &mut Criterion) {
    let n = 1 << 22;
    let a = Tensor::rand(&[n], DType::F32, Device::Cpu).unwrap();
    let b = Tensor::rand(&[n], DType::F32, Device::Cpu).unwrap();
    c.bench_function("add_f32_4M", |bch| bch.iter(|| a.add(&b).unwrap()));
    c.bench_function("exp_f32_4M", |bch| bch.iter(|| a.exp().unwrap()));
    c.bench_function("sum_f32_4M", |bch| bch.iter(|| a.sum(None, false).unwrap()));
    let m = Tensor::rand(&[2048, 2048], DType::F32, Device::Cpu).unwrap();
    let mt = m.t().unwrap();
    c.bench_function("transpose_add_2048", |bch| bch.iter(|| mt.add(&m).unwrap()));
    let x = Tensor::rand(&[512, 512], DType::F32, Device::Cpu).unwrap();
    c.bench_function("matmul_f32_512", |bch| bch.iter(|| x.matmul(&x).unwrap()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = kernels
}
criterion_main!(benches);
