// Nearest-neighbour 2x up-sampling (after common/elementwise.wgsl): [N, C, H, W] ->
// [N, C, 2H, 2W]; n = output elements.
struct P { n: u32, h: u32, w: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    let wo = 2u * p.w;
    let ho = 2u * p.h;
    let ox = i % wo;
    let oy = (i / wo) % ho;
    let plane = i / (wo * ho);
    y[i] = x[(plane * p.h + oy / 2u) * p.w + ox / 2u];
}
