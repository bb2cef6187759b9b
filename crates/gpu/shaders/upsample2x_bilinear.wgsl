// Bilinear 2x up-sampling (after common/elementwise.wgsl), PyTorch's align_corners=False:
// [N, C, H, W] -> [N, C, 2H, 2W]; the source coordinate of output o is (o + 0.5) / 2 - 0.5,
// clamped at 0, and the far neighbour is clamped at the last row/column; n = output elements.
struct P { n: u32, h: u32, w: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The nearer source index, its step to the far one (0 at the edge) and the far one's weight.
fn source(o: u32, size: u32) -> vec3<f32> {
    let r = max((f32(o) + 0.5) * 0.5 - 0.5, 0.0);
    let i = u32(r);
    let step = select(0.0, 1.0, i + 1u < size);
    return vec3<f32>(f32(i), step, r - f32(i));
}

fn element(i: u32) {
    let wo = 2u * p.w;
    let ho = 2u * p.h;
    let ox = i % wo;
    let oy = (i / wo) % ho;
    let plane = (i / (wo * ho)) * p.h * p.w;
    let sy = source(oy, p.h);
    let sx = source(ox, p.w);
    let y0 = plane + u32(sy.x) * p.w;
    let y1 = y0 + u32(sy.y) * p.w;
    let x0 = u32(sx.x);
    let x1 = x0 + u32(sx.y);
    let top = (1.0 - sx.z) * x[y0 + x0] + sx.z * x[y0 + x1];
    let bottom = (1.0 - sx.z) * x[y1 + x0] + sx.z * x[y1 + x1];
    y[i] = (1.0 - sy.z) * top + sy.z * bottom;
}
