//! `autograd.Function`: records a node whose backward calls back into Python.
use crate::errors::stash_hook_error as from_callback;
use crate::tensor::wrap;
use crate::types::tensor_arg;
use pyo3::prelude::*;
use pyo3::types::PyList;
use rustensor_core::{backprop, Error, Tensor};
use std::sync::Arc;

/// Gives each of `outputs` (fresh tensors computed without grad) a node with `inputs` as its
/// edges. The backward of output `i` calls `backward(i, grad, outs)`, where `outs` holds the
/// outputs flagged in `keep` (with their history, None otherwise), and gets back one gradient or
/// None per input. Returns the recorded outputs (aliases of the given ones).
#[pyfunction]
pub fn _record_function(
    py: Python<'_>,
    outputs: Vec<Bound<'_, PyAny>>,
    inputs: Vec<Bound<'_, PyAny>>,
    backward: Py<PyAny>,
    name: &str,
    keep: Vec<bool>,
) -> PyResult<Py<PyList>> {
    crate::errors::guard("_record_function", || {
        let ins: Vec<Tensor> = inputs.iter().map(|t| tensor_arg(t, "Function.apply")).collect::<PyResult<_>>()?;
        let shapes: Arc<Vec<(Vec<usize>, rustensor_core::Device)>> =
            Arc::new(ins.iter().map(|t| (t.shape().to_vec(), t.device())).collect());
        let refs: Vec<&Tensor> = ins.iter().collect();
        let backward = Arc::new(backward);
        let mut outs = vec![];
        let mut fs = vec![];
        for (i, o) in outputs.iter().enumerate() {
            outs.push(tensor_arg(o, "Function.apply")?.detach());
            let (cb, shapes, fname) = (backward.clone(), shapes.clone(), name.to_owned());
            let f: backprop::CustomBackward = Arc::new(move |g: &Tensor, kept: &[Option<Tensor>]| {
                Python::attach(|py| {
                    let kept = kept
                        .iter()
                        .map(|t| t.clone().map(|t| wrap(py, t)).transpose())
                        .collect::<PyResult<Vec<Option<Py<PyAny>>>>>()
                        .map_err(from_callback)?;
                    let r = cb.call1(py, (i, wrap(py, g.clone()).map_err(from_callback)?, kept)).map_err(from_callback)?;
                    let r = r.bind(py);
                    let mut gs = vec![];
                    for (k, item) in r.try_iter().map_err(from_callback)?.enumerate() {
                        let item = item.map_err(from_callback)?;
                        if item.is_none() {
                            gs.push(None);
                            continue;
                        }
                        let t = tensor_arg(&item, "backward").map_err(from_callback)?;
                        if let Some((shape, device)) = shapes.get(k) {
                            if !expandable(shape, t.shape()) {
                                return Err(Error::Runtime(format!(
                                    "Function {fname} returned an invalid gradient at index {k} - got {:?} but expected shape compatible with {:?}",
                                    t.shape(),
                                    shape
                                )));
                            }
                            if t.device() != *device {
                                return Err(Error::Runtime(format!(
                                    "Function {fname} returned an invalid gradient at index {k} - expected device {device:?} but got {:?}",
                                    t.device()
                                )));
                            }
                        }
                        gs.push(Some(t));
                    }
                    Ok(gs)
                })
            });
            fs.push(f);
        }
        let recorded = backprop::record_custom(outs, name, &refs, fs, &keep);
        let recorded = recorded.into_iter().map(|t| wrap(py, t)).collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, recorded)?.unbind())
    })
}

/// Whether a tensor of shape `small` broadcasts to `big` (torch accepts such a gradient and
/// sums it down to the input's shape).
fn expandable(small: &[usize], big: &[usize]) -> bool {
    small.len() <= big.len() && small.iter().rev().zip(big.iter().rev()).all(|(&s, &b)| s == b || s == 1)
}
