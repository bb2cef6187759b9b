// 2-D convolution as an implicit GEMM (after common/gemm.wgsl and common/conv.wgsl):
// y[n, o, oy, ox] = b[o] + sum_{i, ky, kx} w[o, i, ky, kx] x[n, i, oy*s - pad + ky, ox*s - pad + kx].
// Rows = output channels, columns = (n, oy, ox), K = (i, ky, kx): the input patch is gathered
// on the fly.

fn column_origin(q: u32) -> vec2<i32> {
    let pad = i32(p.pad);
    return vec2<i32>(i32((q / p.wo) * p.stride) - pad, i32((q % p.wo) * p.stride) - pad);
}

fn tap(gk: u32) -> Tap {
    let kk = p.k * p.k;
    let ci = gk / kk;
    let kr = gk - ci * kk;
    let ky = kr / p.k;
    return Tap(ci, i32(ky), i32(kr - ky * p.k));
}

fn out_index(m: u32, col: u32) -> u32 {
    let hw = p.ho * p.wo;
    return ((col / hw) * p.cout + m) * hw + col % hw;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let kdim = p.cin * p.k * p.k;
    let hw = p.ho * p.wo;
    let ncol = p.n * hw;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    decode_columns(li, col0, ncol, hw);
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < kdim; k0 += BK) {
        load_weight_rows(li, row0, k0, p.cout, kdim);
        load_input_taps(li, k0, kdim);
        multiply_tiles(&acc, l);
    }
    store_tile(acc, l, row0, col0, p.cout, ncol);
}
