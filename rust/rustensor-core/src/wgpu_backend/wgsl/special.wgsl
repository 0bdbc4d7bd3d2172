// Special functions for the elementwise kernels (the op table's WGSL expressions), in f32.
//
// WGSL's built-ins are undefined outside their domains and lose relative precision near 0
// (sinh, asinh, atanh), so each wrapper fixes the domain (NaN, as torch) and uses a short
// series where the closed form cancels.

fn exp2_f(x: f32) -> f32 {
    if (x >= 128.0) { return inf_f(); }
    if (x < -150.0) { return 0.0; }
    return exp2(x);
}
// through atan2: some drivers' asin/acos are off by 4e-4 (lavapipe)
fn asin_f(x: f32) -> f32 {
    if (abs(x) > 1.0 || isnan_f(x)) { return nan_f(); }
    return atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}
fn acos_f(x: f32) -> f32 {
    if (abs(x) > 1.0 || isnan_f(x)) { return nan_f(); }
    return atan2(sqrt((1.0 - x) * (1.0 + x)), x);
}
fn atan_f(x: f32) -> f32 { if (isnan_f(x)) { return x; } return atan(x); }
fn sinh_f(x: f32) -> f32 {
    let ax = abs(x);
    if (ax < 0.5) { let x2 = x * x; return x * (1.0 + x2 / 6.0 * (1.0 + x2 / 20.0 * (1.0 + x2 / 42.0))); }
    if (ax > 89.0) { return sign(x) * inf_f(); }
    let e = exp(ax);
    return sign(x) * 0.5 * (e - 1.0 / e);
}
fn cosh_f(x: f32) -> f32 {
    let ax = abs(x);
    if (ax > 89.0) { return inf_f(); }
    let e = exp(ax);
    return 0.5 * (e + 1.0 / e);
}
fn asinh_f(x: f32) -> f32 {
    let ax = abs(x);
    if (ax < 0.5) { let x2 = x * x; return x * (1.0 - x2 * (1.0 / 6.0 - x2 * (3.0 / 40.0 - x2 * 15.0 / 336.0))); }
    if (ax > 1e18) { return sign(x) * (log_f(ax) + 0.6931471805599453); }
    return sign(x) * log_f(ax + sqrt(ax * ax + 1.0));
}
fn acosh_f(x: f32) -> f32 {
    if (x < 1.0 || isnan_f(x)) { return nan_f(); }
    if (x > 1e18) { return log_f(x) + 0.6931471805599453; }
    return log_f(x + sqrt(x * x - 1.0));
}
fn atanh_f(x: f32) -> f32 {
    let ax = abs(x);
    if (ax > 1.0 || isnan_f(x)) { return nan_f(); }
    if (ax == 1.0) { return sign(x) * inf_f(); }
    if (ax < 0.5) { let x2 = x * x; return x * (1.0 + x2 * (1.0 / 3.0 + x2 * (1.0 / 5.0 + x2 * (1.0 / 7.0 + x2 * (1.0 / 9.0 + x2 / 11.0))))); }
    return sign(x) * 0.5 * log1p_f(2.0 * ax / (1.0 - ax));
}
// erfc by the Chebyshev-fitted exponential form of Numerical Recipes (erfcc, fractional error
// below 1.2e-7 everywhere); erf by its Taylor series near 0, where 1 - erfc would cancel.
fn erfc_pos(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(-z * z + p);
}
fn erf_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let ax = abs(x);
    if (ax < 0.5) {
        let x2 = x * x;
        return 1.1283791670955126 * x * (1.0 - x2 * (1.0 / 3.0 - x2 * (1.0 / 10.0 - x2 * (1.0 / 42.0 - x2 * (1.0 / 216.0 - x2 / 1320.0)))));
    }
    if (ax > 10.0) { return sign(x); }
    return sign(x) * (1.0 - erfc_pos(ax));
}
fn erfc_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    if (abs(x) < 0.5) { return 1.0 - erf_f(x); }
    if (x > 10.0) { return 0.0; }
    if (x < -10.0) { return 2.0; }
    if (x < 0.0) { return 2.0 - erfc_pos(-x); }
    return erfc_pos(x);
}
// Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision.
fn erfinv_f(x: f32) -> f32 {
    if (isnan_f(x) || abs(x) > 1.0) { return nan_f(); }
    if (abs(x) == 1.0) { return x * inf_f(); }
    var w = -log((1.0 - x) * (1.0 + x));
    var p: f32;
    if (w < 5.0) {
        w = w - 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    return p * x;
}
// ln|Gamma(x)|: reflection below 1/2, recurrence up to 8, then Stirling's series.
fn lgamma_pos(x0: f32) -> f32 {
    var x = x0;
    var shift = 0.0;
    loop {
        if (x >= 8.0) { break; }
        shift = shift + log(x);
        x = x + 1.0;
    }
    let z = 1.0 / (x * x);
    let s = (1.0 / 12.0 - z * (1.0 / 360.0 - z * (1.0 / 1260.0 - z / 1680.0))) / x;
    return (x - 0.5) * log(x) - x + 0.9189385332046727 + s - shift;
}
fn lgamma_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    if (isinf_f(x)) { return inf_f(); }
    if (x <= 0.0 && x == floor(x)) { return inf_f(); }
    if (x < 0.5) {
        // |Gamma(x) Gamma(1-x)| = pi / |sin(pi x)|
        return log(3.141592653589793 / abs(sin(3.141592653589793 * x))) - lgamma_pos(1.0 - x);
    }
    return lgamma_pos(x);
}
fn digamma_pos(x0: f32) -> f32 {
    var x = x0;
    var r = 0.0;
    loop {
        if (x >= 6.0) { break; }
        r = r - 1.0 / x;
        x = x + 1.0;
    }
    let z = 1.0 / (x * x);
    return r + log(x) - 0.5 / x - z * (1.0 / 12.0 - z * (1.0 / 120.0 - z * (1.0 / 252.0 - z / 240.0)));
}
fn digamma_f(x: f32) -> f32 {
    if (isnan_f(x) || (isinf_f(x) && x < 0.0)) { return nan_f(); }
    if (x == 0.0) {
        if ((bitcast<u32>(x) >> 31u) == 1u) { return inf_f(); }
        return -inf_f();
    }
    if (x < 0.0) {
        if (x == floor(x)) { return nan_f(); }
        return digamma_pos(1.0 - x) - 3.141592653589793 / tan(3.141592653589793 * x);
    }
    return digamma_pos(x);
}
fn trigamma_pos(x0: f32) -> f32 {
    var x = x0;
    var r = 0.0;
    loop {
        if (x >= 6.0) { break; }
        r = r + 1.0 / (x * x);
        x = x + 1.0;
    }
    let z = 1.0 / (x * x);
    return r + (1.0 + 0.5 / x + z * (1.0 / 6.0 - z * (1.0 / 30.0 - z / 42.0))) / x;
}
fn trigamma_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    if (x < 0.5) {
        if (x == floor(x)) { return inf_f(); }
        let s = sin(3.141592653589793 * x);
        return 9.869604401089358 / (s * s) - trigamma_pos(1.0 - x);
    }
    return trigamma_pos(x);
}
fn sinc_f(x: f32) -> f32 {
    if (x == 0.0) { return 1.0; }
    let px = 3.141592653589793 * x;
    return sin(px) / px;
}
fn copysign_f(a: f32, b: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(a) & 0x7fffffffu) | (bitcast<u32>(b) & 0x80000000u));
}
fn hypot_f(a: f32, b: f32) -> f32 {
    if (isinf_f(a) || isinf_f(b)) { return inf_f(); }
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    let m = max(abs(a), abs(b));
    if (m == 0.0) { return 0.0; }
    let p = a / m;
    let q = b / m;
    return m * sqrt(p * p + q * q);
}
fn logaddexp_f(a: f32, b: f32) -> f32 {
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    let m = max(a, b);
    if (isinf_f(m) && a == b) { return m; }
    return m + log1p_f(exp_f(-abs(a - b)));
}
fn logaddexp2_f(a: f32, b: f32) -> f32 {
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    let m = max(a, b);
    if (isinf_f(m) && a == b) { return m; }
    return m + log1p_f(exp2_f(-abs(a - b))) * 1.4426950408889634;
}
fn xlogy_f(a: f32, b: f32) -> f32 {
    if (isnan_f(b)) { return b; }
    if (a == 0.0) { return 0.0; }
    return a * log_f(b);
}
// C's truncating remainder; division by zero was rejected before the kernel ran.
fn trem_i(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } return a % b; }
// torch's shifts: amounts outside 0..32 shift everything out (sign fill for >>). int64
// computes on its low word here, as every GPU integer kernel does.
fn shl_i(a: i32, b: i32) -> i32 { if (b < 0 || b >= 32) { return 0; } return a << u32(b); }
fn shr_i(a: i32, b: i32) -> i32 { if (b < 0 || b >= 32) { return a >> 31u; } return a >> u32(b); }

// a^-s for integral s > 0 and any sign of a (WGSL's pow is undefined for a < 0)
fn pow_neg_int(a: f32, s: f32) -> f32 {
    let m = exp(-s * log(abs(a)));
    if (a < 0.0 && (i32(s) % 2) == 1) { return -m; }
    return m;
}
// Hurwitz zeta for integral s > 1: direct terms, then Euler-Maclaurin (as the CPU's hurwitz_zeta)
fn hurwitz_zeta_f(s: f32, q: f32) -> f32 {
    var c = array<f32, 12>(12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
        -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15, 1.8152105401943546773e17,
        -7.1661652561756670113e18);
    if (isnan_f(q)) { return q; }
    if (q <= 0.0 && q == floor(q)) { return inf_f(); }
    var sum = pow_neg_int(q, s);
    var a = q;
    var b = 0.0;
    var i = 0;
    loop {
        if (i >= 9 && a > 9.0) { break; }
        i = i + 1;
        a = a + 1.0;
        b = pow_neg_int(a, s);
        sum = sum + b;
        if (abs(b / sum) < 6e-8) { return sum; }
    }
    let w = a;
    sum = sum + b * w / (s - 1.0) - 0.5 * b;
    var fac = 1.0;
    var k = 0.0;
    for (var j = 0; j < 12; j = j + 1) {
        fac = fac * (s + k);
        b = b / w;
        let t = fac * b / c[j];
        sum = sum + t;
        if (abs(t / sum) < 6e-8) { break; }
        k = k + 1.0;
        fac = fac * (s + k);
        b = b / w;
        k = k + 1.0;
    }
    return sum;
}
fn polygamma_f(x: f32, nf: f32) -> f32 {
    let n = round(nf);
    if (n == 0.0) { return digamma_f(x); }
    if (n == 1.0) { return trigamma_f(x); }
    let sgn = select(-1.0, 1.0, (i32(n) % 2) == 1);
    return sgn * exp(lgamma_f(n + 1.0)) * hurwitz_zeta_f(n + 1.0, x);
}
