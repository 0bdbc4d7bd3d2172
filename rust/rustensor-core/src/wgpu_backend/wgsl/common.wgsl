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
fn isfinite_f(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }

fn fmax_nan(a: f32, b: f32) -> f32 { if (isnan_f(a) || isnan_f(b)) { return nan_f(); } return max(a, b); }
fn fmin_nan(a: f32, b: f32) -> f32 { if (isnan_f(a) || isnan_f(b)) { return nan_f(); } return min(a, b); }

fn log_f(x: f32) -> f32 {
    if (x < 0.0 || isnan_f(x)) { return nan_f(); }
    if (x == 0.0) { return -inf_f(); }
    if (isinf_f(x)) { return x; }
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
    let u = 1.0 + x;
    if (u == 1.0) { return x; }
    if (isinf_f(u)) { return log_f(u); }
    return log_f(u) * x / (u - 1.0);
}
fn tanh_f(x: f32) -> f32 { if (abs(x) > 15.0) { return sign(x); } return tanh(x); }
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
