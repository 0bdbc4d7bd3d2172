// Inclusive scans along one dim (cumsum, cumprod, logcumsumexp, cummax/cummin with indices),
// in blocks of at most BLOCK elements per thread: some drivers stop a loop after 65,535
// iterations (lavapipe's llvmpipe does), which zeroed every element of a longer line past
// that point (issue 16). A line of one block is one pass, in the CPU's order; a longer line
// takes three: block aggregates into the scratch S, an exclusive scan of those per line, then
// each block again from its carry. This needs the combine to be associative, which it is for
// all five: the running max/min keeps (value, index) and lets the later pair win ties.
//
// Parameters P (u32 words): [0] lines [1] line length [2] krank [3] input offset
//   [4] input stride along the dim [5] output offset [6] output stride along the dim
//   [7] phase (0: scan blocks, adding the carry when [8] > 1; 1: block aggregates; 2: carries)
//   [8] blocks per line [9] block length,
//   then kept shape[krank], input kept strides[krank], output kept strides[krank].
// B1 = out, B2 = input, B3 = scratch (two words per block; unused when [8] == 1),
// B4 = int64 indices (cummax/cummin only).

{{BINDINGS}}
@group(0) @binding(3) var<storage, read_write> S: array<u32>;
{{INDEX_BINDING}}

struct Acc { v: {{CT}}, i: i32 }

fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }

fn lae(a: f32, b: f32) -> f32 {
    if (isnan_f(a) || isnan_f(b)) { return nan_f(); }
    let m = max(a, b);
    if (isinf_f(m) && m < 0.0) { return m; }
    if (a == b) { return a + 0.6931471805599453; }
    return m + log(1.0 + exp(-abs(a - b)));
}

fn comb(a: Acc, b: Acc) -> Acc {
    {{COMBINE}}
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = gid.x + gid.y * nwg.x * 256u;
    let nb = P[8];
    let phase = P[7];
    if (phase == 2u) {
        if (m >= P[0]) { return; }
        var run = Acc({{INIT}}, 0);
        for (var b = 0u; b < nb; b = b + 1u) {
            let k = 2u * (m * nb + b);
            let v = Acc({{FROM_WORD}}(S[k]), bitcast<i32>(S[k + 1u]));
            S[k] = bitcast<u32>(run.v);
            S[k + 1u] = bitcast<u32>(run.i);
            run = comb(run, v);
        }
        return;
    }
    if (m >= P[0] * nb) { return; }
    let line = m / nb;
    let blk = m % nb;
    let krank = P[2];
    var ioff = pi(3u);
    var ooff = pi(5u);
    var rem = line;
    for (var d = i32(krank) - 1; d >= 0; d = d - 1) {
        let s = P[10u + u32(d)];
        let c = i32(rem % s);
        rem = rem / s;
        ioff = ioff + c * pi(10u + krank + u32(d));
        ooff = ooff + c * pi(10u + 2u * krank + u32(d));
    }
    let start = blk * P[9];
    let stop = min(P[1], start + P[9]);
    var acc = Acc({{INIT}}, 0);
    if (phase == 0u && nb > 1u) { acc = Acc({{FROM_WORD}}(S[2u * m]), bitcast<i32>(S[2u * m + 1u])); }
    for (var j = start; j < stop; j = j + 1u) {
        let off = ioff + i32(j) * pi(4u);
        acc = comb(acc, Acc({{LOAD}}, i32(j)));
        if (phase == 0u) {
            let o = ooff + i32(j) * pi(6u);
            let v = acc.v;
            {{STORE}}
            {{STORE_INDEX}}
        }
    }
    if (phase == 1u) {
        S[2u * m] = bitcast<u32>(acc.v);
        S[2u * m + 1u] = bitcast<u32>(acc.i);
    }
}
