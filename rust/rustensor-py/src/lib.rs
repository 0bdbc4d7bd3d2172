//! PyO3 bindings: the `rustensor._rustensor` extension module (thin; the engine is in core).
mod dlpack;
mod conv;
mod errors;
mod function;
mod safetensors_file;
mod strided;
mod tensor;
mod types;

use errors::IntoPy;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use rustensor_core::layout::Layout;
use rustensor_core::storage::{CpuStorage, Storage};
use rustensor_core::{backprop, DType, Scalar, Tensor};
use std::sync::Arc;
use tensor::{wrap, PyTensor};
use types::*;

fn dtype_from_typestr(ts: &str) -> PyResult<DType> {
    let (order, rest) = ts.split_at(1.min(ts.len()));
    if order == ">" && !rest.ends_with('1') {
        return Err(PyTypeError::new_err(format!(
            "can't convert a big-endian array (dtype '{ts}'); use arr.astype(arr.dtype.newbyteorder('<')) first"
        )));
    }
    Ok(match rest {
        "b1" => DType::Bool,
        "u1" => DType::U8,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        _ => {
            return Err(PyTypeError::new_err(format!(
                "can't convert np.ndarray of type '{ts}'. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
            )))
        }
    })
}

/// Wraps foreign memory (a NumPy array's buffer) without copying; `owner` is kept alive
/// by the storage. Strides are in bytes, as NumPy gives them.
#[pyfunction]
#[pyo3(signature = (ptr, shape, strides, typestr, owner))]
fn from_buffer(py: Python<'_>, ptr: usize, shape: Vec<usize>, strides: Option<Vec<isize>>, typestr: &str, owner: Py<PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("from_buffer", || {
        let dt = dtype_from_typestr(typestr)?;
        let isz = dt.size() as isize;
        // NumPy gives no strides for C-contiguous arrays
        let strides = strides.unwrap_or_else(|| rustensor_core::layout::contiguous_strides(&shape).iter().map(|s| s * isz).collect());
        if shape.len() != strides.len() {
            return Err(PyValueError::new_err("from_buffer: shape and strides differ in length"));
        }
        let numel: usize = shape.iter().product();
        let mut el_strides = vec![];
        let mut span: usize = 0;
        for (&d, &s) in shape.iter().zip(&strides) {
            if s < 0 {
                return Err(PyValueError::new_err(
                    "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
                ));
            }
            if s % isz != 0 {
                return Err(PyValueError::new_err("given numpy array strides not a multiple of the element byte size. Copy the numpy array to reallocate the memory."));
            }
            el_strides.push(s / isz);
            if d > 0 {
                span += (d - 1) * (s / isz) as usize;
            }
        }
        if !ptr.is_multiple_of(dt.size()) && numel > 0 {
            return Err(PyValueError::new_err("from_buffer: the array's data is not aligned for its dtype"));
        }
        let bytes = if numel == 0 { 0 } else { (span + 1) * dt.size() };
        // SAFETY: NumPy guarantees `bytes` bytes from `ptr` stay valid while `owner` (the array) lives;
        // the storage holds `owner` until it is dropped.
        let cpu = unsafe { CpuStorage::from_external(ptr as *mut u8, bytes, Box::new(owner)) };
        let layout = Layout { shape, strides: el_strides, offset: 0 };
        let t = Tensor::from_storage_layout(Arc::new(Storage::cpu(cpu, dt)), layout).py_err()?;
        wrap(py, t)
    })
}

fn shape_of(shape: &Bound<'_, PyAny>, op: &str) -> PyResult<Vec<usize>> {
    to_shape(op, &int_list(shape)?)
}

#[pyfunction]
#[pyo3(signature = (shape, value, dtype, device=None))]
fn _full(py: Python<'_>, shape: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, dtype: &Bound<'_, PyAny>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_full", || {
        let s = shape_of(shape, "full")?;
        let v = match extract_scalar(value) {
            Some(v) => v?,
            None => return Err(PyTypeError::new_err(format!("full(): fill_value must be a number, got {}", value.repr()?))),
        };
        let dt = extract_dtype(dtype)?;
        let dev = extract_device(device)?;
        wrap(py, py.detach(|| Tensor::full(&s, v, dt, dev)).py_err()?)
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, step, dtype, device=None))]
fn _arange(py: Python<'_>, start: f64, end: f64, step: f64, dtype: &Bound<'_, PyAny>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_arange", || {
        wrap(py, Tensor::arange(start, end, step, extract_dtype(dtype)?, extract_device(device)?).py_err()?)
    })
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, dtype, device=None))]
fn _linspace(py: Python<'_>, start: f64, end: f64, steps: i64, dtype: &Bound<'_, PyAny>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_linspace", || {
        wrap(py, Tensor::linspace(start, end, steps, extract_dtype(dtype)?, extract_device(device)?).py_err()?)
    })
}

#[pyfunction]
#[pyo3(signature = (n, m, dtype, device=None))]
fn _eye(py: Python<'_>, n: i64, m: i64, dtype: &Bound<'_, PyAny>, device: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_eye", || {
        let s = to_shape("eye", &[n, m])?;
        wrap(py, Tensor::eye(s[0], s[1], extract_dtype(dtype)?, extract_device(device)?).py_err()?)
    })
}

#[pyfunction]
#[pyo3(signature = (kind, shape, dtype, device=None, low=0, high=1))]
fn _random(py: Python<'_>, kind: &str, shape: &Bound<'_, PyAny>, dtype: &Bound<'_, PyAny>, device: Option<&Bound<'_, PyAny>>, low: i64, high: i64) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_random", || {
        let s = shape_of(shape, kind)?;
        let dt = extract_dtype(dtype)?;
        let dev = extract_device(device)?;
        let t = py.detach(|| match kind {
            "rand" => Tensor::rand(&s, dt, dev),
            "randn" => Tensor::randn(&s, dt, dev),
            _ => Tensor::randint(low, high, &s, dt, dev),
        });
        wrap(py, t.py_err()?)
    })
}

#[pyfunction]
fn manual_seed(seed: i64) {
    rustensor_core::random::manual_seed(seed as u64)
}

/// The global generator's state as four 64-bit words (opaque to Python).
#[pyfunction]
fn _rng_state() -> [u64; 4] {
    rustensor_core::random::get_state()
}

#[pyfunction]
fn _set_rng_state(words: [u64; 4]) -> PyResult<()> {
    rustensor_core::random::set_state(words).py_err()
}

fn tensor_list(ts: &Bound<'_, PyAny>, op: &str) -> PyResult<Vec<Tensor>> {
    if ts.cast::<PyTensor>().is_ok() {
        return Err(PyTypeError::new_err(format!(
            "{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )));
    }
    let mut v = vec![];
    for item in ts.try_iter()? {
        v.push(tensor_arg(&item?, op)?);
    }
    Ok(v)
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0))]
fn cat(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: i64) -> PyResult<Py<PyAny>> {
    crate::errors::guard("cat", || {
        let v = tensor_list(tensors, "cat")?;
        wrap(py, py.detach(|| Tensor::cat(&v, dim)).py_err()?)
    })
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0))]
fn stack(py: Python<'_>, tensors: &Bound<'_, PyAny>, dim: i64) -> PyResult<Py<PyAny>> {
    crate::errors::guard("stack", || {
        let v = tensor_list(tensors, "stack")?;
        wrap(py, py.detach(|| Tensor::stack(&v, dim)).py_err()?)
    })
}

#[pyfunction]
fn _where(py: Python<'_>, cond: &Bound<'_, PyAny>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_where", || {
        let c = tensor_arg(cond, "where")?;
        let (a, b) = (tensor_arg(a, "where")?, tensor_arg(b, "where")?);
        wrap(py, Tensor::where_(&c, &a, &b).py_err()?)
    })
}

/// `torch.promote_types`.
#[pyfunction]
fn _promote_types(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyDType>> {
    Ok(dtype_obj(py, extract_dtype(a)?.promote(extract_dtype(b)?)))
}

/// `torch.result_type`: each argument a tensor (dimensioned or 0-d) or a Python number.
#[pyfunction]
fn _result_type(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyDType>> {
    let operand = |x: &Bound<'_, PyAny>| -> PyResult<rustensor_core::dtype::Operand> {
        use rustensor_core::dtype::Operand;
        if let Ok(t) = x.cast::<PyTensor>() {
            let t = &t.get().t;
            return Ok(if t.ndim() == 0 { Operand::ZeroDim(t.dtype()) } else { Operand::Dim(t.dtype()) });
        }
        match extract_scalar(x) {
            Some(s) => Ok(Operand::Scalar(s?.category())),
            None => Err(PyTypeError::new_err(format!(
                "result_type() received an invalid combination of arguments - got ({}), expected Tensor or Number",
                x.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))),
        }
    };
    Ok(dtype_obj(py, rustensor_core::dtype::result_type(&[operand(a)?, operand(b)?])))
}

#[pyfunction]
fn _scalar_tensor(py: Python<'_>, value: &Bound<'_, PyAny>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_scalar_tensor", || {
        let v: Scalar = match extract_scalar(value) {
            Some(v) => v?,
            None => return Err(PyTypeError::new_err("expected a number")),
        };
        wrap(py, Tensor::scalar_tensor(v, extract_dtype(dtype)?, rustensor_core::Device::Cpu).py_err()?)
    })
}

#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    crate::errors::guard("set_num_threads", || {
        if n <= 0 {
            return Err(PyRuntimeError::new_err("set_num_threads expects a positive integer"));
        }
        // spawning a million OS threads took minutes (issue 16); more than a few per core
        // only adds contention, so anything past this is a mistake worth reporting
        let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
        let cap = (cores * 16).max(256);
        if n as u64 > cap as u64 {
            return Err(PyRuntimeError::new_err(format!(
                "set_num_threads: {n} threads is more than the limit of {cap} (16 per hardware thread, at least 256; this machine has {cores})"
            )));
        }
        rustensor_core::set_num_threads(n as usize);
        Ok(())
    })
}

#[pyfunction]
fn get_num_threads() -> usize {
    rustensor_core::get_num_threads()
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    backprop::is_grad_enabled()
}

/// Sets grad mode for this thread and returns the previous mode.
#[pyfunction]
fn _set_grad_enabled(on: bool) -> bool {
    backprop::set_grad_enabled(on)
}

#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused))]
fn _autograd_grad(
    py: Python<'_>,
    outputs: &Bound<'_, PyAny>,
    inputs: &Bound<'_, PyAny>,
    grad_outputs: Option<&Bound<'_, PyAny>>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Py<PyAny>> {
    crate::errors::guard("_autograd_grad", || {
        let outs = tensor_list(outputs, "grad")?;
        let ins = tensor_list(inputs, "grad")?;
        let gos = match grad_outputs {
            None => None,
            Some(g) if g.is_none() => None,
            Some(g) => {
                let mut v = vec![];
                for item in g.try_iter()? {
                    let item = item?;
                    v.push(if item.is_none() { None } else { Some(tensor_arg(&item, "grad")?) });
                }
                Some(v)
            }
        };
        let res = py.detach(|| backprop::grad(&outs, &ins, gos, retain_graph, create_graph, allow_unused)).py_err()?;
        let items: Vec<Py<PyAny>> = res
            .into_iter()
            .map(|g| match g {
                Some(t) => wrap(py, t),
                None => Ok(py.None()),
            })
            .collect::<PyResult<_>>()?;
        Ok(PyList::new(py, items)?.into_any().unbind())
    })
}

/// Whether a GPU adapter opens (software adapters only with RUSTENSOR_ALLOW_SOFTWARE_GPU=1).
#[pyfunction]
fn _gpu_available(py: Python<'_>) -> bool {
    py.detach(rustensor_core::wgpu_backend::is_available)
}

/// Why no GPU adapter opened (None when one did).
#[pyfunction]
fn _gpu_error(py: Python<'_>) -> Option<String> {
    py.detach(|| rustensor_core::wgpu_backend::gpu().err().map(|e| e.to_string()))
}

/// (name, backend, device type, driver) of the adapter in use.
#[pyfunction]
fn _gpu_info(py: Python<'_>) -> PyResult<(String, String, String, String)> {
    crate::errors::guard("_gpu_info", || {
        let g = py.detach(rustensor_core::wgpu_backend::gpu).py_err()?;
        Ok(g.adapter_info())
    })
}

#[pyfunction]
fn _gpu_synchronize(py: Python<'_>) -> PyResult<()> {
    crate::errors::guard("_gpu_synchronize", || {
        py.detach(|| rustensor_core::wgpu_backend::gpu()?.synchronize()).py_err()
    })
}

#[pyfunction]
fn _gpu_empty_cache(py: Python<'_>) -> PyResult<()> {
    crate::errors::guard("_gpu_empty_cache", || {
        py.detach(|| rustensor_core::wgpu_backend::gpu().map(|g| g.empty_cache())).py_err()
    })
}

/// Panics inside the guard, as a bug would: the test that no panic reaches Python as
/// `PanicException` calls it.
#[pyfunction]
fn _panic_for_test() -> PyResult<()> {
    errors::guard("_panic_for_test", || panic!("deliberate panic"))
}

/// Counters: allocated and reserved bytes, readbacks, uploads, dispatches, submits.
#[pyfunction]
fn _gpu_stats(py: Python<'_>) -> PyResult<std::collections::HashMap<&'static str, u64>> {
    crate::errors::guard("_gpu_stats", || {
        let g = py.detach(rustensor_core::wgpu_backend::gpu).py_err()?;
        Ok(g.stats_snapshot().into_iter().collect())
    })
}

/// The elementwise op tables as (family, name, aliases, differentiable) rows: a test checks
/// that the Python method/function lists and the stub name every op of the tables.
#[pyfunction]
fn _op_table() -> Vec<(&'static str, &'static str, Vec<&'static str>, bool)> {
    use rustensor_core::op::{BinaryOp, UnaryOp};
    let un = UnaryOp::ALL.iter().map(|op| ("unary", op.name(), op.aliases().to_vec(), op.grad_name().is_some()));
    let bin = BinaryOp::ALL.iter().map(|op| ("binary", op.name(), op.aliases().to_vec(), op.grad_name().is_some()));
    un.chain(bin).collect()
}

fn plain_list(ts: &Bound<'_, PyAny>, op: &str) -> PyResult<Vec<Tensor>> {
    let mut v = vec![];
    for item in ts.try_iter()? {
        v.push(tensor_arg(&item?, op)?);
    }
    Ok(v)
}

/// One Adam/AdamW step over all parameters in one multi-tensor kernel (torch's
/// `_fused_adam_`), the GIL released; `steps[i]` is parameter i's step count after this step.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled))]
fn _fused_adam_(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    exp_avgs: &Bound<'_, PyAny>,
    exp_avg_sqs: &Bound<'_, PyAny>,
    max_exp_avg_sqs: &Bound<'_, PyAny>,
    steps: Vec<f64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
) -> PyResult<()> {
    crate::errors::guard("_fused_adam_", || {
        let op = "_fused_adam_";
        let (p, g, m, v, mx) =
            (plain_list(params, op)?, plain_list(grads, op)?, plain_list(exp_avgs, op)?, plain_list(exp_avg_sqs, op)?, plain_list(max_exp_avg_sqs, op)?);
        let c = rustensor_core::ops::optim::AdamConfig { lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled };
        py.detach(|| Tensor::fused_adam_(&p, &g, &m, &v, &mx, &steps, &c)).py_err()
    })
}

/// One SGD step over all parameters in one multi-tensor kernel, the GIL released; with
/// momentum, `first[i]` says parameter i's buffer is new.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (params, grads, momentum_buffers, first, lr, momentum, dampening, weight_decay, nesterov, maximize))]
fn _fused_sgd_(
    py: Python<'_>,
    params: &Bound<'_, PyAny>,
    grads: &Bound<'_, PyAny>,
    momentum_buffers: &Bound<'_, PyAny>,
    first: Vec<bool>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<()> {
    crate::errors::guard("_fused_sgd_", || {
        let op = "_fused_sgd_";
        let (p, g, b) = (plain_list(params, op)?, plain_list(grads, op)?, plain_list(momentum_buffers, op)?);
        let c = rustensor_core::ops::optim::SgdConfig { lr, momentum, dampening, weight_decay, nesterov, maximize };
        py.detach(|| Tensor::fused_sgd_(&p, &g, &b, &first, &c)).py_err()
    })
}

#[pymodule]
fn _rustensor(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyTensor>()?;
    m.add_function(wrap_pyfunction!(tensor::_set_tensor_class, m)?)?;
    m.add_class::<PyDType>()?;
    m.add_class::<PyDevice>()?;
    m.add_class::<tensor::PyNode>()?;
    for dt in DType::ALL {
        m.add(dt.name(), dtype_obj(py, dt))?;
    }
    m.add_function(wrap_pyfunction!(from_buffer, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(function::_record_function, m)?)?;
    m.add_function(wrap_pyfunction!(_full, m)?)?;
    m.add_function(wrap_pyfunction!(_arange, m)?)?;
    m.add_function(wrap_pyfunction!(_linspace, m)?)?;
    m.add_function(wrap_pyfunction!(_eye, m)?)?;
    m.add_function(wrap_pyfunction!(_random, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(_set_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(cat, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(_where, m)?)?;
    m.add_function(wrap_pyfunction!(_promote_types, m)?)?;
    m.add_function(wrap_pyfunction!(_result_type, m)?)?;
    m.add_function(wrap_pyfunction!(_fused_adam_, m)?)?;
    m.add_function(wrap_pyfunction!(_fused_sgd_, m)?)?;
    m.add_function(wrap_pyfunction!(_scalar_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_autograd_grad, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_available, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_error, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_info, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_stats, m)?)?;
    m.add_function(wrap_pyfunction!(strided::_as_strided, m)?)?;
    m.add_function(wrap_pyfunction!(strided::_storage_flat, m)?)?;
    m.add_function(wrap_pyfunction!(dlpack::_to_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(dlpack::_dlpack_device, m)?)?;
    m.add_function(wrap_pyfunction!(dlpack::_from_dlpack, m)?)?;
    m.add_class::<safetensors_file::SafeFile>()?;
    m.add_function(wrap_pyfunction!(safetensors_file::_safetensors_open, m)?)?;
    m.add_function(wrap_pyfunction!(safetensors_file::_safetensors_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(safetensors_file::_safetensors_write, m)?)?;
    m.add_function(wrap_pyfunction!(_op_table, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_lstm_cell, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_group_norm, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_batch_norm, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_gru_cell, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_lstm_layer, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_gru_layer, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_ctc_loss, m)?)?;
    Ok(())
}
