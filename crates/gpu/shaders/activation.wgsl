// Element-wise activation (after common/elementwise.wgsl and common/activation.wgsl).
struct P { n: u32, act: u32, slope: f32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    y[i] = activate(x[i], p.act, p.slope);
}
