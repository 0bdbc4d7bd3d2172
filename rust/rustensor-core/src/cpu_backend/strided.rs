//! Walks N strided operands over one shape in contiguous runs, in parallel chunks.
//!
//! Dims that every operand can merge are collapsed first, so a contiguous tensor is one run
//! and kernels see plain slices; broadcasting is a stride of 0.

/// Shape and per-operand strides after merging mergeable dims and dropping size-1 dims.
pub fn collapse<const N: usize>(shape: &[usize], strides: [&[isize]; N]) -> (Vec<usize>, [Vec<isize>; N]) {
    let mut out_shape: Vec<usize> = Vec::with_capacity(shape.len());
    let mut out_strides: [Vec<isize>; N] = std::array::from_fn(|_| Vec::with_capacity(shape.len()));
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            // merge d into the previous kept dim when, for every operand, stepping the
            // previous dim equals stepping d across its whole extent.
            let mergeable = (0..N).all(|k| {
                let prev = *out_strides[k].last().unwrap_or(&0);
                prev == strides[k][d] * shape[d] as isize
            });
            if mergeable {
                let n = out_shape.len();
                out_shape[n - 1] = last * shape[d];
                for k in 0..N {
                    let m = out_strides[k].len();
                    out_strides[k][m - 1] = strides[k][d];
                }
                continue;
            }
        }
        out_shape.push(shape[d]);
        for k in 0..N {
            out_strides[k].push(strides[k][d]);
        }
    }
    (out_shape, out_strides)
}

/// Calls `f(offsets, len, inner_strides)` for each contiguous run of the iteration space
/// `shape`, in row-major order within a chunk; chunks may run in parallel when
/// `parallel` is set. Offsets are element offsets from each operand's base.
pub fn for_each_run<const N: usize, F>(shape: &[usize], strides: [&[isize]; N], base: [isize; N], parallel: bool, f: F)
where
    F: Fn([isize; N], usize, [isize; N]) + Sync,
{
    let total: usize = shape.iter().product();
    if total == 0 {
        return;
    }
    let (cshape, cstrides) = collapse(shape, strides);
    if cshape.is_empty() {
        f(base, 1, [0; N]);
        return;
    }
    let nd = cshape.len();
    let inner = cshape[nd - 1];
    let inner_strides: [isize; N] = std::array::from_fn(|k| cstrides[k][nd - 1]);
    let run_chunk = |start: usize, end: usize| {
        // multi-index of `start`
        let mut idx = vec![0usize; nd];
        let mut rem = start;
        for d in (0..nd).rev() {
            idx[d] = rem % cshape[d];
            rem /= cshape[d];
        }
        let mut offs: [isize; N] = std::array::from_fn(|k| {
            base[k] + (0..nd).map(|d| idx[d] as isize * cstrides[k][d]).sum::<isize>()
        });
        let mut pos = start;
        while pos < end {
            let len = (inner - idx[nd - 1]).min(end - pos);
            f(offs, len, inner_strides);
            pos += len;
            // advance the multi-index by `len` along the last dim, carrying outward
            idx[nd - 1] += len;
            for k in 0..N {
                offs[k] += len as isize * inner_strides[k];
            }
            let mut d = nd - 1;
            while idx[d] == cshape[d] && d > 0 {
                for k in 0..N {
                    offs[k] -= cshape[d] as isize * cstrides[k][d];
                    offs[k] += cstrides[k][d - 1];
                }
                idx[d] = 0;
                idx[d - 1] += 1;
                d -= 1;
            }
        }
    };
    if parallel {
        super::parallel::par_ranges(total, run_chunk);
    } else {
        run_chunk(0, total);
    }
}

/// Offsets of every index of a sub-layout in row-major order (relative to 0).
pub fn offsets(shape: &[usize], strides: &[isize]) -> Vec<isize> {
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let nd = shape.len();
    let mut idx = vec![0usize; nd];
    let mut off = 0isize;
    for _ in 0..n {
        out.push(off);
        let mut d = nd;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            off += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= strides[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn collapse_contiguous_to_one_dim() {
        let (s, st) = collapse(&[2, 3, 4], [&[12, 4, 1], &[12, 4, 1]]);
        assert_eq!(s, vec![24]);
        assert_eq!(st[0], vec![1]);
    }

    #[test]
    fn collapse_keeps_transposed() {
        let (s, st) = collapse(&[3, 2], [&[1, 3]]);
        assert_eq!(s, vec![3, 2]);
        assert_eq!(st[0], vec![1, 3]);
    }

    #[test]
    fn runs_visit_every_offset_once() {
        // a transposed (4, 3) view of a (3, 4) buffer, plus a broadcast operand
        let seen = Mutex::new(Vec::new());
        for_each_run(&[4, 3], [&[1, 4], &[1, 0]], [0, 0], false, |o, len, st| {
            for i in 0..len as isize {
                seen.lock().unwrap().push((o[0] + i * st[0], o[1] + i * st[1]));
            }
        });
        let v = seen.into_inner().unwrap();
        let expect: Vec<(isize, isize)> =
            (0..4).flat_map(|i| (0..3).map(move |j| (i + 4 * j, i))).collect();
        assert_eq!(v, expect);
    }

    #[test]
    fn parallel_chunks_cover_everything() {
        let n = 1 << 17;
        let hits = (0..n).map(|_| std::sync::atomic::AtomicU8::new(0)).collect::<Vec<_>>();
        for_each_run(&[n / 128, 128], [&[128, 1]], [0], true, |o, len, st| {
            for i in 0..len as isize {
                hits[(o[0] + i * st[0]) as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        assert!(hits.iter().all(|h| h.load(std::sync::atomic::Ordering::Relaxed) == 1));
    }
}
