// Reductions: one workgroup per (output element, chunk), a tree reduction in workgroup memory.
//
// Parameters P (u32 words):
//   [0] M outputs  [1] R reduced elements per output  [2] C chunks per output
//   [3] chunk length  [4] krank  [5] rrank  [6] input offset
//   then kept shape[krank], kept strides[krank], reduced shape[rrank], reduced strides[rrank].
// Output element (m, c) is written at m * C + c; C > 1 leaves partials for a second pass.
// The Rust side supplies T (the compute type), LOAD(off), IDENTITY, MERGE and the store.

{{BINDINGS}}

struct Pair { v: {{T}}, i: i32 }

fn merge(a: Pair, b: Pair) -> Pair {
    let av = a.v; let ai = a.i; let bv = b.v; let bi = b.i;
{{MERGE}}
}

var<workgroup> sv: array<{{T}}, 256>;
var<workgroup> si: array<i32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wid = wid3.x + wid3.y * nwg.x;
    let M = P[0]; let R = P[1]; let C = P[2]; let chunk = P[3];
    let krank = P[4]; let rrank = P[5];
    if (wid >= M * C) { return; }
    let m = wid / C;
    let c = wid % C;
    var base = bitcast<i32>(P[6]);
    var rem = m;
    for (var d = i32(krank) - 1; d >= 0; d = d - 1) {
        let s = P[7u + u32(d)];
        base = base + i32(rem % s) * bitcast<i32>(P[7u + krank + u32(d)]);
        rem = rem / s;
    }
    let rb = 7u + 2u * krank;
    let start = c * chunk;
    let stop = min(R, start + chunk);
    var acc = Pair({{IDENTITY}}, 2147483647);
    for (var r = start + lid; r < stop; r = r + 256u) {
        var off = base;
        var q = r;
        for (var d = i32(rrank) - 1; d >= 0; d = d - 1) {
            let s = P[rb + u32(d)];
            off = off + i32(q % s) * bitcast<i32>(P[rb + rrank + u32(d)]);
            q = q / s;
        }
        acc = merge(acc, Pair({{LOAD}}, i32(r)));
    }
    sv[lid] = acc.v;
    si[lid] = acc.i;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let x = merge(Pair(sv[lid], si[lid]), Pair(sv[lid + s], si[lid + s]));
            sv[lid] = x.v;
            si[lid] = x.i;
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let v = sv[0];
        let idx = si[0];
        let o = wid;
{{STORE}}
    }
}
