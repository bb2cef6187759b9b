// Sum over H and W: [N, C, H, W] -> [N, C]; one invocation per (n, c); n = N * C.
struct P { n: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    var s = 0.0;
    for (var j = 0u; j < p.hw; j++) {
        s += x[i * p.hw + j];
    }
    y[i] = s;
}
