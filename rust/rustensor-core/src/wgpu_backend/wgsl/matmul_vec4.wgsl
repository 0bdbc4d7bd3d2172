// Batched float32 matmul for operands aligned for 16-byte loads. Each of A and B is
// contiguous along one of its two matrix dims, and its offset, its other stride, its batch
// strides and the length of that dim are multiples of 4 (matmul.rs checks; other layouts
// take matmul.wgsl). Same tiling as matmul.wgsl: a 16x16 workgroup computes a 64x64 tile,
// K in 16-wide slices staged in workgroup memory. Here every global load is one vec4, each
// thread's 4x4 block is contiguous, and the inner loop reads two vec4s from workgroup
// memory for 16 multiply-adds (the scalar kernel reads eight scalars).
//
// Parameters P (u32 words): as matmul.wgsl. B1 = out (contiguous), B2 = A, B3 = B.
// A_ALONG_K: A's k stride is 1 (else its m stride is 1).
// B_ALONG_N: B's n stride is 1 (else its k stride is 1).

const A_ALONG_K: bool = {{A_ALONG_K}};
const B_ALONG_N: bool = {{B_ALONG_N}};

@group(0) @binding(1) var<storage, read_write> B1: array<f32>;
@group(0) @binding(2) var<storage, read_write> B2: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> B3: array<vec4<f32>>;

// [k][m / 4] and [k][n / 4]: one vec4 holds four consecutive rows (columns) at one k
var<workgroup> As: array<array<vec4<f32>, 16>, 16>;
var<workgroup> Bs: array<array<vec4<f32>, 16>, 16>;

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
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) { acc[i] = vec4<f32>(0.0); }
    for (var k0 = 0u; k0 < K; k0 = k0 + 16u) {
        // A's 64x16 slice is 256 vec4s: one per thread. The aligned dim's length is a
        // multiple of 4, so a vec4 whose first element is in range lies wholly in range.
        if (A_ALONG_K) {
            let mm = tid / 4u;
            let kq = (tid % 4u) * 4u;
            let gm = row0 + mm;
            let gk = k0 + kq;
            var v = vec4<f32>(0.0);
            if (gm < M && gk < K) { v = B2[u32(aoff + i32(gm) * asm_ + i32(gk)) / 4u]; }
            let mq = mm / 4u;
            let mr = mm % 4u;
            As[kq][mq][mr] = v.x;
            As[kq + 1u][mq][mr] = v.y;
            As[kq + 2u][mq][mr] = v.z;
            As[kq + 3u][mq][mr] = v.w;
        } else {
            let kk = tid / 16u;
            let mq = tid % 16u;
            let gm = row0 + mq * 4u;
            let gk = k0 + kk;
            var v = vec4<f32>(0.0);
            if (gm < M && gk < K) { v = B2[u32(aoff + i32(gk) * ask + i32(gm)) / 4u]; }
            As[kk][mq] = v;
        }
        if (B_ALONG_N) {
            let kk = tid / 16u;
            let nq = tid % 16u;
            let gk = k0 + kk;
            let gn = col0 + nq * 4u;
            var v = vec4<f32>(0.0);
            if (gk < K && gn < N) { v = B3[u32(boff + i32(gk) * bsk + i32(gn)) / 4u]; }
            Bs[kk][nq] = v;
        } else {
            let nn = tid / 4u;
            let kq = (tid % 4u) * 4u;
            let gn = col0 + nn;
            let gk = k0 + kq;
            var v = vec4<f32>(0.0);
            if (gn < N && gk < K) { v = B3[u32(boff + i32(gn) * bsn + i32(gk)) / 4u]; }
            let nq = nn / 4u;
            let nr = nn % 4u;
            Bs[kq][nq][nr] = v.x;
            Bs[kq + 1u][nq][nr] = v.y;
            Bs[kq + 2u][nq][nr] = v.z;
            Bs[kq + 3u][nq][nr] = v.w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk = kk + 1u) {
            let a = As[kk][lid.y];
            let b = Bs[kk][lid.x];
            acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
            acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
            acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
            acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
        }
        workgroupBarrier();
    }
    let obase = pi(10u) + i32(wg.z * M * N);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let cc = col0 + lid.x * 4u + j;
            if (r < M && cc < N) { B1[u32(obase + i32(r * N + cc))] = acc[i][j]; }
        }
    }
}
