// Indexing by index tensors: gather / take read X at indexed positions into Y; scatter / put
// write Y into X at indexed positions (optionally accumulating with atomics).
//
// The iteration space S (rank R) is Y's shape. For a point c of S:
//   position in X = xo + sum_d c[d] * xs[d] + sum_j v_j * xd_j,
//   v_j = index_j[io_j + sum_d c[d] * is_j[d]]  (negative values wrap by size_j),
//   position in Y = yo + sum_d c[d] * ys[d].
// Parameters P: [0] n [1] R [2] J [3] xo [4] yo, S[R], xs[R], ys[R], then per index j:
//   io_j, size_j, xd_j, is_j[R].
// B1 = X, B2 = Y, B3.. = the J index tensors, then the error flag (set on an index out of range).

{{BINDINGS}}

fn pi(k: u32) -> i32 { return bitcast<i32>(P[k]); }

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= P[0]) { return; }
    let R = P[1];
    var xoff = pi(3u);
    var yoff = pi(4u);
    var c: array<u32, 12>;
    var rem = i;
    for (var d = i32(R) - 1; d >= 0; d = d - 1) {
        let s = P[5u + u32(d)];
        c[d] = rem % s;
        rem = rem / s;
        xoff = xoff + i32(c[d]) * pi(5u + R + u32(d));
        yoff = yoff + i32(c[d]) * pi(5u + 2u * R + u32(d));
    }
    var bad = false;
{{INDICES}}
    if (bad) {
        atomicStore(&FLAG[0], 1u);
        return;
    }
{{BODY}}
}
