//! Reductions over any set of dims and any strides: sum, prod, max/min, argmax/argmin, any/all.
//!
//! The input is split into kept dims (one output each) and reduced dims. Rows whose reduced
//! part is contiguous are folded one output at a time; when the kept dim is the contiguous
//! one (`sum(dim=0)` of a matrix) the fold runs across outputs so it vectorises; a full
//! reduction splits its range across threads and merges partial results.
use super::elementwise::Strided;
use super::math::Float;
use super::strided::{collapse, offsets};
use crate::op::ReduceOp;
use crate::storage::CpuStorage;
use crate::{bail, bf16, f16, DType, Element, Result};

/// A fold: how to start, take one element (with its index along the reduction), merge two
/// partial results, and write the result as the output dtype.
trait Fold<T: Element>: Sync {
    type Acc: Copy + Send + Sync;
    type Out: Element;
    fn init(&self) -> Self::Acc;
    fn step(&self, acc: Self::Acc, x: T, idx: usize) -> Self::Acc;
    /// Folds a contiguous slice whose first element has index `start`.
    #[inline(always)]
    fn step_slice(&self, mut acc: Self::Acc, xs: &[T], start: usize) -> Self::Acc {
        for (i, &x) in xs.iter().enumerate() {
            acc = self.step(acc, x, start + i);
        }
        acc
    }
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(&self, acc: Self::Acc) -> Self::Out;
}

/// 64 independent lanes (four AVX-512 registers of float32) hide the add latency that a single
/// accumulator chain is bound by; each 4096-element block is summed in `T`, blocks in f64.
#[inline(always)]
fn sum_lanes<T: Float>(xs: &[T]) -> f64 {
    const L: usize = 64;
    let mut total = 0.0f64;
    for block in xs.chunks(4096) {
        let mut lanes = [T::ZERO; L];
        let mut it = block.chunks_exact(L);
        for c in &mut it {
            for i in 0..L {
                lanes[i] = lanes[i] + c[i];
            }
        }
        let mut s = 0.0f64;
        for l in lanes {
            s += l.to_f64();
        }
        for &x in it.remainder() {
            s += x.to_f64();
        }
        total += s;
    }
    total
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn sum_avx512<T: Float>(xs: &[T]) -> f64 {
    sum_lanes(xs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sum_avx2<T: Float>(xs: &[T]) -> f64 {
    sum_lanes(xs)
}

struct SumF;
impl<T: Float> Fold<T> for SumF {
    // f64 across blocks keeps long float32 sums accurate (NumPy sums pairwise for the same reason).
    type Acc = f64;
    type Out = T;
    fn init(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn step(&self, a: f64, x: T, _: usize) -> f64 {
        a + x.to_f64()
    }
    fn step_slice(&self, acc: f64, xs: &[T], _: usize) -> f64 {
        // SAFETY: each wide variant runs only where the CPU has its features.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            if super::elementwise::cpu_has_avx512() {
                return acc + sum_avx512(xs);
            }
            if super::elementwise::cpu_has_avx2() {
                return acc + sum_avx2(xs);
            }
        }
        acc + sum_lanes(xs)
    }
    fn merge(&self, a: f64, b: f64) -> f64 {
        a + b
    }
    fn finish(&self, a: f64) -> T {
        T::from_f64(a)
    }
}
struct SumI;
impl<T: Element> Fold<T> for SumI {
    type Acc = i64;
    type Out = i64;
    fn init(&self) -> i64 {
        0
    }
    #[inline(always)]
    fn step(&self, a: i64, x: T, _: usize) -> i64 {
        a.wrapping_add(x.to_i64())
    }
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    fn finish(&self, a: i64) -> i64 {
        a
    }
}
struct ProdF;
impl<T: Float> Fold<T> for ProdF {
    type Acc = T;
    type Out = T;
    fn init(&self) -> T {
        T::ONE
    }
    #[inline(always)]
    fn step(&self, a: T, x: T, _: usize) -> T {
        a * x
    }
    fn merge(&self, a: T, b: T) -> T {
        a * b
    }
    fn finish(&self, a: T) -> T {
        a
    }
}
struct ProdI;
impl<T: Element> Fold<T> for ProdI {
    type Acc = i64;
    type Out = i64;
    fn init(&self) -> i64 {
        1
    }
    #[inline(always)]
    fn step(&self, a: i64, x: T, _: usize) -> i64 {
        a.wrapping_mul(x.to_i64())
    }
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_mul(b)
    }
    fn finish(&self, a: i64) -> i64 {
        a
    }
}
/// max (`MAX = true`) or min; NaN wins, as in torch.
struct Extreme<const MAX: bool>;
impl<T: Element, const MAX: bool> Fold<T> for Extreme<MAX> {
    type Acc = Option<T>;
    type Out = T;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline(always)]
    fn step(&self, a: Option<T>, x: T, _: usize) -> Option<T> {
        match a {
            None => Some(x),
            #[allow(clippy::eq_op)]
            Some(v) => {
                let v_nan = v != v;
                let x_nan = x != x;
                if v_nan {
                    Some(v)
                } else if x_nan || (MAX && x > v) || (!MAX && x < v) {
                    Some(x)
                } else {
                    Some(v)
                }
            }
        }
    }
    fn merge(&self, a: Option<T>, b: Option<T>) -> Option<T> {
        match b {
            None => a,
            Some(x) => self.step(a, x, 0),
        }
    }
    fn finish(&self, a: Option<T>) -> T {
        a.unwrap_or_default()
    }
}
/// argmax/argmin: first index of the extreme; NaN counts as the extreme.
struct ArgExtreme<const MAX: bool>;
impl<T: Element, const MAX: bool> Fold<T> for ArgExtreme<MAX> {
    type Acc = Option<(T, usize)>;
    type Out = i64;
    fn init(&self) -> Self::Acc {
        None
    }
    #[inline(always)]
    #[allow(clippy::eq_op)]
    fn step(&self, a: Self::Acc, x: T, i: usize) -> Self::Acc {
        match a {
            None => Some((x, i)),
            Some((v, j)) => {
                if v != v {
                    Some((v, j))
                } else if x != x || (MAX && x > v) || (!MAX && x < v) {
                    Some((x, i))
                } else {
                    Some((v, j))
                }
            }
        }
    }
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc {
        // `a` covers earlier indices, so on ties it wins.
        match (a, b) {
            (None, b) => b,
            (a, None) => a,
            (Some(_), Some((x, i))) => self.step(a, x, i),
        }
    }
    fn finish(&self, a: Self::Acc) -> i64 {
        a.map(|(_, i)| i as i64).unwrap_or(0)
    }
}
struct AnyAll<const ANY: bool>;
impl<T: Element, const ANY: bool> Fold<T> for AnyAll<ANY> {
    type Acc = bool;
    type Out = bool;
    fn init(&self) -> bool {
        !ANY
    }
    #[inline(always)]
    fn step(&self, a: bool, x: T, _: usize) -> bool {
        if ANY {
            a | x.to_bool()
        } else {
            a & x.to_bool()
        }
    }
    fn merge(&self, a: bool, b: bool) -> bool {
        if ANY {
            a | b
        } else {
            a & b
        }
    }
    fn finish(&self, a: bool) -> bool {
        a
    }
}

/// The output dtype of a reduction over input dtype `dt`.
pub fn out_dtype(op: ReduceOp, dt: DType) -> DType {
    match op {
        ReduceOp::Sum | ReduceOp::Prod if !dt.is_float() => DType::I64,
        ReduceOp::ArgMax | ReduceOp::ArgMin => DType::I64,
        ReduceOp::Any | ReduceOp::All => DType::Bool,
        _ => dt,
    }
}

/// Reduces `a` over the dims flagged in `reduce` (len == ndim). Returns a contiguous
/// storage shaped as the kept dims, in order.
pub fn reduce(op: ReduceOp, dt: DType, a: Strided, reduce: &[bool]) -> Result<CpuStorage> {
    use ReduceOp::*;
    macro_rules! go {
        ($T:ty, $fold:expr) => {
            run::<$T, _>(&$fold, a, reduce)
        };
    }
    macro_rules! any_dtype {
        ($fold:expr) => {
            match dt {
                DType::Bool => go!(bool, $fold),
                DType::U8 => go!(u8, $fold),
                DType::I8 => go!(i8, $fold),
                DType::I16 => go!(i16, $fold),
                DType::I32 => go!(i32, $fold),
                DType::I64 => go!(i64, $fold),
                DType::F16 => go!(f16, $fold),
                DType::BF16 => go!(bf16, $fold),
                DType::F32 => go!(f32, $fold),
                DType::F64 => go!(f64, $fold),
            }
        };
    }
    match (op, dt) {
        (Sum, DType::F16) => go!(f16, Wide::<false>),
        (Prod, DType::F16) => go!(f16, Wide::<true>),
        (Sum, DType::BF16) => go!(bf16, Wide::<false>),
        (Prod, DType::BF16) => go!(bf16, Wide::<true>),
        (Sum, DType::F32) => go!(f32, SumF),
        (Sum, DType::F64) => go!(f64, SumF),
        (Sum, _) => any_dtype!(SumI),
        (Prod, DType::F32) => go!(f32, ProdF),
        (Prod, DType::F64) => go!(f64, ProdF),
        (Prod, _) => any_dtype!(ProdI),
        (Max, _) => any_dtype!(Extreme::<true>),
        (Min, _) => any_dtype!(Extreme::<false>),
        (ArgMax, _) => any_dtype!(ArgExtreme::<true>),
        (ArgMin, _) => any_dtype!(ArgExtreme::<false>),
        (Any, _) => any_dtype!(AnyAll::<true>),
        (All, _) => any_dtype!(AnyAll::<false>),
    }
}

/// Sum (`PROD == false`) or product accumulated in f64 and rounded once: float16's
/// reductions (torch accumulates half in a wider type too; this path is not the fast one).
struct Wide<const PROD: bool>;
impl<T: Element, const PROD: bool> Fold<T> for Wide<PROD> {
    type Acc = f64;
    type Out = T;
    fn init(&self) -> f64 {
        if PROD {
            1.0
        } else {
            0.0
        }
    }
    #[inline(always)]
    fn step(&self, a: f64, x: T, _: usize) -> f64 {
        if PROD {
            a * x.to_f64()
        } else {
            a + x.to_f64()
        }
    }
    fn merge(&self, a: f64, b: f64) -> f64 {
        if PROD {
            a * b
        } else {
            a + b
        }
    }
    fn finish(&self, a: f64) -> T {
        T::from_f64(a)
    }
}

#[derive(Clone, Copy)]
struct P<T>(*mut T);
// SAFETY: outputs are written at disjoint indices per task; inputs only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}


fn run<T: Element, F: Fold<T>>(fold: &F, a: Strided, reduce: &[bool]) -> Result<CpuStorage> {
    let l = a.layout;
    let (kshape, kstr, rshape, rstr) = l.split_dims(reduce);
    let k: usize = kshape.iter().product();
    let r: usize = rshape.iter().product();
    let out = CpuStorage::zeros(k, F::Out::DTYPE)?;
    if k == 0 {
        return Ok(out);
    }
    let po = P(out.as_ptr() as *mut F::Out);
    let base = P((a.ptr as *mut T).wrapping_add(l.offset));
    if r == 0 {
        let v = fold.finish(fold.init());
        // SAFETY: out holds k elements.
        unsafe { (0..k).for_each(|i| *po.0.add(i) = v) };
        return Ok(out);
    }
    let (kc, [kst]) = collapse(&kshape, [&kstr]);
    let (rc, [rst]) = collapse(&rshape, [&rstr]);
    let (inner_len, inner_st) = match (rc.last(), rst.last()) {
        (Some(&n), Some(&s)) => (n, s),
        _ => (1, 0),
    };
    let run_starts = offsets(&rc[..rc.len().saturating_sub(1)], &rst[..rst.len().saturating_sub(1)]);
    let threads = super::parallel::num_threads();
    let big = k * r >= super::parallel::PAR_MIN_ELEMS && threads > 1;

    // Fold over a range [lo, hi) of the reduction's linear index, for the output at koff.
    let fold_range = |koff: isize, lo: usize, hi: usize| -> F::Acc {
        let b = base;
        let mut acc = fold.init();
        let mut pos = lo;
        while pos < hi {
            let run = pos / inner_len;
            let i0 = pos % inner_len;
            let len = (inner_len - i0).min(hi - pos);
            // SAFETY: offsets lie inside the validated layout.
            unsafe {
                let p = b.0.offset(koff + run_starts[run] + i0 as isize * inner_st);
                if inner_st == 1 {
                    let s = std::slice::from_raw_parts(p as *const T, len);
                    acc = fold.step_slice(acc, s, pos);
                } else {
                    for i in 0..len {
                        acc = fold.step(acc, *p.offset(i as isize * inner_st), pos + i);
                    }
                }
            }
            pos += len;
        }
        acc
    };

    if k == 1 {
        let koff = 0;
        let acc = if big {
            let nchunks = (threads * super::parallel::CHUNKS_PER_THREAD).min(r / (1 << 14)).max(1);
            let chunk = r.div_ceil(nchunks);
            let parts: Vec<F::Acc> =
                super::parallel::map_chunks(nchunks, |c| fold_range(koff, (c * chunk).min(r), ((c + 1) * chunk).min(r)));
            parts.into_iter().fold(fold.init(), |x, y| fold.merge(x, y))
        } else {
            fold_range(koff, 0, r)
        };
        // SAFETY: out holds one element.
        unsafe { *po.0 = fold.finish(acc) };
        return Ok(out);
    }

    let kept_offsets = offsets(&kc, &kst);
    // Across-outputs fold when the kept part is one contiguous run and the reduced part is not.
    if kc.len() == 1 && kst[0] == 1 && inner_st != 1 {
        let all_r = offsets(&rc, &rst);
        let block = 256usize;
        let nblocks = k.div_ceil(block);
        let work = |bi: usize| {
            let (b, o) = (base, po);
            let lo = bi * block;
            let hi = (lo + block).min(k);
            let mut accs: Vec<F::Acc> = vec![fold.init(); hi - lo];
            for (ri, &roff) in all_r.iter().enumerate() {
                // SAFETY: offsets lie inside the validated layout.
                unsafe {
                    let p = b.0.offset(roff + lo as isize);
                    for (j, acc) in accs.iter_mut().enumerate() {
                        *acc = fold.step(*acc, *p.add(j), ri);
                    }
                }
            }
            for (j, acc) in accs.into_iter().enumerate() {
                // SAFETY: lo + j < k, each block writes its own outputs.
                unsafe { *o.0.add(lo + j) = fold.finish(acc) };
            }
        };
        if big && nblocks > 1 {
            super::parallel::for_each_chunk(nblocks, work);
        } else {
            (0..nblocks).for_each(work);
        }
        return Ok(out);
    }

    let per_output = |ki: usize| {
        let o = po;
        let acc = fold_range(kept_offsets[ki], 0, r);
        // SAFETY: ki < k; each output written once.
        unsafe { *o.0.add(ki) = fold.finish(acc) };
    };
    if big {
        let min_len = ((1 << 14) / r).max(1);
        super::parallel::for_each_chunk(k.div_ceil(min_len), |c| (c * min_len..((c + 1) * min_len).min(k)).for_each(per_output));
    } else {
        (0..k).for_each(per_output);
    }
    Ok(out)
}

/// Checks used by ops before reducing an empty range where no identity exists.
pub fn check_nonempty(op: &str, shape: &[usize], reduce: &[bool]) -> Result<()> {
    let r: usize = shape.iter().zip(reduce).filter(|(_, &m)| m).map(|(s, _)| *s).product();
    if r == 0 && shape.iter().product::<usize>() == 0 {
        bail!(
            Index,
            "{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
        );
    }
    Ok(())
}
