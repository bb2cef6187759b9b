// Inference BatchNorm of [N, C, H, W]: y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c],
// then an activation fused in: act 0 none, 1 ReLU, 2 LeakyReLU(slope), 3 tanh.
struct P { n: u32, c: u32, hw: u32, eps: f32, act: u32, slope: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> mean: array<f32>;
@group(0) @binding(6) var<storage, read> variance: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    let c = (i / p.hw) % p.c;
    let v = (x[i] - mean[c]) / sqrt(variance[c] + p.eps) * gamma[c] + beta[c];
    var r = v;
    if (p.act == 1u) {
        r = max(v, 0.0);
    } else if (p.act == 2u) {
        r = select(p.slope * v, v, v > 0.0);
    } else if (p.act == 3u) {
        let e = exp(-2.0 * abs(v));
        r = sign(v) * (1.0 - e) / (1.0 + e);
    }
    y[i] = r;
}
