//! Creation ops: full, arange, linspace, eye, random tensors, scalars and reads of one value.
use crate::kernels as ew;
use crate::layout::checked_numel;
use crate::random::with_gen;
use crate::storage::Device;
use crate::{bail, with_dtype, DType, Element, Result, Scalar, Tensor};

impl Tensor {
    pub fn full(shape: &[usize], value: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        let t = Tensor::zeros(shape, dtype, device)?;
        if !value.is_zero() {
            ew::fill(t.strided(), dtype, value)?;
        }
        Ok(t)
    }
    pub fn ones_like(t: &Tensor) -> Result<Tensor> {
        Tensor::full(t.shape(), Scalar::Int(1), t.dtype(), t.device())
    }
    pub fn zeros_like(t: &Tensor) -> Result<Tensor> {
        Tensor::zeros(t.shape(), t.dtype(), t.device())
    }
    /// A 0-d tensor holding `s` as `dtype` (on the hot path of every `tensor op number`).
    pub fn scalar_tensor(s: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        let t = crate::ops::empty(&[], dtype, device)?;
        if device != Device::Cpu {
            ew::fill(t.strided(), dtype, s)?;
            return Ok(t);
        }
        with_dtype!(dtype, T, {
            // SAFETY: a fresh 0-d tensor holds exactly one element.
            unsafe { *(t.strided().ptr as *mut T) = T::from_scalar(s) };
        });
        Ok(t)
    }

    /// A read-only 0-d operand for `tensor op scalar`. On the GPU the same value is reused
    /// across calls (a loop's `lr * g` then costs no fill dispatch); it never reaches the user,
    /// so nothing can write to it.
    pub(crate) fn scalar_operand(s: Scalar, dtype: DType, device: Device) -> Result<Tensor> {
        if device == Device::Cpu {
            return Tensor::scalar_tensor(s, dtype, device);
        }
        type Cache = std::sync::Mutex<std::collections::HashMap<(DType, u8, u64), Tensor>>;
        static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
        let key = match s {
            Scalar::Bool(b) => (dtype, 0, b as u64),
            Scalar::Int(i) => (dtype, 1, i as u64),
            Scalar::Float(f) => (dtype, 2, f.to_bits()),
        };
        let cache = CACHE.get_or_init(Default::default);
        if let Some(t) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(t);
        }
        let t = Tensor::scalar_tensor(s, dtype, device)?;
        if let Ok(mut c) = cache.lock() {
            if c.len() >= 256 {
                c.clear();
            }
            c.insert(key, t.clone());
        }
        Ok(t)
    }

    pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: Device) -> Result<Tensor> {
        if step == 0.0 {
            bail!(Runtime, "arange: step must be nonzero");
        }
        if !(start.is_finite() && end.is_finite()) {
            bail!(Runtime, "arange: unsupported range: {start} -> {end}");
        }
        if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
            bail!(Runtime, "arange: upper bound and larger bound inconsistent with step sign");
        }
        let n = ((end - start) / step).ceil().max(0.0);
        if n > 1e15 {
            bail!(Runtime, "arange: the range {start} -> {end} with step {step} is too large");
        }
        let n = n as usize;
        checked_numel("arange", &[n])?;
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Tensor::from_f64s(&v, &[n], dtype, device)
    }

    pub fn linspace(start: f64, end: f64, steps: i64, dtype: DType, device: Device) -> Result<Tensor> {
        if steps < 0 {
            bail!(Runtime, "linspace: number of steps must be non-negative");
        }
        let n = steps as usize;
        let step = if n > 1 { (end - start) / (n - 1) as f64 } else { 0.0 };
        // torch fills the second half from the end so the last value is exactly `end`
        let mut i = 0usize;
        Tensor::generate(&[n], dtype, device, || {
            let v = if n == 1 { start } else if i < n / 2 { start + step * i as f64 } else { end - step * (n - 1 - i) as f64 };
            i += 1;
            v
        })
    }

    pub fn eye(n: usize, m: usize, dtype: DType, device: Device) -> Result<Tensor> {
        let t = Tensor::zeros(&[n, m], dtype, device)?;
        let d = t.layout().diagonal(0, 0, 1)?;
        ew::fill(t.strided().relayout(&d), dtype, Scalar::Int(1))?;
        Ok(t)
    }

    /// Builds a tensor from f64 values converted to `dtype`.
    pub fn from_f64s(v: &[f64], shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if device != Device::Cpu {
            return Tensor::from_f64s(v, shape, dtype, Device::Cpu)?.to_device_raw(device);
        }
        let t = Tensor::zeros(shape, dtype, device)?;
        if v.len() != t.numel() {
            bail!(Runtime, "{} values cannot fill shape {:?}", v.len(), shape);
        }
        with_dtype!(dtype, T, {
            let p = t.strided().ptr as *mut T;
            for (i, &x) in v.iter().enumerate() {
                // SAFETY: t holds v.len() elements.
                unsafe { *p.add(i) = T::from_f64(x) };
            }
        });
        Ok(t)
    }

    /// A tensor whose element i is `f(i)` in row-major order, allocated first (so an
    /// impossible size is an error, not an abort).
    /// Device tensors are generated on the host and uploaded once (host to device only).
    fn generate(shape: &[usize], dtype: DType, device: Device, mut f: impl FnMut() -> f64) -> Result<Tensor> {
        if device != Device::Cpu {
            crate::wgpu_backend::elem_bytes(dtype)?;
            return Tensor::generate(shape, dtype, Device::Cpu, f)?.to_device_raw(device);
        }
        let t = crate::ops::empty(shape, dtype, device)?;
        let n = t.numel();
        with_dtype!(dtype, T, {
            let p = t.strided().ptr as *mut T;
            for i in 0..n {
                // SAFETY: t is a fresh contiguous tensor of n elements.
                unsafe { *p.add(i) = T::from_f64(f()) };
            }
        });
        Ok(t)
    }

    pub fn rand(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if !dtype.is_float() {
            bail!(Type, "\"check_uniform_bounds\" not implemented for '{}'", dtype.name());
        }
        with_gen(|g| Tensor::generate(shape, dtype, device, || g.uniform()))
    }

    pub fn randn(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if !dtype.is_float() {
            bail!(Type, "\"normal_kernel_cpu\" not implemented for '{}'", dtype.name());
        }
        with_gen(|g| {
            let mut spare: Option<f64> = None;
            Tensor::generate(shape, dtype, device, || match spare.take() {
                Some(v) => v,
                None => {
                    let (a, b) = g.normal_pair();
                    spare = Some(b);
                    a
                }
            })
        })
    }

    pub fn randint(low: i64, high: i64, shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        if high <= low {
            bail!(Runtime, "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}");
        }
        let span = (high as i128 - low as i128) as u64;
        if device != Device::Cpu {
            return Tensor::randint(low, high, shape, dtype, Device::Cpu)?.to_device_raw(device);
        }
        if dtype == DType::I64 {
            let t = crate::ops::empty(shape, dtype, device)?;
            let p = t.strided().ptr as *mut i64;
            with_gen(|g| {
                for i in 0..t.numel() {
                    // SAFETY: fresh contiguous i64 tensor.
                    unsafe { *p.add(i) = (low as i128 + g.below(span) as i128) as i64 };
                }
            });
            return Ok(t);
        }
        with_gen(|g| Tensor::generate(shape, dtype, device, || (low as i128 + g.below(span) as i128) as f64))
    }

    /// The single value of a one-element tensor as f64.
    pub fn item_f64(&self) -> Result<f64> {
        Ok(self.item()?.to_f64())
    }

    /// The single value of a one-element tensor (`item()`).
    pub fn item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            bail!(
                Runtime,
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            );
        }
        if self.device() != Device::Cpu {
            return self.to_device_raw(Device::Cpu)?.item();
        }
        let s = self.strided();
        Ok(with_dtype!(self.dtype(), T, {
            // SAFETY: one element at the layout's offset.
            let v = unsafe { *(s.ptr as *const T).add(s.layout.offset) };
            v.to_scalar()
        }))
    }

    /// All values in row-major order as a contiguous typed vector.
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            bail!(Type, "to_vec: tensor is {}, not {}", self.dtype().name(), T::DTYPE.name());
        }
        if self.device() != Device::Cpu {
            return self.to_device_raw(Device::Cpu)?.to_vec();
        }
        let c = self.contiguous_owned()?;
        let p = c.strided().ptr as *const T;
        // SAFETY: c is contiguous with numel elements.
        Ok(unsafe { std::slice::from_raw_parts(p, c.numel()) }.to_vec())
    }
}
