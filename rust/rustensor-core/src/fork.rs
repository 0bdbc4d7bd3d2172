//! Fork safety: a child made by `fork()` has none of its parent's threads, so the thread pool
//! and the GPU device the parent opened must not be used there as they are (issue 16).
use std::sync::atomic::{AtomicBool, Ordering};

/// The thread pool was built before the last fork: its workers do not exist in this process.
static POOL_STALE: AtomicBool = AtomicBool::new(false);
/// The GPU device was opened in this process (or an ancestor).
static GPU_OPENED: AtomicBool = AtomicBool::new(false);
/// The GPU device was opened before a fork: its driver threads and queues are the parent's.
static GPU_INHERITED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn in_child() {
    // only atomic stores: the child of a multi-threaded parent may call nothing that locks
    POOL_STALE.store(true, Ordering::Relaxed);
    if GPU_OPENED.load(Ordering::Relaxed) {
        GPU_INHERITED.store(true, Ordering::Relaxed);
    }
}

/// Registers the fork handler once; called before the pool or the device is first made.
pub(crate) fn watch() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(unix)]
        // SAFETY: `in_child` is an `extern "C"` function that only stores to atomics, which is
        // async-signal-safe and so allowed in a child of a multi-threaded process.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

/// True once after each fork that followed the pool's creation: the caller rebuilds the pool.
pub(crate) fn take_pool_stale() -> bool {
    POOL_STALE.load(Ordering::Relaxed) && POOL_STALE.swap(false, Ordering::Relaxed)
}

/// Records that this process opened the GPU device.
pub fn gpu_opened() {
    GPU_OPENED.store(true, Ordering::Relaxed);
}

/// Whether the GPU device in this process was inherited through a fork (unusable).
pub fn gpu_inherited() -> bool {
    GPU_INHERITED.load(Ordering::Relaxed)
}
