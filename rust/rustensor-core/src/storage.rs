//! Reference-counted memory that a tensor, its views and its detached handles share.
use crate::{bail, DType, Result};
use std::alloc::{alloc, alloc_zeroed, dealloc, Layout as AllocLayout};
use std::any::Any;
use std::ptr::NonNull;

/// Where a tensor's storage lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Gpu(usize),
}

impl Device {
    pub fn name(&self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Gpu(i) => format!("gpu:{i}"),
        }
    }
}

const ALIGN: usize = 64;
const HUGE: usize = 2 << 20;

enum Owner {
    Alloc(AllocLayout),
    /// Memory owned by someone else (a NumPy array); dropping the box releases it.
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
    Empty,
}

/// A block of host memory holding elements of one dtype.
pub struct CpuStorage {
    ptr: NonNull<u8>,
    bytes: usize,
    owner: Owner,
}

// SAFETY: the storage is plain memory; concurrent writes through aliasing views are the
// caller's race to avoid, exactly as with NumPy arrays and torch tensors.
unsafe impl Send for CpuStorage {}
// SAFETY: as above; readers only read plain-old-data.
unsafe impl Sync for CpuStorage {}

impl CpuStorage {
    /// Zero-initialised memory for `numel` elements of `dtype`.
    pub fn zeros(numel: usize, dtype: DType) -> Result<CpuStorage> {
        let s = CpuStorage::alloc(numel, dtype, true)?;
        Ok(s)
    }

    /// Memory for `numel` elements whose contents the caller overwrites entirely.
    pub fn uninit(numel: usize, dtype: DType) -> Result<CpuStorage> {
        CpuStorage::alloc(numel, dtype, false)
    }

    fn alloc(numel: usize, dtype: DType, zeroed: bool) -> Result<CpuStorage> {
        let bytes = numel.checked_mul(dtype.size()).filter(|b| *b <= isize::MAX as usize - HUGE);
        let Some(bytes) = bytes else {
            bail!(Runtime, "allocation of {numel} elements of {} overflows", dtype.name());
        };
        if bytes == 0 {
            return Ok(CpuStorage { ptr: NonNull::<u64>::dangling().cast(), bytes: 0, owner: Owner::Empty });
        }
        // Large buffers are 2 MiB aligned and advised as huge pages (as NumPy does): a fresh
        // 64 MB output then costs 32 page faults instead of 16384.
        let big = bytes >= 4 * HUGE;
        let align = if big { HUGE } else { ALIGN };
        let layout = match AllocLayout::from_size_align(bytes, align) {
            Ok(l) => l,
            Err(_) => bail!(Runtime, "allocation of {bytes} bytes is invalid"),
        };
        // SAFETY: layout has non-zero size.
        let raw = unsafe {
            if zeroed && !big {
                alloc_zeroed(layout)
            } else {
                alloc(layout)
            }
        };
        let Some(ptr) = NonNull::new(raw) else {
            bail!(
                Runtime,
                "[enforce fail at alloc_cpu] DefaultCPUAllocator: not enough memory: you tried to allocate {bytes} bytes."
            );
        };
        if big {
            #[cfg(target_os = "linux")]
            // SAFETY: the range is exactly the allocation just made; advice never changes contents.
            unsafe {
                libc::madvise(raw as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
            }
            if zeroed {
                // SAFETY: `raw` is valid for `bytes` writes.
                unsafe { std::ptr::write_bytes(raw, 0, bytes) };
            }
        }
        Ok(CpuStorage { ptr, bytes, owner: Owner::Alloc(layout) })
    }

    /// Wraps memory owned by `owner`.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `bytes` bytes for as long as `owner` lives,
    /// and aligned for the dtype it will be read as.
    pub unsafe fn from_external(ptr: *mut u8, bytes: usize, owner: Box<dyn Any + Send + Sync>) -> CpuStorage {
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::<u64>::dangling().cast());
        CpuStorage { ptr, bytes, owner: Owner::External(owner) }
    }

    pub fn from_vec<T: crate::Element>(v: Vec<T>) -> CpuStorage {
        let s = match CpuStorage::uninit(v.len(), T::DTYPE) {
            Ok(s) => s,
            // a Vec that exists already fits in memory; only a failed second allocation lands here
            Err(_) => std::alloc::handle_alloc_error(AllocLayout::new::<T>()),
        };
        // SAFETY: s holds v.len() elements of T, freshly allocated and not aliased.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), s.ptr.as_ptr() as *mut T, v.len()) };
        s
    }

    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for CpuStorage {
    fn drop(&mut self) {
        if let Owner::Alloc(layout) = self.owner {
            // SAFETY: allocated in `zeros` with this layout.
            unsafe { dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

pub enum StorageData {
    Cpu(CpuStorage),
    Gpu(crate::wgpu_backend::GpuStorage),
}

/// Storage shared by a tensor and all its views.
pub struct Storage {
    pub data: StorageData,
    pub dtype: DType,
}

impl Storage {
    pub fn cpu(data: CpuStorage, dtype: DType) -> Storage {
        Storage { data: StorageData::Cpu(data), dtype }
    }
    pub fn new(data: StorageData, dtype: DType) -> Storage {
        Storage { data, dtype }
    }
    pub fn device(&self) -> Device {
        match self.data {
            StorageData::Cpu(_) => Device::Cpu,
            StorageData::Gpu(_) => Device::Gpu(0),
        }
    }
    /// The host address of a CPU storage; null for device memory.
    pub fn cpu_ptr(&self) -> *mut u8 {
        match &self.data {
            StorageData::Cpu(c) => c.as_ptr(),
            StorageData::Gpu(_) => std::ptr::null_mut(),
        }
    }
    pub fn bytes(&self) -> usize {
        match &self.data {
            StorageData::Cpu(c) => c.bytes(),
            StorageData::Gpu(g) => g.bytes as usize,
        }
    }
    /// How many elements the storage holds (GPU bools take a word each).
    pub fn capacity(&self) -> usize {
        match &self.data {
            StorageData::Cpu(c) => c.bytes() / self.dtype.size(),
            StorageData::Gpu(g) => g.bytes as usize / crate::wgpu_backend::elem_bytes(self.dtype).unwrap_or(4),
        }
    }
}
