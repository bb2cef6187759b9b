// Element-wise activation: mode 0 ReLU, 1 LeakyReLU(slope), 2 tanh.
struct P { n: u32, mode: u32, slope: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nw.x + wg.x) * 256u + li;
    if (i >= p.n) { return; }
    let v = x[i];
    var r = v;
    if (p.mode == 0u) {
        r = max(v, 0.0);
    } else if (p.mode == 1u) {
        r = select(p.slope * v, v, v > 0.0);
    } else {
        // tanh without overflow: sign(v) (1 - e) / (1 + e), e = exp(-2|v|)
        let e = exp(-2.0 * abs(v));
        r = sign(v) * (1.0 - e) / (1.0 + e);
    }
    y[i] = r;
}
