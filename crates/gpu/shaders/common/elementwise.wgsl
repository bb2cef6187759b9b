// The entry point of every element-wise kernel, put before the kernel's own file: invocation i
// of a dispatch handles element i of p.n, counting workgroups of 256 laid out in (x, y) under
// the per-dimension limit (`elementwise_groups` in recorder.rs). The kernel file defines the
// parameter block `struct P` (its first field `n`, the element count) and `fn element(i: u32)`.
@group(0) @binding(0) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i < p.n) {
        element(i);
    }
}
