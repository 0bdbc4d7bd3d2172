//! Tensor ops: each validates its inputs, runs the device kernel, and records its backward.
pub mod binary;
pub mod conv;
pub mod create;
pub mod ctc;
pub mod device;
pub mod index;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod pointwise;
pub mod pool;
pub mod rnn;
pub mod reduce;
pub mod scan;
pub mod unary;
pub mod view;
pub mod xent;

use crate::cpu_backend::Strided;
use crate::storage::{CpuStorage, Device, StorageData};
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// The CPU kernel view of this tensor (storage base pointer + layout).
    pub(crate) fn strided(&self) -> Strided<'_> {
        match &self.0.storage.data {
            StorageData::Cpu(c) => Strided { ptr: c.as_ptr(), layout: &self.0.layout, gpu: None },
            StorageData::Gpu(g) => Strided { ptr: std::ptr::null_mut(), layout: &self.0.layout, gpu: Some(&g.buf) },
        }
    }
}

/// A fresh contiguous tensor on `device` whose every element the caller will write.
pub(crate) fn empty(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    let n = crate::layout::checked_numel("empty", shape)?;
    match device {
        Device::Cpu => Ok(Tensor::from_cpu_storage(CpuStorage::uninit(n, dtype)?, dtype, shape)),
        Device::Gpu(0) => {
            let bytes = n.saturating_mul(crate::wgpu_backend::elem_bytes(dtype)?) as u64;
            let buf = crate::wgpu_backend::gpu()?.alloc(bytes)?;
            Ok(from_storage(StorageData::Gpu(crate::wgpu_backend::GpuStorage { buf, bytes }), dtype, shape))
        }
        Device::Gpu(i) => bail!(Runtime, "CUDA error: invalid device ordinal (gpu:{i}; rustensor drives one GPU, gpu:0)"),
    }
}

pub(crate) fn from_storage(s: StorageData, dtype: DType, shape: &[usize]) -> Tensor {
    Tensor::from_parts(std::sync::Arc::new(crate::storage::Storage::new(s, dtype)), crate::layout::Layout::contiguous(shape))
}

/// torch's error for ops mixing devices.
pub(crate) fn same_device(op: &str, ts: &[&Tensor]) -> Result<Device> {
    let d = ts.first().map(|t| t.device()).unwrap_or(Device::Cpu);
    for t in ts.iter().skip(1) {
        if t.device() != d {
            return Err(crate::Error::DeviceMismatch { op: op.to_string(), a: d, b: t.device() });
        }
    }
    Ok(d)
}

/// torch lets a CPU 0-d tensor join an op with a GPU tensor (it acts as a scalar): moves it.
pub(crate) fn co_locate(op: &str, a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor)> {
    match (a.device(), b.device()) {
        (x, y) if x == y => Ok((a.clone(), b.clone())),
        (Device::Cpu, d) if a.ndim() == 0 => Ok((a.to_device(d)?, b.clone())),
        (d, Device::Cpu) if b.ndim() == 0 => Ok((a.clone(), b.to_device(d)?)),
        _ => {
            same_device(op, &[a, b])?;
            Ok((a.clone(), b.clone()))
        }
    }
}
