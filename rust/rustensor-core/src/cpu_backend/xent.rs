//! Fused cross-entropy over rows of class logits (`ops/xent.rs` records it): a row's
//! log-sum-exp and its loss in one pass over the row, and the gradient softmax - one-hot (with
//! class weights and label smoothing) in one more, so that neither the log-probabilities nor
//! a one-hot matrix is ever stored.
//!
//! Row r with target t, class weights w (1 when absent, W = Σ w), smoothing ε over C classes:
//! loss = (1 - ε) w_t (lse - x_t) + ε / C Σ_c w_c (lse - x_c), 0 when t is ignored;
//! d loss / d x_c = (1 - ε) w_t (p_c - [c = t]) + ε / C (W p_c - w_c), with p = softmax(x).
use super::math::Float;
use super::norm::lane_sum;
use super::parallel::{for_each_chunk, row_chunks};

/// The shape and options of one launch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct XentGeom {
    pub rows: usize,
    pub classes: usize,
    pub ignore_index: i64,
    pub smoothing: f64,
}

/// The operands, contiguous (null when absent). Forward: x, target, w → loss, lse.
/// Backward: x, target, w, lse, g (per row) → gx. `lse` holds two values per row: the row's
/// maximum and log Σ exp(x - max).
pub struct XentPtrs<T> {
    pub x: *const T,
    pub target: *const i64,
    pub w: *const T,
    pub lse: *mut T,
    pub loss: *mut T,
    pub g: *const T,
    pub gx: *mut T,
}

// SAFETY: each chunk of rows writes only its own rows; the buffers are the op's for the call.
unsafe impl<T> Send for XentPtrs<T> {}
unsafe impl<T> Sync for XentPtrs<T> {}

const LANES: usize = 16;

/// The largest element of a non-empty row (NaN propagates), in LANES independent maxima.
#[inline(always)]
fn row_max<T: Float>(x: &[T]) -> T {
    let mut m = [x[0]; LANES];
    let c = x.chunks_exact(LANES);
    let rest = c.remainder();
    for ch in c {
        for k in 0..LANES {
            m[k] = m[k].max_nan(ch[k]);
        }
    }
    let mut r = rest.iter().fold(x[0], |a, &v| a.max_nan(v));
    for v in m {
        r = r.max_nan(v);
    }
    r
}

/// (max, log Σ exp(x - max), loss) of one row: lse is their sum, kept apart so that x - lse
/// is (x - max) - log Σ without the rounding of a large lse (logits of 10⁴ in float32).
#[inline(always)]
fn forward_row<T: Float>(x: &[T], t: i64, w: Option<&[T]>, ignore: i64, eps: T) -> (T, T, T) {
    let c = x.len();
    let m = row_max(x);
    let (m, ls) = if m.is_infinite() { (m, T::ZERO) } else { (m, lane_sum(x, x, x, |v, _, _| (v - m).exp()).ln()) };
    if t == ignore || t < 0 || t as usize >= c {
        return (m, ls, T::ZERO);
    }
    let t = t as usize;
    let wt = w.map(|w| w[t]).unwrap_or(T::ONE);
    let mut loss = (T::ONE - eps) * wt * ((m - x[t]) + ls);
    if eps != T::ZERO {
        // Σ_c w_c (lse - x_c) = Σ_c w_c (m - x_c) + ls Σ_c w_c
        let (sw, swd) = match w {
            Some(w) => (lane_sum(w, w, w, |a, _, _| a), lane_sum(w, x, x, |a, b, _| a * (m - b))),
            None => (T::from_f64(c as f64), lane_sum(x, x, x, |v, _, _| m - v)),
        };
        loss = loss + eps / T::from_f64(c as f64) * (swd + ls * sw);
    }
    (m, ls, loss)
}

/// The gradient of one row's loss, scaled by the row's incoming gradient `g`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_row<T: Float>(x: &[T], t: i64, w: Option<&[T]>, m: T, ls: T, g: T, gx: &mut [T], ignore: i64, eps: T) {
    let c = x.len();
    let gx = &mut gx[..c];
    if t == ignore || t < 0 || t as usize >= c {
        gx.iter_mut().for_each(|v| *v = T::ZERO);
        return;
    }
    let t = t as usize;
    let wt = w.map(|w| w[t]).unwrap_or(T::ONE);
    let a = g * (T::ONE - eps) * wt;
    let sm = g * eps / T::from_f64(c as f64);
    match w {
        None => {
            // (a + sm C) p_c - sm, and - a at the target
            let k = a + sm * T::from_f64(c as f64);
            for (o, &v) in gx.iter_mut().zip(x) {
                *o = k * ((v - m) - ls).exp() - sm;
            }
        }
        Some(w) => {
            let k = a + sm * lane_sum(w, w, w, |v, _, _| v);
            let w = &w[..c];
            for i in 0..c {
                gx[i] = k * ((x[i] - m) - ls).exp() - sm * w[i];
            }
        }
    }
    gx[t] = gx[t] - a;
}

#[allow(clippy::type_complexity)]
struct Kernels<T> {
    fwd: unsafe fn(&[T], i64, Option<&[T]>, i64, T) -> (T, T, T),
    bwd: unsafe fn(&[T], i64, Option<&[T]>, T, T, T, &mut [T], i64, T),
}

macro_rules! isa_kernels {
    ($m:ident $(, $feat:literal)?) => {
        #[allow(clippy::too_many_arguments)]
        mod $m {
            use super::Float;
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn fwd<T: Float>(x: &[T], t: i64, w: Option<&[T]>, ignore: i64, eps: T) -> (T, T, T) {
                super::forward_row(x, t, w, ignore, eps)
            }
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn bwd<T: Float>(x: &[T], t: i64, w: Option<&[T]>, m: T, ls: T, g: T, gx: &mut [T], ignore: i64, eps: T) {
                super::backward_row(x, t, w, m, ls, g, gx, ignore, eps)
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
isa_kernels!(avx512, "avx512f,avx512vl,avx2,fma");
#[cfg(target_arch = "x86_64")]
isa_kernels!(avx2, "avx2,fma");
isa_kernels!(base);

fn kernels<T: Float>() -> Kernels<T> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::elementwise::{cpu_has_avx2, cpu_has_avx512};
        if cpu_has_avx512() {
            return Kernels { fwd: avx512::fwd::<T>, bwd: avx512::bwd::<T> };
        }
        if cpu_has_avx2() {
            return Kernels { fwd: avx2::fwd::<T>, bwd: avx2::bwd::<T> };
        }
    }
    Kernels { fwd: base::fwd::<T>, bwd: base::bwd::<T> }
}

/// Runs `f` over the rows, split over the pool when the launch is large.
fn rows_par(rows: usize, c: usize, f: impl Fn(usize) + Sync) {
    let (chunks, per) = row_chunks(rows, rows * c);
    for_each_chunk(chunks, |k| (k * per..((k + 1) * per).min(rows)).for_each(&f));
}

/// Forward: each row's lse and loss.
///
/// # Safety
/// x holds rows * classes elements, target and loss `rows`, lse 2 * rows, w (when not null) `classes`;
/// lse and loss overlap nothing else; classes > 0.
pub unsafe fn forward<T: Float>(p: &XentPtrs<T>, g: &XentGeom) {
    let (c, k) = (g.classes, kernels::<T>());
    let eps = T::from_f64(g.smoothing);
    rows_par(g.rows, c, |r| {
        // SAFETY: row r of each operand lies within it (the caller's contract).
        unsafe {
            let x = std::slice::from_raw_parts(p.x.add(r * c), c);
            let w = (!p.w.is_null()).then(|| std::slice::from_raw_parts(p.w, c));
            let (m, ls, loss) = (k.fwd)(x, *p.target.add(r), w, g.ignore_index, eps);
            *p.lse.add(2 * r) = m;
            *p.lse.add(2 * r + 1) = ls;
            *p.loss.add(r) = loss;
        }
    });
}

/// Backward: gx from the saved lse and the per-row incoming gradient g.
///
/// # Safety
/// As [`forward`], with g of `rows` and gx of rows * classes elements overlapping nothing.
pub unsafe fn backward<T: Float>(p: &XentPtrs<T>, g: &XentGeom) {
    let (c, k) = (g.classes, kernels::<T>());
    let eps = T::from_f64(g.smoothing);
    rows_par(g.rows, c, |r| {
        // SAFETY: as in `forward`.
        unsafe {
            let x = std::slice::from_raw_parts(p.x.add(r * c), c);
            let gx = std::slice::from_raw_parts_mut(p.gx.add(r * c), c);
            let w = (!p.w.is_null()).then(|| std::slice::from_raw_parts(p.w, c));
            (k.bwd)(x, *p.target.add(r), w, *p.lse.add(2 * r), *p.lse.add(2 * r + 1), *p.g.add(r), gx, g.ignore_index, eps);
        }
    });
}
