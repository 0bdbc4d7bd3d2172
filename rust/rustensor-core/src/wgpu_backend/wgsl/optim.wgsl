// Fused optimizer updates, one thread per element of one contiguous parameter.
//
// Parameters P (u32 words): [0] n  [1] flags  [2..7) element offsets of B1..B5
//   [7..) the step's constants as f32 bits (see the Rust side for their order).
// Adam: B1 param, B2 grad, B3 exp_avg, B4 exp_avg_sq, B5 max_exp_avg_sq (a stand-in
//   without amsgrad); flags: 1 weight decay into the gradient, 2 decoupled decay,
//   4 amsgrad, 8 lerp weight under 0.5.
// SGD: B1 param, B2 grad, B3 momentum buffer (a stand-in without momentum); flags:
//   1 weight decay, 2 momentum, 4 nesterov, 8 the buffer is new.

{{BINDINGS}}

fn fw(k: u32) -> f32 { return bitcast<f32>(P[k]); }
fn off(k: u32, i: u32) -> i32 { return bitcast<i32>(P[2u + k]) + i32(i); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P[0]) { return; }
    let flags = P[1];
{{BODY}}
}
