// Shared helpers, prepended to every rustensor kernel.
//
// Every tensor buffer is an array of 32-bit words: float32, int32 and bool (0/1) take one
// word per element; int64 takes two (low word first), and kernels compute on its low word.
// Binding 0 is always the parameter block P (u32 words, laid out by the Rust side).

@group(0) @binding(0) var<storage, read> P: array<u32>;

// NaN and infinity must be made at run time: WGSL rejects them as constant expressions.
fn nan_f() -> f32 { return bitcast<f32>(0x7fc00000u + min(P[0], 0u)); }
fn inf_f() -> f32 { return bitcast<f32>(0x7f800000u + min(P[0], 0u)); }
// Bit tests, so that no compiler's fast-math can fold `x != x` away.
fn isnan_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinf_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
// The word of a bfloat16 value: the float32 bits rounded to the upper half, to nearest even
// (as torch rounds); NaN stays a quiet NaN rather than rounding into infinity.
fn bf16_word(x: f32) -> u32 {
    let u = bitcast<u32>(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) { return (u | 0x00400000u) & 0xffff0000u; }
    return (u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u;
}
fn isfinite_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

fn fmax_nan(a: f32, b: f32) -> f32 { if (isnan_f(a) || isnan_f(b)) { return nan_f(); } return max(a, b); }
fn fmin_nan(a: f32, b: f32) -> f32 { if (isnan_f(a) || isnan_f(b)) { return nan_f(); } return min(a, b); }

fn log_f(x: f32) -> f32 {
    // decided on the bits: a flush-to-zero device compares subnormals as zero
    let bits = bitcast<u32>(x);
    let mag = bits & 0x7fffffffu;
    if (mag > 0x7f800000u) { return x; }
    if (mag == 0u) { return -inf_f(); }
    if (bits != mag) { return nan_f(); }
    if (mag == 0x7f800000u) { return x; }
    // subnormal: such devices flush them inside log() too (log(1e-45) gave -88, not -103),
    // so take the log of the integer mantissa and subtract 149 ln 2
    if ((bits & 0x7f800000u) == 0u) { return log(f32(bits)) - 103.27892990343185; }
    return log(x);
}
fn sqrt_f(x: f32) -> f32 { if (x < 0.0) { return nan_f(); } return sqrt(x); }
fn rsqrt_f(x: f32) -> f32 {
    if (x < 0.0) { return nan_f(); }
    if (x == 0.0) { return inf_f(); }
    return inverseSqrt(x);
}
fn expm1_f(x: f32) -> f32 {
    if (abs(x) < 1e-4) { return x + 0.5 * x * x + x * x * x / 6.0; }
    return exp(x) - 1.0;
}
fn log1p_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    // below this, x / (2 + x) would flush; log1p(x) rounds to x anyway
    if (a < 1e-30) { return x; }
    if (a < 0.375) {
        // log1p(x) = 2 atanh(s), s = x / (2 + x): a series without cancellation, so no
        // (1 + x) - 1 that fast-math folds (log1p(1e-7) was 19% off) and no x * log(1 + x)
        // that overflows (log1p(1e37) was inf); |s| < 0.231, so eight terms reach 1e-11
        let s = x / (2.0 + x);
        let z = s * s;
        let p = 1.0 + z * (0.33333333333 + z * (0.2 + z * (0.14285714286 + z * (0.11111111111
            + z * (0.09090909091 + z * (0.07692307692 + z * 0.06666666667))))));
        return 2.0 * s * p;
    }
    // here 1 + x rounds by at most half an ulp of a value whose log is >= 0.32 in magnitude
    return log_f(1.0 + x);
}
fn tanh_f(x: f32) -> f32 {
    if (isnan_f(x)) { return x; }
    let a = abs(x);
    if (a > 15.0) { return sign(x); }
    if (a < 0.3) {
        // Taylor series: the native tanh cancels near 0 (tanh(1e-7) was 19% off)
        let z = x * x;
        return x + x * z * (-0.33333333333 + z * (0.13333333333 + z * (-0.05396825397
            + z * (0.02186948854 + z * (-0.00886323553 + z * 0.00359212803)))));
    }
    let t = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    return select(t, -t, x < 0.0);
}
fn sigmoid_f(x: f32) -> f32 {
    if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
    let e = exp(x);
    return e / (1.0 + e);
}
fn exp_f(x: f32) -> f32 {
    if (x > 88.8) { return inf_f(); }
    if (x < -104.0) { return 0.0; }
    return exp(x);
}
fn sign_f(x: f32) -> f32 { if (isnan_f(x)) { return x; } return sign(x); }

// Python's floor division and modulo (torch.floor_divide, torch.remainder).
fn fmod_f(a: f32, b: f32) -> f32 { return a - b * trunc(a / b); }
fn floordiv_f(a: f32, b: f32) -> f32 {
    if (b == 0.0) { return a / b; }
    let m = fmod_f(a, b);
    var d = (a - m) / b;
    if (m != 0.0 && ((b < 0.0) != (m < 0.0))) { d = d - 1.0; }
    var f = floor(d);
    if (d - f > 0.5) { f = f + 1.0; }
    return f;
}
fn rem_f(a: f32, b: f32) -> f32 {
    if (b == 0.0) { return nan_f(); }
    var m = fmod_f(a, b);
    if (m != 0.0 && ((b < 0.0) != (m < 0.0))) { m = m + b; }
    return m;
}
fn floordiv_i(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    var q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) { q = q - 1; }
    return q;
}
fn rem_i(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    var m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) { m = m + b; }
    return m;
}
// pow with C's rules for negative bases and zero.
fn pow_f(a: f32, b: f32) -> f32 {
    if (b == 0.0) { return 1.0; }
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    if (a == 0.0) {
        if (b > 0.0) { return 0.0; }
        return inf_f();
    }
    if (b == 1.0) { return a; }
    if (b == 2.0) { return a * a; }
    if (a < 0.0) {
        if (b != floor(b)) { return nan_f(); }
        let r = exp2(b * log2(-a));
        if (abs(b) < 16777216.0 && (i32(b) & 1) == 1) { return -r; }
        return r;
    }
    return exp2(b * log2(a));
}
fn pow_i(a: i32, b: i32) -> i32 {
    var r = 1;
    var base = a;
    var e = b;
    if (e < 0) { return 0; }
    loop {
        if (e == 0) { break; }
        if ((e & 1) == 1) { r = r * base; }
        base = base * base;
        e = e >> 1u;
    }
    return r;
}

// Both matmul kernels (matmul.wgsl, matmul_vec4.wgsl): the element offsets of A's and B's
// matrices for batch entry z. P: [3] batch rank, [4] A's offset, [7] B's offset, then from
// [11] the batch shape, A's batch strides and B's batch strides.
fn mm_batch_offsets(z: u32) -> vec2<i32> {
    let brank = P[3];
    var aoff = bitcast<i32>(P[4]);
    var boff = bitcast<i32>(P[7]);
    var rem = z;
    for (var d = i32(brank) - 1; d >= 0; d = d - 1) {
        let s = P[11u + u32(d)];
        let c = i32(rem % s);
        rem = rem / s;
        aoff = aoff + c * bitcast<i32>(P[11u + brank + u32(d)]);
        boff = boff + c * bitcast<i32>(P[11u + 2u * brank + u32(d)]);
    }
    return vec2<i32>(aoff, boff);
}
