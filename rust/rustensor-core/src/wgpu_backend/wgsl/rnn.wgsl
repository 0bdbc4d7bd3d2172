// Fused LSTM/GRU cell passes (see cpu_backend/rnn.rs for the formulas and layouts), one
// thread per (row, unit) of rows x h; float32 rows of unit stride at any row stride.
//
// Parameters P (u32 words): [0] rows * h  [1] h  [2..9) element offsets of B1..B7
//   [9..16) their row strides.
// Inputs come first, then outputs, in the order CellKind::widths lists them.

{{BINDINGS}}

fn at(k: u32, r: u32, j: u32) -> u32 {
    return P[2u + k] + r * P[9u + k] + j;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    if (e >= P[0]) { return; }
    let h = P[1];
    let r = e / h;
    let j = e % h;
{{BODY}}
}
