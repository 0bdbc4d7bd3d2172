// Batched matmul out[b] = A[b] @ B[b] over any strides (transposed inputs need no copy).
// Each 16x16 workgroup computes a 64x64 output tile; each thread a 4x4 block held in
// registers, stepping K in 16-wide slices staged in workgroup memory.
//
// Parameters P (u32 words): [0] M [1] N [2] K [3] brank [4] a offset [5] a row stride
//   [6] a k stride [7] b offset [8] b k stride [9] b col stride [10] out offset,
//   then batch shape[brank], a batch strides[brank], b batch strides[brank].
// B1 = out (contiguous), B2 = A, B3 = B.

{{BINDINGS}}

var<workgroup> As: array<array<{{T}}, 64>, 16>;
var<workgroup> Bs: array<array<{{T}}, 64>, 16>;

fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let M = P[0]; let N = P[1]; let K = P[2];
    let offs = mm_batch_offsets(wg.z);
    let aoff = offs.x;
    let boff = offs.y;
    let asm_ = pi(5u); let ask = pi(6u); let bsk = pi(8u); let bsn = pi(9u);
    let row0 = wg.y * 64u;
    let col0 = wg.x * 64u;
    let tid = lid.y * 16u + lid.x;
    var acc: array<array<{{T}}, 4>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) { acc[i][j] = {{ZERO}}; }
    }
    for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            let idx = tid + e * 256u;
            let kk = idx % 16u;
            let mm = idx / 16u;
            let gm = row0 + mm;
            let gk = k0 + kk;
            var va = {{ZERO}};
            if (gm < M && gk < K) {
                let off = aoff + i32(gm) * asm_ + i32(gk) * ask;
                va = {{LOADA}};
            }
            As[kk][mm] = va;
            let nn = idx % 64u;
            let kb = idx / 64u;
            let gn = col0 + nn;
            let gkb = k0 + kb;
            var vb = {{ZERO}};
            if (gn < N && gkb < K) {
                let off = boff + i32(gkb) * bsk + i32(gn) * bsn;
                vb = {{LOADB}};
            }
            Bs[kb][nn] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk = kk + 1u) {
            var ar: array<{{T}}, 4>;
            var br: array<{{T}}, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                ar[i] = As[kk][lid.y + 16u * i];
                br[i] = Bs[kk][lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) { acc[i][j] = acc[i][j] + ar[i] * br[j]; }
            }
        }
        workgroupBarrier();
    }
    let obase = pi(10u) + i32(wg.z * M * N);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y + 16u * i;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let cc = col0 + lid.x + 16u * j;
            if (r < M && cc < N) {
                let o = obase + i32(r * N + cc);
                let v = acc[i][j];
                {{STORE}}
            }
        }
    }
}
