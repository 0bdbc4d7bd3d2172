//! The tape: the lesson's derivatives, broadcasting gradients, views, and freed graphs.
use rustensor_core::backprop::{self, GradModeGuard};
use rustensor_core::{Scalar, Tensor};

fn leaf(v: Vec<f64>, shape: &[usize]) -> Tensor {
    let x = Tensor::from_vec(v, shape).unwrap();
    x.set_requires_grad(true).unwrap();
    x
}

#[test]
fn lesson_polynomials() {
    use rustensor_core::op::BinaryOp::*;
    let x = leaf(vec![2.0], &[1]);
    // y = x^2 + 3x + 1  ->  dy/dx = 7
    let y = x
        .binary_scalar(Pow, Scalar::Int(2), false)
        .unwrap()
        .add(&x.mul_scalar(3.0).unwrap())
        .unwrap()
        .add_scalar(1.0)
        .unwrap();
    backprop::backward(&y, None, false, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![7.0]);
    // a second backward through a fresh graph accumulates
    let y2 = x.mul_scalar(3.0).unwrap();
    backprop::backward(&y2, None, false, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![10.0]);
}

#[test]
fn broadcast_gradients_reduce_to_input_shape() {
    let a = leaf(vec![1., 2., 3.], &[3, 1]);
    let b = leaf(vec![10., 20.], &[2]);
    let c = a.mul(&b).unwrap().sum(None, false).unwrap();
    backprop::backward(&c, None, false, false).unwrap();
    assert_eq!(a.grad().unwrap().shape(), &[3, 1]);
    assert_eq!(a.grad().unwrap().to_vec::<f64>().unwrap(), vec![30., 30., 30.]);
    assert_eq!(b.grad().unwrap().to_vec::<f64>().unwrap(), vec![6., 6.]);
}

#[test]
fn gradients_through_views_land_in_place() {
    let x = leaf((0..6).map(|v| v as f64).collect(), &[2, 3]);
    let v = x.transpose(0, 1).unwrap().select(0, 1).unwrap(); // x[:, 1]
    let s = v.mul_scalar(2.0).unwrap().sum(None, false).unwrap();
    backprop::backward(&s, None, false, false).unwrap();
    assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![0., 2., 0., 0., 2., 0.]);
}

#[test]
fn second_backward_without_retain_fails_and_higher_order_works() {
    let x = leaf(vec![1.5], &[1]);
    let y = x.exp().unwrap().sum(None, false).unwrap();
    backprop::backward(&y, None, false, false).unwrap();
    let err = backprop::backward(&y, None, false, false).unwrap_err().to_string();
    assert!(err.contains("second time"), "{err}");
    // d2/dx2 x^3 = 6x
    let x = leaf(vec![2.0], &[1]);
    let y = x.binary_scalar(rustensor_core::op::BinaryOp::Pow, Scalar::Int(3), false).unwrap();
    let g = backprop::grad(&[y], std::slice::from_ref(&x), None, true, true, false).unwrap();
    let g = g[0].clone().unwrap();
    let gg = backprop::grad(&[g], &[x], None, false, false, false).unwrap();
    assert!((gg[0].clone().unwrap().item_f64().unwrap() - 12.0).abs() < 1e-9);
}

#[test]
fn no_grad_records_nothing_and_inplace_checks() {
    let x = leaf(vec![1.0, 2.0], &[2]);
    {
        let _g = GradModeGuard::new(false);
        let y = x.mul_scalar(2.0).unwrap();
        assert!(!y.requires_grad());
        x.binary_scalar_(rustensor_core::op::BinaryOp::Sub, Scalar::Float(0.5)).unwrap();
    }
    assert!(x.binary_scalar_(rustensor_core::op::BinaryOp::Add, Scalar::Float(1.0)).is_err());
    // modifying a saved tensor invalidates the backward
    let y = x.mul_scalar(1.0).unwrap();
    let z = y.mul(&y).unwrap().sum(None, false).unwrap();
    y.binary_scalar_(rustensor_core::op::BinaryOp::Add, Scalar::Float(1.0)).unwrap();
    let err = backprop::backward(&z, None, false, false).unwrap_err().to_string();
    assert!(err.contains("modified by an inplace operation"), "{err}");
}
