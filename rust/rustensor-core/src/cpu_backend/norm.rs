//! Fused layer, RMS and group normalisation over contiguous rows (`ops/norm.rs` records them):
//! the statistics of a row and its normalised, scaled output in one pass over the row (it stays
//! in cache between the passes), and a backward that reads x, the incoming gradient and the
//! saved statistics once per row.
//!
//! A launch normalises `rows` rows of `n` elements. The affine weight of element j of row r is
//! `w[(r % groups) * (n / inner) + j / inner]`: layer and RMS norm are `groups = 1, inner = 1`
//! (one weight per column), group norm is `groups = G, inner = H*W` (one weight per channel,
//! the row holding the C/G channels of a group).
use super::math::Float;
use super::parallel::{for_each_chunk, row_chunks};

/// The shape of one normalisation launch. Row r's elements start at `r * row_stride` and lie
/// in segments of `seg` contiguous elements `seg_stride` apart: layer and group norm rows are
/// one contiguous segment (`row_stride = seg = n`); a batch norm row is a channel, a segment
/// of H*W per sample (`row_stride = H*W`, `seg_stride = C*H*W`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormGeom {
    pub rows: usize,
    pub n: usize,
    pub groups: usize,
    pub inner: usize,
    pub row_stride: usize,
    pub seg: usize,
    pub seg_stride: usize,
    /// RMS norm: no mean is subtracted (the saved mean is 0).
    pub rms: bool,
    /// The statistics are given (batch norm in eval mode) rather than computed.
    pub fixed: bool,
    pub eps: f64,
}

impl NormGeom {
    /// Rows of `n` contiguous elements (layer, RMS and group norm).
    pub fn rows(rows: usize, n: usize, groups: usize, inner: usize, rms: bool, eps: f64) -> NormGeom {
        NormGeom { rows, n, groups, inner, row_stride: n, seg: n, seg_stride: n, rms, fixed: false, eps }
    }
    /// Batch norm over (N, C, inner): one row per channel of N segments of `inner`.
    pub fn channels(nb: usize, c: usize, inner: usize, fixed: bool, eps: f64) -> NormGeom {
        let n = nb * inner;
        NormGeom { rows: c, n, groups: c, inner: n, row_stride: inner, seg: inner, seg_stride: c * inner, rms: false, fixed, eps }
    }
    /// How many weights (and biases) the launch reads.
    pub fn weight_len(&self) -> usize {
        self.groups * (self.n / self.inner.max(1))
    }
    /// The weights row `r` reads: n / inner of them, starting here.
    fn weight_start(&self, r: usize) -> usize {
        (r % self.groups) * (self.n / self.inner.max(1))
    }
    fn row_shape(&self) -> RowShape {
        RowShape { n: self.n, seg: self.seg.max(1), sstride: self.seg_stride, inner: self.inner.max(1) }
    }
}

/// The operands of a launch, as raw pointers to contiguous data (null when absent). Forward:
/// x, w, b → y, mean, rstd. Backward: x, w, gy, mean, rstd → gx, dw, db.
pub struct NormPtrs<T> {
    pub x: *const T,
    pub w: *const T,
    pub b: *const T,
    pub gy: *const T,
    pub mean: *mut T,
    pub rstd: *mut T,
    /// The rows' biased variance (forward, when not null: batch norm's running statistics
    /// need it more exactly than 1/rstd² - eps gives it).
    pub var: *mut T,
    pub out: *mut T,
    pub dw: *mut T,
    pub db: *mut T,
}

// SAFETY: each chunk of rows writes only its own rows of `out`, `mean`, `rstd` and its own
// partial sums; the pointers address buffers the op owns for the call.
unsafe impl<T> Send for NormPtrs<T> {}
unsafe impl<T> Sync for NormPtrs<T> {}

const LANES: usize = 16;

/// Σ f(a_i, b_i, c_i) over equally long rows, in LANES independent accumulators (so that
/// the loop vectorises without reassociating one long chain), then the lanes and the tail. The
/// rows come as chunks of LANES so that the loop carries no bounds checks. (One sum per call:
/// with two accumulator arrays in one loop the compiler left it scalar.)
#[inline(always)]
pub(crate) fn lane_sum<T: Float>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T) -> T {
    let n = a.len();
    let (b, c) = (&b[..n], &c[..n]);
    let mut s = [T::ZERO; LANES];
    let (ac, bc, cc) = (a.chunks_exact(LANES), b.chunks_exact(LANES), c.chunks_exact(LANES));
    let (ar, br, cr) = (ac.remainder(), bc.remainder(), cc.remainder());
    for ((x, y), z) in ac.zip(bc).zip(cc) {
        for k in 0..LANES {
            s[k] = s[k] + f(x[k], y[k], z[k]);
        }
    }
    let mut u = T::ZERO;
    for ((&x, &y), &z) in ar.iter().zip(br).zip(cr) {
        u = u + f(x, y, z);
    }
    s.iter().fold(u, |u, &v| u + v)
}

/// Two sums of the same rows (two vectorised passes over rows that sit in cache).
#[inline(always)]
fn lane_sum2<T: Float>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T, g: impl Fn(T, T, T) -> T) -> (T, T) {
    (lane_sum(a, b, c, f), lane_sum(a, b, c, g))
}

/// Where a row's elements lie: `n` elements in segments of `seg` contiguous ones, segment s
/// at `s * sstride` from the row's start (one segment for layer and group norm, one per
/// sample for batch norm); a weight for each `inner` of them.
#[derive(Clone, Copy)]
pub struct RowShape {
    n: usize,
    seg: usize,
    sstride: usize,
    inner: usize,
}

impl RowShape {
    /// The row's segments as ranges from its start.
    fn segs(&self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let (seg, ss) = (self.seg, self.sstride);
        (0..self.n / seg).map(move |s| s * ss..s * ss + seg)
    }
    /// Each stretch of one weight within a segment: its length.
    fn piece(&self) -> usize {
        self.inner.min(self.seg)
    }
}

/// The elements `r` of an operand.
///
/// # Safety
/// `r` must lie within the operand, and (for `sl_mut`) no other live slice may cover it.
#[inline(always)]
unsafe fn sl<'a, T>(p: *const T, r: std::ops::Range<usize>) -> &'a [T] {
    std::slice::from_raw_parts(p.add(r.start), r.len())
}

/// See [`sl`].
#[inline(always)]
unsafe fn sl_mut<'a, T>(p: *mut T, r: std::ops::Range<usize>) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.add(r.start), r.len())
}

/// The row's (mean, rstd, var): computed over its segments, or `fixed` (batch norm in eval
/// mode; var is then NaN).
#[inline(always)]
unsafe fn stats<T: Float>(x: *const T, rs: RowShape, rms: bool, eps: T, fixed: Option<(T, T)>) -> (T, T, T) {
    if let Some((m, r)) = fixed {
        return (m, r, T::NAN);
    }
    let inv_n = T::ONE / T::from_f64(rs.n as f64);
    let mean = if rms { T::ZERO } else { rs.segs().fold(T::ZERO, |a, r| a + {
        let xs = sl(x, r);
        lane_sum(xs, xs, xs, |v, _, _| v)
    }) * inv_n };
    let var = rs.segs().fold(T::ZERO, |a, r| a + {
        let xs = sl(x, r);
        lane_sum(xs, xs, xs, |v, _, _| (v - mean) * (v - mean))
    }) * inv_n;
    (mean, T::ONE / (var + eps).sqrt(), var)
}

/// One row forward: returns (mean, rstd, var) and writes y. `w`/`b` are the row's n / inner weights;
/// x and y span the row (see [`RowShape`]).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn forward_row<T: Float>(x: *const T, y: *mut T, w: Option<&[T]>, b: Option<&[T]>, rs: RowShape, rms: bool, eps: T, fixed: Option<(T, T)>) -> (T, T, T) {
    let (mean, rstd, var) = stats(x, rs, rms, eps, fixed);
    if rs.inner == 1 && rs.seg == rs.n {
        let n = rs.n;
        let (x, y) = (sl(x, 0..n), sl_mut(y, 0..n));
        match (w, b) {
            (Some(w), Some(b)) => {
                let (w, b) = (&w[..n], &b[..n]);
                for i in 0..n {
                    y[i] = (x[i] - mean) * rstd * w[i] + b[i];
                }
            }
            (Some(w), None) => {
                let w = &w[..n];
                for i in 0..n {
                    y[i] = (x[i] - mean) * rstd * w[i];
                }
            }
            (None, Some(b)) => {
                let b = &b[..n];
                for i in 0..n {
                    y[i] = (x[i] - mean) * rstd + b[i];
                }
            }
            (None, None) => {
                for i in 0..n {
                    y[i] = (x[i] - mean) * rstd;
                }
            }
        }
    } else {
        // one scale and shift per stretch of one weight (a channel of group or batch norm)
        let piece = rs.piece();
        for (s, r) in rs.segs().enumerate() {
            for (q, (xs, ys)) in sl(x, r.clone()).chunks_exact(piece).zip(sl_mut(y, r).chunks_exact_mut(piece)).enumerate() {
                let wi = (s * rs.seg + q * piece) / rs.inner;
                let scale = rstd * w.map(|w| w[wi]).unwrap_or(T::ONE);
                let shift = b.map(|b| b[wi]).unwrap_or(T::ZERO) - mean * scale;
                for (yv, &xv) in ys.iter_mut().zip(xs) {
                    *yv = xv * scale + shift;
                }
            }
        }
    }
    (mean, rstd, var)
}

/// One row backward: writes gx (when asked) and adds the row's terms of dw (Σ gy x̂) and db
/// (Σ gy) into `pw`/`pb`, the chunk's partial sums for the row's weights. With `fixed`
/// statistics (batch norm in eval mode) they are constants: gx = gy w rstd.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn backward_row<T: Float>(
    x: *const T,
    gy: *const T,
    w: Option<&[T]>,
    mean: T,
    rstd: T,
    gx: *mut T,
    pw: &mut [T],
    pb: &mut [T],
    rs: RowShape,
    rms: bool,
    fixed: bool,
) {
    let inv_n = T::ONE / T::from_f64(rs.n as f64);
    let wt = |i: usize| match w {
        Some(w) => w[i],
        None => T::ONE,
    };
    if rs.inner == 1 && rs.seg == rs.n {
        let n = rs.n;
        let (x, gy) = (sl(x, 0..n), sl(gy, 0..n));
        let (pw, pb) = (&mut pw[..n], &mut pb[..n]);
        for i in 0..n {
            let g = gy[i];
            pw[i] = pw[i] + g * (x[i] - mean) * rstd;
            pb[i] = pb[i] + g;
        }
        if gx.is_null() {
            return;
        }
        let gx = sl_mut(gx, 0..n);
        let (a, c) = match w {
            Some(w) => {
                let w = &w[..n];
                lane_sum2(gy, w, x, |g, w, _| g * w, |g, w, v| g * w * (v - mean) * rstd)
            }
            None => lane_sum2(gy, x, x, |g, _, _| g, |g, v, _| g * (v - mean) * rstd),
        };
        let a = if rms || fixed { T::ZERO } else { a * inv_n };
        let c = if fixed { T::ZERO } else { c * inv_n };
        match w {
            Some(w) => {
                let w = &w[..n];
                for i in 0..n {
                    gx[i] = rstd * (gy[i] * w[i] - a - (x[i] - mean) * rstd * c);
                }
            }
            None => {
                for i in 0..n {
                    gx[i] = rstd * (gy[i] - a - (x[i] - mean) * rstd * c);
                }
            }
        }
        return;
    }
    let piece = rs.piece();
    let (mut a, mut c) = (T::ZERO, T::ZERO);
    for (s, r) in rs.segs().enumerate() {
        for (q, (xs, gs)) in sl(x, r.clone()).chunks_exact(piece).zip(sl(gy, r).chunks_exact(piece)).enumerate() {
            let wi = (s * rs.seg + q * piece) / rs.inner;
            let (sgx, sg) = lane_sum2(gs, xs, xs, |g, v, _| g * v, |g, _, _| g);
            // Σ gy x̂ = rstd (Σ gy x - mean Σ gy)
            let sxh = rstd * (sgx - mean * sg);
            pw[wi] = pw[wi] + sxh;
            pb[wi] = pb[wi] + sg;
            a = a + wt(wi) * sg;
            c = c + wt(wi) * sxh;
        }
    }
    if gx.is_null() {
        return;
    }
    let a = if rms || fixed { T::ZERO } else { a * inv_n };
    let c = if fixed { T::ZERO } else { c * inv_n };
    for (s, r) in rs.segs().enumerate() {
        for (q, (gxs, (xs, gs))) in sl_mut(gx, r.clone()).chunks_exact_mut(piece).zip(sl(x, r.clone()).chunks_exact(piece).zip(sl(gy, r).chunks_exact(piece))).enumerate() {
            let ws = wt((s * rs.seg + q * piece) / rs.inner);
            for i in 0..piece {
                gxs[i] = rstd * (gs[i] * ws - a - (xs[i] - mean) * rstd * c);
            }
        }
    }
}

/// Kernels compiled per ISA, taking rows as slices (as `rnn.rs` does, so the loops vectorise).
#[allow(clippy::type_complexity)]
struct Kernels<T> {
    fwd: unsafe fn(*const T, *mut T, Option<&[T]>, Option<&[T]>, RowShape, bool, T, Option<(T, T)>) -> (T, T, T),
    bwd: unsafe fn(*const T, *const T, Option<&[T]>, T, T, *mut T, &mut [T], &mut [T], RowShape, bool, bool),
}

macro_rules! isa_kernels {
    ($m:ident $(, $feat:literal)?) => {
        #[allow(clippy::too_many_arguments)]
        mod $m {
            use super::{Float, RowShape};
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn fwd<T: Float>(x: *const T, y: *mut T, w: Option<&[T]>, b: Option<&[T]>, rs: RowShape, rms: bool, eps: T, fixed: Option<(T, T)>) -> (T, T, T) {
                super::forward_row(x, y, w, b, rs, rms, eps, fixed)
            }
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn bwd<T: Float>(x: *const T, gy: *const T, w: Option<&[T]>, mean: T, rstd: T, gx: *mut T, pw: &mut [T], pb: &mut [T], rs: RowShape, rms: bool, fixed: bool) {
                super::backward_row(x, gy, w, mean, rstd, gx, pw, pb, rs, rms, fixed)
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

/// Forward: y, mean and rstd of every row (with `g.fixed`, mean and rstd are read instead).
///
/// # Safety
/// x and y hold the rows the geometry spans, w/b (when not null) `g.weight_len()`, mean/rstd
/// `rows`; y, mean and rstd overlap nothing else.
pub unsafe fn forward<T: Float>(p: &NormPtrs<T>, g: &NormGeom) {
    let rs = g.row_shape();
    let wl = g.n / rs.inner;
    let k = kernels::<T>();
    let eps = T::from_f64(g.eps);
    let (chunks, per) = row_chunks(g.rows, g.rows * g.n);
    for_each_chunk(chunks, |c| {
        for r in c * per..((c + 1) * per).min(g.rows) {
            // SAFETY: row r of each operand lies within it (the caller's contract); rows
            // interleave (batch norm) but each element belongs to one row only.
            unsafe {
                let (x, y) = (p.x.add(r * g.row_stride), p.out.add(r * g.row_stride));
                let ws = g.weight_start(r);
                let w = (!p.w.is_null()).then(|| std::slice::from_raw_parts(p.w.add(ws), wl));
                let b = (!p.b.is_null()).then(|| std::slice::from_raw_parts(p.b.add(ws), wl));
                let fixed = g.fixed.then(|| (*p.mean.add(r), *p.rstd.add(r)));
                let (m, s, v) = (k.fwd)(x, y, w, b, rs, g.rms, eps, fixed);
                *p.mean.add(r) = m;
                *p.rstd.add(r) = s;
                if !p.var.is_null() {
                    *p.var.add(r) = v;
                }
            }
        }
    });
}

/// Backward: gx (when `p.out` is not null), dw and db (when not null; each `g.weight_len()`).
///
/// # Safety
/// As [`forward`], with gy laid out as x and the outputs overlapping nothing else.
pub unsafe fn backward<T: Float>(p: &NormPtrs<T>, g: &NormGeom) {
    let rs = g.row_shape();
    let wl = g.n / rs.inner;
    let wlen = g.weight_len();
    let k = kernels::<T>();
    let (chunks, per) = row_chunks(g.rows, g.rows * g.n);
    // each chunk's partial sums of dw and db, over all the weights
    let parts: Vec<std::sync::Mutex<Vec<T>>> = (0..chunks).map(|_| std::sync::Mutex::new(vec![T::ZERO; 2 * wlen])).collect();
    for_each_chunk(chunks, |c| {
        let mut part = match parts[c].lock() {
            Ok(v) => v,
            Err(e) => e.into_inner(),
        };
        let (pw, pb) = part.split_at_mut(wlen);
        for r in c * per..((c + 1) * per).min(g.rows) {
            // SAFETY: row r of each operand lies within it (the caller's contract).
            unsafe {
                let ws = g.weight_start(r);
                let (x, gy) = (p.x.add(r * g.row_stride), p.gy.add(r * g.row_stride));
                let w = (!p.w.is_null()).then(|| std::slice::from_raw_parts(p.w.add(ws), wl));
                let gx = if p.out.is_null() { p.out } else { p.out.add(r * g.row_stride) };
                (k.bwd)(x, gy, w, *p.mean.add(r), *p.rstd.add(r), gx, &mut pw[ws..ws + wl], &mut pb[ws..ws + wl], rs, g.rms, g.fixed);
            }
        }
    });
    let parts: Vec<Vec<T>> = parts.into_iter().map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect();
    for (dst, off) in [(p.dw, 0), (p.db, wlen)] {
        if dst.is_null() {
            continue;
        }
        for i in 0..wlen {
            let s = parts.iter().fold(T::ZERO, |s, part| s + part[off + i]);
            // SAFETY: dw/db hold wlen elements (the caller's contract).
            unsafe { *dst.add(i) = s };
        }
    }
}
