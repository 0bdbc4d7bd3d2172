// 2-d convolution on the GPU as im2col + the tiled matmul: the kernels that move data between
// image layout and the column matrix, float32, any strides on the image side.
//
// The column matrix is [G, K, N, L] contiguous (K = C/G * KH * KW, L = OH * OW): per group
// one K x (N*L) matrix, so the batch sits in the GEMM's column dim and the weight gradient
// is one product per group.
// Parameters P (u32 words): [0] threads, [1..17) the geometry N C H W O KH KW OH OW
//   S0 S1 P0 P1 D0 D1 G, then per operand (offset, 4 strides as i32 words): X at 17,
//   Y (the output or its gradient) at 22, and the bias (offset, stride) at 27.
// Bodies (the Rust side fills one in):
//   im2col: a thread per column element, B1 X -> B2 columns;
//   col2im: a thread per input element, B1 column gradients -> B2 dX (a gather: each input
//     element sums the column entries that hold it, so no atomics);
//   unpermute: a thread per output element, B1 [G, O/G, N, L] -> B2 Y (+ B3 the bias);
//   bias_grad: a thread per output channel, B1 dY -> B2 dB.
// Every loop runs over one dim only, so none nears lavapipe's 65,535-iteration stop.

{{BINDINGS}}

fn pu(k: u32) -> u32 { return P[k]; }
fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }
// element offset of (a, b, c, d) in the operand whose words start at k
fn at4(k: u32, a: u32, b: u32, c: u32, d: u32) -> u32 {
    return u32(pi(k) + i32(a) * pi(k + 1u) + i32(b) * pi(k + 2u) + i32(c) * pi(k + 3u) + i32(d) * pi(k + 4u));
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P[0]) { return; }
    let N = pu(1u); let C = pu(2u); let H = pu(3u); let W = pu(4u); let O = pu(5u);
    let KH = pu(6u); let KW = pu(7u); let OH = pu(8u); let OW = pu(9u);
    let S0 = pu(10u); let S1 = pu(11u); let P0 = i32(pu(12u)); let P1 = i32(pu(13u));
    let D0 = pu(14u); let D1 = pu(15u); let G = pu(16u);
    let cg = C / G;
    let og = O / G;
    let L = OH * OW;
    let K = cg * KH * KW;
{{BODY}}
}
