// Max pooling: a thread per output element finds its window's maximum and stores it and its
// flat (y * W + x) input index (int64) (torch's rule: the first strict maximum; a NaN wins).
//
// Parameters P (u32 words): [0] threads, [1..15) N C H W OH OW KH KW SH SW PH PW DH DW,
//   [15] X's offset, [16..20) X's strides. B1 X (float32), B2 the int64 indices, B3 the values.

{{BINDINGS}}

fn pu(k: u32) -> u32 { return P[k]; }
fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P[0]) { return; }
    let C = pu(2u); let H = i32(pu(3u)); let W = i32(pu(4u)); let OH = pu(5u); let OW = pu(6u);
    let KH = pu(7u); let KW = pu(8u); let SH = pu(9u); let SW = pu(10u);
    let PH = i32(pu(11u)); let PW = i32(pu(12u)); let DH = i32(pu(13u)); let DW = i32(pu(14u));
    let ox = i % OW; var r = i / OW; let oy = r % OH; r = r / OH; let c = r % C; let n = r / C;
    let base = pi(15u) + i32(n) * pi(16u) + i32(c) * pi(17u);
    let y0 = i32(oy * SH) - PH;
    let x0 = i32(ox * SW) - PW;
    var yf = y0;
    if (yf < 0) { yf = y0 + ((-y0) + DH - 1) / DH * DH; }
    var xf = x0;
    if (xf < 0) { xf = x0 + ((-x0) + DW - 1) / DW * DW; }
    var best = -inf_f();
    var at = yf * W + xf;
    for (var a = 0u; a < KH; a = a + 1u) {
        let y = y0 + i32(a) * DH;
        if (y < 0 || y >= H) { continue; }
        for (var b = 0u; b < KW; b = b + 1u) {
            let x = x0 + i32(b) * DW;
            if (x < 0 || x >= W) { continue; }
            let v = bitcast<f32>(B1[u32(base + y * pi(18u) + x * pi(19u))]);
            // a bit test for NaN: fast-math compilers fold `v != v` to false
            let nan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
            if (v > best || nan) {
                best = v;
                at = y * W + x;
            }
        }
    }
    B2[2u * i] = bitcast<u32>(at);
    B2[2u * i + 1u] = select(0u, 0xffffffffu, at < 0);
    B3[i] = bitcast<u32>(best);
}
