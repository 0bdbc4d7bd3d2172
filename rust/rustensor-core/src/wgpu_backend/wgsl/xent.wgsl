// Cross-entropy over float32 rows of class logits (see cpu_backend/xent.rs for the formulas),
// one workgroup per row. Targets are int64 (two words: low, high).
//
// Parameters P (u32 words): [0] rows  [1] classes  [2] [3] ignore_index (low, high words)
//   [4] flags (1: class weights)  [5] label smoothing (f32 bits)  [6..12) element offsets of B1..B6.
// The ENTRY placeholder below picks the pass:
// - forward: B1 x, B2 target, B3 w → B4 (max, log Σ exp(x - max)) per row, B5 loss (B6 bound
//   to x, read once);
// - backward: B1 x, B2 target, B3 w, B4 (max, log Σ) per row, B5 g (per row) → B6 gx.

{{BINDINGS}}

{{WSUM}}

fn ldf(k: u32, i: u32) -> f32 {
    switch k {
        case 1u: { return bitcast<f32>(B1[P[6] + i]); }
        case 3u: { return bitcast<f32>(B3[P[8] + i]); }
        case 4u: { return bitcast<f32>(B4[P[9] + i]); }
        default: { return bitcast<f32>(B5[P[10] + i]); }
    }
}


fn wmax(lid: u32, v: f32) -> f32 {
    red[lid] = vec2<f32>(v, 0.0);
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let a = red[lid].x; let b = red[lid + s].x;
            // NaN wins, as torch's max does
            red[lid].x = select(max(a, b), a + b, a != a || b != b);
        }
        workgroupBarrier();
    }
    let r = red[0].x;
    workgroupBarrier();
    return r;
}

fn weight(c: u32) -> f32 { if ((P[4] & 1u) != 0u) { return ldf(3u, c); } return 1.0; }

// The row's target, or -1 when it is ignored or out of range.
fn target_of(row: u32) -> i32 {
    let lo = B2[2u * (P[7] + row)]; let hi = B2[2u * (P[7] + row) + 1u];
    if (lo == P[2] && hi == P[3]) { return -1; }
    if (hi != 0u || lo >= P[1]) { return -1; }
    return i32(lo);
}

// (max, log Σ exp(x - max), Σ w, Σ w (max - x)) of the row.
fn row_stats(row: u32, lid: u32) -> vec4<f32> {
    let c = P[1]; let xo = row * c;
    var m = ldf(1u, xo);
    for (var j = lid; j < c; j = j + 256u) {
        let v = ldf(1u, xo + j);
        m = select(max(m, v), m + v, m != m || v != v);
    }
    m = wmax(lid, m);
    var acc = vec2<f32>(0.0, 0.0);
    var acw = vec2<f32>(0.0, 0.0);
    for (var j = lid; j < c; j = j + 256u) {
        let v = ldf(1u, xo + j);
        acc.x = acc.x + exp(v - m);
        let w = weight(j);
        acw = acw + vec2<f32>(w, w * (m - v));
    }
    let s = wsum2(lid, acc).x;
    let sw = wsum2(lid, acw);
    var ls = log(s);
    if (abs(m) > 3.4e38) { ls = 0.0; }
    return vec4<f32>(m, ls, sw.x, sw.y);
}

fn forward(row: u32, lid: u32) {
    // B6 (bound to x here) must be used for the pass's bind group layout to hold it
    _ = B6[P[11]];
    let st = row_stats(row, lid);
    if (lid == 0u) {
        let t = target_of(row);
        var loss = 0.0;
        if (t >= 0) {
            let eps = bitcast<f32>(P[5]);
            let tu = u32(t);
            loss = (1.0 - eps) * weight(tu) * ((st.x - ldf(1u, row * P[1] + tu)) + st.y);
            if (eps != 0.0) { loss = loss + eps / f32(P[1]) * (st.w + st.y * st.z); }
        }
        B4[P[9] + 2u * row] = bitcast<u32>(st.x);
        B4[P[9] + 2u * row + 1u] = bitcast<u32>(st.y);
        B5[P[10] + row] = bitcast<u32>(loss);
    }
}

fn backward(row: u32, lid: u32) {
    let c = P[1]; let xo = row * c;
    var acw = vec2<f32>(0.0, 0.0);
    for (var j = lid; j < c; j = j + 256u) { acw.x = acw.x + weight(j); }
    let total = wsum2(lid, acw).x;
    let t = target_of(row);
    let m = ldf(4u, 2u * row);
    let ls = ldf(4u, 2u * row + 1u);
    let g = ldf(5u, row);
    let eps = bitcast<f32>(P[5]);
    var a = 0.0; var sm = 0.0;
    if (t >= 0) {
        a = g * (1.0 - eps) * weight(u32(t));
        sm = g * eps / f32(c);
    }
    let k = a + sm * total;
    for (var j = lid; j < c; j = j + 256u) {
        var v = k * exp((ldf(1u, xo + j) - m) - ls) - sm * weight(j);
        if (i32(j) == t) { v = v - a; }
        if (t < 0) { v = 0.0; }
        B6[P[11] + xo + j] = bitcast<u32>(v);
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wid = wid3.x + wid3.y * nwg.x;
    if (wid >= P[0]) { return; }
{{ENTRY}}
}
