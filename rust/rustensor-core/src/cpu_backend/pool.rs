//! Max pooling: each window's maximum and its index (the op records the values as a gather
//! of the input at those indices, so the gradient is the gather's scatter-add).
use super::elementwise::Strided;
use super::math::Float;
use crate::storage::CpuStorage;
use crate::{bail, DType, Result};
use rayon::prelude::*;

/// The geometry of a 2-d max pool over (N, C, H, W), already checked by the op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
}

/// The first in-range tap of a window starting at `start` (which may lie in the padding).
fn first_tap(start: isize, dilation: usize) -> isize {
    if start >= 0 {
        start
    } else {
        let d = dilation as isize;
        start + ((-start) + d - 1) / d * d
    }
}

/// The column taps (offset, valid output columns) and each output column's first in-range tap:
/// the same for every row and plane, and worked out once (their divisions dominated the
/// small planes of a CNN).
struct Cols {
    taps: Vec<(isize, usize, usize)>,
    first: Vec<isize>,
}

fn cols(g: &PoolGeom) -> Cols {
    let taps = super::conv::tap_table(g.kernel[1], g.dilation[1], g.pad[1], g.stride[1], g.w, g.ow);
    let first = (0..g.ow).map(|ox| first_tap((ox * g.stride[1]) as isize - g.pad[1] as isize, g.dilation[1])).collect();
    Cols { taps, first }
}

#[allow(clippy::too_many_arguments)]
fn plane<T: Float>(x: *const T, base: isize, s: [isize; 2], g: &PoolGeom, cs: &Cols, out: &mut [i64], vals: &mut [T], best: &mut [f64]) {
    let (w, h) = (g.w as isize, g.h as isize);
    let (sy, sx) = (g.stride[0], g.stride[1]);
    for oy in 0..g.oh {
        let y0 = (oy * sy) as isize - g.pad[0] as isize;
        let y1 = (y0 + ((g.kernel[0] - 1) * g.dilation[0]) as isize + 1).min(h);
        let yf = first_tap(y0, g.dilation[0]);
        let row = &mut out[oy * g.ow..(oy + 1) * g.ow];
        // torch's rule: the first strict maximum, and a NaN wins (the last one seen); a
        // window that holds only -inf reports its first tap
        for ((r, b), &f) in row.iter_mut().zip(best.iter_mut()).zip(&cs.first) {
            *r = (yf * w + f) as i64;
            *b = f64::NEG_INFINITY;
        }
        if g.ow < 8 {
            // short rows: one output at a time, its taps unrolled from the tables; looping
            // taps outside a 2-wide row of outputs cost more in loop setup than in compares
            for ox in 0..g.ow {
                let (mut b, mut at) = (f64::NEG_INFINITY, row[ox] as u64);
                let mut y = yf;
                while y < y1 {
                    let line = base + y * s[0];
                    for &(off, lo, hi) in &cs.taps {
                        if ox < lo || ox >= hi {
                            continue;
                        }
                        let xx = (ox * sx) as isize + off;
                        // SAFETY: (y, xx) lies inside the plane, whose strides the op checked.
                        let v = unsafe { *x.offset(line + xx * s[1]) }.to_f64();
                        let m = 0u64.wrapping_sub(((v > b) | v.is_nan()) as u64);
                        b = f64::from_bits((v.to_bits() & m) | (b.to_bits() & !m));
                        at = ((y * w + xx) as u64 & m) | (at & !m);
                    }
                    y += g.dilation[0] as isize;
                }
                best[ox] = b;
                row[ox] = at as i64;
            }
            for (v, &b) in vals[oy * g.ow..(oy + 1) * g.ow].iter_mut().zip(best.iter()) {
                *v = T::from_f64(b);
            }
            continue;
        }
        let mut y = yf;
        while y < y1 {
            for &(off, lo, hi) in &cs.taps {
                let line = base + y * s[0];
                for ox in lo..hi {
                    let xx = (ox * sx) as isize + off;
                    // SAFETY: (y, xx) lies inside the plane, whose strides the op checked.
                    let v = unsafe { *x.offset(line + xx * s[1]) };
                    // bit masks, not a branch (the compiler kept one for `if`): on random
                    // data it mispredicted about every other tap, ~14 cycles a tap
                    let (v, b) = (v.to_f64(), best[ox]);
                    let m = 0u64.wrapping_sub(((v > b) | v.is_nan()) as u64);
                    best[ox] = f64::from_bits((v.to_bits() & m) | (b.to_bits() & !m));
                    row[ox] = (((y * w + xx) as u64 & m) | (row[ox] as u64 & !m)) as i64;
                }
            }
            y += g.dilation[0] as isize;
        }
        for (v, &b) in vals[oy * g.ow..(oy + 1) * g.ow].iter_mut().zip(best.iter()) {
            // exact: the maximum is one of the inputs, widened
            *v = T::from_f64(b);
        }
    }
}

#[derive(Clone, Copy)]
struct P<T>(*const T);
// SAFETY: the input is only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}

fn pool_t<T: Float>(x: Strided, g: &PoolGeom) -> Result<(Vec<T>, Vec<i64>)> {
    let l = x.layout;
    if l.ndim() != 4 {
        bail!(Runtime, "internal: max_pool2d kernel expects a 4-d input");
    }
    let per = g.oh * g.ow;
    let mut out = vec![0i64; g.n * g.c * per];
    let mut vals = vec![T::ZERO; g.n * g.c * per];
    if per == 0 {
        return Ok((vals, out));
    }
    let px = P(x.ptr as *const T);
    let (off, st) = (l.offset as isize, [l.strides[0], l.strides[1], l.strides[2], l.strides[3]]);
    let cs = cols(g);
    let merged = st[0] == g.c as isize * st[1];
    let run = |best: &mut Vec<f64>, (i, (o, v)): (usize, (&mut [i64], &mut [T]))| {
        // the whole Send wrapper, not its raw-pointer field (closures capture fields)
        #[allow(clippy::redundant_locals)]
        let px = px;
        // (n, c) steps as one dim when the batch stride spans the channels (no division)
        let base = if merged {
            off + i as isize * st[1]
        } else {
            off + (i / g.c) as isize * st[0] + (i % g.c) as isize * st[1]
        };
        plane(px.0, base, [st[2], st[3]], g, &cs, o, v, best);
    };
    let work = out.len() * g.kernel[0] * g.kernel[1];
    if work >= 1 << 17 && super::parallel::num_threads() > 1 {
        super::parallel::pool().install(|| {
            out.par_chunks_mut(per).zip(vals.par_chunks_mut(per)).enumerate().for_each_init(|| vec![0.0f64; g.ow], run)
        });
    } else {
        let mut best = vec![0.0f64; g.ow];
        out.chunks_mut(per).zip(vals.chunks_mut(per)).enumerate().for_each(|c| run(&mut best, c));
    }
    Ok((vals, out))
}

/// Each window's maximum and its flat (y * W + x) input index, both (N, C, OH, OW): values
/// in the input's dtype, indices int64.
pub fn max_pool2d(dt: DType, x: Strided, g: &PoolGeom) -> Result<(CpuStorage, CpuStorage)> {
    let (v, i) = match dt {
        DType::F32 => {
            let (v, i) = pool_t::<f32>(x, g)?;
            (CpuStorage::from_vec(v), i)
        }
        DType::F64 => {
            let (v, i) = pool_t::<f64>(x, g)?;
            (CpuStorage::from_vec(v), i)
        }
        _ => bail!(Runtime, "internal: max_pool2d kernel got {}", dt.name()),
    };
    Ok((v, CpuStorage::from_vec(i)))
}

#[cfg(test)]
mod tests {
    use super::first_tap;

    #[test]
    fn first_tap_skips_the_padding() {
        assert_eq!(first_tap(2, 3), 2);
        assert_eq!(first_tap(-1, 1), 0);
        assert_eq!(first_tap(-2, 3), 1);
        assert_eq!(first_tap(-3, 3), 0);
    }
}
