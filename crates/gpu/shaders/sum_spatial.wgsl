// Sum over H and W (after common/elementwise.wgsl): [N, C, H, W] -> [N, C]; one invocation per
// (n, c); n = N * C.
struct P { n: u32, hw: u32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    var s = 0.0;
    for (var j = 0u; j < p.hw; j++) {
        s += x[i * p.hw + j];
    }
    y[i] = s;
}
