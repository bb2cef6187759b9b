// [N, C, H, W] in [-1, 1] (C = 1 or 3) -> one packed RGBA8 u32 per pixel for a canvas (after
// common/elementwise.wgsl; r in the low byte); v -> round((clamp(v, -1, 1) + 1) * 127.5), grey
// repeated for C = 1.
struct P { n: u32, c: u32, hw: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<u32>;

fn byte(v: f32) -> u32 {
    return u32(floor((clamp(v, -1.0, 1.0) + 1.0) * 127.5 + 0.5));
}

fn element(i: u32) {
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
