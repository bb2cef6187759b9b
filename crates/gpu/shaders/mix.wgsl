// Hybrid / concept exchange (after common/elementwise.wgsl) of rows of x [N, C, H, W] into
// y [K, C, H, W]: with M[c,q] = channels[c] mask[q], y[k] = (1 - M) x[base[k]] + M x[donor[k]].
// aux holds the base and donor rows (u32, K each), channels (C) and mask (H*W) as f32 bit
// patterns at the given offsets; n = K*C*H*W.
struct P { n: u32, c: u32, hw: u32, base: u32, donor: u32, channels: u32, mask: u32 }
@group(0) @binding(1) var<storage, read> aux: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    let row = p.c * p.hw;
    let r = i % row;
    let n = i / row;
    let m = bitcast<f32>(aux[p.channels + r / p.hw]) * bitcast<f32>(aux[p.mask + r % p.hw]);
    let b = aux[p.base + n];
    let d = aux[p.donor + n];
    y[i] = (1.0 - m) * x[b * row + r] + m * x[d * row + r];
}
