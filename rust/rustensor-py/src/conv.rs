//! Bindings of the core conv2d, max-pool, CTC and recurrent-cell ops: `_rustensor._conv2d`,
//! `_max_pool2d`, `_ctc_loss`, `_lstm_cell`, `_gru_cell`, `_lstm_layer`, `_gru_layer`,
//! `_layer_norm`, `_group_norm`, `_batch_norm`, `_cross_entropy`.
use crate::errors::IntoPy;
use crate::tensor::wrap;
use crate::types::{int_list, tensor_arg};
use pyo3::prelude::*;
use rustensor_core::ops::conv::Conv2dArgs;

/// `conv2d(input, weight, bias, stride, padding, dilation, groups)` with torch's checks;
/// `padding` may also hold 4 values (top, bottom, left, right). CPU, float tensors only.
// torch's seven conv2d arguments, one Python parameter each
#[allow(clippy::too_many_arguments)]
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, dilation=None, groups=1))]
pub fn _conv2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Option<&Bound<'_, PyAny>>,
    padding: Option<&Bound<'_, PyAny>>,
    dilation: Option<&Bound<'_, PyAny>>,
    groups: i64,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_conv2d", || {
        let x = tensor_arg(input, "conv2d")?;
        let w = tensor_arg(weight, "conv2d")?;
        let b = match bias {
            Some(b) if !b.is_none() => Some(tensor_arg(b, "conv2d")?),
            _ => None,
        };
        // None: torch's defaults (stride 1, padding 0, dilation 1)
        let ints = |a: Option<&Bound<'_, PyAny>>, d: i64| a.filter(|a| !a.is_none()).map(int_list).unwrap_or(Ok(vec![d]));
        let args = Conv2dArgs::new(&ints(stride, 1)?, &ints(padding, 0)?, &ints(dilation, 1)?, groups).py_err()?;
        let y = py.detach(|| x.conv2d(&w, b.as_ref(), &args)).py_err()?;
        wrap(py, y)
    })
}

/// `_max_pool2d(input, kernel, stride, padding, dilation, out)`: each window's maximum and its
/// flat input index (see `Tensor::max_pool2d`); two ints per list.
#[pyfunction]
pub fn _max_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel: &Bound<'_, PyAny>,
    stride: &Bound<'_, PyAny>,
    padding: &Bound<'_, PyAny>,
    dilation: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_max_pool2d", || {
        let x = tensor_arg(input, "max_pool2d")?;
        let two = |a: &Bound<'_, PyAny>, name: &str| -> PyResult<[usize; 2]> {
            match int_list(a)?.as_slice() {
                [p, q] if *p >= 0 && *q >= 0 => Ok([*p as usize, *q as usize]),
                v => Err(pyo3::exceptions::PyRuntimeError::new_err(format!("max_pool2d: expected {name} as two non-negative ints, got {v:?}"))),
            }
        };
        let (k, s, p, d, o) = (two(kernel, "kernel_size")?, two(stride, "stride")?, two(padding, "padding")?, two(dilation, "dilation")?, two(out, "output size")?);
        let (v, i) = py.detach(|| x.max_pool2d(k, s, p, d, o)).py_err()?;
        Ok(pyo3::types::PyTuple::new(py, [wrap(py, v)?, wrap(py, i)?])?.into_any().unbind())
    })
}

/// `_ctc_loss(log_probs, labels, s, input_lengths, target_lengths, blank)`: each sequence's CTC
/// loss (see `Tensor::ctc_loss`); `labels` is the padded (N, s) table flattened.
#[pyfunction]
pub fn _ctc_loss(
    py: Python<'_>,
    log_probs: &Bound<'_, PyAny>,
    labels: Vec<i64>,
    s: usize,
    input_lengths: Vec<usize>,
    target_lengths: Vec<usize>,
    blank: usize,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_ctc_loss", || {
        let lp = tensor_arg(log_probs, "ctc_loss")?;
        let out = py.detach(|| lp.ctc_loss(&labels, s, &input_lengths, &target_lengths, blank)).py_err()?;
        wrap(py, out)
    })
}

/// `_lstm_cell(gates, cx)`: one LSTM step's pointwise math, [h' | c'] (see `Tensor::lstm_cell`).
#[pyfunction]
pub fn _lstm_cell(py: Python<'_>, gates: &Bound<'_, PyAny>, cx: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_lstm_cell", || {
        let (g, c) = (tensor_arg(gates, "lstm_cell")?, tensor_arg(cx, "lstm_cell")?);
        // a time step's cell is a few microseconds: releasing the GIL would cost a tenth of it
        let out = g.lstm_cell(&c).py_err()?;
        wrap(py, out)
    })
}

/// `_gru_cell(input_gates, hidden_gates, hx)`: one GRU step's pointwise math, h' (see
/// `Tensor::gru_cell`).
#[pyfunction]
pub fn _gru_cell(py: Python<'_>, input_gates: &Bound<'_, PyAny>, hidden_gates: &Bound<'_, PyAny>, hx: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_gru_cell", || {
        let x = tensor_arg(input_gates, "gru_cell")?;
        let (hg, h) = (tensor_arg(hidden_gates, "gru_cell")?, tensor_arg(hx, "gru_cell")?);
        let out = x.gru_cell(&hg, &h).py_err()?;
        wrap(py, out)
    })
}

/// `_lstm_layer(xp, hx, cx, weight_hh, reverse)`: one direction of an LSTM layer over the whole
/// sequence, (T, B, 2h) of [h_t | c_t] (see `Tensor::lstm_layer`).
#[pyfunction]
pub fn _lstm_layer(
    py: Python<'_>,
    xp: &Bound<'_, PyAny>,
    hx: &Bound<'_, PyAny>,
    cx: &Bound<'_, PyAny>,
    weight_hh: &Bound<'_, PyAny>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_lstm_layer", || {
        let x = tensor_arg(xp, "lstm_layer")?;
        let (h, c, w) = (tensor_arg(hx, "lstm_layer")?, tensor_arg(cx, "lstm_layer")?, tensor_arg(weight_hh, "lstm_layer")?);
        let out = py.detach(|| x.lstm_layer(&h, &c, &w, reverse)).py_err()?;
        wrap(py, out)
    })
}

/// `_gru_layer(xp, hx, weight_hh, bias_hh, reverse)`: one direction of a GRU layer over the
/// whole sequence, (T, B, h) (see `Tensor::gru_layer`).
#[pyfunction]
#[pyo3(signature = (xp, hx, weight_hh, bias_hh, reverse))]
pub fn _gru_layer(
    py: Python<'_>,
    xp: &Bound<'_, PyAny>,
    hx: &Bound<'_, PyAny>,
    weight_hh: &Bound<'_, PyAny>,
    bias_hh: Option<&Bound<'_, PyAny>>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_gru_layer", || {
        let x = tensor_arg(xp, "gru_layer")?;
        let (h, w) = (tensor_arg(hx, "gru_layer")?, tensor_arg(weight_hh, "gru_layer")?);
        let b = bias_hh.filter(|b| !b.is_none()).map(|b| tensor_arg(b, "gru_layer")).transpose()?;
        let out = py.detach(|| x.gru_layer(&h, &w, b.as_ref(), reverse)).py_err()?;
        wrap(py, out)
    })
}

/// An optional tensor argument (`None` → absent).
fn opt_tensor(t: Option<&Bound<'_, PyAny>>, op: &str) -> PyResult<Option<rustensor_core::Tensor>> {
    t.filter(|t| !t.is_none()).map(|t| tensor_arg(t, op)).transpose()
}

/// `_layer_norm(input, normalized_shape, weight, bias, eps, rms)`: layer norm, or RMS norm
/// when `rms`, over the trailing dims (see `Tensor::layer_norm`).
#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight, bias, eps, rms))]
pub fn _layer_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    normalized_shape: Vec<usize>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    eps: f64,
    rms: bool,
) -> PyResult<Py<PyAny>> {
    let op = if rms { "rms_norm" } else { "layer_norm" };
    crate::errors::guard(op, || {
        let x = tensor_arg(input, op)?;
        let (w, b) = (opt_tensor(weight, op)?, opt_tensor(bias, op)?);
        let out = py.detach(|| x.layer_norm(&normalized_shape, w.as_ref(), b.as_ref(), eps, rms)).py_err()?;
        wrap(py, out)
    })
}

/// `_group_norm(input, num_groups, weight, bias, eps)` (see `Tensor::group_norm`).
#[pyfunction]
#[pyo3(signature = (input, num_groups, weight, bias, eps))]
pub fn _group_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    num_groups: usize,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    eps: f64,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("group_norm", || {
        let x = tensor_arg(input, "group_norm")?;
        let (w, b) = (opt_tensor(weight, "group_norm")?, opt_tensor(bias, "group_norm")?);
        let out = py.detach(|| x.group_norm(num_groups, w.as_ref(), b.as_ref(), eps)).py_err()?;
        wrap(py, out)
    })
}

/// `_batch_norm(input, weight, bias, running_mean, running_var, eps)` → (y, mean, invstd) per
/// channel: eval mode when the running statistics are given, else the batch's (see
/// `Tensor::batch_norm`; the caller updates the running statistics).
#[pyfunction]
#[pyo3(signature = (input, weight, bias, running_mean, running_var, eps))]
pub fn _batch_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    eps: f64,
) -> PyResult<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> {
    let op = "batch_norm";
    crate::errors::guard(op, || {
        let x = tensor_arg(input, op)?;
        let (w, b) = (opt_tensor(weight, op)?, opt_tensor(bias, op)?);
        let (m, v) = (opt_tensor(running_mean, op)?, opt_tensor(running_var, op)?);
        let running = match (&m, &v) {
            (Some(m), Some(v)) => Some((m, v)),
            (None, None) => None,
            _ => return Err(pyo3::exceptions::PyRuntimeError::new_err("batch_norm: give both running_mean and running_var, or neither")),
        };
        let (y, mean, rstd) = py.detach(|| x.batch_norm(w.as_ref(), b.as_ref(), running, eps)).py_err()?;
        Ok((wrap(py, y)?, wrap(py, mean)?, wrap(py, rstd)?))
    })
}

/// `_cross_entropy(input, target, weight, ignore_index, label_smoothing)`: the (N) losses of
/// (N, C) logits against int64 class indices (see `Tensor::cross_entropy_rows`).
#[pyfunction]
#[pyo3(signature = (input, target, weight, ignore_index, label_smoothing))]
pub fn _cross_entropy(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    target: &Bound<'_, PyAny>,
    weight: Option<&Bound<'_, PyAny>>,
    ignore_index: i64,
    label_smoothing: f64,
) -> PyResult<Py<PyAny>> {
    let op = "cross_entropy";
    crate::errors::guard(op, || {
        let (x, t) = (tensor_arg(input, op)?, tensor_arg(target, op)?);
        let w = opt_tensor(weight, op)?;
        let out = py.detach(|| x.cross_entropy_rows(&t, w.as_ref(), ignore_index, label_smoothing)).py_err()?;
        wrap(py, out)
    })
}
