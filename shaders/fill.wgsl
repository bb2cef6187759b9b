// Fills y[0..n) with one bit pattern (used to poison outputs in tests).
struct P { n: u32, bits: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i < p.n) { y[i] = p.bits; }
}
