// 2x2 average pooling (after common/elementwise.wgsl): [N, C, H, W] -> [N, C, H/2, W/2] (odd
// sides drop their last row/column); n = output elements.
struct P { n: u32, h: u32, w: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    let wo = p.w / 2u;
    let ho = p.h / 2u;
    let ox = i % wo;
    let oy = (i / wo) % ho;
    let plane = i / (wo * ho);
    let base = (plane * p.h + 2u * oy) * p.w + 2u * ox;
    y[i] = (x[base] + x[base + 1u] + x[base + p.w] + x[base + p.w + 1u]) * 0.25;
}
