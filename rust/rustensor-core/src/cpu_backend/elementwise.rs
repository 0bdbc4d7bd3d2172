//! Elementwise kernels over any strides: unary, binary, where, cast/copy and fill.
//!
//! Inputs arrive already broadcast to the output's shape (stride 0) and already in the
//! compute dtype; each op picks a monomorphised closure once, outside the loops.
use super::parallel::par_ranges;
use super::strided::for_each_run;
use crate::layout::Layout;
use crate::storage::CpuStorage;
use crate::op::{self, BinaryOp, UnaryOp};
use crate::{f16, with_dtype, DType, Element, Result, Scalar};

/// A base pointer into storage plus the layout to read or write through it.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    pub ptr: *mut u8,
    pub layout: &'a Layout,
    /// The device buffer when the tensor lives on the GPU (then `ptr` is null).
    pub gpu: Option<&'a std::sync::Arc<crate::wgpu_backend::Buffer>>,
}

impl<'a> Strided<'a> {
    /// The same memory read through another layout (a broadcast or a sub-view).
    pub fn relayout<'b>(&self, layout: &'b Layout) -> Strided<'b>
    where
        'a: 'b,
    {
        Strided { ptr: self.ptr, layout, gpu: self.gpu }
    }
}

#[derive(Clone, Copy)]
struct P<T>(*mut T);
// SAFETY: kernels write disjoint output elements from each chunk; inputs are only read.
unsafe impl<T> Send for P<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for P<T> {}

pub(crate) fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static F: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *F.get_or_init(|| is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}
pub(crate) fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static F: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *F.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

// Contiguous loops are compiled three times (AVX-512, AVX2, baseline) and picked at run
// time, so one wheel runs everywhere and vectorises as wide as the CPU allows.
#[cfg(target_arch = "x86_64")]
mod wide {
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn loop1_512<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
        for i in 0..len {
            *po.add(i) = f(*pa.add(i));
        }
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn loop1_256<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
        for i in 0..len {
            *po.add(i) = f(*pa.add(i));
        }
    }
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn loop2_512<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
        for i in 0..len {
            *po.add(i) = f(*pa.add(i), *pb.add(i));
        }
    }
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn alias1_512<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
        super::alias1(po, pa, len, f)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn alias1_256<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
        super::alias1(po, pa, len, f)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub unsafe fn alias2_512<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
        super::alias2(po, pa, pb, len, f)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn alias2_256<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
        super::alias2(po, pa, pb, len, f)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn loop2_256<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
        for i in 0..len {
            *po.add(i) = f(*pa.add(i), *pb.add(i));
        }
    }
}

/// Elements an in-place loop reads into registers before it writes any of them back.
const LANES: usize = 16;

/// In-place loops (`out` is one of the inputs): whole `LANES`-element groups are loaded into
/// arrays before any store, so the compiler vectorises without the overlap check that a write
/// to the memory being read makes it fall back on. (Staging through a stack buffer did the same
/// at two extra copies: `x.sub_(y)` ran at half the speed of `x - y`.)
macro_rules! lanes_loop {
    ($po:ident, $len:ident, |$i:ident| $load:expr, $f:expr) => {{
        let mut base = 0;
        while base + LANES <= $len {
            let r: [_; LANES] = {
                let $i = base;
                $load
            };
            std::ptr::write_unaligned($po.add(base) as *mut [_; LANES], r);
            base += LANES;
        }
        for $i in base..$len {
            *$po.add($i) = $f;
        }
    }};
}

#[inline(always)]
unsafe fn alias1<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
    lanes_loop!(po, len, |i| {
        let x: [T; LANES] = std::ptr::read_unaligned(pa.add(i) as *const [T; LANES]);
        x.map(f)
    }, f(*pa.add(i)))
}

#[inline(always)]
unsafe fn alias2<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
    lanes_loop!(po, len, |i| {
        let x: [T; LANES] = std::ptr::read_unaligned(pa.add(i) as *const [T; LANES]);
        let y: [T; LANES] = std::ptr::read_unaligned(pb.add(i) as *const [T; LANES]);
        std::array::from_fn(|j| f(x[j], y[j]))
    }, f(*pa.add(i), *pb.add(i)))
}

#[inline(always)]
unsafe fn contig1<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
    if po as *const u8 == pa as *const u8 {
        #[cfg(target_arch = "x86_64")]
        {
            if cpu_has_avx512() {
                return wide::alias1_512(po, pa, len, f);
            }
            if cpu_has_avx2() {
                return wide::alias1_256(po, pa, len, f);
            }
        }
        return alias1(po, pa, len, f);
    }
    contig1_fresh(po, pa, len, f)
}

#[inline(always)]
unsafe fn contig1_fresh<T: Copy, U, F: Fn(T) -> U>(po: *mut U, pa: *const T, len: usize, f: &F) {
    #[cfg(target_arch = "x86_64")]
    {
        if cpu_has_avx512() {
            return wide::loop1_512(po, pa, len, f);
        }
        if cpu_has_avx2() {
            return wide::loop1_256(po, pa, len, f);
        }
    }
    for i in 0..len {
        *po.add(i) = f(*pa.add(i));
    }
}

#[inline(always)]
unsafe fn contig2<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
    let (o, a, b) = (po as *const u8, pa as *const u8, pb as *const u8);
    if o == a || o == b {
        #[cfg(target_arch = "x86_64")]
        {
            if cpu_has_avx512() {
                return wide::alias2_512(po, pa, pb, len, f);
            }
            if cpu_has_avx2() {
                return wide::alias2_256(po, pa, pb, len, f);
            }
        }
        return alias2(po, pa, pb, len, f);
    }
    contig2_fresh(po, pa, pb, len, f)
}

#[inline(always)]
unsafe fn contig2_fresh<T: Copy, U, F: Fn(T, T) -> U>(po: *mut U, pa: *const T, pb: *const T, len: usize, f: &F) {
    #[cfg(target_arch = "x86_64")]
    {
        if cpu_has_avx512() {
            return wide::loop2_512(po, pa, pb, len, f);
        }
        if cpu_has_avx2() {
            return wide::loop2_256(po, pa, pb, len, f);
        }
    }
    for i in 0..len {
        *po.add(i) = f(*pa.add(i), *pb.add(i));
    }
}

fn same_contiguous(out: &Layout, other: &Layout) -> bool {
    other.shape == out.shape && other.is_contiguous()
}

fn is_scalar_broadcast(l: &Layout) -> bool {
    l.strides.iter().all(|&s| s == 0)
}

/// out[i] = f(a[i]) over any strides.
pub fn map1<T: Element, U: Element, F: Fn(T) -> U + Sync>(out: Strided, a: Strided, f: F) {
    let (po, pa) = (P(out.ptr as *mut U), P(a.ptr as *mut T));
    let (ol, al) = (out.layout, a.layout);
    if ol.is_contiguous() && same_contiguous(ol, al) {
        // the common case: no index arithmetic at all
        let (oo, ao) = (ol.offset, al.offset);
        par_ranges(ol.numel(), |s, e| {
            let (po, pa) = (po, pa);
            // SAFETY: both views are contiguous over numel elements from their offsets.
            unsafe { contig1(po.0.add(oo + s), (pa.0 as *const T).add(ao + s), e - s, &f) }
        });
        return;
    }
    let parallel = ol.numel() >= super::parallel::PAR_MIN_ELEMS;
    for_each_run(
        &ol.shape,
        [&ol.strides, &al.strides],
        [ol.offset as isize, al.offset as isize],
        parallel,
        |o, len, st| {
            let (po, pa) = (po, pa);
            // SAFETY: offsets come from layouts validated against their storages.
            unsafe {
                let (po, pa) = (po.0.offset(o[0]), pa.0.offset(o[1]) as *const T);
                match st {
                    [1, 1] => contig1(po, pa, len, &f),
                    [1, 0] => {
                        let v = f(*pa);
                        for i in 0..len {
                            *po.add(i) = v;
                        }
                    }
                    _ => {
                        for i in 0..len as isize {
                            *po.offset(i * st[0]) = f(*pa.offset(i * st[1]));
                        }
                    }
                }
            }
        },
    );
}

/// out[i] = f(a[i], b[i]) over any strides.
pub fn map2<T: Element, U: Element, F: Fn(T, T) -> U + Sync>(out: Strided, a: Strided, b: Strided, f: F) {
    let (po, pa, pb) = (P(out.ptr as *mut U), P(a.ptr as *mut T), P(b.ptr as *mut T));
    let (ol, al, bl) = (out.layout, a.layout, b.layout);
    if ol.is_contiguous() && same_contiguous(ol, al) {
        let (oo, ao) = (ol.offset, al.offset);
        if same_contiguous(ol, bl) {
            let bo = bl.offset;
            par_ranges(ol.numel(), |s, e| {
                let (po, pa, pb) = (po, pa, pb);
                // SAFETY: all three views are contiguous over numel elements.
                unsafe {
                    contig2(po.0.add(oo + s), (pa.0 as *const T).add(ao + s), (pb.0 as *const T).add(bo + s), e - s, &f)
                }
            });
            return;
        }
        if is_scalar_broadcast(bl) {
            // SAFETY: a broadcast scalar has one element at its offset.
            let bv = unsafe { *(pb.0 as *const T).add(bl.offset) };
            par_ranges(ol.numel(), |s, e| {
                let (po, pa) = (po, pa);
                // SAFETY: out and a are contiguous over numel elements.
                unsafe { contig1(po.0.add(oo + s), (pa.0 as *const T).add(ao + s), e - s, &|x| f(x, bv)) }
            });
            return;
        }
    }
    let parallel = ol.numel() >= super::parallel::PAR_MIN_ELEMS;
    for_each_run(
        &ol.shape,
        [&ol.strides, &al.strides, &bl.strides],
        [ol.offset as isize, al.offset as isize, bl.offset as isize],
        parallel,
        |o, len, st| {
            let (po, pa, pb) = (po, pa, pb);
            // SAFETY: offsets come from layouts validated against their storages.
            unsafe {
                let po = po.0.offset(o[0]);
                let pa = pa.0.offset(o[1]) as *const T;
                let pb = pb.0.offset(o[2]) as *const T;
                match st {
                    [1, 1, 1] => contig2(po, pa, pb, len, &f),
                    [1, 1, 0] => {
                        let bv = *pb;
                        contig1(po, pa, len, &|x| f(x, bv))
                    }
                    [1, 0, 1] => {
                        let av = *pa;
                        contig1(po, pb, len, &|y| f(av, y))
                    }
                    _ => {
                        for i in 0..len as isize {
                            *po.offset(i * st[0]) = f(*pa.offset(i * st[1]), *pb.offset(i * st[2]));
                        }
                    }
                }
            }
        },
    );
}

/// out[i] = if c[i] { a[i] } else { b[i] }.
pub fn map_where<T: Element>(out: Strided, c: Strided, a: Strided, b: Strided) {
    let (po, pc, pa, pb) = (P(out.ptr as *mut T), P(c.ptr as *mut bool), P(a.ptr as *mut T), P(b.ptr as *mut T));
    let parallel = out.layout.numel() >= super::parallel::PAR_MIN_ELEMS;
    for_each_run(
        &out.layout.shape,
        [&out.layout.strides, &c.layout.strides, &a.layout.strides, &b.layout.strides],
        [out.layout.offset as isize, c.layout.offset as isize, a.layout.offset as isize, b.layout.offset as isize],
        parallel,
        |o, len, st| {
            let (po, pc, pa, pb) = (po, pc, pa, pb);
            // SAFETY: offsets come from validated layouts; bools hold 0/1.
            unsafe {
                for i in 0..len as isize {
                    // both loads unconditional: a select, not a mispredicted branch on random masks
                    let c = *pc.0.offset(o[1] + i * st[1]);
                    let av = *pa.0.offset(o[2] + i * st[2]);
                    let bv = *pb.0.offset(o[3] + i * st[3]);
                    *po.0.offset(o[0] + i * st[0]) = if c { av } else { bv };
                }
            }
        },
    );
}

/// Copies `a` (dtype `src`) into `out` (dtype `dst`), converting; also the plain copy.
pub fn cast(out: Strided, dst: DType, a: Strided, src: DType) {
    let (ol, al) = (out.layout, a.layout);
    if ol.is_contiguous() && same_contiguous(ol, al) && matches!((src, dst), (DType::F16, DType::F32) | (DType::F32, DType::F16)) {
        // whole slices through the `half` crate's converters (F16C where the CPU has it)
        use half::slice::HalfFloatSliceExt;
        let (po, pa) = (P(out.ptr), P(a.ptr));
        let (oo, ao) = (ol.offset, al.offset);
        par_ranges(ol.numel(), |s, e| {
            let (po, pa) = (po, pa);
            // SAFETY: both views are contiguous over numel elements of their dtypes, in
            // different storages (a cast never writes over its own input).
            unsafe {
                if src == DType::F16 {
                    let x = std::slice::from_raw_parts((pa.0 as *const f16).add(ao + s), e - s);
                    x.convert_to_f32_slice(std::slice::from_raw_parts_mut((po.0 as *mut f32).add(oo + s), e - s));
                } else {
                    let y = std::slice::from_raw_parts_mut((po.0 as *mut f16).add(oo + s), e - s);
                    y.convert_from_f32_slice(std::slice::from_raw_parts((pa.0 as *const f32).add(ao + s), e - s));
                }
            }
        });
        return;
    }
    with_dtype!(src, S, with_dtype!(dst, D, map1::<S, D, _>(out, a, |x: S| x.cast::<D>())))
}

/// A float16 op computed as torch computes it, in float32 with one rounding at the end, but
/// by whole arrays: the inputs (already broadcast to `out`'s shape) are widened into
/// contiguous float32 buffers, `run` applies the float32 kernel, and the result is narrowed
/// into `out`. Element for element this equals converting inside the kernel; it is several
/// times faster because the float32 kernels vectorise and the conversions use F16C.
/// With `narrow` false the kernel writes `out` directly (its result is not float16).
fn via_f32(half: DType, out: Strided, ins: &[Strided], narrow: bool, run: impl FnOnce(Strided, &[Strided]) -> Result<()>) -> Result<()> {
    let n = out.layout.numel();
    let tl = Layout::contiguous(&out.layout.shape);
    let wide: Vec<CpuStorage> = ins.iter().map(|_| CpuStorage::uninit(n, DType::F32)).collect::<Result<_>>()?;
    for (w, x) in wide.iter().zip(ins) {
        cast(Strided { ptr: w.as_ptr(), layout: &tl, gpu: None }, DType::F32, x.relayout(x.layout), half);
    }
    let args: Vec<Strided> = wide.iter().map(|w| Strided { ptr: w.as_ptr(), layout: &tl, gpu: None }).collect();
    if !narrow {
        return run(out, &args);
    }
    let res = CpuStorage::uninit(n, DType::F32)?;
    run(Strided { ptr: res.as_ptr(), layout: &tl, gpu: None }, &args)?;
    cast(out, half, Strided { ptr: res.as_ptr(), layout: &tl, gpu: None }, DType::F32);
    Ok(())
}

pub fn fill(out: Strided, dt: DType, value: Scalar) {
    with_dtype!(dt, T, {
        let v = T::from_scalar(value);
        map1::<T, T, _>(out, out, move |_| v)
    })
}

pub fn binary(op: BinaryOp, dt: DType, out: Strided, a: Strided, b: Strided) -> Result<()> {
    match dt {
        // comparisons are exact on the halves themselves; arithmetic computes in float32
        DType::F16 if op.is_comparison() => op::binary_cpu_half_cmp(op, out, a, b),
        DType::F16 => {
            via_f32(DType::F16, out, &[a, b], true, |o, x| op::binary_cpu_float::<f32>(op, o, x[0].relayout(x[0].layout), x[1].relayout(x[1].layout)))
        }
        // bfloat16 widens to float32 exactly, so comparisons too run on the widened values
        DType::BF16 => via_f32(DType::BF16, out, &[a, b], !op.is_comparison(), |o, x| {
            op::binary_cpu_float::<f32>(op, o, x[0].relayout(x[0].layout), x[1].relayout(x[1].layout))
        }),
        DType::F32 => op::binary_cpu_float::<f32>(op, out, a, b),
        DType::F64 => op::binary_cpu_float::<f64>(op, out, a, b),
        DType::U8 => op::binary_cpu_int::<u8>(op, out, a, b),
        DType::I8 => op::binary_cpu_int::<i8>(op, out, a, b),
        DType::I16 => op::binary_cpu_int::<i16>(op, out, a, b),
        DType::I32 => op::binary_cpu_int::<i32>(op, out, a, b),
        DType::I64 => op::binary_cpu_int::<i64>(op, out, a, b),
        DType::Bool => op::binary_cpu_bool(op, out, a, b),
    }
}

/// `dt` is the input dtype (already float for float-only ops).
pub fn unary(op: UnaryOp, dt: DType, out: Strided, a: Strided) -> Result<()> {
    match dt {
        // a predicate's bool result is not narrowed back to float16
        DType::F16 | DType::BF16 => via_f32(dt, out, &[a], op.out_dtype(dt) == dt, |o, x| op::unary_cpu_float::<f32>(op, o, x[0].relayout(x[0].layout))),
        DType::F32 => op::unary_cpu_float::<f32>(op, out, a),
        DType::F64 => op::unary_cpu_float::<f64>(op, out, a),
        DType::U8 => op::unary_cpu_int::<u8>(op, out, a),
        DType::I8 => op::unary_cpu_int::<i8>(op, out, a),
        DType::I16 => op::unary_cpu_int::<i16>(op, out, a),
        DType::I32 => op::unary_cpu_int::<i32>(op, out, a),
        DType::I64 => op::unary_cpu_int::<i64>(op, out, a),
        DType::Bool => op::unary_cpu_bool(op, out, a),
    }
}

/// True when any element of a (dtype `dt`) is zero: integer division checks this first.
pub fn any_zero(a: Strided, dt: DType) -> bool {
    let found = std::sync::atomic::AtomicBool::new(false);
    with_dtype!(dt, T, {
        let p = P(a.ptr as *mut T);
        for_each_run(&a.layout.shape, [&a.layout.strides], [a.layout.offset as isize], false, |o, len, st| {
            // whole-struct capture: the closure must hold the Sync wrapper, not its raw field
            let p = &p;
            // SAFETY: validated layout.
            unsafe {
                for i in 0..len as isize {
                    if !(*p.0.offset(o[0] + i * st[0])).to_bool() {
                        found.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })
    });
    found.into_inner()
}

/// True when any element is negative (integer pow checks this first).
pub fn any_negative(a: Strided, dt: DType) -> bool {
    let found = std::sync::atomic::AtomicBool::new(false);
    with_dtype!(dt, T, {
        let p = P(a.ptr as *mut T);
        for_each_run(&a.layout.shape, [&a.layout.strides], [a.layout.offset as isize], false, |o, len, st| {
            // whole-struct capture: the closure must hold the Sync wrapper, not its raw field
            let p = &p;
            // SAFETY: validated layout.
            unsafe {
                for i in 0..len as isize {
                    if (*p.0.offset(o[0] + i * st[0])).to_f64() < 0.0 {
                        found.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })
    });
    found.into_inner()
}

/// out[i] = f(a[i], b[i], c[i]) over any strides (`out` may be `a`: each element is read
/// before it is written, by the same thread).
pub fn map3<T: Element, F: Fn(T, T, T) -> T + Sync>(out: Strided, a: Strided, b: Strided, c: Strided, f: F) {
    let (po, pa, pb, pc) = (P(out.ptr as *mut T), P(a.ptr as *mut T), P(b.ptr as *mut T), P(c.ptr as *mut T));
    let ol = out.layout;
    let parallel = ol.numel() >= super::parallel::PAR_MIN_ELEMS;
    for_each_run(
        &ol.shape,
        [&ol.strides, &a.layout.strides, &b.layout.strides, &c.layout.strides],
        [ol.offset as isize, a.layout.offset as isize, b.layout.offset as isize, c.layout.offset as isize],
        parallel,
        |o, len, st| {
            let (po, pa, pb, pc) = (po, pa, pb, pc);
            // SAFETY: offsets come from layouts validated against their storages.
            unsafe {
                let (po, pa, pb, pc) = (po.0.offset(o[0]), pa.0.offset(o[1]), pb.0.offset(o[2]), pc.0.offset(o[3]));
                if st == [1, 1, 1, 1] {
                    for i in 0..len {
                        *po.add(i) = f(*pa.add(i), *pb.add(i), *pc.add(i));
                    }
                } else {
                    for i in 0..len as isize {
                        *po.offset(i * st[0]) = f(*pa.offset(i * st[1]), *pb.offset(i * st[2]), *pc.offset(i * st[3]));
                    }
                }
            }
        },
    );
}

/// `out = op(a, b, c; v)` with all operands in `dt` (float16 computes in float32).
pub fn ternary(op: op::TernaryOp, dt: DType, v: f64, out: Strided, a: Strided, b: Strided, c: Strided) -> Result<()> {
    match dt {
        DType::F16 | DType::BF16 => via_f32(dt, out, &[a, b, c], true, |o, x| {
            ternary(op, DType::F32, v, o, x[0].relayout(x[0].layout), x[1].relayout(x[1].layout), x[2].relayout(x[2].layout))
        }),
        DType::F32 => {
            map3::<f32, _>(out, a, b, c, op::ternary_float(op, v as f32));
            Ok(())
        }
        DType::F64 => {
            map3::<f64, _>(out, a, b, c, op::ternary_float(op, v));
            Ok(())
        }
        DType::I32 => {
            map3::<i32, _>(out, a, b, c, op::ternary_int(v as i32));
            Ok(())
        }
        DType::I64 => {
            map3::<i64, _>(out, a, b, c, op::ternary_int(v as i64));
            Ok(())
        }
        // the narrow integers wrap the scalar as torch's casts do
        DType::U8 => {
            map3::<u8, _>(out, a, b, c, op::ternary_int(v as i64 as u8));
            Ok(())
        }
        DType::I8 => {
            map3::<i8, _>(out, a, b, c, op::ternary_int(v as i64 as i8));
            Ok(())
        }
        DType::I16 => {
            map3::<i16, _>(out, a, b, c, op::ternary_int(v as i64 as i16));
            Ok(())
        }
        DType::Bool => crate::bail!(Runtime, "internal error: {} launched on bool (please report)", op.name()),
    }
}
