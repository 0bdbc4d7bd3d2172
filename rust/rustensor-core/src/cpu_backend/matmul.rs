//! Batched matrix multiply over any strides: float through the `gemm` crate, integers by a
//! plain i-k-j loop. Batch dims arrive already broadcast (stride 0 where shared).
use super::elementwise::Strided;
use crate::layout::Layout;
use crate::{bail, f16, DType, Element, Result};
use rayon::prelude::*;

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
    let flops = 2 * m * n * k.max(1) * batches;
    macro_rules! float_case {
        ($T:ty) => {{
            let (po, pa, pb) = (P(out.ptr as *mut $T), P(a.ptr as *mut $T), P(b.ptr as *mut $T));
            let one_gemm = |bi: usize, par: gemm::Parallelism| {
                let (po, pa, pb) = (po, pa, pb);
                // SAFETY: offsets and strides describe in-bounds matrices of validated layouts;
                // each batch's output matrix is disjoint from every other's.
                unsafe {
                    if k == 0 {
                        for i in 0..m as isize {
                            for j in 0..n as isize {
                                *po.0.offset(oo[bi] + i * ors + j * ocs) = <$T as Element>::from_f64(0.0);
                            }
                        }
                        return;
                    }
                    gemm::gemm(
                        m,
                        n,
                        k,
                        po.0.offset(oo[bi]),
                        ocs,
                        ors,
                        false,
                        pa.0.offset(ao[bi]) as *const $T,
                        acs,
                        ars,
                        pb.0.offset(bo[bi]) as *const $T,
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
            if threads > 1 && flops >= 1 << 18 {
                let pool = super::parallel::pool();
                if batches >= threads {
                    pool.install(|| (0..batches).into_par_iter().for_each(|bi| one_gemm(bi, gemm::Parallelism::None)));
                } else {
                    pool.install(|| (0..batches).for_each(|bi| one_gemm(bi, gemm::Parallelism::Rayon(threads))));
                }
            } else {
                (0..batches).for_each(|bi| one_gemm(bi, gemm::Parallelism::None));
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
