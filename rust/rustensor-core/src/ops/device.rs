//! Moving tensors between host memory and the GPU (`.to(device)`, `.cuda()`, `.cpu()`).
use crate::backprop::{record, GradFn};
use crate::storage::{CpuStorage, Device, StorageData};
use crate::wgpu_backend::{elem_bytes, gpu, GpuStorage};
use crate::{bail, DType, Result, Tensor};

impl Tensor {
    /// This tensor's values on `device` (itself when already there), outside autograd.
    pub fn to_device_raw(&self, device: Device) -> Result<Tensor> {
        let src = self.device();
        if src == device {
            return Ok(self.clone());
        }
        match (src, device) {
            (Device::Cpu, Device::Gpu(0)) => self.upload(),
            (Device::Gpu(_), Device::Cpu) => self.download(),
            (Device::Gpu(_), Device::Gpu(_)) => self.download()?.to_device_raw(device),
            (Device::Cpu, Device::Cpu) => Ok(self.clone()),
            (_, Device::Gpu(i)) => {
                bail!(Runtime, "CUDA error: invalid device ordinal (gpu:{i}; rustensor drives one GPU, gpu:0)")
            }
        }
    }

    /// `.to(device)`: a differentiable copy; gradients flow back to the source device.
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        let src = self.device();
        if src == device {
            return Ok(self.clone());
        }
        let out = self.to_device_raw(device)?;
        Ok(record(out, "ToCopyBackward0", &[self], |_, _| GradFn::ToDevice { device: src }))
    }

    fn upload(&self) -> Result<Tensor> {
        let eb = elem_bytes(self.dtype())?;
        let c = if self.is_contiguous() { self.clone() } else { self.contiguous_owned()? };
        let n = c.numel();
        let host: &[u8] = if n == 0 {
            &[]
        } else {
            // SAFETY: a contiguous CPU tensor holds n elements of its dtype from data_ptr().
            unsafe { std::slice::from_raw_parts(c.data_ptr() as *const u8, n * self.dtype().size()) }
        };
        let widened: Vec<u8>;
        let bytes = match self.dtype() {
            DType::Bool => {
                widened = host.iter().flat_map(|&b| [(b != 0) as u8, 0, 0, 0]).collect();
                &widened[..]
            }
            DType::U8 => {
                widened = host.iter().flat_map(|&b| (b as i32).to_le_bytes()).collect();
                &widened[..]
            }
            DType::I8 => {
                widened = host.iter().flat_map(|&b| (b as i8 as i32).to_le_bytes()).collect();
                &widened[..]
            }
            DType::I16 => {
                widened = host.chunks_exact(2).flat_map(|h| (i16::from_le_bytes([h[0], h[1]]) as i32).to_le_bytes()).collect();
                &widened[..]
            }
            // bfloat16 is the upper half of a float32: the word is its bits shifted up
            DType::BF16 => {
                widened = host.chunks_exact(2).flat_map(|h| ((u16::from_le_bytes([h[0], h[1]]) as u32) << 16).to_le_bytes()).collect();
                &widened[..]
            }
            _ => host,
        };
        debug_assert_eq!(bytes.len(), n * eb);
        let buf = gpu()?.upload(bytes)?;
        Ok(crate::ops::from_storage(
            StorageData::Gpu(GpuStorage { buf, bytes: bytes.len() as u64 }),
            self.dtype(),
            self.shape(),
        ))
    }

    fn download(&self) -> Result<Tensor> {
        let dt = self.dtype();
        let eb = elem_bytes(dt)?;
        let c = if self.is_contiguous() { self.clone() } else { self.contiguous_owned()? };
        let n = c.numel();
        let buf = match &c.storage().data {
            StorageData::Gpu(g) => g.buf.clone(),
            StorageData::Cpu(_) => bail!(Runtime, "internal: download of a CPU tensor"),
        };
        let raw = gpu()?.readback(&buf, (c.storage_offset() * eb) as u64, (n * eb) as u64)?;
        let out = CpuStorage::uninit(n, dt)?;
        if matches!(dt, DType::Bool | DType::U8 | DType::I8 | DType::I16 | DType::BF16) {
            // SAFETY: `out` holds n elements of dt, fresh and unaliased.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.as_ptr(), n * dt.size()) };
            let words = raw.chunks_exact(4).map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            match dt {
                DType::Bool => dst.iter_mut().zip(words).for_each(|(d, w)| *d = (w != 0) as u8),
                // the words hold wrapped values: the low bytes are the element
                DType::I16 => dst.chunks_exact_mut(2).zip(words).for_each(|(d, w)| d.copy_from_slice(&(w as i16).to_le_bytes())),
                // stores rounded the word: its upper half is the bfloat16 exactly
                DType::BF16 => dst.chunks_exact_mut(2).zip(words).for_each(|(d, w)| d.copy_from_slice(&((w as u32 >> 16) as u16).to_le_bytes())),
                _ => dst.iter_mut().zip(words).for_each(|(d, w)| *d = w as u8),
            }
        } else if n > 0 {
            // SAFETY: `out` holds n * eb bytes, fresh and unaliased; raw has exactly that many.
            unsafe { std::ptr::copy_nonoverlapping(raw.as_ptr(), out.as_ptr(), raw.len()) };
        }
        Ok(Tensor::from_cpu_storage(out, dt, self.shape()))
    }
}
