//! 2-d convolution kernels: im2col into a per-thread buffer feeding `gemm`, and the three
//! backward products (col2im of Wᵀ·grad, grad·colsᵀ, the bias sum), batched over N and groups.
//!
//! The input is read through its strides (any layout); weight, output and gradients are
//! contiguous (the op makes them so). Work is split over the batch on the rayon pool when
//! there are at least as many images as threads; otherwise each gemm gets the threads.
use super::elementwise::Strided;
use super::math::Float;
use crate::{bail, DType, Result};
use rayon::prelude::*;

/// Everything the kernels need to know about one convolution, all checked by the op.
#[derive(Clone, Copy, Debug)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: [usize; 2],
    /// Zeros added before the first row and column (the trailing ones only shape `oh`/`ow`).
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Geom {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn og(&self) -> usize {
        self.o / self.groups
    }
    /// Rows of the column matrix of one group: input channels of the group times taps.
    fn k(&self) -> usize {
        self.cg() * self.kh * self.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    fn flops(&self) -> usize {
        2usize.saturating_mul(self.n).saturating_mul(self.o).saturating_mul(self.k()).saturating_mul(self.l())
    }
}

#[derive(Clone, Copy)]
struct P<T>(*mut T);
// SAFETY: each parallel task writes only its own image's slice of the output (or its own
// private accumulator); shared inputs are only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}

/// Input element strides (batch, channel, row, column) and base offset.
#[derive(Clone, Copy)]
struct XView {
    off: isize,
    s: [isize; 4],
}

fn xview(x: &Strided) -> Result<XView> {
    let l = x.layout;
    if l.ndim() != 4 {
        bail!(Runtime, "internal: conv2d kernel expects a 4-d input");
    }
    Ok(XView { off: l.offset as isize, s: [l.strides[0], l.strides[1], l.strides[2], l.strides[3]] })
}

/// The output columns `[lo, hi)` whose input column `ox * stride + off` lies in `[0, len)`.
fn valid_range(off: isize, stride: usize, len: usize, out: usize) -> (usize, usize) {
    let s = stride as isize;
    // smallest ox with ox*s + off >= 0
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    // largest ox with ox*s + off <= len-1, plus one
    let last = len as isize - 1 - off;
    let hi = if last < 0 { 0 } else { last / s + 1 };
    let lo = (lo.max(0) as usize).min(out);
    let hi = (hi.max(0) as usize).min(out);
    (lo, hi.max(lo))
}

/// Each tap row's and tap column's input offset and the valid output range (`valid_range`),
/// worked out once per call: the divisions inside cost more than the copies for small images
/// (a 4x4 image: 288 column rows of 16 entries each per image).
pub(crate) struct Taps {
    y: Vec<(isize, usize, usize)>,
    x: Vec<(isize, usize, usize)>,
}

/// Per tap of one spatial dim (`k` taps, `dilation` apart, after `pad`): its input offset and
/// the output positions `[lo, hi)` whose tap lands in `[0, len)`. Max pooling reads it too.
pub(crate) fn tap_table(k: usize, dilation: usize, pad: usize, stride: usize, len: usize, out: usize) -> Vec<(isize, usize, usize)> {
    (0..k)
        .map(|i| {
            let off = (i * dilation) as isize - pad as isize;
            let (lo, hi) = valid_range(off, stride, len, out);
            (off, lo, hi)
        })
        .collect()
}

fn taps(g: &Geom) -> Taps {
    Taps {
        y: tap_table(g.kh, g.dilation[0], g.pad[0], g.stride[0], g.h, g.oh),
        x: tap_table(g.kw, g.dilation[1], g.pad[1], g.stride[1], g.w, g.ow),
    }
}

/// Fills `cols` (K x L, row-major) with group `gi` of image `ni`: row (c, i, j), column
/// (oy, ox) holds x[ni, gi*cg + c, oy*sh + i*dh - ph, ox*sw + j*dw - pw] or 0 outside.
///
/// # Safety
/// `x` with `v` must address a valid input of the geometry `g`.
unsafe fn im2col<T: Float>(x: *const T, v: XView, g: &Geom, tp: &Taps, ni: usize, gi: usize, cols: &mut [T]) {
    // SAFETY: the caller's contract; the whole image is the slice [0, L)
    unsafe { im2col_seg(x, v, g, tp, ni, gi, 0, g.l(), cols, g.l(), 0) }
}

/// Adds `cols` (K x L) back into the contiguous input gradient of image `ni`, group `gi`:
/// the adjoint of [`im2col`] (taps that read padding drop out).
///
/// # Safety
/// `gx` must address a contiguous (N, C, H, W) buffer of the geometry `g`, and no other
/// thread may write image `ni` meanwhile.
unsafe fn col2im<T: Float>(cols: &[T], gx: *mut T, g: &Geom, tp: &Taps, ni: usize, gi: usize) {
    let (l, ow) = (g.l(), g.ow);
    let mut row = 0;
    for c in 0..g.cg() {
        let base = ((ni * g.c + gi * g.cg() + c) * g.h * g.w) as isize;
        for &(yoff, ylo, yhi) in &tp.y {
            for &(xoff, xlo, xhi) in &tp.x {
                let src = &cols[row * l..(row + 1) * l];
                for oy in ylo..yhi {
                    let iy = (oy * g.stride[0]) as isize + yoff;
                    let dst = gx.offset(base + iy * g.w as isize + xlo as isize * g.stride[1] as isize + xoff);
                    let step = g.stride[1] as isize;
                    for (k, s) in src[oy * ow + xlo..oy * ow + xhi].iter().enumerate() {
                        let d = dst.offset(k as isize * step);
                        *d = *d + *s;
                    }
                }
                row += 1;
            }
        }
    }
}

/// `dst (m x n) = [dst +] a (m x k) · b (k x n)`, each given as (pointer, row stride, column stride).
///
/// # Safety
/// All three matrices must be in bounds for their strides; `dst` must not alias `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn mm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    dst: (*mut T, isize, isize),
    acc: bool,
    a: (*const T, isize, isize),
    b: (*const T, isize, isize),
    par: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            for i in 0..m as isize {
                for j in 0..n as isize {
                    *dst.0.offset(i * dst.1 + j * dst.2) = T::ZERO;
                }
            }
        }
        return;
    }
    gemm::gemm(m, n, k, dst.0, dst.2, dst.1, acc, a.0, a.2, a.1, b.0, b.2, b.1, T::ONE, T::ONE, false, false, false, par);
}

/// How to spread the work: over images when there are enough of them, else inside gemm.
fn split(g: &Geom) -> (bool, gemm::Parallelism) {
    let threads = super::parallel::num_threads();
    if threads <= 1 || g.flops() < 1 << 18 {
        (false, gemm::Parallelism::None)
    } else if g.n >= threads {
        (true, gemm::Parallelism::None)
    } else {
        (false, gemm::Parallelism::Rayon(threads))
    }
}

fn alloc_cols<T: Float>(g: &Geom) -> Result<Vec<T>> {
    let n = g.k().checked_mul(g.l());
    match n {
        Some(n) => Ok(vec![T::ZERO; n]),
        None => bail!(Runtime, "conv2d: the column buffer of {} x {} elements overflows", g.k(), g.l()),
    }
}

/// Fills columns `[c0, c0 + l1 - l0)` of `cols` (K rows of `ld` elements) with output positions
/// `[l0, l1)` of image `ni`, group `gi`: the same entries as [`im2col`], for a slice of the image.
///
/// # Safety
/// `x` with `v` must address a valid input of the geometry `g`; `cols` must hold K rows of `ld`.
#[allow(clippy::too_many_arguments)]
unsafe fn im2col_seg<T: Float>(x: *const T, v: XView, g: &Geom, tp: &Taps, ni: usize, gi: usize, l0: usize, l1: usize, cols: &mut [T], ld: usize, c0: usize) {
    debug_assert!(cols.len() >= g.k() * ld);
    let ow = g.ow;
    let zero = T::ZERO;
    let mut row = 0;
    for c in 0..g.cg() {
        let base = v.off + ni as isize * v.s[0] + (gi * g.cg() + c) as isize * v.s[1];
        for &(yoff, ylo, yhi) in &tp.y {
            for &(xoff, xlo, xhi) in &tp.x {
                let dst = cols.as_mut_ptr().add(row * ld + c0);
                let (oy0, oy1) = (l0 / ow, l1.div_ceil(ow));
                for oy in oy0..oy1 {
                    let ox0 = if oy == oy0 { l0 - oy * ow } else { 0 };
                    let ox1 = ow.min(l1 - oy * ow);
                    let seg = dst.add(oy * ow + ox0 - l0);
                    if oy < ylo || oy >= yhi {
                        for k in 0..ox1 - ox0 {
                            *seg.add(k) = zero;
                        }
                        continue;
                    }
                    let a = ox0.max(xlo).min(ox1);
                    let b = ox1.min(xhi).max(a);
                    for k in 0..a - ox0 {
                        *seg.add(k) = zero;
                    }
                    for k in b - ox0..ox1 - ox0 {
                        *seg.add(k) = zero;
                    }
                    let iy = (oy * g.stride[0]) as isize + yoff;
                    let src = x.offset(base + iy * v.s[2] + (a as isize * g.stride[1] as isize + xoff) * v.s[3]);
                    let step = g.stride[1] as isize * v.s[3];
                    let part = seg.add(a - ox0);
                    if step == 1 {
                        for k in 0..b - a {
                            *part.add(k) = *src.add(k);
                        }
                    } else {
                        for k in 0..b - a {
                            *part.add(k) = *src.offset(k as isize * step);
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// How the forward pass splits the (image, position) columns into blocks: `(images per block,
/// position pieces per image)`. A block's column matrix (K x width) stays in a core's L2; a
/// large image is cut into pieces, small images go several to a block (the later layers of a
/// CNN: one gemm per 4x4 image was 16 columns wide), and there are enough blocks, of equal
/// size, to keep every thread busy.
fn forward_blocks(g: &Geom, threads: usize) -> (usize, usize) {
    let l = g.l().max(1);
    let fit = ((1024 * 1024) / (g.k().max(1) * 4)).clamp(16, 4096);
    // from 64 positions on, a gemm per image writing the output directly beats grouping
    // images through a staging buffer (measured on the digits CNN's 8x8 first layer)
    if l >= fit || l >= 64 {
        (1, l.div_ceil(fit))
    } else {
        let per = (fit / l).max(1);
        let spread = g.n.div_ceil(2 * threads.max(1)).max(1);
        let per = per.min(spread);
        // a block count that is a multiple of the threads, the images spread evenly over it
        let t = threads.max(1);
        let count = g.n.div_ceil(per).div_ceil(t).saturating_mul(t).clamp(1, g.n.max(1));
        (g.n.div_ceil(count).max(1), 1)
    }
}

fn forward_t<T: Float>(x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &Geom) -> Result<()> {
    let v = xview(&x)?;
    let tp = taps(g);
    let (k, l, og) = (g.k(), g.l(), g.og());
    let total = g.n * l;
    if total == 0 {
        return Ok(());
    }
    let (px, pw, po) = (P(x.ptr as *mut T), P(w.ptr as *mut T), P(out.ptr as *mut T));
    let pb = bias.map(|b| (P(b.ptr as *mut T), b.layout.offset as isize, b.layout.strides.first().copied().unwrap_or(0)));
    let wo = w.layout.offset as isize;
    let oo = out.layout.offset as isize;
    let threads = if g.flops() < 1 << 18 { 1 } else { super::parallel::num_threads() };
    let (ipb, pieces) = forward_blocks(g, threads);
    let piece = l.div_ceil(pieces);
    let bw = ipb * piece;
    let nblocks = g.n.div_ceil(ipb) * pieces;
    if k.checked_mul(bw).and_then(|v| v.checked_add(og * bw)).is_none() {
        bail!(Runtime, "conv2d: the column buffer of {k} x {bw} elements overflows");
    }
    // A block covers images [n0, n1) at positions [l0, l1) (one image when it is a piece);
    // it writes only those columns of the output.
    let block = |bi: usize, bufs: &mut (Vec<T>, Vec<T>)| {
        let (px, pw, po) = (px, pw, po);
        let (cols, tmp) = bufs;
        let (nb, pc) = (bi / pieces, bi % pieces);
        let (n0, n1) = (nb * ipb, ((nb + 1) * ipb).min(g.n));
        let (l0, l1) = (pc * piece, ((pc + 1) * piece).min(l));
        let lw = l1 - l0;
        let cw = (n1 - n0) * lw;
        if cw == 0 {
            return;
        }
        for gi in 0..g.groups {
            // SAFETY: the op checked the geometry against the input's layout; the output
            // columns of this block and group are written by this block only.
            unsafe {
                for ni in n0..n1 {
                    im2col_seg(px.0, v, g, &tp, ni, gi, l0, l1, cols, cw, (ni - n0) * lw);
                }
                let a = (pw.0.offset(wo + (gi * og * k) as isize) as *const T, k as isize, 1);
                let bias_of = |r: usize| pb.map(|(pb, boff, bs)| *pb.0.offset(boff + (gi * og + r) as isize * bs));
                if n1 - n0 == 1 {
                    // straight into the output rows of the image (row stride L)
                    let dst = po.0.offset(oo + ((n0 * g.o + gi * og) * l + l0) as isize);
                    for r in 0..og {
                        if let Some(b) = bias_of(r) {
                            std::slice::from_raw_parts_mut(dst.add(r * l), cw).fill(b);
                        }
                    }
                    mm(og, cw, k, (dst, l as isize, 1), pb.is_some(), a, (cols.as_ptr(), cw as isize, 1), gemm::Parallelism::None);
                } else {
                    // whole images (lw == l): tmp is (og x images*L), each image's rows go back
                    mm(og, cw, k, (tmp.as_mut_ptr(), cw as isize, 1), false, a, (cols.as_ptr(), cw as isize, 1), gemm::Parallelism::None);
                    for r in 0..og {
                        let b = bias_of(r).unwrap_or(T::ZERO);
                        for ni in n0..n1 {
                            let src = &tmp[r * cw + (ni - n0) * l..r * cw + (ni - n0 + 1) * l];
                            let dst = std::slice::from_raw_parts_mut(po.0.offset(oo + ((ni * g.o + gi * og + r) * l) as isize), l);
                            for (d, s) in dst.iter_mut().zip(src) {
                                *d = *s + b;
                            }
                        }
                    }
                }
            }
        }
    };
    let fresh = || (vec![T::ZERO; k * bw], vec![T::ZERO; og * bw]);
    if threads > 1 && nblocks > 1 {
        super::parallel::pool().install(|| (0..nblocks).into_par_iter().for_each_init(fresh, |bufs, bi| block(bi, bufs)));
    } else {
        let mut bufs = fresh();
        (0..nblocks).for_each(|bi| block(bi, &mut bufs));
    }
    Ok(())
}

/// `out = conv2d(x, w) (+ bias)`; `out` contiguous (N, O, OH, OW), `w` contiguous.
pub fn conv2d(dt: DType, x: Strided, w: Strided, bias: Option<Strided>, out: Strided, g: &Geom) -> Result<()> {
    match dt {
        DType::F32 => forward_t::<f32>(x, w, bias, out, g),
        DType::F64 => forward_t::<f64>(x, w, bias, out, g),
        _ => bail!(Runtime, "internal: conv2d kernel got {}", dt.name()),
    }
}

fn grad_input_t<T: Float>(w: Strided, gout: Strided, gx: Strided, g: &Geom) -> Result<()> {
    let tp = taps(g);
    let (k, l, og) = (g.k(), g.l(), g.og());
    let (pw, pg, px) = (P(w.ptr as *mut T), P(gout.ptr as *mut T), P(gx.ptr as *mut T));
    let (wo, go, xo) = (w.layout.offset as isize, gout.layout.offset as isize, gx.layout.offset as isize);
    let (par_n, par_gemm) = split(g);
    let image = |ni: usize, cols: &mut Vec<T>| {
        let (pw, pg, px) = (pw, pg, px);
        // SAFETY: image ni of the contiguous input gradient is written by this task only.
        unsafe {
            let img = px.0.offset(xo);
            std::slice::from_raw_parts_mut(img.add(ni * g.c * g.h * g.w), g.c * g.h * g.w).fill(T::ZERO);
            for gi in 0..g.groups {
                // Wᵀ of the group: element (kk, r) is w[gi*og + r, kk]
                let a = (pw.0.offset(wo + (gi * og * k) as isize) as *const T, 1, k as isize);
                let b = (pg.0.offset(go + ((ni * g.o + gi * og) * l) as isize) as *const T, l as isize, 1);
                mm(k, l, og, (cols.as_mut_ptr(), l as isize, 1), false, a, b, par_gemm);
                col2im(cols, img, g, &tp, ni, gi);
            }
        }
    };
    if par_n {
        let cols0 = alloc_cols::<T>(g)?;
        super::parallel::pool().install(|| (0..g.n).into_par_iter().for_each_init(|| cols0.clone(), |cols, ni| image(ni, cols)));
    } else {
        let mut cols = alloc_cols::<T>(g)?;
        let mut run = || (0..g.n).for_each(|ni| image(ni, &mut cols));
        if matches!(par_gemm, gemm::Parallelism::Rayon(_)) {
            super::parallel::pool().install(run);
        } else {
            run();
        }
    }
    Ok(())
}

/// `gx = col2im(Wᵀ · gout)`: the input gradient, written whole into contiguous `gx`.
pub fn conv2d_grad_input(dt: DType, w: Strided, gout: Strided, gx: Strided, g: &Geom) -> Result<()> {
    match dt {
        DType::F32 => grad_input_t::<f32>(w, gout, gx, g),
        DType::F64 => grad_input_t::<f64>(w, gout, gx, g),
        _ => bail!(Runtime, "internal: conv2d backward kernel got {}", dt.name()),
    }
}

fn grad_weight_t<T: Float>(x: Strided, gout: Strided, gw: Strided, g: &Geom) -> Result<()> {
    let v = xview(&x)?;
    let tp = taps(g);
    let (k, l, og) = (g.k(), g.l(), g.og());
    let wlen = g.o * k;
    let (px, pg) = (P(x.ptr as *mut T), P(gout.ptr as *mut T));
    let go = gout.layout.offset as isize;
    let (par_n, par_gemm) = split(g);
    // acc (per group Og x K, column-major) += gout[ni] (Og x L) · cols[ni]ᵀ (L x K). gemm is
    // about 3.5x faster writing this product column-major than row-major (it transposes a
    // row-major destination, and the transposed problem packs the long L badly: 530 against
    // 150 us per image at 32x1024x144); the accumulator is transposed into `gw` once at the end.
    let image = |ni: usize, acc: &mut [T], cols: &mut [T]| {
        let (px, pg) = (px, pg);
        for gi in 0..g.groups {
            // SAFETY: the geometry matches the input's layout; `acc` is this task's own.
            unsafe {
                im2col(px.0, v, g, &tp, ni, gi, cols);
                let a = (pg.0.offset(go + ((ni * g.o + gi * og) * l) as isize) as *const T, l as isize, 1);
                let b = (cols.as_ptr(), 1, l as isize);
                mm(og, k, l, (acc.as_mut_ptr().add(gi * og * k), 1, og as isize), true, a, b, par_gemm);
            }
        }
    };
    let total: Vec<T> = if par_n {
        let cols0 = alloc_cols::<T>(g)?;
        super::parallel::pool().install(|| {
            (0..g.n)
                .into_par_iter()
                .fold(
                    || (vec![T::ZERO; wlen], cols0.clone()),
                    |(mut acc, mut cols), ni| {
                        image(ni, &mut acc, &mut cols);
                        (acc, cols)
                    },
                )
                .map(|(acc, _)| acc)
                .reduce(
                    || vec![T::ZERO; wlen],
                    |mut a, b| {
                        a.iter_mut().zip(&b).for_each(|(x, y)| *x = *x + *y);
                        a
                    },
                )
        })
    } else {
        let mut cols = alloc_cols::<T>(g)?;
        let mut acc = vec![T::ZERO; wlen];
        let mut run = || (0..g.n).for_each(|ni| image(ni, &mut acc, &mut cols));
        if matches!(par_gemm, gemm::Parallelism::Rayon(_)) {
            super::parallel::pool().install(run);
        } else {
            run();
        }
        acc
    };
    // SAFETY: `gw` is a contiguous (O, Cg, kh, kw) buffer of exactly `wlen` elements.
    let dst = unsafe { std::slice::from_raw_parts_mut((gw.ptr as *mut T).add(gw.layout.offset), wlen) };
    for gi in 0..g.groups {
        let (src, out) = (&total[gi * og * k..(gi + 1) * og * k], &mut dst[gi * og * k..(gi + 1) * og * k]);
        for o in 0..og {
            for p in 0..k {
                out[o * k + p] = src[p * og + o];
            }
        }
    }
    Ok(())
}

/// `gw = Σₙ gout[n] · cols[n]ᵀ` per group, into contiguous `gw` (O, C/groups, kh, kw).
pub fn conv2d_grad_weight(dt: DType, x: Strided, gout: Strided, gw: Strided, g: &Geom) -> Result<()> {
    match dt {
        DType::F32 => grad_weight_t::<f32>(x, gout, gw, g),
        DType::F64 => grad_weight_t::<f64>(x, gout, gw, g),
        _ => bail!(Runtime, "internal: conv2d backward kernel got {}", dt.name()),
    }
}

fn grad_bias_t<T: Float>(gout: Strided, gb: Strided, g: &Geom) {
    let l = g.l();
    let src = gout.ptr as *const T;
    let go = gout.layout.offset as isize;
    let dst = gb.ptr as *mut T;
    let bo = gb.layout.offset as isize;
    for o in 0..g.o {
        // float64 partial sums keep float32 bias gradients as accurate as torch's
        let mut s = 0.0f64;
        for ni in 0..g.n {
            // SAFETY: row (ni, o) of the contiguous output gradient has `l` elements.
            let row = unsafe { std::slice::from_raw_parts(src.offset(go + ((ni * g.o + o) * l) as isize), l) };
            s += row.iter().fold(T::ZERO, |a, &b| a + b).to_f64();
        }
        // SAFETY: `gb` holds O contiguous elements.
        unsafe { *dst.offset(bo + o as isize) = T::from_f64(s) };
    }
}

/// `gb[o] = Σ gout[:, o, :, :]` into contiguous `gb` (O).
pub fn conv2d_grad_bias(dt: DType, gout: Strided, gb: Strided, g: &Geom) -> Result<()> {
    match dt {
        DType::F32 => grad_bias_t::<f32>(gout, gb, g),
        DType::F64 => grad_bias_t::<f64>(gout, gb, g),
        _ => bail!(Runtime, "internal: conv2d backward kernel got {}", dt.name()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_range;

    #[test]
    fn valid_range_clips_padding_and_stride() {
        // input length 5, output 5, tap offset -1 (padding 1): ox = 0 reads column -1
        assert_eq!(valid_range(-1, 1, 5, 5), (1, 5));
        // tap offset +1: the last output reads column 5
        assert_eq!(valid_range(1, 1, 5, 5), (0, 4));
        // stride 2, offset -1: ox*2 - 1 in [0, 5) for ox in 1..3
        assert_eq!(valid_range(-1, 2, 5, 3), (1, 3));
        // nothing valid
        assert_eq!(valid_range(7, 1, 5, 3), (0, 0));
        assert_eq!(valid_range(-9, 2, 5, 3), (3, 3));
    }
}
