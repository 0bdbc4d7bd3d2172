//! Tensor ops: each validates its inputs, runs the device kernel, and records its backward.
pub mod binary;
pub mod create;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod unary;
pub mod view;

use crate::cpu_backend::Strided;
use crate::storage::{CpuStorage, Device, StorageData};
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// The CPU kernel view of this tensor (storage base pointer + layout).
    pub(crate) fn strided(&self) -> Strided<'_> {
        match &self.0.storage.data {
            StorageData::Cpu(c) => Strided { ptr: c.as_ptr(), layout: &self.0.layout },
        }
    }
}

/// A fresh contiguous tensor on `device` whose every element the caller will write.
pub(crate) fn empty(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    let n = crate::layout::checked_numel("empty", shape)?;
    match device {
        Device::Cpu => Ok(Tensor::from_cpu_storage(CpuStorage::uninit(n, dtype)?, dtype, shape)),
        Device::Gpu(_) => bail!(Runtime, "device {} is not available in this build", device.name()),
    }
}

pub(crate) fn from_storage(s: CpuStorage, dtype: DType, shape: &[usize]) -> Tensor {
    Tensor::from_cpu_storage(s, dtype, shape)
}

/// torch's error for ops mixing devices.
pub(crate) fn same_device(op: &str, ts: &[&Tensor]) -> Result<Device> {
    let d = ts.first().map(|t| t.device()).unwrap_or(Device::Cpu);
    for t in ts.iter().skip(1) {
        if t.device() != d {
            bail!(
                Runtime,
                "Expected all tensors to be on the same device, but found at least two devices, {} and {}! (when checking argument for {op})",
                d.name(),
                t.device().name()
            );
        }
    }
    Ok(d)
}
