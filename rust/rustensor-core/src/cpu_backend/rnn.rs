//! Fused LSTM and GRU cell math: the gate nonlinearities and the state update of one time
//! step in one pass over contiguous rows, and their backward in one pass (`ops/rnn.rs`
//! records them). Each element (row r, unit j) reads and writes only its own gate entries.
//! Operands are rows of unit stride at any row stride (a step's slice of a sequence buffer).
//!
//! Layouts (rows × hidden `h`, torch's gate order):
//! - LSTM forward: gates (rows, 4h) = [i | f | g | o] pre-activations, c (rows, h)
//!   → out (rows, 2h) = [h' | c'].
//! - LSTM backward: gates, c, out, gout (rows, 2h) → dgates (rows, 4h), dc (rows, h).
//! - GRU forward: xg (rows, 3h) = W_ih x + b_ih, hg (rows, 3h) = W_hh h + b_hh, both [r | z | n],
//!   h (rows, h) → out (rows, h).
//! - GRU backward: xg, hg, h, gout (rows, h) → dxg (rows, 3h), dhg (rows, 3h), dh (rows, h).
use super::math::Float;
use super::parallel::{for_each_chunk, row_chunks};

/// Which cell pass a launch runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    LstmForward,
    LstmBackward,
    GruForward,
    GruBackward,
}

impl CellKind {
    /// (inputs, outputs) and each operand's width in units of `h`.
    pub fn widths(self) -> (&'static [usize], &'static [usize]) {
        match self {
            CellKind::LstmForward => (&[4, 1], &[2]),
            CellKind::LstmBackward => (&[4, 1, 2, 2], &[4, 1]),
            CellKind::GruForward => (&[3, 3, 1], &[1]),
            CellKind::GruBackward => (&[3, 3, 1, 1], &[3, 3, 1]),
        }
    }
}

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// The operands of one launch: each a pointer to its first row and its row stride in
/// elements (rows are unit-stride inside, checked by the op).
pub struct CellPtrs<T> {
    pub ins: Vec<(*const T, usize)>,
    pub outs: Vec<(*mut T, usize)>,
}

// SAFETY: the pointers address distinct rows of buffers the op owns for the call; each row is
// written by one chunk only.
unsafe impl<T> Send for CellPtrs<T> {}
unsafe impl<T> Sync for CellPtrs<T> {}

/// One kernel per cell pass, each taking its operand rows as slices: compiled once per ISA
/// below, with the slices as arguments so that the compiler knows the rows do not alias
/// (without that it gave up vectorising the loops: 9 ns per LSTM unit, scalar speed).
#[allow(clippy::type_complexity)]
struct Kernels<T> {
    lstm_fwd: unsafe fn(&[T], &[T], &mut [T], usize),
    lstm_bwd: unsafe fn(&[T], &[T], &[T], &[T], &mut [T], &mut [T], usize),
    gru_fwd: unsafe fn(&[T], &[T], &[T], &mut [T], usize),
    gru_bwd: unsafe fn(&[T], &[T], &[T], &[T], &mut [T], &mut [T], &mut [T], usize),
}

// The kernels compiled for AVX-512, AVX2 and the baseline, picked at run time (as the
// elementwise kernels are): exp and tanh are branch-free polynomials that vectorise.
macro_rules! isa_kernels {
    ($m:ident $(, $feat:literal)?) => {
        #[allow(clippy::too_many_arguments)]
        mod $m {
            use super::Float;
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn lstm_fwd<T: Float>(g: &[T], c: &[T], out: &mut [T], h: usize) {
                super::lstm_forward(g, c, out, h)
            }
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn lstm_bwd<T: Float>(g: &[T], c: &[T], out: &[T], gout: &[T], dg: &mut [T], dc: &mut [T], h: usize) {
                super::lstm_backward(g, c, out, gout, dg, dc, h)
            }
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn gru_fwd<T: Float>(xg: &[T], hg: &[T], hp: &[T], out: &mut [T], h: usize) {
                super::gru_forward(xg, hg, hp, out, h)
            }
            $(#[target_feature(enable = $feat)])?
            pub unsafe fn gru_bwd<T: Float>(xg: &[T], hg: &[T], hp: &[T], gout: &[T], dx: &mut [T], dhg: &mut [T], dh: &mut [T], h: usize) {
                super::gru_backward(xg, hg, hp, gout, dx, dhg, dh, h)
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
    macro_rules! table {
        ($m:ident) => {
            Kernels { lstm_fwd: $m::lstm_fwd::<T>, lstm_bwd: $m::lstm_bwd::<T>, gru_fwd: $m::gru_fwd::<T>, gru_bwd: $m::gru_bwd::<T> }
        };
    }
    #[cfg(target_arch = "x86_64")]
    {
        use super::elementwise::{cpu_has_avx2, cpu_has_avx512};
        if cpu_has_avx512() {
            return table!(avx512);
        }
        if cpu_has_avx2() {
            return table!(avx2);
        }
    }
    table!(base)
}

/// # Safety
/// Every operand must hold `rows` rows of its width (see [`CellKind::widths`]) times `h`
/// units at its row stride, outputs not overlapping each other or the inputs.
unsafe fn run_rows<T: Float>(kind: CellKind, p: &CellPtrs<T>, k: &Kernels<T>, h: usize, r0: usize, r1: usize) {
    let (wi, wo) = kind.widths();
    for r in r0..r1 {
        // SAFETY: row r of each operand lies within it (the caller's contract).
        let i = |n: usize| unsafe { std::slice::from_raw_parts(p.ins[n].0.add(r * p.ins[n].1), wi[n] * h) };
        let o = |n: usize| unsafe { std::slice::from_raw_parts_mut(p.outs[n].0.add(r * p.outs[n].1), wo[n] * h) };
        match kind {
            CellKind::LstmForward => (k.lstm_fwd)(i(0), i(1), o(0), h),
            CellKind::LstmBackward => (k.lstm_bwd)(i(0), i(1), i(2), i(3), o(0), o(1), h),
            CellKind::GruForward => (k.gru_fwd)(i(0), i(1), i(2), o(0), h),
            CellKind::GruBackward => (k.gru_bwd)(i(0), i(1), i(2), i(3), o(0), o(1), o(2), h),
        }
    }
}

/// Runs one cell pass over `rows` rows; large launches are split over the pool by rows.
///
/// # Safety
/// As [`run_rows`].
pub unsafe fn run<T: Float>(kind: CellKind, p: &CellPtrs<T>, rows: usize, h: usize) {
    let k = kernels::<T>();
    let (chunks, per) = row_chunks(rows, rows * h);
    for_each_chunk(chunks, |c| run_rows(kind, p, &k, h, c * per, ((c + 1) * per).min(rows)));
}

/// The four h-wide column blocks of a gate row (each exactly h long, so the loops below
/// carry no bounds checks and vectorise).
#[inline(always)]
fn blocks<T>(g: &[T], h: usize, k: usize) -> &[T] {
    &g[k * h..(k + 1) * h]
}

#[inline(always)]
fn lstm_forward<T: Float>(g: &[T], c: &[T], out: &mut [T], h: usize) {
    let (gi, gf, gg, go, c) = (blocks(g, h, 0), blocks(g, h, 1), blocks(g, h, 2), blocks(g, h, 3), &c[..h]);
    let (oh, oc) = out.split_at_mut(h);
    let (oh, oc) = (&mut oh[..h], &mut oc[..h]);
    for j in 0..h {
        let cn = sigmoid(gf[j]) * c[j] + sigmoid(gi[j]) * gg[j].tanh();
        oc[j] = cn;
        oh[j] = sigmoid(go[j]) * cn.tanh();
    }
}

/// With s_x = sigmoid(gate x), t = tanh(c'):
/// dc = gc' + gh' s_o (1 - t^2); do = gh' t s_o (1 - s_o); di = dc tanh(g) s_i (1 - s_i);
/// df = dc c s_f (1 - s_f); dg = dc s_i (1 - tanh(g)^2); dc_prev = dc s_f.
#[inline(always)]
fn lstm_backward<T: Float>(g: &[T], c: &[T], out: &[T], gout: &[T], dg: &mut [T], dc: &mut [T], h: usize) {
    let one = T::ONE;
    let (gi, gf, gg, go, c, cn) = (blocks(g, h, 0), blocks(g, h, 1), blocks(g, h, 2), blocks(g, h, 3), &c[..h], blocks(out, h, 1));
    let (gh, gc) = (blocks(gout, h, 0), blocks(gout, h, 1));
    let (di, rest) = dg.split_at_mut(h);
    let (df, rest) = rest.split_at_mut(h);
    let (dgg, dgo) = rest.split_at_mut(h);
    let (di, df, dgg, dgo, dc) = (&mut di[..h], &mut df[..h], &mut dgg[..h], &mut dgo[..h], &mut dc[..h]);
    for j in 0..h {
        let (si, sf, tg, so) = (sigmoid(gi[j]), sigmoid(gf[j]), gg[j].tanh(), sigmoid(go[j]));
        let t = cn[j].tanh();
        let d = gc[j] + gh[j] * so * (one - t * t);
        di[j] = d * tg * si * (one - si);
        df[j] = d * c[j] * sf * (one - sf);
        dgg[j] = d * si * (one - tg * tg);
        dgo[j] = gh[j] * t * so * (one - so);
        dc[j] = d * sf;
    }
}

/// r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r h_n), h' = n + z (h - n).
#[inline(always)]
fn gru_forward<T: Float>(xg: &[T], hg: &[T], hp: &[T], out: &mut [T], h: usize) {
    let (xr, xz, xn) = (blocks(xg, h, 0), blocks(xg, h, 1), blocks(xg, h, 2));
    let (hr, hz, hn) = (blocks(hg, h, 0), blocks(hg, h, 1), blocks(hg, h, 2));
    let (hp, out) = (&hp[..h], &mut out[..h]);
    for j in 0..h {
        let r = sigmoid(xr[j] + hr[j]);
        let z = sigmoid(xz[j] + hz[j]);
        let n = (xn[j] + r * hn[j]).tanh();
        out[j] = n + z * (hp[j] - n);
    }
}

/// dn = g' (1 - z) (1 - n^2) is the gradient of x_n, and r times it that of h_n;
/// dr = dn h_n r (1 - r) and dz = g' (h - n) z (1 - z) go to both projections; dh = g' z.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_backward<T: Float>(xg: &[T], hg: &[T], hp: &[T], gout: &[T], dx: &mut [T], dhg: &mut [T], dh: &mut [T], h: usize) {
    let one = T::ONE;
    let (xr, xz, xn) = (blocks(xg, h, 0), blocks(xg, h, 1), blocks(xg, h, 2));
    let (hr, hz, hn) = (blocks(hg, h, 0), blocks(hg, h, 1), blocks(hg, h, 2));
    let (hp, gout, dh) = (&hp[..h], &gout[..h], &mut dh[..h]);
    let (dxr, rest) = dx.split_at_mut(h);
    let (dxz, dxn) = rest.split_at_mut(h);
    let (dhr, rest) = dhg.split_at_mut(h);
    let (dhz, dhn) = rest.split_at_mut(h);
    let (dxr, dxz, dxn, dhr, dhz, dhn) = (&mut dxr[..h], &mut dxz[..h], &mut dxn[..h], &mut dhr[..h], &mut dhz[..h], &mut dhn[..h]);
    for j in 0..h {
        let r = sigmoid(xr[j] + hr[j]);
        let z = sigmoid(xz[j] + hz[j]);
        let n = (xn[j] + r * hn[j]).tanh();
        let g = gout[j];
        let dn = g * (one - z) * (one - n * n);
        let dr = dn * hn[j] * r * (one - r);
        let dz = g * (hp[j] - n) * z * (one - z);
        dxr[j] = dr;
        dxz[j] = dz;
        dxn[j] = dn;
        dhr[j] = dr;
        dhz[j] = dz;
        dhn[j] = dn * r;
        dh[j] = g * z;
    }
}
