//! The CPU thread pool and the threshold below which kernels stay on the calling thread.
use std::sync::{Arc, OnceLock, RwLock};

fn slot() -> &'static RwLock<Arc<rayon::ThreadPool>> {
    static POOL: OnceLock<RwLock<Arc<rayon::ThreadPool>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        RwLock::new(Arc::new(build(n)))
    })
}

fn build(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n.max(1))
        .thread_name(|i| format!("rustensor-{i}"))
        .build()
        .unwrap_or_else(|_| {
            // a pool that cannot spawn threads still runs work on the caller
            rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build().expect("single-thread pool")
        })
}

pub fn pool() -> Arc<rayon::ThreadPool> {
    match slot().read() {
        Ok(p) => p.clone(),
        Err(e) => e.into_inner().clone(),
    }
}

pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Replaces the pool; work already running finishes on the old one.
pub fn set_num_threads(n: usize) {
    let new = Arc::new(build(n));
    match slot().write() {
        Ok(mut p) => *p = new,
        Err(e) => *e.into_inner() = new,
    }
}

/// Elements of simple elementwise work worth a thread hand-off (a few microseconds).
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// Runs `f` on the pool when the work is big enough, else inline.
pub fn maybe_install<R: Send>(work: usize, f: impl FnOnce() -> R + Send) -> R {
    if work >= PAR_MIN_ELEMS && rayon::current_thread_index().is_none() {
        let p = pool();
        if p.current_num_threads() > 1 {
            return p.install(f);
        }
    }
    f()
}
