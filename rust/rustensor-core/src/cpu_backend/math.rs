//! Scalar math the kernels inline: the number traits, and branch-free f32 exp/log that the
//! compiler vectorises (libm's calls cannot be), accurate to a few ulp.
use crate::Element;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// exp for f32 by range reduction to [-ln2/2, ln2/2] and a degree-7 polynomial.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Beyond these bounds the answer is 0 or inf; the split scale below reaches subnormals.
    let xc = x.clamp(-104.0, 88.8);
    // adding 1.5*2^23 rounds to nearest and leaves the integer in the low mantissa bits,
    // so n is read back with bit operations (a float-to-int cast would not vectorise well)
    const MAGIC: f32 = 12_582_912.0;
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let n1 = ni >> 1;
    let n2 = ni - n1;
    // n1, n2 lie in [-75, 65]: both exponents stay in the normal range
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    let y = p * s1 * s2;
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// tanh for f32 without a libm call, so it vectorises (libm's tanhf made `tanh` 10x slower than
/// `exp` and dominated LSTM steps, issue 15). Below 0.55 the odd Taylor series to x^15 (next term
/// under 1e-7 relative); above, 1 - 2/(e^(2|x|) + 1), which has no cancellation there.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let ax = x.abs();
    let x2 = x * x;
    let poly = x
        * (1.0
            + x2 * (-1.0 / 3.0
                + x2 * (2.0 / 15.0
                    + x2 * (-17.0 / 315.0
                        + x2 * (62.0 / 2835.0
                            + x2 * (-1382.0 / 155_925.0 + x2 * (21_844.0 / 6_081_075.0 + x2 * (-929_569.0 / 638_512_875.0))))))));
    let big = (1.0 - 2.0 / (exp_f32(2.0 * ax) + 1.0)).copysign(x);
    if ax < 0.55 {
        poly
    } else {
        big
    }
}

/// Natural log for f32: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), atanh series in m.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    // scale subnormals into the normal range first
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8_388_608.0 } else { x };
    let bits = xs.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let poly = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0)))));
    let ef = e as f32 - if tiny { 23.0 } else { 0.0 };
    let y = ef * std::f32::consts::LN_2 + poly;
    if x < 0.0 || x.is_nan() {
        f32::NAN
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        y
    }
}

/// Float element operations.
pub trait Float:
    Element + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const INF: Self;
    const NAN: Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn exp_m1(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tan(self) -> Self;
    fn tanh(self) -> Self;
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn round_even(self) -> Self;
    fn trunc(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn max_nan(self, o: Self) -> Self;
    fn min_nan(self, o: Self) -> Self;
    fn rem_py(self, o: Self) -> Self;
    fn signum0(self) -> Self;
    fn atan2(self, o: Self) -> Self;
    fn exp2(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn atan(self) -> Self;
    fn sinh(self) -> Self;
    fn cosh(self) -> Self;
    fn asinh(self) -> Self;
    fn acosh(self) -> Self;
    fn atanh(self) -> Self;
    fn erf(self) -> Self;
    fn erfc(self) -> Self;
    fn erfinv(self) -> Self;
    fn lgamma(self) -> Self;
    fn digamma(self) -> Self;
    fn trigamma(self) -> Self;
    /// The n-th derivative of digamma, `n` an integral value (the op layer checks n >= 0).
    fn polygamma(self, n: Self) -> Self;
    fn sinc(self) -> Self;
    fn sign_bit(self) -> bool;
    /// C's fmod: the result takes the dividend's sign.
    fn fmod(self, o: Self) -> Self;
    fn copysign(self, o: Self) -> Self;
    fn hypot(self, o: Self) -> Self;
    fn logaddexp(self, o: Self) -> Self;
    fn logaddexp2(self, o: Self) -> Self;
    /// `x * ln(y)`, 0 where x = 0 (unless y is NaN).
    fn xlogy(self, o: Self) -> Self;
    /// `self * a + b` with one rounding (torch's vectorised `fmadd`).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ty, $exp:expr, $ln:expr, $tanh:expr, $erf:path, $erfc:path, $lgamma:path, $asinh:path, $acosh:path, $atanh:path) => {
        impl Float for $t {
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INF: Self = <$t>::INFINITY;
            const NAN: Self = <$t>::NAN;
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                <$t>::exp_m1(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            #[inline(always)]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline(always)]
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            #[inline(always)]
            fn round_even(self) -> Self {
                <$t>::round_ties_even(self)
            }
            #[inline(always)]
            fn trunc(self) -> Self {
                <$t>::trunc(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            /// torch.maximum propagates NaN from either side.
            #[inline(always)]
            fn max_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if self > o {
                    self
                } else {
                    o
                }
            }
            #[inline(always)]
            fn min_nan(self, o: Self) -> Self {
                if self.is_nan() || o.is_nan() {
                    <$t>::NAN
                } else if self < o {
                    self
                } else {
                    o
                }
            }
            /// Python's `%`: the result takes the divisor's sign.
            #[inline(always)]
            fn rem_py(self, o: Self) -> Self {
                let r = self % o;
                if r != 0.0 && ((r < 0.0) != (o < 0.0)) {
                    r + o
                } else {
                    r
                }
            }
            #[inline(always)]
            fn signum0(self) -> Self {
                if self > 0.0 {
                    1.0
                } else if self < 0.0 {
                    -1.0
                } else {
                    self
                }
            }
            #[inline(always)]
            fn atan2(self, o: Self) -> Self {
                <$t>::atan2(self, o)
            }
            #[inline(always)]
            fn exp2(self) -> Self {
                <$t>::exp2(self)
            }
            #[inline(always)]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline(always)]
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            #[inline(always)]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline(always)]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline(always)]
            fn asinh(self) -> Self {
                $asinh(self)
            }
            // std's acosh: libm's returns a finite value for large negative inputs
            #[inline(always)]
            fn acosh(self) -> Self {
                $acosh(self)
            }
            #[inline(always)]
            fn atanh(self) -> Self {
                $atanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn erfc(self) -> Self {
                $erfc(self)
            }
            #[inline(always)]
            fn erfinv(self) -> Self {
                erfinv_f64(self as f64) as $t
            }
            #[inline(always)]
            fn lgamma(self) -> Self {
                $lgamma(self)
            }
            #[inline(always)]
            fn digamma(self) -> Self {
                digamma_f64(self as f64) as $t
            }
            #[inline(always)]
            fn trigamma(self) -> Self {
                trigamma_f64(self as f64) as $t
            }
            fn polygamma(self, n: Self) -> Self {
                polygamma_f64(n as f64, self as f64) as $t
            }
            #[inline(always)]
            fn sinc(self) -> Self {
                if self == 0.0 {
                    return 1.0;
                }
                let px = self * std::f64::consts::PI as $t;
                <$t>::sin(px) / px
            }
            #[inline(always)]
            fn sign_bit(self) -> bool {
                <$t>::is_sign_negative(self)
            }
            #[inline(always)]
            fn fmod(self, o: Self) -> Self {
                self % o
            }
            #[inline(always)]
            fn copysign(self, o: Self) -> Self {
                <$t>::copysign(self, o)
            }
            #[inline(always)]
            fn hypot(self, o: Self) -> Self {
                <$t>::hypot(self, o)
            }
            #[inline(always)]
            fn logaddexp(self, o: Self) -> Self {
                let m = if self > o { self } else { o };
                // equal infinities would give inf - inf = NaN below
                if m.is_infinite() && self == o {
                    return m;
                }
                m + <$t>::ln_1p(<$t>::exp(-(self - o).abs()))
            }
            #[inline(always)]
            fn logaddexp2(self, o: Self) -> Self {
                let m = if self > o { self } else { o };
                if m.is_infinite() && self == o {
                    return m;
                }
                m + <$t>::ln_1p(<$t>::exp2(-(self - o).abs())) * std::f64::consts::LOG2_E as $t
            }
            #[inline(always)]
            fn xlogy(self, o: Self) -> Self {
                if o.is_nan() {
                    o
                } else if self == 0.0 {
                    0.0
                } else {
                    self * <$t>::ln(o)
                }
            }
        }
    };
}
impl_float!(f32, exp_f32, ln_f32, tanh_f32, libm::erff, libm::erfcf, libm::lgammaf, libm::asinhf, f32::acosh, libm::atanhf);
impl_float!(f64, f64::exp, f64::ln, f64::tanh, libm::erf, libm::erfc, libm::lgamma, libm::asinh, f64::acosh, libm::atanh);

/// erfinv: Giles' single-precision approximation ("Approximating the erfinv function",
/// GPU Computing Gems, 2011) refined by two Newton steps on erfc, which stays accurate in
/// the tails where erf(y) rounds to 1.
pub fn erfinv_f64(x: f64) -> f64 {
    if x.is_nan() || x.abs() > 1.0 {
        return f64::NAN;
    }
    if x.abs() == 1.0 {
        return x * f64::INFINITY;
    }
    let ax = x.abs();
    let w = -((1.0 - ax) * (1.0 + ax)).ln();
    let p = if w < 5.0 {
        let w = w - 2.5;
        [3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
            .iter()
            .fold(2.81022636e-08, |p, &c| c + p * w)
    } else {
        let w = w.sqrt() - 3.0;
        [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]
            .iter()
            .fold(-0.000200214257, |p, &c| c + p * w)
    };
    let mut y = p * ax;
    let tail = 1.0 - ax;
    for _ in 0..2 {
        // f(y) = erf(y) - ax = tail - erfc(y); f'(y) = 2/sqrt(pi) exp(-y^2)
        let d = std::f64::consts::FRAC_2_SQRT_PI * (-y * y).exp();
        if d == 0.0 {
            break;
        }
        y -= (tail - libm::erfc(y)) / d;
    }
    y.copysign(x)
}

/// digamma by reflection (x < 0), recurrence up to x >= 10, then the asymptotic series.
/// At 0 it is -inf with the sign flipped by -0 (torch), at negative integers NaN.
pub fn digamma_f64(x: f64) -> f64 {
    use std::f64::consts::PI;
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == 0.0 {
        return (-x).signum() * f64::INFINITY;
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        return digamma_f64(1.0 - x) - PI / (PI * x).tan();
    }
    let (mut x, mut r) = (x, 0.0);
    // from 10 on, the series' first omitted term is below 1e-16 relative
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    r + x.ln() - 0.5 / x - z * (1.0 / 12.0 - z * (1.0 / 120.0 - z * (1.0 / 252.0 - z * (1.0 / 240.0 - z * (1.0 / 132.0 - z * 691.0 / 32760.0)))))
}

/// trigamma (polygamma(1, x)): reflection below 1/2, recurrence, asymptotic series.
pub fn trigamma_f64(x: f64) -> f64 {
    use std::f64::consts::PI;
    if x.is_nan() {
        return x;
    }
    if x < 0.5 {
        if x == x.floor() {
            return f64::INFINITY;
        }
        let s = (PI * x).sin();
        return PI * PI / (s * s) - trigamma_f64(1.0 - x);
    }
    let (mut x, mut r) = (x, 0.0);
    while x < 10.0 {
        r += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / (x * x);
    r + (1.0 + 0.5 / x + z * (1.0 / 6.0 - z * (1.0 / 30.0 - z * (1.0 / 42.0 - z * (1.0 / 30.0 - z * 5.0 / 66.0))))) / x
}

/// polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 2; digamma and trigamma below.
pub fn polygamma_f64(n: f64, x: f64) -> f64 {
    let n = n.round();
    if n == 0.0 {
        return digamma_f64(x);
    }
    if n == 1.0 {
        return trigamma_f64(x);
    }
    let sign = if n % 2.0 == 1.0 { 1.0 } else { -1.0 };
    sign * libm::lgamma(n + 1.0).exp() * hurwitz_zeta(n + 1.0, x)
}

/// Hurwitz zeta `sum_k (q + k)^-s` for integral s > 1: the first terms directly, the tail
/// by Euler-Maclaurin (coefficients (2j)! / B_2j). A pole at q = 0, -1, -2, ... is +inf
/// (torch's convention); a negative q is summed through, as torch does.
pub fn hurwitz_zeta(s: f64, q: f64) -> f64 {
    // (2j)! / B_2j, written to more digits than an f64 holds (the literal rounds once)
    #[allow(clippy::excessive_precision)]
    const A: [f64; 12] = [
        12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
        -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15, 1.8152105401943546773e17,
        -7.1661652561756670113e18,
    ];
    const EPS: f64 = 1.11e-16;
    if q.is_nan() {
        return q;
    }
    if q <= 0.0 && q == q.floor() {
        return f64::INFINITY;
    }
    let si = s as i32;
    let mut sum = q.powi(-si);
    let (mut a, mut b, mut i) = (q, 0.0, 0);
    while i < 9 || a <= 9.0 {
        i += 1;
        a += 1.0;
        b = a.powi(-si);
        sum += b;
        if (b / sum).abs() < EPS {
            return sum;
        }
    }
    let w = a;
    sum += b * w / (s - 1.0) - 0.5 * b;
    let (mut fac, mut k) = (1.0, 0.0);
    for c in A {
        fac *= s + k;
        b /= w;
        let t = fac * b / c;
        sum += t;
        if (t / sum).abs() < EPS {
            break;
        }
        k += 1.0;
        fac *= s + k;
        b /= w;
        k += 1.0;
    }
    sum
}

/// Integer element operations; all wrap on overflow as torch does.
pub trait Int: Element + Ord {
    const ZERO: Self;
    const ONE: Self;
    fn wadd(self, o: Self) -> Self;
    fn wsub(self, o: Self) -> Self;
    fn wmul(self, o: Self) -> Self;
    fn wneg(self) -> Self;
    fn wabs(self) -> Self;
    /// Python floor division; the caller has checked `o != 0`.
    fn floordiv(self, o: Self) -> Self;
    fn rem_py(self, o: Self) -> Self;
    fn wpow(self, e: Self) -> Self;
    fn bitand(self, o: Self) -> Self;
    fn bitor(self, o: Self) -> Self;
    fn bitxor(self, o: Self) -> Self;
    fn bitnot(self) -> Self;
    fn sign(self) -> Self;
    /// C's `%` (truncating); the caller has checked `o != 0`.
    fn trem(self, o: Self) -> Self;
    /// torch's shifts: amounts outside `0..bits` shift everything out (sign fill for `>>`).
    fn shl(self, o: Self) -> Self;
    fn shr(self, o: Self) -> Self;
}

/// Picks the signed or the unsigned form of an expression, so that unsigned types never
/// compile comparisons with zero that are always true (rustc rejects those as useless).
macro_rules! if_signed {
    (signed, $s:expr, $u:expr) => {
        $s
    };
    (unsigned, $s:expr, $u:expr) => {
        $u
    };
}

macro_rules! impl_int {
    ($t:ty, $signed:tt) => {
        impl Int for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn wadd(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn wsub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn wmul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn wneg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn wabs(self) -> Self {
                if_signed!($signed, self.wrapping_abs(), self)
            }
            #[inline(always)]
            fn floordiv(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let q = self.wrapping_div(o);
                if if_signed!($signed, self.wrapping_rem(o) != 0 && ((self < 0) != (o < 0)), false) {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline(always)]
            fn rem_py(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(o);
                if if_signed!($signed, r != 0 && ((r < 0) != (o < 0)), false) {
                    r.wrapping_add(o)
                } else {
                    r
                }
            }
            #[inline(always)]
            fn wpow(self, e: Self) -> Self {
                // negative exponents are rejected before the kernel runs
                let mut base = self;
                let mut e = if_signed!($signed, e.max(0), e) as u64;
                let mut acc: $t = 1;
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                acc
            }
            #[inline(always)]
            fn bitand(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn bitor(self, o: Self) -> Self {
                self | o
            }
            #[inline(always)]
            fn bitxor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn bitnot(self) -> Self {
                !self
            }
            #[inline(always)]
            fn sign(self) -> Self {
                if_signed!($signed, self.signum(), (self != 0) as $t)
            }
            #[inline(always)]
            fn trem(self, o: Self) -> Self {
                if o == 0 {
                    return 0;
                }
                self.wrapping_rem(o)
            }
            #[inline(always)]
            fn shl(self, o: Self) -> Self {
                if if_signed!($signed, o >= 0, true) && (o as u64) < <$t>::BITS as u64 {
                    self << o
                } else {
                    0
                }
            }
            #[inline(always)]
            fn shr(self, o: Self) -> Self {
                if if_signed!($signed, o >= 0, true) && (o as u64) < <$t>::BITS as u64 {
                    self >> o
                } else {
                    // everything shifted out: the sign fills a signed value, zero an unsigned one
                    if_signed!($signed, self >> (<$t>::BITS - 1), 0)
                }
            }
        }
    };
}
impl_int!(u8, unsigned);
impl_int!(i8, signed);
impl_int!(i16, signed);
impl_int!(i32, signed);
impl_int!(i64, signed);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_f32_matches_std() {
        let mut worst = 0.0f64;
        let mut x = -20.0f32;
        while x < 20.0 {
            for v in [x, x * 1e-3, x * 1e-6] {
                let (got, want) = (tanh_f32(v) as f64, (v as f64).tanh());
                worst = worst.max((got - want).abs() / want.abs().max(1e-30));
            }
            x += 0.000_73;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert_eq!(tanh_f32(100.0), 1.0);
        assert_eq!(tanh_f32(-f32::INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert!(tanh_f32(-0.0).is_sign_negative());
    }

    #[test]
    fn exp_f32_matches_std() {
        let mut x = -110.0f32;
        while x < 90.0 {
            let (a, b) = (exp_f32(x), x.exp());
            let tol = 4.0 * f32::EPSILON * b.abs() + 1e-44;
            assert!((a - b).abs() <= tol || (a.is_infinite() && b.is_infinite()), "exp({x}) = {a} vs {b}");
            x += 0.0137;
        }
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    }

    #[test]
    fn ln_f32_matches_std() {
        for &x in &[1e-45f32, 1e-40, 1e-30, 0.1, 0.5, 0.7, 1.0, 1.5, 2.0, 10.0, 1e20, f32::MAX] {
            let (a, b) = (ln_f32(x), x.ln());
            assert!((a - b).abs() <= 4.0 * f32::EPSILON * b.abs().max(1.0), "ln({x}) = {a} vs {b}");
        }
        assert!(ln_f32(-1.0).is_nan());
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn python_division_rules() {
        assert_eq!((-7i64).floordiv(2), -4);
        assert_eq!((-7i64).rem_py(2), 1);
        assert_eq!(7i64.rem_py(-2), -1);
        assert_eq!((-7.0f64).rem_py(2.0), 1.0);
        assert_eq!(i64::MIN.floordiv(-1), i64::MIN);
        assert_eq!(3i32.wpow(4), 81);
    }
}
