// Residual add (after common/elementwise.wgsl): y = a + b (same shape).
struct P { n: u32 }
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    y[i] = a[i] + b[i];
}
