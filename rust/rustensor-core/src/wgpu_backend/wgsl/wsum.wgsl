// The workgroup's two sums of (a, b) over its 256 threads; every thread of the workgroup
// calls it (it holds barriers). Shared by the norm and cross-entropy kernels.
var<workgroup> red: array<vec2<f32>, 256>;

fn wsum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
    red[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
