//! CTC loss (Graves et al. 2006): the forward (alpha) and backward (beta) recursions in log
//! space per sequence, in float64, and the gradient of each sequence's loss with respect to
//! its log-probabilities, computed in the same pass.
use super::elementwise::Strided;
use super::math::Float;
use rayon::prelude::*;

/// The label side of a CTC call, checked by the op.
pub struct CtcArgs<'a> {
    pub t: usize,
    pub n: usize,
    pub c: usize,
    /// Padded labels, (N, S) row-major.
    pub labels: &'a [i64],
    pub s: usize,
    pub input_lengths: &'a [usize],
    pub target_lengths: &'a [usize],
    pub blank: usize,
}

#[inline]
fn lse2(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        m
    } else {
        m + ((a - m).exp() + (b - m).exp()).ln()
    }
}

#[derive(Clone, Copy)]
struct P<T>(*const T);
// SAFETY: the log-probabilities are only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}

/// One sequence: its loss (-log p, +inf when no path exists) and the gradient of the loss
/// with respect to its first `input_length` rows of log-probabilities (Tb x C, row-major).
fn sequence<T: Float>(lp: P<T>, st: [isize; 3], off: isize, a: &CtcArgs, b: usize) -> (f64, Vec<f64>) {
    let (tb, sb, c) = (a.input_lengths[b], a.target_lengths[b], a.c);
    let width = 2 * sb + 1;
    let ext: Vec<usize> = (0..width).map(|s| if s % 2 == 0 { a.blank } else { a.labels[b * a.s + s / 2] as usize }).collect();
    let at = |t: usize, k: usize| -> f64 {
        // SAFETY: t < T, b < N and k < C, checked by the op against the tensor's shape.
        unsafe { (*lp.0.offset(off + t as isize * st[0] + b as isize * st[1] + k as isize * st[2])).to_f64() }
    };
    if tb == 0 {
        // no frames: only the empty labelling has a path (of probability 1)
        return (if sb == 0 { 0.0 } else { f64::INFINITY }, vec![]);
    }
    // a label (odd position) may follow the previous label directly unless the two are
    // equal; a label that equals the blank follows the same rule, as in torch
    let skip = |s: usize| s >= 2 && s % 2 == 1 && ext[s] != ext[s - 2];
    let ninf = f64::NEG_INFINITY;
    let mut alpha = vec![ninf; tb * width];
    alpha[0] = at(0, ext[0]);
    if width > 1 {
        alpha[1] = at(0, ext[1]);
    }
    for t in 1..tb {
        let (prev, cur) = alpha.split_at_mut(t * width);
        let prev = &prev[(t - 1) * width..];
        for s in 0..width {
            let mut v = prev[s];
            if s >= 1 {
                v = lse2(v, prev[s - 1]);
            }
            if skip(s) {
                v = lse2(v, prev[s - 2]);
            }
            cur[s] = if v == ninf { ninf } else { v + at(t, ext[s]) };
        }
    }
    let last = &alpha[(tb - 1) * width..];
    let loglik = if width > 1 { lse2(last[width - 1], last[width - 2]) } else { last[0] };
    let mut grad = vec![0.0; tb * c];
    if loglik == ninf {
        return (f64::INFINITY, grad);
    }
    let mut beta = vec![ninf; tb * width];
    beta[(tb - 1) * width + width - 1] = at(tb - 1, ext[width - 1]);
    if width > 1 {
        beta[(tb - 1) * width + width - 2] = at(tb - 1, ext[width - 2]);
    }
    for t in (0..tb - 1).rev() {
        let (cur, next) = beta.split_at_mut((t + 1) * width);
        let cur = &mut cur[t * width..];
        let next = &next[..width];
        for s in 0..width {
            let mut v = next[s];
            if s + 1 < width {
                v = lse2(v, next[s + 1]);
            }
            if s + 2 < width && skip(s + 2) {
                v = lse2(v, next[s + 2]);
            }
            cur[s] = if v == ninf { ninf } else { v + at(t, ext[s]) };
        }
    }
    // d(-log p)/d lp[t, k] = -exp(logsumexp_{s: ext[s] = k}(alpha + beta) - lp[t, k] - log p)
    let mut occ = vec![ninf; c];
    for t in 0..tb {
        occ.iter_mut().for_each(|o| *o = ninf);
        for s in 0..width {
            let v = alpha[t * width + s] + beta[t * width + s];
            occ[ext[s]] = lse2(occ[ext[s]], v);
        }
        for (k, &o) in occ.iter().enumerate() {
            if o != ninf {
                grad[t * c + k] = -(o - at(t, k) - loglik).exp();
            }
        }
    }
    (-loglik, grad)
}

/// Per-sequence losses (N) and the gradient of each loss with respect to the log-probabilities
/// (T, N, C) row-major, zero past each sequence's input length. `lp` is (T, N, C), any strides.
pub fn ctc_loss<T: Float>(lp: Strided, a: &CtcArgs) -> (Vec<T>, Vec<T>) {
    let l = lp.layout;
    let st = [l.strides[0], l.strides[1], l.strides[2]];
    let p = P(lp.ptr as *const T);
    let off = l.offset as isize;
    let work: usize = (0..a.n).map(|b| a.input_lengths[b] * (2 * a.target_lengths[b] + 1)).sum();
    let per: Vec<(f64, Vec<f64>)> = if work >= 1 << 14 && super::parallel::num_threads() > 1 {
        super::parallel::pool().install(|| (0..a.n).into_par_iter().map(|b| sequence(p, st, off, a, b)).collect())
    } else {
        (0..a.n).map(|b| sequence(p, st, off, a, b)).collect()
    };
    let mut grad = vec![T::ZERO; a.t * a.n * a.c];
    let mut losses = Vec::with_capacity(a.n);
    for (b, (loss, g)) in per.into_iter().enumerate() {
        losses.push(T::from_f64(loss));
        for (t, row) in g.chunks_exact(a.c.max(1)).enumerate() {
            let dst = &mut grad[(t * a.n + b) * a.c..(t * a.n + b + 1) * a.c];
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = T::from_f64(v);
            }
        }
    }
    (losses, grad)
}

#[cfg(test)]
mod tests {
    use super::lse2;

    #[test]
    fn lse2_handles_minus_infinity() {
        assert_eq!(lse2(f64::NEG_INFINITY, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert!((lse2(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(lse2(f64::NEG_INFINITY, 1.5), 1.5);
    }
}
