//! The CPU thread pool and the threshold below which kernels stay on the calling thread.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

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

/// Chunks per thread for big elementwise work and reductions: helpers join late (they wake from
/// sleep), so small chunks keep the last one from running alone for long.
pub const CHUNKS_PER_THREAD: usize = 16;

/// Splits `[0, n)` into chunks run on the caller and the pool when `n` is large, else runs it
/// inline.
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
    let nchunks = (threads * CHUNKS_PER_THREAD).min(n / (1 << 14)).max(1);
    // chunk boundaries on 64-element multiples keep every chunk's loop aligned
    let chunk = n.div_ceil(nchunks).div_ceil(64) * 64;
    for_each_chunk(n.div_ceil(chunk), |c| f(c * chunk, ((c + 1) * chunk).min(n)));
}

/// How `rows` rows of `work` elements in all split over the pool: (chunks, rows per chunk);
/// one chunk when the work is too small to share.
pub fn row_chunks(rows: usize, work: usize) -> (usize, usize) {
    let threads = num_threads();
    if work < PAR_MIN_ELEMS || threads <= 1 || rows < 2 {
        return (1, rows.max(1));
    }
    let chunks = (threads * 4).min(rows).min(work / (PAR_MIN_ELEMS / 4)).max(1);
    let per = rows.div_ceil(chunks);
    (rows.div_ceil(per), per)
}

/// Runs `f(c)` for every `c` in `0..n`, on the calling thread and on the pool together, and
/// returns once every call has finished.
///
/// Why not `pool.install(par_iter)`: that parks the caller while parked workers wake up, two
/// futex round trips (10-20 us on our VMs) before any work starts, so mid-sized ops got slower
/// with two threads than with one. Here the caller starts on the chunks at once and helpers join
/// when they wake; the caller waits only for chunks a helper has actually claimed, never for a
/// helper to start, so a late helper costs nothing (issue 15).
pub fn for_each_chunk(n: usize, f: impl Fn(usize) + Sync) {
    if n <= 1 || num_threads() <= 1 {
        (0..n).for_each(f);
        return;
    }
    let f: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: the lifetime is erased so helpers ('static jobs) can hold the pointer; `Chunks::run`
    // dereferences it only after claiming a chunk below `n`, and this function returns only after
    // every claimed chunk is done, so no dereference outlives the borrow.
    let f: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    let job = Arc::new(Chunks { next: AtomicUsize::new(0), done: AtomicUsize::new(0), n, panic: Mutex::new(None), f: FnPtr(f) });
    let pool = pool();
    for _ in 1..pool.current_num_threads().min(n) {
        let job = job.clone();
        pool.spawn(move || job.run());
    }
    job.run();
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < n {
        if spins < 1 << 12 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    let payload = match job.panic.lock() {
        Ok(mut p) => p.take(),
        Err(e) => e.into_inner().take(),
    };
    if let Some(p) = payload {
        // re-raised on the caller, where kernels::guarded turns it into a RuntimeError
        std::panic::resume_unwind(p);
    }
}

struct FnPtr(&'static (dyn Fn(usize) + Sync));

struct Chunks {
    next: AtomicUsize,
    done: AtomicUsize,
    n: usize,
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    f: FnPtr,
}

impl Chunks {
    fn run(&self) {
        loop {
            let c = self.next.fetch_add(1, Ordering::AcqRel);
            if c >= self.n {
                return;
            }
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f.0)(c))) {
                let mut slot = match self.panic.lock() {
                    Ok(s) => s,
                    Err(e) => e.into_inner(),
                };
                slot.get_or_insert(p);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// `for_each_chunk` collecting one value per chunk, in chunk order.
pub fn map_chunks<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let slots: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    for_each_chunk(n, |c| {
        let v = f(c);
        match slots[c].lock() {
            Ok(mut s) => *s = Some(v),
            Err(e) => *e.into_inner() = Some(v),
        }
    });
    slots
        .into_iter()
        .filter_map(|m| match m.into_inner() {
            Ok(v) => v,
            Err(e) => e.into_inner(),
        })
        .collect()
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_chunk_runs_once() {
        for n in [0usize, 1, 2, 3, 17, 1000] {
            let hits: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
            for_each_chunk(n, |c| {
                hits[c].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "n = {n}");
        }
    }

    #[test]
    fn nested_calls_finish() {
        let total = AtomicU64::new(0);
        for_each_chunk(8, |_| {
            for_each_chunk(8, |c| {
                total.fetch_add(c as u64, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 8 * 28);
    }

    #[test]
    fn map_chunks_keeps_order() {
        assert_eq!(map_chunks(50, |c| c * c), (0..50).map(|c| c * c).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_chunk_reaches_the_caller_after_the_others() {
        let done = AtomicU64::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for_each_chunk(64, |c| {
                if c == 5 {
                    panic!("chunk five");
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let msg = r.err().and_then(|p| p.downcast_ref::<&str>().map(|s| s.to_string()));
        assert_eq!(msg.as_deref(), Some("chunk five"));
        assert_eq!(done.load(Ordering::Relaxed), 63);
    }
}
