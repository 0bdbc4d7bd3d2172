// Elementwise kernels: out = EXPR(a, b, c) over strided operands, one thread per element.
//
// Parameters P (u32 words):
//   [0] n elements   [1] rank   [2] mask: bit k set when operand k reads at offset + i
//   [3] a scalar's bits (fill)
//   [4 .. 4 + rank) the output shape, then for each operand k (0 = output, then inputs):
//   its offset followed by its `rank` strides, in elements (i32 bit patterns).
// Broadcast inputs have stride 0; views of any layout need no copy.
// The Rust side fills in the bindings (B1 = output, B2.. = inputs), the loads, the expression
// and the store for each (op, dtype) pair, and caches the compiled pipeline.

{{BINDINGS}}

fn operand_base(k: u32) -> u32 { return 4u + P[1] + k * (P[1] + 1u); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P[0]) { return; }
    let rank = P[1];
    let mask = P[2];
    var offs: array<i32, {{NOPS}}>;
    for (var k = 0u; k < {{NOPS}}u; k = k + 1u) {
        offs[k] = bitcast<i32>(P[operand_base(k)]);
        if (((mask >> k) & 1u) == 1u) { offs[k] = offs[k] + i32(i); }
    }
    if (mask != {{ALLMASK}}u) {
        var rem = i;
        for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
            let s = P[4u + u32(d)];
            let c = i32(rem % s);
            rem = rem / s;
            for (var k = 0u; k < {{NOPS}}u; k = k + 1u) {
                if (((mask >> k) & 1u) == 0u) {
                    offs[k] = offs[k] + c * bitcast<i32>(P[operand_base(k) + 1u + u32(d)]);
                }
            }
        }
    }
    let o = u32(offs[0]);
{{BODY}}
}
