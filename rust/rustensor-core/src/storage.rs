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

/// Freed mid-sized host buffers kept for reuse. Without it every buffer above glibc's mmap
/// threshold came back from the kernel on each allocation, zeroed page by page (or huge page by
/// huge page): in an LSTM's training step page faults took 12% of the time and freeing them
/// the kernel's unmapping, and the step ran 1.5x slower than with the buffers reused (issue 12).
/// Only buffers of `MIN..=MAX` bytes are kept, at most `RUSTENSOR_CPU_CACHE_MB` (default 256)
/// in all, the oldest given back first; a larger tensor's memory returns to the system when it
/// dies. The lock is only tried: a contended (or, after a fork, orphaned) lock bypasses the cache.
mod cache {
    use std::alloc::{dealloc, Layout};
    use std::sync::{Mutex, OnceLock};

    pub const MIN: usize = 256 << 10;
    pub const MAX: usize = 32 << 20;

    /// (address, layout) of each cached buffer, oldest first, and their total size.
    static FREE: Mutex<(Vec<(usize, Layout)>, usize)> = Mutex::new((Vec::new(), 0));

    fn cap() -> usize {
        static CAP: OnceLock<usize> = OnceLock::new();
        *CAP.get_or_init(|| {
            let mb = std::env::var("RUSTENSOR_CPU_CACHE_MB").ok().and_then(|v| v.trim().parse::<usize>().ok());
            mb.unwrap_or(256).saturating_mul(1 << 20)
        })
    }

    fn cached(l: Layout) -> bool {
        (MIN..=MAX).contains(&l.size()) && l.size() <= cap()
    }

    /// A cached buffer of exactly this layout, if one is free.
    pub fn take(l: Layout) -> Option<*mut u8> {
        if !cached(l) {
            return None;
        }
        let mut g = FREE.try_lock().ok()?;
        let i = g.0.iter().rposition(|&(_, m)| m == l)?;
        let (p, _) = g.0.remove(i);
        g.1 -= l.size();
        Some(p as *mut u8)
    }

    /// Keeps `p` for reuse (giving back the oldest buffers past the cap); false when it is not
    /// kept and the caller frees it.
    pub fn put(p: *mut u8, l: Layout) -> bool {
        if !cached(l) {
            return false;
        }
        let Ok(mut g) = FREE.try_lock() else { return false };
        let mut evicted = vec![];
        while g.1 + l.size() > cap() && !g.0.is_empty() {
            let (q, m) = g.0.remove(0);
            g.1 -= m.size();
            evicted.push((q, m));
        }
        g.0.push((p as usize, l));
        g.1 += l.size();
        drop(g);
        for (q, m) in evicted {
            // SAFETY: each cached buffer was allocated with its layout and is owned by the cache.
            unsafe { dealloc(q as *mut u8, m) };
        }
        true
    }
}

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
        let reused = cache::take(layout);
        // SAFETY: layout has non-zero size.
        let raw = match reused {
            Some(p) => {
                if zeroed {
                    // SAFETY: a cached buffer of this layout is valid for `bytes` writes.
                    unsafe { std::ptr::write_bytes(p, 0, bytes) };
                }
                p
            }
            None => unsafe {
                if zeroed && !big {
                    alloc_zeroed(layout)
                } else {
                    alloc(layout)
                }
            },
        };
        let Some(ptr) = NonNull::new(raw) else {
            bail!(
                Runtime,
                "[enforce fail at alloc_cpu] DefaultCPUAllocator: not enough memory: you tried to allocate {bytes} bytes."
            );
        };
        if big && reused.is_none() {
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
            if !cache::put(self.ptr.as_ptr(), layout) {
                // SAFETY: allocated in `alloc` with this layout.
                unsafe { dealloc(self.ptr.as_ptr(), layout) }
            }
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

#[cfg(test)]
mod tests {
    use super::{cache, CpuStorage};
    use crate::DType;

    #[test]
    fn a_reused_buffer_is_zeroed_when_asked_and_large_ones_are_not_kept() {
        let n = (cache::MIN / 4) + 123; // f32 elements: above the cache's lower bound
        let a = CpuStorage::uninit(n, DType::F32).expect("alloc");
        // SAFETY: `a` holds n f32 elements.
        unsafe { std::ptr::write_bytes(a.as_ptr(), 0xAB, n * 4) };
        drop(a);
        let b = CpuStorage::zeros(n, DType::F32).expect("alloc");
        // SAFETY: as above.
        let s = unsafe { std::slice::from_raw_parts(b.as_ptr() as *const u8, n * 4) };
        assert!(s.iter().all(|&v| v == 0), "a buffer from the cache must come back zeroed");
        drop(b);
        let big = CpuStorage::uninit(cache::MAX / 4 + 1, DType::F32).expect("alloc");
        let l = std::alloc::Layout::from_size_align(cache::MAX + 4, super::HUGE).expect("layout");
        drop(big);
        assert!(cache::take(l).is_none(), "buffers above the cache's bound go back to the system");
    }
}
