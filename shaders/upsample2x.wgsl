// Nearest-neighbour 2x up-sampling: [N, C, H, W] -> [N, C, 2H, 2W]; n = output elements.
struct P { n: u32, h: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    let wo = 2u * p.w;
    let ho = 2u * p.h;
    let ox = i % wo;
    let oy = (i / wo) % ho;
    let plane = i / (wo * ho);
    y[i] = x[(plane * p.h + oy / 2u) * p.w + ox / 2u];
}
