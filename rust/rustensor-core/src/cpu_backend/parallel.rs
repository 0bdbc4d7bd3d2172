//! The CPU thread pool and the threshold below which kernels stay on the calling thread.
use std::sync::{Arc, OnceLock, RwLock};

fn slot() -> &'static RwLock<Arc<rayon::ThreadPool>> {
    static POOL: OnceLock<RwLock<Arc<rayon::ThreadPool>>> = OnceLock::new();
    POOL.get_or_init(|| {
        crate::fork::watch();
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
    if crate::fork::take_pool_stale() {
        respawn_after_fork();
    }
    match slot().read() {
        Ok(p) => p.clone(),
        Err(e) => e.into_inner().clone(),
    }
}

pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// In a forked child the old pool's workers are gone (work sent to them waits forever):
/// a new pool of the same size replaces it, and the old one is leaked, not dropped, since
/// its drop would signal threads and locks that only the parent has.
#[cold]
fn respawn_after_fork() {
    let mut p = match slot().write() {
        Ok(p) => p,
        Err(e) => e.into_inner(),
    };
    let n = p.current_num_threads();
    let old = std::mem::replace(&mut *p, Arc::new(build(n)));
    std::mem::forget(old);
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

/// Splits `[0, n)` into chunks run on the pool when `n` is large, else runs it inline.
pub fn par_ranges(n: usize, f: impl Fn(usize, usize) + Sync) {
    if n < PAR_MIN_ELEMS {
        // small work never touches the pool (its lookup alone costs more than the op)
        f(0, n);
        return;
    }
    let threads = num_threads();
    if threads <= 1 {
        f(0, n);
        return;
    }
    let nchunks = (threads * 4).min(n / (1 << 14)).max(1);
    // chunk boundaries on 64-element multiples keep every chunk's loop aligned
    let chunk = n.div_ceil(nchunks).div_ceil(64) * 64;
    pool().install(|| {
        use rayon::prelude::*;
        (0..nchunks).into_par_iter().for_each(|c| {
            let s = c * chunk;
            let e = ((c + 1) * chunk).min(n);
            if s < e {
                f(s, e);
            }
        });
    });
}

