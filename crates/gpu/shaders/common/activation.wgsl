// The activations of activation.wgsl and batch_norm.wgsl (the one fused into a BatchNorm):
// act 0 none, 1 ReLU, 2 LeakyReLU(slope), 3 tanh, 4 sigmoid.
fn activate(v: f32, act: u32, slope: f32) -> f32 {
    if (act == 1u) {
        return max(v, 0.0);
    } else if (act == 2u) {
        return select(slope * v, v, v > 0.0);
    } else if (act == 3u) {
        // tanh without overflow: sign(v) (1 - e) / (1 + e), e = exp(-2|v|)
        let e = exp(-2.0 * abs(v));
        return sign(v) * (1.0 - e) / (1.0 + e);
    } else if (act == 4u) {
        // sigmoid without overflow: e = exp(-|v|) <= 1
        let e = exp(-abs(v));
        return select(e / (1.0 + e), 1.0 / (1.0 + e), v >= 0.0);
    }
    return v;
}
