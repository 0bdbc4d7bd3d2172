//! Multi-tensor optimizer updates: every element of every parameter in one parallel pass,
//! in the order of operations of torch's per-parameter (single-tensor) update, so the
//! results agree with torch's default optimizers.
use super::math::Float;
use super::parallel::{pool, PAR_MIN_ELEMS};
use rayon::prelude::*;

/// Elements one task updates: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 15;

/// The per-tensor constants of an Adam step, already in the parameters' dtype.
#[derive(Clone, Copy)]
pub struct AdamK<T> {
    /// -1 to maximize, else 1.
    pub sign: T,
    pub wd: T,
    /// `1 - lr * weight_decay` (AdamW's decoupled decay).
    pub decay: T,
    /// lerp's weight `1 - beta1`, as the fused multiply-add torch's lerp is: exp_avg becomes
    /// `coeff * (grad - exp_avg) + base`, base exp_avg for a weight under 0.5, else grad.
    pub coeff: T,
    pub small: bool,
    pub beta2: T,
    pub one_minus_beta2: T,
    pub bc2_sqrt: T,
    pub eps: T,
    pub neg_step_size: T,
}

/// The pointers of one parameter's update (all contiguous, `n` elements); `mx` is null
/// without amsgrad.
#[derive(Clone, Copy)]
pub struct AdamPtrs<T> {
    pub p: *mut T,
    pub g: *const T,
    pub m: *mut T,
    pub v: *mut T,
    pub mx: *mut T,
    pub n: usize,
}
// SAFETY: each chunk touches a disjoint element range of the buffers; the caller keeps the
// tensors alive and unaliased for the duration of the step.
unsafe impl<T> Send for AdamPtrs<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for AdamPtrs<T> {}

/// WD: 0 none, 1 added to the gradient (Adam), 2 decoupled (AdamW).
#[inline(always)]
unsafe fn adam_run<T: Float, const WD: u8, const AMS: bool>(k: &AdamK<T>, t: &AdamPtrs<T>, s: usize, e: usize) {
    for i in s..e {
        let mut g = *t.g.add(i) * k.sign;
        let mut p = *t.p.add(i);
        if WD == 1 {
            g = p.mul_add(k.wd, g);
        } else if WD == 2 {
            p = p * k.decay;
        }
        let m0 = *t.m.add(i);
        let base = if k.small { m0 } else { g };
        let m = k.coeff.mul_add(g - m0, base);
        *t.m.add(i) = m;
        let v0 = *t.v.add(i) * k.beta2;
        let v = (k.one_minus_beta2 * g).mul_add(g, v0);
        *t.v.add(i) = v;
        let src = if AMS {
            let x = (*t.mx.add(i)).max_nan(v);
            *t.mx.add(i) = x;
            x
        } else {
            v
        };
        let denom = src.sqrt() / k.bc2_sqrt + k.eps;
        *t.p.add(i) = p + k.neg_step_size * m / denom;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn adam_avx2<T: Float, const WD: u8, const AMS: bool>(k: &AdamK<T>, t: &AdamPtrs<T>, s: usize, e: usize) {
    adam_run::<T, WD, AMS>(k, t, s, e)
}

fn has_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static F: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *F.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

unsafe fn adam_range<T: Float, const WD: u8, const AMS: bool>(k: &AdamK<T>, t: &AdamPtrs<T>, s: usize, e: usize) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        return adam_avx2::<T, WD, AMS>(k, t, s, e);
    }
    adam_run::<T, WD, AMS>(k, t, s, e)
}

/// The (tensor, start, end) pieces of a multi-tensor pass.
fn chunks(sizes: impl Iterator<Item = usize>) -> Vec<(usize, usize, usize)> {
    let mut v = vec![];
    for (k, n) in sizes.enumerate() {
        let mut s = 0;
        while s < n {
            let e = (s + CHUNK).min(n);
            v.push((k, s, e));
            s = e;
        }
    }
    v
}

fn run_chunks(total: usize, pieces: &[(usize, usize, usize)], f: impl Fn(usize, usize, usize) + Sync) {
    if total < PAR_MIN_ELEMS || pieces.len() < 2 {
        pieces.iter().for_each(|&(k, s, e)| f(k, s, e));
    } else {
        pool().install(|| pieces.par_iter().for_each(|&(k, s, e)| f(k, s, e)));
    }
}

/// One Adam/AdamW step over all tensors. `wd_mode`: 0 none, 1 coupled, 2 decoupled.
///
/// # Safety
/// Every pointer of `ts` addresses `n` valid elements, the written buffers (p, m, v, mx)
/// overlap no other buffer of the step, and nothing else touches them meanwhile.
pub unsafe fn adam<T: Float>(ts: &[(AdamK<T>, AdamPtrs<T>)], wd_mode: u8, amsgrad: bool) {
    let pieces = chunks(ts.iter().map(|t| t.1.n));
    let total = ts.iter().map(|t| t.1.n).sum();
    run_chunks(total, &pieces, |k, s, e| {
        let (kk, t) = &ts[k];
        // SAFETY: the caller's contract; chunks are disjoint ranges of one tensor.
        unsafe {
            match (wd_mode, amsgrad) {
                (1, false) => adam_range::<T, 1, false>(kk, t, s, e),
                (1, true) => adam_range::<T, 1, true>(kk, t, s, e),
                (2, false) => adam_range::<T, 2, false>(kk, t, s, e),
                (2, true) => adam_range::<T, 2, true>(kk, t, s, e),
                (_, false) => adam_range::<T, 0, false>(kk, t, s, e),
                (_, true) => adam_range::<T, 0, true>(kk, t, s, e),
            }
        }
    });
}

/// The constants of an SGD step in the parameters' dtype.
#[derive(Clone, Copy)]
pub struct SgdK<T> {
    pub sign: T,
    pub wd: T,
    pub momentum: T,
    pub one_minus_dampening: T,
    pub neg_lr: T,
}

/// One parameter of an SGD step; `buf` is null without momentum, and `first` says the
/// buffer is new (it takes the gradient, undamped, as torch's first step does).
#[derive(Clone, Copy)]
pub struct SgdPtrs<T> {
    pub p: *mut T,
    pub g: *const T,
    pub buf: *mut T,
    pub first: bool,
    pub n: usize,
}
// SAFETY: as for AdamPtrs.
unsafe impl<T> Send for SgdPtrs<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SgdPtrs<T> {}

#[inline(always)]
unsafe fn sgd_run<T: Float, const WD: bool, const MOM: bool, const NEST: bool>(k: &SgdK<T>, t: &SgdPtrs<T>, s: usize, e: usize) {
    for i in s..e {
        let p = *t.p.add(i);
        let mut g = *t.g.add(i) * k.sign;
        if WD {
            g = p.mul_add(k.wd, g);
        }
        if MOM {
            let b = if t.first { g } else { g.mul_add(k.one_minus_dampening, *t.buf.add(i) * k.momentum) };
            *t.buf.add(i) = b;
            g = if NEST { b.mul_add(k.momentum, g) } else { b };
        }
        *t.p.add(i) = g.mul_add(k.neg_lr, p);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sgd_avx2<T: Float, const WD: bool, const MOM: bool, const NEST: bool>(k: &SgdK<T>, t: &SgdPtrs<T>, s: usize, e: usize) {
    sgd_run::<T, WD, MOM, NEST>(k, t, s, e)
}

unsafe fn sgd_range<T: Float, const WD: bool, const MOM: bool, const NEST: bool>(k: &SgdK<T>, t: &SgdPtrs<T>, s: usize, e: usize) {
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        return sgd_avx2::<T, WD, MOM, NEST>(k, t, s, e);
    }
    sgd_run::<T, WD, MOM, NEST>(k, t, s, e)
}

/// One SGD step over all tensors.
///
/// # Safety
/// As for [`adam`].
pub unsafe fn sgd<T: Float>(k: &SgdK<T>, ts: &[SgdPtrs<T>], wd: bool, momentum: bool, nesterov: bool) {
    let pieces = chunks(ts.iter().map(|t| t.n));
    let total = ts.iter().map(|t| t.n).sum();
    run_chunks(total, &pieces, |i, s, e| {
        let t = &ts[i];
        // SAFETY: the caller's contract; chunks are disjoint ranges of one tensor.
        unsafe {
            match (wd, momentum, nesterov) {
                (false, false, _) => sgd_range::<T, false, false, false>(k, t, s, e),
                (true, false, _) => sgd_range::<T, true, false, false>(k, t, s, e),
                (false, true, false) => sgd_range::<T, false, true, false>(k, t, s, e),
                (true, true, false) => sgd_range::<T, true, true, false>(k, t, s, e),
                (false, true, true) => sgd_range::<T, false, true, true>(k, t, s, e),
                (true, true, true) => sgd_range::<T, true, true, true>(k, t, s, e),
            }
        }
    });
}
