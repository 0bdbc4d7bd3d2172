// Inclusive prefix sums along one dim: one thread per line, walking it in order (the same
// summation order as the CPU, so results match closely; long single lines run serially).
//
// Parameters P (u32 words): [0] lines [1] line length [2] krank [3] input offset
//   [4] input stride along the dim [5] output offset [6] output stride along the dim,
//   then kept shape[krank], input kept strides[krank], output kept strides[krank].
// B1 = out, B2 = input.

{{BINDINGS}}

fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = gid.x + gid.y * nwg.x * 256u;
    if (m >= P[0]) { return; }
    let krank = P[2];
    var ioff = pi(3u);
    var ooff = pi(5u);
    var rem = m;
    for (var d = i32(krank) - 1; d >= 0; d = d - 1) {
        let s = P[7u + u32(d)];
        let c = i32(rem % s);
        rem = rem / s;
        ioff = ioff + c * pi(7u + krank + u32(d));
        ooff = ooff + c * pi(7u + 2u * krank + u32(d));
    }
    var acc = {{ZERO}};
    for (var j = 0u; j < P[1]; j = j + 1u) {
        let off = ioff + i32(j) * pi(4u);
        acc = acc + {{LOAD}};
        let o = ooff + i32(j) * pi(6u);
        {{STORE}}
    }
}
