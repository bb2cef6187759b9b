// Copies x[0..n) to y[offset..offset+n) (after common/elementwise.wgsl; concatenation along
// dim 0).
struct P { n: u32, offset: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    y[p.offset + i] = x[i];
}
