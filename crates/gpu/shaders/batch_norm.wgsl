// Inference BatchNorm of [N, C, H, W] (after common/elementwise.wgsl and common/activation.wgsl):
// y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c], then the activation `act`.
struct P { n: u32, c: u32, hw: u32, eps: f32, act: u32, slope: f32 }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> variance: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

fn element(i: u32) {
    let c = (i / p.hw) % p.c;
    let v = (x[i] - mean[c]) / sqrt(variance[c] + p.eps) * gamma[c] + beta[c];
    y[i] = activate(v, p.act, p.slope);
}
