//! Engine-level checks of views, broadcasting, promotion, reductions and matmul.
use rustensor_core::op::BinaryOp;
use rustensor_core::{DType, Device, Scalar, Tensor};

fn t(v: Vec<f64>, shape: &[usize]) -> Tensor {
    Tensor::from_vec(v, shape).unwrap()
}

#[test]
fn broadcast_add_and_promotion() {
    let a = Tensor::from_vec(vec![1i64, 2, 3], &[3, 1]).unwrap();
    let b = Tensor::from_vec(vec![10i64, 20, 30], &[3]).unwrap();
    let c = a.add(&b).unwrap();
    assert_eq!(c.shape(), &[3, 3]);
    assert_eq!(c.to_vec::<i64>().unwrap(), vec![11, 21, 31, 12, 22, 32, 13, 23, 33]);
    // int tensor / int -> float32; int tensor * 1.5 -> float32
    let d = a.binary_scalar(BinaryOp::Div, Scalar::Int(2), false).unwrap();
    assert_eq!(d.dtype(), DType::F32);
    let e = a.binary_scalar(BinaryOp::Mul, Scalar::Float(1.5), false).unwrap();
    assert_eq!(e.dtype(), DType::F32);
}

#[test]
fn transposed_views_share_storage_and_compute() {
    let x = t((0..6).map(|v| v as f64).collect(), &[2, 3]);
    let xt = x.transpose(0, 1).unwrap();
    assert!(xt.same_storage(&x));
    assert!(!xt.is_contiguous());
    let s = xt.add(&xt).unwrap();
    assert_eq!(s.to_vec::<f64>().unwrap(), vec![0., 6., 2., 8., 4., 10.]);
    let r = xt.reshape(&[6]).unwrap(); // must copy
    assert_eq!(r.to_vec::<f64>().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
}

#[test]
fn reductions_over_dims() {
    let x = t((1..=6).map(|v| v as f64).collect(), &[2, 3]);
    assert_eq!(x.sum(Some(&[0]), false).unwrap().to_vec::<f64>().unwrap(), vec![5., 7., 9.]);
    assert_eq!(x.sum(Some(&[1]), true).unwrap().shape(), &[2, 1]);
    assert_eq!(x.sum(None, false).unwrap().item_f64().unwrap(), 21.0);
    let (v, i) = x.extreme_dim(true, 1, false).unwrap();
    assert_eq!(v.to_vec::<f64>().unwrap(), vec![3., 6.]);
    assert_eq!(i.to_vec::<i64>().unwrap(), vec![2, 2]);
    let var = x.var(None, 1.0, false).unwrap().item_f64().unwrap();
    assert!((var - 3.5).abs() < 1e-12);
}

#[test]
fn matmul_forms_and_errors() {
    let a = t(vec![1., 2., 3., 4.], &[2, 2]);
    let b = t(vec![5., 6., 7., 8.], &[2, 2]);
    assert_eq!(a.matmul(&b).unwrap().to_vec::<f64>().unwrap(), vec![19., 22., 43., 50.]);
    // transposed operand goes straight to gemm
    let at = a.transpose(0, 1).unwrap();
    assert_eq!(at.matmul(&b).unwrap().to_vec::<f64>().unwrap(), vec![26., 30., 38., 44.]);
    let v = t(vec![1., 1.], &[2]);
    assert_eq!(a.matmul(&v).unwrap().shape(), &[2]);
    assert_eq!(v.matmul(&v).unwrap().shape(), &[] as &[usize]);
    let bad = t(vec![1., 2., 3.], &[3]);
    let err = a.matmul(&bad).unwrap_err().to_string();
    assert!(err.contains("matmul"), "{err}");
}

#[test]
fn integer_division_by_zero_is_an_error() {
    let a = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
    let z = Tensor::from_vec(vec![0i64, 1], &[2]).unwrap();
    assert!(a.binary(BinaryOp::FloorDiv, &z).is_err());
    assert!(a.binary(BinaryOp::Rem, &z).is_err());
}

#[test]
fn impossible_sizes_are_errors() {
    assert!(Tensor::zeros(&[1 << 40, 1 << 40], DType::F32, Device::Cpu).is_err());
    assert!(Tensor::randn(&[1 << 62], DType::F32, Device::Cpu).is_err());
}
