// Layer/RMS/group/batch normalisation (see cpu_backend/norm.rs for the geometry): float32 rows
// of n elements, element j of row r at r * row_stride + (j / seg) * seg_stride + j % seg; its
// weight is w[(r % groups) * (n / inner) + j / inner].
//
// Parameters P (u32 words): [0] rows  [1] n  [2] groups  [3] inner  [4] flags (1: RMS,
//   2: a weight / write dw, 4: a bias / write db, 8: fixed statistics read from mean/rstd)
//   [5] eps (f32 bits)  [6] row_stride  [7] seg  [8] seg_stride  [9..15) element offsets of B1..B6.
// The ENTRY placeholder below picks the pass:
// - forward, one workgroup per row: B1 x, B2 w, B3 b → B4 y, B5 mean, B6 rstd;
// - backward, one workgroup per row: B1 x, B2 w, B3 gy, B4 mean, B5 rstd → B6 gx;
// - weight gradients, one workgroup per weight: B1 x, B2 gy, B3 mean, B4 rstd → B5 dw, B6 db.
// An absent operand is bound to another buffer and never read or written (the flags say which).

{{BINDINGS}}

{{WSUM}}
fn ld(k: u32, i: u32) -> f32 {
    switch k {
        case 1u: { return bitcast<f32>(B1[P[9] + i]); }
        case 2u: { return bitcast<f32>(B2[P[10] + i]); }
        case 3u: { return bitcast<f32>(B3[P[11] + i]); }
        case 4u: { return bitcast<f32>(B4[P[12] + i]); }
        case 5u: { return bitcast<f32>(B5[P[13] + i]); }
        default: { return bitcast<f32>(B6[P[14] + i]); }
    }
}


fn has(bit: u32) -> bool { return (P[4] & bit) != 0u; }

// Where element j of row r lies (relative to its operand's offset).
fn addr(r: u32, j: u32) -> u32 { return r * P[6] + (j / P[7]) * P[8] + j % P[7]; }

fn forward(row: u32, lid: u32) {
    let n = P[1]; let inner = P[3];
    let ws = (row % P[2]) * (n / inner);
    var s = 0.0;
    for (var j = lid; j < n; j = j + 256u) { s = s + ld(1u, addr(row, j)); }
    var mean = select(wsum2(lid, vec2<f32>(s, 0.0)).x / f32(n), 0.0, has(1u));
    var q = 0.0;
    for (var j = lid; j < n; j = j + 256u) { let d = ld(1u, addr(row, j)) - mean; q = q + d * d; }
    var rstd = inverseSqrt(wsum2(lid, vec2<f32>(q, 0.0)).x / f32(n) + bitcast<f32>(P[5]));
    if (has(8u)) { mean = ld(5u, row); rstd = ld(6u, row); }
    for (var j = lid; j < n; j = j + 256u) {
        var w = 1.0; var b = 0.0;
        if (has(2u)) { w = ld(2u, ws + j / inner); }
        if (has(4u)) { b = ld(3u, ws + j / inner); }
        let a = addr(row, j);
        B4[P[12] + a] = bitcast<u32>((ld(1u, a) - mean) * rstd * w + b);
    }
    if (lid == 0u && !has(8u)) {
        B5[P[13] + row] = bitcast<u32>(mean);
        B6[P[14] + row] = bitcast<u32>(rstd);
    }
}

fn backward(row: u32, lid: u32) {
    let n = P[1]; let inner = P[3];
    let ws = (row % P[2]) * (n / inner);
    let mean = ld(4u, row); let rstd = ld(5u, row);
    var acc = vec2<f32>(0.0, 0.0);
    for (var j = lid; j < n; j = j + 256u) {
        var w = 1.0;
        if (has(2u)) { w = ld(2u, ws + j / inner); }
        let a = addr(row, j);
        let gw = ld(3u, a) * w;
        acc = acc + vec2<f32>(gw, gw * (ld(1u, a) - mean) * rstd);
    }
    var t = wsum2(lid, acc) / f32(n);
    if (has(8u)) { t = vec2<f32>(0.0, 0.0); }
    let c0 = select(t.x, 0.0, has(1u));
    for (var j = lid; j < n; j = j + 256u) {
        var w = 1.0;
        if (has(2u)) { w = ld(2u, ws + j / inner); }
        let a = addr(row, j);
        let xh = (ld(1u, a) - mean) * rstd;
        B6[P[14] + a] = bitcast<u32>(rstd * (ld(3u, a) * w - c0 - xh * t.y));
    }
}

// One workgroup per weight c: its elements are those of the stretch c % wl in the rows of
// group c / wl, (rows / groups) * inner of them.
fn weight_grads(c: u32, lid: u32) {
    let n = P[1]; let inner = P[3]; let groups = P[2];
    let wl = n / inner;
    let grp = c / wl; let seg = c % wl;
    let count = (P[0] / groups) * inner;
    var acc = vec2<f32>(0.0, 0.0);
    for (var t = lid; t < count; t = t + 256u) {
        let r = (t / inner) * groups + grp;
        let a = addr(r, seg * inner + t % inner);
        let g = ld(2u, a);
        acc = acc + vec2<f32>(g * (ld(1u, a) - ld(3u, r)) * ld(4u, r), g);
    }
    let s = wsum2(lid, acc);
    if (lid == 0u) {
        if (has(2u)) { B5[P[13] + c] = bitcast<u32>(s.x); }
        if (has(4u)) { B6[P[14] + c] = bitcast<u32>(s.y); }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wid = wid3.x + wid3.y * nwg.x;
{{ENTRY}}
}
