// [N, C, H, W] in [-1, 1] (C = 1 or 3) -> one packed RGBA8 u32 per pixel for a canvas
// (r in the low byte); v -> round((clamp(v, -1, 1) + 1) * 127.5), grey repeated for C = 1.
struct P { n: u32, c: u32, hw: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

fn byte(v: f32) -> u32 {
    return u32(floor((clamp(v, -1.0, 1.0) + 1.0) * 127.5 + 0.5));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    let q = i % p.hw;
    let base = (i / p.hw) * p.c * p.hw + q;
    let r = byte(x[base]);
    var g = r;
    var b = r;
    if (p.c >= 3u) {
        g = byte(x[base + p.hw]);
        b = byte(x[base + 2u * p.hw]);
    }
    y[i] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
