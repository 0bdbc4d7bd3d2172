//! Batched matrix multiply over any strides: float through the `gemm` crate, integers by a
//! plain i-k-j loop. Batch dims arrive already broadcast (stride 0 where shared).
use super::elementwise::Strided;
use crate::layout::Layout;
use crate::{bail, f16, DType, Element, Result};
use super::parallel::for_each_chunk;

#[derive(Clone, Copy)]
struct P<T>(*mut T);
// SAFETY: each batch writes its own output matrix; inputs are only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}

fn batch_offsets(l: &Layout, nb: usize) -> Vec<isize> {
    let base = l.offset as isize;
    super::strided::offsets(&l.shape[..nb], &l.strides[..nb]).into_iter().map(|o| base + o).collect()
}

/// How one matmul call uses the pool (issue 15). gemm's own `Parallelism::Rayon` splits the
/// inner loops with a barrier per block, which on few cores made mid-sized and skinny shapes
/// slower with two threads than with one; splitting the output into one disjoint block per
/// thread, each a serial gemm that packs only its own part of the wide operand, has no
/// barriers at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Serial,
    /// one serial gemm per batch matrix, batches spread over the pool
    Batches,
    Gemm,
    /// each thread a band of `step` rows (or columns) of every output matrix
    Rows(usize),
    Cols(usize),
}

/// Below this many multiply-adds a call stays on the caller: handing work to the pool and
/// waiting for it costs a few microseconds, about what 1M multiply-adds take on one core.
const PAR_MIN_MACS: usize = 1 << 20;
/// A band narrower than this wastes most of gemm's register tile.
const MIN_BAND: usize = 16;
/// With two threads bands won at every shape measured (768^3 to 2048^3 and 4096x64x4096 by
/// 1.0-1.6x, README); with many threads every band would pack all of the other operand, so large
/// products keep gemm's shared packing there (not measured: no such machine here).
const GEMM_SPLIT_MIN: usize = 768;
const GEMM_SPLIT_THREADS: usize = 8;

fn plan(m: usize, n: usize, k: usize, batches: usize, threads: usize) -> Plan {
    let macs = m.saturating_mul(n).saturating_mul(k.max(1)).saturating_mul(batches);
    if threads <= 1 || macs < PAR_MIN_MACS {
        return Plan::Serial;
    }
    if batches >= threads {
        return Plan::Batches;
    }
    if threads >= GEMM_SPLIT_THREADS && m >= GEMM_SPLIT_MIN && n >= GEMM_SPLIT_MIN {
        return Plan::Gemm;
    }
    // bands along the longer output dim, rounded to whole register tiles
    let (long, rows) = if m >= n { (m, true) } else { (n, false) };
    if long < 2 * MIN_BAND {
        // both output dims tiny, k huge: nothing to split that gemm would not split worse
        return Plan::Serial;
    }
    let step = long.div_ceil(threads).div_ceil(MIN_BAND) * MIN_BAND;
    if rows {
        Plan::Rows(step)
    } else {
        Plan::Cols(step)
    }
}

/// out[b] = a[b] @ b[b]; `a` is [.., m, k], `b` is [.., k, n], `out` is [.., m, n]; all
/// three share the same batch shape.
pub fn matmul(dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    let nd = out.layout.ndim();
    if nd < 2 {
        bail!(Runtime, "matmul kernel needs 2-d operands");
    }
    let nb = nd - 2;
    let (m, n) = (out.layout.shape[nd - 2], out.layout.shape[nd - 1]);
    let k = a.layout.shape[nd - 1];
    let oo = batch_offsets(out.layout, nb);
    let ao = batch_offsets(a.layout, nb);
    let bo = batch_offsets(b.layout, nb);
    let (ors, ocs) = (out.layout.strides[nd - 2], out.layout.strides[nd - 1]);
    let (ars, acs) = (a.layout.strides[nd - 2], a.layout.strides[nd - 1]);
    let (brs, bcs) = (b.layout.strides[nd - 2], b.layout.strides[nd - 1]);
    let batches = oo.len();
    if m == 0 || n == 0 || batches == 0 {
        return Ok(());
    }
    let threads = super::parallel::num_threads();
    macro_rules! float_case {
        ($T:ty) => {{
            let (po, pa, pb) = (P(out.ptr as *mut $T), P(a.ptr as *mut $T), P(b.ptr as *mut $T));
            let one_gemm = |bi: usize, i0: usize, j0: usize, m: usize, n: usize, par: gemm::Parallelism| {
                let (po, pa, pb) = (po, pa, pb);
                // SAFETY: offsets and strides describe in-bounds matrices of validated layouts;
                // each batch's output matrix is disjoint from every other's.
                unsafe {
                    if k == 0 {
                        for i in 0..m as isize {
                            for j in 0..n as isize {
                                *po.0.offset(oo[bi] + (i0 as isize + i) * ors + (j0 as isize + j) * ocs) =
                                    <$T as Element>::from_f64(0.0);
                            }
                        }
                        return;
                    }
                    gemm::gemm(
                        m,
                        n,
                        k,
                        po.0.offset(oo[bi] + i0 as isize * ors + j0 as isize * ocs),
                        ocs,
                        ors,
                        false,
                        pa.0.offset(ao[bi] + i0 as isize * ars) as *const $T,
                        acs,
                        ars,
                        pb.0.offset(bo[bi] + j0 as isize * bcs) as *const $T,
                        bcs,
                        brs,
                        <$T as Element>::from_f64(0.0),
                        <$T as Element>::from_f64(1.0),
                        false,
                        false,
                        false,
                        par,
                    )
                }
            };
            match plan(m, n, k, batches, threads) {
                Plan::Serial => (0..batches).for_each(|bi| one_gemm(bi, 0, 0, m, n, gemm::Parallelism::None)),
                Plan::Batches => for_each_chunk(batches, |bi| one_gemm(bi, 0, 0, m, n, gemm::Parallelism::None)),
                Plan::Gemm => super::parallel::pool()
                    .install(|| (0..batches).for_each(|bi| one_gemm(bi, 0, 0, m, n, gemm::Parallelism::Rayon(threads)))),
                Plan::Rows(step) => (0..batches).for_each(|bi| {
                    for_each_chunk(m.div_ceil(step), |c| {
                        let i0 = c * step;
                        one_gemm(bi, i0, 0, step.min(m - i0), n, gemm::Parallelism::None)
                    })
                }),
                Plan::Cols(step) => (0..batches).for_each(|bi| {
                    for_each_chunk(n.div_ceil(step), |c| {
                        let j0 = c * step;
                        one_gemm(bi, 0, j0, m, step.min(n - j0), gemm::Parallelism::None)
                    })
                }),
            }
        }};
    }
    macro_rules! int_case {
        ($T:ty) => {{
            let (po, pa, pb) = (out.ptr as *mut $T, a.ptr as *const $T, b.ptr as *const $T);
            for bi in 0..batches {
                for i in 0..m as isize {
                    for j in 0..n as isize {
                        let mut acc: $T = 0;
                        for p in 0..k as isize {
                            // SAFETY: in-bounds per validated layouts.
                            unsafe {
                                acc = acc.wrapping_add(
                                    (*pa.offset(ao[bi] + i * ars + p * acs)).wrapping_mul(*pb.offset(bo[bi] + p * brs + j * bcs)),
                                );
                            }
                        }
                        // SAFETY: as above.
                        unsafe { *po.offset(oo[bi] + i * ors + j * ocs) = acc };
                    }
                }
            }
        }};
    }
    match dt {
        // gemm's float16 kernels accumulate in float32
        DType::F16 => float_case!(f16),
        DType::F32 => float_case!(f32),
        DType::F64 => float_case!(f64),
        DType::U8 => int_case!(u8),
        DType::I8 => int_case!(i8),
        DType::I16 => int_case!(i16),
        DType::I32 => int_case!(i32),
        DType::I64 => int_case!(i64),
        DType::Bool => bail!(Runtime, "\"addmm_impl_cpu_\" not implemented for 'Bool'"),
        // the op layer computes bfloat16 in float32 (gemm has no bfloat16 kernels)
        DType::BF16 => bail!(Runtime, "internal error: bfloat16 reached the matmul kernel (please report)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{plan, Plan};

    #[test]
    fn plan_by_shape() {
        // small products stay on the caller, whatever the thread count
        assert_eq!(plan(64, 10, 256, 1, 2), Plan::Serial);
        assert_eq!(plan(1000, 1000, 1000, 1, 1), Plan::Serial);
        // bands along the longer output dim, whole 16-wide tiles
        assert_eq!(plan(64, 256, 784, 1, 2), Plan::Cols(128));
        assert_eq!(plan(784, 256, 64, 1, 2), Plan::Rows(400));
        assert_eq!(plan(4096, 4096, 64, 1, 2), Plan::Rows(2048));
        assert_eq!(plan(130, 40, 300, 1, 3), Plan::Rows(48));
        // batches over the pool once there is one per thread
        assert_eq!(plan(128, 128, 128, 64, 2), Plan::Batches);
        // tiny outputs with a huge inner dim: nothing worth splitting
        assert_eq!(plan(8, 8, 1 << 20, 1, 2), Plan::Serial);
        // many threads on large products keep gemm's shared packing
        assert_eq!(plan(2048, 2048, 2048, 1, 16), Plan::Gemm);
    }
}
